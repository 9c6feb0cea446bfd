// Live smoke test against a real Azure Database for PostgreSQL Flexible Server with Microsoft
// Entra ID (scripts/provision_entra_test_pg.sh makes one). Skipped unless
// DUROXIDE_PG_ENTRA_LIVE_TEST=1 and DUROXIDE_PG_ENTRA_TEST_HOST, _DB and _USER are set. The token
// comes from the default chain (on a laptop: `az login`). Optional: DUROXIDE_PG_ENTRA_TEST_AUDIENCE
// (sovereign clouds), DUROXIDE_PG_ENTRA_TEST_SSL_ROOT_CERT (default: the system CA bundle, which
// holds the roots Azure's server certificates chain to), DUROXIDE_PG_ENTRA_TEST_SCHEMA.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "duroxide/pg/postgres_provider.h"
#include "support/loop_fixture.h"

using namespace duroxide;
using namespace duroxide::pg;
using namespace std::chrono_literals;

namespace {
std::string env(const char* n) {
  const char* v = std::getenv(n);
  return v ? v : "";
}
}  // namespace

TEST_CASE("live: Entra token from the default chain, verify-full, migrations and a round trip") {
  if (env("DUROXIDE_PG_ENTRA_LIVE_TEST") != "1" || env("DUROXIDE_PG_ENTRA_TEST_HOST").empty() ||
      env("DUROXIDE_PG_ENTRA_TEST_DB").empty() || env("DUROXIDE_PG_ENTRA_TEST_USER").empty()) {
    MESSAGE("skipped: set DUROXIDE_PG_ENTRA_LIVE_TEST=1 and DUROXIDE_PG_ENTRA_TEST_HOST/_DB/_USER to run");
    return;
  }
  test::LoopFixture f;
  EntraTarget t{env("DUROXIDE_PG_ENTRA_TEST_HOST"), 5432, env("DUROXIDE_PG_ENTRA_TEST_DB"),
                env("DUROXIDE_PG_ENTRA_TEST_USER")};
  EntraAuthOptions a;
  if (!env("DUROXIDE_PG_ENTRA_TEST_AUDIENCE").empty()) a.audience = env("DUROXIDE_PG_ENTRA_TEST_AUDIENCE");
  if (!env("DUROXIDE_PG_ENTRA_TEST_SSL_ROOT_CERT").empty()) a.ssl_root_cert = env("DUROXIDE_PG_ENTRA_TEST_SSL_ROOT_CERT");
  else if (std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")) a.ssl_root_cert = "/etc/ssl/certs/ca-certificates.crt";
  const std::string schema = env("DUROXIDE_PG_ENTRA_TEST_SCHEMA").empty() ? "duroxide_live" : env("DUROXIDE_PG_ENTRA_TEST_SCHEMA");
  std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
  PostgresProvider::create_entra_with_schema(&f.loop, t, schema, a, {},
                                             [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, 120s));
  REQUIRE_MESSAGE(*out, (*out ? "" : out->error().to_string()));
  auto& p = **out;
  std::optional<Result<std::vector<std::string>>> listed;
  p->list_instances([&](Result<std::vector<std::string>> r) { listed = std::move(r); });
  REQUIRE(f.run_until([&] { return listed.has_value(); }, 60s));
  REQUIRE_MESSAGE(*listed, (*listed ? "" : listed->error().to_string()));
  bool closed = false;
  p->close([&] { closed = true; });
  REQUIRE(f.run_until([&] { return closed; }, 30s));
}
