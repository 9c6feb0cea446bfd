// conformance.md §5.12 — long_polling (Adjusted): poll_timeout 0 returns at once; an empty fetch
// with poll_timeout > 0 waits at least poll_timeout and less than poll_timeout + 200 ms
// (cross-cutting rule 22, catalogue §7.1). All fetches use a 30 s lock on an empty store.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

using Clock = std::chrono::steady_clock;

Millis since(Clock::time_point t0) { return std::chrono::duration_cast<Millis>(Clock::now() - t0); }

}  // namespace

TEST_CASE("long_polling::test_short_poll_returns_immediately") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = Clock::now();
  auto r = FO(s, 30s, 0ms);
  const Millis elapsed = since(t0);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
  CAPTURE(elapsed.count());
  CHECK(elapsed < kShortPoll);
}

TEST_CASE("long_polling::test_long_poll_waits_for_timeout") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = Clock::now();
  auto r = FO(s, 30s, 500ms);
  const Millis elapsed = since(t0);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
  CAPTURE(elapsed.count());
  CHECK(elapsed >= 500ms);
  CHECK(elapsed < 700ms);
}

TEST_CASE("long_polling::test_fetch_respects_timeout_upper_bound") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = Clock::now();
  auto r = FO(s, 30s, 300ms);
  const Millis elapsed = since(t0);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
  CAPTURE(elapsed.count());
  CHECK(elapsed < 500ms);
  CHECK(elapsed >= 300ms);
}

TEST_CASE("long_polling::test_short_poll_work_item_returns_immediately") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = Clock::now();
  auto r = FW(s, 30s, 0ms);
  const Millis elapsed = since(t0);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
  CAPTURE(elapsed.count());
  CHECK(elapsed < kShortPoll);
}

TEST_CASE("long_polling::test_long_poll_work_item_waits_for_timeout") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = Clock::now();
  auto r = FW(s, 30s, 500ms);
  const Millis elapsed = since(t0);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
  CAPTURE(elapsed.count());
  CHECK(elapsed >= 500ms);
  CHECK(elapsed < 700ms);
}
