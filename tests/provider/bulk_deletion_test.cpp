// conformance.md §5.2 — bulk_deletion: delete_instance_bulk filters, limits, safety (running
// instances skipped) and cascading to children (contract §8).
#include <doctest/doctest.h>

#include <thread>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

// §3.2 bulk_deletion: enqueue a start (parent_instance and parent_id 1 for children), fetch, ack
// exec 1 with Started plus {Completed, "done", TestOrch, 1.0.0, parent_instance_id}.
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

void create_completed_instance_with_parent(Store& s, const std::string& inst, const std::string& parent) {
  create_completed_instance(s, inst, parent);
}

InstanceFilter ids_filter(std::vector<std::string> ids) {
  InstanceFilter f;
  f.instance_ids = std::move(ids);
  return f;
}

uint64_t bulk_delete(Store& s, InstanceFilter filter) {
  auto r = mgmt::delete_instance_bulk(s, std::move(filter));
  REQUIRE_MESSAGE(r, err_text(r));
  return r->instances_deleted;
}

}  // namespace

TEST_CASE("bulk_deletion::test_delete_instance_bulk_filter_combinations") {
  LoopFixture f;
  Store s = create_provider(f);
  auto id = [](int i) { return "bulk-del-filter-" + std::to_string(i); };
  for (int i = 0; i < 5; ++i) create_completed_instance(s, id(i));

  CHECK(bulk_delete(s, ids_filter({id(0), id(1)})) == 2);
  CHECK_FALSE(mgmt::exists(s, id(0)));
  CHECK_FALSE(mgmt::exists(s, id(1)));
  CHECK(mgmt::exists(s, id(2)));

  CHECK(bulk_delete(s, ids_filter({"bulk-del-missing-a", "bulk-del-missing-b"})) == 0);

  CHECK(bulk_delete(s, InstanceFilter{}) >= 3);
  for (int i = 2; i < 5; ++i) CHECK_FALSE(mgmt::exists(s, id(i)));
}

TEST_CASE("bulk_deletion::test_delete_instance_bulk_safety_and_limits") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "bulk-done-0");
  create_completed_instance(s, "bulk-done-1");
  create_instance(s, "bulk-running-0");
  create_instance(s, "bulk-running-1");

  CHECK(bulk_delete(s, ids_filter({"bulk-done-0", "bulk-done-1", "bulk-running-0", "bulk-running-1"})) == 2);
  CHECK(mgmt::exists(s, "bulk-running-0"));
  CHECK(mgmt::exists(s, "bulk-running-1"));

  for (int i = 0; i < 4; ++i) create_completed_instance(s, "bulk-limit-" + std::to_string(i));
  InstanceFilter limit2;
  limit2.limit = 2;
  CHECK(bulk_delete(s, limit2) == 2);
  CHECK(bulk_delete(s, limit2) == 2);
  CHECK(bulk_delete(s, limit2) == 0);
}

TEST_CASE("bulk_deletion::test_delete_instance_bulk_completed_before_filter") {
  LoopFixture f;
  Store s = create_provider(f);
  const uint64_t t0 = static_cast<uint64_t>(wall_ms());
  std::this_thread::sleep_for(10ms);
  create_completed_instance(s, "bulk-time-0");
  create_completed_instance(s, "bulk-time-1");
  std::this_thread::sleep_for(10ms);
  const uint64_t t1 = static_cast<uint64_t>(wall_ms());

  InstanceFilter before_t0 = ids_filter({"bulk-time-0", "bulk-time-1"});
  before_t0.completed_before = t0;
  CHECK(bulk_delete(s, before_t0) == 0);
  CHECK(mgmt::exists(s, "bulk-time-0"));
  CHECK(mgmt::exists(s, "bulk-time-1"));

  InstanceFilter before_t1 = ids_filter({"bulk-time-0", "bulk-time-1"});
  before_t1.completed_before = t1;
  CHECK(bulk_delete(s, before_t1) == 2);
  CHECK_FALSE(mgmt::exists(s, "bulk-time-0"));
  CHECK_FALSE(mgmt::exists(s, "bulk-time-1"));
}

TEST_CASE("bulk_deletion::test_delete_instance_bulk_cascades_to_children") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "parent1");
  create_completed_instance_with_parent(s, "child1", "parent1");
  create_completed_instance(s, "parent2");
  create_completed_instance_with_parent(s, "child2a", "parent2");
  create_completed_instance_with_parent(s, "child2b", "parent2");
  create_completed_instance_with_parent(s, "child2c", "parent2");
  create_completed_instance(s, "standalone");

  CHECK(bulk_delete(s, ids_filter({"parent1", "parent2", "standalone"})) == 7);
  for (const char* inst : {"parent1", "child1", "parent2", "child2a", "child2b", "child2c", "standalone"})
    CHECK_FALSE(mgmt::exists(s, inst));
}
