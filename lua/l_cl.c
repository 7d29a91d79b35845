/*
 * l_cl.c — hnet.cl: the per-weight kernels of the continual-learning methods
 * (engine/cl.h). The training loops that use them live in Lua.
 *
 *   hnet.cl.output_reg(W, W_star, beta, dW)        -> loss   (hypernetwork regulariser)
 *       W, W_star [n_tasks, n_out] (or [n_out] for one task); dW (optional,
 *       same size) accumulates 2 beta / n_tasks (W - W*).
 *   hnet.cl.quad_penalty(theta, theta_star, F, lambda, dtheta) -> loss   (EWC, SI)
 *       lambda/2 Σ F (θ - θ*)²; dtheta (optional) accumulates λ F (θ - θ*).
 *   hnet.cl.fisher_acc(F, g, scale)                  F += scale g²
 *   hnet.cl.fisher_merge(F_total, F_task, gamma)     F_total = γ F_total + F_task
 *   hnet.cl.si_accumulate(omega_run, grad, delta)    omega_run -= grad ⊙ delta
 *   hnet.cl.si_consolidate(Omega, omega_run, theta, theta_start, xi)
 * Every tensor argument must have the same number of elements as the first.
 */
#include "lhn.h"

#include <math.h>

static hnl_tensor *same_n(lua_State *L, int arg, const hnl_tensor *first, const char *what) {
  return hnl_tensor_check_numel(L, arg, first->t.numel, what);
}

static float check_coef(lua_State *L, int arg, const char *what) {
  double v = luaL_checknumber(L, arg);
  if (!(v >= 0 && isfinite(v)))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be finite and >= 0", what));
  return (float)v;
}

static int l_output_reg(lua_State *L) {
  hnl_tensor *W = hnl_tensor_check(L, 1);
  hnl_tensor *Ws = hnl_tensor_check(L, 2);
  if (!hn_tensor_same_shape(&W->t, &Ws->t))
    return luaL_error(L, "output_reg: W is %s but W_star is %s; they must match",
                      hn_tensor_str(&W->t), hn_tensor_str(&Ws->t));
  luaL_argcheck(L, W->t.ndim <= 2, 1, "W must be [n_tasks, n_out] or [n_out]");
  float beta = check_coef(L, 3, "beta");
  hnl_tensor *dW = lua_isnoneornil(L, 4) ? NULL : same_n(L, 4, W, "dW");
  int64_t n_tasks = W->t.ndim == 2 ? W->t.shape[0] : 1;
  int64_t n_out = W->t.ndim == 2 ? W->t.shape[1] : W->t.numel;
  float loss = 0.0f;
  hnl_check(L, hn_cl_output_reg(W->t.data, Ws->t.data, n_tasks, n_out, beta, &loss,
                                dW ? dW->t.data : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int l_quad_penalty(lua_State *L) {
  hnl_tensor *th = hnl_tensor_check(L, 1);
  hnl_tensor *ts = same_n(L, 2, th, "theta_star");
  hnl_tensor *F = same_n(L, 3, th, "F");
  float lambda = check_coef(L, 4, "lambda");
  hnl_tensor *d = lua_isnoneornil(L, 5) ? NULL : same_n(L, 5, th, "dtheta");
  float loss = 0.0f;
  hnl_check(L, hn_cl_quad_penalty(th->t.data, ts->t.data, F->t.data, th->t.numel, lambda, &loss,
                                  d ? d->t.data : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int l_fisher_acc(lua_State *L) {
  hnl_tensor *F = hnl_tensor_check(L, 1);
  hnl_tensor *g = same_n(L, 2, F, "g");
  double scale = luaL_checknumber(L, 3);
  luaL_argcheck(L, isfinite(scale), 3, "scale must be finite");
  hnl_check(L, hn_cl_fisher_acc(F->t.data, g->t.data, F->t.numel, (float)scale));
  return 0;
}

static int l_fisher_merge(lua_State *L) {
  hnl_tensor *Ft = hnl_tensor_check(L, 1);
  hnl_tensor *Fk = same_n(L, 2, Ft, "F_task");
  float gamma = check_coef(L, 3, "gamma");
  hnl_check(L, hn_cl_fisher_merge(Ft->t.data, Fk->t.data, Ft->t.numel, gamma));
  return 0;
}

static int l_si_accumulate(lua_State *L) {
  hnl_tensor *w = hnl_tensor_check(L, 1);
  hnl_tensor *g = same_n(L, 2, w, "grad");
  hnl_tensor *d = same_n(L, 3, w, "delta");
  hnl_check(L, hn_cl_si_accumulate(w->t.data, g->t.data, d->t.data, w->t.numel));
  return 0;
}

static int l_si_consolidate(lua_State *L) {
  hnl_tensor *big = hnl_tensor_check(L, 1);
  hnl_tensor *run = same_n(L, 2, big, "omega_run");
  hnl_tensor *th = same_n(L, 3, big, "theta");
  hnl_tensor *th0 = same_n(L, 4, big, "theta_start");
  double xi = luaL_checknumber(L, 5);
  luaL_argcheck(L, xi > 0 && isfinite(xi), 5, "xi must be finite and > 0");
  hnl_check(L, hn_cl_si_consolidate(big->t.data, run->t.data, th->t.data, th0->t.data,
                                    big->t.numel, (float)xi));
  return 0;
}

static const luaL_Reg cl_funcs[] = {
    {"output_reg", l_output_reg},       {"quad_penalty", l_quad_penalty},
    {"fisher_acc", l_fisher_acc},       {"fisher_merge", l_fisher_merge},
    {"si_accumulate", l_si_accumulate}, {"si_consolidate", l_si_consolidate},
    {NULL, NULL},
};

void hnl_open_cl(lua_State *L) {
  luaL_newlib(L, cl_funcs);
  lua_setfield(L, -2, "cl");
}
