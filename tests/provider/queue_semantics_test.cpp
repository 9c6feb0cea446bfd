// Conformance module queue_semantics (conformance.md §5.17): FIFO order and peek-lock semantics of
// the worker queue, atomic worker ack, delayed visibility, lost lock tokens and orphan
// QueueMessage batches. The catalogue's "sleep" steps keep the loop running for the duration.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace qs_local {

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

inline const WorkItem::ActivityExecute& activity(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return *ae;
}

inline WorkItem completion_for(const LockedWorkItem& w) {
  const auto& ae = activity(w);
  return WorkItem::ActivityCompleted{ae.instance, ae.execution_id, ae.id, "done"};
}

}  // namespace qs_local

using namespace qs_local;

TEST_CASE("queue_semantics::test_worker_queue_fifo_ordering") {
  LoopFixture f;
  Store s = create_provider(f);
  for (uint64_t id = 0; id < 5; ++id) REQUIRE(EW(s, activity_item("fifo", id)));
  for (uint64_t id = 0; id < 5; ++id) {
    auto got = require_some(FW(s));
    CHECK(activity(got).id == id);
    CHECK(activity(got).name == "Activity" + std::to_string(id));
  }
  require_none(FW(s));
}

TEST_CASE("queue_semantics::test_worker_peek_lock_semantics") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("peek", 1)));
  auto held = require_some(FW(s));
  require_none(FW(s));
  require_ok(AW(s, held.lock_token, completion_for(held)));
  require_none(FW(s));
}

TEST_CASE("queue_semantics::test_worker_ack_atomicity") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";
  REQUIRE(EO(s, start_item(inst)));
  auto fo = require_some(FO(s));
  AckArgs a;
  a.delta.push_back(started_event(inst));  // default metadata
  require_ok(AO(s, fo.lock_token, 1, std::move(a)));

  REQUIRE(EW(s, activity_item(inst, 2)));
  auto held = require_some(FW(s));
  require_ok(AW(s, held.lock_token, WorkItem::ActivityCompleted{inst, 1, 2, "result"}));

  require_none(FW(s));  // the worker row is gone
  auto next = require_some(FO(s));  // and the completion is in the orchestrator queue
  CHECK(next.item.instance == inst);
  REQUIRE(next.item.messages.size() == 1);
  CHECK(next.item.messages[0].holds<WorkItem::ActivityCompleted>());
}

TEST_CASE("queue_semantics::test_timer_delayed_visibility" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "timer-inst";
  create_instance(s, inst);
  // fire_at_ms 0, but a 5 s enqueue delay: the delay governs visibility, not the fire_at field.
  REQUIRE(EO(s, WorkItem::TimerFired{inst, 1, 2, 0}, 5s));
  require_none(FO(s));
  sleep_loop(f, 5100ms);
  auto got = require_some(FO(s));
  CHECK(got.item.instance == inst);
  REQUIRE(got.item.messages.size() == 1);
  CHECK(got.item.messages[0].holds<WorkItem::TimerFired>());
}

TEST_CASE("queue_semantics::test_lost_lock_token_handling" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("lost", 1)));
  {
    auto dropped = require_some(FW(s, kLockTimeout));  // the token is dropped
    (void)dropped;
  }
  require_none(FW(s));
  sleep_loop(f, kLockTimeout + 100ms);
  auto again = require_some(FW(s));
  CHECK(activity(again).id == 1);
}

TEST_CASE("queue_semantics::test_worker_item_immediate_visibility") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, WorkItem::ActivityExecute{"visible", 1, 1, "TestActivity", "input", std::nullopt, std::nullopt}));
  auto got = require_some(FW(s, kLockTimeout));
  CHECK(activity(got).name == "TestActivity");
  require_ok(AW(s, got.lock_token, completion_for(got)));
}

TEST_CASE("queue_semantics::test_worker_delayed_visibility_skips_future_items") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("delayed", 1)));
  REQUIRE(EW(s, activity_item("delayed", 2)));
  auto first = require_some(FW(s));
  CHECK(activity(first).id == 1);
  require_ok(AbW(s, first.lock_token, 500ms, false));
  auto second = require_some(FW(s));
  CHECK(activity(second).id == 2);  // the delayed item 1 is skipped
  require_none(FW(s));
  sleep_loop(f, 600ms);
  auto again = require_some(FW(s));
  CHECK(activity(again).id == 1);
  auto ack2 = AW(s, second.lock_token, completion_for(second));
  CHECK_MESSAGE(ack2, (ack2 ? "" : ack2.error().to_string()));
  auto ack1 = AW(s, again.lock_token, completion_for(again));
  CHECK_MESSAGE(ack1, (ack1 ? "" : ack1.error().to_string()));
}

TEST_CASE("queue_semantics::test_orphan_queue_messages_dropped") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string orphan = "orphan-test-nonexistent";
  REQUIRE(EO(s, WorkItem::QueueMessage{orphan, "ConfigUpdate", "v1"}));
  REQUIRE(EO(s, WorkItem::QueueMessage{orphan, "ConfigUpdate", "v2"}));
  require_none(FO(s, 5s));
  // The second fetch proves the messages were deleted rather than left to busy-loop.
  require_none(FO(s, 5s));
  CHECK(s.orchestrator_rows(orphan).empty());

  const std::string existing = "orphan-test-existing";
  create_instance(s, existing);
  REQUIRE(EO(s, WorkItem::QueueMessage{existing, "ConfigUpdate", "v3"}));
  auto got = require_some(FO(s));
  CHECK(got.item.instance == existing);
  bool found = false;
  for (const auto& m : got.item.messages)
    if (const auto* q = m.get_if<WorkItem::QueueMessage>())
      if (q->name == "ConfigUpdate" && q->data == "v3") found = true;
  CHECK(found);
  auto ack = AO(s, got.lock_token, 1);
  CHECK_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
}
