// lib/wire/reader.h — schema-driven reading of On-Demand values (used by both decoders).
//
// Why On-Demand rather than DOM (measured in bench/codec_bench, see lib/wire/README.md):
//  * correctness: a DOM tape keeps no source text, and simdjson's DOM stores "-0" as the integer
//    0, so a DOM decoder cannot reject `-0` for a u64 field (serde does). On-Demand gives the raw
//    token of every number, which we parse with serde's exact integer grammar.
//  * speed: no tape is built; payload strings are decoded once, straight from the input buffer
//    into the destination std::string (json_string.h), and a wrong-kind key costs nothing.
// The price is that On-Demand validates only what is visited, so every value — including the
// values of unknown keys — is visited and consumed exactly once (skip_unknown validates them
// fully). Nothing may be left to On-Demand's internal skipping: in simdjson 3.0 it does not check
// structure (and mistakes a string followed by ':' for a key).
//
// Numbers are read from their raw token and deliberately left unconsumed: a skipped scalar that
// is not a string is always stepped over as exactly one token, so this is safe.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "wire/json_string.h"
#include "wire/schema.h"

namespace duroxide::wire_detail {

namespace od = simdjson::ondemand;

// serde_json refuses nesting deeper than 128; unknown values deeper than this are rejected too
// (which also bounds our recursion).
inline constexpr int kMaxUnknownDepth = 128;

// Per-call decode state. The error is built while unwinding: the innermost failure sets the
// message, and every enclosing field prepends its name to `path`.
struct Ctx {
  std::string scratch;  // reused for variant names and strings that are only validated
  std::string message;
  std::string path;

  bool fail(std::string_view msg) {
    message.assign(msg);
    return false;
  }
  bool fail_json(simdjson::error_code e) {
    message = "invalid JSON: ";
    message += simdjson::error_message(e);
    return false;
  }
  // Prepends a field name (or "[i]") to the error path; returns false for tail calls.
  bool at(std::string_view name) {
    std::string p;
    p.reserve(name.size() + 1 + path.size());
    p.append(name);
    if (!path.empty() && path.front() != '[') p.push_back('.');
    p.append(path);
    path = std::move(p);
    return false;
  }
  bool at_index(std::size_t i) {
    // Built with append: GCC 12 -O3 reports a bogus -Wrestrict for "[" + std::to_string(i).
    std::string p;
    p.push_back('[');
    p.append(std::to_string(i));
    p.push_back(']');
    if (!path.empty() && path.front() != '[') p.push_back('.');
    p.append(path);
    path = std::move(p);
    return false;
  }
  std::string full_message() const {
    if (path.empty()) return message;
    return "field `" + path + "`: " + message;
  }
};

std::string_view type_name(od::json_type t) noexcept;
bool wrong_type(Ctx& ctx, std::string_view expected, od::json_type found);

// Primitive readers (reader.cpp).
bool read_string(od::value& v, std::string& out, Ctx& ctx);
bool read_uint(od::value& v, std::uint64_t max, std::uint64_t& out, Ctx& ctx);
bool read_bool(od::value& v, bool& out, Ctx& ctx);
bool read_carry_forward(od::value& v, std::vector<CarryForwardEvent>& out, Ctx& ctx);
bool read_config_error_kind(od::value& v, ConfigErrorKind& out, Ctx& ctx);
// Fully validates a value that no schema field claims, as serde does when it ignores it.
bool skip_unknown(od::value& v, Ctx& ctx, int depth = 0);
// Reads an object key straight from the input: a view into the input when the key has no
// escapes (the common case), else decoded (and validated) into `storage`. Keys are never
// unescaped into simdjson's string buffer, so decoding a document twice (decode_event's fallback)
// cannot overrun it.
bool read_key(od::field& f, std::string_view& key, std::string& storage, Ctx& ctx);

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
bool read_value(od::value& v, T& out, Ctx& ctx);

// Equality of a key with a (compile-time) field name; inlined, size compared first.
[[gnu::always_inline]] inline bool same_name(std::string_view key, std::string_view name) noexcept {
  return key.size() == name.size() && std::memcmp(key.data(), name.data(), name.size()) == 0;
}

// Calls f(std::integral_constant<size_t, I>) for the alternative of `Variant` whose wire name is
// `name`; returns false when no alternative has that name.
template <class Variant, class F>
bool with_alternative_named(std::string_view name, F&& f) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return ((same_name(name, Schema<std::variant_alternative_t<I, Variant>>::name)
                 ? (f(std::integral_constant<std::size_t, I>{}), true)
                 : false) ||
            ...);
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
}

template <class Variant>
std::string expected_variants() {
  std::string s = "expected one of ";
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((s += (I == 0 ? "`" : ", `"), s += Schema<std::variant_alternative_t<I, Variant>>::name,
      s += '`'),
     ...);
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
  return s;
}

// ---- struct fields ----

// Index of the schema field called `key`, or -1.
template <class T>
int field_index(std::string_view key) noexcept {
  int found = -1;
  std::apply(
      [&](const auto&... field) {
        int i = 0;
        static_cast<void>(((same_name(key, field.name) ? (found = i, true) : (++i, false)) || ...));
      },
      Schema<T>::fields);
  return found;
}

// Reads the value of schema field `index` into `out`.
template <class T, class S>
bool read_field(int index, od::value& v, S& out, Ctx& ctx) {
  bool ok = false;
  std::apply(
      [&](const auto&... field) {
        int i = 0;
        static_cast<void>(
            ((i++ == index ? (ok = read_value(v, out.*(field.member), ctx), true) : false) || ...));
      },
      Schema<T>::fields);
  return ok;
}

// After all keys were seen: fails on the first missing required field.
template <class T>
bool check_required(std::uint32_t seen, Ctx& ctx) {
  std::string_view missing;
  std::apply(
      [&](const auto&... field) {
        int i = 0;
        const auto note = [&](const auto& f) {
          if (((seen >> i++) & 1u) == 0 && f.presence == Presence::Required && missing.empty())
            missing = f.name;
        };
        (note(field), ...);
        static_cast<void>(note);  // unused for unit variants (no fields)
      },
      Schema<T>::fields);
  if (missing.empty()) return true;
  ctx.fail("missing required field");
  return ctx.at(missing);
}

// Reads one object into a struct: known fields by schema (each at most once), unknown keys
// validated and ignored, missing optional fields left absent/defaulted.
template <class T>
bool read_struct(od::object& obj, T& out, Ctx& ctx) {
  static_assert(field_count<T> <= 32);
  std::uint32_t seen = 0;
  std::string key_storage;
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return ctx.fail_json(e);
    std::string_view key;
    if (!read_key(field, key, key_storage, ctx)) return false;
    const int idx = field_index<T>(key);
    if (idx < 0) {
      if (!skip_unknown(field.value(), ctx)) return ctx.at(key);
      continue;
    }
    if (seen & (1u << idx)) {
      ctx.fail("duplicate field");
      return ctx.at(key);
    }
    seen |= 1u << idx;
    if (!read_field<T>(idx, field.value(), out, ctx)) return ctx.at(key);
  }
  return check_required<T>(seen, ctx);
}

template <class T>
bool read_struct_value(od::value& v, T& out, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::object) return wrong_type(ctx, "an object", t);
  od::object obj;
  if (auto e = v.get_object().get(obj)) return ctx.fail_json(e);
  return read_struct(obj, out, ctx);
}

// ---- externally tagged enums ----

// {"Variant":{...}} — exactly one key. Unit variants are accepted only as bare strings (see
// read_tagged); the {"Panicked":null} spelling serde also takes is not produced by Duroxide.
template <class Sum>
bool read_tagged_object(od::object& obj, Sum& out, Ctx& ctx) {
  using Variant = typename Sum::Variant;
  bool have = false;
  std::string key_storage;
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return ctx.fail_json(e);
    std::string_view key;
    if (!read_key(field, key, key_storage, ctx)) return false;
    if (have) {
      ctx.fail("expected an object with exactly one variant key");
      return ctx.at(key);
    }
    have = true;
    bool ok = false;
    const bool known = with_alternative_named<Variant>(key, [&](auto index) {
      using A = std::variant_alternative_t<decltype(index)::value, Variant>;
      if constexpr (field_count<A> == 0) {
        ok = ctx.fail("unit variant must be written as a bare string");
      } else {
        ok = read_struct_value(field.value(), out.value.template emplace<decltype(index)::value>(),
                               ctx);
      }
    });
    if (!known) {
      std::string msg = "unknown variant `";
      msg.append(key);
      msg += "`, ";
      msg += expected_variants<Variant>();
      return ctx.fail(msg);
    }
    if (!ok) return ctx.at(key);
  }
  if (!have) return ctx.fail("expected an object with exactly one variant key, found {}");
  return true;
}

template <class Sum>
bool read_tagged(od::value& v, Sum& out, Ctx& ctx) {
  using Variant = typename Sum::Variant;
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t == od::json_type::object) {
    od::object obj;
    if (auto e = v.get_object().get(obj)) return ctx.fail_json(e);
    return read_tagged_object(obj, out, ctx);
  }
  if (t != od::json_type::string) return wrong_type(ctx, "a variant (string or object)", t);
  if (!read_string(v, ctx.scratch, ctx)) return false;
  bool ok = false;
  const bool known = with_alternative_named<Variant>(ctx.scratch, [&](auto index) {
    using A = std::variant_alternative_t<decltype(index)::value, Variant>;
    if constexpr (field_count<A> == 0) {
      out.value.template emplace<decltype(index)::value>();
      ok = true;
    } else {
      ok = ctx.fail("struct variant `" + ctx.scratch + "` must be an object, found a string");
    }
  });
  if (!known)
    return ctx.fail("unknown variant `" + ctx.scratch + "`, " + expected_variants<Variant>());
  return ok;
}

// ---- dispatch on member type ----

template <class T>
bool read_value(od::value& v, T& out, Ctx& ctx) {
  if constexpr (std::is_same_v<T, std::string>) {
    return read_string(v, out, ctx);
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return read_uint(v, UINT64_MAX, out, ctx);
  } else if constexpr (std::is_same_v<T, std::uint32_t>) {
    std::uint64_t wide = 0;
    if (!read_uint(v, UINT32_MAX, wide, ctx)) return false;
    out = static_cast<std::uint32_t>(wide);
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    return read_bool(v, out, ctx);
  } else if constexpr (is_optional<T>::value) {
    od::json_type t;
    if (auto e = v.type().get(t)) return ctx.fail_json(e);
    if (t == od::json_type::null) {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return ctx.fail_json(e);
      if (!is_null) return ctx.fail("invalid literal");
      out.reset();
      return true;
    }
    return read_value(v, out.emplace(), ctx);
  } else if constexpr (std::is_same_v<T, std::vector<CarryForwardEvent>>) {
    return read_carry_forward(v, out, ctx);
  } else if constexpr (std::is_same_v<T, ConfigErrorKind>) {
    return read_config_error_kind(v, out, ctx);
  } else if constexpr (std::is_same_v<T, ErrorDetails> || std::is_same_v<T, AppErrorKind> ||
                       std::is_same_v<T, PoisonMessageType>) {
    return read_tagged(v, out, ctx);
  } else {
    static_assert(sizeof(T) == 0, "no wire decoding for this member type");
  }
}

}  // namespace duroxide::wire_detail
