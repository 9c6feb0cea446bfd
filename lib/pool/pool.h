// A pool of pipelined PostgreSQL connections on one libuv loop.
//
// Queries are spread over up to `max_size` connections; each connection carries up to
// `pipeline_depth` queries at once (libpq pipeline mode, one Sync per query, so queries never
// affect each other). Connections are opened lazily when every open one is busy. When no
// connection has room, queries wait in a FIFO queue for at most `acquire_timeout`.
//
// Threading: every method must be called on the loop thread, and every callback runs there.
// Callbacks never run inside the call that submitted them. To submit from another thread, post a
// closure to the loop with duroxide::LoopInbox.
//
// Failure contract: a query that was sent on a connection which then breaks completes with a
// retryable error and is never re-sent. Broken connections are replaced; after failed connect
// attempts the next attempt waits for an exponential backoff with jitter.
//
// Lifetime: call close(done) and wait for `done` before destroying the Pool. close() completes
// every outstanding callback (with a retryable error for queries in flight), closes every
// connection and libuv handle, then runs `done`.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "duroxide/pg/observability.h"
#include "pool/backoff.h"
#include "pool/connection.h"
#include "pool/conninfo.h"
#include "pool/query.h"

namespace duroxide::pg {

// CredentialSource and CredentialCallback are declared in pool/connection.h (the connection
// fetches the password itself, for pool and listener alike).

// Told the password (access token) a connect attempt failed to log in with (SQLSTATE 28000 or
// 28P01) when token_auth is set, so the token's owner can refresh it at once. Called on the loop
// thread from the owner's failure handling: it must not call back into the pool synchronously.
using AuthFailureHook = std::function<void(std::string_view password_used)>;

struct PoolOptions {
  std::string conninfo;          // URL or keyword/value string
  size_t max_size = 0;           // 0: $DUROXIDE_PG_POOL_MAX, else 10
  size_t pipeline_depth = 16;    // queries in flight per connection
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds acquire_timeout{30000};
  // A connection that has had nothing to do (no query in flight, not leased) for this long is
  // closed, as long as another ready connection remains: after a burst the pool shrinks back to
  // what the load uses (measured: every extra server process costs server CPU). 0 never closes.
  std::chrono::milliseconds idle_timeout{60000};
  // Server settings sent at connect; nullopt keeps the server default, 0 disables the limit.
  std::optional<std::chrono::milliseconds> statement_timeout;
  std::optional<std::chrono::milliseconds> idle_in_transaction_timeout{std::chrono::milliseconds(60000)};
  std::optional<std::chrono::milliseconds> lock_timeout;
  // Further server settings for every connection (name, value), sent at login.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string application_name = "duroxide-pg";
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{10000};
  CredentialSource credential;   // optional
  bool token_auth = false;       // the credential is a rotating token (auth errors retryable)
  AuthFailureHook on_auth_failure;  // optional; only with token_auth
  Logger log;                       // optional: connection failures and recoveries
};

// Runs options.on_auth_failure when `why` is an authentication failure of a token-authenticated
// connect attempt of `c` (shared by Pool and Listener).
void report_auth_failure(const PoolOptions& options, const Connection& c, const ProviderError& why);

// Resolves max_size = 0 as documented (environment, then 10).
size_t resolve_pool_max(size_t configured);

// Builds the connection parameters shared by pool and listener connections.
Result<ConnInfo> make_conninfo(const PoolOptions& o, std::string_view role);

class Pool;

// Exclusive use of one connection (for session-level state such as advisory locks or
// transactions spread over several queries). Released when destroyed.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();
  void query(std::string sql, Params params, QueryCallback cb);
  void query(StatementId stmt, Params params, QueryCallback cb);
  // A multi-statement script over the simple protocol (see Connection::submit_script).
  void script(std::string sql, QueryCallback cb);
  void release();

 private:
  friend class Pool;
  struct State;
  explicit Lease(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

using LeaseCallback = std::move_only_function<void(Result<Lease>)>;

class Pool final : public ConnectionOwner {
 public:
  // Validates options; opens no connection (the first query does).
  static Result<std::unique_ptr<Pool>> create(uv_loop_t* loop, PoolOptions options);
  ~Pool();

  // Registers a named statement, prepared lazily per connection. Call before use; ids are stable.
  StatementId prepare(std::string name, std::string sql);

  void query(StatementId stmt, Params params, QueryCallback cb, bool binary_result = false);
  void query(std::string sql, Params params, QueryCallback cb, bool binary_result = false);
  void acquire(LeaseCallback cb);

  void close(std::move_only_function<void()> done);
  // Fails every query and lease still waiting for a connection, on a later loop turn, with the
  // error close() gives them (retryable, "pool closed before a connection was available": never
  // sent). Queries already sent and later submissions are unaffected (the first step of a shutdown
  // that lets running work finish: c-api.md §3.5 step 3).
  void cancel_waiting();

  struct Stats {
    size_t connections;  // open or opening (not those being closed)
    size_t ready;
    size_t in_flight;
    size_t waiting;
    uint64_t connects;          // attempts started
    uint64_t connect_failures;  // attempts that never became ready
    uint64_t connections_lost;  // ready connections that failed later
    size_t idle = 0;            // ready with nothing in flight
    uint64_t idle_closed = 0;   // connections closed by idle_timeout
  };
  Stats stats() const;
  size_t max_size() const { return max_size_; }
  bool closed() const { return closing_; }

  // ConnectionOwner
  void connection_ready(Connection& c) override;
  void connection_has_room(Connection& c) override;
  void connection_failed(Connection& c, const ProviderError& why) override;
  void connection_closed(Connection& c) override;

 private:
  friend class Lease;
  Pool(uv_loop_t* loop, PoolOptions options, ConnInfo info);

  struct Slot {
    Connection* conn;
    bool leased = false;
    bool reserved = false;  // draining for a lease waiter: no new queries
    bool was_ready = false;
    uint64_t last_busy = 0;  // uv_now() of its last query submission, completion or lease
  };
  struct LeaseWaiter {
    LeaseCallback cb;
    uint64_t deadline;
  };
  struct QueryWaiter {
    QueryRequest req;
    uint64_t deadline;
  };

  void submit(QueryRequest&& q);
  void send(Slot& s, QueryRequest&& q);
  void pump();
  void grow_if_needed();
  void spawn();
  Slot* find(Connection& c);
  Slot* pick_for_query();
  void fail_waiters(const ProviderError& why);
  void arm_timer();
  void on_timer();
  void start_idle_sweep();
  void sweep_idle();
  void defer(QueryCallback cb, ProviderError e);
  void release_lease(Connection* c);
  void maybe_done();

  uv_loop_t* loop_;
  PoolOptions options_;
  ConnInfo info_;
  size_t max_size_;
  std::vector<StatementDef> statements_;
  std::vector<Slot> slots_;
  size_t connecting_ = 0;
  std::deque<QueryWaiter> query_waiters_;
  std::deque<LeaseWaiter> lease_waiters_;
  std::vector<std::shared_ptr<Lease::State>> leases_;
  Backoff backoff_;
  std::minstd_rand rng_;
  uint64_t connects_ = 0;
  uint64_t connect_failures_ = 0;
  uint64_t connections_lost_ = 0;
  uint64_t next_spawn_at_ = 0;  // uv_now() before which no connect starts (backoff)
  uv_timer_t timer_;            // acquire deadlines and backoff wake-up
  uv_timer_t defer_timer_;      // completes calls that fail before any I/O, on the next turn
  uv_timer_t idle_timer_;       // idle_timeout sweep, running while more than one slot exists
  uint64_t idle_closed_ = 0;
  std::vector<std::pair<QueryCallback, ProviderError>> deferred_;
  int open_handles_ = 0;
  bool closing_ = false;
  std::move_only_function<void()> on_closed_;
};

}  // namespace duroxide::pg
