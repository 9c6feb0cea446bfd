// lib/wire/json_string.h — decoding JSON string tokens straight from the input buffer.
//
// Why not simdjson's get_string(): it unescapes into the parser's internal buffer and we would
// copy the result again into the destination std::string. Stage 1 has already validated UTF-8,
// string boundaries and the absence of raw control characters, so what is left per string is:
// find backslashes (16-byte blocks), copy the runs between them straight into the destination,
// and decode and validate each escape. Plain payload strings cost one memcpy.
#pragma once

#include <string>
#include <string_view>

namespace duroxide::wire_detail {

enum class StringError {
  None,
  Malformed,            // not a complete "..." token (cannot happen after stage 1)
  InvalidEscape,        // \x, \', \U, ...
  InvalidUnicodeEscape, // \u not followed by four hex digits
  LoneSurrogate,        // \ud800 without a following \udc00-\udfff, or a lone \udc00
};

std::string_view describe(StringError e) noexcept;

// `token` is the raw JSON token of a string value as On-Demand reports it: the opening quote,
// the body, the closing quote, then possibly whitespace. Replaces `out` with the decoded text.
// Precondition: 16 bytes past the token are readable (true inside simdjson's padded input).
StringError decode_string_token(std::string_view token, std::string& out);

// Compares a raw (still escaped) object key, given as the pointer just past its opening quote,
// with a short plain-ASCII name. Handles escaped spellings such as "\u0074ype". Reads at most
// 6 * name.size() + 7 bytes, which the padded input always provides.
bool raw_key_equals(const char* raw_key, std::string_view name) noexcept;

}  // namespace duroxide::wire_detail
