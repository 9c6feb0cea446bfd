// The Entra connection string (auth/entra_conninfo.h): verify-full always, no password.
#include <doctest/doctest.h>

#include "auth/entra_conninfo.h"
#include "pool/conninfo.h"

using namespace duroxide::pg;

TEST_CASE("entra conninfo: verify-full, target fields, optional root cert, never a password") {
  EntraTarget t{"srv.postgres.database.azure.com", 5432, "app db", "me@contoso.com"};
  EntraAuthOptions a;
  auto s = auth::entra_conninfo(t, a);
  REQUIRE(s);
  auto info = ConnInfo::parse(*s);
  REQUIRE(info);
  CHECK(*info->get("sslmode") == "verify-full");
  CHECK(*info->get("host") == "srv.postgres.database.azure.com");
  CHECK(*info->get("port") == "5432");
  CHECK(*info->get("dbname") == "app db");
  CHECK(*info->get("user") == "me@contoso.com");
  CHECK(info->get("password") == nullptr);
  CHECK(info->get("sslrootcert") == nullptr);
  a.ssl_root_cert = "/etc/ssl/it's\\here.pem";
  s = auth::entra_conninfo(t, a);
  REQUIRE(s);
  info = ConnInfo::parse(*s);
  REQUIRE(info);
  CHECK(*info->get("sslrootcert") == "/etc/ssl/it's\\here.pem");
  CHECK(*info->get("sslmode") == "verify-full");
}

TEST_CASE("entra conninfo: a host cannot smuggle a weaker sslmode") {
  EntraTarget t{"h' sslmode='disable", 5432, "db", "u"};
  auto s = auth::entra_conninfo(t, {});
  REQUIRE(s);
  auto info = ConnInfo::parse(*s);
  REQUIRE(info);
  CHECK(*info->get("sslmode") == "verify-full");
  CHECK(*info->get("host") == "h' sslmode='disable");
}

TEST_CASE("entra conninfo: invalid targets fail permanently") {
  CHECK_FALSE(auth::entra_conninfo(EntraTarget{"", 5432, "db", "u"}, {}));
  CHECK_FALSE(auth::entra_conninfo(EntraTarget{"h", 0, "db", "u"}, {}));
  CHECK_FALSE(auth::entra_conninfo(EntraTarget{"h", 5432, "", "u"}, {}));
  CHECK_FALSE(auth::entra_conninfo(EntraTarget{"h", 5432, "db", ""}, {}));
  auto r = auth::entra_conninfo(EntraTarget{"h\n", 5432, "db", "u"}, {});
  REQUIRE_FALSE(r);
  CHECK_FALSE(r.error().retryable);
}
