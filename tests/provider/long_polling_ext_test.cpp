// conformance.md §6.1 — long_polling_ext: required long polling (contract §6). Waiting fetches end
// early when eligible work appears (notifications from this or another process, time-based
// visibility, lock and lease expiry), ignore work they could not take, share work among several
// waiters, survive the loss of the listening connection, complete on close, and never hear another
// schema's notifications. Timing bounds are those of catalogue §7.1.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

using Clock = std::chrono::steady_clock;

Millis since(Clock::time_point t0) { return std::chrono::duration_cast<Millis>(Clock::now() - t0); }

// An operation outstanding on the loop: its result and the instant its callback ran.
// Must not move once cb() has been taken.
template <class T>
struct Pending {
  std::optional<Result<T>> result;
  Clock::time_point at{};
  bool done() const { return result.has_value(); }
  Callback<T> cb() {
    return [this](Result<T> r) {
      at = Clock::now();
      result = std::move(r);
    };
  }
  Result<T>& r() {
    REQUIRE(result.has_value());
    return *result;
  }
  Millis after(Clock::time_point t0) const { return std::chrono::duration_cast<Millis>(at - t0); }
};

using PendingFO = Pending<std::optional<LockedOrchestration>>;
using PendingFW = Pending<std::optional<LockedWorkItem>>;

// Runs the loop (outstanding operations progress) until `at` after t0.
void run_until_instant(LoopFixture& f, Clock::time_point t0, Millis at) {
  const Millis left = at - since(t0);
  if (left > 0ms) f.run_until([] { return false; }, left);
}

template <class P>
void wait_done(LoopFixture& f, P& p, Millis deadline) {
  REQUIRE_MESSAGE(f.run_until([&] { return p.done(); }, deadline), "fetch did not complete in time");
}

void start_fo(Store& s, PendingFO& p, Millis poll, Millis lock = 30s,
              std::optional<DispatcherCapabilityFilter> filter = std::nullopt) {
  s->fetch_orchestration_item(lock, poll, std::move(filter), p.cb());
}

void start_fw(Store& s, PendingFW& p, Millis poll, Millis lock = 30s, std::optional<SessionFetchConfig> session = std::nullopt,
              TagFilter tags = TagFilter::DefaultOnly{}) {
  s->fetch_work_item(lock, poll, std::move(session), std::move(tags), p.cb());
}

// The orchestration item of a completed fetch that must have found work.
const LockedOrchestration& got_fo(PendingFO& p) {
  auto& r = p.r();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  REQUIRE_MESSAGE(r->has_value(), "fetch completed empty");
  return **r;
}
const LockedWorkItem& got_fw(PendingFW& p) {
  auto& r = p.r();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  REQUIRE_MESSAGE(r->has_value(), "fetch completed empty");
  return **r;
}
template <class P>
void require_empty(P& p) {
  auto& r = p.r();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK_FALSE(r->has_value());
}

const WorkItem::ActivityExecute& act(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return *ae;
}

WorkItem tagged(const std::string& inst, uint64_t id, std::optional<std::string> tag) {
  return WorkItem::ActivityExecute{inst, 1, id, "Activity" + std::to_string(id), "input", std::nullopt, std::move(tag)};
}
WorkItem session_activity(const std::string& inst, uint64_t id, const std::string& sid) {
  return WorkItem::ActivityExecute{inst, 1, id, "Activity" + std::to_string(id), "input", sid, std::nullopt};
}

void ok(const Result<void>& r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string())); }

// Starts `inst` and fetches its first turn: the instance stays locked by the returned token.
std::string lock_started_instance(Store& s, const std::string& inst) {
  ok(EO(s, start_item(inst)));
  auto first = FO(s);
  REQUIRE(first);
  REQUIRE(first->has_value());
  return (*first)->lock_token;
}

}  // namespace

TEST_CASE("long_polling_ext::test_fetch_work_item_respects_timeout_upper_bound") {
  LoopFixture f;
  Store s = create_provider(f);
  PendingFW fw;
  const auto t0 = Clock::now();
  start_fw(s, fw, 300ms);
  wait_done(f, fw, 5s);
  require_empty(fw);
  const Millis e = fw.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 300ms);
  CHECK(e < 500ms);
}

TEST_CASE("long_polling_ext::test_long_poll_returns_early_on_enqueue") {
  LoopFixture f;
  Store s = create_provider(f);
  PendingFO fo;
  const auto t0 = Clock::now();
  start_fo(s, fo, 2s);
  run_until_instant(f, t0, 200ms);
  ok(EO(s, start_item("X")));
  wait_done(f, fo, 5s);
  CHECK(got_fo(fo).item.instance == "X");
  const Millis e = fo.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 150ms);
  CHECK(e < 700ms);
}

TEST_CASE("long_polling_ext::test_long_poll_returns_early_on_enqueue_from_other_process") {
  LoopFixture f;
  Store s = create_provider(f);
  Store p2 = s.open_same_store();
  PendingFO fo;
  const auto t0 = Clock::now();
  start_fo(s, fo, 2s);
  run_until_instant(f, t0, 200ms);
  ok(EO(p2, start_item("X")));
  wait_done(f, fo, 5s);
  CHECK(got_fo(fo).item.instance == "X");
  const Millis e = fo.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 150ms);
  CHECK(e < 700ms);
}

TEST_CASE("long_polling_ext::test_long_poll_work_item_returns_early_on_enqueue_from_other_process") {
  LoopFixture f;
  Store s = create_provider(f);
  Store p2 = s.open_same_store();
  PendingFW fw;
  const auto t0 = Clock::now();
  start_fw(s, fw, 2s);
  run_until_instant(f, t0, 200ms);
  ok(EW(p2, tagged("inst-w", 1, std::nullopt)));
  wait_done(f, fw, 5s);
  got_fw(fw);
  const Millis e = fw.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 150ms);
  CHECK(e < 700ms);
}

TEST_CASE("long_polling_ext::test_long_poll_returns_early_on_activity_completion") {
  LoopFixture f;
  Store s = create_provider(f);
  Store p2 = s.open_same_store();
  const std::string inst = "A";
  const std::string token = lock_started_instance(s, inst);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.worker_items.push_back(WorkItem::ActivityExecute{inst, 1, 2, "Activity2", "input", std::nullopt, std::nullopt});
  a.metadata = meta();
  ok(AO(s, token, 1, std::move(a)));

  PendingFO fo;
  const auto t0 = Clock::now();
  start_fo(s, fo, 2s);
  run_until_instant(f, t0, 200ms);
  auto w = FW(p2);
  REQUIRE(w);
  REQUIRE(w->has_value());
  ok(AW(p2, (*w)->lock_token, WorkItem::ActivityCompleted{inst, 1, 2, "result"}));
  wait_done(f, fo, 5s);
  const LockedOrchestration& lo = got_fo(fo);
  CHECK(lo.item.instance == inst);
  REQUIRE(lo.item.messages.size() == 1);
  const auto* ac = lo.item.messages[0].get_if<WorkItem::ActivityCompleted>();
  REQUIRE(ac != nullptr);
  CHECK(ac->id == 2);
  const Millis e = fo.after(t0);
  CAPTURE(e.count());
  CHECK(e < 700ms);
}

// A message that arrives while its instance is locked cannot be fetched; the ack that releases the
// lock must wake a waiting fetcher (orchestrators are woken only by turns that leave work behind).
TEST_CASE("long_polling_ext::test_long_poll_wakes_when_ack_releases_instance_with_pending_message") {
  LoopFixture f;
  Store s = create_provider(f);
  Store p2 = s.open_same_store();
  const std::string inst = "A";
  const std::string token = lock_started_instance(s, inst);

  PendingFO fo;
  const auto t0 = Clock::now();
  start_fo(s, fo, 3s);
  run_until_instant(f, t0, 200ms);
  ok(EO(p2, WorkItem::ActivityCompleted{inst, 1, 2, "result"}));
  run_until_instant(f, t0, 500ms);
  REQUIRE_FALSE(fo.done());  // the instance is locked

  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.metadata = meta();
  const auto t1 = Clock::now();
  ok(AO(s, token, 1, std::move(a)));
  wait_done(f, fo, 5s);
  const LockedOrchestration& lo = got_fo(fo);
  CHECK(lo.item.instance == inst);
  REQUIRE(lo.item.messages.size() == 1);
  CHECK(lo.item.messages[0].holds<WorkItem::ActivityCompleted>());
  const Millis e = fo.after(t1);
  CAPTURE(e.count());
  CHECK(e < 700ms);
}

TEST_CASE("long_polling_ext::test_long_poll_wakes_on_delayed_visibility") {
  LoopFixture f;
  Store s = create_provider(f);
  Store p2 = s.open_same_store();
  SUBCASE("a: delayed row already stored") {
    ok(EO(s, start_item("X"), 400ms));
    PendingFO fo;
    const auto t0 = Clock::now();
    start_fo(s, fo, 3s);
    wait_done(f, fo, 5s);
    CHECK(got_fo(fo).item.instance == "X");
    const Millis e = fo.after(t0);
    CAPTURE(e.count());
    CHECK(e >= 350ms);
    CHECK(e < 900ms);
  }
  SUBCASE("b: delayed row inserted by another process during the wait") {
    PendingFO fo;
    const auto t0 = Clock::now();
    start_fo(s, fo, 3s);
    run_until_instant(f, t0, 100ms);
    ok(EO(p2, start_item("Y"), 400ms));
    wait_done(f, fo, 5s);
    CHECK(got_fo(fo).item.instance == "Y");
    const Millis e = fo.after(t0);
    CAPTURE(e.count());
    CHECK(e >= 450ms);
    CHECK(e < 1000ms);
  }
}

TEST_CASE("long_polling_ext::test_long_poll_wakes_on_timer_from_ack") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "A";
  create_instance(s, inst);
  ok(EO(s, external_item(inst, "poke")));
  auto turn = FO(s);
  REQUIRE(turn);
  REQUIRE(turn->has_value());
  AckArgs a;
  a.orch_items.push_back(WorkItem::TimerFired{inst, 1, 2, static_cast<uint64_t>(wall_ms() + 500)});
  ok(AO(s, (*turn)->lock_token, 1, std::move(a)));
  const auto t_ack = Clock::now();
  PendingFO fo;
  start_fo(s, fo, 3s);
  wait_done(f, fo, 5s);
  const LockedOrchestration& lo = got_fo(fo);
  CHECK(lo.item.instance == inst);
  REQUIRE(lo.item.messages.size() == 1);
  CHECK(lo.item.messages[0].holds<WorkItem::TimerFired>());
  const Millis e = fo.after(t_ack);
  CAPTURE(e.count());
  CHECK(e >= 450ms);
  CHECK(e < 1000ms);
}

TEST_CASE("long_polling_ext::test_long_poll_work_item_wakes_after_abandon_delay") {
  LoopFixture f;
  Store s = create_provider(f);
  ok(EW(s, tagged("inst-w", 7, std::nullopt)));
  auto w = FW(s);
  REQUIRE(w);
  REQUIRE(w->has_value());
  ok(AbW(s, (*w)->lock_token, 400ms));
  PendingFW fw;
  const auto t0 = Clock::now();
  start_fw(s, fw, 3s);
  wait_done(f, fw, 5s);
  const LockedWorkItem& again = got_fw(fw);
  CHECK(act(again).id == 7);
  CHECK(again.attempt_count == 2);
  const Millis e = fw.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 350ms);
  CHECK(e < 900ms);
}

TEST_CASE("long_polling_ext::test_long_poll_wakes_on_instance_lock_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store p1 = create_provider(f);
  Store p2 = p1.open_same_store();
  ok(EO(p1, start_item("A")));
  const auto t0 = Clock::now();
  auto held = FO(p1, 1000ms);
  REQUIRE(held);
  REQUIRE(held->has_value());
  PendingFO fo;
  start_fo(p2, fo, 3s, kLockTimeout);
  wait_done(f, fo, 5s);
  const LockedOrchestration& lo = got_fo(fo);
  CHECK(lo.item.instance == "A");
  CHECK(lo.lock_token != (*held)->lock_token);
  const Millis e = fo.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 950ms);
  CHECK(e < 1500ms);
}

TEST_CASE("long_polling_ext::test_long_poll_wakes_on_worker_lock_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  ok(EW(s, tagged("inst-w", 3, std::nullopt)));
  const auto t0 = Clock::now();
  auto held = FW(s, 1000ms);
  REQUIRE(held);
  REQUIRE(held->has_value());
  PendingFW fw;
  start_fw(s, fw, 3s);
  wait_done(f, fw, 5s);
  const LockedWorkItem& again = got_fw(fw);
  CHECK(act(again).id == 3);
  CHECK(again.attempt_count == 2);
  const Millis e = fw.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 950ms);
  CHECK(e < 1500ms);
}

TEST_CASE("long_polling_ext::test_long_poll_wakes_on_session_lease_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  ok(EW(s, session_activity("inst-s", 1, "s")));
  const auto t0 = Clock::now();
  auto claim = FW(s, 5s, 0ms, SessionFetchConfig{"worker-A", 500ms});
  REQUIRE(claim);
  REQUIRE(claim->has_value());
  ok(AW(s, (*claim)->lock_token));
  ok(EW(s, session_activity("inst-s", 2, "s")));
  PendingFW fw;
  start_fw(s, fw, 3s, 30s, SessionFetchConfig{"worker-B", 30s});
  wait_done(f, fw, 5s);
  CHECK(act(got_fw(fw)).id == 2);
  const Millis e = fw.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 450ms);
  CHECK(e < 1100ms);
}

TEST_CASE("long_polling_ext::test_long_poll_ignores_ineligible_work") {
  LoopFixture f;
  Store s = create_provider(f);
  SUBCASE("a: another tag") {
    PendingFW fw;
    const auto t0 = Clock::now();
    start_fw(s, fw, 1s, 30s, std::nullopt, TagFilter::Tags{{"gpu"}});
    run_until_instant(f, t0, 200ms);
    ok(EW(s, tagged("inst-w", 1, std::string("cpu"))));
    wait_done(f, fw, 3s);
    require_empty(fw);
    const Millis e = fw.after(t0);
    CAPTURE(e.count());
    CHECK(e >= 1000ms);
    CHECK(e < 1200ms);
  }
  SUBCASE("b: an incompatible pinned version") {
    const std::string inst = "inst-v1";
    // seed_instance_with_version(inst, 1.0.0): one pending ping, unlocked.
    ok(EO(s, start_item(inst)));
    auto seed = FO(s);
    REQUIRE(seed);
    REQUIRE(seed->has_value());
    REQUIRE((*seed)->item.instance == inst);
    AckArgs a;
    a.delta.push_back(started_event(inst, 1, "TestOrch", "1.0.0", "1.0.0"));
    a.orch_items.push_back(external_item(inst, "ping"));
    a.metadata = meta();
    a.metadata.pinned_duroxide_version = SemVer{1, 0, 0};
    ok(AO(s, (*seed)->lock_token, 1, std::move(a)));

    PendingFO fo;
    const auto t0 = Clock::now();
    start_fo(s, fo, 1s, 30s, DispatcherCapabilityFilter{{SemverRange{SemVer{2, 0, 0}, SemVer{2, 9, 9}}}});
    run_until_instant(f, t0, 200ms);
    ok(EO(s, external_item(inst, "ping")));
    wait_done(f, fo, 3s);
    require_empty(fo);
    const Millis e = fo.after(t0);
    CAPTURE(e.count());
    CHECK(e >= 1000ms);
    CHECK(e < 1200ms);
  }
  SUBCASE("c: a matching tag ends the wait") {
    PendingFW fw;
    const auto t0 = Clock::now();
    start_fw(s, fw, 2s, 30s, std::nullopt, TagFilter::Tags{{"gpu"}});
    run_until_instant(f, t0, 200ms);
    ok(EW(s, tagged("inst-w", 2, std::string("gpu"))));
    wait_done(f, fw, 3s);
    got_fw(fw);
    const Millis e = fw.after(t0);
    CAPTURE(e.count());
    CHECK(e < 700ms);
  }
}

TEST_CASE("long_polling_ext::test_long_poll_concurrent_waiters_get_distinct_work") {
  LoopFixture f;
  Store s = create_provider(f);
  PendingFO fo[3];
  const auto t0 = Clock::now();
  for (auto& p : fo) start_fo(s, p, 3s);
  run_until_instant(f, t0, 200ms);
  Pending<void> enq[3];
  const char* names[3] = {"A", "B", "C"};
  for (int i = 0; i < 3; ++i) s->enqueue_for_orchestrator(start_item(names[i]), std::nullopt, enq[i].cb());
  REQUIRE(f.run_until([&] { return enq[0].done() && enq[1].done() && enq[2].done(); }, 5s));
  for (auto& e : enq) ok(e.r());
  REQUIRE(f.run_until([&] { return fo[0].done() && fo[1].done() && fo[2].done(); }, 5s));
  std::set<std::string> got;
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    got.insert(got_fo(fo[i]).item.instance);
    const Millis e = fo[i].after(t0);
    CAPTURE(e.count());
    CHECK(e < 700ms);
  }
  CHECK(got == std::set<std::string>{"A", "B", "C"});
}

TEST_CASE("long_polling_ext::test_long_poll_loser_keeps_waiting") {
  LoopFixture f;
  Store s = create_provider(f);
  PendingFO fo[2];
  const auto t0 = Clock::now();
  for (auto& p : fo) start_fo(s, p, 1s);
  run_until_instant(f, t0, 200ms);
  ok(EO(s, start_item("A")));
  REQUIRE(f.run_until([&] { return fo[0].done() && fo[1].done(); }, 3s));
  for (auto& p : fo) REQUIRE_MESSAGE(p.r(), (p.r() ? "" : p.r().error().to_string()));
  const int winner = fo[0].r()->has_value() ? 0 : 1;
  PendingFO& w = fo[winner];
  PendingFO& l = fo[1 - winner];
  REQUIRE(w.r()->has_value());
  CHECK((*w.r())->item.instance == "A");
  const Millis ew = w.after(t0);
  CAPTURE(ew.count());
  CHECK(ew < 700ms);
  CHECK_FALSE(l.r()->has_value());
  const Millis el = l.after(t0);
  CAPTURE(el.count());
  CHECK(el >= 1000ms);
  CHECK(el < 1200ms);
}

TEST_CASE("long_polling_ext::test_long_poll_never_matching_filters") {
  LoopFixture f;
  Store s = create_provider(f);
  const DispatcherCapabilityFilter empty_ranges{};
  for (Millis poll : {300ms, 0ms}) {
    CAPTURE(poll.count());
    {
      const auto t0 = Clock::now();
      auto r = FO(s, 30s, poll, empty_ranges);
      const Millis e = since(t0);
      CAPTURE(e.count());
      REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
      CHECK_FALSE(r->has_value());
      if (poll > 0ms) {
        CHECK(e >= 300ms);
        CHECK(e < 500ms);
      } else {
        CHECK(e < kShortPoll);
      }
    }
    {
      const auto t0 = Clock::now();
      auto r = FW(s, 30s, poll, std::nullopt, TagFilter::None{});
      const Millis e = since(t0);
      CAPTURE(e.count());
      REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
      CHECK_FALSE(r->has_value());
      if (poll > 0ms) {
        CHECK(e >= 300ms);
        CHECK(e < 500ms);
      } else {
        CHECK(e < kShortPoll);
      }
    }
  }
}

TEST_CASE("long_polling_ext::test_long_poll_close_completes_waiters") {
  LoopFixture f;
  Store s = create_provider(f);
  PendingFO fo;
  PendingFW fw;
  const auto t0 = Clock::now();
  start_fo(s, fo, 10s);
  start_fw(s, fw, 10s);
  run_until_instant(f, t0, 200ms);
  bool closed = false;
  s->close([&] { closed = true; });
  Pending<void> after;
  s->enqueue_for_orchestrator(start_item("late"), std::nullopt, after.cb());
  REQUIRE(f.run_until([&] { return fo.done() && fw.done() && after.done(); }, 5s));
  require_empty(fo);
  require_empty(fw);
  CHECK(fo.after(t0) < 400ms);
  CHECK(fw.after(t0) < 400ms);
  REQUIRE_FALSE(after.r());
  CHECK_FALSE(after.r().error().retryable);
  CHECK(f.run_until([&] { return closed; }, 5s));
  // Also once close has completed: the operation still completes, with a permanent error.
  Pending<void> after_closed;
  s->enqueue_for_worker(tagged("late", 1, std::nullopt), after_closed.cb());
  REQUIRE(f.run_until([&] { return after_closed.done(); }, 1s));
  REQUIRE_FALSE(after_closed.r());
  CHECK_FALSE(after_closed.r().error().retryable);
}

TEST_CASE("long_polling_ext::test_long_poll_survives_listener_loss") {
  LoopFixture f;
  Store p1 = create_provider(f);
  Store p2 = p1.open_same_store();
  PendingFO first;
  const auto t0 = Clock::now();
  start_fo(p1, first, 5s);
  run_until_instant(f, t0, 200ms);
  CHECK(p1.terminate_backends("listen") >= 1);
  run_until_instant(f, t0, 500ms);
  ok(EO(p2, start_item("A")));
  const auto t_enqueue = Clock::now();
  wait_done(f, first, 5s);
  CHECK(got_fo(first).item.instance == "A");
  const Millis e1 = first.after(t_enqueue);
  CAPTURE(e1.count());
  CHECK(e1 < 1600ms);

  f.run_until([] { return false; }, 2s);
  PendingFO second;
  const auto t1 = Clock::now();
  start_fo(p1, second, 3s);
  run_until_instant(f, t1, 200ms);
  ok(EO(p2, start_item("B")));
  wait_done(f, second, 5s);
  CHECK(got_fo(second).item.instance == "B");
  const Millis e2 = second.after(t1);
  CAPTURE(e2.count());
  CHECK(e2 < 700ms);
}

TEST_CASE("long_polling_ext::test_long_poll_schema_isolation") {
  LoopFixture f;
  Store a = create_provider(f);
  Store b = create_provider(f);
  PendingFO fo;
  const auto t0 = Clock::now();
  start_fo(a, fo, 1s);
  run_until_instant(f, t0, 200ms);
  ok(EO(b, start_item("X")));
  wait_done(f, fo, 3s);
  require_empty(fo);
  const Millis e = fo.after(t0);
  CAPTURE(e.count());
  CHECK(e >= 1000ms);
}
