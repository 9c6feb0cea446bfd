// Private state of PostgresProvider, shared by the files that implement its operations.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_set>

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
  StatementId fetch_orchestration, ack_orchestration, abandon_orchestration, renew_orchestration;
  StatementId read_latest, read_execution, append;
  StatementId fetch_work, ack_work, renew_work, abandon_work;
  StatementId renew_sessions, cleanup_sessions;
  StatementId custom_status, kv_value, kv_all, instance_stats;
};

struct PostgresProvider::Impl {
  Impl(uv_loop_t* loop, std::string schema, PostgresProviderOptions options, std::unique_ptr<Pool> pool);

  uv_loop_t* loop;
  std::string schema;
  std::string quoted;          // schema as a quoted identifier
  std::string orch_channel;    // notification channels derived from the schema (contract §6.4)
  std::string worker_channel;
  PostgresProviderOptions options;
  std::string options_conninfo;  // for the listening connection; never printed
  std::unique_ptr<Pool> pool;
  std::unique_ptr<Listener> listener;
  Statements st;
  WireDecoder decoder;
  Deferred deferred;
  PollHub polls;
  // Tokens whose ack ended with a lost connection: the outcome is unknown, so the next ack with
  // the token asks the database whether it had committed (contract §5.2, ambiguous commit).
  std::unordered_set<std::string> ambiguous_acks;
  bool closing = false;

  int64_t now() const;
  void prepare_statements();
  void ensure_listener();

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
// Milliseconds clamped to >= 0 (contract §2.2: a negative duration counts as zero).
inline int64_t ms(Millis d) { return d.count() < 0 ? 0 : d.count(); }

}  // namespace duroxide::pg
