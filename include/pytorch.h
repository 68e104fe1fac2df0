/* pytorch.h - the tensors of one torch.save checkpoint (the zip format of
 * PyTorch 1.6 and later), used in place in the caller's buffer.  Normally
 * reached through geb_st_open (safetensors.h), which picks the format.
 *
 *   geb_pt *pt;
 *   if (geb_pt_open(&pt, buf, len, "pytorch_model.bin", &err) != 0) fail(err.msg);
 *   for (size_t i = 0; i < geb_pt_count(pt); i++) use(&geb_pt_tensors(pt)[i]);
 *   geb_pt_close(pt);
 *
 * The archive (zip.h) has one top folder of any name holding data.pkl, the
 * pickled state dict (pickle.h), and data/<key>, the raw little-endian bytes
 * of each storage.  Each tensor is _rebuild_tensor_v2(storage, offset, size,
 * stride, ...) (maybe inside _rebuild_parameter), its storage a persistent id
 * ('storage', torch.<X>Storage, key, location, numel).  Checked: the
 * storage class and key, the entry's size against numel, every size, stride
 * and offset against the entry with overflow checks, contiguity (a strided
 * view is refused by name), the byteorder entry (little only).  Tensors may
 * share a storage and overlap (views, a module shared by several layers).
 * The legacy format (before 1.6, a bare pickle stream) is refused with a
 * line that says how to re-save it.
 */
#ifndef GEB_PYTORCH_H
#define GEB_PYTORCH_H

#include "safetensors.h"

typedef struct geb_pt geb_pt;

/* Parses buf[0..len), which must outlive the geb_pt; label names it in
 * messages.  The tensors' shard and mapped fields are left 0 for the caller. */
int geb_pt_open(geb_pt **out, const uint8_t *buf, size_t len, const char *label, geb_err *err);

size_t geb_pt_count(const geb_pt *pt);
/* The tensors in the state dict's order; names live as long as the geb_pt. */
geb_tensor *geb_pt_tensors(geb_pt *pt);
void geb_pt_close(geb_pt *pt);

#endif
