/*
 * linear.c — fully connected layer through GEMM.
 *
 *   forward   x [n, n_in] · w[n_out, n_in]^T + b[n_out] -> y [n, n_out]
 *   backward  dx [n, n_in]  = dy [n, n_out] · w[n_out, n_in]        (overwritten)
 *             dw [n_out, n_in] += dy^T · x   (GEMM with beta = 1)  (accumulated)
 *             db [n_out]  += Σ_rows dy                              (accumulated)
 *
 * A sequence x [n, T, n_in] (module.h, batch-first) is n*T rows of one
 * GEMM: the same layer applied at every step, y [n, T, n_out].
 *
 * Parameters: weight [n_out, n_in] then bias [n_out] (if cfg->bias). No
 * scratch. The dw accumulation is done by BLAS itself (beta = 1): starting
 * from zero, two backward passes give exactly 2·dw as long as the batch fits
 * in one of OpenBLAS's K-blocks (a few hundred rows); beyond that the two sums
 * may differ in the last bit because BLAS adds its K-blocks into C one by one.
 *
 * Normal initialisation (init_var): weight N(0, 1/fan_in) with fan_in = n_in
 * (or 1/fan_out with fan_out = n_out when cfg->fan_out); bias N(0, 1/(3 n_in)),
 * the variance of PyTorch's default bias init U(-1/sqrt(n_in), 1/sqrt(n_in)).
 */
#include "blas.h"
#include "internal.h"
#include "ops.h"

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_linear *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (cfg->n_in < 1 || cfg->n_out < 1)
    return hn_fail(HN_ERR_ARG, "%s: n_in = %lld, n_out = %lld; both must be >= 1", who,
                   (long long)cfg->n_in, (long long)cfg->n_out);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if ((ndim != 2 && ndim != 3) || in[0] < 0 || (ndim == 3 && in[1] < 0) ||
      in[ndim - 1] != cfg->n_in)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s, expected [%lld, %lld] ([n_batch, n_in]; flatten "
                   "images first) or [%lld, T, %lld] (a sequence, batch-first)",
                   who, hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s,
                   (long long)(ndim >= 1 ? in[0] : 1), (long long)cfg->n_in,
                   (long long)(ndim >= 1 ? in[0] : 1), (long long)cfg->n_in);
  *out_ndim = ndim;
  for (int i = 0; i < ndim - 1; i++) out[i] = in[i];
  out[ndim - 1] = cfg->n_out;
  return HN_OK;
}

static int64_t linear_n_params(const void *cfg_) {
  const hn_linear *cfg = cfg_;
  return cfg->n_out * cfg->n_in + (cfg->bias ? cfg->n_out : 0);
}

static hn_status linear_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                                  int64_t *out) {
  return shape_of(cfg, "linear", ndim, in, out_ndim, out);
}

static void linear_init_var(const void *cfg_, float *mean, float *var) {
  const hn_linear *cfg = cfg_;
  float vw = 1.0f / (float)(cfg->fan_out ? cfg->n_out : cfg->n_in);
  float vb = 1.0f / (3.0f * (float)cfg->n_in);
  hn_module_weight_bias_var(cfg->n_out * cfg->n_in, linear_n_params(cfg), vw, vb, mean, var);
}

static hn_status linear_forward(const void *cfg_, const float *w, const hn_tensor *x,
                                hn_tensor *y, float *ws, const hn_run *run) {
  const hn_linear *cfg = cfg_;
  const char *who = "linear forward";
  (void)ws, (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL (%lld parameters expected)", who,
                         (long long)linear_n_params(cfg));
  int64_t n = x->numel / cfg->n_in; /* rows: samples, or samples x steps */
  HN_TRY(hn_blas_gemm(who, false, true, n, cfg->n_out, cfg->n_in, 1.0f, x->data, w, 0.0f,
                      y->data));
  if (cfg->bias) hn_ops_add_row_bias(y->data, w + cfg->n_out * cfg->n_in, n, cfg->n_out);
  return HN_OK;
}

static hn_status linear_backward(const void *cfg_, const float *w, const hn_tensor *x,
                                 const hn_tensor *y, float *ws, const hn_tensor *dy,
                                 hn_tensor *dx, float *dw, const hn_run *run) {
  const hn_linear *cfg = cfg_;
  const char *who = "linear backward";
  (void)ws, (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  int64_t n = x->numel / cfg->n_in;
  if (dx)
    HN_TRY(hn_blas_gemm(who, false, false, n, cfg->n_in, cfg->n_out, 1.0f, dy->data, w, 0.0f,
                        dx->data));
  if (dw) {
    HN_TRY(hn_blas_gemm(who, true, false, cfg->n_out, cfg->n_in, n, 1.0f, dy->data, x->data,
                        1.0f, dw));
    if (cfg->bias) hn_ops_sum_rows_acc(dy->data, n, cfg->n_out, dw + cfg->n_out * cfg->n_in);
  }
  return HN_OK;
}

static int linear_param_slices(const void *cfg_, const char **names, int *ndims,
                               int64_t (*shapes)[4]) {
  const hn_linear *cfg = cfg_;
  return hn_module_weight_bias_slices(2, (const int64_t[]){cfg->n_out, cfg->n_in}, cfg->bias,
                                      cfg->n_out, names, ndims, shapes);
}

const hn_module_vt hn_linear_vt = {
    .name = "linear",
    .n_params = linear_n_params,
    .n_stats = hn_module_zero,
    .out_shape = linear_out_shape,
    .ws_size = hn_module_ws_none,
    .init_var = linear_init_var,
    .init_stats = NULL,
    .forward = linear_forward,
    .backward = linear_backward,
    .param_slices = linear_param_slices,
};
