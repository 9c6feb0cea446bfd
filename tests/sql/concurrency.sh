#!/usr/bin/env bash
# tests/sql/concurrency.sh — races that need several real sessions (run by run.sh).
#   1. 10 fetchers whose transactions overlap (each holds its fetch transaction open 1 s):
#      10 distinct instances, no None, no waiting on each other.
#   2. 8 concurrent acks with one token: exactly one succeeds, 7 fail with QD001; one event.
#   3. 9 overlapping worker fetchers with distinct session owners over 3 sessions x 2 items and
#      6 plain items: 9 items, one per session, the losers of a session claim move on.
set -euo pipefail
: "${DATABASE_URL:?}"
Q=$1   # quoted schema identifier
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
P=(psql "$DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
T=1700000000000
reset="TRUNCATE $Q.instances, $Q.executions, $Q.history, $Q.orchestrator_queue, $Q.worker_queue, $Q.instance_locks, $Q.sessions, $Q.kv_store, $Q.kv_delta, $Q.committed_tokens"

# 1 ---------------------------------------------------------------------------------------------
"${P[@]}" -c "$reset"
for i in $(seq 0 9); do
  "${P[@]}" -c "SELECT $Q.enqueue_for_orchestrator($T, 'inst-$i', 'StartOrchestration', '{\"StartOrchestration\":{\"instance\":\"inst-$i\",\"orchestration\":\"P\",\"input\":\"\",\"version\":null,\"parent_instance\":null,\"parent_id\":null,\"execution_id\":1}}')" >/dev/null
done
start=$(date +%s%N)
for i in $(seq 0 9); do
  "${P[@]}" -c "BEGIN" -c "SELECT coalesce(max(instance_id), 'NONE') FROM $Q.fetch_orchestration_item($T, 30000, ARRAY[0,0,0,9,9,9]::bigint[]) WHERE row_type = 'item'" -c "SELECT pg_sleep(1)" -c "COMMIT" > "$tmp/f$i" &
done
wait
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
got=$(cat "$tmp"/f* | grep -v '^$' | sort -u | grep -vc NONE || true)
[ "$got" = 10 ] || { echo "FAIL 1: distinct instances = $got"; cat "$tmp"/f*; exit 1; }
[ "$elapsed" -lt 4000 ] || { echo "FAIL 1: fetchers waited on each other (${elapsed} ms)"; exit 1; }
echo "ok concurrency 1: 10 overlapping fetchers got 10 distinct instances in ${elapsed} ms"

# 2 ---------------------------------------------------------------------------------------------
"${P[@]}" -c "$reset"
"${P[@]}" -c "SELECT $Q.enqueue_for_orchestrator($T, 'A', 'StartOrchestration', '{\"StartOrchestration\":{}}')" >/dev/null
tok=$("${P[@]}" -c "SELECT lock_token FROM $Q.fetch_orchestration_item($T, 30000) WHERE row_type = 'item'")
ack="SELECT applied FROM $Q.ack_orchestration_item($T, '$tok', 1, ARRAY[1]::bigint[], ARRAY['OrchestrationStarted'], ARRAY['{}'], NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL)"
for i in $(seq 1 8); do
  ( "${P[@]}" -v VERBOSITY=verbose -c "$ack" > "$tmp/a$i" 2>&1 || true ) &
done
wait
oks=$(grep -l '^t$' "$tmp"/a* | wc -l)
qd1=$(grep -l 'QD001' "$tmp"/a* | wc -l)
events=$("${P[@]}" -c "SELECT count(*) FROM $Q.history WHERE instance_id = 'A'")
[ "$oks" = 1 ] && [ "$qd1" = 7 ] && [ "$events" = 1 ] || { echo "FAIL 2: ok=$oks qd001=$qd1 events=$events"; cat "$tmp"/a*; exit 1; }
echo "ok concurrency 2: 8 concurrent acks with one token -> 1 ok, 7 QD001, 1 event"

# 3 ---------------------------------------------------------------------------------------------
"${P[@]}" -c "$reset"
ew() { "${P[@]}" -c "SELECT $Q.enqueue_for_worker($T, 'ActivityExecute', '{\"ActivityExecute\":{\"instance\":\"W\",\"execution_id\":1,\"id\":$1,\"name\":\"A\",\"input\":\"\"}}', 'W', 1, $1, $2)" >/dev/null; }
n=0
for s in s1 s2 s3; do for k in 1 2; do n=$((n+1)); ew $n "'$s'"; done; done
for k in 1 2 3 4 5 6; do n=$((n+1)); ew $n NULL; done
for o in $(seq 1 9); do
  "${P[@]}" -c "BEGIN" -c "SELECT coalesce(max(f.id), -1) || ' ' || coalesce(max(w.session_id), '-') || ' o$o' FROM $Q.fetch_work_item($T, 30000, 'default_only', NULL, 'o$o', 30000) f LEFT JOIN $Q.worker_queue w ON w.id = f.id" -c "SELECT pg_sleep(0.5)" -c "COMMIT" > "$tmp/w$o" &
done
wait
items=$(cat "$tmp"/w* | grep -v '^$' | awk '$1 > 0' | awk '{print $1}' | sort -u | wc -l)
per_session=$(cat "$tmp"/w* | grep -v '^$' | awk '$2 != "-" {print $2}' | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' ')
owners_ok=$(cat "$tmp"/w* | grep -v '^$' | awk '$2 != "-" {print $2, $3}' | while read -r s o; do "${P[@]}" -c "SELECT worker_id = '$o' FROM $Q.sessions WHERE session_id = '$s'"; done | sort -u | tr '\n' ' ')
[ "$items" = 9 ] && [ "$per_session" = "1 " ] && [ "$owners_ok" = "t " ] || { echo "FAIL 3: items=$items per_session=$per_session owners=$owners_ok"; cat "$tmp"/w*; exit 1; }
echo "ok concurrency 3: 9 session-owner fetchers got 9 distinct items, one per session, owners recorded"
"${P[@]}" -c "$reset"
