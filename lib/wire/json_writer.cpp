#include "wire/json_writer.h"

#include <array>
#include <charconv>
#include <cstring>

#include "wire/simd_scan.h"

namespace duroxide::wire_detail {
namespace {

// For each byte: 0 = copy raw, otherwise the character after the backslash ('u' = \u00xx).
constexpr std::array<char, 256> make_escape_table() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<unsigned>(c)] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr std::array<char, 256> kEscape = make_escape_table();

// Writes the escape for `c` at d; returns the new end.
inline char* write_escape(char* d, unsigned char c, char kind) noexcept {
  d[0] = '\\';
  d[1] = kind;
  if (kind != 'u') return d + 2;
  constexpr char hex[] = "0123456789abcdef";
  d[2] = '0';
  d[3] = '0';
  d[4] = hex[c >> 4];
  d[5] = hex[c & 0xF];
  return d + 6;
}

// Offset of the first byte of s[from, n) that needs escaping, or n.
inline std::size_t first_special(const char* s, std::size_t from, std::size_t n) noexcept {
  std::size_t i = from;
  if constexpr (kHaveBlockScan) {
    for (; i + 16 <= n; i += 16) {
      if (const unsigned m = Block::load(s + i).needs_escape()) return i + first_bit(m);
    }
  }
  for (; i < n; ++i)
    if (kEscape[static_cast<unsigned char>(s[i])]) return i;
  return n;
}

// Escapes s[0, n) into d (which has room for 6n bytes); returns the new end.
char* escape_into(char* d, const char* s, std::size_t n) noexcept {
  const char* p = s;
  const char* const end = s + n;
  if constexpr (kHaveBlockScan) {
    // Output is at most 6x input, so while 16 input bytes remain, 16 bytes fit at d.
    while (end - p >= 16) {
      const Block b = Block::load(p);
      const unsigned m = b.needs_escape();
      b.store(d);
      if (m == 0) {
        p += 16;
        d += 16;
        continue;
      }
      const unsigned k = first_bit(m);
      p += k;
      d += k;
      const auto c = static_cast<unsigned char>(*p++);
      d = write_escape(d, c, kEscape[c]);
    }
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (const char kind = kEscape[c]) d = write_escape(d, c, kind);
    else *d++ = static_cast<char>(c);
  }
  return d;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  const char* const p = s.data();
  const std::size_t n = s.size();
  std::size_t i = first_special(p, 0, n);
  out.push_back('"');
  out.append(p, i);  // the clean prefix: all of a plain string, at memcpy speed
  // The rest is escaped in bounded chunks written in place (no per-escape append calls).
  constexpr std::size_t kChunk = 16 * 1024;
  while (i < n) {
    const std::size_t len = n - i < kChunk ? n - i : kChunk;
    const std::size_t old = out.size();
    out.resize_and_overwrite(old + 6 * len, [&](char* buf, std::size_t) noexcept {
      return static_cast<std::size_t>(escape_into(buf + old, p + i, len) - buf);
    });
    i += len;
  }
  out.push_back('"');
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace duroxide::wire_detail
