#!/usr/bin/env bash
# bench/profile_fanout.sh [FANOUT ARGS...] — where the server time of bench/fanout goes.
#
# Runs under scripts/with-postgres.sh (started here when DATABASE_URL is unset): turns on
# pg_stat_statements (track = all, so statements inside the provider's plpgsql functions are
# counted too) and track_functions = pl through ALTER SYSTEM + a restart of the throwaway server,
# runs build-bench/bench/fanout with the given arguments (FANOUT=path overrides the binary), then
# prints the provider functions and the statements by total server time. With PERF=1 it also
# records `perf record -a -g` over the run and prints the top symbols (needs perf and root).
# PG_SETTINGS="name=value ..." applies extra server settings (ALTER SYSTEM) for experiments, e.g.
# PG_SETTINGS="plan_cache_mode=force_generic_plan".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${DATABASE_URL:-}" ]; then
  exec "$here/scripts/with-postgres.sh" "$0" "$@"
fi
: "${DUROXIDE_PG_DATADIR:?run under scripts/with-postgres.sh (needs its throwaway server)}"
FANOUT=${FANOUT:-$here/build-bench/bench/fanout}
read -r -a run_as <<<"${DUROXIDE_PG_RUN_AS:-}"
psql_() { psql "$DATABASE_URL" -qAtX "$@"; }

# (pg_stat_statements.track only exists once the library is loaded: two restarts.)
psql_ -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" \
      -c "ALTER SYSTEM SET track_functions = 'pl'"
"${run_as[@]}" "$DUROXIDE_PG_BINDIR/pg_ctl" -D "$DUROXIDE_PG_DATADIR" -w restart >/dev/null
psql_ -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pg_stat_statements.track = '${PGSS_TRACK:-all}'"
for kv in ${PG_SETTINGS:-}; do
  psql_ -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'"
done
"${run_as[@]}" "$DUROXIDE_PG_BINDIR/pg_ctl" -D "$DUROXIDE_PG_DATADIR" -w restart >/dev/null
psql_ -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
      -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset_shared('wal')" >/dev/null

if [ "${PERF:-0}" = 1 ]; then
  perf record -a -g -o /tmp/fanout-perf.data -- "$FANOUT" --keep-schema "$@"
else
  "$FANOUT" --keep-schema "$@"
fi

echo
echo "== provider functions by total time (pg_stat_user_functions; self = excluding nested calls) =="
psql_ -F ' | ' -c "
  SELECT funcname, calls, round(total_time::numeric, 0) AS total_ms, round(self_time::numeric, 0) AS self_ms,
         round((total_time / nullif(calls, 0))::numeric, 3) AS ms_per_call
    FROM pg_stat_user_functions ORDER BY total_time DESC LIMIT 12"
echo
echo "== statements by total time (pg_stat_statements, top level and nested) =="
psql_ -F ' | ' -c "
  SELECT calls, round(total_exec_time::numeric, 0) AS total_ms,
         round(mean_exec_time::numeric, 3) AS mean_ms, rows, toplevel,
         left(regexp_replace(query, '\s+', ' ', 'g'), 150) AS query
    FROM pg_stat_statements WHERE query !~* '^\s*(--|create|drop|alter|select pg_stat)'
   ORDER BY total_exec_time DESC LIMIT 30"
echo
echo "== WAL and commits =="
psql_ -F ' | ' -c "SELECT wal_records, wal_fpi, pg_size_pretty(wal_bytes), wal_write, wal_sync, round(wal_sync_time::numeric,0) AS sync_ms FROM pg_stat_wal"
psql_ -F ' | ' -c "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()"
if [ "${PERF:-0}" = 1 ]; then
  echo
  echo "== perf: top symbols (all CPUs) =="
  perf report -i /tmp/fanout-perf.data --comm postgres --no-children --sort dso,sym --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep '%' | head -45
  echo "== perf: fanout process =="
  perf report -i /tmp/fanout-perf.data --comm fanout --no-children --sort dso,sym --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep '%' | head -25
fi
