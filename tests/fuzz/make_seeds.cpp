// tests/fuzz/make_seeds.cpp — writes every text of the wire fixture files as one corpus file
// each (used by scripts/fuzz.sh to seed the fuzzer). Usage: make_seeds OUT_DIR FIXTURE.jsonl...
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../wire/fixture_loader.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR FIXTURE.jsonl...\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  std::filesystem::create_directories(out);
  std::size_t n = 0;
  for (int i = 2; i < argc; ++i) {
    std::vector<wire_test::FixtureCase> cases;
    std::string error;
    if (!wire_test::load_fixture_file(argv[i], cases, error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    for (const auto& c : cases) {
      const auto write = [&](const std::string& text) {
        std::ofstream(out / ("seed-" + std::to_string(n++)), std::ios::binary) << text;
      };
      write(c.input);
      if (c.canonical && *c.canonical != c.input) write(*c.canonical);
    }
  }
  std::printf("%zu seed inputs in %s\n", n, out.c_str());
  return 0;
}
