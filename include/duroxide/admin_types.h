// duroxide/admin_types.h — results and options of the management capability, ProviderAdmin
// (provider-contract §3.8, §3.9, §8). Timestamps are epoch milliseconds of the provider clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace duroxide {

struct InstanceInfo {
  std::string instance_id;
  std::string orchestration_name;
  std::string orchestration_version;  // "unknown" when not stored
  std::uint64_t current_execution_id = 0;
  // Status of the *current* execution: "Running", "Completed", "Failed", "ContinuedAsNew", or
  // "Unknown" when its execution row is missing.
  std::string status;
  std::optional<std::string> output;
  std::uint64_t created_at = 0;
  std::uint64_t updated_at = 0;
  std::optional<std::string> parent_instance_id;
  friend bool operator==(const InstanceInfo&, const InstanceInfo&) = default;
};

struct ExecutionInfo {
  std::uint64_t execution_id = 0;
  std::string status;
  std::optional<std::string> output;
  std::uint64_t started_at = 0;
  std::optional<std::uint64_t> completed_at;
  std::uint64_t event_count = 0;  // history rows of this execution
  friend bool operator==(const ExecutionInfo&, const ExecutionInfo&) = default;
};

struct SystemMetrics {
  std::uint64_t total_instances = 0;
  std::uint64_t total_executions = 0;
  std::uint64_t running_instances = 0;
  std::uint64_t completed_instances = 0;
  std::uint64_t failed_instances = 0;
  std::uint64_t total_events = 0;
  friend bool operator==(const SystemMetrics&, const SystemMetrics&) = default;
};

struct QueueDepths {
  std::uint64_t orchestrator_queue = 0;
  std::uint64_t worker_queue = 0;
  std::uint64_t timer_queue = 0;  // always 0: timers are delayed orchestrator messages
  friend bool operator==(const QueueDepths&, const QueueDepths&) = default;
};

// Conditions are ANDed; an absent condition does not filter.
struct InstanceFilter {
  // Allow-list. Present-but-empty means "nothing", which is why this is optional.
  std::optional<std::vector<std::string>> instance_ids;
  // Compared with the current execution's completed_at.
  std::optional<std::uint64_t> completed_before;
  std::optional<std::uint32_t> limit;  // the provider applies 1000 when absent
  friend bool operator==(const InstanceFilter&, const InstanceFilter&) = default;
};

// Conditions are ANDed.
struct PruneOptions {
  std::optional<std::uint32_t> keep_last;
  std::optional<std::uint64_t> completed_before;
  friend bool operator==(const PruneOptions&, const PruneOptions&) = default;
};

struct PruneResult {
  std::uint64_t instances_processed = 0;
  std::uint64_t executions_deleted = 0;
  std::uint64_t events_deleted = 0;
  friend bool operator==(const PruneResult&, const PruneResult&) = default;
};

struct DeleteInstanceResult {
  std::uint64_t instances_deleted = 0;
  std::uint64_t executions_deleted = 0;
  std::uint64_t events_deleted = 0;
  std::uint64_t queue_messages_deleted = 0;  // orchestrator + worker rows
  friend bool operator==(const DeleteInstanceResult&, const DeleteInstanceResult&) = default;
};

// An instance and all its descendants (sub-orchestrations), for cascading delete.
struct InstanceTree {
  std::string root_id;
  std::vector<std::string> all_ids;  // includes root_id
  bool is_root_only() const noexcept { return all_ids.size() == 1; }
  std::size_t size() const noexcept { return all_ids.size(); }
  friend bool operator==(const InstanceTree&, const InstanceTree&) = default;
};

// Per-instance statistics (get_instance_stats, §5.19).
struct SystemStats {
  std::uint64_t history_event_count = 0;
  std::uint64_t history_size_bytes = 0;
  std::uint64_t queue_pending_count = 0;
  std::uint64_t kv_user_key_count = 0;
  std::uint64_t kv_total_value_bytes = 0;
  friend bool operator==(const SystemStats&, const SystemStats&) = default;
};

}  // namespace duroxide
