// duroxide/filters.h — how dispatchers narrow what a fetch may return (provider-contract §3.5).
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/one_of.h"
#include "duroxide/semver.h"

namespace duroxide {

// Session affinity for fetch_work_item: who claims sessions, and for how long.
struct SessionFetchConfig {
  // A process-level worker_node_id or a per-slot ephemeral id "work-{idx}-{runtime_id}".
  std::string owner_id;
  std::chrono::milliseconds lock_timeout{0};  // lease for a newly claimed or refreshed session
  friend bool operator==(const SessionFetchConfig&, const SessionFetchConfig&) = default;
};

// Alternatives of TagFilter. Tags compare by exact, case-sensitive equality, and "" is a tag
// like any other (it is not "untagged").
namespace tag_filter {
struct DefaultOnly {  // only untagged items (the default)
  friend bool operator==(const DefaultOnly&, const DefaultOnly&) = default;
};
struct Tags {  // only items whose tag is in the set; an empty set matches nothing
  std::set<std::string> tags;
  friend bool operator==(const Tags&, const Tags&) = default;
};
struct DefaultAnd {  // untagged items or tag in the set; an empty set behaves as DefaultOnly
  std::set<std::string> tags;
  friend bool operator==(const DefaultAnd&, const DefaultAnd&) = default;
};
struct Any {  // everything
  friend bool operator==(const Any&, const Any&) = default;
};
struct None {  // nothing: an orchestrator-only node
  friend bool operator==(const None&, const None&) = default;
};
}  // namespace tag_filter

struct TagFilter : OneOf<tag_filter::DefaultOnly, tag_filter::Tags, tag_filter::DefaultAnd,
                         tag_filter::Any, tag_filter::None> {
  using OneOf::OneOf;
  using DefaultOnly = tag_filter::DefaultOnly;
  using Tags = tag_filter::Tags;
  using DefaultAnd = tag_filter::DefaultAnd;
  using Any = tag_filter::Any;
  using None = tag_filter::None;

  // Whether an item with this tag (nullptr = untagged) passes the filter; the reference semantics
  // that SQL implementations must agree with.
  bool matches(const std::string* tag) const;
};

// e.g. "DefaultAnd{gpu,io}"
std::string to_string(const TagFilter& filter);

// Inclusive on both ends; min > max contains nothing.
struct SemverRange {
  SemVer min;
  SemVer max;
  bool contains(const SemVer& v) const noexcept { return min <= v && v <= max; }
  friend bool operator==(const SemverRange&, const SemverRange&) = default;
};

// Which pinned Duroxide versions this dispatcher can replay. An execution is compatible when its
// pinned version lies in any range; an execution that was never pinned is always compatible.
struct DispatcherCapabilityFilter {
  std::vector<SemverRange> supported_duroxide_versions;
  bool accepts(const SemVer& pinned) const noexcept {
    for (const auto& r : supported_duroxide_versions)
      if (r.contains(pinned)) return true;
    return false;
  }
  friend bool operator==(const DispatcherCapabilityFilter&,
                         const DispatcherCapabilityFilter&) = default;
};

}  // namespace duroxide
