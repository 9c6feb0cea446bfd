// Property-style round trips over generated values (seeded PRNG; set DUROXIDE_WIRE_SEED to
// reproduce or vary a run). Values are generated generically from the wire schema, so every
// variant and every field is covered; strings mix every control character, quotes, backslashes,
// DEL, U+2028, BOM-like and astral-plane characters; integers hit 0, 1, u32::MAX, 2^53+1 and
// u64::MAX.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "duroxide/wire.h"
#include "wire/schema.h"

using namespace duroxide;
using wire_detail::Schema;

namespace {

using Rng = std::mt19937_64;

std::uint64_t seed() {
  if (const char* s = std::getenv("DUROXIDE_WIRE_SEED")) return std::strtoull(s, nullptr, 0);
  return 0x5EED'D0C5'2024'0003ULL;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::uint32_t pick(Rng& rng, std::uint32_t lo, std::uint32_t hi) {
  return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
}

std::uint32_t random_code_point(Rng& rng) {
  static constexpr std::uint32_t special[] = {'"', '\\', '/', 0x7F, 0x80, 0x7FF, 0x800, 0x85,
                                              0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFF, 0x10000,
                                              0x10FFFF, 0x1F600, 0x1F468, 0x200D};
  switch (pick(rng, 0, 9)) {
    case 0: return pick(rng, 0, 0x1F);                        // control characters
    case 1: return special[pick(rng, 0, std::size(special) - 1)];
    case 2: return pick(rng, 0x80, 0x7FF);                    // 2-byte UTF-8
    case 3: {                                                 // 3-byte, no surrogates
      std::uint32_t cp = pick(rng, 0x800, 0xFFFF);
      return (cp >= 0xD800 && cp <= 0xDFFF) ? cp - 0x1000 : cp;
    }
    case 4: return pick(rng, 0x10000, 0x10FFFF);              // astral plane
    default: return pick(rng, 0x20, 0x7E);                    // printable ASCII
  }
}

std::string random_string(Rng& rng) {
  std::string s;
  const std::uint32_t len = pick(rng, 0, 9) == 0 ? pick(rng, 0, 300) : pick(rng, 0, 24);
  for (std::uint32_t i = 0; i < len; ++i) append_utf8(s, random_code_point(rng));
  return s;
}

std::uint64_t random_u64(Rng& rng) {
  static constexpr std::uint64_t extremes[] = {0,
                                               1,
                                               4294967295ULL,
                                               4294967296ULL,
                                               9007199254740993ULL,
                                               9223372036854775807ULL,
                                               9223372036854775808ULL,
                                               18446744073709551614ULL,
                                               18446744073709551615ULL};
  switch (pick(rng, 0, 3)) {
    case 0: return extremes[pick(rng, 0, std::size(extremes) - 1)];
    case 1: return pick(rng, 0, 1000);
    default: return rng() >> pick(rng, 0, 63);
  }
}

template <class T>
void fill(Rng& rng, T& v);

template <class Sum>
void fill_sum(Rng& rng, Sum& sum, std::size_t index) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    static_cast<void>(((I == index ? (fill(rng, sum.value.template emplace<I>()), true) : false) ||
                       ...));
  }(std::make_index_sequence<std::variant_size_v<typename Sum::Variant>>{});
}

template <class T>
void fill(Rng& rng, T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    v = random_string(rng);
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    v = random_u64(rng);
  } else if constexpr (std::is_same_v<T, std::uint32_t>) {
    v = pick(rng, 0, 2) == 0 ? std::uint32_t{4294967295U} : static_cast<std::uint32_t>(random_u64(rng));
  } else if constexpr (std::is_same_v<T, bool>) {
    v = pick(rng, 0, 1) == 1;
  } else if constexpr (requires { v.has_value(); v.emplace(); }) {  // std::optional
    if (pick(rng, 0, 1)) fill(rng, v.emplace());
    else v.reset();
  } else if constexpr (std::is_same_v<T, std::vector<CarryForwardEvent>>) {
    v.resize(pick(rng, 0, 3));
    for (auto& e : v) {
      e.name = random_string(rng);
      e.data = random_string(rng);
    }
  } else if constexpr (std::is_same_v<T, ConfigErrorKind>) {
    v = ConfigErrorKind::Nondeterminism;
  } else if constexpr (requires { typename T::Variant; }) {
    fill_sum(rng, v, pick(rng, 0, std::variant_size_v<typename T::Variant> - 1));
  } else {
    std::apply([&](const auto&... field) { (fill(rng, v.*(field.member)), ...); },
               Schema<T>::fields);
  }
}

Event random_event(Rng& rng, std::size_t kind_index) {
  Event e;
  std::apply([&](const auto&... field) { (fill(rng, e.*(field.member)), ...); },
             Schema<wire_detail::Envelope>::fields);
  fill_sum(rng, e.kind, kind_index);
  return e;
}

// ---- an independent, deliberately naive re-writer used to produce "foreign" spellings ----

// Re-serializes a DOM value the way other tools might: keys in reverse order, ", " and ": "
// separators with extra whitespace, every non-ASCII character as \uXXXX (surrogate pairs for the
// astral plane), '/' as "\/", control characters as upper-case \u00XX.
void write_foreign_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    std::size_t n;
    if (c < 0x80) { cp = c; n = 1; }
    else if (c < 0xE0) { cp = c & 0x1F; n = 2; }
    else if (c < 0xF0) { cp = c & 0x0F; n = 3; }
    else { cp = c & 0x07; n = 4; }
    for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    char buf[16];
    if (cp == '"') out += "\\\"";
    else if (cp == '\\') out += "\\\\";
    else if (cp == '/') out += "\\/";
    else if (cp >= 0x20 && cp < 0x7F) out += static_cast<char>(cp);
    else if (cp < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04X", cp);
      out += buf;
    } else {
      const std::uint32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      out += buf;
    }
  }
  out += '"';
}

void write_foreign(std::string& out, simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      for (auto [k, v] : simdjson::dom::object(e)) fields.emplace_back(k, v);
      out += "{ ";
      for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
        if (it != fields.rbegin()) out += ",\n\t";
        write_foreign_string(out, it->first);
        out += " : ";
        write_foreign(out, it->second);
      }
      out += " }";
      return;
    }
    case element_type::ARRAY: {
      out += "[ ";
      bool first = true;
      for (auto v : simdjson::dom::array(e)) {
        if (!first) out += " , ";
        first = false;
        write_foreign(out, v);
      }
      out += " ]";
      return;
    }
    case element_type::STRING: write_foreign_string(out, std::string_view(e)); return;
    case element_type::INT64: out += std::to_string(std::int64_t(e)); return;
    case element_type::UINT64: out += std::to_string(std::uint64_t(e)); return;
    case element_type::BOOL: out += bool(e) ? "true" : "false"; return;
    case element_type::NULL_VALUE: out += "null"; return;
    case element_type::DOUBLE: FAIL("encoder wrote a floating-point number"); return;
  }
}

std::string foreign_spelling(simdjson::dom::parser& parser, const std::string& canonical) {
  simdjson::dom::element root;
  REQUIRE(parser.parse(canonical).get(root) == simdjson::SUCCESS);
  std::string out = " \r\n";
  write_foreign(out, root);
  out += "\n ";
  return out;
}

// A reference escaper written the obvious way, to cross-check the word-at-a-time one.
std::string naive_json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

template <class T, class Decode>
void check_round_trip(const T& value, Decode decode, simdjson::dom::parser& parser) {
  const std::string text = encode(value);
  INFO("encoded: " << text);
  auto back = decode(text);
  REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
  CHECK(*back == value);
  CHECK(encode(*back) == text);
  // Valid JSON by an independent parser, and no raw control characters left in the text.
  simdjson::dom::element root;
  CHECK(parser.parse(text).get(root) == simdjson::SUCCESS);
  CHECK(text.find_first_of(std::string_view("\0\x01\x1f\n\t", 5)) == std::string::npos);
  // Reordered, re-spaced and fully \u-escaped spelling decodes to the same value.
  const std::string foreign = foreign_spelling(parser, text);
  INFO("foreign: " << foreign);
  auto from_foreign = decode(foreign);
  REQUIRE_MESSAGE(from_foreign.has_value(), from_foreign.error().to_string());
  CHECK(*from_foreign == value);
}

}  // namespace

TEST_CASE("property: every WorkItem variant round-trips (generated values)") {
  Rng rng(seed());
  MESSAGE("seed " << seed());
  WireDecoder decoder;
  simdjson::dom::parser parser;
  constexpr std::size_t kVariants = std::variant_size_v<WorkItem::Variant>;
  for (int i = 0; i < 3000; ++i) {
    WorkItem item;
    fill_sum(rng, item, static_cast<std::size_t>(i) % kVariants);
    check_round_trip(item, [&](std::string_view s) { return decoder.decode_work_item(s); }, parser);
  }
}

TEST_CASE("property: every Event kind round-trips (generated values)") {
  Rng rng(seed() + 1);
  WireDecoder decoder;
  simdjson::dom::parser parser;
  constexpr std::size_t kKinds = std::variant_size_v<EventKind::Variant>;
  for (int i = 0; i < 5200; ++i) {
    const Event event = random_event(rng, static_cast<std::size_t>(i) % kKinds);
    check_round_trip(event, [&](std::string_view s) { return decoder.decode_event(s); }, parser);
  }
}

TEST_CASE("property: string escaping matches a naive reference escaper") {
  Rng rng(seed() + 2);
  for (int i = 0; i < 20000; ++i) {
    std::string s = random_string(rng);
    if (i % 7 == 0) s += std::string(static_cast<std::size_t>(i % 19), static_cast<char>(i % 32));
    const std::string text = encode(WorkItem{work_item::CancelInstance{"", s}});
    const std::string expected =
        "{\"CancelInstance\":{\"instance\":\"\",\"reason\":" + naive_json_string(s) + "}}";
    REQUIRE(text == expected);
  }
}

TEST_CASE("every control character has serde's escape, in one string") {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  all += "\"\\/\x7f";
  const std::string text = encode(WorkItem{work_item::CancelInstance{all, ""}});
  CHECK(text ==
        "{\"CancelInstance\":{\"instance\":\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006"
        "\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015"
        "\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\x7f\","
        "\"reason\":\"\"}}");
  auto back = decode_work_item(text);
  REQUIRE(back.has_value());
  CHECK(back->get_if<work_item::CancelInstance>()->instance == all);
}

TEST_CASE("extreme integers are written exactly") {
  for (const std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4294967295ULL},
                                std::uint64_t{9007199254740993ULL},
                                std::uint64_t{18446744073709551615ULL}}) {
    const WorkItem item = work_item::TimerFired{"i", v, v, v};
    const std::string n = std::to_string(v);
    CHECK(encode(item) == "{\"TimerFired\":{\"instance\":\"i\",\"execution_id\":" + n +
                              ",\"id\":" + n + ",\"fire_at_ms\":" + n + "}}");
    auto back = decode_work_item(encode(item));
    REQUIRE(back.has_value());
    CHECK(*back == item);
  }
}
