// Which built-in sources to try, in which order, decided from the options and an environment
// given as data (never read with getenv here), so detection is unit-tested with literal maps.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/pg/entra.h"

namespace duroxide::pg::auth {

using Environment = std::map<std::string, std::string>;

// The process environment, copied once (the adapter; everything else takes an Environment).
Environment process_environment();

// A set, non-empty variable.
std::optional<std::string> env_get(const Environment& env, std::string_view name);

enum class SourceKind : std::uint8_t { kWorkloadIdentity, kManagedIdentity, kAzureCli, kAzureDeveloperCli };
std::string_view source_name(SourceKind k);  // "workload identity", "managed identity", ...

enum class ManagedKind : std::uint8_t { kAppService, kArc, kImds };
// App Service when IDENTITY_ENDPOINT and IDENTITY_HEADER are set; Azure Arc when IDENTITY_ENDPOINT
// and IMDS_ENDPOINT are; the VM metadata service otherwise.
ManagedKind detect_managed_identity(const Environment& env);
std::string_view managed_kind_name(ManagedKind k);

struct ChainPlan {
  std::vector<SourceKind> sources;
  std::vector<std::string> skipped;  // "workload identity: not configured (...)" for the error
};
// kChain: workload identity (only when AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and
// AZURE_TENANT_ID are all set), managed identity, Azure CLI, Azure Developer CLI.
ChainPlan plan_sources(EntraCredential choice, const Environment& env);

struct WorkloadIdentityConfig {
  std::string token_file;
  std::string client_id;  // EntraAuthOptions::client_id, else AZURE_CLIENT_ID
  std::string tenant;     // EntraAuthOptions::tenant, else AZURE_TENANT_ID
  std::string authority;  // AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com/
};
Result<WorkloadIdentityConfig> workload_identity_config(const Environment& env, const EntraAuthOptions& o);

}  // namespace duroxide::pg::auth
