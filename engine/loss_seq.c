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

#define GROUP_BLOCKS 256

typedef struct bits_ctx {
  const float *y, *t;
  float *dy;
  double inv_n; /* 1 / rows */
} bits_ctx;

static double bits_block(const bits_ctx *k, int64_t lo, int64_t hi) {
  double s = 0.0;
  for (int64_t i = lo; i < hi; i++) {
    double t = (double)k->t[i];
    if (t < 0.0) {
      if (k->dy) k->dy[i] = 0.0f;
      continue;
    }
    double x = (double)k->y[i];
    double e = exp(-fabs(x));
    /* max(x, 0) - x t + log(1 + e^-|x|): no overflow for any finite x. */
    s += (x > 0.0 ? x : 0.0) - x * t + log1p(e);
    if (k->dy) {
      double sig = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      k->dy[i] = (float)((sig - t) * k->inv_n);
    }
  }
  return s;
}

static double bits_sum(const bits_ctx *k, int64_t n) {
  int64_t block = HN_REDUCE_BLOCK, n_blocks = (n + block - 1) / block;
  double total = 0.0, part[GROUP_BLOCKS];
  for (int64_t g0 = 0; g0 < n_blocks; g0 += GROUP_BLOCKS) {
    int64_t gn = HN_MIN(GROUP_BLOCKS, n_blocks - g0);
#pragma omp parallel for schedule(static) if (gn * block * 8 > HN_OMP_MIN_WORK)
    for (int64_t j = 0; j < gn; j++) {
      int64_t lo = (g0 + j) * block;
      part[j] = bits_block(k, lo, HN_MIN(n, lo + block));
    }
    for (int64_t j = 0; j < gn; j++) total += part[j];
  }
  return total;
}

hn_status hn_loss_bits(const hn_tensor *y, const hn_tensor *target, float *loss, hn_tensor *dy,
                       int64_t *n_correct, int64_t *n_scored) {
  static const char who[] = "hn_loss_bits";
  if (!y || !y->data || !target || !target->data)
    return hn_fail(HN_ERR_ARG, "%s: y or target is NULL", who);
  if (y->ndim < 1 || y->numel < 1 || !hn_tensor_same_shape(y, target))
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s and target is %s; they must have the same shape "
                                 "([n, steps, bits] for a sequence task) and at least one element",
                   who, hn_tensor_str(y), hn_tensor_str(target));
  if (dy && (!dy->data || !hn_tensor_same_shape(dy, y)))
    return hn_fail(HN_ERR_SHAPE, "%s: dy is %s but y is %s; they must match", who, hn_tensor_str(dy),
                   hn_tensor_str(y));
  int64_t n = y->numel, scored = 0, correct = 0;
  for (int64_t i = 0; i < n; i++) {
    float t = target->data[i];
    if (t < 0.0f) continue;
    if (!(t <= 1.0f))
      return hn_fail(HN_ERR_ARG, "%s: target element %lld is %g; a bit target is in [0, 1], or "
                                 "negative (-1) for an element that is not scored",
                     who, (long long)i, (double)t);
    scored++;
    /* A NaN logit is never right (y >= 0 and y < 0 are both false). */
    float v = y->data[i];
    if ((t >= 0.5f && v >= 0.0f) || (t < 0.5f && v < 0.0f)) correct++;
  }
  bits_ctx k = {y->data, target->data, dy ? dy->data : NULL, 1.0 / (double)y->shape[0]};
  double s = bits_sum(&k, n);
  if (loss) *loss = (float)(s * k.inv_n);
  if (n_correct) *n_correct = correct;
  if (n_scored) *n_scored = scored;
  return HN_OK;
}
