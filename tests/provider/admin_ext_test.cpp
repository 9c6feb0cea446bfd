// conformance.md §6.10 — admin_ext: project extension tests of the management capability
// (contract §8) and two batch/session corner cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

void create_completed_instance(Store& s, const std::string& inst, std::optional<std::string> parent = std::nullopt) {
  REQUIRE(EO(s, WorkItem::StartOrchestration{inst, "TestOrch", "{}", std::string("1.0.0"), parent,
                                             parent ? std::optional<uint64_t>(1) : std::nullopt, 1}));
  auto fo = FO(s, 30s);
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.metadata = meta("Completed", "done");
  a.metadata.parent_instance_id = std::move(parent);
  auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

QueueDepths depths(Store& s) {
  auto r = mgmt::get_queue_depths(s);
  REQUIRE_MESSAGE(r, err_text(r));
  return *r;
}

Result<uint64_t> CS(Store& s, Millis idle) {
  return await<uint64_t>(s.loop(), [&](auto cb) { s->cleanup_orphaned_sessions(idle, std::move(cb)); });
}

// Claims sessions "sess-a" and "sess-b" with 50 ms session locks and acks both items, sleeps
// 100 ms, then runs CS(idle).
Result<uint64_t> two_idle_sessions_then_cleanup(Store& s, Millis idle) {
  REQUIRE(EW(s, activity_item("sess-inst", 1, 1, std::string("sess-a"))));
  REQUIRE(EW(s, activity_item("sess-inst", 2, 1, std::string("sess-b"))));
  const SessionFetchConfig session{"owner-1", 50ms};
  for (int i = 0; i < 2; ++i) {
    auto fw = FW(s, 5s, 0ms, session);
    REQUIRE_MESSAGE(fw, err_text(fw));
    REQUIRE(fw->has_value());
    auto ack = AW(s, (*fw)->lock_token);
    REQUIRE_MESSAGE(ack, err_text(ack));
  }
  std::this_thread::sleep_for(100ms);
  return CS(s, idle);
}

}  // namespace

TEST_CASE("admin_ext::test_delete_instances_atomic_counts_existing_instances_only") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "A");
  auto r = mgmt::delete_instances_atomic(s, {"A", "nonexistent"}, false);
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(r->instances_deleted == 1);
}

TEST_CASE("admin_ext::test_get_instance_tree_is_cycle_safe") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "R");
  create_completed_instance(s, "C", std::string("R"));
  REQUIRE(s.sql("UPDATE " + s.table("instances") + " SET parent_instance_id = $1 WHERE instance_id = $2",
                pg::Params().add("C").add("R")));
  auto tree = mgmt::get_instance_tree(s, "R");
  REQUIRE_MESSAGE(tree, err_text(tree));
  REQUIRE_FALSE(tree->all_ids.empty());
  CHECK(tree->all_ids.front() == "R");
  CHECK(std::count(tree->all_ids.begin(), tree->all_ids.end(), "R") == 1);
  CHECK(std::count(tree->all_ids.begin(), tree->all_ids.end(), "C") == 1);
}

TEST_CASE("admin_ext::test_queue_depths_semantics") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  QueueDepths d1 = depths(s);
  CHECK(d1.orchestrator_queue == 1);
  CHECK(d1.timer_queue == 0);

  REQUIRE(EO(s, start_item("B"), Millis(60000)));
  QueueDepths d2 = depths(s);
  CHECK(d2.orchestrator_queue == 1);
  CHECK(d2.timer_queue == 0);

  auto fo = FO(s, 30s);
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == "A");
  QueueDepths d3 = depths(s);
  CHECK(d3.orchestrator_queue == 0);
  CHECK(d3.timer_queue == 0);

  REQUIRE(EW(s, activity_item("A", 1)));
  QueueDepths d4 = depths(s);
  CHECK(d4.worker_queue == 1);
  CHECK(d4.timer_queue == 0);

  auto fw = FW(s, 30s);
  REQUIRE_MESSAGE(fw, err_text(fw));
  REQUIRE(fw->has_value());
  QueueDepths d5 = depths(s);
  CHECK(d5.worker_queue == 0);
  CHECK(d5.timer_queue == 0);
}

TEST_CASE("admin_ext::test_list_instances_newest_first") {
  LoopFixture f;
  ManualClock clock;
  const int64_t T = clock.now();
  Store s = create_provider_with_clock(f, clock);
  create_instance(s, "A");
  clock.set(T + 10);
  create_instance(s, "B");
  clock.set(T + 20);
  create_instance(s, "C");
  auto list = mgmt::list_instances(s);
  REQUIRE_MESSAGE(list, err_text(list));
  CHECK(*list == std::vector<std::string>{"C", "B", "A"});
}

TEST_CASE("admin_ext::test_abandon_ignore_attempt_touches_only_the_batch") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "A");

  REQUIRE(EO(s, external_item("A", "m1")));
  auto fo1 = FO(s, 30s);
  REQUIRE_MESSAGE(fo1, err_text(fo1));
  REQUIRE(fo1->has_value());
  REQUIRE((*fo1)->item.messages.size() == 1);
  REQUIRE(AbO(s, (*fo1)->lock_token, Millis(60000), false));

  REQUIRE(EO(s, external_item("A", "m2")));
  auto fo2 = FO(s, 30s);
  REQUIRE_MESSAGE(fo2, err_text(fo2));
  REQUIRE(fo2->has_value());
  REQUIRE((*fo2)->item.messages.size() == 1);
  const auto* m2 = (*fo2)->item.messages[0].get_if<WorkItem::ExternalRaised>();
  REQUIRE(m2 != nullptr);
  CHECK(m2->name == "m2");
  REQUIRE(AbO(s, (*fo2)->lock_token, std::nullopt, true));

  auto rows = s.orchestrator_rows("A");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].attempt_count == 1);  // m1: untouched by the second abandon
  CHECK(rows[1].attempt_count == 0);  // m2: fetched once, then ignore_attempt
  CHECK_FALSE(rows[0].locked);
  CHECK_FALSE(rows[1].locked);
}

TEST_CASE("admin_ext::test_cleanup_idle_timeout_does_not_change_result") {
  LoopFixture f;
  {
    Store s = create_provider(f);
    auto r = two_idle_sessions_then_cleanup(s, 0ms);
    REQUIRE_MESSAGE(r, err_text(r));
    CHECK(*r == 2);
  }
  {
    Store s = create_provider(f);
    auto r = two_idle_sessions_then_cleanup(s, Millis(300000));
    REQUIRE_MESSAGE(r, err_text(r));
    CHECK(*r == 2);
  }
}
