// Request building (auth/identity_requests.h), the retry policy and the chain plan.
#include <doctest/doctest.h>

#include <algorithm>

#include "auth/chain_plan.h"
#include "auth/cli_command.h"
#include "auth/identity_requests.h"
#include "auth/retry_policy.h"

using namespace duroxide::pg;
using namespace duroxide::pg::auth;

namespace {
bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }
const std::string kScope = "https://ossrdbms-aad.database.windows.net/.default";
}  // namespace

TEST_CASE("resource from scope; url encoding") {
  CHECK(resource_from_scope(kScope) == "https://ossrdbms-aad.database.windows.net");
  CHECK(resource_from_scope("https://ossrdbms-aad.database.usgovcloudapi.net/.default") ==
        "https://ossrdbms-aad.database.usgovcloudapi.net");
  CHECK(resource_from_scope("api://x") == "api://x");
  CHECK(url_encode("a b/c:d~e") == "a%20b%2Fc%3Ad~e");
}

TEST_CASE("IMDS request: api-version, resource, Metadata header, user-assigned ids; probe has no header") {
  const std::string res = resource_from_scope(kScope);
  auto r = imds_request("http://169.254.169.254/", res, {});
  CHECK(r.method == "GET");
  CHECK(r.url == "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                 "https%3A%2F%2Fossrdbms-aad.database.windows.net");
  CHECK(has(r.headers, "Metadata: true"));
  CHECK_FALSE(r.allow_proxy);
  CHECK(imds_request("http://h", res, {UserIdentity::Kind::kClientId, "cid"}).url.ends_with("&client_id=cid"));
  CHECK(imds_request("http://h", res, {UserIdentity::Kind::kObjectId, "oid"}).url.ends_with("&object_id=oid"));
  CHECK(imds_request("http://h", res, {UserIdentity::Kind::kResourceId, "/subs/x"}).url.ends_with("&msi_res_id=%2Fsubs%2Fx"));
  CHECK(imds_probe_request("http://h", res).headers.empty());
}

TEST_CASE("App Service request: IDENTITY_ENDPOINT, X-IDENTITY-HEADER, 2019-08-01, mi_res_id") {
  auto r = app_service_request("http://127.0.0.1:41000/msi/token", "hdr-secret", "https://r", {});
  CHECK(r.url == "http://127.0.0.1:41000/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fr");
  CHECK(has(r.headers, "X-IDENTITY-HEADER: hdr-secret"));
  CHECK(app_service_request("http://e", "h", "r", {UserIdentity::Kind::kResourceId, "rid"}).url.ends_with("&mi_res_id=rid"));
}

TEST_CASE("Arc: request, challenge path validation, Basic authorization") {
  auto r = arc_request("http://localhost:40342/metadata/identity/oauth2/token", "https://r");
  CHECK(r.url == "http://localhost:40342/metadata/identity/oauth2/token?api-version=2020-06-01&resource=https%3A%2F%2Fr");
  CHECK(has(r.headers, "Metadata: true"));
  CHECK(has(arc_request("http://e", "r", "abc").headers, "Authorization: Basic abc"));
  const std::string dir = "/var/opt/azcmagent/tokens";
  auto ok = arc_key_path("Basic realm=/var/opt/azcmagent/tokens/1234.key", dir);
  REQUIRE(ok);
  CHECK(*ok == "/var/opt/azcmagent/tokens/1234.key");
  CHECK_FALSE(arc_key_path("Bearer realm=/var/opt/azcmagent/tokens/1234.key", dir));
  CHECK_FALSE(arc_key_path("Basic realm=/etc/shadow", dir));
  CHECK_FALSE(arc_key_path("Basic realm=/var/opt/azcmagent/tokens/../../../etc/x.key", dir));
  CHECK_FALSE(arc_key_path("Basic realm=/var/opt/azcmagent/tokens/sub/x.key", dir));
  CHECK_FALSE(arc_key_path("Basic realm=/var/opt/azcmagent/tokens/x.txt", dir));
  CHECK_FALSE(arc_key_path("Basic realm=/var/opt/azcmagent/tokens/.key", dir));
  CHECK_FALSE(arc_key_path("Basic realm=/var/opt/azcmagent/tokensX/x.key", dir));
}

TEST_CASE("workload identity request: POST form with the federated token as JWT-bearer assertion") {
  auto r = workload_identity_request("https://login.microsoftonline.com/", "tenant-1", "client-1", "fed.jwt.tok", kScope);
  CHECK(r.method == "POST");
  CHECK(r.url == "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token");
  CHECK(r.allow_proxy);
  CHECK(has(r.headers, "Content-Type: application/x-www-form-urlencoded"));
  CHECK(r.body == "client_id=client-1&scope=https%3A%2F%2Fossrdbms-aad.database.windows.net%2F.default"
                  "&grant_type=client_credentials"
                  "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
                  "&client_assertion=fed.jwt.tok");
}

TEST_CASE("user-assigned identity: at most one selector") {
  CHECK(select_identity(std::nullopt, std::nullopt, std::nullopt)->kind == UserIdentity::Kind::kNone);
  CHECK(select_identity("c", std::nullopt, std::nullopt)->kind == UserIdentity::Kind::kClientId);
  CHECK_FALSE(select_identity("c", "o", std::nullopt));
}

TEST_CASE("retry policy: IMDS guidance") {
  for (long s : {200L, 201L}) CHECK(classify_http_status(s) == HttpVerdict::kSuccess);
  for (long s : {404L, 408L, 410L, 429L, 500L, 502L, 503L, 504L, 599L}) CHECK(classify_http_status(s) == HttpVerdict::kRetry);
  for (long s : {400L, 401L, 403L, 405L, 409L, 300L, 0L}) CHECK(classify_http_status(s) == HttpVerdict::kFinal);
  for (int attempt = 1; attempt < 12; ++attempt) {
    std::int64_t c = 800;
    for (int i = 1; i < attempt && c < 30'000; ++i) c *= 2;
    c = std::min<std::int64_t>(c, 30'000);
    for (std::uint64_t r : {0ull, 3ull, 999'999ull, ~0ull}) {
      auto d = http_retry_delay_ms(attempt, r, 800);
      CHECK(d >= c / 2);
      CHECK(d <= c);
    }
  }
  CHECK(should_retry(std::nullopt, 1, 3, 0));   // no answer: retried
  CHECK(should_retry(503L, 3, 3, 0));
  CHECK_FALSE(should_retry(503L, 4, 3, 0));     // bounded
  CHECK_FALSE(should_retry(std::nullopt, 4, 3, 0));
  CHECK_FALSE(should_retry(400L, 1, 3, 0));     // final
  CHECK_FALSE(should_retry(200L, 1, 3, 0));
  CHECK(should_retry(410L, 9, 3, 69'999));      // IMDS update: at least 70 s
  CHECK_FALSE(should_retry(410L, 9, 3, 70'000));
  CHECK(http_retry_delay_ms(1, 0, 800, 5) == 5000);     // Retry-After honoured
  CHECK(http_retry_delay_ms(1, 0, 800, 3600) == 60000); // but bounded
}

TEST_CASE("chain plan: order and environment detection") {
  Environment none;
  auto p = plan_sources(EntraCredential::kChain, none);
  CHECK(p.sources == std::vector<SourceKind>{SourceKind::kManagedIdentity, SourceKind::kAzureCli, SourceKind::kAzureDeveloperCli});
  REQUIRE(p.skipped.size() == 1);
  CHECK(p.skipped[0].find("AZURE_FEDERATED_TOKEN_FILE") != std::string::npos);
  Environment wi{{"AZURE_FEDERATED_TOKEN_FILE", "/var/run/t"}, {"AZURE_CLIENT_ID", "c"}, {"AZURE_TENANT_ID", "t"}};
  p = plan_sources(EntraCredential::kChain, wi);
  CHECK(p.sources == std::vector<SourceKind>{SourceKind::kWorkloadIdentity, SourceKind::kManagedIdentity,
                                             SourceKind::kAzureCli, SourceKind::kAzureDeveloperCli});
  CHECK(p.skipped.empty());
  wi["AZURE_TENANT_ID"] = "";  // set but empty counts as unset
  CHECK(plan_sources(EntraCredential::kChain, wi).sources.size() == 3);
  CHECK(plan_sources(EntraCredential::kAzureCli, wi).sources == std::vector<SourceKind>{SourceKind::kAzureCli});
  CHECK(detect_managed_identity({}) == ManagedKind::kImds);
  CHECK(detect_managed_identity({{"IDENTITY_ENDPOINT", "http://e"}, {"IDENTITY_HEADER", "h"}}) == ManagedKind::kAppService);
  CHECK(detect_managed_identity({{"IDENTITY_ENDPOINT", "http://e"}, {"IMDS_ENDPOINT", "http://i"}}) == ManagedKind::kArc);
  CHECK(detect_managed_identity({{"IDENTITY_ENDPOINT", "http://e"}}) == ManagedKind::kImds);
}

TEST_CASE("workload identity config: options win over environment; authority default; tenant checked") {
  Environment env{{"AZURE_FEDERATED_TOKEN_FILE", "/t"}, {"AZURE_CLIENT_ID", "env-c"}, {"AZURE_TENANT_ID", "env-t"}};
  EntraAuthOptions o;
  auto c = workload_identity_config(env, o);
  REQUIRE(c);
  CHECK(c->client_id == "env-c");
  CHECK(c->tenant == "env-t");
  CHECK(c->authority == "https://login.microsoftonline.com/");
  o.client_id = "opt-c";
  o.tenant = "opt-t";
  env["AZURE_AUTHORITY_HOST"] = "https://login.microsoftonline.us/";
  c = workload_identity_config(env, o);
  REQUIRE(c);
  CHECK(c->client_id == "opt-c");
  CHECK(c->tenant == "opt-t");
  CHECK(c->authority == "https://login.microsoftonline.us/");
  o.tenant = "bad/tenant";
  CHECK_FALSE(workload_identity_config(env, o));
  CHECK_FALSE(workload_identity_config({}, {}));
}

TEST_CASE("CLI command lines: az and azd, scope and tenant validated") {
  auto az = az_command(kScope, std::nullopt);
  REQUIRE(az);
  CHECK(az->program == "az");
  CHECK(az->args == std::vector<std::string>{"account", "get-access-token", "--output", "json", "--scope", kScope});
  az = az_command(kScope, std::string("contoso.onmicrosoft.com"));
  REQUIRE(az);
  CHECK(az->args.back() == "contoso.onmicrosoft.com");
  auto azd = azd_command(kScope, std::string("t-1"));
  REQUIRE(azd);
  CHECK(azd->args == std::vector<std::string>{"auth", "token", "--output", "json", "--no-prompt", "--scope", kScope,
                                              "--tenant-id", "t-1"});
  CHECK_FALSE(az_command("https://x/.default; rm -rf /", std::nullopt));
  CHECK_FALSE(az_command("--help", std::nullopt));
  CHECK_FALSE(az_command(kScope, std::string("t$(reboot)")));
  CHECK_FALSE(azd_command("a b", std::nullopt));
}

TEST_CASE("CLI outcomes: token, not logged in, non-JSON, timeout, not started") {
  CliCommand az = *az_command(kScope, std::nullopt);
  const std::int64_t now = 1'700'000'000'000;
  CliOutcome ok;
  ok.out = R"({"accessToken":"cli-tok","expires_on":1700003600,"tokenType":"Bearer"})";
  auto t = interpret_cli(az, ok, now, 13000);
  REQUIRE(t);
  CHECK(t->token == "cli-tok");
  CliOutcome nologin;
  nologin.exit_status = 1;
  nologin.err = "ERROR: Please run 'az login' to setup account.\n";
  auto e = interpret_cli(az, nologin, now, 13000);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == "Azure CLI: 'az' failed (exit 1): ERROR: Please run 'az login' to setup account.");
  CliOutcome text;
  text.out = "Please run az login\n";
  e = interpret_cli(az, text, now, 13000);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == "Azure CLI: 'az' printed no JSON: Please run az login");
  CliOutcome slow;
  slow.timed_out = true;
  e = interpret_cli(az, slow, now, 13000);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("did not finish within 13000 ms") != std::string::npos);
  CliOutcome broken;
  broken.out = R"({"accessToken":"cli-secret-tok","expires_on":"never"})";
  e = interpret_cli(az, broken, now, 13000);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("cli-secret-tok") == std::string::npos);
}
