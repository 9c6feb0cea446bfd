// Encoder: schema-driven, appending to a caller-owned buffer. Output is compact and in schema
// (declaration) order, which is exactly serde_json's to_string for the Rust types.
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "duroxide/wire.h"
#include "wire/json_writer.h"
#include "wire/schema.h"

namespace duroxide {
namespace wire_detail {
namespace {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
void write_value(std::string& out, const T& v);
template <class T>
std::size_t size_hint(const T& v);

// Appends `,"name":` (or `"name":` for the first field). Keys are plain ASCII: no escaping.
inline void write_key(std::string& out, std::string_view name, bool& first) {
  if (!first) out.push_back(',');
  first = false;
  out.push_back('"');
  out.append(name);
  out.append("\":", 2);
}

// Writes the fields of `v` (without braces) in schema order.
template <class T, class S = T>
void write_fields(std::string& out, const S& v, bool& first) {
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              const auto& member = v.*(field.member);
              if constexpr (is_optional<std::remove_cvref_t<decltype(member)>>::value) {
                if (field.presence == Presence::Omittable && !member.has_value()) return;
              }
              write_key(out, field.name, first);
              write_value(out, member);
            }(),
            ...);
      },
      Schema<T>::fields);
}

template <class T>
void write_struct(std::string& out, const T& v) {
  out.push_back('{');
  bool first = true;
  write_fields<T>(out, v, first);
  out.push_back('}');
}

// Externally tagged: unit variants as a bare string, struct variants as {"Name":{...}}.
template <class Sum>
void write_tagged(std::string& out, const Sum& sum) {
  std::visit(
      [&](const auto& alt) {
        using A = std::remove_cvref_t<decltype(alt)>;
        if constexpr (field_count<A> == 0) {
          append_json_string(out, Schema<A>::name);
        } else {
          out.append("{\"", 2);
          out.append(Schema<A>::name);
          out.append("\":", 2);
          write_struct(out, alt);
          out.push_back('}');
        }
      },
      sum.value);
}

template <class T>
void write_value(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    append_json_string(out, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (v) out.append("true", 4);
    else out.append("false", 5);
  } else if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::uint32_t>) {
    append_uint(out, v);
  } else if constexpr (is_optional<T>::value) {
    if (v) write_value(out, *v);
    else out.append("null", 4);
  } else if constexpr (std::is_same_v<T, std::vector<CarryForwardEvent>>) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : v) {
      if (!first) out.push_back(',');
      first = false;
      out.push_back('[');
      append_json_string(out, e.name);
      out.push_back(',');
      append_json_string(out, e.data);
      out.push_back(']');
    }
    out.push_back(']');
  } else if constexpr (std::is_same_v<T, ConfigErrorKind>) {
    append_json_string(out, config_error_kind_name(v));
  } else if constexpr (std::is_same_v<T, ErrorDetails> || std::is_same_v<T, AppErrorKind> ||
                       std::is_same_v<T, PoisonMessageType>) {
    write_tagged(out, v);
  } else {
    static_assert(sizeof(T) == 0, "no wire encoding for this member type");
  }
}

// ---- size estimate, so that one reserve() covers the whole document ----

template <class T>
std::size_t fields_hint(const T& v) {
  return std::apply(
      [&](const auto&... field) {
        return ((field.name.size() + 4 + size_hint(v.*(field.member))) + ... + std::size_t{2});
      },
      Schema<T>::fields);
}

template <class T>
std::size_t size_hint(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return v.size() + v.size() / 16 + 2;  // escapes are rare; a realloc covers dense ones
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, ConfigErrorKind>) {
    return 16;
  } else if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::uint32_t>) {
    return 20;
  } else if constexpr (is_optional<T>::value) {
    return v ? size_hint(*v) : 4;
  } else if constexpr (std::is_same_v<T, std::vector<CarryForwardEvent>>) {
    std::size_t n = 2;
    for (const auto& e : v) n += size_hint(e.name) + size_hint(e.data) + 4;
    return n;
  } else {
    return std::visit(
        [](const auto& alt) {
          using A = std::remove_cvref_t<decltype(alt)>;
          return Schema<A>::name.size() + 6 + fields_hint(alt);
        },
        v.value);
  }
}

}  // namespace
}  // namespace wire_detail

using namespace wire_detail;

void encode_to(std::string& out, const WorkItem& item) {
  std::visit(
      [&](const auto& alt) {
        using A = std::remove_cvref_t<decltype(alt)>;
        out.reserve(out.size() + Schema<A>::name.size() + 8 + fields_hint(alt));
        out.append("{\"", 2);
        out.append(Schema<A>::name);
        out.append("\":", 2);
        write_struct(out, alt);
        out.push_back('}');
      },
      item.value);
}

void encode_to(std::string& out, const Event& event) {
  std::visit(
      [&](const auto& kind) {
        using K = std::remove_cvref_t<decltype(kind)>;
        out.reserve(out.size() + 160 + event.instance_id.size() + event.duroxide_version.size() +
                    Schema<K>::name.size() + fields_hint(kind));
        out.push_back('{');
        bool first = true;
        write_fields<Envelope>(out, event, first);
        write_key(out, "type", first);
        append_json_string(out, Schema<K>::name);
        write_fields<K>(out, kind, first);
        out.push_back('}');
      },
      event.kind.value);
}

std::string encode(const WorkItem& item) {
  std::string out;
  encode_to(out, item);
  return out;
}

std::string encode(const Event& event) {
  std::string out;
  encode_to(out, event);
  return out;
}

}  // namespace duroxide
