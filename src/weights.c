/* weights.c - the load plan (see weights.h).
 *
 * A plan has units and slots.  A unit is one checkpoint tensor as it will be
 * held in memory (converted once, or used in place).  A slot is one role of
 * one layer: a row range of a unit, so that the fused K|V or gate|up tensor
 * of GLM checkpoints appears as two matrices, and a tensor shared by every
 * layer appears in every layer while its unit exists once.
 */
#include "weights.h"

#include "kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct unit {
    const geb_tensor *t;
    geb_role role;      /* of its first slot: what decides its type */
    geb_type type;      /* in memory */
    int rows, cols;     /* as a matrix ([n, 1] for a vector) */
    uint8_t *owned;     /* converted copy (in the arena), or NULL if in place */
    const uint8_t *data;
    const geb_packed_kernels *pack; /* rows packed in groups at load, or NULL */
} unit;

typedef struct slot {
    int unit;           /* -1: role absent */
    int row0;           /* first row of the view */
    geb_mat mat;        /* set at load */
} slot;

struct geb_weights {
    geb_config *cfg;
    const geb_st *st;
    geb_type type;
    unit *units;
    int n_units, cap_units;
    slot *slots;        /* (L + 1) * GEB_R_ROLES: layer l, role r; model roles in row L */
    char file_dtype[16];
    uint8_t *arena;     /* every converted unit, one geb_alloc_big */
    size_t arena_bytes;
};

static slot *slot_at(const geb_weights *w, int l, geb_role r) {
    if (r >= GEB_R_LAYER_ROLES) l = w->cfg->n_layers;
    return &w->slots[(size_t)l * GEB_R_ROLES + r];
}

/* ---- expected shapes ----------------------------------------------------- */

/* Rows and columns role r must have ([n, 1] for vectors); 0 rows if the
 * config says the role is not there. */
static void role_shape(const geb_config *c, geb_role r, int *rows, int *cols) {
    int H = c->dim, F = c->ffn_dim, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    int shapes[GEB_R_ROLES][2] = {
        [GEB_R_ATTN_NORM] = {H, 1}, [GEB_R_Q] = {QD, H}, [GEB_R_K] = {KD, H},
        [GEB_R_V] = {KD, H}, [GEB_R_Q_B] = {QD, 1}, [GEB_R_K_B] = {KD, 1},
        [GEB_R_V_B] = {KD, 1}, [GEB_R_ATTN_SUB_NORM] = {QD, 1}, [GEB_R_O] = {H, QD},
        [GEB_R_FFN_NORM] = {H, 1}, [GEB_R_GATE] = {F, H}, [GEB_R_UP] = {F, H},
        [GEB_R_FFN_SUB_NORM] = {F, 1}, [GEB_R_DOWN] = {H, F}, [GEB_R_EMBED] = {c->vocab, H},
        [GEB_R_FINAL_NORM] = {H, 1}, [GEB_R_OUTPUT] = {c->vocab, H}};
    *rows = shapes[r][0];
    *cols = shapes[r][1];
}

/* 1 if the config implies role r (biases, final norm, untied output). */
static int role_wanted(const geb_config *c, geb_role r) {
    switch (r) {
    case GEB_R_Q_B: case GEB_R_K_B: case GEB_R_V_B: return c->qkv_bias;
    case GEB_R_FINAL_NORM: return c->final_norm;
    case GEB_R_OUTPUT: return !c->tied;
    case GEB_R_ATTN_SUB_NORM: case GEB_R_FFN_SUB_NORM: return 0;
    default: return 1;
    }
}

static int is_vector(geb_role r) {
    return r == GEB_R_ATTN_NORM || r == GEB_R_FFN_NORM || r == GEB_R_FINAL_NORM ||
           r == GEB_R_Q_B || r == GEB_R_K_B || r == GEB_R_V_B || r == GEB_R_ATTN_SUB_NORM ||
           r == GEB_R_FFN_SUB_NORM;
}

static const char *shape_str(const geb_tensor *t, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < t->ndim && n + 24 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    return buf;
}

/* ---- planning ------------------------------------------------------------ */

/* The unit of tensor t (added if new), checked as a [rows, cols] matrix or
 * an [rows] vector of a computable dtype. */
static geb_type role_type(geb_type wtype, geb_role r, geb_dtype stored);

/* 1 if a and b are the same bytes of the same file. */
static int same_storage(const geb_tensor *a, const geb_tensor *b) {
    return a == b || (a->data == b->data && a->nbytes == b->nbytes && a->dtype == b->dtype && a->nbytes);
}

static int add_unit(geb_weights *w, const geb_tensor *t, int rows, int cols, geb_role role,
                    geb_err *err) {
    int vector = is_vector(role);
    geb_type type = role_type(w->type, role, t->dtype);
    for (int i = 0; i < w->n_units; i++)
        if (same_storage(w->units[i].t, t) && w->units[i].type == type)
            return i; /* the same storage again: a shared tensor is held once */
    if (t->dtype == GEB_DTYPE_OTHER)
        return geb_err_set(err, "tensor '%s' has dtype %s; geb reads F32, F16 and BF16", t->name,
                           t->dtype_name), -2;
    int ok = vector ? t->ndim == 1 && t->shape[0] == rows
                    : t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!ok) {
        char got[96];
        if (vector)
            geb_err_set(err, "tensor '%s' has shape [%s], config.json implies [%d]", t->name,
                        shape_str(t, got, sizeof got), rows);
        else
            geb_err_set(err, "tensor '%s' has shape [%s], config.json implies [%d, %d]", t->name,
                        shape_str(t, got, sizeof got), rows, cols);
        return -2;
    }
    if (w->n_units == w->cap_units) {
        int cap = w->cap_units ? 2 * w->cap_units : 64;
        unit *u = realloc(w->units, sizeof *u * cap);
        if (!u) return geb_err_set(err, "out of memory"), -2;
        w->units = u, w->cap_units = cap;
    }
    w->units[w->n_units] = (unit){.t = t, .role = role, .type = type, .rows = rows,
                                  .cols = vector ? 1 : cols};
    return w->n_units++;
}

static geb_type file_type(geb_dtype d) {
    return d == GEB_DTYPE_F16 ? GEB_TYPE_F16 : d == GEB_DTYPE_BF16 ? GEB_TYPE_BF16 : GEB_TYPE_F32;
}

/* The in-memory type of a role's tensor when the projections are wtype:
 * norms and biases F32; the embedding as stored (it is read one row per
 * token, so its type costs memory, never bandwidth, and keeping it exact
 * costs no accuracy); every projection and the output matrix wtype. */
static geb_type role_type(geb_type wtype, geb_role r, geb_dtype stored) {
    if (is_vector(r)) return GEB_TYPE_F32;
    if (r == GEB_R_EMBED) return file_type(stored);
    return wtype;
}

/* The tensor of a role in layer l, falling back to layer 0 for roles the
 * family may store once (shared). */
static const geb_tensor *find_role(const geb_weights *w, geb_role r, int l, char *name, size_t cap) {
    const geb_arch *a = w->cfg->arch;
    if (geb_arch_tensor_name(a, r, l, name, cap)) return NULL;
    const geb_tensor *t = geb_st_find(w->st, name);
    if (!t && l > 0 && (a->shared & GEB_ROLE_BIT(r))) {
        char first[160];
        geb_arch_tensor_name(a, r, 0, first, sizeof first);
        t = geb_st_find(w->st, first);
    }
    return t;
}

/* Plans a role with a tensor of its own in layer l. */
static int plan_plain(geb_weights *w, geb_role r, int l, geb_err *err) {
    char name[160];
    int rows, cols;
    role_shape(w->cfg, r, &rows, &cols);
    const geb_tensor *t = find_role(w, r, l, name, sizeof name);
    if (!t) {
        if (!role_wanted(w->cfg, r) || (w->cfg->arch->optional & GEB_ROLE_BIT(r))) return 0;
        return geb_err_set(err, "checkpoint has no tensor '%s'", name);
    }
    if (!role_wanted(w->cfg, r))
        return geb_err_set(err, "checkpoint has tensor '%s' but config.json says there is none (%s)",
                           name, r == GEB_R_OUTPUT ? "tie_word_embeddings is true"
                                 : r == GEB_R_FINAL_NORM ? "post_layer_norm is false"
                                                         : "add_qkv_bias is false");
    int u = add_unit(w, t, rows, cols, r, err);
    if (u < 0) return -1;
    *slot_at(w, l, r) = (slot){.unit = u, .row0 = 0};
    return 0;
}

/* Plans a fused tensor of layer l: one unit, one row view per part. */
static int plan_fused(geb_weights *w, const geb_fused *f, int l, geb_err *err) {
    char name[160];
    geb_arch_format(f->name, l, name, sizeof name);
    const geb_tensor *t = geb_st_find(w->st, name);
    int wanted = role_wanted(w->cfg, f->parts[0]);
    if (!t) return wanted ? geb_err_set(err, "checkpoint has no tensor '%s'", name) : 0;
    if (!wanted)
        return geb_err_set(err, "checkpoint has tensor '%s' but config.json says there is none "
                                "(add_qkv_bias is false)", name);
    int rows = 0, cols = 0, pr, pc;
    for (int i = 0; i < f->n_parts; i++) {
        role_shape(w->cfg, f->parts[i], &pr, &pc);
        rows += pr, cols = pc;
    }
    int u = add_unit(w, t, rows, cols, f->parts[0], err);
    if (u < 0) return -1;
    for (int i = 0, row = 0; i < f->n_parts; i++) {
        *slot_at(w, l, f->parts[i]) = (slot){.unit = u, .row0 = row};
        role_shape(w->cfg, f->parts[i], &pr, &pc);
        row += pr;
    }
    return 0;
}

/* The family entry among the config's candidates whose layout the
 * checkpoint has (its probe role's layer-0 tensor exists, alone or fused). */
static int pick_layout(geb_config *c, const geb_st *st, geb_err *err) {
    char name[160];
    for (int i = 0; i < c->n_arch; i++) {
        const geb_arch *a = c->cands[i];
        if (geb_arch_tensor_name(a, a->probe, 0, name, sizeof name) == 0 && geb_st_find(st, name)) {
            geb_config_set_arch(c, a);
            return 0;
        }
        for (int f = 0; f < GEB_ARCH_MAX_FUSED && a->fused[f].name; f++)
            for (int p = 0; p < a->fused[f].n_parts; p++)
                if (a->fused[f].parts[p] == a->probe) {
                    geb_arch_format(a->fused[f].name, 0, name, sizeof name);
                    if (geb_st_find(st, name)) {
                        geb_config_set_arch(c, a);
                        return 0;
                    }
                }
    }
    geb_arch_tensor_name(c->cands[0], c->cands[0]->probe, 0, name, sizeof name);
    return geb_err_set(err, "checkpoint has no tensor '%s' (nor any other layout of a %s model)",
                       name, c->arch_key[0] ? c->arch_key : c->cands[0]->name);
}

/* MobiLlama: the kv head count is K's rows / D, whatever config.json says. */
static int kv_heads_from_k(geb_weights *w, geb_err *err) {
    geb_config *c = w->cfg;
    char name[160];
    if (!c->arch->kv_heads_from_tensor || geb_arch_tensor_name(c->arch, GEB_R_K, 0, name, sizeof name))
        return 0;
    const geb_tensor *t = geb_st_find(w->st, name);
    if (!t || t->ndim != 2 || t->shape[0] % c->head_dim || t->shape[0] / c->head_dim < 1 ||
        c->n_heads % (int)(t->shape[0] / c->head_dim))
        return t ? geb_err_set(err, "tensor '%s' does not hold whole kv heads of %d", name, c->head_dim) : 0;
    c->n_kv_heads = (int)(t->shape[0] / c->head_dim);
    return 0;
}

/* Every tensor of the checkpoint must be used or be a known buffer. */
static int check_all_used(const geb_weights *w, geb_err *err) {
    size_t n = geb_st_count(w->st);
    for (size_t i = 0; i < n; i++) {
        const geb_tensor *t = geb_st_at(w->st, i);
        int used = 0;
        for (int u = 0; u < w->n_units && !used; u++) used = w->units[u].t == t ||
            (w->units[u].t->data == t->data && w->units[u].t->nbytes == t->nbytes && t->nbytes);
        if (!used && !geb_arch_known_buffer(w->cfg->arch, t->name))
            return geb_err_set(err, "checkpoint tensor '%s' is not used by a %d-layer %s model "
                                    "(config.json disagrees with the checkpoint)",
                               t->name, w->cfg->n_layers, w->cfg->arch->name);
    }
    return 0;
}

static int plan(geb_weights *w, geb_err *err) {
    const geb_arch *a = w->cfg->arch;
    for (int l = 0; l <= w->cfg->n_layers; l++) {
        int model = l == w->cfg->n_layers;
        for (int r = model ? GEB_R_LAYER_ROLES : 0; r < (model ? GEB_R_ROLES : GEB_R_LAYER_ROLES); r++)
            if (a->tensor[r] && plan_plain(w, (geb_role)r, l, err)) return -1;
        if (model) break;
        for (int f = 0; f < GEB_ARCH_MAX_FUSED && a->fused[f].name; f++)
            if (plan_fused(w, &a->fused[f], l, err)) return -1;
        for (int r = 0; r < GEB_R_LAYER_ROLES; r++)
            if (role_wanted(w->cfg, (geb_role)r) && slot_at(w, l, (geb_role)r)->unit < 0)
                return geb_err_set(err, "the %s family has no tensor for %s in layer %d", a->name,
                                   geb_role_name((geb_role)r), l);
    }
    if (!w->cfg->tied && slot_at(w, 0, GEB_R_OUTPUT)->unit < 0)
        return geb_err_set(err, "checkpoint has no output matrix and tie_word_embeddings is false");
    if (w->cfg->tied) {
        /* The output matrix is the embedding, in the projections' type: the
         * same unit when the types agree, else a converted copy. */
        const slot *e = slot_at(w, 0, GEB_R_EMBED);
        int rows, cols;
        role_shape(w->cfg, GEB_R_OUTPUT, &rows, &cols);
        int u = add_unit(w, w->units[e->unit].t, rows, cols, GEB_R_OUTPUT, err);
        if (u < 0) return -1;
        *slot_at(w, 0, GEB_R_OUTPUT) = (slot){.unit = u, .row0 = 0};
    }
    return check_all_used(w, err);
}

/* Block types need whole blocks in every row of type t; -1 with a
 * message naming the first tensor whose rows do not divide. */
static int check_blocks(const geb_weights *w, geb_type t, geb_err *err) {
    const geb_type_traits *tr = geb_type_traits_of(t);
    for (int i = 0; i < w->n_units; i++) {
        const unit *u = &w->units[i];
        if (role_type(t, u->role, u->t->dtype) == t && u->cols % tr->block)
            return geb_err_set(err, "-w %s needs rows that are a multiple of %d, but '%s' has rows of %d",
                               tr->name, tr->block, u->t->name, u->cols);
    }
    return 0;
}

int geb_weights_type_ok(const geb_weights *w, geb_type t) { return check_blocks(w, t, NULL) == 0; }

int geb_weights_open(geb_weights **out, geb_config *cfg, const geb_st *st, geb_type type,
                     geb_err *err) {
    *out = NULL;
    geb_weights *w = calloc(1, sizeof *w);
    size_t ns = ((size_t)cfg->n_layers + 1) * GEB_R_ROLES;
    if (!w || !(w->slots = malloc(sizeof *w->slots * ns))) {
        free(w);
        return geb_err_set(err, "out of memory");
    }
    for (size_t i = 0; i < ns; i++) w->slots[i] = (slot){.unit = -1};
    w->cfg = cfg, w->st = st, w->type = type;
    if (pick_layout(cfg, st, err) || kv_heads_from_k(w, err) || plan(w, err) ||
        check_blocks(w, type, err)) {
        geb_weights_free(w);
        return -1;
    }
    const char *d = w->n_units ? w->units[0].t->dtype_name : "?";
    for (int i = 1; i < w->n_units; i++)
        if (strcmp(w->units[i].t->dtype_name, d) != 0) d = "mixed";
    snprintf(w->file_dtype, sizeof w->file_dtype, "%s", d);
    *out = w;
    return 0;
}

void geb_weights_free(geb_weights *w) {
    if (!w) return;
    geb_free_big(w->arena, w->arena_bytes);
    free(w->units);
    free(w->slots);
    free(w);
}

/* ---- loading ------------------------------------------------------------- */

/* 1 if unit u can be used where the file maps it: same type and aligned. */
static int in_place(const unit *u) {
    geb_type ft = file_type(u->t->dtype);
    size_t align = ft == GEB_TYPE_F32 ? 4 : 2;
    return ft == u->type && (uintptr_t)u->t->data % align == 0;
}

typedef struct convert_job {
    const unit *u;
    uint8_t *dst;        /* NULL: in place, only checked */
    float *scratch;      /* nth rows of cols floats */
    uint8_t *group;      /* packing: nth groups of GEB_PACK_ROWS rows as stored */
    _Atomic int bad_row; /* first row with a NaN/Inf seen, or -1 */
} convert_job;

/* Converts (or just checks) this thread's share of the unit's rows: file
 * row -> F32 -> finite? -> the in-memory type. */
static void convert_task(void *ctx, int ith, int nth) {
    convert_job *j = ctx;
    const unit *u = j->u;
    int cols = u->cols, rows = u->rows;
    const geb_type_traits *ft = geb_type_traits_of(file_type(u->t->dtype)),
                          *mt = geb_type_traits_of(u->type);
    size_t src_ld = (size_t)cols * ft->block_bytes, dst_ld = geb_type_row_bytes(u->type, cols);
    float *row = j->scratch + (size_t)ith * cols;
    int per = (rows + nth - 1) / nth;
    if (u->pack) per = (per + GEB_PACK_ROWS - 1) / GEB_PACK_ROWS * GEB_PACK_ROWS; /* whole groups */
    int r0 = ith * per, r1 = r0 + per < rows ? r0 + per : rows;
    uint8_t *group = u->pack ? j->group + (size_t)ith * GEB_PACK_ROWS * dst_ld : NULL;
    for (int r = r0; r < r1; r++) {
        const uint8_t *src = u->t->data + (size_t)r * src_ld;
        if (!j->dst) { /* in place: only the bits need checking */
            if (geb_type_any_nonfinite(u->type, src, cols) != 0) {
                int none = -1;
                atomic_compare_exchange_strong(&j->bad_row, &none, r);
                return;
            }
            continue;
        }
        ft->to_f32(row, src, cols);
        for (int k = 0; k < cols; k++)
            if (!isfinite(row[k])) {
                int none = -1;
                atomic_compare_exchange_strong(&j->bad_row, &none, r);
                return;
            }
        if (!group) {
            mt->from_f32(j->dst + (size_t)r * dst_ld, row, cols);
            continue;
        }
        /* Packing: the rows of a group as stored, then the group in place. */
        int i = r % GEB_PACK_ROWS;
        mt->from_f32(group + (size_t)i * dst_ld, row, cols);
        if (i == GEB_PACK_ROWS - 1)
            u->pack->pack(j->dst + (size_t)(r - i) * dst_ld, group, dst_ld, cols);
    }
}

/* Bytes of unit u in memory, rounded up to a cache line (its place in the
 * arena); 0 when it is used in place. */
static size_t arena_share(const unit *u) {
    if (in_place(u)) return 0;
    size_t bytes = geb_type_row_bytes(u->type, u->cols) * (size_t)u->rows;
    return (bytes + 63) & ~(size_t)63;
}

/* Converts unit u into dst (NULL: in place, only checked). */
static int load_unit(unit *u, uint8_t *dst, geb_pool *pool, float *scratch, geb_err *err) {
    size_t ld = geb_type_row_bytes(u->type, u->cols);
    convert_job j = {.u = u, .scratch = scratch, .dst = dst};
    atomic_init(&j.bad_row, -1);
    if (u->pack && !(j.group = malloc(ld * GEB_PACK_ROWS * (size_t)geb_pool_size(pool))))
        return geb_err_set(err, "out of memory");
    u->owned = dst;
    if (dst) geb_st_advise_willneed(u->t);
    geb_pool_run(pool, convert_task, &j);
    free(j.group);
    if (j.dst) geb_st_advise_dontneed(u->t);
    int bad = atomic_load(&j.bad_row);
    if (bad >= 0)
        return geb_err_set(err, "tensor '%s' holds a NaN or infinity (row %d): the checkpoint is damaged",
                           u->t->name, bad);
    u->data = u->owned ? u->owned : u->t->data;
    return 0;
}

/* 1 if unit ui can be held packed for the kernels tk: converted (never
 * mapped), no embedding (rows are looked up one at a time), and every view
 * of it whole groups. */
static int packable(const geb_weights *w, int ui, const geb_type_kernels *tk) {
    const unit *u = &w->units[ui];
    if (!tk->packed || tk->vec_x != tk->mat_x || in_place(u) || u->rows % GEB_PACK_ROWS) return 0;
    size_t ns = ((size_t)w->cfg->n_layers + 1) * GEB_R_ROLES;
    for (size_t i = 0; i < ns; i++) {
        const slot *s = &w->slots[i];
        if (s->unit != ui) continue;
        int rows, cols;
        role_shape(w->cfg, (geb_role)(i % GEB_R_ROLES), &rows, &cols);
        if (i % GEB_R_ROLES == GEB_R_EMBED || s->row0 % GEB_PACK_ROWS || rows % GEB_PACK_ROWS) return 0;
    }
    return 1;
}

void geb_weights_set_kernels(geb_weights *w, const geb_kernels *k) {
    for (int i = 0; i < w->n_units; i++) {
        const geb_type_kernels *tk = &k->typed[w->units[i].type];
        w->units[i].pack = packable(w, i, tk) ? tk->packed : NULL;
    }
}

int geb_weights_load(geb_weights *w, geb_pool *pool, geb_progress_fn progress, void *ud,
                     geb_err *err) {
    int maxc = 1;
    size_t total = 0, done = 0;
    for (int i = 0; i < w->n_units; i++) {
        if (w->units[i].cols > maxc) maxc = w->units[i].cols;
        total += w->units[i].t->nbytes;
    }
    /* One arena for every converted unit rather than a mapping each: huge
     * pages then cover the tensors end to end (per-tensor mappings left
     * about a quarter of GEB-1.3B's Q4_0 weights in 4 KB pages). */
    size_t arena = 0;
    for (int i = 0; i < w->n_units; i++)
        if (geb_add_size(arena, arena_share(&w->units[i]), &arena) != 0)
            return geb_err_set(err, "the weights do not fit in the address space");
    if (arena && !(w->arena = geb_alloc_big(arena)))
        return geb_err_set(err, "out of memory holding the weights (%zu MB)", arena >> 20);
    w->arena_bytes = arena;
    float *scratch = malloc(sizeof(float) * (size_t)maxc * geb_pool_size(pool));
    if (!scratch) return geb_err_set(err, "out of memory");
    int rc = 0;
    size_t off = 0;
    for (int i = 0; i < w->n_units && rc == 0; i++) {
        size_t share = arena_share(&w->units[i]);
        rc = load_unit(&w->units[i], share ? w->arena + off : NULL, pool, scratch, err);
        off += share;
        done += w->units[i].t->nbytes;
        if (progress) progress(ud, total ? (double)done / total : 1.0);
    }
    free(scratch);
    if (rc) return -1;
    size_t ns = ((size_t)w->cfg->n_layers + 1) * GEB_R_ROLES;
    for (size_t i = 0; i < ns; i++) {
        slot *s = &w->slots[i];
        if (s->unit < 0) continue;
        const unit *u = &w->units[s->unit];
        size_t ld = geb_type_row_bytes(u->type, u->cols);
        int rows, cols;
        role_shape(w->cfg, (geb_role)(i % GEB_R_ROLES), &rows, &cols);
        s->mat = (geb_mat){u->data + (size_t)s->row0 * ld, u->type, ld, rows, cols, u->pack != NULL};
    }
    return 0;
}

/* ---- queries ------------------------------------------------------------- */

const geb_mat *geb_weights_mat(const geb_weights *w, int l, geb_role r) {
    const slot *s = slot_at(w, l, r);
    return s->unit < 0 ? NULL : &s->mat;
}

const float *geb_weights_vec(const geb_weights *w, int l, geb_role r) {
    const slot *s = slot_at(w, l, r);
    return s->unit < 0 ? NULL : (const float *)s->mat.w;
}

geb_type geb_weights_type(const geb_weights *w) { return w->type; }

/* Bytes of unit u if the projections were of type t. */
static size_t unit_bytes(const geb_weights *w, const unit *u, geb_type t) {
    (void)w;
    return geb_type_row_bytes(role_type(t, u->role, u->t->dtype), u->cols) * (size_t)u->rows;
}

size_t geb_weights_bytes_held(const geb_weights *w, geb_type t) {
    size_t n = 0;
    for (int i = 0; i < w->n_units; i++) n += unit_bytes(w, &w->units[i], t);
    return n;
}

size_t geb_weights_bytes_streamed(const geb_weights *w, geb_type t) {
    size_t n = 0, ns = ((size_t)w->cfg->n_layers + 1) * GEB_R_ROLES;
    for (size_t i = 0; i < ns; i++) {
        const slot *s = &w->slots[i];
        geb_role r = (geb_role)(i % GEB_R_ROLES);
        if (s->unit < 0 || r == GEB_R_EMBED) continue;
        const unit *u = &w->units[s->unit];
        int rows, cols;
        role_shape(w->cfg, r, &rows, &cols);
        n += unit_bytes(w, u, t) / u->rows * rows;
    }
    return n;
}

int64_t geb_weights_params(const geb_weights *w) {
    int64_t n = 0;
    for (int i = 0; i < w->n_units; i++) n += (int64_t)w->units[i].rows * w->units[i].cols;
    return n;
}

const char *geb_weights_file_dtype(const geb_weights *w) { return w->file_dtype; }
