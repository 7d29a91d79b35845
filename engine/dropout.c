/*
 * dropout.c — inverted dropout: in train mode each element is kept with
 * probability 1 - p and scaled by 1 / (1 - p); in eval mode (or p = 0) the
 * module is the identity. x [n, ...] -> y of the same shape.
 *
 * The mask is drawn serially from run->rng (one hn_rng_uniform per element,
 * in row-major order, so a seed and a shape fix the mask whatever the thread
 * count) and stored in ws as the per-element factor (0 or 1/(1-p)); backward
 * multiplies dy by it. Backward must be called with the same run mode as the
 * forward it follows. Train mode with p > 0 and run->rng NULL is HN_ERR_ARG.
 */
#include "internal.h"
#include "ops.h"

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_dropout *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (!(cfg->p >= 0.0f && cfg->p < 1.0f))
    return hn_fail(HN_ERR_ARG, "%s: drop probability p = %g; use 0 <= p < 1", who,
                   (double)cfg->p);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (hn_shape_numel(ndim, in) < 0)
    return hn_fail(HN_ERR_SHAPE, "%s: x has an invalid shape (%d dimensions); expected "
                   "[n_batch, ...] with 1 to 4 non-negative dimensions", who, ndim);
  *out_ndim = ndim;
  for (int i = 0; i < ndim; i++) out[i] = in[i];
  return HN_OK;
}

static hn_status dropout_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                                   int64_t *out) {
  return shape_of(cfg, "dropout", ndim, in, out_ndim, out);
}

/* One mask factor per element. */
static int64_t dropout_ws_size(const void *cfg, int ndim, const int64_t *in) {
  (void)cfg;
  int64_t n = hn_shape_numel(ndim, in);
  return n < 0 ? 0 : n;
}

static bool active(const hn_dropout *cfg, const hn_run *run) {
  return run && run->train && cfg->p > 0.0f;
}

static hn_status dropout_forward(const void *cfg_, const float *w, const hn_tensor *x,
                                 hn_tensor *y, float *ws, const hn_run *run) {
  const hn_dropout *cfg = cfg_;
  const char *who = "dropout forward";
  (void)w;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  int64_t n = x->numel;
  if (!active(cfg, run)) {
    hn_ops_copy(y->data, x->data, n);
    return HN_OK;
  }
  if (!run->rng)
    return hn_fail(HN_ERR_ARG, "%s: train mode with p = %g needs run->rng (a seeded hn_rng "
                   "stream for the mask)", who, (double)cfg->p);
  if (!ws && n > 0) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (mask scratch)", who);
  float p = cfg->p, scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; i++) ws[i] = hn_rng_uniform(run->rng) >= p ? scale : 0.0f;
  const float *xd = x->data;
  float *yd = y->data;
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) yd[i] = xd[i] * ws[i];
  return HN_OK;
}

static hn_status dropout_backward(const void *cfg_, const float *w, const hn_tensor *x,
                                  const hn_tensor *y, float *ws, const hn_tensor *dy,
                                  hn_tensor *dx, float *dw, const hn_run *run) {
  const hn_dropout *cfg = cfg_;
  const char *who = "dropout backward";
  (void)w, (void)dw;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, 0, x, y, dy, dx, &ond, out));
  if (!dx) return HN_OK;
  int64_t n = dy->numel;
  if (!active(cfg, run)) {
    hn_ops_copy(dx->data, dy->data, n);
    return HN_OK;
  }
  if (!ws && n > 0) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (mask scratch)", who);
  const float *g = dy->data;
  float *d = dx->data;
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) d[i] = g[i] * ws[i];
  return HN_OK;
}

const hn_module_vt hn_dropout_vt = {
    .name = "dropout",
    .n_params = hn_module_zero,
    .n_stats = hn_module_zero,
    .out_shape = dropout_out_shape,
    .ws_size = dropout_ws_size,
    .init_var = hn_module_no_init_var,
    .init_stats = NULL,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .param_slices = hn_module_no_slices,
};
