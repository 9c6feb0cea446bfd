// conformance.md §5.7 — error_handling: invalid tokens, duplicate event ids, missing instances,
// unprocessable queue rows, lock expiry during ack, corrupted history on the read paths.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

void sleep_for(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

std::string err_text(const Result<void>& r) { return r ? std::string() : r.error().to_string(); }

}  // namespace

TEST_CASE("error_handling::test_invalid_lock_token_on_ack") {
  LoopFixture f;
  Store s = create_provider(f);
  auto r = AO(s, "invalid-token", 1);
  REQUIRE_FALSE(r);
  const std::string& msg = r.error().message;
  CHECK_MESSAGE((msg.find("Invalid lock token") != std::string::npos || msg.find("lock_token") != std::string::npos),
                r.error().to_string());
}

TEST_CASE("error_handling::test_duplicate_event_id_rejection") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";

  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst));
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, err_text(ack));

  REQUIRE(EO(s, start_item(inst)));
  auto fo2 = FO(s, 30s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  AckArgs dup;
  dup.delta.push_back(make_event(inst, 1, 1, EventKind::ActivityScheduled{"Activity", "input", std::nullopt, std::nullopt}));
  auto bad = AO(s, (*fo2)->lock_token, 1, std::move(dup));
  CHECK_FALSE(bad);

  auto h = READ(s, inst);
  REQUIRE(h);
  REQUIRE(h->size() == 1);
  CHECK((*h)[0].kind.holds<EventKind::OrchestrationStarted>());
}

TEST_CASE("error_handling::test_missing_instance_metadata") {
  LoopFixture f;
  Store s = create_provider(f);
  auto h = READ(s, "non-existent-instance");
  REQUIRE_MESSAGE(h, (h ? "" : h.error().to_string()));
  CHECK(h->empty());
}

TEST_CASE("error_handling::test_corrupted_serialization_data") {
  LoopFixture f;
  Store s = create_provider(f);

  // (a) empty store
  {
    auto fo = FO(s, 30s);
    REQUIRE_MESSAGE(fo, (fo ? "" : fo.error().to_string()));
    CHECK_FALSE(fo->has_value());
    auto fw = FW(s, 30s);
    REQUIRE_MESSAGE(fw, (fw ? "" : fw.error().to_string()));
    CHECK_FALSE(fw->has_value());
  }

  // (b) a corrupted orchestrator message
  {
    const std::string a = "A", b = "B";
    create_instance(s, a);
    REQUIRE(EO(s, external_item(a, "e1")));
    s.corrupt_orchestrator_message(a, 0, "NOT_VALID_JSON{{{");
    REQUIRE(EO(s, external_item(a, "e2")));
    REQUIRE(EO(s, start_item(b)));

    const int64_t before = wall_ms();
    auto fo = FO(s, 30s);
    REQUIRE_MESSAGE(fo, (fo ? "" : fo.error().to_string()));
    REQUIRE(fo->has_value());
    CHECK((*fo)->item.instance == a);
    const auto& msgs = (*fo)->item.messages;
    REQUIRE(msgs.size() == 1);
    REQUIRE(msgs[0].holds<WorkItem::ExternalRaised>());
    CHECK(msgs[0].get_if<WorkItem::ExternalRaised>()->name == "e2");
    CHECK((*fo)->attempt_count == 1);

    auto rows = s.orchestrator_rows(a);
    REQUIRE(rows.size() == 2);  // the corrupted row (first) and e2 (locked)
    CHECK(rows[0].exists);
    CHECK_FALSE(rows[0].locked);
    CHECK(rows[0].attempt_count == 1);
    CHECK(rows[0].visible_at >= before + 900);

    auto ack = AO(s, (*fo)->lock_token, 1);
    REQUIRE_MESSAGE(ack, err_text(ack));
    auto after = s.orchestrator_rows(a);
    REQUIRE(after.size() == 1);  // the ack deleted e2 but not the corrupted row

    auto next = FO(s, 30s);
    REQUIRE_MESSAGE(next, (next ? "" : next.error().to_string()));
    REQUIRE(next->has_value());
    CHECK((*next)->item.instance == b);
  }

  // (c) a corrupted worker item
  {
    const std::string w = "W";
    REQUIRE(EW(s, activity_item(w, 1)));
    s.corrupt_worker_item(w, 1, "NOT_VALID_JSON{{{");
    REQUIRE(EW(s, activity_item(w, 2)));

    const int64_t before = wall_ms();
    auto fw = FW(s, 30s);
    REQUIRE_MESSAGE(fw, (fw ? "" : fw.error().to_string()));
    REQUIRE(fw->has_value());
    const auto* ae = (*fw)->item.get_if<WorkItem::ActivityExecute>();
    REQUIRE(ae != nullptr);
    CHECK(ae->instance == w);
    CHECK(ae->id == 2);

    auto row = s.worker_row(w, 1);
    CHECK(row.exists);
    CHECK_FALSE(row.locked);
    CHECK(row.attempt_count == 1);
    CHECK(row.visible_at >= before + 900);

    auto none = FW(s, 30s);
    REQUIRE_MESSAGE(none, (none ? "" : none.error().to_string()));
    CHECK_FALSE(none->has_value());
  }
}

TEST_CASE("error_handling::test_lock_expiration_during_ack" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "instance-A";
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, kLockTimeout);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  sleep_for(f, kLockTimeout + 100ms);
  AckArgs a;
  a.delta.push_back(started_event(inst));
  auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
  CHECK_FALSE(r);
}

TEST_CASE("error_handling::test_read_corrupted_history_returns_error") {
  for (int variant : {0, 1}) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "corrupt-read";
    create_instance(s, inst);
    auto h = READ(s, inst);
    REQUIRE(h);
    CHECK_FALSE(h->empty());
    s.corrupt_instance_history(inst, variant);
    auto bad = READ(s, inst);
    CHECK_FALSE(bad);
  }
}

TEST_CASE("error_handling::test_read_with_execution_corrupted_history_returns_error") {
  for (int variant : {0, 1}) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "corrupt-readx";
    create_instance(s, inst);
    auto h = READX(s, inst, 1);
    REQUIRE(h);
    CHECK_FALSE(h->empty());
    s.corrupt_instance_history(inst, variant);
    auto bad = READX(s, inst, 1);
    CHECK_FALSE(bad);
  }
}
