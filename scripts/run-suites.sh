#!/usr/bin/env bash
# Runs every test suite in build/ and, when present, in the sanitizer build build-asan/.
# Expects DATABASE_URL (use scripts/with-postgres.sh). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tests (build/)"
meson test -C build --print-errorlogs --num-processes 2

if [ "${DUROXIDE_SKIP_SANITIZERS:-0}" != 1 ] && [ -f build-asan/build.ninja ]; then
  echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
    --no-suite slow
fi
