/* guard.c - SIGBUS on mapped model files becomes one line (see guard.h).
 *
 * The table is a fixed array so that the handler never sees memory being
 * reallocated: a slot is filled (base, size, name) and only then published
 * by storing its base atomically; removal clears the base first.  The
 * handler uses only async-signal-safe calls (write, _exit, signal, raise).
 */
#include "guard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct guard_range {
    _Atomic(uintptr_t) base; /* 0: free slot */
    size_t size;
    const char *name;
} guard_range;

static guard_range ranges[GEB_GUARD_MAX];
static atomic_int installed;
static atomic_flag reporting = ATOMIC_FLAG_INIT;

static void put(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < GEB_GUARD_MAX; i++) {
        uintptr_t b = atomic_load(&ranges[i].base);
        if (b && a >= b && a - b < ranges[i].size) {
            /* One line, from the first thread to fault: the others (the
             * threads of a step all read the same norm weights) wait for
             * its _exit instead of interleaving their own copies. */
            if (atomic_flag_test_and_set(&reporting))
                for (;;) pause();
            put("geb: model file ");
            put(ranges[i].name);
            put(" changed or was truncated while in use\n");
            _exit(1);
        }
    }
    /* Not ours: the default action, as if geb had no handler. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void) {
    if (atomic_exchange(&installed, 1)) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int geb_guard_add(const void *base, size_t size, const char *name) {
    if (!base || !size) return -1;
    install();
    for (int i = 0; i < GEB_GUARD_MAX; i++)
        if (atomic_load(&ranges[i].base) == 0) {
            ranges[i].size = size;
            ranges[i].name = name;
            atomic_store(&ranges[i].base, (uintptr_t)base); /* publish last */
            return 0;
        }
    return -1;
}

void geb_guard_remove(const void *base) {
    for (int i = 0; base && i < GEB_GUARD_MAX; i++)
        if (atomic_load(&ranges[i].base) == (uintptr_t)base) atomic_store(&ranges[i].base, 0);
}

static volatile sig_atomic_t pause_over;
static void on_sigusr1(int sig) { (void)sig; pause_over = 1; }

void geb_guard_test_pause(const char *var) {
    const char *v = getenv(var);
    double s = v ? atof(v) : 0;
    if (!(s > 0)) return;
    pause_over = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    put("geb: test pause: ");
    put(var);
    put("\n");
    /* 10 ms steps: the test's SIGUSR1 ends the pause as soon as it has
     * changed the file. */
    for (double t = 0; t < s && !pause_over; t += 0.01) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sigaction(SIGUSR1, &old, NULL);
}
