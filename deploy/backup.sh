#!/usr/bin/env bash
# Backup of a running installation (run on the server, from anywhere):
#   deploy/backup.sh                 -> deploy/backups/<UTC time>/
#   FW_COMPOSE_FILES="-f compose.yaml -f cluster/compose.cluster.yaml" deploy/backup.sh   (cluster)
#
# What it writes (directory 0700; copy it off the server, e.g. restic/borg, encrypted):
#   <schema>.dump       pg_dump per service schema (custom format), taken by the admin role
#   stream.tar          JetStream snapshot of FERNWARTUNG (python /app/stream_backup.py in the image)
#   web-users.toml      the web sign-ins (argon2 hashes)
#   MANIFEST            what and when
# NOT in it, on purpose: deploy/.env (keep it in your password manager / a separate safe). The
# vault's master key must never sit next to the data it protects.
# Order matters: the databases first, then the stream, so every erasure a dump knows of is also
# in the stream snapshot (restore.sh re-applies the erasure log from the stream).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck disable=SC2206  # word splitting of the file list is intended
COMPOSE=(docker compose ${FW_COMPOSE_FILES:-})
SCHEMAS=(intake session billing retention reporting)
DB=fernwartung

stamp=$(date -u +%Y%m%dT%H%M%SZ)
dest="backups/$stamp"
umask 077
mkdir -p "$dest"

for schema in "${SCHEMAS[@]}"; do
  echo "backup: schema $schema"
  "${COMPOSE[@]}" exec -T postgres pg_dump -U postgres -d "$DB" --schema="$schema" --format=custom \
    > "$dest/$schema.dump"
done

echo "backup: JetStream stream FERNWARTUNG"
# as the NATS admin (the only user allowed to snapshot): the init job's environment has it
"${COMPOSE[@]}" run --rm --no-deps -T init python /app/stream_backup.py backup > "$dest/stream.tar"

echo "backup: web users"
"${COMPOSE[@]}" exec -T web cat /data/web/web-users.toml > "$dest/web-users.toml" 2>/dev/null \
  || echo "backup: (no web users file yet)"

{
  echo "created_utc=$stamp"
  echo "schemas=${SCHEMAS[*]}"
  echo "image=$("${COMPOSE[@]}" images -q intake 2>/dev/null | head -1)"
} > "$dest/MANIFEST"
echo "backup: done -> deploy/$dest"
