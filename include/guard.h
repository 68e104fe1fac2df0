/* guard.h - turns a bus error on a mapped model file into one line.
 *
 * A file mapped with mmap that is truncated (or replaced in place) while
 * mapped raises SIGBUS on the next access to a page past its new end.  The
 * checkpoint reader registers each mapping; the handler, installed once by
 * the first registration, checks whether the faulting address falls in a
 * registered range and then writes
 *
 *   geb: model file NAME changed or was truncated while in use
 *
 * to stderr and ends the process with exit status 1.  Any other SIGBUS
 * gets the default action (a core dump), as if no handler were there.
 *
 *   geb_guard_add(base, size, "dir/model.safetensors");  // after mmap
 *   ...
 *   geb_guard_remove(base);                               // before munmap
 *
 * Up to GEB_GUARD_MAX mappings are watched at once; beyond that a mapping
 * is simply not guarded (geb_guard_add returns -1).  The name must stay
 * valid until geb_guard_remove.
 */
#ifndef GEB_GUARD_H
#define GEB_GUARD_H

#include <stddef.h>

#define GEB_GUARD_MAX 256

int geb_guard_add(const void *base, size_t size, const char *name);
void geb_guard_remove(const void *base);

/* Test hook, documented for the test suite only: if the environment
 * variable `var` holds a number of seconds, writes "geb: test pause: VAR"
 * to stderr and sleeps that long, or until SIGUSR1 arrives.  Used by
 * tests/hardening_test.sh to change a model file at a known point
 * (GEB_TEST_PAUSE_AFTER_MAP: files mapped, weights not yet read;
 * GEB_TEST_PAUSE_BEFORE_GEN: model loaded, generation not yet started). */
void geb_guard_test_pause(const char *var);

#endif
