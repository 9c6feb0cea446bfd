#include "auth/cli_command.h"

#include "auth/identity_requests.h"
#include "auth/token_reply.h"

namespace duroxide::pg::auth {
namespace {

Result<void> check(std::string_view tool, std::string_view scope, const std::optional<std::string>& tenant) {
  if (!valid_scope(scope))
    return fail(permanent_error("entra_token", std::string(tool) + ": the scope has characters outside [A-Za-z0-9.:/_-]"));
  if (tenant && !valid_tenant(*tenant))
    return fail(permanent_error("entra_token", std::string(tool) + ": the tenant has characters outside [A-Za-z0-9.-]"));
  return {};
}

}  // namespace

Result<CliCommand> az_command(std::string_view scope, const std::optional<std::string>& tenant) {
  if (auto ok = check("Azure CLI", scope, tenant); !ok) return fail(ok.error());
  CliCommand c{"Azure CLI", "az", {"account", "get-access-token", "--output", "json", "--scope", std::string(scope)}};
  if (tenant) c.args.insert(c.args.end(), {"--tenant", *tenant});
  return c;
}

Result<CliCommand> azd_command(std::string_view scope, const std::optional<std::string>& tenant) {
  if (auto ok = check("Azure Developer CLI", scope, tenant); !ok) return fail(ok.error());
  CliCommand c{"Azure Developer CLI", "azd",
               {"auth", "token", "--output", "json", "--no-prompt", "--scope", std::string(scope)}};
  if (tenant) c.args.insert(c.args.end(), {"--tenant-id", *tenant});
  return c;
}

Result<AccessToken> interpret_cli(const CliCommand& cmd, const CliOutcome& o, std::int64_t now_ms,
                                  std::int64_t timeout_ms) {
  auto err = [&](std::string why) { return fail(retryable_error("entra_token", cmd.tool + ": " + why)); };
  if (!o.started) return err(o.start_error);
  if (o.timed_out) return err("'" + cmd.program + "' did not finish within " + std::to_string(timeout_ms) + " ms");
  // What the tool said about itself, preferring stderr (where both print their errors).
  std::string said = first_line(o.err);
  if (said.empty()) said = first_line(o.out);
  if (o.term_signal != 0) return err("'" + cmd.program + "' was killed by signal " + std::to_string(o.term_signal));
  if (o.exit_status != 0)
    return err("'" + cmd.program + "' failed (exit " + std::to_string(o.exit_status) + ")" +
               (said.empty() ? std::string() : ": " + said));
  std::string_view out = o.out;
  while (!out.empty() && (out.front() == ' ' || out.front() == '\n' || out.front() == '\r' || out.front() == '\t'))
    out.remove_prefix(1);
  if (out.empty() || out.front() != '{')
    return err("'" + cmd.program + "' printed no JSON" + (said.empty() ? std::string() : ": " + said));
  Result<AccessToken> t = parse_token_reply(out, now_ms);
  if (!t) return err(t.error().message);
  return t;
}

}  // namespace duroxide::pg::auth
