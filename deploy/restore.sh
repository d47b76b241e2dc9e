#!/usr/bin/env bash
# Restore a backup written by backup.sh:
#   deploy/restore.sh backups/<UTC time>                  databases only (the normal case)
#   deploy/restore.sh backups/<UTC time> --with-stream    also the stream (only if it is LOST:
#                                                          the NATS volume is gone/corrupt)
#
# A restore must never bring erased personal data back. A database backup holds vault rows of
# requests that were erased after it was taken, and an erasure log just as old. The stream is
# not part of the database backup and knows every erasure (PersonalDataErased). So, before
# anything can read the vault: start retention alone, let it re-apply the erasure log from the
# stream (it does so at start with FW_RETENTION_REAPPLY_ON_START=true, and this script calls
# POST /api/erasure-log/reapply?from_stream=true once more and checks the answer), and only
# then start intake, session, billing, reporting, web and Caddy. Billing in turn erases again, at
# its start and before its API answers, every customer account the stream's CustomerAccountErased
# events name. See services/retention/README.md and docs/privacy/restore.md.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck disable=SC2206
COMPOSE=(docker compose ${FW_COMPOSE_FILES:-})
SCHEMAS=(intake session billing retention reporting)
APPS=(intake session billing reporting web caddy)
DB=fernwartung

src=${1:?usage: restore.sh backups/<UTC time> [--with-stream]}
with_stream=${2:-}
[ -d "$src" ] || { echo "restore: no directory $src" >&2; exit 2; }
src=${src%/}
token=$(grep -E '^OPS_API_TOKEN=' .env | cut -d= -f2-)
[ -n "$token" ] || { echo "restore: OPS_API_TOKEN missing in .env" >&2; exit 2; }

read -r -p "restore: replaces the databases with $src. Type 'restore' to go on: " answer
[ "$answer" = restore ] || exit 1

echo "restore: stopping everything that reads or writes the data"
"${COMPOSE[@]}" stop caddy web intake session billing retention reporting

echo "restore: PostgreSQL and NATS up, roles and schemas (init job)"
"${COMPOSE[@]}" up -d --wait postgres nats
if [ "$with_stream" = --with-stream ]; then
  echo "restore: stream FERNWARTUNG from $src/stream (refused by NATS if the stream exists)"
  "${COMPOSE[@]}" --profile tools run --rm -T natsbox stream restore "/backups/${src#backups/}/stream"
fi
"${COMPOSE[@]}" run --rm --no-deps init   # idempotent; recreates missing roles with the .env passwords

for schema in "${SCHEMAS[@]}"; do
  [ -f "$src/$schema.dump" ] || { echo "restore: $src/$schema.dump missing" >&2; exit 2; }
  echo "restore: schema $schema"
  "${COMPOSE[@]}" exec -T postgres psql -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
    -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE"
  "${COMPOSE[@]}" exec -T postgres pg_restore -U postgres -d "$DB" --exit-on-error < "$src/$schema.dump"
done

echo "restore: retention alone; it re-applies the erasure log before its vault answers"
"${COMPOSE[@]}" up -d --no-deps --wait retention
echo "restore: POST /api/erasure-log/reapply?from_stream=true"
"${COMPOSE[@]}" exec -T -e OPS_API_TOKEN="$token" retention python - <<'PY'
import json, os, sys, urllib.request
port = os.environ.get("FW_RETENTION_HTTP_PORT", "8084")
req = urllib.request.Request(f"http://127.0.0.1:{port}/api/erasure-log/reapply?from_stream=true",
                             method="POST", headers={"Authorization": "Bearer " + os.environ["OPS_API_TOKEN"]})
try:
    with urllib.request.urlopen(req, timeout=300) as resp:
        print("restore: re-applied:", json.load(resp))
except Exception as exc:  # 503: the stream could not be read -- do NOT open the services
    print(f"restore: erasure-log re-apply FAILED ({exc}); services stay stopped", file=sys.stderr)
    sys.exit(1)
PY

if [ -f "$src/web-users.toml" ]; then
  "${COMPOSE[@]}" up -d --no-deps web
  "${COMPOSE[@]}" cp "$src/web-users.toml" web:/data/web/web-users.toml
fi
echo "restore: starting the other services"
"${COMPOSE[@]}" up -d "${APPS[@]}"
"${COMPOSE[@]}" restart web   # reads the users file at start
echo "restore: done"
