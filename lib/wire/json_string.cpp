#include "wire/json_string.h"

#include <cstdint>
#include <cstring>

namespace duroxide::wire_detail {
namespace {

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at p (the caller guarantees 4 readable bytes) or -1.
inline std::int32_t hex4(const char* p) noexcept {
  std::int32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  char b[4];
  std::size_t n;
  if (cp < 0x80) {
    b[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    b[0] = static_cast<char>(0xC0 | (cp >> 6));
    b[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = static_cast<char>(0xE0 | (cp >> 12));
    b[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = static_cast<char>(0xF0 | (cp >> 18));
    b[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    b[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out.append(b, n);
}

inline char simple_escape(char c) noexcept {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
  }
}

}  // namespace

std::string_view describe(StringError e) noexcept {
  switch (e) {
    case StringError::None: return "ok";
    case StringError::Malformed: return "malformed string";
    case StringError::InvalidEscape: return "invalid escape";
    case StringError::InvalidUnicodeEscape: return "invalid \\u escape";
    case StringError::LoneSurrogate: return "lone surrogate in \\u escape";
  }
  return "invalid string";
}

StringError decode_string_token(std::string_view token, std::string& out) {
  // Trim the whitespace On-Demand includes after the token.
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                            token.back() == '\n' || token.back() == '\r'))
    token.remove_suffix(1);
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') return StringError::Malformed;
  const char* p = token.data() + 1;
  const char* const end = token.data() + token.size() - 1;  // the closing quote

  const void* first_bs = std::memchr(p, '\\', static_cast<std::size_t>(end - p));
  if (first_bs == nullptr) {
    out.assign(p, static_cast<std::size_t>(end - p));
    return StringError::None;
  }
  out.clear();
  out.reserve(static_cast<std::size_t>(end - p));
  const char* bs = static_cast<const char*>(first_bs);
  for (;;) {
    out.append(p, static_cast<std::size_t>(bs - p));
    // Stage 1 guarantees the backslash is not the last body byte (it would escape the quote).
    const char* e = bs + 1;
    if (e >= end) return StringError::Malformed;
    if (*e != 'u') {
      const char c = simple_escape(*e);
      if (c == 0) return StringError::InvalidEscape;
      out.push_back(c);
      p = e + 1;
    } else {
      if (end - e < 5) return StringError::InvalidUnicodeEscape;
      std::int32_t cp = hex4(e + 1);
      if (cp < 0) return StringError::InvalidUnicodeEscape;
      p = e + 5;
      if (cp >= 0xDC00 && cp <= 0xDFFF) return StringError::LoneSurrogate;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return StringError::LoneSurrogate;
        const std::int32_t lo = hex4(p + 2);
        if (lo < 0) return StringError::InvalidUnicodeEscape;
        if (lo < 0xDC00 || lo > 0xDFFF) return StringError::LoneSurrogate;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      append_utf8(out, static_cast<std::uint32_t>(cp));
    }
    bs = static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(end - p)));
    if (bs == nullptr) break;
  }
  out.append(p, static_cast<std::size_t>(end - p));
  return StringError::None;
}

bool raw_key_equals(const char* raw, std::string_view name) noexcept {
  for (const char want : name) {
    char got = *raw;
    if (got == '"') return false;  // key ended early
    if (got == '\\') {
      const char e = raw[1];
      if (e == 'u') {
        const std::int32_t cp = hex4(raw + 2);
        if (cp < 0 || cp != static_cast<unsigned char>(want)) return false;
        raw += 6;
        continue;
      }
      got = simple_escape(e);
      if (got == 0) return false;
      raw += 2;
    } else {
      raw += 1;
    }
    if (got != want) return false;
  }
  return *raw == '"';
}

}  // namespace duroxide::wire_detail
