// conformance.md §5.18 — sessions: claiming, affinity, takeover after lease expiry, renewal and
// cleanup of session leases, and the independence of the activity lock and the session lock
// (cross-cutting rule 18). Unless stated otherwise fetches use a 5 s work-item lock.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

const std::string kInst = "sess-inst";
constexpr Millis kWorkLock = 5s;

void sleep_for(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

WorkItem session_activity(const std::string& inst, uint64_t id, const std::string& sid) {
  return WorkItem::ActivityExecute{inst, 1, id, "Activity" + std::to_string(id), "input", sid, std::nullopt};
}
WorkItem plain_activity(const std::string& inst, uint64_t id) {
  return WorkItem::ActivityExecute{inst, 1, id, "Activity" + std::to_string(id), "input", std::nullopt, std::nullopt};
}
SessionFetchConfig session_config(const std::string& owner) { return {owner, 30s}; }
SessionFetchConfig session_config_with_lock(const std::string& owner, Millis d) { return {owner, d}; }

const WorkItem::ActivityExecute& act(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return *ae;
}

void enqueue(Store& s, WorkItem item) {
  auto r = EW(s, std::move(item));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

// FW(lock, no poll, session, DefaultOnly); REQUIREs success.
std::optional<LockedWorkItem> fetch(Store& s, std::optional<SessionFetchConfig> cfg, Millis lock = kWorkLock) {
  auto r = FW(s, lock, 0ms, std::move(cfg));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  return std::move(*r);
}

void ack(Store& s, const LockedWorkItem& w, std::optional<WorkItem> completion = std::nullopt) {
  auto r = AW(s, w.lock_token, std::move(completion));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

WorkItem completion_for(const LockedWorkItem& w) {
  return WorkItem::ActivityCompleted{act(w).instance, act(w).execution_id, act(w).id, "result"};
}

// Enqueues item `id` of session `sid`, claims it as `cfg` and acks it.
void claim_and_ack(Store& s, uint64_t id, const std::string& sid, const SessionFetchConfig& cfg) {
  enqueue(s, session_activity(kInst, id, sid));
  auto w = fetch(s, cfg);
  REQUIRE(w);
  REQUIRE(act(*w).id == id);
  REQUIRE(act(*w).session_id == std::optional<std::string>(sid));
  ack(s, *w);
}

uint64_t RS(Store& s, std::vector<std::string> owners, Millis extend, Millis idle) {
  auto r = await<uint64_t>(s.loop(), [&](auto cb) { s->renew_session_lock(std::move(owners), extend, idle, std::move(cb)); });
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  return *r;
}

uint64_t CS(Store& s, Millis idle) {
  auto r = await<uint64_t>(s.loop(), [&](auto cb) { s->cleanup_orphaned_sessions(idle, std::move(cb)); });
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  return *r;
}

}  // namespace

TEST_CASE("sessions::test_non_session_items_fetchable_by_any_worker") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, plain_activity(kInst, 1));
  CHECK(fetch(s, session_config("worker-A")).has_value());
}

TEST_CASE("sessions::test_session_item_claimable_when_no_session") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "session-1"));
  auto w = fetch(s, session_config("worker-A"));
  REQUIRE(w);
  CHECK(act(*w).session_id == std::optional<std::string>("session-1"));
}

TEST_CASE("sessions::test_session_affinity_same_worker") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config("worker-A"));
  enqueue(s, session_activity(kInst, 2, "session-1"));
  CHECK(fetch(s, session_config("worker-A")).has_value());
}

TEST_CASE("sessions::test_session_affinity_blocks_other_worker") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config("worker-A"));
  enqueue(s, session_activity(kInst, 2, "session-1"));
  CHECK_FALSE(fetch(s, session_config("worker-B")).has_value());
}

TEST_CASE("sessions::test_different_sessions_different_workers") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config("worker-A"));
  claim_and_ack(s, 2, "session-2", session_config("worker-B"));
  enqueue(s, session_activity(kInst, 3, "session-1"));
  enqueue(s, session_activity(kInst, 4, "session-2"));
  auto a = fetch(s, session_config("worker-A"));
  REQUIRE(a);
  CHECK(act(*a).session_id == std::optional<std::string>("session-1"));
  CHECK(act(*a).id == 3);
  auto b = fetch(s, session_config("worker-B"));
  REQUIRE(b);
  CHECK(act(*b).session_id == std::optional<std::string>("session-2"));
  CHECK(act(*b).id == 4);
}

TEST_CASE("sessions::test_mixed_session_and_non_session_items") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config("worker-A"));
  enqueue(s, session_activity(kInst, 2, "session-1"));
  enqueue(s, plain_activity(kInst, 3));
  auto b = fetch(s, session_config("worker-B"));
  REQUIRE(b);
  CHECK_FALSE(act(*b).session_id.has_value());
  CHECK(act(*b).id == 3);
}

TEST_CASE("sessions::test_session_claimable_after_lock_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config_with_lock("worker-A", 50ms));
  sleep_for(f, 100ms);
  enqueue(s, session_activity(kInst, 2, "session-1"));
  auto b = fetch(s, session_config("worker-B"));
  REQUIRE(b);
  CHECK(act(*b).id == 2);
}

TEST_CASE("sessions::test_none_session_skips_session_items") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "session-1"));
  enqueue(s, plain_activity(kInst, 2));

  auto p = fetch(s, std::nullopt);
  REQUIRE(p);
  CHECK(act(*p).id == 2);
  CHECK_FALSE(act(*p).session_id.has_value());
  ack(s, *p);
  CHECK_FALSE(fetch(s, std::nullopt).has_value());

  auto a = fetch(s, session_config("worker-A"));
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  CHECK(act(*a).session_id == std::optional<std::string>("session-1"));
}

TEST_CASE("sessions::test_some_session_returns_all_items") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "sess-A"));
  enqueue(s, session_activity(kInst, 2, "sess-B"));
  enqueue(s, session_activity(kInst, 3, "sess-C"));
  enqueue(s, plain_activity(kInst, 4));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    auto w = fetch(s, session_config("shared-proc"));
    REQUIRE(w);
    ids.push_back(act(*w).id);
    ack(s, *w);
  }
  CHECK(ids == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK_FALSE(fetch(s, session_config("shared-proc")).has_value());
}

TEST_CASE("sessions::test_renew_session_lock_active") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config_with_lock("worker-A", 5s));
  CHECK(RS(s, {"worker-A"}, 30s, 300s) == 1);
  claim_and_ack(s, 2, "session-2", session_config_with_lock("worker-A", 5s));
  CHECK(RS(s, {"worker-A"}, 30s, 300s) == 2);
}

TEST_CASE("sessions::test_renew_session_lock_skips_idle") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config("worker-A"));
  CHECK(RS(s, {"worker-A"}, 30s, 0ms) == 0);
}

TEST_CASE("sessions::test_renew_session_lock_no_sessions") {
  LoopFixture f;
  Store s = create_provider(f);
  CHECK(RS(s, {"worker-A"}, 30s, 300s) == 0);
}

TEST_CASE("sessions::test_cleanup_removes_expired_no_items" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config_with_lock("worker-A", 50ms));
  sleep_for(f, 100ms);
  CHECK(CS(s, 300s) == 1);
}

TEST_CASE("sessions::test_cleanup_keeps_sessions_with_pending_items" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config_with_lock("worker-A", 50ms));
  enqueue(s, session_activity(kInst, 2, "session-1"));
  sleep_for(f, 100ms);
  CHECK(CS(s, 300s) == 0);
}

TEST_CASE("sessions::test_cleanup_keeps_active_sessions") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config_with_lock("worker-A", 300s));
  CHECK(CS(s, 300s) == 0);
}

TEST_CASE("sessions::test_ack_updates_session_last_activity" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "session-1"));
  auto w = fetch(s, session_config("worker-A"));
  REQUIRE(w);
  sleep_for(f, 250ms);
  ack(s, *w, completion_for(*w));
  CHECK(RS(s, {"worker-A"}, 30s, 200ms) == 1);
}

TEST_CASE("sessions::test_renew_work_item_updates_session_last_activity" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "session-1"));
  auto w = fetch(s, session_config("worker-A"));
  REQUIRE(w);
  sleep_for(f, 250ms);
  auto r = RW(s, w->lock_token, 30s);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  CHECK(RS(s, {"worker-A"}, 30s, 200ms) == 1);
}

TEST_CASE("sessions::test_session_items_processed_in_order") {
  LoopFixture f;
  Store s = create_provider(f);
  for (uint64_t id = 1; id <= 3; ++id) enqueue(s, session_activity(kInst, id, "ordered-sess"));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto w = fetch(s, session_config("worker-A"));
    REQUIRE(w);
    ids.push_back(act(*w).id);
    ack(s, *w);
  }
  CHECK(ids == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("sessions::test_non_session_items_returned_with_session_config") {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config("worker-A"));
  enqueue(s, plain_activity(kInst, 2));
  auto w = fetch(s, session_config("worker-A"));
  REQUIRE(w);
  CHECK(act(*w).id == 2);
  CHECK_FALSE(act(*w).session_id.has_value());
}

TEST_CASE("sessions::test_shared_worker_id_any_caller_can_fetch_owned_session") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "shared-sess"));
  enqueue(s, session_activity(kInst, 2, "shared-sess"));
  auto a = fetch(s, session_config("process-1"));
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  ack(s, *a);
  auto b = fetch(s, session_config("process-1"));
  REQUIRE(b);
  CHECK(act(*b).id == 2);
  ack(s, *b);
  enqueue(s, session_activity(kInst, 3, "shared-sess"));
  CHECK_FALSE(fetch(s, session_config("process-2")).has_value());
}

TEST_CASE("sessions::test_concurrent_session_claim_only_one_wins") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "contested-sess"));
  enqueue(s, session_activity(kInst, 2, "contested-sess"));
  auto a = fetch(s, session_config("worker-A"));
  CHECK(a.has_value());
  auto b = fetch(s, session_config("worker-B"));
  CHECK_FALSE(b.has_value());
  REQUIRE(a);
  ack(s, *a);
}

TEST_CASE("sessions::test_session_takeover_after_lock_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "takeover-sess", session_config_with_lock("worker-A", 50ms));
  enqueue(s, session_activity(kInst, 2, "takeover-sess"));
  sleep_for(f, 100ms);
  auto b = fetch(s, session_config("worker-B"));
  REQUIRE(b);
  CHECK(act(*b).session_id == std::optional<std::string>("takeover-sess"));
  CHECK(act(*b).id == 2);
}

TEST_CASE("sessions::test_cleanup_then_new_item_recreates_session" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "ephemeral-sess", session_config_with_lock("worker-A", 50ms));
  sleep_for(f, 100ms);
  CHECK(CS(s, 300s) == 1);
  enqueue(s, session_activity(kInst, 2, "ephemeral-sess"));
  auto b = fetch(s, session_config("worker-B"));
  REQUIRE(b);
  CHECK(act(*b).id == 2);
  CHECK(act(*b).session_id == std::optional<std::string>("ephemeral-sess"));
}

TEST_CASE("sessions::test_abandoned_session_item_retryable") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "retry-sess"));
  auto a = fetch(s, session_config("worker-A"));
  REQUIRE(a);
  CHECK(a->attempt_count == 1);
  CHECK(act(*a).id == 1);
  auto ab = AbW(s, a->lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab, (ab ? "" : ab.error().to_string()));
  auto b = fetch(s, session_config("worker-A"));
  REQUIRE(b);
  CHECK(b->attempt_count == 2);
  CHECK(act(*b).id == 1);
  ack(s, *b);
  CHECK_FALSE(fetch(s, session_config("worker-A")).has_value());
}

TEST_CASE("sessions::test_abandoned_session_item_ignore_attempt") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "ignore-sess"));
  auto a = fetch(s, session_config("worker-A"));
  REQUIRE(a);
  CHECK(a->attempt_count == 1);
  auto ab = AbW(s, a->lock_token, 1ms, true);
  REQUIRE_MESSAGE(ab, (ab ? "" : ab.error().to_string()));
  sleep_for(f, 10ms);
  auto b = fetch(s, session_config("worker-A"));
  REQUIRE(b);
  CHECK(b->attempt_count == 1);
}

TEST_CASE("sessions::test_renew_session_lock_after_expiry_returns_zero" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "session-1", session_config_with_lock("worker-A", 50ms));
  sleep_for(f, 100ms);
  CHECK(RS(s, {"worker-A"}, 30s, 300s) == 0);
}

TEST_CASE("sessions::test_original_worker_reclaims_expired_session" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  claim_and_ack(s, 1, "reclaim-sess", session_config_with_lock("worker-A", 50ms));
  enqueue(s, session_activity(kInst, 2, "reclaim-sess"));
  sleep_for(f, 100ms);
  auto a = fetch(s, session_config("worker-A"));
  REQUIRE(a);
  CHECK(act(*a).id == 2);
  CHECK(act(*a).session_id == std::optional<std::string>("reclaim-sess"));
}

TEST_CASE("sessions::test_activity_lock_expires_session_lock_valid_same_worker_refetches" *
          doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "sticky-sess"));
  auto a = fetch(s, session_config("worker-A"), 500ms);
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  sleep_for(f, 600ms);
  CHECK_FALSE(fetch(s, session_config("worker-B")).has_value());
  auto again = fetch(s, session_config("worker-A"));
  REQUIRE(again);
  CHECK(act(*again).id == 1);
  CHECK(again->attempt_count == 2);
}

TEST_CASE("sessions::test_session_lock_expires_new_owner_gets_redelivery" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "handoff-sess"));
  auto a = fetch(s, session_config_with_lock("worker-A", 200ms), 5s);
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  sleep_for(f, 300ms);
  enqueue(s, session_activity(kInst, 2, "handoff-sess"));

  auto b1 = fetch(s, session_config("worker-B"));
  REQUIRE(b1);
  CHECK(act(*b1).id == 2);
  ack(s, *b1);

  (void)AbW(s, a->lock_token);  // result ignored
  auto b2 = fetch(s, session_config("worker-B"));
  REQUIRE(b2);
  CHECK(act(*b2).id == 1);
  CHECK(b2->attempt_count == 2);
}

TEST_CASE("sessions::test_session_lock_expires_same_worker_reacquires" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const SessionFetchConfig cfg = session_config_with_lock("worker-A", 200ms);
  claim_and_ack(s, 1, "reacquire-sess", cfg);
  sleep_for(f, 300ms);
  enqueue(s, session_activity(kInst, 2, "reacquire-sess"));
  auto a = fetch(s, cfg);
  REQUIRE(a);
  CHECK(act(*a).id == 2);
}

TEST_CASE("sessions::test_both_locks_expire_different_worker_claims" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "both-sess"));
  auto a = fetch(s, session_config_with_lock("worker-A", 200ms), 200ms);
  REQUIRE(a);
  sleep_for(f, 400ms);
  auto b = fetch(s, session_config("worker-B"));
  REQUIRE(b);
  CHECK(act(*b).id == 1);
  CHECK(act(*b).session_id == std::optional<std::string>("both-sess"));
  CHECK(b->attempt_count == 2);
}

TEST_CASE("sessions::test_session_lock_expires_activity_lock_valid_ack_succeeds" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, session_activity(kInst, 1, "ack-sess"));
  auto a = fetch(s, session_config_with_lock("worker-A", 200ms), 30s);
  REQUIRE(a);
  sleep_for(f, 300ms);
  auto r = AW(s, a->lock_token, completion_for(*a));
  CHECK_MESSAGE(r, (r ? "" : r.error().to_string()));
}

TEST_CASE("sessions::test_session_lock_renewal_extends_past_original_timeout" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const auto t0 = std::chrono::steady_clock::now();
  claim_and_ack(s, 1, "renew-sess", session_config_with_lock("worker-A", 1s));
  auto until = [&](Millis at) {
    const auto elapsed = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0);
    if (elapsed < at) sleep_for(f, at - elapsed);
  };
  until(600ms);
  CHECK(RS(s, {"worker-A"}, 1s, 300s) == 1);
  sleep_for(f, 400ms);  // about 1.0 s after the claim
  enqueue(s, session_activity(kInst, 2, "renew-sess"));
  CHECK_FALSE(fetch(s, session_config("worker-B")).has_value());
  CHECK(fetch(s, session_config("worker-A")).has_value());
}
