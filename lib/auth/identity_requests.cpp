#include "auth/identity_requests.h"

namespace duroxide::pg::auth {
namespace {

std::string with_identity(std::string url, const UserIdentity& id, std::string_view resource_key) {
  switch (id.kind) {
    case UserIdentity::Kind::kNone: break;
    case UserIdentity::Kind::kClientId: url += "&client_id=" + url_encode(id.value); break;
    case UserIdentity::Kind::kObjectId: url += "&object_id=" + url_encode(id.value); break;
    case UserIdentity::Kind::kResourceId: url.append("&").append(resource_key).append("=") += url_encode(id.value); break;
  }
  return url;
}

std::string trim_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

Result<UserIdentity> select_identity(const std::optional<std::string>& client_id,
                                     const std::optional<std::string>& object_id,
                                     const std::optional<std::string>& resource_id) {
  const int n = (client_id ? 1 : 0) + (object_id ? 1 : 0) + (resource_id ? 1 : 0);
  if (n > 1)
    return fail(permanent_error("create_entra", "set at most one of client_id, object_id and resource_id"));
  if (client_id) return UserIdentity{UserIdentity::Kind::kClientId, *client_id};
  if (object_id) return UserIdentity{UserIdentity::Kind::kObjectId, *object_id};
  if (resource_id) return UserIdentity{UserIdentity::Kind::kResourceId, *resource_id};
  return UserIdentity{};
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string resource_from_scope(std::string_view scope) {
  constexpr std::string_view kSuffix = "/.default";
  if (scope.size() > kSuffix.size() && scope.ends_with(kSuffix)) scope.remove_suffix(kSuffix.size());
  return std::string(scope);
}

HttpRequest imds_request(std::string_view base, std::string_view resource, const UserIdentity& id) {
  HttpRequest r;
  r.url = with_identity(trim_slash(base) + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
                            url_encode(resource),
                        id, "msi_res_id");
  r.headers = {"Metadata: true"};
  return r;
}

HttpRequest imds_probe_request(std::string_view base, std::string_view resource) {
  HttpRequest r = imds_request(base, resource, {});
  r.headers.clear();
  return r;
}

HttpRequest app_service_request(std::string_view endpoint, std::string_view identity_header,
                                std::string_view resource, const UserIdentity& id) {
  HttpRequest r;
  std::string url(endpoint);
  url += url.find('?') == std::string::npos ? "?" : "&";
  url += "api-version=2019-08-01&resource=" + url_encode(resource);
  r.url = with_identity(std::move(url), id, "mi_res_id");
  r.headers = {"X-IDENTITY-HEADER: " + std::string(identity_header)};
  return r;
}

HttpRequest arc_request(std::string_view endpoint, std::string_view resource, std::optional<std::string_view> key) {
  HttpRequest r;
  std::string url(endpoint);
  url += url.find('?') == std::string::npos ? "?" : "&";
  r.url = url + "api-version=2020-06-01&resource=" + url_encode(resource);
  r.headers = {"Metadata: true"};
  if (key) r.headers.push_back("Authorization: Basic " + std::string(*key));
  return r;
}

Result<std::string> arc_key_path(std::string_view header, std::string_view allowed_dir) {
  auto bad = [](std::string why) { return fail(permanent_error("entra_token", "Azure Arc challenge: " + why)); };
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  constexpr std::string_view kPrefix = "Basic realm=";
  if (!header.starts_with(kPrefix)) return bad("no 'Basic realm=' in WWW-Authenticate");
  std::string_view path = header.substr(kPrefix.size());
  while (!path.empty() && (path.back() == ' ' || path.back() == '\r' || path.back() == '\n')) path.remove_suffix(1);
  if (path.size() >= 2 && path.front() == '"' && path.back() == '"') path = path.substr(1, path.size() - 2);
  std::string dir = trim_slash(allowed_dir);
  if (!path.starts_with(dir + "/")) return bad("the key file is not in " + dir);
  std::string_view name = path.substr(dir.size() + 1);
  if (name.empty() || name.find('/') != std::string_view::npos || name == ".." || name.starts_with(".") ||
      !name.ends_with(".key") || name.size() <= 4)
    return bad("the key file must be a *.key file directly in " + dir);
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20) return bad("the key file name has control characters");
  return std::string(path);
}

HttpRequest workload_identity_request(std::string_view authority_host, std::string_view tenant,
                                      std::string_view client_id, std::string_view assertion,
                                      std::string_view scope) {
  HttpRequest r;
  r.method = "POST";
  r.url = trim_slash(authority_host) + "/" + std::string(tenant) + "/oauth2/v2.0/token";
  r.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  r.body = "client_id=" + url_encode(client_id) + "&scope=" + url_encode(scope) +
           "&grant_type=client_credentials" +
           "&client_assertion_type=" + url_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
           "&client_assertion=" + url_encode(assertion);
  r.allow_proxy = true;
  return r;
}

bool valid_tenant(std::string_view t) {
  if (t.empty() || t.size() > 256) return false;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return false;
  return true;
}

bool valid_scope(std::string_view s) {
  if (s.empty() || s.size() > 1024 || s.front() == '-') return false;  // never read as an option
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
          c == '_' || c == ':' || c == '/'))
      return false;
  return true;
}

}  // namespace duroxide::pg::auth
