/*
 * batchnorm.c — batch normalisation over channels, with external (per-task)
 * running statistics.
 *
 *   x [n, c] or [n, c, d...] (up to 4-D); m = n · Π d (values per channel)
 *   xhat = (x - mu) / sqrt(var + eps);   y = (1 + gamma_off) · xhat + beta
 *
 * Parameters: gamma offset [c] then beta [c] (the scale is 1 + gamma offset,
 * so a zero-mean generator starts at the identity). External state
 * (run->stats, n_stats = 2c): running mean [c] then running var [c]; it is
 * required in both modes (HN_ERR_ARG if NULL).
 *
 * Train mode (as PyTorch): mu and var are the batch mean and the biased batch
 * variance (both accumulated in double); the running statistics are updated
 * as r = (1 - momentum) r + momentum · batch, using the unbiased variance
 * var · m / (m - 1). m must be >= 2. Eval mode normalises with the running
 * statistics and leaves them alone.
 *
 * Scratch (ws, c + numel(x) floats): inv_std [c] then xhat [numel(x)], saved
 * by forward for backward. Backward must be called with the same run mode as
 * the forward it follows:
 *   train: dx = inv_std · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat)),
 *          dxhat = dy · (1 + gamma_off)
 *   eval:  dx = dy · (1 + gamma_off) · inv_std
 *   both:  dgamma_off += Σ dy · xhat,  dbeta += Σ dy   (accumulated)
 *
 * Normal initialisation (init_var): gamma offset and beta have mean 0 and
 * variance 0.01. A "normally initialised" BatchNorm is the identity affine map
 * (PyTorch: scale 1, shift 0); a small spread instead of exactly 0 keeps a
 * hypernetwork's hyperfan init of these outputs well defined (a zero target
 * variance would zero its output weights) while starting near the identity.
 * init_stats: running mean 0, running var 1.
 * Parallel over channels; each channel's sums run in a fixed order.
 */
#include "internal.h"
#include "ops.h"

#include <math.h>

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_batchnorm *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (cfg->c < 1 || !(cfg->eps > 0.0f) || !(cfg->momentum >= 0.0f && cfg->momentum <= 1.0f))
    return hn_fail(HN_ERR_ARG, "%s: c = %lld, eps = %g, momentum = %g; need c >= 1, eps > 0, "
                   "0 <= momentum <= 1", who, (long long)cfg->c, (double)cfg->eps,
                   (double)cfg->momentum);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (ndim < 2 || hn_shape_numel(ndim, in) < 0 || in[1] != cfg->c)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s, expected [%lld, %lld] or [%lld, %lld, height, "
                   "width] (channels = %lld)", who,
                   hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s,
                   (long long)(ndim >= 1 ? in[0] : 1), (long long)cfg->c,
                   (long long)(ndim >= 1 ? in[0] : 1), (long long)cfg->c, (long long)cfg->c);
  *out_ndim = ndim;
  for (int i = 0; i < ndim; i++) out[i] = in[i];
  return HN_OK;
}

static int64_t bn_n_params(const void *cfg_) {
  const hn_batchnorm *cfg = cfg_;
  return 2 * cfg->c;
}

static hn_status bn_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                              int64_t *out) {
  return shape_of(cfg, "batchnorm", ndim, in, out_ndim, out);
}

static int64_t bn_ws_size(const void *cfg_, int ndim, const int64_t *in) {
  const hn_batchnorm *cfg = cfg_;
  int64_t n = hn_shape_numel(ndim, in);
  return n < 0 ? 0 : cfg->c + n;
}

static void bn_init_var(const void *cfg_, float *mean, float *var) {
  const hn_batchnorm *cfg = cfg_;
  hn_module_weight_bias_var(cfg->c, 2 * cfg->c, 0.01f, 0.01f, mean, var);
}

static void bn_init_stats(const void *cfg_, float *stats) {
  const hn_batchnorm *cfg = cfg_;
  for (int64_t i = 0; i < cfg->c; i++) {
    stats[i] = 0.0f;
    stats[cfg->c + i] = 1.0f;
  }
}

/* Values per channel in one sample (Π of the dims after the channel one). */
static int64_t spatial(const hn_tensor *x) {
  int64_t s = 1;
  for (int i = 2; i < x->ndim; i++) s *= x->shape[i];
  return s;
}

static hn_status bn_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                            float *ws, const hn_run *run) {
  const hn_batchnorm *cfg = cfg_;
  const char *who = "batchnorm forward";
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  if (!run || !run->stats)
    return hn_fail(HN_ERR_ARG, "%s: run->stats is NULL; pass this task's running statistics "
                   "(2 x %lld floats, see hn_net_init_stats)", who, (long long)cfg->c);
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (ws_size floats of scratch needed)", who);
  bool train = run->train;
  int64_t n = x->shape[0], c = cfg->c, s = spatial(x), m = n * s;
  if (train && m < 2)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s; train mode needs more than one value per "
                   "channel (use a larger batch or eval mode)", who, hn_tensor_str(x));
  const float *xd = x->data, *gam = w, *bet = w + c;
  float *yd = y->data, *inv = ws, *xhat = ws + c, *rmean = run->stats, *rvar = run->stats + c;
  float eps = cfg->eps, mom = cfg->momentum;
#pragma omp parallel for schedule(static) if (x->numel > HN_OMP_MIN_WORK)
  for (int64_t ch = 0; ch < c; ch++) {
    double mu, istd;
    if (train) {
      double sum = 0.0;
      for (int64_t i = 0; i < n; i++) {
        const float *xr = xd + (i * c + ch) * s;
        for (int64_t j = 0; j < s; j++) sum += (double)xr[j];
      }
      mu = sum / (double)m;
      double sq = 0.0;
      for (int64_t i = 0; i < n; i++) {
        const float *xr = xd + (i * c + ch) * s;
        for (int64_t j = 0; j < s; j++) {
          double d = (double)xr[j] - mu;
          sq += d * d;
        }
      }
      double var = sq / (double)m;
      istd = 1.0 / sqrt(var + (double)eps);
      rmean[ch] = (1.0f - mom) * rmean[ch] + mom * (float)mu;
      rvar[ch] = (1.0f - mom) * rvar[ch] + mom * (float)(var * (double)m / (double)(m - 1));
    } else {
      mu = (double)rmean[ch];
      istd = 1.0 / sqrt((double)rvar[ch] + (double)eps);
    }
    inv[ch] = (float)istd;
    float muf = (float)mu, isf = (float)istd, scale = 1.0f + gam[ch], shift = bet[ch];
    for (int64_t i = 0; i < n; i++) {
      int64_t o = (i * c + ch) * s;
      for (int64_t j = 0; j < s; j++) {
        float h = (xd[o + j] - muf) * isf;
        xhat[o + j] = h;
        yd[o + j] = scale * h + shift;
      }
    }
  }
  return HN_OK;
}

static hn_status bn_backward(const void *cfg_, const float *w, const hn_tensor *x,
                             const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                             float *dw, const hn_run *run) {
  const hn_batchnorm *cfg = cfg_;
  const char *who = "batchnorm backward";
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (the forward's scratch)", who);
  bool train = run && run->train;
  int64_t n = x->shape[0], c = cfg->c, s = spatial(x), m = n * s;
  const float *g = dy->data, *gam = w, *inv = ws, *xhat = ws + c;
  float *dxd = dx ? dx->data : NULL;
#pragma omp parallel for schedule(static) if (x->numel > HN_OMP_MIN_WORK)
  for (int64_t ch = 0; ch < c; ch++) {
    double sum_dy = 0.0, sum_dyh = 0.0;
    for (int64_t i = 0; i < n; i++) {
      int64_t o = (i * c + ch) * s;
      for (int64_t j = 0; j < s; j++) {
        sum_dy += (double)g[o + j];
        sum_dyh += (double)g[o + j] * (double)xhat[o + j];
      }
    }
    if (dw) {
      dw[ch] += (float)sum_dyh;
      dw[c + ch] += (float)sum_dy;
    }
    if (!dxd) continue;
    float scale = 1.0f + gam[ch], isf = inv[ch];
    if (train) {
      /* mean(dxhat) and mean(dxhat · xhat) with dxhat = scale · dy */
      float a = (float)((double)scale * sum_dy / (double)m);
      float b = (float)((double)scale * sum_dyh / (double)m);
      for (int64_t i = 0; i < n; i++) {
        int64_t o = (i * c + ch) * s;
        for (int64_t j = 0; j < s; j++)
          dxd[o + j] = isf * (scale * g[o + j] - a - xhat[o + j] * b);
      }
    } else {
      float f = scale * isf;
      for (int64_t i = 0; i < n; i++) {
        int64_t o = (i * c + ch) * s;
        for (int64_t j = 0; j < s; j++) dxd[o + j] = f * g[o + j];
      }
    }
  }
  return HN_OK;
}

static int64_t bn_n_stats(const void *cfg_) {
  const hn_batchnorm *cfg = cfg_;
  return 2 * cfg->c;
}

static int bn_param_slices(const void *cfg_, const char **names, int *ndims,
                           int64_t (*shapes)[4]) {
  const hn_batchnorm *cfg = cfg_;
  /* "weight" is the gamma offset (scale = 1 + weight), "bias" is beta */
  return hn_module_weight_bias_slices(1, &cfg->c, true, cfg->c, names, ndims, shapes);
}

const hn_module_vt hn_batchnorm_vt = {
    .name = "batchnorm",
    .n_params = bn_n_params,
    .n_stats = bn_n_stats,
    .out_shape = bn_out_shape,
    .ws_size = bn_ws_size,
    .init_var = bn_init_var,
    .init_stats = bn_init_stats,
    .forward = bn_forward,
    .backward = bn_backward,
    .param_slices = bn_param_slices,
};
