// duroxide/provider.h — the storage Provider interface of the Duroxide model, asynchronous.
//
// Completion contract (provider-contract §2.1), which every implementation keeps:
//  * Every operation is started on the provider's loop thread and completes by invoking its
//    callback exactly once, on that same thread, with a Result<T>. The callback never runs inside
//    the call that started the operation, even when the answer is known at once.
//  * If an operation cannot even start (provider closed, invalid argument), the callback still runs
//    exactly once, later, with the error; no operation is ever silently dropped.
//  * Any number of operations may be outstanding; there is no ordering between outstanding
//    operations. A write whose callback reported success is committed and visible to every
//    operation started afterwards, in any process.
//
// Arguments are taken by value: callers move their vectors and strings in, and nothing is copied
// again inside the provider. Callbacks are std::move_only_function, so they may own coroutine
// handles or promises (a C++20 coroutine wrapper resumes its coroutine from the callback).
//
// Lifetime: the provider object must outlive every callback it has not yet invoked; close it (see
// PostgresProvider::close) and wait for its completion before destroying it. After close, new
// operations fail with a permanent error, long-polling fetches complete with an empty result, and
// other in-flight operations finish or fail with a retryable error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/admin_types.h"
#include "duroxide/error.h"
#include "duroxide/event.h"
#include "duroxide/filters.h"
#include "duroxide/orchestration.h"
#include "duroxide/work_item.h"

namespace duroxide {

using Millis = std::chrono::milliseconds;

template <class T>
using Callback = std::move_only_function<void(Result<T>)>;

// What a successful orchestration fetch hands over: the turn's input plus the lock that the caller
// must ack, abandon or let expire.
struct LockedOrchestration {
  OrchestrationItem item;
  std::string lock_token;
  std::uint32_t attempt_count = 0;  // the maximum over the batch, after this fetch's increment
};

// What a successful worker fetch hands over.
struct LockedWorkItem {
  WorkItem item;  // always an ActivityExecute
  std::string lock_token;
  std::uint32_t attempt_count = 0;  // after this fetch's increment (first delivery: 1)
};

// Custom status as returned by get_custom_status: the value (absent when cleared) and its version.
struct CustomStatus {
  std::optional<std::string> status;
  std::uint64_t version = 0;
};

class ProviderAdmin;

class Provider {
 public:
  virtual ~Provider() = default;

  // Diagnostics only.
  virtual std::string_view name() const { return "unknown"; }
  virtual std::string_view version() const { return "0.0.0"; }
  // The management capability, or nullptr when the provider has none.
  virtual ProviderAdmin* as_management_capability() { return nullptr; }

  // ---- orchestration dispatcher (§5.1–§5.4) ----
  virtual void fetch_orchestration_item(Millis lock_timeout, Millis poll_timeout,
                                        std::optional<DispatcherCapabilityFilter> filter,
                                        Callback<std::optional<LockedOrchestration>> cb) = 0;
  virtual void ack_orchestration_item(std::string lock_token, std::uint64_t execution_id,
                                      std::vector<Event> history_delta,
                                      std::vector<WorkItem> worker_items,
                                      std::vector<WorkItem> orchestrator_items,
                                      ExecutionMetadata metadata,
                                      std::vector<ScheduledActivityIdentifier> cancelled_activities,
                                      Callback<void> cb) = 0;
  virtual void abandon_orchestration_item(std::string lock_token, std::optional<Millis> delay,
                                          bool ignore_attempt, Callback<void> cb) = 0;
  virtual void renew_orchestration_item_lock(std::string lock_token, Millis extend_for,
                                             Callback<void> cb) = 0;

  // ---- history (§5.5–§5.7) ----
  virtual void read(std::string instance, Callback<std::vector<Event>> cb) = 0;
  virtual void read_with_execution(std::string instance, std::uint64_t execution_id,
                                   Callback<std::vector<Event>> cb) = 0;
  virtual void append_with_execution(std::string instance, std::uint64_t execution_id,
                                     std::vector<Event> events, Callback<void> cb) = 0;

  // ---- worker dispatcher (§5.8–§5.14) ----
  virtual void enqueue_for_worker(WorkItem item, Callback<void> cb) = 0;
  virtual void fetch_work_item(Millis lock_timeout, Millis poll_timeout,
                               std::optional<SessionFetchConfig> session, TagFilter tag_filter,
                               Callback<std::optional<LockedWorkItem>> cb) = 0;
  virtual void ack_work_item(std::string lock_token, std::optional<WorkItem> completion,
                             Callback<void> cb) = 0;
  virtual void renew_work_item_lock(std::string lock_token, Millis extend_for,
                                    Callback<void> cb) = 0;
  virtual void abandon_work_item(std::string lock_token, std::optional<Millis> delay,
                                 bool ignore_attempt, Callback<void> cb) = 0;
  virtual void renew_session_lock(std::vector<std::string> owner_ids, Millis extend_for,
                                  Millis idle_timeout, Callback<std::uint64_t> cb) = 0;
  virtual void cleanup_orphaned_sessions(Millis idle_timeout, Callback<std::uint64_t> cb) = 0;

  // ---- client (§5.15–§5.19) ----
  virtual void enqueue_for_orchestrator(WorkItem item, std::optional<Millis> delay,
                                        Callback<void> cb) = 0;
  virtual void get_custom_status(std::string instance, std::uint64_t last_seen_version,
                                 Callback<std::optional<CustomStatus>> cb) = 0;
  virtual void get_kv_value(std::string instance, std::string key,
                            Callback<std::optional<std::string>> cb) = 0;
  virtual void get_kv_all_values(std::string instance,
                                 Callback<std::map<std::string, std::string>> cb) = 0;
  virtual void get_instance_stats(std::string instance,
                                  Callback<std::optional<SystemStats>> cb) = 0;
};

}  // namespace duroxide
