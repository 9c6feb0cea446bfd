#!/usr/bin/env bash
# The project's test command (CI runs exactly this):
#   installs the Debian packages, builds with -Werror, starts a throwaway PostgreSQL 15 and runs
#   every meson test suite, then runs them again in an AddressSanitizer + UBSan build.
# Set DUROXIDE_SKIP_SANITIZERS=1 to skip the second pass locally.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -f build/build.ninja ]; then
  meson setup build -Dwerror_ci=true
fi
meson compile -C build -j "$jobs"

if [ "${DUROXIDE_SKIP_SANITIZERS:-0}" != 1 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Dwerror_ci=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug -Dbenches=false
  fi
  meson compile -C build-asan -j "$jobs"
fi

exec scripts/with-postgres.sh scripts/run-suites.sh
