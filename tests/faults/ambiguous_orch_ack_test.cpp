// Issue 8 §4 for ack_orchestration_item (contract §5.2, ambiguous commit): the connection dies
// around the turn's commit; the same ack with the same token is retried on the same provider.
// Every effect of a turn is counted before and after the retry, including the ones a second
// application would change without adding rows (custom status version, KV delta).
#include <doctest/doctest.h>

#include "faults/error_checks.h"
#include "faults/proxied_store.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

// Both statements run the ack: non-final turns may use the asynchronous-commit variant.
const std::vector<std::string> kAckOrch = {"dx_ack_orch", "dx_ack_orch_async"};
const std::string kInst = "O";

Result<std::optional<LockedOrchestration>> fetch_via(ProxiedStore& ps, Millis lock = 30s) {
  return await<std::optional<LockedOrchestration>>(ps.store.loop(), [&](auto cb) {
    ps.via().fetch_orchestration_item(lock, 0ms, std::nullopt, std::move(cb));
  });
}

// The first turn of kInst: started, one activity, one timer, a custom status and a KV value;
// `final_turn` also completes the execution (the synchronous-commit statement).
AckArgs first_turn(bool final_turn) {
  const uint64_t fire_at = 4102444800000;  // 2100-01-01: the timer stays invisible
  AckArgs a;
  a.delta.push_back(started_event(kInst));
  a.delta.push_back(make_event(kInst, 1, 2, EventKind::ActivityScheduled{"Act", "in", std::nullopt, std::nullopt}));
  a.delta.push_back(make_event(kInst, 1, 3, EventKind::TimerCreated{fire_at}));
  a.delta.push_back(make_event(kInst, 1, 4, EventKind::CustomStatusUpdated{std::string("busy")}));
  a.delta.push_back(make_event(kInst, 1, 5, EventKind::KeyValueSet{"k", "v", 1700000000000}));
  if (final_turn) a.delta.push_back(make_event(kInst, 1, 6, EventKind::OrchestrationCompleted{"out"}));
  a.worker_items.push_back(activity_item(kInst, 2));
  a.orch_items.push_back(WorkItem::TimerFired{kInst, 1, 3, fire_at});
  a.metadata = final_turn ? meta("Completed", std::string("out")) : meta();
  return a;
}

Result<void> ack_via(ProxiedStore& ps, const std::string& token, AckArgs a) {
  return await<void>(ps.store.loop(), [&](auto cb) {
    ps.via().ack_orchestration_item(token, 1, std::move(a.delta), std::move(a.worker_items), std::move(a.orch_items),
                                    std::move(a.metadata), std::move(a.cancelled), std::move(cb));
  });
}

struct Effects {
  int64_t history, worker_rows, orch_rows, locks, status_version, kv_rows, committed_records;
  std::string status;
  friend bool operator==(const Effects&, const Effects&) = default;
};

doctest::String toString(const Effects& e) {
  return ("history " + std::to_string(e.history) + ", worker " + std::to_string(e.worker_rows) + ", orch " +
          std::to_string(e.orch_rows) + ", locks " + std::to_string(e.locks) + ", cs version " +
          std::to_string(e.status_version) + ", kv " + std::to_string(e.kv_rows) + ", committed " +
          std::to_string(e.committed_records) + ", status " + e.status).c_str();
}

Effects effects(Store& s) {
  auto count = [&](const std::string& table, const std::string& extra = "") {
    return s.sql_int("SELECT count(*) FROM " + s.table(table) + " WHERE instance_id = $1" + extra,
                     pg::Params().add(kInst));
  };
  Effects e{count("history"),
            count("worker_queue"),
            count("orchestrator_queue"),
            count("instance_locks"),
            s.sql_int("SELECT coalesce(max(custom_status_version), -1) FROM " + s.table("instances") +
                          " WHERE instance_id = $1", pg::Params().add(kInst)),
            count("kv_delta") + count("kv_store"),
            count("committed_tokens", " AND kind = 'o'"),
            {}};
  auto st = s.sql("SELECT status FROM " + s.table("executions") + " WHERE instance_id = $1 AND execution_id = 1",
                  pg::Params().add(kInst));
  REQUIRE(st);
  e.status = st->rows() ? std::string(st->get(0, 0)) : "-";
  return e;
}

std::string fetched_token(ProxiedStore& ps, Millis lock = 30s) {
  auto t = fetch_via(ps, lock);
  REQUIRE_MESSAGE(t, err_text(t));
  REQUIRE(t->has_value());
  CHECK((*t)->item.instance == kInst);
  return (*t)->lock_token;
}

}  // namespace

TEST_CASE("ambiguous_commit::ack_orchestration_item committed before the cut: the retry succeeds once") {
  for (bool final_turn : {false, true}) {
    CAPTURE(final_turn);
    LoopFixture f;
    ProxiedStore ps(f);
    Store& s = ps.store;
    REQUIRE(EO(s, start_item(kInst)));
    REQUIRE(EO(s, start_item("other")));  // unrelated work that must keep flowing
    const std::string token = fetched_token(ps);

    ps.plan().arm(kAckOrch, CutPoint::kAfterCommit);
    auto first = ack_via(ps, token, first_turn(final_turn));
    REQUIRE(ps.plan().cut);
    REQUIRE_MESSAGE(ps.plan().commit_seen, "the server did not commit the ack before the cut");
    check_retryable(first, "ack_orchestration_item");

    // Durable after the first attempt: 5 or 6 events, the activity, the timer, no lock, custom
    // status version 1, one KV row (delta, or store once the execution completed).
    const Effects applied{final_turn ? 6 : 5, 1, 1, 0, 1, 1, 1, final_turn ? "Completed" : "Running"};
    CHECK(effects(s) == applied);

    auto retry = ack_via(ps, token, first_turn(final_turn));
    CHECK_MESSAGE(retry, err_text(retry));
    CHECK(effects(s) == applied);

    check_invalid_token(ack_via(ps, token, first_turn(final_turn)), "ack_orchestration_item");
    check_invalid_token(ack_via(ps, "00000000-0000-4000-8000-000000000000", first_turn(final_turn)),
                        "ack_orchestration_item");
    CHECK(effects(s) == applied);

    // The history reads back once, in order.
    auto h = READ(s, kInst);
    REQUIRE_MESSAGE(h, err_text(h));
    REQUIRE(h->size() == static_cast<size_t>(applied.history));
    for (size_t i = 0; i < h->size(); ++i) CHECK((*h)[i].event_id == i + 1);

    // The lock was released and the queue flows: the other instance is delivered through the
    // proxied provider, and the next turn of a running O gets its history exactly once.
    auto next = fetch_via(ps);
    REQUIRE_MESSAGE(next, err_text(next));
    REQUIRE(next->has_value());
    CHECK((*next)->item.instance == "other");
    CHECK(AbO(s, (*next)->lock_token, 60s));  // out of the way for the rest of the test
    if (!final_turn) {
      REQUIRE(EO(s, external_item(kInst)));
      auto turn = FO(s);
      REQUIRE_MESSAGE(turn, err_text(turn));
      REQUIRE(turn->has_value());
      CHECK((*turn)->item.instance == kInst);
      CHECK((*turn)->item.history.size() == 5);
    }
  }
}

TEST_CASE("ambiguous_commit::ack_orchestration_item cut before the Bind: the retry applies it exactly once") {
  LoopFixture f;
  ProxiedStore ps(f);
  Store& s = ps.store;
  REQUIRE(EO(s, start_item(kInst)));
  const std::string token = fetched_token(ps);

  ps.plan().arm(kAckOrch, CutPoint::kBeforeBind);
  auto first = ack_via(ps, token, first_turn(false));
  REQUIRE(ps.plan().cut);
  check_retryable(first, "ack_orchestration_item");
  // Nothing was applied and the instance is still locked by the token (a failed ack keeps it).
  CHECK(effects(s) == (Effects{0, 0, 1, 1, -1, 0, 0, "-"}));
  CHECK(s.live_instance_lock(kInst));

  auto retry = ack_via(ps, token, first_turn(false));
  CHECK_MESSAGE(retry, err_text(retry));
  CHECK(effects(s) == (Effects{5, 1, 1, 0, 1, 1, 1, "Running"}));
  check_invalid_token(ack_via(ps, token, first_turn(false)), "ack_orchestration_item");
}

TEST_CASE("ambiguous_commit::ack_orchestration_item not committed and taken over: the retry is an invalid token") {
  ManualClock clock;
  PostgresProviderOptions o;
  o.clock = clock.fn();
  LoopFixture f;
  ProxiedStore ps(f, o);
  Store& s = ps.store;
  REQUIRE(EO(s, start_item(kInst)));
  const std::string token = fetched_token(ps, 5s);

  ps.plan().arm(kAckOrch, CutPoint::kBeforeBind);
  check_retryable(ack_via(ps, token, first_turn(false)), "ack_orchestration_item");

  clock.advance(6000);  // the lock expires; another dispatcher takes the instance over
  auto other = FO(s);
  REQUIRE_MESSAGE(other, err_text(other));
  REQUIRE(other->has_value());
  CHECK((*other)->attempt_count == 2);

  check_invalid_token(ack_via(ps, token, first_turn(false)), "ack_orchestration_item");
  CHECK(effects(s) == (Effects{0, 0, 1, 1, -1, 0, 0, "-"}));
  AckArgs a = first_turn(false);
  auto ok = AO(s, (*other)->lock_token, 1, std::move(a));
  CHECK_MESSAGE(ok, err_text(ok));
  CHECK(effects(s) == (Effects{5, 1, 1, 0, 1, 1, 1, "Running"}));
}

// After the lost reply, another dispatcher fetches the instance again (new messages arrived) and
// holds its lock when the retry comes: the retry reports success and must leave that lock, that
// batch and the history alone.
TEST_CASE("ambiguous_commit::ack_orchestration_item retry while another dispatcher holds the instance") {
  LoopFixture f;
  ProxiedStore ps(f);
  Store& s = ps.store;
  REQUIRE(EO(s, start_item(kInst)));
  const std::string token = fetched_token(ps);
  ps.plan().arm(kAckOrch, CutPoint::kAfterCommit);
  check_retryable(ack_via(ps, token, first_turn(false)), "ack_orchestration_item");
  REQUIRE(ps.plan().commit_seen);

  REQUIRE(EO(s, external_item(kInst)));
  auto next = FO(s);
  REQUIRE_MESSAGE(next, err_text(next));
  REQUIRE(next->has_value());
  REQUIRE((*next)->item.instance == kInst);
  CHECK((*next)->item.history.size() == 5);

  auto retry = ack_via(ps, token, first_turn(false));
  CHECK_MESSAGE(retry, err_text(retry));
  CHECK(s.live_instance_lock(kInst));  // still the other dispatcher's
  CHECK(effects(s) == (Effects{5, 1, 2, 1, 1, 1, 1, "Running"}));

  AckArgs a;
  a.delta.push_back(make_event(kInst, 1, 6, EventKind::ExternalEvent{"poke", "{}"}));
  a.metadata = meta();
  auto ok_ack = AO(s, (*next)->lock_token, 1, std::move(a));
  CHECK_MESSAGE(ok_ack, err_text(ok_ack));
  CHECK(effects(s) == (Effects{6, 1, 1, 0, 1, 1, 2, "Running"}));  // two turns, two records
}
