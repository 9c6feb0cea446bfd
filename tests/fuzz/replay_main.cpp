// tests/fuzz/replay_main.cpp — runs the fuzz target without libFuzzer (any compiler), over
// files and directories given on the command line: raw inputs (e.g. tests/fuzz/regressions/*)
// are fed as they are; *.jsonl fixture files are unwrapped and each json/input/canonical text is
// fed. This keeps the target compiling in the normal build and makes every past crash a unit
// test.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../wire/fixture_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::size_t feed(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  return 1;
}

std::size_t run_file(const std::filesystem::path& path) {
  if (path.extension() == ".jsonl") {
    std::vector<wire_test::FixtureCase> cases;
    std::string error;
    if (!wire_test::load_fixture_file(path, cases, error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      std::exit(2);
    }
    std::size_t n = 0;
    for (const auto& c : cases) {
      n += feed(c.input);
      if (c.canonical && *c.canonical != c.input) n += feed(*c.canonical);
    }
    return n;
  }
  std::ifstream in(path, std::ios::binary);
  return feed(std::string(std::istreambuf_iterator<char>(in), {}));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file() && e.path().filename().string().front() != '.')
          inputs += run_file(e.path());
    } else {
      inputs += run_file(p);
    }
  }
  std::printf("replayed %zu inputs through the wire fuzz target: no violations\n", inputs);
  return 0;
}
