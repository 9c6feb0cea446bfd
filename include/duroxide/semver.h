// duroxide/semver.h — the (major, minor, patch) triple the provider compares versions by.
//
// Provider-contract §5.1 compares pinned Duroxide versions lexicographically on the numeric triple
// and explicitly ignores pre-release and build tags, so this type keeps only the three numbers.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace duroxide {

struct SemVer {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;

  // Field order makes the defaulted comparison the lexicographic triple order of §5.1.
  friend auto operator<=>(const SemVer&, const SemVer&) = default;
  friend bool operator==(const SemVer&, const SemVer&) = default;

  // "1.2.3"
  std::string to_string() const;

  // Accepts "MAJOR.MINOR.PATCH" optionally followed by "-prerelease" and/or "+build" (both
  // discarded). Returns nullopt for anything else (missing parts, non-digits, u64 overflow).
  static std::optional<SemVer> parse(std::string_view text) noexcept;
};

}  // namespace duroxide
