// duroxide/work_item.h — queue messages (provider-contract §3.1).
//
// A WorkItem is what sits in the orchestrator queue (everything but ActivityExecute) or the worker
// queue (ActivityExecute). The provider stores it as the JSON text of duroxide/wire.h and reads
// only its routing fields; everything else is the runtime's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/error_details.h"
#include "duroxide/one_of.h"

namespace duroxide {

// A persistent queue event carried across continue-as-new: (event name, payload). On the wire it
// is a two-element string array, ["name","data"].
struct CarryForwardEvent {
  std::string name;
  std::string data;
  friend bool operator==(const CarryForwardEvent&, const CarryForwardEvent&) = default;
};

// The WorkItem alternatives, in the declaration order that fixes their JSON field order.
// "Optional, null when absent" and "optional, omitted when absent" differ only on the wire; both
// are std::optional here (the field comments say which).
namespace work_item {

// Starts an orchestration instance (client start, or a parent scheduling a child).
struct StartOrchestration {
  std::string instance;
  std::string orchestration;
  std::string input;
  std::optional<std::string> version;          // null: the runtime resolves the latest version
  std::optional<std::string> parent_instance;  // null
  std::optional<std::uint64_t> parent_id;      // null; parent's SubOrchestrationScheduled id
  std::uint64_t execution_id = 1;
  friend bool operator==(const StartOrchestration&, const StartOrchestration&) = default;
};

// The only worker-queue message: run one activity.
struct ActivityExecute {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::uint64_t id = 0;  // event_id of the ActivityScheduled event; part of the activity identity
  std::string name;
  std::string input;
  std::optional<std::string> session_id;  // omitted when absent; pins the activity to a session
  std::optional<std::string> tag;         // omitted when absent; selects workers by TagFilter
  friend bool operator==(const ActivityExecute&, const ActivityExecute&) = default;
};

struct ActivityCompleted {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::uint64_t id = 0;  // the scheduling event id
  std::string result;
  friend bool operator==(const ActivityCompleted&, const ActivityCompleted&) = default;
};

struct ActivityFailed {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::uint64_t id = 0;
  ErrorDetails details;
  friend bool operator==(const ActivityFailed&, const ActivityFailed&) = default;
};

// Enqueued with delayed visibility at fire_at_ms: there is no separate timer queue.
struct TimerFired {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::uint64_t id = 0;  // the TimerCreated event id
  std::uint64_t fire_at_ms = 0;
  friend bool operator==(const TimerFired&, const TimerFired&) = default;
};

struct ExternalRaised {
  std::string instance;
  std::string name;
  std::string data;
  friend bool operator==(const ExternalRaised&, const ExternalRaised&) = default;
};

// Sent to the *parent*: routed by parent_instance, not by an `instance` field.
struct SubOrchCompleted {
  std::string parent_instance;
  std::uint64_t parent_execution_id = 0;
  std::uint64_t parent_id = 0;
  std::string result;
  friend bool operator==(const SubOrchCompleted&, const SubOrchCompleted&) = default;
};

struct SubOrchFailed {
  std::string parent_instance;
  std::uint64_t parent_execution_id = 0;
  std::uint64_t parent_id = 0;
  ErrorDetails details;
  friend bool operator==(const SubOrchFailed&, const SubOrchFailed&) = default;
};

struct CancelInstance {
  std::string instance;
  std::string reason;
  friend bool operator==(const CancelInstance&, const CancelInstance&) = default;
};

struct ContinueAsNew {
  std::string instance;
  std::string orchestration;
  std::string input;
  std::optional<std::string> version;                    // null when absent
  std::vector<CarryForwardEvent> carry_forward_events;   // always written; missing reads as []
  std::optional<std::string> initial_custom_status;      // omitted when absent
  friend bool operator==(const ContinueAsNew&, const ContinueAsNew&) = default;
};

// Persistent FIFO mailbox event (client enqueue_event).
struct QueueMessage {
  std::string instance;
  std::string name;
  std::string data;
  friend bool operator==(const QueueMessage&, const QueueMessage&) = default;
};

}  // namespace work_item

struct WorkItem
    : OneOf<work_item::StartOrchestration, work_item::ActivityExecute, work_item::ActivityCompleted,
            work_item::ActivityFailed, work_item::TimerFired, work_item::ExternalRaised,
            work_item::SubOrchCompleted, work_item::SubOrchFailed, work_item::CancelInstance,
            work_item::ContinueAsNew, work_item::QueueMessage> {
  using OneOf::OneOf;
  using StartOrchestration = work_item::StartOrchestration;
  using ActivityExecute = work_item::ActivityExecute;
  using ActivityCompleted = work_item::ActivityCompleted;
  using ActivityFailed = work_item::ActivityFailed;
  using TimerFired = work_item::TimerFired;
  using ExternalRaised = work_item::ExternalRaised;
  using SubOrchCompleted = work_item::SubOrchCompleted;
  using SubOrchFailed = work_item::SubOrchFailed;
  using CancelInstance = work_item::CancelInstance;
  using ContinueAsNew = work_item::ContinueAsNew;
  using QueueMessage = work_item::QueueMessage;
};

// The variant name, which is also the JSON tag: "StartOrchestration", "SubOrchFailed", ...
std::string_view variant_name(const WorkItem& item) noexcept;

// The instance whose orchestrator queue a message belongs to (§3.1): `parent_instance` for
// SubOrchCompleted / SubOrchFailed, `instance` for everything else. Points into `item`.
std::string_view routing_instance(const WorkItem& item) noexcept;

// For logs and test failures: the variant name followed by its JSON text.
std::string to_string(const WorkItem& item);

}  // namespace duroxide
