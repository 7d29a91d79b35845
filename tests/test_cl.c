/* test_cl.c — continual-learning kernels: the hypernetwork output regulariser
 * and the EWC / online EWC / SI penalties and accumulators, against naive
 * loops, central differences and hand-computed values. */
#include "harness.h"

#include <math.h>
#include <string.h>

#define SENTINEL 4242.0f

/* ---- output regulariser ------------------------------------------------------ */

typedef struct reg_ctx {
  const float *W, *Ws, *F;
  int64_t n_tasks, n_out;
  float coef;
  int kind; /* 0 output_reg, 1 quad_penalty */
} reg_ctx;

static double reg_fn(void *vctx) {
  reg_ctx *c = vctx;
  float loss = 0;
  hn_status st = c->kind == 0
                     ? hn_cl_output_reg(c->W, c->Ws, c->n_tasks, c->n_out, c->coef, &loss, NULL)
                     : hn_cl_quad_penalty(c->W, c->Ws, c->F, c->n_out, c->coef, &loss, NULL);
  assert_int_equal(st, HN_OK);
  return loss;
}

static void test_output_reg_value_and_gradient(void **state) {
  (void)state;
  enum { T = 3, N = 50 };
  float W[T * N], Ws[T * N], dW[T * N], d0[T * N];
  hnt_fill_uniform(W, T * N, -1, 1, 1);
  hnt_fill_uniform(Ws, T * N, -1, 1, 2);
  hnt_fill_uniform(d0, T * N, -1, 1, 3);
  memcpy(dW, d0, sizeof dW);
  const float beta = 0.05f;
  float loss = 0;
  assert_int_equal(hn_cl_output_reg(W, Ws, T, N, beta, &loss, dW), HN_OK);
  /* Naive: beta / T · Σ_t Σ_j (W - W*)^2, in double. */
  double ref = 0;
  for (int t = 0; t < T; t++)
    for (int j = 0; j < N; j++) {
      double d = (double)W[t * N + j] - (double)Ws[t * N + j];
      ref += d * d;
    }
  ref *= (double)beta / T;
  hnt_assert_close_d(&loss, &ref, 1, 1e-6, 0, "loss vs naive loop");
  /* dW accumulated: d0 + 2 beta / T (W - W*). */
  double gref[T * N];
  float g[T * N];
  for (int i = 0; i < T * N; i++) {
    gref[i] = (double)d0[i] + 2.0 * (double)beta / T * ((double)W[i] - (double)Ws[i]);
    g[i] = dW[i] - d0[i];
  }
  hnt_assert_close_d(dW, gref, T * N, 1e-6, 1e-7, "output_reg dW accumulated");
  /* Central differences on the loss. It is quadratic, so the difference
   * quotient is exact up to rounding for any eps; eps = 0.25 puts the float
   * rounding of the O(1) loss (~1e-7) at ~2e-7 absolute, against gradients
   * O(0.03) and the 1e-3 floor; tol 1e-2. */
  reg_ctx c = {W, Ws, NULL, T, N, beta, 0};
  hnt_gradcheck("output_reg", reg_fn, &c, W, g, T * N, 0.25f, 200, 1e-3, 1e-2);

  /* No earlier tasks: loss 0, dW untouched; NULL outputs are fine. */
  memcpy(dW, d0, sizeof dW);
  loss = SENTINEL;
  assert_int_equal(hn_cl_output_reg(W, Ws, 0, N, beta, &loss, dW), HN_OK);
  assert_true(loss == 0.0f);
  hnt_assert_bytes_equal(dW, d0, sizeof dW, "dW with no earlier tasks");
  assert_int_equal(hn_cl_output_reg(W, Ws, T, N, beta, NULL, NULL), HN_OK);
}

/* ---- quadratic (EWC / SI) penalty ----------------------------------------------- */

static void test_quad_penalty_value_and_gradient(void **state) {
  (void)state;
  enum { N = 333 };
  float th[N], ts[N], F[N], dt[N], d0[N], g[N];
  hnt_fill_uniform(th, N, -1, 1, 4);
  hnt_fill_uniform(ts, N, -1, 1, 5);
  hnt_fill_uniform(F, N, 0, 2, 6);
  hnt_fill_uniform(d0, N, -1, 1, 7);
  memcpy(dt, d0, sizeof dt);
  const float lambda = 3.0f;
  float loss = 0;
  assert_int_equal(hn_cl_quad_penalty(th, ts, F, N, lambda, &loss, dt), HN_OK);
  double ref = 0, gref[N];
  for (int i = 0; i < N; i++) {
    double d = (double)th[i] - (double)ts[i];
    ref += (double)F[i] * d * d;
    gref[i] = (double)d0[i] + (double)lambda * (double)F[i] * d;
    g[i] = dt[i] - d0[i];
  }
  ref *= 0.5 * (double)lambda;
  hnt_assert_close_d(&loss, &ref, 1, 1e-6, 0, "loss vs naive loop");
  hnt_assert_close_d(dt, gref, N, 1e-6, 1e-6, "quad penalty dtheta accumulated");
  /* Central differences on the first 40 coordinates (the gradient of one
   * coordinate does not depend on n). The penalty is quadratic, so central
   * differences are exact for any eps: eps = 0.25 keeps the float rounding
   * of the O(20) loss (~2e-6) at ~4e-6 absolute in the difference quotient,
   * against the 1e-3 floor; tol 1e-2. */
  reg_ctx c = {th, ts, F, 1, 40, lambda, 1};
  hnt_gradcheck("quad penalty", reg_fn, &c, th, g, 40, 0.25f, 200, 1e-3, 1e-2);
}

/* ---- Fisher and SI accumulators: hand-computed ----------------------------------- */

static void test_fisher_and_si_hand_values(void **state) {
  (void)state;
  /* fisher += 0.5 grad^2: (1, 2, 0) + 0.5 (0.25, 4, 9) = (1.125, 4, 4.5). */
  float f[3] = {1, 2, 0}, g[3] = {0.5f, -2, 3};
  assert_int_equal(hn_cl_fisher_acc(f, g, 3, 0.5f), HN_OK);
  float fr[3] = {1.125f, 4.0f, 4.5f};
  hnt_assert_close(f, fr, 3, 0, 0, "fisher_acc");
  /* Online EWC: 0.9 (1, 2, 3) + (0.5, 0.5, 1) = (1.4, 2.3, 3.7). */
  float tot[3] = {1, 2, 3}, task[3] = {0.5f, 0.5f, 1};
  assert_int_equal(hn_cl_fisher_merge(tot, task, 3, 0.9f), HN_OK);
  float tr[3] = {1.4f, 2.3f, 3.7f};
  hnt_assert_close(tot, tr, 3, 1e-6, 0, "fisher_merge");
  /* SI path integral: (0, 1, -1) - (2·0.1, -1·0.2, 0.5·-0.4) = (-0.2, 1.2, -0.8). */
  float om[3] = {0, 1, -1}, gr[3] = {2, -1, 0.5f}, de[3] = {0.1f, 0.2f, -0.4f};
  assert_int_equal(hn_cl_si_accumulate(om, gr, de, 3), HN_OK);
  float omr[3] = {-0.2f, 1.2f, -0.8f};
  hnt_assert_close(om, omr, 3, 1e-6, 1e-7, "si_accumulate");
  /* Consolidation with xi = 0.1: θ - θ_start = (0.5, 0, 2), denominators
   * (0.35, 0.1, 4.1); Ω = (0, 1, 2) + (0.2/0.35, -0.1/0.1, 0.5/4.1)
   * = (0.5714286, 0, 2.1219512); the running sum is zeroed. */
  float big[3] = {0, 1, 2}, run[3] = {0.2f, -0.1f, 0.5f};
  float th[3] = {1, 2, 3}, th0[3] = {0.5f, 2, 1};
  assert_int_equal(hn_cl_si_consolidate(big, run, th, th0, 3, 0.1f), HN_OK);
  double br[3] = {0.2 / 0.35, 0.0, 2.0 + 0.5 / 4.1};
  hnt_assert_close_d(big, br, 3, 1e-6, 1e-6, "si_consolidate");
  assert_true(run[0] == 0.0f && run[1] == 0.0f && run[2] == 0.0f);
}

/* SI's running sum is the path integral of -g·dθ: for gradient descent on
 * L = ½ Σ a_i (θ_i - c_i)^2 with a small step it matches the loss decrease of
 * each coordinate: per step lr g^2 vs lr g^2 (1 - a lr / 2), i.e. within
 * a lr / 2 = 1% here. */
static void test_si_is_a_path_integral(void **state) {
  (void)state;
  enum { N = 4 };
  float a[N] = {1, 2, 0.5f, 1.5f}, c[N] = {1, -1, 2, 0}, th[N] = {0, 0, 0, 1};
  float om[N] = {0}, g[N], d[N];
  double l0[N];
  for (int i = 0; i < N; i++) l0[i] = 0.5 * (double)a[i] * pow((double)th[i] - (double)c[i], 2);
  const float lr = 0.01f;
  for (int s = 0; s < 200; s++) {
    for (int i = 0; i < N; i++) {
      g[i] = a[i] * (th[i] - c[i]);
      d[i] = -lr * g[i];
    }
    assert_int_equal(hn_cl_si_accumulate(om, g, d, N), HN_OK);
    for (int i = 0; i < N; i++) th[i] += d[i];
  }
  for (int i = 0; i < N; i++) {
    double drop = l0[i] - 0.5 * (double)a[i] * pow((double)th[i] - (double)c[i], 2);
    assert_true(drop > 0);
    double rel = fabs((double)om[i] - drop) / drop;
    if (rel > 0.011) fail_msg("coordinate %d: omega %g vs loss drop %g", i, (double)om[i], drop);
  }
}

/* ---- errors, threads, allocation ---------------------------------------------------- */

static void test_errors_leave_outputs_untouched(void **state) {
  (void)state;
  float a[4] = {1, 2, 3, 4}, b[4] = {0, 0, 0, 0}, out[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
  float loss = SENTINEL;
  assert_int_equal(hn_cl_output_reg(a, b, 2, 2, -1.0f, &loss, out), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "hn_cl_output_reg"));
  assert_non_null(strstr(hn_errmsg(), "beta"));
  assert_int_equal(hn_cl_output_reg(a, NULL, 2, 2, 1.0f, &loss, out), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "W_star"));
  assert_int_equal(hn_cl_output_reg(a, b, -1, 2, 1.0f, &loss, out), HN_ERR_ARG);
  assert_int_equal(hn_cl_quad_penalty(a, b, NULL, 4, 1.0f, &loss, out), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "fisher"));
  assert_int_equal(hn_cl_quad_penalty(a, b, a, 4, NAN, &loss, out), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "lambda"));
  assert_int_equal(hn_cl_quad_penalty(a, b, a, -4, 1.0f, &loss, out), HN_ERR_ARG);
  assert_int_equal(hn_cl_fisher_acc(out, a, 4, -1.0f), HN_ERR_ARG);
  assert_int_equal(hn_cl_fisher_acc(out, NULL, 4, 1.0f), HN_ERR_ARG);
  assert_int_equal(hn_cl_fisher_merge(out, a, 4, INFINITY), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "gamma"));
  assert_int_equal(hn_cl_si_accumulate(out, a, NULL, 4), HN_ERR_ARG);
  float run[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
  assert_int_equal(hn_cl_si_consolidate(out, run, a, b, 4, 0.0f), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "xi"));
  assert_true(loss == SENTINEL);
  for (int i = 0; i < 4; i++) assert_true(out[i] == SENTINEL && run[i] == SENTINEL);
  /* n = 0 is a valid no-op. */
  assert_int_equal(hn_cl_fisher_acc(NULL, NULL, 0, 1.0f), HN_OK);
}

/* Losses are fixed-block sums and the rest is elementwise: bitwise the same
 * with 1 and 2 threads, and no allocation. */
static void test_threads_bitwise_no_alloc(void **state) {
  (void)state;
  enum { T = 7, N = 30011 }; /* T·N spans many reduction blocks, goes parallel */
  int64_t n = (int64_t)T * N;
  size_t bytes = sizeof(float) * (size_t)n;
  float *W = hn_alloc(bytes), *Ws = hn_alloc(bytes), *F = hn_alloc(bytes);
  float *d[2], *f[2];
  for (int k = 0; k < 2; k++) {
    d[k] = hn_calloc(bytes);
    f[k] = hn_alloc(bytes);
  }
  hnt_fill_uniform(W, n, -1, 1, 11);
  hnt_fill_uniform(Ws, n, -1, 1, 12);
  hnt_fill_uniform(F, n, 0, 1, 13);
  float l[2], q[2];
  int saved = hn_threads_get();
  int64_t before = hn_alloc_count();
  for (int k = 0; k < 2; k++) {
    hn_threads_set(k + 1);
    memcpy(f[k], F, bytes);
    assert_int_equal(hn_cl_output_reg(W, Ws, T, N, 0.01f, &l[k], d[k]), HN_OK);
    assert_int_equal(hn_cl_quad_penalty(W, Ws, F, n, 2.0f, &q[k], d[k]), HN_OK);
    assert_int_equal(hn_cl_fisher_acc(f[k], d[k], n, 0.1f), HN_OK);
    assert_int_equal(hn_cl_fisher_merge(f[k], F, n, 0.9f), HN_OK);
  }
  assert_int_equal(hn_alloc_count(), before);
  hn_threads_set(saved);
  assert_true(memcmp(&l[0], &l[1], sizeof l[0]) == 0);
  assert_true(memcmp(&q[0], &q[1], sizeof q[0]) == 0);
  hnt_assert_bytes_equal(d[0], d[1], bytes, "gradients 1 vs 2 threads");
  hnt_assert_bytes_equal(f[0], f[1], bytes, "fisher 1 vs 2 threads");
  hn_free(W);
  hn_free(Ws);
  hn_free(F);
  for (int k = 0; k < 2; k++) {
    hn_free(d[k]);
    hn_free(f[k]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_output_reg_value_and_gradient),
      cmocka_unit_test(test_quad_penalty_value_and_gradient),
      cmocka_unit_test(test_fisher_and_si_hand_values),
      cmocka_unit_test(test_si_is_a_path_integral),
      cmocka_unit_test(test_errors_leave_outputs_untouched),
      cmocka_unit_test(test_threads_bitwise_no_alloc),
  };
  return cmocka_run_group_tests_name("cl", tests, NULL, NULL);
}
