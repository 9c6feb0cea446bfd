#!/usr/bin/env bash
# Builds the wire-codec libFuzzer target with clang 14 (-fsanitize=fuzzer,address,undefined) and
# runs it for a given number of seconds, seeded from the wire fixtures.
#
#   scripts/fuzz.sh [SECONDS=60] [extra libFuzzer flags...]
#
# Build output, the growing corpus and crash artifacts go to build-fuzz/ (git-ignored by being a
# build dir). A crash input should be copied to tests/fuzz/regressions/ — every file there is
# replayed by the unit test `wire_fuzz_replay`.
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build-fuzz"
cxx="${CXX_FUZZ:-clang++-14}"
command -v "$cxx" >/dev/null || cxx=clang++

mkdir -p "$out/obj" "$out/corpus" "$out/artifacts"

# The codec sources plus the one error-type source they use; nothing else of the library.
sources=("$root/lib/error.cpp" "$root"/lib/wire/*.cpp "$root/tests/fuzz/wire_fuzz.cpp")
common=(-std=c++2b -g -O1 -isystem "$root/tests/fuzz/compat" -I"$root/include" -I"$root/lib")
# The library's ABI-independent parts are header-only simdjson + libsimdjson.so.
"$cxx" "${common[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "${sources[@]}" -lsimdjson -o "$out/wire_fuzz"

# Seeds: every text of the fixture files, written once.
if [ -z "$(ls -A "$out/corpus")" ]; then
  "$cxx" "${common[@]}" -O0 "$root/tests/fuzz/make_seeds.cpp" -lsimdjson -o "$out/make_seeds"
  "$out/make_seeds" "$out/corpus" "$root"/tests/wire/fixtures/*.jsonl
fi

cd "$out"
exec ./wire_fuzz -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/tests/fuzz/wire.dict" -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
  "$@" "$out/corpus" "$root/tests/fuzz/regressions"
