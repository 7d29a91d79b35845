/*
 * pool.c — MaxPool2d and AvgPool2d (window k, stride, no padding).
 *
 *   x [n, c, h, w] -> y [n, c, h_out, w_out],  h_out = (h - k) / stride + 1
 *
 * MaxPool keeps, for each output element, the position of its maximum inside
 * the input plane (ih * w + iw) as an int32 in the float workspace (ws holds
 * numel(y) 4-byte slots; they are only ever written and read as int32). Ties
 * go to the first maximum in row-major window order. Backward routes dy to
 * that position: dx is zeroed and then accumulated, so overlapping windows
 * (stride < k) add up.
 *
 * AvgPool averages the k·k window; backward spreads dy / (k·k) over it.
 * Both are parallel over the n·c planes (disjoint outputs, fixed order).
 */
#include "internal.h"
#include "ops.h"

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_pool *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (cfg->k < 1 || cfg->stride < 1)
    return hn_fail(HN_ERR_ARG, "%s: k = %lld, stride = %lld; both must be >= 1", who,
                   (long long)cfg->k, (long long)cfg->stride);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (ndim != 4 || in[0] < 0 || in[1] < 1 || in[2] < cfg->k || in[3] < cfg->k)
    return hn_fail(HN_ERR_SHAPE,
                   "%s: x is %s, expected [n_batch, channels, height, width] with height and "
                   "width >= k = %lld",
                   who, hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s,
                   (long long)cfg->k);
  if (in[2] > INT32_MAX / in[3])
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s; an image plane must have < 2^31 elements", who,
                   hn_shape_fmt(ndim, in).s);
  *out_ndim = 4;
  out[0] = in[0];
  out[1] = in[1];
  out[2] = (in[2] - cfg->k) / cfg->stride + 1;
  out[3] = (in[3] - cfg->k) / cfg->stride + 1;
  return HN_OK;
}

/* ---- max ------------------------------------------------------------------- */

static hn_status max_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                               int64_t *out) {
  return shape_of(cfg, "maxpool2d", ndim, in, out_ndim, out);
}

static int64_t max_ws_size(const void *cfg, int ndim, const int64_t *in) {
  int ond;
  int64_t out[4] = {0}; /* -O3 cannot see that the shape check sets it on HN_OK */
  if (shape_of(cfg, "maxpool2d", ndim, in, &ond, out) != HN_OK) return 0;
  return out[0] * out[1] * out[2] * out[3];
}

static hn_status max_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                             float *ws, const hn_run *run) {
  const hn_pool *cfg = cfg_;
  const char *who = "maxpool2d forward";
  (void)w, (void)run;
  int ond;
  int64_t out[4];
  if (!y) return hn_fail(HN_ERR_ARG, "%s: y is NULL", who);
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  if (!ws && y->numel > 0) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (argmax scratch)", who);
  int64_t planes = out[0] * out[1], h = x->shape[2], wd = x->shape[3];
  int64_t ho = out[2], wo = out[3], k = cfg->k, s = cfg->stride;
  const float *xd = x->data;
  float *yd = y->data;
  int32_t *arg = (int32_t *)ws;
#pragma omp parallel for schedule(static) if (planes * ho * wo * k * k > HN_OMP_MIN_WORK)
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = xd + p * h * wd;
    for (int64_t oh = 0; oh < ho; oh++)
      for (int64_t ow = 0; ow < wo; ow++) {
        int64_t best = (oh * s) * wd + ow * s;
        float m = xp[best];
        for (int64_t ki = 0; ki < k; ki++)
          for (int64_t kj = 0; kj < k; kj++) {
            int64_t idx = (oh * s + ki) * wd + ow * s + kj;
            if (xp[idx] > m) {
              m = xp[idx];
              best = idx;
            }
          }
        int64_t o = (p * ho + oh) * wo + ow;
        yd[o] = m;
        arg[o] = (int32_t)best;
      }
  }
  return HN_OK;
}

static hn_status max_backward(const void *cfg_, const float *w, const hn_tensor *x,
                              const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                              float *dw, const hn_run *run) {
  const hn_pool *cfg = cfg_;
  const char *who = "maxpool2d backward";
  (void)w, (void)dw, (void)run;
  int ond;
  int64_t out[4];
  if (!dy) return hn_fail(HN_ERR_ARG, "%s: dy is NULL", who);
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  if (!dx) return HN_OK;
  if (!ws && dy->numel > 0) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (argmax scratch)", who);
  int64_t planes = out[0] * out[1], hw_in = x->shape[2] * x->shape[3], hw_out = out[2] * out[3];
  const float *g = dy->data;
  float *dxd = dx->data;
  const int32_t *arg = (const int32_t *)ws;
#pragma omp parallel for schedule(static) if (planes * (hw_in + hw_out) > HN_OMP_MIN_WORK)
  for (int64_t p = 0; p < planes; p++) {
    float *dp = dxd + p * hw_in;
    for (int64_t i = 0; i < hw_in; i++) dp[i] = 0.0f;
    for (int64_t o = p * hw_out; o < (p + 1) * hw_out; o++) dp[arg[o]] += g[o];
  }
  return HN_OK;
}

const hn_module_vt hn_maxpool2d_vt = {
    .name = "maxpool2d",
    .n_params = hn_module_zero,
    .n_stats = hn_module_zero,
    .out_shape = max_out_shape,
    .ws_size = max_ws_size,
    .init_var = hn_module_no_init_var,
    .init_stats = NULL,
    .forward = max_forward,
    .backward = max_backward,
    .param_slices = hn_module_no_slices,
};

/* ---- average --------------------------------------------------------------- */

static hn_status avg_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                               int64_t *out) {
  return shape_of(cfg, "avgpool2d", ndim, in, out_ndim, out);
}

static hn_status avg_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                             float *ws, const hn_run *run) {
  const hn_pool *cfg = cfg_;
  const char *who = "avgpool2d forward";
  (void)w, (void)ws, (void)run;
  int ond;
  int64_t out[4];
  if (!y) return hn_fail(HN_ERR_ARG, "%s: y is NULL", who);
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  int64_t planes = out[0] * out[1], h = x->shape[2], wd = x->shape[3];
  int64_t ho = out[2], wo = out[3], k = cfg->k, s = cfg->stride;
  float inv = 1.0f / (float)(k * k);
  const float *xd = x->data;
  float *yd = y->data;
#pragma omp parallel for schedule(static) if (planes * ho * wo * k * k > HN_OMP_MIN_WORK)
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = xd + p * h * wd;
    for (int64_t oh = 0; oh < ho; oh++)
      for (int64_t ow = 0; ow < wo; ow++) {
        float acc = 0.0f;
        for (int64_t ki = 0; ki < k; ki++) {
          const float *xr = xp + (oh * s + ki) * wd + ow * s;
          for (int64_t kj = 0; kj < k; kj++) acc += xr[kj];
        }
        yd[(p * ho + oh) * wo + ow] = acc * inv;
      }
  }
  return HN_OK;
}

static hn_status avg_backward(const void *cfg_, const float *w, const hn_tensor *x,
                              const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                              float *dw, const hn_run *run) {
  const hn_pool *cfg = cfg_;
  const char *who = "avgpool2d backward";
  (void)w, (void)ws, (void)dw, (void)run;
  int ond;
  int64_t out[4];
  if (!dy) return hn_fail(HN_ERR_ARG, "%s: dy is NULL", who);
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  if (!dx) return HN_OK;
  int64_t planes = out[0] * out[1], h = x->shape[2], wd = x->shape[3];
  int64_t ho = out[2], wo = out[3], k = cfg->k, s = cfg->stride;
  float inv = 1.0f / (float)(k * k);
  const float *g = dy->data;
  float *dxd = dx->data;
#pragma omp parallel for schedule(static) if (planes * (h * wd + ho * wo * k * k) > HN_OMP_MIN_WORK)
  for (int64_t p = 0; p < planes; p++) {
    float *dp = dxd + p * h * wd;
    for (int64_t i = 0; i < h * wd; i++) dp[i] = 0.0f;
    for (int64_t oh = 0; oh < ho; oh++)
      for (int64_t ow = 0; ow < wo; ow++) {
        float v = g[(p * ho + oh) * wo + ow] * inv;
        for (int64_t ki = 0; ki < k; ki++) {
          float *dr = dp + (oh * s + ki) * wd + ow * s;
          for (int64_t kj = 0; kj < k; kj++) dr[kj] += v;
        }
      }
  }
  return HN_OK;
}

const hn_module_vt hn_avgpool2d_vt = {
    .name = "avgpool2d",
    .n_params = hn_module_zero,
    .n_stats = hn_module_zero,
    .out_shape = avg_out_shape,
    .ws_size = hn_module_ws_none,
    .init_var = hn_module_no_init_var,
    .init_stats = NULL,
    .forward = avg_forward,
    .backward = avg_backward,
    .param_slices = hn_module_no_slices,
};
