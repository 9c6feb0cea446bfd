// conformance.md §6.6 — clock_and_precision: every lock, renewal, delay and timestamp has
// millisecond precision and comes from the provider's application clock, never from the server.
#include <doctest/doctest.h>

#include <chrono>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

using Clock = std::chrono::steady_clock;

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

// Runs the loop until `t0 + offset` (steady clock); fails if that instant has already passed.
void sleep_until(LoopFixture& f, Clock::time_point t0, Millis offset) {
  const auto target = t0 + offset;
  const auto now = Clock::now();
  REQUIRE_MESSAGE(now <= target, "probe instant already passed by "
                                     << std::chrono::duration_cast<Millis>(now - target).count() << " ms");
  f.run_until([] { return false; }, std::chrono::duration_cast<Millis>(target - now) + 1ms);
}

std::optional<LockedWorkItem> fw(Store& s, Millis lock = 30s, std::optional<SessionFetchConfig> session = std::nullopt) {
  auto r = FW(s, lock, 0ms, std::move(session));
  REQUIRE_MESSAGE(r, err_text(r));
  return std::move(*r);
}

std::optional<LockedOrchestration> fo(Store& s, Millis lock = 30s) {
  auto r = FO(s, lock);
  REQUIRE_MESSAGE(r, err_text(r));
  return std::move(*r);
}

uint64_t activity_id_of(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return ae->id;
}

void ack_status(Store& s, const LockedOrchestration& t, const std::string& inst, std::optional<std::string> status,
                bool started = true) {
  AckArgs a;
  if (started) a.delta.push_back(started_event(inst));
  a.metadata = meta(status, status ? std::optional<std::string>("out") : std::nullopt);
  auto r = AO(s, t.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

}  // namespace

TEST_CASE("clock_and_precision::test_worker_renewal_millisecond_precision" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  // (a) renew a 1000 ms lock for 1500 ms: still locked at +1200, free at +1800.
  REQUIRE(EW(s, activity_item("prec-w", 1)));
  const auto t0 = Clock::now();
  auto w = fw(s, 1000ms);
  REQUIRE(w.has_value());
  auto rw = RW(s, w->lock_token, 1500ms);
  REQUIRE_MESSAGE(rw, err_text(rw));
  sleep_until(f, t0, 1200ms);
  CHECK_FALSE(fw(s).has_value());
  sleep_until(f, t0, 1800ms);
  auto again = fw(s);
  REQUIRE(again.has_value());
  CHECK(activity_id_of(*again) == 1);
  CHECK(again->attempt_count == 2);
  REQUIRE(AW(s, again->lock_token));

  // (b) renew a 1000 ms lock for 500 ms: still locked at +250, free at +800.
  REQUIRE(EW(s, activity_item("prec-w", 2)));
  const auto t1 = Clock::now();
  auto w2 = fw(s, 1000ms);
  REQUIRE(w2.has_value());
  auto rw2 = RW(s, w2->lock_token, 500ms);
  REQUIRE_MESSAGE(rw2, err_text(rw2));
  sleep_until(f, t1, 250ms);
  CHECK_FALSE(fw(s).has_value());
  sleep_until(f, t1, 800ms);
  auto again2 = fw(s);
  REQUIRE(again2.has_value());
  CHECK(activity_id_of(*again2) == 2);
}

TEST_CASE("clock_and_precision::test_orchestration_renewal_millisecond_precision" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string a = "prec-o";
  REQUIRE(EO(s, start_item(a)));
  struct Run {
    Millis extend, before, after;
  };
  for (Run run : {Run{500ms, 250ms, 800ms}, Run{1500ms, 1200ms, 1800ms}}) {
    CAPTURE(run.extend.count());
    const auto t0 = Clock::now();
    auto t = fo(s, 1000ms);
    REQUIRE(t.has_value());
    auto ro = RO(s, t->lock_token, run.extend);
    REQUIRE_MESSAGE(ro, err_text(ro));
    sleep_until(f, t0, run.before);
    CHECK_FALSE(fo(s).has_value());
    sleep_until(f, t0, run.after);
    auto again = fo(s);
    REQUIRE(again.has_value());
    CHECK(again->item.instance == a);
    REQUIRE(AbO(s, again->lock_token));  // released for the next run
  }
}

TEST_CASE("clock_and_precision::test_abandon_delay_millisecond_precision") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("prec-ab", 1)));
  auto w = fw(s);
  REQUIRE(w.has_value());
  const auto t0 = Clock::now();
  REQUIRE(AbW(s, w->lock_token, 250ms));
  sleep_until(f, t0, 100ms);
  CHECK_FALSE(fw(s).has_value());
  sleep_until(f, t0, 450ms);
  CHECK(fw(s).has_value());

  const std::string a = "prec-ab-o";
  REQUIRE(EO(s, start_item(a)));
  auto t = fo(s);
  REQUIRE(t.has_value());
  const auto t1 = Clock::now();
  REQUIRE(AbO(s, t->lock_token, 250ms));
  sleep_until(f, t1, 100ms);
  CHECK_FALSE(fo(s).has_value());
  sleep_until(f, t1, 450ms);
  auto again = fo(s);
  REQUIRE(again.has_value());
  CHECK(again->item.instance == a);
}

TEST_CASE("clock_and_precision::test_enqueue_delay_millisecond_precision") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = Clock::now();
  REQUIRE(EO(s, start_item("prec-delay"), 1500ms));
  sleep_until(f, t0, 1000ms);
  CHECK_FALSE(fo(s).has_value());
  sleep_until(f, t0, 1800ms);
  auto t = fo(s);
  REQUIRE(t.has_value());
  CHECK(t->item.instance == "prec-delay");
}

TEST_CASE("clock_and_precision::test_session_lock_millisecond_precision" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "prec-sess";
  REQUIRE(EW(s, activity_item(inst, 1, 1, std::string("s"))));
  const auto t0 = Clock::now();
  auto w = fw(s, 30s, SessionFetchConfig{"A", 1500ms});
  REQUIRE(w.has_value());
  CHECK(activity_id_of(*w) == 1);
  REQUIRE(AW(s, w->lock_token));
  REQUIRE(EW(s, activity_item(inst, 2, 1, std::string("s"))));
  sleep_until(f, t0, 1200ms);
  CHECK_FALSE(fw(s, 30s, SessionFetchConfig{"B", 30s}).has_value());
  sleep_until(f, t0, 1800ms);
  auto w2 = fw(s, 30s, SessionFetchConfig{"B", 30s});
  REQUIRE(w2.has_value());
  CHECK(activity_id_of(*w2) == 2);
}

TEST_CASE("clock_and_precision::test_completed_at_set_for_terminal_statuses") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::vector<std::string> statuses = {"Completed", "Failed", "ContinuedAsNew", "Running"};
  const int64_t t_before = wall_ms();
  for (const auto& st : statuses) {
    const std::string inst = "prec-status-" + st;
    REQUIRE(EO(s, start_item(inst)));
    auto t = fo(s);
    REQUIRE(t.has_value());
    REQUIRE(t->item.instance == inst);
    ack_status(s, *t, inst, st);
  }
  const int64_t t_after = wall_ms();
  for (const auto& st : statuses) {
    CAPTURE(st);
    auto e = mgmt::get_execution_info(s, "prec-status-" + st, 1);
    REQUIRE_MESSAGE(e, err_text(e));
    CHECK(e->status == st);
    if (st == "Running") {
      CHECK_FALSE(e->completed_at.has_value());
    } else {
      REQUIRE(e->completed_at.has_value());
      CHECK(static_cast<int64_t>(*e->completed_at) >= t_before);
      CHECK(static_cast<int64_t>(*e->completed_at) <= t_after);
    }
  }
}

TEST_CASE("clock_and_precision::test_prune_completed_before_includes_continued_as_new") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "prec-prune";
  // create_running_multi_execution_instance(inst, 3) of §3.2.
  for (uint64_t k = 1; k <= 3; ++k) {
    if (k == 1)
      REQUIRE(EO(s, WorkItem::StartOrchestration{inst, "LongRunning", "{}", std::string("1.0.0"), std::nullopt,
                                                 std::nullopt, 1}));
    else
      REQUIRE(EO(s, WorkItem::ContinueAsNew{inst, "LongRunning", "{}", std::string("1.0.0"), {}, std::nullopt}));
    auto t = fo(s);
    REQUIRE(t.has_value());
    AckArgs a;
    a.delta.push_back(started_event(inst, k, "LongRunning"));
    a.metadata = meta(k < 3 ? "ContinuedAsNew" : "Running", std::string("out"), std::string("LongRunning"));
    auto r = AO(s, t->lock_token, k, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  PruneOptions o;
  o.completed_before = static_cast<uint64_t>(wall_ms() + 1);
  auto p = mgmt::prune_executions(s, inst, o);
  REQUIRE_MESSAGE(p, err_text(p));
  CHECK(p->executions_deleted == 2);
  auto left = mgmt::list_executions(s, inst);
  REQUIRE_MESSAGE(left, err_text(left));
  CHECK(*left == std::vector<uint64_t>{3});
}

TEST_CASE("clock_and_precision::test_manual_clock_governs_visibility") {
  LoopFixture f;
  ManualClock clock;
  const int64_t T = clock.now();
  Store s = create_provider_with_clock(f, clock);
  REQUIRE(EO(s, start_item("X"), 10000ms));
  CHECK_FALSE(fo(s).has_value());
  clock.set(T + 9999);
  CHECK_FALSE(fo(s).has_value());
  clock.set(T + 10000);
  auto t = fo(s);
  REQUIRE(t.has_value());
  CHECK(t->item.instance == "X");
}

TEST_CASE("clock_and_precision::test_manual_clock_governs_lock_expiry") {
  LoopFixture f;
  ManualClock clock;
  const int64_t T = clock.now();
  Store s = create_provider_with_clock(f, clock);
  REQUIRE(EO(s, start_item("A")));
  auto first = fo(s, 30000ms);
  REQUIRE(first.has_value());
  const std::string token1 = first->lock_token;
  CHECK_FALSE(fo(s).has_value());
  clock.set(T + 29999);
  CHECK_FALSE(fo(s).has_value());
  clock.set(T + 30000);
  auto second = fo(s);
  REQUIRE(second.has_value());
  CHECK(second->item.instance == "A");
  CHECK(second->lock_token != token1);
  auto r = AO(s, token1, 1);
  CHECK_FALSE(r);
}

TEST_CASE("clock_and_precision::test_manual_clock_stamps_timestamps") {
  LoopFixture f;
  ManualClock clock;
  const int64_t T = clock.now();
  Store s = create_provider_with_clock(f, clock);
  create_instance(s, "X");
  clock.set(T + 5000);
  REQUIRE(EO(s, external_item("X", "poke")));
  auto t = fo(s);
  REQUIRE(t.has_value());
  AckArgs a;
  a.metadata = meta("Completed", std::string("done"));
  auto r = AO(s, t->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
  auto info = mgmt::get_instance_info(s, "X");
  REQUIRE_MESSAGE(info, err_text(info));
  CHECK(static_cast<int64_t>(info->created_at) == T);
  CHECK(static_cast<int64_t>(info->updated_at) == T + 5000);
  auto e = mgmt::get_execution_info(s, "X", 1);
  REQUIRE_MESSAGE(e, err_text(e));
  CHECK(static_cast<int64_t>(e->started_at) == T);
  REQUIRE(e->completed_at.has_value());
  CHECK(static_cast<int64_t>(*e->completed_at) == T + 5000);
}

TEST_CASE("clock_and_precision::test_no_server_clock_dependency") {
  constexpr int64_t kYear = 365LL * 24 * 3600 * 1000 + 6LL * 3600 * 1000;  // 365.25 days
  SUBCASE("(a) application clock 100 years ahead of the server") {
    LoopFixture f;
    ManualClock clock;
    clock.set(wall_ms() + 100 * kYear);
    Store s = create_provider_with_clock(f, clock);
    const std::string x = "X";
    REQUIRE(EO(s, start_item(x)));
    const auto t0 = Clock::now();
    auto first = fo(s);
    CHECK(Clock::now() - t0 < kShortPoll);
    REQUIRE(first.has_value());
    AckArgs a;
    a.delta.push_back(started_event(x));
    a.worker_items.push_back(WorkItem::ActivityExecute{x, 1, 2, "W", "in", std::string("s"), std::nullopt});
    a.metadata = meta();
    auto ack = AO(s, first->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(ack, err_text(ack));
    auto w = fw(s, 30s, SessionFetchConfig{"A", 30s});
    REQUIRE(w.has_value());
    auto rw = RW(s, w->lock_token, 30s);
    CHECK_MESSAGE(rw, err_text(rw));
    auto rs = await<uint64_t>(f, [&](auto cb) { s->renew_session_lock({"A"}, 30s, 300s, std::move(cb)); });
    REQUIRE_MESSAGE(rs, err_text(rs));
    CHECK(*rs == 1);
    auto aw = AW(s, w->lock_token, WorkItem::ActivityCompleted{x, 1, 2, "result"});
    CHECK_MESSAGE(aw, err_text(aw));
    auto last = fo(s);
    REQUIRE(last.has_value());
    CHECK(last->item.instance == x);
    REQUIRE(last->item.messages.size() == 1);
    CHECK(last->item.messages[0].get_if<WorkItem::ActivityCompleted>() != nullptr);
    auto e = mgmt::get_execution_info(s, x, 1);
    REQUIRE_MESSAGE(e, err_text(e));
    CHECK(static_cast<int64_t>(e->started_at) == clock.now());
  }
  SUBCASE("(b) application clock 10 years behind the server") {
    LoopFixture f;
    ManualClock clock;
    clock.set(wall_ms() - 10 * kYear);
    Store s = create_provider_with_clock(f, clock);
    REQUIRE(EO(s, start_item("Y")));
    CHECK(fo(s, 30s).has_value());
    CHECK_FALSE(fo(s).has_value());
    REQUIRE(EW(s, activity_item("Y", 1)));
    CHECK(fw(s, 30s).has_value());
    CHECK_FALSE(fw(s).has_value());
  }
}
