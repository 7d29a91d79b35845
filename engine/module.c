/*
 * module.c — what the module files (linear.c, conv2d.c, pool.c, act.c,
 * dropout.c, batchnorm.c, flatten.c) share: the checks of a forward or
 * backward call's tensors, the parameter slices and normal-init variances of
 * a "weight then optional bias" module, and the vtable entries of a module
 * without parameters, statistics or scratch. Declared in internal.h.
 */
#include "internal.h"

/* t must be exactly `shape`; the message names x (if given) as the cause. */
hn_status hn_module_check_tensor(const char *who, const char *what, const hn_tensor *t, int ndim,
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

hn_status hn_module_check_x(hn_module_shape_fn shape_of, const void *cfg, const char *who,
                            const hn_tensor *x, bool need_data, int *out_ndim, int64_t *out) {
  if (!x) return hn_fail(HN_ERR_ARG, "%s: x is NULL", who);
  HN_TRY(shape_of(cfg, who, x->ndim, x->shape, out_ndim, out));
  if (need_data && !x->data && x->numel > 0)
    return hn_fail(HN_ERR_ARG, "%s: x has no data", who);
  return HN_OK;
}

hn_status hn_module_check_forward(hn_module_shape_fn shape_of, const void *cfg, const char *who,
                                  const hn_tensor *x, const hn_tensor *y, int *out_ndim,
                                  int64_t *out) {
  HN_TRY(hn_module_check_x(shape_of, cfg, who, x, true, out_ndim, out));
  return hn_module_check_tensor(who, "y", y, *out_ndim, out, x);
}

hn_status hn_module_check_backward(hn_module_shape_fn shape_of, const void *cfg, const char *who,
                                   unsigned need, const hn_tensor *x, const hn_tensor *y,
                                   const hn_tensor *dy, const hn_tensor *dx, int *out_ndim,
                                   int64_t *out) {
  HN_TRY(hn_module_check_x(shape_of, cfg, who, x, (need & HN_MODULE_NEED_X_DATA) != 0, out_ndim,
                           out));
  if (y || (need & HN_MODULE_NEED_Y)) HN_TRY(hn_module_check_tensor(who, "y", y, *out_ndim, out, x));
  HN_TRY(hn_module_check_tensor(who, "dy", dy, *out_ndim, out, x));
  if (dx) HN_TRY(hn_module_check_tensor(who, "dx", dx, x->ndim, x->shape, x));
  return HN_OK;
}

int hn_module_weight_bias_slices(int w_ndim, const int64_t *w_shape, bool bias, int64_t n_bias,
                                 const char **names, int *ndims, int64_t (*shapes)[4]) {
  names[0] = "weight";
  ndims[0] = w_ndim;
  for (int i = 0; i < w_ndim; i++) shapes[0][i] = w_shape[i];
  if (!bias) return 1;
  names[1] = "bias";
  ndims[1] = 1;
  shapes[1][0] = n_bias;
  return 2;
}

void hn_module_weight_bias_var(int64_t n_weight, int64_t n, float var_weight, float var_bias,
                               float *mean, float *var) {
  for (int64_t i = 0; i < n; i++) {
    if (mean) mean[i] = 0.0f;
    var[i] = i < n_weight ? var_weight : var_bias;
  }
}

int64_t hn_module_zero(const void *cfg) {
  (void)cfg;
  return 0;
}

int64_t hn_module_ws_none(const void *cfg, int ndim, const int64_t *in) {
  (void)cfg, (void)ndim, (void)in;
  return 0;
}

void hn_module_no_init_var(const void *cfg, float *mean, float *var) {
  (void)cfg, (void)mean, (void)var;
}

int hn_module_no_slices(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]) {
  (void)cfg, (void)names, (void)ndims, (void)shapes;
  return 0;
}

hn_status hn_module_check_lengths(const char *who, const int64_t *lengths, int64_t n, int64_t T) {
  if (!lengths) return HN_OK;
  for (int64_t b = 0; b < n; b++)
    if (lengths[b] < 1 || lengths[b] > T)
      return hn_fail(HN_ERR_ARG, "%s: lengths[%lld] = %lld; each sample's length must be in 1..%lld "
                     "(T, the steps of x); steps beyond a length are padding",
                     who, (long long)b, (long long)lengths[b], (long long)T);
  return HN_OK;
}

int64_t hn_module_store_lengths(float *L, const int64_t *lengths, int64_t n, int64_t T) {
  int64_t longest = 0;
  for (int64_t b = 0; b < n; b++) {
    int64_t len = lengths ? lengths[b] : T;
    L[b] = (float)len;
    longest = HN_MAX(longest, len);
  }
  return longest;
}

hn_status hn_module_same_lengths(const char *who, const float *L, const int64_t *lengths,
                                 int64_t n) {
  if (!lengths) return HN_OK;
  for (int64_t b = 0; b < n; b++)
    if ((float)lengths[b] != L[b])
      return hn_fail(HN_ERR_ARG, "%s: lengths[%lld] = %lld, but the forward ran with %lld; "
                     "backward goes through the forward's lengths (pass the same or none)",
                     who, (long long)b, (long long)lengths[b], (long long)L[b]);
  return HN_OK;
}
