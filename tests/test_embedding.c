/* test_embedding.c — the embedding (lookup) module: forward is an exact
 * copy of table rows, dw by central differences, dx = 0, padded steps
 * (never read, output 0, no gradient), accumulate semantics with repeated
 * ids, bad ids and shapes rejected before any output is written, and
 * bitwise equal results with 1 and 2 threads. */
#include "modcheck.h"

/* Ids in 0..V-1 drawn from a seeded stream, with repeats when n*T > V. */
static void fill_ids(float *x, int64_t n, int64_t V, uint64_t seed) {
  hn_rng r;
  hn_rng_init(&r, seed, 2);
  for (int64_t i = 0; i < n; i++) x[i] = (float)hn_rng_below(&r, (uint64_t)V);
}

static void setup(mc_mod *m, const hn_embedding *cfg, int64_t n, int64_t T, uint64_t seed) {
  mc_setup(m, &hn_embedding_vt, cfg, 2, (int64_t[]){n, T}, false, seed);
  fill_ids(m->x.data, n * T, cfg->vocab, seed + 5);
}

static void test_forward_is_lookup(void **state) {
  (void)state;
  const int64_t cases[][4] = {{1, 1, 1, 1}, {3, 5, 7, 4}, {4, 9, 3, 33}, {2, 6, 50, 2}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    hn_embedding cfg = {.vocab = cases[c][2], .dim = cases[c][3]};
    int64_t n = cases[c][0], T = cases[c][1], D = cfg.dim;
    mc_mod m;
    setup(&m, &cfg, n, T, 10 + c);
    assert_int_equal(m.n_w, cfg.vocab * D);
    int64_t lens[4] = {T, 1, T > 2 ? T - 2 : 1, T};
    for (int use = 0; use < 2; use++) {
      m.run.lengths = use ? lens : NULL;
      mc_forward(&m);
      for (int64_t b = 0; b < n; b++)
        for (int64_t t = 0; t < T; t++) {
          const float *row = m.y.data + (b * T + t) * D;
          bool valid = t < (use ? lens[b] : T);
          for (int64_t d = 0; d < D; d++) {
            float want = valid ? m.w[(int64_t)m.x.data[b * T + t] * D + d] : 0.0f;
            if (memcmp(&row[d], &want, sizeof want) != 0)
              fail_msg("embedding: y[%lld, %lld, %lld] = %g, expected %g", (long long)b,
                       (long long)t, (long long)d, (double)row[d], (double)want);
          }
        }
    }
    mc_teardown(&m);
  }
}

static double emb_loss(void *ctx) {
  mc_mod *m = ctx;
  mc_forward(m);
  return hnt_probe(m->dy.data, m->y.data, m->y.numel);
}

/* y is linear in the table, so central differences are exact up to float
 * rounding of L: eps = 0.1 as for Linear, tolerance 1e-2. dx must be exactly
 * 0 (ids carry no gradient). Repeated ids and ragged lengths included. */
static void test_gradcheck(void **state) {
  (void)state;
  (void)mc_gradcheck; /* it perturbs x too, which holds ids here */
  hn_embedding cfg = {.vocab = 6, .dim = 5};
  mc_mod m;
  setup(&m, &cfg, 4, 7, 20);
  const int64_t lens[4] = {7, 2, 5, 1};
  for (int use = 0; use < 2; use++) {
    m.run.lengths = use ? lens : NULL;
    mc_forward_backward(&m);
    for (int64_t i = 0; i < m.dx.numel; i++) assert_true(m.dx.data[i] == 0.0f);
    float *dw = mc_alloc(m.n_w);
    memcpy(dw, m.dw, (size_t)m.n_w * sizeof(float));
    hnt_gradcheck(use ? "embedding dw (ragged)" : "embedding dw", emb_loss, &m, m.w, dw, m.n_w,
                  0.1f, 200, 1e-3, 1e-2);
    free(dw);
  }
  mc_teardown(&m);
}

/* Garbage (even invalid ids) at padded steps and dy there change nothing. */
static void test_padding(void **state) {
  (void)state;
  hn_embedding cfg = {.vocab = 5, .dim = 3};
  int64_t n = 3, T = 6, D = 3;
  mc_mod m;
  setup(&m, &cfg, n, T, 30);
  const int64_t lens[3] = {6, 2, 4};
  m.run.lengths = lens;
  mc_forward_backward(&m);
  float *y1 = mc_alloc(m.y.numel), *dw1 = mc_alloc(m.n_w);
  memcpy(y1, m.y.data, (size_t)m.y.numel * sizeof(float));
  memcpy(dw1, m.dw, (size_t)m.n_w * sizeof(float));
  for (int64_t b = 0; b < n; b++)
    for (int64_t t = lens[b]; t < T; t++) {
      m.x.data[b * T + t] = b == 1 ? -1.0f : 99.5f;
      for (int64_t d = 0; d < D; d++) m.dy.data[(b * T + t) * D + d] = 1e3f;
    }
  mc_forward_backward(&m);
  hnt_assert_bytes_equal(m.y.data, y1, (size_t)m.y.numel * sizeof(float), "y, garbage padding");
  hnt_assert_bytes_equal(m.dw, dw1, (size_t)m.n_w * sizeof(float), "dw, garbage padding");
  free(y1);
  free(dw1);
  mc_teardown(&m);
}

static void test_semantics(void **state) {
  (void)state;
  hn_embedding cfg = {.vocab = 4, .dim = 6};
  mc_mod m;
  setup(&m, &cfg, 5, 8, 40); /* 40 positions over 4 ids: every row summed many times */
  mc_check_semantics(&m);
  mc_teardown(&m);
}

static void test_errors(void **state) {
  (void)state;
  hn_embedding cfg = {.vocab = 7, .dim = 3};
  mc_mod m;
  setup(&m, &cfg, 3, 4, 50);
  mc_check_shape_errors(&m, 2, (int64_t[]){3, 0}, "[3, T]");
  mc_check_shape_errors(&m, 3, (int64_t[]){3, 4, 1}, "[3, T]");
  /* bad ids: HN_ERR_ARG naming the position and the value, y untouched */
  const float bad[] = {7.0f, -1.0f, 2.5f, NAN, INFINITY};
  const char *shown[] = {"= 7 ", "= -1 ", "= 2.5 ", "nan", "inf"};
  for (int i = 0; i < 5; i++) {
    float saved = m.x.data[6];
    m.x.data[6] = bad[i]; /* sample 1, step 2 */
    hn_tensor_fill(&m.y, 2.5f);
    assert_int_equal(m.vt->forward(m.cfg, m.w, &m.x, &m.y, m.ws, &m.run), HN_ERR_ARG);
    mc_assert_msg_has("embedding");
    mc_assert_msg_has("x[1, 2]");
    mc_assert_msg_has(shown[i]);
    mc_assert_msg_has("0..6");
    for (int64_t j = 0; j < m.y.numel; j++) assert_true(m.y.data[j] == 2.5f);
    m.x.data[6] = saved;
  }
  const int64_t badlen[3] = {4, 5, 1};
  m.run.lengths = badlen;
  assert_int_equal(m.vt->forward(m.cfg, m.w, &m.x, &m.y, m.ws, &m.run), HN_ERR_ARG);
  mc_assert_msg_has("lengths[1] = 5");
  for (int64_t j = 0; j < m.y.numel; j++) assert_true(m.y.data[j] == 2.5f);
  int ond;
  int64_t out[4];
  hn_embedding z = {.vocab = 0, .dim = 3};
  assert_int_equal(hn_embedding_vt.out_shape(&z, 2, (int64_t[]){1, 2}, &ond, out), HN_ERR_ARG);
  mc_assert_msg_has("vocab");
  mc_teardown(&m);
}

/* No GEMM: forward copies rows, backward sums each row's positions in a
 * fixed order, so the bits must not depend on the thread count. The sizes
 * put both loops above the OpenMP threshold. */
static void test_threads(void **state) {
  (void)state;
  hn_embedding cfg = {.vocab = 37, .dim = 80};
  mc_mod m;
  setup(&m, &cfg, 32, 16, 60);
  int64_t lens[32];
  for (int b = 0; b < 32; b++) lens[b] = 1 + (b * 7) % 16;
  m.run.lengths = lens;
  mc_check_threads(&m, -1.0);
  mc_teardown(&m);
}

static void test_init_var_and_slices(void **state) {
  (void)state;
  hn_embedding cfg = {.vocab = 5, .dim = 3};
  float mean[15], var[15];
  hn_embedding_vt.init_var(&cfg, mean, var);
  for (int i = 0; i < 15; i++) assert_true(mean[i] == 0.0f && var[i] == 1.0f);
  const char *names[4];
  int ndims[4];
  int64_t shapes[4][4];
  assert_int_equal(hn_embedding_vt.param_slices(&cfg, names, ndims, shapes), 1);
  assert_string_equal(names[0], "weight");
  assert_true(ndims[0] == 2 && shapes[0][0] == 5 && shapes[0][1] == 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_is_lookup),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_padding),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_init_var_and_slices),
  };
  return cmocka_run_group_tests_name("embedding", tests, NULL, NULL);
}
