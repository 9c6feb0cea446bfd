// DATABASE_URL taken apart with libpq's own parser, for tests that connect through the proxy
// (same server, different port) or check that a password never leaks into an error.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <uv.h>

#include <cstring>
#include <map>
#include <string>

namespace duroxide::test::faults {

// Every keyword libpq found in `url` with a non-empty value.
inline std::map<std::string, std::string> conninfo_fields(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (err) PQfreemem(err);
  REQUIRE_MESSAGE(opts != nullptr, "DATABASE_URL is not a valid libpq connection string");
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (o->val && *o->val) out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

inline std::string url_password(const std::string& url) {
  auto f = conninfo_fields(url);
  auto it = f.find("password");
  return it == f.end() ? std::string() : it->second;
}

// The server's TCP address. The tests need a numeric host (scripts/with-postgres.sh: 127.0.0.1).
inline sockaddr_storage url_server_address(const std::string& url) {
  auto f = conninfo_fields(url);
  const std::string host = f.count("hostaddr") ? f["hostaddr"] : (f.count("host") ? f["host"] : "");
  const int port = f.count("port") ? std::stoi(f["port"]) : 5432;
  sockaddr_storage out{};
  if (uv_ip4_addr(host == "localhost" ? "127.0.0.1" : host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) != 0)
    REQUIRE_MESSAGE(uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0,
                    "DATABASE_URL must name the server by IP address for the proxy tests");
  return out;
}

// A keyword/value connection string of `fields` (values quoted, so any byte may appear).
inline std::string to_conninfo(const std::map<std::string, std::string>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    out += k + "='";
    for (char c : v) {
      if (c == '\'' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out += "' ";
  }
  return out;
}

// A connection string equal to `url` except that it connects to 127.0.0.1:port.
inline std::string url_via_port(const std::string& url, int port) {
  auto f = conninfo_fields(url);
  f.erase("hostaddr");
  f["host"] = "127.0.0.1";
  f["port"] = std::to_string(port);
  return to_conninfo(f);
}

}  // namespace duroxide::test::faults
