// lib/wire/json_writer.h — the two primitives whose byte output must match serde_json exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace duroxide::wire_detail {

// Appends `s` as a JSON string literal with serde_json's escaping: \" \\ \b \t \n \f \r, other
// bytes below 0x20 as \u00xx (lowercase hex), everything else (including '/', DEL, U+2028 and
// all non-ASCII UTF-8) copied raw.
void append_json_string(std::string& out, std::string_view s);

// Appends the decimal form of `v` (the full u64 range, no sign, no leading zeros).
void append_uint(std::string& out, std::uint64_t v);

}  // namespace duroxide::wire_detail
