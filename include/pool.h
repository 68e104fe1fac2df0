/* pool.h - a persistent pthread pool for the per-token path.
 *
 *   geb_pool *pool = geb_pool_create(4, &err);
 *   geb_pool_run(pool, my_task, &ctx);   // my_task(&ctx, ith, nth) on every thread
 *   geb_pool_free(pool);
 *
 * The calling thread is worker 0, so a pool of 1 runs tasks inline with no
 * synchronisation at all.  Workers spin briefly on an atomic generation
 * counter before sleeping on a condition variable, so back-to-back runs (one
 * per matrix in a forward pass) cost well under a microsecond to start.
 * geb_pool_run never allocates.
 */
#ifndef GEB_POOL_H
#define GEB_POOL_H

#include "common.h"

typedef struct geb_pool geb_pool;
typedef void (*geb_task_fn)(void *ctx, int ith, int nth);

geb_pool *geb_pool_create(int nthreads, geb_err *err);
void geb_pool_free(geb_pool *pool);
int geb_pool_size(const geb_pool *pool);

/* Runs fn(ctx, ith, nth) for ith = 0..nth-1, one call per thread, and
 * returns when all calls have returned.  Not reentrant. */
void geb_pool_run(geb_pool *pool, geb_task_fn fn, void *ctx);

#endif
