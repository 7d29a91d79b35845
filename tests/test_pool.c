/* test_pool.c — MaxPool2d and AvgPool2d: forward vs naive loops (overlapping
 * and non-overlapping windows, non-square images, batch 1), central
 * differences for dx (max pool on tie-free inputs), semantics, shape errors,
 * 1 vs 2 threads bitwise. */
#include "modcheck.h"

/* n, c, h, w, k, stride */
static const int64_t cases[][6] = {
    {1, 1, 6, 6, 2, 2}, {2, 3, 7, 8, 3, 2}, {3, 2, 5, 5, 2, 1},
    {2, 2, 9, 5, 3, 3}, {1, 4, 3, 4, 1, 1}, {2, 1, 4, 7, 4, 3},
};

static void ref_pool(bool max, const hn_pool *cfg, const float *x, const int64_t *c, double *y) {
  int64_t planes = c[0] * c[1], h = c[2], w = c[3], k = cfg->k, s = cfg->stride;
  int64_t ho = (h - k) / s + 1, wo = (w - k) / s + 1;
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < ho; oh++)
      for (int64_t ow = 0; ow < wo; ow++) {
        double acc = max ? -(double)INFINITY : 0.0;
        for (int64_t ki = 0; ki < k; ki++)
          for (int64_t kj = 0; kj < k; kj++) {
            double v = (double)x[(p * h + oh * s + ki) * w + ow * s + kj];
            acc = max ? fmax(acc, v) : acc + v;
          }
        y[(p * ho + oh) * wo + ow] = max ? acc : acc / (double)(k * k);
      }
}

/* Distinct values 0.05 apart in a random order: no ties, and a ±1e-2
 * perturbation never changes which element is a window's maximum. */
static void tie_free(float *x, int64_t n, uint64_t seed) {
  int64_t *perm = malloc((size_t)n * sizeof *perm);
  hn_rng r;
  hn_rng_init(&r, seed, 1);
  hn_rng_permutation(&r, perm, n);
  for (int64_t i = 0; i < n; i++) x[i] = 0.05f * (float)(perm[i] - n / 2);
  free(perm);
}

static void setup_case(mc_mod *m, bool max, hn_pool *cfg, const int64_t *c, uint64_t seed) {
  *cfg = (hn_pool){.k = c[4], .stride = c[5]};
  mc_setup(m, max ? &hn_maxpool2d_vt : &hn_avgpool2d_vt, cfg, 4,
           (int64_t[]){c[0], c[1], c[2], c[3]}, false, seed);
  if (max) tie_free(m->x.data, m->x.numel, seed);
}

static void test_forward_matches_reference(void **state) {
  (void)state;
  for (int max = 0; max < 2; max++)
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
      hn_pool cfg;
      mc_mod m;
      setup_case(&m, max, &cfg, cases[t], 10 + t);
      mc_forward(&m);
      double *ref = malloc((size_t)m.y.numel * sizeof *ref);
      ref_pool(max, &cfg, m.x.data, cases[t], ref);
      /* max is exact; avg sums k*k floats in float: a few ulp */
      hnt_assert_close_d(m.y.data, ref, m.y.numel, max ? 0.0 : 1e-6, max ? 0.0 : 1e-7,
                         max ? "maxpool forward" : "avgpool forward");
      free(ref);
      mc_teardown(&m);
    }
}

static void test_max_ties_go_to_first(void **state) {
  (void)state;
  hn_pool cfg = {.k = 2, .stride = 2};
  mc_mod m;
  mc_setup(&m, &hn_maxpool2d_vt, &cfg, 4, (int64_t[]){1, 1, 2, 2}, false, 1);
  hn_ops_fill(m.x.data, 1.0f, 4);
  m.dy.data[0] = 5.0f;
  mc_forward_backward(&m);
  assert_true(m.y.data[0] == 1.0f);
  assert_true(m.dx.data[0] == 5.0f && m.dx.data[1] == 0.0f && m.dx.data[2] == 0.0f &&
              m.dx.data[3] == 0.0f);
  mc_teardown(&m);
}

/* Both are piecewise linear (max pool linear away from ties, which the
 * tie-free inputs avoid), so the only error is the float noise of
 * modcheck.h for a coordinate that touches at most a few outputs (~1e-6
 * absolute): tolerance 1e-2. */
static void test_gradcheck(void **state) {
  (void)state;
  for (int max = 0; max < 2; max++)
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
      hn_pool cfg;
      mc_mod m;
      setup_case(&m, max, &cfg, cases[t], 20 + t);
      mc_gradcheck(&m, max ? "maxpool2d" : "avgpool2d", 1e-2f, 1e-2);
      mc_teardown(&m);
    }
}

static void test_semantics(void **state) {
  (void)state;
  for (int max = 0; max < 2; max++) {
    hn_pool cfg;
    mc_mod m;
    setup_case(&m, max, &cfg, cases[1], 30);
    mc_check_semantics(&m);
    mc_teardown(&m);
  }
}

static void test_shape_errors(void **state) {
  (void)state;
  for (int max = 0; max < 2; max++) {
    hn_pool cfg;
    mc_mod m;
    setup_case(&m, max, &cfg, cases[1], 40); /* x [2, 3, 7, 8], k 3 */
    mc_check_shape_errors(&m, 4, (int64_t[]){2, 3, 2, 8}, "k = 3");
    mc_check_shape_errors(&m, 3, (int64_t[]){2, 3, 56}, "[n_batch, channels, height, width]");
    mc_teardown(&m);
  }
  hn_pool bad = {.k = 0, .stride = 1};
  int ond;
  int64_t out[4];
  assert_int_equal(hn_avgpool2d_vt.out_shape(&bad, 4, (int64_t[]){1, 1, 4, 4}, &ond, out),
                   HN_ERR_ARG);
  mc_assert_msg_has("avgpool2d");
}

static void test_threads_bitwise(void **state) {
  (void)state;
  for (int max = 0; max < 2; max++) {
    hn_pool cfg;
    mc_mod m;
    setup_case(&m, max, &cfg, (int64_t[]){16, 8, 32, 30, 3, 2}, 50);
    mc_check_threads(&m, -1);
    mc_teardown(&m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_reference),
      cmocka_unit_test(test_max_ties_go_to_first),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_shape_errors),
      cmocka_unit_test(test_threads_bitwise),
  };
  return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
