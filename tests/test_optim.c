/* test_optim.c — Adam and SGD with momentum against independent double
 * computations, the look-ahead delta, state round trips, errors, threads. */
#include "harness.h"

#include <math.h>
#include <string.h>

enum { N3 = 3, STEPS = 3 };
static const float P0[N3] = {0.5f, -1.0f, 2.0f};
static const float G[STEPS][N3] = {{0.1f, -0.2f, 0.3f}, {0.05f, 0.0f, -0.4f}, {-0.3f, 0.2f, 0.1f}};

/* Adam in double, written out from Kingma & Ba (Algorithm 1) with L2 weight
 * decay folded into the gradient. */
static void adam_ref(double lr, double b1, double b2, double eps, double wd, double p[N3]) {
  double m[N3] = {0}, v[N3] = {0};
  for (int i = 0; i < N3; i++) p[i] = P0[i];
  for (int t = 1; t <= STEPS; t++)
    for (int i = 0; i < N3; i++) {
      double g = (double)G[t - 1][i] + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
      p[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}

static void test_adam_three_steps(void **state) {
  (void)state;
  hn_optim_cfg cfg = hn_optim_defaults(HN_OPTIM_ADAM);
  assert_true(cfg.lr == 1e-3f && cfg.beta1 == 0.9f && cfg.beta2 == 0.999f && cfg.eps == 1e-8f);
  cfg.lr = 0.1f;
  for (int pass = 0; pass < 2; pass++) {
    cfg.weight_decay = pass ? 0.01f : 0.0f;
    hn_optim *o;
    assert_int_equal(hn_optim_new(&o, N3, &cfg), HN_OK);
    float p[N3];
    memcpy(p, P0, sizeof p);
    for (int t = 0; t < STEPS; t++) {
      assert_int_equal(hn_optim_step(o, p, G[t]), HN_OK);
      if (t == 0 && pass == 0) {
        /* Hand value: after one bias-corrected step mhat = g, vhat = g^2,
         * so each coordinate moves by lr * sign(g) (eps is negligible). */
        float ref1[N3] = {0.5f - 0.1f, -1.0f + 0.1f, 2.0f - 0.1f};
        hnt_assert_close(p, ref1, N3, 1e-6, 0, "adam step 1 = lr * sign(g)");
      }
    }
    assert_int_equal(hn_optim_step_count(o), STEPS);
    double ref[N3];
    adam_ref(0.1, (double)cfg.beta1, (double)cfg.beta2, (double)cfg.eps,
             (double)cfg.weight_decay, ref);
    /* float32 arithmetic vs double: a few ulps of O(1) values. */
    hnt_assert_close_d(p, ref, N3, 1e-6, 1e-7, pass ? "adam + weight decay" : "adam");
    hn_optim_free(o);
  }
  /* A zero gradient on the first step gives no move (0 / (0 + eps)). */
  hn_optim *o;
  float p[N3] = {1, 2, 3}, z[N3] = {0, 0, 0};
  cfg.weight_decay = 0;
  assert_int_equal(hn_optim_new(&o, N3, &cfg), HN_OK);
  assert_int_equal(hn_optim_step(o, p, z), HN_OK);
  float same[N3] = {1, 2, 3};
  hnt_assert_close(p, same, N3, 0, 0, "adam with zero gradient");
  hn_optim_free(o);
}

static void test_sgd_momentum_three_steps(void **state) {
  (void)state;
  hn_optim_cfg cfg = hn_optim_defaults(HN_OPTIM_SGD);
  assert_true(cfg.lr == 0.01f && cfg.momentum == 0.0f);
  cfg.lr = 0.1f;
  cfg.momentum = 0.9f;
  hn_optim *o;
  assert_int_equal(hn_optim_new(&o, N3, &cfg), HN_OK);
  float p[N3];
  memcpy(p, P0, sizeof p);
  for (int t = 0; t < STEPS; t++) assert_int_equal(hn_optim_step(o, p, G[t]), HN_OK);
  /* By hand: v1 = g1, v2 = 0.9 g1 + g2, v3 = 0.81 g1 + 0.9 g2 + g3;
   * p3 = p0 - 0.1 (v1 + v2 + v3) = p0 - 0.1 (2.71 g1 + 1.9 g2 + g3):
   *   p3[0] = 0.5 - 0.1 (0.271 + 0.095 - 0.3)  = 0.4934
   *   p3[1] = -1  - 0.1 (-0.542 + 0 + 0.2)     = -0.9658
   *   p3[2] = 2   - 0.1 (0.813 - 0.76 + 0.1)   = 1.9847 */
  double ref[N3] = {0.4934, -0.9658, 1.9847};
  hnt_assert_close_d(p, ref, N3, 1e-6, 1e-7, "sgd momentum");
  int64_t ns;
  float *st = hn_optim_state(o, &ns);
  assert_int_equal(ns, N3);
  /* The velocity after 3 steps: v3 = 0.81 g1 + 0.9 g2 + g3. */
  double vref[N3] = {0.081 + 0.045 - 0.3, -0.162 + 0.0 + 0.2, 0.243 - 0.36 + 0.1};
  hnt_assert_close_d(st, vref, N3, 1e-6, 1e-7, "sgd velocity");
  hn_optim_free(o);

  /* Plain SGD with weight decay: p -= lr (g + wd p). */
  cfg.momentum = 0;
  cfg.weight_decay = 0.5f;
  assert_int_equal(hn_optim_new(&o, N3, &cfg), HN_OK);
  memcpy(p, P0, sizeof p);
  assert_int_equal(hn_optim_step(o, p, G[0]), HN_OK);
  double r1[N3] = {0.5 - 0.1 * (0.1 + 0.25), -1.0 - 0.1 * (-0.2 - 0.5), 2.0 - 0.1 * (0.3 + 1.0)};
  hnt_assert_close_d(p, r1, N3, 1e-6, 1e-7, "sgd weight decay");
  hn_optim_free(o);
}

/* The delta is exactly the next step (param + delta == stepped param, bit
 * for bit), the look-ahead is that stepped param itself (the same bytes),
 * and neither touches the state (moments, step count). */
static void check_delta(hn_optim_cfg cfg) {
  enum { N = 1000 };
  hn_optim *o;
  assert_int_equal(hn_optim_new(&o, N, &cfg), HN_OK);
  float p[N], g[N], d[N], q[N], la[N];
  hnt_fill_uniform(p, N, -1, 1, 1);
  for (int t = 0; t < 3; t++) {
    hnt_fill_uniform(g, N, -1, 1, 10 + (uint64_t)t);
    assert_int_equal(hn_optim_step(o, p, g), HN_OK);
  }
  hnt_fill_uniform(g, N, -1, 1, 99);
  int64_t ns;
  float *st = hn_optim_state(o, &ns);
  float *before = hn_alloc(sizeof(float) * (size_t)ns);
  memcpy(before, st, sizeof(float) * (size_t)ns);
  int64_t t0 = hn_optim_step_count(o);
  assert_int_equal(hn_optim_delta(o, p, g, d), HN_OK);
  hnt_assert_bytes_equal(before, st, sizeof(float) * (size_t)ns, "state after delta");
  assert_int_equal(hn_optim_step_count(o), t0);
  memset(la, 0xff, sizeof la);
  assert_int_equal(hn_optim_lookahead(o, p, g, la), HN_OK);
  hnt_assert_bytes_equal(before, st, sizeof(float) * (size_t)ns, "state after lookahead");
  assert_int_equal(hn_optim_step_count(o), t0);
  for (int i = 0; i < N; i++) q[i] = p[i] + d[i];
  assert_int_equal(hn_optim_step(o, p, g), HN_OK);
  hnt_assert_bytes_equal(q, p, sizeof p, "param + delta vs step");
  hnt_assert_bytes_equal(la, p, sizeof p, "lookahead vs step");
  int nonzero = 0;
  for (int i = 0; i < N; i++) nonzero += d[i] != 0.0f;
  assert_true(nonzero > N / 2);
  hn_free(before);
  hn_optim_free(o);
}

static void test_delta_is_the_step(void **state) {
  (void)state;
  hn_optim_cfg a = hn_optim_defaults(HN_OPTIM_ADAM);
  check_delta(a);
  a.weight_decay = 0.1f;
  check_delta(a);
  hn_optim_cfg s = hn_optim_defaults(HN_OPTIM_SGD);
  s.momentum = 0.9f;
  s.weight_decay = 0.01f;
  check_delta(s);
}

/* Copy the state out, reset, copy it back: the next step is bitwise the same
 * as that of an optimiser that was never reset. */
static void check_round_trip(hn_optim_cfg cfg) {
  enum { N = 257 };
  hn_optim *a, *b;
  assert_int_equal(hn_optim_new(&a, N, &cfg), HN_OK);
  assert_int_equal(hn_optim_new(&b, N, &cfg), HN_OK);
  float pa[N], pb[N], g[N];
  hnt_fill_uniform(pa, N, -1, 1, 3);
  memcpy(pb, pa, sizeof pa);
  for (int t = 0; t < 4; t++) {
    hnt_fill_uniform(g, N, -1, 1, 20 + (uint64_t)t);
    assert_int_equal(hn_optim_step(a, pa, g), HN_OK);
    assert_int_equal(hn_optim_step(b, pb, g), HN_OK);
  }
  int64_t ns;
  float *st = hn_optim_state(b, &ns);
  assert_int_equal(ns, cfg.kind == HN_OPTIM_ADAM ? 2 * N : N);
  float *saved = hn_alloc(sizeof(float) * (size_t)ns);
  memcpy(saved, st, sizeof(float) * (size_t)ns);
  int64_t t = hn_optim_step_count(b);
  assert_int_equal(t, 4);
  hn_optim_reset(b);
  assert_int_equal(hn_optim_step_count(b), 0);
  for (int64_t i = 0; i < ns; i++) assert_true(st[i] == 0.0f);
  memcpy(hn_optim_state(b, NULL), saved, sizeof(float) * (size_t)ns);
  hn_optim_set_step_count(b, t);
  hnt_fill_uniform(g, N, -1, 1, 77);
  assert_int_equal(hn_optim_step(a, pa, g), HN_OK);
  assert_int_equal(hn_optim_step(b, pb, g), HN_OK);
  hnt_assert_bytes_equal(pa, pb, sizeof pa, "params after state round trip");
  hnt_assert_bytes_equal(hn_optim_state(a, NULL), hn_optim_state(b, NULL),
                         sizeof(float) * (size_t)ns, "state after round trip");
  hn_free(saved);
  hn_optim_free(a);
  hn_optim_free(b);
}

static void test_state_round_trip(void **state) {
  (void)state;
  check_round_trip(hn_optim_defaults(HN_OPTIM_ADAM));
  hn_optim_cfg s = hn_optim_defaults(HN_OPTIM_SGD);
  s.momentum = 0.5f;
  check_round_trip(s);
}

static void test_errors(void **state) {
  (void)state;
  hn_optim *o = (hn_optim *)0x1;
  hn_optim_cfg c = hn_optim_defaults(HN_OPTIM_ADAM);
  c.beta1 = 1.0f;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "betas"));
  c = hn_optim_defaults(HN_OPTIM_ADAM);
  c.eps = 0;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "eps"));
  c = hn_optim_defaults(HN_OPTIM_ADAM);
  c.lr = -1;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "lr"));
  c.lr = NAN;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  c = hn_optim_defaults(HN_OPTIM_SGD);
  c.momentum = 1.0f;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "momentum"));
  c = hn_optim_defaults(HN_OPTIM_SGD);
  c.weight_decay = -0.1f;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  c = hn_optim_defaults(HN_OPTIM_SGD);
  c.kind = (hn_optim_kind)7;
  assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "kind"));
  c = hn_optim_defaults(HN_OPTIM_SGD);
  assert_int_equal(hn_optim_new(&o, 0, &c), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "n = 0"));
  assert_true(o == (hn_optim *)0x1); /* untouched */

  assert_int_equal(hn_optim_new(&o, 3, &c), HN_OK);
  assert_int_equal(hn_optim_set_lr(o, -2), HN_ERR_ARG);
  assert_true(hn_optim_config(o)->lr == 0.01f);
  assert_int_equal(hn_optim_set_lr(o, 0.5f), HN_OK);
  assert_true(hn_optim_config(o)->lr == 0.5f);
  float p[3] = {1, 2, 3}, d[3] = {7, 7, 7};
  const float *g_none = NULL;
  assert_int_equal(hn_optim_step(o, p, NULL), HN_ERR_ARG);
  assert_int_equal(hn_optim_delta(o, p, NULL, d), HN_ERR_ARG);
  assert_int_equal(hn_optim_lookahead(o, p, g_none, d), HN_ERR_ARG);
  assert_int_equal(hn_optim_lookahead(o, NULL, p, d), HN_ERR_ARG);
  assert_true(p[0] == 1 && d[0] == 7);
  assert_int_equal(hn_optim_step_count(o), 0);
  assert_int_equal(hn_optim_n(o), 3);
  hn_optim_free(o);
  hn_optim_free(NULL);

  /* Allocation failures leave nothing behind and report NOMEM. */
  for (int k = 0; k < 2; k++) {
    hn_mem_fail_after(k);
    assert_int_equal(hn_optim_new(&o, 3, &c), HN_ERR_NOMEM);
  }
  hn_mem_fail_after(-1);
}

/* Elementwise updates: bitwise the same with 1 and 2 threads; no allocation
 * in step or delta. */
static void test_threads_and_no_alloc(void **state) {
  (void)state;
  enum { N = 100003 };
  hn_optim_cfg cfg = hn_optim_defaults(HN_OPTIM_ADAM);
  float *p1 = hn_alloc(sizeof(float) * N), *p2 = hn_alloc(sizeof(float) * N);
  float *g = hn_alloc(sizeof(float) * N), *d = hn_alloc(sizeof(float) * N);
  hnt_fill_uniform(p1, N, -1, 1, 4);
  memcpy(p2, p1, sizeof(float) * N);
  hn_optim *a, *b;
  assert_int_equal(hn_optim_new(&a, N, &cfg), HN_OK);
  assert_int_equal(hn_optim_new(&b, N, &cfg), HN_OK);
  int saved = hn_threads_get();
  int64_t before = hn_alloc_count();
  for (int t = 0; t < 3; t++) {
    hnt_fill_uniform(g, N, -1, 1, 30 + (uint64_t)t);
    hn_threads_set(1);
    assert_int_equal(hn_optim_step(a, p1, g), HN_OK);
    hn_threads_set(2);
    assert_int_equal(hn_optim_step(b, p2, g), HN_OK);
    assert_int_equal(hn_optim_delta(b, p2, g, d), HN_OK);
  }
  assert_int_equal(hn_alloc_count(), before);
  hnt_assert_bytes_equal(p1, p2, sizeof(float) * N, "adam 1 vs 2 threads");
  hn_threads_set(saved);
  hn_optim_free(a);
  hn_optim_free(b);
  hn_free(p1);
  hn_free(p2);
  hn_free(g);
  hn_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adam_three_steps),
      cmocka_unit_test(test_sgd_momentum_three_steps),
      cmocka_unit_test(test_delta_is_the_step),
      cmocka_unit_test(test_state_round_trip),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads_and_no_alloc),
  };
  return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
