// Conformance module lock_expiration (conformance.md §5.11): expiry, abandon and renewal of the
// orchestration instance lock and of worker-item locks.
//
// "Concurrent tasks" are operations outstanding at the same time on the loop, each started by its
// own staggered timer; they are spread over several provider objects on the same store
// (open_same_store), which is how this asynchronous provider is used by several runtimes.
// The catalogue's "sleep" steps keep the loop running for the given duration.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace le_local {

// Runs `fn` on the loop after `delay` (a one-shot timer that closes itself).
inline void run_after(LoopFixture& f, Millis delay, std::function<void()> fn) {
  struct Timer {
    uv_timer_t handle;
    std::function<void()> fn;
  };
  auto* timer = new Timer{{}, std::move(fn)};
  uv_timer_init(&f.loop, &timer->handle);
  timer->handle.data = timer;
  uv_timer_start(
      &timer->handle,
      [](uv_timer_t* th) {
        auto* self = static_cast<Timer*>(th->data);
        auto call = std::move(self->fn);
        uv_close(reinterpret_cast<uv_handle_t*>(th), [](uv_handle_t* hh) { delete static_cast<Timer*>(hh->data); });
        call();
      },
      static_cast<uint64_t>(delay.count()), 0);
}

inline void sleep_loop(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

inline LockedOrchestration require_some(const Result<std::optional<LockedOrchestration>>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  REQUIRE(r->has_value());
  return **r;
}
inline void require_none(const Result<std::optional<LockedOrchestration>>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
}
inline LockedWorkItem require_some(const Result<std::optional<LockedWorkItem>>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  REQUIRE(r->has_value());
  return **r;
}
inline void require_none(const Result<std::optional<LockedWorkItem>>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
}
inline void require_ok(const Result<void>& r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string())); }

inline WorkItem completion_for(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return WorkItem::ActivityCompleted{ae->instance, ae->execution_id, ae->id, "done"};
}

}  // namespace le_local

using namespace le_local;

TEST_CASE("lock_expiration::test_lock_expires_after_timeout" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto first = require_some(FO(s, kLockTimeout));
  CHECK(first.item.instance == "A");
  require_none(FO(s, kLockTimeout));
  sleep_loop(f, kLockTimeout + 100ms);
  auto again = require_some(FO(s, kLockTimeout));
  CHECK(again.item.instance == "A");
  CHECK(again.lock_token != first.lock_token);

  AckArgs a;
  a.delta.push_back(started_event("A"));
  auto stale = AO(s, first.lock_token, 1, std::move(a));
  CHECK_FALSE(stale);
}

TEST_CASE("lock_expiration::test_abandon_releases_lock_immediately") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto first = require_some(FO(s));
  require_none(FO(s));
  require_ok(AbO(s, first.lock_token, std::nullopt, false));
  auto again = require_some(FO(s));
  CHECK(again.item.instance == "A");
}

TEST_CASE("lock_expiration::test_lock_renewal_on_ack") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto held = require_some(FO(s, kLockTimeout));
  require_none(FO(s, kLockTimeout));
  REQUIRE(EO(s, start_item("A")));
  require_none(FO(s, kLockTimeout));
  AckArgs a;
  a.delta.push_back(started_event("A"));  // default metadata
  require_ok(AO(s, held.lock_token, 1, std::move(a)));
  // The message that arrived during the lock is available right after the ack.
  auto next = require_some(FO(s, kLockTimeout));
  CHECK(next.item.instance == "A");
}

TEST_CASE("lock_expiration::test_concurrent_lock_attempts_respect_expiration" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  Store s2 = s.open_same_store();
  Store s3 = s.open_same_store();
  Store* providers[] = {&s, &s2, &s3};
  REQUIRE(EO(s, start_item("A")));
  auto held = require_some(FO(s, kLockTimeout));
  CHECK(held.item.instance == "A");

  // Five concurrent tasks at 0, 50, ..., 200 ms, spread over three providers.
  constexpr int kTasks = 5;
  std::vector<std::optional<Result<std::optional<LockedOrchestration>>>> results(kTasks);
  int done = 0;
  for (int i = 0; i < kTasks; ++i) {
    Store* p = providers[i % 3];
    run_after(f, Millis(i * 50), [&, p, i] {
      (*p)->fetch_orchestration_item(kLockTimeout, 0ms, std::nullopt, [&, i](Result<std::optional<LockedOrchestration>> r) {
        results[i] = std::move(r);
        ++done;
      });
    });
  }
  sleep_loop(f, 200ms);
  REQUIRE(f.run_until([&] { return done == kTasks; }, 30s));  // join
  for (int i = 0; i < kTasks; ++i) {
    INFO("task " << i);
    require_none(*results[i]);
  }
  sleep_loop(f, std::max(kLockTimeout - 200ms, Millis(0)) + 100ms);
  auto last = require_some(FO(s, kLockTimeout));
  CHECK(last.item.instance == "A");
}

TEST_CASE("lock_expiration::test_worker_lock_renewal_success") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("A", 1)));
  auto held = require_some(FW(s, kLockTimeout));
  require_none(FW(s));
  sleep_loop(f, 100ms);
  require_ok(RW(s, held.lock_token, kLockTimeout));
  require_none(FW(s));
}

TEST_CASE("lock_expiration::test_worker_lock_renewal_invalid_token") {
  LoopFixture f;
  Store s = create_provider(f);
  auto r = RW(s, "invalid-token-123", 30s);
  CHECK_FALSE(r);
}

TEST_CASE("lock_expiration::test_worker_lock_renewal_after_expiration" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("A", 1)));
  auto held = require_some(FW(s, 1s));
  sleep_loop(f, kLockTimeout + 100ms);
  auto r = RW(s, held.lock_token, kLockTimeout);
  CHECK_FALSE(r);
}

TEST_CASE("lock_expiration::test_worker_lock_renewal_extends_timeout" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto fo = require_some(FO(s));
  AckArgs a;
  a.delta.push_back(started_event("A"));
  a.delta.push_back(make_event("A", 1, 2, EventKind::ActivityScheduled{"Activity2", "input", std::nullopt, std::nullopt}));
  a.worker_items.push_back(activity_item("A", 2));
  a.metadata = meta("Running");
  require_ok(AO(s, fo.lock_token, 1, std::move(a)));

  auto held = require_some(FW(s, kLockTimeout));
  sleep_loop(f, kLockTimeout * 6 / 10);
  auto renew = RW(s, held.lock_token, kLockTimeout);
  CHECK_MESSAGE(renew, (renew ? "" : renew.error().to_string()));
  sleep_loop(f, kLockTimeout * 4 / 10);
  // At about 1.0 × LT the item is still locked (until about 1.6 × LT).
  require_none(FW(s));
}

TEST_CASE("lock_expiration::test_worker_lock_renewal_after_ack") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("A", 1)));
  auto held = require_some(FW(s));
  auto ack = AW(s, held.lock_token, completion_for(held));
  CHECK_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto renew = RW(s, held.lock_token, 30s);
  CHECK_FALSE(renew);
}

TEST_CASE("lock_expiration::test_abandon_work_item_releases_lock") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("A", 1)));
  auto first = require_some(FW(s));
  require_none(FW(s));
  require_ok(AbW(s, first.lock_token, std::nullopt, false));
  auto again = require_some(FW(s));
  CHECK(again.lock_token != first.lock_token);
  auto ack = AW(s, again.lock_token, completion_for(again));
  CHECK_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
}

TEST_CASE("lock_expiration::test_abandon_work_item_with_delay") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("A", 1)));
  auto first = require_some(FW(s));
  require_ok(AbW(s, first.lock_token, 500ms, false));
  require_none(FW(s));
  sleep_loop(f, 600ms);
  auto later = require_some(FW(s));
  auto ack = AW(s, later.lock_token, completion_for(later));
  CHECK_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
}

TEST_CASE("lock_expiration::test_worker_ack_fails_after_lock_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("A", 1)));
  auto held = require_some(FW(s, 1s));
  sleep_loop(f, 1200ms);
  auto ack = AW(s, held.lock_token, completion_for(held));
  CHECK_FALSE(ack);
  // The rejected ack did not delete the item.
  auto again = require_some(FW(s, 5s));
  CHECK(again.item == held.item);
}

TEST_CASE("lock_expiration::test_orchestration_lock_renewal_after_expiration" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto held = require_some(FO(s, kLockTimeout));
  sleep_loop(f, kLockTimeout + 100ms);
  auto r = RO(s, held.lock_token, kLockTimeout);
  CHECK_FALSE(r);
}
