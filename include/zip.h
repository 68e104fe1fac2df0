/* zip.h - reads the directory of a zip archive held in memory (a mapped
 * file), for PyTorch checkpoints: torch.save writes a zip whose entries are
 * stored uncompressed, so each entry's bytes are used in place.
 *
 *   geb_zip *z;
 *   if (geb_zip_open(&z, buf, len, "model.bin", &err) != 0) fail(err.msg);
 *   const geb_zip_entry *e = geb_zip_find(z, "archive/data.pkl");
 *   use(e->data, e->size);                 (points into buf)
 *   geb_zip_close(z);
 *
 * Checked before anything is exposed: the end-of-central-directory record
 * (and its ZIP64 locator and record, for archives over 4 GB or 65535
 * entries), every central-directory entry, its ZIP64 extra field, its local
 * header and name (which must agree with the central one); every offset and
 * size against the buffer with overflow checks; entries that overlap; names
 * that repeat or hold NUL bytes.  Only method 0 (stored) is accepted: a
 * compressed entry is refused by name.  CRCs are not verified (reading
 * gigabytes of weights at open would cost more than the mapping saves).
 */
#ifndef GEB_ZIP_H
#define GEB_ZIP_H

#include "common.h"

typedef struct geb_zip_entry {
    const char *name;      /* NUL-terminated copy of the entry's name */
    const uint8_t *data;   /* its bytes, inside the caller's buffer */
    size_t size;           /* their number */
} geb_zip_entry;

typedef struct geb_zip geb_zip;

/* Parses the archive buf[0..len); label names it in messages.  buf must
 * outlive the geb_zip.  Returns 0, or -1 with one line in err. */
int geb_zip_open(geb_zip **out, const uint8_t *buf, size_t len, const char *label,
                 geb_err *err);

size_t geb_zip_count(const geb_zip *z);
const geb_zip_entry *geb_zip_at(const geb_zip *z, size_t i); /* in name order */
const geb_zip_entry *geb_zip_find(const geb_zip *z, const char *name); /* NULL if absent */
void geb_zip_close(geb_zip *z);

#endif
