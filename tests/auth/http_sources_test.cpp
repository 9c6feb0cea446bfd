// The HTTP token sources with real libcurl (multi-socket on the test's libuv loop) against fake
// identity endpoints served on loopback by the test itself (tests/auth/fake_http_server.h).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "auth/builtin_source.h"
#include "auth/fake_http_server.h"
#include "auth/fake_token_source.h"
#include "auth/http_sources.h"
#include "duroxide/pg/postgres_provider.h"
#include "support/loop_fixture.h"

using namespace duroxide;
using namespace duroxide::pg;
using namespace duroxide::pg::auth;
using namespace std::chrono_literals;
using duroxide::test::FakeHttpServer;
using duroxide::test::FakeReply;
using duroxide::test::FakeRequest;
using duroxide::test::LoopFixture;

namespace {

const std::string kScope = "https://ossrdbms-aad.database.windows.net/.default";

std::string token_json(const std::string& token) {
  const auto exp = (duroxide::test::epoch_ms() / 1000) + 3600;
  return R"({"access_token":")" + token + R"(","expires_on":")" + std::to_string(exp) +
         R"(","expires_in":"3599","resource":"https://ossrdbms-aad.database.windows.net","token_type":"Bearer"})";
}

EntraAuthOptions fast(Environment env) {
  EntraAuthOptions o;
  o.environment = std::move(env);
  o.http_timeout = 2000ms;
  o.imds_probe_timeout = 300ms;
  o.retry_delay = 5ms;
  o.max_retries = 3;
  o.cli_timeout = 2000ms;
  return o;
}

Result<AccessToken> get(LoopFixture& f, TokenSource& s, std::chrono::milliseconds deadline = 10s) {
  std::optional<Result<AccessToken>> out;
  bool inside = true, called_inside = false;
  s.get_token(kScope, [&](Result<AccessToken> r) {
    called_inside = inside;
    out = std::move(r);
  });
  inside = false;
  REQUIRE_MESSAGE(f.run_until([&] { return out.has_value(); }, deadline), "get_token did not complete: it hangs");
  CHECK_FALSE(called_inside);
  return std::move(*out);
}

void close_source(LoopFixture& f, TokenSource& s) {
  auto* c = dynamic_cast<LoopTokenSource*>(&s);
  REQUIRE(c);
  bool done = false;
  c->close([&] { done = true; });
  REQUIRE(f.run_until([&] { return done; }, 5s));
}

std::shared_ptr<ManagedIdentitySource> imds(LoopFixture& f, FakeHttpServer& srv, EntraAuthOptions o = fast({}),
                                            bool probe = false) {
  o.imds_endpoint = srv.base();
  auto s = ManagedIdentitySource::create(&f.loop, *o.environment, o, probe);
  REQUIRE(s);
  return *s;
}

// IMDS answers 400 without the Metadata header (that is what the probe relies on).
FakeReply imds_like(const FakeRequest& r, FakeReply token_reply) {
  if (!r.has_header("metadata")) return FakeReply{400, R"({"error":"invalid_request","error_description":"Required metadata header not specified"})"};
  return token_reply;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/duroxide-auth-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) {
    std::ofstream(path / name) << content;
    return (path / name).string();
  }
};

}  // namespace

TEST_CASE("IMDS: probe, then the token request with Metadata header, resource and client id") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  srv.handler = [](const FakeRequest& r) { return imds_like(r, FakeReply{200, token_json("imds-token")}); };
  auto o = fast({});
  o.client_id = "11111111-2222";
  auto s = imds(f, srv, o, /*probe=*/true);
  auto t = get(f, *s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "imds-token");
  CHECK(t->expires_on_ms > duroxide::test::epoch_ms() + 3500'000);
  REQUIRE(srv.requests.size() == 2);
  CHECK_FALSE(srv.requests[0].has_header("metadata"));  // the probe
  const FakeRequest& r = srv.requests[1];
  CHECK(r.method == "GET");
  CHECK(r.header("metadata") == "true");
  CHECK(r.target == "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                    "https%3A%2F%2Fossrdbms-aad.database.windows.net&client_id=11111111-2222");
  // Later requests skip the probe.
  REQUIRE(get(f, *s));
  CHECK(srv.requests.size() == 3);
  close_source(f, *s);
}

TEST_CASE("IMDS: 5xx, 429 and 410 are retried with backoff, then success") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  std::vector<int> statuses;
  SUBCASE("500") { statuses = {500, 503}; }
  SUBCASE("429") { statuses = {429}; }
  SUBCASE("410") { statuses = {410, 410}; }
  SUBCASE("404") { statuses = {404}; }
  size_t n = 0;
  srv.handler = [&](const FakeRequest&) {
    // Retry-After: 0 is honoured as "no extra wait" (the backoff still applies).
    if (n < statuses.size()) return FakeReply{statuses[n++], R"({"error":"busy"})", {"Retry-After: 0"}};
    return FakeReply{200, token_json("after-retry")};
  };
  auto s = imds(f, srv);
  auto t = get(f, *s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "after-retry");
  CHECK(srv.requests.size() == statuses.size() + 1);
  close_source(f, *s);
}

TEST_CASE("IMDS: a 429 with Retry-After waits that long") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  int n = 0;
  srv.handler = [&](const FakeRequest&) {
    if (n++ == 0) return FakeReply{429, R"({"error":"throttled"})", {"Retry-After: 1"}};
    return FakeReply{200, token_json("patient")};
  };
  auto s = imds(f, srv);
  const auto t0 = f.now_ms();
  auto t = get(f, *s);
  REQUIRE(t);
  CHECK(f.now_ms() - t0 >= 900);
  close_source(f, *s);
}

TEST_CASE("IMDS: retries are bounded; other 4xx are final at once") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  SUBCASE("503 forever") {
    srv.handler = [](const FakeRequest&) { return FakeReply{503, R"({"error":"unavailable","error_description":"try later"})"}; };
    auto s = imds(f, srv);
    auto t = get(f, *s);
    REQUIRE_FALSE(t);
    MESSAGE(t.error().to_string());
    CHECK(t.error().message.find("HTTP 503") != std::string::npos);
    CHECK(t.error().message.find("try later") != std::string::npos);
    CHECK(t.error().message.find("after 4 attempts") != std::string::npos);
    CHECK(srv.requests.size() == 4);
    close_source(f, *s);
  }
  SUBCASE("400") {
    srv.handler = [](const FakeRequest&) {
      return FakeReply{400, R"({"error":"invalid_request","error_description":"Identity not found"})"};
    };
    auto s = imds(f, srv);
    auto t = get(f, *s);
    REQUIRE_FALSE(t);
    MESSAGE(t.error().to_string());
    CHECK(t.error().message == "managed identity (IMDS): HTTP 400: invalid_request: Identity not found");
    CHECK(srv.requests.size() == 1);
    close_source(f, *s);
  }
}

TEST_CASE("IMDS: malformed JSON is a clear error that does not quote the reply") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  srv.handler = [](const FakeRequest&) { return FakeReply{200, R"({"access_token":"leaky-secret","expires_on":)"}; };
  auto s = imds(f, srv);
  auto t = get(f, *s);
  REQUIRE_FALSE(t);
  CHECK(t.error().message == "managed identity (IMDS): the token reply is not valid JSON");
  CHECK(t.error().message.find("leaky-secret") == std::string::npos);
  close_source(f, *s);
}

TEST_CASE("IMDS: a reply slower than the timeout fails in time, and so does a black-holed probe") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  srv.handler = [](const FakeRequest& r) {
    FakeReply slow{200, token_json("too-late")};
    slow.delay_ms = 5000;
    return r.has_header("metadata") ? slow : FakeReply{400, "{}", {}, 5000};
  };
  SUBCASE("token request timeout") {
    auto o = fast({});
    o.http_timeout = 200ms;
    o.max_retries = 1;
    auto s = imds(f, srv, o);
    const auto t0 = f.now_ms();
    auto t = get(f, *s, 4s);
    REQUIRE_FALSE(t);
    MESSAGE(t.error().to_string());
    CHECK(t.error().message.find("timed out") != std::string::npos);
    CHECK(f.now_ms() - t0 < 2000);
    close_source(f, *s);
  }
  SUBCASE("probe timeout") {
    auto s = imds(f, srv, fast({}), /*probe=*/true);
    const auto t0 = f.now_ms();
    auto t = get(f, *s, 4s);
    REQUIRE_FALSE(t);
    MESSAGE(t.error().to_string());
    CHECK(t.error().message.find("no answer from " + srv.base() + " within 300 ms") != std::string::npos);
    CHECK(f.now_ms() - t0 < 1500);
    CHECK(srv.requests.size() == 1);  // no retries of the probe
    close_source(f, *s);
  }
}

TEST_CASE("IMDS: connection refused fails fast with a clear error") {
  LoopFixture f;
  auto o = fast({});
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(duroxide::test::refused_port(&f.loop));
  auto s = ManagedIdentitySource::create(&f.loop, {}, o, true);
  REQUIRE(s);
  auto t = get(f, **s, 4s);
  REQUIRE_FALSE(t);
  MESSAGE(t.error().to_string());
  CHECK(t.error().message.find("no answer from " + o.imds_endpoint) != std::string::npos);
  CHECK(t.error().retryable);
  close_source(f, **s);
}

TEST_CASE("App Service: IDENTITY_ENDPOINT with X-IDENTITY-HEADER and api-version 2019-08-01") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  srv.handler = [](const FakeRequest& r) {
    if (r.header("x-identity-header") != "hdr-secret") return FakeReply{401, R"({"error":"no header"})"};
    const auto exp = std::to_string(duroxide::test::epoch_ms() / 1000 + 86400);
    return FakeReply{200, R"({"access_token":"app-token","expires_on":")" + exp + R"(","resource":"r","token_type":"Bearer","client_id":"c"})"};
  };
  Environment env{{"IDENTITY_ENDPOINT", srv.base() + "/msi/token"}, {"IDENTITY_HEADER", "hdr-secret"}};
  auto o = fast(env);
  o.resource_id = "/subscriptions/s/rg/x";
  auto s = ManagedIdentitySource::create(&f.loop, env, o, true);
  REQUIRE(s);
  auto t = get(f, **s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "app-token");
  REQUIRE(srv.requests.size() == 1);  // no IMDS probe for App Service
  CHECK(srv.requests[0].target == "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fossrdbms-aad.database.windows.net"
                                  "&mi_res_id=%2Fsubscriptions%2Fs%2Frg%2Fx");
  close_source(f, **s);
}

TEST_CASE("Azure Arc: 401 challenge with a key file, then Basic authorization") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  TempDir dir;
  const std::string key = dir.write("agent.key", "arc-key-secret\n");
  std::string realm = key;
  SUBCASE("valid key file") {}
  SUBCASE("key file outside the allowed folder") { realm = "/etc/passwd"; }
  srv.handler = [&](const FakeRequest& r) {
    if (!r.has_header("authorization"))
      return FakeReply{401, R"({"error":"unauthorized"})", {"WWW-Authenticate: Basic realm=" + realm}};
    if (r.header("authorization") != "Basic arc-key-secret") return FakeReply{401, R"({"error":"bad key"})"};
    return FakeReply{200, token_json("arc-token")};
  };
  Environment env{{"IDENTITY_ENDPOINT", srv.base() + "/metadata/identity/oauth2/token"}, {"IMDS_ENDPOINT", srv.base()}};
  auto o = fast(env);
  o.arc_key_directory = dir.path.string();
  auto s = ManagedIdentitySource::create(&f.loop, env, o, true);
  REQUIRE(s);
  auto t = get(f, **s);
  if (realm == key) {
    REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
    CHECK(t->token == "arc-token");
    REQUIRE(srv.requests.size() == 2);
    CHECK(srv.requests[0].target.find("api-version=2020-06-01") != std::string::npos);
    CHECK(srv.requests[0].header("metadata") == "true");
  } else {
    REQUIRE_FALSE(t);
    MESSAGE(t.error().to_string());
    CHECK(t.error().message.find("not in " + dir.path.string()) != std::string::npos);
    CHECK(srv.requests.size() == 1);  // nothing was read or sent
  }
  close_source(f, **s);
}

TEST_CASE("workload identity: federated token as client assertion, re-read when rotated") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  TempDir dir;
  const std::string file = dir.write("token", "federated-jwt-1");
  srv.handler = [](const FakeRequest& r) {
    if (r.method != "POST" || r.target != "/tenant-1/oauth2/v2.0/token") return FakeReply{404, "{}"};
    return FakeReply{200, R"({"token_type":"Bearer","expires_in":3599,"refresh_in":1800,"access_token":"wi-token"})"};
  };
  Environment env{{"AZURE_FEDERATED_TOKEN_FILE", file}, {"AZURE_CLIENT_ID", "client-1"}, {"AZURE_TENANT_ID", "tenant-1"},
                  {"AZURE_AUTHORITY_HOST", srv.base() + "/"}};
  auto s = WorkloadIdentitySource::create(&f.loop, env, fast(env));
  REQUIRE(s);
  auto t = get(f, **s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "wi-token");
  REQUIRE(t->refresh_at_ms);
  REQUIRE(srv.requests.size() == 1);
  CHECK(srv.requests[0].header("content-type") == "application/x-www-form-urlencoded");
  CHECK(srv.requests[0].body.find("client_assertion=federated-jwt-1") != std::string::npos);
  CHECK(srv.requests[0].body.find("client_id=client-1") != std::string::npos);
  CHECK(srv.requests[0].body.find("grant_type=client_credentials") != std::string::npos);
  dir.write("token", "federated-jwt-2");  // the kubelet rotated it
  REQUIRE(get(f, **s));
  REQUIRE(srv.requests.size() == 2);
  CHECK(srv.requests[1].body.find("client_assertion=federated-jwt-2") != std::string::npos);
  std::filesystem::remove(file);
  auto gone = get(f, **s);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().message.find("AZURE_FEDERATED_TOKEN_FILE") != std::string::npos);
  close_source(f, **s);
}

TEST_CASE("chain: every source fails; the error names each source and why") {
  LoopFixture f;
  TempDir empty_path;
  auto o = fast({{"PATH", empty_path.path.string()}});
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(duroxide::test::refused_port(&f.loop));
  auto s = make_builtin_source(&f.loop, o);
  REQUIRE(s);
  auto t = get(f, **s, 5s);
  REQUIRE_FALSE(t);
  MESSAGE(t.error().to_string());
  const std::string& m = t.error().message;
  CHECK(t.error().retryable);
  CHECK(m.find("workload identity: not configured") != std::string::npos);
  CHECK(m.find("managed identity (IMDS): no answer from") != std::string::npos);
  CHECK(m.find("Azure CLI: 'az' not found on PATH") != std::string::npos);
  CHECK(m.find("Azure Developer CLI: 'azd' not found on PATH") != std::string::npos);
  CHECK(m.find("workload identity") < m.find("managed identity"));
  CHECK(m.find("managed identity") < m.find("Azure CLI"));
  CHECK(m.find("Azure CLI") < m.find("Azure Developer CLI"));
  close_source(f, **s);
}

TEST_CASE("chain: managed identity wins and is used for later refreshes") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  int n = 0;
  srv.handler = [&](const FakeRequest& r) {
    if (!r.has_header("metadata")) return imds_like(r, {});
    return FakeReply{200, token_json("mi-" + std::to_string(++n))};
  };
  auto o = fast({});
  o.imds_endpoint = srv.base();
  auto s = make_builtin_source(&f.loop, o);
  REQUIRE(s);
  auto t = get(f, **s);
  REQUIRE_MESSAGE(t, (t ? "" : t.error().to_string()));
  CHECK(t->token == "mi-1");
  t = get(f, **s);
  REQUIRE(t);
  CHECK(t->token == "mi-2");
  close_source(f, **s);
}

TEST_CASE("create_entra with the chain and no identity: retryable error listing every source") {
  LoopFixture f;
  TempDir empty_path;
  auto o = fast({{"PATH", empty_path.path.string()}});
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(duroxide::test::refused_port(&f.loop));
  std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
  PostgresProvider::create_entra(&f.loop, EntraTarget{"localhost", 5432, "db", "me"}, o, {},
                                 [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, 10s));
  REQUIRE_FALSE(*out);
  MESSAGE(out->error().to_string());
  CHECK(out->error().retryable);
  CHECK(out->error().operation == "create_entra");
  CHECK(out->error().message.find("workload identity") != std::string::npos);
  CHECK(out->error().message.find("managed identity") != std::string::npos);
  CHECK(out->error().message.find("Azure CLI") != std::string::npos);
  CHECK(out->error().message.find("Azure Developer CLI") != std::string::npos);
}

TEST_CASE("closing a source with a request in flight abandons it cleanly") {
  LoopFixture f;
  FakeHttpServer srv(&f.loop);
  srv.handler = [](const FakeRequest&) { return FakeReply{200, token_json("never"), {}, 3000}; };
  auto s = imds(f, srv);
  bool called = false;
  s->get_token(kScope, [&](Result<AccessToken>) { called = true; });
  REQUIRE(f.run_until([&] { return !srv.requests.empty(); }, 5s));
  close_source(f, *s);
  CHECK_FALSE(called);
  srv.close();
}
