// Regression: a worker fetch leases exactly one row whatever join plan PostgreSQL picks.
//
// The fast path of fetch_work_item once joined its "pick the oldest free row" sub-select as a FROM
// item. With statistics taken while the queue was empty (as after a quiet start, and as under the
// generic plans the provider forces), the planner put the queue on the outer side of a nested loop
// and rescanned the sub-select for every outer row; each rescan skipped the row the statement had
// already leased and returned the next one, so one fetch leased several rows under one token. The
// unique index on lock_token turned that into "duplicate key value violates unique constraint
// worker_queue_token_idx", seen in ~5% of fetches with 4 worker processes on one database.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

TEST_CASE("fetch_work_item leases one row when the queue's statistics say it is empty") {
  LoopFixture f;
  Store s = create_provider(f);
  // Freeze "empty" statistics: analyze now, and keep autovacuum from refreshing them mid-test.
  REQUIRE(s.sql("ALTER TABLE " + s.table("worker_queue") + " SET (autovacuum_enabled = off)"));
  REQUIRE(s.sql("ANALYZE " + s.table("worker_queue")));
  for (uint64_t id = 1; id <= 5; ++id) REQUIRE(EW(s, activity_item("plan", id)));

  // A second provider: its connections plan the function for the first time with those statistics.
  Store other = s.open_same_store();
  for (uint64_t expect = 1; expect <= 5; ++expect) {
    auto got = FW(other);
    REQUIRE_MESSAGE(got, (got ? "" : got.error().to_string()));
    REQUIRE(got->has_value());
    CHECK((*got)->item.get_if<WorkItem::ActivityExecute>()->id == expect);
    CHECK(s.sql_int("SELECT count(*) FROM " + s.table("worker_queue") + " WHERE lock_token IS NOT NULL") ==
          static_cast<int64_t>(expect));
  }
  auto none = FW(other);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}
