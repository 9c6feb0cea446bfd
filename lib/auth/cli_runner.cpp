#include "auth/cli_runner.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "auth/loop_defer.h"

namespace duroxide::pg::auth {
namespace {

constexpr std::size_t kMaxOutput = 1 << 20;
// After the process exits, how long its pipes may stay open (a grandchild holding them) before
// the run is finished anyway.
constexpr std::uint64_t kPipeGraceMs = 500;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::optional<std::string> find_on_path(std::string_view program, std::string_view path) {
  if (program.empty() || program.find('/') != std::string_view::npos) return std::nullopt;
  while (true) {
    const std::size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    if (!dir.empty() && dir.front() == '/') {  // relative PATH entries would depend on the cwd
      std::string candidate = std::string(dir) + "/" + std::string(program);
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    if (colon == std::string_view::npos) return std::nullopt;
    path.remove_prefix(colon + 1);
  }
}

// ---- CliRun ----------------------------------------------------------------------------------

CliRun::CliRun(uv_loop_t* loop, Done done) : loop_(loop), done_(std::move(done)) {}

CliRun* CliRun::start(uv_loop_t* loop, const std::string& file, const std::vector<std::string>& args,
                      const Environment& env, std::chrono::milliseconds timeout, Done done) {
  auto* run = new CliRun(loop, std::move(done));
  uv_pipe_init(loop, &run->out_, 0);
  uv_pipe_init(loop, &run->err_, 0);
  uv_timer_init(loop, &run->timer_);
  uv_timer_init(loop, &run->grace_);
  run->out_.data = run->err_.data = run->timer_.data = run->grace_.data = run->proc_.data = run;
  run->open_ = 5;  // both pipes, both timers and the process handle (uv_spawn initialises it
                   // even when it fails, so it is closed either way)

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(file.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&run->out_);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&run->err_);
  uv_process_options_t opts{};
  opts.file = file.c_str();
  opts.args = argv.data();
  opts.env = envp.data();
  opts.cwd = "/";
  // Its own session and process group, so a timeout kills the tool and whatever it started.
  opts.flags = UV_PROCESS_DETACHED;
  opts.stdio_count = 3;
  opts.stdio = stdio;
  opts.exit_cb = [](uv_process_t* p, int64_t status, int sig) { static_cast<CliRun*>(p->data)->on_exit(status, sig); };
  const int rc = uv_spawn(loop, &run->proc_, &opts);
  if (rc != 0) {
    run->outcome_.started = false;
    run->outcome_.start_error = "cannot run " + file + ": " + uv_strerror(rc);
    run->exited_ = run->out_eof_ = run->err_eof_ = true;
    run->close_all();
    return run;
  }
  run->spawned_ = true;
  auto alloc = [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
    buf->base = new char[suggested];
    buf->len = suggested;
  };
  auto on_read = [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* self = static_cast<CliRun*>(s->data);
    const bool is_out = s == reinterpret_cast<uv_stream_t*>(&self->out_);
    std::string& sink = is_out ? self->outcome_.out : self->outcome_.err;
    if (n > 0 && sink.size() < kMaxOutput) sink.append(buf->base, std::min<std::size_t>(n, kMaxOutput - sink.size()));
    delete[] buf->base;
    if (n < 0) {  // EOF or error: this stream is finished
      uv_read_stop(s);
      (is_out ? self->out_eof_ : self->err_eof_) = true;
      self->finish_if_done();
    }
  };
  uv_read_start(reinterpret_cast<uv_stream_t*>(&run->out_), alloc, on_read);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&run->err_), alloc, on_read);
  uv_timer_start(&run->timer_, [](uv_timer_t* t) {
    auto* self = static_cast<CliRun*>(t->data);
    if (self->exited_) return;
    self->outcome_.timed_out = true;
    uv_kill(-self->proc_.pid, SIGKILL);
  }, static_cast<std::uint64_t>(timeout.count()), 0);
  return run;
}

void CliRun::on_exit(int64_t status, int signal) {
  exited_ = true;
  outcome_.exit_status = status;
  outcome_.term_signal = signal;
  uv_timer_stop(&timer_);
  // Output already written is still in the pipes; give them a moment to reach EOF.
  uv_timer_start(&grace_, [](uv_timer_t* t) {
    auto* self = static_cast<CliRun*>(t->data);
    self->out_eof_ = self->err_eof_ = true;
    self->finish_if_done();
  }, kPipeGraceMs, 0);
  finish_if_done();
}

void CliRun::finish_if_done() {
  if (closing_ || !exited_ || !out_eof_ || !err_eof_) return;
  close_all();
}

void CliRun::close_all() {
  if (closing_) return;
  closing_ = true;
  auto closed = [](uv_handle_t* h) { static_cast<CliRun*>(h->data)->handle_closed(); };
  uv_close(reinterpret_cast<uv_handle_t*>(&out_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&err_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&grace_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&proc_), closed);
}

void CliRun::handle_closed() {
  if (--open_ > 0) return;
  if (!cancelled_ && done_) {
    auto d = std::move(done_);
    CliOutcome o = std::move(outcome_);
    delete this;
    d(std::move(o));
    return;
  }
  auto c = std::move(on_closed_);
  delete this;
  if (c) c();
}

void CliRun::cancel(std::move_only_function<void()> on_closed) {
  cancelled_ = true;
  on_closed_ = std::move(on_closed);
  if (spawned_ && !exited_) {
    uv_kill(-proc_.pid, SIGKILL);
    // Wait for the exit so the process handle closes after the child is reaped.
    return;
  }
  out_eof_ = err_eof_ = true;
  close_all();
}

// ---- CliSource -------------------------------------------------------------------------------

CliSource::CliSource(uv_loop_t* loop, Tool tool, Environment env, std::optional<std::string> tenant,
                     std::chrono::milliseconds timeout)
    : loop_(loop), tool_(tool), env_(std::move(env)), tenant_(std::move(tenant)), timeout_(timeout) {}

CliSource::~CliSource() {
  *alive_ = false;
  if (run_) run_->cancel(nullptr);
}

void CliSource::get_token(const std::string& scope, TokenCallback cb) {
  Result<CliCommand> cmd = tool_ == Tool::kAz ? az_command(scope, tenant_) : azd_command(scope, tenant_);
  auto later = [this](TokenCallback c, ProviderError e) {
    std::weak_ptr<bool> alive = alive_;
    defer_on_loop(loop_, [alive, c = std::move(c), e = std::move(e)]() mutable {
      if (!alive.expired()) c(std::unexpected(std::move(e)));
    });
  };
  if (!cmd) return later(std::move(cb), cmd.error());
  auto path = find_on_path(cmd->program, env_get(env_, "PATH").value_or(""));
  if (!path) return later(std::move(cb), retryable_error("entra_token", cmd->tool + ": '" + cmd->program + "' not found on PATH"));
  const std::int64_t timeout_ms = timeout_.count();
  const std::vector<std::string> args = cmd->args;  // `cmd` moves into the callback below
  run_ = CliRun::start(loop_, *path, args, env_, timeout_,
                       [this, alive = std::weak_ptr<bool>(alive_), cmd = std::move(*cmd), cb = std::move(cb),
                        timeout_ms](CliOutcome o) mutable {
                         if (alive.expired()) return;
                         run_ = nullptr;
                         cb(interpret_cli(cmd, o, wall_ms(), timeout_ms));
                       });
}

void CliSource::cancel() {
  if (!run_) return;
  CliRun* r = run_;
  run_ = nullptr;
  r->cancel(nullptr);
}

void CliSource::close(std::move_only_function<void()> done) {
  *alive_ = false;
  if (!run_) {
    // Nothing running; finish on a later turn like every close.
    defer_on_loop(loop_, std::move(done));
    return;
  }
  CliRun* r = run_;
  run_ = nullptr;
  r->cancel(std::move(done));
}

}  // namespace duroxide::pg::auth
