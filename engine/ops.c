/*
 * ops.c — elementwise and reduction kernels, softmax, im2col/col2im.
 *
 * Every loop writes disjoint outputs and goes parallel only when the work
 * exceeds HN_OMP_MIN_WORK. Reductions that return a double are computed over
 * fixed blocks of HN_REDUCE_BLOCK elements (each block summed serially in
 * double), and the block partials are added serially in block order, so the
 * result does not depend on the thread count. To avoid allocating, blocks are
 * processed in groups of GROUP_BLOCKS whose partials live on the stack; the
 * groups are visited in order, which keeps the summation order fixed.
 */
#include "ops.h"
#include "internal.h"

#include <math.h>
#include <string.h>

#define GROUP_BLOCKS 256

/* ---- elementwise ---------------------------------------------------------- */

void hn_ops_fill(float *x, float v, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) x[i] = v;
}

void hn_ops_copy(float *y, const float *x, int64_t n) {
  if (n > 0 && y != x) memmove(y, x, (size_t)n * sizeof(float));
}

void hn_ops_add(float *y, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void hn_ops_axpy(float *y, float a, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void hn_ops_scale(float *x, float a, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) x[i] *= a;
}

void hn_ops_add_scalar(float *y, float a, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) y[i] += a;
}

void hn_ops_mul(float *y, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) y[i] *= x[i];
}

void hn_ops_div(float *y, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) y[i] /= x[i];
}

void hn_ops_sub(float *y, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] - b[i];
}

/* ---- block reductions ------------------------------------------------------ */

enum red_kind { RED_SUM, RED_DOT, RED_SQNORM, RED_SQDIST };

static double block_reduce(enum red_kind kind, const float *a, const float *b, int64_t lo,
                           int64_t hi) {
  double s = 0.0;
  switch (kind) {
    case RED_SUM:
      for (int64_t i = lo; i < hi; i++) s += (double)a[i];
      break;
    case RED_DOT:
      for (int64_t i = lo; i < hi; i++) s += (double)a[i] * (double)b[i];
      break;
    case RED_SQNORM:
      for (int64_t i = lo; i < hi; i++) s += (double)a[i] * (double)a[i];
      break;
    case RED_SQDIST:
      for (int64_t i = lo; i < hi; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
      }
      break;
  }
  return s;
}

static double reduce(enum red_kind kind, const float *a, const float *b, int64_t n) {
  if (n <= 0) return 0.0;
  int64_t n_blocks = (n + HN_REDUCE_BLOCK - 1) / HN_REDUCE_BLOCK;
  double total = 0.0;
  double part[GROUP_BLOCKS];
  for (int64_t g0 = 0; g0 < n_blocks; g0 += GROUP_BLOCKS) {
    int64_t gn = HN_MIN(GROUP_BLOCKS, n_blocks - g0);
    int64_t work = gn * HN_REDUCE_BLOCK;
#pragma omp parallel for schedule(static) if (work > HN_OMP_MIN_WORK)
    for (int64_t j = 0; j < gn; j++) {
      int64_t lo = (g0 + j) * HN_REDUCE_BLOCK;
      int64_t hi = HN_MIN(n, lo + HN_REDUCE_BLOCK);
      part[j] = block_reduce(kind, a, b, lo, hi);
    }
    for (int64_t j = 0; j < gn; j++) total += part[j];
  }
  return total;
}

double hn_ops_sum(const float *x, int64_t n) { return reduce(RED_SUM, x, NULL, n); }
double hn_ops_dot(const float *a, const float *b, int64_t n) { return reduce(RED_DOT, a, b, n); }
double hn_ops_sqnorm(const float *x, int64_t n) { return reduce(RED_SQNORM, x, NULL, n); }
double hn_ops_sqdist(const float *a, const float *b, int64_t n) {
  return reduce(RED_SQDIST, a, b, n);
}

bool hn_ops_all_finite(const float *x, int64_t n) {
  int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
  return ok != 0;
}

/* ---- activations ----------------------------------------------------------- */

/* tanh and the logistic sigmoid in plain float arithmetic that the compiler
 * vectorises (glibc's scalar tanhf/expf are calls it cannot; this engine
 * does not build with -ffast-math, under which glibc would offer vector
 * versions). Measured against double tanh and 1/(1+e^-x), in ulp of the
 * rounded exact value: over every 7th float with |x| <= 12 (312,775,242
 * values) tanh 1.44 ulp, sigmoid 2.0 ulp at most, both 9e-8 absolute; over
 * every 53rd float with |x| <= 88 sigmoid 2.39 ulp (tests/test_ops.c bounds
 * both at 3 ulp). ±0 keep their sign, ±inf give ±1 (sigmoid 1 and, as for
 * any x < -88, 6.1e-39), NaN gives NaN. Built as SSE2 and as AVX2 with FMA
 * available (HN_SIMD_CLONES, -ffp-contract=off), both give the same bits:
 * compared over every 61st float bit pattern.
 *
 *   exp_core(x)  x = k ln2 + r, |r| <= ln2/2: k from the round-to-nearest of
 *                adding 1.5*2^23 (whose low bits then hold k, which also
 *                builds 2^k), r by Cody-Waite with a two-part ln2, e^r by a
 *                least-squares polynomial (relative error 4e-9); x must lie
 *                in [-87, 88] (or be NaN), where 2^k is a normal float.
 *   tanh         |x| < 0.55: x + x s P(s), s = x^2, P fitted to (tanh x / x
 *                - 1)/s (relative error 1.2e-9); else 1 - 2/(e^{2|x|} + 1)
 *                with |x| capped at 10 (tanh rounds to 1 from 9.02), the
 *                sign copied from x.
 *   sigmoid      1/(1 + e^-x), -x clamped to [-87, 88] (beyond, the result
 *                is 1, or 6.1e-39 where the exact value is smaller).
 * The clamps compare so that NaN passes through; select_f keeps them
 * branch-free. */
typedef union f32_bits {
  float f;
  uint32_t u;
} f32_bits;

static inline float exp_core(float x) {
  const float round_magic = 0x1.8p23f;
  f32_bits j = {.f = x * 0x1.715476p0f + round_magic};
  float k = j.f - round_magic;
  float r = (x - k * 0x1.63p-1f) - k * -0x1.bd0106p-13f;
  float p = 0x1.6d9904p-10f;
  p = 0x1.123d88p-7f + r * p;
  p = 0x1.55547cp-5f + r * p;
  p = 0x1.55548cp-3f + r * p;
  p = 0.5f + r * p;
  float e = 1.0f + (r + r * r * p);
  f32_bits two_k = {.u = (j.u - 0x4B400000u + 127u) << 23};
  return e * two_k.f;
}

/* c ? t : f as a bitwise select. With a plain ?: the compiler threads the
 * constant arm (a clamp's bound) into a path of its own, and that branch
 * stops the loop from vectorising. */
static inline float select_f(bool c, float t, float f) {
  f32_bits T = {.f = t}, F = {.f = f}, R;
  uint32_t m = 0u - (uint32_t)c;
  R.u = (T.u & m) | (F.u & ~m);
  return R.f;
}

static inline float tanh_one(float x) {
  float a = fabsf(x), s = a * a;
  float p = -0x1.9c9d8ep-8f;
  p = 0x1.598242p-6f + s * p;
  p = -0x1.b9319cp-5f + s * p;
  p = 0x1.110d64p-3f + s * p;
  p = -0x1.55554cp-2f + s * p;
  float small = a + a * (s * p);
  float b = select_f(a > 10.0f, 10.0f, a);
  float big = 1.0f - 2.0f / (exp_core(2.0f * b) + 1.0f);
  return copysignf(select_f(a < 0.55f, small, big), x);
}

static inline float sigmoid_one(float x) {
  float m = -x;
  m = select_f(m > 88.0f, 88.0f, m);
  m = select_f(m < -87.0f, -87.0f, m);
  return 1.0f / (1.0f + exp_core(m));
}

HN_SIMD_CLONES void hn_ops_tanh(float *y, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = tanh_one(x[i]);
}

HN_SIMD_CLONES void hn_ops_sigmoid(float *y, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = sigmoid_one(x[i]);
}

/* The parallel activations hand blocks of this many to the kernels above. */
#define ACT_BLOCK 4096

void hn_ops_act_forward(hn_act_kind kind, float alpha, const float *x, float *y, int64_t n) {
  switch (kind) {
    case HN_ACT_RELU:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case HN_ACT_TANH:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i += ACT_BLOCK) hn_ops_tanh(y + i, x + i, HN_MIN(ACT_BLOCK, n - i));
      break;
    case HN_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i += ACT_BLOCK)
        hn_ops_sigmoid(y + i, x + i, HN_MIN(ACT_BLOCK, n - i));
      break;
    case HN_ACT_ELU:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
      break;
    case HN_ACT_IDENTITY:
      hn_ops_copy(y, x, n);
      break;
  }
}

/* dx from dy: ReLU and ELU use x (for the sign) and ELU also y (y + alpha =
 * alpha e^x for x <= 0); tanh and sigmoid use y. */
void hn_ops_act_backward(hn_act_kind kind, float alpha, const float *x, const float *y,
                         const float *dy, float *dx, int64_t n) {
  switch (kind) {
    case HN_ACT_RELU: /* dy loaded either way: a select, not a branch on the sign */
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i++) {
        float d = dy[i];
        dx[i] = x[i] > 0.0f ? d : 0.0f;
      }
      break;
    case HN_ACT_TANH:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
    case HN_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case HN_ACT_ELU:
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
      for (int64_t i = 0; i < n; i++) {
        float d = dy[i], e = d * (y[i] + alpha);
        dx[i] = x[i] > 0.0f ? d : e;
      }
      break;
    case HN_ACT_IDENTITY:
      hn_ops_copy(dx, dy, n);
      break;
  }
}

/* ---- bias helpers ---------------------------------------------------------- */

/* y [rows, cols] += b [cols] */
void hn_ops_add_row_bias(float *y, const float *b, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < rows; r++) {
    float *yr = y + r * cols;
    for (int64_t j = 0; j < cols; j++) yr[j] += b[j];
  }
}

/* db [cols] += Σ_r dy [rows, cols]. Parallel over column blocks; each column
 * is summed in double over the rows in order, then added to db once. */
#define COL_BLOCK 64
void hn_ops_sum_rows_acc(const float *dy, int64_t rows, int64_t cols, float *db) {
  int64_t n_cb = (cols + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (rows * cols > HN_OMP_MIN_WORK)
  for (int64_t cb = 0; cb < n_cb; cb++) {
    int64_t c0 = cb * COL_BLOCK, c1 = HN_MIN(cols, c0 + COL_BLOCK);
    double acc[COL_BLOCK];
    for (int64_t j = c0; j < c1; j++) acc[j - c0] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
      const float *dr = dy + r * cols;
      for (int64_t j = c0; j < c1; j++) acc[j - c0] += (double)dr[j];
    }
    for (int64_t j = c0; j < c1; j++) db[j] += (float)acc[j - c0];
  }
}

/* ---- softmax --------------------------------------------------------------- */

/* x [rows, cols] -> y [rows, cols]; numerically stable (max subtracted), the
 * normaliser accumulated in double. y may equal x. */
void hn_ops_softmax_rows(const float *x, float *y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++) {
      float e = expf(xr[j] - m);
      yr[j] = e;
      s += (double)e;
    }
    float inv = (float)(1.0 / s);
    for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
  }
}

/* ---- im2col / col2im -------------------------------------------------------- */

/* x [c, h, w] -> col [c*k*k, h_out*w_out], row (ci*k + ki)*k + kj, column
 * oh*w_out + ow; zero padding pad; h_out = (h + 2 pad - k) / stride + 1. */
void hn_ops_im2col(const float *x, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride,
                   int64_t pad, float *col) {
  int64_t h_out = (h + 2 * pad - k) / stride + 1;
  int64_t w_out = (w + 2 * pad - k) / stride + 1;
  int64_t n_rows = c * k * k, n_cols = h_out * w_out;
#pragma omp parallel for schedule(static) if (n_rows * n_cols > HN_OMP_MIN_WORK)
  for (int64_t row = 0; row < n_rows; row++) {
    int64_t kj = row % k, ki = (row / k) % k, ci = row / (k * k);
    const float *xc = x + ci * h * w;
    float *cr = col + row * n_cols;
    for (int64_t oh = 0; oh < h_out; oh++) {
      int64_t ih = oh * stride - pad + ki;
      float *co = cr + oh * w_out;
      if (ih < 0 || ih >= h) {
        for (int64_t ow = 0; ow < w_out; ow++) co[ow] = 0.0f;
        continue;
      }
      const float *xr = xc + ih * w;
      for (int64_t ow = 0; ow < w_out; ow++) {
        int64_t iw = ow * stride - pad + kj;
        co[ow] = (iw >= 0 && iw < w) ? xr[iw] : 0.0f;
      }
    }
  }
}

/* col [c*k*k, h_out*w_out] accumulated into dx [c, h, w]. Parallel over
 * channels: each channel's dx slice is written by one thread, in a fixed
 * order, so the result does not depend on the thread count. */
void hn_ops_col2im(const float *col, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride,
                   int64_t pad, float *dx) {
  int64_t h_out = (h + 2 * pad - k) / stride + 1;
  int64_t w_out = (w + 2 * pad - k) / stride + 1;
  int64_t n_cols = h_out * w_out;
#pragma omp parallel for schedule(static) if (c * k * k * n_cols > HN_OMP_MIN_WORK)
  for (int64_t ci = 0; ci < c; ci++) {
    float *dxc = dx + ci * h * w;
    for (int64_t ki = 0; ki < k; ki++)
      for (int64_t kj = 0; kj < k; kj++) {
        const float *cr = col + ((ci * k + ki) * k + kj) * n_cols;
        for (int64_t oh = 0; oh < h_out; oh++) {
          int64_t ih = oh * stride - pad + ki;
          if (ih < 0 || ih >= h) continue;
          float *dr = dxc + ih * w;
          const float *co = cr + oh * w_out;
          for (int64_t ow = 0; ow < w_out; ow++) {
            int64_t iw = ow * stride - pad + kj;
            if (iw >= 0 && iw < w) dr[iw] += co[ow];
          }
        }
      }
  }
}
