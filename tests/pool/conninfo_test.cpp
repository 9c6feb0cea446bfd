#include <doctest/doctest.h>

#include "pool/conninfo.h"
#include "pool/pg_error.h"
#include "pool/pool.h"

using duroxide::pg::ConnInfo;

TEST_CASE("conninfo: URL and keyword forms parse to the same fields") {
  auto a = ConnInfo::parse("postgresql://alice:s3cret-pw@db.example:6543/orders?sslmode=require");
  auto b = ConnInfo::parse("host=db.example port=6543 dbname=orders user=alice password=s3cret-pw sslmode=require");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a->get("host") == "db.example");
  CHECK(*b->get("port") == "6543");
  CHECK(a->describe() == b->describe());
  CHECK(a->describe() == "db.example:6543/orders as alice");
}

TEST_CASE("conninfo: describe and parse errors never reveal the password") {
  auto a = ConnInfo::parse("postgresql://alice:s3cret-pw@db.example/orders");
  REQUIRE(a);
  CHECK(a->describe().find("s3cret") == std::string::npos);
  auto bad = ConnInfo::parse("host=x password='s3cret-pw");  // unterminated quote
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("s3cret") == std::string::npos);
  CHECK_FALSE(bad.error().retryable);
  auto bad2 = ConnInfo::parse("postgresql://alice:s3cret-pw@db.example/orders?nosuchopt=s3cret-pw");
  REQUIRE_FALSE(bad2);
  CHECK(bad2.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("conninfo: scrub replaces secrets anywhere in a message") {
  auto a = ConnInfo::parse("postgresql://alice:hunter22@h/d");
  REQUIRE(a);
  CHECK(a->scrub("oops hunter22 and hunter22") == "oops *** and ***");
  CHECK(a->scrub("token eyJabc here", "eyJabc") == "token *** here");
}

TEST_CASE("conninfo: session settings travel in the startup options") {
  duroxide::pg::PoolOptions o;
  o.conninfo = "postgresql://u@h/d?options=-c%20search_path%3Dx";
  o.statement_timeout = std::chrono::milliseconds(1500);
  auto c = duroxide::pg::make_conninfo(o, "query");
  REQUIRE(c);
  CHECK(*c->get("options") ==
        "-c search_path=x -c statement_timeout=1500 -c idle_in_transaction_session_timeout=60000");
  CHECK(*c->get("application_name") == "duroxide-pg:query");
}

TEST_CASE("pg_error: SQLSTATE from verbose startup errors") {
  using duroxide::pg::extract_sqlstate;
  using duroxide::pg::first_line;
  const char* msg =
      "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01: password "
      "authentication failed for user \"u\"\nLOCATION:  auth_failed, auth.c:326\n";
  CHECK(extract_sqlstate(msg) == "28P01");
  CHECK(extract_sqlstate("could not connect: Connection refused") == "");
  CHECK(first_line("FATAL:  3D000: database \"x\" does not exist\n") == "database \"x\" does not exist");
}

TEST_CASE("error classification follows the contract's SQLSTATE table") {
  using duroxide::sqlstate_is_retryable;
  for (const char* s : {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "08006",
                        "08000", "53300", "0A000", "XX000", ""})
    CHECK_MESSAGE(sqlstate_is_retryable(s), s);
  for (const char* s : {"23505", "23503", "22012", "42P01", "42883", "40002", "QD001", "P0001",
                        "28P01", "28000"})
    CHECK_MESSAGE(!sqlstate_is_retryable(s), s);
  CHECK(sqlstate_is_retryable("28P01", true));
  CHECK(sqlstate_is_retryable("28000", true));
}

TEST_CASE("pool max size: explicit, environment, default") {
  using duroxide::pg::resolve_pool_max;
  CHECK(resolve_pool_max(3) == 3);
  ::setenv("DUROXIDE_PG_POOL_MAX", "7", 1);
  CHECK(resolve_pool_max(0) == 7);
  ::setenv("DUROXIDE_PG_POOL_MAX", "junk", 1);
  CHECK(resolve_pool_max(0) == 10);
  ::unsetenv("DUROXIDE_PG_POOL_MAX");
  CHECK(resolve_pool_max(0) == 10);
}
