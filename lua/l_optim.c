/*
 * l_optim.c — hnet.Optim: Adam and SGD with momentum over one flat vector.
 *
 *   local opt = hnet.adam{ n = theta:numel(), lr = 1e-3 }   -- or:
 *   local opt = hnet.adam(theta, { lr = 1e-3, weight_decay = 0 })
 *   local sgd = hnet.sgd{ n = 100, lr = 0.1, momentum = 0.9 }
 *   opt:step(theta, dtheta)          -- theta updated in place
 *   opt:delta(theta, dtheta, out)    -- the update the next step would add
 *                                    -- (state unchanged; out optional)
 *   opt:lookahead(theta, dtheta, out) -- theta + that update, in one pass
 *   opt:reset()  opt:lr()  opt:lr(new)  opt:step_count()  opt:n()  opt:kind()
 *   opt:state() -> a tensor copy of the moments (Adam: m then v; SGD: velocity)
 *   opt:set_state(t, step)
 */
#include "lhn.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct hnl_optim {
  hn_optim *o;
} hnl_optim;

static hnl_optim *check_optim(lua_State *L, int arg) {
  hnl_optim *u = luaL_checkudata(L, arg, HNL_OPTIM);
  if (!u->o) luaL_argerror(L, arg, "hnet.Optim has been freed");
  return u;
}

static int o_release(lua_State *L) {
  hnl_optim *u = luaL_checkudata(L, 1, HNL_OPTIM);
  hn_optim_free(u->o);
  u->o = NULL;
  return 0;
}

static const char *const adam_keys[] = {"n", "lr", "beta1", "beta2", "eps", "weight_decay", NULL};
static const char *const sgd_keys[] = {"n", "lr", "momentum", "weight_decay", NULL};

/* hnet.adam{n=..., ...} or hnet.adam(param_tensor, {...}). */
static int new_optim(lua_State *L, hn_optim_kind kind) {
  int opts;
  int64_t n;
  const char *const *keys = kind == HN_OPTIM_ADAM ? adam_keys : sgd_keys;
  if (luaL_testudata(L, 1, HNL_TENSOR)) {
    n = hnl_tensor_check(L, 1)->t.numel;
    opts = 2;
    hnl_check_options(L, opts, keys);
    if (lua_type(L, opts) == LUA_TTABLE) {
      lua_getfield(L, opts, "n");
      bool has_n = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (has_n)
        luaL_argerror(L, opts, "field 'n': not allowed when a parameter tensor gives the size");
    }
  } else {
    opts = 1;
    luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1, "options table or hnet.Tensor");
    hnl_check_options(L, opts, keys);
    lua_getfield(L, opts, "n");
    bool has_n = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!has_n)
      luaL_argerror(L, opts, "field 'n' (the number of parameters) is required");
    n = hnl_opt_int(L, opts, "n", 1, 1, INT64_MAX);
  }
  hn_optim_cfg c = hn_optim_defaults(kind);
  c.lr = (float)hnl_opt_number(L, opts, "lr", (double)c.lr, 0.0, DBL_MAX);
  c.weight_decay = (float)hnl_opt_number(L, opts, "weight_decay", (double)c.weight_decay, 0.0, DBL_MAX);
  if (kind == HN_OPTIM_ADAM) {
    c.beta1 = (float)hnl_opt_number(L, opts, "beta1", (double)c.beta1, 0.0, 0.999999);
    c.beta2 = (float)hnl_opt_number(L, opts, "beta2", (double)c.beta2, 0.0, 0.999999999);
    c.eps = (float)hnl_opt_number(L, opts, "eps", (double)c.eps, (double)FLT_MIN, DBL_MAX);
  } else {
    c.momentum = (float)hnl_opt_number(L, opts, "momentum", (double)c.momentum, 0.0, 0.999999);
  }
  hnl_optim *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, HNL_OPTIM);
  hnl_check(L, hn_optim_new(&u->o, n, &c));
  int64_t nf = 0;
  hn_optim_state(u->o, &nf);
  hnl_gc_pace(L, (size_t)nf * sizeof(float));
  return 1;
}

static int l_adam(lua_State *L) { return new_optim(L, HN_OPTIM_ADAM); }
static int l_sgd(lua_State *L) { return new_optim(L, HN_OPTIM_SGD); }

static int optim_step(lua_State *L) {
  hnl_optim *u = check_optim(L, 1);
  int64_t n = hn_optim_n(u->o);
  hnl_tensor *p = hnl_tensor_check_numel(L, 2, n, "param");
  hnl_tensor *g = hnl_tensor_check_numel(L, 3, n, "grad");
  hnl_check(L, hn_optim_step(u->o, p->t.data, g->t.data));
  return 0;
}

/* delta or lookahead: (param, grad, out?) -> out, a new tensor when absent */
static int optim_ahead(lua_State *L, bool with_param) {
  hnl_optim *u = check_optim(L, 1);
  int64_t n = hn_optim_n(u->o);
  hnl_tensor *p = hnl_tensor_check_numel(L, 2, n, "param");
  hnl_tensor *g = hnl_tensor_check_numel(L, 3, n, "grad");
  hnl_tensor *out;
  if (lua_isnoneornil(L, 4)) {
    lua_settop(L, 3);
    out = hnl_tensor_push_new(L, p->t.ndim, p->t.shape);
  } else {
    out = hnl_tensor_check_numel(L, 4, n, "out");
    lua_settop(L, 4);
  }
  if (with_param)
    hnl_check(L, hn_optim_lookahead(u->o, p->t.data, g->t.data, out->t.data));
  else
    hnl_check(L, hn_optim_delta(u->o, p->t.data, g->t.data, out->t.data));
  return 1;
}

static int optim_delta(lua_State *L) { return optim_ahead(L, false); }
static int optim_lookahead(lua_State *L) { return optim_ahead(L, true); }

static int optim_reset(lua_State *L) {
  hn_optim_reset(check_optim(L, 1)->o);
  return 0;
}

static int optim_lr(lua_State *L) {
  hnl_optim *u = check_optim(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    double lr = luaL_checknumber(L, 2);
    luaL_argcheck(L, lr >= 0 && isfinite(lr), 2, "learning rate must be finite and >= 0");
    hnl_check(L, hn_optim_set_lr(u->o, (float)lr));
  }
  lua_pushnumber(L, (lua_Number)hn_optim_config(u->o)->lr);
  return 1;
}

static int optim_state(lua_State *L) {
  hnl_optim *u = check_optim(L, 1);
  int64_t nf = 0;
  float *s = hn_optim_state(u->o, &nf);
  hnl_tensor *t = hnl_tensor_push_new(L, 1, &nf);
  hn_ops_copy(t->t.data, s, nf);
  lua_pushinteger(L, hn_optim_step_count(u->o));
  return 2;
}

static int optim_set_state(lua_State *L) {
  hnl_optim *u = check_optim(L, 1);
  int64_t nf = 0;
  float *s = hn_optim_state(u->o, &nf);
  hnl_tensor *t = hnl_tensor_check_numel(L, 2, nf, "state");
  lua_Integer step = luaL_checkinteger(L, 3);
  luaL_argcheck(L, step >= 0, 3, "step count must be >= 0");
  luaL_argcheck(L, hn_ops_all_finite(t->t.data, nf), 2, "state holds NaN or Inf");
  hn_ops_copy(s, t->t.data, nf);
  hn_optim_set_step_count(u->o, step);
  return 0;
}

static int optim_step_count(lua_State *L) {
  lua_pushinteger(L, hn_optim_step_count(check_optim(L, 1)->o));
  return 1;
}

static int optim_n(lua_State *L) {
  lua_pushinteger(L, hn_optim_n(check_optim(L, 1)->o));
  return 1;
}

static int optim_kind(lua_State *L) {
  lua_pushstring(L, hn_optim_config(check_optim(L, 1)->o)->kind == HN_OPTIM_ADAM ? "adam" : "sgd");
  return 1;
}

static int optim_config(lua_State *L) {
  const hn_optim_cfg *c = hn_optim_config(check_optim(L, 1)->o);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, c->kind == HN_OPTIM_ADAM ? "adam" : "sgd");
  lua_setfield(L, -2, "kind");
  lua_pushnumber(L, (lua_Number)c->lr);
  lua_setfield(L, -2, "lr");
  lua_pushnumber(L, (lua_Number)c->weight_decay);
  lua_setfield(L, -2, "weight_decay");
  if (c->kind == HN_OPTIM_ADAM) {
    lua_pushnumber(L, (lua_Number)c->beta1);
    lua_setfield(L, -2, "beta1");
    lua_pushnumber(L, (lua_Number)c->beta2);
    lua_setfield(L, -2, "beta2");
    lua_pushnumber(L, (lua_Number)c->eps);
    lua_setfield(L, -2, "eps");
  } else {
    lua_pushnumber(L, (lua_Number)c->momentum);
    lua_setfield(L, -2, "momentum");
  }
  return 1;
}

static int optim_tostring(lua_State *L) {
  hnl_optim *u = luaL_checkudata(L, 1, HNL_OPTIM);
  if (!u->o) {
    lua_pushliteral(L, "hnet.Optim (freed)");
    return 1;
  }
  const hn_optim_cfg *c = hn_optim_config(u->o);
  char lr[32];
  snprintf(lr, sizeof lr, "%g", (double)c->lr);
  lua_pushfstring(L, "hnet.Optim(%s, n=%I, lr=%s, step %I)", c->kind == HN_OPTIM_ADAM ? "adam" : "sgd",
                  (lua_Integer)hn_optim_n(u->o), lr, (lua_Integer)hn_optim_step_count(u->o));
  return 1;
}

static const luaL_Reg methods[] = {
    {"step", optim_step},           {"delta", optim_delta}, {"lookahead", optim_lookahead},
    {"reset", optim_reset},
    {"lr", optim_lr},               {"state", optim_state}, {"set_state", optim_set_state},
    {"step_count", optim_step_count}, {"n", optim_n},       {"kind", optim_kind},
    {"config", optim_config},       {"free", o_release}, {NULL, NULL},
};

static const luaL_Reg funcs[] = {{"adam", l_adam}, {"sgd", l_sgd}, {NULL, NULL}};

void hnl_open_optim(lua_State *L) {
  if (luaL_newmetatable(L, HNL_OPTIM)) {
    lua_pushcfunction(L, o_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, o_release);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, optim_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
