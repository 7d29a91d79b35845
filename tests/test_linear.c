/* test_linear.c — the Linear module: forward vs a naive double loop, central
 * differences for dx and dw, accumulate/overwrite semantics, shape errors,
 * 1 vs 2 threads, init variance and parameter slices. */
#include "modcheck.h"

/* y[i][o] = Σ_k x[i][k] w[o][k] + b[o], in double */
static void ref_linear(const hn_linear *cfg, const float *w, const float *x, int64_t n,
                       double *y) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t o = 0; o < cfg->n_out; o++) {
      double s = cfg->bias ? (double)w[cfg->n_out * cfg->n_in + o] : 0.0;
      for (int64_t k = 0; k < cfg->n_in; k++)
        s += (double)x[i * cfg->n_in + k] * (double)w[o * cfg->n_in + k];
      y[i * cfg->n_out + o] = s;
    }
}

static void test_forward_matches_reference(void **state) {
  (void)state;
  const int64_t cases[][4] = {/* n, n_in, n_out, bias */
                              {1, 1, 1, 1}, {1, 7, 3, 0}, {5, 13, 17, 1}, {33, 65, 9, 1},
                              {2, 300, 1, 0}, {64, 31, 129, 1}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    hn_linear cfg = {.n_in = cases[c][1], .n_out = cases[c][2], .bias = cases[c][3] != 0};
    mc_mod m;
    mc_setup(&m, &hn_linear_vt, &cfg, 2, (int64_t[]){cases[c][0], cfg.n_in}, false, 10 + c);
    assert_int_equal(m.n_w, cfg.n_out * cfg.n_in + (cfg.bias ? cfg.n_out : 0));
    mc_forward(&m);
    double *ref = malloc((size_t)m.y.numel * sizeof *ref);
    ref_linear(&cfg, m.w, m.x.data, cases[c][0], ref);
    /* float GEMM over n_in terms of size ~0.5: rounding ~ sqrt(n_in) ulp */
    hnt_assert_close_d(m.y.data, ref, m.y.numel, 1e-5, 1e-5, "linear forward");
    free(ref);
    mc_teardown(&m);
  }
}

/* Linear is linear in x and in w separately, so the central difference has
 * no truncation error for any eps; eps = 0.1 (instead of 1e-2) cuts the float
 * rounding noise of modcheck.h tenfold, leaving ~1e-3 relative on near-zero
 * gradients against the 1e-3 floor. Tolerance 1e-2. */
static void test_gradcheck(void **state) {
  (void)state;
  const int64_t cases[][4] = {{3, 5, 7, 1}, {1, 4, 2, 0}, {6, 20, 11, 1}};
  for (size_t c = 0; c < 3; c++) {
    hn_linear cfg = {.n_in = cases[c][1], .n_out = cases[c][2], .bias = cases[c][3] != 0};
    mc_mod m;
    mc_setup(&m, &hn_linear_vt, &cfg, 2, (int64_t[]){cases[c][0], cfg.n_in}, false, 20 + c);
    mc_gradcheck(&m, "linear", 0.1f, 1e-2);
    mc_teardown(&m);
  }
}

/* A sequence x [n, T, n_in] is the layer at every step: bitwise the 2-D
 * forward/backward over the n*T rows (the same GEMMs), and central
 * differences as test_gradcheck. */
static void test_per_step(void **state) {
  (void)state;
  hn_linear cfg = {.n_in = 5, .n_out = 4, .bias = true};
  mc_mod s, f;
  mc_setup(&s, &hn_linear_vt, &cfg, 3, (int64_t[]){3, 6, 5}, false, 25);
  mc_setup(&f, &hn_linear_vt, &cfg, 2, (int64_t[]){18, 5}, false, 25);
  assert_int_equal(s.y.ndim, 3);
  assert_true(s.y.shape[0] == 3 && s.y.shape[1] == 6 && s.y.shape[2] == 4);
  memcpy(f.dy.data, s.dy.data, (size_t)s.dy.numel * sizeof(float));
  mc_forward_backward(&s);
  mc_forward_backward(&f);
  hnt_assert_bytes_equal(s.y.data, f.y.data, (size_t)s.y.numel * sizeof(float), "per-step y");
  hnt_assert_bytes_equal(s.dx.data, f.dx.data, (size_t)s.dx.numel * sizeof(float), "per-step dx");
  hnt_assert_bytes_equal(s.dw, f.dw, (size_t)s.n_w * sizeof(float), "per-step dw");
  mc_gradcheck(&s, "linear per step", 0.1f, 1e-2);
  mc_teardown(&s);
  mc_teardown(&f);
}

static void test_semantics(void **state) {
  (void)state;
  hn_linear cfg = {.n_in = 9, .n_out = 6, .bias = true};
  mc_mod m;
  mc_setup(&m, &hn_linear_vt, &cfg, 2, (int64_t[]){5, 9}, false, 30);
  mc_check_semantics(&m);
  mc_teardown(&m);
}

static void test_shape_errors(void **state) {
  (void)state;
  hn_linear cfg = {.n_in = 4, .n_out = 3, .bias = true};
  mc_mod m;
  mc_setup(&m, &hn_linear_vt, &cfg, 2, (int64_t[]){3, 4}, false, 40);
  mc_check_shape_errors(&m, 2, (int64_t[]){3, 5}, "[3, 4]");
  mc_check_shape_errors(&m, 3, (int64_t[]){3, 2, 2}, "[3, 4]");
  /* bad config */
  hn_linear bad = {.n_in = 0, .n_out = 3};
  int ond;
  int64_t out[4];
  assert_int_equal(hn_linear_vt.out_shape(&bad, 2, (int64_t[]){1, 0}, &ond, out), HN_ERR_ARG);
  mc_assert_msg_has("n_in");
  mc_teardown(&m);
}

static void test_threads(void **state) {
  (void)state;
  hn_linear cfg = {.n_in = 300, .n_out = 200, .bias = true};
  mc_mod m;
  mc_setup(&m, &hn_linear_vt, &cfg, 2, (int64_t[]){128, 300}, false, 50);
  mc_check_threads(&m, 1e-5);
  mc_teardown(&m);
}

static void test_init_var_and_slices(void **state) {
  (void)state;
  hn_linear cfg = {.n_in = 8, .n_out = 5, .bias = true};
  float mean[45], var[45];
  hn_linear_vt.init_var(&cfg, mean, var);
  for (int i = 0; i < 40; i++) assert_true(mean[i] == 0.0f && var[i] == 1.0f / 8.0f);
  for (int i = 40; i < 45; i++) assert_true(mean[i] == 0.0f && var[i] == 1.0f / 24.0f);
  cfg.fan_out = true;
  hn_linear_vt.init_var(&cfg, NULL, var);
  for (int i = 0; i < 40; i++) assert_true(var[i] == 1.0f / 5.0f);
  const char *names[4];
  int ndims[4];
  int64_t shapes[4][4];
  assert_int_equal(hn_linear_vt.param_slices(&cfg, names, ndims, shapes), 2);
  assert_string_equal(names[0], "weight");
  assert_int_equal(ndims[0], 2);
  assert_int_equal(shapes[0][0], 5);
  assert_int_equal(shapes[0][1], 8);
  assert_string_equal(names[1], "bias");
  assert_int_equal(shapes[1][0], 5);
  cfg.bias = false;
  assert_int_equal(hn_linear_vt.param_slices(&cfg, names, ndims, shapes), 1);
  assert_int_equal(hn_linear_vt.n_params(&cfg), 40);
  assert_int_equal(hn_linear_vt.n_stats(&cfg), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_reference),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_per_step),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_shape_errors),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_init_var_and_slices),
  };
  return cmocka_run_group_tests_name("linear", tests, NULL, NULL);
}
