/* test.h - a handful of test macros.  Each test binary ends with one line
 * "<name>: N passed, N failed" and exits non-zero if anything failed. */
#ifndef GEB_TEST_H
#define GEB_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_pass_, test_fail_;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) test_pass_++;                                              \
        else {                                                               \
            test_fail_++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (cond) test_pass_++;                                              \
        else {                                                               \
            test_fail_++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g", \
              (double)(a), (double)(b))

#define TEST_DONE(name)                                                      \
    (printf("%s: %d passed, %d failed\n", name, test_pass_, test_fail_),     \
     test_fail_ ? 1 : 0)

#endif
