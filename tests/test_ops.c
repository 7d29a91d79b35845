/* test_ops.c — elementwise kernels, block reductions, activations, bias
 * helpers, softmax and im2col/col2im against naive double references; 1 vs 2
 * threads bitwise. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *falloc(int64_t n) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  assert_non_null(p);
  return p;
}

/* Sizes around the parallel threshold and the reduction block and group. */
static const int64_t sizes[] = {1, 7, 4095, 4096, 4097, 40000, 3 * 4096 + 5};

static void test_elementwise(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int64_t n = sizes[s];
    float *a = falloc(n), *b = falloc(n), *y = falloc(n);
    hnt_fill_uniform(a, n, -2, 2, 1 + s);
    hnt_fill_uniform(b, n, -2, 2, 100 + s);
    hn_ops_fill(y, 0.25f, n);
    for (int64_t i = 0; i < n; i++) assert_true(y[i] == 0.25f);
    hn_ops_copy(y, a, n);
    hnt_assert_bytes_equal(y, a, (size_t)n * 4, "copy");
    hn_ops_add(y, b, n);
    for (int64_t i = 0; i < n; i++) assert_true(y[i] == a[i] + b[i]);
    hn_ops_copy(y, a, n);
    hn_ops_axpy(y, -0.5f, b, n);
    for (int64_t i = 0; i < n; i++) assert_true(y[i] == a[i] + -0.5f * b[i]);
    hn_ops_copy(y, a, n);
    hn_ops_scale(y, 3.0f, n);
    for (int64_t i = 0; i < n; i++) assert_true(y[i] == a[i] * 3.0f);
    hn_ops_sub(y, a, b, n);
    for (int64_t i = 0; i < n; i++) assert_true(y[i] == a[i] - b[i]);
    free(a);
    free(b);
    free(y);
  }
}

static void test_reductions_match_double(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int64_t n = sizes[s];
    float *a = falloc(n), *b = falloc(n);
    hnt_fill_uniform(a, n, -1, 1, 3 + s);
    hnt_fill_uniform(b, n, -1, 1, 300 + s);
    double rs = 0, rd = 0, rn = 0, rq = 0;
    for (int64_t i = 0; i < n; i++) {
      rs += (double)a[i];
      rd += (double)a[i] * (double)b[i];
      rn += (double)a[i] * (double)a[i];
      rq += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    }
    /* both sides sum in double; only the association differs */
    assert_true(fabs(hn_ops_sum(a, n) - rs) <= 1e-12 * (1 + fabs(rs)) + 1e-12 * n);
    assert_true(fabs(hn_ops_dot(a, b, n) - rd) <= 1e-12 * (1 + fabs(rd)) + 1e-12 * n);
    assert_true(fabs(hn_ops_sqnorm(a, n) - rn) <= 1e-12 * (1 + rn));
    assert_true(fabs(hn_ops_sqdist(a, b, n) - rq) <= 1e-12 * (1 + rq));
    assert_true(hn_ops_all_finite(a, n));
    a[n / 2] = NAN;
    assert_false(hn_ops_all_finite(a, n));
    a[n / 2] = INFINITY;
    assert_false(hn_ops_all_finite(a, n));
    a[n / 2] = -INFINITY;
    assert_false(hn_ops_all_finite(a, n));
    free(a);
    free(b);
  }
  assert_true(hn_ops_sum(NULL, 0) == 0.0);
  assert_true(hn_ops_all_finite(NULL, 0));
}

static double ref_act(hn_act_kind k, double alpha, double x) {
  switch (k) {
    case HN_ACT_RELU: return x > 0 ? x : 0;
    case HN_ACT_TANH: return tanh(x);
    case HN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case HN_ACT_ELU: return x > 0 ? x : alpha * (exp(x) - 1);
    case HN_ACT_IDENTITY: return x;
  }
  return (double)NAN;
}

static double ref_dact(hn_act_kind k, double alpha, double x) {
  switch (k) {
    case HN_ACT_RELU: return x > 0 ? 1 : 0;
    case HN_ACT_TANH: return 1 - tanh(x) * tanh(x);
    case HN_ACT_SIGMOID: {
      double s = 1 / (1 + exp(-x));
      return s * (1 - s);
    }
    case HN_ACT_ELU: return x > 0 ? 1 : alpha * exp(x);
    case HN_ACT_IDENTITY: return 1;
  }
  return (double)NAN;
}

static void test_activations_match_reference(void **state) {
  (void)state;
  const hn_act_kind kinds[] = {HN_ACT_RELU, HN_ACT_TANH, HN_ACT_SIGMOID, HN_ACT_ELU,
                               HN_ACT_IDENTITY};
  int64_t n = 5001;
  float *x = falloc(n), *y = falloc(n), *dy = falloc(n), *dx = falloc(n);
  double *ry = malloc((size_t)n * sizeof *ry), *rdx = malloc((size_t)n * sizeof *rdx);
  hnt_fill_uniform(x, n, -6, 6, 5);
  hnt_fill_uniform(dy, n, -1, 1, 6);
  x[0] = 0.0f; /* the kink itself: ReLU/ELU take the x <= 0 branch */
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    float alpha = kinds[k] == HN_ACT_ELU ? 0.7f : 1.0f;
    for (int64_t i = 0; i < n; i++) {
      ry[i] = ref_act(kinds[k], (double)alpha, (double)x[i]);
      rdx[i] = (double)dy[i] * ref_dact(kinds[k], (double)alpha, (double)x[i]);
    }
    hn_ops_act_forward(kinds[k], alpha, x, y, n);
    /* float transcendental functions: a few ulp */
    hnt_assert_close_d(y, ry, n, 1e-6, 1e-7, "activation forward");
    hn_ops_act_backward(kinds[k], alpha, x, y, dy, dx, n);
    /* backward uses float y (e.g. 1 - y^2 for tanh): y's rounding enters */
    hnt_assert_close_d(dx, rdx, n, 1e-5, 1e-6, "activation backward");
  }
  free(x), free(y), free(dy), free(dx), free(ry), free(rdx);
}

/* |y - r| in units of the last place of r rounded to float. */
static double ulp_err(float y, double r) {
  float f = fabsf((float)r);
  double ulp = f == 0.0f ? 0x1p-149 : (double)nextafterf(f, INFINITY) - (double)f;
  return fabs((double)y - r) / ulp;
}

/* hn_ops_tanh and hn_ops_sigmoid against double tanh and 1/(1+e^-x) over a
 * dense grid of floats (every 997th bit pattern with |x| <= 88, both signs;
 * 2.2 million values) plus large |x|, ±0, ±inf and NaN. Their worst cases,
 * measured over far denser grids, are 1.44 and 2.39 ulp (ops.c): 3 ulp holds
 * them with a margin for a libm whose double tanh/exp differ in the last
 * bits. */
static void test_tanh_sigmoid_accuracy(void **state) {
  (void)state;
  enum { CHUNK = 4096 };
  float x[CHUNK], yt[CHUNK], ys[CHUNK];
  float lim = 88.0f;
  uint32_t top;
  memcpy(&top, &lim, sizeof top);
  double worst_t = 0, worst_s = 0;
  for (uint32_t sign = 0; sign < 2; sign++)
    for (uint64_t u = 0; u <= top;) {
      int m = 0;
      for (; m < CHUNK && u <= top; m++, u += 997) {
        uint32_t b = (uint32_t)u | (sign << 31);
        memcpy(&x[m], &b, sizeof b);
      }
      hn_ops_tanh(yt, x, m);
      hn_ops_sigmoid(ys, x, m);
      for (int i = 0; i < m; i++) {
        worst_t = fmax(worst_t, ulp_err(yt[i], tanh((double)x[i])));
        worst_s = fmax(worst_s, ulp_err(ys[i], 1.0 / (1.0 + exp(-(double)x[i]))));
      }
    }
  if (worst_t > 3.0 || worst_s > 3.0)
    fail_msg("tanh %.3f ulp, sigmoid %.3f ulp from double (at most 3 expected)", worst_t,
             worst_s);
  const float big[] = {9.02f, 10.0f, 20.0f, 87.5f, 100.0f, 1e4f, 1e30f, INFINITY};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
    for (int sign = -1; sign <= 1; sign += 2) {
      float v = (float)sign * big[i], t, sg;
      hn_ops_tanh(&t, &v, 1);
      hn_ops_sigmoid(&sg, &v, 1);
      assert_true(t == (float)sign); /* tanh rounds to ±1 from 9.02 on */
      if (big[i] <= 88.0f) assert_true(ulp_err(sg, 1.0 / (1.0 + exp(-(double)v))) <= 3.0);
      else if (sign > 0) assert_true(sg == 1.0f);
      else assert_true(sg >= 0.0f && sg <= 6.2e-39f); /* the clamp's value */
    }
  float z[4] = {0.0f, -0.0f, NAN, -NAN}, zt[4], zs[4];
  hn_ops_tanh(zt, z, 4);
  hn_ops_sigmoid(zs, z, 4);
  assert_true(zt[0] == 0.0f && !signbit(zt[0]));
  assert_true(zt[1] == 0.0f && signbit(zt[1]));
  assert_true(zs[0] == 0.5f && zs[1] == 0.5f);
  for (int i = 2; i < 4; i++) assert_true(isnan(zt[i]) && isnan(zs[i]));
  /* in place (y == x), as the recurrent cells call them */
  const float v[5] = {-3.0f, -0.25f, 0.0f, 0.6f, 7.0f};
  float a[5], b[5];
  memcpy(a, v, sizeof v);
  memcpy(b, v, sizeof v);
  hn_ops_tanh(a, a, 5);
  hn_ops_sigmoid(b, b, 5);
  for (int i = 0; i < 5; i++) {
    assert_true(ulp_err(a[i], tanh((double)v[i])) <= 3.0);
    assert_true(ulp_err(b[i], 1.0 / (1.0 + exp(-(double)v[i]))) <= 3.0);
  }
}

static void test_bias_helpers(void **state) {
  (void)state;
  const int64_t shapes[][2] = {{1, 1}, {3, 5}, {130, 67}, {1000, 40}};
  for (size_t s = 0; s < 4; s++) {
    int64_t r = shapes[s][0], c = shapes[s][1];
    float *y = falloc(r * c), *y0 = falloc(r * c), *b = falloc(c), *db = falloc(c);
    hnt_fill_uniform(y, r * c, -1, 1, 10 + s);
    memcpy(y0, y, (size_t)(r * c) * 4);
    hnt_fill_uniform(b, c, -1, 1, 20 + s);
    hn_ops_add_row_bias(y, b, r, c);
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) assert_true(y[i * c + j] == y0[i * c + j] + b[j]);
    /* db accumulates: start from b */
    memcpy(db, b, (size_t)c * 4);
    hn_ops_sum_rows_acc(y0, r, c, db);
    double *ref = malloc((size_t)c * sizeof *ref);
    for (int64_t j = 0; j < c; j++) {
      double acc = 0;
      for (int64_t i = 0; i < r; i++) acc += (double)y0[i * c + j];
      ref[j] = (double)b[j] + acc;
    }
    hnt_assert_close_d(db, ref, c, 1e-6, 1e-6, "sum_rows_acc");
    free(y), free(y0), free(b), free(db), free(ref);
  }
}

static void test_softmax_rows(void **state) {
  (void)state;
  int64_t r = 9, c = 13;
  float *x = falloc(r * c), *y = falloc(r * c);
  hnt_fill_uniform(x, r * c, -5, 5, 31);
  for (int64_t j = 0; j < c; j++) x[8 * c + j] = 1000.0f + (float)j; /* overflow-prone row */
  hn_ops_softmax_rows(x, y, r, c);
  double *ref = malloc((size_t)(r * c) * sizeof *ref);
  for (int64_t i = 0; i < r; i++) {
    double m = -(double)INFINITY, s = 0;
    for (int64_t j = 0; j < c; j++) m = fmax(m, (double)x[i * c + j]);
    for (int64_t j = 0; j < c; j++) s += exp((double)x[i * c + j] - m);
    for (int64_t j = 0; j < c; j++) ref[i * c + j] = exp((double)x[i * c + j] - m) / s;
  }
  hnt_assert_close_d(y, ref, r * c, 1e-5, 1e-7, "softmax");
  hn_ops_softmax_rows(x, x, r, c); /* in place */
  hnt_assert_bytes_equal(x, y, (size_t)(r * c) * 4, "softmax in place");
  free(x), free(y), free(ref);
}

/* col[(ci*k + ki)*k + kj][oh*w_out + ow] = x[ci][oh*s - p + ki][ow*s - p + kj] or 0 */
static void test_im2col_col2im(void **state) {
  (void)state;
  const int64_t cfgs[][6] = {/* c, h, w, k, stride, pad */
                             {1, 5, 5, 3, 1, 0}, {2, 7, 6, 3, 2, 1}, {3, 4, 9, 1, 1, 0},
                             {2, 9, 8, 5, 1, 2}, {1, 3, 3, 3, 3, 1}, {4, 6, 5, 2, 2, 0}};
  for (size_t t = 0; t < sizeof cfgs / sizeof cfgs[0]; t++) {
    int64_t c = cfgs[t][0], h = cfgs[t][1], w = cfgs[t][2], k = cfgs[t][3], s = cfgs[t][4],
            p = cfgs[t][5];
    int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    int64_t nc = c * k * k * ho * wo;
    float *x = falloc(c * h * w), *col = falloc(nc), *g = falloc(nc), *dx = falloc(c * h * w);
    hnt_fill_uniform(x, c * h * w, -1, 1, 40 + t);
    hnt_fill_uniform(g, nc, -1, 1, 50 + t);
    hn_ops_im2col(x, c, h, w, k, s, p, col);
    double *rdx = calloc((size_t)(c * h * w), sizeof *rdx);
    for (int64_t ci = 0; ci < c; ci++)
      for (int64_t ki = 0; ki < k; ki++)
        for (int64_t kj = 0; kj < k; kj++)
          for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
              int64_t ih = oh * s - p + ki, iw = ow * s - p + kj;
              int64_t ci_ = ((ci * k + ki) * k + kj) * ho * wo + oh * wo + ow;
              bool in = ih >= 0 && ih < h && iw >= 0 && iw < w;
              float want = in ? x[(ci * h + ih) * w + iw] : 0.0f;
              if (col[ci_] != want)
                fail_msg("im2col case %zu: col[%lld] = %g, expected %g", t, (long long)ci_,
                         (double)col[ci_], (double)want);
              if (in) rdx[(ci * h + ih) * w + iw] += (double)g[ci_];
            }
    /* col2im accumulates into dx: start from 1 */
    hn_ops_fill(dx, 1.0f, c * h * w);
    for (int64_t i = 0; i < c * h * w; i++) rdx[i] += 1.0;
    hn_ops_col2im(g, c, h, w, k, s, p, dx);
    hnt_assert_close_d(dx, rdx, c * h * w, 1e-6, 1e-6, "col2im");
    free(x), free(col), free(g), free(dx), free(rdx);
  }
}

/* Every kernel on inputs large enough to go parallel (> HN_OMP_MIN_WORK) and,
 * for reductions, more than one group of 256 blocks: 1 vs 2 threads bitwise. */
enum { EW = 100000, ROWS = 400, COLS = 250 };
typedef struct thread_run {
  float act_y[5][EW], act_dx[5][EW], axpy[EW], scale[EW], bias[ROWS * COLS], db[COLS],
      soft[ROWS * COLS];
  double red[4];
  float *col, *dxc;
} thread_run;

static void test_threads_bitwise(void **state) {
  (void)state;
  int saved = hn_threads_get();
  int64_t n = 256 * 4096 + 12345;
  float *a = falloc(n), *b = falloc(n);
  hnt_fill_uniform(a, n, -3, 3, 61);
  hnt_fill_uniform(b, n, -1, 1, 62);
  int64_t c = 8, h = 40, w = 36, k = 3, ho = 20, wo = 18; /* stride 2, pad 1 */
  int64_t nc = c * k * k * ho * wo;
  thread_run *r[2];
  for (int t = 0; t < 2; t++) {
    assert_int_equal(hn_threads_set(t + 1), HN_OK);
    r[t] = calloc(1, sizeof *r[t]);
    assert_non_null(r[t]);
    thread_run *q = r[t];
    for (int kind = 0; kind < 5; kind++) {
      hn_ops_act_forward((hn_act_kind)kind, 0.9f, a, q->act_y[kind], EW);
      hn_ops_act_backward((hn_act_kind)kind, 0.9f, a, q->act_y[kind], b, q->act_dx[kind], EW);
    }
    hn_ops_copy(q->axpy, a, EW);
    hn_ops_axpy(q->axpy, 0.3f, b, EW);
    hn_ops_copy(q->scale, a, EW);
    hn_ops_scale(q->scale, 1.7f, EW);
    hn_ops_copy(q->bias, a, ROWS * COLS);
    hn_ops_add_row_bias(q->bias, b, ROWS, COLS);
    hn_ops_sum_rows_acc(a, ROWS, COLS, q->db);
    hn_ops_softmax_rows(a, q->soft, ROWS, COLS);
    q->red[0] = hn_ops_sum(a, n);
    q->red[1] = hn_ops_dot(a, b, n);
    q->red[2] = hn_ops_sqnorm(a, n);
    q->red[3] = hn_ops_sqdist(a, b, n);
    q->col = falloc(nc);
    q->dxc = falloc(c * h * w);
    hn_ops_im2col(a, c, h, w, k, 2, 1, q->col);
    hn_ops_fill(q->dxc, 0.0f, c * h * w);
    hn_ops_col2im(b, c, h, w, k, 2, 1, q->dxc);
  }
  /* everything but the two pointers at the end */
  hnt_assert_bytes_equal(r[0], r[1], offsetof(thread_run, col), "kernels 1 vs 2 threads");
  hnt_assert_bytes_equal(r[0]->col, r[1]->col, (size_t)nc * 4, "im2col 1 vs 2 threads");
  hnt_assert_bytes_equal(r[0]->dxc, r[1]->dxc, (size_t)(c * h * w) * 4, "col2im 1 vs 2 threads");
  assert_int_equal(hn_threads_set(saved), HN_OK);
  for (int t = 0; t < 2; t++) free(r[t]->col), free(r[t]->dxc), free(r[t]);
  free(a), free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_elementwise),
      cmocka_unit_test(test_reductions_match_double),
      cmocka_unit_test(test_activations_match_reference),
      cmocka_unit_test(test_tanh_sigmoid_accuracy),
      cmocka_unit_test(test_bias_helpers),
      cmocka_unit_test(test_softmax_rows),
      cmocka_unit_test(test_im2col_col2im),
      cmocka_unit_test(test_threads_bitwise),
  };
  return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
