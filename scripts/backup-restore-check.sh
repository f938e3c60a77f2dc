#!/usr/bin/env bash
# Check the PostgreSQL backup and restore procedure of docs/operations/backup-restore.md on a
# local server: migrate a fresh database, fill the audit trail, pg_dump it (custom format),
# pg_restore it into another database, and compare every table row for row; the restored
# database must need no migration.
#
#   scripts/backup-restore-check.sh            # starts a throwaway server (scripts/with-postgres.sh)
#   PREDELINQ_TEST_DATABASE_URL=postgresql://user@host:port/db scripts/backup-restore-check.sh
#
# It creates two databases of its own on that server and drops them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PREDELINQ_TEST_DATABASE_URL:-}" ]; then
  exec scripts/with-postgres.sh "$0" "$@"
fi

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$found" ]; then echo "$found"; else dirname "$(command -v pg_dump)"; fi
}
BIN=$(pg_bin)
PREDELINQ=${PREDELINQ:-.venv/bin/predelinq}
ADMIN_URL=$PREDELINQ_TEST_DATABASE_URL
BASE_URL=${ADMIN_URL%/*}
RUN=$(date +%s)_$$
SOURCE_DB=predelinq_backup_$RUN
RESTORED_DB=predelinq_restored_$RUN
SOURCE_URL=$BASE_URL/$SOURCE_DB
RESTORED_URL=$BASE_URL/$RESTORED_DB
WORK=$(mktemp -d /tmp/predelinq-backup.XXXXXX)

psql_() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
  psql_ "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $SOURCE_DB" -c "DROP DATABASE IF EXISTS $RESTORED_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql_ "$ADMIN_URL" -c "CREATE DATABASE $SOURCE_DB" -c "CREATE DATABASE $RESTORED_DB"

echo "1. migrate the source database and fill the audit trail"
DATABASE_URL=$SOURCE_URL ENVIRONMENT=test "$PREDELINQ" migrate >/dev/null
psql_ "$SOURCE_URL" <<'SQL'
INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, trigger_event_id, trigger_topic,
                         probability, score, band, model_version, top_reasons, features_sha256,
                         schema_id, challenger_model_version, challenger_score)
SELECT md5('score' || i)::uuid, 'CUST-' || lpad((i % 997)::text, 7, '0'),
       timestamptz '2026-01-01' + i * interval '1 minute', timestamptz '2026-01-01' + i * interval '1 minute',
       'ev-' || i, 'bank.transactions.v1', (i % 100) / 100.0, i % 100,
       (ARRAY['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])[1 + i % 4], 'v1',
       jsonb_build_array(jsonb_build_object('code', 'R' || (i % 7), 'contribution', i * 0.001)),
       md5('f' || i), 7, CASE WHEN i % 3 = 0 THEN 'v2' END, CASE WHEN i % 3 = 0 THEN (i + 5) % 100 END
FROM generate_series(1, 5000) AS i;
INSERT INTO interventions (intervention_id, customer_id, created_at, action, channel, priority, score,
                           band, reasons, model_version, policy_version, expires_at, trigger_event_id,
                           experiment_arm, actionable, rule, features, feature_names_sha256, schema_id)
SELECT md5('intervention' || i)::uuid, 'CUST-' || lpad((i % 997)::text, 7, '0'),
       timestamptz '2026-01-01' + i * interval '5 minutes', 'PAYMENT_REMINDER', 'SMS', 'HIGH', 85,
       'CRITICAL', '[{"code": "R1"}]'::jsonb, 'v1', 'p1',
       timestamptz '2026-01-08' + i * interval '5 minutes', 'ev-' || i,
       CASE WHEN i % 10 = 0 THEN 'CONTROL' ELSE 'TREATMENT' END, i % 10 <> 0,
       CASE WHEN i % 10 = 0 THEN 'control_group' END, ARRAY[i * 0.5, -1.25, 3e-9], md5('names'), 8
FROM generate_series(1, 800) AS i;
SQL

echo "2. back up: pg_dump --format=custom"
"$BIN/pg_dump" --format=custom --no-owner --no-acl --file="$WORK/audit.dump" "$SOURCE_URL"
"$BIN/pg_restore" --list "$WORK/audit.dump" | grep -q "TABLE DATA public risk_scores"

echo "3. restore into an empty database: pg_restore --single-transaction --exit-on-error"
"$BIN/pg_restore" --no-owner --no-acl --single-transaction --exit-on-error \
  --dbname="$RESTORED_URL" "$WORK/audit.dump"

echo "4. compare every table"
fingerprint() {  # rows and a digest of every row, in key order
  psql_ "$1" -At <<'SQL'
SELECT 'risk_scores', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY event_id), '')) FROM risk_scores t
UNION ALL
SELECT 'interventions', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY intervention_id), '')) FROM interventions t
UNION ALL
SELECT 'schema_migrations', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY version), '')) FROM schema_migrations t
UNION ALL
SELECT 'indexes', count(*), md5(coalesce(string_agg(indexdef, E'\n' ORDER BY indexname), '')) FROM pg_indexes WHERE schemaname = 'public';
SQL
}
fingerprint "$SOURCE_URL" >"$WORK/source.txt"
fingerprint "$RESTORED_URL" >"$WORK/restored.txt"
cat "$WORK/restored.txt"
diff -u "$WORK/source.txt" "$WORK/restored.txt"
grep -q '^risk_scores|5000|' "$WORK/restored.txt"
grep -q '^interventions|800|' "$WORK/restored.txt"

echo "5. the restored database needs no migration"
DATABASE_URL=$RESTORED_URL ENVIRONMENT=test "$PREDELINQ" migrate --check

echo "backup and restore: OK"
