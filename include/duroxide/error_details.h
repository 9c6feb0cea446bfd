// duroxide/error_details.h — why an activity or orchestration failed (provider-contract §3.3).
//
// ErrorDetails travels inside ActivityFailed / SubOrchFailed work items and the *Failed history
// events. Its Display string (to_string) is what the runtime stores as the execution output of a
// failed orchestration, so admin UIs and tests search it: the formats below are part of the
// contract, not cosmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "duroxide/error.h"
#include "duroxide/one_of.h"

namespace duroxide {

// Why a configuration error happened. A single unit variant today; kept an enum so that the wire
// name table (and an unknown-name rejection) stays in one place.
enum class ConfigErrorKind {
  Nondeterminism,  // replayed code diverged from recorded history
};

// Alternatives of AppErrorKind. The unit kinds serialize as bare strings ("Panicked").
namespace app_error_kind {
struct ActivityFailed {
  friend bool operator==(const ActivityFailed&, const ActivityFailed&) = default;
};
struct OrchestrationFailed {
  friend bool operator==(const OrchestrationFailed&, const OrchestrationFailed&) = default;
};
struct Panicked {
  friend bool operator==(const Panicked&, const Panicked&) = default;
};
struct Cancelled {
  std::string reason;
  friend bool operator==(const Cancelled&, const Cancelled&) = default;
};
}  // namespace app_error_kind

// What kind of application failure (user code) it was.
struct AppErrorKind : OneOf<app_error_kind::ActivityFailed, app_error_kind::OrchestrationFailed,
                            app_error_kind::Panicked, app_error_kind::Cancelled> {
  using OneOf::OneOf;
  using ActivityFailed = app_error_kind::ActivityFailed;
  using OrchestrationFailed = app_error_kind::OrchestrationFailed;
  using Panicked = app_error_kind::Panicked;
  using Cancelled = app_error_kind::Cancelled;
};

// Alternatives of PoisonMessageType: which message exceeded its delivery attempts.
namespace poison_message_type {
struct Orchestration {
  std::string instance;
  std::uint64_t execution_id = 0;
  friend bool operator==(const Orchestration&, const Orchestration&) = default;
};
struct Activity {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::string activity_name;
  std::uint64_t activity_id = 0;  // the ActivityScheduled event id
  friend bool operator==(const Activity&, const Activity&) = default;
};
// The orchestration's stored history could not be read (history_error of §5.1).
struct FailedDeserialization {
  std::string instance;
  std::uint64_t execution_id = 0;
  std::string error;
  friend bool operator==(const FailedDeserialization&, const FailedDeserialization&) = default;
};
}  // namespace poison_message_type

struct PoisonMessageType
    : OneOf<poison_message_type::Orchestration, poison_message_type::Activity,
            poison_message_type::FailedDeserialization> {
  using OneOf::OneOf;
  using Orchestration = poison_message_type::Orchestration;
  using Activity = poison_message_type::Activity;
  using FailedDeserialization = poison_message_type::FailedDeserialization;
};

// Alternatives of ErrorDetails.
namespace error_details {
// The platform (storage, network) failed; `retryable` says whether the runtime may try again.
struct Infrastructure {
  std::string operation;
  std::string message;
  bool retryable = false;
  friend bool operator==(const Infrastructure&, const Infrastructure&) = default;
};
// The code or deployment is wrong (e.g. nondeterministic replay); retrying cannot help.
struct Configuration {
  ConfigErrorKind kind = ConfigErrorKind::Nondeterminism;
  std::string resource;
  std::optional<std::string> message;  // serialized as null when absent
  friend bool operator==(const Configuration&, const Configuration&) = default;
};
// User code failed, panicked or was cancelled.
struct Application {
  AppErrorKind kind;
  std::string message;
  bool retryable = false;
  friend bool operator==(const Application&, const Application&) = default;
};
// A message was delivered more often than allowed and was given up on (§7.3).
struct Poison {
  std::uint32_t attempt_count = 0;
  std::uint32_t max_attempts = 0;
  PoisonMessageType message_type;
  std::string message;  // the offending message's text, usually its JSON
  friend bool operator==(const Poison&, const Poison&) = default;
};
}  // namespace error_details

struct ErrorDetails : OneOf<error_details::Infrastructure, error_details::Configuration,
                            error_details::Application, error_details::Poison> {
  using OneOf::OneOf;
  using Infrastructure = error_details::Infrastructure;
  using Configuration = error_details::Configuration;
  using Application = error_details::Application;
  using Poison = error_details::Poison;
};

// The Display strings of §3.3, byte-for-byte those of the Rust runtime:
//   infrastructure:{op}: {msg} | nondeterministic: {msg} | nondeterministic in {resource} |
//   canceled: {reason} | orchestration panicked: {msg} | {msg} |
//   poison: orchestration {inst} exceeded {n} attempts (max {m}) |
//   poison: activity {name}#{id} exceeded {n} attempts (max {m}) |
//   poison: orchestration {inst} history deserialization failed after {n} attempts (max {m}): {err}
std::string to_string(const ErrorDetails& details);

// Wire names, for diagnostics: "Nondeterminism", "Cancelled", "Activity", ...
std::string_view to_string(ConfigErrorKind kind) noexcept;
std::string to_string(const AppErrorKind& kind);
std::string to_string(const PoisonMessageType& type);

// §3.7: what ends up in history when an ack ultimately fails with a provider error.
ErrorDetails to_infrastructure_error(const ProviderError& error);

}  // namespace duroxide
