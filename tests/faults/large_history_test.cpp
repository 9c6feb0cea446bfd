// Issue 8 §7: 100,000-event histories. One is written set-based straight into the history table
// (generate_series over the codec's own text, so it takes well under a second), one through a
// single append_with_execution call (100,000 array elements in one statement). Fetch, ack, read,
// admin calls and deletion must handle them whole; a single undecodable row among them must turn
// the fetch into history_error (contract §5.1) and reads into a permanent error, without leaking
// the lock.
#include <doctest/doctest.h>

#include "duroxide/wire.h"
#include "faults/error_checks.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

constexpr int64_t kEvents = 100000;

// Event n ≥ 2 of the synthetic history: even ids schedule an activity, odd ids complete the one
// before them.
Event synthetic(const std::string& inst, uint64_t n) {
  if (n % 2 == 0) return make_event(inst, 1, n, EventKind::ActivityScheduled{"Act", "in", std::nullopt, std::nullopt});
  return make_event(inst, 1, n, EventKind::ActivityCompleted{"out"}, n - 1);
}

// create(inst), then events 2..kEvents+1 inserted by one INSERT … SELECT. The JSON is the
// codec's text for a placeholder id, with the ids substituted in SQL.
void seed_history(Store& s, const std::string& inst) {
  create_instance(s, inst);
  const std::string sched = encode(make_event(inst, 1, 777777777, EventKind::ActivityScheduled{"Act", "in", std::nullopt, std::nullopt}));
  const std::string done = encode(make_event(inst, 1, 777777777, EventKind::ActivityCompleted{"out"}, 666666666));
  auto r = s.sql("INSERT INTO " + s.table("history") +
                     " (instance_id, execution_id, event_id, event_type, event_data, created_at) "
                     "SELECT $1, 1, g, CASE WHEN g % 2 = 0 THEN 'ActivityScheduled' ELSE 'ActivityCompleted' END, "
                     "       CASE WHEN g % 2 = 0 THEN replace($2, '777777777', g::text) "
                     "            ELSE replace(replace($3, '777777777', g::text), '666666666', (g - 1)::text) END, 0 "
                     "  FROM generate_series(2, $4::bigint + 1) AS g",
                 pg::Params().add(inst).add(sched).add(done).add_int(kEvents));
  REQUIRE_MESSAGE(r, err_text(r));
}

void check_synthetic(const std::vector<Event>& h, const std::string& inst, size_t expected) {
  REQUIRE(h.size() == expected);
  CHECK(h[0] == started_event(inst));
  bool all = true;
  for (size_t i = 1; i < h.size() && i <= static_cast<size_t>(kEvents); ++i) all = all && h[i] == synthetic(inst, i + 1);
  CHECK_MESSAGE(all, "an event of the large history came back different");
}

}  // namespace

TEST_CASE("bad_input::history_of_100000_events_fetch_ack_read_delete") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "big";
  seed_history(s, inst);
  create_instance(s, "neighbour");

  REQUIRE(EO(s, external_item(inst)));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  REQUIRE(t->item.instance == inst);
  CHECK_FALSE(t->item.history_error.has_value());
  check_synthetic(t->item.history, inst, kEvents + 1);

  AckArgs a;
  a.delta.push_back(make_event(inst, 1, kEvents + 2, EventKind::ExternalEvent{"poke", "{}"}));
  a.metadata = meta();
  ok(AO(s, t->lock_token, 1, std::move(a)));
  CHECK_FALSE(s.live_instance_lock(inst));

  check_synthetic(ok(READ(s, inst)), inst, kEvents + 2);  // (read_with_execution: same query path)
  auto info = ok(mgmt::get_instance_info(s, inst));
  CHECK(info.status == "Running");
  auto metrics = ok(mgmt::get_system_metrics(s));
  CHECK(metrics.total_events == static_cast<uint64_t>(kEvents + 3));  // + the neighbour's one

  auto del = ok(mgmt::delete_instance(s, inst, true));
  CHECK(del.events_deleted == static_cast<uint64_t>(kEvents + 2));
  CHECK(ok(READ(s, "neighbour")).size() == 1);
}

TEST_CASE("bad_input::append_of_100000_events_in_one_call") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "appended";
  std::vector<Event> events;
  events.reserve(kEvents + 1);
  events.push_back(started_event(inst));
  for (uint64_t n = 2; n <= static_cast<uint64_t>(kEvents) + 1; ++n) events.push_back(synthetic(inst, n));
  const std::vector<Event> expected = events;
  ok(APPEND(s, inst, 1, std::move(events)));
  const std::vector<Event> h = ok(READ(s, inst));
  CHECK(h.size() == expected.size());
  CHECK((h == expected));
}

TEST_CASE("bad_input::one_corrupt_row_in_100000_events") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "big";
  seed_history(s, inst);
  REQUIRE(s.sql("UPDATE " + s.table("history") + " SET event_data = left(event_data, 40) "
                "WHERE instance_id = $1 AND event_id = $2", pg::Params().add(inst).add_int(kEvents / 2)));
  create_instance(s, "neighbour");

  REQUIRE(EO(s, external_item(inst)));
  REQUIRE(EO(s, external_item("neighbour")));
  auto t = ok(FO(s));
  REQUIRE(t.has_value());
  REQUIRE(t->item.instance == inst);
  REQUIRE(t->item.history_error.has_value());
  CHECK(t->item.history.empty());

  // Reads of that history fail permanently and say which operation failed.
  check_permanent(READ(s, inst), "read", {});
  check_permanent(READX(s, inst, 1), "read_with_execution", {});

  // The runtime's poison path appends a failure event without reading the history; the lock is
  // released by that ack and the neighbour is delivered next.
  const OrchestrationItem& item = t->item;
  ErrorDetails details = ErrorDetails::Poison{
      1, 10, PoisonMessageType::FailedDeserialization{item.instance, item.execution_id, *item.history_error},
      *item.history_error};
  AckArgs a;
  a.delta.push_back(make_event(inst, 1, 99999999, EventKind::OrchestrationFailed{details}));
  a.metadata = meta("Failed", to_string(details));
  ok(AO(s, t->lock_token, 1, std::move(a)));
  CHECK_FALSE(s.live_instance_lock(inst));
  auto next = ok(FO(s));
  REQUIRE(next.has_value());
  CHECK(next->item.instance == "neighbour");
  CHECK(ok(mgmt::get_instance_info(s, inst)).status == "Failed");
}
