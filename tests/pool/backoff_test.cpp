#include <doctest/doctest.h>

#include "pool/backoff.h"

#include <cstdint>

using duroxide::pg::Backoff;
using ms = std::chrono::milliseconds;

TEST_CASE("backoff: no delay before any failure") {
  Backoff b(ms(100), ms(10000));
  CHECK(b.next_delay(12345) == ms(0));
}

TEST_CASE("backoff: grows exponentially within [ceiling/2, ceiling] and stops at the cap") {
  Backoff b(ms(100), ms(1000));
  const int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t c : ceilings) {
    b.record_failure();
    for (uint64_t r : {0ull, 1ull, 77ull, 0xffffffffffffffffull}) {
      const auto d = b.next_delay(r).count();
      CHECK(d >= c / 2);
      CHECK(d <= c);
    }
  }
  CHECK(b.next_delay(0).count() == 500);
}

TEST_CASE("backoff: success resets; many failures never overflow") {
  Backoff b(ms(100), ms(5000));
  for (int i = 0; i < 500; ++i) b.record_failure();
  CHECK(b.failures() == 500);  // the pool logs this count when it connects again
  CHECK(b.next_delay(~0ull).count() <= 5000);
  b.record_success();
  CHECK(b.failures() == 0);
  CHECK(b.next_delay(3) == ms(0));
}

TEST_CASE("backoff: a cap near the int64 limit never overflows the doubling") {
  Backoff b(ms(1000), ms(INT64_MAX));
  for (int i = 0; i < 100; ++i) b.record_failure();
  const auto d = b.next_delay(~0ull).count();
  CHECK(d >= INT64_MAX / 2);  // reached the cap without wrapping negative
}
