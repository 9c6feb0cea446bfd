// Unit tests of the open options (c-api.md §3.2, §3.3): every key with a valid and an invalid value,
// unknown keys, DUROXIDE_PG_POOL_MAX, the Entra object.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "capi/options.h"

using namespace duroxide;
using namespace duroxide::capi;

namespace {
struct Parsed {
  OpenConfig config;
  std::optional<ProviderError> error;
};
Parsed parse(const char* json) {
  Reader r("open");
  Parsed p;
  p.config = parse_options(r, json);
  if (r.failed()) p.error = r.take_error();
  return p;
}
}  // namespace

TEST_CASE("defaults for NULL, null and {}") {
  ::unsetenv("DUROXIDE_PG_POOL_MAX");
  for (const char* j : {static_cast<const char*>(nullptr), "null", "{}", " { } "}) {
    Parsed p = parse(j);
    REQUIRE_FALSE(p.error);
    const auto& o = p.config.options;
    CHECK(o.pool_max == 10);
    CHECK(o.connect_timeout == Millis(10000));
    CHECK(o.acquire_timeout == Millis(30000));
    CHECK(o.statement_timeout == Millis(60000));
    CHECK(o.lock_timeout == Millis(10000));
    CHECK(o.idle_in_transaction_timeout == Millis(60000));
    CHECK(p.config.close_grace_ms == 2000);
    CHECK(o.application_name == "duroxide-pg");
    CHECK(o.notify_fallback_interval == Millis(1000));
    CHECK_FALSE(p.config.entra);
  }
}

TEST_CASE("every key accepted with a valid value") {
  Parsed p = parse(
      "{\"pool_max\":16,\"connect_timeout_ms\":5000,\"acquire_timeout_ms\":0,\"pg_statement_timeout_ms\":0,"
      "\"pg_lock_timeout_ms\":2147483647,\"pg_idle_in_transaction_timeout_ms\":1,\"close_grace_ms\":0,"
      "\"application_name\":\"orders-worker\",\"tuning\":{\"orphan_deferral_min_ms\":5,\"orphan_deferral_max_ms\":5,"
      "\"quarantine_base_ms\":1,\"quarantine_max_ms\":2147483647,\"notify_fallback_ms\":500}}");
  REQUIRE_FALSE(p.error);
  const auto& o = p.config.options;
  CHECK(o.pool_max == 16);
  CHECK(o.connect_timeout == Millis(5000));
  CHECK(o.acquire_timeout.count() > (int64_t{1} << 40));  // 0: no limit
  CHECK(o.statement_timeout == Millis(0));
  CHECK(o.lock_timeout == Millis(2147483647));
  CHECK(o.idle_in_transaction_timeout == Millis(1));
  CHECK(p.config.close_grace_ms == 0);
  CHECK(o.application_name == "orders-worker");
  CHECK(o.orphan_defer_min == Millis(5));
  CHECK(o.quarantine_max == Millis(2147483647));
  CHECK(o.notify_fallback_interval == Millis(500));
}

TEST_CASE("invalid values and unknown keys are rejected with QD008") {
  for (const char* j :
       {"{\"pool_max\":0}", "{\"pool_max\":1025}", "{\"pool_max\":\"4\"}", "{\"pool_max\":4.0}",
        "{\"connect_timeout_ms\":2147483648}", "{\"acquire_timeout_ms\":-1}", "{\"pg_statement_timeout_ms\":null1}",
        "{\"pg_lock_timeout_ms\":true}", "{\"pg_idle_in_transaction_timeout_ms\":1e3}", "{\"close_grace_ms\":[]}",
        "{\"application_name\":\"\"}", "{\"application_name\":\"x\\u0001\"}",
        "{\"application_name\":\"12345678901234567890123456789012345678901\"}", "{\"application_name\":\"\xC3\xA9\"}",
        "{\"tuning\":{\"orphan_deferral_min_ms\":0}}", "{\"tuning\":{\"quarantine_base_ms\":5,\"quarantine_max_ms\":4}}",
        "{\"tuning\":{\"orphan_deferral_min_ms\":70000}}", "{\"tuning\":{\"nope\":1}}", "{\"tuning\":1}",
        "{\"nope\":1}", "{\"pool_max\":1,\"pool_max\":2}", "[]", "1", "{"}) {
    CAPTURE(j);
    Parsed p = parse(j);
    REQUIRE(p.error);
    CHECK(p.error->sqlstate == "QD008");
    CHECK_FALSE(p.error->retryable);
    CHECK(p.error->message.starts_with("Invalid argument: options"));
  }
  CHECK(parse("{\"nope\":1}").error->message == "Invalid argument: options: unknown key \"nope\"");
  CHECK(parse("{\"pool_max\":0}").error->message.starts_with("Invalid argument: options.pool_max: "));
}

TEST_CASE("DUROXIDE_PG_POOL_MAX applies when pool_max is absent") {
  ::setenv("DUROXIDE_PG_POOL_MAX", "7", 1);
  CHECK(parse(nullptr).config.options.pool_max == 7);
  CHECK(parse("{\"pool_max\":3}").config.options.pool_max == 3);
  ::setenv("DUROXIDE_PG_POOL_MAX", "", 1);
  CHECK(parse(nullptr).config.options.pool_max == 10);
  for (const char* bad : {"0", "1025", "x", "-1", " 5", "5 ", "99999"}) {
    ::setenv("DUROXIDE_PG_POOL_MAX", bad, 1);
    CAPTURE(bad);
    Parsed p = parse(nullptr);
    REQUIRE(p.error);
    CHECK(p.error->message.starts_with("Invalid argument: DUROXIDE_PG_POOL_MAX: "));
  }
  ::unsetenv("DUROXIDE_PG_POOL_MAX");
}

TEST_CASE("entra options") {
  Parsed p = parse(
      "{\"entra\":{\"host\":\"pg.example\",\"port\":6432,\"database\":\"orders\",\"user\":\"app\","
      "\"audience\":\"https://ossrdbms-aad.database.usgovcloudapi.net/.default\",\"refresh_interval_ms\":30000,"
      "\"client_id\":\"c\",\"object_id\":null,\"resource_id\":null,\"tenant\":\"t\",\"credential\":\"managed_identity\","
      "\"ssl_root_cert\":\"/etc/ca.pem\"}}");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.config.entra);
  const auto& e = *p.config.entra;
  CHECK(e.target.host == "pg.example");
  CHECK(e.target.port == 6432);
  CHECK(e.target.database == "orders");
  CHECK(e.target.user == "app");
  CHECK(e.auth.audience == "https://ossrdbms-aad.database.usgovcloudapi.net/.default");
  CHECK(e.auth.refresh_interval == Millis(30000));
  CHECK(e.auth.client_id == std::string("c"));
  CHECK_FALSE(e.auth.object_id);
  CHECK(e.auth.tenant == std::string("t"));
  CHECK(e.auth.credential == pg::EntraCredential::kManagedIdentity);
  CHECK(e.auth.ssl_root_cert == std::string("/etc/ca.pem"));

  Parsed d = parse("{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\"}}");
  REQUIRE_FALSE(d.error);
  CHECK(d.config.entra->target.port == 5432);
  CHECK(d.config.entra->auth.audience == "https://ossrdbms-aad.database.windows.net/.default");
  CHECK(d.config.entra->auth.refresh_interval == Millis(1200000));
  CHECK(d.config.entra->auth.credential == pg::EntraCredential::kChain);
  for (const char* c : {"chain", "workload_identity", "managed_identity", "azure_cli", "azure_developer_cli"}) {
    std::string j = std::string("{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"credential\":\"") + c + "\"}}";
    CAPTURE(c);
    CHECK_FALSE(parse(j.c_str()).error);
  }

  for (const char* j : {"{\"entra\":{\"database\":\"d\",\"user\":\"u\"}}",
                        "{\"entra\":{\"host\":\"\",\"database\":\"d\",\"user\":\"u\"}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"port\":0}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"port\":65536}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"refresh_interval_ms\":29999}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"audience\":\"\"}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"credential\":\"other\"}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"client_id\":\"a\",\"object_id\":\"b\"}}",
                        "{\"entra\":{\"host\":\"h\\u0000\",\"database\":\"d\",\"user\":\"u\"}}",
                        "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\",\"password\":\"p\"}}",
                        "{\"entra\":\"h\"}"}) {
    CAPTURE(j);
    Parsed e2 = parse(j);
    REQUIRE(e2.error);
    CHECK(e2.error->sqlstate == "QD008");
    CHECK(e2.error->message.starts_with("Invalid argument: options.entra"));
  }
}
