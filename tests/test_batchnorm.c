/* test_batchnorm.c — BatchNorm over channels ([n, c] and [n, c, h, w]):
 * forward and running-statistics update vs a double reference (train and
 * eval), central differences for dx, dgamma, dbeta in both modes, semantics,
 * errors (stats NULL, one value per channel, shapes), threads, init. */
#include "modcheck.h"

/* y and the updated stats in double, PyTorch's definition. */
static void ref_bn(const hn_batchnorm *cfg, const float *w, const hn_tensor *x, bool train,
                   const float *stats, double *y, double *new_stats) {
  int64_t n = x->shape[0], c = cfg->c, s = x->numel / (n * c), m = n * s;
  for (int64_t ch = 0; ch < c; ch++) {
    double mu = (double)stats[ch], var = (double)stats[c + ch];
    new_stats[ch] = (double)stats[ch];
    new_stats[c + ch] = (double)stats[c + ch];
    if (train) {
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < s; j++) sum += (double)x->data[(i * c + ch) * s + j];
      mu = sum / (double)m;
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < s; j++) {
          double d = (double)x->data[(i * c + ch) * s + j] - mu;
          sq += d * d;
        }
      var = sq / (double)m;
      double mom = (double)cfg->momentum;
      new_stats[ch] = (1 - mom) * (double)stats[ch] + mom * mu;
      new_stats[c + ch] =
          (1 - mom) * (double)stats[c + ch] + mom * var * (double)m / (double)(m - 1);
    }
    double inv = 1.0 / sqrt(var + (double)cfg->eps);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < s; j++) {
        int64_t o = (i * c + ch) * s + j;
        y[o] = (1.0 + (double)w[ch]) * ((double)x->data[o] - mu) * inv + (double)w[c + ch];
      }
  }
}

/* running mean U(-0.5, 0.5), running var U(0.5, 2) */
static void random_stats(mc_mod *m, int64_t c, uint64_t seed) {
  hnt_fill_uniform(m->stats0, c, -0.5f, 0.5f, seed);
  hnt_fill_uniform(m->stats0 + c, c, 0.5f, 2.0f, seed + 1);
}

static void test_forward_and_stats_match_reference(void **state) {
  (void)state;
  const int64_t shapes[][4] = {{2, 1, 0, 0}, {7, 5, 0, 0}, {1, 3, 2, 5}, {4, 2, 3, 3}};
  const int nd[] = {2, 2, 4, 4};
  for (int train = 0; train < 2; train++)
    for (int t = 0; t < 4; t++) {
      hn_batchnorm cfg = {.c = shapes[t][1], .eps = 1e-5f, .momentum = 0.1f};
      mc_mod m;
      mc_setup(&m, &hn_batchnorm_vt, &cfg, nd[t], shapes[t], train, 10 + t);
      hn_ops_scale(m.x.data, 3.0f, m.x.numel);
      random_stats(&m, cfg.c, 20 + t);
      mc_forward(&m);
      double *ry = malloc((size_t)m.y.numel * sizeof *ry);
      double *rs = malloc(2 * (size_t)cfg.c * sizeof *rs);
      ref_bn(&cfg, m.w, &m.x, train, m.stats0, ry, rs);
      /* float normalisation of values ~3: a few ulp of |y| */
      hnt_assert_close_d(m.y.data, ry, m.y.numel, 1e-5, 1e-5, train ? "bn train y" : "bn eval y");
      hnt_assert_close_d(m.stats, rs, 2 * cfg.c, 1e-6, 1e-6, "bn running stats");
      if (!train)
        hnt_assert_bytes_equal(m.stats, m.stats0, 2 * (size_t)cfg.c * 4, "eval keeps stats");
      free(ry);
      free(rs);
      mc_teardown(&m);
    }
}

/* Running statistics converge to the batch statistics under repeated train
 * steps on one batch (mean, unbiased variance). */
static void test_running_stats_converge(void **state) {
  (void)state;
  hn_batchnorm cfg = {.c = 2, .eps = 1e-5f, .momentum = 0.5f};
  mc_mod m;
  mc_setup(&m, &hn_batchnorm_vt, &cfg, 2, (int64_t[]){5, 2}, true, 30);
  memcpy(m.stats, m.stats0, 4 * sizeof(float));
  for (int it = 0; it < 60; it++)
    assert_int_equal(hn_batchnorm_vt.forward(&cfg, m.w, &m.x, &m.y, m.ws, &m.run), HN_OK);
  for (int ch = 0; ch < 2; ch++) {
    double s = 0, sq = 0;
    for (int i = 0; i < 5; i++) s += (double)m.x.data[i * 2 + ch];
    for (int i = 0; i < 5; i++) sq += pow((double)m.x.data[i * 2 + ch] - s / 5, 2);
    assert_true(fabs((double)m.stats[ch] - s / 5) < 1e-6);
    assert_true(fabs((double)m.stats[2 + ch] - sq / 4) < 1e-6);
  }
  mc_teardown(&m);
}

/* Train mode: y is a smooth function of x (through mean and variance) and
 * linear in gamma and beta. Truncation error eps^2/6 |f'''/f'| ~ 1e-4 for
 * batch-normalised values of order 1, float noise as in modcheck.h (every x
 * of a channel moves all m outputs of that channel, m <= 24 here): observed
 * worst errors ~3e-4. Eval mode is affine in x, gamma and beta. Tolerance
 * 1e-2 for both. */
static void test_gradcheck(void **state) {
  (void)state;
  const int64_t shapes[][4] = {{4, 3, 0, 0}, {2, 3, 3, 2}, {1, 2, 3, 4}};
  const int nd[] = {2, 4, 4};
  for (int train = 0; train < 2; train++)
    for (int t = 0; t < 3; t++) {
      hn_batchnorm cfg = {.c = shapes[t][1], .eps = 1e-5f, .momentum = 0.1f};
      mc_mod m;
      mc_setup(&m, &hn_batchnorm_vt, &cfg, nd[t], shapes[t], train, 40 + t);
      random_stats(&m, cfg.c, 50 + t);
      mc_gradcheck(&m, train ? "batchnorm train" : "batchnorm eval", 1e-2f, 1e-2);
      mc_teardown(&m);
    }
}

static void test_semantics(void **state) {
  (void)state;
  hn_batchnorm cfg = {.c = 3, .eps = 1e-5f, .momentum = 0.1f};
  for (int train = 0; train < 2; train++) {
    mc_mod m;
    mc_setup(&m, &hn_batchnorm_vt, &cfg, 4, (int64_t[]){3, 3, 4, 2}, train, 60);
    random_stats(&m, 3, 61);
    mc_check_semantics(&m);
    mc_teardown(&m);
  }
}

static void test_errors(void **state) {
  (void)state;
  hn_batchnorm cfg = {.c = 3, .eps = 1e-5f, .momentum = 0.1f};
  mc_mod m;
  mc_setup(&m, &hn_batchnorm_vt, &cfg, 4, (int64_t[]){2, 3, 4, 4}, true, 70);
  mc_check_shape_errors(&m, 4, (int64_t[]){2, 4, 4, 4}, "channels = 3");
  /* stats NULL in either mode */
  for (int train = 0; train < 2; train++) {
    hn_run r = {.train = train, .rng = NULL, .stats = NULL};
    hn_ops_fill(m.y.data, 2.0f, m.y.numel);
    assert_int_equal(hn_batchnorm_vt.forward(&cfg, m.w, &m.x, &m.y, m.ws, &r), HN_ERR_ARG);
    mc_assert_msg_has("batchnorm");
    mc_assert_msg_has("stats");
    for (int64_t i = 0; i < m.y.numel; i++) assert_true(m.y.data[i] == 2.0f);
  }
  mc_teardown(&m);
  /* one value per channel cannot be normalised in train mode; fine in eval */
  mc_setup(&m, &hn_batchnorm_vt, &cfg, 2, (int64_t[]){1, 3}, true, 71);
  memcpy(m.stats, m.stats0, 6 * sizeof(float));
  hn_ops_fill(m.y.data, 2.0f, m.y.numel);
  assert_int_equal(hn_batchnorm_vt.forward(&cfg, m.w, &m.x, &m.y, m.ws, &m.run), HN_ERR_SHAPE);
  mc_assert_msg_has("more than one value per channel");
  for (int64_t i = 0; i < m.y.numel; i++) assert_true(m.y.data[i] == 2.0f);
  hnt_assert_bytes_equal(m.stats, m.stats0, 6 * sizeof(float), "stats after a failed forward");
  m.run.train = false;
  assert_int_equal(hn_batchnorm_vt.forward(&cfg, m.w, &m.x, &m.y, m.ws, &m.run), HN_OK);
  mc_teardown(&m);
  hn_batchnorm bad = {.c = 3, .eps = 0.0f, .momentum = 0.1f};
  int ond;
  int64_t out[4];
  assert_int_equal(hn_batchnorm_vt.out_shape(&bad, 2, (int64_t[]){2, 3}, &ond, out), HN_ERR_ARG);
  mc_assert_msg_has("eps");
}

static void test_threads_bitwise(void **state) {
  (void)state;
  hn_batchnorm cfg = {.c = 32, .eps = 1e-5f, .momentum = 0.1f};
  for (int train = 0; train < 2; train++) {
    mc_mod m;
    mc_setup(&m, &hn_batchnorm_vt, &cfg, 4, (int64_t[]){16, 32, 12, 12}, train, 80);
    random_stats(&m, 32, 81);
    mc_check_threads(&m, -1);
    mc_teardown(&m);
  }
}

static void test_init_and_slices(void **state) {
  (void)state;
  hn_batchnorm cfg = {.c = 4, .eps = 1e-5f, .momentum = 0.1f};
  assert_int_equal(hn_batchnorm_vt.n_params(&cfg), 8);
  assert_int_equal(hn_batchnorm_vt.n_stats(&cfg), 8);
  float mean[8], var[8], stats[8];
  hn_batchnorm_vt.init_var(&cfg, mean, var);
  for (int i = 0; i < 8; i++) assert_true(mean[i] == 0.0f && var[i] == 0.01f);
  hn_batchnorm_vt.init_stats(&cfg, stats);
  for (int i = 0; i < 4; i++) assert_true(stats[i] == 0.0f && stats[4 + i] == 1.0f);
  const char *names[4];
  int ndims[4];
  int64_t shapes[4][4];
  assert_int_equal(hn_batchnorm_vt.param_slices(&cfg, names, ndims, shapes), 2);
  assert_string_equal(names[0], "weight");
  assert_string_equal(names[1], "bias");
  assert_true(ndims[0] == 1 && shapes[0][0] == 4 && ndims[1] == 1 && shapes[1][0] == 4);
  /* zero gamma offset and beta with fresh stats in eval: y = x / sqrt(1 + eps) */
  mc_mod m;
  mc_setup(&m, &hn_batchnorm_vt, &cfg, 2, (int64_t[]){3, 4}, false, 90);
  memset(m.w, 0, 8 * sizeof(float));
  mc_forward(&m);
  float inv = (float)(1.0 / sqrt(1.0 + 1e-5));
  for (int64_t i = 0; i < m.y.numel; i++) assert_true(m.y.data[i] == m.x.data[i] * inv);
  mc_teardown(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_and_stats_match_reference),
      cmocka_unit_test(test_running_stats_converge),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads_bitwise),
      cmocka_unit_test(test_init_and_slices),
  };
  return cmocka_run_group_tests_name("batchnorm", tests, NULL, NULL);
}
