// conformance.md §6.3 — quarantine: a queue row that cannot be turned into a valid item for its
// queue is unlocked, counted (+1 attempt) and hidden with exponential backoff; it never wedges a
// queue, never fails a fetch, and never makes a fetch return None while other work exists
// (contract §7.3).
#include <doctest/doctest.h>

#include <chrono>

#include "duroxide/provider_admin.h"
#include "duroxide/wire.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

// The two corruption variants of conformance.md §2.1.
const char* corrupt_text(int variant) { return variant == 0 ? "NOT_VALID_JSON{{{" : "{\"garbage\":true}"; }

const std::string kInst = "q-inst";

uint64_t activity_id_of(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return ae->id;
}

std::optional<LockedWorkItem> fw(Store& s, Millis poll = 0ms) {
  auto r = FW(s, 30s, poll);
  REQUIRE_MESSAGE(r, err_text(r));
  return std::move(*r);
}

std::optional<LockedOrchestration> fo(Store& s) {
  auto r = FO(s, 30s);
  REQUIRE_MESSAGE(r, err_text(r));
  return std::move(*r);
}

std::string ext_data(const WorkItem& m) {
  const auto* e = m.get_if<WorkItem::ExternalRaised>();
  REQUIRE(e != nullptr);
  return e->data;
}

}  // namespace

TEST_CASE("quarantine::test_corrupt_worker_item_does_not_wedge_worker_queue") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    REQUIRE(EW(s, activity_item(kInst, 1)));
    s.corrupt_worker_item(kInst, 1, corrupt_text(variant));
    REQUIRE(EW(s, activity_item(kInst, 2)));
    REQUIRE(EW(s, activity_item(kInst, 3)));
    auto w2 = fw(s);
    REQUIRE(w2.has_value());
    CHECK(activity_id_of(*w2) == 2);
    auto w3 = fw(s);
    REQUIRE(w3.has_value());
    CHECK(activity_id_of(*w3) == 3);
    CHECK_FALSE(fw(s).has_value());
    auto row = s.worker_row(kInst, 1);
    REQUIRE(row.exists);
    CHECK_FALSE(row.locked);
    CHECK(row.attempt_count == 1);
  }
}

TEST_CASE("quarantine::test_corrupt_worker_item_alone_returns_none") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    REQUIRE(EW(s, activity_item(kInst, 1)));
    s.corrupt_worker_item(kInst, 1, corrupt_text(variant));
    CHECK_FALSE(fw(s).has_value());
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(fw(s, 500ms).has_value());
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    CHECK_MESSAGE(elapsed >= 500ms, std::chrono::duration_cast<Millis>(elapsed).count() << " ms");
  }
}

TEST_CASE("quarantine::test_quarantine_backoff_schedule") {
  LoopFixture f;
  ManualClock clock;
  const int64_t T = clock.now();
  Store s = create_provider_with_clock(f, clock);
  REQUIRE(EW(s, activity_item(kInst, 1)));
  s.corrupt_worker_item(kInst, 1, corrupt_text(0));
  int64_t fetch_time = T;
  bool probed_early = false;
  for (int64_t n = 1; n <= 8; ++n) {
    CAPTURE(n);
    clock.set(fetch_time);
    CHECK_FALSE(fw(s).has_value());
    auto row = s.worker_row(kInst, 1);
    REQUIRE(row.exists);
    CHECK(row.attempt_count == n);
    CHECK_FALSE(row.locked);
    const int64_t backoff = std::min<int64_t>(1000LL << (n - 1), 60000);
    CHECK(row.visible_at == fetch_time + backoff);
    if (n == 3 && !probed_early) {  // one FW 1 ms before visibility leaves the row unchanged
      probed_early = true;
      clock.set(row.visible_at - 1);
      CHECK_FALSE(fw(s).has_value());
      auto same = s.worker_row(kInst, 1);
      CHECK(same.attempt_count == row.attempt_count);
      CHECK(same.visible_at == row.visible_at);
      CHECK(same.locked == row.locked);
    }
    fetch_time = row.visible_at;
  }
  CHECK(probed_early);
}

TEST_CASE("quarantine::test_wrong_variant_in_worker_queue_quarantined") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item(kInst, 1)));
  s.corrupt_worker_item(kInst, 1, encode(start_item(kInst)));
  REQUIRE(EW(s, activity_item(kInst, 2)));
  auto w = fw(s);
  REQUIRE(w.has_value());
  CHECK(activity_id_of(*w) == 2);
  auto row = s.worker_row(kInst, 1);
  REQUIRE(row.exists);
  CHECK_FALSE(row.locked);
  CHECK(row.attempt_count == 1);
}

TEST_CASE("quarantine::test_corrupt_orchestrator_message_excluded_from_batch" * doctest::test_suite("slow")) {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string a = "q-orch-a";
    create_instance(s, a);
    REQUIRE(EO(s, external_item(a, "evt", "e1")));
    REQUIRE(EO(s, external_item(a, "evt", "e2")));
    REQUIRE(EO(s, external_item(a, "evt", "e3")));
    s.corrupt_orchestrator_message(a, 1, corrupt_text(variant));
    auto t = fo(s);
    REQUIRE(t.has_value());
    CHECK(t->item.instance == a);
    REQUIRE(t->item.messages.size() == 2);
    CHECK(ext_data(t->item.messages[0]) == "e1");
    CHECK(ext_data(t->item.messages[1]) == "e3");
    CHECK(t->attempt_count == 1);
    auto r = AO(s, t->lock_token, 1);
    REQUIRE_MESSAGE(r, err_text(r));
    auto rows = s.orchestrator_rows(a);
    REQUIRE(rows.size() == 1);
    CHECK_FALSE(rows[0].locked);
    CHECK(rows[0].attempt_count == 1);
    f.run_until([] { return false; }, 1100ms);
    CHECK_FALSE(fo(s).has_value());
    rows = s.orchestrator_rows(a);
    REQUIRE(rows.size() == 1);
    CHECK_FALSE(rows[0].locked);
    CHECK(rows[0].attempt_count == 2);
    CHECK_FALSE(s.live_instance_lock(a));
  }
}

TEST_CASE("quarantine::test_corrupt_only_message_moves_to_next_instance") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "q-a");
  create_instance(s, "q-b");
  REQUIRE(EO(s, external_item("q-a", "evt", "e1")));
  s.corrupt_orchestrator_message("q-a", 0, corrupt_text(0));
  REQUIRE(EO(s, external_item("q-b", "evt", "e2")));
  auto t = fo(s);
  REQUIRE(t.has_value());
  CHECK(t->item.instance == "q-b");
  CHECK_FALSE(s.live_instance_lock("q-a"));
}

TEST_CASE("quarantine::test_activity_execute_in_orchestrator_queue_quarantined") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string a = "q-act-a";
  create_instance(s, a);
  REQUIRE(EO(s, external_item(a, "evt", "e1")));
  s.corrupt_orchestrator_message(a, 0, encode(activity_item(a, 1)));
  REQUIRE(EO(s, external_item(a, "evt", "e2")));
  auto t = fo(s);
  REQUIRE(t.has_value());
  CHECK(t->item.instance == a);
  REQUIRE(t->item.messages.size() == 1);
  CHECK(ext_data(t->item.messages[0]) == "e2");
  auto rows = s.orchestrator_rows(a);
  REQUIRE(rows.size() == 2);
  CHECK_FALSE(rows[0].locked);
  CHECK(rows[0].attempt_count == 1);
}

TEST_CASE("quarantine::test_quarantined_rows_removed_by_instance_deletion") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string a = "q-del-a";
  create_instance(s, a);
  REQUIRE(EW(s, activity_item(a, 1)));
  REQUIRE(EO(s, external_item(a, "evt", "e1")));
  s.corrupt_worker_item(a, 1, corrupt_text(0));
  s.corrupt_orchestrator_message(a, 0, corrupt_text(0));
  CHECK_FALSE(fw(s).has_value());
  CHECK_FALSE(fo(s).has_value());
  REQUIRE(s.worker_row(a, 1).attempt_count == 1);
  REQUIRE(s.orchestrator_rows(a).size() == 1);
  REQUIRE(s.orchestrator_rows(a)[0].attempt_count == 1);
  auto d = mgmt::delete_instance(s, a, true);
  REQUIRE_MESSAGE(d, err_text(d));
  CHECK(d->queue_messages_deleted >= 2);
  CHECK(s.orchestrator_rows(a).empty());
  CHECK_FALSE(s.worker_row(a, 1).exists);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("worker_queue") + " WHERE instance_id = $1", pg::Params().add(a)) == 0);
}

TEST_CASE("quarantine::test_queue_depths_exclude_quarantined_rows") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item(kInst, 1)));
  s.corrupt_worker_item(kInst, 1, corrupt_text(0));
  CHECK_FALSE(fw(s).has_value());
  REQUIRE(s.worker_row(kInst, 1).attempt_count == 1);
  auto d = mgmt::get_queue_depths(s);
  REQUIRE_MESSAGE(d, err_text(d));
  CHECK(d->worker_queue == 0);
}
