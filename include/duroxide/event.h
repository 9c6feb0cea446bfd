// duroxide/event.h — history entries (provider-contract §3.2).
//
// History is the append-only log that an orchestration replays. The provider stores each Event as
// JSON text (duroxide/wire.h) and interprets only a handful of kinds (§1): it is the runtime's
// record, not the provider's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/error_details.h"
#include "duroxide/one_of.h"
#include "duroxide/work_item.h"  // CarryForwardEvent

namespace duroxide {

// The EventKind alternatives, in declaration order (which fixes the JSON field order). Three have
// legacy wire names that differ from the C++ name; see event_type_name().
namespace event_kind {

struct OrchestrationStarted {
  std::string name;
  std::string version;  // required here, unlike StartOrchestration.version
  std::string input;
  std::optional<std::string> parent_instance;  // null when absent
  std::optional<std::uint64_t> parent_id;      // null when absent
  // Present only on executions started by continue-as-new; omitted when absent (which differs
  // from present-but-empty).
  std::optional<std::vector<CarryForwardEvent>> carry_forward_events;
  std::optional<std::string> initial_custom_status;  // omitted when absent
  friend bool operator==(const OrchestrationStarted&, const OrchestrationStarted&) = default;
};
struct OrchestrationCompleted {
  std::string output;
  friend bool operator==(const OrchestrationCompleted&, const OrchestrationCompleted&) = default;
};
struct OrchestrationFailed {
  ErrorDetails details;
  friend bool operator==(const OrchestrationFailed&, const OrchestrationFailed&) = default;
};
struct ActivityScheduled {
  std::string name;
  std::string input;
  std::optional<std::string> session_id;  // omitted when absent
  std::optional<std::string> tag;         // omitted when absent
  friend bool operator==(const ActivityScheduled&, const ActivityScheduled&) = default;
};
struct ActivityCompleted {
  std::string result;
  friend bool operator==(const ActivityCompleted&, const ActivityCompleted&) = default;
};
struct ActivityFailed {
  ErrorDetails details;
  friend bool operator==(const ActivityFailed&, const ActivityFailed&) = default;
};
struct ActivityCancelRequested {
  std::string reason;
  friend bool operator==(const ActivityCancelRequested&, const ActivityCancelRequested&) = default;
};
struct TimerCreated {
  std::uint64_t fire_at_ms = 0;
  friend bool operator==(const TimerCreated&, const TimerCreated&) = default;
};
struct TimerFired {
  std::uint64_t fire_at_ms = 0;
  friend bool operator==(const TimerFired&, const TimerFired&) = default;
};
struct ExternalSubscribed {
  std::string name;
  friend bool operator==(const ExternalSubscribed&, const ExternalSubscribed&) = default;
};
struct ExternalEvent {
  std::string name;
  std::string data;
  friend bool operator==(const ExternalEvent&, const ExternalEvent&) = default;
};
// Fire-and-forget (detached) orchestration start.
struct OrchestrationChained {
  std::string name;
  std::string instance;
  std::string input;
  friend bool operator==(const OrchestrationChained&, const OrchestrationChained&) = default;
};
struct SubOrchestrationScheduled {
  std::string name;
  std::string instance;
  std::string input;
  friend bool operator==(const SubOrchestrationScheduled&,
                         const SubOrchestrationScheduled&) = default;
};
struct SubOrchestrationCompleted {
  std::string result;
  friend bool operator==(const SubOrchestrationCompleted&,
                         const SubOrchestrationCompleted&) = default;
};
struct SubOrchestrationFailed {
  ErrorDetails details;
  friend bool operator==(const SubOrchestrationFailed&, const SubOrchestrationFailed&) = default;
};
struct SubOrchestrationCancelRequested {
  std::string reason;
  friend bool operator==(const SubOrchestrationCancelRequested&,
                         const SubOrchestrationCancelRequested&) = default;
};
struct OrchestrationContinuedAsNew {
  std::string input;
  friend bool operator==(const OrchestrationContinuedAsNew&,
                         const OrchestrationContinuedAsNew&) = default;
};
struct OrchestrationCancelRequested {
  std::string reason;
  friend bool operator==(const OrchestrationCancelRequested&,
                         const OrchestrationCancelRequested&) = default;
};
struct ExternalSubscribedCancelled {
  std::string reason;
  friend bool operator==(const ExternalSubscribedCancelled&,
                         const ExternalSubscribedCancelled&) = default;
};
// Wire type "ExternalSubscribedPersistent".
struct QueueSubscribed {
  std::string name;
  friend bool operator==(const QueueSubscribed&, const QueueSubscribed&) = default;
};
// Wire type "ExternalEventPersistent".
struct QueueEventDelivered {
  std::string name;
  std::string data;
  friend bool operator==(const QueueEventDelivered&, const QueueEventDelivered&) = default;
};
// Wire type "ExternalSubscribedPersistentCancelled".
struct QueueSubscriptionCancelled {
  std::string reason;
  friend bool operator==(const QueueSubscriptionCancelled&,
                         const QueueSubscriptionCancelled&) = default;
};
// The provider mirrors the last one of an ack delta into the instance row (§5.2).
struct CustomStatusUpdated {
  std::optional<std::string> status;  // null means "cleared"; always written
  friend bool operator==(const CustomStatusUpdated&, const CustomStatusUpdated&) = default;
};
struct KeyValueSet {
  std::string key;
  std::string value;
  std::uint64_t last_updated_at_ms = 0;  // 0 when missing on read (older runtimes); always written
  friend bool operator==(const KeyValueSet&, const KeyValueSet&) = default;
};
struct KeyValueCleared {
  std::string key;
  friend bool operator==(const KeyValueCleared&, const KeyValueCleared&) = default;
};
struct KeyValuesCleared {
  friend bool operator==(const KeyValuesCleared&, const KeyValuesCleared&) = default;
};

}  // namespace event_kind

struct EventKind
    : OneOf<event_kind::OrchestrationStarted, event_kind::OrchestrationCompleted,
            event_kind::OrchestrationFailed, event_kind::ActivityScheduled,
            event_kind::ActivityCompleted, event_kind::ActivityFailed,
            event_kind::ActivityCancelRequested, event_kind::TimerCreated, event_kind::TimerFired,
            event_kind::ExternalSubscribed, event_kind::ExternalEvent,
            event_kind::OrchestrationChained, event_kind::SubOrchestrationScheduled,
            event_kind::SubOrchestrationCompleted, event_kind::SubOrchestrationFailed,
            event_kind::SubOrchestrationCancelRequested, event_kind::OrchestrationContinuedAsNew,
            event_kind::OrchestrationCancelRequested, event_kind::ExternalSubscribedCancelled,
            event_kind::QueueSubscribed, event_kind::QueueEventDelivered,
            event_kind::QueueSubscriptionCancelled, event_kind::CustomStatusUpdated,
            event_kind::KeyValueSet, event_kind::KeyValueCleared, event_kind::KeyValuesCleared> {
  using OneOf::OneOf;
  using OrchestrationStarted = event_kind::OrchestrationStarted;
  using OrchestrationCompleted = event_kind::OrchestrationCompleted;
  using OrchestrationFailed = event_kind::OrchestrationFailed;
  using ActivityScheduled = event_kind::ActivityScheduled;
  using ActivityCompleted = event_kind::ActivityCompleted;
  using ActivityFailed = event_kind::ActivityFailed;
  using ActivityCancelRequested = event_kind::ActivityCancelRequested;
  using TimerCreated = event_kind::TimerCreated;
  using TimerFired = event_kind::TimerFired;
  using ExternalSubscribed = event_kind::ExternalSubscribed;
  using ExternalEvent = event_kind::ExternalEvent;
  using OrchestrationChained = event_kind::OrchestrationChained;
  using SubOrchestrationScheduled = event_kind::SubOrchestrationScheduled;
  using SubOrchestrationCompleted = event_kind::SubOrchestrationCompleted;
  using SubOrchestrationFailed = event_kind::SubOrchestrationFailed;
  using SubOrchestrationCancelRequested = event_kind::SubOrchestrationCancelRequested;
  using OrchestrationContinuedAsNew = event_kind::OrchestrationContinuedAsNew;
  using OrchestrationCancelRequested = event_kind::OrchestrationCancelRequested;
  using ExternalSubscribedCancelled = event_kind::ExternalSubscribedCancelled;
  using QueueSubscribed = event_kind::QueueSubscribed;
  using QueueEventDelivered = event_kind::QueueEventDelivered;
  using QueueSubscriptionCancelled = event_kind::QueueSubscriptionCancelled;
  using CustomStatusUpdated = event_kind::CustomStatusUpdated;
  using KeyValueSet = event_kind::KeyValueSet;
  using KeyValueCleared = event_kind::KeyValueCleared;
  using KeyValuesCleared = event_kind::KeyValuesCleared;
};

// One history entry: the envelope the provider indexes by, plus the kind.
struct Event {
  std::uint64_t event_id = 0;  // position in its execution, >= 1, assigned by the runtime
  // The scheduling event a completion answers; absent for everything else. Always written
  // (null when absent).
  std::optional<std::uint64_t> source_event_id;
  std::string instance_id;     // denormalized from the storage key so an event is self-contained
  std::uint64_t execution_id = 0;
  std::uint64_t timestamp_ms = 0;
  // Semver of the runtime that wrote the event; on OrchestrationStarted it is the version the
  // execution is pinned to.
  std::string duroxide_version;
  EventKind kind;

  friend bool operator==(const Event&, const Event&) = default;
};

// The JSON "type" string of a kind, which is also what the history `event_type` column stores
// (§3.6): the variant name, except "ExternalSubscribedPersistent", "ExternalEventPersistent" and
// "ExternalSubscribedPersistentCancelled" for the three Queue* kinds.
std::string_view event_type_name(const EventKind& kind) noexcept;
inline std::string_view event_type_name(const Event& event) noexcept {
  return event_type_name(event.kind);
}

// OrchestrationCompleted, OrchestrationFailed and OrchestrationContinuedAsNew end an execution.
bool is_terminal(const EventKind& kind) noexcept;

// For logs and test failures: the event's JSON text.
std::string to_string(const Event& event);

}  // namespace duroxide
