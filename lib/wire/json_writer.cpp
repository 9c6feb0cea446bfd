#include "wire/json_writer.h"

#include <array>
#include <charconv>
#include <cstring>

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

// True when any of the eight bytes in `w` is < 0x20, '"' or '\\' (SWAR; the classic
// "has zero byte" / "has byte less than" tests, which are exact as a yes/no answer).
inline bool word_needs_escape(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
  const std::uint64_t q = w ^ (ones * '"');
  const std::uint64_t quote = (q - ones) & ~q & highs;
  const std::uint64_t b = w ^ (ones * '\\');
  const std::uint64_t backslash = (b - ones) & ~b & highs;
  return (below_space | quote | backslash) != 0;
}

inline void append_escape(std::string& out, unsigned char c, char kind) {
  if (kind != 'u') {
    const char esc[2] = {'\\', kind};
    out.append(esc, 2);
    return;
  }
  constexpr char hex[] = "0123456789abcdef";
  const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
  out.append(esc, 6);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
  out.push_back('"');
  std::size_t run = 0;  // start of the pending raw run
  std::size_t i = 0;
  // Skip clean 8-byte words quickly; inspect a word byte by byte only when it needs an escape.
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (!word_needs_escape(w)) {
      i += 8;
      continue;
    }
    for (const std::size_t end = i + 8; i < end; ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      if (const char kind = kEscape[c]) {
        out.append(p + run, i - run);
        append_escape(out, c, kind);
        run = i + 1;
      }
    }
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (const char kind = kEscape[c]) {
      out.append(p + run, i - run);
      append_escape(out, c, kind);
      run = i + 1;
    }
  }
  out.append(p + run, n - run);
  out.push_back('"');
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace duroxide::wire_detail
