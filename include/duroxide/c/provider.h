/*
 * duroxide-pg C API, ABI version 1.0.
 *
 * The normative rules for every declaration below (threads, callbacks,
 * lifetimes, JSON shapes, errors) are in the project's C API specification
 * (c-api.md). This header summarises them where each item is declared.
 *
 * Library: libduroxide-pg-c.so (SONAME libduroxide-pg-c.so.1), pkg-config
 * module duroxide-pg-c. Pure C99; includes only <stddef.h> and <stdint.h>.
 *
 * Threads. Each handle owns one libuv loop running on its own library thread
 * (the "loop thread"): the pool, the long-polling listener, timers and the
 * Entra token refresher all run there. That thread blocks SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM and SIGWINCH. Every function
 * may be called from any thread, including from callbacks.
 *
 * Start functions (every function taking (callback, user_data)) return:
 *   DUROXIDE_OK       accepted: callback runs exactly once, on the loop
 *                     thread, never inside the start function;
 *   DUROXIDE_EINVAL   provider or callback is NULL: callback never runs;
 *   DUROXIDE_ECLOSED  close or free has begun: callback never runs;
 *   DUROXIDE_ENOMEM   the request could not be allocated: callback never runs;
 *   DUROXIDE_ESYS     (open_async only) no loop or thread: callback never runs.
 * Every other failure (NULL or malformed arguments, invalid UTF-8, bad JSON,
 * database errors, close) is reported through the callback. Arguments are
 * copied before the start function returns. Callbacks of one handle never
 * overlap; they must return normally and promptly.
 *
 * Results. The duroxide_result and its strings belong to the library and are
 * valid only while the callback runs. Success: ok = 1, json holds the
 * operation's JSON text (void operations: "null"). Error: ok = 0, retryable,
 * operation (contract name), message, sqlstate (5 characters or "").
 * Invalid arguments: retryable 0, sqlstate "QD008", message
 * "Invalid argument: <param path>: <reason>".
 *
 * Encodings. u64/u32 as uint64_t/uint32_t; bool as int (0 false); durations
 * as uint64_t milliseconds (_ms); optional durations as int64_t with -1
 * (DUROXIDE_DURATION_ABSENT) meaning absent; strings as NUL-terminated UTF-8;
 * everything else as a JSON text (parameters ending in _json). Input JSON
 * is strict RFC 8259 (no duplicate keys, exact integers); WorkItem and Event
 * values use the wire format, every other shape rejects unknown keys.
 *
 * JSON shapes (output members in this order):
 *   FetchedOrchestration {"lock_token","attempt_count","item":OrchestrationItem}
 *   OrchestrationItem    {"instance","orchestration_name","execution_id",
 *                         "version","history":[Event],"messages":[WorkItem],
 *                         "history_error":string|null,
 *                         "kv_snapshot":{key:{"value","last_updated_at_ms"}}}
 *   FetchedWorkItem      {"lock_token","attempt_count","item":WorkItem}
 *   ExecutionMetadata    (in) {"status","output","orchestration_name",
 *                         "orchestration_version","parent_instance_id",
 *                         "pinned_duroxide_version"} all optional string|null
 *   DispatcherCapabilityFilter (in)
 *                        {"supported_duroxide_versions":[{"min":v,"max":v}]}
 *   ScheduledActivityIdentifier (in)
 *                        {"instance","execution_id","activity_id"}
 *   SessionFetchConfig   (in) {"owner_id","lock_timeout_ms"}
 *   TagFilter            (in) {"mode":"default_only"|"tags"|"default_and"|
 *                         "any"|"none","tags":[string]|null}
 *   CustomStatus         {"status":string|null,"version"}
 *   SystemStats          {"history_event_count","history_size_bytes",
 *                         "queue_pending_count","kv_user_key_count",
 *                         "kv_total_value_bytes"}
 *   InstanceInfo         {"instance_id","orchestration_name",
 *                         "orchestration_version","current_execution_id",
 *                         "status","output","created_at","updated_at",
 *                         "parent_instance_id"}
 *   ExecutionInfo        {"execution_id","status","output","started_at",
 *                         "completed_at","event_count"}
 *   SystemMetrics        {"total_instances","total_executions",
 *                         "running_instances","completed_instances",
 *                         "failed_instances","total_events"}
 *   QueueDepths          {"orchestrator_queue","worker_queue","timer_queue"}
 *   InstanceFilter       (in) {"instance_ids":[string]|null,
 *                         "completed_before":u64|null,"limit":u32|null}
 *   PruneOptions         (in) {"keep_last":u32|null,"completed_before":u64|null}
 *   PruneResult          {"instances_processed","executions_deleted",
 *                         "events_deleted"}
 *   DeleteInstanceResult {"instances_deleted","executions_deleted",
 *                         "events_deleted","queue_messages_deleted"}
 *   InstanceTree         {"root_id","all_ids":[string]}
 */
#ifndef DUROXIDE_C_PROVIDER_H
#define DUROXIDE_C_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define DUROXIDE_API __attribute__((visibility("default")))
#else
#define DUROXIDE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DUROXIDE_C_API_VERSION_MAJOR 1
#define DUROXIDE_C_API_VERSION_MINOR 0

/* Return codes of start functions and of duroxide_provider_close(). */
#define DUROXIDE_OK 0
#define DUROXIDE_PENDING 1
#define DUROXIDE_EINVAL (-1)
#define DUROXIDE_ECLOSED (-2)
#define DUROXIDE_ENOMEM (-3)
#define DUROXIDE_ESYS (-4)

/* Value of an optional duration parameter (int64_t ..._ms) meaning "absent". */
#define DUROXIDE_DURATION_ABSENT ((int64_t)-1)

typedef struct duroxide_provider duroxide_provider;

/* Owned by the library; valid only while the callback that receives it runs. */
typedef struct duroxide_result {
    int ok;                /* 1: success, 0: error */
    int retryable;         /* error: 1 retryable, 0 permanent; success: 0 */
    const char *operation; /* error: contract operation name; success: "" */
    const char *message;   /* error: message text; success: "" */
    const char *sqlstate;  /* error: 5 characters or ""; success: "" */
    const char *json;      /* success: JSON text, NUL-terminated; error: "" */
    size_t json_len;       /* length of json in bytes, without the NUL */
} duroxide_result;

/* Completion of a start function: runs exactly once, on the loop thread. */
typedef void (*duroxide_callback)(const duroxide_result *result,
                                  void *user_data);

/* Completion of duroxide_provider_open_async: provider is the new handle on
 * success (owned by the caller, to be freed), NULL on failure (nothing to
 * free). Success json: {"name":"duroxide-pg","version":...,"schema":...}. */
typedef void (*duroxide_open_callback)(const duroxide_result *result,
                                       duroxide_provider *provider,
                                       void *user_data);

/* ---- Library ------------------------------------------------------------ */

/* (MAJOR << 16) | MINOR of the library loaded at run time. */
DUROXIDE_API uint32_t duroxide_c_api_version(void);
/* The release version "MAJOR.MINOR.PATCH" (static storage); Provider version(). */
DUROXIDE_API const char *duroxide_version(void);
/* Releases a string the library allocated for the caller (open's error);
 * NULL is a no-op. Never use free() on such strings. */
DUROXIDE_API void duroxide_string_free(char *string);

/* ---- Lifecycle ---------------------------------------------------------- */

/* Blocking open. url: libpq URL or keyword/value string (NULL exactly when
 * options_json has "entra"). schema: NULL means "public". options_json:
 * NULL, "null" or "{}" for defaults; keys pool_max (1-1024, default
 * $DUROXIDE_PG_POOL_MAX or 10), connect_timeout_ms (10000),
 * acquire_timeout_ms (30000), pg_statement_timeout_ms (60000),
 * pg_lock_timeout_ms (10000), pg_idle_in_transaction_timeout_ms (60000),
 * close_grace_ms (2000) (each 0-2147483647), application_name (1-40 bytes
 * of printable ASCII, default "duroxide-pg"), entra (object: host, port,
 * database, user, audience, refresh_interval_ms, client_id, object_id,
 * resource_id, tenant, credential, ssl_root_cert) and tuning (object:
 * orphan_deferral_min_ms, orphan_deferral_max_ms, quarantine_base_ms,
 * quarantine_max_ms, notify_fallback_ms; each 1-2147483647). Unknown keys
 * are rejected. Returns the handle, or NULL with *error_out (if error_out is
 * not NULL) set to "open: {message}[ (SQLSTATE {code})]", to be released
 * with duroxide_string_free. */
DUROXIDE_API duroxide_provider *duroxide_provider_open(
    const char *url, const char *schema, const char *options_json,
    char **error_out);

/* Asynchronous open with the same arguments; the callback runs once on the
 * new handle's loop thread. On failure the library releases everything. */
DUROXIDE_API int duroxide_provider_open_async(
    const char *url, const char *schema, const char *options_json,
    duroxide_open_callback callback, void *user_data);

/* Shuts the provider down (idempotent, any thread). New starts return
 * DUROXIDE_ECLOSED; waiting fetches complete with null; operations not yet
 * sent fail retryably ("provider closed: operation not started"); executing
 * ones get close_grace_ms, then fail retryably ("provider closed: outcome
 * unknown"). Off the loop thread it waits for every callback and joins the
 * loop thread, returning DUROXIDE_OK; on the loop thread (inside a callback)
 * it returns DUROXIDE_PENDING at once. NULL: DUROXIDE_EINVAL. */
DUROXIDE_API int duroxide_provider_close(duroxide_provider *provider);

/* Closes (if needed) and releases the handle; exactly once per handle. Off
 * the loop thread it blocks like close; inside a callback of the handle it
 * returns at once and the loop thread releases the handle after the last
 * callback. NULL is a no-op. */
DUROXIDE_API void duroxide_provider_free(duroxide_provider *provider);

/* "duroxide-pg" (static); accepts NULL. */
DUROXIDE_API const char *duroxide_provider_name(
    const duroxide_provider *provider);

/* The schema name ("public" by default), valid until free; NULL for NULL. */
DUROXIDE_API const char *duroxide_provider_schema(
    const duroxide_provider *provider);

/* Re-applies the schema migrations (contract 11.4). Success: null. */
DUROXIDE_API int duroxide_provider_initialize_schema(
    duroxide_provider *provider,
    duroxide_callback callback, void *user_data);

/* Drops every provider object of the schema (and a custom schema itself,
 * never "public"). For tests and teardown. Success: null. */
DUROXIDE_API int duroxide_provider_drop_schema(
    duroxide_provider *provider,
    duroxide_callback callback, void *user_data);

/* ---- Provider operations ------------------------------------------------ */

/* filter_json: DispatcherCapabilityFilter or NULL. Success: null (no work,
 * or closed) or FetchedOrchestration; poll_timeout_ms 0 scans once. */
DUROXIDE_API int duroxide_provider_fetch_orchestration_item(
    duroxide_provider *provider,
    uint64_t lock_timeout_ms, uint64_t poll_timeout_ms,
    const char *filter_json,
    duroxide_callback callback, void *user_data);

/* history_delta_json: [Event]; worker_items_json, orchestrator_items_json:
 * [WorkItem]; metadata_json: ExecutionMetadata; cancelled_activities_json:
 * [ScheduledActivityIdentifier]; NULL means [] or {}. Success: null. */
DUROXIDE_API int duroxide_provider_ack_orchestration_item(
    duroxide_provider *provider,
    const char *lock_token, uint64_t execution_id,
    const char *history_delta_json,
    const char *worker_items_json,
    const char *orchestrator_items_json,
    const char *metadata_json,
    const char *cancelled_activities_json,
    duroxide_callback callback, void *user_data);

/* delay_ms: -1 absent. Success: null. */
DUROXIDE_API int duroxide_provider_abandon_orchestration_item(
    duroxide_provider *provider,
    const char *lock_token, int64_t delay_ms, int ignore_attempt,
    duroxide_callback callback, void *user_data);

/* Success: null. */
DUROXIDE_API int duroxide_provider_renew_orchestration_item_lock(
    duroxide_provider *provider,
    const char *lock_token, uint64_t extend_for_ms,
    duroxide_callback callback, void *user_data);

/* Success: [Event] of the latest execution ([] for an unknown instance). */
DUROXIDE_API int duroxide_provider_read(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: [Event] of that execution ([] when it does not exist). */
DUROXIDE_API int duroxide_provider_read_with_execution(
    duroxide_provider *provider, const char *instance, uint64_t execution_id,
    duroxide_callback callback, void *user_data);

/* events_json: [Event], NULL means []. Success: null. */
DUROXIDE_API int duroxide_provider_append_with_execution(
    duroxide_provider *provider, const char *instance, uint64_t execution_id,
    const char *events_json,
    duroxide_callback callback, void *user_data);

/* item_json: one WorkItem (ActivityExecute), required. Success: null. */
DUROXIDE_API int duroxide_provider_enqueue_for_worker(
    duroxide_provider *provider, const char *item_json,
    duroxide_callback callback, void *user_data);

/* session_json: SessionFetchConfig or NULL; tag_filter_json: TagFilter, NULL
 * means {"mode":"default_only"}. Success: null or FetchedWorkItem. */
DUROXIDE_API int duroxide_provider_fetch_work_item(
    duroxide_provider *provider,
    uint64_t lock_timeout_ms, uint64_t poll_timeout_ms,
    const char *session_json, const char *tag_filter_json,
    duroxide_callback callback, void *user_data);

/* completion_json: ActivityCompleted or ActivityFailed WorkItem, or NULL
 * (delete without completion). Success: null. */
DUROXIDE_API int duroxide_provider_ack_work_item(
    duroxide_provider *provider,
    const char *lock_token, const char *completion_json,
    duroxide_callback callback, void *user_data);

/* Success: null; a permanent "Invalid lock token" error means cancelled. */
DUROXIDE_API int duroxide_provider_renew_work_item_lock(
    duroxide_provider *provider,
    const char *lock_token, uint64_t extend_for_ms,
    duroxide_callback callback, void *user_data);

/* delay_ms: -1 absent. Success: null. */
DUROXIDE_API int duroxide_provider_abandon_work_item(
    duroxide_provider *provider,
    const char *lock_token, int64_t delay_ms, int ignore_attempt,
    duroxide_callback callback, void *user_data);

/* owner_ids_json: [string], NULL means []. Success: u64 sessions renewed. */
DUROXIDE_API int duroxide_provider_renew_session_lock(
    duroxide_provider *provider,
    const char *owner_ids_json, uint64_t extend_for_ms,
    uint64_t idle_timeout_ms,
    duroxide_callback callback, void *user_data);

/* Success: u64 session rows deleted. */
DUROXIDE_API int duroxide_provider_cleanup_orphaned_sessions(
    duroxide_provider *provider, uint64_t idle_timeout_ms,
    duroxide_callback callback, void *user_data);

/* item_json: one WorkItem (not ActivityExecute), required; delay_ms: -1
 * absent. Success: null. */
DUROXIDE_API int duroxide_provider_enqueue_for_orchestrator(
    duroxide_provider *provider, const char *item_json, int64_t delay_ms,
    duroxide_callback callback, void *user_data);

/* Success: null or CustomStatus. */
DUROXIDE_API int duroxide_provider_get_custom_status(
    duroxide_provider *provider, const char *instance,
    uint64_t last_seen_version,
    duroxide_callback callback, void *user_data);

/* Success: a JSON string, or null when the key is absent. */
DUROXIDE_API int duroxide_provider_get_kv_value(
    duroxide_provider *provider, const char *instance, const char *key,
    duroxide_callback callback, void *user_data);

/* Success: {key: value, ...} with keys in byte order. */
DUROXIDE_API int duroxide_provider_get_kv_all_values(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: null or SystemStats. */
DUROXIDE_API int duroxide_provider_get_instance_stats(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* ---- ProviderAdmin operations ------------------------------------------- */
/* The operation name is the function name without "duroxide_admin_".
 * ids_json: [string], NULL means []; force: bool; filter_json:
 * InstanceFilter, NULL means {}; options_json: PruneOptions, NULL means {}. */

/* Success: [string], newest first. */
DUROXIDE_API int duroxide_admin_list_instances(
    duroxide_provider *provider,
    duroxide_callback callback, void *user_data);

/* Success: [string]. */
DUROXIDE_API int duroxide_admin_list_instances_by_status(
    duroxide_provider *provider, const char *status,
    duroxide_callback callback, void *user_data);

/* Success: [u64], ascending. */
DUROXIDE_API int duroxide_admin_list_executions(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: [Event]. */
DUROXIDE_API int duroxide_admin_read_history_with_execution_id(
    duroxide_provider *provider, const char *instance, uint64_t execution_id,
    duroxide_callback callback, void *user_data);

/* Success: [Event]. */
DUROXIDE_API int duroxide_admin_read_history(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: u64. */
DUROXIDE_API int duroxide_admin_latest_execution_id(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: InstanceInfo; unknown instance: QD003 "not found". */
DUROXIDE_API int duroxide_admin_get_instance_info(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: ExecutionInfo; unknown execution: QD004. */
DUROXIDE_API int duroxide_admin_get_execution_info(
    duroxide_provider *provider, const char *instance, uint64_t execution_id,
    duroxide_callback callback, void *user_data);

/* Success: SystemMetrics. */
DUROXIDE_API int duroxide_admin_get_system_metrics(
    duroxide_provider *provider,
    duroxide_callback callback, void *user_data);

/* Success: QueueDepths. */
DUROXIDE_API int duroxide_admin_get_queue_depths(
    duroxide_provider *provider,
    duroxide_callback callback, void *user_data);

/* Success: [string]. */
DUROXIDE_API int duroxide_admin_list_children(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: string or null. */
DUROXIDE_API int duroxide_admin_get_parent_id(
    duroxide_provider *provider, const char *instance,
    duroxide_callback callback, void *user_data);

/* Success: DeleteInstanceResult. */
DUROXIDE_API int duroxide_admin_delete_instances_atomic(
    duroxide_provider *provider, const char *ids_json, int force,
    duroxide_callback callback, void *user_data);

/* Success: InstanceTree. */
DUROXIDE_API int duroxide_admin_get_instance_tree(
    duroxide_provider *provider, const char *root,
    duroxide_callback callback, void *user_data);

/* Success: DeleteInstanceResult. */
DUROXIDE_API int duroxide_admin_delete_instance(
    duroxide_provider *provider, const char *instance, int force,
    duroxide_callback callback, void *user_data);

/* Success: DeleteInstanceResult. */
DUROXIDE_API int duroxide_admin_delete_instance_bulk(
    duroxide_provider *provider, const char *filter_json,
    duroxide_callback callback, void *user_data);

/* Success: PruneResult. */
DUROXIDE_API int duroxide_admin_prune_executions(
    duroxide_provider *provider, const char *instance,
    const char *options_json,
    duroxide_callback callback, void *user_data);

/* Success: PruneResult. */
DUROXIDE_API int duroxide_admin_prune_executions_bulk(
    duroxide_provider *provider, const char *filter_json,
    const char *options_json,
    duroxide_callback callback, void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* DUROXIDE_C_PROVIDER_H */
