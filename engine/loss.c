/*
 * loss.c — softmax cross-entropy with head masks, MSE, Gaussian NLL,
 * Bernoulli reconstruction (BCE from logits), the Gaussian KL of a VAE,
 * knowledge distillation,
 * accuracy, argmax and predictive entropy.
 *
 * Every entry point checks all of its arguments (shapes, labels, mask) before
 * writing anything, so a failed call leaves its outputs untouched. Softmax
 * quantities are computed stably: the row maximum over the active columns is
 * subtracted and the normaliser is accumulated in double (log-sum-exp).
 *
 * Losses are means. The sums behind them are deterministic: rows (or
 * elements) are split into fixed blocks, each block is summed serially in
 * double (in parallel across blocks), and the block partials are added
 * serially in block order, so the bits do not depend on the thread count.
 */
#include "loss.h"
#include "internal.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Rows per reduction block for row-wise losses, and how many block partials
 * one group keeps on the stack (groups are visited in order). */
#define ROW_BLOCK 64
#define GROUP_BLOCKS 256

/* ---- deterministic blocked sums ------------------------------------------ */

/* Sum of f(ctx, lo, hi) over consecutive blocks [lo, hi) of `block` items;
 * f returns the serial double sum of its block (and may write per-item
 * outputs of that block). `cost` is the work per item, for the OpenMP
 * threshold. */
typedef double (*block_fn)(const void *ctx, int64_t lo, int64_t hi);

static double blocked_sum(block_fn f, const void *ctx, int64_t n, int64_t block, int64_t cost) {
  if (n <= 0) return 0.0;
  int64_t n_blocks = (n + block - 1) / block;
  double total = 0.0;
  double part[GROUP_BLOCKS];
  for (int64_t g0 = 0; g0 < n_blocks; g0 += GROUP_BLOCKS) {
    int64_t gn = HN_MIN(GROUP_BLOCKS, n_blocks - g0);
    int64_t work = gn * block * cost;
#pragma omp parallel for schedule(static) if (work > HN_OMP_MIN_WORK)
    for (int64_t j = 0; j < gn; j++) {
      int64_t lo = (g0 + j) * block;
      int64_t hi = HN_MIN(n, lo + block);
      part[j] = f(ctx, lo, hi);
    }
    for (int64_t j = 0; j < gn; j++) total += part[j];
  }
  return total;
}

/* ---- argument checks -------------------------------------------------------- */

static hn_status check_logits(const char *who, const hn_tensor *logits) {
  if (!logits || !logits->data) return hn_fail(HN_ERR_ARG, "%s: logits is NULL", who);
  if (logits->ndim != 2 || logits->shape[0] < 1 || logits->shape[1] < 1)
    return hn_fail(HN_ERR_SHAPE, "%s: logits is %s; expected [n, n_classes] with n >= 1 and "
                                 "n_classes >= 1",
                   who, hn_tensor_str(logits));
  return HN_OK;
}

/* A per-row output (labels, predictions, entropies) must hold n values. */
static hn_status check_rows(const char *who, const char *what, const hn_tensor *t, int64_t n,
                            const hn_tensor *logits) {
  if (!t || !t->data) return hn_fail(HN_ERR_ARG, "%s: %s is NULL", who, what);
  if (t->numel != n || t->shape[0] != n)
    return hn_fail(HN_ERR_SHAPE, "%s: %s is %s but logits is %s; expected [%lld]", who, what,
                   hn_tensor_str(t), hn_tensor_str(logits), (long long)n);
  return HN_OK;
}

static hn_status check_mask(const char *who, const uint8_t *mask, int64_t c) {
  if (!mask) return HN_OK;
  for (int64_t j = 0; j < c; j++)
    if (mask[j]) return HN_OK;
  return hn_fail(HN_ERR_ARG, "%s: the head mask selects none of the %lld classes; set at least "
                             "one entry to 1 (or pass no mask for all classes)",
                 who, (long long)c);
}

/* Labels are floats holding integer class indices in [0, c) that the mask
 * (if any) selects. */
static hn_status check_labels(const char *who, const hn_tensor *labels, int64_t c,
                              const uint8_t *mask) {
  for (int64_t r = 0; r < labels->numel; r++) {
    float y = labels->data[r];
    if (!(y >= 0.0f && y < (float)c && floorf(y) == y))
      return hn_fail(HN_ERR_ARG, "%s: label %g in row %lld is not an integer class index in "
                                 "[0, %lld)",
                     who, (double)y, (long long)r, (long long)c);
    if (mask && !mask[(int64_t)y])
      return hn_fail(HN_ERR_ARG, "%s: label %lld in row %lld is a class the head mask excludes; "
                                 "use the mask of that sample's task",
                     who, (long long)y, (long long)r);
  }
  return HN_OK;
}

/* Max over the active columns of one row (at least one is active). */
static float row_max(const float *x, int64_t c, const uint8_t *mask) {
  float m = -INFINITY;
  for (int64_t j = 0; j < c; j++)
    if ((!mask || mask[j]) && x[j] > m) m = x[j];
  return m;
}

/* Σ over active columns of exp(x_j - m), in double. */
static double row_sumexp(const float *x, int64_t c, const uint8_t *mask, float m) {
  double s = 0.0;
  for (int64_t j = 0; j < c; j++)
    if (!mask || mask[j]) s += exp((double)x[j] - (double)m);
  return s;
}

/* ---- cross-entropy ----------------------------------------------------------- */

typedef struct xent_ctx {
  const float *x, *y;
  const uint8_t *mask;
  int64_t c;
  float *dx;   /* NULL: no gradient */
  double inv_n;
} xent_ctx;

static double xent_block(const void *vctx, int64_t lo, int64_t hi) {
  const xent_ctx *k = vctx;
  double s = 0.0;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = k->x + r * k->c;
    int64_t label = (int64_t)k->y[r];
    float m = row_max(xr, k->c, k->mask);
    double se = row_sumexp(xr, k->c, k->mask, m);
    double lse = (double)m + log(se);
    s += lse - (double)xr[label];
    if (k->dx) {
      float *dr = k->dx + r * k->c;
      for (int64_t j = 0; j < k->c; j++) {
        if (k->mask && !k->mask[j]) {
          dr[j] = 0.0f;
          continue;
        }
        double p = exp((double)xr[j] - lse);
        dr[j] = (float)((p - (j == label ? 1.0 : 0.0)) * k->inv_n);
      }
    }
  }
  return s;
}

hn_status hn_loss_xent(const hn_tensor *logits, const hn_tensor *labels, const uint8_t *mask,
                       float *loss, hn_tensor *dlogits) {
  static const char who[] = "hn_loss_xent";
  HN_TRY(check_logits(who, logits));
  int64_t n = logits->shape[0], c = logits->shape[1];
  HN_TRY(check_rows(who, "labels", labels, n, logits));
  if (!loss) return hn_fail(HN_ERR_ARG, "%s: loss is NULL", who);
  if (dlogits && (!dlogits->data || !hn_tensor_same_shape(dlogits, logits)))
    return hn_fail(HN_ERR_SHAPE, "%s: dlogits is %s but logits is %s; they must match", who,
                   hn_tensor_str(dlogits), hn_tensor_str(logits));
  HN_TRY(check_mask(who, mask, c));
  HN_TRY(check_labels(who, labels, c, mask));
  xent_ctx k = {logits->data, labels->data, mask, c, dlogits ? dlogits->data : NULL,
                1.0 / (double)n};
  double s = blocked_sum(xent_block, &k, n, ROW_BLOCK, 3 * c);
  *loss = (float)(s / (double)n);
  return HN_OK;
}

/* ---- MSE ------------------------------------------------------------------------ */

typedef struct mse_ctx {
  const float *y, *t;
  float *dy;
  double scale; /* 2 / N */
} mse_ctx;

static double mse_block(const void *vctx, int64_t lo, int64_t hi) {
  const mse_ctx *k = vctx;
  double s = 0.0;
  for (int64_t i = lo; i < hi; i++) {
    double d = (double)k->y[i] - (double)k->t[i];
    s += d * d;
    if (k->dy) k->dy[i] = (float)(k->scale * d);
  }
  return s;
}

hn_status hn_loss_mse(const hn_tensor *y, const hn_tensor *target, float *loss, hn_tensor *dy) {
  static const char who[] = "hn_loss_mse";
  if (!y || !y->data || !target || !target->data)
    return hn_fail(HN_ERR_ARG, "%s: y or target is NULL", who);
  if (!loss) return hn_fail(HN_ERR_ARG, "%s: loss is NULL", who);
  if (y->numel < 1 || target->numel != y->numel || target->shape[0] != y->shape[0])
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s and target is %s; they must have the same rows and "
                                 "element count (at least 1)",
                   who, hn_tensor_str(y), hn_tensor_str(target));
  if (dy && (!dy->data || !hn_tensor_same_shape(dy, y)))
    return hn_fail(HN_ERR_SHAPE, "%s: dy is %s but y is %s; they must match", who,
                   hn_tensor_str(dy), hn_tensor_str(y));
  int64_t n = y->numel;
  mse_ctx k = {y->data, target->data, dy ? dy->data : NULL, 2.0 / (double)n};
  double s = blocked_sum(mse_block, &k, n, HN_REDUCE_BLOCK, 1);
  *loss = (float)(s / (double)n);
  return HN_OK;
}

/* ---- Gaussian NLL ------------------------------------------------------------------ */

typedef struct nll_ctx {
  const float *y, *t;
  float *dy;
  int64_t d;
  double inv_n;
} nll_ctx;

static double nll_block(const void *vctx, int64_t lo, int64_t hi) {
  const nll_ctx *k = vctx;
  const double log2pi = 1.8378770664093454836;
  double s = 0.0;
  for (int64_t r = lo; r < hi; r++) {
    const float *yr = k->y + r * 2 * k->d;
    const float *tr = k->t + r * k->d;
    for (int64_t j = 0; j < k->d; j++) {
      double mean = (double)yr[j], lv = (double)yr[k->d + j];
      double diff = (double)tr[j] - mean;
      double iv = exp(-lv);
      s += 0.5 * (log2pi + lv + diff * diff * iv);
      if (k->dy) {
        k->dy[r * 2 * k->d + j] = (float)(-diff * iv * k->inv_n);
        k->dy[r * 2 * k->d + k->d + j] = (float)(0.5 * (1.0 - diff * diff * iv) * k->inv_n);
      }
    }
  }
  return s;
}

hn_status hn_loss_gauss_nll(const hn_tensor *y, const hn_tensor *target, float *loss,
                            hn_tensor *dy) {
  static const char who[] = "hn_loss_gauss_nll";
  if (!y || !y->data || !target || !target->data)
    return hn_fail(HN_ERR_ARG, "%s: y or target is NULL", who);
  if (!loss) return hn_fail(HN_ERR_ARG, "%s: loss is NULL", who);
  if (y->ndim != 2 || y->shape[0] < 1 || y->shape[1] < 2 || y->shape[1] % 2 != 0)
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s; expected [n, 2d] (mean then log-variance per "
                                 "output, n >= 1, d >= 1)",
                   who, hn_tensor_str(y));
  int64_t n = y->shape[0], d = y->shape[1] / 2;
  if (target->shape[0] != n || target->numel != n * d)
    return hn_fail(HN_ERR_SHAPE, "%s: target is %s but y is %s; expected target [%lld, %lld]",
                   who, hn_tensor_str(target), hn_tensor_str(y), (long long)n, (long long)d);
  if (dy && (!dy->data || !hn_tensor_same_shape(dy, y)))
    return hn_fail(HN_ERR_SHAPE, "%s: dy is %s but y is %s; they must match", who,
                   hn_tensor_str(dy), hn_tensor_str(y));
  nll_ctx k = {y->data, target->data, dy ? dy->data : NULL, d, 1.0 / (double)n};
  double s = blocked_sum(nll_block, &k, n, ROW_BLOCK, 4 * d);
  *loss = (float)(s / (double)n);
  return HN_OK;
}

/* ---- Bernoulli reconstruction (BCE from logits) ------------------------------- */

typedef struct bce_ctx {
  const float *x, *t;
  float *dx;
  double inv_n; /* 1 / numel */
} bce_ctx;

static double bce_block(const void *vctx, int64_t lo, int64_t hi) {
  const bce_ctx *k = vctx;
  double s = 0.0;
  for (int64_t i = lo; i < hi; i++) {
    double x = (double)k->x[i], t = (double)k->t[i];
    /* max(x, 0) - x t + log1p(e^-|x|): no overflow for any finite x. */
    s += (x > 0.0 ? x : 0.0) - x * t + log1p(exp(-fabs(x)));
    if (k->dx) {
      /* σ(x) from e^-|x| so that neither branch overflows. */
      double e = exp(-fabs(x));
      double sig = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      k->dx[i] = (float)((sig - t) * k->inv_n);
    }
  }
  return s;
}

hn_status hn_loss_bce_logits(const hn_tensor *x, const hn_tensor *target, float *loss,
                             hn_tensor *dx) {
  static const char who[] = "hn_loss_bce_logits";
  if (!x || !x->data || !target || !target->data)
    return hn_fail(HN_ERR_ARG, "%s: x or target is NULL", who);
  if (!loss) return hn_fail(HN_ERR_ARG, "%s: loss is NULL", who);
  if (x->numel < 1 || target->numel != x->numel || target->shape[0] != x->shape[0])
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s and target is %s; they must have the same rows and "
                                 "element count (at least 1)",
                   who, hn_tensor_str(x), hn_tensor_str(target));
  if (dx && (!dx->data || !hn_tensor_same_shape(dx, x)))
    return hn_fail(HN_ERR_SHAPE, "%s: dx is %s but x is %s; they must match", who,
                   hn_tensor_str(dx), hn_tensor_str(x));
  int64_t n = x->numel;
  for (int64_t i = 0; i < n; i++) {
    float t = target->data[i];
    if (!(t >= 0.0f && t <= 1.0f))
      return hn_fail(HN_ERR_ARG, "%s: target element %lld is %g; Bernoulli targets are "
                                 "probabilities in [0, 1] (scale pixel values to [0, 1])",
                     who, (long long)i, (double)t);
  }
  bce_ctx k = {x->data, target->data, dx ? dx->data : NULL, 1.0 / (double)n};
  double s = blocked_sum(bce_block, &k, n, HN_REDUCE_BLOCK, 4);
  *loss = (float)(s / (double)n);
  return HN_OK;
}

/* ---- Gaussian KL to the standard normal ------------------------------------------ */

typedef struct kl_ctx {
  const float *h;
  float *dh;
  int64_t d;
  double inv_n;
} kl_ctx;

static double kl_block(const void *vctx, int64_t lo, int64_t hi) {
  const kl_ctx *k = vctx;
  double s = 0.0;
  for (int64_t r = lo; r < hi; r++) {
    const float *hr = k->h + r * 2 * k->d;
    for (int64_t j = 0; j < k->d; j++) {
      double mu = (double)hr[j], lv = (double)hr[k->d + j];
      double ev = exp(lv);
      s += -0.5 * (1.0 + lv - mu * mu - ev);
      if (k->dh) {
        k->dh[r * 2 * k->d + j] = (float)(mu * k->inv_n);
        k->dh[r * 2 * k->d + k->d + j] = (float)(0.5 * (ev - 1.0) * k->inv_n);
      }
    }
  }
  return s;
}

hn_status hn_loss_kl_gauss(const hn_tensor *h, float *loss, hn_tensor *dh) {
  static const char who[] = "hn_loss_kl_gauss";
  if (!h || !h->data) return hn_fail(HN_ERR_ARG, "%s: h is NULL", who);
  if (!loss) return hn_fail(HN_ERR_ARG, "%s: loss is NULL", who);
  if (h->ndim != 2 || h->shape[0] < 1 || h->shape[1] < 2 || h->shape[1] % 2 != 0)
    return hn_fail(HN_ERR_SHAPE, "%s: h is %s; expected [n, 2d] (mu then log-variance per "
                                 "latent, n >= 1, d >= 1)",
                   who, hn_tensor_str(h));
  if (dh && (!dh->data || !hn_tensor_same_shape(dh, h)))
    return hn_fail(HN_ERR_SHAPE, "%s: dh is %s but h is %s; they must match", who,
                   hn_tensor_str(dh), hn_tensor_str(h));
  int64_t n = h->shape[0], d = h->shape[1] / 2;
  kl_ctx k = {h->data, dh ? dh->data : NULL, d, 1.0 / (double)n};
  double s = blocked_sum(kl_block, &k, n, ROW_BLOCK, 3 * d);
  *loss = (float)(s / (double)n);
  return HN_OK;
}

/* ---- knowledge distillation ------------------------------------------------------ */

typedef struct kd_ctx {
  const float *x, *t;
  const uint8_t *mask;
  int64_t c;
  double inv_temp, inv_n, temp;
  float *dx;
} kd_ctx;

/* Max over the active columns of x/T, and log Σ exp(x_j/T - max) in double. */
static double row_lse_scaled(const float *x, int64_t c, const uint8_t *mask, double inv_temp,
                             double *max_out) {
  double m = -INFINITY;
  for (int64_t j = 0; j < c; j++)
    if ((!mask || mask[j]) && (double)x[j] * inv_temp > m) m = (double)x[j] * inv_temp;
  double s = 0.0;
  for (int64_t j = 0; j < c; j++)
    if (!mask || mask[j]) s += exp((double)x[j] * inv_temp - m);
  *max_out = m;
  return log(s);
}

static double kd_block(const void *vctx, int64_t lo, int64_t hi) {
  const kd_ctx *k = vctx;
  double s = 0.0;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = k->x + r * k->c, *tr = k->t + r * k->c;
    double mx, mt;
    double lx = row_lse_scaled(xr, k->c, k->mask, k->inv_temp, &mx);
    double lt = row_lse_scaled(tr, k->c, k->mask, k->inv_temp, &mt);
    double row = 0.0;
    for (int64_t j = 0; j < k->c; j++) {
      if (k->mask && !k->mask[j]) {
        if (k->dx) k->dx[r * k->c + j] = 0.0f;
        continue;
      }
      double log_q = (double)xr[j] * k->inv_temp - mx - lx; /* log softmax(x/T) */
      double p = exp((double)tr[j] * k->inv_temp - mt - lt); /* softmax(target/T) */
      row -= p * log_q;
      if (k->dx) k->dx[r * k->c + j] = (float)(k->temp * (exp(log_q) - p) * k->inv_n);
    }
    s += row;
  }
  return s;
}

hn_status hn_loss_kd(const hn_tensor *logits, const hn_tensor *target, const uint8_t *mask,
                     float temperature, float *loss, hn_tensor *dlogits) {
  static const char who[] = "hn_loss_kd";
  HN_TRY(check_logits(who, logits));
  if (!target || !target->data) return hn_fail(HN_ERR_ARG, "%s: target is NULL", who);
  if (!hn_tensor_same_shape(target, logits))
    return hn_fail(HN_ERR_SHAPE, "%s: target is %s but logits is %s; they must match", who,
                   hn_tensor_str(target), hn_tensor_str(logits));
  if (!loss) return hn_fail(HN_ERR_ARG, "%s: loss is NULL", who);
  if (!(temperature > 0.0f) || !isfinite(temperature))
    return hn_fail(HN_ERR_ARG, "%s: temperature is %g; a finite value > 0 expected (hypercl "
                               "uses 2)",
                   who, (double)temperature);
  if (dlogits && (!dlogits->data || !hn_tensor_same_shape(dlogits, logits)))
    return hn_fail(HN_ERR_SHAPE, "%s: dlogits is %s but logits is %s; they must match", who,
                   hn_tensor_str(dlogits), hn_tensor_str(logits));
  int64_t n = logits->shape[0], c = logits->shape[1];
  HN_TRY(check_mask(who, mask, c));
  double temp = (double)temperature;
  kd_ctx k = {logits->data, target->data, mask, c, 1.0 / temp, 1.0 / (double)n, temp,
              dlogits ? dlogits->data : NULL};
  double s = blocked_sum(kd_block, &k, n, ROW_BLOCK, 6 * c);
  *loss = (float)(temp * temp * s / (double)n);
  return HN_OK;
}

/* ---- prediction helpers --------------------------------------------------------- */

/* Whether every active logit of one row is finite. A row with a NaN or +-Inf
 * logit has no defined softmax: it predicts nothing. */
static bool row_finite(const float *x, int64_t c, const uint8_t *mask) {
  for (int64_t j = 0; j < c; j++)
    if ((!mask || mask[j]) && !isfinite(x[j])) return false;
  return true;
}

/* Index of the largest active logit (first one on ties); -1 for a row with a
 * non-finite active logit, so that it is never scored as correct (NaN
 * compares false with everything, which would leave the first column). */
static int64_t row_argmax(const float *x, int64_t c, const uint8_t *mask) {
  if (!row_finite(x, c, mask)) return -1;
  int64_t best = -1;
  for (int64_t j = 0; j < c; j++) {
    if (mask && !mask[j]) continue;
    if (best < 0 || x[j] > x[best]) best = j;
  }
  return best;
}

hn_status hn_loss_accuracy(const hn_tensor *logits, const hn_tensor *labels, const uint8_t *mask,
                           int64_t *n_correct) {
  static const char who[] = "hn_loss_accuracy";
  HN_TRY(check_logits(who, logits));
  int64_t n = logits->shape[0], c = logits->shape[1];
  HN_TRY(check_rows(who, "labels", labels, n, logits));
  if (!n_correct) return hn_fail(HN_ERR_ARG, "%s: n_correct is NULL", who);
  HN_TRY(check_mask(who, mask, c));
  HN_TRY(check_labels(who, labels, c, mask));
  int64_t count = 0;
  for (int64_t r = 0; r < n; r++)
    count += row_argmax(logits->data + r * c, c, mask) == (int64_t)labels->data[r];
  *n_correct = count;
  return HN_OK;
}

hn_status hn_loss_argmax(const hn_tensor *logits, const uint8_t *mask, hn_tensor *pred) {
  static const char who[] = "hn_loss_argmax";
  HN_TRY(check_logits(who, logits));
  int64_t n = logits->shape[0], c = logits->shape[1];
  HN_TRY(check_rows(who, "pred", pred, n, logits));
  HN_TRY(check_mask(who, mask, c));
  const float *x = logits->data;
  float *p = pred->data;
#pragma omp parallel for schedule(static) if (n * c > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < n; r++) p[r] = (float)row_argmax(x + r * c, c, mask);
  return HN_OK;
}

hn_status hn_loss_entropy(const hn_tensor *logits, const uint8_t *mask, hn_tensor *ent) {
  static const char who[] = "hn_loss_entropy";
  HN_TRY(check_logits(who, logits));
  int64_t n = logits->shape[0], c = logits->shape[1];
  HN_TRY(check_rows(who, "ent", ent, n, logits));
  HN_TRY(check_mask(who, mask, c));
  const float *x = logits->data;
  float *h = ent->data;
  /* H = -Σ p log p with p_j = exp(x_j - m) / s:  H = log s - Σ p_j (x_j - m). */
#pragma omp parallel for schedule(static) if (n * c > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < n; r++) {
    const float *xr = x + r * c;
    if (!row_finite(xr, c, mask)) {
      h[r] = NAN;
      continue;
    }
    float m = row_max(xr, c, mask);
    double s = row_sumexp(xr, c, mask, m);
    double acc = 0.0;
    for (int64_t j = 0; j < c; j++) {
      if (mask && !mask[j]) continue;
      double z = (double)xr[j] - (double)m;
      acc += exp(z) * z;
    }
    h[r] = (float)(log(s) - acc / s);
  }
  return HN_OK;
}

/* The per-row scores below. max_prob = 1 / s with s = Σ exp(x_j - m) (the
 * largest probability is exp(0) / s); logsumexp = m + log s; max_logprob =
 * -log1p(r) with r = s - 1 summed without the largest logit's own term, so
 * that it stays exact where p_max rounds to 1 in float (r < 6e-8): a
 * confident network's rows would otherwise all score 1 and tie. */
typedef enum { SCORE_MAX_PROB, SCORE_LOGSUMEXP, SCORE_MAX_LOGPROB } score_kind;

static hn_status per_row_score(const char *who, const hn_tensor *logits, const uint8_t *mask,
                               hn_tensor *out, score_kind kind) {
  HN_TRY(check_logits(who, logits));
  int64_t n = logits->shape[0], c = logits->shape[1];
  HN_TRY(check_rows(who, kind == SCORE_LOGSUMEXP ? "lse" : "p", out, n, logits));
  HN_TRY(check_mask(who, mask, c));
  const float *x = logits->data;
  float *o = out->data;
#pragma omp parallel for schedule(static) if (n * c > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < n; r++) {
    const float *xr = x + r * c;
    if (!row_finite(xr, c, mask)) {
      o[r] = NAN;
      continue;
    }
    float m = row_max(xr, c, mask);
    if (kind == SCORE_MAX_LOGPROB) {
      double rest = 0.0;
      bool skipped = false; /* the first largest logit's exp(0) term */
      for (int64_t j = 0; j < c; j++) {
        if (mask && !mask[j]) continue;
        if (!skipped && xr[j] == m) {
          skipped = true;
          continue;
        }
        rest += exp((double)xr[j] - (double)m);
      }
      o[r] = (float)-log1p(rest);
      continue;
    }
    double s = row_sumexp(xr, c, mask, m);
    o[r] = kind == SCORE_LOGSUMEXP ? (float)((double)m + log(s)) : (float)(1.0 / s);
  }
  return HN_OK;
}

hn_status hn_loss_max_prob(const hn_tensor *logits, const uint8_t *mask, hn_tensor *p) {
  return per_row_score("hn_loss_max_prob", logits, mask, p, SCORE_MAX_PROB);
}

hn_status hn_loss_max_logprob(const hn_tensor *logits, const uint8_t *mask, hn_tensor *lp) {
  return per_row_score("hn_loss_max_logprob", logits, mask, lp, SCORE_MAX_LOGPROB);
}

hn_status hn_loss_logsumexp(const hn_tensor *logits, const uint8_t *mask, hn_tensor *lse) {
  return per_row_score("hn_loss_logsumexp", logits, mask, lse, SCORE_LOGSUMEXP);
}
