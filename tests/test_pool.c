/* test_pool.c - the thread pool runs every ith exactly once per run, on the
 * caller for ith 0, finishes every call before returning, and survives many
 * back-to-back runs, runs after the workers fell asleep, and shutdown. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "pool.h"
#include "test.h"

#define MAXT 8

typedef struct counts {
    _Atomic int calls[MAXT];  /* calls per ith in this test */
    _Atomic int bad_nth;      /* calls that saw the wrong nth or ith */
    int nth;                  /* expected nth */
    pthread_t caller;
    _Atomic int caller_ok;    /* ith 0 ran on the caller thread */
    int finished[MAXT];       /* written late in the task: must be seen after run */
    int run;                  /* run index, written by the test between runs */
} counts;

/* Counts the call and checks (ith, nth); sleeps a little on odd ith so that
 * geb_pool_run really has to wait for slow workers. */
static void count_task(void *ctx, int ith, int nth) {
    counts *c = ctx;
    if (nth != c->nth || ith < 0 || ith >= nth || ith >= MAXT) {
        atomic_fetch_add(&c->bad_nth, 1);
        return;
    }
    atomic_fetch_add(&c->calls[ith], 1);
    if (ith == 0 && pthread_equal(pthread_self(), c->caller)) atomic_fetch_add(&c->caller_ok, 1);
    if (ith % 2 == 1 && c->run % 97 == 0) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    c->finished[ith] = c->run + 1;
}

/* Runs `runs` times on a pool of n, optionally pausing between runs so the
 * workers give up spinning and sleep. */
static void check_pool(int n, int runs, int pause_us) {
    geb_err err;
    geb_pool *pool = geb_pool_create(n, &err);
    CHECK_MSG(pool != NULL, "create %d: %s", n, err.msg);
    if (!pool) return;
    CHECK(geb_pool_size(pool) == n);
    static counts c;
    memset(&c, 0, sizeof c);
    c.nth = n;
    c.caller = pthread_self();
    int missing = 0;
    for (int r = 0; r < runs; r++) {
        c.run = r;
        geb_pool_run(pool, count_task, &c);
        /* Every call of this run has completed before geb_pool_run returned. */
        for (int i = 0; i < n; i++)
            if (c.finished[i] != r + 1) missing++;
        if (pause_us) {
            struct timespec ts = {0, pause_us * 1000L};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_MSG(missing == 0, "pool %d: %d calls unfinished at return", n, missing);
    for (int i = 0; i < n; i++)
        CHECK_MSG(atomic_load(&c.calls[i]) == runs, "pool %d ith %d: %d calls, want %d", n, i,
                  atomic_load(&c.calls[i]), runs);
    for (int i = n; i < MAXT; i++) CHECK(atomic_load(&c.calls[i]) == 0);
    CHECK(atomic_load(&c.bad_nth) == 0);
    CHECK(atomic_load(&c.caller_ok) == runs);
    geb_pool_free(pool);
}

int main(void) {
    for (int n = 1; n <= MAXT; n++) check_pool(n, 3000, 0);
    /* Long pauses: workers fall asleep on the condition variable each time. */
    for (int n = 1; n <= 4; n++) check_pool(n, 20, 3000);

    /* Create and free without running, and a NULL free. */
    for (int n = 1; n <= MAXT; n++) {
        geb_pool *p = geb_pool_create(n, NULL);
        CHECK(p != NULL);
        geb_pool_free(p);
    }
    geb_pool_free(NULL);

    /* Nonsense sizes are clamped to one thread that runs inline. */
    geb_pool *p = geb_pool_create(0, NULL);
    CHECK(p != NULL && geb_pool_size(p) == 1);
    geb_pool_free(p);
    return TEST_DONE("pool");
}
