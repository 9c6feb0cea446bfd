// duroxide/pg/entra.h — Microsoft Entra ID authentication for Azure Database for PostgreSQL.
//
// In Entra mode every connection authenticates with an access token as its password and always
// uses sslmode=verify-full. The provider acquires the first token while it is created (creation
// fails, retryably, when no source yields one), refreshes it in the background on its own loop, and
// hands the current token to each new connection. Existing connections stay up: the server checks
// the token only at login. Tokens never appear in logs, errors or exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "duroxide/error.h"

namespace duroxide::pg {

struct AccessToken {
  std::string token;           // secret: never printed
  std::int64_t expires_on_ms;  // epoch milliseconds
  // When the issuer asks to be asked again (the `refresh_in` reply field), epoch milliseconds.
  std::optional<std::int64_t> refresh_at_ms;
};

using TokenCallback = std::move_only_function<void(Result<AccessToken>)>;

// A way to obtain access tokens. get_token is called on the provider's loop thread, at most one
// call at a time, and must call `cb` exactly once on that thread, never from inside get_token.
// Users with their own identity stack (and the tests) implement it; the built-in sources do too.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // `scope` is EntraAuthOptions::audience (for example ".../.default").
  virtual void get_token(const std::string& scope, TokenCallback cb) = 0;
  // Abandons an outstanding get_token: its callback then runs with an error (or not at all if it
  // already ran). Called at shutdown.
  virtual void cancel() {}
};

enum class EntraCredential : std::uint8_t {
  kChain,              // workload identity, then managed identity, then az, then azd
  kWorkloadIdentity,
  kManagedIdentity,
  kAzureCli,
  kAzureDeveloperCli,
};

struct EntraAuthOptions {
  // Token scope. Sovereign clouds: https://ossrdbms-aad.database.usgovcloudapi.net/.default,
  // https://ossrdbms-aad.database.chinacloudapi.cn/.default.
  std::string audience = "https://ossrdbms-aad.database.windows.net/.default";
  // Longest time between refreshes (refreshes also happen ahead of expiry); at least 30 s.
  std::chrono::milliseconds refresh_interval{std::chrono::minutes(20)};
  // A user-assigned managed identity, selected by at most one of these.
  std::optional<std::string> client_id;
  std::optional<std::string> object_id;
  std::optional<std::string> resource_id;
  std::optional<std::string> tenant;
  EntraCredential credential = EntraCredential::kChain;
  // When set, used instead of `credential` (custom identity stacks, tests).
  std::shared_ptr<TokenSource> token_source;
  // PEM file of trusted CA certificates; empty means libpq's default lookup.
  std::optional<std::string> ssl_root_cert;

  // ---- Knobs for unusual environments and for tests; the defaults suit Azure. ----
  // The environment the built-in sources consult (AZURE_*, IDENTITY_*, IMDS_ENDPOINT, PATH, ...).
  // Unset: the process environment, read once when the provider is created.
  std::optional<std::map<std::string, std::string>> environment;
  // Base URL of the instance metadata service. Empty: $AZURE_POD_IDENTITY_AUTHORITY_HOST, else
  // http://169.254.169.254.
  std::string imds_endpoint;
  // The first IMDS request of a chain is a probe with this timeout and no retries, so the chain
  // moves on quickly off Azure. Once IMDS has answered, `http_timeout` and retries apply.
  std::chrono::milliseconds imds_probe_timeout{1000};
  // Timeout of one HTTP request to an identity endpoint.
  std::chrono::milliseconds http_timeout{10000};
  // Retries of an identity endpoint answering 404, 408, 410, 429 or 5xx (or not reachable after it
  // has answered once), with jittered exponential backoff starting at `retry_delay`.
  int max_retries = 4;
  std::chrono::milliseconds retry_delay{800};
  // Longest run of `az` / `azd` before it is killed.
  std::chrono::milliseconds cli_timeout{13000};
  // The folder an Azure Arc challenge's key file must be in. Empty: /var/opt/azcmagent/tokens.
  std::string arc_key_directory;
};

// Where an Entra-authenticated provider connects.
struct EntraTarget {
  std::string host;  // TLS verifies the server certificate against this name
  std::uint16_t port = 5432;
  std::string database;
  std::string user;  // the Entra principal's role name on the server
};

}  // namespace duroxide::pg
