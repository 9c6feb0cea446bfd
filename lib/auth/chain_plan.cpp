#include "auth/chain_plan.h"

#include "auth/identity_requests.h"

extern char** environ;

namespace duroxide::pg::auth {

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string> env_get(const Environment& env, std::string_view name) {
  auto it = env.find(std::string(name));
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string_view source_name(SourceKind k) {
  switch (k) {
    case SourceKind::kWorkloadIdentity: return "workload identity";
    case SourceKind::kManagedIdentity: return "managed identity";
    case SourceKind::kAzureCli: return "Azure CLI";
    case SourceKind::kAzureDeveloperCli: return "Azure Developer CLI";
  }
  return "?";
}

ManagedKind detect_managed_identity(const Environment& env) {
  if (env_get(env, "IDENTITY_ENDPOINT")) {
    if (env_get(env, "IDENTITY_HEADER")) return ManagedKind::kAppService;
    if (env_get(env, "IMDS_ENDPOINT")) return ManagedKind::kArc;
  }
  return ManagedKind::kImds;
}

std::string_view managed_kind_name(ManagedKind k) {
  switch (k) {
    case ManagedKind::kAppService: return "App Service";
    case ManagedKind::kArc: return "Azure Arc";
    case ManagedKind::kImds: return "IMDS";
  }
  return "?";
}

ChainPlan plan_sources(EntraCredential choice, const Environment& env) {
  ChainPlan p;
  switch (choice) {
    case EntraCredential::kWorkloadIdentity: p.sources = {SourceKind::kWorkloadIdentity}; return p;
    case EntraCredential::kManagedIdentity: p.sources = {SourceKind::kManagedIdentity}; return p;
    case EntraCredential::kAzureCli: p.sources = {SourceKind::kAzureCli}; return p;
    case EntraCredential::kAzureDeveloperCli: p.sources = {SourceKind::kAzureDeveloperCli}; return p;
    case EntraCredential::kChain: break;
  }
  std::string missing;
  for (const char* v : {"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"}) {
    if (!env_get(env, v)) missing += std::string(missing.empty() ? "" : ", ") + v;
  }
  if (missing.empty()) p.sources.push_back(SourceKind::kWorkloadIdentity);
  else p.skipped.push_back("workload identity: not configured (" + missing + " not set)");
  p.sources.push_back(SourceKind::kManagedIdentity);
  p.sources.push_back(SourceKind::kAzureCli);
  p.sources.push_back(SourceKind::kAzureDeveloperCli);
  return p;
}

Result<WorkloadIdentityConfig> workload_identity_config(const Environment& env, const EntraAuthOptions& o) {
  auto bad = [](std::string why) { return fail(permanent_error("create_entra", "workload identity: " + why)); };
  WorkloadIdentityConfig c;
  auto file = env_get(env, "AZURE_FEDERATED_TOKEN_FILE");
  if (!file) return bad("AZURE_FEDERATED_TOKEN_FILE is not set");
  c.token_file = *file;
  auto client = o.client_id ? o.client_id : env_get(env, "AZURE_CLIENT_ID");
  if (!client) return bad("no client id (EntraAuthOptions::client_id or AZURE_CLIENT_ID)");
  c.client_id = *client;
  auto tenant = o.tenant ? o.tenant : env_get(env, "AZURE_TENANT_ID");
  if (!tenant) return bad("no tenant (EntraAuthOptions::tenant or AZURE_TENANT_ID)");
  if (!valid_tenant(*tenant)) return bad("the tenant id has characters outside [A-Za-z0-9.-]");
  c.tenant = *tenant;
  c.authority = env_get(env, "AZURE_AUTHORITY_HOST").value_or("https://login.microsoftonline.com/");
  if (!c.authority.starts_with("https://") && !c.authority.starts_with("http://"))
    return bad("AZURE_AUTHORITY_HOST must be an http(s) URL");
  return c;
}

}  // namespace duroxide::pg::auth
