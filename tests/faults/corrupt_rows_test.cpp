// Issue 8 §7: rows written directly into the provider's tables that its decoder cannot accept —
// a catalogue of broken JSON (truncated, wrong types, out-of-range numbers, lone surrogates,
// nesting 100,000 deep, a megabyte of braces, ...) rather than the one or two samples of the
// conformance modules (quarantine::*, error_handling::test_corrupted_serialization_data,
// capability_filtering::test_fetch_corrupted_history_*). All bad rows are present at once, so a
// single fetch has to step over every one of them (contract §7.3) and still deliver the good
// row; history rows turn into history_error on fetch and a permanent error on read (§7.1).
#include <doctest/doctest.h>

#include "duroxide/wire.h"
#include "faults/error_checks.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

struct Corruption {
  const char* name;
  std::string text;
};

// Broken variants of `valid` (a JSON object whose first field's value is a string) and of
// generic JSON. `first_key` is the quoted name of a string field of `valid`.
std::vector<Corruption> corruptions(const std::string& valid, const std::string& string_field) {
  auto with_field = [&](const std::string& value) {
    const size_t at = valid.find("\"" + string_field + "\":\"");
    REQUIRE(at != std::string::npos);
    const size_t start = at + string_field.size() + 3;
    const size_t end = valid.find('"', start);
    return valid.substr(0, start - 1) + value + valid.substr(end + 1);
  };
  return {
      {"empty", ""},
      {"json null", "null"},
      {"array", "[]"},
      {"empty object", "{}"},
      {"number", "42"},
      {"truncated", valid.substr(0, valid.size() / 2)},
      {"trailing garbage", valid + "}}]garbage"},
      {"unknown variant", "{\"Bogus\":{\"instance\":\"x\"}}"},
      {"string as number", with_field("12345")},
      {"string as object", with_field("{\"a\":1}")},
      {"lone surrogate", with_field("\"\\ud800\"")},
      {"invalid escape", with_field("\"\\x41\"")},
      {"raw control character", with_field("\"a\x01z\"")},
      {"deep nesting", std::string(100000, '[') + std::string(100000, ']')},
      {"megabyte of braces", std::string(1u << 20, '{')},
      {"u64 overflow", "{\"ActivityExecute\":{\"instance\":\"x\",\"execution_id\":18446744073709551616,\"id\":1,"
                       "\"name\":\"n\",\"input\":\"i\"}}"},
      {"negative id", "{\"ActivityExecute\":{\"instance\":\"x\",\"execution_id\":1,\"id\":-1,\"name\":\"n\",\"input\":\"i\"}}"},
      {"float id", "{\"ActivityExecute\":{\"instance\":\"x\",\"execution_id\":1.5,\"id\":1,\"name\":\"n\",\"input\":\"i\"}}"},
      {"huge exponent", "{\"ActivityExecute\":{\"instance\":\"x\",\"execution_id\":1e400,\"id\":1,\"name\":\"n\",\"input\":\"i\"}}"},
  };
}

}  // namespace

TEST_CASE("bad_input::worker_fetch_steps_over_every_corrupt_row_at_once") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto bad = corruptions(encode(activity_item("W", 1)), "name");
  for (size_t i = 0; i < bad.size(); ++i) {
    REQUIRE(EW(s, activity_item("W", i + 1)));
    s.corrupt_worker_item("W", i + 1, bad[i].text);
  }
  REQUIRE(EW(s, activity_item("G", 1)));

  const int64_t before = wall_ms();
  auto w = ok(FW(s));
  REQUIRE(w.has_value());
  CHECK(w->item.get_if<WorkItem::ActivityExecute>()->instance == "G");
  CHECK(w->attempt_count == 1);
  for (size_t i = 0; i < bad.size(); ++i) {
    CAPTURE(bad[i].name);
    auto row = s.worker_row("W", i + 1);
    CHECK(row.exists);
    CHECK_FALSE(row.locked);  // quarantined, not leased
    CHECK(row.attempt_count == 1);
    CHECK(row.visible_at >= before + 900);
  }
  ok(AW(s, w->lock_token, WorkItem::ActivityCompleted{"G", 1, 1, "r"}));
  CHECK_FALSE(ok(FW(s)).has_value());  // every bad row is backing off
  // Deleting the instance removes them (contract §7.3).
  REQUIRE(s.sql("DELETE FROM " + s.table("worker_queue") + " WHERE instance_id = 'W'"));
}

TEST_CASE("bad_input::orchestration_fetch_steps_over_every_corrupt_message_at_once") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "O");
  create_instance(s, "P");  // P's only message will be corrupt
  const auto bad = corruptions(encode(external_item("O", "e", "d")), "name");
  for (size_t i = 0; i < bad.size(); ++i) {
    REQUIRE(EO(s, external_item("O", "bad" + std::to_string(i))));
    s.corrupt_orchestrator_message("O", static_cast<int>(i), bad[i].text);
  }
  REQUIRE(EO(s, external_item("O", "good")));
  REQUIRE(EO(s, external_item("P", "only")));
  s.corrupt_orchestrator_message("P", 0, "NOT_VALID_JSON{{{");
  REQUIRE(EO(s, start_item("other")));

  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  REQUIRE(t->item.instance == "O");
  REQUIRE(t->item.messages.size() == 1);
  CHECK(t->item.messages[0].get_if<WorkItem::ExternalRaised>()->name == "good");
  CHECK(t->item.history.size() == 1);
  auto rows = s.orchestrator_rows("O");
  REQUIRE(rows.size() == bad.size() + 1);
  for (size_t i = 0; i < bad.size(); ++i) {
    CAPTURE(bad[i].name);
    CHECK_FALSE(rows[i].locked);
    CHECK(rows[i].attempt_count == 1);
  }
  ok(AO(s, t->lock_token, 1));
  CHECK_FALSE(s.live_instance_lock("O"));

  // P (nothing but a corrupt message) is skipped without keeping its lock; "other" flows.
  auto next = ok(FO(s));
  REQUIRE(next.has_value());
  CHECK(next->item.instance == "other");
  CHECK_FALSE(s.live_instance_lock("P"));
  CHECK(s.orchestrator_rows("P").at(0).attempt_count == 1);
  CHECK_FALSE(ok(FO(s)).has_value());
}

TEST_CASE("bad_input::corrupt_history_rows_give_history_error_and_permanent_read_errors") {
  LoopFixture f;
  Store s = create_provider(f);
  const auto bad = corruptions(encode(started_event("H")), "name");
  for (size_t i = 0; i < bad.size(); ++i) create_instance(s, "H" + std::to_string(i));
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string inst = "H" + std::to_string(i);
    REQUIRE(s.sql("UPDATE " + s.table("history") + " SET event_data = $2 WHERE instance_id = $1",
                  pg::Params().add(inst).add(bad[i].text)));
    REQUIRE(EO(s, external_item(inst)));
  }
  for (size_t n = 0; n < bad.size(); ++n) {
    auto t = ok(FO(s));
    REQUIRE(t.has_value());
    const size_t i = std::stoul(t->item.instance.substr(1));
    CAPTURE(bad[i].name);
    CHECK(t->item.history_error.has_value());
    CHECK(t->item.history.empty());
    CHECK(t->item.messages.size() == 1);
    ok(AbO(s, t->lock_token, 60s));
    CHECK_FALSE(s.live_instance_lock(t->item.instance));
  }
  CHECK_FALSE(ok(FO(s)).has_value());
  for (size_t i = 0; i < bad.size(); ++i) {
    CAPTURE(bad[i].name);
    const std::string inst = "H" + std::to_string(i);
    check_permanent(READ(s, inst), "read", {});
    check_permanent(READX(s, inst, 1), "read_with_execution", {});
  }
}
