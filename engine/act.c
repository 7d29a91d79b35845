/*
 * act.c — elementwise activations as a module (ReLU, tanh, sigmoid, ELU,
 * identity). Any shape [n, ...]; y has x's shape. No parameters, no scratch:
 * backward reads x (ReLU, ELU) or y (tanh, sigmoid, ELU) from the caller.
 *
 *   ELU: y = x for x > 0, alpha (e^x - 1) otherwise.
 */
#include "internal.h"
#include "ops.h"

static const char *kind_name(hn_act_kind kind) {
  switch (kind) {
    case HN_ACT_RELU: return "relu";
    case HN_ACT_TANH: return "tanh";
    case HN_ACT_SIGMOID: return "sigmoid";
    case HN_ACT_ELU: return "elu";
    case HN_ACT_IDENTITY: return "identity";
  }
  return "?";
}

static hn_status shape_of(const hn_act *cfg, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if ((int)cfg->kind < (int)HN_ACT_RELU || (int)cfg->kind > (int)HN_ACT_IDENTITY)
    return hn_fail(HN_ERR_ARG, "%s: unknown activation kind %d (use HN_ACT_RELU, _TANH, "
                   "_SIGMOID, _ELU or _IDENTITY)", who, (int)cfg->kind);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (hn_shape_numel(ndim, in) < 0)
    return hn_fail(HN_ERR_SHAPE, "%s (%s): x has an invalid shape (%d dimensions); expected "
                   "[n_batch, ...] with 1 to 4 non-negative dimensions",
                   who, kind_name(cfg->kind), ndim);
  *out_ndim = ndim;
  for (int i = 0; i < ndim; i++) out[i] = in[i];
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

static int64_t act_zero(const void *cfg) {
  (void)cfg;
  return 0;
}

static hn_status act_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                               int64_t *out) {
  return shape_of(cfg, "act", ndim, in, out_ndim, out);
}

static int64_t act_ws_size(const void *cfg, int ndim, const int64_t *in) {
  (void)cfg, (void)ndim, (void)in;
  return 0;
}

static void act_init_var(const void *cfg, float *mean, float *var) {
  (void)cfg, (void)mean, (void)var;
}

static hn_status act_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                             float *ws, const hn_run *run) {
  const hn_act *cfg = cfg_;
  const char *who = "act forward";
  (void)w, (void)ws, (void)run;
  int ond;
  int64_t out[4];
  if (!x) return hn_fail(HN_ERR_ARG, "%s: x is NULL", who);
  HN_TRY(shape_of(cfg, who, x->ndim, x->shape, &ond, out));
  HN_TRY(check_tensor(who, "x", x, ond, out, NULL));
  HN_TRY(check_tensor(who, "y", y, ond, out, x));
  hn_ops_act_forward(cfg->kind, cfg->alpha, x->data, y->data, x->numel);
  return HN_OK;
}

static hn_status act_backward(const void *cfg_, const float *w, const hn_tensor *x,
                              const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                              float *dw, const hn_run *run) {
  const hn_act *cfg = cfg_;
  const char *who = "act backward";
  (void)w, (void)ws, (void)dw, (void)run;
  int ond;
  int64_t out[4];
  if (!x) return hn_fail(HN_ERR_ARG, "%s: x is NULL", who);
  HN_TRY(shape_of(cfg, who, x->ndim, x->shape, &ond, out));
  HN_TRY(check_tensor(who, "x", x, ond, out, NULL));
  bool need_y = cfg->kind == HN_ACT_TANH || cfg->kind == HN_ACT_SIGMOID || cfg->kind == HN_ACT_ELU;
  if (y || need_y) HN_TRY(check_tensor(who, "y", y, ond, out, x));
  HN_TRY(check_tensor(who, "dy", dy, ond, out, x));
  if (!dx) return HN_OK;
  HN_TRY(check_tensor(who, "dx", dx, ond, out, x));
  hn_ops_act_backward(cfg->kind, cfg->alpha, x->data, y ? y->data : NULL, dy->data, dx->data,
                      x->numel);
  return HN_OK;
}

static int act_param_slices(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]) {
  (void)cfg, (void)names, (void)ndims, (void)shapes;
  return 0;
}

const hn_module_vt hn_act_vt = {
    .name = "act",
    .n_params = act_zero,
    .n_stats = act_zero,
    .out_shape = act_out_shape,
    .ws_size = act_ws_size,
    .init_var = act_init_var,
    .init_stats = NULL,
    .forward = act_forward,
    .backward = act_backward,
    .param_slices = act_param_slices,
};
