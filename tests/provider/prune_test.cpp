// conformance.md §5.16 — prune: prune_executions / prune_executions_bulk never remove the current
// execution, honour keep_last, and include running instances in bulk (contract §8).
#include <doctest/doctest.h>

#include <algorithm>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

// §3.2 prune fixtures: for k in 1..n, enqueue start (k = 1) or ContinueAsNew (k > 1), FO and
// AO(k, [Started exec k], status): ContinuedAsNew for k < n, `last_status` for k = n.
void create_executions(Store& s, const std::string& inst, uint64_t n, const std::string& name,
                       const std::string& last_status) {
  for (uint64_t k = 1; k <= n; ++k) {
    if (k == 1)
      REQUIRE(EO(s, WorkItem::StartOrchestration{inst, name, "{}", std::string("1.0.0"), std::nullopt,
                                                 std::nullopt, 1}));
    else
      REQUIRE(EO(s, WorkItem::ContinueAsNew{inst, name, "{}", std::string("1.0.0"), {}, std::nullopt}));
    auto fo = FO(s, 30s);
    REQUIRE_MESSAGE(fo, err_text(fo));
    REQUIRE(fo->has_value());
    REQUIRE((*fo)->item.instance == inst);
    AckArgs a;
    a.delta.push_back(started_event(inst, k, name));
    a.metadata = meta(k < n ? std::string("ContinuedAsNew") : last_status, std::string("out"), name,
                      std::string("1.0.0"));
    auto r = AO(s, (*fo)->lock_token, k, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
}

void create_multi_execution_instance(Store& s, const std::string& inst, uint64_t n) {
  create_executions(s, inst, n, "TestOrch", "Completed");
}
void create_running_multi_execution_instance(Store& s, const std::string& inst, uint64_t n) {
  create_executions(s, inst, n, "LongRunning", "Running");
}

std::vector<uint64_t> executions(Store& s, const std::string& inst) {
  auto r = mgmt::list_executions(s, inst);
  REQUIRE_MESSAGE(r, err_text(r));
  return *r;
}

InstanceInfo info(Store& s, const std::string& inst) {
  auto r = mgmt::get_instance_info(s, inst);
  REQUIRE_MESSAGE(r, err_text(r));
  return *r;
}

PruneOptions keep(std::optional<uint32_t> n) {
  PruneOptions o;
  o.keep_last = n;
  return o;
}

}  // namespace

TEST_CASE("prune::test_prune_options_combinations") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string a = "prune-combo-a", b = "prune-combo-b";
  create_multi_execution_instance(s, a, 4);
  CHECK(executions(s, a).size() == 4);
  auto r = mgmt::prune_executions(s, a, keep(2));
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(r->instances_processed == 1);
  auto left = executions(s, a);
  CHECK(left.size() == 2);
  CHECK((std::find(left.begin(), left.end(), 3u) != left.end() || std::find(left.begin(), left.end(), 4u) != left.end()));

  create_multi_execution_instance(s, b, 3);
  auto rb = mgmt::prune_executions(s, b, PruneOptions{});
  REQUIRE_MESSAGE(rb, err_text(rb));
  auto left_b = executions(s, b);
  REQUIRE(left_b.size() == 1);
  CHECK(left_b[0] == info(s, b).current_execution_id);
}

TEST_CASE("prune::test_prune_safety") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "prune-safety";
  create_multi_execution_instance(s, inst, 3);
  auto r = mgmt::prune_executions(s, inst, keep(0));
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(info(s, inst).current_execution_id == 3);

  auto missing = mgmt::prune_executions(s, "prune-no-such-instance", PruneOptions{});
  CHECK_FALSE(missing);

  int i = 0;
  for (std::optional<uint32_t> k : {std::optional<uint32_t>{}, std::optional<uint32_t>{0}, std::optional<uint32_t>{1}}) {
    CAPTURE(i);
    const std::string x = "prune-safety-" + std::to_string(i++);
    create_multi_execution_instance(s, x, 4);
    CHECK(info(s, x).status == "Completed");
    auto p = mgmt::prune_executions(s, x, keep(k));
    REQUIRE_MESSAGE(p, err_text(p));
    auto left = executions(s, x);
    REQUIRE(left.size() == 1);
    CHECK(left[0] == info(s, x).current_execution_id);
    CHECK(p->executions_deleted >= 3);
  }
}

TEST_CASE("prune::test_prune_bulk") {
  LoopFixture f;
  Store s = create_provider(f);
  auto id = [](int i) { return "prune-bulk-" + std::to_string(i); };
  for (int i = 0; i < 3; ++i) create_multi_execution_instance(s, id(i), 4);
  InstanceFilter filter;
  filter.instance_ids = std::vector<std::string>{id(0), id(1)};
  auto r = mgmt::prune_executions_bulk(s, filter, keep(1));
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(r->instances_processed == 2);
  CHECK(r->executions_deleted >= 4);
  CHECK(executions(s, id(0)).size() == 1);
  CHECK(executions(s, id(1)).size() == 1);
  CHECK(executions(s, id(2)).size() == 4);
}

TEST_CASE("prune::test_prune_bulk_includes_running_instances") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "prune-running";
  create_running_multi_execution_instance(s, inst, 3);
  CHECK(executions(s, inst).size() == 3);
  InstanceInfo before = info(s, inst);
  CHECK(before.status == "Running");
  CHECK(before.current_execution_id == 3);

  InstanceFilter filter;
  filter.instance_ids = std::vector<std::string>{inst};
  auto r = mgmt::prune_executions_bulk(s, filter, keep(1));
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(r->instances_processed == 1);
  CHECK(r->executions_deleted == 2);
  CHECK(executions(s, inst) == std::vector<uint64_t>{3});
  CHECK(info(s, inst).status == "Running");
}
