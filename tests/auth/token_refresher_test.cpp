// TokenRefresher (auth/token_refresher.h) on a real libuv loop with a scripted token source.
#include <doctest/doctest.h>

#include <optional>

#include "auth/fake_token_source.h"
#include "auth/token_refresher.h"
#include "duroxide/pg/postgres_provider.h"
#include "support/loop_fixture.h"

using namespace duroxide;
using namespace duroxide::pg;
using duroxide::test::FakeTokenSource;
using duroxide::test::LoopFixture;

namespace {

auth::TokenRefresher::Config fast_config() {
  auth::TokenRefresher::Config c;
  c.scope = "https://ossrdbms-aad.database.windows.net/.default";
  c.policy.floor_ms = 20;
  c.policy.ceiling_ms = 60;
  c.policy.retry_base_ms = 10;
  c.policy.retry_cap_ms = 40;
  return c;
}

struct Harness {
  LoopFixture& f;
  std::shared_ptr<FakeTokenSource> src;
  std::shared_ptr<auth::TokenRefresher> r;
  explicit Harness(LoopFixture& fx, auth::TokenRefresher::Config c = fast_config())
      : f(fx), src(std::make_shared<FakeTokenSource>(&fx.loop)), r(auth::TokenRefresher::create(&fx.loop, src, std::move(c))) {}
  ~Harness() {
    bool done = false;
    r->shutdown([&] { done = true; });
    CHECK(f.run_until([&] { return done; }, std::chrono::seconds(5)));
  }
  Result<void> start() {
    std::optional<Result<void>> out;
    r->start([&](Result<void> v) { out = v; });
    REQUIRE(f.run_until([&] { return out.has_value(); }, std::chrono::seconds(5)));
    return *out;
  }
  Result<std::string> credential() {
    std::optional<Result<std::string>> out;
    r->credential([&](Result<std::string> v) { out = std::move(v); });
    REQUIRE(f.run_until([&] { return out.has_value(); }, std::chrono::seconds(5)));
    return *out;
  }
};

}  // namespace

TEST_CASE("refresher: first token, served to connections, asked with the audience scope") {
  LoopFixture f;
  Harness h(f);
  h.src->script.push_back(FakeTokenSource::token("tok-1"));
  REQUIRE(h.start());
  CHECK(h.src->last_scope == "https://ossrdbms-aad.database.windows.net/.default");
  auto c = h.credential();
  REQUIRE(c);
  CHECK(*c == "tok-1");
  CHECK(h.src->calls == 1);
}

TEST_CASE("refresher: renews in the background on schedule") {
  LoopFixture f;
  Harness h(f);
  h.src->script.push_back(FakeTokenSource::token("tok-1"));
  h.src->fallback = FakeTokenSource::token("tok-2");
  REQUIRE(h.start());
  REQUIRE(f.run_until([&] { return h.src->calls >= 3; }, std::chrono::seconds(5)));
  CHECK(*h.credential() == "tok-2");
}

TEST_CASE("refresher: a failing refresh keeps serving the old token and retries with backoff") {
  LoopFixture f;
  Harness h(f);
  h.src->script.push_back(FakeTokenSource::token("tok-1"));
  h.src->fallback = std::unexpected(retryable_error("fake", "endpoint down"));
  REQUIRE(h.start());
  REQUIRE(f.run_until([&] { return h.src->calls >= 4; }, std::chrono::seconds(5)));
  auto c = h.credential();
  REQUIRE(c);
  CHECK(*c == "tok-1");
}

TEST_CASE("refresher: first acquisition failure is reported") {
  LoopFixture f;
  Harness h(f);
  h.src->fallback = std::unexpected(permanent_error("fake", "no identity here"));
  auto r = h.start();
  REQUIRE_FALSE(r);
  CHECK(r.error().retryable);  // a token source failure may clear up later
  CHECK(r.error().message.find("no identity here") != std::string::npos);
}

TEST_CASE("refresher: an expired token is not served; the error names the cause, not the token") {
  LoopFixture f;
  auto c = fast_config();
  c.policy.floor_ms = 60'000;  // no scheduled refresh during the test
  c.policy.ceiling_ms = 60'000;
  c.policy.retry_base_ms = 60'000;
  c.policy.retry_cap_ms = 60'000;
  Harness h(f, c);
  h.src->script.push_back(FakeTokenSource::token("secret-token-xyz", -1000));  // already expired
  h.src->fallback = std::unexpected(retryable_error("fake", "IMDS unreachable"));
  REQUIRE(h.start());
  auto r = h.credential();
  REQUIRE_FALSE(r);
  CHECK(r.error().retryable);
  CHECK(r.error().message.find("IMDS unreachable") != std::string::npos);
  CHECK(r.error().message.find("secret-token-xyz") == std::string::npos);
}

TEST_CASE("refresher: a refused login refreshes at once, once per token, and waiters get the new one") {
  LoopFixture f;
  auto c = fast_config();
  c.policy.floor_ms = 60'000;
  c.policy.ceiling_ms = 60'000;
  Harness h(f, c);
  h.src->script.push_back(FakeTokenSource::token("tok-1"));
  h.src->fallback = FakeTokenSource::token("tok-2");
  REQUIRE(h.start());
  CHECK(h.src->calls == 1);
  h.r->auth_failed("some-older-token");  // stale: ignored
  CHECK(h.src->calls == 1);
  h.src->hold = true;
  h.r->auth_failed("tok-1");
  CHECK(h.src->calls == 2);
  h.r->auth_failed("tok-1");  // single flight
  CHECK(h.src->calls == 2);
  std::optional<Result<std::string>> waiting;
  h.r->credential([&](Result<std::string> v) { waiting = std::move(v); });
  REQUIRE(f.run_until([&] { return static_cast<bool>(h.src->held); }, std::chrono::seconds(5)));
  CHECK_FALSE(waiting.has_value());  // waits for the forced refresh instead of the refused token
  h.src->hold = false;
  h.src->release();
  REQUIRE(waiting.has_value());
  REQUIRE(*waiting);
  CHECK(**waiting == "tok-2");
  h.r->auth_failed("tok-1");  // stale now
  CHECK(h.src->calls == 2);
  h.r->auth_failed("tok-2");  // the new token refused too: one more refresh
  CHECK(h.src->calls == 3);
}

TEST_CASE("refresher: shutdown cancels an outstanding request and fails waiters, later") {
  LoopFixture f;
  auto src = std::make_shared<FakeTokenSource>(&f.loop);
  auto r = auth::TokenRefresher::create(&f.loop, src, fast_config());
  src->hold = true;
  src->script.push_back(FakeTokenSource::token("tok-1"));
  std::optional<Result<void>> started;
  r->start([&](Result<void> v) { started = v; });
  std::optional<Result<std::string>> waiter;
  r->credential([&](Result<std::string> v) { waiter = std::move(v); });
  REQUIRE(f.run_until([&] { return static_cast<bool>(src->held); }, std::chrono::seconds(5)));
  bool done = false;
  r->shutdown([&] { done = true; });
  CHECK_FALSE(done);
  CHECK(src->cancels == 1);
  REQUIRE(started.has_value());
  CHECK_FALSE(*started);
  REQUIRE(waiter.has_value());
  CHECK_FALSE(*waiter);
  src->release();  // a late answer is ignored
  REQUIRE(f.run_until([&] { return done; }, std::chrono::seconds(5)));
}

TEST_CASE("create_entra: no token means a retryable error on a later loop turn, token never shown") {
  LoopFixture f;
  auto src = std::make_shared<FakeTokenSource>(&f.loop);
  src->fallback = std::unexpected(retryable_error("fake", "managed identity: IMDS did not answer"));
  EntraAuthOptions a;
  a.token_source = src;
  std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
  bool inside = true;
  bool called_inside = false;
  PostgresProvider::create_entra(&f.loop, EntraTarget{"localhost", 5432, "db", "me"}, a, {},
                                 [&](Result<std::unique_ptr<PostgresProvider>> r) {
                                   called_inside = inside;
                                   out = std::move(r);
                                 });
  inside = false;
  REQUIRE(f.run_until([&] { return out.has_value(); }, std::chrono::seconds(5)));
  CHECK_FALSE(called_inside);
  REQUIRE_FALSE(*out);
  CHECK(out->error().retryable);
  CHECK(out->error().message.find("IMDS did not answer") != std::string::npos);
}

TEST_CASE("create_entra: an invalid target fails permanently on a later loop turn") {
  LoopFixture f;
  EntraAuthOptions a;
  a.token_source = std::make_shared<FakeTokenSource>(&f.loop);
  std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
  PostgresProvider::create_entra(&f.loop, EntraTarget{"", 5432, "db", "me"}, a, {},
                                 [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
  CHECK_FALSE(out.has_value());
  REQUIRE(f.run_until([&] { return out.has_value(); }, std::chrono::seconds(5)));
  REQUIRE_FALSE(*out);
  CHECK_FALSE(out->error().retryable);
}
