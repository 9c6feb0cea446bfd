// duroxide/orchestration.h — what an orchestration turn reads and writes (provider-contract §3.4).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "duroxide/event.h"
#include "duroxide/semver.h"
#include "duroxide/work_item.h"

namespace duroxide {

// A KV entry as of the last *completed* execution (kv_store). Mutations of the running execution
// live in history (KeyValueSet/...), so the snapshot deliberately excludes them.
struct KvEntry {
  std::string value;
  std::uint64_t last_updated_at_ms = 0;
  friend bool operator==(const KvEntry&, const KvEntry&) = default;
};

// Everything the runtime needs for one orchestration turn, returned by fetch_orchestration_item.
struct OrchestrationItem {
  std::string instance;
  std::string orchestration_name;
  std::uint64_t execution_id = 0;  // the instance's *current* execution
  std::string version;             // "unknown" when not known
  std::vector<Event> history;      // that execution's events, event_id ascending
  std::vector<WorkItem> messages;  // locked for this turn, in enqueue order
  // Set when a stored event of the execution could not be decoded; `history` is then empty and
  // the runtime poisons the instance instead of replaying a partial history.
  std::optional<std::string> history_error;
  std::map<std::string, KvEntry> kv_snapshot;
  friend bool operator==(const OrchestrationItem&, const OrchestrationItem&) = default;
};

// Instance/execution facts the runtime passes to ack. All optional: the runtime fills
// name/version/parent/pinned only on the first turn of an execution and status/output only on
// the terminal turn, and the provider stores exactly what it is told.
struct ExecutionMetadata {
  std::optional<std::string> status;  // "Completed", "Failed", "ContinuedAsNew" (tests: "Running")
  std::optional<std::string> output;  // result, error display string, or the CAN input
  std::optional<std::string> orchestration_name;
  std::optional<std::string> orchestration_version;
  std::optional<std::string> parent_instance_id;
  std::optional<SemVer> pinned_duroxide_version;
  friend bool operator==(const ExecutionMetadata&, const ExecutionMetadata&) = default;
};

// Identity of a scheduled activity, used by ack to cancel worker-queue rows.
struct ScheduledActivityIdentifier {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::uint64_t activity_id = 0;  // ActivityScheduled event id == ActivityExecute.id
  friend bool operator==(const ScheduledActivityIdentifier&,
                         const ScheduledActivityIdentifier&) = default;
};

}  // namespace duroxide
