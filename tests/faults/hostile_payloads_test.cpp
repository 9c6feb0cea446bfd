// Issue 8 §7: hostile payloads through the public API (contract §2.5: opaque strings are stored
// and returned byte for byte). Every payload position a turn has — start input, event data,
// activity input and result, KV value, custom status, execution output — carries the same text
// and is compared byte for byte after the round trip. A payload of short tricky strings, and a
// 10 MB one. Bytes that are not UTF-8 cannot live in JSON text (PostgreSQL refuses them): the
// write fails permanently and leaves the queues and locks as they were.
// schema_and_migrations::test_stored_json_is_codec_output already checks the stored JSON text of
// one tricky payload; this checks what comes back through the API, at size.
#include <doctest/doctest.h>

#include "faults/error_checks.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

// Quotes, SQL, escapes, every control character, U+0000, every UTF-8 length, the JSON-unsafe
// separators U+2028/U+2029, the highest code point.
std::string tricky() {
  std::string s = "'\"\\/ '; DROP TABLE history; -- $1 %s {\"a\":[1,\"\\u0000\"]} E'\\x00' \\N NULL ";
  for (int c = 0; c < 0x20; ++c) s.push_back(static_cast<char>(c));
  s += "\x7f é ߿ ࠀ 中 \u2028\u2029 \uffff 😀 \U0010FFFF";
  return s;
}

// `bytes` long: numbered text lines with the tricky characters once every ~4 KiB. Its JSON is
// barely longer than itself and it compresses like real payloads: the time goes to moving 10 MB
// around, not into escapes or the server's compression of incompressible text.
std::string large(size_t bytes) {
  const std::string t = tricky();
  std::string s;
  s.reserve(bytes + 4096);
  for (uint64_t line = 0; s.size() < bytes; ++line) {
    s += "line " + std::to_string(line) + " of a large payload, mostly plain text\n";
    if (line % 64 == 0) s += t;
  }
  s.resize(bytes);
  // Resizing may have cut a multi-byte character: end on ASCII.
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return s;
}

// Byte equality without doctest printing both sides (10 MB each) when it fails.
bool same(const std::string& got, const std::string& want) { return got == want; }
bool same(const std::optional<std::string>& got, const std::string& want) { return got && *got == want; }

// One orchestration of one activity that carries `p` through every payload position: start
// input, activity input and result (queue rows), event payloads (history), execution output and,
// with `every_position`, the KV value, custom status and all other events too (the runtime caps
// KV values at 16 KiB and custom status at 256 KiB; the large payload skips them and keeps the
// history to one copy so the test moves ~50 MB, not ~100 MB).
void round_trip(Store& s, const std::string& inst, const std::string& p, bool every_position) {
  const std::string q = every_position ? p : std::string("x");
  REQUIRE(EO(s, WorkItem::StartOrchestration{inst, "Orch", p, std::string("1.0.0"), std::nullopt, std::nullopt, 1}));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  REQUIRE(t->item.messages.size() == 1);
  CHECK(same(t->item.messages[0].get_if<WorkItem::StartOrchestration>()->input, p));
  {
    AckArgs a;
    Event started = started_event(inst);
    started.kind.get_if<EventKind::OrchestrationStarted>()->input = q;
    a.delta.push_back(std::move(started));
    a.delta.push_back(make_event(inst, 1, 2, EventKind::ActivityScheduled{"Act", q, std::nullopt, std::nullopt}));
    if (every_position) {
      a.delta.push_back(make_event(inst, 1, 3, EventKind::KeyValueSet{"k", p, 7}));
      a.delta.push_back(make_event(inst, 1, 4, EventKind::CustomStatusUpdated{p}));
    }
    a.worker_items.push_back(WorkItem::ActivityExecute{inst, 1, 2, "Act", p, std::nullopt, std::nullopt});
    a.metadata = meta();
    ok(AO(s, t->lock_token, 1, std::move(a)));
  }
  auto w = ok(FW(s));
  REQUIRE(w.has_value());
  CHECK(same(w->item.get_if<WorkItem::ActivityExecute>()->input, p));
  ok(AW(s, w->lock_token, WorkItem::ActivityCompleted{inst, 1, 2, p}));
  auto turn = ok(FO(s));
  REQUIRE(turn.has_value());
  REQUIRE(turn->item.messages.size() == 1);
  CHECK(same(turn->item.messages[0].get_if<WorkItem::ActivityCompleted>()->result, p));
  REQUIRE(turn->item.history.size() == (every_position ? 4u : 2u));
  CHECK(same(turn->item.history[1].kind.get_if<EventKind::ActivityScheduled>()->input, q));
  {
    AckArgs a;
    a.delta.push_back(make_event(inst, 1, 5, EventKind::ActivityCompleted{p}, 2));
    a.delta.push_back(make_event(inst, 1, 6, EventKind::OrchestrationCompleted{q}));
    a.metadata = meta("Completed", p);
    ok(AO(s, turn->lock_token, 1, std::move(a)));
  }
  auto h = ok(READ(s, inst));
  REQUIRE(h.size() == (every_position ? 6u : 4u));
  CHECK(same(h[0].kind.get_if<EventKind::OrchestrationStarted>()->input, q));
  CHECK(same(h[h.size() - 2].kind.get_if<EventKind::ActivityCompleted>()->result, p));
  CHECK(same(h.back().kind.get_if<EventKind::OrchestrationCompleted>()->output, q));
  CHECK(same(ok(mgmt::get_instance_info(s, inst)).output, p));
  if (every_position) {
    CHECK(same(ok(KV(s, inst, "k")), p));
    auto cs = ok(await<std::optional<CustomStatus>>(s.loop(), [&](auto cb) { s->get_custom_status(inst, 0, std::move(cb)); }));
    REQUIRE(cs.has_value());
    CHECK(same(cs->status, p));
  }
}

}  // namespace

TEST_CASE("bad_input::tricky_payloads_round_trip_byte_exact") {
  LoopFixture f;
  Store s = create_provider(f);
  round_trip(s, "tricky", tricky(), true);
  round_trip(s, "empty", "", true);  // empty is a value, distinct from absent
}

TEST_CASE("bad_input::ten_megabyte_payloads_round_trip_byte_exact") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string p = large(10u << 20);
  round_trip(s, "large", p, false);
  // Its neighbours are not slowed into timeouts or disturbed.
  create_instance(s, "small");
  CHECK(s.count_rows("history", "small") == 1);
}

TEST_CASE("bad_input::invalid_utf8_in_json_payloads_fails_permanently_and_changes_nothing") {
  const std::string bad = "ok so far \xff\xfe then not";
  LoopFixture f;
  Store s = create_provider(f);
  check_permanent(EO(s, WorkItem::StartOrchestration{"I", "Orch", bad, std::nullopt, std::nullopt, std::nullopt, 1}),
                  "enqueue_for_orchestrator", {});
  check_permanent(EW(s, WorkItem::ActivityExecute{"I", 1, 9, "Act", bad, std::nullopt, std::nullopt}),
                  "enqueue_for_worker", {});
  check_permanent(APPEND(s, "I", 1, {make_event("I", 1, 1, EventKind::ExternalEvent{"e", bad})}),
                  "append_with_execution", {});
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("orchestrator_queue")) == 0);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("worker_queue")) == 0);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("history")) == 0);

  // A turn carrying it fails as a whole and keeps the lock; the runtime's failure ack works.
  REQUIRE(EO(s, start_item("I")));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  {
    AckArgs a;
    a.delta.push_back(started_event("I"));
    a.delta.push_back(make_event("I", 1, 2, EventKind::ActivityScheduled{"Act", bad, std::nullopt, std::nullopt}));
    a.worker_items.push_back(WorkItem::ActivityExecute{"I", 1, 2, "Act", bad, std::nullopt, std::nullopt});
    a.metadata = meta();
    check_permanent(AO(s, t->lock_token, 1, std::move(a)), "ack_orchestration_item", {});
  }
  CHECK(s.live_instance_lock("I"));
  {
    AckArgs a;
    a.delta.push_back(started_event("I"));
    a.delta.push_back(make_event("I", 1, 2, EventKind::ActivityScheduled{"Act", "fine", std::nullopt, std::nullopt}));
    a.worker_items.push_back(activity_item("I", 2));
    a.metadata = meta();
    ok(AO(s, t->lock_token, 1, std::move(a)));
  }
  CHECK_FALSE(s.live_instance_lock("I"));

  // An activity result that cannot be stored fails the worker ack; the lease survives it, so the
  // item is neither lost nor stuck: a clean ack (or an abandon) still works.
  auto w = ok(FW(s));
  REQUIRE(w.has_value());
  check_permanent(AW(s, w->lock_token, WorkItem::ActivityCompleted{"I", 1, 2, bad}), "ack_work_item", {});
  CHECK(s.worker_row("I", 2).locked);
  ok(AW(s, w->lock_token, WorkItem::ActivityCompleted{"I", 1, 2, "fine"}));
  CHECK(s.count_rows("orchestrator_queue", "I") == 1);
}

TEST_CASE("bad_input::execution_output_is_bytes_and_keeps_invalid_utf8") {
  // metadata.output lives in its own bytea column (contract §2.4): any bytes round-trip.
  const std::string bytes = std::string("\xff\x00\xfe raw", 7);
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("I")));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  AckArgs a;
  a.delta.push_back(started_event("I"));
  a.metadata = meta("Failed", bytes);
  ok(AO(s, t->lock_token, 1, std::move(a)));
  CHECK(ok(mgmt::get_instance_info(s, "I")).output == bytes);
  CHECK(ok(mgmt::get_execution_info(s, "I", 1)).output == bytes);
}
