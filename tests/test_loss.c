/* test_loss.c — cross-entropy (masks, labels), MSE, Gaussian NLL, accuracy,
 * argmax, entropy: hand-computed values, central-difference gradients,
 * errors that leave outputs untouched, thread independence. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SENTINEL 12345.0f

static hn_tensor view2(float *d, int64_t r, int64_t c) {
  hn_tensor t;
  assert_int_equal(hn_tensor_view(&t, d, 2, (int64_t[]){r, c}), HN_OK);
  return t;
}

static hn_tensor view1(float *d, int64_t n) {
  hn_tensor t;
  assert_int_equal(hn_tensor_view(&t, d, 1, (int64_t[]){n}), HN_OK);
  return t;
}

static void fill(float *x, int64_t n, float v) {
  for (int64_t i = 0; i < n; i++) x[i] = v;
}

static void assert_all(const float *x, int64_t n, float v, const char *what) {
  for (int64_t i = 0; i < n; i++)
    if (x[i] != v) fail_msg("%s: element %lld changed to %g", what, (long long)i, (double)x[i]);
}

/* ---- hand-computed values ------------------------------------------------------ */

static void test_xent_values(void **state) {
  (void)state;
  /* Row 0: logits (1, 2, 3), label 2: log(e^1 + e^2 + e^3) - 3
   *        = log(1 + e^-1 + e^-2) = 0.4076059644443803.
   * Row 1: logits (0, 0, 0), label 0: log 3 = 1.0986122886681098.
   * Mean: 0.7531091265562450. */
  float x[6] = {1, 2, 3, 0, 0, 0}, y[2] = {2, 0}, dx[6];
  hn_tensor lx = view2(x, 2, 3), ly = view1(y, 2), ldx = view2(dx, 2, 3);
  float loss = 0;
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &loss, &ldx), HN_OK);
  assert_float_equal(loss, 0.7531091265562450, 1e-6);
  /* dlogits = (softmax - onehot) / n: softmax(1,2,3) = (0.09003057, 0.24472847, 0.66524096). */
  double ref[6] = {0.09003057317038046 / 2, 0.24472847105479767 / 2,
                   (0.6652409557748219 - 1) / 2, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6};
  hnt_assert_close_d(dx, ref, 6, 1e-6, 1e-7, "xent dlogits");
  /* Without dlogits the loss is the same. */
  float loss2 = 0;
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &loss2, NULL), HN_OK);
  assert_true(loss2 == loss);
}

static void test_xent_stable_for_large_logits(void **state) {
  (void)state;
  /* Shift invariance: (1001, 1002, 1003) gives the row-0 value above; a naive
   * exp would overflow to inf. */
  float x[3] = {1001, 1002, 1003}, y[1] = {2}, dx[3];
  hn_tensor lx = view2(x, 1, 3), ly = view1(y, 1), ldx = view2(dx, 1, 3);
  float loss = 0;
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &loss, &ldx), HN_OK);
  assert_float_equal(loss, 0.4076059644443803, 1e-5);
  for (int j = 0; j < 3; j++) assert_true(isfinite(dx[j]));
  /* Very negative logits too. */
  float xn[3] = {-3000, -2999, -2998};
  lx = view2(xn, 1, 3);
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &loss, NULL), HN_OK);
  assert_float_equal(loss, 0.4076059644443803, 1e-5);
}

static void test_xent_mask(void **state) {
  (void)state;
  /* Head mask {1, 0, 1, 1}: logits (1, 5, 2, 3) with label 3 behave like
   * (1, 2, 3) with label 2 (the masked 5 is excluded from the softmax). */
  float x[4] = {1, 5, 2, 3}, y[1] = {3}, dx[4];
  uint8_t mask[4] = {1, 0, 1, 1};
  hn_tensor lx = view2(x, 1, 4), ly = view1(y, 1), ldx = view2(dx, 1, 4);
  float loss = 0;
  assert_int_equal(hn_loss_xent(&lx, &ly, mask, &loss, &ldx), HN_OK);
  assert_float_equal(loss, 0.4076059644443803, 1e-6);
  assert_true(dx[1] == 0.0f);
  double ref[4] = {0.09003057317038046, 0.0, 0.24472847105479767, 0.6652409557748219 - 1};
  hnt_assert_close_d(dx, ref, 4, 1e-6, 1e-7, "masked dlogits");
  /* Accuracy and argmax respect the mask: unmasked argmax is 1, masked 3. */
  int64_t nc = -1;
  assert_int_equal(hn_loss_accuracy(&lx, &ly, mask, &nc), HN_OK);
  assert_int_equal(nc, 1);
  assert_int_equal(hn_loss_accuracy(&lx, &ly, NULL, &nc), HN_OK);
  assert_int_equal(nc, 0);
  float p[1];
  hn_tensor lp = view1(p, 1);
  assert_int_equal(hn_loss_argmax(&lx, mask, &lp), HN_OK);
  assert_true(p[0] == 3.0f);
  assert_int_equal(hn_loss_argmax(&lx, NULL, &lp), HN_OK);
  assert_true(p[0] == 1.0f);
}

static void test_mse_values(void **state) {
  (void)state;
  /* ((1-0)^2 + 0 + (3-5)^2 + 0) / 4 = 1.25; dy = 2 (y - t) / 4. */
  float y[4] = {1, 2, 3, 4}, t[4] = {0, 2, 5, 4}, dy[4];
  hn_tensor ly = view2(y, 2, 2), lt = view2(t, 2, 2), ld = view2(dy, 2, 2);
  float loss = 0;
  assert_int_equal(hn_loss_mse(&ly, &lt, &loss, &ld), HN_OK);
  assert_true(loss == 1.25f);
  float ref[4] = {0.5f, 0.0f, -1.0f, 0.0f};
  hnt_assert_close(dy, ref, 4, 0, 0, "mse dy");
}

static void test_gauss_nll_values(void **state) {
  (void)state;
  /* Row 0: mean 1, log-variance 0, target 2: 0.5 (log 2π + 0 + 1) = 1.4189385332046727.
   * Row 1: mean 0, log-variance log 4, target 2: 0.5 (log 2π + log 4 + 4/4)
   *        = 2.1120857137646180.  Mean: 1.7655121234846454. */
  float y[4] = {1, 0, 0, 1.3862943611198906f}, t[2] = {2, 2}, dy[4];
  hn_tensor ly = view2(y, 2, 2), lt = view2(t, 2, 1), ld = view2(dy, 2, 2);
  float loss = 0;
  assert_int_equal(hn_loss_gauss_nll(&ly, &lt, &loss, &ld), HN_OK);
  assert_float_equal(loss, 1.7655121234846454, 1e-6);
  /* d/dmean = -(t - m) e^-lv / n; d/dlv = 0.5 (1 - (t - m)^2 e^-lv) / n. */
  double ref[4] = {-1.0 / 2, 0.5 * (1 - 1) / 2, -2.0 / 4 / 2, 0.5 * (1 - 1.0) / 2};
  hnt_assert_close_d(dy, ref, 4, 1e-6, 1e-7, "nll dy");
}

static void test_accuracy_argmax_entropy(void **state) {
  (void)state;
  enum { N = 4, C = 3 };
  float x[N * C] = {
      0.1f, 0.5f, 0.2f,  /* argmax 1 */
      2.0f, 2.0f, 1.0f,  /* tie: the first, 0 */
      -1.0f, -3.0f, -0.5f, /* argmax 2 */
      0.0f, 0.0f, 0.0f,  /* uniform: argmax 0, entropy log 3 */
  };
  float y[N] = {1, 1, 2, 0};
  hn_tensor lx = view2(x, N, C), ly = view1(y, N);
  int64_t nc = -1;
  assert_int_equal(hn_loss_accuracy(&lx, &ly, NULL, &nc), HN_OK);
  assert_int_equal(nc, 3);
  float p[N];
  hn_tensor lp = view1(p, N);
  assert_int_equal(hn_loss_argmax(&lx, NULL, &lp), HN_OK);
  float pref[N] = {1, 0, 2, 0};
  hnt_assert_close(p, pref, N, 0, 0, "argmax");

  float h[N];
  hn_tensor lh = view1(h, N);
  assert_int_equal(hn_loss_entropy(&lx, NULL, &lh), HN_OK);
  assert_float_equal(h[3], log(3.0), 1e-6);
  /* Each row against -Σ p log p computed here in double. */
  for (int r = 0; r < N; r++) {
    double m = -1e30, s = 0, hh = 0;
    for (int j = 0; j < C; j++) m = fmax(m, (double)x[r * C + j]);
    for (int j = 0; j < C; j++) s += exp((double)x[r * C + j] - m);
    for (int j = 0; j < C; j++) {
      double q = exp((double)x[r * C + j] - m) / s;
      hh -= q * log(q);
    }
    assert_float_equal(h[r], hh, 1e-6);
  }
  /* Uniform over c classes: log c, for several c; a masked head of 2 out of
   * 5 uniform logits: log 2; a confident row: ~0; (0, log 3): p = (1/4, 3/4),
   * H = -(0.25 log 0.25 + 0.75 log 0.75) = 0.5623351446188083. */
  float u[7] = {0};
  for (int c = 1; c <= 7; c++) {
    hn_tensor lu = view2(u, 1, c), l1 = view1(h, 1);
    assert_int_equal(hn_loss_entropy(&lu, NULL, &l1), HN_OK);
    assert_float_equal(h[0], log((double)c), 1e-6);
  }
  uint8_t m2[5] = {0, 1, 0, 1, 0};
  float u5[5] = {9, 1, 9, 1, 9};
  hn_tensor lu5 = view2(u5, 1, 5), l1 = view1(h, 1);
  assert_int_equal(hn_loss_entropy(&lu5, m2, &l1), HN_OK);
  assert_float_equal(h[0], log(2.0), 1e-6);
  float conf[2] = {50, 0}, two[2] = {0, 1.0986122886681098f};
  hn_tensor lc = view2(conf, 1, 2);
  assert_int_equal(hn_loss_entropy(&lc, NULL, &l1), HN_OK);
  assert_true(h[0] >= 0.0f && h[0] < 1e-18f); /* 50 e^-50 ~ 1e-20 */
  lc = view2(two, 1, 2);
  assert_int_equal(hn_loss_entropy(&lc, NULL, &l1), HN_OK);
  assert_float_equal(h[0], 0.5623351446188083, 1e-6);
}

/* A NaN or +-Inf logit (a diverged net, NaN inputs) is no prediction: NaN
 * compares false with everything, so a plain argmax would keep the first
 * column and score every NaN row with label 0 as correct. */
static void test_nonfinite_rows_predict_nothing(void **state) {
  (void)state;
  enum { N = 5, C = 3 };
  float x[N * C] = {
      NAN,  NAN,       NAN,  /* all NaN, label 0 */
      NAN,  0.0f,      -1.0f, /* NaN first, label 0 */
      1.0f, INFINITY,  0.0f, /* +Inf, label 1 */
      5.0f, -INFINITY, 0.0f, /* -Inf, label 0 */
      0.2f, 0.9f,      NAN,  /* finite in the head {0, 1}, NaN outside it */
  };
  float y[N] = {0, 0, 1, 0, 1};
  hn_tensor lx = view2(x, N, C), ly = view1(y, N);
  int64_t nc = -1;
  assert_int_equal(hn_loss_accuracy(&lx, &ly, NULL, &nc), HN_OK);
  assert_int_equal(nc, 0);
  uint8_t head[C] = {1, 1, 0};
  assert_int_equal(hn_loss_accuracy(&lx, &ly, head, &nc), HN_OK);
  assert_int_equal(nc, 1); /* only the last row: its NaN is outside the head */
  float p[N], h[N];
  hn_tensor lp = view1(p, N), lh = view1(h, N);
  assert_int_equal(hn_loss_argmax(&lx, NULL, &lp), HN_OK);
  for (int r = 0; r < N; r++) assert_float_equal(p[r], -1.0, 0.0);
  assert_int_equal(hn_loss_argmax(&lx, head, &lp), HN_OK);
  assert_float_equal(p[4], 1.0, 0.0);
  assert_int_equal(hn_loss_entropy(&lx, NULL, &lh), HN_OK);
  for (int r = 0; r < N; r++) assert_true(isnan(h[r]));
  assert_int_equal(hn_loss_entropy(&lx, head, &lh), HN_OK);
  assert_true(isfinite(h[4]) && h[4] > 0.0f && h[4] < (float)log(2.0) + 1e-6f);
  assert_true(isnan(h[3]));
}

/* The task-inference scores: max softmax probability and logsumexp per row
 * against double references, with a head mask, large logits (no overflow:
 * logsumexp of 1000 is 1000 + log 2), and NaN for a non-finite row. */
static void test_max_prob_logsumexp(void **state) {
  (void)state;
  enum { N = 5, C = 4 };
  float x[N * C] = {
      0.1f,    0.5f,    0.2f,  -1.0f, 2.0f, 2.0f, 1.0f, 0.0f, -1.0f, -3.0f,
      -0.5f,   0.25f,   0.0f,  0.0f,  0.0f, 0.0f, 1000.0f, 1000.0f, 3.0f, NAN,
  };
  uint8_t head[C] = {1, 1, 0, 0};
  float p[N], l[N], q[N];
  hn_tensor lx = view2(x, N, C), lp = view1(p, N), ll = view1(l, N), lq = view1(q, N);
  for (int masked = 0; masked <= 1; masked++) {
    const uint8_t *mask = masked ? head : NULL;
    assert_int_equal(hn_loss_max_prob(&lx, mask, &lp), HN_OK);
    assert_int_equal(hn_loss_logsumexp(&lx, mask, &ll), HN_OK);
    assert_int_equal(hn_loss_max_logprob(&lx, mask, &lq), HN_OK); /* log p_max = log(1 / s) */
    for (int r = 0; r < N; r++) {
      double m = -1e300, s = 0;
      bool finite = true;
      for (int j = 0; j < C; j++) {
        if (mask && !mask[j]) continue;
        finite = finite && isfinite(x[r * C + j]);
        m = fmax(m, (double)x[r * C + j]);
      }
      if (!finite) {
        assert_true(isnan(p[r]) && isnan(l[r]) && isnan(q[r]));
        continue;
      }
      for (int j = 0; j < C; j++)
        if (!mask || mask[j]) s += exp((double)x[r * C + j] - m);
      assert_float_equal(p[r], (1.0 / s), 1e-6);
      assert_float_equal(l[r], (m + log(s)), (1e-6 * fmax(1.0, fabs(m))));
      assert_float_equal(q[r], -log(s), 1e-6);
    }
  }
  assert_float_equal(l[4], (1000.0 + log(2.0)), 1e-3); /* masked: the NaN is outside the head */
  assert_float_equal(p[3], 0.5, 1e-7);               /* masked uniform head of 2 */
  /* Unmasked: the uniform row of 4 has p = 1/4 and lse = log 4; the last row NaN. */
  assert_int_equal(hn_loss_max_prob(&lx, NULL, &lp), HN_OK);
  assert_int_equal(hn_loss_logsumexp(&lx, NULL, &ll), HN_OK);
  assert_float_equal(p[3], 0.25, 1e-7);
  assert_float_equal(l[3], log(4.0), 1e-6);
  assert_true(isnan(p[4]) && isnan(l[4]));
  /* Confident rows: p_max is 1.0f for both, the log-probabilities still
   * order them (a margin of 30 is less sure than one of 40). */
  float xc[2 * C] = {30.0f, 0.0f, 0.0f, 0.0f, 0.0f, 40.0f, 0.0f, 0.0f};
  float pc[2], lpc[2];
  hn_tensor lxc = view2(xc, 2, C), lpp = view1(pc, 2), llp = view1(lpc, 2);
  assert_int_equal(hn_loss_max_prob(&lxc, NULL, &lpp), HN_OK);
  assert_int_equal(hn_loss_max_logprob(&lxc, NULL, &llp), HN_OK);
  assert_true(pc[0] == 1.0f && pc[1] == 1.0f);
  assert_true(fabs((double)lpc[0] + 3.0 * exp(-30.0)) < 1e-3 * 3.0 * exp(-30.0));
  assert_true(fabs((double)lpc[1] + 3.0 * exp(-40.0)) < 1e-3 * 3.0 * exp(-40.0));
  assert_true(lpc[0] < lpc[1] && lpc[1] < 0.0f);
  /* A wrong output size leaves the output untouched. */
  float out[3] = {SENTINEL, SENTINEL, SENTINEL};
  hn_tensor lo3 = view1(out, 3);
  assert_int_equal(hn_loss_max_prob(&lx, NULL, &lo3), HN_ERR_SHAPE);
  assert_int_equal(hn_loss_max_logprob(&lx, NULL, &lo3), HN_ERR_SHAPE);
  assert_int_equal(hn_loss_logsumexp(&lx, NULL, &lo3), HN_ERR_SHAPE);
  assert_true(strstr(hn_errmsg(), "hn_loss_logsumexp") != NULL);
  assert_all(out, 3, SENTINEL, "scores after errors");
}

/* ---- gradients by central differences ------------------------------------------- */

typedef struct loss_ctx {
  int kind; /* 0 xent, 1 mse, 2 nll */
  hn_tensor *x, *t;
  const uint8_t *mask;
} loss_ctx;

static double loss_fn(void *vctx) {
  loss_ctx *c = vctx;
  float loss = 0;
  hn_status st = c->kind == 0   ? hn_loss_xent(c->x, c->t, c->mask, &loss, NULL)
                 : c->kind == 1 ? hn_loss_mse(c->x, c->t, &loss, NULL)
                                : hn_loss_gauss_nll(c->x, c->t, &loss, NULL);
  assert_int_equal(st, HN_OK);
  return loss;
}

/* Tolerance 5e-3: the losses are O(1) floats (rounding ~1e-7, i.e. ~1e-5
 * absolute after dividing by 2 eps = 2e-2), the gradients O(0.05..1), and
 * the central difference's truncation error is O(eps^2) = 1e-4 relative. */
static void test_gradients(void **state) {
  (void)state;
  enum { N = 5, C = 7, D = 3 };
  float x[N * C], dx[N * C], y[N];
  hnt_fill_uniform(x, N * C, -2, 2, 1);
  for (int r = 0; r < N; r++) y[r] = (float)((r * 3) % C);
  hn_tensor lx = view2(x, N, C), ly = view1(y, N), ldx = view2(dx, N, C);
  float loss;
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &loss, &ldx), HN_OK);
  loss_ctx c = {0, &lx, &ly, NULL};
  hnt_gradcheck("xent", loss_fn, &c, x, dx, N * C, 1e-2f, 200, 1e-3, 5e-3);

  /* With a mask: labels inside the head; masked columns get exactly 0 and
   * the loss does not depend on them (numeric gradient 0 too). */
  uint8_t mask[C] = {1, 0, 1, 1, 0, 1, 1};
  float ym[N] = {0, 2, 3, 5, 6};
  hn_tensor lym = view1(ym, N);
  assert_int_equal(hn_loss_xent(&lx, &lym, mask, &loss, &ldx), HN_OK);
  for (int r = 0; r < N; r++) assert_true(dx[r * C + 1] == 0.0f && dx[r * C + 4] == 0.0f);
  loss_ctx cm = {0, &lx, &lym, mask};
  hnt_gradcheck("xent masked", loss_fn, &cm, x, dx, N * C, 1e-2f, 200, 1e-3, 5e-3);

  float t[N * C], dm[N * C];
  hnt_fill_uniform(t, N * C, -1, 1, 2);
  hn_tensor lt = view2(t, N, C), ldm = view2(dm, N, C);
  assert_int_equal(hn_loss_mse(&lx, &lt, &loss, &ldm), HN_OK);
  loss_ctx c1 = {1, &lx, &lt, NULL};
  hnt_gradcheck("mse", loss_fn, &c1, x, dm, N * C, 1e-2f, 200, 1e-3, 5e-3);

  float g[N * 2 * D], dg[N * 2 * D], tg[N * D];
  hnt_fill_uniform(g, N * 2 * D, -1, 1, 3);
  hnt_fill_uniform(tg, N * D, -2, 2, 4);
  hn_tensor lg = view2(g, N, 2 * D), ltg = view2(tg, N, D), ldg = view2(dg, N, 2 * D);
  assert_int_equal(hn_loss_gauss_nll(&lg, &ltg, &loss, &ldg), HN_OK);
  loss_ctx c2 = {2, &lg, &ltg, NULL};
  hnt_gradcheck("gauss nll", loss_fn, &c2, g, dg, N * 2 * D, 1e-2f, 200, 1e-3, 5e-3);
}

/* ---- errors ------------------------------------------------------------------------ */

static void check_bad_label(float bad, int row, const uint8_t *mask, const char *words) {
  float x[9], y[3] = {0, 1, 2}, dx[9];
  hnt_fill_uniform(x, 9, -1, 1, 5);
  y[row] = bad;
  fill(dx, 9, SENTINEL);
  hn_tensor lx = view2(x, 3, 3), ly = view1(y, 3), ldx = view2(dx, 3, 3);
  float loss = SENTINEL;
  assert_int_equal(hn_loss_xent(&lx, &ly, mask, &loss, &ldx), HN_ERR_ARG);
  const char *msg = hn_errmsg();
  assert_non_null(strstr(msg, "hn_loss_xent"));
  assert_non_null(strstr(msg, words));
  char rowtxt[16];
  snprintf(rowtxt, sizeof rowtxt, "row %d", row);
  assert_non_null(strstr(msg, rowtxt));
  assert_true(loss == SENTINEL);
  assert_all(dx, 9, SENTINEL, "dlogits after a bad label");
  int64_t nc = -7;
  assert_int_equal(hn_loss_accuracy(&lx, &ly, mask, &nc), HN_ERR_ARG);
  assert_true(nc == -7);
}

static void test_bad_labels(void **state) {
  (void)state;
  check_bad_label(2.5f, 1, NULL, "not an integer class index in [0, 3)");
  check_bad_label(-1.0f, 0, NULL, "not an integer class index");
  check_bad_label(3.0f, 2, NULL, "not an integer class index");
  check_bad_label(NAN, 2, NULL, "not an integer class index");
  check_bad_label(INFINITY, 1, NULL, "not an integer class index");
  uint8_t mask[3] = {1, 1, 0};
  check_bad_label(2.0f, 2, mask, "head mask excludes");
}

static void test_bad_shapes_and_masks(void **state) {
  (void)state;
  float x[12], y[4] = {0, 1, 2, 0}, dx[12], out[4];
  hnt_fill_uniform(x, 12, -1, 1, 6);
  fill(dx, 12, SENTINEL);
  fill(out, 4, SENTINEL);
  hn_tensor lx = view2(x, 4, 3), ly3 = view1(y, 3), ly = view1(y, 4);
  hn_tensor bad_dx = view2(dx, 3, 4);
  float loss = SENTINEL;
  assert_int_equal(hn_loss_xent(&lx, &ly3, NULL, &loss, NULL), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "[3]"));
  assert_non_null(strstr(hn_errmsg(), "[4, 3]"));
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &loss, &bad_dx), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "dlogits"));
  assert_true(loss == SENTINEL);
  assert_all(dx, 12, SENTINEL, "dlogits after a shape error");
  hn_tensor flat = view1(x, 12);
  assert_int_equal(hn_loss_xent(&flat, &ly, NULL, &loss, NULL), HN_ERR_SHAPE);
  uint8_t none[3] = {0, 0, 0};
  assert_int_equal(hn_loss_xent(&lx, &ly, none, &loss, NULL), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "selects none"));
  hn_tensor lo = view1(out, 4);
  assert_int_equal(hn_loss_entropy(&lx, none, &lo), HN_ERR_ARG);
  assert_int_equal(hn_loss_argmax(&lx, none, &lo), HN_ERR_ARG);
  hn_tensor lo3 = view1(out, 3);
  assert_int_equal(hn_loss_entropy(&lx, NULL, &lo3), HN_ERR_SHAPE);
  assert_all(out, 4, SENTINEL, "entropy after errors");
  assert_true(loss == SENTINEL);

  hn_tensor t3 = view2(dx, 3, 4);
  assert_int_equal(hn_loss_mse(&lx, &t3, &loss, NULL), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_loss_mse"));
  hn_tensor odd = view2(x, 4, 3);
  hn_tensor tn = view2(y, 4, 1);
  assert_int_equal(hn_loss_gauss_nll(&odd, &tn, &loss, NULL), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "[n, 2d]"));
  hn_tensor even = view2(x, 4, 2), tbad = view2(y, 2, 2);
  assert_int_equal(hn_loss_gauss_nll(&even, &tbad, &loss, NULL), HN_ERR_SHAPE);
  assert_true(loss == SENTINEL);
}

/* Row blocks are summed in parallel and added in block order: the loss and
 * every gradient element are bitwise the same with 1 and 2 threads. */
static void test_threads_bitwise(void **state) {
  (void)state;
  enum { N = 4099, C = 10 };
  float *x = hn_alloc(sizeof(float) * N * C), *y = hn_alloc(sizeof(float) * N);
  float *d1 = hn_alloc(sizeof(float) * N * C), *d2 = hn_alloc(sizeof(float) * N * C);
  hnt_fill_uniform(x, N * C, -3, 3, 8);
  for (int r = 0; r < N; r++) y[r] = (float)(r % C);
  hn_tensor lx = view2(x, N, C), ly = view1(y, N), l1 = view2(d1, N, C), l2 = view2(d2, N, C);
  float a, b, ma, mb;
  hn_tensor t = view2(d2, N, C);
  int saved = hn_threads_get();
  hn_threads_set(1);
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &a, &l1), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_loss_xent(&lx, &ly, NULL, &b, &l2), HN_OK);
  assert_true(memcmp(&a, &b, sizeof a) == 0);
  hnt_assert_bytes_equal(d1, d2, sizeof(float) * N * C, "xent dlogits 1 vs 2 threads");
  hnt_fill_uniform(d2, N * C, -1, 1, 9);
  hn_threads_set(1);
  assert_int_equal(hn_loss_mse(&lx, &t, &ma, NULL), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_loss_mse(&lx, &t, &mb, NULL), HN_OK);
  assert_true(memcmp(&ma, &mb, sizeof ma) == 0);
  hn_threads_set(saved);
  hn_free(x);
  hn_free(y);
  hn_free(d1);
  hn_free(d2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xent_values),
      cmocka_unit_test(test_xent_stable_for_large_logits),
      cmocka_unit_test(test_xent_mask),
      cmocka_unit_test(test_mse_values),
      cmocka_unit_test(test_gauss_nll_values),
      cmocka_unit_test(test_accuracy_argmax_entropy),
      cmocka_unit_test(test_max_prob_logsumexp),
      cmocka_unit_test(test_nonfinite_rows_predict_nothing),
      cmocka_unit_test(test_gradients),
      cmocka_unit_test(test_bad_labels),
      cmocka_unit_test(test_bad_shapes_and_masks),
      cmocka_unit_test(test_threads_bitwise),
  };
  return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
