/* pool.c - a persistent pthread pool: the caller is worker 0, workers 1..n-1
 * wait for a new generation number, run the task, and count themselves done.
 *
 * Start: the caller publishes fn/ctx, bumps `gen`, and wakes sleepers only if
 * some worker has gone to sleep.  Finish: each worker increments `done`; the
 * caller spins on it, and if that takes long it sleeps on a condition variable
 * that the last worker signals.  Both hand-offs pair a seq_cst store with a
 * seq_cst load of the other side's flag (Dekker style), so a wakeup is never
 * lost and the common case takes no lock at all.
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Spin iterations before sleeping.  A forward pass issues its matrix products
 * back to back, so workers nearly always find the next task while spinning;
 * the machine may be shared, so the spin stays short (tens of microseconds).
 * With more threads than CPUs a spinning thread only steals the CPU from the
 * one it waits for, so such pools sleep almost at once. */
#define GEB_POOL_SPIN 4000
#define GEB_POOL_STACK ((size_t)4 << 20)
#define GEB_POOL_SPIN_OVERSUBSCRIBED 16

typedef struct geb_worker {
    geb_pool *pool;
    pthread_t thread;
    int ith;
} geb_worker;

struct geb_pool {
    int n;                      /* threads including the caller */
    int spin;                   /* spin iterations before sleeping */
    geb_worker *workers;        /* [n]; entry 0 is the caller (no thread) */
    geb_task_fn fn;             /* current task, valid while a run is active */
    void *ctx;
    _Atomic unsigned gen;       /* bumped once per run; workers wait for a change */
    _Atomic int done;           /* workers 1..n-1 finished with this generation */
    _Atomic int sleepers;       /* workers blocked (or about to block) on `wake` */
    _Atomic int caller_waiting; /* the caller sleeps on `finished` */
    _Atomic int stop;           /* set once by geb_pool_free */
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* a new generation (or stop) */
    pthread_cond_t finished;    /* done reached n-1 */
};

/* One CPU relaxation hint for spin loops. */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waits until pool->gen differs from `seen` or stop is set; returns the new gen. */
static unsigned worker_wait(geb_pool *pool, unsigned seen) {
    for (int i = 0; i < pool->spin; i++) {
        unsigned g = atomic_load_explicit(&pool->gen, memory_order_acquire);
        if (g != seen || atomic_load(&pool->stop)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->mu);
    /* Announce the sleep before the final check: the caller bumps gen and then
     * reads sleepers, so one of the two sides always sees the other. */
    atomic_fetch_add(&pool->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&pool->gen)) == seen && !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->wake, &pool->mu);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->mu);
    return g;
}

/* Thread body of workers 1..n-1: run each new generation's task once. */
static void *worker_main(void *arg) {
    geb_worker *w = arg;
    geb_pool *pool = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = worker_wait(pool, seen);
        if (atomic_load(&pool->stop)) break;
        pool->fn(pool->ctx, w->ith, pool->n);
        /* The last finisher wakes the caller if it went to sleep. */
        if (atomic_fetch_add(&pool->done, 1) == pool->n - 2 &&
            atomic_load(&pool->caller_waiting)) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->finished);
            pthread_mutex_unlock(&pool->mu);
        }
    }
    return NULL;
}

/* Creates a pool of nthreads (clamped to >= 1) with nthreads-1 new threads.
 * Returns NULL and fills err on failure. */
geb_pool *geb_pool_create(int nthreads, geb_err *err) {
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 1024) nthreads = 1024;
    geb_pool *pool = calloc(1, sizeof *pool);
    geb_worker *workers = calloc((size_t)nthreads, sizeof *workers);
    if (!pool || !workers) {
        free(pool);
        free(workers);
        geb_err_set(err, "out of memory creating a pool of %d threads", nthreads);
        return NULL;
    }
    pool->n = nthreads;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pool->spin = ncpu > 0 && nthreads > ncpu ? GEB_POOL_SPIN_OVERSUBSCRIBED : GEB_POOL_SPIN;
    pool->workers = workers;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->finished, NULL);
    for (int i = 0; i < nthreads; i++) {
        workers[i].pool = pool;
        workers[i].ith = i;
    }
    /* Workers get at least 4 MB of stack whatever RLIMIT_STACK says: the
     * GEMM keeps about 100 KB of partial sums and widened weights there. */
    pthread_attr_t attr;
    size_t stack = 0;
    pthread_attr_init(&attr);
    if (pthread_attr_getstacksize(&attr, &stack) == 0 && stack < GEB_POOL_STACK)
        pthread_attr_setstacksize(&attr, GEB_POOL_STACK);
    for (int i = 1; i < nthreads; i++) {
        int rc = pthread_create(&workers[i].thread, &attr, worker_main, &workers[i]);
        if (rc != 0) {
            /* Shut down the threads already started, then report. */
            pthread_attr_destroy(&attr);
            pool->n = i;
            geb_pool_free(pool);
            geb_err_set(err, "pthread_create failed for thread %d of %d: %s", i,
                        nthreads, strerror(rc));
            return NULL;
        }
    }
    pthread_attr_destroy(&attr);
    return pool;
}

/* Stops and joins every worker, then frees the pool.  NULL is a no-op. */
void geb_pool_free(geb_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->workers[i].thread, NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->finished);
    pthread_mutex_destroy(&pool->mu);
    free(pool->workers);
    free(pool);
}

/* Number of threads, the caller included. */
int geb_pool_size(const geb_pool *pool) { return pool ? pool->n : 1; }

/* Waits (spin, then sleep) until all n-1 workers have finished this run. */
static void caller_wait(geb_pool *pool) {
    int want = pool->n - 1;
    for (int i = 0; i < pool->spin; i++) {
        if (atomic_load_explicit(&pool->done, memory_order_acquire) == want) return;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->mu);
    /* A read-modify-write rather than a plain store: it orders the flag
     * before the read of `done` even where seq_cst store->load ordering is
     * emulated weakly (qemu-user on x86 lost this wakeup with a plain store). */
    atomic_exchange(&pool->caller_waiting, 1);
    while (atomic_load(&pool->done) != want) pthread_cond_wait(&pool->finished, &pool->mu);
    atomic_store(&pool->caller_waiting, 0);
    pthread_mutex_unlock(&pool->mu);
}

/* Runs fn(ctx, ith, n) on every thread (ith 0 on the caller) and returns when
 * all have returned.  No allocation, no lock unless a worker is asleep. */
void geb_pool_run(geb_pool *pool, geb_task_fn fn, void *ctx) {
    if (!pool || pool->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->done, 0);
    /* seq_cst increment, then read sleepers: pairs with worker_wait. */
    atomic_fetch_add(&pool->gen, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mu);
    }
    fn(ctx, 0, pool->n);
    caller_wait(pool);
}
