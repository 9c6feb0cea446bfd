#include "auth/builtin_source.h"

#include "auth/chain_plan.h"
#include "auth/chain_source.h"
#include "auth/cli_runner.h"
#include "auth/http_sources.h"

namespace duroxide::pg::auth {

Result<std::shared_ptr<TokenSource>> make_builtin_source(uv_loop_t* loop, const EntraAuthOptions& auth) {
  if (!valid_scope(auth.audience))
    return fail(permanent_error("create_entra", "EntraAuthOptions::audience has characters outside [A-Za-z0-9.:/_-]"));
  if (auth.tenant && !valid_tenant(*auth.tenant))
    return fail(permanent_error("create_entra", "EntraAuthOptions::tenant has characters outside [A-Za-z0-9.-]"));
  if (auto id = select_identity(auth.client_id, auth.object_id, auth.resource_id); !id) return fail(id.error());
  const Environment env = auth.environment ? *auth.environment : process_environment();
  const ChainPlan plan = plan_sources(auth.credential, env);
  const bool chain = auth.credential == EntraCredential::kChain;
  std::vector<ChainSource::Entry> entries;
  std::vector<std::string> skipped = plan.skipped;
  for (SourceKind k : plan.sources) {
    std::shared_ptr<LoopTokenSource> s;
    switch (k) {
      case SourceKind::kWorkloadIdentity: {
        auto w = WorkloadIdentitySource::create(loop, env, auth);
        if (!w) {
          if (!chain) return fail(w.error());
          skipped.push_back(w.error().message);
          continue;
        }
        s = std::move(*w);
        break;
      }
      case SourceKind::kManagedIdentity: {
        // Probe IMDS quickly only inside the chain: an explicit choice means "we are on Azure".
        auto m = ManagedIdentitySource::create(loop, env, auth, chain);
        if (!m) return fail(m.error());
        s = std::move(*m);
        break;
      }
      case SourceKind::kAzureCli:
        s = std::make_shared<CliSource>(loop, CliSource::Tool::kAz, env, auth.tenant, auth.cli_timeout);
        break;
      case SourceKind::kAzureDeveloperCli:
        s = std::make_shared<CliSource>(loop, CliSource::Tool::kAzd, env, auth.tenant, auth.cli_timeout);
        break;
    }
    entries.push_back(ChainSource::Entry{std::string(source_name(k)), std::move(s)});
  }
  // Even one source goes through ChainSource: its error then reads the same way.
  return std::shared_ptr<TokenSource>(std::make_shared<ChainSource>(std::move(entries), std::move(skipped)));
}

}  // namespace duroxide::pg::auth
