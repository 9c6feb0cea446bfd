// Issue 8 §4 for ack_work_item (contract §5.10, ambiguous commit of §5.2): the connection dies
// around the ack's commit; the same ack with the same token is retried on the same provider.
#include <doctest/doctest.h>

#include "faults/error_checks.h"
#include "faults/proxied_store.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

const std::vector<std::string> kAckWork = {"dx_ack_work"};

Result<std::optional<LockedWorkItem>> fetch_via(ProxiedStore& ps, Millis lock = 30s) {
  return await<std::optional<LockedWorkItem>>(ps.store.loop(), [&](auto cb) {
    ps.via().fetch_work_item(lock, 0ms, std::nullopt, TagFilter::DefaultOnly{}, std::move(cb));
  });
}

Result<void> ack_via(ProxiedStore& ps, const std::string& token, std::optional<WorkItem> completion) {
  return await<void>(ps.store.loop(), [&](auto cb) { ps.via().ack_work_item(token, std::move(completion), std::move(cb)); });
}

WorkItem completion(const std::string& instance, uint64_t id) {
  return WorkItem::ActivityCompleted{instance, 1, id, "result-" + std::to_string(id)};
}

// Rows the ack may create or delete, as one comparable tuple.
struct Effects {
  int64_t worker_rows, completions, committed_records;
  friend bool operator==(const Effects&, const Effects&) = default;
};

Effects effects(Store& s, const std::string& instance) {
  return {s.sql_int("SELECT count(*) FROM " + s.table("worker_queue") + " WHERE instance_id = $1", pg::Params().add(instance)),
          s.sql_int("SELECT count(*) FROM " + s.table("orchestrator_queue") + " WHERE instance_id = $1",
                    pg::Params().add(instance)),
          s.sql_int("SELECT count(*) FROM " + s.table("committed_tokens") + " WHERE instance_id = $1 AND kind = 'w'",
                    pg::Params().add(instance))};
}

std::string fetched_token(ProxiedStore& ps, const std::string& instance) {
  auto w = fetch_via(ps);
  REQUIRE_MESSAGE(w, err_text(w));
  REQUIRE(w->has_value());
  REQUIRE((*w)->item.get_if<WorkItem::ActivityExecute>() != nullptr);
  CHECK((*w)->item.get_if<WorkItem::ActivityExecute>()->instance == instance);
  return (*w)->lock_token;
}

}  // namespace

TEST_CASE("ambiguous_commit::ack_work_item committed before the cut: the retry succeeds once") {
  for (bool with_completion : {true, false}) {
    CAPTURE(with_completion);
    LoopFixture f;
    ProxiedStore ps(f);
    Store& s = ps.store;
    REQUIRE(EW(s, activity_item("A", 1)));
    REQUIRE(EW(s, activity_item("B", 2)));  // unrelated work that must keep flowing
    const std::string token = fetched_token(ps, "A");
    std::optional<WorkItem> done;
    if (with_completion) done = completion("A", 1);

    ps.plan().arm(kAckWork, CutPoint::kAfterCommit);
    auto first = ack_via(ps, token, done);
    REQUIRE(ps.plan().cut);
    REQUIRE_MESSAGE(ps.plan().commit_seen, "the server did not commit the ack before the cut");
    check_retryable(first, "ack_work_item");

    // The first attempt is durable: row gone, completion enqueued, token recorded.
    const Effects after_commit{0, with_completion ? 1 : 0, 1};
    CHECK(effects(s, "A") == after_commit);

    auto retry = ack_via(ps, token, done);
    CHECK_MESSAGE(retry, err_text(retry));
    CHECK(effects(s, "A") == after_commit);  // nothing applied twice

    // The token is spent now: once the outcome is known, the usual rule applies again.
    check_invalid_token(ack_via(ps, token, done), "ack_work_item");
    // And a token this provider never saw fails as the contract says.
    check_invalid_token(ack_via(ps, "00000000-0000-4000-8000-000000000000", done), "ack_work_item");

    // The provider and the queue still work: the unrelated item is delivered and acked.
    const std::string other = fetched_token(ps, "B");
    auto ok = ack_via(ps, other, completion("B", 2));
    CHECK_MESSAGE(ok, err_text(ok));
    CHECK(effects(s, "B") == (Effects{0, 1, 1}));
  }
}

TEST_CASE("ambiguous_commit::ack_work_item cut before the Bind: the retry applies it exactly once") {
  LoopFixture f;
  ProxiedStore ps(f);
  Store& s = ps.store;
  REQUIRE(EW(s, activity_item("A", 1)));
  const std::string token = fetched_token(ps, "A");

  ps.plan().arm(kAckWork, CutPoint::kBeforeBind);
  auto first = ack_via(ps, token, completion("A", 1));
  REQUIRE(ps.plan().cut);
  check_retryable(first, "ack_work_item");
  // Nothing happened on the server: the row is still there, still locked by this token.
  CHECK(effects(s, "A") == (Effects{1, 0, 0}));
  CHECK(s.worker_row("A", 1).locked);

  auto retry = ack_via(ps, token, completion("A", 1));
  CHECK_MESSAGE(retry, err_text(retry));
  CHECK(effects(s, "A") == (Effects{0, 1, 1}));
  check_invalid_token(ack_via(ps, token, completion("A", 1)), "ack_work_item");
}

TEST_CASE("ambiguous_commit::ack_work_item not committed and taken over: the retry is an invalid token") {
  ManualClock clock;
  PostgresProviderOptions o;
  o.clock = clock.fn();
  LoopFixture f;
  ProxiedStore ps(f, o);
  Store& s = ps.store;
  REQUIRE(EW(s, activity_item("A", 1)));
  auto w = fetch_via(ps, 5s);
  REQUIRE_MESSAGE(w, err_text(w));
  REQUIRE(w->has_value());
  const std::string token = (*w)->lock_token;

  ps.plan().arm(kAckWork, CutPoint::kBeforeBind);
  check_retryable(ack_via(ps, token, completion("A", 1)), "ack_work_item");

  // The lock expires and another worker takes the item over.
  clock.advance(6000);
  auto other = FW(s);
  REQUIRE_MESSAGE(other, err_text(other));
  REQUIRE(other->has_value());
  CHECK((*other)->attempt_count == 2);

  check_invalid_token(ack_via(ps, token, completion("A", 1)), "ack_work_item");
  CHECK(effects(s, "A") == (Effects{1, 0, 0}));  // the new owner's lease is untouched
  auto ok = AW(s, (*other)->lock_token, completion("A", 1));
  CHECK_MESSAGE(ok, err_text(ok));
  CHECK(effects(s, "A") == (Effects{0, 1, 1}));
}

// The committed-token record is what makes the retry succeed; the contract keeps it for at least
// 10 minutes (§5.2) while later acks prune older ones. Provider time is a manual clock.
TEST_CASE("ambiguous_commit::ack_work_item retry window is at least 10 minutes of other acks") {
  ManualClock clock;
  PostgresProviderOptions o;
  o.clock = clock.fn();
  LoopFixture f;
  ProxiedStore ps(f, o);
  Store& s = ps.store;
  for (uint64_t id = 1; id <= 4; ++id) REQUIRE(EW(s, activity_item("A", id)));

  // Acks activity `lost` with its reply cut after the commit, lets `minutes` of provider time
  // pass, then another worker acks activity `other` (which prunes old records). Returns the token
  // of the lost ack.
  auto lost_ack_then_other = [&](uint64_t lost, int64_t minutes, uint64_t other) {
    const std::string token = fetched_token(ps, "A");
    ps.plan().arm(kAckWork, CutPoint::kAfterCommit);
    check_retryable(ack_via(ps, token, completion("A", lost)), "ack_work_item");
    REQUIRE(ps.plan().commit_seen);
    clock.advance(minutes * 60 * 1000);
    auto next = FW(s);
    REQUIRE_MESSAGE(next, err_text(next));
    REQUIRE(next->has_value());
    REQUIRE(AW(s, (*next)->lock_token, completion("A", other)));
    return token;
  };

  // Inside the window: another worker's ack 9 minutes later, then the retry succeeds.
  const std::string early = lost_ack_then_other(1, 9, 2);
  auto retry = ack_via(ps, early, completion("A", 1));
  CHECK_MESSAGE(retry, err_text(retry));

  // Past the window the record may be gone; the retry then fails as an invalid token (it must
  // not apply anything either way).
  const std::string late = lost_ack_then_other(3, 11, 4);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("committed_tokens") + " WHERE lock_token = $1",
                  pg::Params().add(late)) == 0);
  check_invalid_token(ack_via(ps, late, completion("A", 3)), "ack_work_item");
  CHECK(effects(s, "A").completions == 4);  // one per activity, none twice
}

// The connection that dies had just reported another query's error (pipelined ahead of the ack
// on the same connection): the ack must still see a connection loss — retryable, no SQLSTATE —
// and not inherit that error's text or code (libpq keeps per-connection error text).
TEST_CASE("ambiguous_commit::ack_work_item lost right after a pipelined neighbour's error") {
  PostgresProviderOptions o;
  o.pool_max = 1;  // both operations share the one connection
  LoopFixture f;
  ProxiedStore ps(f, o);
  Store& s = ps.store;
  REQUIRE(EW(s, activity_item("A", 1)));
  const std::string token = fetched_token(ps, "A");

  ps.plan().arm(kAckWork, CutPoint::kAfterCommit);
  std::optional<Result<void>> renew, ack;
  ps.via().renew_work_item_lock("00000000-0000-4000-8000-000000000000", 30s, [&](Result<void> r) { renew = std::move(r); });
  ps.via().ack_work_item(token, completion("A", 1), [&](Result<void> r) { ack = std::move(r); });
  REQUIRE(f.run_until([&] { return renew.has_value() && ack.has_value(); }));
  REQUIRE(ps.plan().commit_seen);
  check_invalid_token(*renew, "renew_work_item_lock");
  check_retryable(*ack, "ack_work_item");
  if (!*ack) CHECK_MESSAGE(ack->error().message.find("Invalid lock token") == std::string::npos, ack->error().to_string());

  auto retry = ack_via(ps, token, completion("A", 1));
  CHECK_MESSAGE(retry, err_text(retry));
  CHECK(effects(s, "A") == (Effects{0, 1, 1}));
}
