#!/usr/bin/env bash
# Soak run (issue 8 §5, not part of CI): the fan-out workload for 10 minutes at moderate load
# (2:2 slots, 20 concurrent, 5 activities of 10 ms) against a throwaway PostgreSQL, sampling the
# process's RSS, open file descriptors and pool size every 30 s; passes when RSS and the descriptors
# other than the pool's sockets (the pool follows the load) grew < 5 % after the 60 s
# warm-up. Arguments go to tests/load/soak (e.g. --seconds 60 for a short run). Release build in
# build-soak/; the table is also written to build-soak/soak.log.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build-soak/build.ninja ]; then
  meson setup build-soak -Dbuildtype=release
fi
ninja -C build-soak -j "$(nproc 2>/dev/null || echo 2)" tests/load/soak
scripts/with-postgres.sh build-soak/tests/load/soak "$@" 2>&1 | tee build-soak/soak.log
exit "${PIPESTATUS[0]}"
