/* tests/capi/validation_test.c — compiled as C99. Every function of the C API at least once with
 * arguments that succeed (JSON shapes checked) and, where it has a string, JSON or optional
 * duration parameter, once with an argument error (QD008, permanent, right operation name,
 * "Invalid argument: "). Also: start codes, contract errors, open errors, open_async. */
#define _POSIX_C_SOURCE 200809L
#include "capi_test_util.h"

#include <libpq-fe.h>

static duroxide_provider *P;

/* Expects an invalid-argument completion for operation `op`. */
#define EXPECT_INVALID(op, call)                                                   \
    do {                                                                           \
        tu_call c_;                                                                \
        TU_START(&c_, call);                                                       \
        if (c_.ok || strcmp(c_.operation, op) != 0 || strcmp(c_.sqlstate, "QD008") != 0 || \
            c_.retryable || strncmp(c_.message, "Invalid argument: ", 18) != 0) {  \
            fprintf(stderr, "%s:%d: expected invalid argument for %s, got ok=%d %s: %s [%s]\n", \
                    __FILE__, __LINE__, op, c_.ok, c_.operation, c_.message ? c_.message : c_.json, c_.sqlstate); \
            abort();                                                               \
        }                                                                          \
        tu_done(&c_);                                                              \
        n_invalid++;                                                               \
    } while (0)

/* Expects success whose JSON starts with `prefix`; copies the JSON into `out` when not NULL. */
#define EXPECT_OK(prefix, out, call)                                                            \
    do {                                                                                        \
        tu_call c_;                                                                             \
        const char *j_;                                                                         \
        TU_START(&c_, call);                                                                    \
        j_ = tu_expect_ok(&c_, #call);                                                          \
        if (strncmp(j_, prefix, strlen(prefix)) != 0) {                                         \
            fprintf(stderr, "%s:%d: %s: expected %s..., got %s\n", __FILE__, __LINE__, #call, prefix, j_); \
            abort();                                                                            \
        }                                                                                       \
        if ((out) != NULL)                                                                      \
            snprintf((char *)(out), 8192, "%s", j_);                                            \
        tu_done(&c_);                                                                           \
        n_ok++;                                                                                 \
    } while (0)

static int n_invalid, n_ok;
static char buf[8192];
static char token[80];
#define CB tu_callback, &c_

static const char START[] =
    "{\"StartOrchestration\":{\"instance\":\"i1\",\"orchestration\":\"Proc\",\"input\":\"{}\",\"version\":\"1.0.0\","
    "\"parent_instance\":null,\"parent_id\":null,\"execution_id\":1}}";
static const char DELTA[] =
    "[{\"event_id\":1,\"source_event_id\":null,\"instance_id\":\"i1\",\"execution_id\":1,\"timestamp_ms\":1700000000000,"
    "\"duroxide_version\":\"0.1.26\",\"type\":\"OrchestrationStarted\",\"name\":\"Proc\",\"version\":\"1.0.0\","
    "\"input\":\"{}\",\"parent_instance\":null,\"parent_id\":null},"
    "{\"event_id\":2,\"source_event_id\":null,\"instance_id\":\"i1\",\"execution_id\":1,\"timestamp_ms\":1700000000001,"
    "\"duroxide_version\":\"0.1.26\",\"type\":\"ActivityScheduled\",\"name\":\"A\",\"input\":\"in\"}]";
static const char WORKERS[] =
    "[{\"ActivityExecute\":{\"instance\":\"i1\",\"execution_id\":1,\"id\":2,\"name\":\"A\",\"input\":\"in\"}}]";
static const char ACT3[] =
    "{\"ActivityExecute\":{\"instance\":\"i1\",\"execution_id\":1,\"id\":3,\"name\":\"A\",\"input\":\"in\"}}";
static const char COMPLETED3[] = "{\"ActivityCompleted\":{\"instance\":\"i1\",\"execution_id\":1,\"id\":3,\"result\":\"ok\"}}";
static const char METADATA[] =
    "{\"status\":\"Running\",\"output\":null,\"orchestration_name\":\"Proc\",\"orchestration_version\":\"1.0.0\","
    "\"parent_instance_id\":null,\"pinned_duroxide_version\":\"0.1.26\"}";
static const char APPEND[] =
    "[{\"event_id\":3,\"source_event_id\":2,\"instance_id\":\"i1\",\"execution_id\":1,\"timestamp_ms\":1700000000002,"
    "\"duroxide_version\":\"0.1.26\",\"type\":\"ActivityCompleted\",\"result\":\"9007199254740993\"}]";

static void on_noop(const duroxide_result *r, void *u)
{
    (void)r;
    (void)u;
    abort(); /* must never run */
}

static void get_token(void)
{
    CHECK(tu_json_str(buf, "lock_token", token, sizeof token));
}

static void invalid_arguments(void)
{
    EXPECT_INVALID("fetch_orchestration_item", duroxide_provider_fetch_orchestration_item(P, 1, 0, "{", CB));
    EXPECT_INVALID("fetch_orchestration_item",
                   duroxide_provider_fetch_orchestration_item(P, 1, 0, "{\"supported_duroxide_versions\":[{\"min\":\"1\",\"max\":\"2.0.0\"}]}", CB));
    EXPECT_INVALID("ack_orchestration_item", duroxide_provider_ack_orchestration_item(P, NULL, 1, NULL, NULL, NULL, NULL, NULL, CB));
    EXPECT_INVALID("ack_orchestration_item", duroxide_provider_ack_orchestration_item(P, "t", 1, "[{}]", NULL, NULL, NULL, NULL, CB));
    EXPECT_INVALID("ack_orchestration_item", duroxide_provider_ack_orchestration_item(P, "t", 1, NULL, "[{\"Nope\":{}}]", NULL, NULL, NULL, CB));
    EXPECT_INVALID("ack_orchestration_item", duroxide_provider_ack_orchestration_item(P, "t", 1, NULL, NULL, "{}", NULL, NULL, CB));
    EXPECT_INVALID("ack_orchestration_item", duroxide_provider_ack_orchestration_item(P, "t", 1, NULL, NULL, NULL, "{\"status\":1}", NULL, CB));
    EXPECT_INVALID("ack_orchestration_item", duroxide_provider_ack_orchestration_item(P, "t", 1, NULL, NULL, NULL, NULL, "[{\"instance\":\"i\"}]", CB));
    EXPECT_INVALID("abandon_orchestration_item", duroxide_provider_abandon_orchestration_item(P, "t", -2, 0, CB));
    EXPECT_INVALID("abandon_orchestration_item", duroxide_provider_abandon_orchestration_item(P, "\xff", -1, 0, CB));
    EXPECT_INVALID("renew_orchestration_item_lock", duroxide_provider_renew_orchestration_item_lock(P, NULL, 1, CB));
    EXPECT_INVALID("read", duroxide_provider_read(P, NULL, CB));
    EXPECT_INVALID("read", duroxide_provider_read(P, "\xc3\x28", CB));
    EXPECT_INVALID("read_with_execution", duroxide_provider_read_with_execution(P, NULL, 1, CB));
    EXPECT_INVALID("append_with_execution", duroxide_provider_append_with_execution(P, "i", 1, "[1]", CB));
    EXPECT_INVALID("append_with_execution", duroxide_provider_append_with_execution(P, NULL, 1, NULL, CB));
    EXPECT_INVALID("enqueue_for_worker", duroxide_provider_enqueue_for_worker(P, NULL, CB));
    EXPECT_INVALID("enqueue_for_worker", duroxide_provider_enqueue_for_worker(P, "null", CB));
    EXPECT_INVALID("enqueue_for_worker", duroxide_provider_enqueue_for_worker(P, "\xef\xbb\xbf{}", CB));
    EXPECT_INVALID("fetch_work_item", duroxide_provider_fetch_work_item(P, 1, 0, "{\"owner_id\":\"x\"}", NULL, CB));
    EXPECT_INVALID("fetch_work_item", duroxide_provider_fetch_work_item(P, 1, 0, NULL, "{\"mode\":\"some\"}", CB));
    EXPECT_INVALID("ack_work_item", duroxide_provider_ack_work_item(P, "t", "{", CB));
    EXPECT_INVALID("ack_work_item", duroxide_provider_ack_work_item(P, NULL, NULL, CB));
    EXPECT_INVALID("renew_work_item_lock", duroxide_provider_renew_work_item_lock(P, NULL, 1, CB));
    EXPECT_INVALID("abandon_work_item", duroxide_provider_abandon_work_item(P, "t", -5, 1, CB));
    EXPECT_INVALID("renew_session_lock", duroxide_provider_renew_session_lock(P, "[1]", 1, 1, CB));
    EXPECT_INVALID("renew_session_lock", duroxide_provider_renew_session_lock(P, "[\"a\\u0000\"]", 1, 1, CB));
    EXPECT_INVALID("enqueue_for_orchestrator", duroxide_provider_enqueue_for_orchestrator(P, NULL, -1, CB));
    EXPECT_INVALID("enqueue_for_orchestrator", duroxide_provider_enqueue_for_orchestrator(P, START, -3, CB));
    EXPECT_INVALID("get_custom_status", duroxide_provider_get_custom_status(P, NULL, 0, CB));
    EXPECT_INVALID("get_kv_value", duroxide_provider_get_kv_value(P, "i", NULL, CB));
    EXPECT_INVALID("get_kv_all_values", duroxide_provider_get_kv_all_values(P, NULL, CB));
    EXPECT_INVALID("get_instance_stats", duroxide_provider_get_instance_stats(P, "\xc3", CB));
    EXPECT_INVALID("list_instances_by_status", duroxide_admin_list_instances_by_status(P, NULL, CB));
    EXPECT_INVALID("list_executions", duroxide_admin_list_executions(P, NULL, CB));
    EXPECT_INVALID("read_history_with_execution_id", duroxide_admin_read_history_with_execution_id(P, NULL, 1, CB));
    EXPECT_INVALID("read_history", duroxide_admin_read_history(P, NULL, CB));
    EXPECT_INVALID("latest_execution_id", duroxide_admin_latest_execution_id(P, NULL, CB));
    EXPECT_INVALID("get_instance_info", duroxide_admin_get_instance_info(P, NULL, CB));
    EXPECT_INVALID("get_execution_info", duroxide_admin_get_execution_info(P, NULL, 1, CB));
    EXPECT_INVALID("list_children", duroxide_admin_list_children(P, NULL, CB));
    EXPECT_INVALID("get_parent_id", duroxide_admin_get_parent_id(P, NULL, CB));
    EXPECT_INVALID("delete_instances_atomic", duroxide_admin_delete_instances_atomic(P, "[\"a\",2]", 0, CB));
    EXPECT_INVALID("get_instance_tree", duroxide_admin_get_instance_tree(P, NULL, CB));
    EXPECT_INVALID("delete_instance", duroxide_admin_delete_instance(P, NULL, 0, CB));
    EXPECT_INVALID("delete_instance_bulk", duroxide_admin_delete_instance_bulk(P, "{\"x\":1}", CB));
    EXPECT_INVALID("prune_executions", duroxide_admin_prune_executions(P, "i", "{\"keep_last\":-1}", CB));
    EXPECT_INVALID("prune_executions_bulk", duroxide_admin_prune_executions_bulk(P, "[]", NULL, CB));
    EXPECT_INVALID("prune_executions_bulk", duroxide_admin_prune_executions_bulk(P, NULL, "{\"keep_last\":1,\"keep_last\":2}", CB));
}

static void successes(void)
{
    EXPECT_OK("null", NULL, duroxide_provider_initialize_schema(P, CB));
    EXPECT_OK("null", NULL, duroxide_provider_enqueue_for_orchestrator(P, START, DUROXIDE_DURATION_ABSENT, CB));
    EXPECT_OK("{\"lock_token\":\"", buf,
              duroxide_provider_fetch_orchestration_item(
                  P, 30000, 5000, "{\"supported_duroxide_versions\":[{\"min\":\"0.0.0\",\"max\":\"9.9.9\"}]}", CB));
    CHECK(strstr(buf, "\"attempt_count\":1,\"item\":{\"instance\":\"i1\",\"orchestration_name\":\"Proc\","
                      "\"execution_id\":1,\"version\":\"1.0.0\",\"history\":[],\"messages\":[{\"StartOrchestration\":")
          != NULL);
    CHECK(strstr(buf, "\"history_error\":null,\"kv_snapshot\":{}}}") != NULL);
    get_token();
    EXPECT_OK("null", NULL, duroxide_provider_renew_orchestration_item_lock(P, token, 30000, CB));
    EXPECT_OK("null", NULL, duroxide_provider_abandon_orchestration_item(P, token, DUROXIDE_DURATION_ABSENT, 1, CB));
    EXPECT_OK("{\"lock_token\":\"", buf, duroxide_provider_fetch_orchestration_item(P, 30000, 5000, NULL, CB));
    get_token();
    EXPECT_OK("null", NULL, duroxide_provider_ack_orchestration_item(P, token, 1, DELTA, WORKERS, "[]", METADATA, "[]", CB));
    EXPECT_OK("null", NULL, duroxide_provider_enqueue_for_worker(P, ACT3, CB));
    EXPECT_OK("{\"lock_token\":\"", buf,
              duroxide_provider_fetch_work_item(P, 30000, 5000, "{\"owner_id\":\"w1\",\"lock_timeout_ms\":30000}",
                                                "{\"mode\":\"any\",\"tags\":null}", CB));
    CHECK(strstr(buf, "\"item\":{\"ActivityExecute\":{\"instance\":\"i1\"") != NULL);
    get_token();
    EXPECT_OK("null", NULL, duroxide_provider_renew_work_item_lock(P, token, 30000, CB));
    EXPECT_OK("null", NULL, duroxide_provider_abandon_work_item(P, token, 0, 1, CB));
    EXPECT_OK("{\"lock_token\":\"", buf, duroxide_provider_fetch_work_item(P, 30000, 5000, NULL, "{\"mode\":\"default_only\"}", CB));
    get_token();
    EXPECT_OK("null", NULL, duroxide_provider_ack_work_item(P, token, NULL, CB));
    EXPECT_OK("{\"lock_token\":\"", buf, duroxide_provider_fetch_work_item(P, 30000, 5000, NULL, NULL, CB));
    get_token();
    EXPECT_OK("null", NULL, duroxide_provider_ack_work_item(P, token, COMPLETED3, CB));
    EXPECT_OK("null", buf, duroxide_provider_fetch_work_item(P, 30000, 0, NULL, "{\"mode\":\"none\"}", CB));
    EXPECT_OK("", buf, duroxide_provider_renew_session_lock(P, "[\"w1\",\"w2\"]", 30000, 60000, CB));
    CHECK(buf[0] >= '0' && buf[0] <= '9');
    EXPECT_OK("0", NULL, duroxide_provider_renew_session_lock(P, NULL, 30000, 60000, CB));
    EXPECT_OK("", buf, duroxide_provider_cleanup_orphaned_sessions(P, 0, CB));
    CHECK(buf[0] >= '0' && buf[0] <= '9');
    EXPECT_OK("[{\"event_id\":1,", buf, duroxide_provider_read(P, "i1", CB));
    CHECK(tu_count(buf, "\"event_id\"") == 2);
    EXPECT_OK("[]", NULL, duroxide_provider_read(P, "unknown", CB));
    EXPECT_OK("null", NULL, duroxide_provider_append_with_execution(P, "i1", 1, APPEND, CB));
    EXPECT_OK("[{\"event_id\":1,", buf, duroxide_provider_read_with_execution(P, "i1", 1, CB));
    CHECK(strstr(buf, "\"result\":\"9007199254740993\"") != NULL);
    EXPECT_OK("[]", NULL, duroxide_provider_read_with_execution(P, "i1", 7, CB));
    EXPECT_OK("null", NULL, duroxide_provider_get_custom_status(P, "i1", 0, CB));
    EXPECT_OK("null", NULL, duroxide_provider_get_kv_value(P, "i1", "k", CB));
    EXPECT_OK("{}", NULL, duroxide_provider_get_kv_all_values(P, "i1", CB));
    EXPECT_OK("{\"history_event_count\":3,\"history_size_bytes\":", buf, duroxide_provider_get_instance_stats(P, "i1", CB));
    CHECK(strstr(buf, ",\"queue_pending_count\":") && strstr(buf, ",\"kv_user_key_count\":0,\"kv_total_value_bytes\":0}"));
    EXPECT_OK("null", NULL, duroxide_provider_get_instance_stats(P, "unknown", CB));

    EXPECT_OK("[\"i1\"]", NULL, duroxide_admin_list_instances(P, CB));
    EXPECT_OK("[\"i1\"]", NULL, duroxide_admin_list_instances_by_status(P, "Running", CB));
    EXPECT_OK("[1]", NULL, duroxide_admin_list_executions(P, "i1", CB));
    EXPECT_OK("[{\"event_id\":1,", NULL, duroxide_admin_read_history_with_execution_id(P, "i1", 1, CB));
    EXPECT_OK("[{\"event_id\":1,", NULL, duroxide_admin_read_history(P, "i1", CB));
    EXPECT_OK("1", NULL, duroxide_admin_latest_execution_id(P, "i1", CB));
    EXPECT_OK("{\"instance_id\":\"i1\",\"orchestration_name\":\"Proc\",\"orchestration_version\":\"1.0.0\","
              "\"current_execution_id\":1,\"status\":\"Running\",\"output\":null,\"created_at\":",
              buf, duroxide_admin_get_instance_info(P, "i1", CB));
    CHECK(strstr(buf, ",\"updated_at\":") && strstr(buf, ",\"parent_instance_id\":null}"));
    EXPECT_OK("{\"execution_id\":1,\"status\":\"Running\",\"output\":null,\"started_at\":", buf,
              duroxide_admin_get_execution_info(P, "i1", 1, CB));
    CHECK(strstr(buf, ",\"completed_at\":null,\"event_count\":3}") != NULL);
    EXPECT_OK("{\"total_instances\":1,\"total_executions\":1,\"running_instances\":1,\"completed_instances\":0,"
              "\"failed_instances\":0,\"total_events\":3}",
              NULL, duroxide_admin_get_system_metrics(P, CB));
    EXPECT_OK("{\"orchestrator_queue\":", NULL, duroxide_admin_get_queue_depths(P, CB));
    EXPECT_OK("[]", NULL, duroxide_admin_list_children(P, "i1", CB));
    EXPECT_OK("null", NULL, duroxide_admin_get_parent_id(P, "i1", CB));
    EXPECT_OK("{\"root_id\":\"i1\",\"all_ids\":[\"i1\"]}", NULL, duroxide_admin_get_instance_tree(P, "i1", CB));
    EXPECT_OK("{\"instances_processed\":", NULL, duroxide_admin_prune_executions(P, "i1", "{\"keep_last\":1,\"completed_before\":null}", CB));
    EXPECT_OK("{\"instances_processed\":", NULL, duroxide_admin_prune_executions_bulk(P, "{\"instance_ids\":[\"i1\"],\"completed_before\":1,\"limit\":10}", NULL, CB));
    EXPECT_OK("{\"instances_deleted\":0,\"executions_deleted\":0,\"events_deleted\":0,\"queue_messages_deleted\":0}", NULL,
              duroxide_admin_delete_instances_atomic(P, NULL, 0, CB));
    EXPECT_OK("{\"instances_deleted\":0,", NULL, duroxide_admin_delete_instance_bulk(P, NULL, CB));
    EXPECT_OK("{\"instances_deleted\":1,", NULL, duroxide_admin_delete_instance(P, "i1", 1, CB));
}

static void contract_errors(void)
{
    tu_call c_;
    TU_START(&c_, duroxide_provider_renew_work_item_lock(P, "no-such-token", 1000, CB));
    CHECK(!c_.ok && !c_.retryable && strcmp(c_.sqlstate, "QD001") == 0 && strstr(c_.message, "Invalid lock token"));
    CHECK(strcmp(c_.operation, "renew_work_item_lock") == 0);
    tu_done(&c_);
    TU_START(&c_, duroxide_admin_get_instance_info(P, "missing", CB));
    CHECK(!c_.ok && strcmp(c_.sqlstate, "QD003") == 0 && strstr(c_.message, "not found"));
    tu_done(&c_);
    TU_START(&c_, duroxide_provider_enqueue_for_worker(P, START, CB));
    CHECK(!c_.ok && !c_.retryable && strcmp(c_.sqlstate, "QD008") == 0 && strstr(c_.message, "Invalid work item type"));
    tu_done(&c_);
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired, ok, retryable, started_inside;
    duroxide_provider *h;
    char json[512], sqlstate[8], operation[32];
} oa = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, NULL, {0}, {0}, {0}};

static tu_call inner;

static void on_open(const duroxide_result *r, duroxide_provider *h, void *u)
{
    pthread_mutex_lock(&oa.mu);
    CHECK(u == &oa);
    oa.fired++;
    oa.ok = r->ok;
    oa.retryable = r->retryable;
    oa.h = h;
    snprintf(oa.json, sizeof oa.json, "%s", r->json);
    snprintf(oa.sqlstate, sizeof oa.sqlstate, "%s", r->sqlstate);
    snprintf(oa.operation, sizeof oa.operation, "%s", r->operation);
    CHECK((h != NULL) == (r->ok != 0));
    if (h != NULL) /* the handle is usable inside its open callback */
        oa.started_inside = duroxide_admin_get_queue_depths(h, tu_callback, &inner) == DUROXIDE_OK ? 1 : -1;
    pthread_cond_broadcast(&oa.cv);
    pthread_mutex_unlock(&oa.mu);
}

static void open_async_cases(const char *url)
{
    char schema[64];
    tu_schema(schema, sizeof schema, "capi_oa");
    /* invalid options: reported through the callback, permanent, QD008 */
    CHECK(duroxide_provider_open_async(url, schema, "{\"bogus\":1}", on_open, &oa) == DUROXIDE_OK);
    pthread_mutex_lock(&oa.mu);
    while (oa.fired == 0)
        pthread_cond_wait(&oa.cv, &oa.mu);
    pthread_mutex_unlock(&oa.mu);
    CHECK(!oa.ok && !oa.retryable && oa.h == NULL && strcmp(oa.sqlstate, "QD008") == 0 && strcmp(oa.operation, "open") == 0);
    /* refused connection: retryable */
    oa.fired = 0;
    CHECK(duroxide_provider_open_async("postgresql://127.0.0.1:1/nodb?sslmode=disable", NULL, "{\"connect_timeout_ms\":2000}",
                                       on_open, &oa) == DUROXIDE_OK);
    pthread_mutex_lock(&oa.mu);
    while (oa.fired == 0)
        pthread_cond_wait(&oa.cv, &oa.mu);
    pthread_mutex_unlock(&oa.mu);
    CHECK(!oa.ok && oa.retryable && oa.h == NULL);
    /* success: the handle arrives in the callback and is usable there */
    oa.fired = 0;
    tu_init(&inner);
    CHECK(duroxide_provider_open_async(url, schema, NULL, on_open, &oa) == DUROXIDE_OK);
    pthread_mutex_lock(&oa.mu);
    while (oa.fired == 0)
        pthread_cond_wait(&oa.cv, &oa.mu);
    pthread_mutex_unlock(&oa.mu);
    CHECK(oa.ok && oa.h != NULL && oa.started_inside == 1);
    CHECK(strncmp(oa.json, "{\"name\":\"duroxide-pg\",\"version\":\"", 33) == 0);
    CHECK(strstr(oa.json, schema) != NULL);
    tu_wait(&inner);
    CHECK(inner.ok);
    tu_done(&inner);
    {
        tu_call c_;
        TU_START(&c_, duroxide_provider_drop_schema(oa.h, CB));
        CHECK(c_.ok);
        tu_done(&c_);
    }
    duroxide_provider_free(oa.h);
    tu_loop_known = 0; /* the next handle has its own loop thread */
}

/* pool_max bounds the query connections and application_name reaches pg_stat_activity (§11.7). */
static int burst_done;
static pthread_mutex_t burst_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t burst_cv = PTHREAD_COND_INITIALIZER;
static void on_burst(const duroxide_result *r, void *u)
{
    (void)u;
    CHECK(r->ok);
    pthread_mutex_lock(&burst_mu);
    burst_done++;
    pthread_cond_broadcast(&burst_cv);
    pthread_mutex_unlock(&burst_mu);
}

static void connections(const char *url)
{
    enum { N = 40 };
    int i;
    PGconn *conn;
    PGresult *res;
    for (i = 0; i < N; i++)
        CHECK(duroxide_admin_get_system_metrics(P, on_burst, NULL) == DUROXIDE_OK);
    pthread_mutex_lock(&burst_mu);
    while (burst_done < N)
        pthread_cond_wait(&burst_cv, &burst_mu);
    pthread_mutex_unlock(&burst_mu);
    conn = PQconnectdb(url);
    CHECK(PQstatus(conn) == CONNECTION_OK);
    res = PQexec(conn, "SELECT count(*) FILTER (WHERE application_name = 'capi-validation:query'), "
                       "count(*) FILTER (WHERE application_name = 'capi-validation:listen') "
                       "FROM pg_stat_activity");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    printf("connections: %s query (pool_max 3), %s listen\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    CHECK(atoi(PQgetvalue(res, 0, 0)) >= 1 && atoi(PQgetvalue(res, 0, 0)) <= 3);
    CHECK(atoi(PQgetvalue(res, 0, 1)) == 1);
    PQclear(res);
    PQfinish(conn);
}

int main(void)
{
    const char *url = getenv("DATABASE_URL");
    char schema[64], *error = NULL;
    tu_call c_;

    if (url == NULL) {
        printf("skipped: DATABASE_URL is not set\n");
        return 77;
    }
    /* open errors as strings */
    CHECK(duroxide_provider_open(url, "pg_bad", NULL, &error) == NULL);
    CHECK(error != NULL && strncmp(error, "open: ", 6) == 0 && strstr(error, "(SQLSTATE QD008)") != NULL);
    duroxide_string_free(error);
    CHECK(duroxide_provider_open(url, NULL, "{\"nope\":true}", &error) == NULL);
    CHECK(strcmp(error, "open: Invalid argument: options: unknown key \"nope\" (SQLSTATE QD008)") == 0);
    duroxide_string_free(error);
    CHECK(duroxide_provider_open(NULL, NULL, NULL, &error) == NULL);
    CHECK(strncmp(error, "open: Invalid argument: url: ", 29) == 0);
    duroxide_string_free(error);
    CHECK(duroxide_provider_open(url, NULL, "{\"entra\":{\"host\":\"h\",\"database\":\"d\",\"user\":\"u\"}}", &error) == NULL);
    CHECK(strncmp(error, "open: Invalid argument: url: ", 29) == 0);
    duroxide_string_free(error);
    CHECK(duroxide_provider_open(url, "bad\xff", NULL, NULL) == NULL);

    open_async_cases(url);

    tu_schema(schema, sizeof schema, "capi_valid");
    P = duroxide_provider_open(url, schema,
                               "{\"pool_max\":3,\"connect_timeout_ms\":10000,\"acquire_timeout_ms\":30000,"
                               "\"pg_statement_timeout_ms\":60000,\"pg_lock_timeout_ms\":10000,"
                               "\"pg_idle_in_transaction_timeout_ms\":60000,\"close_grace_ms\":2000,"
                               "\"application_name\":\"capi-validation\",\"tuning\":{\"orphan_deferral_min_ms\":1000,"
                               "\"orphan_deferral_max_ms\":60000,\"quarantine_base_ms\":1000,"
                               "\"quarantine_max_ms\":60000,\"notify_fallback_ms\":1000}}",
                               &error);
    if (P == NULL) {
        fprintf(stderr, "open: %s\n", error);
        return 1;
    }
    CHECK(strcmp(duroxide_provider_schema(P), schema) == 0);
    CHECK(strcmp(duroxide_provider_name(P), "duroxide-pg") == 0);
    /* start codes */
    CHECK(duroxide_provider_read(P, "x", NULL, NULL) == DUROXIDE_EINVAL);
    CHECK(duroxide_provider_read(NULL, "x", on_noop, NULL) == DUROXIDE_EINVAL);
    CHECK(duroxide_admin_get_queue_depths(P, NULL, NULL) == DUROXIDE_EINVAL);

    invalid_arguments();
    successes();
    connections(url);
    contract_errors();
    EXPECT_OK("null", NULL, duroxide_provider_drop_schema(P, CB));
    TU_START(&c_, duroxide_provider_read(P, "i1", CB)); /* the schema is gone */
    CHECK(!c_.ok);
    tu_done(&c_);
    EXPECT_OK("null", NULL, duroxide_provider_initialize_schema(P, CB));
    EXPECT_OK("[]", NULL, duroxide_provider_read(P, "i1", CB));
    EXPECT_OK("null", NULL, duroxide_provider_drop_schema(P, CB));

    CHECK(duroxide_provider_close(P) == DUROXIDE_OK);
    CHECK(duroxide_provider_close(P) == DUROXIDE_OK);
    /* after close: ECLOSED, the callback never runs; accessors keep working */
    CHECK(duroxide_provider_read(P, "x", on_noop, NULL) == DUROXIDE_ECLOSED);
    CHECK(duroxide_provider_read(P, NULL, on_noop, NULL) == DUROXIDE_ECLOSED);
    CHECK(duroxide_admin_delete_instance_bulk(P, "{bad", on_noop, NULL) == DUROXIDE_ECLOSED);
    CHECK(strcmp(duroxide_provider_schema(P), schema) == 0);
    duroxide_provider_free(P);

    printf("validation: %d invalid-argument cases, %d successful calls\n", n_invalid, n_ok);
    return 0;
}
