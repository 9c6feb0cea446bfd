// Private state of PostgresProvider, shared by the files that implement its operations.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include "duroxide/pg/observability.h"
#include "duroxide/pg/postgres_provider.h"
#include "duroxide/wire.h"
#include "pool/listener.h"
#include "pool/pool.h"
#include "provider/deferred.h"
#include "provider/long_poll.h"

namespace duroxide::pg {

// Named statements of the provider, registered with the pool once per provider.
struct Statements {
  StatementId enqueue_orchestrator, enqueue_worker;
  StatementId fetch_orchestration, ack_orchestration, ack_orchestration_async, abandon_orchestration,
      renew_orchestration;
  StatementId read_latest, read_execution, append;
  StatementId fetch_work, ack_work, renew_work, abandon_work;
  StatementId renew_sessions, cleanup_sessions;
  StatementId custom_status, kv_value, kv_all, instance_stats;
  // ProviderAdmin (admin_ops.cpp, prepare_admin_statements).
  StatementId admin_list_instances, admin_list_by_status, admin_list_executions, admin_latest_execution,
      admin_instance_info, admin_execution_info, admin_system_metrics, admin_queue_depths, admin_list_children,
      admin_parent_id, admin_delete_atomic, admin_instance_tree, admin_delete_instance, admin_delete_bulk,
      admin_prune, admin_prune_bulk;
  StatementId notify_one, notify_both;
};

struct PostgresProvider::PoolSetup {
  std::string conninfo;          // never printed
  CredentialSource credential;   // Entra mode: the current access token for each new connection
  bool token_auth = false;       // authentication failures are retryable (rotating token)
  AuthFailureHook on_auth_failure;  // Entra mode: a login refused the token (refresh it now)
  // Stops background work tied to the provider (the Entra refresher); run first by close(), which
  // continues once `done` is called.
  std::move_only_function<void(std::move_only_function<void()> done)> shutdown;
  // Runs `shutdown` when there is one, then `next`.
  void stop_then(std::move_only_function<void()> next) {
    if (shutdown) shutdown(std::move(next));
    else next();
  }
};

struct PostgresProvider::Impl {
  Impl(uv_loop_t* loop, std::string schema, PostgresProviderOptions options, std::unique_ptr<Pool> pool);

  uv_loop_t* loop;
  std::string schema;
  std::string quoted;          // schema as a quoted identifier
  std::string orch_channel;    // notification channels derived from the schema (contract §6.4)
  std::string worker_channel;
  PostgresProviderOptions options;
  PoolSetup setup;  // also configures the listening connection
  std::unique_ptr<Pool> pool;
  std::unique_ptr<Listener> listener;
  Statements st;
  WireDecoder decoder;
  Deferred deferred;
  Deferred notify_later;  // flush_notifications, kNotifyDelayMs later (see notify_committed)
  PollHub polls;
  // Tokens whose ack ended with a lost connection: the outcome is unknown, so the next ack with
  // the token asks the database whether it had committed (contract §5.2, ambiguous commit).
  std::unordered_set<std::string> ambiguous_acks;
  // Keeps ambiguous_acks up to date with the answer to an ack of `token`: a lost connection leaves
  // the outcome unknown (the next ack with this token asks), any other answer ends its story.
  void settle_ack(const std::string& token, const Result<QueryResult>& r) {
    if (!r && r.error().retryable && r.error().sqlstate.empty()) ambiguous_acks.insert(token);
    else if (r || !r.error().retryable) ambiguous_acks.erase(token);
  }
  bool closing = false;
  bool closed = false;  // close() has completed
  std::vector<std::move_only_function<void()>> close_waiters;  // later close() calls during close

  int64_t now() const;
  void prepare_statements();
  void prepare_admin_statements();  // admin_ops.cpp
  // Channel parameter for a writing function: the channel when notifying inside the transaction,
  // else NULL (the provider notifies after commit through notify_committed).
  void add_channel(Params& p, QueueKind kind) const {
    if (options.notify_in_transaction) p.add(kind == QueueKind::kOrchestrator ? orch_channel : worker_channel);
    else p.add_null();
  }
  // A write of `kind` committed: NOTIFY its channel (every process's waiters, ours included, hear
  // it through their listener) on the next loop turn, or kNotifyDelayMs later while other queries
  // are in flight, coalescing the writes that commit meanwhile and while the previous NOTIFY is
  // still in flight into one.
  void notify_committed(QueueKind kind);
  void flush_notifications();
  bool notify_dirty[2] = {false, false};
  bool notify_scheduled = false;
  bool notify_in_flight = false;
  // Closes the two Deferred timers, running what they hold, then `done`.
  void close_timers(std::move_only_function<void()> done);
  void ensure_listener();

  // ---- observability (metrics.cpp) ----
  std::map<std::string, OperationMetrics, std::less<>> op_metrics;
  std::map<std::string, uint64_t> errors_by_class;
  uint64_t notifications_received = 0;
  // Wraps an operation's callback so that its completion is counted and timed.
  template <class T>
  Callback<T> track(std::string_view op, Callback<T> cb) {
    return [this, op, t0 = uv_hrtime(), cb = std::move(cb)](Result<T> r) mutable {
      record(op, t0, r ? nullptr : &r.error());
      cb(std::move(r));
    };
  }
  void record(std::string_view op, uint64_t start_ns, const ProviderError* error);
  Logger log_sink;  // options.logger behind options.log_level: the pool's logger
  void log(LogLevel level, std::string_view message) const {
    if (log_sink) log_sink(level, message);
  }
  ProviderMetrics metrics() const;

  // Completes `cb` with `e` on the next loop turn (never inside the caller's call).
  template <class T>
  void fail_later(Callback<T>& cb, ProviderError e) {
    deferred.post([cb = std::move(cb), e = std::move(e)]() mutable { cb(std::unexpected(std::move(e))); });
  }
  // A permanent error for operations started after close().
  static ProviderError closed_error(std::string_view op) {
    return permanent_error(std::string(op), "provider is closed");
  }
};

// options.logger restricted to options.log_level; empty without a logger.
inline Logger level_filtered_logger(const PostgresProviderOptions& o) {
  if (!o.logger) return {};
  return [logger = o.logger, min = o.log_level](LogLevel level, std::string_view m) {
    if (level >= min) logger(level, m);
  };
}

// The operation name replaces the pool's generic "query".
inline ProviderError op_error(std::string_view op, ProviderError e) {
  e.operation = std::string(op);
  return e;
}

// Validation helpers shared by operations (contract §2.4, §9.3).
ProviderError invalid_argument(std::string_view op, std::string_view what);
// ids are u64 but stored as int8: values above INT64_MAX are rejected.
bool fits_int64(uint64_t v);
// A random UUIDv4 from OpenSSL's CSPRNG.
std::string new_lock_token();
// Decodes history rows (execution_id, event_id, event_data); an unreadable event fails the read
// permanently (contract §5.5, §8: never an empty or partial list).
Result<std::vector<Event>> decode_history(PostgresProvider::Impl& s, std::string_view op, const QueryResult& r);
// Milliseconds clamped to >= 0 (contract §2.2: a negative duration counts as zero).
inline int64_t ms(Millis d) { return d.count() < 0 ? 0 : d.count(); }

}  // namespace duroxide::pg
