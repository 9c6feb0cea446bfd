// conformance.md §5.13 — management: listings, instance/execution info, metrics, queue depths
// (ProviderAdmin, contract §8) and get_instance_stats (contract §5.19, 0.1.29 tests).
#include <doctest/doctest.h>

#include <algorithm>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Fetches the next turn, which must belong to `inst`.
LockedOrchestration fetch_turn(Store& s, const std::string& inst) {
  auto fo = FO(s, 30s);
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  return std::move(**fo);
}

void ack(Store& s, const std::string& token, uint64_t exec, AckArgs a) {
  auto r = AO(s, token, exec, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

Result<std::optional<SystemStats>> stats(Store& s, const std::string& inst) {
  return await<std::optional<SystemStats>>(s.loop(), [&](auto cb) { s->get_instance_stats(inst, std::move(cb)); });
}

SystemStats require_stats(Store& s, const std::string& inst) {
  auto r = stats(s, inst);
  REQUIRE_MESSAGE(r, err_text(r));
  REQUIRE(r->has_value());
  return **r;
}

Event kv_set(const std::string& inst, uint64_t id, std::string key, std::string value) {
  return make_event(inst, 1, id, EventKind::KeyValueSet{std::move(key), std::move(value), 1700000000000});
}

// poke, FO, AO(exec 1, delta, metadata).
void poke_turn(Store& s, const std::string& inst, std::vector<Event> delta, ExecutionMetadata m) {
  REQUIRE(EO(s, external_item(inst)));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta = std::move(delta);
  a.metadata = std::move(m);
  ack(s, t.lock_token, 1, std::move(a));
}

}  // namespace

TEST_CASE("management::test_list_instances") {
  LoopFixture f;
  Store s = create_provider(f);
  for (int i = 0; i < 3; ++i) create_instance(s, "mgmt-inst-" + std::to_string(i));
  auto list = mgmt::list_instances(s);
  REQUIRE_MESSAGE(list, err_text(list));
  CHECK(list->size() >= 3);
  for (int i = 0; i < 3; ++i) CHECK(contains(*list, "mgmt-inst-" + std::to_string(i)));
}

TEST_CASE("management::test_list_instances_by_status") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "mgmt-status";
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.metadata = meta("Completed", "done");
  ack(s, t.lock_token, 1, std::move(a));
  auto list = mgmt::list_instances_by_status(s, "Completed");
  REQUIRE_MESSAGE(list, err_text(list));
  CHECK(contains(*list, inst));
}

TEST_CASE("management::test_list_executions") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "mgmt-execs";
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.metadata = ExecutionMetadata{};  // default metadata: no name or version
  ack(s, t.lock_token, 1, std::move(a));
  auto execs = mgmt::list_executions(s, inst);
  REQUIRE_MESSAGE(execs, err_text(execs));
  CHECK(std::find(execs->begin(), execs->end(), 1u) != execs->end());
}

TEST_CASE("management::test_get_instance_info") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "mgmt-info";
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event(inst, 1, "InfoOrch", "2.0.0"));
  a.metadata = meta(std::nullopt, std::nullopt, std::string("InfoOrch"), std::string("2.0.0"));
  ack(s, t.lock_token, 1, std::move(a));
  auto info = mgmt::get_instance_info(s, inst);
  REQUIRE_MESSAGE(info, err_text(info));
  CHECK(info->instance_id == "mgmt-info");
  CHECK(info->orchestration_name == "InfoOrch");
  CHECK(info->orchestration_version == "2.0.0");
  CHECK(info->current_execution_id == 1);
}

TEST_CASE("management::test_get_execution_info") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "mgmt-exec-info";
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event("mgmt-bulk-del"));  // the event names another instance
  a.metadata = meta("Completed", "result", std::nullopt, std::nullopt);
  ack(s, t.lock_token, 1, std::move(a));
  auto info = mgmt::get_execution_info(s, inst, 1);
  REQUIRE_MESSAGE(info, err_text(info));
  CHECK(info->execution_id == 1);
  CHECK(info->status == "Completed");
  CHECK(info->output == std::optional<std::string>("result"));
}

TEST_CASE("management::test_get_system_metrics") {
  LoopFixture f;
  Store s = create_provider(f);
  auto before = mgmt::get_system_metrics(s);
  REQUIRE_MESSAGE(before, err_text(before));
  const std::string inst = "mgmt-metrics";
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event("mgmt-bulk-del"));  // the event names another instance
  a.metadata = meta();
  ack(s, t.lock_token, 1, std::move(a));
  auto after = mgmt::get_system_metrics(s);
  REQUIRE_MESSAGE(after, err_text(after));
  CHECK(after->total_instances > before->total_instances);
  CHECK(after->total_events > 0);
}

TEST_CASE("management::test_get_queue_depths") {
  LoopFixture f;
  Store s = create_provider(f);
  auto before = mgmt::get_queue_depths(s);
  REQUIRE_MESSAGE(before, err_text(before));
  REQUIRE(EO(s, start_item("mgmt-queue")));
  auto after = mgmt::get_queue_depths(s);
  REQUIRE_MESSAGE(after, err_text(after));
  CHECK(after->orchestrator_queue > before->orchestrator_queue);
}

TEST_CASE("management::test_get_instance_stats_nonexistent") {
  LoopFixture f;
  Store s = create_provider(f);
  auto r = stats(s, "no-such-instance");
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK_FALSE(r->has_value());
}

TEST_CASE("management::test_get_instance_stats_history") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "stats-history";
  create_instance(s, inst);
  SystemStats st = require_stats(s, inst);
  CHECK(st.history_event_count >= 1);
  CHECK(st.history_size_bytes > 0);
  CHECK(st.kv_user_key_count == 0);
  CHECK(st.kv_total_value_bytes == 0);
  CHECK(st.queue_pending_count == 0);
}

TEST_CASE("management::test_get_instance_stats_kv") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "stats-kv";
  create_instance(s, inst);
  poke_turn(s, inst,
            {kv_set(inst, 2, "k1", "aaa"), kv_set(inst, 3, "k2", "bbbbb"),
             make_event(inst, 1, 4, EventKind::OrchestrationCompleted{"done"})},
            meta("Completed", "done"));
  SystemStats st = require_stats(s, inst);
  CHECK(st.kv_user_key_count == 2);
  CHECK(st.kv_total_value_bytes == 8);
}

TEST_CASE("management::test_get_instance_stats_carry_forward") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "stats-carry";
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch_turn(s, inst);
  Event started = started_event(inst);
  started.kind.get_if<EventKind::OrchestrationStarted>()->carry_forward_events =
      std::vector<CarryForwardEvent>{{"e1", "d1"}, {"e2", "d2"}, {"e3", "d3"}};
  AckArgs a;
  a.delta.push_back(std::move(started));
  a.metadata = meta();
  ack(s, t.lock_token, 1, std::move(a));
  SystemStats st = require_stats(s, inst);
  CHECK(st.queue_pending_count == 3);
  CHECK(st.history_event_count >= 1);
  CHECK(st.history_size_bytes > 0);
  CHECK(st.kv_user_key_count == 0);
}

TEST_CASE("management::test_get_instance_stats_kv_delta_only") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "stats-kv-delta";
  create_instance(s, inst);
  poke_turn(s, inst,
            {kv_set(inst, 2, "dk1", "xxx"), kv_set(inst, 3, "dk2", "yyyyyy"),
             make_event(inst, 1, 4, EventKind::ActivityScheduled{"A", "in", std::nullopt, std::nullopt})},
            meta());  // no status: still running
  SystemStats st = require_stats(s, inst);
  CHECK(st.kv_user_key_count == 2);
  CHECK(st.kv_total_value_bytes == 9);
  CHECK(st.queue_pending_count == 0);
}

TEST_CASE("management::test_get_instance_stats_kv_merged") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "stats-kv-merged";
  create_instance(s, inst);
  poke_turn(s, inst, {kv_set(inst, 2, "mk1", "aaa"), kv_set(inst, 3, "mk2", "bb")}, meta());
  SystemStats st1 = require_stats(s, inst);
  CHECK(st1.kv_user_key_count == 2);
  CHECK(st1.kv_total_value_bytes == 5);
  poke_turn(s, inst,
            {kv_set(inst, 4, "mk1", "zzzzz"), make_event(inst, 1, 5, EventKind::OrchestrationCompleted{"done"})},
            meta("Completed", "done"));
  SystemStats st2 = require_stats(s, inst);
  CHECK(st2.kv_user_key_count == 2);
  CHECK(st2.kv_total_value_bytes == 7);
  CHECK(st2.queue_pending_count == 0);
}
