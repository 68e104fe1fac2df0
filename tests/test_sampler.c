/* test_sampler.c - greedy ties, filters, penalty, seeds and the sampling
 * distribution (expected frequencies are softmax computed here in double). */
#include <stdlib.h>

#include "sampler.h"
#include "test.h"

static geb_sampler *make(float temp, int k, float p, float minp, float pen, int last, uint64_t seed,
                         int vocab) {
    geb_sampler_params sp = {temp, k, p, minp, pen, last, seed};
    geb_err err = {{0}};
    geb_sampler *s = geb_sampler_new(&sp, vocab, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    return s;
}

/* Draws n samples and counts them per id. */
static void histogram(geb_sampler *s, const float *logits, int V, int n, int *count) {
    float *l = malloc(sizeof(float) * V);
    memset(count, 0, sizeof(int) * V);
    for (int i = 0; i < n; i++) {
        memcpy(l, logits, sizeof(float) * V);
        count[geb_sampler_sample(s, l, NULL, 0)]++;
    }
    free(l);
}

static void test_greedy(void) {
    float l[6] = {1, 3, 2, 3, -1, 0};
    geb_sampler *s = make(0, 40, 0.95f, 0.05f, 1, 64, 1, 6);
    CHECK(geb_sampler_sample(s, l, NULL, 0) == 1); /* tie between 1 and 3: lowest id */
    geb_sampler_free(s);
    /* top-k 1 at any temperature is greedy too */
    s = make(1.5f, 1, 1, 0, 1, 64, 9, 6);
    for (int i = 0; i < 20; i++) {
        float m[6] = {1, 3, 2, 3, -1, 0};
        CHECK(geb_sampler_sample(s, m, NULL, 0) == 1);
    }
    geb_sampler_free(s);
}

static void test_penalty(void) {
    float l[4] = {2, -2, 4, 1};
    int32_t hist[3] = {0, 1, 0}; /* a repeated id is penalised once */
    geb_sampler *s = make(0, 0, 1, 0, 2.0f, 64, 1, 4);
    CHECK(geb_sampler_sample(s, l, hist, 3) == 2);
    CHECK_NEAR(l[0], 1.0, 1e-6);  /* positive: divided */
    CHECK_NEAR(l[1], -4.0, 1e-6); /* negative: multiplied */
    CHECK_NEAR(l[2], 4.0, 1e-6);  /* not seen: untouched */
    /* only the last n tokens count */
    float m[4] = {2, -2, 4, 1};
    geb_sampler_free(s);
    s = make(0, 0, 1, 0, 2.0f, 1, 1, 4);
    geb_sampler_sample(s, m, hist, 3);
    CHECK_NEAR(m[0], 1.0, 1e-6);
    CHECK_NEAR(m[1], -2.0, 1e-6);
    geb_sampler_free(s);
    /* the penalty can change the greedy choice */
    s = make(0, 0, 1, 0, 2.0f, 64, 1, 2);
    float g[2] = {3, 2};
    int32_t h1 = 0;
    CHECK(geb_sampler_sample(s, g, &h1, 1) == 1);
    geb_sampler_free(s);
}

static void test_distribution(void) {
    enum { V = 5, N = 200000 };
    float l[V] = {0.5f, 1.5f, -0.3f, 1.0f, 0.0f};
    int count[V];
    double p[V], sum = 0;
    float temp = 0.7f;
    for (int i = 0; i < V; i++) sum += p[i] = exp(l[i] / temp);
    geb_sampler *s = make(temp, 0, 1, 0, 1, 64, 12345, V);
    histogram(s, l, V, N, count);
    for (int i = 0; i < V; i++) /* 5 sigma of a binomial: never flaky for a fixed seed */
        CHECK_MSG(fabs(count[i] / (double)N - p[i] / sum) < 5 * sqrt(p[i] / sum / N) + 1e-3,
                  "id %d: %g vs %g", i, count[i] / (double)N, p[i] / sum);
    geb_sampler_free(s);
}

static void test_filters(void) {
    enum { V = 6, N = 20000 };
    /* probabilities at temp 1 ~ {0.50, 0.30, 0.12, 0.05, 0.02, 0.01} */
    double pr[V] = {0.50, 0.30, 0.12, 0.05, 0.02, 0.01};
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)log(pr[i]);
    int count[V];
    geb_sampler *s = make(1, 2, 1, 0, 1, 64, 7, V); /* top-k 2 */
    histogram(s, l, V, N, count);
    CHECK(count[0] > 0 && count[1] > 0 && count[0] + count[1] == N);
    geb_sampler_free(s);
    s = make(1, 0, 0.9f, 0, 1, 64, 7, V); /* top-p 0.9: 0.5+0.3+0.12 reaches it */
    histogram(s, l, V, N, count);
    CHECK(count[2] > 0 && count[0] + count[1] + count[2] == N);
    geb_sampler_free(s);
    s = make(1, 0, 1, 0.2f, 1, 64, 7, V); /* min-p 0.2: p >= 0.1 kept */
    histogram(s, l, V, N, count);
    CHECK(count[2] > 0 && count[0] + count[1] + count[2] == N);
    geb_sampler_free(s);
}

static void test_seed(void) {
    enum { V = 300 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)sin(i * 0.37) * 3;
    int a[50], b[50], c[50];
    geb_sampler *s1 = make(1, 40, 0.95f, 0.05f, 1, 64, 42, V), *s2 = make(1, 40, 0.95f, 0.05f, 1, 64, 42, V),
                *s3 = make(1, 40, 0.95f, 0.05f, 1, 64, 43, V);
    for (int i = 0; i < 50; i++) {
        float x[V];
        memcpy(x, l, sizeof x), a[i] = geb_sampler_sample(s1, x, NULL, 0);
        memcpy(x, l, sizeof x), b[i] = geb_sampler_sample(s2, x, NULL, 0);
        memcpy(x, l, sizeof x), c[i] = geb_sampler_sample(s3, x, NULL, 0);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    geb_sampler_free(s1), geb_sampler_free(s2), geb_sampler_free(s3);
}

static void test_validation(void) {
    geb_err err = {{0}};
    geb_sampler_params bad[] = {
        {-1, 40, 0.9f, 0, 1, 64, 0}, {1, -1, 0.9f, 0, 1, 64, 0}, {1, 40, 1.5f, 0, 1, 64, 0},
        {1, 40, 0.9f, -0.1f, 1, 64, 0}, {1, 40, 0.9f, 0, 0, 64, 0}, {1, 40, 0.9f, 0, 1, -2, 0},
        {NAN, 40, 0.9f, 0, 1, 64, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK(geb_sampler_new(&bad[i], 10, &err) == NULL && err.msg[0]);
    }
}

int main(void) {
    test_greedy();
    test_penalty();
    test_distribution();
    test_filters();
    test_seed();
    test_validation();
    return TEST_DONE("sampler");
}
