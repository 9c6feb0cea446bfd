// Conformance module instance_locking (conformance.md §5.9): the instance lock of
// fetch_orchestration_item — exclusivity, token uniqueness, invalid tokens, batches that exclude
// messages arriving during the lock, and concurrent fetchers.
//
// "Concurrent tasks" are operations outstanding at the same time on the loop, each started by its
// own staggered timer. The catalogue's "multi-threaded" tests are driven the way this asynchronous
// provider is used: several provider objects on the same store (open_same_store: own connection
// pools, like separate processes or runtimes) with many fetches outstanding at once.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <vector>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace il_local {

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

// Lets the loop (and every provider on it) run for `d` without waiting for anything.
inline void sleep_loop(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

// Makes sure a provider has a live connection, so that timing-sensitive tasks are not skewed by
// connection warm-up (a read-only probe of an instance that does not exist).
inline void warm_up(Store& s) {
  auto r = await<std::optional<CustomStatus>>(s.loop(), [&](auto cb) { s->get_custom_status("warm-up", 0, std::move(cb)); });
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

inline WorkItem completion(const std::string& instance, uint64_t id) {
  return WorkItem::ActivityCompleted{instance, 1, id, "result-" + std::to_string(id)};
}

inline LockedOrchestration require_some(const Result<std::optional<LockedOrchestration>>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  REQUIRE(r->has_value());
  return **r;
}

inline void require_none(const Result<std::optional<LockedOrchestration>>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
}

inline std::vector<uint64_t> completion_ids(const OrchestrationItem& item) {
  std::vector<uint64_t> ids;
  for (const auto& m : item.messages)
    if (const auto* c = m.get_if<WorkItem::ActivityCompleted>()) ids.push_back(c->id);
  return ids;
}

}  // namespace il_local

using namespace il_local;

TEST_CASE("instance_locking::test_exclusive_instance_lock" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto first = require_some(FO(s, kLockTimeout));
  CHECK(first.item.instance == "A");
  require_none(FO(s, kLockTimeout));
  sleep_loop(f, kLockTimeout + 100ms);
  auto last = require_some(FO(s, kLockTimeout));
  CHECK(last.item.instance == "A");
  CHECK(last.lock_token != first.lock_token);
}

TEST_CASE("instance_locking::test_lock_token_uniqueness") {
  LoopFixture f;
  Store s = create_provider(f);
  for (int i = 0; i < 5; ++i) REQUIRE(EO(s, start_item("inst-" + std::to_string(i))));
  std::set<std::string> tokens;
  std::set<std::string> instances;
  for (int i = 0; i < 5; ++i) {
    auto got = require_some(FO(s, 30s));  // fetch skips locked instances
    tokens.insert(got.lock_token);
    instances.insert(got.item.instance);
  }
  CHECK(tokens.size() == 5);
  CHECK(instances.size() == 5);
}

TEST_CASE("instance_locking::test_invalid_lock_token_rejection") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto held = require_some(FO(s));
  CHECK(held.item.instance == "A");

  auto ack = AO(s, "invalid-token", 1);
  REQUIRE_FALSE(ack);
  // Error text of cross-cutting rule 21 (case-sensitive).
  CHECK_MESSAGE((ack.error().message.find("Invalid lock token") != std::string::npos ||
                 ack.error().message.find("lock_token") != std::string::npos),
                ack.error().to_string());

  auto abandon = AbO(s, "invalid-token", std::nullopt, false);
  REQUIRE_FALSE(abandon);

  // The real lock is untouched by the rejected calls.
  require_none(FO(s));
}

TEST_CASE("instance_locking::test_concurrent_instance_fetching") {
  LoopFixture f;
  Store s = create_provider(f);
  // Several provider objects on the same store ("processes"), fetches outstanding at once.
  Store s2 = s.open_same_store();
  Store s3 = s.open_same_store();
  Store* providers[] = {&s, &s2, &s3};
  for (int i = 0; i < 10; ++i) REQUIRE(EO(s, start_item("inst-" + std::to_string(i))));

  constexpr int kTasks = 10;
  std::vector<std::optional<Result<std::optional<LockedOrchestration>>>> results(kTasks);
  int done = 0;
  for (int i = 0; i < kTasks; ++i) {
    Store* p = providers[i % 3];
    run_after(f, Millis(i * 30), [&, p, i] {
      (*p)->fetch_orchestration_item(30s, 0ms, std::nullopt, [&, i](Result<std::optional<LockedOrchestration>> r) {
        results[i] = std::move(r);
        ++done;
      });
    });
  }
  REQUIRE(f.run_until([&] { return done == kTasks; }, 60s));

  std::set<std::string> fetched;
  for (int i = 0; i < kTasks; ++i) {
    const auto& r = *results[i];
    REQUIRE_MESSAGE(r, "task " << i << ": " << (r ? "" : r.error().to_string()));
    // A None caused by contention is a false "nothing" (cross-cutting rule 3).
    REQUIRE_MESSAGE(r->has_value(), "task " << i << " got None while unlocked instances remained");
    fetched.insert((*r)->item.instance);
  }
  CHECK(fetched.size() == 10);
}

TEST_CASE("instance_locking::test_completions_arriving_during_lock_blocked" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto held = require_some(FO(s, kLockTimeout));
  CHECK(held.item.instance == "A");
  for (uint64_t id = 1; id <= 3; ++id) REQUIRE(EO(s, completion("A", id)));
  require_none(FO(s, kLockTimeout));
  sleep_loop(f, kLockTimeout + 100ms);
  auto got = require_some(FO(s, kLockTimeout));
  CHECK(got.item.instance == "A");
  REQUIRE(got.item.messages.size() == 4);
  CHECK(got.item.messages[0].holds<WorkItem::StartOrchestration>());
  CHECK(completion_ids(got.item) == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("instance_locking::test_cross_instance_lock_isolation") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "A");
  create_instance(s, "B");
  REQUIRE(EO(s, start_item("A")));
  REQUIRE(EO(s, start_item("B")));

  auto first = require_some(FO(s));
  CHECK(first.item.instance == "A");  // the oldest visible message
  auto second = require_some(FO(s));
  CHECK(second.item.instance == "B");

  AckArgs a;
  a.metadata = meta();
  auto ack = AO(s, second.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));

  REQUIRE(EO(s, completion("B", 2)));
  auto last = require_some(FO(s));
  CHECK(last.item.instance == "B");  // A is still locked
  CHECK(s.live_instance_lock("A"));
}

TEST_CASE("instance_locking::test_message_tagging_during_lock") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "A");
  REQUIRE(EO(s, completion("A", 1)));
  REQUIRE(EO(s, completion("A", 2)));
  auto held = require_some(FO(s));
  CHECK(held.item.messages.size() == 2);
  REQUIRE(EO(s, completion("A", 3)));  // arrives while locked
  auto ack = AO(s, held.lock_token, 1);
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto next = require_some(FO(s));
  CHECK(next.item.instance == "A");
  REQUIRE(next.item.messages.size() == 1);
  const auto* c = next.item.messages[0].get_if<WorkItem::ActivityCompleted>();
  REQUIRE(c != nullptr);
  CHECK(c->id == 3);
}

TEST_CASE("instance_locking::test_ack_only_affects_locked_messages") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "A");
  REQUIRE(EO(s, completion("A", 1)));
  auto held = require_some(FO(s));
  REQUIRE(held.item.messages.size() == 1);
  REQUIRE(EO(s, completion("A", 2)));
  REQUIRE(EO(s, completion("A", 3)));
  require_none(FO(s));
  auto ack = AO(s, held.lock_token, 1);
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto next = require_some(FO(s));
  CHECK(next.item.instance == "A");
  REQUIRE(next.item.messages.size() == 2);
  CHECK(completion_ids(next.item) == std::vector<uint64_t>{2, 3});
}

TEST_CASE("instance_locking::test_multi_threaded_lock_contention") {
  LoopFixture f;
  Store s = create_provider(f);
  // "Threads": fetches outstanding at once from several providers on the same store.
  Store s2 = s.open_same_store();
  Store s3 = s.open_same_store();
  Store* providers[] = {&s, &s2, &s3};
  REQUIRE(EO(s, start_item("contended")));

  constexpr int kTasks = 10;
  std::vector<std::optional<Result<std::optional<LockedOrchestration>>>> results(kTasks);
  int done = 0;
  for (int i = 0; i < kTasks; ++i) {
    Store* p = providers[i % 3];
    run_after(f, Millis(i * 5), [&, p, i] {
      (*p)->fetch_orchestration_item(30s, 0ms, std::nullopt, [&, i](Result<std::optional<LockedOrchestration>> r) {
        results[i] = std::move(r);
        ++done;
      });
    });
  }
  REQUIRE(f.run_until([&] { return done == kTasks; }, 60s));

  int some = 0;
  for (int i = 0; i < kTasks; ++i) {
    const auto& r = *results[i];
    REQUIRE_MESSAGE(r, "task " << i << ": " << (r ? "" : r.error().to_string()));
    if (r->has_value()) {
      ++some;
      CHECK((*r)->item.instance == "contended");
    }
  }
  CHECK(some == 1);
  require_none(FO(s));
}

TEST_CASE("instance_locking::test_multi_threaded_no_duplicate_processing") {
  LoopFixture f;
  Store s = create_provider(f);
  // 40 "threads" spread over four providers on the same store, all fetching at once.
  Store s2 = s.open_same_store();
  Store s3 = s.open_same_store();
  Store s4 = s.open_same_store();
  Store* providers[] = {&s, &s2, &s3, &s4};
  constexpr int kInstances = 20;
  constexpr int kTasks = 40;
  for (int i = 0; i < kInstances; ++i) REQUIRE(EO(s, start_item("inst-" + std::to_string(i))));

  struct Task {
    int attempts = 0;
    bool finished = false;
    std::optional<std::string> instance;
    std::optional<ProviderError> fatal;
  };
  std::vector<Task> tasks(kTasks);
  int finished = 0;
  std::vector<std::string> fetched;  // every successful fetch, duplicates included

  // One attempt of task i; retries only on retryable errors, after 10 ms then 20 ms.
  std::function<void(int)> attempt = [&](int i) {
    Store* p = providers[i % 4];
    ++tasks[i].attempts;
    (*p)->fetch_orchestration_item(30s, 0ms, std::nullopt, [&, i](Result<std::optional<LockedOrchestration>> r) {
      Task& t = tasks[i];
      if (r) {
        if (r->has_value()) {
          t.instance = (*r)->item.instance;
          fetched.push_back((*r)->item.instance);
        }
      } else if (r.error().retryable && t.attempts < 3) {
        run_after(f, Millis(t.attempts == 1 ? 10 : 20), [&, i] { attempt(i); });
        return;
      } else {
        t.fatal = r.error();
      }
      t.finished = true;
      ++finished;
    });
  };
  for (int i = 0; i < kTasks; ++i) run_after(f, Millis((i * 3) % 50), [&, i] { attempt(i); });
  REQUIRE(f.run_until([&] { return finished == kTasks; }, 60s));

  for (int i = 0; i < kTasks; ++i) {
    const Task& t = tasks[i];
    if (t.fatal) CHECK_MESSAGE(t.fatal->retryable, "task " << i << " ended with a non-retryable error: " << t.fatal->to_string());
  }
  std::set<std::string> distinct(fetched.begin(), fetched.end());
  CHECK_MESSAGE(distinct.size() == fetched.size(), "an instance was fetched twice");
  // None only when no eligible work exists: every instance is fetched exactly once.
  CHECK(fetched.size() == static_cast<size_t>(kInstances));
  CHECK(distinct.size() == static_cast<size_t>(kInstances));
}

TEST_CASE("instance_locking::test_multi_threaded_lock_expiration_recovery" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  // Three "threads" = three providers on the same store; warmed up so that connection set-up
  // does not skew the three tasks, which start together.
  Store s2 = s.open_same_store();
  Store s3 = s.open_same_store();
  warm_up(s);
  warm_up(s2);
  warm_up(s3);
  REQUIRE(EO(s, start_item("recover")));

  std::optional<Result<std::optional<LockedOrchestration>>> r1, r2, r3;
  bool t1_done = false;
  // T1: fetch, then hold without ack for LT + 200 ms.
  s->fetch_orchestration_item(kLockTimeout, 0ms, std::nullopt, [&](Result<std::optional<LockedOrchestration>> r) {
    r1 = std::move(r);
    run_after(f, kLockTimeout + 200ms, [&] { t1_done = true; });
  });
  // T2: wait 200 ms, then fetch: the lock is still held.
  run_after(f, 200ms, [&] {
    s2->fetch_orchestration_item(kLockTimeout, 0ms, std::nullopt,
                                 [&](Result<std::optional<LockedOrchestration>> r) { r2 = std::move(r); });
  });
  // T3: wait LT + 100 ms, then fetch: the lock has expired.
  run_after(f, kLockTimeout + 100ms, [&] {
    s3->fetch_orchestration_item(kLockTimeout, 0ms, std::nullopt,
                                 [&](Result<std::optional<LockedOrchestration>> r) { r3 = std::move(r); });
  });
  REQUIRE(f.run_until([&] { return t1_done && r2.has_value() && r3.has_value(); }, 30s));

  auto got1 = require_some(*r1);
  CHECK(got1.item.instance == "recover");
  require_none(*r2);
  auto got3 = require_some(*r3);
  CHECK(got3.item.instance == "recover");
  CHECK(got3.lock_token != got1.lock_token);
}
