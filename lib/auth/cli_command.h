// The developer-tool sources as plain data: the command line for `az` / `azd` and the reading of
// what they printed. No processes here (auth/cli_runner.h runs them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/pg/entra.h"

namespace duroxide::pg::auth {

struct CliCommand {
  std::string tool;     // "Azure CLI" / "Azure Developer CLI", for messages
  std::string program;  // "az" / "azd", looked up on PATH
  std::vector<std::string> args;
};

// Scope and tenant are validated (auth/identity_requests.h valid_scope / valid_tenant) before they
// can reach a command line; no shell is involved either way.
Result<CliCommand> az_command(std::string_view scope, const std::optional<std::string>& tenant);
Result<CliCommand> azd_command(std::string_view scope, const std::optional<std::string>& tenant);

struct CliOutcome {
  bool started = true;          // false: the program could not be run (e.g. not on PATH)
  std::string start_error;
  bool timed_out = false;
  std::int64_t exit_status = 0;
  int term_signal = 0;
  std::string out;
  std::string err;
};

// The token, or an error that says why, quoting the tool's own first line (e.g. "Please run 'az
// login' to setup account.") but never the token.
Result<AccessToken> interpret_cli(const CliCommand& cmd, const CliOutcome& o, std::int64_t now_ms,
                                  std::int64_t timeout_ms);

}  // namespace duroxide::pg::auth
