// conformance.md §5.6 — deletion: delete_instance / delete_instances_atomic, the instance tree,
// zombie prevention, and id reuse after deletion (contract §8, error texts §9.4).
#include <doctest/doctest.h>

#include <algorithm>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

LockedOrchestration fetch_turn(Store& s, const std::string& inst, Millis lock = 30s) {
  auto fo = FO(s, lock);
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  return std::move(**fo);
}

// Enqueue a start (with parent link when given), fetch, ack exec 1 with Started plus terminal
// metadata (§3.2 deletion fixtures).
void create_terminal_instance(Store& s, const std::string& inst, std::string status, std::string output,
                              std::optional<std::string> parent = std::nullopt, std::string name = "TestOrch") {
  WorkItem::StartOrchestration start{inst, name, "{}", std::string("1.0.0"), parent,
                                     parent ? std::optional<uint64_t>(1) : std::nullopt, 1};
  REQUIRE(EO(s, start));
  auto t = fetch_turn(s, inst);
  AckArgs a;
  a.delta.push_back(started_event(inst, 1, name));
  a.metadata = meta(std::move(status), std::move(output), name, std::string("1.0.0"));
  a.metadata.parent_instance_id = std::move(parent);
  auto r = AO(s, t.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

void create_completed_instance(Store& s, const std::string& inst) {
  create_terminal_instance(s, inst, "Completed", "done");
}
void create_failed_instance(Store& s, const std::string& inst) {
  create_terminal_instance(s, inst, "Failed", "error: something went wrong");
}
void create_cancelled_instance(Store& s, const std::string& inst) {
  create_terminal_instance(s, inst, "Failed", "cancelled: user requested cancellation");
}

// create_instance_with_parent (§3.1: only enqueues, parent_id absent), then FO(5 s) and AO with a
// ChildOrch Started and metadata {Completed, "done", ChildOrch, 1.0.0, parent}.
void create_child_instance(Store& s, const std::string& child, const std::string& parent) {
  REQUIRE(EO(s, WorkItem::StartOrchestration{child, "ChildOrch", "{}", std::string("1.0.0"), parent,
                                             std::nullopt, 1}));
  auto t = fetch_turn(s, child, 5s);
  AckArgs a;
  a.delta.push_back(started_event(child, 1, "ChildOrch"));
  a.metadata = meta("Completed", "done", std::string("ChildOrch"), std::string("1.0.0"));
  a.metadata.parent_instance_id = parent;
  auto r = AO(s, t.lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

bool exists(Store& s, const std::string& inst) { return mgmt::exists(s, inst); }

// root, root::sub::2 and root::sub::3 under it, root::sub::3::sub::4 under the second child.
struct Tree {
  std::string root = "root", child1 = "root::sub::2", child2 = "root::sub::3", grandchild = "root::sub::3::sub::4";
};
Tree create_tree(Store& s) {
  Tree t;
  create_completed_instance(s, t.root);
  create_child_instance(s, t.child1, t.root);
  create_child_instance(s, t.child2, t.root);
  create_child_instance(s, t.grandchild, t.child2);
  return t;
}

}  // namespace

TEST_CASE("deletion::test_delete_terminal_instances") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "del-completed");
  create_failed_instance(s, "del-failed");
  create_cancelled_instance(s, "del-cancelled");
  CHECK(exists(s, "del-completed"));
  CHECK(exists(s, "del-failed"));
  CHECK(exists(s, "del-cancelled"));

  auto r = mgmt::delete_instance(s, "del-completed", false);
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(r->instances_deleted >= 1);
  CHECK(r->executions_deleted >= 1);
  CHECK(r->events_deleted >= 1);
  CHECK_FALSE(exists(s, "del-completed"));

  for (const char* inst : {"del-failed", "del-cancelled"}) {
    auto d = mgmt::delete_instance(s, inst, false);
    REQUIRE_MESSAGE(d, err_text(d));
    CHECK(d->instances_deleted >= 1);
    CHECK_FALSE(exists(s, inst));
  }
}

TEST_CASE("deletion::test_delete_running_rejected_force_succeeds") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "del-running";
  create_instance(s, inst);

  auto refused = mgmt::delete_instance(s, inst, false);
  REQUIRE_FALSE(refused);
  CHECK_FALSE(refused.error().retryable);
  CHECK_MESSAGE(contains_ci(refused.error().message, "running"), refused.error().to_string());
  CHECK(exists(s, inst));

  auto forced = mgmt::delete_instance(s, inst, true);
  REQUIRE_MESSAGE(forced, err_text(forced));
  CHECK(forced->instances_deleted >= 1);
  CHECK_FALSE(exists(s, inst));
}

TEST_CASE("deletion::test_delete_nonexistent_instance") {
  LoopFixture f;
  Store s = create_provider(f);
  auto r = mgmt::delete_instance(s, "does-not-exist-12345", false);
  REQUIRE_FALSE(r);
  CHECK_FALSE(r.error().retryable);
  CHECK_MESSAGE(contains_ci(r.error().message, "not found"), r.error().to_string());
}

TEST_CASE("deletion::test_delete_cleans_queues_and_locks") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "del-queues";
  REQUIRE(EO(s, start_item(inst)));
  REQUIRE(EW(s, activity_item(inst, 7)));  // never fetched
  auto t = fetch_turn(s, inst);
  {
    AckArgs a;
    a.delta.push_back(started_event(inst));
    a.metadata = meta("Completed", "done");
    auto r = AO(s, t.lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  auto del = mgmt::delete_instance(s, inst, false);
  REQUIRE_MESSAGE(del, err_text(del));
  CHECK(del->queue_messages_deleted >= 1);

  REQUIRE(EO(s, WorkItem::StartOrchestration{inst, "ReusedOrch", "{\"different\":true}", std::string("2.0.0"),
                                             std::nullopt, std::nullopt, 1}));
  auto t2 = fetch_turn(s, inst);
  CHECK(t2.item.orchestration_name == "ReusedOrch");
  {
    AckArgs a;
    a.delta.push_back(started_event(inst, 1, "ReusedOrch", "2.0.0"));
    a.metadata = meta(std::nullopt, std::nullopt, std::string("ReusedOrch"), std::string("2.0.0"));
    auto r = AO(s, t2.lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  auto info = mgmt::get_instance_info(s, inst);
  REQUIRE_MESSAGE(info, err_text(info));
  CHECK(info->orchestration_name == "ReusedOrch");

  auto cleanup = mgmt::delete_instance(s, inst, true);
  CHECK_MESSAGE(cleanup, err_text(cleanup));
}

TEST_CASE("deletion::test_cascade_delete_hierarchy") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string root = "cascade-root", child1 = "cascade-root::sub::2", child2 = "cascade-root::sub::3",
                    grandchild = "cascade-root::sub::2::sub::4";
  create_completed_instance(s, root);
  create_child_instance(s, child1, root);
  create_child_instance(s, child2, root);
  create_child_instance(s, grandchild, child1);

  auto sub_error = [](const ProviderError& e) {
    return contains_ci(e.message, "sub-orchestration") || contains_ci(e.message, "root") ||
           contains_ci(e.message, "parent");
  };
  auto r1 = mgmt::delete_instance(s, child1, false);
  REQUIRE_FALSE(r1);
  CHECK_MESSAGE(sub_error(r1.error()), r1.error().to_string());
  auto r2 = mgmt::delete_instance(s, child1, true);
  CHECK_FALSE(r2);
  auto r3 = mgmt::delete_instance(s, grandchild, false);
  CHECK_FALSE(r3);

  auto del = mgmt::delete_instance(s, root, false);
  REQUIRE_MESSAGE(del, err_text(del));
  CHECK(del->instances_deleted >= 1);
  CHECK(del->executions_deleted >= 4);
  for (const auto& inst : {root, child1, child2, grandchild}) CHECK_FALSE(exists(s, inst));
}

TEST_CASE("deletion::test_force_delete_prevents_ack_recreation") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "del-zombie";
  create_instance(s, inst);
  REQUIRE(EO(s, external_item(inst, "evt", "data")));
  auto t = fetch_turn(s, inst);
  const std::string token2 = t.lock_token;

  auto del = mgmt::delete_instance(s, inst, true);
  REQUIRE_MESSAGE(del, err_text(del));
  CHECK(del->instances_deleted >= 1);

  AckArgs a;
  a.delta.push_back(make_event(inst, 1, 2, EventKind::ExternalEvent{"evt", "data"}));
  auto ack = AO(s, token2, 1, std::move(a));
  CHECK_FALSE(ack);
  CHECK_FALSE(exists(s, inst));  // no zombie
}

TEST_CASE("deletion::test_list_children") {
  LoopFixture f;
  Store s = create_provider(f);
  Tree t = create_tree(s);

  auto root_children = mgmt::list_children(s, t.root);
  REQUIRE_MESSAGE(root_children, err_text(root_children));
  CHECK(root_children->size() == 2);
  CHECK(contains(*root_children, t.child1));
  CHECK(contains(*root_children, t.child2));
  CHECK_FALSE(contains(*root_children, t.grandchild));

  auto c2 = mgmt::list_children(s, t.child2);
  REQUIRE_MESSAGE(c2, err_text(c2));
  CHECK(*c2 == std::vector<std::string>{t.grandchild});

  auto leaf = mgmt::list_children(s, t.grandchild);
  REQUIRE_MESSAGE(leaf, err_text(leaf));
  CHECK(leaf->empty());

  auto none = mgmt::list_children(s, "no-such-instance");
  REQUIRE_MESSAGE(none, err_text(none));
  CHECK(none->empty());

  auto cleanup = mgmt::delete_instance(s, t.root, true);
  CHECK_MESSAGE(cleanup, err_text(cleanup));
}

TEST_CASE("deletion::test_delete_get_parent_id") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "parent-root");
  create_child_instance(s, "parent-root::sub::2", "parent-root");

  auto root = mgmt::get_parent_id(s, "parent-root");
  REQUIRE_MESSAGE(root, err_text(root));
  CHECK_FALSE(root->has_value());

  auto child = mgmt::get_parent_id(s, "parent-root::sub::2");
  REQUIRE_MESSAGE(child, err_text(child));
  CHECK(*child == std::optional<std::string>("parent-root"));

  auto missing = mgmt::get_parent_id(s, "non-existent");
  CHECK_FALSE(missing);
}

TEST_CASE("deletion::test_delete_get_instance_tree") {
  LoopFixture f;
  Store s = create_provider(f);
  Tree t = create_tree(s);

  auto tree = mgmt::get_instance_tree(s, t.root);
  REQUIRE_MESSAGE(tree, err_text(tree));
  CHECK(tree->root_id == t.root);
  CHECK(tree->size() == 4);
  CHECK_FALSE(tree->is_root_only());
  for (const auto& id : {t.root, t.child1, t.child2, t.grandchild}) CHECK(contains(tree->all_ids, id));

  auto leaf = mgmt::get_instance_tree(s, t.grandchild);
  REQUIRE_MESSAGE(leaf, err_text(leaf));
  CHECK(leaf->size() == 1);
  CHECK(leaf->is_root_only());
}

TEST_CASE("deletion::test_delete_instances_atomic") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::vector<std::string> ids{"atomic-0", "atomic-1", "atomic-2"};
  for (const auto& id : ids) create_completed_instance(s, id);
  auto r = mgmt::delete_instances_atomic(s, ids, false);
  REQUIRE_MESSAGE(r, err_text(r));
  CHECK(r->instances_deleted >= 1);
  CHECK(r->executions_deleted >= 3);
  for (const auto& id : ids) CHECK_FALSE(exists(s, id));
}

TEST_CASE("deletion::test_delete_instances_atomic_force") {
  LoopFixture f;
  Store s = create_provider(f);
  create_completed_instance(s, "atomic-done");
  create_instance(s, "atomic-running");
  const std::vector<std::string> ids{"atomic-done", "atomic-running"};

  auto refused = mgmt::delete_instances_atomic(s, ids, false);
  CHECK_FALSE(refused);
  CHECK(exists(s, "atomic-done"));
  CHECK(exists(s, "atomic-running"));

  auto forced = mgmt::delete_instances_atomic(s, ids, true);
  REQUIRE_MESSAGE(forced, err_text(forced));
  CHECK(forced->instances_deleted >= 1);
  CHECK_FALSE(exists(s, "atomic-done"));
  CHECK_FALSE(exists(s, "atomic-running"));
}

TEST_CASE("deletion::test_delete_instances_atomic_orphan_detection") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string root = "orphan-root", child = "orphan-root::sub::2";
  create_completed_instance(s, root);
  create_child_instance(s, child, root);

  auto refused = mgmt::delete_instances_atomic(s, {root}, false);
  REQUIRE_FALSE(refused);
  const std::string& msg = refused.error().message;
  CHECK_MESSAGE((contains_ci(msg, "child") || contains_ci(msg, "orphan") || contains_ci(msg, "tree")),
                refused.error().to_string());
  CHECK(exists(s, root));
  CHECK(exists(s, child));

  auto ok = mgmt::delete_instances_atomic(s, {root, child}, false);
  REQUIRE_MESSAGE(ok, err_text(ok));
  CHECK_FALSE(exists(s, root));
  CHECK_FALSE(exists(s, child));
}

TEST_CASE("deletion::test_stale_activity_after_delete_recreate") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "del-stale";
  REQUIRE(EO(s, start_item(inst)));
  {
    auto t = fetch_turn(s, inst);
    AckArgs a;
    a.delta.push_back(started_event(inst));
    a.delta.push_back(make_event(inst, 1, 2, EventKind::ActivityScheduled{"Activity2", "input", std::nullopt, std::nullopt}));
    a.worker_items.push_back(activity_item(inst, 2));
    a.metadata = meta();
    auto r = AO(s, t.lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  auto fw = FW(s, 30s);
  REQUIRE_MESSAGE(fw, err_text(fw));
  REQUIRE(fw->has_value());
  const std::string old_token = (*fw)->lock_token;

  auto del = mgmt::delete_instance(s, inst, true);
  REQUIRE_MESSAGE(del, err_text(del));
  CHECK_FALSE(exists(s, inst));

  create_instance(s, inst);
  auto info = mgmt::get_instance_info(s, inst);
  REQUIRE_MESSAGE(info, err_text(info));
  CHECK(info->orchestration_name == "TestOrch");

  auto stale = AW(s, old_token, WorkItem::ActivityCompleted{inst, 1, 2, "stale-result-from-old-instance"});
  CHECK_FALSE(stale);

  REQUIRE(EO(s, external_item(inst, "probe")));
  auto t = fetch_turn(s, inst);
  for (const WorkItem& m : t.item.messages) {
    const auto* done = m.get_if<WorkItem::ActivityCompleted>();
    CHECK_MESSAGE((done == nullptr || done->result.find("stale-result") == std::string::npos),
                  "a stale completion reached the recreated instance");
  }
}
