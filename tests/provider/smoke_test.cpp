// End-to-end smoke test of the provider: the fan-out cycle a runtime drives.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

TEST_CASE("smoke: start, fan out five activities, complete them, finish the orchestration") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "smoke-1";
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.orchestration_name == "TestOrch");
  CHECK((*fo)->item.version == "1.0.0");
  CHECK((*fo)->item.execution_id == 1);
  CHECK((*fo)->attempt_count == 1);
  REQUIRE((*fo)->item.messages.size() == 1);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  for (uint64_t i = 2; i <= 6; ++i) {
    a.delta.push_back(make_event(inst, 1, i, EventKind::ActivityScheduled{"A", "in", std::nullopt, std::nullopt}));
    a.worker_items.push_back(activity_item(inst, i));
  }
  a.metadata = meta();
  REQUIRE(AO(s, (*fo)->lock_token, 1, std::move(a)));
  for (int i = 0; i < 5; ++i) {
    auto fw = FW(s);
    REQUIRE(fw);
    REQUIRE(fw->has_value());
    const auto& ae = *(*fw)->item.get_if<WorkItem::ActivityExecute>();
    auto r = AW(s, (*fw)->lock_token, WorkItem::ActivityCompleted{inst, 1, ae.id, "r"});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  }
  auto none = FW(s);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto fo2 = FO(s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  CHECK((*fo2)->item.messages.size() == 5);
  CHECK((*fo2)->item.history.size() == 6);
  AckArgs done;
  done.delta.push_back(make_event(inst, 1, 12, EventKind::OrchestrationCompleted{"ok"}));
  done.metadata = meta("Completed", "ok");
  REQUIRE(AO(s, (*fo2)->lock_token, 1, std::move(done)));
  auto hist = READ(s, inst);
  REQUIRE(hist);
  CHECK(hist->size() == 7);
  // The stored text is exactly the codec's output.
  auto stored = s.sql("SELECT event_data FROM " + s.table("history") + " WHERE instance_id = $1 AND event_id = 1",
                      pg::Params().add(inst));
  REQUIRE(stored);
  CHECK(stored->get(0, 0) == encode(started_event(inst)));
}

TEST_CASE("smoke: long poll wakes on an enqueue from a second provider") {
  LoopFixture f;
  Store s = create_provider(f);
  Store other = s.open_same_store();
  std::optional<Result<std::optional<LockedWorkItem>>> got;
  const auto t0 = std::chrono::steady_clock::now();
  s->fetch_work_item(30s, 5s, std::nullopt, TagFilter::DefaultOnly{}, [&](auto r) { got = std::move(r); });
  // Let the fetch settle into its wait, then enqueue through the other provider.
  REQUIRE_FALSE(f.run_until([&] { return got.has_value(); }, 300ms));
  REQUIRE(EW(other, activity_item("lp-1", 2)));
  REQUIRE(f.run_until([&] { return got.has_value(); }, 5s));
  REQUIRE(*got);
  REQUIRE(got->has_value());
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed < 2s);
}
