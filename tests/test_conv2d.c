/* test_conv2d.c — the Conv2d module: forward vs a naive direct convolution in
 * double (strides, padding, kernels 1/3/5, non-square images, batch 1),
 * central differences for dx and dw, semantics, shape errors, threads, init
 * variance. */
#include "modcheck.h"

/* y[i][co][oh][ow] = b[co] + Σ w[co][ci][ki][kj] x[i][ci][oh*s-p+ki][ow*s-p+kj] */
static void ref_conv(const hn_conv2d *cfg, const float *w, const float *x, int64_t n, int64_t h,
                     int64_t wd, double *y) {
  int64_t k = cfg->k, s = cfg->stride, p = cfg->pad;
  int64_t ho = (h + 2 * p - k) / s + 1, wo = (wd + 2 * p - k) / s + 1;
  const float *b = w + cfg->c_out * cfg->c_in * k * k;
  for (int64_t i = 0; i < n; i++)
    for (int64_t co = 0; co < cfg->c_out; co++)
      for (int64_t oh = 0; oh < ho; oh++)
        for (int64_t ow = 0; ow < wo; ow++) {
          double acc = cfg->bias ? (double)b[co] : 0.0;
          for (int64_t ci = 0; ci < cfg->c_in; ci++)
            for (int64_t ki = 0; ki < k; ki++)
              for (int64_t kj = 0; kj < k; kj++) {
                int64_t ih = oh * s - p + ki, iw = ow * s - p + kj;
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                acc += (double)w[((co * cfg->c_in + ci) * k + ki) * k + kj] *
                       (double)x[((i * cfg->c_in + ci) * h + ih) * wd + iw];
              }
          y[((i * cfg->c_out + co) * ho + oh) * wo + ow] = acc;
        }
}

/* n, c_in, h, w, c_out, k, stride, pad, bias */
static const int64_t cases[][9] = {
    {1, 1, 5, 5, 1, 3, 1, 0, 1},  {2, 3, 7, 6, 4, 3, 2, 1, 1}, {3, 2, 4, 9, 5, 1, 1, 0, 0},
    {1, 2, 9, 8, 3, 5, 1, 2, 1},  {2, 1, 3, 3, 2, 3, 3, 1, 1}, {4, 3, 11, 5, 2, 5, 2, 0, 1},
    {2, 4, 6, 7, 3, 3, 1, 1, 0},
};

static void setup_case(mc_mod *m, hn_conv2d *cfg, const int64_t *c, uint64_t seed) {
  *cfg = (hn_conv2d){.c_in = c[1], .c_out = c[4], .k = c[5], .stride = c[6], .pad = c[7],
                     .bias = c[8] != 0};
  mc_setup(m, &hn_conv2d_vt, cfg, 4, (int64_t[]){c[0], c[1], c[2], c[3]}, false, seed);
}

static void test_forward_matches_reference(void **state) {
  (void)state;
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    hn_conv2d cfg;
    mc_mod m;
    setup_case(&m, &cfg, cases[t], 100 + t);
    int64_t ho = (cases[t][2] + 2 * cfg.pad - cfg.k) / cfg.stride + 1;
    int64_t wo = (cases[t][3] + 2 * cfg.pad - cfg.k) / cfg.stride + 1;
    assert_int_equal(m.y.shape[2], ho);
    assert_int_equal(m.y.shape[3], wo);
    mc_forward(&m);
    double *ref = malloc((size_t)m.y.numel * sizeof *ref);
    ref_conv(&cfg, m.w, m.x.data, cases[t][0], cases[t][2], cases[t][3], ref);
    /* float GEMM over c_in k k terms: a few ulp of the partial sums */
    hnt_assert_close_d(m.y.data, ref, m.y.numel, 1e-5, 1e-5, "conv2d forward");
    free(ref);
    mc_teardown(&m);
  }
}

/* Conv2d is linear in x and in w separately, so the central difference has
 * no truncation error for any eps; eps = 0.1 (instead of 1e-2) cuts the float
 * rounding noise of modcheck.h tenfold (a weight touches every output of its
 * channel, k ~ 100, so at eps = 1e-2 the noise reaches ~4e-5 absolute, 4e-2
 * against the floor). Tolerance 1e-2. Every case (strides, padding, kernel 1
 * and 5, non-square) is checked for dx and dw. */
static void test_gradcheck(void **state) {
  (void)state;
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    hn_conv2d cfg;
    mc_mod m;
    setup_case(&m, &cfg, cases[t], 200 + t);
    mc_gradcheck(&m, "conv2d", 0.1f, 1e-2);
    mc_teardown(&m);
  }
}

static void test_semantics(void **state) {
  (void)state;
  hn_conv2d cfg;
  mc_mod m;
  setup_case(&m, &cfg, cases[1], 300);
  mc_check_semantics(&m);
  mc_teardown(&m);
}

static void test_shape_errors(void **state) {
  (void)state;
  hn_conv2d cfg;
  mc_mod m;
  setup_case(&m, &cfg, cases[1], 400); /* x [2, 3, 7, 6] */
  mc_check_shape_errors(&m, 4, (int64_t[]){2, 2, 7, 6}, "[2, 3, h, w]");
  mc_check_shape_errors(&m, 2, (int64_t[]){2, 126}, "[2, 3, h, w]");
  /* too small for the kernel even with padding */
  hn_conv2d c5 = {.c_in = 1, .c_out = 1, .k = 5, .stride = 1, .pad = 0};
  int ond;
  int64_t out[4];
  assert_int_equal(hn_conv2d_vt.out_shape(&c5, 4, (int64_t[]){1, 1, 4, 9}, &ond, out),
                   HN_ERR_SHAPE);
  mc_assert_msg_has("conv2d");
  mc_assert_msg_has("[1, 1, 4, 9]");
  c5.stride = 0;
  assert_int_equal(hn_conv2d_vt.out_shape(&c5, 4, (int64_t[]){1, 1, 9, 9}, &ond, out),
                   HN_ERR_ARG);
  mc_assert_msg_has("stride");
  mc_teardown(&m);
}

static void test_threads(void **state) {
  (void)state;
  hn_conv2d cfg;
  mc_mod m;
  setup_case(&m, &cfg, (int64_t[]){8, 16, 20, 20, 32, 3, 1, 1, 1}, 500);
  mc_check_threads(&m, 1e-5);
  mc_teardown(&m);
}

static void test_init_var_and_slices(void **state) {
  (void)state;
  hn_conv2d cfg = {.c_in = 3, .c_out = 4, .k = 5, .stride = 1, .pad = 0, .bias = true};
  int64_t nw = 4 * 3 * 25;
  assert_int_equal(hn_conv2d_vt.n_params(&cfg), nw + 4);
  float mean[304], var[304];
  hn_conv2d_vt.init_var(&cfg, mean, var);
  for (int64_t i = 0; i < nw; i++) assert_true(mean[i] == 0.0f && var[i] == 1.0f / 75.0f);
  for (int64_t i = nw; i < nw + 4; i++) assert_true(var[i] == 1.0f / 225.0f);
  cfg.fan_out = true;
  hn_conv2d_vt.init_var(&cfg, NULL, var);
  for (int64_t i = 0; i < nw; i++) assert_true(var[i] == 1.0f / 100.0f);
  const char *names[4];
  int ndims[4];
  int64_t shapes[4][4];
  assert_int_equal(hn_conv2d_vt.param_slices(&cfg, names, ndims, shapes), 2);
  assert_string_equal(names[0], "weight");
  assert_int_equal(ndims[0], 4);
  assert_true(shapes[0][0] == 4 && shapes[0][1] == 3 && shapes[0][2] == 5 && shapes[0][3] == 5);
  assert_string_equal(names[1], "bias");
  assert_true(ndims[1] == 1 && shapes[1][0] == 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_reference),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_shape_errors),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_init_var_and_slices),
  };
  return cmocka_run_group_tests_name("conv2d", tests, NULL, NULL);
}
