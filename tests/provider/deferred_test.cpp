// Deferred without a database: closures run on a later loop turn, a batch `delay_ms` after its
// first post, and close() still runs what is queued.
#include "provider/deferred.h"

#include <doctest/doctest.h>

#include <vector>

#include "support/loop_fixture.h"

using namespace std::chrono_literals;
using duroxide::pg::Deferred;

namespace {

struct Closer {
  Deferred& d;
  duroxide::test::LoopFixture& f;
  ~Closer() {
    bool closed = false;
    d.close([&] { closed = true; });
    CHECK(f.run_until([&] { return closed; }));
  }
};

}  // namespace

TEST_CASE("deferred: without a delay, posts run on the next loop turn, never inside post") {
  duroxide::test::LoopFixture f;
  Deferred d(&f.loop);
  std::vector<int> ran;
  d.post([&] { ran.push_back(1); });
  d.post([&] { ran.push_back(2); });
  CHECK(ran.empty());
  CHECK(f.run_until([&] { return ran.size() == 2; }, 1s));
  CHECK(ran == std::vector<int>{1, 2});
  Closer{d, f};
}

TEST_CASE("deferred: a delayed batch runs delay_ms after its first post, and later posts do not push it back") {
  duroxide::test::LoopFixture f;
  Deferred d(&f.loop, 200);
  std::vector<uint64_t> ran_at;
  uv_update_time(&f.loop);
  const uint64_t t0 = uv_now(&f.loop);
  d.post([&] { ran_at.push_back(uv_now(&f.loop)); });
  // A second post 150 ms later joins the same batch: both run 200 ms after the first post, not
  // 200 ms after the second.
  CHECK_FALSE(f.run_until([&] { return !ran_at.empty(); }, 150ms));
  const uint64_t t1 = uv_now(&f.loop);
  d.post([&] { ran_at.push_back(uv_now(&f.loop)); });
  REQUIRE(f.run_until([&] { return ran_at.size() == 2; }, 2s));
  CHECK(ran_at[0] - t0 >= 200);
  CHECK(ran_at[1] == ran_at[0]);
  CHECK(ran_at[0] < t1 + 200);
  Closer{d, f};
}

TEST_CASE("deferred: close runs a delayed batch at once, exactly once") {
  duroxide::test::LoopFixture f;
  Deferred d(&f.loop, 10000);
  int ran = 0;
  d.post([&] { ++ran; });
  bool closed = false;
  d.close([&] { closed = true; });
  REQUIRE(f.run_until([&] { return closed; }, 1s));
  CHECK(ran == 1);
  // After close a post still runs, on a later turn.
  d.post([&] { ++ran; });
  CHECK(ran == 1);
  CHECK(f.run_until([&] { return ran == 2; }, 1s));
}
