#!/usr/bin/env bash
# Runs every test suite in build/ and, when present, in the sanitizer build build-asan/.
# Expects DATABASE_URL (use scripts/with-postgres.sh). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# Sums the doctest "test cases" lines of the conformance executables in a meson test log.
conformance_summary() {
  local log="$1/meson-logs/testlog.txt"
  [ -f "$log" ] || return 0
  awk '/^==================================== [0-9]+\/[0-9]+ =+/ {name=""}
       /^test:/ {name=$NF}
       /\[doctest\] test cases:/ && name ~ /conformance_/ {
         for (i = 1; i <= NF; i++) { if ($i == "passed") p += $(i-1); if ($i == "failed") f += $(i-1) }
         n++ }
       END { if (n) printf "conformance: %d modules, %d test cases passed, %d failed\n", n, p, f }' "$log"
}

echo "== tests (build/)"
meson test -C build --print-errorlogs --num-processes 2
conformance_summary build

if [ "${DUROXIDE_SKIP_SANITIZERS:-0}" != 1 ] && [ -f build-asan/build.ninja ]; then
  echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  # The load suite's full sizes (10,000 instances, 600 per fault run) belong to the normal build;
  # here the same code paths run at 1,000 and 300 instances (about 45 s in all).
  export DUROXIDE_LOAD_INSTANCES="${DUROXIDE_LOAD_INSTANCES_ASAN:-1000}"
  export DUROXIDE_LOAD_FAULT_INSTANCES="${DUROXIDE_LOAD_FAULT_INSTANCES_ASAN:-300}"
  meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3
  conformance_summary build-asan
fi
