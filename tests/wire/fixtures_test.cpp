// The golden wire fixtures (../shared/fixtures/wire, vendored in tests/wire/fixtures): every
// golden line round-trips byte for byte, every lenient input decodes to its canonical text, every
// invalid input is rejected.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>

#include "duroxide/wire.h"
#include "fixture_loader.h"

using namespace duroxide;
using wire_test::FixtureCase;
using wire_test::Kind;

namespace {

// Decodes `text` as `kind`, keeping only success or the error.
Result<bool> decoder_decode(WireDecoder& d, Kind kind, std::string_view text) {
  if (kind == Kind::WorkItem) {
    auto r = d.decode_work_item(text);
    if (!r) return fail(r.error());
  } else {
    auto r = d.decode_event(text);
    if (!r) return fail(r.error());
  }
  return true;
}

struct Counts {
  std::size_t cases = 0;
  std::size_t passed = 0;
  std::size_t optional_accepted = 0;  // lenient_exotic: accepted with the canonical text
  std::size_t optional_rejected = 0;  // lenient_exotic: rejected (allowed)
};

// The encoding of a successful decode, or the error text prefixed with "ERROR: ".
template <class T>
std::string outcome(const Result<T>& r) {
  if (!r) return "ERROR: " + r.error().to_string();
  return encode(*r);
}

// Checks one case; returns whether it passed. `optional` marks forms whose support is optional
// (lenient_exotic): they must not crash, and if accepted must give the canonical text.
bool check_case(WireDecoder& decoder, const FixtureCase& c, bool optional, Counts& counts) {
  INFO(c.file << ":" << c.line << " " << c.name);
  ++counts.cases;
  auto run = [&](auto&& result) {
    if (c.must_fail) {
      CHECK_MESSAGE(!result.has_value(), "accepted invalid input: " << c.input);
      if (result.has_value()) return false;
      CHECK(result.error().retryable == false);
      CHECK(!result.error().message.empty());
      return true;
    }
    if (optional && !result.has_value()) {
      ++counts.optional_rejected;
      return true;
    }
    const std::string got = outcome(result);
    CHECK(got == *c.canonical);
    if (got != *c.canonical) return false;
    // The canonical text decodes to the same value (lenient and canonical forms agree).
    auto again = decoder_decode(decoder, c.kind, *c.canonical);
    CHECK(again.has_value());
    if (optional) ++counts.optional_accepted;
    return true;
  };
  bool ok;
  if (c.kind == Kind::WorkItem) {
    auto r = decoder.decode_work_item(c.input);
    ok = run(r);
    if (ok && r && !c.must_fail) {
      auto back = decoder.decode_work_item(encode(*r));
      REQUIRE(back.has_value());
      CHECK(*back == *r);
    }
  } else {
    auto r = decoder.decode_event(c.input);
    ok = run(r);
    if (ok && r && !c.must_fail) {
      auto back = decoder.decode_event(encode(*r));
      REQUIRE(back.has_value());
      CHECK(*back == *r);
    }
  }
  if (ok) ++counts.passed;
  return ok;
}

std::map<std::string, Counts> run_directory(const std::filesystem::path& dir) {
  std::map<std::string, Counts> per_file;
  WireDecoder decoder;
  const auto files = wire_test::jsonl_files(dir);
  REQUIRE_MESSAGE(!files.empty(), "no *.jsonl in " << dir.string());
  for (const auto& path : files) {
    std::vector<FixtureCase> cases;
    std::string error;
    REQUIRE_MESSAGE(wire_test::load_fixture_file(path, cases, error), error);
    const bool optional = path.filename().string().find("exotic") != std::string::npos;
    Counts& counts = per_file[path.filename().string()];
    for (const auto& c : cases) check_case(decoder, c, optional, counts);
    MESSAGE(path.filename().string() << ": " << counts.passed << "/" << counts.cases << " passed"
                                     << (optional ? " (optional forms: " +
                                                        std::to_string(counts.optional_accepted) +
                                                        " accepted, " +
                                                        std::to_string(counts.optional_rejected) +
                                                        " rejected)"
                                                  : std::string()));
  }
  return per_file;
}

}  // namespace

TEST_CASE("wire fixtures: vendored golden, lenient and invalid files all pass") {
  const auto per_file = run_directory(DUROXIDE_WIRE_FIXTURES);
  // The vendored set is fixed; make sure none of it was skipped.
  const std::map<std::string, std::size_t> expected = {
      {"work_items.jsonl", 111},   {"events.jsonl", 198},        {"lenient_inputs.jsonl", 74},
      {"invalid_inputs.jsonl", 193}, {"lenient_exotic.jsonl", 18},
  };
  for (const auto& [file, n] : expected) {
    INFO(file);
    REQUIRE(per_file.count(file) == 1);
    CHECK(per_file.at(file).cases == n);
    CHECK(per_file.at(file).passed == n);
  }
}

TEST_CASE("wire fixtures: every *.jsonl in DUROXIDE_WIRE_FIXTURES_DIR") {
  const char* dir = std::getenv("DUROXIDE_WIRE_FIXTURES_DIR");
  if (dir == nullptr || *dir == '\0') {
    MESSAGE("DUROXIDE_WIRE_FIXTURES_DIR not set; nothing extra to check");
    return;
  }
  for (const auto& [file, counts] : run_directory(dir)) {
    INFO(file);
    CHECK(counts.passed == counts.cases);
  }
}

