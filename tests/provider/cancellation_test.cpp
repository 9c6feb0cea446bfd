// conformance.md §5.3 — cancellation: worker items stay fetchable and renewable whatever the state
// of the orchestration, ack without a completion, and cancelled_activities ("lock stealing").
#include <doctest/doctest.h>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

uint64_t activity_id_of(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return ae->id;
}

WorkItem named_activity(const std::string& inst, uint64_t id, std::string name) {
  return WorkItem::ActivityExecute{inst, 1, id, std::move(name), "input", std::nullopt, std::nullopt};
}

// Tests 1-4: start, FO, then AO(exec 1, [Started version "1.0", extra...], worker item activity 1,
// metadata name TestOrch plus a status).
void start_with_activity(Store& s, const std::string& inst, std::vector<Event> extra, std::string status,
                         std::optional<std::string> output = std::nullopt) {
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst, 1, "TestOrch", "1.0"));
  for (Event& e : extra) a.delta.push_back(std::move(e));
  a.worker_items.push_back(activity_item(inst, 1));
  a.metadata = meta(std::move(status), std::move(output), std::string("TestOrch"), std::nullopt);
  auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

// Enqueues ExternalRaised "Trigger" and fetches the instance's turn.
LockedOrchestration trigger_turn(Store& s, const std::string& inst) {
  REQUIRE(EO(s, external_item(inst, "Trigger")));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  return std::move(**fo);
}

// First turn of inst enqueuing activities 1..n (status Running).
void start_with_activities(Store& s, const std::string& inst, uint64_t n) {
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst));
  for (uint64_t i = 1; i <= n; ++i) a.worker_items.push_back(activity_item(inst, i));
  a.metadata = meta("Running");
  auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

}  // namespace

TEST_CASE("cancellation::test_fetch_returns_running_state_for_active_orchestration") {
  LoopFixture f;
  Store s = create_provider(f);
  start_with_activity(s, "inst-running", {}, "Running");
  auto fw = FW(s, 30s);
  REQUIRE(fw);
  CHECK(fw->has_value());
}

TEST_CASE("cancellation::test_fetch_returns_terminal_state_when_orchestration_completed") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-completed";
  std::vector<Event> extra;
  extra.push_back(make_event(inst, 1, 2, EventKind::OrchestrationCompleted{"done"}));
  start_with_activity(s, inst, std::move(extra), "Completed", "done");
  auto fw = FW(s);
  REQUIRE(fw);
  CHECK(fw->has_value());
}

TEST_CASE("cancellation::test_fetch_returns_terminal_state_when_orchestration_failed") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-failed";
  std::vector<Event> extra;
  extra.push_back(make_event(
      inst, 1, 2,
      EventKind::OrchestrationFailed{ErrorDetails::Application{AppErrorKind::OrchestrationFailed{}, "boom", false}}));
  start_with_activity(s, inst, std::move(extra), "Failed");
  auto fw = FW(s);
  REQUIRE(fw);
  CHECK(fw->has_value());
}

TEST_CASE("cancellation::test_fetch_returns_terminal_state_when_orchestration_continued_as_new") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-can";
  std::vector<Event> extra;
  extra.push_back(make_event(inst, 1, 2, EventKind::OrchestrationContinuedAsNew{"new-input"}));
  start_with_activity(s, inst, std::move(extra), "ContinuedAsNew", "new-input");
  auto fw = FW(s);
  REQUIRE(fw);
  CHECK(fw->has_value());
}

TEST_CASE("cancellation::test_fetch_returns_missing_state_when_instance_deleted") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("never-existed", 1)));
  auto fw = FW(s);
  REQUIRE(fw);
  CHECK(fw->has_value());
}

TEST_CASE("cancellation::test_renew_returns_running_when_orchestration_active") {
  LoopFixture f;
  Store s = create_provider(f);
  start_with_activity(s, "inst-renew-running", {}, "Running");
  auto fw = FW(s, 30s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  auto r = RW(s, (*fw)->lock_token, 30s);
  CHECK_MESSAGE(r, (r ? "" : r.error().to_string()));
}

TEST_CASE("cancellation::test_renew_returns_terminal_when_orchestration_completed") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-renew-completed";
  start_with_activity(s, inst, {}, "Running");
  auto fw = FW(s, 30s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  LockedOrchestration turn = trigger_turn(s, inst);
  AckArgs a;
  a.delta.push_back(make_event(inst, 1, 2, EventKind::OrchestrationCompleted{"done"}));
  a.metadata = meta("Completed", "done", std::string("TestOrch"), std::nullopt);
  auto ack = AO(s, turn.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto r = RW(s, (*fw)->lock_token, 30s);
  CHECK_MESSAGE(r, (r ? "" : r.error().to_string()));
}

TEST_CASE("cancellation::test_renew_returns_missing_when_instance_deleted") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("never-existed", 1)));
  auto fw = FW(s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  auto r = RW(s, (*fw)->lock_token, 30s);
  CHECK_MESSAGE(r, (r ? "" : r.error().to_string()));
}

TEST_CASE("cancellation::test_ack_work_item_none_deletes_without_enqueue") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("no-instance", 1)));
  auto fw = FW(s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  auto ack = AW(s, (*fw)->lock_token, std::nullopt);
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto again = FW(s, 100ms);
  REQUIRE(again);
  CHECK_FALSE(again->has_value());
  auto fo = FO(s, 100ms);
  REQUIRE(fo);
  CHECK_FALSE(fo->has_value());
}

TEST_CASE("cancellation::test_cancelled_activities_deleted_from_worker_queue") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-cancel";
  start_with_activities(s, inst, 3);
  // Fetch one and abandon it, so that it is unlocked again.
  auto fw = FW(s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  REQUIRE(AbW(s, (*fw)->lock_token, std::nullopt, false));
  LockedOrchestration turn = trigger_turn(s, inst);
  AckArgs a;
  a.cancelled = {{inst, 1, 1}, {inst, 1, 2}};
  auto ack = AO(s, turn.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto left = FW(s);
  REQUIRE(left);
  REQUIRE(left->has_value());
  CHECK(activity_id_of(**left) == 3);
  auto none = FW(s, 100ms);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("cancellation::test_ack_work_item_fails_when_entry_deleted") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-ack-deleted";
  REQUIRE(EW(s, activity_item(inst, 1)));
  auto fw = FW(s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  auto first = AW(s, (*fw)->lock_token, std::nullopt);
  REQUIRE_MESSAGE(first, (first ? "" : first.error().to_string()));
  auto second = AW(s, (*fw)->lock_token, WorkItem::ActivityCompleted{inst, 1, 1, "result"});
  REQUIRE_FALSE(second);
  CHECK_FALSE_MESSAGE(second.error().retryable, second.error().to_string());
}

TEST_CASE("cancellation::test_renew_fails_when_entry_deleted") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("inst-renew-deleted", 1)));
  auto fw = FW(s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  auto ack = AW(s, (*fw)->lock_token, std::nullopt);
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto r = RW(s, (*fw)->lock_token, 30s);
  CHECK_FALSE(r);
}

TEST_CASE("cancellation::test_cancelling_nonexistent_activities_is_idempotent") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-cancel-missing";
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.metadata = meta(std::nullopt, std::nullopt, std::string("TestOrch"), std::nullopt);
  a.cancelled = {{inst, 1, 999}, {inst, 1, 1}};
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  CHECK_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
}

TEST_CASE("cancellation::test_batch_cancellation_deletes_multiple_activities") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-batch-cancel";
  start_with_activities(s, inst, 5);
  LockedOrchestration turn = trigger_turn(s, inst);
  AckArgs a;
  for (uint64_t i = 1; i <= 5; ++i) a.cancelled.push_back({inst, 1, i});
  auto ack = AO(s, turn.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto none = FW(s, 100ms);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("cancellation::test_same_activity_in_worker_items_and_cancelled_is_noop") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-insert-then-cancel";
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.worker_items.push_back(named_activity(inst, 2, "DroppedActivity"));
  a.worker_items.push_back(named_activity(inst, 3, "NormalActivity"));
  a.metadata = meta();
  a.cancelled = {{inst, 1, 2}};
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));
  auto fw = FW(s);
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  const auto* ae = (*fw)->item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  CHECK(ae->id == 3);
  CHECK(ae->name == "NormalActivity");
  auto done = AW(s, (*fw)->lock_token, std::nullopt);
  REQUIRE_MESSAGE(done, (done ? "" : done.error().to_string()));
  auto none = FW(s, 100ms);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

// Strengthened: force deletion removes the instance's worker rows (contract §8). Needs the
// management capability (ProviderAdmin).
TEST_CASE("cancellation::test_orphan_activity_after_instance_force_deletion") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-force-deleted";
  start_with_activities(s, inst, 1);
  ProviderAdmin* admin = s->as_management_capability();
  REQUIRE_MESSAGE(admin != nullptr, "the provider has no management capability (ProviderAdmin)");
  auto del = await<DeleteInstanceResult>(f, [&](auto cb) { admin->delete_instance(inst, true, std::move(cb)); });
  REQUIRE_MESSAGE(del, (del ? "" : del.error().to_string()));
  CHECK(del->instances_deleted > 0);
  CHECK(del->queue_messages_deleted >= 1);
  auto info = await<InstanceInfo>(f, [&](auto cb) { admin->get_instance_info(inst, std::move(cb)); });
  CHECK_FALSE(info);
  auto fw = FW(s, 5s);
  REQUIRE(fw);
  CHECK_FALSE(fw->has_value());
}
