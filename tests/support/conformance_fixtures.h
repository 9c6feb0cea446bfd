// Shared fixtures of conformance.md §1 and §3.1: start(X), Started(X), create(X), and short
// wrappers that run one provider operation to completion (FO, AO, FW, AW, ...).
#pragma once

#include "duroxide/wire.h"
#include "support/provider_factory.h"

namespace duroxide::test {

inline WorkItem start_item(const std::string& instance, uint64_t execution_id = 1) {
  return WorkItem::StartOrchestration{instance, "TestOrch", "{}", std::string("1.0.0"), std::nullopt,
                                      std::nullopt, execution_id};
}

inline Event make_event(const std::string& instance, uint64_t execution_id, uint64_t event_id, EventKind kind,
                        std::optional<uint64_t> source = std::nullopt) {
  return Event{event_id, source, instance, execution_id, 1700000000000, "0.1.26", std::move(kind)};
}

inline Event started_event(const std::string& instance, uint64_t execution_id = 1, std::string name = "TestOrch",
                           std::string version = "1.0.0", std::string duroxide_version = "0.1.26") {
  Event e = make_event(instance, execution_id, 1,
                       EventKind::OrchestrationStarted{std::move(name), std::move(version), "{}", std::nullopt,
                                                       std::nullopt, std::nullopt, std::nullopt});
  e.duroxide_version = std::move(duroxide_version);
  return e;
}

inline ExecutionMetadata meta(std::optional<std::string> status = std::nullopt,
                              std::optional<std::string> output = std::nullopt,
                              std::optional<std::string> name = std::string("TestOrch"),
                              std::optional<std::string> version = std::string("1.0.0")) {
  ExecutionMetadata m;
  m.status = std::move(status);
  m.output = std::move(output);
  m.orchestration_name = std::move(name);
  m.orchestration_version = std::move(version);
  return m;
}

inline WorkItem activity_item(const std::string& instance, uint64_t id, uint64_t execution_id = 1,
                              std::optional<std::string> session = std::nullopt,
                              std::optional<std::string> tag = std::nullopt) {
  return WorkItem::ActivityExecute{instance, execution_id, id, "Activity" + std::to_string(id), "input",
                                   std::move(session), std::move(tag)};
}

inline WorkItem external_item(const std::string& instance, std::string name = "poke", std::string data = "{}") {
  return WorkItem::ExternalRaised{instance, std::move(name), std::move(data)};
}

// ---- one-line operations (each runs the loop until its callback) ----

inline Result<std::optional<LockedOrchestration>> FO(Store& s, Millis lock = 30s, Millis poll = 0ms,
                                                     std::optional<DispatcherCapabilityFilter> filter = std::nullopt) {
  return await<std::optional<LockedOrchestration>>(s.loop(), [&](auto cb) {
    s->fetch_orchestration_item(lock, poll, std::move(filter), std::move(cb));
  });
}

struct AckArgs {
  std::vector<Event> delta;
  std::vector<WorkItem> worker_items;
  std::vector<WorkItem> orch_items;
  ExecutionMetadata metadata;
  std::vector<ScheduledActivityIdentifier> cancelled;
};

inline Result<void> AO(Store& s, const std::string& token, uint64_t execution_id, AckArgs a = {}) {
  return await<void>(s.loop(), [&](auto cb) {
    s->ack_orchestration_item(token, execution_id, std::move(a.delta), std::move(a.worker_items),
                              std::move(a.orch_items), std::move(a.metadata), std::move(a.cancelled), std::move(cb));
  });
}

inline Result<void> AbO(Store& s, const std::string& token, std::optional<Millis> delay = std::nullopt,
                        bool ignore_attempt = false) {
  return await<void>(s.loop(), [&](auto cb) { s->abandon_orchestration_item(token, delay, ignore_attempt, std::move(cb)); });
}

inline Result<void> RO(Store& s, const std::string& token, Millis extend) {
  return await<void>(s.loop(), [&](auto cb) { s->renew_orchestration_item_lock(token, extend, std::move(cb)); });
}

inline Result<void> EO(Store& s, WorkItem item, std::optional<Millis> delay = std::nullopt) {
  return await<void>(s.loop(), [&](auto cb) { s->enqueue_for_orchestrator(std::move(item), delay, std::move(cb)); });
}

inline Result<void> EW(Store& s, WorkItem item) {
  return await<void>(s.loop(), [&](auto cb) { s->enqueue_for_worker(std::move(item), std::move(cb)); });
}

inline Result<std::optional<LockedWorkItem>> FW(Store& s, Millis lock = 30s, Millis poll = 0ms,
                                                std::optional<SessionFetchConfig> session = std::nullopt,
                                                TagFilter tags = TagFilter::DefaultOnly{}) {
  return await<std::optional<LockedWorkItem>>(s.loop(), [&](auto cb) {
    s->fetch_work_item(lock, poll, std::move(session), std::move(tags), std::move(cb));
  });
}

inline Result<void> AW(Store& s, const std::string& token, std::optional<WorkItem> completion = std::nullopt) {
  return await<void>(s.loop(), [&](auto cb) { s->ack_work_item(token, std::move(completion), std::move(cb)); });
}

inline Result<void> RW(Store& s, const std::string& token, Millis extend) {
  return await<void>(s.loop(), [&](auto cb) { s->renew_work_item_lock(token, extend, std::move(cb)); });
}

inline Result<void> AbW(Store& s, const std::string& token, std::optional<Millis> delay = std::nullopt,
                        bool ignore_attempt = false) {
  return await<void>(s.loop(), [&](auto cb) { s->abandon_work_item(token, delay, ignore_attempt, std::move(cb)); });
}

inline Result<std::vector<Event>> READ(Store& s, const std::string& instance) {
  return await<std::vector<Event>>(s.loop(), [&](auto cb) { s->read(instance, std::move(cb)); });
}

inline Result<std::optional<std::string>> KV(Store& s, const std::string& instance, const std::string& key) {
  return await<std::optional<std::string>>(s.loop(), [&](auto cb) { s->get_kv_value(instance, key, std::move(cb)); });
}

inline Result<std::vector<Event>> READX(Store& s, const std::string& instance, uint64_t execution_id) {
  return await<std::vector<Event>>(s.loop(), [&](auto cb) { s->read_with_execution(instance, execution_id, std::move(cb)); });
}

inline Result<void> APPEND(Store& s, const std::string& instance, uint64_t execution_id, std::vector<Event> events) {
  return await<void>(s.loop(), [&](auto cb) { s->append_with_execution(instance, execution_id, std::move(events), std::move(cb)); });
}

// create(X) of §3.1: afterwards X exists, its execution is Running, and it has one history event.
inline void create_instance(Store& s, const std::string& instance) {
  REQUIRE(EO(s, start_item(instance)));
  auto f = FO(s);
  REQUIRE(f);
  REQUIRE(f->has_value());
  REQUIRE((*f)->item.instance == instance);
  AckArgs a;
  a.delta.push_back(started_event(instance));
  a.metadata = meta();
  REQUIRE(AO(s, (*f)->lock_token, 1, std::move(a)));
}

// Checks that a Result failed with a message containing `needle`.
#define CHECK_ERR_CONTAINS(result, needle)                                                       \
  do {                                                                                           \
    REQUIRE_FALSE(result);                                                                       \
    CHECK_MESSAGE((result).error().message.find(needle) != std::string::npos, (result).error().to_string()); \
  } while (0)

// ---- management capability (mgmt.x of conformance.md §1) ----

// The ProviderAdmin of a store (REQUIREs that the provider has one).
inline ProviderAdmin& admin_of(Store& s) {
  ProviderAdmin* a = s->as_management_capability();
  REQUIRE_MESSAGE(a != nullptr, "the provider has no management capability (ProviderAdmin)");
  return *a;
}

// Runs any ProviderAdmin operation to completion:
//   auto r = ADMIN<InstanceTree>(s, [&](ProviderAdmin& a, auto cb) { a.get_instance_tree("x", std::move(cb)); });
template <class T, class Start>
Result<T> ADMIN(Store& s, Start&& start) {
  ProviderAdmin& a = admin_of(s);
  return await<T>(s.loop(), [&](auto cb) { start(a, std::move(cb)); });
}

namespace mgmt {
inline Result<std::vector<std::string>> list_instances(Store& s) {
  return ADMIN<std::vector<std::string>>(s, [&](ProviderAdmin& a, auto cb) { a.list_instances(std::move(cb)); });
}
inline Result<std::vector<std::string>> list_instances_by_status(Store& s, const std::string& status) {
  return ADMIN<std::vector<std::string>>(s, [&](ProviderAdmin& a, auto cb) { a.list_instances_by_status(status, std::move(cb)); });
}
inline Result<std::vector<uint64_t>> list_executions(Store& s, const std::string& inst) {
  return ADMIN<std::vector<uint64_t>>(s, [&](ProviderAdmin& a, auto cb) { a.list_executions(inst, std::move(cb)); });
}
inline Result<uint64_t> latest_execution_id(Store& s, const std::string& inst) {
  return ADMIN<uint64_t>(s, [&](ProviderAdmin& a, auto cb) { a.latest_execution_id(inst, std::move(cb)); });
}
inline Result<InstanceInfo> get_instance_info(Store& s, const std::string& inst) {
  return ADMIN<InstanceInfo>(s, [&](ProviderAdmin& a, auto cb) { a.get_instance_info(inst, std::move(cb)); });
}
inline Result<ExecutionInfo> get_execution_info(Store& s, const std::string& inst, uint64_t execution_id) {
  return ADMIN<ExecutionInfo>(s, [&](ProviderAdmin& a, auto cb) { a.get_execution_info(inst, execution_id, std::move(cb)); });
}
inline Result<SystemMetrics> get_system_metrics(Store& s) {
  return ADMIN<SystemMetrics>(s, [&](ProviderAdmin& a, auto cb) { a.get_system_metrics(std::move(cb)); });
}
inline Result<QueueDepths> get_queue_depths(Store& s) {
  return ADMIN<QueueDepths>(s, [&](ProviderAdmin& a, auto cb) { a.get_queue_depths(std::move(cb)); });
}
inline Result<std::vector<std::string>> list_children(Store& s, const std::string& inst) {
  return ADMIN<std::vector<std::string>>(s, [&](ProviderAdmin& a, auto cb) { a.list_children(inst, std::move(cb)); });
}
inline Result<std::optional<std::string>> get_parent_id(Store& s, const std::string& inst) {
  return ADMIN<std::optional<std::string>>(s, [&](ProviderAdmin& a, auto cb) { a.get_parent_id(inst, std::move(cb)); });
}
inline Result<InstanceTree> get_instance_tree(Store& s, const std::string& root) {
  return ADMIN<InstanceTree>(s, [&](ProviderAdmin& a, auto cb) { a.get_instance_tree(root, std::move(cb)); });
}
inline Result<DeleteInstanceResult> delete_instance(Store& s, const std::string& inst, bool force) {
  return ADMIN<DeleteInstanceResult>(s, [&](ProviderAdmin& a, auto cb) { a.delete_instance(inst, force, std::move(cb)); });
}
inline Result<DeleteInstanceResult> delete_instances_atomic(Store& s, std::vector<std::string> ids, bool force) {
  return ADMIN<DeleteInstanceResult>(s, [&](ProviderAdmin& a, auto cb) {
    a.delete_instances_atomic(std::move(ids), force, std::move(cb));
  });
}
inline Result<DeleteInstanceResult> delete_instance_bulk(Store& s, InstanceFilter filter) {
  return ADMIN<DeleteInstanceResult>(s, [&](ProviderAdmin& a, auto cb) { a.delete_instance_bulk(std::move(filter), std::move(cb)); });
}
inline Result<PruneResult> prune_executions(Store& s, const std::string& inst, PruneOptions options) {
  return ADMIN<PruneResult>(s, [&](ProviderAdmin& a, auto cb) { a.prune_executions(inst, options, std::move(cb)); });
}
inline Result<PruneResult> prune_executions_bulk(Store& s, InstanceFilter filter, PruneOptions options) {
  return ADMIN<PruneResult>(s, [&](ProviderAdmin& a, auto cb) {
    a.prune_executions_bulk(std::move(filter), options, std::move(cb));
  });
}
// Whether get_instance_info succeeds (the instance exists).
inline bool exists(Store& s, const std::string& inst) { return mgmt::get_instance_info(s, inst).has_value(); }
}  // namespace mgmt

// Case-insensitive substring test for error-text assertions (conformance.md §4 rule 21).
inline bool contains_ci(std::string_view hay, std::string_view needle) {
  auto lower = [](std::string_view v) {
    std::string out(v);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  };
  return lower(hay).find(lower(needle)) != std::string::npos;
}

}  // namespace duroxide::test
