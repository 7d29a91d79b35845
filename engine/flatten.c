/*
 * flatten.c — x [n, d1, ..., dk] -> y [n, d1·…·dk] (a copy; the net keeps a
 * buffer per layer boundary). Backward copies dy back into x's shape.
 */
#include "internal.h"
#include "ops.h"

static hn_status shape_of(const void *cfg, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  (void)cfg;
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (ndim < 2 || hn_shape_numel(ndim, in) < 0)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s, expected [n_batch, d1, ...] with 2 to 4 "
                   "non-negative dimensions", who,
                   hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s);
  int64_t f = 1;
  for (int i = 1; i < ndim; i++) f *= in[i];
  *out_ndim = 2;
  out[0] = in[0];
  out[1] = f;
  return HN_OK;
}

static hn_status flatten_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                                   int64_t *out) {
  return shape_of(cfg, "flatten", ndim, in, out_ndim, out);
}

static hn_status flatten_forward(const void *cfg, const float *w, const hn_tensor *x, hn_tensor *y,
                                 float *ws, const hn_run *run) {
  const char *who = "flatten forward";
  (void)w, (void)ws, (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  hn_ops_copy(y->data, x->data, x->numel);
  return HN_OK;
}

static hn_status flatten_backward(const void *cfg, const float *w, const hn_tensor *x,
                                  const hn_tensor *y, float *ws, const hn_tensor *dy,
                                  hn_tensor *dx, float *dw, const hn_run *run) {
  const char *who = "flatten backward";
  (void)w, (void)ws, (void)dw, (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, 0, x, y, dy, dx, &ond, out));
  if (!dx) return HN_OK;
  hn_ops_copy(dx->data, dy->data, dy->numel);
  return HN_OK;
}

const hn_module_vt hn_flatten_vt = {
    .name = "flatten",
    .n_params = hn_module_zero,
    .n_stats = hn_module_zero,
    .out_shape = flatten_out_shape,
    .ws_size = hn_module_ws_none,
    .init_var = hn_module_no_init_var,
    .init_stats = NULL,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .param_slices = hn_module_no_slices,
};
