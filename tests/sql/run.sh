#!/usr/bin/env bash
# tests/sql/run.sh — psql-driven tests of lib/sql (schema, migrations, stored functions).
#
# Usage: scripts/with-postgres.sh tests/sql/run.sh      (needs DATABASE_URL; psql on PATH)
#
# For each test schema it does what the C++ migration runner will do: CREATE SCHEMA, run
# lib/sql/bookkeeping.sql, then every lib/sql/migrations/NNNN_*.sql inside its own transaction
# with __SCHEMA__ replaced by the quoted identifier, recording version/name/sha256/applied_at;
# then it re-applies everything (idempotency) and runs the test scripts against the schema.
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL must be set (run through scripts/with-postgres.sh)}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sqldir="$root/lib/sql"

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL=(psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

# quote_ident: "x""y" — the libpq identifier-escaping rule.
quote_ident() { printf '"%s"' "${1//\"/\"\"}"; }

# substitute FILE PLACEHOLDER QUOTED... : prints FILE with placeholders replaced (literal, no regex).
substitute() {
  local file=$1; shift
  python3 - "$file" "$@" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
args = sys.argv[2:]
for i in range(0, len(args), 2):
    text = text.replace(args[i], args[i + 1])
sys.stdout.write(text)
PY
}

now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }

apply_migrations() {   # apply_migrations RAW_SCHEMA_NAME
  local raw=$1 q
  q=$(quote_ident "$raw")
  "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $q CASCADE" -c "CREATE SCHEMA $q"
  for pass in 1 2; do
    substitute "$sqldir/bookkeeping.sql" __SCHEMA__ "$q" | "${PSQL[@]}" -1
    for f in "$sqldir"/migrations/[0-9][0-9][0-9][0-9]_*.sql; do
      local base version name sum
      base=$(basename "$f" .sql)
      version=$((10#${base%%_*}))
      name=${base#*_}
      sum=$(sha256sum "$f" | awk '{print $1}')
      { echo "BEGIN;"
        substitute "$f" __SCHEMA__ "$q"
        echo ";"
        echo "INSERT INTO $q._duroxide_migrations (version, name, checksum, applied_at)"
        echo "VALUES ($version, '$name', '$sum', $(now_ms)) ON CONFLICT (version) DO NOTHING;"
        echo "COMMIT;"
      } | "${PSQL[@]}" 2>&1 | { grep -v '^NOTICE' || true; }
    done
  done
  local count
  count=$("${PSQL[@]}" -At -c "SELECT count(*) FROM $q._duroxide_migrations")
  [ "$count" -ge 1 ] || { echo "no migration recorded for $raw" >&2; exit 1; }
}

run_test() {   # run_test FILE PLACEHOLDER RAW_SCHEMA [PLACEHOLDER RAW_SCHEMA ...]
  local file=$1; shift
  local args=() shown=""
  while [ $# -gt 0 ]; do
    args+=("$1" "$(quote_ident "$2")"); shown+=" $1=$(quote_ident "$2")"; shift 2
  done
  echo "==$shown: $(basename "$file")"
  substitute "$file" "${args[@]}" | "${PSQL[@]}"
}

s1="duroxide_sqltest_a"
s2='My "odd" Schema; DROP TABLE x --'
s3="duroxide_sqltest_b"

for s in "$s1" "$s2" "$s3"; do
  apply_migrations "$s"
done

run_test "$here/core_functions.sql" __SCHEMA__ "$s1"
run_test "$here/core_functions.sql" __SCHEMA__ "$s2"
run_test "$here/isolation.sql" __SCHEMA__ "$s1" __SCHEMA2__ "$s3"
echo "== concurrency.sh"
"$here/concurrency.sh" "$(quote_ident "$s1")"
"$here/concurrency.sh" "$(quote_ident "$s2")"

for s in "$s1" "$s2" "$s3"; do
  "${PSQL[@]}" -c "DROP SCHEMA $(quote_ident "$s") CASCADE"
done
echo "ALL SQL TESTS PASSED"
