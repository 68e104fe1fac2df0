/* safetensors.h - reads a Hugging Face checkpoint, single-file or sharded,
 * through mmap: safetensors, or a PyTorch torch.save archive (pytorch.h)
 * behind the same interface.
 *
 *   geb_st *st;
 *   if (geb_st_open(&st, "path/to/model-dir", &err) != 0) fail(err.msg);
 *   const geb_tensor *t = geb_st_find(st, "transformer.output_layer.weight");
 *   geb_convert_to_f32(dst, t->data, t->dtype, t->numel);
 *   geb_st_close(st);
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON mapping
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the byte after the header) plus an optional "__metadata__",
 * then the raw little-endian data.  A sharded checkpoint has
 * model.safetensors.index.json whose "weight_map" maps names to shard files.
 *
 * Every length, offset, shape and dtype is checked against the file before
 * any data is touched: offsets in range and not overlapping, byte size equal
 * to product(shape) * element size, no integer overflow.
 */
#ifndef GEB_SAFETENSORS_H
#define GEB_SAFETENSORS_H

#include "common.h"

typedef enum geb_dtype {
    GEB_DTYPE_F32,
    GEB_DTYPE_F16,
    GEB_DTYPE_BF16,
    GEB_DTYPE_OTHER, /* a valid safetensors dtype geb does not compute with
                        (F64, I64, U8, BOOL, ...): listed, never converted */
} geb_dtype;

#define GEB_ST_MAX_DIMS 8

typedef struct geb_tensor {
    const char *name;
    geb_dtype dtype;
    const char *dtype_name;         /* as written in the header, e.g. "BF16" */
    int ndim;
    int64_t shape[GEB_ST_MAX_DIMS];
    size_t numel;                   /* product of shape (1 for a scalar) */
    const uint8_t *data;            /* inside the mapped file */
    size_t nbytes;
    int shard;                      /* index of the file it lives in */
    int mapped;                     /* 1: data is in a file mapping (geb_st_open), so
                                       the advise calls apply; 0: caller's buffer
                                       (geb_st_open_buffer), advice is skipped */
} geb_tensor;

typedef struct geb_st geb_st;

/* Opens dir/model.safetensors.index.json if present (every shard it names
 * must exist and hold the tensors mapped to it), else dir/model.safetensors,
 * else the only *.safetensors file in dir.  Only when dir holds no
 * *.safetensors file at all: dir/pytorch_model.bin.index.json, else
 * dir/pytorch_model.bin, else the only *.bin file (PyTorch zip archives).
 * A path to a .safetensors, .bin, .pt or .pth file or to an *.index.json
 * file is accepted too; a shard's format follows its name (*.bin, *.pt,
 * *.pth: PyTorch, else safetensors).  Sharded: only the tensors the index
 * maps are listed (others in the shards are ignored).  PyTorch tensors may
 * share bytes (views, shared modules); safetensors ones may not. */
int geb_st_open(geb_st **out, const char *path, geb_err *err);

/* Parses one safetensors image already in memory (used by tests and fuzzing;
 * buf must outlive the geb_st).  geb_st_close does not free buf. */
int geb_st_open_buffer(geb_st **out, const uint8_t *buf, size_t len, geb_err *err);

const geb_tensor *geb_st_find(const geb_st *st, const char *name);
size_t geb_st_count(const geb_st *st);
const geb_tensor *geb_st_at(const geb_st *st, size_t i);
size_t geb_st_file_bytes(const geb_st *st); /* total size of all files */

/* "safetensors" or "pytorch" ("mixed" if an index names shards of both). */
const char *geb_st_format(const geb_st *st);
/* The checkpoint files opened (shards in file-name order), as paths. */
size_t geb_st_n_files(const geb_st *st);
const char *geb_st_file_name(const geb_st *st, size_t i); /* NULL past the end */
/* The *.index.json that was read, or NULL for a single file. */
const char *geb_st_index_path(const geb_st *st);

/* Hints the kernel that these bytes will be read soon / are no longer needed
 * (dontneed drops them from the process; a file's pages stay in the page
 * cache).  No-ops for tensors of geb_st_open_buffer, whose memory belongs to
 * the caller: MADV_DONTNEED would zero anonymous memory. */
void geb_st_advise_willneed(const geb_tensor *t);
void geb_st_advise_dontneed(const geb_tensor *t);

/* -1 with a message if a mapped file is no longer the one mapped (another
 * size, modification time or inode): it was rewritten while in use. */
int geb_st_check_unchanged(const geb_st *st, geb_err *err);

void geb_st_close(geb_st *st);

/* Converts n elements of a little-endian F32/F16/BF16 array to float
 * (src need not be aligned).  F16 handles subnormals, inf and NaN. */
void geb_convert_to_f32(float *dst, const void *src, geb_dtype dtype, size_t n);

#endif
