// The refresh schedule and retry backoff (auth/refresh_schedule.h): pure arithmetic.
#include <doctest/doctest.h>

#include "auth/refresh_schedule.h"

using namespace duroxide::pg;
using namespace duroxide::pg::auth;

namespace {
constexpr std::int64_t kMin = 60 * 1000;
constexpr std::int64_t kNow = 1'700'000'000'000;
AccessToken tok(std::int64_t expires_in_ms, std::optional<std::int64_t> refresh_in_ms = std::nullopt) {
  AccessToken t{"t", kNow + expires_in_ms, std::nullopt};
  if (refresh_in_ms) t.refresh_at_ms = kNow + *refresh_in_ms;
  return t;
}
}  // namespace

TEST_CASE("refresh: the ceiling applies to long-lived tokens") {
  RefreshPolicy p = policy_for(20 * kMin);
  CHECK(next_refresh_at(tok(24 * 60 * kMin), kNow, p) == kNow + 20 * kMin);
}

TEST_CASE("refresh: five minutes before expiry when that comes first") {
  RefreshPolicy p = policy_for(20 * kMin);
  CHECK(next_refresh_at(tok(15 * kMin), kNow, p) == kNow + 10 * kMin);
}

TEST_CASE("refresh: the issuer's refresh_in wins when earliest") {
  RefreshPolicy p = policy_for(20 * kMin);
  CHECK(next_refresh_at(tok(60 * kMin, 7 * kMin), kNow, p) == kNow + 7 * kMin);
  CHECK(next_refresh_at(tok(60 * kMin, 40 * kMin), kNow, p) == kNow + 20 * kMin);
}

TEST_CASE("refresh: never more often than every 30 s") {
  RefreshPolicy p = policy_for(20 * kMin);
  CHECK(next_refresh_at(tok(2 * kMin), kNow, p) == kNow + 30'000);     // expiry - 5 min is past
  CHECK(next_refresh_at(tok(60 * kMin, 1000), kNow, p) == kNow + 30'000);
  CHECK(policy_for(1000).ceiling_ms == 30'000);                          // interval clamped
  CHECK(next_refresh_at(tok(60 * kMin), kNow, policy_for(1000)) == kNow + 30'000);
}

TEST_CASE("retry backoff: jittered exponential within [c/2, c], capped") {
  RefreshPolicy p;
  p.retry_base_ms = 2000;
  p.retry_cap_ms = 300'000;
  for (unsigned failures = 1; failures < 20; ++failures) {
    std::int64_t c = 2000;
    for (unsigned i = 1; i < failures && c < 300'000; ++i) c *= 2;
    c = std::min<std::int64_t>(c, 300'000);
    for (std::uint64_t r : {0ull, 1ull, 7ull, 12345ull, ~0ull, 0x9e3779b97f4a7c15ull}) {
      const std::int64_t d = retry_delay_ms(failures, r, p);
      CHECK(d >= c / 2);
      CHECK(d <= c);
    }
  }
  CHECK(retry_delay_ms(1, 0, p) == 1000);
  CHECK(retry_delay_ms(40, ~0ull, p) <= 300'000);
}
