// lib/wire/schema.h — the wire schema of every struct that crosses the JSON boundary.
//
// One table per struct lists its JSON fields in declaration order (which is the serde output
// order) together with the member they map to and how absence is handled. The encoder, decoder
// and size estimator are written once, generically, over these tables, so the field order and
// the null-vs-omitted rules of provider-contract §3.6 live in exactly one place.
#pragma once

#include <cstddef>
#include <string_view>
#include <tuple>

#include "duroxide/error_details.h"
#include "duroxide/event.h"
#include "duroxide/work_item.h"

namespace duroxide::wire_detail {

enum class Presence : unsigned char {
  Required,   // must be present; never null
  Nullable,   // std::optional: written as null when absent; missing or null reads as absent
  Omittable,  // std::optional: left out when absent; missing or null reads as absent
  Defaulted,  // always written; a missing key reads as the member's default ([] or 0)
};

template <class S, class M>
struct Field {
  std::string_view name;
  M S::*member;
  Presence presence;
};

template <class S, class M>
constexpr Field<S, M> required(std::string_view name, M S::*member) {
  return {name, member, Presence::Required};
}
template <class S, class M>
constexpr Field<S, M> nullable(std::string_view name, M S::*member) {
  return {name, member, Presence::Nullable};
}
template <class S, class M>
constexpr Field<S, M> omittable(std::string_view name, M S::*member) {
  return {name, member, Presence::Omittable};
}
template <class S, class M>
constexpr Field<S, M> defaulted(std::string_view name, M S::*member) {
  return {name, member, Presence::Defaulted};
}

// Schema<T>::name is the wire name of the variant (the externally-tagged key, or the Event
// "type" string); Schema<T>::fields the field table. A struct with no fields is a unit variant.
template <class T>
struct Schema;

#define DUROXIDE_WIRE_SCHEMA(Type, Name, ...)                      \
  template <>                                                      \
  struct Schema<Type> {                                            \
    using S = Type;                                                \
    static constexpr std::string_view name = Name;                 \
    static constexpr auto fields = std::make_tuple(__VA_ARGS__);   \
  };
#define DUROXIDE_WIRE_UNIT(Type, Name)              \
  template <>                                       \
  struct Schema<Type> {                             \
    static constexpr std::string_view name = Name;  \
    static constexpr auto fields = std::tuple<>{};  \
  };

// ---- ErrorDetails and nested enums (§3.3) ----
DUROXIDE_WIRE_UNIT(app_error_kind::ActivityFailed, "ActivityFailed")
DUROXIDE_WIRE_UNIT(app_error_kind::OrchestrationFailed, "OrchestrationFailed")
DUROXIDE_WIRE_UNIT(app_error_kind::Panicked, "Panicked")
DUROXIDE_WIRE_SCHEMA(app_error_kind::Cancelled, "Cancelled", required("reason", &S::reason))

DUROXIDE_WIRE_SCHEMA(poison_message_type::Orchestration, "Orchestration",
                     required("instance", &S::instance),
                     required("execution_id", &S::execution_id))
DUROXIDE_WIRE_SCHEMA(poison_message_type::Activity, "Activity",
                     required("instance", &S::instance),
                     required("execution_id", &S::execution_id),
                     required("activity_name", &S::activity_name),
                     required("activity_id", &S::activity_id))
DUROXIDE_WIRE_SCHEMA(poison_message_type::FailedDeserialization, "FailedDeserialization",
                     required("instance", &S::instance),
                     required("execution_id", &S::execution_id), required("error", &S::error))

DUROXIDE_WIRE_SCHEMA(error_details::Infrastructure, "Infrastructure",
                     required("operation", &S::operation), required("message", &S::message),
                     required("retryable", &S::retryable))
DUROXIDE_WIRE_SCHEMA(error_details::Configuration, "Configuration", required("kind", &S::kind),
                     required("resource", &S::resource), nullable("message", &S::message))
DUROXIDE_WIRE_SCHEMA(error_details::Application, "Application", required("kind", &S::kind),
                     required("message", &S::message), required("retryable", &S::retryable))
DUROXIDE_WIRE_SCHEMA(error_details::Poison, "Poison",
                     required("attempt_count", &S::attempt_count),
                     required("max_attempts", &S::max_attempts),
                     required("message_type", &S::message_type), required("message", &S::message))

// ---- WorkItem (§3.1) ----
DUROXIDE_WIRE_SCHEMA(work_item::StartOrchestration, "StartOrchestration",
                     required("instance", &S::instance),
                     required("orchestration", &S::orchestration), required("input", &S::input),
                     nullable("version", &S::version),
                     nullable("parent_instance", &S::parent_instance),
                     nullable("parent_id", &S::parent_id),
                     required("execution_id", &S::execution_id))
DUROXIDE_WIRE_SCHEMA(work_item::ActivityExecute, "ActivityExecute",
                     required("instance", &S::instance),
                     required("execution_id", &S::execution_id), required("id", &S::id),
                     required("name", &S::name), required("input", &S::input),
                     omittable("session_id", &S::session_id), omittable("tag", &S::tag))
DUROXIDE_WIRE_SCHEMA(work_item::ActivityCompleted, "ActivityCompleted",
                     required("instance", &S::instance),
                     required("execution_id", &S::execution_id), required("id", &S::id),
                     required("result", &S::result))
DUROXIDE_WIRE_SCHEMA(work_item::ActivityFailed, "ActivityFailed",
                     required("instance", &S::instance),
                     required("execution_id", &S::execution_id), required("id", &S::id),
                     required("details", &S::details))
DUROXIDE_WIRE_SCHEMA(work_item::TimerFired, "TimerFired", required("instance", &S::instance),
                     required("execution_id", &S::execution_id), required("id", &S::id),
                     required("fire_at_ms", &S::fire_at_ms))
DUROXIDE_WIRE_SCHEMA(work_item::ExternalRaised, "ExternalRaised",
                     required("instance", &S::instance), required("name", &S::name),
                     required("data", &S::data))
DUROXIDE_WIRE_SCHEMA(work_item::SubOrchCompleted, "SubOrchCompleted",
                     required("parent_instance", &S::parent_instance),
                     required("parent_execution_id", &S::parent_execution_id),
                     required("parent_id", &S::parent_id), required("result", &S::result))
DUROXIDE_WIRE_SCHEMA(work_item::SubOrchFailed, "SubOrchFailed",
                     required("parent_instance", &S::parent_instance),
                     required("parent_execution_id", &S::parent_execution_id),
                     required("parent_id", &S::parent_id), required("details", &S::details))
DUROXIDE_WIRE_SCHEMA(work_item::CancelInstance, "CancelInstance",
                     required("instance", &S::instance), required("reason", &S::reason))
DUROXIDE_WIRE_SCHEMA(work_item::ContinueAsNew, "ContinueAsNew",
                     required("instance", &S::instance),
                     required("orchestration", &S::orchestration), required("input", &S::input),
                     nullable("version", &S::version),
                     defaulted("carry_forward_events", &S::carry_forward_events),
                     omittable("initial_custom_status", &S::initial_custom_status))
DUROXIDE_WIRE_SCHEMA(work_item::QueueMessage, "QueueMessage", required("instance", &S::instance),
                     required("name", &S::name), required("data", &S::data))

// ---- Event envelope and EventKind (§3.2) ----
struct Envelope {};
template <>
struct Schema<Envelope> {
  using S = Event;
  static constexpr auto fields = std::make_tuple(
      required("event_id", &S::event_id), nullable("source_event_id", &S::source_event_id),
      required("instance_id", &S::instance_id), required("execution_id", &S::execution_id),
      required("timestamp_ms", &S::timestamp_ms),
      required("duroxide_version", &S::duroxide_version));
};

DUROXIDE_WIRE_SCHEMA(event_kind::OrchestrationStarted, "OrchestrationStarted",
                     required("name", &S::name), required("version", &S::version),
                     required("input", &S::input),
                     nullable("parent_instance", &S::parent_instance),
                     nullable("parent_id", &S::parent_id),
                     omittable("carry_forward_events", &S::carry_forward_events),
                     omittable("initial_custom_status", &S::initial_custom_status))
DUROXIDE_WIRE_SCHEMA(event_kind::OrchestrationCompleted, "OrchestrationCompleted",
                     required("output", &S::output))
DUROXIDE_WIRE_SCHEMA(event_kind::OrchestrationFailed, "OrchestrationFailed",
                     required("details", &S::details))
DUROXIDE_WIRE_SCHEMA(event_kind::ActivityScheduled, "ActivityScheduled",
                     required("name", &S::name), required("input", &S::input),
                     omittable("session_id", &S::session_id), omittable("tag", &S::tag))
DUROXIDE_WIRE_SCHEMA(event_kind::ActivityCompleted, "ActivityCompleted",
                     required("result", &S::result))
DUROXIDE_WIRE_SCHEMA(event_kind::ActivityFailed, "ActivityFailed", required("details", &S::details))
DUROXIDE_WIRE_SCHEMA(event_kind::ActivityCancelRequested, "ActivityCancelRequested",
                     required("reason", &S::reason))
DUROXIDE_WIRE_SCHEMA(event_kind::TimerCreated, "TimerCreated", required("fire_at_ms", &S::fire_at_ms))
DUROXIDE_WIRE_SCHEMA(event_kind::TimerFired, "TimerFired", required("fire_at_ms", &S::fire_at_ms))
DUROXIDE_WIRE_SCHEMA(event_kind::ExternalSubscribed, "ExternalSubscribed", required("name", &S::name))
DUROXIDE_WIRE_SCHEMA(event_kind::ExternalEvent, "ExternalEvent", required("name", &S::name),
                     required("data", &S::data))
DUROXIDE_WIRE_SCHEMA(event_kind::OrchestrationChained, "OrchestrationChained",
                     required("name", &S::name), required("instance", &S::instance),
                     required("input", &S::input))
DUROXIDE_WIRE_SCHEMA(event_kind::SubOrchestrationScheduled, "SubOrchestrationScheduled",
                     required("name", &S::name), required("instance", &S::instance),
                     required("input", &S::input))
DUROXIDE_WIRE_SCHEMA(event_kind::SubOrchestrationCompleted, "SubOrchestrationCompleted",
                     required("result", &S::result))
DUROXIDE_WIRE_SCHEMA(event_kind::SubOrchestrationFailed, "SubOrchestrationFailed",
                     required("details", &S::details))
DUROXIDE_WIRE_SCHEMA(event_kind::SubOrchestrationCancelRequested, "SubOrchestrationCancelRequested",
                     required("reason", &S::reason))
DUROXIDE_WIRE_SCHEMA(event_kind::OrchestrationContinuedAsNew, "OrchestrationContinuedAsNew",
                     required("input", &S::input))
DUROXIDE_WIRE_SCHEMA(event_kind::OrchestrationCancelRequested, "OrchestrationCancelRequested",
                     required("reason", &S::reason))
DUROXIDE_WIRE_SCHEMA(event_kind::ExternalSubscribedCancelled, "ExternalSubscribedCancelled",
                     required("reason", &S::reason))
DUROXIDE_WIRE_SCHEMA(event_kind::QueueSubscribed, "ExternalSubscribedPersistent",
                     required("name", &S::name))
DUROXIDE_WIRE_SCHEMA(event_kind::QueueEventDelivered, "ExternalEventPersistent",
                     required("name", &S::name), required("data", &S::data))
DUROXIDE_WIRE_SCHEMA(event_kind::QueueSubscriptionCancelled,
                     "ExternalSubscribedPersistentCancelled", required("reason", &S::reason))
DUROXIDE_WIRE_SCHEMA(event_kind::CustomStatusUpdated, "CustomStatusUpdated",
                     nullable("status", &S::status))
DUROXIDE_WIRE_SCHEMA(event_kind::KeyValueSet, "KeyValueSet", required("key", &S::key),
                     required("value", &S::value),
                     defaulted("last_updated_at_ms", &S::last_updated_at_ms))
DUROXIDE_WIRE_SCHEMA(event_kind::KeyValueCleared, "KeyValueCleared", required("key", &S::key))
DUROXIDE_WIRE_UNIT(event_kind::KeyValuesCleared, "KeyValuesCleared")

#undef DUROXIDE_WIRE_SCHEMA
#undef DUROXIDE_WIRE_UNIT

template <class T>
inline constexpr std::size_t field_count = std::tuple_size_v<decltype(Schema<T>::fields)>;

// Wire name of the alternative a OneOf currently holds.
template <class Sum>
std::string_view alternative_name(const Sum& sum) noexcept {
  return std::visit([](const auto& alt) { return Schema<std::remove_cvref_t<decltype(alt)>>::name; },
                    sum.value);
}

constexpr std::string_view config_error_kind_name(ConfigErrorKind k) noexcept {
  switch (k) {
    case ConfigErrorKind::Nondeterminism:
      return "Nondeterminism";
  }
  return "Nondeterminism";
}

}  // namespace duroxide::wire_detail
