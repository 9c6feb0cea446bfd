// Entra mode end to end against the throwaway PostgreSQL (scripts/with-postgres.sh), with an
// injected token source standing in for Microsoft Entra ID: a login role whose SCRAM password the
// test rotates to each new "token". The server has TLS with a test CA (DUROXIDE_PG_TEST_CA) and a
// certificate for DNS:localhost only, so these tests also prove verify-full.
#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <random>

#include "auth/fake_token_source.h"
#include "duroxide/pg/postgres_provider.h"
#include "support/pool_helpers.h"

using namespace duroxide;
using namespace duroxide::pg;
using namespace std::chrono_literals;
using duroxide::test::FakeTokenSource;
using duroxide::test::LoopFixture;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string rand_hex() {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// An admin pool on DATABASE_URL plus a fresh login role that the provider authenticates as.
struct Server {
  LoopFixture& f;
  std::unique_ptr<Pool> admin;
  std::string role = "entra_" + rand_hex().substr(0, 10);
  std::string schema = "entra_" + rand_hex().substr(0, 10);
  std::string ca = env("DUROXIDE_PG_TEST_CA");
  std::string host = env("DUROXIDE_PG_TLS_HOST");
  std::uint16_t port = static_cast<std::uint16_t>(std::atoi(env("DUROXIDE_PG_PORT").c_str()));

  explicit Server(LoopFixture& fx) : f(fx) {
    admin = test::make_pool(f, test::pool_options("entra-admin"));
    sql("CREATE ROLE " + role + " LOGIN PASSWORD 'initial-" + rand_hex() + "'");
    sql("GRANT CREATE, CONNECT ON DATABASE " + current_db() + " TO " + role);
  }
  ~Server() {
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role + "'");
    sql("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    sql("DROP OWNED BY " + role);
    sql("DROP ROLE IF EXISTS " + role);
    test::close_pool(f, admin);
  }
  std::string current_db() {
    auto r = test::run(f, *admin, "SELECT current_database()");
    REQUIRE(r);
    return std::string(r->get(0, 0));
  }
  Result<QueryResult> sql(std::string text) { return test::run(f, *admin, std::move(text)); }
  // The role's password becomes `token` (what Entra ID rotation looks like to the server).
  void rotate_to(const std::string& token) {
    auto r = sql("ALTER ROLE " + role + " PASSWORD '" + token + "'");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  }
  std::vector<std::string> backend_pids() {
    auto r = sql("SELECT pid::text FROM pg_stat_activity WHERE usename = '" + role + "' ORDER BY pid");
    REQUIRE(r);
    std::vector<std::string> out;
    for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->get(i, 0));
    return out;
  }
  EntraTarget target(std::string h = {}) const { return EntraTarget{h.empty() ? host : h, port, "duroxide", role}; }
};

Result<std::unique_ptr<PostgresProvider>> create(LoopFixture& f, const EntraTarget& t, std::string schema,
                                                 EntraAuthOptions a) {
  PostgresProviderOptions o;
  o.pool_max = 1;
  o.connect_timeout = 5000ms;
  o.acquire_timeout = 5000ms;
  std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
  PostgresProvider::create_entra_with_schema(&f.loop, t, std::move(schema), std::move(a), o,
                                             [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, 60s));
  return std::move(*out);
}

void close(LoopFixture& f, std::unique_ptr<PostgresProvider>& p) {
  bool done = false;
  p->close([&] { done = true; });
  REQUIRE(f.run_until([&] { return done; }, 30s));
  p.reset();
}

Result<std::vector<Event>> read(LoopFixture& f, PostgresProvider& p) {
  std::optional<Result<std::vector<Event>>> out;
  p.read("no-such-instance", [&](Result<std::vector<Event>> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, 30s));
  return std::move(*out);
}

bool have_tls() {
  if (!env("DUROXIDE_PG_TEST_CA").empty() && !env("DUROXIDE_PG_TLS_HOST").empty()) return true;
  MESSAGE("skipped: DUROXIDE_PG_TEST_CA / DUROXIDE_PG_TLS_HOST not set (run under scripts/with-postgres.sh)");
  return false;
}

}  // namespace

TEST_CASE("entra pipeline: migrations, token rotation, old connections, 28P01 triggers a refresh") {
  if (!have_tls()) return;
  LoopFixture f;
  Server s(f);
  auto src = std::make_shared<FakeTokenSource>(&f.loop);
  const std::string tok1 = "tok1-" + rand_hex() + rand_hex();
  const std::string tok2 = "tok2-" + rand_hex() + rand_hex();
  s.rotate_to(tok1);
  src->fallback = FakeTokenSource::token(tok1);
  EntraAuthOptions a;
  a.token_source = src;
  a.ssl_root_cert = s.ca;
  auto p = create(f, s.target(), s.schema, a);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().to_string()));
  CHECK(src->calls == 1);
  // Migrations ran through the Entra path: the role created and owns the schema.
  auto owner = s.sql("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = '" + s.schema + "'");
  REQUIRE(owner);
  REQUIRE(owner->rows() == 1);
  CHECK(owner->get(0, 0) == s.role);
  // Over TLS.
  auto tls = s.sql("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = '" +
                   s.role + "' AND ssl");
  REQUIRE(tls);
  CHECK(tls->get(0, 0) != "0");
  REQUIRE(read(f, **p));
  const auto before = s.backend_pids();
  REQUIRE(before.size() == 1);

  // Rotation: the server now wants tok2; the identity source will hand it out when asked.
  s.rotate_to(tok2);
  src->fallback = FakeTokenSource::token(tok2);
  // The established connection keeps working (the server checked the token only at login).
  REQUIRE(read(f, **p));
  CHECK(s.backend_pids() == before);
  CHECK(src->calls == 1);

  // Force a new connection: it logs in with the cached tok1 and is refused (28P01) — retryable —
  // which triggers an immediate refresh; the next connection uses tok2.
  s.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + s.role + "'");
  std::optional<ProviderError> refused;
  bool recovered = false;
  for (int attempt = 0; attempt < 20 && !recovered; ++attempt) {
    auto r = read(f, **p);
    if (r) {
      recovered = true;
      break;
    }
    CHECK(r.error().retryable);
    CHECK(r.error().message.find(tok1) == std::string::npos);
    CHECK(r.error().message.find(tok2) == std::string::npos);
    if (r.error().sqlstate == "28P01") refused = r.error();
    MESSAGE(r.error().to_string());
  }
  REQUIRE(refused.has_value());
  CHECK(refused->retryable);
  CHECK(recovered);
  CHECK(src->calls == 2);  // exactly one refresh, triggered by the refusal
  const auto after = s.backend_pids();
  REQUIRE(after.size() == 1);
  CHECK(after != before);

  // A long-polling fetch opens the LISTEN connection: it logs in through the same hook (tok2).
  std::optional<Result<std::optional<LockedWorkItem>>> fetched;
  (*p)->fetch_work_item(30s, 300ms, std::nullopt, TagFilter::DefaultOnly{},
                        [&](Result<std::optional<LockedWorkItem>> r) { fetched = std::move(r); });
  REQUIRE(f.run_until([&] { return fetched.has_value(); }, 30s));
  REQUIRE_MESSAGE(*fetched, (*fetched ? "" : fetched->error().to_string()));
  std::string listeners;
  for (int i = 0; i < 100 && listeners != "1"; ++i) {
    auto r = s.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + s.role +
                   "' AND application_name LIKE '%:listen'");
    REQUIRE(r);
    listeners = std::string(r->get(0, 0));
    if (listeners != "1") f.run_until([] { return false; }, 20ms);
  }
  CHECK(listeners == "1");
  CHECK(src->calls == 2);
  close(f, *p);
}

TEST_CASE("entra verify-full: right CA and host name connect; wrong host name and unknown CA are refused") {
  if (!have_tls()) return;
  LoopFixture f;
  Server s(f);
  auto src = std::make_shared<FakeTokenSource>(&f.loop);
  const std::string tok = "tok-" + rand_hex() + rand_hex();
  s.rotate_to(tok);
  src->fallback = FakeTokenSource::token(tok);
  EntraAuthOptions a;
  a.token_source = src;
  a.ssl_root_cert = s.ca;
  SUBCASE("right CA, host localhost") {
    auto p = create(f, s.target(), s.schema, a);
    REQUIRE_MESSAGE(p, (p ? "" : p.error().to_string()));
    close(f, *p);
  }
  SUBCASE("wrong host name (127.0.0.1 is not in the certificate)") {
    auto p = create(f, s.target("127.0.0.1"), s.schema, a);
    REQUIRE_FALSE(p);
    MESSAGE(p.error().to_string());
    CHECK(p.error().message.find("does not match host name") != std::string::npos);
    CHECK(p.error().message.find(tok) == std::string::npos);
  }
  SUBCASE("unknown CA") {
    a.ssl_root_cert = env("DUROXIDE_PG_TEST_OTHER_CA");
    auto p = create(f, s.target(), s.schema, a);
    REQUIRE_FALSE(p);
    MESSAGE(p.error().to_string());
    CHECK(p.error().message.find("certificate verify failed") != std::string::npos);
  }
  // Nothing stays logged in (a closed connection's backend may take a moment to exit).
  bool none = false;
  for (int i = 0; i < 100 && !none; ++i) {
    none = s.backend_pids().empty();
    if (!none) f.run_until([] { return false; }, 20ms);
  }
  CHECK(none);
}
