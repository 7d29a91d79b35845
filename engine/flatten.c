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

/* t must be exactly `shape`; the message names x (if given) as the cause. */
static hn_status check_tensor(const char *who, const char *what, const hn_tensor *t, int ndim,
                              const int64_t *shape, const hn_tensor *x) {
  if (!t) return hn_fail(HN_ERR_ARG, "%s: %s is NULL", who, what);
  bool same = t->ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
  if (!same)
    return hn_fail(HN_ERR_SHAPE, "%s: %s is %s, expected %s%s%s%s", who, what, hn_tensor_str(t),
                   hn_shape_fmt(ndim, shape).s, x ? " (x is " : "", x ? hn_tensor_str(x) : "",
                   x ? ")" : "");
  if (!t->data && t->numel > 0) return hn_fail(HN_ERR_ARG, "%s: %s has no data", who, what);
  return HN_OK;
}

static int64_t flatten_zero(const void *cfg) {
  (void)cfg;
  return 0;
}

static hn_status flatten_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                                   int64_t *out) {
  return shape_of(cfg, "flatten", ndim, in, out_ndim, out);
}

static int64_t flatten_ws_size(const void *cfg, int ndim, const int64_t *in) {
  (void)cfg, (void)ndim, (void)in;
  return 0;
}

static void flatten_init_var(const void *cfg, float *mean, float *var) {
  (void)cfg, (void)mean, (void)var;
}

static hn_status flatten_forward(const void *cfg, const float *w, const hn_tensor *x, hn_tensor *y,
                                 float *ws, const hn_run *run) {
  const char *who = "flatten forward";
  (void)w, (void)ws, (void)run;
  int ond;
  int64_t out[4];
  if (!x) return hn_fail(HN_ERR_ARG, "%s: x is NULL", who);
  HN_TRY(shape_of(cfg, who, x->ndim, x->shape, &ond, out));
  HN_TRY(check_tensor(who, "x", x, x->ndim, x->shape, NULL));
  HN_TRY(check_tensor(who, "y", y, ond, out, x));
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
  if (!x) return hn_fail(HN_ERR_ARG, "%s: x is NULL", who);
  HN_TRY(shape_of(cfg, who, x->ndim, x->shape, &ond, out));
  if (y) HN_TRY(check_tensor(who, "y", y, ond, out, x));
  HN_TRY(check_tensor(who, "dy", dy, ond, out, x));
  if (!dx) return HN_OK;
  HN_TRY(check_tensor(who, "dx", dx, x->ndim, x->shape, x));
  hn_ops_copy(dx->data, dy->data, dy->numel);
  return HN_OK;
}

static int flatten_param_slices(const void *cfg, const char **names, int *ndims,
                                int64_t (*shapes)[4]) {
  (void)cfg, (void)names, (void)ndims, (void)shapes;
  return 0;
}

const hn_module_vt hn_flatten_vt = {
    .name = "flatten",
    .n_params = flatten_zero,
    .n_stats = flatten_zero,
    .out_shape = flatten_out_shape,
    .ws_size = flatten_ws_size,
    .init_var = flatten_init_var,
    .init_stats = NULL,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .param_slices = flatten_param_slices,
};
