/*
 * optim.c — Adam and SGD with momentum over one flat parameter vector.
 *
 * The update of element i depends only on element i (and on the step count),
 * so the loops are parallel over elements and their results are bitwise
 * independent of the thread count. hn_optim_step, hn_optim_delta and
 * hn_optim_lookahead share the same per-element arithmetic (adam_update /
 * sgd_update), which is what makes the look-ahead exactly the step that
 * would be taken: the step and the look-ahead compute param - u, the delta
 * -u, and param + (-u) == param - u in IEEE arithmetic.
 *
 * Adam (Kingma & Ba, bias-corrected), with g = grad + weight_decay * param:
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  t += 1
 *   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * (PyTorch's torch.optim.Adam, the reference code's optimiser).
 * SGD (PyTorch's convention, no dampening):
 *   v = momentum v + g;  param -= lr v
 */
#include "optim.h"
#include "internal.h"

#include <math.h>
#include <string.h>

struct hn_optim {
  hn_optim_cfg cfg;
  int64_t n;
  int64_t t;       /* steps taken */
  int64_t n_state; /* floats in state */
  float *state;    /* Adam: m [n] then v [n]; SGD: velocity [n] */
};

hn_optim_cfg hn_optim_defaults(hn_optim_kind kind) {
  hn_optim_cfg c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.eps = 1e-8f;
  c.lr = kind == HN_OPTIM_ADAM ? 1e-3f : 1e-2f;
  c.momentum = 0.0f;
  c.weight_decay = 0.0f;
  return c;
}

static hn_status check_cfg(const char *who, const hn_optim_cfg *c) {
  if (c->kind != HN_OPTIM_ADAM && c->kind != HN_OPTIM_SGD)
    return hn_fail(HN_ERR_ARG, "%s: unknown optimiser kind %d; use HN_OPTIM_ADAM or HN_OPTIM_SGD",
                   who, (int)c->kind);
  if (!(c->lr >= 0.0f) || !isfinite(c->lr))
    return hn_fail(HN_ERR_ARG, "%s: lr = %g; use a finite learning rate >= 0", who, (double)c->lr);
  if (!(c->weight_decay >= 0.0f) || !isfinite(c->weight_decay))
    return hn_fail(HN_ERR_ARG, "%s: weight_decay = %g; use a finite value >= 0", who,
                   (double)c->weight_decay);
  if (c->kind == HN_OPTIM_ADAM) {
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
      return hn_fail(HN_ERR_ARG, "%s: Adam betas (%g, %g) must lie in [0, 1)", who,
                     (double)c->beta1, (double)c->beta2);
    if (!(c->eps > 0.0f) || !isfinite(c->eps))
      return hn_fail(HN_ERR_ARG, "%s: Adam eps = %g; use a finite value > 0 (default 1e-8)", who,
                     (double)c->eps);
  } else if (!(c->momentum >= 0.0f && c->momentum < 1.0f)) {
    return hn_fail(HN_ERR_ARG, "%s: SGD momentum = %g; use a value in [0, 1)", who,
                   (double)c->momentum);
  }
  return HN_OK;
}

hn_status hn_optim_new(hn_optim **out, int64_t n, const hn_optim_cfg *cfg) {
  static const char who[] = "hn_optim_new";
  if (!out || !cfg) return hn_fail(HN_ERR_ARG, "%s: out or cfg is NULL", who);
  if (n < 1) return hn_fail(HN_ERR_ARG, "%s: n = %lld parameters; use n >= 1", who, (long long)n);
  HN_TRY(check_cfg(who, cfg));
  int64_t n_state = cfg->kind == HN_OPTIM_ADAM ? 2 * n : n;
  if ((uint64_t)n_state > SIZE_MAX / sizeof(float))
    return hn_fail(HN_ERR_ARG, "%s: n = %lld parameters is too large", who, (long long)n);
  hn_optim *o = hn_calloc(sizeof *o);
  if (!o) return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate the optimiser", who);
  o->state = hn_calloc((size_t)n_state * sizeof(float));
  if (!o->state) {
    hn_free(o);
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate %lld floats of optimiser state", who,
                   (long long)n_state);
  }
  o->cfg = *cfg;
  o->n = n;
  o->t = 0;
  o->n_state = n_state;
  *out = o;
  return HN_OK;
}

void hn_optim_free(hn_optim *o) {
  if (!o) return;
  hn_free(o->state);
  hn_free(o);
}

int64_t hn_optim_n(const hn_optim *o) { return o ? o->n : 0; }

const hn_optim_cfg *hn_optim_config(const hn_optim *o) { return o ? &o->cfg : NULL; }

hn_status hn_optim_set_lr(hn_optim *o, float lr) {
  if (!o) return hn_fail(HN_ERR_ARG, "hn_optim_set_lr: optimiser is NULL");
  if (!(lr >= 0.0f) || !isfinite(lr))
    return hn_fail(HN_ERR_ARG, "hn_optim_set_lr: lr = %g; use a finite learning rate >= 0",
                   (double)lr);
  o->cfg.lr = lr;
  return HN_OK;
}

/* ---- the per-element updates ------------------------------------------------ */

/* Constants of one Adam step t (1-based): the step size lr / (1 - b1^t) and
 * sqrt(1 - b2^t) in double, then rounded once. */
typedef struct adam_k {
  float b1, b2, c1, c2, eps, wd; /* c1 = 1 - b1, c2 = 1 - b2 */
  float step, sbc2;              /* lr / (1 - b1^t), sqrt(1 - b2^t) */
} adam_k;

static adam_k adam_consts(const hn_optim_cfg *c, int64_t t) {
  adam_k k;
  k.b1 = c->beta1;
  k.b2 = c->beta2;
  k.c1 = 1.0f - c->beta1;
  k.c2 = 1.0f - c->beta2;
  k.eps = c->eps;
  k.wd = c->weight_decay;
  k.step = (float)((double)c->lr / (1.0 - pow((double)c->beta1, (double)t)));
  k.sbc2 = (float)sqrt(1.0 - pow((double)c->beta2, (double)t));
  return k;
}

/* New moments for element i, and the amount u subtracted from param:
 * u = step·m / (sqrt(v) / sqrt(1 - b2^t) + eps), PyTorch's order of
 * operations (two divisions and a square root per element, the loop's
 * cost on a core that is not waiting for memory). */
static inline float adam_update(const adam_k *k, float p, float g, float m, float v, float *m_new,
                                float *v_new) {
  g += k->wd * p;
  float mn = k->b1 * m + k->c1 * g;
  float vn = k->b2 * v + k->c2 * (g * g);
  *m_new = mn;
  *v_new = vn;
  return k->step * (mn / (sqrtf(vn) / k->sbc2 + k->eps));
}

static inline float sgd_update(const hn_optim_cfg *c, float p, float g, float vel, float *vel_new) {
  g += c->weight_decay * p;
  float vn = c->momentum * vel + g;
  *vel_new = vn;
  return c->lr * vn;
}

static hn_status check_step_args(const char *who, const hn_optim *o, const float *param,
                                 const float *grad, const float *out) {
  if (!o) return hn_fail(HN_ERR_ARG, "%s: optimiser is NULL", who);
  if (!param || !grad || !out)
    return hn_fail(HN_ERR_ARG, "%s: param, grad or output is NULL (each must hold %lld floats)",
                   who, (long long)o->n);
  return HN_OK;
}

/* Adam over [lo, hi): the step into param, m and v. */
HN_SIMD_CLONES static void adam_step_range(const adam_k *k, float *param, const float *grad,
                                           float *m, float *v, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    float u = adam_update(k, param[i], grad[i], m[i], v[i], &m[i], &v[i]);
    param[i] -= u;
  }
}

/* Adam over [lo, hi) without a step: -u into out (delta), or param - u
 * (look-ahead: the parameters the step would leave, the same bits as the
 * step's param[i] -= u). Nothing else written. */
static inline __attribute__((always_inline)) void
adam_ahead(const adam_k *k, const float *param, const float *grad, const float *m, const float *v,
           float *out, int64_t lo, int64_t hi, bool with_param) {
  for (int64_t i = lo; i < hi; i++) {
    float mn, vn;
    float u = adam_update(k, param[i], grad[i], m[i], v[i], &mn, &vn);
    out[i] = with_param ? param[i] - u : -u;
  }
}
HN_SIMD_CLONES static void adam_delta_range(const adam_k *k, const float *param,
                                            const float *grad, const float *m, const float *v,
                                            float *delta, int64_t lo, int64_t hi) {
  adam_ahead(k, param, grad, m, v, delta, lo, hi, false);
}
HN_SIMD_CLONES static void adam_lookahead_range(const adam_k *k, const float *param,
                                                const float *grad, const float *m, const float *v,
                                                float *out, int64_t lo, int64_t hi) {
  adam_ahead(k, param, grad, m, v, out, lo, hi, true);
}

/* Blocks of the parallel Adam loops (each block runs one clone's loop). */
#define ADAM_BLOCK 4096

hn_status hn_optim_step(hn_optim *o, float *param, const float *grad) {
  HN_TRY(check_step_args("hn_optim_step", o, param, grad, param));
  int64_t n = o->n;
  if (o->cfg.kind == HN_OPTIM_ADAM) {
    adam_k k = adam_consts(&o->cfg, o->t + 1);
    float *m = o->state, *v = o->state + n;
    int64_t nb = (n + ADAM_BLOCK - 1) / ADAM_BLOCK;
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK / 8)
    for (int64_t b = 0; b < nb; b++)
      adam_step_range(&k, param, grad, m, v, b * ADAM_BLOCK, HN_MIN(n, (b + 1) * ADAM_BLOCK));
  } else {
    const hn_optim_cfg *c = &o->cfg;
    float *vel = o->state;
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK / 4)
    for (int64_t i = 0; i < n; i++) {
      float u = sgd_update(c, param[i], grad[i], vel[i], &vel[i]);
      param[i] -= u;
    }
  }
  o->t++;
  return HN_OK;
}

/* delta (with_param false) or look-ahead (true) into out; state unchanged. */
static hn_status ahead(const char *who, const hn_optim *o, const float *param, const float *grad,
                       float *out, bool with_param) {
  HN_TRY(check_step_args(who, o, param, grad, out));
  int64_t n = o->n;
  if (o->cfg.kind == HN_OPTIM_ADAM) {
    adam_k k = adam_consts(&o->cfg, o->t + 1);
    const float *m = o->state, *v = o->state + n;
    int64_t nb = (n + ADAM_BLOCK - 1) / ADAM_BLOCK;
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK / 8)
    for (int64_t b = 0; b < nb; b++) {
      int64_t lo = b * ADAM_BLOCK, hi = HN_MIN(n, (b + 1) * ADAM_BLOCK);
      if (with_param)
        adam_lookahead_range(&k, param, grad, m, v, out, lo, hi);
      else
        adam_delta_range(&k, param, grad, m, v, out, lo, hi);
    }
  } else {
    const hn_optim_cfg *c = &o->cfg;
    const float *vel = o->state;
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK / 4)
    for (int64_t i = 0; i < n; i++) {
      float vn;
      float u = sgd_update(c, param[i], grad[i], vel[i], &vn);
      out[i] = with_param ? param[i] - u : -u;
    }
  }
  return HN_OK;
}

hn_status hn_optim_delta(const hn_optim *o, const float *param, const float *grad, float *delta) {
  return ahead("hn_optim_delta", o, param, grad, delta, false);
}

hn_status hn_optim_lookahead(const hn_optim *o, const float *param, const float *grad, float *out) {
  return ahead("hn_optim_lookahead", o, param, grad, out, true);
}

void hn_optim_reset(hn_optim *o) {
  if (!o) return;
  memset(o->state, 0, (size_t)o->n_state * sizeof(float));
  o->t = 0;
}

float *hn_optim_state(hn_optim *o, int64_t *n_floats) {
  if (!o) {
    if (n_floats) *n_floats = 0;
    return NULL;
  }
  if (n_floats) *n_floats = o->n_state;
  return o->state;
}

int64_t hn_optim_step_count(const hn_optim *o) { return o ? o->t : 0; }

void hn_optim_set_step_count(hn_optim *o, int64_t t) {
  if (o && t >= 0) o->t = t;
}
