/* matmul.c - the threaded driver loops over the per-ISA row kernels and
 * tiles (see matmul.h).  These loops are written once for every table. */
#include "matmul.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RB 48  /* rows per GEMM job (a multiple of every tile_rows and of GEB_PACK_ROWS) */
_Static_assert(RB % GEB_PACK_ROWS == 0, "GEMM jobs start at a packed group");
#define BB 256 /* tokens per group of partial sums: RB x BB floats, 48 KB on the stack */
#define KC_MAX 256 /* most columns per GEMM block (gemm_kc) */

struct geb_mm {
    const geb_kernels *k;
    int max_cols, max_batch;
    uint8_t *xq;   /* activations in the kernels' type: max_batch rows of max_cols F32 */
    float *xr;     /* activations rounded through that type, back in F32 */
    float *xt;     /* the F32 GEMM's activations in panels (see transpose_task) */
};

geb_mm *geb_mm_new(const geb_kernels *k, int max_cols, int max_batch, geb_err *err) {
    geb_mm *mm = calloc(1, sizeof *mm);
    size_t ldx = ((size_t)max_batch + GEB_TILE_MAX_B - 1) / GEB_TILE_MAX_B * GEB_TILE_MAX_B;
    size_t xq = ((size_t)max_batch * max_cols * sizeof(float) + 63) / 64 * 64;
    size_t xt = (ldx * max_cols * sizeof(float) + 63) / 64 * 64;
    if (mm) {
        mm->xq = aligned_alloc(64, xq);
        mm->xr = aligned_alloc(64, xq);
        mm->xt = aligned_alloc(64, xt);
    }
    if (!mm || !mm->xq || !mm->xr || !mm->xt) {
        geb_mm_free(mm);
        geb_err_set(err, "out of memory for product scratch");
        return NULL;
    }
    mm->k = k, mm->max_cols = max_cols, mm->max_batch = max_batch;
    return mm;
}

void geb_mm_free(geb_mm *mm) {
    if (!mm) return;
    free(mm->xq);
    free(mm->xr);
    free(mm->xt);
    free(mm);
}

const geb_kernels *geb_mm_kernels(const geb_mm *mm) { return mm->k; }

int geb_mm_supports(const geb_kernels *k, geb_type t) {
    return t < GEB_TYPE_COUNT && k->typed[t].matvec != NULL;
}

int geb_mm_widens(const geb_kernels *k, geb_type t, int B, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    /* A packed matrix's integer GEMM beats widening. */
    return t == GEB_TYPE_F32 || (!packed && tk->to_f32 && (!tk->matmul || B >= GEB_WIDEN_MIN_B));
}

geb_type geb_mm_x_type(const geb_kernels *k, geb_type t, int B, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    if (t == GEB_TYPE_F32) return GEB_TYPE_F32;
    if (geb_mm_widens(k, t, B, packed))
        return tk->mat_x == GEB_TYPE_BF16 || tk->mat_x == GEB_TYPE_F16 ? GEB_TYPE_F32 : tk->mat_x;
    return tk->matmul || packed ? tk->mat_x : tk->vec_x;
}

/* ---- the shared row space ------------------------------------------------ */

typedef struct prod_job {
    const geb_kernels *k;
    const geb_prod *p;
    int n;
    const void *x;     /* converted activations: B rows of ldxq bytes */
    size_t ldxq;
    const float *xf;   /* F32 activations [B, cols] (for the transpose) */
    float *xt;         /* the same in panels of tb tokens */
    int tb;
    geb_type xtype;    /* convert_task: the type to convert xf to ... */
    uint8_t *xq;       /* ... into these rows (ldxq bytes apart) ... */
    float *xr;         /* ... and, if not NULL, back to F32 here */
    int B, cols;
    int chunk;         /* rows per job */
    int njobs;
    _Atomic int next;  /* next job to hand out */
} prod_job;

/* Counts the row chunks of all products. */
static int count_chunks(const geb_prod *p, int n, int chunk) {
    int total = 0;
    for (int i = 0; i < n; i++) total += (p[i].m->rows + chunk - 1) / chunk;
    return total;
}

/* Hands out the next row chunk: its product and rows [*r0, *r1), or NULL
 * when every chunk has been taken. */
static const geb_prod *take_chunk(prod_job *j, int *r0, int *r1) {
    int c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (c >= j->njobs) return NULL;
    for (int i = 0; i < j->n; i++) {
        int rows = j->p[i].m->rows, nc = (rows + j->chunk - 1) / j->chunk;
        if (c < nc) {
            *r0 = c * j->chunk;
            *r1 = *r0 + j->chunk < rows ? *r0 + j->chunk : rows;
            return &j->p[i];
        }
        c -= nc;
    }
    return NULL; /* unreachable: njobs counts exactly these chunks */
}

static void run_jobs(geb_pool *pool, prod_job *j, geb_task_fn fn) {
    j->njobs = count_chunks(j->p, j->n, j->chunk);
    atomic_init(&j->next, 0);
    if (j->njobs > 0) geb_pool_run(pool, fn, j);
}

/* Converts one row of F32 activations to the kernels' type t (a no-op for
 * F32: the row is used where it is); for matvec. */
static const void *convert_x(geb_mm *mm, geb_type t, const float *x, int cols, size_t *ld) {
    if (t == GEB_TYPE_F32) {
        *ld = (size_t)cols * sizeof(float);
        return x;
    }
    *ld = geb_type_row_bytes(t, cols);
    geb_type_traits_of(t)->from_f32(mm->xq, x, cols);
    return mm->xq;
}

/* Pool task: the B rows of a batch to xtype, thread ith taking every nth
 * row, and back to F32 where xr is set. */
static void convert_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    const geb_type_traits *tr = geb_type_traits_of(j->xtype);
    for (int b = ith; b < j->B; b += nth) {
        uint8_t *q = j->xq + (size_t)b * j->ldxq;
        tr->from_f32(q, j->xf + (size_t)b * j->cols, j->cols);
        if (j->xr) tr->to_f32(j->xr + (size_t)b * j->cols, q, j->cols);
    }
}

/* ---- matrix-vector ------------------------------------------------------- */

static void matvec_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    const geb_prod *p;
    int r0, r1;
    while ((p = take_chunk(j, &r0, &r1))) {
        const geb_mat *m = p->m;
        const geb_type_kernels *tk = &j->k->typed[m->type];
        (m->packed ? tk->packed->matvec : tk->matvec)(p->y + r0, m->w + (size_t)r0 * m->ldw, m->ldw,
                                                      j->x, r1 - r0, j->cols);
    }
}

/* Rows per matvec chunk: about 1 MB of weights, a multiple of 8 rows (a
 * packed group: GEB_PACK_ROWS), and
 * small enough that every thread gets 8 chunks of each product to balance
 * load.  Larger chunks mean longer sequential streams and fewer hand-offs
 * through the shared counter: 1 MB read 5-10% faster than 64 KB with two
 * threads on the development machine (tools/kbench.c), no slower with one. */
static int matvec_chunk(const geb_prod *p, int n, int nth) {
    long total = 0;
    for (int i = 0; i < n; i++) total += p[i].m->rows;
    long rows = (1024L * 1024) / (long)(p[0].m->ldw ? p[0].m->ldw : 1);
    long cap = total / (8L * nth);
    if (rows > cap) rows = cap;
    rows &= ~(long)(GEB_PACK_ROWS - 1);
    return rows < GEB_PACK_ROWS ? GEB_PACK_ROWS : (int)rows;
}

void geb_mm_matvec(geb_mm *mm, geb_pool *pool, const geb_prod *p, int n, const float *x) {
    if (n <= 0) return;
    int cols = p[0].m->cols;
    geb_type t = p[0].m->type;
    prod_job j = {.k = mm->k, .p = p, .n = n, .B = 1, .cols = cols};
    j.x = convert_x(mm, mm->k->typed[t].vec_x, x, cols, &j.ldxq);
    j.chunk = matvec_chunk(p, n, geb_pool_size(pool));
    run_jobs(pool, &j, matvec_task);
}

/* ---- matrix-matrix ------------------------------------------------------- */

/* Pool task: the F32 GEMM's activations in panels of tb tokens (the tile's
 * width): panel p holds tokens p*tb.. as [cols][tb], so the slice of a
 * panel that a tile reads for KC columns is one contiguous block that stays
 * in L1 (a [cols][B] layout strides by B floats from one k to the next,
 * which maps a tile's reads onto few L1 sets).  Thread ith fills its share
 * of the columns of every panel, 16 columns at a time; lanes past B get 0. */
static void transpose_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    int per = (j->cols + nth - 1) / nth, tb = j->tb;
    int k0 = ith * per, k1 = k0 + per < j->cols ? k0 + per : j->cols;
    for (int p = 0; p * tb < j->B; p++) {
        float *panel = j->xt + (size_t)p * j->cols * tb;
        for (int kb = k0; kb < k1; kb += 16) {
            int kn = k1 - kb < 16 ? k1 - kb : 16;
            float *dst = panel + (size_t)kb * tb;
            for (int b = 0; b < tb; b++) {
                int tok = p * tb + b;
                const float *src = j->xf + (size_t)tok * j->cols + kb;
                for (int i = 0; i < kn; i++) dst[(size_t)i * tb + b] = tok < j->B ? src[i] : 0.0f;
            }
        }
    }
}

/* Columns per GEMM block: a panel slice of kc x tb floats is 16 KB, half
 * of L1, and the job's RB x kc weights (48 KB with tb = 16) stay in L2
 * while every token of the batch passes over them. */
static int gemm_kc(int tb) { return 4096 / tb < 64 ? 64 : 4096 / tb; }

/* The job's rows [r0, r1) of columns [k0, k0 + kn) as F32 rows: in place
 * for F32 weights (*ld = the matrix's row stride), else widened into buf
 * (*ld = KC_MAX); returns row r0. */
static const float *gemm_rows(const geb_kernels *k, const geb_mat *m, int r0, int r1, int k0,
                              int kn, float *buf, size_t *ld) {
    if (m->type == GEB_TYPE_F32) {
        *ld = m->ldw / sizeof(float);
        return (const float *)(m->w + (size_t)r0 * m->ldw) + k0;
    }
    *ld = KC_MAX;
    if (m->packed) { /* r0 and r1 are multiples of GEB_PACK_ROWS (RB is) */
        for (int r = r0; r < r1; r += GEB_PACK_ROWS)
            k->typed[m->type].packed->to_f32(buf + (size_t)(r - r0) * KC_MAX, KC_MAX,
                                             m->w + (size_t)r * m->ldw, m->ldw, k0, kn);
        return buf;
    }
    size_t off = geb_type_row_bytes(m->type, k0);
    for (int r = r0; r < r1; r++)
        k->typed[m->type].to_f32(buf + (size_t)(r - r0) * KC_MAX, m->w + (size_t)r * m->ldw + off, kn);
    return buf;
}

/* Y[b, r0..r1) = W[r0..r1) X[b] through the F32 tiles: groups of BB
 * tokens, kc-column blocks of the job's rows (widened once per block and
 * group), panels of tb tokens, register tiles of tile_rows rows. */
static void gemm_f32(const geb_kernels *k, const geb_prod *p, const float *xt, int B, int r0,
                     int r1, int cols) {
    const geb_mat *m = p->m;
    int tr = k->tile_rows, tb = k->tile_b, kc = gemm_kc(tb);
    size_t ldy = (size_t)m->rows;
    float part[RB * BB], wbuf[RB * KC_MAX];
    for (int bb = 0; bb < B; bb += BB) {
        int bn = B - bb < BB ? B - bb : BB;
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int kn = cols - k0 < kc ? cols - k0 : kc;
            size_t ld;
            const float *w = gemm_rows(k, m, r0, r1, k0, kn, wbuf, &ld);
            for (int b0 = bb; b0 < bb + bn; b0 += tb) {
                int nb = bb + bn - b0 < tb ? bb + bn - b0 : tb;
                const float *slice = xt + (size_t)(b0 / tb) * cols * tb + (size_t)k0 * tb;
                for (int r = r0; r < r1; r += tr) {
                    int mr = r1 - r < tr ? r1 - r : tr;
                    const float *wp[GEB_TILE_MAX_ROWS];
                    for (int i = 0; i < tr; i++) wp[i] = w + (size_t)(r - r0 + (i < mr ? i : mr - 1)) * ld;
                    k->tile_f32(part + (size_t)(r - r0) * BB + (b0 - bb), BB, mr, wp, slice,
                                (size_t)tb, kn, k0 == 0, nb);
                }
            }
        }
        /* Partial sums are [row][token]; Y is [token][row]. */
        for (int b = 0; b < bn; b++)
            for (int r = r0; r < r1; r++) p->y[(size_t)(bb + b) * ldy + r] = part[(size_t)(r - r0) * BB + b];
    }
}

static void matmul_f32_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    const geb_prod *p;
    int r0, r1;
    while ((p = take_chunk(j, &r0, &r1))) gemm_f32(j->k, p, j->xt, j->B, r0, r1, j->cols);
}

/* Other types: the ISA's batched row kernel, or one matvec per token where
 * a table has none. */
static void matmul_typed_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    const geb_prod *p;
    int r0, r1;
    while ((p = take_chunk(j, &r0, &r1))) {
        const geb_mat *m = p->m;
        const geb_type_kernels *tk = &j->k->typed[m->type];
        const uint8_t *w = m->w + (size_t)r0 * m->ldw;
        if (m->packed) {
            tk->packed->matmul(p->y + r0, (size_t)m->rows, w, m->ldw, j->x, j->ldxq, j->B, r1 - r0, j->cols);
            continue;
        }
        if (tk->matmul) {
            tk->matmul(p->y + r0, (size_t)m->rows, w, m->ldw, j->x, j->ldxq, j->B, r1 - r0, j->cols);
            continue;
        }
        for (int b = 0; b < j->B; b++)
            tk->matvec(p->y + (size_t)b * m->rows + r0, w, m->ldw,
                       (const uint8_t *)j->x + (size_t)b * j->ldxq, r1 - r0, j->cols);
    }
}

/* The F32 GEMM for F32 weights and for typed ones the table can widen:
 * activations (rounded through geb_mm_x_type, as the weights' own matmul
 * would see them) transposed into panels, then row jobs of RB rows. */
static void matmul_gemm(geb_mm *mm, geb_pool *pool, prod_job *j, geb_type xt) {
    if (xt != GEB_TYPE_F32) {
        j->xtype = xt, j->xq = mm->xq, j->xr = mm->xr;
        j->ldxq = geb_type_row_bytes(xt, j->cols);
        geb_pool_run(pool, convert_task, j);
        j->xf = mm->xr;
    }
    j->xt = mm->xt;
    j->tb = mm->k->tile_b;
    geb_pool_run(pool, transpose_task, j);
    j->chunk = RB; /* ~40 jobs per GEB-1.3B matrix: a job's rows fit part[] */
    run_jobs(pool, j, matmul_f32_task);
}

void geb_mm_matmul(geb_mm *mm, geb_pool *pool, const geb_prod *p, int n, const float *x, int B) {
    if (n <= 0 || B <= 0) return;
    int cols = p[0].m->cols;
    geb_type t = p[0].m->type;
    prod_job j = {.k = mm->k, .p = p, .n = n, .B = B, .cols = cols, .xf = x};
    int packed_mm = p[0].m->packed;
    geb_type xt = geb_mm_x_type(mm->k, t, B, packed_mm);
    if (geb_mm_widens(mm->k, t, B, packed_mm)) {
        matmul_gemm(mm, pool, &j, xt);
        return;
    }
    if (xt == GEB_TYPE_F32) {
        j.x = x, j.ldxq = (size_t)cols * sizeof(float);
    } else {
        j.xtype = xt, j.xq = mm->xq, j.xr = NULL;
        j.ldxq = geb_type_row_bytes(xt, cols);
        geb_pool_run(pool, convert_task, &j);
        j.x = mm->xq;
    }
    j.chunk = packed_mm ? 128 : 32; /* packed: fewer passes over the activations' sums */
    run_jobs(pool, &j, matmul_typed_task);
}
