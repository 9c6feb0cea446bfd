#include "wire/reader.h"

#include "wire/simd_scan.h"

namespace duroxide::wire_detail {

std::string_view type_name(od::json_type t) noexcept {
  switch (t) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "an unknown token";
}

bool wrong_type(Ctx& ctx, std::string_view expected, od::json_type found) {
  std::string msg = "invalid type: expected ";
  msg.append(expected);
  msg += ", found ";
  msg.append(type_name(found));
  return ctx.fail(msg);
}

bool read_key(od::field& f, std::string_view& key, std::string& storage, Ctx& ctx) {
  // Stage 1 has checked that the key is a closed string, so these scans stop inside the buffer.
  const char* const raw = f.key().raw();
  const char* p = raw;
  if constexpr (kHaveBlockScan) {
    // Keys are short: one 16-byte look usually finds the closing quote. Reading past the key is
    // safe: at least ':' and a value follow it, and the buffer has 64 bytes of padding.
    for (;; p += 16) {
      const Block b = Block::load(p);
      if (const unsigned m = b.quotes() | b.backslashes()) {
        p += first_bit(m);
        break;
      }
    }
  } else {
    while (*p != '"' && *p != '\\') ++p;
  }
  if (*p == '"') {
    key = std::string_view(raw, static_cast<std::size_t>(p - raw));
    return true;
  }
  while (*p != '"') p += (*p == '\\') ? 2 : 1;
  const StringError se =
      decode_string_token(std::string_view(raw - 1, static_cast<std::size_t>(p - raw) + 2), storage);
  if (se != StringError::None) return ctx.fail(std::string(describe(se)) + " in an object key");
  key = storage;
  return true;
}

bool read_string(od::value& v, std::string& out, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::string) return wrong_type(ctx, "a string", t);
  const std::string_view token = v.raw_json_token();
  // Consume the token through simdjson. Leaving it to On-Demand's skip logic is unsafe: that
  // logic takes an unconsumed string followed by ':' for an object key and resynchronises on the
  // wrong token, accepting malformed text such as {"a":"b":{...}} (found by the fuzzer).
  od::raw_json_string consumed;
  if (auto e = v.get_raw_json_string().get(consumed)) return ctx.fail_json(e);
  const StringError se = decode_string_token(token, out);
  if (se != StringError::None) return ctx.fail(describe(se));
  return true;
}

// serde_json's integer grammar for unsigned targets: 0 | [1-9][0-9]*, nothing else.
bool read_uint(od::value& v, std::uint64_t max, std::uint64_t& out, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::number) return wrong_type(ctx, "an unsigned integer", t);
  const std::string_view tok = v.raw_json_token();
  const char* p = tok.data();
  const char* const end = p + tok.size();
  if (p == end) return ctx.fail("invalid number");
  if (*p == '-') return ctx.fail("invalid value: negative number, expected an unsigned integer");
  const char* const first = p;
  std::uint64_t value = 0;
  for (; p != end && *p >= '0' && *p <= '9'; ++p) {
    const auto digit = static_cast<std::uint64_t>(*p - '0');
    if (value > (max - digit) / 10) {
      return ctx.fail(max == UINT32_MAX ? "integer out of range for u32"
                                        : "integer out of range for u64");
    }
    value = value * 10 + digit;
  }
  // The token runs to the next structural character, so only whitespace may follow the digits.
  const char* rest = p;
  while (rest != end && (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')) ++rest;
  if (rest != end) {
    if (*p == '.' || *p == 'e' || *p == 'E')
      return ctx.fail("invalid type: floating-point number, expected an unsigned integer");
    return ctx.fail("invalid number");
  }
  if (p == first) return ctx.fail("invalid number");
  if (*first == '0' && p - first > 1) return ctx.fail("invalid number: leading zero");
  out = value;
  return true;
}

bool read_bool(od::value& v, bool& out, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::boolean) return wrong_type(ctx, "a boolean", t);
  if (auto e = v.get_bool().get(out)) return ctx.fail_json(e);
  return true;
}

bool read_carry_forward(od::value& v, std::vector<CarryForwardEvent>& out, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::array) return wrong_type(ctx, "an array of [name, data] pairs", t);
  od::array arr;
  if (auto e = v.get_array().get(arr)) return ctx.fail_json(e);
  out.clear();
  std::size_t index = 0;
  for (auto element_result : arr) {
    od::value element;
    if (auto e = std::move(element_result).get(element)) return ctx.fail_json(e);
    if (auto e = element.type().get(t)) return ctx.fail_json(e);
    if (t != od::json_type::array) {
      wrong_type(ctx, "a [name, data] pair", t);
      return ctx.at_index(index);
    }
    od::array pair;
    if (auto e = element.get_array().get(pair)) return ctx.fail_json(e);
    CarryForwardEvent& entry = out.emplace_back();
    std::size_t n = 0;
    for (auto item_result : pair) {
      od::value item;
      if (auto e = std::move(item_result).get(item)) return ctx.fail_json(e);
      if (n >= 2) {
        ctx.fail("invalid length: expected a [name, data] pair of 2 strings");
        return ctx.at_index(index);
      }
      if (!read_string(item, n == 0 ? entry.name : entry.data, ctx)) {
        ctx.at_index(n);
        return ctx.at_index(index);
      }
      ++n;
    }
    if (n != 2) {
      ctx.fail("invalid length: expected a [name, data] pair of 2 strings");
      return ctx.at_index(index);
    }
    ++index;
  }
  return true;
}

bool read_config_error_kind(od::value& v, ConfigErrorKind& out, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::string)
    return wrong_type(ctx, "a unit variant name (a string)", t);
  if (!read_string(v, ctx.scratch, ctx)) return false;
  if (ctx.scratch == config_error_kind_name(ConfigErrorKind::Nondeterminism)) {
    out = ConfigErrorKind::Nondeterminism;
    return true;
  }
  return ctx.fail("unknown variant `" + ctx.scratch + "`, expected `Nondeterminism`");
}

bool skip_unknown(od::value& v, Ctx& ctx, int depth) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  switch (t) {
    case od::json_type::object: {
      if (depth >= kMaxUnknownDepth) return ctx.fail("recursion limit exceeded");
      od::object obj;
      if (auto e = v.get_object().get(obj)) return ctx.fail_json(e);
      std::string key_storage;
      for (auto field_result : obj) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return ctx.fail_json(e);
        std::string_view key;
        if (!read_key(field, key, key_storage, ctx)) return false;
        if (!skip_unknown(field.value(), ctx, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      if (depth >= kMaxUnknownDepth) return ctx.fail("recursion limit exceeded");
      od::array arr;
      if (auto e = v.get_array().get(arr)) return ctx.fail_json(e);
      for (auto element_result : arr) {
        od::value element;
        if (auto e = std::move(element_result).get(element)) return ctx.fail_json(e);
        if (!skip_unknown(element, ctx, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::string:
      return read_string(v, ctx.scratch, ctx);
    case od::json_type::number: {
      // Full number validation (grammar and range: 1e400 is rejected, as serde does for Event
      // keys; see lib/wire/README.md for the WorkItem difference).
      od::number n;
      if (auto e = v.get_number().get(n)) return ctx.fail_json(e);
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b)) return ctx.fail_json(e);
      return true;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return ctx.fail_json(e);
      if (!is_null) return ctx.fail("invalid literal");
      return true;
    }
  }
  return ctx.fail("invalid JSON value");
}

}  // namespace duroxide::wire_detail
