// Non-codec behaviour of the data model: Display strings, names, routing, version parsing.
#include <charconv>
#include <string>
#include <type_traits>

#include "duroxide/error_details.h"
#include "duroxide/event.h"
#include "duroxide/filters.h"
#include "duroxide/semver.h"
#include "duroxide/wire.h"
#include "duroxide/work_item.h"
#include "wire/schema.h"

namespace duroxide {

using wire_detail::Schema;

// ---- SemVer ----

std::string SemVer::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<SemVer> SemVer::parse(std::string_view text) noexcept {
  SemVer v;
  std::uint64_t* parts[3] = {&v.major, &v.minor, &v.patch};
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
    if (p == end || *p < '0' || *p > '9') return std::nullopt;
    const auto r = std::from_chars(p, end, *parts[i]);
    if (r.ec != std::errc{}) return std::nullopt;
    p = r.ptr;
  }
  if (p != end && *p != '-' && *p != '+') return std::nullopt;
  return v;
}

// ---- ErrorDetails ----

namespace {
template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;
}  // namespace

std::string to_string(const ErrorDetails& details) {
  return details.visit(overloaded{
      [](const error_details::Infrastructure& e) {
        return "infrastructure:" + e.operation + ": " + e.message;
      },
      [](const error_details::Configuration& e) {
        return e.message ? "nondeterministic: " + *e.message : "nondeterministic in " + e.resource;
      },
      [](const error_details::Application& e) {
        if (const auto* c = e.kind.get_if<app_error_kind::Cancelled>()) return "canceled: " + c->reason;
        if (e.kind.holds<app_error_kind::Panicked>()) return "orchestration panicked: " + e.message;
        return e.message;
      },
      [](const error_details::Poison& e) {
        const std::string attempts = std::to_string(e.attempt_count) + " attempts (max " +
                                     std::to_string(e.max_attempts) + ")";
        return e.message_type.visit(overloaded{
            [&](const poison_message_type::Orchestration& m) {
              return "poison: orchestration " + m.instance + " exceeded " + attempts;
            },
            [&](const poison_message_type::Activity& m) {
              return "poison: activity " + m.activity_name + "#" + std::to_string(m.activity_id) +
                     " exceeded " + attempts;
            },
            [&](const poison_message_type::FailedDeserialization& m) {
              return "poison: orchestration " + m.instance +
                     " history deserialization failed after " + attempts + ": " + m.error;
            },
        });
      },
  });
}

std::string_view to_string(ConfigErrorKind kind) noexcept {
  return wire_detail::config_error_kind_name(kind);
}

std::string to_string(const AppErrorKind& kind) {
  if (const auto* c = kind.get_if<app_error_kind::Cancelled>()) return "Cancelled(" + c->reason + ")";
  return std::string(wire_detail::alternative_name(kind));
}

std::string to_string(const PoisonMessageType& type) {
  return type.visit(overloaded{
      [](const poison_message_type::Orchestration& m) {
        return "Orchestration(" + m.instance + "#" + std::to_string(m.execution_id) + ")";
      },
      [](const poison_message_type::Activity& m) {
        return "Activity(" + m.instance + "#" + std::to_string(m.execution_id) + ", " +
               m.activity_name + "#" + std::to_string(m.activity_id) + ")";
      },
      [](const poison_message_type::FailedDeserialization& m) {
        return "FailedDeserialization(" + m.instance + "#" + std::to_string(m.execution_id) +
               ": " + m.error + ")";
      },
  });
}

ErrorDetails to_infrastructure_error(const ProviderError& error) {
  return error_details::Infrastructure{error.operation, error.message, error.retryable};
}

// ---- WorkItem ----

std::string_view variant_name(const WorkItem& item) noexcept {
  return wire_detail::alternative_name(item);
}

std::string_view routing_instance(const WorkItem& item) noexcept {
  return item.visit([](const auto& alt) -> std::string_view {
    if constexpr (requires { alt.parent_instance; } && !requires { alt.instance; }) {
      return alt.parent_instance;
    } else {
      return alt.instance;
    }
  });
}

std::string to_string(const WorkItem& item) {
  std::string out(variant_name(item));
  out += ' ';
  encode_to(out, item);
  return out;
}

// ---- Event ----

std::string_view event_type_name(const EventKind& kind) noexcept {
  return wire_detail::alternative_name(kind);
}

bool is_terminal(const EventKind& kind) noexcept {
  return kind.holds<event_kind::OrchestrationCompleted>() ||
         kind.holds<event_kind::OrchestrationFailed>() ||
         kind.holds<event_kind::OrchestrationContinuedAsNew>();
}

std::string to_string(const Event& event) { return encode(event); }

// ---- TagFilter ----

bool TagFilter::matches(const std::string* tag) const {
  return visit(overloaded{
      [&](const tag_filter::DefaultOnly&) { return tag == nullptr; },
      [&](const tag_filter::Tags& f) { return tag != nullptr && f.tags.contains(*tag); },
      [&](const tag_filter::DefaultAnd& f) { return tag == nullptr || f.tags.contains(*tag); },
      [&](const tag_filter::Any&) { return true; },
      [&](const tag_filter::None&) { return false; },
  });
}

std::string to_string(const TagFilter& filter) {
  const auto list = [](std::string name, const std::set<std::string>& tags) {
    name += '{';
    bool first = true;
    for (const auto& t : tags) {
      if (!first) name += ',';
      first = false;
      name += t;
    }
    name += '}';
    return name;
  };
  return filter.visit(overloaded{
      [](const tag_filter::DefaultOnly&) { return std::string("DefaultOnly"); },
      [&](const tag_filter::Tags& f) { return list("Tags", f.tags); },
      [&](const tag_filter::DefaultAnd& f) { return list("DefaultAnd", f.tags); },
      [](const tag_filter::Any&) { return std::string("Any"); },
      [](const tag_filter::None&) { return std::string("None"); },
  });
}

}  // namespace duroxide
