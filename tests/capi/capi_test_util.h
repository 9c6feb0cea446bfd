/* tests/capi/capi_test_util.h — helpers shared by the C99 tests of the C API: a blocking call
 * wrapper that checks the callback contract (exactly once, on the loop thread, never inside the
 * start function, never two callbacks of one handle at once), and tiny JSON text helpers. */
#ifndef DUROXIDE_CAPI_TEST_UTIL_H
#define DUROXIDE_CAPI_TEST_UTIL_H

#include <duroxide/c/provider.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
#define TU_UNUSED __attribute__((unused))
#else
#define TU_UNUSED
#endif

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* Per-thread "inside a start function" marker (set around every start call). */
static __thread int tu_in_start;

/* Global callback bookkeeping (guarded by tu_mu). */
static pthread_mutex_t tu_mu = PTHREAD_MUTEX_INITIALIZER;
static int tu_in_callback; /* callbacks running right now (one handle per test) */
static long tu_callbacks;  /* callbacks run so far */
static long tu_started;    /* operations accepted so far */
static int tu_loop_known; /* all callbacks of the test's one handle run on one thread */
static pthread_t tu_loop;

typedef struct tu_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired; /* how many times the callback ran */
    int ok, retryable;
    char *json;
    char operation[64];
    char sqlstate[8];
    char *message;
    pthread_t caller;
    pthread_t cb_thread;
} tu_call;

static char *tu_strdup(const char *s, size_t n)
{
    char *p = (char *)malloc(n + 1);
    CHECK(p != NULL);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void TU_UNUSED tu_callback(const duroxide_result *r, void *user_data)
{
    tu_call *c = (tu_call *)user_data;
    CHECK(!tu_in_start); /* never inside the start function (same-thread case) */
    pthread_mutex_lock(&tu_mu);
    CHECK(tu_in_callback == 0); /* no overlap within a handle */
    tu_in_callback++;
    tu_callbacks++;
    if (tu_loop_known)
        CHECK(pthread_equal(tu_loop, pthread_self()));
    tu_loop_known = 1;
    tu_loop = pthread_self();
    pthread_mutex_unlock(&tu_mu);
    CHECK(r != NULL && r->operation != NULL && r->message != NULL && r->sqlstate != NULL && r->json != NULL);
    CHECK(r->json[r->json_len] == '\0' && strlen(r->json) == r->json_len);
    pthread_mutex_lock(&c->mu);
    c->fired++;
    c->ok = r->ok;
    c->retryable = r->retryable;
    c->cb_thread = pthread_self();
    if (r->ok) {
        CHECK(r->operation[0] == '\0' && r->message[0] == '\0' && r->sqlstate[0] == '\0' && r->retryable == 0);
        c->json = tu_strdup(r->json, r->json_len);
    } else {
        CHECK(r->operation[0] != '\0' && r->message[0] != '\0' && r->json_len == 0);
        snprintf(c->operation, sizeof c->operation, "%s", r->operation);
        snprintf(c->sqlstate, sizeof c->sqlstate, "%s", r->sqlstate);
        c->message = tu_strdup(r->message, strlen(r->message));
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&tu_mu);
    tu_in_callback--;
    pthread_mutex_unlock(&tu_mu);
}

static void TU_UNUSED tu_init(tu_call *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->caller = pthread_self();
}

static void TU_UNUSED tu_wait(tu_call *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->fired == 0)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    CHECK(!pthread_equal(c->cb_thread, c->caller)); /* on the loop thread */
}

static void TU_UNUSED tu_done(tu_call *c)
{
    CHECK(c->fired == 1);
    free(c->json);
    free(c->message);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

/* Runs one start call: START is an expression using `tu_callback, c`. */
#define TU_START(c, call)            \
    do {                             \
        int rc_;                     \
        tu_init(c);                  \
        tu_in_start = 1;             \
        rc_ = (call);                \
        tu_in_start = 0;             \
        CHECK(rc_ == DUROXIDE_OK);   \
        pthread_mutex_lock(&tu_mu);  \
        tu_started++;                \
        pthread_mutex_unlock(&tu_mu);\
        tu_wait(c);                  \
    } while (0)

/* Expects success; returns the JSON (owned by c until tu_done). */
static const char *tu_expect_ok(tu_call *c, const char *what)
{
    if (!c->ok) {
        fprintf(stderr, "%s failed: %s: %s (retryable %d, sqlstate %s)\n", what, c->operation,
                c->message, c->retryable, c->sqlstate);
        abort();
    }
    return c->json;
}

/* Finds `"key":` in json and returns the unsigned integer after it (or -1). */
static long long TU_UNUSED tu_json_uint(const char *json, const char *key)
{
    char pat[80];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(json, pat);
    if (p == NULL)
        return -1;
    return strtoll(p + strlen(pat), NULL, 10);
}

/* Copies the string value after `"key":"` into out (no unescaping; ids/tokens need none). */
static int TU_UNUSED tu_json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[80];
    const char *p, *e;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    p = strstr(json, pat);
    if (p == NULL)
        return 0;
    p += strlen(pat);
    e = strchr(p, '"');
    if (e == NULL || (size_t)(e - p) >= cap)
        return 0;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 1;
}

static int TU_UNUSED tu_count(const char *hay, const char *needle)
{
    int n = 0;
    const char *p = hay;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* A schema name unique to this process and moment. */
static void TU_UNUSED tu_schema(char *out, size_t cap, const char *prefix)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, cap, "%s_%ld_%ld", prefix, (long)getpid(), (long)(ts.tv_nsec % 1000000));
}

#endif
