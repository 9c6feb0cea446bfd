// conformance.md §6.2 — head_of_line: orphan batches (messages for instances that do not exist)
// never block other instances. QueueMessage rows are dropped, other rows are deferred by
// clamp(age / 2, 1 s, 60 s) with their attempt count restored (contract §7.2).
#include <doctest/doctest.h>

#include <chrono>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

std::optional<LockedOrchestration> fetch(Store& s, Millis poll = 0ms) {
  auto fo = FO(s, 30s, poll);
  REQUIRE_MESSAGE(fo, err_text(fo));
  return std::move(*fo);
}

// Every orchestrator row of `inst` is unlocked, has attempt_count 0 and is deferred (visible_at >
// now); returns how many rows there are.
size_t check_deferred(Store& s, const std::string& inst) {
  const int64_t now = wall_ms();
  auto rows = s.orchestrator_rows(inst);
  for (const auto& r : rows) {
    CHECK_FALSE(r.locked);
    CHECK(r.attempt_count == 0);
    CHECK(r.visible_at > now);
  }
  return rows.size();
}

void check_no_entity_rows(Store& s, const std::string& inst) {
  CHECK(s.count_rows("instances", inst) == 0);
  CHECK(s.count_rows("executions", inst) == 0);
  CHECK(s.count_rows("history", inst) == 0);
}

// Work item texts of the orchestrator rows of `inst`, in enqueue order.
std::vector<std::string> row_texts(Store& s, const std::string& inst) {
  auto r = s.sql("SELECT work_item FROM " + s.table("orchestrator_queue") + " WHERE instance_id = $1 ORDER BY id",
                 pg::Params().add(inst));
  REQUIRE(r);
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->get(i, 0));
  return out;
}

void single_orphan_does_not_block(WorkItem orphan, const std::string& ghost, const std::string& real) {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, std::move(orphan)));
  REQUIRE(EO(s, start_item(real)));
  auto first = fetch(s);
  REQUIRE(first.has_value());
  CHECK(first->item.instance == real);
  CHECK_FALSE(fetch(s).has_value());
  CHECK(check_deferred(s, ghost) == 1);
  check_no_entity_rows(s, ghost);
}

WorkItem activity_completed(const std::string& inst, uint64_t id = 1) {
  return WorkItem::ActivityCompleted{inst, 1, id, "result"};
}

}  // namespace

TEST_CASE("head_of_line::test_orphan_cancel_does_not_block_other_instances") {
  single_orphan_does_not_block(WorkItem::CancelInstance{"ghost-1", "r"}, "ghost-1", "real-1");
}

TEST_CASE("head_of_line::test_orphan_external_event_does_not_block") {
  single_orphan_does_not_block(WorkItem::ExternalRaised{"ghost-2", "evt", "data"}, "ghost-2", "real-1");
}

TEST_CASE("head_of_line::test_orphan_completions_do_not_block") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, activity_completed("ghost-3")));
  REQUIRE(EO(s, WorkItem::TimerFired{"ghost-4", 1, 1, 0}));
  REQUIRE(EO(s, WorkItem::SubOrchCompleted{"ghost-5", 1, 1, "child-result"}));
  REQUIRE(EO(s, start_item("real-2")));
  auto first = fetch(s);
  REQUIRE(first.has_value());
  CHECK(first->item.instance == "real-2");
  CHECK_FALSE(fetch(s).has_value());
  for (const char* g : {"ghost-3", "ghost-4", "ghost-5"}) {
    CAPTURE(g);
    CHECK(check_deferred(s, g) == 1);
    check_no_entity_rows(s, g);
  }
}

TEST_CASE("head_of_line::test_stale_completion_after_delete_does_not_block") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string a = "hol-completed-a";
  REQUIRE(EO(s, start_item(a)));
  {
    auto t = fetch(s);
    REQUIRE(t.has_value());
    AckArgs args;
    args.delta.push_back(started_event(a));
    args.delta.push_back(make_event(a, 1, 2, EventKind::OrchestrationCompleted{"done"}));
    args.metadata = meta("Completed", std::string("done"));
    auto r = AO(s, t->lock_token, 1, std::move(args));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  auto d = mgmt::delete_instance(s, a, false);
  REQUIRE_MESSAGE(d, err_text(d));
  REQUIRE(EO(s, activity_completed(a)));
  REQUIRE(EO(s, start_item("hol-b")));
  auto t = fetch(s);
  REQUIRE(t.has_value());
  CHECK(t->item.instance == "hol-b");
}

TEST_CASE("head_of_line::test_many_orphans_do_not_block") {
  LoopFixture f;
  Store s = create_provider(f);
  std::vector<std::string> ghosts;
  for (int i = 0; i < 50; ++i) {
    std::string g = "ghost-many-" + std::to_string(i);
    switch (i % 3) {
      case 0: REQUIRE(EO(s, WorkItem::CancelInstance{g, "r"})); break;
      case 1: REQUIRE(EO(s, WorkItem::ExternalRaised{g, "evt", "data"})); break;
      default: REQUIRE(EO(s, activity_completed(g))); break;
    }
    ghosts.push_back(std::move(g));
  }
  REQUIRE(EO(s, start_item("real-3")));
  const auto t0 = std::chrono::steady_clock::now();
  auto first = fetch(s, 0ms);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(first.has_value());
  CHECK(first->item.instance == "real-3");
  CHECK_MESSAGE(elapsed < 2s, std::chrono::duration_cast<Millis>(elapsed).count() << " ms");
  CHECK_FALSE(fetch(s).has_value());
  size_t total = 0;
  for (const auto& g : ghosts) total += check_deferred(s, g);
  CHECK(total == 50);
}

TEST_CASE("head_of_line::test_orphan_messages_delivered_after_start") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string g = "ghost-6";
  REQUIRE(EO(s, WorkItem::CancelInstance{g, "r"}));
  const auto t_first = std::chrono::steady_clock::now();
  CHECK_FALSE(fetch(s).has_value());
  REQUIRE(EO(s, start_item(g)));
  auto second = fetch(s);
  REQUIRE(second.has_value());
  CHECK(second->item.instance == g);
  REQUIRE_FALSE(second->item.messages.empty());
  CHECK(second->item.messages[0].get_if<WorkItem::StartOrchestration>() != nullptr);
  int cancels = 0;
  for (const auto& m : second->item.messages)
    if (const auto* c = m.get_if<WorkItem::CancelInstance>()) {
      CHECK(c->reason == "r");
      ++cancels;
    }
  {
    AckArgs a;
    a.delta.push_back(started_event(g));
    a.metadata = meta();
    auto r = AO(s, second->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  auto last = fetch(s, 3000ms);
  const auto since_first = std::chrono::steady_clock::now() - t_first;
  if (cancels == 1) {
    CHECK_FALSE(last.has_value());  // delivered in the second batch; nothing left
  } else {
    CHECK(cancels == 0);
    REQUIRE(last.has_value());
    CHECK(last->item.instance == g);
    REQUIRE(last->item.messages.size() == 1);
    const auto* c = last->item.messages[0].get_if<WorkItem::CancelInstance>();
    REQUIRE(c != nullptr);
    CHECK(c->reason == "r");
    CHECK(last->attempt_count == 1);
    CHECK_MESSAGE(since_first < 2500ms, std::chrono::duration_cast<Millis>(since_first).count() << " ms");
  }
  CHECK(s.orchestrator_rows(g).size() == (last.has_value() ? 1u : 0u));  // never lost, never duplicated
}

TEST_CASE("head_of_line::test_orphan_mixed_batch_drops_only_queue_messages") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string g = "ghost-7";
  REQUIRE(EO(s, WorkItem::QueueMessage{g, "q", "q1"}));
  REQUIRE(EO(s, WorkItem::ExternalRaised{g, "e", "e1"}));
  REQUIRE(EO(s, WorkItem::QueueMessage{g, "q", "q2"}));
  CHECK_FALSE(fetch(s).has_value());
  auto rows = s.orchestrator_rows(g);
  REQUIRE(rows.size() == 1);
  CHECK_FALSE(rows[0].locked);
  CHECK(rows[0].attempt_count == 0);
  auto texts = row_texts(s, g);
  REQUIRE(texts.size() == 1);
  auto decoded = decode_work_item(texts[0]);
  REQUIRE_MESSAGE(decoded, err_text(decoded));
  const auto* e = decoded->get_if<WorkItem::ExternalRaised>();
  REQUIRE(e != nullptr);
  CHECK(e->data == "e1");
}

TEST_CASE("head_of_line::test_orphan_queue_message_drop_creates_no_rows") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string g = "ghost-8";
  auto baseline = mgmt::get_system_metrics(s);
  REQUIRE_MESSAGE(baseline, err_text(baseline));
  REQUIRE(EO(s, WorkItem::QueueMessage{g, "q", "q1"}));
  REQUIRE(EO(s, WorkItem::QueueMessage{g, "q", "q2"}));
  CHECK_FALSE(fetch(s).has_value());
  CHECK(s.orchestrator_rows(g).empty());
  check_no_entity_rows(s, g);
  auto execs = mgmt::list_executions(s, g);
  REQUIRE_MESSAGE(execs, err_text(execs));
  CHECK(execs->empty());
  auto after = mgmt::get_system_metrics(s);
  REQUIRE_MESSAGE(after, err_text(after));
  CHECK(after->total_executions == baseline->total_executions);
}

TEST_CASE("head_of_line::test_orphan_deferral_schedule") {
  LoopFixture f;
  ManualClock clock;
  const int64_t T = clock.now();
  Store s = create_provider_with_clock(f, clock);
  const std::string g = "ghost-9";
  REQUIRE(EO(s, WorkItem::ExternalRaised{g, "evt", "data"}));
  const std::pair<int64_t, int64_t> steps[] = {
      {0, 1000}, {1000, 2000}, {2000, 3000}, {10000, 15000}, {200000, 260000}};
  for (auto [at, visible] : steps) {
    CAPTURE(at);
    clock.set(T + at);
    CHECK_FALSE(fetch(s).has_value());
    auto rows = s.orchestrator_rows(g);
    REQUIRE(rows.size() == 1);
    CHECK_FALSE(rows[0].locked);
    CHECK(rows[0].attempt_count == 0);
    CHECK(rows[0].visible_at == T + visible);
  }
}

TEST_CASE("head_of_line::test_orphan_rows_purged_by_force_delete") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string g = "ghost-10";
  REQUIRE(EO(s, WorkItem::CancelInstance{g, "r"}));
  REQUIRE(EO(s, WorkItem::ExternalRaised{g, "evt", "data"}));
  REQUIRE(EO(s, activity_completed(g)));
  CHECK_FALSE(fetch(s).has_value());
  REQUIRE(check_deferred(s, g) == 3);
  auto d = mgmt::delete_instances_atomic(s, {g}, true);
  REQUIRE_MESSAGE(d, err_text(d));
  CHECK(d->queue_messages_deleted == 3);
  CHECK(d->instances_deleted == 0);
  CHECK(s.orchestrator_rows(g).empty());
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("worker_queue") + " WHERE instance_id = $1", pg::Params().add(g)) == 0);
  check_no_entity_rows(s, g);
}
