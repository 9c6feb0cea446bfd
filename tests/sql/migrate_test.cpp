// The migration runner against the real server: fresh schemas, re-runs, concurrent startups,
// tampered checksums, schema names, and cleanup.
#include <doctest/doctest.h>

#include <atomic>

#include "sql/migrate.h"
#include "sql/migrations.h"
#include "sql/schema_name.h"
#include "support/pool_helpers.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string fresh_schema(const char* prefix) {
  static std::atomic<int> n{0};
  return std::string(prefix) + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

Result<pg::MigrationReport> migrate(LoopFixture& f, pg::Pool& p, const std::string& schema) {
  std::optional<Result<pg::MigrationReport>> out;
  pg::migrate_schema(p, schema, 1700000000000, [&](Result<pg::MigrationReport> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }, std::chrono::seconds(60)));
  return std::move(*out);
}

void drop(LoopFixture& f, pg::Pool& p, const std::string& schema) {
  std::optional<Result<void>> out;
  pg::drop_schema_objects(p, schema, [&](Result<void> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }));
  REQUIRE(*out);
}

}  // namespace

TEST_CASE("schema names: validated before any SQL, quoted always") {
  using pg::validate_schema_name;
  CHECK(validate_schema_name("tenant_42"));
  CHECK(validate_schema_name("MySchema"));
  CHECK(validate_schema_name("_x"));
  CHECK(validate_schema_name(std::string(48, 'a')));
  for (std::string bad : {std::string(""), std::string(49, 'a'), std::string("9lives"),
                          std::string("has space"), std::string("quo\"te"), std::string("x; DROP TABLE y"),
                          std::string("pg_catalog"), std::string("PG_x"), std::string("bad\x01name"),
                          std::string("caf\xc3\xa9")}) {
    auto r = validate_schema_name(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().sqlstate == "QD008");
    CHECK_FALSE(r.error().retryable);
    CHECK(r.error().message.rfind("Invalid argument: schema:", 0) == 0);
    CHECK(r.error().message.find('\x01') == std::string::npos);
  }
  CHECK(pg::quote_identifier("My\"S") == "\"My\"\"S\"");
  CHECK(pg::advisory_key("migrate", "a") != pg::advisory_key("migrate", "A"));
}

TEST_CASE("migrations: fresh schema, then a no-op re-run") {
  LoopFixture f;
  auto pool = make_pool(f, pool_options());
  const std::string schema = fresh_schema("Mig");  // mixed case stays mixed case
  auto first = migrate(f, *pool, schema);
  REQUIRE_MESSAGE(first, (first ? "" : first.error().to_string()));
  CHECK(first->applied == pg::sql::kMigrationCount);
  CHECK(first->schema_version == pg::sql::kMigrationCount);
  auto second = migrate(f, *pool, schema);
  REQUIRE(second);
  CHECK(second->applied == 0);
  auto rows = run(f, *pool, "SELECT count(*), min(applied_at) FROM " + pg::quote_identifier(schema) +
                                 "._duroxide_migrations");
  REQUIRE(rows);
  CHECK(rows->get_int64(0, 0) == static_cast<int64_t>(pg::sql::kMigrationCount));
  CHECK(rows->get_int64(0, 1) == 1700000000000);  // the application clock, not the server's
  drop(f, *pool, schema);
  auto gone = run(f, *pool, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", pg::Params().add(schema));
  CHECK(gone->get_int64(0, 0) == 0);
  close_pool(f, pool);
}

TEST_CASE("migrations: ten providers starting at once on an empty schema all succeed") {
  LoopFixture f;
  const std::string schema = fresh_schema("mig_race");
  std::vector<std::unique_ptr<pg::Pool>> pools;
  int ok = 0, failed = 0;
  uint32_t applied_total = 0;
  for (int i = 0; i < 10; ++i) {
    pools.push_back(make_pool(f, pool_options()));
    pg::migrate_schema(*pools.back(), schema, 1700000000000, [&](Result<pg::MigrationReport> r) {
      if (r) {
        ++ok;
        applied_total += r->applied;
      } else {
        ++failed;
        MESSAGE(r.error().to_string());
      }
    });
  }
  REQUIRE(f.run_until([&] { return ok + failed == 10; }, std::chrono::seconds(120)));
  CHECK(ok == 10);
  CHECK(applied_total == pg::sql::kMigrationCount);  // exactly one run applied each migration
  drop(f, *pools[0], schema);
  for (auto& p : pools) close_pool(f, p);
}

TEST_CASE("migrations: an applied migration with a different checksum is a clear startup error") {
  LoopFixture f;
  auto pool = make_pool(f, pool_options());
  const std::string schema = fresh_schema("mig_tamper");
  REQUIRE(migrate(f, *pool, schema));
  REQUIRE(run(f, *pool, "UPDATE " + pg::quote_identifier(schema) +
                            "._duroxide_migrations SET checksum = 'edited' WHERE version = 1"));
  auto r = migrate(f, *pool, schema);
  REQUIRE_FALSE(r);
  CHECK(r.error().sqlstate == "QD009");
  CHECK_FALSE(r.error().retryable);
  CHECK(r.error().message.find("schema") != std::string::npos);
  // A newer library's extra migration is accepted.
  REQUIRE(run(f, *pool, "UPDATE " + pg::quote_identifier(schema) + "._duroxide_migrations SET checksum = $1 "
                        "WHERE version = 1", pg::Params().add(pg::sql::checksum(pg::sql::kMigrations[0].text))));
  REQUIRE(run(f, *pool, "INSERT INTO " + pg::quote_identifier(schema) +
                            "._duroxide_migrations VALUES (999, 'future', 'x', 1)"));
  auto newer = migrate(f, *pool, schema);
  REQUIRE(newer);
  CHECK(newer->schema_version == 999);
  drop(f, *pool, schema);
  close_pool(f, pool);
}
