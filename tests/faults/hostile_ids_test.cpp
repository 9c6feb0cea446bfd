// Issue 8 §7: hostile identifiers through the public API (contract §2.4: instance ids are
// arbitrary UTF-8 without U+0000). Every id must survive a whole orchestration — start, a turn
// that schedules an activity and writes KV and custom status, the activity, completion, reads and
// admin calls, deletion — untouched, without touching anything else. Ids PostgreSQL text cannot
// hold (U+0000, invalid UTF-8) must be refused with a permanent error, never crash or leak a lock.
// U+0000 in the enqueued instance id is errors_ext::test_instance_id_with_nul_rejected; the
// schema-name variant of this test is schema_and_migrations::test_schema_name_injection.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "faults/error_checks.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

const std::vector<std::string> kHostileIds = {
    "it's",
    "\"double\"",
    "back\\slash\\",
    "'; DROP TABLE history; --",
    "x'); DELETE FROM instances; SELECT ('",
    "$1",
    "%_*?[a-z]",
    "{\"StartOrchestration\":{}}",
    "\\N",
    "NULL",
    "parent::sub::5",
    " leading and trailing ",
    "tab\there\nnewline\r",
    "\x01\x1f\x7f",
    "é 中文 😀 \u200f\ufeff",
    std::string(2000, 'L'),  // long, but inside the B-tree index row limit (see the test below)
};

Result<std::optional<CustomStatus>> custom_status(Store& s, const std::string& inst) {
  return await<std::optional<CustomStatus>>(s.loop(), [&](auto cb) { s->get_custom_status(inst, 0, std::move(cb)); });
}

// One orchestration with one activity, all identifiers (instance, KV key, session, tag) = id.
void lifecycle(Store& s, const std::string& id) {
  REQUIRE(EO(s, start_item(id)));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  CHECK(t->item.instance == id);
  {
    AckArgs a;
    a.delta.push_back(started_event(id));
    a.delta.push_back(make_event(id, 1, 2, EventKind::ActivityScheduled{"Act", id, id, id}));
    a.delta.push_back(make_event(id, 1, 3, EventKind::KeyValueSet{id, id, 5}));
    a.delta.push_back(make_event(id, 1, 4, EventKind::CustomStatusUpdated{id}));
    a.worker_items.push_back(WorkItem::ActivityExecute{id, 1, 2, "Act", id, id, id});
    a.metadata = meta();
    ok(AO(s, t->lock_token, 1, std::move(a)));
  }
  auto w = ok(FW(s, 30s, 0ms, SessionFetchConfig{"owner", 30s}, TagFilter::Tags{{id}}));
  REQUIRE(w.has_value());
  const auto* ae = w->item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  CHECK(ae->instance == id);
  CHECK(ae->session_id == id);
  CHECK(ae->tag == id);
  ok(AW(s, w->lock_token, WorkItem::ActivityCompleted{id, 1, 2, id}));

  auto turn = ok(FO(s));
  REQUIRE(turn.has_value());
  CHECK(turn->item.instance == id);
  REQUIRE(turn->item.messages.size() == 1);
  CHECK(turn->item.messages[0].get_if<WorkItem::ActivityCompleted>()->result == id);
  {
    AckArgs a;
    a.delta.push_back(make_event(id, 1, 5, EventKind::ActivityCompleted{id}, 2));
    a.delta.push_back(make_event(id, 1, 6, EventKind::OrchestrationCompleted{id}));
    a.metadata = meta("Completed", id);
    ok(AO(s, turn->lock_token, 1, std::move(a)));
  }

  auto h = ok(READ(s, id));
  REQUIRE(h.size() == 6);
  for (const Event& e : h) CHECK(e.instance_id == id);
  CHECK(ok(KV(s, id, id)) == std::optional<std::string>(id));
  auto cs = ok(custom_status(s, id));
  REQUIRE(cs.has_value());
  CHECK(cs->status == id);
  auto info = ok(mgmt::get_instance_info(s, id));
  CHECK(info.instance_id == id);
  CHECK(info.status == "Completed");
  CHECK(info.output == id);
  auto listed = ok(mgmt::list_instances(s));
  CHECK(std::ranges::count(listed, id) == 1);
  auto del = ok(mgmt::delete_instance(s, id, false));
  CHECK(del.instances_deleted == 1);
  CHECK_FALSE(mgmt::exists(s, id));
}

}  // namespace

TEST_CASE("bad_input::hostile_instance_ids_round_trip_and_touch_nothing_else") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "sentinel");
  for (const std::string& id : kHostileIds) {
    CAPTURE(id);
    lifecycle(s, id);
  }
  // Nothing else was touched: the sentinel is intact and is all that is left.
  auto h = READ(s, "sentinel");
  REQUIRE_MESSAGE(h, err_text(h));
  CHECK(h->size() == 1);
  auto listed = ok(mgmt::list_instances(s));
  CHECK(listed == std::vector<std::string>{"sentinel"});
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("worker_queue")) == 0);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("orchestrator_queue")) == 0);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("instance_locks")) == 0);
}

TEST_CASE("bad_input::invalid_utf8_ids_are_refused_permanently") {
  LoopFixture f;
  Store s = create_provider(f);
  for (const std::string& id : {std::string("\xff\xfe"), std::string("trunc\xc3"), std::string("overlong\xc0\xaf"),
                                std::string("surrogate\xed\xa0\x80")}) {
    CAPTURE(id);
    check_permanent(EO(s, start_item(id)), "enqueue_for_orchestrator", {});
    check_permanent(EW(s, activity_item(id, 1)), "enqueue_for_worker", {});
    // Reads of an id that cannot exist: a clear permanent error or nothing, never a crash.
    auto h = READ(s, id);
    if (h) CHECK(h->empty());
    else check_permanent(h, "read", {});
    auto v = KV(s, id, "k");
    if (v) CHECK_FALSE(v->has_value());
    else check_permanent(v, "get_kv_value", {});
  }
  // The queues are empty and usable.
  auto none = FO(s);
  REQUIRE_MESSAGE(none, err_text(none));
  CHECK_FALSE(none->has_value());
  create_instance(s, "after");
}

// An ack whose identifiers cannot be stored fails permanently before anything is applied, and
// keeps the lock: the runtime's next ack on the same token (the failure event) must still work.
TEST_CASE("bad_input::unstorable_identifiers_in_an_ack_keep_the_lock") {
  const std::string nul("nul\0id", 6);
  const std::string bad_utf8("bad\xff");
  struct Case {
    const char* what;
    std::function<void(AckArgs&)> spoil;
  };
  const std::vector<Case> cases = {
      {"worker item instance with U+0000", [&](AckArgs& a) { a.worker_items.push_back(activity_item(nul, 2)); }},
      {"worker item session with U+0000",
       [&](AckArgs& a) { a.worker_items.push_back(activity_item("I", 2, 1, nul)); }},
      {"worker item tag with U+0000",
       [&](AckArgs& a) { a.worker_items.push_back(activity_item("I", 2, 1, std::nullopt, nul)); }},
      {"orchestrator item instance with U+0000", [&](AckArgs& a) { a.orch_items.push_back(external_item(nul)); }},
      {"KV key with U+0000", [&](AckArgs& a) { a.delta.push_back(make_event("I", 1, 2, EventKind::KeyValueSet{nul, "v", 1})); }},
      {"orchestration name with U+0000", [&](AckArgs& a) { a.metadata.orchestration_name = nul; }},
      {"parent id with U+0000", [&](AckArgs& a) { a.metadata.parent_instance_id = nul; }},
      {"worker item instance not UTF-8", [&](AckArgs& a) { a.worker_items.push_back(activity_item(bad_utf8, 2)); }},
      {"orchestrator item instance not UTF-8", [&](AckArgs& a) { a.orch_items.push_back(external_item(bad_utf8)); }},
      {"KV key not UTF-8",
       [&](AckArgs& a) { a.delta.push_back(make_event("I", 1, 2, EventKind::KeyValueSet{bad_utf8, "v", 1})); }},
      {"orchestration name not UTF-8", [&](AckArgs& a) { a.metadata.orchestration_name = bad_utf8; }},
  };
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("I")));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  for (const Case& c : cases) {
    CAPTURE(c.what);
    AckArgs a;
    a.delta.push_back(started_event("I"));
    a.metadata = meta();
    c.spoil(a);
    check_permanent(AO(s, t->lock_token, 1, std::move(a)), "ack_orchestration_item", {});
    CHECK(s.live_instance_lock("I"));
    CHECK(s.count_rows("history", "I") == 0);
  }
  AckArgs clean;
  clean.delta.push_back(started_event("I"));
  clean.metadata = meta();
  ok(AO(s, t->lock_token, 1, std::move(clean)));
  CHECK_FALSE(s.live_instance_lock("I"));
  CHECK(s.count_rows("history", "I") == 1);
}

// PostgreSQL cannot index a value much above 2.7 KB that does not compress: such an id fails with
// a clear error naming the operation (SQLSTATE 54000, which the contract's default rule
// classifies as retryable, §9.1) and stores nothing; the queues keep working.
TEST_CASE("bad_input::incompressible_8k_instance_id_fails_cleanly") {
  std::string id;
  uint32_t x = 12345;
  while (id.size() < 8192) {
    x = x * 1103515245u + 12345u;
    id.push_back(static_cast<char>('!' + (x >> 16) % 94));
  }
  LoopFixture f;
  Store s = create_provider(f);
  auto r = EO(s, start_item(id));
  if (!r) {
    // Observed: SQLSTATE 54000 "index row size ... exceeds btree maximum", retryable.
    CHECK(r.error().operation == "enqueue_for_orchestrator");
    CHECK_FALSE(r.error().message.empty());
    check_no_secret(r.error());
    CHECK(s.sql_int("SELECT count(*) FROM " + s.table("orchestrator_queue")) == 0);
  } else {
    auto t = ok(FO(s));  // stored after all: it must then round-trip
    REQUIRE(t.has_value());
    CHECK((t->item.instance == id));
    ok(AbO(s, t->lock_token, 60s));
  }
  create_instance(s, "after");
}
