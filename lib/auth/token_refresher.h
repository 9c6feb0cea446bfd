// Keeps a current access token for one provider: acquires the first, renews it in the background
// ahead of expiry (auth/refresh_schedule.h), hands it to every new connection through the pool's
// credential hook, and refreshes at once when a login refuses it.
//
// Single-flight: at most one get_token is outstanding. The old token is served until it expires,
// so a failing identity endpoint does not stop new connections while the token is still good.
// Loop thread only. Owned through shared_ptr by the hooks of PostgresProvider::PoolSetup;
// shutdown() must complete before the last reference goes away.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "auth/refresh_schedule.h"
#include "duroxide/pg/entra.h"
#include "pool/connection.h"

namespace duroxide::pg::auth {

// A token source that owns libuv handles (the built-in HTTP and CLI sources): the refresher waits
// for close() to finish before it reports its own shutdown complete.
class LoopTokenSource : public TokenSource {
 public:
  virtual void close(std::move_only_function<void()> done) = 0;
};

class TokenRefresher : public std::enable_shared_from_this<TokenRefresher> {
 public:
  struct Config {
    std::string scope;
    RefreshPolicy policy;
    std::function<std::int64_t()> clock;  // epoch ms; empty: the system clock
  };

  static std::shared_ptr<TokenRefresher> create(uv_loop_t* loop, std::shared_ptr<TokenSource> source,
                                                Config config);
  ~TokenRefresher();

  // Acquires the first token, then keeps refreshing. `cb` gets the source's error when it fails.
  void start(std::move_only_function<void(Result<void>)> cb);

  // The pool's CredentialSource: the current token, or (when none is valid) the outcome of a
  // refresh. May call `cb` synchronously.
  void credential(CredentialCallback cb);

  // A login was refused with `token_used` (SQLSTATE 28000/28P01). When that is still the current
  // token, refreshes now — once per token, so a source that keeps returning a refused token is not
  // hammered; new connections wait for that refresh instead of taking the refused token.
  void auth_failed(std::string_view token_used);

  // Stops the timer, abandons an outstanding get_token, fails waiting credential calls, closes a
  // built-in source's handles, then calls `done` (on a later loop turn).
  void shutdown(std::move_only_function<void()> done);

  // For tests and diagnostics.
  std::uint64_t refreshes_started() const { return refreshes_started_; }
  std::uint64_t generation() const { return generation_; }
  std::int64_t next_refresh_at_ms() const { return next_at_ms_; }

 private:
  TokenRefresher(uv_loop_t* loop, std::shared_ptr<TokenSource> source, Config config);
  std::int64_t now() const;
  bool current_valid() const;
  void refresh(bool forced);
  void on_token(Result<AccessToken> r);
  void arm(std::int64_t at_ms);
  void serve_waiters();

  uv_loop_t* loop_;
  std::shared_ptr<TokenSource> source_;
  Config config_;
  uv_timer_t timer_;
  std::minstd_rand rng_;
  std::optional<AccessToken> current_;
  std::uint64_t generation_ = 0;         // bumps when a different token arrives
  std::uint64_t forced_generation_ = UINT64_MAX;  // the generation a forced refresh was made for
  bool in_flight_ = false;
  bool forced_in_flight_ = false;
  bool retry_pending_ = false;           // the last refresh failed; the timer holds the retry
  unsigned failures_ = 0;
  std::optional<ProviderError> last_error_;
  std::int64_t next_at_ms_ = 0;
  std::uint64_t refreshes_started_ = 0;
  std::move_only_function<void(Result<void>)> start_cb_;
  std::vector<CredentialCallback> waiters_;
  bool stopped_ = false;
  bool timer_closed_ = false;
  std::move_only_function<void()> shutdown_done_;
  std::shared_ptr<TokenRefresher> keepalive_;  // held during shutdown
};

}  // namespace duroxide::pg::auth
