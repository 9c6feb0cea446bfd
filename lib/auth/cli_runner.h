// Runs a developer tool (az, azd) as a child process on the libuv loop: uv_spawn with stdout and
// stderr piped, stdin closed, a fixed safe working directory ("/", so a hostile current folder
// cannot shadow configuration), the environment given as data, and a timeout after which the
// whole process group is killed. The outcome is plain data for auth/cli_command.h to interpret.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/chain_plan.h"
#include "auth/cli_command.h"
#include "auth/token_refresher.h"

namespace duroxide::pg::auth {

// The absolute path of `program` in the colon-separated `path` (an executable regular file), or
// nullopt. Names holding a '/' are not looked up.
std::optional<std::string> find_on_path(std::string_view program, std::string_view path);

class CliRun {
 public:
  using Done = std::move_only_function<void(CliOutcome)>;
  // Starts `file` with `args`. `done` runs once on a later loop turn, after every handle of the
  // run is closed. Returns the run, which frees itself after `done` (or after cancel()).
  static CliRun* start(uv_loop_t* loop, const std::string& file, const std::vector<std::string>& args,
                       const Environment& env, std::chrono::milliseconds timeout, Done done);
  // Kills the process group; `done` is not called, but `on_closed` runs once every handle is closed.
  void cancel(std::move_only_function<void()> on_closed);

 private:
  CliRun(uv_loop_t* loop, Done done);
  void on_exit(int64_t status, int signal);
  void finish_if_done();
  void close_all();
  void handle_closed();

  uv_loop_t* loop_;
  Done done_;
  std::move_only_function<void()> on_closed_;
  uv_process_t proc_{};
  uv_pipe_t out_{}, err_{};
  uv_timer_t timer_{}, grace_{};
  int open_ = 0;
  bool spawned_ = false;
  bool exited_ = false;
  bool out_eof_ = false, err_eof_ = false;
  bool closing_ = false;
  bool cancelled_ = false;
  CliOutcome outcome_;
};

// A TokenSource running `az` or `azd` (auth/cli_command.h builds the command line).
class CliSource final : public LoopTokenSource {
 public:
  enum class Tool : std::uint8_t { kAz, kAzd };
  CliSource(uv_loop_t* loop, Tool tool, Environment env, std::optional<std::string> tenant,
            std::chrono::milliseconds timeout);
  void get_token(const std::string& scope, TokenCallback cb) override;
  void cancel() override;
  void close(std::move_only_function<void()> done) override;
  ~CliSource() override;

 private:
  uv_loop_t* loop_;
  Tool tool_;
  Environment env_;
  std::optional<std::string> tenant_;
  std::chrono::milliseconds timeout_;
  CliRun* run_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace duroxide::pg::auth
