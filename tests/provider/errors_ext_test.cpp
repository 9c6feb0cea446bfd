// conformance.md §6.7 — errors_ext: SQLSTATE classification (contract §9.1), provider-raised codes
// and their message texts (§9.2, §9.4), token/expiry/type/id errors, connection loss.
#include <doctest/doctest.h>

#include <chrono>

#include "duroxide/provider_admin.h"
#include "pool/pg_error.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

// Err, permanent, message containing every needle (case-sensitive).
template <class R>
void check_permanent(const R& r, std::initializer_list<const char*> needles, const char* what) {
  CAPTURE(what);
  REQUIRE_FALSE(r);
  CHECK_MESSAGE(!r.error().retryable, r.error().to_string());
  for (const char* n : needles) CHECK_MESSAGE(r.error().message.find(n) != std::string::npos, n << " in: " << r.error().to_string());
}

std::optional<LockedOrchestration> fo(Store& s, Millis lock = 30s) {
  auto r = FO(s, lock);
  REQUIRE_MESSAGE(r, err_text(r));
  return std::move(*r);
}

std::optional<LockedWorkItem> fw(Store& s, Millis lock = 30s) {
  auto r = FW(s, lock);
  REQUIRE_MESSAGE(r, err_text(r));
  return std::move(*r);
}

// A completed instance, optionally a child of `parent`.
void create_completed(Store& s, const std::string& inst, std::optional<std::string> parent = std::nullopt) {
  REQUIRE(EO(s, WorkItem::StartOrchestration{inst, "TestOrch", "{}", std::string("1.0.0"), parent,
                                             parent ? std::optional<uint64_t>(1) : std::nullopt, 1}));
  std::optional<LockedOrchestration> t;
  t = fo(s);
  REQUIRE(t.has_value());
  REQUIRE(t->item.instance == inst);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.delta.push_back(make_event(inst, 1, 2, EventKind::OrchestrationCompleted{"done"}));
  a.metadata = meta("Completed", std::string("done"));
  a.metadata.parent_instance_id = parent;
  auto r = AO(s, t->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

}  // namespace

TEST_CASE("errors_ext::test_sqlstate_classification_table") {
  for (const char* code : {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "08000", "08001", "08003",
                           "08004", "08006", "08P01", "53000", "53100", "53200", "53300", "53400", "0A000", "XX000",
                           "25006"}) {
    CAPTURE(code);
    CHECK(sqlstate_is_retryable(code, false));
    CHECK(pg::error_from_sqlstate(code, "x", false).retryable);
  }
  // Connection lost without a SQLSTATE.
  CHECK(sqlstate_is_retryable("", false));
  CHECK(pg::error_from_sqlstate("", "server closed the connection unexpectedly", false).retryable);
  for (const char* code : {"23505", "23503", "23502", "23514", "22001", "22003", "22P02", "42P01", "42883", "42601",
                           "40002", "P0001", "QD001", "QD002", "QD003", "QD004", "QD005", "QD006", "QD007", "QD008",
                           "QD009"}) {
    CAPTURE(code);
    CHECK_FALSE(sqlstate_is_retryable(code, false));
    CHECK_FALSE(pg::error_from_sqlstate(code, "x", false).retryable);
  }
  for (const char* code : {"28P01", "28000"}) {
    CAPTURE(code);
    CHECK_FALSE(sqlstate_is_retryable(code, false));
    CHECK(sqlstate_is_retryable(code, true));
    CHECK_FALSE(pg::error_from_sqlstate(code, "auth", false).retryable);
    CHECK(pg::error_from_sqlstate(code, "auth", true).retryable);
  }
}

TEST_CASE("errors_ext::test_provider_raised_codes_map_to_messages") {
  const std::pair<const char*, std::vector<const char*>> table[] = {
      {"QD001", {"Invalid lock token"}},
      {"QD002", {"Invalid lock token", "expired"}},
      {"QD003", {"not found"}},
      {"QD004", {"not found"}},
      {"QD005", {"still running"}},
      {"QD006", {"sub-orchestration"}},
      {"QD007", {"orphan", "child", "tree"}},
      {"QD008", {"Invalid"}},
      {"QD009", {"schema"}},
  };
  for (const auto& [code, needles] : table) {
    CAPTURE(code);
    // Whatever text the SQL raised (none, unrelated, or already canonical), the mapped error is
    // permanent, keeps its code and carries the required substrings.
    for (const char* sql_text : {"", "informational text", "Invalid lock token: expired orphan child tree"}) {
      CAPTURE(sql_text);
      ProviderError e = pg::error_from_sqlstate(code, sql_text, false);
      CHECK_FALSE(e.retryable);
      CHECK(e.sqlstate == code);
      for (const char* n : needles) CHECK_MESSAGE(e.message.find(n) != std::string::npos, n << " in: " << e.message);
    }
  }
}

TEST_CASE("errors_ext::test_token_errors_are_permanent_with_required_text") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string bad = "no-such-token";
  check_permanent(AO(s, bad, 1), {"Invalid lock token"}, "ack_orchestration_item");
  check_permanent(AbO(s, bad), {"Invalid lock token"}, "abandon_orchestration_item");
  check_permanent(RO(s, bad, 30s), {"Invalid lock token"}, "renew_orchestration_item_lock");
  check_permanent(AW(s, bad), {"Invalid lock token"}, "ack_work_item");
  check_permanent(RW(s, bad, 30s), {"Invalid lock token"}, "renew_work_item_lock");
  check_permanent(AbW(s, bad), {"Invalid lock token"}, "abandon_work_item");
}

TEST_CASE("errors_ext::test_expired_lock_errors" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto t = fo(s, 1000ms);
  REQUIRE(t.has_value());
  f.run_until([] { return false; }, 1100ms);
  AckArgs a;
  a.delta.push_back(started_event("A"));
  a.metadata = meta();
  check_permanent(AO(s, t->lock_token, 1, std::move(a)), {"Invalid lock token", "expired"}, "ack_orchestration_item");
  check_permanent(RO(s, t->lock_token, 30s), {"Invalid lock token"}, "renew_orchestration_item_lock");

  REQUIRE(EW(s, activity_item("A", 1)));
  auto w = fw(s, 1000ms);
  REQUIRE(w.has_value());
  f.run_until([] { return false; }, 1100ms);
  check_permanent(AW(s, w->lock_token, WorkItem::ActivityCompleted{"A", 1, 1, "r"}), {"Invalid lock token"},
                  "ack_work_item");
  check_permanent(RW(s, w->lock_token, 30s), {"Invalid lock token"}, "renew_work_item_lock");
}

TEST_CASE("errors_ext::test_abandon_twice_fails") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto t = fo(s);
  REQUIRE(t.has_value());
  auto first = AbO(s, t->lock_token);
  CHECK_MESSAGE(first, err_text(first));
  check_permanent(AbO(s, t->lock_token), {"Invalid lock token"}, "second abandon_orchestration_item");

  REQUIRE(EW(s, activity_item("A", 1)));
  auto w = fw(s);
  REQUIRE(w.has_value());
  auto wfirst = AbW(s, w->lock_token);
  CHECK_MESSAGE(wfirst, err_text(wfirst));
  check_permanent(AbW(s, w->lock_token), {"Invalid lock token"}, "second abandon_work_item");
}

TEST_CASE("errors_ext::test_management_error_texts") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "running");
  check_permanent(mgmt::delete_instance(s, "running", false), {"still running"}, "delete running");
  check_permanent(mgmt::get_instance_info(s, "nope"), {"not found"}, "get_instance_info");
  check_permanent(mgmt::get_execution_info(s, "running", 99), {"not found"}, "get_execution_info");
  PruneOptions keep;
  keep.keep_last = 1;
  check_permanent(mgmt::prune_executions(s, "nope", keep), {"not found"}, "prune_executions");
  check_permanent(mgmt::get_parent_id(s, "nope"), {"not found"}, "get_parent_id");
  check_permanent(mgmt::delete_instance(s, "nope", false), {"not found"}, "delete_instance unknown");

  const std::string root = "err-root", child = "err-root::sub::2";
  create_completed(s, root);
  create_completed(s, child, root);
  check_permanent(mgmt::delete_instance(s, child, false), {"sub-orchestration"}, "delete child");
  check_permanent(mgmt::delete_instances_atomic(s, {root}, false), {"orphan", "child", "tree"}, "orphan detection");
}

TEST_CASE("errors_ext::test_wrong_work_item_type_rejected") {
  LoopFixture f;
  Store s = create_provider(f);
  check_permanent(EO(s, activity_item("A", 1)), {}, "enqueue_for_orchestrator(ActivityExecute)");
  check_permanent(EW(s, start_item("A")), {}, "enqueue_for_worker(StartOrchestration)");

  REQUIRE(EO(s, start_item("A")));
  auto t = fo(s);
  REQUIRE(t.has_value());
  {
    AckArgs a;
    a.delta.push_back(started_event("A"));
    a.orch_items.push_back(activity_item("A", 1));
    a.metadata = meta();
    check_permanent(AO(s, t->lock_token, 1, std::move(a)), {}, "ack with ActivityExecute in orchestrator_items");
  }
  CHECK_FALSE(fo(s).has_value());  // the failed ack left the lock in place
  {
    AckArgs a;
    a.delta.push_back(started_event("A"));
    a.worker_items.push_back(external_item("A"));
    a.metadata = meta();
    check_permanent(AO(s, t->lock_token, 1, std::move(a)), {}, "ack with ExternalRaised in worker_items");
  }
  {
    AckArgs a;
    a.delta.push_back(started_event("A"));
    a.metadata = meta();
    auto r = AO(s, t->lock_token, 1, std::move(a));
    CHECK_MESSAGE(r, err_text(r));
  }

  REQUIRE(EW(s, activity_item("A", 1)));
  auto w = fw(s);
  REQUIRE(w.has_value());
  check_permanent(AW(s, w->lock_token, external_item("A")), {}, "ack_work_item(ExternalRaised)");
  auto ok = AW(s, w->lock_token, WorkItem::ActivityCompleted{"A", 1, 1, "r"});
  CHECK_MESSAGE(ok, err_text(ok));
}

TEST_CASE("errors_ext::test_invalid_ids_rejected") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("A")));
  auto t = fo(s);
  REQUIRE(t.has_value());
  {
    AckArgs a;
    a.delta.push_back(make_event("A", 1, 0, EventKind::ExternalEvent{"e", "d"}));
    a.metadata = meta();
    check_permanent(AO(s, t->lock_token, 1, std::move(a)), {}, "ack with event_id 0");
  }
  {
    AckArgs a;
    a.delta.push_back(started_event("A", uint64_t{1} << 63));
    a.metadata = meta();
    check_permanent(AO(s, t->lock_token, uint64_t{1} << 63, std::move(a)), {}, "ack with execution_id 2^63");
  }
  {
    std::vector<Event> events;
    events.push_back(make_event("A", 1, 0, EventKind::ExternalEvent{"e", "d"}));
    check_permanent(APPEND(s, "A", 1, std::move(events)), {}, "append with event_id 0");
  }
  auto h = READ(s, "A");
  REQUIRE_MESSAGE(h, err_text(h));
  CHECK(h->empty());
  CHECK_FALSE(fo(s).has_value());  // the lock is still held
}

TEST_CASE("errors_ext::test_append_with_execution_rejects_duplicates") {
  LoopFixture f;
  Store s = create_provider(f);
  std::vector<Event> first;
  first.push_back(make_event("A", 1, 1, EventKind::ActivityScheduled{"first", "in", std::nullopt, std::nullopt}));
  auto r1 = APPEND(s, "A", 1, std::move(first));
  REQUIRE_MESSAGE(r1, err_text(r1));
  std::vector<Event> second;
  second.push_back(make_event("A", 1, 1, EventKind::ActivityScheduled{"second", "in", std::nullopt, std::nullopt}));
  check_permanent(APPEND(s, "A", 1, std::move(second)), {}, "duplicate append");
  auto h = READX(s, "A", 1);
  REQUIRE_MESSAGE(h, err_text(h));
  REQUIRE(h->size() == 1);
  const auto* sched = (*h)[0].kind.get_if<EventKind::ActivityScheduled>();
  REQUIRE(sched != nullptr);
  CHECK(sched->name == "first");
}

TEST_CASE("errors_ext::test_connection_loss_is_retryable_and_recovers") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "A");
  CHECK(s.terminate_backends_and_wait("query") > 0);
  auto first = FO(s);
  CHECK_MESSAGE((first || first.error().retryable), err_text(first));
  auto second = FO(s);
  CHECK_MESSAGE(second, err_text(second));
}

TEST_CASE("errors_ext::test_instance_id_with_nul_rejected") {
  LoopFixture f;
  Store s = create_provider(f);
  check_permanent(EO(s, start_item(std::string("bad\0id", 6))), {}, "instance id with U+0000");
}
