// The HTTP requests of the managed identity and workload identity sources, built as plain data
// (no I/O) so that every URL, header and body is unit-tested; auth/http_client.h sends them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/error.h"

namespace duroxide::pg::auth {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST only; may carry a client assertion: never printed
  // Identity endpoints on the machine (IMDS, App Service, Arc) must never go through a proxy;
  // the Entra authority may have to.
  bool allow_proxy = false;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string www_authenticate;  // the WWW-Authenticate header (Azure Arc's challenge)
  std::optional<std::int64_t> retry_after_s;  // a Retry-After header in seconds (429, 503)
};

// A user-assigned identity, selected by exactly one of its ids (EntraAuthOptions).
struct UserIdentity {
  enum class Kind : std::uint8_t { kNone, kClientId, kObjectId, kResourceId } kind = Kind::kNone;
  std::string value;
};

// Fails (permanently) when more than one selector is set.
Result<UserIdentity> select_identity(const std::optional<std::string>& client_id,
                                     const std::optional<std::string>& object_id,
                                     const std::optional<std::string>& resource_id);

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string url_encode(std::string_view s);

// The managed identity endpoints take a resource, not a scope: the audience without "/.default".
std::string resource_from_scope(std::string_view scope);

// Azure VM / VMSS instance metadata service, api-version 2018-02-01. `base` like
// "http://169.254.169.254". The probe variant omits the Metadata header: IMDS then answers 400
// at once, which proves it is there without waiting for a token.
HttpRequest imds_request(std::string_view base, std::string_view resource, const UserIdentity& id);
HttpRequest imds_probe_request(std::string_view base, std::string_view resource);

// App Service / Functions / Container Apps: IDENTITY_ENDPOINT + IDENTITY_HEADER, api 2019-08-01.
HttpRequest app_service_request(std::string_view endpoint, std::string_view identity_header,
                                std::string_view resource, const UserIdentity& id);

// Azure Arc: IDENTITY_ENDPOINT (+ IMDS_ENDPOINT present), api-version 2020-06-01. The first
// request is answered 401 with `WWW-Authenticate: Basic realm=<key file>`; the second carries the
// file's content as `Authorization: Basic <content>`.
HttpRequest arc_request(std::string_view endpoint, std::string_view resource,
                        std::optional<std::string_view> key = std::nullopt);

// The key file path of an Arc challenge, validated before anything is read: it must be a
// "Basic realm=" challenge naming a plain file name ending in ".key" directly inside
// `allowed_dir` (no "..", no other folder), so a hostile endpoint cannot make us read and send an
// arbitrary file.
Result<std::string> arc_key_path(std::string_view www_authenticate, std::string_view allowed_dir);
inline constexpr std::uintmax_t kArcKeyMaxBytes = 4096;

// Workload identity (AKS): client-credentials grant with the federated token as a JWT-bearer
// client assertion, POSTed to {authority}{tenant}/oauth2/v2.0/token.
HttpRequest workload_identity_request(std::string_view authority_host, std::string_view tenant,
                                      std::string_view client_id, std::string_view assertion,
                                      std::string_view scope);

// Validation of values that end up in URLs or command lines.
bool valid_tenant(std::string_view tenant);  // [A-Za-z0-9.-]+
bool valid_scope(std::string_view scope);    // [A-Za-z0-9.:/_-]+ (a URL-like scope)

}  // namespace duroxide::pg::auth
