// lib/capi/json_in.h — reading the C API's JSON inputs (c-api.md §4.1, §5).
//
// A small strict RFC 8259 parser (no BOM, no duplicate keys at any level, exact integers, UTF-8
// validated, raw control characters rejected) that keeps each value's raw text span, so that
// WorkItem and Event elements can be handed to the wire decoder unchanged. The shape readers
// below turn parsed values into the C++ types of the provider, failing with the C API's
// invalid-argument error (QD008, "Invalid argument: <path>: <reason>").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "duroxide/error.h"
#include "duroxide/event.h"
#include "duroxide/filters.h"
#include "duroxide/orchestration.h"
#include "duroxide/admin_types.h"
#include "duroxide/provider.h"
#include "duroxide/work_item.h"

namespace duroxide::capi {

struct JVal {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  // kNumber: `is_uint` when the text is an unsigned integer (no sign, fraction or exponent) that
  // fits u64; `uint` is then its exact value.
  bool is_uint = false;
  uint64_t uint = 0;
  std::string str;  // kString: the decoded value
  std::vector<JVal> items;
  std::vector<std::pair<std::string, JVal>> members;
  std::string_view raw;  // the value's text inside the input

  const JVal* find(std::string_view key) const {
    for (const auto& m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }
};

// The C layer's invalid-argument error for `op` (c-api.md §8.3).
ProviderError invalid(std::string_view op, std::string_view path, std::string_view reason);

// Validates NUL-terminated UTF-8 by RFC 3629.
bool valid_utf8(std::string_view s) noexcept;

// Parses one JSON text. On failure returns the reason (e.g. "invalid JSON at byte 3: ...").
Result<JVal> parse_json(std::string_view text, std::string_view op, std::string_view path);

// The reader: one per start-function call; `op` is the contract operation name.
class Reader {
 public:
  explicit Reader(std::string_view op) : op_(op) {}
  bool failed() const { return error_.has_value(); }
  ProviderError take_error() { return std::move(*error_); }
  bool fail(std::string_view path, std::string_view reason);
  bool fail(ProviderError e);

  // Required C string (identifier or other text): not NULL, valid UTF-8.
  std::string str(std::string_view param, const char* s);
  // Optional duration: -1 absent, < -1 invalid.
  std::optional<Millis> opt_duration(std::string_view param, int64_t ms);

  // JSON parameters: `text` may be NULL where noted; "null" is the same as NULL.
  // Returns nullopt both when absent and on failure (check failed()).
  std::optional<JVal> json(std::string_view param, const char* text, bool required);

  std::vector<Event> events(std::string_view param, const char* text);        // NULL: []
  std::vector<WorkItem> work_items(std::string_view param, const char* text);  // NULL: []
  std::optional<WorkItem> work_item(std::string_view param, const char* text, bool required);
  ExecutionMetadata metadata(std::string_view param, const char* text);  // NULL: {}
  std::vector<ScheduledActivityIdentifier> activity_ids(std::string_view param, const char* text);
  std::optional<DispatcherCapabilityFilter> capability_filter(std::string_view param, const char* text);
  std::optional<SessionFetchConfig> session(std::string_view param, const char* text);
  TagFilter tag_filter(std::string_view param, const char* text);  // NULL: default_only
  std::vector<std::string> identifiers(std::string_view param, const char* text);  // NULL: []
  InstanceFilter instance_filter(std::string_view param, const char* text);  // NULL: {}
  PruneOptions prune_options(std::string_view param, const char* text);      // NULL: {}

  // Shape helpers, also used by the options reader.
  bool check_keys(const JVal& obj, std::string_view path, std::initializer_list<std::string_view> keys);
  bool expect(const JVal& v, JVal::Kind kind, std::string_view path, std::string_view what);
  // A member that is absent or null yields nullptr.
  const JVal* member(const JVal& obj, std::string_view key) const;
  std::optional<uint64_t> uint(const JVal& v, std::string_view path, uint64_t min, uint64_t max);
  std::optional<std::string> string(const JVal& v, std::string_view path, bool identifier);

 private:
  std::string op_;
  std::optional<ProviderError> error_;
};

// Path helpers: "a" + ".b", "a" + "[3]".
std::string dot(std::string_view path, std::string_view key);
std::string idx(std::string_view path, size_t i);

}  // namespace duroxide::capi
