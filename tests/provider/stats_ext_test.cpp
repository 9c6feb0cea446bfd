// conformance.md §6.8 — stats_ext: get_instance_stats reads the current execution only, counts KV
// over the merged (delta-over-store) view once per key, and measures bytes as UTF-8 octets.
#include <doctest/doctest.h>

#include "duroxide/wire.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

Result<std::optional<SystemStats>> stats(Store& s, const std::string& inst) {
  return await<std::optional<SystemStats>>(s.loop(), [&](auto cb) { s->get_instance_stats(inst, std::move(cb)); });
}

SystemStats some_stats(Store& s, const std::string& inst) {
  auto r = stats(s, inst);
  REQUIRE_MESSAGE(r, err_text(r));
  REQUIRE(r->has_value());
  return **r;
}

LockedOrchestration fetch_turn(Store& s, const std::string& inst) {
  auto fo = FO(s, 30s);
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  return std::move(**fo);
}

// kv_store's ack_with_delta (§3.2): poke, FO, AO(exec, delta, metadata).
void ack_with_delta(Store& s, const std::string& inst, uint64_t exec, std::vector<Event> delta,
                    ExecutionMetadata metadata = {}) {
  REQUIRE(EO(s, external_item(inst, "poke")));
  LockedOrchestration t = fetch_turn(s, inst);
  AckArgs a;
  a.delta = std::move(delta);
  a.metadata = std::move(metadata);
  auto r = AO(s, t.lock_token, exec, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

Event kv_set(const std::string& inst, uint64_t exec, uint64_t id, std::string key, std::string value) {
  return make_event(inst, exec, id, EventKind::KeyValueSet{std::move(key), std::move(value), 1700000000000});
}

}  // namespace

TEST_CASE("stats_ext::test_get_instance_stats_key_in_store_and_delta_counted_once") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string x = "stats-x";
  create_instance(s, x);
  std::vector<Event> d1;
  d1.push_back(kv_set(x, 1, 100, "k", "aaaa"));
  ack_with_delta(s, x, 1, std::move(d1));
  std::vector<Event> done;
  done.push_back(make_event(x, 1, 9999, EventKind::OrchestrationCompleted{"done"}));
  ack_with_delta(s, x, 1, std::move(done), meta("Completed", std::string("done")));
  std::vector<Event> d2;
  d2.push_back(kv_set(x, 2, 200, "k", "bb"));
  ack_with_delta(s, x, 2, std::move(d2));  // exec 2 directly
  SystemStats st = some_stats(s, x);
  CHECK(st.kv_user_key_count == 1);
  CHECK(st.kv_total_value_bytes == 2);
  std::vector<Event> d3;
  d3.push_back(make_event(x, 2, 201, EventKind::KeyValueCleared{"k"}));
  ack_with_delta(s, x, 2, std::move(d3));
  st = some_stats(s, x);
  CHECK(st.kv_user_key_count == 0);
  CHECK(st.kv_total_value_bytes == 0);
}

TEST_CASE("stats_ext::test_get_instance_stats_current_execution_only") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string x = "stats-can";
  REQUIRE(EO(s, start_item(x)));
  {
    LockedOrchestration t = fetch_turn(s, x);
    AckArgs a;
    a.delta.push_back(started_event(x));
    a.delta.push_back(make_event(x, 1, 2, EventKind::ActivityScheduled{"A", "in", std::nullopt, std::nullopt}));
    a.delta.push_back(make_event(x, 1, 3, EventKind::ActivityCompleted{"out"}, 2));
    a.delta.push_back(make_event(x, 1, 4, EventKind::OrchestrationContinuedAsNew{"next"}));
    a.orch_items.push_back(WorkItem::ContinueAsNew{x, "TestOrch", "next", std::string("1.0.0"),
                                                   {{"q1", "d1"}, {"q2", "d2"}}, std::nullopt});
    a.metadata = meta("ContinuedAsNew", std::string("next"));
    auto r = AO(s, t.lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  {
    LockedOrchestration t = fetch_turn(s, x);
    Event started = started_event(x, 2);
    auto* os = started.kind.get_if<EventKind::OrchestrationStarted>();
    REQUIRE(os != nullptr);
    os->input = "next";
    os->carry_forward_events = std::vector<CarryForwardEvent>{{"q1", "d1"}, {"q2", "d2"}};
    AckArgs a;
    a.delta.push_back(std::move(started));
    a.metadata = meta();
    auto r = AO(s, t.lock_token, 2, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  SystemStats st = some_stats(s, x);
  CHECK(st.history_event_count == 1);
  CHECK(st.queue_pending_count == 2);
}

TEST_CASE("stats_ext::test_get_instance_stats_counts_utf8_bytes") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string x = "stats-utf8";
  create_instance(s, x);
  const std::string value = "\xC3\xA9\xE2\x82\xAC";  // "é€": 2 + 3 UTF-8 bytes
  REQUIRE(value.size() == 5);
  std::vector<Event> d;
  d.push_back(kv_set(x, 1, 100, "k", value));
  ack_with_delta(s, x, 1, std::move(d));
  SystemStats st = some_stats(s, x);
  CHECK(st.kv_user_key_count == 1);
  CHECK(st.kv_total_value_bytes == 5);
  auto h = READ(s, x);
  REQUIRE_MESSAGE(h, err_text(h));
  uint64_t bytes = 0;
  for (const Event& e : *h) bytes += encode(e).size();
  CHECK(st.history_event_count == h->size());
  CHECK(st.history_size_bytes == bytes);
}

TEST_CASE("stats_ext::test_get_instance_stats_without_instance_row") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string x = "stats-norow";
  REQUIRE(EO(s, start_item(x)));
  LockedOrchestration t = fetch_turn(s, x);
  AckArgs a;
  a.delta.push_back(started_event(x));  // default metadata: no instance row
  auto r = AO(s, t.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
  REQUIRE(s.count_rows("instances", x) == 0);
  SystemStats st = some_stats(s, x);
  CHECK(st.history_event_count == 1);
}

TEST_CASE("stats_ext::test_get_instance_stats_corrupt_event_one") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string x = "stats-corrupt";
    create_instance(s, x);
    s.corrupt_instance_history(x, variant);
    auto r = stats(s, x);
    REQUIRE_FALSE(r);
    CHECK_FALSE(r.error().retryable);
  }
}
