#!/usr/bin/env bash
# tests/sql/bench/run_bench.sh — concurrency smoke test + throughput of the stored functions.
#
# Usage: scripts/with-postgres.sh tests/sql/bench/run_bench.sh [CLIENTS] [SECONDS]
#
# Runs a mixed pgbench workload of provider operations (start enqueues, orchestration
# fetch+ack turns of a 5-activity fan-out, worker fetch+ack) against a fresh schema, checks that
# no client aborted and that no deadlock / serialization failure happened, counts the provider
# transactions that did real work (each non-empty fetch and each ack counts one, plus the start
# enqueues), and compares with a plain single-row INSERT pgbench run on the same server.
set -euo pipefail
: "${DATABASE_URL:?run through scripts/with-postgres.sh}"
clients=${1:-8}
secs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL=(psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1)
schema='"Bench"'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sub() { sed "s/__SCHEMA__/$schema/g" "$1"; }

stats() {
  "${PSQL[@]}" -At -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
}

# run_mix MODE: intx = pg_notify inside each write transaction (p_channel set);
#               post = no in-transaction notify, a separate notify() transaction after each write;
#               none = no notifications at all (pure function cost).
run_mix() {
  local mode=$1 vars
  case $mode in
    intx) vars=(-D "orch_ch='bench_orch'" -D "work_ch='bench_work'" -D post=0) ;;
    post) vars=(-D orch_ch=NULL -D work_ch=NULL -D post=1) ;;
    none) vars=(-D orch_ch=NULL -D work_ch=NULL -D post=0) ;;
  esac
  "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema"
  sub "$root/lib/sql/bookkeeping.sql" | "${PSQL[@]}" -1
  for f in "$root"/lib/sql/migrations/[0-9]*.sql; do sub "$f" | "${PSQL[@]}" -1; done
  for s in start orch worker; do sub "$here/$s.sql" > "$tmp/$s.sql"; done
  # seed a backlog so that the orchestration side has work from the first second
  pgbench -n -c 1 -t $((clients * 4)) "${vars[@]}" -f "$tmp/start.sql" "$DATABASE_URL" >/dev/null 2>&1
  local dl0 dl1 acks starts
  dl0=$(stats)
  echo "== provider mix, notifications: $mode ($clients clients, ${secs}s)"
  pgbench -n -c "$clients" -j 2 -T "$secs" ${PGBENCH_EXTRA:-} "${vars[@]}" \
    -f "$tmp/start.sql@1" -f "$tmp/orch.sql@3" -f "$tmp/worker.sql@5" "$DATABASE_URL" > "$tmp/mix.log" 2>&1 || true
  grep -E "^tps|aborted|failed transactions|latency average" "$tmp/mix.log" | head -4
  [ -z "${PGBENCH_EXTRA:-}" ] || grep -vE "^ +[A-Z(]|^ +--|^ +[0-9.]+ +[0-9]+ +[^S ]" "$tmp/mix.log" | grep -E "^ +[0-9.]+ +[0-9]+ +(SELECT|\\\\)" || true
  if grep -qE 'aborted|ERROR' "$tmp/mix.log"; then
    cat "$tmp/mix.log" >&2; echo "FAILED: errors in the provider mix" >&2; exit 1
  fi
  dl1=$(stats)
  "${PSQL[@]}" -At -F ' ' -c "
  SELECT 'orchestration acks', count(*) FILTER (WHERE kind = 'o'), 'worker acks', count(*) FILTER (WHERE kind = 'w') FROM $schema.committed_tokens;
  SELECT 'executions', count(*), 'completed', count(*) FILTER (WHERE status = 'Completed') FROM $schema.executions;"
  [ "$dl0" = "$dl1" ] || { echo "FAILED: deadlocks detected ($dl0 -> $dl1)" >&2; exit 1; }
  acks=$("${PSQL[@]}" -At -c "SELECT count(*) FROM $schema.committed_tokens")
  starts=$("${PSQL[@]}" -At -c "SELECT (SELECT count(*) FROM $schema.executions) + (SELECT count(*) FROM $schema.orchestrator_queue WHERE work_item LIKE '{\"StartOrchestration\"%') - $((clients * 4))")
  echo "deadlocks: 0; provider transactions with real work (fetch+ack pairs x2 + start enqueues): $(( (2 * acks + starts) / secs ))/s"
}

run_insert() {
  "${PSQL[@]}" -c "DROP TABLE IF EXISTS bench_insert" -c "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, v text)"
  echo "== plain single-row INSERT ($clients clients, ${secs}s)"
  pgbench -n -c "$clients" -j 2 -T "$secs" -f "$here/insert.sql" "$DATABASE_URL" 2>&1 | grep -E '^tps|aborted|latency average'
}

run_insert      # before and after the provider runs: the machine's fsync rate is noisy
for m in ${MODES:-intx post none}; do run_mix "$m"; done
run_insert
[ -n "${KEEP_SCHEMA:-}" ] || "${PSQL[@]}" -c "DROP SCHEMA $schema CASCADE" -c "DROP TABLE bench_insert"
