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

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_act *cfg = cfg_;
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

static hn_status act_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                               int64_t *out) {
  return shape_of(cfg, "act", ndim, in, out_ndim, out);
}

static hn_status act_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                             float *ws, const hn_run *run) {
  const hn_act *cfg = cfg_;
  const char *who = "act forward";
  (void)w, (void)ws, (void)run;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
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
  /* tanh, sigmoid and ELU read y; a NULL cfg is reported by shape_of */
  bool need_y = cfg && (cfg->kind == HN_ACT_TANH || cfg->kind == HN_ACT_SIGMOID ||
                        cfg->kind == HN_ACT_ELU);
  HN_TRY(hn_module_check_backward(shape_of, cfg, who,
                                  HN_MODULE_NEED_X_DATA | (need_y ? HN_MODULE_NEED_Y : 0), x, y,
                                  dy, dx, &ond, out));
  if (!dx) return HN_OK;
  hn_ops_act_backward(cfg->kind, cfg->alpha, x->data, y ? y->data : NULL, dy->data, dx->data,
                      x->numel);
  return HN_OK;
}

const hn_module_vt hn_act_vt = {
    .name = "act",
    .n_params = hn_module_zero,
    .n_stats = hn_module_zero,
    .out_shape = act_out_shape,
    .ws_size = hn_module_ws_none,
    .init_var = hn_module_no_init_var,
    .init_stats = NULL,
    .forward = act_forward,
    .backward = act_backward,
    .param_slices = hn_module_no_slices,
};
