/*
 * conv2d.c — 2-D convolution (square kernel, stride, zero padding) through
 * im2col + GEMM, one image at a time (the GEMM is the multithreaded part, so
 * the image loop stays serial and no BLAS call sits inside an OpenMP region).
 *
 *   x [n, c_in, h, w], weight [c_out, c_in, k, k], bias [c_out]
 *     -> y [n, c_out, h_out, w_out],  h_out = (h + 2 pad - k) / stride + 1
 *   per image:  col [c_in k k, h_out w_out] = im2col(x_i)
 *               y_i [c_out, h_out w_out]    = weight · col + bias
 *   backward:   dweight += Σ_i dy_i · col_i^T        dbias += Σ dy
 *               dcol = weight^T · dy_i,  dx_i = col2im(dcol)   (overwritten)
 *
 * Scratch (ws_size floats, independent of the batch):
 *   col  [c_in k k, h_out w_out]   im2col of one image (reused for dcol)
 *   gw   [c_out, c_in k k]         the batch's weight gradient, summed over
 *                                  images and then added to dw once, so that
 *                                  backward twice from zero gives exactly 2·dw.
 *
 * Normal initialisation: weight N(0, 1/fan_in), fan_in = c_in k k (or
 * 1/fan_out, fan_out = c_out k k, when cfg->fan_out); bias N(0, 1/(3 fan_in)),
 * the variance of PyTorch's default uniform bias init.
 */
#include "blas.h"
#include "internal.h"
#include "ops.h"

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_conv2d *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (cfg->c_in < 1 || cfg->c_out < 1 || cfg->k < 1 || cfg->stride < 1 || cfg->pad < 0)
    return hn_fail(HN_ERR_ARG,
                   "%s: c_in = %lld, c_out = %lld, k = %lld, stride = %lld, pad = %lld; "
                   "channels, kernel and stride must be >= 1 and pad >= 0",
                   who, (long long)cfg->c_in, (long long)cfg->c_out, (long long)cfg->k,
                   (long long)cfg->stride, (long long)cfg->pad);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (ndim != 4 || in[0] < 0 || in[1] != cfg->c_in || in[2] + 2 * cfg->pad < cfg->k ||
      in[3] + 2 * cfg->pad < cfg->k)
    return hn_fail(HN_ERR_SHAPE,
                   "%s: x is %s, expected [%lld, %lld, h, w] ([n_batch, c_in, height, width]) "
                   "with height and width + 2*pad >= k = %lld",
                   who, hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s,
                   (long long)(ndim >= 1 ? in[0] : 1), (long long)cfg->c_in, (long long)cfg->k);
  *out_ndim = 4;
  out[0] = in[0];
  out[1] = cfg->c_out;
  out[2] = (in[2] + 2 * cfg->pad - cfg->k) / cfg->stride + 1;
  out[3] = (in[3] + 2 * cfg->pad - cfg->k) / cfg->stride + 1;
  return HN_OK;
}

static int64_t n_weight(const hn_conv2d *cfg) { return cfg->c_out * cfg->c_in * cfg->k * cfg->k; }

static int64_t conv_n_params(const void *cfg_) {
  const hn_conv2d *cfg = cfg_;
  return n_weight(cfg) + (cfg->bias ? cfg->c_out : 0);
}

static hn_status conv_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                                int64_t *out) {
  return shape_of(cfg, "conv2d", ndim, in, out_ndim, out);
}

/* col (one image) + gw; see the header comment. */
static int64_t conv_ws_size(const void *cfg_, int ndim, const int64_t *in) {
  const hn_conv2d *cfg = cfg_;
  int ond;
  int64_t out[4] = {0}; /* -O3 cannot see that shape_of sets it on HN_OK */
  if (shape_of(cfg, "conv2d", ndim, in, &ond, out) != HN_OK) return 0;
  return cfg->c_in * cfg->k * cfg->k * out[2] * out[3] + n_weight(cfg);
}

static void conv_init_var(const void *cfg_, float *mean, float *var) {
  const hn_conv2d *cfg = cfg_;
  int64_t kk = cfg->k * cfg->k;
  float vw = 1.0f / (float)((cfg->fan_out ? cfg->c_out : cfg->c_in) * kk);
  float vb = 1.0f / (3.0f * (float)(cfg->c_in * kk));
  hn_module_weight_bias_var(n_weight(cfg), conv_n_params(cfg), vw, vb, mean, var);
}

static hn_status conv_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                              float *ws, const hn_run *run) {
  const hn_conv2d *cfg = cfg_;
  const char *who = "conv2d forward";
  (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (ws_size floats of scratch needed)", who);
  int64_t n = x->shape[0], h = x->shape[2], wd = x->shape[3];
  int64_t hw_out = out[2] * out[3], ckk = cfg->c_in * cfg->k * cfg->k;
  float *col = ws;
  for (int64_t i = 0; i < n; i++) {
    hn_ops_im2col(x->data + i * cfg->c_in * h * wd, cfg->c_in, h, wd, cfg->k, cfg->stride,
                  cfg->pad, col);
    HN_TRY(hn_blas_gemm(who, false, false, cfg->c_out, hw_out, ckk, 1.0f, w, col, 0.0f,
                        y->data + i * cfg->c_out * hw_out));
  }
  if (cfg->bias) {
    const float *b = w + n_weight(cfg);
    int64_t rows = n * cfg->c_out;
    float *yd = y->data;
#pragma omp parallel for schedule(static) if (rows * hw_out > HN_OMP_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
      float bv = b[r % cfg->c_out];
      float *yr = yd + r * hw_out;
      for (int64_t j = 0; j < hw_out; j++) yr[j] += bv;
    }
  }
  return HN_OK;
}

static hn_status conv_backward(const void *cfg_, const float *w, const hn_tensor *x,
                               const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                               float *dw, const hn_run *run) {
  const hn_conv2d *cfg = cfg_;
  const char *who = "conv2d backward";
  (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (ws_size floats of scratch needed)", who);
  int64_t n = x->shape[0], h = x->shape[2], wd = x->shape[3];
  int64_t hw_out = out[2] * out[3], ckk = cfg->c_in * cfg->k * cfg->k, hw_in = h * wd;
  float *col = ws, *gw = ws + ckk * hw_out;
  if (n == 0) return HN_OK;
  if (dw && cfg->bias) {
    float *db = dw + n_weight(cfg);
    const float *g = dy->data;
    int64_t c_out = cfg->c_out;
#pragma omp parallel for schedule(static) if (n * c_out * hw_out > HN_OMP_MIN_WORK)
    for (int64_t co = 0; co < c_out; co++) {
      double s = 0.0;
      for (int64_t i = 0; i < n; i++) {
        const float *gr = g + (i * c_out + co) * hw_out;
        for (int64_t j = 0; j < hw_out; j++) s += (double)gr[j];
      }
      db[co] += (float)s;
    }
  }
  for (int64_t i = 0; i < n; i++) {
    const float *dyi = dy->data + i * cfg->c_out * hw_out;
    if (dw) {
      hn_ops_im2col(x->data + i * cfg->c_in * hw_in, cfg->c_in, h, wd, cfg->k, cfg->stride,
                    cfg->pad, col);
      HN_TRY(hn_blas_gemm(who, false, true, cfg->c_out, ckk, hw_out, 1.0f, dyi, col,
                          i == 0 ? 0.0f : 1.0f, gw));
    }
    if (dx) {
      float *dxi = dx->data + i * cfg->c_in * hw_in;
      HN_TRY(hn_blas_gemm(who, true, false, ckk, hw_out, cfg->c_out, 1.0f, w, dyi, 0.0f, col));
      hn_ops_fill(dxi, 0.0f, cfg->c_in * hw_in);
      hn_ops_col2im(col, cfg->c_in, h, wd, cfg->k, cfg->stride, cfg->pad, dxi);
    }
  }
  if (dw) hn_ops_add(dw, gw, n_weight(cfg));
  return HN_OK;
}

static int conv_param_slices(const void *cfg_, const char **names, int *ndims,
                             int64_t (*shapes)[4]) {
  const hn_conv2d *cfg = cfg_;
  return hn_module_weight_bias_slices(4, (const int64_t[]){cfg->c_out, cfg->c_in, cfg->k, cfg->k},
                                      cfg->bias, cfg->c_out, names, ndims, shapes);
}

const hn_module_vt hn_conv2d_vt = {
    .name = "conv2d",
    .n_params = conv_n_params,
    .n_stats = hn_module_zero,
    .out_shape = conv_out_shape,
    .ws_size = conv_ws_size,
    .init_var = conv_init_var,
    .init_stats = NULL,
    .forward = conv_forward,
    .backward = conv_backward,
    .param_slices = conv_param_slices,
};
