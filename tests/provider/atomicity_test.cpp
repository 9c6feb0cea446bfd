// conformance.md §5.1 — atomicity: a failed ack changes nothing and keeps the lock; one ack commits
// every effect of a turn; the lock is released only by a successful ack (or by expiry).
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

void sleep_for(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

}  // namespace

TEST_CASE("atomicity::test_atomicity_failure_rollback") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst));
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));

  auto h = READ(s, inst);
  REQUIRE(h);
  CHECK(h->size() == 1);

  REQUIRE(EO(s, start_item(inst)));
  auto fo2 = FO(s, 30s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  AckArgs dup;
  dup.delta.push_back(started_event(inst));  // reuses event_id 1
  auto bad = AO(s, (*fo2)->lock_token, 1, std::move(dup));
  CHECK_FALSE(bad);

  auto h2 = READ(s, inst);
  REQUIRE(h2);
  CHECK(h2->size() == 1);

  // The failed ack must not have released the lock.
  auto fo3 = FO(s, 30s);
  REQUIRE(fo3);
  CHECK_FALSE(fo3->has_value());
}

TEST_CASE("atomicity::test_multi_operation_atomic_ack") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());

  AckArgs a;
  a.delta.push_back(started_event(inst));
  for (uint64_t id = 2; id <= 4; ++id)
    a.delta.push_back(
        make_event(inst, 1, id, EventKind::ActivityScheduled{"Activity" + std::to_string(id), "input", std::nullopt, std::nullopt}));
  a.delta.push_back(make_event(inst, 1, 5, EventKind::TimerCreated{1234567890}));
  for (uint64_t id = 1; id <= 3; ++id) a.worker_items.push_back(activity_item(inst, id));
  a.orch_items.push_back(WorkItem::TimerFired{inst, 1, 1, 1234567890});
  a.orch_items.push_back(external_item(inst, "TestEvent", "{}"));
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));

  auto h = READ(s, inst);
  REQUIRE(h);
  CHECK(h->size() == 5);

  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto fw = FW(s, 30s);
    REQUIRE(fw);
    CHECK(fw->has_value());
  }
  auto none = FW(s, 30s);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());

  auto fo2 = FO(s, 30s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  CHECK((*fo2)->item.instance == inst);
  const auto& msgs = (*fo2)->item.messages;
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].holds<WorkItem::TimerFired>());
  REQUIRE(msgs[1].holds<WorkItem::ExternalRaised>());
  CHECK(msgs[1].get_if<WorkItem::ExternalRaised>()->name == "TestEvent");
}

TEST_CASE("atomicity::test_lock_released_only_on_successful_ack" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, kLockTimeout);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.instance == inst);

  auto second = FO(s, kLockTimeout);
  REQUIRE(second);
  CHECK_FALSE(second->has_value());

  auto bad = AO(s, "invalid-lock-token", 1);
  CHECK_FALSE(bad);

  auto still = FO(s, kLockTimeout);
  REQUIRE(still);
  CHECK_FALSE(still->has_value());

  sleep_for(f, kLockTimeout + 100ms);
  auto after = FO(s, kLockTimeout);
  REQUIRE(after);
  REQUIRE(after->has_value());
  CHECK((*after)->item.instance == inst);
}

TEST_CASE("atomicity::test_concurrent_ack_prevention") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  const std::string token = (*fo)->lock_token;

  std::optional<Result<void>> r1, r2;
  for (auto* out : {&r1, &r2}) {
    std::vector<Event> delta{started_event(inst)};
    s->ack_orchestration_item(token, 1, std::move(delta), {}, {}, ExecutionMetadata{}, {},
                              [out](Result<void> r) { *out = std::move(r); });
  }
  REQUIRE(f.run_until([&] { return r1.has_value() && r2.has_value(); }, 30s));
  const int ok = (*r1 ? 1 : 0) + (*r2 ? 1 : 0);
  CHECK(ok == 1);
  CHECK(2 - ok == 1);
}
