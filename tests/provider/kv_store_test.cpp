// conformance.md §5.10 — kv_store: KeyValueSet / KeyValueCleared / KeyValuesCleared in an ack's
// history delta feed a per-instance delta (current execution) that is merged into the store on a
// terminal status; fetch snapshots come from the store only, client reads see delta-over-store.
#include <doctest/doctest.h>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

Event kv_set(const std::string& inst, uint64_t exec, uint64_t id, std::string key, std::string value,
             uint64_t ts = 1700000000000) {
  return make_event(inst, exec, id, EventKind::KeyValueSet{std::move(key), std::move(value), ts});
}
Event kv_clear(const std::string& inst, uint64_t exec, uint64_t id, std::string key) {
  return make_event(inst, exec, id, EventKind::KeyValueCleared{std::move(key)});
}
Event kv_clear_all(const std::string& inst, uint64_t exec, uint64_t id) {
  return make_event(inst, exec, id, EventKind::KeyValuesCleared{});
}

WorkItem poke_item(const std::string& inst) { return external_item(inst, "poke"); }

// Fetches and requires the turn of `inst`.
LockedOrchestration fetch_turn(Store& s, const std::string& inst) {
  auto fo = FO(s, 30s);
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  return std::move(**fo);
}

// §3.2: poke, FO(30 s), AO(exec, delta, default metadata).
void ack_with_delta(Store& s, const std::string& inst, uint64_t exec, std::vector<Event> delta) {
  REQUIRE(EO(s, poke_item(inst)));
  LockedOrchestration t = fetch_turn(s, inst);
  AckArgs a;
  a.delta = std::move(delta);
  auto r = AO(s, t.lock_token, exec, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

void set_kv(Store& s, const std::string& inst, uint64_t exec, uint64_t id, std::string key, std::string value) {
  std::vector<Event> d;
  d.push_back(kv_set(inst, exec, id, std::move(key), std::move(value)));
  ack_with_delta(s, inst, exec, std::move(d));
}

// §3.2 continue_as_new(inst, n): turn n-1 ends ContinuedAsNew (merging KV), then exec n starts.
void continue_as_new(Store& s, const std::string& inst, uint64_t n) {
  REQUIRE(EO(s, poke_item(inst)));
  {
    LockedOrchestration t = fetch_turn(s, inst);
    AckArgs a;
    a.metadata = meta("ContinuedAsNew");
    auto r = AO(s, t.lock_token, n - 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  REQUIRE(EO(s, WorkItem::ContinueAsNew{inst, "TestOrch", "{}", std::string("1.0.0"), {}, std::nullopt}));
  LockedOrchestration t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event(inst, n));
  a.metadata = meta();
  auto r = AO(s, t.lock_token, n, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

// §3.2 complete_instance(inst, exec).
void complete_instance(Store& s, const std::string& inst, uint64_t exec) {
  REQUIRE(EO(s, poke_item(inst)));
  LockedOrchestration t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(make_event(inst, exec, 9999, EventKind::OrchestrationCompleted{"done"}));
  a.metadata = meta("Completed", "done");
  auto r = AO(s, t.lock_token, exec, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

std::optional<std::string> get(Store& s, const std::string& inst, const std::string& key) {
  auto r = KV(s, inst, key);
  REQUIRE_MESSAGE(r, err_text(r));
  return *r;
}

// poke, FO; returns the turn (snapshot in item.kv_snapshot).
LockedOrchestration poke_and_fetch(Store& s, const std::string& inst) {
  REQUIRE(EO(s, poke_item(inst)));
  return fetch_turn(s, inst);
}

void cleanup_ack(Store& s, const LockedOrchestration& t, uint64_t exec) {
  auto r = AO(s, t.lock_token, exec);
  CHECK_MESSAGE(r, err_text(r));
}

PruneOptions keep_last(uint32_t n) {
  PruneOptions o;
  o.keep_last = n;
  return o;
}

std::optional<std::string> some(std::string v) { return std::optional<std::string>(std::move(v)); }
const std::optional<std::string> none = std::nullopt;

}  // namespace

TEST_CASE("kv_store::test_kv_set_and_get") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-1");
  set_kv(s, "kv-1", 1, 100, "counter", "42");
  CHECK(get(s, "kv-1", "counter") == some("42"));
}

TEST_CASE("kv_store::test_kv_overwrite") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-2");
  set_kv(s, "kv-2", 1, 100, "status", "old");
  CHECK(get(s, "kv-2", "status") == some("old"));
  set_kv(s, "kv-2", 1, 101, "status", "new");
  CHECK(get(s, "kv-2", "status") == some("new"));
}

TEST_CASE("kv_store::test_kv_clear_single") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-3");
  set_kv(s, "kv-3", 1, 100, "remove_me", "x");
  CHECK(get(s, "kv-3", "remove_me") == some("x"));
  std::vector<Event> d;
  d.push_back(kv_clear("kv-3", 1, 101, "remove_me"));
  ack_with_delta(s, "kv-3", 1, std::move(d));
  CHECK(get(s, "kv-3", "remove_me") == none);
}

TEST_CASE("kv_store::test_kv_clear_all") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-4");
  std::vector<Event> d;
  d.push_back(kv_set("kv-4", 1, 100, "a", "1"));
  d.push_back(kv_set("kv-4", 1, 101, "b", "2"));
  ack_with_delta(s, "kv-4", 1, std::move(d));
  CHECK(get(s, "kv-4", "a") == some("1"));
  CHECK(get(s, "kv-4", "b") == some("2"));
  std::vector<Event> c;
  c.push_back(kv_clear_all("kv-4", 1, 102));
  ack_with_delta(s, "kv-4", 1, std::move(c));
  CHECK(get(s, "kv-4", "a") == none);
  CHECK(get(s, "kv-4", "b") == none);
}

TEST_CASE("kv_store::test_kv_get_nonexistent") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-5");
  CHECK(get(s, "kv-5", "nope") == none);
}

TEST_CASE("kv_store::test_kv_snapshot_in_fetch") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-6";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "x", "10"));
  d.push_back(kv_set(inst, 1, 101, "y", "20"));
  ack_with_delta(s, inst, 1, std::move(d));
  complete_instance(s, inst, 1);
  LockedOrchestration t = poke_and_fetch(s, inst);
  CHECK(t.item.kv_snapshot.size() == 2);
  REQUIRE(t.item.kv_snapshot.count("x") == 1);
  REQUIRE(t.item.kv_snapshot.count("y") == 1);
  CHECK(t.item.kv_snapshot.at("x").value == "10");
  CHECK(t.item.kv_snapshot.at("y").value == "20");
  cleanup_ack(s, t, 1);
}

TEST_CASE("kv_store::test_kv_snapshot_after_clear_single") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-7";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "keep", "yes"));
  d.push_back(kv_set(inst, 1, 101, "remove", "bye"));
  ack_with_delta(s, inst, 1, std::move(d));
  std::vector<Event> c;
  c.push_back(kv_clear(inst, 1, 102, "remove"));
  ack_with_delta(s, inst, 1, std::move(c));
  complete_instance(s, inst, 1);
  LockedOrchestration t = poke_and_fetch(s, inst);
  CHECK(t.item.kv_snapshot.size() == 1);
  REQUIRE(t.item.kv_snapshot.count("keep") == 1);
  CHECK(t.item.kv_snapshot.at("keep").value == "yes");
  cleanup_ack(s, t, 1);
}

TEST_CASE("kv_store::test_kv_snapshot_after_clear_all") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-8";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "a", "1"));
  d.push_back(kv_set(inst, 1, 101, "b", "2"));
  ack_with_delta(s, inst, 1, std::move(d));
  std::vector<Event> c;
  c.push_back(kv_clear_all(inst, 1, 102));
  ack_with_delta(s, inst, 1, std::move(c));
  LockedOrchestration t = poke_and_fetch(s, inst);
  CHECK(t.item.kv_snapshot.empty());
  cleanup_ack(s, t, 1);
}

TEST_CASE("kv_store::test_kv_execution_id_tracking") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-9";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "shared", "from_exec_1");
  CHECK(get(s, inst, "shared") == some("from_exec_1"));
  continue_as_new(s, inst, 2);
  set_kv(s, inst, 2, 200, "shared", "from_exec_2");
  CHECK(get(s, inst, "shared") == some("from_exec_2"));
  auto p = mgmt::prune_executions(s, inst, keep_last(1));
  REQUIRE_MESSAGE(p, err_text(p));
  CHECK(get(s, inst, "shared") == some("from_exec_2"));
}

TEST_CASE("kv_store::test_kv_cross_execution_overwrite") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-10";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "k", "v1");
  CHECK(get(s, inst, "k") == some("v1"));
  continue_as_new(s, inst, 2);
  set_kv(s, inst, 2, 200, "k", "v2");
  CHECK(get(s, inst, "k") == some("v2"));
}

TEST_CASE("kv_store::test_kv_cross_execution_remove_readd") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-11";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "cycle", "exec1");
  CHECK(get(s, inst, "cycle") == some("exec1"));
  continue_as_new(s, inst, 2);
  std::vector<Event> c;
  c.push_back(kv_clear(inst, 2, 200, "cycle"));
  ack_with_delta(s, inst, 2, std::move(c));
  CHECK(get(s, inst, "cycle") == none);
  continue_as_new(s, inst, 3);
  set_kv(s, inst, 3, 300, "cycle", "exec3");
  CHECK(get(s, inst, "cycle") == some("exec3"));
}

TEST_CASE("kv_store::test_kv_prune_preserves_overwritten") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-12";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "survive", "v1");
  continue_as_new(s, inst, 2);
  set_kv(s, inst, 2, 200, "survive", "v2");
  auto p = mgmt::prune_executions(s, inst, keep_last(1));
  REQUIRE_MESSAGE(p, err_text(p));
  CHECK(get(s, inst, "survive") == some("v2"));
}

TEST_CASE("kv_store::test_kv_prune_preserves_all_keys") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-13";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "orphan", "survives");
  continue_as_new(s, inst, 2);
  set_kv(s, inst, 2, 200, "keeper", "alive");
  CHECK(get(s, inst, "orphan") == some("survives"));
  CHECK(get(s, inst, "keeper") == some("alive"));
  auto p = mgmt::prune_executions(s, inst, keep_last(1));
  REQUIRE_MESSAGE(p, err_text(p));
  CHECK(get(s, inst, "orphan") == some("survives"));
  CHECK(get(s, inst, "keeper") == some("alive"));
}

TEST_CASE("kv_store::test_kv_instance_isolation") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-iso-a");
  create_instance(s, "kv-iso-b");
  set_kv(s, "kv-iso-a", 1, 100, "shared_name", "value_a");
  set_kv(s, "kv-iso-b", 1, 100, "shared_name", "value_b");
  CHECK(get(s, "kv-iso-a", "shared_name") == some("value_a"));
  CHECK(get(s, "kv-iso-b", "shared_name") == some("value_b"));
}

TEST_CASE("kv_store::test_kv_delete_instance_cascades") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-15";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "doomed", "bye");
  complete_instance(s, inst, 1);
  CHECK(get(s, inst, "doomed") == some("bye"));
  auto d = mgmt::delete_instance(s, inst, false);
  REQUIRE_MESSAGE(d, err_text(d));
  CHECK(get(s, inst, "doomed") == none);
}

TEST_CASE("kv_store::test_kv_clear_nonexistent_key") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-16";
  create_instance(s, inst);
  std::vector<Event> c;
  c.push_back(kv_clear(inst, 1, 100, "never_set"));
  ack_with_delta(s, inst, 1, std::move(c));  // REQUIREs the ack is Ok
  CHECK(get(s, inst, "never_set") == none);
}

TEST_CASE("kv_store::test_kv_get_unknown_instance") {
  LoopFixture f;
  Store s = create_provider(f);
  auto r = await<std::optional<std::string>>(f, [&](auto cb) { s->get_kv_value("no-such-instance", "k", std::move(cb)); });
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK_FALSE(r->has_value());
}

TEST_CASE("kv_store::test_kv_set_after_clear") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-18";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "old_a", "a"));
  d.push_back(kv_set(inst, 1, 101, "old_b", "b"));
  ack_with_delta(s, inst, 1, std::move(d));
  std::vector<Event> c;
  c.push_back(kv_clear_all(inst, 1, 102));
  c.push_back(kv_set(inst, 1, 103, "new_x", "fresh"));
  ack_with_delta(s, inst, 1, std::move(c));
  CHECK(get(s, inst, "old_a") == none);
  CHECK(get(s, inst, "old_b") == none);
  CHECK(get(s, inst, "new_x") == some("fresh"));
}

TEST_CASE("kv_store::test_kv_empty_value") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-19");
  set_kv(s, "kv-19", 1, 100, "blank", "");
  auto v = get(s, "kv-19", "blank");
  REQUIRE(v.has_value());
  CHECK(*v == "");
}

TEST_CASE("kv_store::test_kv_large_value") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-20");
  const std::string big(16 * 1024, 'x');
  set_kv(s, "kv-20", 1, 100, "big", big);
  auto v = get(s, "kv-20", "big");
  REQUIRE(v.has_value());
  CHECK(v->size() == big.size());
  CHECK(*v == big);
}

TEST_CASE("kv_store::test_kv_special_chars_in_key") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-21";
  create_instance(s, inst);
  const std::vector<std::pair<std::string, std::string>> kvs = {
      {"key with spaces", "v-spaces"},
      {"\xE3\x82\xAD\xE3\x83\xBC", "v-japanese"},  // キー
      {"dotted.key.name", "v-dotted"},
      {"slash/separated/key", "v-slash"},
      {"emoji-\xF0\x9F\x94\x91", "v-emoji"},  // U+1F511
  };
  std::vector<Event> d;
  uint64_t id = 100;
  for (const auto& [k, v] : kvs) d.push_back(kv_set(inst, 1, id++, k, v));
  ack_with_delta(s, inst, 1, std::move(d));
  for (const auto& [k, v] : kvs) CHECK_MESSAGE(get(s, inst, k) == some(v), k);
}

TEST_CASE("kv_store::test_kv_snapshot_empty") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-22");
  LockedOrchestration t = poke_and_fetch(s, "kv-22");
  CHECK(t.item.kv_snapshot.empty());
  cleanup_ack(s, t, 1);
}

TEST_CASE("kv_store::test_kv_snapshot_cross_execution") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-23";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "A", "from_exec1");
  continue_as_new(s, inst, 2);
  set_kv(s, inst, 2, 200, "B", "from_exec2");
  LockedOrchestration t = poke_and_fetch(s, inst);
  CHECK(t.item.kv_snapshot.size() == 1);
  REQUIRE(t.item.kv_snapshot.count("A") == 1);
  CHECK(t.item.kv_snapshot.at("A").value == "from_exec1");
  CHECK(t.item.kv_snapshot.count("B") == 0);
  cleanup_ack(s, t, 2);
}

TEST_CASE("kv_store::test_kv_prune_current_execution_protected") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-24";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "alive", "yes");
  auto p = mgmt::prune_executions(s, inst, keep_last(1));
  REQUIRE_MESSAGE(p, err_text(p));
  CHECK(get(s, inst, "alive") == some("yes"));
}

TEST_CASE("kv_store::test_kv_delete_instance_with_children") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string parent = "kv-parent", child = "kv-child";
  create_instance(s, parent);
  set_kv(s, parent, 1, 100, "parent_key", "p");
  // create_instance_with_parent: only enqueues; we fetch and ack ourselves.
  REQUIRE(EO(s, WorkItem::StartOrchestration{child, "TestOrch", "{}", std::string("1.0.0"), parent, std::nullopt, 1}));
  {
    LockedOrchestration t = fetch_turn(s, child);
    AckArgs a;
    a.delta.push_back(started_event(child));
    a.metadata = meta();
    a.metadata.parent_instance_id = parent;
    auto r = AO(s, t.lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  set_kv(s, child, 1, 100, "child_key", "c");
  CHECK(get(s, parent, "parent_key") == some("p"));
  CHECK(get(s, child, "child_key") == some("c"));
  complete_instance(s, child, 1);
  complete_instance(s, parent, 1);
  auto d = mgmt::delete_instance(s, parent, false);
  REQUIRE_MESSAGE(d, err_text(d));
  CHECK(get(s, parent, "parent_key") == none);
  CHECK(get(s, child, "child_key") == none);
}

TEST_CASE("kv_store::test_kv_clear_isolation") {
  LoopFixture f;
  Store s = create_provider(f);
  create_instance(s, "kv-clr-a");
  create_instance(s, "kv-clr-b");
  set_kv(s, "kv-clr-a", 1, 100, "shared", "from_a");
  set_kv(s, "kv-clr-b", 1, 100, "shared", "from_b");
  std::vector<Event> c;
  c.push_back(kv_clear_all("kv-clr-a", 1, 101));
  ack_with_delta(s, "kv-clr-a", 1, std::move(c));
  CHECK(get(s, "kv-clr-a", "shared") == none);
  CHECK(get(s, "kv-clr-b", "shared") == some("from_b"));
}

TEST_CASE("kv_store::test_kv_delta_snapshot_excludes_current_execution") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-27";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "counter", "1", 100));
  ack_with_delta(s, inst, 1, std::move(d));
  LockedOrchestration t = poke_and_fetch(s, inst);
  CHECK(get(s, inst, "counter") == some("1"));
  CHECK(t.item.kv_snapshot.empty());
  cleanup_ack(s, t, 1);
}

TEST_CASE("kv_store::test_kv_delta_snapshot_includes_completed_execution") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-28";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "counter", "5");
  continue_as_new(s, inst, 2);
  LockedOrchestration t = poke_and_fetch(s, inst);
  REQUIRE(t.item.kv_snapshot.count("counter") == 1);
  CHECK(t.item.kv_snapshot.at("counter").value == "5");
  cleanup_ack(s, t, 2);
}

TEST_CASE("kv_store::test_kv_delta_client_reads_merged") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-29";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "color", "red"));
  d.push_back(kv_set(inst, 1, 101, "size", "large"));
  ack_with_delta(s, inst, 1, std::move(d));
  complete_instance(s, inst, 1);
  std::vector<Event> d2;
  d2.push_back(kv_set(inst, 2, 200, "color", "blue"));
  d2.push_back(kv_set(inst, 2, 201, "shape", "circle"));
  ack_with_delta(s, inst, 2, std::move(d2));  // exec 2 directly: no CAN, no Started
  CHECK(get(s, inst, "color") == some("blue"));
  CHECK(get(s, inst, "size") == some("large"));
  CHECK(get(s, inst, "shape") == some("circle"));
}

TEST_CASE("kv_store::test_kv_delta_tombstone_overrides_store") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-30";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "temp", "exists");
  complete_instance(s, inst, 1);
  std::vector<Event> c;
  c.push_back(kv_clear(inst, 2, 200, "temp"));
  ack_with_delta(s, inst, 2, std::move(c));
  CHECK(get(s, inst, "temp") == none);
}

TEST_CASE("kv_store::test_kv_delta_clear_all_tombstones_store") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-31";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "a", "1"));
  d.push_back(kv_set(inst, 1, 101, "b", "2"));
  ack_with_delta(s, inst, 1, std::move(d));
  complete_instance(s, inst, 1);
  std::vector<Event> c;
  c.push_back(kv_clear_all(inst, 2, 200));
  c.push_back(kv_set(inst, 2, 201, "c", "3"));
  ack_with_delta(s, inst, 2, std::move(c));
  CHECK(get(s, inst, "a") == none);
  CHECK(get(s, inst, "b") == none);
  CHECK(get(s, inst, "c") == some("3"));
}

TEST_CASE("kv_store::test_kv_delta_merged_on_completion") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-32";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "result", "42");
  complete_instance(s, inst, 1);
  CHECK(get(s, inst, "result") == some("42"));
}

TEST_CASE("kv_store::test_kv_delta_merged_on_can") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-33";
  create_instance(s, inst);
  std::vector<Event> d;
  d.push_back(kv_set(inst, 1, 100, "version", "1"));
  d.push_back(kv_set(inst, 1, 101, "progress", "50%"));
  ack_with_delta(s, inst, 1, std::move(d));
  set_kv(s, inst, 1, 102, "progress", "100%");
  continue_as_new(s, inst, 2);
  LockedOrchestration t = poke_and_fetch(s, inst);
  REQUIRE(t.item.kv_snapshot.count("version") == 1);
  REQUIRE(t.item.kv_snapshot.count("progress") == 1);
  CHECK(t.item.kv_snapshot.at("version").value == "1");
  CHECK(t.item.kv_snapshot.at("progress").value == "100%");
  cleanup_ack(s, t, 2);
}

TEST_CASE("kv_store::test_kv_delta_delete_instance_cascades") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-34";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "data", "important");
  CHECK(get(s, inst, "data") == some("important"));
  auto d = mgmt::delete_instance(s, inst, true);
  REQUIRE_MESSAGE(d, err_text(d));
  CHECK(get(s, inst, "data") == none);
}

TEST_CASE("kv_store::test_kv_delta_prune_untouched_key_survives") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "kv-35";
  create_instance(s, inst);
  set_kv(s, inst, 1, 100, "stale_config", "cfg");
  continue_as_new(s, inst, 2);
  set_kv(s, inst, 2, 200, "other", "o");
  continue_as_new(s, inst, 3);
  CHECK(get(s, inst, "stale_config") == some("cfg"));
  CHECK(get(s, inst, "other") == some("o"));
  auto p = mgmt::prune_executions(s, inst, keep_last(1));
  REQUIRE_MESSAGE(p, err_text(p));
  CHECK(get(s, inst, "stale_config") == some("cfg"));
  CHECK(get(s, inst, "other") == some("o"));
  LockedOrchestration t = poke_and_fetch(s, inst);
  REQUIRE(t.item.kv_snapshot.count("stale_config") == 1);
  REQUIRE(t.item.kv_snapshot.count("other") == 1);
  CHECK(t.item.kv_snapshot.at("stale_config").value == "cfg");
  CHECK(t.item.kv_snapshot.at("other").value == "o");
  cleanup_ack(s, t, 3);
}
