#include "wire/json_string.h"

#include <cstdint>
#include <cstring>

#include "wire/simd_scan.h"

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

inline char* put_utf8(char* d, std::uint32_t cp) noexcept {
  if (cp < 0x80) {
    *d++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *d++ = static_cast<char>(0xC0 | (cp >> 6));
    *d++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *d++ = static_cast<char>(0xE0 | (cp >> 12));
    *d++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *d++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *d++ = static_cast<char>(0xF0 | (cp >> 18));
    *d++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *d++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *d++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return d;
}

// First backslash in [p, end), or end. Reads whole 16-byte blocks, possibly up to 15 bytes past
// `end`: the token lies in the decoder's padded buffer, so those bytes are readable.
inline const char* find_backslash(const char* p, const char* end) noexcept {
  if constexpr (kHaveBlockScan) {
    for (; p < end; p += 16) {
      if (const unsigned m = Block::load(p).backslashes()) {
        const char* hit = p + first_bit(m);
        return hit < end ? hit : end;
      }
    }
    return end;
  }
  for (; p < end; ++p)
    if (*p == '\\') return p;
  return end;
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
  const char* const begin = token.data() + 1;
  const char* const end = token.data() + token.size() - 1;  // the closing quote
  const std::size_t n = static_cast<std::size_t>(end - begin);

  // Common case: no escapes at all.
  const char* first = find_backslash(begin, end);
  if (first == end) {
    out.assign(begin, n);
    return StringError::None;
  }

  // Unescaping never lengthens text, so n bytes of output suffice; write them in place.
  StringError error = StringError::None;
  out.resize_and_overwrite(n, [&](char* const d0, std::size_t) noexcept -> std::size_t {
    std::memcpy(d0, begin, static_cast<std::size_t>(first - begin));
    char* d = d0 + (first - begin);
    const char* p = first;
    while (p < end) {
      if (*p != '\\') {
        // Copy up to the next backslash. Invariant d - d0 <= p - begin, so while 16 input bytes
        // remain a 16-byte store stays inside the n-byte buffer.
        if constexpr (kHaveBlockScan) {
          while (end - p >= 16) {
            const Block b = Block::load(p);
            const unsigned m = b.backslashes();
            b.store(d);
            if (m != 0) {
              const unsigned k = first_bit(m);
              p += k;
              d += k;
              goto escape;
            }
            p += 16;
            d += 16;
          }
        }
        while (p < end && *p != '\\') *d++ = *p++;
        continue;
      }
    escape:
      // Stage 1 guarantees a backslash is never the last body byte (it would escape the quote).
      if (end - p < 2) {
        error = StringError::Malformed;
        return 0;
      }
      if (p[1] != 'u') {
        const char c = simple_escape(p[1]);
        if (c == 0) {
          error = StringError::InvalidEscape;
          return 0;
        }
        *d++ = c;
        p += 2;
        continue;
      }
      if (end - p < 6) {
        error = StringError::InvalidUnicodeEscape;
        return 0;
      }
      std::int32_t cp = hex4(p + 2);
      if (cp < 0) {
        error = StringError::InvalidUnicodeEscape;
        return 0;
      }
      p += 6;
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        error = StringError::LoneSurrogate;
        return 0;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u') {
          error = StringError::LoneSurrogate;
          return 0;
        }
        const std::int32_t lo = hex4(p + 2);
        if (lo < 0) {
          error = StringError::InvalidUnicodeEscape;
          return 0;
        }
        if (lo < 0xDC00 || lo > 0xDFFF) {
          error = StringError::LoneSurrogate;
          return 0;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      d = put_utf8(d, static_cast<std::uint32_t>(cp));
    }
    return static_cast<std::size_t>(d - d0);
  });
  if (error != StringError::None) out.clear();
  return error;
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
