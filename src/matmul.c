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
/* wbuf holds RB rows in a type's rows() form too. */
_Static_assert(RB * GEB_GEMM_MAX_WROW <= RB * KC_MAX * sizeof(float), "rows() form fits wbuf");
#define UNPACK_MAX 1024 /* most bytes of a packed row's block unpacked (kc of Q4_0 / Q8_0 blocks) */

struct geb_mm {
    const geb_kernels *k;
    int max_cols, max_batch;
    uint8_t *xq;   /* activations in the kernels' type: max_batch rows of max_cols F32 */
    float *xr;     /* activations rounded through that type, back in F32 */
    uint8_t *xt;   /* a GEMM's activations in panels (see panel_task) */
};

geb_mm *geb_mm_new(const geb_kernels *k, int max_cols, int max_batch, geb_err *err) {
    geb_mm *mm = calloc(1, sizeof *mm);
    size_t ldx = ((size_t)max_batch + GEB_TILE_MAX_B - 1) / GEB_TILE_MAX_B * GEB_TILE_MAX_B;
    size_t xq = ((size_t)max_batch * max_cols * sizeof(float) + 63) / 64 * 64;
    /* Panels: at most 4 bytes per column and token, plus one step of padding. */
    size_t xt = (ldx * ((size_t)max_cols + 32) * sizeof(float) + 63) / 64 * 64;
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

/* 1 if the type's own GEMM tile runs the product (before any widening). */
static int own_gemm(const geb_kernels *k, geb_type t, int B, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    if (t == GEB_TYPE_F32 || !tk->gemm || B < GEB_WIDEN_MIN_B) return 0;
    /* Packed rows need unpacking, and room for a block of them. */
    return !packed || (tk->packed->unpack && geb_type_row_bytes(t, tk->gemm->kc) <= UNPACK_MAX);
}

int geb_mm_widens(const geb_kernels *k, geb_type t, int B, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    if (own_gemm(k, t, B, packed)) return 0;
    /* A packed matrix's integer GEMM beats widening. */
    return t == GEB_TYPE_F32 || (!packed && tk->to_f32 && (!tk->matmul || B >= GEB_WIDEN_MIN_B));
}

geb_type geb_mm_x_type(const geb_kernels *k, geb_type t, int B, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    if (t == GEB_TYPE_F32) return GEB_TYPE_F32;
    if (own_gemm(k, t, B, packed)) return tk->gemm->x_type;
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
    const float *xf;   /* F32 activations [B, cols] (for the panels) */
    uint8_t *xt;       /* the same in a GEMM's panels */
    const struct gemm_plan *plan;
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

/* How one GEMM runs: the F32 tiles of the ISA table on F32 rows (in place
 * or widened, g == NULL), or a type's own tile (g) on its rows in place.
 * Both read the activations from panels of tb tokens (kernels.h's
 * geb_gemm_kernels describes the layout; the F32 one has steps of one
 * column, 4 bytes a token). */
typedef struct gemm_plan {
    const geb_gemm_kernels *g;
    int tr, tb, kc, kblk;
    size_t step;   /* bytes per panel step: step_bytes x tb */
    size_t panel;  /* bytes per panel */
} gemm_plan;

/* Columns per F32 block: a panel slice of kc x tb floats is 16 KB, half
 * of L1, and the job's RB x kc weights (48 KB with tb = 16) stay in L2
 * while every token of the batch passes over them. */
static int gemm_kc(int tb) { return 4096 / tb < 64 ? 64 : 4096 / tb; }

static gemm_plan plan_of(const geb_kernels *k, const geb_gemm_kernels *g, int cols) {
    gemm_plan pl = {g, k->tile_rows, k->tile_b, gemm_kc(k->tile_b), 1, 0, 0};
    if (g) pl.tr = g->tile_rows, pl.tb = g->tile_b, pl.kc = g->kc, pl.kblk = g->kblk;
    pl.step = (size_t)(g ? g->step_bytes : 4) * pl.tb;
    pl.panel = (size_t)((cols + pl.kblk - 1) / pl.kblk) * pl.step;
    return pl;
}

/* Steps [s0, s1) of an F32 panel (tokens in lanes, [cols][tb]): the slice
 * a tile reads for KC columns is one contiguous block that stays in L1 (a
 * [cols][B] layout strides by B floats from one k to the next, which maps a
 * tile's reads onto few L1 sets).  16 columns at a time; lanes past nb get 0. */
static void f32_panel(float *panel, int tb, const float *x, size_t ldx, int nb, int s0, int s1) {
    for (int kb = s0; kb < s1; kb += 16) {
        int kn = s1 - kb < 16 ? s1 - kb : 16;
        float *dst = panel + (size_t)kb * tb;
        for (int b = 0; b < tb; b++) {
            const float *src = x + (size_t)b * ldx + kb;
            for (int i = 0; i < kn; i++) dst[(size_t)i * tb + b] = b < nb ? src[i] : 0.0f;
        }
    }
}

/* Pool task: the batch's activations in panels; thread ith fills its share
 * of the steps of every panel. */
static void panel_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    const gemm_plan *pl = j->plan;
    int steps = (j->cols + pl->kblk - 1) / pl->kblk, per = (steps + nth - 1) / nth;
    int s0 = ith * per, s1 = s0 + per < steps ? s0 + per : steps;
    if (s0 >= s1) return;
    for (int p = 0; p * pl->tb < j->B; p++) {
        uint8_t *panel = j->xt + (size_t)p * pl->panel;
        const float *x = j->xf + (size_t)p * pl->tb * j->cols;
        int nb = j->B - p * pl->tb < pl->tb ? j->B - p * pl->tb : pl->tb;
        if (pl->g) pl->g->panel(panel, x, (size_t)j->cols, nb, s0, s1, j->cols);
        else f32_panel((float *)(void *)panel, pl->tb, x, (size_t)j->cols, nb, s0, s1);
    }
}

/* The job's rows [r0, r1) of columns [k0, k0 + kn) as the tile reads them:
 * in place for F32 weights and a type's own tile on stored rows (*ld = the
 * matrix's row stride); recast by the type's rows() (packed groups
 * unpacked first) into buf (*ld = its wrow_bytes); else widened to F32 into
 * buf (*ld = KC_MAX floats).  Returns row r0 at column k0.  r0 and r1 are
 * multiples of GEB_PACK_ROWS (RB is) where the matrix is packed. */
static const uint8_t *gemm_rows(const geb_kernels *k, const gemm_plan *pl, const geb_mat *m,
                                int r0, int r1, int k0, int kn, float *buf, size_t *ld) {
    const geb_type_kernels *tk = &k->typed[m->type];
    size_t off = geb_type_row_bytes(m->type, k0);
    if (m->type == GEB_TYPE_F32 || (pl->g && !pl->g->wrow_bytes)) {
        *ld = m->ldw;
        return m->w + (size_t)r0 * m->ldw + off;
    }
    if (pl->g) {
        uint8_t *dst = (uint8_t *)buf;
        *ld = (size_t)pl->g->wrow_bytes;
        if (!m->packed) {
            pl->g->rows(dst, m->w + (size_t)r0 * m->ldw + off, m->ldw, r1 - r0, kn);
            return dst;
        }
        uint8_t group[GEB_PACK_ROWS * UNPACK_MAX];
        size_t lg = geb_type_row_bytes(m->type, kn);
        for (int r = r0; r < r1; r += GEB_PACK_ROWS) {
            tk->packed->unpack(group, lg, m->w + (size_t)r * m->ldw, m->ldw, k0, kn);
            pl->g->rows(dst + (size_t)(r - r0) * *ld, group, lg, GEB_PACK_ROWS, kn);
        }
        return dst;
    }
    *ld = KC_MAX * sizeof(float);
    if (m->packed) {
        for (int r = r0; r < r1; r += GEB_PACK_ROWS)
            tk->packed->to_f32(buf + (size_t)(r - r0) * KC_MAX, KC_MAX, m->w + (size_t)r * m->ldw, m->ldw, k0, kn);
        return (const uint8_t *)buf;
    }
    for (int r = r0; r < r1; r++)
        tk->to_f32(buf + (size_t)(r - r0) * KC_MAX, m->w + (size_t)r * m->ldw + off, kn);
    return (const uint8_t *)buf;
}

/* One register tile of rows r.. (mr valid) at w (ld bytes apart). */
static void gemm_tile(const geb_kernels *k, const gemm_plan *pl, float *part, int mr,
                      const uint8_t *w, size_t ld, const uint8_t *slice, int kn, int first, int nb) {
    if (pl->g) {
        const uint8_t *wp[GEB_TILE_MAX_ROWS];
        for (int i = 0; i < pl->tr; i++) wp[i] = w + (size_t)(i < mr ? i : mr - 1) * ld;
        pl->g->tile(part, BB, mr, wp, slice, kn, first, nb);
        return;
    }
    /* Built directly (a copy from a uint8_t array became a rep movsq per
     * tile, 4% of an F32 GEMM). */
    const float *wf[GEB_TILE_MAX_ROWS];
    for (int i = 0; i < pl->tr; i++) wf[i] = (const float *)(const void *)(w + (size_t)(i < mr ? i : mr - 1) * ld);
    k->tile_f32(part, BB, mr, wf, (const float *)(const void *)slice, (size_t)pl->tb, kn, first, nb);
}

/* Y[b, r0..r1) = W[r0..r1) X[b]: groups of BB tokens, kc-column blocks of
 * the job's rows (widened once per block and group where the plan needs
 * F32 rows), panels of tb tokens, register tiles of tr rows. */
static void gemm_job(const geb_kernels *k, const gemm_plan *pl, const geb_prod *p,
                     const uint8_t *panels, int B, int r0, int r1, int cols) {
    const geb_mat *m = p->m;
    size_t ldy = (size_t)m->rows;
    float part[RB * BB], wbuf[RB * KC_MAX];
    for (int bb = 0; bb < B; bb += BB) {
        int bn = B - bb < BB ? B - bb : BB;
        for (int k0 = 0; k0 < cols; k0 += pl->kc) {
            int kn = cols - k0 < pl->kc ? cols - k0 : pl->kc;
            size_t ld;
            const uint8_t *w = gemm_rows(k, pl, m, r0, r1, k0, kn, wbuf, &ld);
            for (int b0 = bb; b0 < bb + bn; b0 += pl->tb) {
                int nb = bb + bn - b0 < pl->tb ? bb + bn - b0 : pl->tb;
                const uint8_t *slice = panels + (size_t)(b0 / pl->tb) * pl->panel + (size_t)(k0 / pl->kblk) * pl->step;
                for (int r = r0; r < r1; r += pl->tr) {
                    int mr = r1 - r < pl->tr ? r1 - r : pl->tr;
                    gemm_tile(k, pl, part + (size_t)(r - r0) * BB + (b0 - bb), mr,
                              w + (size_t)(r - r0) * ld, ld, slice, kn, k0 == 0, nb);
                }
            }
        }
        /* Partial sums are [row][token]; Y is [token][row]. */
        for (int b = 0; b < bn; b++)
            for (int r = r0; r < r1; r++) p->y[(size_t)(bb + b) * ldy + r] = part[(size_t)(r - r0) * BB + b];
    }
}

static void matmul_gemm_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    const geb_prod *p;
    int r0, r1;
    while ((p = take_chunk(j, &r0, &r1))) gemm_job(j->k, j->plan, p, j->xt, j->B, r0, r1, j->cols);
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

/* The GEMM for F32 weights, for typed ones the table can widen and for
 * types with a tile of their own: activations (for widened ones rounded
 * through geb_mm_x_type, as the weights' own matmul would see them) in
 * panels, then row jobs of RB rows. */
static void matmul_gemm(geb_mm *mm, geb_pool *pool, prod_job *j, const geb_gemm_kernels *g, geb_type xt) {
    gemm_plan pl = plan_of(mm->k, g, j->cols);
    if (!g && xt != GEB_TYPE_F32) {
        j->xtype = xt, j->xq = mm->xq, j->xr = mm->xr;
        j->ldxq = geb_type_row_bytes(xt, j->cols);
        geb_pool_run(pool, convert_task, j);
        j->xf = mm->xr;
    }
    j->xt = mm->xt;
    j->plan = &pl;
    geb_pool_run(pool, panel_task, j);
    j->chunk = RB; /* ~40 jobs per GEB-1.3B matrix: a job's rows fit part[] */
    run_jobs(pool, j, matmul_gemm_task);
}

void geb_mm_matmul(geb_mm *mm, geb_pool *pool, const geb_prod *p, int n, const float *x, int B) {
    if (n <= 0 || B <= 0) return;
    int cols = p[0].m->cols;
    geb_type t = p[0].m->type;
    prod_job j = {.k = mm->k, .p = p, .n = n, .B = B, .cols = cols, .xf = x};
    int packed_mm = p[0].m->packed;
    geb_type xt = geb_mm_x_type(mm->k, t, B, packed_mm);
    if (own_gemm(mm->k, t, B, packed_mm)) {
        matmul_gemm(mm, pool, &j, mm->k->typed[t].gemm, xt);
        return;
    }
    if (geb_mm_widens(mm->k, t, B, packed_mm)) {
        matmul_gemm(mm, pool, &j, NULL, xt);
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
