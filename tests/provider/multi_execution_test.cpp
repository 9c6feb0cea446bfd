// conformance.md §5.14 — multi_execution: history is kept per execution; `read` returns the latest
// execution; the fetch reports the current execution, not the message's execution_id.
#include <doctest/doctest.h>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const Result<void>& r) { return r ? std::string() : r.error().to_string(); }

// conformance.md §3.2: a start item carrying execution_id n.
WorkItem start_item_with_execution(const std::string& instance, uint64_t n) { return start_item(instance, n); }

Event activity_scheduled(const std::string& inst, uint64_t exec, uint64_t id, std::string name) {
  return make_event(inst, exec, id, EventKind::ActivityScheduled{std::move(name), "input", std::nullopt, std::nullopt});
}

// Enqueues `item`, fetches the instance, and acks `exec` with `delta` (default metadata unless given).
void run_turn(Store& s, const std::string& inst, WorkItem item, uint64_t exec, std::vector<Event> delta,
              ExecutionMetadata metadata = {}) {
  REQUIRE(EO(s, std::move(item)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  AckArgs a;
  a.delta = std::move(delta);
  a.metadata = std::move(metadata);
  auto ack = AO(s, (*fo)->lock_token, exec, std::move(a));
  REQUIRE_MESSAGE(ack, err_text(ack));
}

}  // namespace

TEST_CASE("multi_execution::test_execution_isolation") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  run_turn(s, inst, start_item_with_execution(inst, 1), 1,
           {started_event(inst, 1), activity_scheduled(inst, 1, 2, "Activity"),
            make_event(inst, 1, 3, EventKind::OrchestrationCompleted{"done"})});
  run_turn(s, inst, start_item_with_execution(inst, 2), 2,
           {started_event(inst, 2), make_event(inst, 2, 2, EventKind::OrchestrationCompleted{"done"})});

  auto e1 = READX(s, inst, 1);
  REQUIRE(e1);
  REQUIRE(e1->size() == 3);
  CHECK((*e1)[0].kind.holds<EventKind::OrchestrationStarted>());
  CHECK((*e1)[1].kind.holds<EventKind::ActivityScheduled>());
  CHECK((*e1)[2].kind.holds<EventKind::OrchestrationCompleted>());

  auto e2 = READX(s, inst, 2);
  REQUIRE(e2);
  REQUIRE(e2->size() == 2);
  CHECK((*e2)[0].kind.holds<EventKind::OrchestrationStarted>());
  CHECK((*e2)[1].kind.holds<EventKind::OrchestrationCompleted>());

  auto latest = READ(s, inst);
  REQUIRE(latest);
  REQUIRE(latest->size() == 2);
  CHECK((*latest)[0].kind.holds<EventKind::OrchestrationStarted>());
  CHECK((*latest)[0].execution_id == 2);
  CHECK((*latest)[1].kind.holds<EventKind::OrchestrationCompleted>());
  CHECK((*latest)[1].execution_id == 2);
}

TEST_CASE("multi_execution::test_latest_execution_detection") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  run_turn(s, inst, start_item_with_execution(inst, 1), 1, {activity_scheduled(inst, 1, 1, "A")});
  run_turn(s, inst, start_item_with_execution(inst, 2), 2, {activity_scheduled(inst, 2, 1, "B")});

  auto latest = READ(s, inst);
  REQUIRE(latest);
  REQUIRE(latest->size() == 1);
  REQUIRE((*latest)[0].kind.holds<EventKind::ActivityScheduled>());
  CHECK((*latest)[0].kind.get_if<EventKind::ActivityScheduled>()->name == "B");

  auto first = READX(s, inst, 1);
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  REQUIRE((*first)[0].kind.holds<EventKind::ActivityScheduled>());
  CHECK((*first)[0].kind.get_if<EventKind::ActivityScheduled>()->name == "A");
}

TEST_CASE("multi_execution::test_execution_id_sequencing") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  REQUIRE(EO(s, start_item_with_execution(inst, 1)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.execution_id == 1);
  {
    AckArgs a;
    a.delta.push_back(started_event(inst, 1));
    a.metadata = meta();
    auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(ack, err_text(ack));
  }

  REQUIRE(EO(s, start_item_with_execution(inst, 2)));
  auto fo2 = FO(s, 30s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  {
    AckArgs a;
    a.delta.push_back(started_event(inst, 2));
    a.metadata = meta();
    auto ack = AO(s, (*fo2)->lock_token, 2, std::move(a));
    REQUIRE_MESSAGE(ack, err_text(ack));
  }

  REQUIRE(EO(s, start_item_with_execution(inst, 3)));
  auto fo3 = FO(s, 30s);
  REQUIRE(fo3);
  REQUIRE(fo3->has_value());
  CHECK((*fo3)->item.execution_id == 2);
}

TEST_CASE("multi_execution::test_continue_as_new_creates_new_execution") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "X";

  run_turn(s, inst, start_item(inst), 1, {started_event(inst, 1)});
  CHECK(s.count_rows("instances", inst) == 0);  // default metadata: no instance row

  Event started2 = make_event(inst, 2, 1,
                              EventKind::OrchestrationStarted{"TestOrch", "1.0.0", "new-input", std::nullopt,
                                                              std::nullopt, std::nullopt, std::nullopt});
  run_turn(s, inst, WorkItem::ContinueAsNew{inst, "TestOrch", "new-input", std::string("1.0.0"), {}, std::nullopt}, 2,
           {started2});

  auto empty = FO(s, 30s);
  REQUIRE(empty);
  CHECK_FALSE(empty->has_value());

  // list_executions(X) == [1, 2] (management capability). Checked without aborting the test so
  // the remaining assertions still run when the capability is missing.
  ProviderAdmin* admin = s->as_management_capability();
  CHECK_MESSAGE(admin != nullptr, "the provider has no management capability (list_executions)");
  if (admin != nullptr) {
    auto execs = await<std::vector<uint64_t>>(f, [&](auto cb) { admin->list_executions(inst, std::move(cb)); });
    CHECK_MESSAGE(execs, (execs ? "" : execs.error().to_string()));
    if (execs) CHECK(*execs == std::vector<uint64_t>{1, 2});
  }

  auto latest = READ(s, inst);
  REQUIRE(latest);
  REQUIRE(latest->size() == 1);
  CHECK((*latest)[0] == started2);
  const auto* st = (*latest)[0].kind.get_if<EventKind::OrchestrationStarted>();
  REQUIRE(st != nullptr);
  CHECK(st->input == "new-input");
  CHECK((*latest)[0].execution_id == 2);

  auto first = READX(s, inst, 1);
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  CHECK((*first)[0] == started_event(inst, 1));

  REQUIRE(EO(s, external_item(inst, "probe")));
  auto probe = FO(s, 30s);
  REQUIRE_MESSAGE(probe, (probe ? "" : probe.error().to_string()));
  REQUIRE(probe->has_value());
  CHECK((*probe)->item.instance == inst);
  CHECK((*probe)->item.execution_id == 2);
  CHECK((*probe)->item.history == std::vector<Event>{started2});
  REQUIRE((*probe)->item.messages.size() == 1);
  REQUIRE((*probe)->item.messages[0].holds<WorkItem::ExternalRaised>());
  CHECK((*probe)->item.messages[0].get_if<WorkItem::ExternalRaised>()->name == "probe");

  auto ack = AO(s, (*probe)->lock_token, 2);
  CHECK_MESSAGE(ack, err_text(ack));
}

TEST_CASE("multi_execution::test_execution_history_persistence") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  for (uint64_t n = 1; n <= 3; ++n) {
    CAPTURE(n);
    run_turn(s, inst, start_item_with_execution(inst, n), n, {activity_scheduled(inst, n, 1, "Activity-" + std::to_string(n))});
  }
  for (uint64_t n = 1; n <= 3; ++n) {
    CAPTURE(n);
    auto h = READX(s, inst, n);
    REQUIRE(h);
    REQUIRE(h->size() == 1);
    REQUIRE((*h)[0].kind.holds<EventKind::ActivityScheduled>());
    CHECK((*h)[0].kind.get_if<EventKind::ActivityScheduled>()->name == "Activity-" + std::to_string(n));
  }
  auto latest = READ(s, inst);
  REQUIRE(latest);
  REQUIRE(latest->size() == 1);
  REQUIRE((*latest)[0].kind.holds<EventKind::ActivityScheduled>());
  CHECK((*latest)[0].kind.get_if<EventKind::ActivityScheduled>()->name == "Activity-3");
}
