#include "provider/pg_text.h"

#include <charconv>

namespace duroxide::pg {
namespace {
constexpr char kHex[] = "0123456789abcdef";
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

void ArrayLiteral::sep() {
  if (count_++ > 0) text_.push_back(',');
}

ArrayLiteral& ArrayLiteral::add(std::string_view s) {
  sep();
  text_.reserve(text_.size() + s.size() + 2);
  text_.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') text_.push_back('\\');
    text_.push_back(c);
  }
  text_.push_back('"');
  return *this;
}

ArrayLiteral& ArrayLiteral::add(std::int64_t v) {
  sep();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  text_.append(buf, end);
  return *this;
}

ArrayLiteral& ArrayLiteral::add_null() {
  sep();
  text_.append("NULL");
  return *this;
}

ArrayLiteral& ArrayLiteral::add_bytea(std::string_view bytes) {
  sep();
  // Inside a quoted array element a backslash must itself be escaped: "\\x41".
  text_.append("\"\\\\x");
  for (unsigned char c : bytes) {
    text_.push_back(kHex[c >> 4]);
    text_.push_back(kHex[c & 15]);
  }
  text_.push_back('"');
  return *this;
}

std::string ArrayLiteral::finish() {
  text_.push_back('}');
  return std::move(text_);
}

std::string bytea_hex(std::string_view bytes) {
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::optional<std::string> bytea_decode(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace duroxide::pg
