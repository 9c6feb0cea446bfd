// Reply parsing (auth/token_reply.h) for every source's format.
#include <doctest/doctest.h>

#include "auth/token_reply.h"

using namespace duroxide::pg::auth;

namespace {
constexpr std::int64_t kNow = 1'700'000'000'000;
}

TEST_CASE("reply: IMDS / App Service strings: expires_on epoch string, expires_in, refresh_in") {
  auto t = parse_token_reply(R"({"access_token":"eyJ0","expires_on":"1700003600","expires_in":"3599",
      "refresh_in":"1800","resource":"https://ossrdbms-aad.database.windows.net","token_type":"Bearer"})", kNow);
  REQUIRE(t);
  CHECK(t->token == "eyJ0");
  CHECK(t->expires_on_ms == 1'700'003'600'000);
  REQUIRE(t->refresh_at_ms);
  CHECK(*t->refresh_at_ms == kNow + 1'800'000);
}

TEST_CASE("reply: expires_on as a number (az >= 2.54), accessToken field") {
  auto t = parse_token_reply(R"({"accessToken":"az-tok","expiresOn":"2023-11-14 23:13:20.000000",
      "expires_on":1700003600,"subscription":"s","tenant":"t","tokenType":"Bearer"})", kNow);
  REQUIRE(t);
  CHECK(t->token == "az-tok");
  CHECK(t->expires_on_ms == 1'700'003'600'000);
  CHECK_FALSE(t->refresh_at_ms);
}

TEST_CASE("reply: v2 endpoint expires_in number relative to now") {
  auto t = parse_token_reply(R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"v2"})", kNow);
  REQUIRE(t);
  CHECK(t->expires_on_ms == kNow + 3'599'000);
}

TEST_CASE("reply: azd RFC 3339 expiresOn with zone") {
  auto t = parse_token_reply(R"({"token":"azd-tok","expiresOn":"2023-11-14T23:13:20Z"})", kNow);
  REQUIRE(t);
  CHECK(t->token == "azd-tok");
  CHECK(t->expires_on_ms == 1'700'003'600'000);
  CHECK(parse_rfc3339_ms("2023-11-15T01:13:20.250+02:00") == 1'700'003'600'250);
  CHECK(parse_rfc3339_ms("1970-01-01T00:00:00Z") == 0);
  CHECK_FALSE(parse_rfc3339_ms("2023-11-14 23:13:20.000000"));  // no zone: refused
  CHECK_FALSE(parse_rfc3339_ms("2023-13-14T23:13:20Z"));
  CHECK_FALSE(parse_rfc3339_ms("garbage"));
}

TEST_CASE("reply: malformed replies give errors that never quote the token") {
  const char* secret = "SECRET-TOKEN-123";
  for (std::string body : {std::string("not json"), std::string("[1,2]"), std::string(R"({"expires_in":10})"),
                           std::string(R"({"access_token":""})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123"})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_on":"soon"})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_in":true})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expiresOn":"tomorrow"})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_on":)"),
                           // out of range: must not overflow when converted to milliseconds
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_on":"9223372036854775807"})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_on":9223372036854775807})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_in":-5})"),
                           std::string(R"({"access_token":"SECRET-TOKEN-123","expires_in":1e300})")}) {
    auto t = parse_token_reply(body, kNow);
    REQUIRE_FALSE(t);
    CHECK(t.error().message.find(secret) == std::string::npos);
    CHECK_FALSE(t.error().message.empty());
  }
}

TEST_CASE("error replies are described by their error fields, one line, bounded") {
  CHECK(describe_error_reply(R"({"error":"invalid_request","error_description":"Identity not found"})") ==
        "invalid_request: Identity not found");
  CHECK(describe_error_reply(R"({"error":{"code":"BadRequest","message":"No identity"}})") == "BadRequest: No identity");
  CHECK(describe_error_reply("Bad gateway\nmore") == "Bad gateway");
  CHECK(describe_error_reply("") == "(empty body)");
  CHECK(describe_error_reply(std::string(5000, 'x')).size() < 260);
  CHECK(first_line("\n\n  ERROR: Please run 'az login' to setup account.\nmore") ==
        "ERROR: Please run 'az login' to setup account.");
}
