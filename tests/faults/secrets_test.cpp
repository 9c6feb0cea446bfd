// Issue 8 §7, secrets: no error the provider reports repeats the password of its connection
// string — not when the server is unreachable, not when the password is wrong (the attempted
// password must not leak either; it is the real one plus a suffix, so either leak is caught),
// not when the string itself is malformed, not when a connection dies mid-query. Every other
// test in tests/faults/ also runs check_no_secret on each error it sees.
#include <doctest/doctest.h>

#include "faults/error_checks.h"
#include "faults/proxied_store.h"

using namespace duroxide;
using namespace duroxide::test;
using namespace duroxide::test::faults;

namespace {

// Creates a provider from `conninfo` and returns the creation error (REQUIREs a failure).
ProviderError creation_error(LoopFixture& f, const std::string& conninfo) {
  PostgresProviderOptions o;
  o.connect_timeout = 5s;
  o.acquire_timeout = 5s;
  std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
  PostgresProvider::create(&f.loop, conninfo, o, [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, 60s));
  if (*out) {  // unexpected, but close what was opened before failing the test
    bool closed = false;
    (**out)->close([&] { closed = true; });
    f.run_until([&] { return closed; });
    FAIL("the provider was created");
  }
  return out->error();
}

void check_clean(const ProviderError& e, const std::string& secret) {
  CAPTURE(e.to_string());
  CHECK(!e.message.empty());
  check_no_secret(e);
  const std::string all = e.operation + e.message + e.sqlstate;
  CHECK(all.find(secret) == std::string::npos);
}

// DATABASE_URL as a keyword string with one field replaced.
std::string with_field(const std::string& key, const std::string& value) {
  auto fields = conninfo_fields(database_url());
  fields[key] = value;
  return to_conninfo(fields);
}

}  // namespace

TEST_CASE("bad_input::no_password_in_connection_errors") {
  const std::string password = url_password(database_url());
  if (password.empty()) {
    MESSAGE("DATABASE_URL has no password: nothing to leak");
    return;
  }
  LoopFixture f;
  SUBCASE("wrong password") {
    const std::string attempted = password + "-not-it";
    ProviderError e = creation_error(f, with_field("password", attempted));
    check_clean(e, attempted);
    CHECK_FALSE(e.retryable);  // 28P01 with a static password is permanent (contract §9.1)
  }
  SUBCASE("nobody listening") {
    // The proxy's port once it is closed again: nothing listens there.
    std::string error;
    auto proxy = TcpProxy::start(&f.loop, url_server_address(database_url()), error);
    REQUIRE(proxy);
    const int port = proxy->port();
    bool closed = false;
    proxy->close([&] { closed = true; });
    REQUIRE(f.run_until([&] { return closed; }));
    proxy.reset();
    ProviderError e = creation_error(f, url_via_port(database_url(), port));
    check_clean(e, password);
    CHECK(e.retryable);
  }
  SUBCASE("malformed connection string") {
    const std::string text = database_url() + (database_url().find('?') == std::string::npos ? "?" : "&") +
                             "no_such_option=" + password;
    check_clean(creation_error(f, text), password);
    check_clean(creation_error(f, "host=127.0.0.1 password='" + password + "' port=notaport"), password);
    check_clean(creation_error(f, "host=127.0.0.1 password='" + password), password);  // unterminated quote
  }
}

TEST_CASE("bad_input::no_password_when_a_connection_dies_mid_query") {
  LoopFixture f;
  ProxiedStore ps(f);
  REQUIRE(EO(ps.store, start_item("I")));
  ps.plan().arm({"dx_fetch_orch"}, CutPoint::kAfterCommit);
  auto r = await<std::optional<LockedOrchestration>>(f, [&](auto cb) {
    ps.via().fetch_orchestration_item(30s, 0ms, std::nullopt, std::move(cb));
  });
  REQUIRE(ps.plan().cut);
  check_retryable(r, "fetch_orchestration_item");
}
