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
  echo "restore: stream FERNWARTUNG from $src/stream.tar (refused by NATS if the stream exists)"
  "${COMPOSE[@]}" run --rm --no-deps -T init python /app/stream_backup.py restore < "$src/stream.tar"
fi
"${COMPOSE[@]}" run --rm --no-deps init   # idempotent; recreates missing roles with the .env passwords

# Invoice and cancellation numbers are never reused (§14 UStG): note how far the live counters
# got, so that restoring an older billing schema cannot take them back (numbers issued after
# the backup would be issued a second time).
counters=$("${COMPOSE[@]}" exec -T postgres psql -U postgres -d "$DB" -At -c \
  "SELECT 'invoice_counters', year, last_seq FROM billing.invoice_counters
   UNION ALL SELECT 'cancellation_counters', year, last_seq FROM billing.cancellation_counters" 2>/dev/null || true)

for schema in "${SCHEMAS[@]}"; do
  [ -f "$src/$schema.dump" ] || { echo "restore: $src/$schema.dump missing" >&2; exit 2; }
  echo "restore: schema $schema"
  "${COMPOSE[@]}" exec -T postgres psql -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
    -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE"
  "${COMPOSE[@]}" exec -T postgres pg_restore -U postgres -d "$DB" --exit-on-error < "$src/$schema.dump"
done

# ... and how far the stream says they got (the database volume may be lost altogether)
fmt_env=()
for var in FW_BILLING_INVOICE_NUMBER_FORMAT FW_BILLING_CANCELLATION_NUMBER_FORMAT; do
  value=$(grep -E "^$var=" billing.env 2>/dev/null | cut -d= -f2- || true)
  [ -z "$value" ] || fmt_env+=(-e "$var=$value")
done
if ! from_stream=$("${COMPOSE[@]}" run --rm --no-deps -T "${fmt_env[@]}" init python /app/stream_backup.py numbers); then
  echo "restore: the issued invoice numbers could not be read from the stream; services stay stopped" >&2
  exit 1
fi
counters+=$'\n'"$from_stream"

sql=""
while IFS='|' read -r table year seq; do
  [[ "$table" =~ ^(invoice|cancellation)_counters$ && "$year" =~ ^[0-9]+$ && "$seq" =~ ^[0-9]+$ ]] || continue
  sql+="INSERT INTO billing.$table(year, last_seq) VALUES ($year, $seq) ON CONFLICT (year)
        DO UPDATE SET last_seq = GREATEST(billing.$table.last_seq, EXCLUDED.last_seq);"
done <<< "$counters"
if [ -n "$sql" ]; then
  echo "restore: invoice and cancellation counters kept at least where they were"
  "${COMPOSE[@]}" exec -T postgres psql -U postgres -d "$DB" -v ON_ERROR_STOP=1 -q -c "$sql"
fi

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
  # written by web's own user (a `docker cp` would leave a root-owned file web cannot read)
  "${COMPOSE[@]}" exec -T web sh -c 'cat > /data/web/web-users.toml' < "$src/web-users.toml"
fi
echo "restore: starting the other services"
"${COMPOSE[@]}" up -d "${APPS[@]}"
"${COMPOSE[@]}" restart web   # reads the users file at start
echo "restore: done"
