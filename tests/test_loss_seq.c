/* test_loss_seq.c — hn_loss_bits, the per-step per-bit sigmoid
 * cross-entropy of sequence tasks: hand-computed values, unscored elements
 * (negative targets) contributing exactly 0 to the loss and its gradient,
 * central-difference gradients, counts, errors that leave the outputs
 * untouched, thread independence. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SENTINEL 12345.0f

static hn_tensor view3(float *d, int64_t a, int64_t b, int64_t c) {
  hn_tensor t;
  assert_int_equal(hn_tensor_view(&t, d, 3, (int64_t[]){a, b, c}), HN_OK);
  return t;
}

/* Two samples, 2 steps, 2 bits; the first step of each sample is not scored.
 * Scored: sample 0 step 1 (logits 0, 2; bits 1, 0), sample 1 step 1
 * (logits -1, 3; bits 0, 1).
 *   x=0,t=1: log 2 = 0.6931471805599453
 *   x=2,t=0: 2 + log(1+e^-2) = 2.1269280110429727
 *   x=-1,t=0: log(1+e^-1) = 0.31326168751822286
 *   x=3,t=1: log(1+e^-3) = 0.04858735157374206
 * sum 3.1819242306948832 / 2 rows = 1.5909621153474416. Correct: (0>=0)==1 yes; (2>=0)==0
 * no; (-1>=0)==0 yes; (3>=0)==1 yes -> 3 of 4. */
static void test_values(void **state) {
  (void)state;
  float y[8] = {5, -7, 0, 2, 9, 9, -1, 3};
  float t[8] = {-1, -1, 1, 0, -1, -1, 0, 1};
  float dy[8];
  for (int i = 0; i < 8; i++) dy[i] = SENTINEL;
  hn_tensor ly = view3(y, 2, 2, 2), lt = view3(t, 2, 2, 2), ld = view3(dy, 2, 2, 2);
  float loss = 0;
  int64_t c = -1, s = -1;
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &loss, &ld, &c, &s), HN_OK);
  assert_float_equal(loss, 1.5909621153474416, 1e-6);
  assert_true(c == 3 && s == 4);
  /* Unscored elements: exactly 0, whatever the logit. */
  assert_true(dy[0] == 0.0f && dy[1] == 0.0f && dy[4] == 0.0f && dy[5] == 0.0f);
  double ref[8] = {0, 0, (0.5 - 1) / 2, (1 / (1 + exp(-2.0))) / 2, 0, 0,
                   (1 / (1 + exp(1.0))) / 2, (1 / (1 + exp(-3.0)) - 1) / 2};
  hnt_assert_close_d(dy, ref, 8, 1e-6, 1e-8, "bits dy");
  /* Changing an unscored logit changes nothing. */
  y[0] = 1e30f;
  y[5] = -INFINITY;
  float loss2 = 0;
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &loss2, NULL, &c, &s), HN_OK);
  assert_true(loss2 == loss && c == 3 && s == 4);
  /* Large logits: no overflow. */
  float yb[2] = {1000, -1000}, tb[2] = {0, 1};
  hn_tensor lyb, ltb;
  assert_int_equal(hn_tensor_view(&lyb, yb, 2, (int64_t[]){1, 2}), HN_OK);
  assert_int_equal(hn_tensor_view(&ltb, tb, 2, (int64_t[]){1, 2}), HN_OK);
  assert_int_equal(hn_loss_bits(&lyb, &ltb, 0, &loss, NULL, &c, NULL), HN_OK);
  assert_float_equal(loss, 2000.0, 1e-3);
  assert_true(c == 0);
  /* A NaN logit is never right. */
  yb[0] = NAN;
  tb[0] = 1;
  assert_int_equal(hn_loss_bits(&lyb, &ltb, 0, NULL, NULL, &c, &s), HN_OK);
  assert_true(c == 0 && s == 2);
}

/* A multi-head output [n, T, k] scored on one head: the same loss, counts
 * and gradient as the head's columns alone, a zero gradient in the other
 * heads, and an offset that does not fit is an error. */
static void test_heads(void **state) {
  (void)state;
  enum { N = 2, T = 3, B = 2, K = 6, COL = 2 };
  float y[N * T * K], t[N * T * B], dy[N * T * K], ys[N * T * B], dys[N * T * B];
  hnt_fill_uniform(y, N * T * K, -3, 3, 11);
  hnt_fill_uniform(t, N * T * B, -1, 1, 12);
  for (int i = 0; i < N * T * B; i++) t[i] = t[i] < -0.3f ? -1.0f : (t[i] < 0.3f ? 0.0f : 1.0f);
  for (int r = 0; r < N * T; r++)
    for (int j = 0; j < B; j++) ys[r * B + j] = y[r * K + COL + j];
  hn_tensor ly = view3(y, N, T, K), lt = view3(t, N, T, B), ld = view3(dy, N, T, K);
  hn_tensor lys = view3(ys, N, T, B), lds = view3(dys, N, T, B);
  float a = 0, b = 0;
  int64_t ca = -1, sa = -1, cb = -2, sb = -2;
  assert_int_equal(hn_loss_bits(&ly, &lt, COL, &a, &ld, &ca, &sa), HN_OK);
  assert_int_equal(hn_loss_bits(&lys, &lt, 0, &b, &lds, &cb, &sb), HN_OK);
  assert_true(memcmp(&a, &b, sizeof a) == 0 && ca == cb && sa == sb && sa > 0);
  for (int r = 0; r < N * T; r++)
    for (int j = 0; j < K; j++) {
      float want = (j >= COL && j < COL + B) ? dys[r * B + j - COL] : 0.0f;
      assert_true(dy[r * K + j] == want);
    }
  float loss = SENTINEL;
  assert_int_equal(hn_loss_bits(&ly, &lt, K - B + 1, &loss, &ld, NULL, NULL), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "the head offset must be in 0..4"));
  assert_int_equal(hn_loss_bits(&ly, &lt, -1, &loss, &ld, NULL, NULL), HN_ERR_ARG);
  assert_true(loss == SENTINEL);
  hn_tensor lbad = view3(t, N, B, T);
  assert_int_equal(hn_loss_bits(&ly, &lbad, 0, &loss, NULL, NULL, NULL), HN_ERR_SHAPE);
}

typedef struct {
  hn_tensor *y, *t;
} loss_ctx;

static double loss_fn(void *vctx) {
  loss_ctx *c = vctx;
  float loss = 0;
  assert_int_equal(hn_loss_bits(c->y, c->t, 0, &loss, NULL, NULL, NULL), HN_OK);
  return (double)loss;
}

/* Central differences over every element (60 < 200), scored or not: an
 * unscored element's numeric gradient is exactly 0 too. eps 1e-2 on logits
 * in [-3, 3]: the second-order error of the sigmoid is ~1e-5 relative, the
 * float rounding of the ~10-valued loss over 2 eps ~3e-5 absolute; floor
 * 1e-3 and tolerance 5e-3 leave a wide margin. */
static void test_gradients(void **state) {
  (void)state;
  enum { N = 3, T = 5, B = 4, M = N * T * B };
  float y[M], t[M], dy[M];
  hnt_fill_uniform(y, M, -3, 3, 1);
  hnt_fill_uniform(t, M, 0, 1, 2);
  for (int i = 0; i < M; i++) t[i] = t[i] < 0.5f ? 0.0f : 1.0f;
  /* Steps 0..1 of every sample and step 4 of sample 2 (padding) unscored;
   * one soft target. */
  for (int n = 0; n < N; n++)
    for (int s = 0; s < T; s++)
      for (int b = 0; b < B; b++)
        if (s < 2 || (n == 2 && s == 4)) t[(n * T + s) * B + b] = -1.0f;
  t[(0 * T + 3) * B + 1] = 0.25f;
  hn_tensor ly = view3(y, N, T, B), lt = view3(t, N, T, B), ld = view3(dy, N, T, B);
  float loss;
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &loss, &ld, NULL, NULL), HN_OK);
  for (int i = 0; i < M; i++)
    if (t[i] < 0) assert_true(dy[i] == 0.0f);
  loss_ctx c = {&ly, &lt};
  hnt_gradcheck("bits", loss_fn, &c, y, dy, M, 1e-2f, 200, 1e-3, 5e-3);
}

static void test_errors(void **state) {
  (void)state;
  float y[6] = {0}, t[6] = {0, 1, -1, 1, 0, 0}, dy[6], d5[5];
  for (int i = 0; i < 6; i++) dy[i] = SENTINEL;
  hn_tensor ly = view3(y, 1, 2, 3), lt = view3(t, 1, 2, 3), ld = view3(dy, 1, 2, 3);
  float loss = SENTINEL;
  int64_t c = -7, s = -7;
  /* A target above 1 (or NaN): an error naming the element, nothing written. */
  t[4] = 2;
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &loss, &ld, &c, &s), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "hn_loss_bits: target element 4 is 2"));
  t[4] = NAN;
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &loss, &ld, &c, &s), HN_ERR_ARG);
  assert_true(loss == SENTINEL && c == -7 && s == -7);
  for (int i = 0; i < 6; i++) assert_true(dy[i] == SENTINEL);
  t[4] = 0;
  /* Shapes. */
  hn_tensor lt2 = view3(t, 1, 3, 2);
  assert_int_equal(hn_loss_bits(&ly, &lt2, 0, &loss, &ld, &c, &s), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "same shape"));
  hn_tensor l5;
  assert_int_equal(hn_tensor_view(&l5, d5, 1, (int64_t[]){5}), HN_OK);
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &loss, &l5, &c, &s), HN_ERR_SHAPE);
  assert_int_equal(hn_loss_bits(NULL, &lt, 0, &loss, NULL, &c, &s), HN_ERR_ARG);
  assert_true(loss == SENTINEL && c == -7 && s == -7);
}

/* Over several reduction blocks the loss and every gradient element are the
 * same bits with 1 and 2 threads. */
static void test_threads_bitwise(void **state) {
  (void)state;
  enum { N = 64, T = 40, B = 8, M = N * T * B };
  static float y[M], t[M], d1[M], d2[M];
  hnt_fill_uniform(y, M, -4, 4, 7);
  hnt_fill_uniform(t, M, -1, 1, 8);
  for (int i = 0; i < M; i++) t[i] = t[i] < -0.3f ? -1.0f : (t[i] < 0.35f ? 0.0f : 1.0f);
  hn_tensor ly = view3(y, N, T, B), lt = view3(t, N, T, B);
  hn_tensor l1 = view3(d1, N, T, B), l2 = view3(d2, N, T, B);
  float a = 0, b = 0;
  int saved = hn_threads_get();
  hn_threads_set(1);
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &a, &l1, NULL, NULL), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_loss_bits(&ly, &lt, 0, &b, &l2, NULL, NULL), HN_OK);
  hn_threads_set(saved);
  assert_true(memcmp(&a, &b, sizeof a) == 0);
  hnt_assert_bytes_equal(d1, d2, sizeof d1, "bits dy, 1 vs 2 threads");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_heads),
      cmocka_unit_test(test_gradients),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads_bitwise),
  };
  return cmocka_run_group_tests_name("loss_seq", tests, NULL, NULL);
}
