#include "auth/entra_conninfo.h"

namespace duroxide::pg::auth {
namespace {

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

std::string conninfo_quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

Result<std::string> entra_conninfo(const EntraTarget& t, const EntraAuthOptions& auth) {
  auto bad = [](std::string what) { return fail(permanent_error("create_entra", std::move(what))); };
  if (t.host.empty() || has_control(t.host)) return bad("EntraTarget.host must be a host name");
  if (t.port == 0) return bad("EntraTarget.port must not be 0");
  if (t.database.empty() || has_control(t.database)) return bad("EntraTarget.database must not be empty");
  if (t.user.empty() || has_control(t.user)) return bad("EntraTarget.user must not be empty");
  if (auth.ssl_root_cert && (auth.ssl_root_cert->empty() || has_control(*auth.ssl_root_cert)))
    return bad("EntraAuthOptions.ssl_root_cert must be a file path when set");
  std::string s = "host=" + conninfo_quote(t.host) + " port=" + std::to_string(t.port) +
                  " dbname=" + conninfo_quote(t.database) + " user=" + conninfo_quote(t.user) +
                  // The token is a bearer credential: send it only to a server whose certificate
                  // chains to a trusted CA and names the host we meant.
                  " sslmode=verify-full" +
                  // Straight to TLS; a GSSAPI attempt first would only cost a round trip.
                  " gssencmode=disable";
  if (auth.ssl_root_cert) s += " sslrootcert=" + conninfo_quote(*auth.ssl_root_cert);
  return s;
}

}  // namespace duroxide::pg::auth
