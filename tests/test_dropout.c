/* test_dropout.c — inverted dropout: the mask is the seeded stream's draw,
 * the drop rate is p, eval and p = 0 are the identity, central differences
 * with a fixed mask, semantics, errors (rng NULL, bad p, shapes), threads. */
#include "modcheck.h"

static void test_mask_from_stream(void **state) {
  (void)state;
  hn_dropout cfg = {.p = 0.3f};
  mc_mod m;
  mc_setup(&m, &hn_dropout_vt, &cfg, 2, (int64_t[]){100, 1000}, true, 1);
  mc_forward(&m);
  hn_rng r = m.rng0;
  float scale = 1.0f / (1.0f - 0.3f);
  int64_t dropped = 0;
  for (int64_t i = 0; i < m.x.numel; i++) {
    bool keep = hn_rng_uniform(&r) >= 0.3f;
    float want = keep ? m.x.data[i] * scale : 0.0f;
    if (m.y.data[i] != want)
      fail_msg("dropout y[%lld] = %g, expected %g", (long long)i, (double)m.y.data[i],
               (double)want);
    dropped += !keep;
  }
  /* binomial(1e5, 0.3): sd 145; 0.01 is ~7 sd */
  assert_true(fabs((double)dropped / (double)m.x.numel - 0.3) < 0.01);
  /* the stream moved on by exactly one draw per element */
  assert_memory_equal(&m.rng, &r, sizeof r);
  /* backward multiplies by the same mask */
  mc_forward_backward(&m);
  r = m.rng0;
  for (int64_t i = 0; i < m.x.numel; i++) {
    float f = hn_rng_uniform(&r) >= 0.3f ? scale : 0.0f;
    assert_true(m.dx.data[i] == m.dy.data[i] * f);
  }
  mc_teardown(&m);
}

static void test_identity_in_eval_and_p0(void **state) {
  (void)state;
  hn_dropout cfg = {.p = 0.5f};
  mc_mod m;
  mc_setup(&m, &hn_dropout_vt, &cfg, 3, (int64_t[]){4, 5, 6}, false, 2);
  mc_forward_backward(&m);
  hnt_assert_bytes_equal(m.y.data, m.x.data, (size_t)m.x.numel * 4, "eval forward");
  hnt_assert_bytes_equal(m.dx.data, m.dy.data, (size_t)m.x.numel * 4, "eval backward");
  assert_memory_equal(&m.rng, &m.rng0, sizeof m.rng); /* no draws in eval */
  mc_teardown(&m);
  hn_dropout p0 = {.p = 0.0f};
  mc_setup(&m, &hn_dropout_vt, &p0, 2, (int64_t[]){3, 7}, true, 3);
  m.run.rng = NULL; /* p = 0 needs no stream */
  mc_forward_backward(&m);
  hnt_assert_bytes_equal(m.y.data, m.x.data, (size_t)m.x.numel * 4, "p = 0 forward");
  hnt_assert_bytes_equal(m.dx.data, m.dy.data, (size_t)m.x.numel * 4, "p = 0 backward");
  mc_teardown(&m);
}

/* Linear in x for a fixed mask (the stream is reset before every forward):
 * exact central differences up to float noise (~1e-6): tolerance 1e-2. */
static void test_gradcheck(void **state) {
  (void)state;
  const float ps[] = {0.2f, 0.5f, 0.9f};
  for (int i = 0; i < 3; i++) {
    hn_dropout cfg = {.p = ps[i]};
    mc_mod m;
    mc_setup(&m, &hn_dropout_vt, &cfg, 4, (int64_t[]){2, 3, 4, 5}, true, 10 + i);
    mc_gradcheck(&m, "dropout", 1e-2f, 1e-2);
    mc_teardown(&m);
  }
}

static void test_semantics(void **state) {
  (void)state;
  hn_dropout cfg = {.p = 0.4f};
  for (int train = 0; train < 2; train++) {
    mc_mod m;
    mc_setup(&m, &hn_dropout_vt, &cfg, 2, (int64_t[]){6, 9}, train, 20);
    mc_check_semantics(&m);
    mc_teardown(&m);
  }
}

static void test_errors(void **state) {
  (void)state;
  hn_dropout cfg = {.p = 0.4f};
  mc_mod m;
  mc_setup(&m, &hn_dropout_vt, &cfg, 2, (int64_t[]){3, 4}, true, 30);
  mc_check_shape_errors(&m, 2, (int64_t[]){3, 5}, "[3, 4]");
  /* train with p > 0 and no stream */
  m.run.rng = NULL;
  hn_ops_fill(m.y.data, 8.0f, m.y.numel);
  assert_int_equal(hn_dropout_vt.forward(&cfg, NULL, &m.x, &m.y, m.ws, &m.run), HN_ERR_ARG);
  mc_assert_msg_has("dropout");
  mc_assert_msg_has("rng");
  for (int64_t i = 0; i < m.y.numel; i++) assert_true(m.y.data[i] == 8.0f);
  const float bad[] = {1.0f, -0.1f, NAN};
  for (int i = 0; i < 3; i++) {
    hn_dropout b = {.p = bad[i]};
    assert_int_equal(hn_dropout_vt.forward(&b, NULL, &m.x, &m.y, m.ws, &m.run), HN_ERR_ARG);
    mc_assert_msg_has("0 <= p < 1");
  }
  mc_teardown(&m);
}

static void test_threads_bitwise(void **state) {
  (void)state;
  hn_dropout cfg = {.p = 0.25f};
  mc_mod m;
  mc_setup(&m, &hn_dropout_vt, &cfg, 2, (int64_t[]){64, 1000}, true, 40);
  mc_check_threads(&m, -1);
  mc_teardown(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mask_from_stream),
      cmocka_unit_test(test_identity_in_eval_and_p0),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads_bitwise),
  };
  return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
