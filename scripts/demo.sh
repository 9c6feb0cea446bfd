#!/usr/bin/env bash
# scripts/demo.sh [FANOUT ARGS...] — the one-command demo: installs the Debian packages the project
# needs (scripts/setup.sh; apt-get, needs root or sudo, idempotent), builds the library and the
# benchmarks (release, in build-bench/), then runs bench/fanout — the fan-out stress workload of a
# Duroxide runtime — against an embedded throwaway PostgreSQL 15 (scripts/with-postgres.sh: a fresh
# cluster in a temporary folder, fsync on, deleted afterwards).
#
#   scripts/demo.sh                          # every configuration, 10 s each (~2.5 minutes)
#   scripts/demo.sh --profile reference      # just the 2:2 reference configuration
#   scripts/demo.sh --duration 30 --json out.json
#
# Knobs: SKIP_SETUP=1 skips apt-get; BUILD_DIR (default build-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build-bench}

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  scripts/setup.sh
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=release -Dwerror_ci=false
fi
ninja -C "$build" bench/fanout
exec scripts/with-postgres.sh "$build/bench/fanout" "$@"
