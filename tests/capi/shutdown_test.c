/* tests/capi/shutdown_test.c — compiled as C99. Close and free while operations are in flight:
 * from another thread, from inside a callback, from two threads at once; every callback fires
 * exactly once (run under ASan/LSan in CI: nothing leaks). c-api.md §3.5, §3.6, §11.6. */
#define _POSIX_C_SOURCE 200809L
#include "capi_test_util.h"

static const char *URL;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* A counted operation: the callback records its outcome and the time. */
typedef struct op {
    int fired, ok, retryable;
    double at;
    char message[128];
    char json[128];
} op;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void on_op(const duroxide_result *r, void *u)
{
    op *o = (op *)u;
    pthread_mutex_lock(&mu);
    CHECK(!tu_in_start);
    o->fired++;
    o->ok = r->ok;
    o->retryable = r->retryable;
    o->at = now_ms();
    snprintf(o->message, sizeof o->message, "%s", r->message);
    snprintf(o->json, sizeof o->json, "%s", r->json);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_fired(op *o)
{
    pthread_mutex_lock(&mu);
    while (o->fired == 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

/* `schema_out` (64 bytes, may be NULL) receives the schema's name. */
static duroxide_provider *open_in(const char *prefix, const char *options, char *schema_out)
{
    char schema[64], *error = NULL;
    duroxide_provider *p;
    tu_schema(schema, sizeof schema, prefix);
    if (schema_out != NULL)
        snprintf(schema_out, 64, "%s", schema);
    p = duroxide_provider_open(URL, schema, options, &error);
    if (p == NULL) {
        fprintf(stderr, "open: %s\n", error);
        abort();
    }
    return p;
}

static duroxide_provider *open_fresh(const char *prefix, const char *options)
{
    return open_in(prefix, options, NULL);
}

static void drop(duroxide_provider *p)
{
    op o;
    memset(&o, 0, sizeof o);
    CHECK(duroxide_provider_drop_schema(p, on_op, &o) == DUROXIDE_OK);
    wait_fired(&o);
    CHECK(o.ok);
}

static const char START_FMT[] =
    "{\"StartOrchestration\":{\"instance\":\"s-%d\",\"orchestration\":\"P\",\"input\":\"{}\",\"version\":\"1.0.0\","
    "\"parent_instance\":null,\"parent_id\":null,\"execution_id\":1}}";

/* 1. Off-thread close while long polls wait and writes are in flight. */
static void close_from_other_thread(void)
{
    enum { N = 60 };
    static op polls[2], writes[N];
    char schema[64];
    duroxide_provider *p = open_in("capi_sd1", "{\"pool_max\":2}", schema);
    double t0;
    int i, ok = 0, not_started = 0, unknown = 0;
    unsigned long long depth = 0;
    drop(p); /* schema gone: nothing for the polls to find; recreate it */
    {
        op o;
        memset(&o, 0, sizeof o);
        CHECK(duroxide_provider_initialize_schema(p, on_op, &o) == DUROXIDE_OK);
        wait_fired(&o);
        CHECK(o.ok);
    }
    memset(polls, 0, sizeof polls);
    memset(writes, 0, sizeof writes);
    CHECK(duroxide_provider_fetch_orchestration_item(p, 30000, 60000, NULL, on_op, &polls[0]) == DUROXIDE_OK);
    CHECK(duroxide_provider_fetch_work_item(p, 30000, 60000, NULL, "{\"mode\":\"tags\",\"tags\":[\"none-such\"]}", on_op,
                                            &polls[1]) == DUROXIDE_OK);
    sleep_ms(300); /* both are waiting in their long polls now */
    for (i = 0; i < N; i++) {
        char item[256];
        snprintf(item, sizeof item, START_FMT, i);
        CHECK(duroxide_provider_enqueue_for_orchestrator(p, item, -1, on_op, &writes[i]) == DUROXIDE_OK);
    }
    t0 = now_ms();
    CHECK(duroxide_provider_close(p) == DUROXIDE_OK);
    for (i = 0; i < 2; i++) {
        CHECK(polls[i].fired == 1 && polls[i].ok && strcmp(polls[i].json, "null") == 0);
        CHECK(polls[i].at - t0 < 100.0);
    }
    for (i = 0; i < N; i++) {
        CHECK(writes[i].fired == 1);
        if (writes[i].ok)
            ok++;
        else if (strcmp(writes[i].message, "provider closed: operation not started") == 0 && writes[i].retryable)
            not_started++;
        else if (strcmp(writes[i].message, "provider closed: outcome unknown") == 0 && writes[i].retryable)
            unknown++;
        else {
            fprintf(stderr, "unexpected close outcome: %s\n", writes[i].message);
            abort();
        }
    }
    CHECK(duroxide_provider_read(p, "s-0", on_op, &writes[0]) == DUROXIDE_ECLOSED);
    CHECK(duroxide_provider_close(p) == DUROXIDE_OK);
    duroxide_provider_free(p);
    /* "operation not started" means no effect (step 3): the queue holds every start reported ok,
     * some of those whose outcome is unknown, and none of the others. */
    {
        char *error = NULL;
        op o;
        duroxide_provider *q = duroxide_provider_open(URL, schema, NULL, &error);
        CHECK(q != NULL);
        memset(&o, 0, sizeof o);
        CHECK(duroxide_admin_get_queue_depths(q, on_op, &o) == DUROXIDE_OK);
        wait_fired(&o);
        CHECK(o.ok && sscanf(o.json, "{\"orchestrator_queue\":%llu", &depth) == 1);
        CHECK(depth >= (unsigned long long)ok && depth <= (unsigned long long)(ok + unknown));
        drop(q);
        CHECK(duroxide_provider_close(q) == DUROXIDE_OK);
        duroxide_provider_free(q);
    }
    printf("close from another thread: polls answered null in %.1f / %.1f ms; writes: %d ok, %d not started, "
           "%d outcome unknown; %llu in the queue\n",
           polls[0].at - t0, polls[1].at - t0, ok, not_started, unknown, depth);
}

/* 2. Close, then free, from inside a callback of the same handle. */
static struct {
    duroxide_provider *p;
    int close_rc, close_rc2, start_rc, free_from_cb;
    op poll, trigger, late;
} cb2;

static void on_trigger(const duroxide_result *r, void *u)
{
    (void)u;
    (void)r;
    tu_in_start = 1;
    cb2.close_rc = duroxide_provider_close(cb2.p);
    cb2.start_rc = duroxide_provider_read(cb2.p, "x", on_op, &cb2.late);
    cb2.close_rc2 = duroxide_provider_close(cb2.p);
    if (cb2.free_from_cb)
        duroxide_provider_free(cb2.p);
    tu_in_start = 0;
    on_op(r, &cb2.trigger);
}

static void close_inside_callback(int free_too)
{
    memset(&cb2, 0, sizeof cb2);
    cb2.free_from_cb = free_too;
    cb2.p = open_fresh("capi_sd2", NULL);
    CHECK(duroxide_provider_fetch_work_item(cb2.p, 30000, 60000, NULL, "{\"mode\":\"any\"}", on_op, &cb2.poll) == DUROXIDE_OK);
    sleep_ms(100);
    if (!free_too)
        drop(cb2.p);
    CHECK(duroxide_admin_get_queue_depths(cb2.p, on_trigger, NULL) == DUROXIDE_OK);
    wait_fired(&cb2.trigger);
    wait_fired(&cb2.poll);
    CHECK(cb2.close_rc == DUROXIDE_PENDING && cb2.close_rc2 == DUROXIDE_PENDING);
    CHECK(cb2.start_rc == DUROXIDE_ECLOSED);
    CHECK(cb2.poll.fired == 1 && cb2.poll.ok && strcmp(cb2.poll.json, "null") == 0);
    if (!free_too) {
        CHECK(duroxide_provider_close(cb2.p) == DUROXIDE_OK); /* joins the thread that exited by itself */
        duroxide_provider_free(cb2.p);
    } else {
        sleep_ms(300); /* the loop thread releases the handle and detaches */
    }
    CHECK(cb2.late.fired == 0);
    printf("close%s inside a callback: PENDING, ECLOSED for new starts, waiting poll answered null\n",
           free_too ? " + free" : "");
}

/* 3. Two threads close at once, while a long poll waits. */
static duroxide_provider *P3;
static void *closer(void *arg)
{
    (void)arg;
    CHECK(duroxide_provider_close(P3) == DUROXIDE_OK);
    return NULL;
}

static void two_closers(void)
{
    pthread_t a, b;
    op poll;
    memset(&poll, 0, sizeof poll);
    P3 = open_fresh("capi_sd3", NULL);
    drop(P3);
    CHECK(duroxide_provider_fetch_orchestration_item(P3, 1000, 60000, NULL, on_op, &poll) == DUROXIDE_OK);
    pthread_create(&a, NULL, closer, NULL);
    pthread_create(&b, NULL, closer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK(poll.fired == 1);
    duroxide_provider_free(P3);
    printf("two threads closed at once: both returned OK\n");
}

/* 4. Close while an ack executes: its real outcome (grace period) or "outcome unknown". */
static void close_during_ack(void)
{
    duroxide_provider *p = open_fresh("capi_sd4", "{\"close_grace_ms\":2000}");
    tu_call c;
    char item[256], token[80];
    op ack;
    snprintf(item, sizeof item, START_FMT, 1);
    TU_START(&c, duroxide_provider_enqueue_for_orchestrator(p, item, -1, tu_callback, &c));
    tu_done(&c);
    TU_START(&c, duroxide_provider_fetch_orchestration_item(p, 30000, 5000, NULL, tu_callback, &c));
    CHECK(tu_json_str(tu_expect_ok(&c, "fetch"), "lock_token", token, sizeof token));
    tu_done(&c);
    tu_loop_known = 0;
    memset(&ack, 0, sizeof ack);
    CHECK(duroxide_provider_ack_orchestration_item(p, token, 1, NULL, NULL, NULL, "{\"status\":\"Completed\"}", NULL,
                                                   on_op, &ack) == DUROXIDE_OK);
    CHECK(duroxide_provider_close(p) == DUROXIDE_OK);
    CHECK(ack.fired == 1);
    CHECK(ack.ok || strcmp(ack.message, "provider closed: outcome unknown") == 0 ||
          strcmp(ack.message, "provider closed: operation not started") == 0);
    printf("close during an ack: %s\n", ack.ok ? "ack committed within the grace period" : ack.message);
    /* a fresh handle cleans up the schema */
    {
        char *error = NULL;
        duroxide_provider *q = duroxide_provider_open(URL, duroxide_provider_schema(p), NULL, &error);
        CHECK(q != NULL);
        drop(q);
        duroxide_provider_free(q);
    }
    duroxide_provider_free(p);
}

/* 5. A failed open_async releases everything by itself. */
static op failed_open;
static void on_failed_open(const duroxide_result *r, duroxide_provider *h, void *u)
{
    CHECK(h == NULL && !r->ok && strcmp(r->operation, "open") == 0);
    on_op(r, u);
}

static void failed_open_async(void)
{
    memset(&failed_open, 0, sizeof failed_open);
    CHECK(duroxide_provider_open_async("postgresql://127.0.0.1:1/x?sslmode=disable", "s", NULL, on_failed_open,
                                       &failed_open) == DUROXIDE_OK);
    wait_fired(&failed_open);
    CHECK(failed_open.retryable);
    sleep_ms(200); /* the loop thread releases the handle and detaches */
    printf("failed open_async: %s (retryable), released by the library\n", failed_open.message);
}

int main(void)
{
    URL = getenv("DATABASE_URL");
    if (URL == NULL) {
        printf("skipped: DATABASE_URL is not set\n");
        return 77;
    }
    close_from_other_thread();
    close_inside_callback(0);
    close_inside_callback(1);
    two_closers();
    close_during_ack();
    failed_open_async();
    return 0;
}
