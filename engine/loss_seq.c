/*
 * loss_seq.c — the per-step, per-bit loss of sequence tasks whose outputs
 * are bits (the Copy Task): sigmoid cross-entropy from logits over the
 * elements that are scored, and the per-bit accuracy.
 *
 * Which elements are scored travels with the targets: an element whose
 * target is negative (-1 by convention: a step before the delimiter, or a
 * padded step beyond a sample's length) contributes exactly 0 to the loss,
 * to the gradient and to the counts. This keeps a task's data {x, y} and
 * lets the usual batching gather it.
 *
 * A multi-head output layer ([n, steps, k] with a head of `bits` columns
 * per task) is scored on one head: the target's columns are y's columns
 * col .. col + bits - 1, and the gradient is 0 in the other heads.
 *
 * The loss is the per-sample SUM over scored elements, averaged over the
 * rows (samples): the reference implementation of the Copy Task
 * (mariacer/cl_in_rnns) sums the binary cross-entropy over output steps and
 * bits and divides by the batch size, and its β and learning rates are
 * tuned to that scale. The sum is deterministic: fixed element blocks, each
 * summed serially in double, partials added in block order.
 */
#include "loss.h"
#include "internal.h"

#include <math.h>
#include <stdbool.h>

#define GROUP_BLOCKS 256

typedef struct bits_ctx {
  const float *y, *t;
  float *dy;
  int64_t k, b, col; /* y's last dimension, target's, the first column scored */
  double inv_n;      /* 1 / samples */
} bits_ctx;

/* Rows [lo, hi) of the target viewed as [rows, b] (y as [rows, k]). */
static double bits_block(const bits_ctx *c, int64_t lo, int64_t hi) {
  double s = 0.0;
  for (int64_t r = lo; r < hi; r++) {
    const float *tr = c->t + r * c->b, *yr = c->y + r * c->k + c->col;
    float *dr = c->dy ? c->dy + r * c->k : NULL;
    if (dr)
      for (int64_t j = 0; j < c->k; j++) dr[j] = 0.0f;
    if (dr) dr += c->col;
    for (int64_t j = 0; j < c->b; j++) {
      double t = (double)tr[j];
      if (t < 0.0) continue;
      double x = (double)yr[j];
      double e = exp(-fabs(x));
      /* max(x, 0) - x t + log(1 + e^-|x|): no overflow for any finite x. */
      s += (x > 0.0 ? x : 0.0) - x * t + log1p(e);
      if (dr) {
        double sig = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        dr[j] = (float)((sig - t) * c->inv_n);
      }
    }
  }
  return s;
}

/* Blocks of a fixed number of rows (about HN_REDUCE_BLOCK target elements):
 * the sum does not depend on the thread count. */
static double bits_sum(const bits_ctx *c, int64_t rows) {
  int64_t block = HN_MAX(1, HN_REDUCE_BLOCK / c->b), n_blocks = (rows + block - 1) / block;
  double total = 0.0, part[GROUP_BLOCKS];
  for (int64_t g0 = 0; g0 < n_blocks; g0 += GROUP_BLOCKS) {
    int64_t gn = HN_MIN(GROUP_BLOCKS, n_blocks - g0);
#pragma omp parallel for schedule(static) if (gn * block * c->k * 8 > HN_OMP_MIN_WORK)
    for (int64_t j = 0; j < gn; j++) {
      int64_t lo = (g0 + j) * block;
      part[j] = bits_block(c, lo, HN_MIN(rows, lo + block));
    }
    for (int64_t j = 0; j < gn; j++) total += part[j];
  }
  return total;
}

hn_status hn_loss_bits(const hn_tensor *y, const hn_tensor *target, int64_t col, float *loss,
                       hn_tensor *dy, int64_t *n_correct, int64_t *n_scored) {
  static const char who[] = "hn_loss_bits";
  if (!y || !y->data || !target || !target->data)
    return hn_fail(HN_ERR_ARG, "%s: y or target is NULL", who);
  bool lead = y->ndim >= 1 && y->ndim == target->ndim && y->numel >= 1 && target->numel >= 1;
  for (int d = 0; lead && d + 1 < y->ndim; d++) lead = y->shape[d] == target->shape[d];
  if (!lead)
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s and target is %s; they must have the same shape "
                                 "([n, steps, bits] for a sequence task; y may have more columns "
                                 "in its last dimension, the heads of other tasks) and at least "
                                 "one element",
                   who, hn_tensor_str(y), hn_tensor_str(target));
  int64_t k = y->shape[y->ndim - 1], b = target->shape[target->ndim - 1];
  if (col < 0 || col + b > k)
    return hn_fail(HN_ERR_ARG, "%s: columns %lld..%lld of y are scored but y is %s (%lld per step); "
                               "the head offset must be in 0..%lld",
                   who, (long long)col, (long long)(col + b - 1), hn_tensor_str(y), (long long)k,
                   (long long)(k - b));
  if (dy && (!dy->data || !hn_tensor_same_shape(dy, y)))
    return hn_fail(HN_ERR_SHAPE, "%s: dy is %s but y is %s; they must match", who, hn_tensor_str(dy),
                   hn_tensor_str(y));
  int64_t rows = target->numel / b, scored = 0, correct = 0;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < b; j++) {
      float t = target->data[r * b + j];
      if (t < 0.0f) continue;
      if (!(t <= 1.0f))
        return hn_fail(HN_ERR_ARG, "%s: target element %lld is %g; a bit target is in [0, 1], "
                                   "or negative (-1) for an element that is not scored",
                       who, (long long)(r * b + j), (double)t);
      scored++;
      /* A NaN logit is never right (y >= 0 and y < 0 are both false). */
      float v = y->data[r * k + col + j];
      if ((t >= 0.5f && v >= 0.0f) || (t < 0.5f && v < 0.0f)) correct++;
    }
  }
  bits_ctx c = {y->data, target->data, dy ? dy->data : NULL, k, b, col, 1.0 / (double)y->shape[0]};
  double s = bits_sum(&c, rows);
  if (loss) *loss = (float)(s * c.inv_n);
  if (n_correct) *n_correct = correct;
  if (n_scored) *n_scored = scored;
  return HN_OK;
}
