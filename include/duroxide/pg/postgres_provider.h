// duroxide/pg/postgres_provider.h — the PostgreSQL implementation of duroxide::Provider.
//
// One PostgresProvider owns a connection pool (pipelined libpq connections) and, once a fetch long
// polls, one listening connection, all on the caller's libuv loop. Every rule of
// duroxide/provider.h applies: loop thread only, one callback per call, never inside the call.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "duroxide/pg/entra.h"
#include "duroxide/pg/observability.h"
#include "duroxide/provider.h"
#include "duroxide/provider_admin.h"

namespace duroxide::pg {

struct PostgresProviderOptions {
  // Connections in the pool; 0 means $DUROXIDE_PG_POOL_MAX, else 10. Connections are pipelined, so
  // a few keep a server busy: with a small server on the same machine, about one per server core
  // was fastest in bench/fanout (README, "Pool size"); more pay off with more cores or latency.
  std::size_t pool_max = 0;
  // Queries in flight per connection (libpq pipeline mode).
  std::size_t pipeline_depth = 8;
  Millis connect_timeout{10000};
  // How long an operation may wait for a pool connection before failing (retryable).
  Millis acquire_timeout{30000};
  // A pooled connection left without work (nothing in flight) for this long is closed, down to one
  // open connection, so that the pool shrinks back after a burst; the next burst opens connections
  // again (each costs a connect, and with Entra a token). 0 keeps every connection open. The C API
  // uses the default.
  Millis pool_idle_timeout{60000};
  // Server settings statement_timeout, lock_timeout and idle_in_transaction_session_timeout of the
  // query connections (migrations included), sent at connect: nullopt keeps the server's (or
  // role's) value, 0 disables the limit, anything else is the limit.
  std::optional<Millis> statement_timeout{Millis(30000)};
  std::optional<Millis> lock_timeout;
  std::optional<Millis> idle_in_transaction_timeout{Millis(60000)};
  // Prefix of application_name; the role is appended (":query", ":listen").
  std::string application_name = "duroxide-pg";
  // The provider clock in epoch milliseconds (contract §2.3); empty means the system wall clock.
  std::function<std::int64_t()> clock;
  // Orphan deferral and quarantine delays (contract §7.2, §7.3, §10.4).
  Millis orphan_defer_min{1000};
  Millis orphan_defer_max{60000};
  Millis quarantine_base{1000};
  Millis quarantine_max{60000};
  // While the listening connection is down, waiting fetches rescan this often (contract §6.6).
  Millis notify_fallback_interval{1000};
  // Where queue notifications are sent (contract §6.4). false (default): right after the write's
  // commit is confirmed, coalesced per loop turn into one NOTIFY per channel. true: pg_notify
  // inside each writing transaction, as the contract words it — PostgreSQL then serialises every
  // notifying commit cluster-wide behind one lock (group commit is lost; about 3x fewer writes/s
  // measured). Either way a notification is sent only for committed writes; after-commit can lose
  // one hint if the process dies between commit and notify (waiters then wake at their deadline).
  // Fetch-time orphan deferral and quarantine always notify inside their transaction (rare).
  bool notify_in_transaction = false;
  // Which acks wait for their WAL flush (synchronous commit). Enqueues, appends, admin changes and
  // turns that end an execution (metadata.status Completed, Failed, ContinuedAsNew, ...) always
  // do; fetches, renewals and abandons never need to (they only move leases). false (default):
  // ack_work_item and non-final ack_orchestration_item commit asynchronously too. A server crash
  // can then lose the last few hundred milliseconds of such acks although they reported success.
  // PostgreSQL writes WAL in order, so what is lost is always a tail of asynchronous commits with
  // nothing durable after it: the queues return to an earlier consistent state and the lost work
  // runs again (at-least-once, exactly as if the worker had died before acking). true: every ack
  // survives a crash once it has reported success, at one WAL flush per ack (on a disk with a
  // 3.5 ms fdatasync that halves the reference fan-out throughput; see README).
  bool flush_every_ack = false;
  // Receives log lines at or above log_level (connection loss and recovery, listener state,
  // migrations, close); empty: nothing is logged. See duroxide/pg/observability.h.
  Logger logger;
  LogLevel log_level = LogLevel::kInfo;
};

class PostgresProvider final : public Provider, public ProviderAdmin {
 public:
  using CreateCallback = std::move_only_function<void(Result<std::unique_ptr<PostgresProvider>>)>;

  // Connects, validates the schema name, applies migrations, and completes `cb` on the loop thread
  // with the ready provider or a clear error (an invalid schema name fails before any I/O with
  // SQLSTATE QD008). `database_url` is a libpq URL or keyword string; it never appears in errors.
  static void create(uv_loop_t* loop, std::string database_url, PostgresProviderOptions options,
                     CreateCallback cb);
  static void create_with_schema(uv_loop_t* loop, std::string database_url, std::string schema,
                                 PostgresProviderOptions options, CreateCallback cb);

  // Entra ID mode (duroxide/pg/entra.h): connects to `target` with sslmode=verify-full, using an
  // access token from `auth` as the password. The first token is acquired before connecting; when
  // no source yields one, `cb` receives a retryable error naming every source tried and why it
  // failed. Defined in lib/auth/.
  static void create_entra(uv_loop_t* loop, EntraTarget target, EntraAuthOptions auth,
                           PostgresProviderOptions options, CreateCallback cb);
  static void create_entra_with_schema(uv_loop_t* loop, EntraTarget target, std::string schema,
                                       EntraAuthOptions auth, PostgresProviderOptions options,
                                       CreateCallback cb);

  // Destroy only after close() has completed.
  ~PostgresProvider() override;

  // Stops accepting operations (they fail permanently), completes long-polling fetches with an
  // empty result, completes or fails (retryable) everything in flight, closes every connection and
  // handle, then calls `done`.
  void close(std::move_only_function<void()> done);
  // The first half of a graceful close, for callers that give running work a grace period before
  // close(): every long-polling fetch completes now with an empty result and no fetch scans the
  // database again (later fetches return empty at once), and every query still waiting for a
  // pooled connection fails on the next loop turn with the retryable error "pool closed before a
  // connection was available" — it was never sent, so it had no effect. Queries already sent run
  // to completion; operations started afterwards (other than fetches) still run. Idempotent.
  void begin_close();

  const std::string& schema() const;

  // Counters, latency histograms, pool and long-poll state as of now (loop thread only).
  ProviderMetrics metrics() const;

  // Schema maintenance (contract §11.4): initialize_schema brings the schema to the library's
  // version exactly as create does (QD009 on a checksum mismatch); drop_schema drops every provider
  // object of the schema (a custom schema itself, never `public`), retrying on deadlock.
  void initialize_schema(Callback<void> cb);
  void drop_schema(Callback<void> cb);
  // Opens the listening connection (LISTEN on both queue channels) now instead of at the first
  // long poll; the C API's open does this (c-api.md §3.1 step 6). Idempotent.
  void start_listening();

  std::string_view name() const override { return "duroxide-pg"; }
  std::string_view version() const override;

  void fetch_orchestration_item(Millis lock_timeout, Millis poll_timeout,
                                std::optional<DispatcherCapabilityFilter> filter,
                                Callback<std::optional<LockedOrchestration>> cb) override;
  void ack_orchestration_item(std::string lock_token, std::uint64_t execution_id,
                              std::vector<Event> history_delta, std::vector<WorkItem> worker_items,
                              std::vector<WorkItem> orchestrator_items, ExecutionMetadata metadata,
                              std::vector<ScheduledActivityIdentifier> cancelled_activities,
                              Callback<void> cb) override;
  void abandon_orchestration_item(std::string lock_token, std::optional<Millis> delay,
                                  bool ignore_attempt, Callback<void> cb) override;
  void renew_orchestration_item_lock(std::string lock_token, Millis extend_for,
                                     Callback<void> cb) override;
  void read(std::string instance, Callback<std::vector<Event>> cb) override;
  void read_with_execution(std::string instance, std::uint64_t execution_id,
                           Callback<std::vector<Event>> cb) override;
  void append_with_execution(std::string instance, std::uint64_t execution_id,
                             std::vector<Event> events, Callback<void> cb) override;
  void enqueue_for_worker(WorkItem item, Callback<void> cb) override;
  void fetch_work_item(Millis lock_timeout, Millis poll_timeout,
                       std::optional<SessionFetchConfig> session, TagFilter tag_filter,
                       Callback<std::optional<LockedWorkItem>> cb) override;
  void ack_work_item(std::string lock_token, std::optional<WorkItem> completion,
                     Callback<void> cb) override;
  void renew_work_item_lock(std::string lock_token, Millis extend_for, Callback<void> cb) override;
  void abandon_work_item(std::string lock_token, std::optional<Millis> delay, bool ignore_attempt,
                         Callback<void> cb) override;
  void renew_session_lock(std::vector<std::string> owner_ids, Millis extend_for,
                          Millis idle_timeout, Callback<std::uint64_t> cb) override;
  void cleanup_orphaned_sessions(Millis idle_timeout, Callback<std::uint64_t> cb) override;
  void enqueue_for_orchestrator(WorkItem item, std::optional<Millis> delay,
                                Callback<void> cb) override;
  void get_custom_status(std::string instance, std::uint64_t last_seen_version,
                         Callback<std::optional<CustomStatus>> cb) override;
  void get_kv_value(std::string instance, std::string key,
                    Callback<std::optional<std::string>> cb) override;
  void get_kv_all_values(std::string instance,
                         Callback<std::map<std::string, std::string>> cb) override;
  void get_instance_stats(std::string instance, Callback<std::optional<SystemStats>> cb) override;

  // ---- ProviderAdmin (contract §8), lib/provider/admin_ops.cpp ----
  ProviderAdmin* as_management_capability() override { return this; }
  void list_instances(Callback<std::vector<std::string>> cb) override;
  void list_instances_by_status(std::string status, Callback<std::vector<std::string>> cb) override;
  void list_executions(std::string instance, Callback<std::vector<std::uint64_t>> cb) override;
  void read_history_with_execution_id(std::string instance, std::uint64_t execution_id,
                                      Callback<std::vector<Event>> cb) override;
  void read_history(std::string instance, Callback<std::vector<Event>> cb) override;
  void latest_execution_id(std::string instance, Callback<std::uint64_t> cb) override;
  void get_instance_info(std::string instance, Callback<InstanceInfo> cb) override;
  void get_execution_info(std::string instance, std::uint64_t execution_id,
                          Callback<ExecutionInfo> cb) override;
  void get_system_metrics(Callback<SystemMetrics> cb) override;
  void get_queue_depths(Callback<QueueDepths> cb) override;
  void list_children(std::string instance, Callback<std::vector<std::string>> cb) override;
  void get_parent_id(std::string instance, Callback<std::optional<std::string>> cb) override;
  void delete_instances_atomic(std::vector<std::string> ids, bool force,
                               Callback<DeleteInstanceResult> cb) override;
  void get_instance_tree(std::string root, Callback<InstanceTree> cb) override;
  void delete_instance(std::string id, bool force, Callback<DeleteInstanceResult> cb) override;
  void delete_instance_bulk(InstanceFilter filter, Callback<DeleteInstanceResult> cb) override;
  void prune_executions(std::string instance, PruneOptions options, Callback<PruneResult> cb) override;
  void prune_executions_bulk(InstanceFilter filter, PruneOptions options,
                             Callback<PruneResult> cb) override;

  struct Impl;

 private:
  explicit PostgresProvider(std::unique_ptr<Impl> impl);
  // The common path of every create: `pool` carries the connection string and, in Entra mode, the
  // credential source (used for the listening connection too).
  struct PoolSetup;
  static void create_from(uv_loop_t* loop, PoolSetup setup, std::string schema,
                          PostgresProviderOptions options, CreateCallback cb);
  std::unique_ptr<Impl> impl_;
};

}  // namespace duroxide::pg
