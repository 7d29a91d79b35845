/* test_act.c — the activation module (ReLU, tanh, sigmoid, ELU, identity) and
 * Flatten: forward vs double references, central differences away from
 * kinks, semantics, shape errors, 1 vs 2 threads bitwise. */
#include "modcheck.h"

static double ref_act(const hn_act *a, double x) {
  switch (a->kind) {
    case HN_ACT_RELU: return x > 0 ? x : 0;
    case HN_ACT_TANH: return tanh(x);
    case HN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case HN_ACT_ELU: return x > 0 ? x : (double)a->alpha * (exp(x) - 1);
    case HN_ACT_IDENTITY: return x;
  }
  return (double)NAN;
}

static const hn_act acts[] = {
    {HN_ACT_RELU, 0}, {HN_ACT_TANH, 0}, {HN_ACT_SIGMOID, 0},
    {HN_ACT_ELU, 1.0f}, {HN_ACT_ELU, 0.5f}, {HN_ACT_IDENTITY, 0},
};
#define N_ACTS (sizeof acts / sizeof acts[0])

static void test_forward_matches_reference(void **state) {
  (void)state;
  const int64_t shapes[][4] = {{1, 1, 0, 0}, {3, 7, 0, 0}, {2, 3, 5, 4}};
  const int nd[] = {2, 2, 4};
  for (size_t a = 0; a < N_ACTS; a++)
    for (int s = 0; s < 3; s++) {
      mc_mod m;
      mc_setup(&m, &hn_act_vt, &acts[a], nd[s], shapes[s], false, 10 + a);
      hn_ops_scale(m.x.data, 4.0f, m.x.numel); /* x in [-4, 4) */
      mc_forward(&m);
      double *ref = malloc((size_t)m.y.numel * sizeof *ref);
      for (int64_t i = 0; i < m.x.numel; i++) ref[i] = ref_act(&acts[a], (double)m.x.data[i]);
      /* float tanhf/expf/expm1f: a few ulp */
      hnt_assert_close_d(m.y.data, ref, m.y.numel, 1e-6, 1e-7, "act forward");
      free(ref);
      mc_teardown(&m);
    }
}

/* Smooth away from 0 (the ReLU kink; ELU with alpha != 1 has a kink in the
 * derivative there): inputs kept >= 0.05 from 0, more than 2 eps. Truncation
 * error of the central difference is eps^2/6 |f'''/f'| <= ~1e-4 for |x| < 2,
 * float noise ~1e-6 (one output per coordinate): tolerance 1e-2. */
static void test_gradcheck(void **state) {
  (void)state;
  for (size_t a = 0; a < N_ACTS; a++) {
    mc_mod m;
    mc_setup(&m, &hn_act_vt, &acts[a], 4, (int64_t[]){2, 3, 4, 5}, false, 20 + a);
    hn_ops_scale(m.x.data, 2.0f, m.x.numel);
    hnt_away_from_zero(m.x.data, m.x.numel, 0.05f);
    mc_gradcheck(&m, "act", 1e-2f, 1e-2);
    mc_teardown(&m);
  }
}

static void test_semantics(void **state) {
  (void)state;
  for (size_t a = 0; a < N_ACTS; a++) {
    mc_mod m;
    mc_setup(&m, &hn_act_vt, &acts[a], 2, (int64_t[]){5, 11}, false, 30 + a);
    mc_check_semantics(&m);
    mc_teardown(&m);
  }
}

static void test_shape_errors(void **state) {
  (void)state;
  mc_mod m;
  mc_setup(&m, &hn_act_vt, &acts[1], 2, (int64_t[]){3, 4}, false, 40);
  /* any x shape is valid for an activation; a mismatch with y is the error */
  mc_check_shape_errors(&m, 2, (int64_t[]){3, 5}, "[3, 4]");
  hn_act bad = {(hn_act_kind)42, 0};
  int ond;
  int64_t out[4];
  assert_int_equal(hn_act_vt.out_shape(&bad, 2, (int64_t[]){3, 4}, &ond, out), HN_ERR_ARG);
  mc_assert_msg_has("kind");
  mc_teardown(&m);
}

static void test_threads_bitwise(void **state) {
  (void)state;
  for (size_t a = 0; a < N_ACTS; a++) {
    mc_mod m;
    mc_setup(&m, &hn_act_vt, &acts[a], 2, (int64_t[]){64, 1000}, false, 50 + a);
    mc_check_threads(&m, -1);
    mc_teardown(&m);
  }
}

/* ---- flatten ---------------------------------------------------------------- */

static void test_flatten(void **state) {
  (void)state;
  hn_flatten cfg = {0};
  int ond;
  int64_t out[4];
  assert_int_equal(hn_flatten_vt.out_shape(&cfg, 4, (int64_t[]){2, 3, 4, 5}, &ond, out), HN_OK);
  assert_int_equal(ond, 2);
  assert_true(out[0] == 2 && out[1] == 60);
  mc_mod m;
  mc_setup(&m, &hn_flatten_vt, &cfg, 4, (int64_t[]){2, 3, 4, 5}, false, 60);
  mc_forward(&m);
  hnt_assert_bytes_equal(m.y.data, m.x.data, (size_t)m.x.numel * 4, "flatten forward");
  mc_forward_backward(&m);
  hnt_assert_bytes_equal(m.dx.data, m.dy.data, (size_t)m.x.numel * 4, "flatten backward");
  /* the identity map: exact central differences, tolerance 1e-2 as elsewhere */
  mc_gradcheck(&m, "flatten", 1e-2f, 1e-2);
  mc_check_semantics(&m);
  mc_check_shape_errors(&m, 1, (int64_t[]){120}, "[n_batch, d1, ...]");
  mc_check_shape_errors(&m, 4, (int64_t[]){2, 3, 4, 6}, "[2, 60]");
  assert_int_equal(hn_flatten_vt.n_params(&cfg), 0);
  mc_teardown(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_reference),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_shape_errors),
      cmocka_unit_test(test_threads_bitwise),
      cmocka_unit_test(test_flatten),
  };
  return cmocka_run_group_tests_name("act", tests, NULL, NULL);
}
