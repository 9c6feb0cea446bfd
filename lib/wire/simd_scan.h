// lib/wire/simd_scan.h — 16-byte block scans for the string codecs.
//
// SSE2 is part of the x86-64 baseline, so this needs no runtime dispatch; other targets use the
// scalar loops of the callers (kHaveBlockScan == false).
#pragma once

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace duroxide::wire_detail {

#if defined(__SSE2__)
inline constexpr bool kHaveBlockScan = true;

struct Block {
  __m128i v;
  static Block load(const char* p) noexcept {
    return {_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))};
  }
  void store(char* p) const noexcept { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }
  // Bit i set when byte i is a backslash.
  unsigned backslashes() const noexcept {
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  }
  // Bit i set when byte i is a double quote.
  unsigned quotes() const noexcept {
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
  }
  // Bit i set when byte i must be escaped in JSON output: '"', '\\' or below 0x20.
  unsigned needs_escape() const noexcept {
    const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    const __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    const __m128i limit = _mm_set1_epi8(0x1F);
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);  // v <= 0x1F
    return static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, bslash), control)));
  }
};

inline unsigned first_bit(unsigned mask) noexcept { return static_cast<unsigned>(__builtin_ctz(mask)); }
#else
inline constexpr bool kHaveBlockScan = false;
#endif

}  // namespace duroxide::wire_detail
