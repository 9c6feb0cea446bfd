// duroxide/wire.h — the JSON text of WorkItem and Event (provider-contract §3.6).
//
// Compatibility contract: a Rust Duroxide worker and a C++ worker share one database, so
//  * encode() produces exactly the bytes serde_json writes for the Rust types (compact, fields in
//    declaration order, null vs. omitted per field, serde's string escaping, plain integers), and
//  * decode accepts what serde accepts where Duroxide relies on it (unknown keys, missing optional
//    fields, any key order and whitespace, any escaping) and rejects everything serde rejects
//    (unknown variants/types, wrong JSON types, non-integer or out-of-range numbers, missing
//    required fields, duplicate fields, malformed JSON, invalid UTF-8 or lone surrogates).
//
// Deliberately NOT accepted, although serde would (no Duroxide code writes them; see
// lib/wire/README.md): struct variants written as arrays of field values,
// unit variants written as {"Name":null}, an Event "type" given as an integer variant index, and
// out-of-range numbers such as 1e400 inside unknown WorkItem keys.
//
// Errors are ProviderError values (permanent; operation "decode_work_item" / "decode_event")
// whose message names the offending field path, e.g. "details.Poison.attempt_count". Nothing
// here throws.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "duroxide/error.h"
#include "duroxide/event.h"
#include "duroxide/work_item.h"

namespace duroxide {

// Appends the JSON text to `out` (which is not cleared), so a caller can reuse one buffer for a
// whole batch of rows.
void encode_to(std::string& out, const WorkItem& item);
void encode_to(std::string& out, const Event& event);
std::string encode(const WorkItem& item);
std::string encode(const Event& event);

// A reusable decoder. It keeps the simdjson parser and a padded input buffer between calls, so
// decoding a batch costs no per-document parser allocation. Not thread-safe: use one per thread
// (or per connection).
class WireDecoder {
 public:
  WireDecoder();
  ~WireDecoder();
  WireDecoder(WireDecoder&&) noexcept;
  WireDecoder& operator=(WireDecoder&&) noexcept;
  WireDecoder(const WireDecoder&) = delete;
  WireDecoder& operator=(const WireDecoder&) = delete;

  Result<WorkItem> decode_work_item(std::string_view json);
  Result<Event> decode_event(std::string_view json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience: constructs a WireDecoder per call. Prefer a WireDecoder in loops.
Result<WorkItem> decode_work_item(std::string_view json);
Result<Event> decode_event(std::string_view json);

}  // namespace duroxide
