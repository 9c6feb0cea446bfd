// Construction, statements, close, and the helpers every operation shares.
#include "duroxide/pg/postgres_provider.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>

#include "provider/impl.h"
#include "sql/migrate.h"
#include "sql/schema_name.h"

namespace duroxide::pg {

namespace {

// How long a NOTIFY waits while this process has other queries in flight. Well inside the pickup
// latency the contract allows (§6.3: 100 ms plus a scan), it coalesces the completions of a burst
// into one NOTIFY and moves the listener's wake-up, and the fetches it triggers, off the moment the
// writer's next call runs. bench/fanout, interleaved A/B against sending on the next loop turn:
// reference 35.9 -> 36.3 orch/s, throughput 307 -> 328. An idle process notifies at once, so a
// lone write is still picked up in about a millisecond (bench/pickup_latency).
constexpr uint64_t kNotifyDelayMs = 2;

}  // namespace

ProviderError invalid_argument(std::string_view op, std::string_view what) {
  return ProviderError{std::string(op), "Invalid argument: " + std::string(what), false, "QD008"};
}

bool fits_int64(uint64_t v) { return v <= static_cast<uint64_t>(INT64_MAX); }

std::string new_lock_token() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // OpenSSL's generator failing is not recoverable in a meaningful way; fall back to the OS.
    FILE* f = std::fopen("/dev/urandom", "rb");
    if (!f || std::fread(b, 1, sizeof b, f) != sizeof b) std::abort();
    std::fclose(f);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

PostgresProvider::Impl::Impl(uv_loop_t* l, std::string s, PostgresProviderOptions o, std::unique_ptr<Pool> p)
    : loop(l),
      schema(std::move(s)),
      quoted(quote_identifier(schema)),
      orch_channel("duroxide_" + schema + "_o"),
      worker_channel("duroxide_" + schema + "_w"),
      options(std::move(o)),
      pool(std::move(p)),
      deferred(l),
      notify_later(l, kNotifyDelayMs),
      polls(l, options.notify_fallback_interval) {
  prepare_statements();
}

int64_t PostgresProvider::Impl::now() const {
  if (options.clock) return options.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PostgresProvider::Impl::prepare_statements() {
  const std::string& q = quoted;
  auto fn = [&](const char* name, std::string sql) { return pool->prepare(name, std::move(sql)); };
  // synchronous_commit is read at commit, after the statement: set_config in the same statement
  // governs this transaction only (see PostgresProviderOptions::flush_every_ack).
  const std::string never_flush = ", set_config('synchronous_commit', 'off', true)";
  const std::string async_commit = options.flush_every_ack ? std::string() : never_flush;
  st.enqueue_orchestrator = fn("dx_enqueue_orch", "SELECT " + q + ".enqueue_for_orchestrator($1, $2, $3, $4, $5, $6)");
  st.enqueue_worker = fn("dx_enqueue_work", "SELECT " + q + ".enqueue_for_worker($1, $2, $3, $4, $5, $6, $7, $8, $9)");
  st.fetch_orchestration = fn("dx_fetch_orch",
      "SELECT row_type, instance_id, execution_id, orchestration_name, orchestration_version, "
      "meta_source, lock_token, attempt_count, seq, body, kv_value, kv_updated_at, next_wake_at FROM " +
      q + ".fetch_orchestration_item($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
  auto ack_orchestration = [&](const std::string& commit) {
    return "SELECT applied, wake_orchestrators" + commit + " FROM " + q +
           ".ack_orchestration_item($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
           "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, "
           "$33, $34, $35, $36, $37)";
  };
  st.ack_orchestration = fn("dx_ack_orch", ack_orchestration(""));
  st.ack_orchestration_async = fn("dx_ack_orch_async", ack_orchestration(async_commit));
  st.abandon_orchestration = fn("dx_abandon_orch", "SELECT " + q + ".abandon_orchestration_item($1, $2, $3, $4, $5)");
  st.renew_orchestration = fn("dx_renew_orch", "SELECT " + q + ".renew_orchestration_item_lock($1, $2, $3)");
  st.read_latest = fn("dx_read", "SELECT execution_id, event_id, event_data FROM " + q + ".read_history($1)");
  st.read_execution = fn("dx_read_exec",
      "SELECT execution_id, event_id, event_data FROM " + q + ".read_history_with_execution($1, $2)");
  st.append = fn("dx_append", "SELECT " + q + ".append_with_execution($1, $2, $3, $4, $5, $6)");
  st.fetch_work = fn("dx_fetch_work",
      "SELECT row_type, id, work_item, lock_token, attempt_count, next_wake_at FROM " + q +
      ".fetch_work_item($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
  st.ack_work = fn("dx_ack_work", "SELECT " + q + ".ack_work_item($1, $2, $3, $4, $5, $6, $7)" + async_commit);
  st.renew_work = fn("dx_renew_work", "SELECT " + q + ".renew_work_item_lock($1, $2, $3)");
  st.abandon_work = fn("dx_abandon_work", "SELECT " + q + ".abandon_work_item($1, $2, $3, $4, $5)");
  // A NOTIFY takes a transaction id, so its transaction writes a commit record; committed
  // synchronously it would wait for a WAL flush holding the cluster-wide notify lock, and stall
  // every statement pipelined behind it on the same connection. It carries no data: never flush.
  st.notify_one = fn("dx_notify_one", "SELECT pg_notify($1, $2)" + never_flush);
  st.notify_both = fn("dx_notify_both", "SELECT pg_notify($1, $3), pg_notify($2, $3)" + never_flush);
  // The session, status and KV reads are single statements; they need no server-side function.
  st.renew_sessions = fn("dx_renew_sessions",
      "UPDATE " + q + ".sessions SET locked_until = " + q + ".sat_add($1, $3) "
      "WHERE worker_id = ANY($2::text[]) AND locked_until > $1 AND last_activity_at > $1 - $4");
  st.cleanup_sessions = fn("dx_cleanup_sessions",
      "DELETE FROM " + q + ".sessions s WHERE s.locked_until < $1 AND NOT EXISTS "
      "(SELECT 1 FROM " + q + ".worker_queue w WHERE w.session_id = s.session_id)");
  st.custom_status = fn("dx_custom_status",
      "SELECT custom_status, custom_status_version FROM " + q + ".instances "
      "WHERE instance_id = $1 AND custom_status_version > $2");
  st.kv_value = fn("dx_kv_value",
      "SELECT d.value AS delta_value, (d.instance_id IS NOT NULL) AS in_delta, s.value AS store_value "
      "FROM (SELECT 1) one "
      "LEFT JOIN " + q + ".kv_delta d ON d.instance_id = $1 AND d.key = $2 "
      "LEFT JOIN " + q + ".kv_store s ON s.instance_id = $1 AND s.key = $2");
  st.kv_all = fn("dx_kv_all",
      "SELECT coalesce(d.key, s.key), CASE WHEN d.key IS NOT NULL THEN d.value ELSE s.value END "
      "FROM (SELECT key, value FROM " + q + ".kv_store WHERE instance_id = $1) s "
      "FULL JOIN (SELECT key, value FROM " + q + ".kv_delta WHERE instance_id = $1) d ON d.key = s.key "
      "WHERE CASE WHEN d.key IS NOT NULL THEN d.value IS NOT NULL ELSE true END");
  st.instance_stats = fn("dx_instance_stats",
      "WITH cur AS ("
      "  SELECT coalesce((SELECT current_execution_id FROM " + q + ".instances WHERE instance_id = $1),"
      "                  (SELECT max(execution_id) FROM " + q + ".executions WHERE instance_id = $1)) AS exec_id),"
      " kv AS ("
      "  SELECT CASE WHEN d.key IS NOT NULL THEN d.value ELSE s.value END AS value "
      "  FROM (SELECT key, value FROM " + q + ".kv_store WHERE instance_id = $1) s "
      "  FULL JOIN (SELECT key, value FROM " + q + ".kv_delta WHERE instance_id = $1) d ON d.key = s.key) "
      "SELECT cur.exec_id,"
      " (SELECT count(*) FROM " + q + ".history h WHERE h.instance_id = $1 AND h.execution_id = cur.exec_id),"
      " (SELECT coalesce(sum(octet_length(h.event_data)), 0) FROM " + q + ".history h "
      "   WHERE h.instance_id = $1 AND h.execution_id = cur.exec_id),"
      " (SELECT h.event_data FROM " + q + ".history h WHERE h.instance_id = $1 AND h.execution_id = cur.exec_id "
      "   AND h.event_id = 1),"
      " (SELECT count(*) FROM kv WHERE value IS NOT NULL),"
      " (SELECT coalesce(sum(octet_length(value)), 0) FROM kv WHERE value IS NOT NULL) "
      "FROM cur");
  prepare_admin_statements();
}

void PostgresProvider::Impl::notify_committed(QueueKind kind) {
  if (options.notify_in_transaction || closing) return;
  notify_dirty[static_cast<int>(kind)] = true;
  if (notify_scheduled) return;
  notify_scheduled = true;
  deferred.post([this] {
    // On the next loop turn: when this process has queries in flight (typically the writer's next
    // call), wait kNotifyDelayMs; when it is idle, notify at once (bench/pickup_latency).
    if (pool->stats().in_flight > 0) notify_later.post([this] { flush_notifications(); });
    else flush_notifications();
  });
}

void PostgresProvider::Impl::close_timers(std::move_only_function<void()> done) {
  notify_later.close([this, done = std::move(done)]() mutable { deferred.close(std::move(done)); });
}

void PostgresProvider::Impl::flush_notifications() {
  notify_scheduled = false;
  // One NOTIFY at a time: writes that commit meanwhile are covered by the next one, sent when
  // this one completes (so still after their commit). Each NOTIFY is a transaction that wakes every
  // listening session; in the fan-out throughput configuration this cut them from 4.3 to 2.3 per
  // orchestration.
  if (notify_in_flight) return;
  const bool o = notify_dirty[0], w = notify_dirty[1];
  notify_dirty[0] = notify_dirty[1] = false;
  if (closing || (!o && !w)) return;
  // A failure only costs a hint (waiters still wake at their deadline or wake-up instant), so
  // the result is ignored.
  auto sent = [this](Result<QueryResult>) {
    notify_in_flight = false;
    if (notify_dirty[0] || notify_dirty[1]) flush_notifications();
  };
  const std::string payload = std::to_string(now());
  notify_in_flight = true;
  if (o && w) {
    pool->query(st.notify_both, Params().add(orch_channel).add(worker_channel).add(payload), std::move(sent));
  } else {
    pool->query(st.notify_one, Params().add(o ? orch_channel : worker_channel).add(payload), std::move(sent));
  }
}

void PostgresProvider::Impl::ensure_listener() {
  if (listener || closing) return;
  PoolOptions lo;
  lo.conninfo = setup.conninfo;
  lo.credential = setup.credential;
  lo.token_auth = setup.token_auth;
  lo.on_auth_failure = setup.on_auth_failure;
  lo.application_name = options.application_name;
  lo.connect_timeout = options.connect_timeout;
  lo.statement_timeout = std::nullopt;
  Listener::Callbacks cbs;
  cbs.on_notify = [this](std::string_view channel, std::string_view) {
    ++notifications_received;
    if (channel == orch_channel) polls.notify(QueueKind::kOrchestrator);
    else if (channel == worker_channel) polls.notify(QueueKind::kWorker);
  };
  cbs.on_subscribed = [this] {
    log(LogLevel::kInfo, "listener: subscribed to the queue notifications of schema " + schema);
    polls.subscribed();
  };
  cbs.on_lost = [this](const ProviderError& why) {
    log(LogLevel::kWarn, "listener: lost (" + why.message + "); waiting fetches rescan every " +
                             std::to_string(options.notify_fallback_interval.count()) + " ms meanwhile");
    polls.lost();
  };
  auto l = Listener::create(loop, lo, std::move(cbs));
  if (!l) return;  // the URL parsed for the pool already; waiters fall back to interval rescans
  listener = std::move(*l);
  listener->listen(orch_channel);
  listener->listen(worker_channel);
}

// ---- construction ----------------------------------------------------------------------------

void PostgresProvider::create(uv_loop_t* loop, std::string database_url, PostgresProviderOptions options,
                              CreateCallback cb) {
  create_with_schema(loop, std::move(database_url), "public", std::move(options), std::move(cb));
}

void PostgresProvider::create_with_schema(uv_loop_t* loop, std::string database_url, std::string schema,
                                          PostgresProviderOptions options, CreateCallback cb) {
  PoolSetup setup;
  setup.conninfo = std::move(database_url);
  create_from(loop, std::move(setup), std::move(schema), std::move(options), std::move(cb));
}

void PostgresProvider::create_from(uv_loop_t* loop, PoolSetup setup, std::string schema,
                                   PostgresProviderOptions options, CreateCallback cb) {
  PoolOptions po;
  po.conninfo = setup.conninfo;
  po.credential = setup.credential;
  po.token_auth = setup.token_auth;
  po.on_auth_failure = setup.on_auth_failure;
  po.max_size = options.pool_max;
  po.pipeline_depth = options.pipeline_depth;
  po.connect_timeout = options.connect_timeout;
  po.acquire_timeout = options.acquire_timeout;
  po.idle_timeout = options.pool_idle_timeout;
  po.statement_timeout = options.statement_timeout;
  po.lock_timeout = options.lock_timeout;
  po.idle_in_transaction_timeout = options.idle_in_transaction_timeout;
  po.application_name = options.application_name;
  po.log = level_filtered_logger(options);
  // The server functions run their statements with plpgsql variables as parameters; custom plans
  // re-plan every statement on every call (measured: a third of the server's CPU). The queries are
  // index lookups whose best plan does not depend on the values.
  po.settings.emplace_back("plan_cache_mode", "force_generic_plan");
  Result<void> valid = validate_schema_name(schema);
  Result<std::unique_ptr<Pool>> pool = valid ? Pool::create(loop, po) : fail(valid.error());
  if (!pool) {
    // Report on the next loop turn through a one-shot timer (no provider exists to defer with).
    struct Pending {
      uv_timer_t timer;
      CreateCallback cb;
      ProviderError error;
      PoolSetup setup;
    };
    auto* p = new Pending{{}, std::move(cb), pool.error(), std::move(setup)};
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, [](uv_timer_t* t) {
      uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
        auto* pending = static_cast<Pending*>(h->data);
        auto report = [pending] {
          auto callback = std::move(pending->cb);
          ProviderError e = std::move(pending->error);
          delete pending;
          callback(std::unexpected(std::move(e)));
        };
        pending->setup.stop_then(std::move(report));
      });
    }, 0, 0);
    return;
  }
  auto impl = std::make_unique<Impl>(loop, schema, std::move(options), std::move(*pool));
  impl->setup = std::move(setup);
  impl->log_sink = po.log;
  Impl* raw = impl.get();
  const int64_t now = raw->now();
  migrate_schema(*raw->pool, schema, now,
                 [impl = std::move(impl), cb = std::move(cb)](Result<MigrationReport> r) mutable {
                   if (!r) {
                     // Tear down what was built, then report.
                     Impl* dying = impl.get();
                     auto shared_cb = std::make_shared<CreateCallback>(std::move(cb));
                     ProviderError e = r.error();
                     dying->log(LogLevel::kError, "create: " + e.to_string());
                     auto teardown = [dying, impl = std::move(impl), shared_cb, e]() mutable {
                       dying->pool->close([impl = std::move(impl), shared_cb, e]() mutable {
                         impl->close_timers([impl = std::move(impl), shared_cb, e]() mutable {
                           auto keep = std::move(impl);
                           (*shared_cb)(std::unexpected(e));
                         });
                       });
                     };
                     dying->setup.stop_then(std::move(teardown));
                     return;
                   }
                   impl->log(LogLevel::kInfo, "schema " + impl->schema + " at version " +
                                                  std::to_string(r->schema_version) + " (" +
                                                  std::to_string(r->applied) + " migration(s) applied now)");
                   cb(std::unique_ptr<PostgresProvider>(new PostgresProvider(std::move(impl))));
                 });
}

PostgresProvider::PostgresProvider(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PostgresProvider::~PostgresProvider() = default;

const std::string& PostgresProvider::schema() const { return impl_->schema; }

ProviderMetrics PostgresProvider::metrics() const { return impl_->metrics(); }

std::string_view PostgresProvider::version() const { return "0.1.0"; }

void PostgresProvider::initialize_schema(Callback<void> cb) {
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("initialize_schema"));
  migrate_schema(*s.pool, s.schema, s.now(), [cb = std::move(cb)](Result<MigrationReport> r) mutable {
    if (!r) return cb(std::unexpected(op_error("initialize_schema", r.error())));
    cb({});
  });
}

void PostgresProvider::start_listening() { impl_->ensure_listener(); }

void PostgresProvider::drop_schema(Callback<void> cb) {
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("drop_schema"));
  drop_schema_objects(*s.pool, s.schema, [cb = std::move(cb)](Result<void> r) mutable {
    if (!r) return cb(std::unexpected(op_error("drop_schema", r.error())));
    cb({});
  });
}

void PostgresProvider::begin_close() {
  Impl& s = *impl_;
  if (s.closing) return;
  s.polls.stop();
  s.pool->cancel_waiting();
}

void PostgresProvider::close(std::move_only_function<void()> done) {
  Impl& s = *impl_;
  if (s.closing) {
    // A later close() completes when the first one has (on a later loop turn if it already has).
    if (s.closed) s.deferred.post(std::move(done));
    else s.close_waiters.push_back(std::move(done));
    return;
  }
  s.closing = true;
  auto finish = std::make_shared<std::move_only_function<void()>>(std::move(done));
  auto after_shutdown = [&s, finish] {
    s.polls.close([&s, finish] {
      auto after_listener = [&s, finish] {
        s.pool->close([&s, finish] {
          s.close_timers([&s, finish] {
            s.closed = true;
            auto waiters = std::move(s.close_waiters);
            (*finish)();  // may destroy the provider: `waiters` is local
            for (auto& w : waiters) w();
          });
        });
      };
      if (s.listener) s.listener->close(std::move(after_listener));
      else after_listener();
    });
  };
  s.setup.stop_then(std::move(after_shutdown));
}

}  // namespace duroxide::pg
