/*
 * optim.h — Adam and SGD with momentum over one flat parameter vector.
 *
 * State lives in plain buffers (hn_optim_state) so that a checkpoint can save
 * and restore it bit for bit. Adam follows Kingma & Ba with bias correction;
 * defaults are the hypernetwork paper's (lr 1e-3, betas 0.9/0.999, eps 1e-8).
 * SGD: v = momentum v + g; p -= lr v (PyTorch's convention).
 * weight_decay adds weight_decay * p to the gradient (L2, not decoupled).
 */
#ifndef HN_OPTIM_H
#define HN_OPTIM_H

#include "base.h"

typedef enum hn_optim_kind { HN_OPTIM_ADAM, HN_OPTIM_SGD } hn_optim_kind;

typedef struct hn_optim_cfg {
  hn_optim_kind kind;
  float lr;
  float beta1, beta2, eps;  /* Adam */
  float momentum;           /* SGD (0 = plain SGD) */
  float weight_decay;
} hn_optim_cfg;

/* The defaults for a kind (Adam: 1e-3, 0.9, 0.999, 1e-8; SGD: 0.01, momentum 0). */
hn_optim_cfg hn_optim_defaults(hn_optim_kind kind);

typedef struct hn_optim hn_optim;

hn_status hn_optim_new(hn_optim **out, int64_t n, const hn_optim_cfg *cfg);
void hn_optim_free(hn_optim *o);
int64_t hn_optim_n(const hn_optim *o);
const hn_optim_cfg *hn_optim_config(const hn_optim *o);
hn_status hn_optim_set_lr(hn_optim *o, float lr);
/* One step: param (n floats) updated in place from grad (n floats). */
hn_status hn_optim_step(hn_optim *o, float *param, const float *grad);
/* The update the next step would add to param given grad (param_new =
 * param + delta), without changing any state: the look-ahead regulariser. */
hn_status hn_optim_delta(const hn_optim *o, const float *param, const float *grad, float *delta);
/* The parameters the next step would leave (out = param + delta, the same
 * bits as hn_optim_step's result), state unchanged: the look-ahead point in
 * one pass. */
hn_status hn_optim_lookahead(const hn_optim *o, const float *param, const float *grad, float *out);
/* Forget all state (moments zero, step count 0). */
void hn_optim_reset(hn_optim *o);
/* State for checkpoints: moments (Adam: m then v, 2n floats; SGD: velocity,
 * n floats) and the step count. The pointer is owned by the optimiser. */
float *hn_optim_state(hn_optim *o, int64_t *n_floats);
int64_t hn_optim_step_count(const hn_optim *o);
void hn_optim_set_step_count(hn_optim *o, int64_t t);

#endif
