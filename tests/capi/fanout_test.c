/* tests/capi/fanout_test.c — compiled as C99. Two application threads drive fan-out
 * orchestrations through the C API at once against the real PostgreSQL of DATABASE_URL: start ->
 * fetch -> ack with 3 activities -> worker fetch/ack -> turns fold completions -> completed.
 * Every callback is checked to run exactly once, on the loop thread, never inside its start
 * function and never concurrently with another callback of the handle (capi_test_util.h). */
#define _POSIX_C_SOURCE 200809L
#include "capi_test_util.h"

#define THREADS 2
#define PER_THREAD 4
#define ACTIVITIES 3
#define TOTAL (THREADS * PER_THREAD)

static duroxide_provider *P;

static struct inst {
    char id[32];
    int next_event_id;
    int completed;
    int done;
} insts[TOTAL];
static int n_done;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;

static struct inst *find_inst(const char *id)
{
    int i;
    for (i = 0; i < TOTAL; i++)
        if (strcmp(insts[i].id, id) == 0)
            return &insts[i];
    return NULL;
}

static void event(char *buf, size_t cap, size_t *len, const char *instance, int event_id, int source,
                  const char *tail)
{
    char src[24];
    if (source > 0)
        snprintf(src, sizeof src, "%d", source);
    else
        snprintf(src, sizeof src, "null");
    *len += (size_t)snprintf(buf + *len, cap - *len,
                             "%s{\"event_id\":%d,\"source_event_id\":%s,\"instance_id\":\"%s\",\"execution_id\":1,"
                             "\"timestamp_ms\":1700000000000,\"duroxide_version\":\"0.1.26\",%s}",
                             *len > 1 ? "," : "", event_id, src, instance, tail);
}

/* One orchestration turn if any; returns 1 when work was done. */
static int orchestration_turn(void)
{
    tu_call c, a;
    char token[80], instance[32], delta[8192], workers[4096], metadata[256];
    const char *f, *p;
    size_t dl = 1, wl = 1;
    struct inst *st;
    int i;

    TU_START(&c, duroxide_provider_fetch_orchestration_item(P, 30000, 50, NULL, tu_callback, &c));
    f = tu_expect_ok(&c, "fetch_orchestration_item");
    if (strcmp(f, "null") == 0) {
        tu_done(&c);
        return 0;
    }
    CHECK(strncmp(f, "{\"lock_token\":\"", 15) == 0);
    CHECK(tu_json_str(f, "lock_token", token, sizeof token));
    CHECK(tu_json_str(f, "instance", instance, sizeof instance));
    CHECK(tu_json_uint(f, "attempt_count") >= 1);
    strcpy(delta, "[");
    strcpy(workers, "[");
    strcpy(metadata, "null");
    pthread_mutex_lock(&state_mu);
    st = find_inst(instance);
    CHECK(st != NULL && !st->done);
    if (strstr(f, "{\"StartOrchestration\":") != NULL) {
        CHECK(st->next_event_id == 0);
        event(delta, sizeof delta, &dl, instance, 1, 0,
              "\"type\":\"OrchestrationStarted\",\"name\":\"FanOut\",\"version\":\"1.0.0\",\"input\":\"{}\","
              "\"parent_instance\":null,\"parent_id\":null");
        for (i = 0; i < ACTIVITIES; i++) {
            event(delta, sizeof delta, &dl, instance, 2 + i, 0,
                  "\"type\":\"ActivityScheduled\",\"name\":\"Work\",\"input\":\"x\"");
            wl += (size_t)snprintf(workers + wl, sizeof workers - wl,
                                   "%s{\"ActivityExecute\":{\"instance\":\"%s\",\"execution_id\":1,\"id\":%d,"
                                   "\"name\":\"Work\",\"input\":\"x\"}}",
                                   i > 0 ? "," : "", instance, 2 + i);
        }
        st->next_event_id = 2 + ACTIVITIES;
        strcpy(metadata, "{\"orchestration_name\":\"FanOut\",\"orchestration_version\":\"1.0.0\"}");
    }
    for (p = strstr(f, "{\"ActivityCompleted\":{"); p != NULL; p = strstr(p + 1, "{\"ActivityCompleted\":{")) {
        long long id = tu_json_uint(p, "id");
        CHECK(id >= 2 && id < 2 + ACTIVITIES);
        event(delta, sizeof delta, &dl, instance, st->next_event_id++, (int)id,
              "\"type\":\"ActivityCompleted\",\"result\":\"\\\"ok\\\"\"");
        st->completed++;
    }
    if (st->completed == ACTIVITIES) {
        event(delta, sizeof delta, &dl, instance, st->next_event_id++, 0,
              "\"type\":\"OrchestrationCompleted\",\"output\":\"done\"");
        strcpy(metadata, "{\"status\":\"Completed\",\"output\":\"done\",\"orchestration_name\":\"FanOut\","
                         "\"orchestration_version\":\"1.0.0\",\"pinned_duroxide_version\":\"0.1.26\"}");
        st->done = 1;
        n_done++;
    }
    pthread_mutex_unlock(&state_mu);
    strcat(delta, "]");
    strcat(workers, "]");
    TU_START(&a, duroxide_provider_ack_orchestration_item(P, token, 1, delta, workers, "[]", metadata, NULL,
                                                          tu_callback, &a));
    CHECK(strcmp(tu_expect_ok(&a, "ack_orchestration_item"), "null") == 0);
    tu_done(&a);
    tu_done(&c);
    return 1;
}

static int worker_turn(void)
{
    tu_call c, a;
    char token[80], instance[32], completion[256];
    const char *f;
    long long id;

    TU_START(&c, duroxide_provider_fetch_work_item(P, 30000, 0, NULL, NULL, tu_callback, &c));
    f = tu_expect_ok(&c, "fetch_work_item");
    if (strcmp(f, "null") == 0) {
        tu_done(&c);
        return 0;
    }
    CHECK(tu_json_str(f, "lock_token", token, sizeof token));
    CHECK(strstr(f, "\"item\":{\"ActivityExecute\":{") != NULL);
    CHECK(tu_json_str(f, "instance", instance, sizeof instance));
    id = tu_json_uint(strstr(f, "\"item\""), "id");
    snprintf(completion, sizeof completion,
             "{\"ActivityCompleted\":{\"instance\":\"%s\",\"execution_id\":1,\"id\":%lld,\"result\":\"\\\"ok\\\"\"}}",
             instance, id);
    TU_START(&a, duroxide_provider_ack_work_item(P, token, completion, tu_callback, &a));
    tu_expect_ok(&a, "ack_work_item");
    tu_done(&a);
    tu_done(&c);
    return 1;
}

static void *driver(void *arg)
{
    int t = (int)(size_t)arg, k;
    time_t deadline = time(NULL) + 90;
    for (k = 0; k < PER_THREAD; k++) {
        tu_call c;
        char item[256];
        snprintf(item, sizeof item,
                 "{\"StartOrchestration\":{\"instance\":\"%s\",\"orchestration\":\"FanOut\",\"input\":\"{}\","
                 "\"version\":\"1.0.0\",\"parent_instance\":null,\"parent_id\":null,\"execution_id\":1}}",
                 insts[t * PER_THREAD + k].id);
        TU_START(&c, duroxide_provider_enqueue_for_orchestrator(P, item, DUROXIDE_DURATION_ABSENT, tu_callback, &c));
        CHECK(strcmp(tu_expect_ok(&c, "enqueue_for_orchestrator"), "null") == 0);
        tu_done(&c);
    }
    for (;;) {
        int all;
        pthread_mutex_lock(&state_mu);
        all = n_done == TOTAL;
        pthread_mutex_unlock(&state_mu);
        if (all)
            break;
        CHECK(time(NULL) < deadline);
        orchestration_turn();
        while (worker_turn())
            ;
    }
    return NULL;
}

int main(void)
{
    const char *url = getenv("DATABASE_URL");
    char schema[64], *error = NULL;
    pthread_t th[THREADS];
    int i;

    if (url == NULL) {
        printf("skipped: DATABASE_URL is not set\n");
        return 77;
    }
    CHECK(duroxide_c_api_version() >> 16 == DUROXIDE_C_API_VERSION_MAJOR);
    tu_schema(schema, sizeof schema, "capi_fanout");
    P = duroxide_provider_open(url, schema, "{\"pool_max\":4}", &error);
    if (P == NULL) {
        fprintf(stderr, "open failed: %s\n", error ? error : "?");
        return 1;
    }
    CHECK(error == NULL);
    CHECK(strcmp(duroxide_provider_schema(P), schema) == 0);
    for (i = 0; i < TOTAL; i++)
        snprintf(insts[i].id, sizeof insts[i].id, "fan-%d", i);
    for (i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, driver, (void *)(size_t)i) == 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    for (i = 0; i < TOTAL; i++) {
        tu_call c;
        const char *h;
        TU_START(&c, duroxide_provider_read(P, insts[i].id, tu_callback, &c));
        h = tu_expect_ok(&c, "read");
        CHECK(tu_count(h, "\"event_id\":") == 2 + 2 * ACTIVITIES);
        CHECK(strstr(h, "\"type\":\"OrchestrationCompleted\"") != NULL);
        tu_done(&c);
        TU_START(&c, duroxide_admin_get_instance_info(P, insts[i].id, tu_callback, &c));
        CHECK(strstr(tu_expect_ok(&c, "get_instance_info"), "\"status\":\"Completed\"") != NULL);
        tu_done(&c);
    }
    {
        tu_call c;
        TU_START(&c, duroxide_admin_get_queue_depths(P, tu_callback, &c));
        CHECK(strcmp(tu_expect_ok(&c, "get_queue_depths"),
                     "{\"orchestrator_queue\":0,\"worker_queue\":0,\"timer_queue\":0}") == 0);
        tu_done(&c);
        TU_START(&c, duroxide_provider_drop_schema(P, tu_callback, &c));
        tu_expect_ok(&c, "drop_schema");
        tu_done(&c);
    }
    CHECK(duroxide_provider_close(P) == DUROXIDE_OK);
    duroxide_provider_free(P);
    CHECK(tu_callbacks == tu_started);
    printf("fanout: %d orchestrations x %d activities by %d threads, %ld callbacks, each once\n", TOTAL,
           ACTIVITIES, THREADS, tu_callbacks);
    return 0;
}
