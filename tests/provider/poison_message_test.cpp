// conformance.md §5.15 — poison_message: attempt_count per message, incremented on every fetch,
// kept across lock expiry and abandon, decremented (floored at 0) by ignore_attempt, and reported
// as the maximum over an orchestration batch.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

void sleep_for(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

std::string err_text(const Result<void>& r) { return r ? std::string() : r.error().to_string(); }

LockedOrchestration fetch_orch(Store& s, Millis lock = 30s) {
  auto fo = FO(s, lock);
  REQUIRE_MESSAGE(fo, (fo ? "" : fo.error().to_string()));
  REQUIRE(fo->has_value());
  return std::move(**fo);
}

LockedWorkItem fetch_work(Store& s, Millis lock = 30s) {
  auto fw = FW(s, lock);
  REQUIRE_MESSAGE(fw, (fw ? "" : fw.error().to_string()));
  REQUIRE(fw->has_value());
  return std::move(**fw);
}

}  // namespace

TEST_CASE("poison_message::orchestration_attempt_count_starts_at_one") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("poison-1")));
  auto lo = fetch_orch(s, kLockTimeout);
  CHECK(lo.attempt_count == 1);
  auto ack = AO(s, lo.lock_token, 1);
  CHECK_MESSAGE(ack, err_text(ack));
}

TEST_CASE("poison_message::orchestration_attempt_count_increments_on_refetch") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("poison-2")));
  auto l1 = fetch_orch(s);
  CHECK(l1.attempt_count == 1);
  auto ab1 = AbO(s, l1.lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab1, err_text(ab1));
  auto l2 = fetch_orch(s);
  CHECK(l2.attempt_count == 2);
  auto ab2 = AbO(s, l2.lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab2, err_text(ab2));
  auto l3 = fetch_orch(s);
  CHECK(l3.attempt_count == 3);
  auto ack = AO(s, l3.lock_token, 1);
  CHECK_MESSAGE(ack, err_text(ack));
}

TEST_CASE("poison_message::worker_attempt_count_starts_at_one") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("poison-3", 1)));
  auto lw = fetch_work(s);
  CHECK(lw.attempt_count == 1);
  CHECK(lw.item.holds<WorkItem::ActivityExecute>());
  auto ack = AW(s, lw.lock_token);
  CHECK_MESSAGE(ack, err_text(ack));
}

TEST_CASE("poison_message::worker_attempt_count_increments_on_lock_expiry" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("poison-4", 1)));
  auto l1 = fetch_work(s, 1s);
  CHECK(l1.attempt_count == 1);
  sleep_for(f, 1100ms);
  auto l2 = fetch_work(s, 1s);
  CHECK(l2.attempt_count == 2);
  auto ack = AW(s, l2.lock_token);
  CHECK_MESSAGE(ack, err_text(ack));
}

TEST_CASE("poison_message::attempt_count_is_per_message") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("poison-5", 1)));
  REQUIRE(EW(s, activity_item("poison-5", 2)));
  auto a = fetch_work(s);
  auto b = fetch_work(s);
  CHECK(a.attempt_count == 1);
  CHECK(b.attempt_count == 1);
  const auto* ia = a.item.get_if<WorkItem::ActivityExecute>();
  const auto* ib = b.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ia != nullptr);
  REQUIRE(ib != nullptr);
  CHECK(ia->id != ib->id);
  auto acka = AW(s, a.lock_token);
  CHECK_MESSAGE(acka, err_text(acka));
  auto ackb = AW(s, b.lock_token);
  CHECK_MESSAGE(ackb, err_text(ackb));
}

TEST_CASE("poison_message::abandon_work_item_ignore_attempt_decrements") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("poison-6", 1)));
  auto l1 = fetch_work(s);
  CHECK(l1.attempt_count == 1);
  auto ab1 = AbW(s, l1.lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab1, err_text(ab1));
  auto l2 = fetch_work(s);
  CHECK(l2.attempt_count == 2);
  auto ab2 = AbW(s, l2.lock_token, std::nullopt, true);
  REQUIRE_MESSAGE(ab2, err_text(ab2));
  auto l3 = fetch_work(s);
  CHECK(l3.attempt_count == 2);
}

TEST_CASE("poison_message::abandon_orchestration_item_ignore_attempt_decrements") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("poison-7")));
  auto l1 = fetch_orch(s);
  CHECK(l1.attempt_count == 1);
  auto ab1 = AbO(s, l1.lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab1, err_text(ab1));
  auto l2 = fetch_orch(s);
  CHECK(l2.attempt_count == 2);
  auto ab2 = AbO(s, l2.lock_token, std::nullopt, true);
  REQUIRE_MESSAGE(ab2, err_text(ab2));
  auto l3 = fetch_orch(s);
  CHECK(l3.attempt_count == 2);
}

TEST_CASE("poison_message::ignore_attempt_never_goes_negative") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EW(s, activity_item("poison-8", 1)));
  auto l1 = fetch_work(s);
  CHECK(l1.attempt_count == 1);
  auto ab1 = AbW(s, l1.lock_token, std::nullopt, true);  // stored count 0
  REQUIRE_MESSAGE(ab1, err_text(ab1));
  auto l2 = fetch_work(s);
  CHECK(l2.attempt_count == 1);
  auto ab2 = AbW(s, l2.lock_token, std::nullopt, true);  // stays 0
  REQUIRE_MESSAGE(ab2, err_text(ab2));
  auto l3 = fetch_work(s);
  CHECK(l3.attempt_count == 1);
}

TEST_CASE("poison_message::max_attempt_count_across_message_batch") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "poison-9";
  REQUIRE(EO(s, start_item(inst)));
  auto l1 = fetch_orch(s);
  CHECK(l1.attempt_count == 1);
  CHECK(l1.item.messages.size() == 1);
  auto ab1 = AbO(s, l1.lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab1, err_text(ab1));

  auto l2 = fetch_orch(s);
  CHECK(l2.attempt_count == 2);
  REQUIRE(EO(s, WorkItem::ActivityCompleted{inst, 1, 1, "result"}));  // arrives while locked
  auto ab2 = AbO(s, l2.lock_token, std::nullopt, false);
  REQUIRE_MESSAGE(ab2, err_text(ab2));

  auto l3 = fetch_orch(s);
  CHECK(l3.item.messages.size() == 2);
  CHECK(l3.attempt_count == 3);
}
