// The developer-tool sources with real child processes: fake `az` and `azd` shell scripts that
// the test writes into a temporary folder placed first on PATH (through the environment given to
// the source as data).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "auth/builtin_source.h"
#include "auth/cli_runner.h"
#include "auth/fake_http_server.h"
#include "auth/fake_token_source.h"
#include "support/loop_fixture.h"

using namespace duroxide;
using namespace duroxide::pg;
using namespace duroxide::pg::auth;
using namespace std::chrono_literals;
using duroxide::test::LoopFixture;

namespace {

const std::string kScope = "https://ossrdbms-aad.database.windows.net/.default";

struct FakeTools {
  std::filesystem::path dir;
  FakeTools() {
    char tmpl[] = "/tmp/duroxide-cli-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~FakeTools() { std::filesystem::remove_all(dir); }
  // Writes an executable script `name` whose body follows a line recording cwd and arguments.
  void tool(const std::string& name, const std::string& body) {
    const auto p = dir / name;
    std::ofstream(p) << "#!/bin/sh\n"
                     << "printf '%s\\n' \"$(pwd)\" > \"" << (dir / (name + ".cwd")).string() << "\"\n"
                     << "printf '%s\\n' \"$@\" > \"" << (dir / (name + ".args")).string() << "\"\n"
                     << body << "\n";
    ::chmod(p.c_str(), 0755);
  }
  std::string read(const std::string& file) const {
    std::ifstream in(dir / file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  Environment env() const {
    // Our folder first; the system folders after it so that sh, sleep and printf resolve.
    return Environment{{"PATH", dir.string() + ":/usr/bin:/bin"}, {"HOME", dir.string()}};
  }
};

Result<AccessToken> get(LoopFixture& f, TokenSource& s, std::chrono::milliseconds deadline = 10s) {
  std::optional<Result<AccessToken>> out;
  s.get_token(kScope, [&](Result<AccessToken> r) { out = std::move(r); });
  CHECK_FALSE(out.has_value());  // never inside get_token
  REQUIRE_MESSAGE(f.run_until([&] { return out.has_value(); }, deadline), "the CLI source hangs");
  return std::move(*out);
}

void close_source(LoopFixture& f, TokenSource& s) {
  bool done = false;
  dynamic_cast<LoopTokenSource&>(s).close([&] { done = true; });
  REQUIRE(f.run_until([&] { return done; }, 5s));
}

// Wakes the loop every few milliseconds so run_until notices conditions no loop event signals
// (a file the child process writes).
struct Ticker {
  uv_timer_t t;
  explicit Ticker(uv_loop_t* loop) {
    uv_timer_init(loop, &t);
    uv_timer_start(&t, [](uv_timer_t*) {}, 5, 5);
  }
  ~Ticker() { uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr); }
};

const char* kAzOk =
    R"(echo '{"accessToken":"az-token","expiresOn":"2030-01-01 00:00:00.000000","expires_on":1893456000,"subscription":"s","tenant":"t","tokenType":"Bearer"}')";
const char* kAzdOk = R"(echo '{"token":"azd-token","expiresOn":"2030-01-01T00:00:00Z"}')";

}  // namespace

TEST_CASE("az: token from `az account get-access-token`, run from / with the scope and tenant") {
  LoopFixture f;
  FakeTools tools;
  tools.tool("az", kAzOk);
  CliSource s(&f.loop, CliSource::Tool::kAz, tools.env(), std::string("contoso.onmicrosoft.com"), 2000ms);
  auto t = get(f, s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "az-token");
  CHECK(t->expires_on_ms == 1'893'456'000'000);
  CHECK(tools.read("az.cwd") == "/\n");
  CHECK(tools.read("az.args") == "account\nget-access-token\n--output\njson\n--scope\n" + kScope +
                                     "\n--tenant\ncontoso.onmicrosoft.com\n");
  close_source(f, s);
}

TEST_CASE("azd: token from `azd auth token --no-prompt`") {
  LoopFixture f;
  FakeTools tools;
  tools.tool("azd", kAzdOk);
  CliSource s(&f.loop, CliSource::Tool::kAzd, tools.env(), std::nullopt, 2000ms);
  auto t = get(f, s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "azd-token");
  CHECK(t->expires_on_ms == 1'893'456'000'000);
  CHECK(tools.read("azd.args") == "auth\ntoken\n--output\njson\n--no-prompt\n--scope\n" + kScope + "\n");
  close_source(f, s);
}

TEST_CASE("az: not logged in — the error quotes the tool's first line") {
  LoopFixture f;
  FakeTools tools;
  SUBCASE("stderr and a failing exit") {
    tools.tool("az", "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1");
    CliSource s(&f.loop, CliSource::Tool::kAz, tools.env(), std::nullopt, 2000ms);
    auto t = get(f, s);
    REQUIRE_FALSE(t);
    CHECK(t.error().message == "Azure CLI: 'az' failed (exit 1): ERROR: Please run 'az login' to setup account.");
    close_source(f, s);
  }
  SUBCASE("text on stdout and a zero exit") {
    tools.tool("az", "echo 'Please run az login to setup account.'");
    CliSource s(&f.loop, CliSource::Tool::kAz, tools.env(), std::nullopt, 2000ms);
    auto t = get(f, s);
    REQUIRE_FALSE(t);
    CHECK(t.error().message == "Azure CLI: 'az' printed no JSON: Please run az login to setup account.");
    close_source(f, s);
  }
}

TEST_CASE("az: a tool that hangs is killed at the timeout") {
  LoopFixture f;
  FakeTools tools;
  tools.tool("az", "sleep 30\necho '{}'");
  CliSource s(&f.loop, CliSource::Tool::kAz, tools.env(), std::nullopt, 300ms);
  const auto t0 = f.now_ms();
  auto t = get(f, s, 5s);
  REQUIRE_FALSE(t);
  CHECK(t.error().message == "Azure CLI: 'az' did not finish within 300 ms");
  CHECK(f.now_ms() - t0 < 3000);
  close_source(f, s);
}

TEST_CASE("az: not on PATH; hostile scope never reaches a command line") {
  LoopFixture f;
  FakeTools tools;
  CliSource s(&f.loop, CliSource::Tool::kAz, tools.env(), std::nullopt, 2000ms);
  auto t = get(f, s);
  REQUIRE_FALSE(t);
  CHECK(t.error().message == "Azure CLI: 'az' not found on PATH");
  tools.tool("az", kAzOk);
  std::optional<Result<AccessToken>> out;
  s.get_token("https://x/.default; touch /tmp/pwned", [&](Result<AccessToken> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, 5s));
  REQUIRE_FALSE(*out);
  CHECK(out->error().message.find("scope") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(tools.dir / "az.args"));  // never started
  close_source(f, s);
}

TEST_CASE("closing while a tool runs kills it and completes") {
  LoopFixture f;
  FakeTools tools;
  tools.tool("az", "sleep 30");
  CliSource s(&f.loop, CliSource::Tool::kAz, tools.env(), std::nullopt, 10000ms);
  bool called = false;
  s.get_token(kScope, [&](Result<AccessToken>) { called = true; });
  {
    Ticker tick(&f.loop);
    REQUIRE(f.run_until([&] { return std::filesystem::exists(tools.dir / "az.args"); }, 5s));
  }
  const auto t0 = f.now_ms();
  close_source(f, s);
  CHECK(f.now_ms() - t0 < 2000);
  CHECK_FALSE(called);
}

TEST_CASE("chain: off Azure, with az signed in, the Azure CLI wins") {
  LoopFixture f;
  FakeTools tools;
  tools.tool("az", kAzOk);
  tools.tool("azd", kAzdOk);
  EntraAuthOptions o;
  o.environment = tools.env();
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(duroxide::test::refused_port(&f.loop));
  o.imds_probe_timeout = 300ms;
  auto s = make_builtin_source(&f.loop, o);
  REQUIRE(s);
  auto t = get(f, **s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "az-token");
  CHECK_FALSE(std::filesystem::exists(tools.dir / "azd.args"));
  o.credential = EntraCredential::kAzureDeveloperCli;  // an explicit choice skips the rest
  auto only_azd = make_builtin_source(&f.loop, o);
  REQUIRE(only_azd);
  t = get(f, **only_azd);
  REQUIRE(t);
  CHECK(t->token == "azd-token");
  close_source(f, **s);
  close_source(f, **only_azd);
}
