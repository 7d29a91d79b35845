/*
 * l_hnet.c — hnet.HyperNet: W = h(e; θ), full or chunked.
 *
 *   local h = hnet.hypernet{ target = net (or outputs = n_W), embedding = 24,
 *     hidden = {25, 25}, act = "elu", alpha = 1, chunk = 4000 (0/nil = full),
 *     chunk_embedding = 8, max_tasks = 1 }
 *   h:n_params() h:n_out() h:n_emb() h:n_chunks() h:max_tasks() h:layout() h:config()
 *   h:init(theta, target_var, { emb_var = 1, rng = r, scheme = "hyperfan", max_h_l1 = 0 })
 *       -- target_var may be nil when the hypernetwork was built with target = net;
 *       -- scheme = "xavier" (hypercl's MNIST init) takes no target_var;
 *       -- max_h_l1 > 0 (hyperfan, for Adam): hn_hnet_init_capped
 *   h:embeddings(n, { var = 1, rng = r }) -> a new tensor [n, n_emb] ~ N(0, var)
 *   local W = h:forward(theta, E, { out = W })  -- E [n_tasks, n_emb] -> W [n_tasks, n_out]
 *                                               -- (E [n_emb] -> W [n_out])
 *   h:backward(theta, dW, dtheta, dE)           -- dtheta, dE ACCUMULATED (either may be nil)
 *   h:output_reg(theta, E, { targets = Wstar, rows = {i, ...}, beta = b, dtheta = d })
 *   h:output_reg(theta, E, { theta_star = ts, beta = b, dtheta = d })
 *       -- β/n Σ_t ‖h(E_t; θ) − W*_t‖², W*_t stored (row rows[t] of Wstar, 1-based;
 *       -- default t) or recomputed h(E_t; θ*); dtheta ACCUMULATES its gradient
 *   h:reserve(n_tasks)  h:flops(n_tasks)
 * θ and E are hnet.Tensor values the caller owns; the hypernetwork holds only
 * its workspace.
 */
#include "lhn.h"

#include <float.h>
#include <math.h>
#include <string.h>

typedef struct hnl_hnet {
  hn_hnet *h;
  int64_t last_tasks; /* task count of the last forward; -1: none */
} hnl_hnet;

#define UV_TARGET 1 /* the target net given at construction (for init) */
#define UV_ROWS 2   /* output_reg's row indices (a buffer grown, never shrunk) */

static hnl_hnet *check_hnet(lua_State *L, int arg) {
  hnl_hnet *u = luaL_checkudata(L, arg, HNL_HYPERNET);
  if (!u->h) luaL_argerror(L, arg, "hnet.HyperNet has been freed");
  return u;
}

static int h_release(lua_State *L) {
  hnl_hnet *u = luaL_checkudata(L, 1, HNL_HYPERNET);
  hn_hnet_free(u->h);
  u->h = NULL;
  return 0;
}

static const char *const hnet_keys[] = {"outputs", "target", "embedding", "hidden", "act", "alpha",
                                        "chunk", "chunk_embedding", "max_tasks", NULL};

static hn_act_kind act_kind(lua_State *L, int arg, const char *name) {
  static const char *const names[] = {"relu", "tanh", "sigmoid", "elu", "identity", NULL};
  static const hn_act_kind kinds[] = {HN_ACT_RELU, HN_ACT_TANH, HN_ACT_SIGMOID, HN_ACT_ELU,
                                      HN_ACT_IDENTITY};
  for (int i = 0; names[i]; i++)
    if (strcmp(name, names[i]) == 0) return kinds[i];
  luaL_argerror(L, arg,
                lua_pushfstring(L, "field 'act': unknown activation '%s' (relu, tanh, sigmoid, "
                                   "elu, identity)",
                                name));
  return HN_ACT_RELU;
}

static int l_hypernet(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  hnl_check_options(L, 1, hnet_keys);
  hn_hnet_cfg c;
  memset(&c, 0, sizeof c);
  bool has_target = lua_getfield(L, 1, "target") != LUA_TNIL;
  int64_t target_n = -1;
  if (has_target) {
    if (!luaL_testudata(L, -1, HNL_NET))
      luaL_argerror(L, 1, lua_pushfstring(L, "field 'target': hnet.Net expected, got %s",
                                          luaL_typename(L, -1)));
    hn_net *tn = hnl_net_test(L, -1);
    if (!tn) luaL_argerror(L, 1, "field 'target': hnet.Net has been freed");
    target_n = hn_net_n_params(tn);
  }
  int target_idx = lua_gettop(L);
  lua_getfield(L, 1, "outputs");
  bool has_outputs = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (has_target && has_outputs) {
    int64_t o = hnl_opt_int(L, 1, "outputs", 1, 1, INT64_MAX);
    if (o != target_n)
      luaL_argerror(L, 1, lua_pushfstring(L, "field 'outputs' (%I) disagrees with the target's "
                                             "n_params (%I); give one of them",
                                          (lua_Integer)o, (lua_Integer)target_n));
  }
  if (!has_target && !has_outputs)
    luaL_argerror(L, 1, "give 'outputs' (the size of W) or 'target' (a hnet.Net)");
  c.n_out = has_target ? target_n : hnl_opt_int(L, 1, "outputs", 1, 1, INT64_MAX);
  c.n_emb = hnl_opt_int(L, 1, "embedding", 8, 1, INT32_MAX);
  c.n_hidden = hnl_opt_int_list(L, 1, "hidden", c.hidden, HN_HNET_MAX_HIDDEN, 1, INT32_MAX);
  c.act = act_kind(L, 1, hnl_opt_string(L, 1, "act", "elu"));
  c.act_alpha = (float)hnl_opt_number(L, 1, "alpha", 1.0, (double)FLT_MIN, 1e6);
  c.chunk = hnl_opt_int(L, 1, "chunk", 0, 0, INT64_MAX);
  c.n_chunk_emb = hnl_opt_int(L, 1, "chunk_embedding", c.chunk > 0 ? 8 : 0, 0, INT32_MAX);
  if (c.chunk > 0 && c.n_chunk_emb < 1)
    luaL_argerror(L, 1, "field 'chunk_embedding': a chunked hypernetwork needs >= 1");
  c.max_tasks = hnl_opt_int(L, 1, "max_tasks", 1, 1, INT32_MAX);

  hnl_hnet *u = lua_newuserdatauv(L, sizeof *u, 2);
  memset(u, 0, sizeof *u);
  u->last_tasks = -1;
  luaL_setmetatable(L, HNL_HYPERNET);
  hnl_check(L, hn_hnet_new(&u->h, &c));
  if (has_target) {
    lua_pushvalue(L, target_idx);
    lua_setiuservalue(L, -2, UV_TARGET);
  }
  /* The workspace is at least one generated W per planned task. */
  hnl_gc_pace(L, (size_t)(c.max_tasks * c.n_out) * sizeof(float));
  return 1;
}

/* ---- queries --------------------------------------------------------------------- */

static int hypernet_n_params(lua_State *L) {
  lua_pushinteger(L, hn_hnet_n_params(check_hnet(L, 1)->h));
  return 1;
}

static int hypernet_n_out(lua_State *L) {
  lua_pushinteger(L, hn_hnet_n_out(check_hnet(L, 1)->h));
  return 1;
}

static int hypernet_n_emb(lua_State *L) {
  lua_pushinteger(L, hn_hnet_n_emb(check_hnet(L, 1)->h));
  return 1;
}

static int hypernet_n_chunks(lua_State *L) {
  lua_pushinteger(L, hn_hnet_n_chunks(check_hnet(L, 1)->h));
  return 1;
}

static int hypernet_max_tasks(lua_State *L) {
  lua_pushinteger(L, hn_hnet_max_tasks(check_hnet(L, 1)->h));
  return 1;
}

static int hypernet_layout(lua_State *L) {
  hnl_push_layout(L, hn_hnet_layout(check_hnet(L, 1)->h));
  return 1;
}

static int hypernet_flops(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, n >= 0, 2, "task count must be >= 0");
  lua_pushinteger(L, hn_hnet_flops(u->h, n));
  return 1;
}

static int hypernet_reserve(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "task count must be >= 0");
  int64_t before = hn_hnet_max_tasks(u->h);
  hnl_check(L, hn_hnet_reserve(u->h, n));
  u->last_tasks = -1; /* reserve discards the last forward */
  if (hn_hnet_max_tasks(u->h) > before)
    hnl_gc_pace(L, (size_t)((hn_hnet_max_tasks(u->h) - before) * hn_hnet_n_out(u->h) * 4));
  return 0;
}

static int hypernet_config(lua_State *L) {
  const hn_hnet_cfg *c = hn_hnet_config(check_hnet(L, 1)->h);
  static const char *const act_names[] = {"relu", "tanh", "sigmoid", "elu", "identity"};
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, c->n_out);
  lua_setfield(L, -2, "outputs");
  lua_pushinteger(L, c->n_emb);
  lua_setfield(L, -2, "embedding");
  lua_createtable(L, c->n_hidden, 0);
  for (int i = 0; i < c->n_hidden; i++) {
    lua_pushinteger(L, c->hidden[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "hidden");
  lua_pushstring(L, (unsigned)c->act < 5 ? act_names[c->act] : "?");
  lua_setfield(L, -2, "act");
  lua_pushnumber(L, (lua_Number)c->act_alpha);
  lua_setfield(L, -2, "alpha");
  lua_pushinteger(L, c->chunk);
  lua_setfield(L, -2, "chunk");
  lua_pushinteger(L, c->n_chunk_emb);
  lua_setfield(L, -2, "chunk_embedding");
  lua_pushinteger(L, c->max_tasks);
  lua_setfield(L, -2, "max_tasks");
  return 1;
}

/* ---- initialisation ---------------------------------------------------------------- */

static const char *const init_keys[] = {"emb_var", "rng", "scheme", "max_h_l1", NULL};

static int hypernet_init(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  hnl_tensor *theta = hnl_tensor_check_numel(L, 2, hn_hnet_n_params(u->h), "theta");
  hnl_check_options(L, 4, init_keys);
  double emb_var = hnl_opt_number(L, 4, "emb_var", 1.0, DBL_MIN, DBL_MAX);
  const char *scheme = hnl_opt_string(L, 4, "scheme", "hyperfan");
  bool xavier = strcmp(scheme, "xavier") == 0;
  if (!xavier && strcmp(scheme, "hyperfan") != 0)
    luaL_argerror(L, 4, lua_pushfstring(L, "field 'scheme': \"hyperfan\" or \"xavier\" expected, "
                                           "got \"%s\"", scheme));
  double max_h_l1 = hnl_opt_number(L, 4, "max_h_l1", 0.0, 0.0, DBL_MAX);
  if (xavier && max_h_l1 > 0.0)
    luaL_argerror(L, 4, "field 'max_h_l1': only with scheme = \"hyperfan\" (xavier does not "
                        "look at the hidden activations)");
  hn_rng *r = NULL;
  if (lua_type(L, 4) == LUA_TTABLE && lua_getfield(L, 4, "rng") != LUA_TNIL) {
    if (!luaL_testudata(L, -1, HNL_RNG))
      luaL_argerror(L, 4, lua_pushfstring(L, "field 'rng': hnet.Rng expected, got %s",
                                          luaL_typename(L, -1)));
    r = hnl_rng_check(L, lua_gettop(L));
  }
  if (!r) r = hnl_default_rng(L);
  if (xavier) {
    if (!lua_isnoneornil(L, 3))
      return luaL_argerror(L, 3, "target_var must be nil with scheme = \"xavier\" (it ignores "
                                 "the target network)");
    hnl_check(L, hn_hnet_init_xavier(u->h, theta->t.data, (float)emb_var, r));
    lua_pushvalue(L, 2);
    return 1;
  }
  const float *var;
  if (lua_isnoneornil(L, 3)) {
    if (lua_getiuservalue(L, 1, UV_TARGET) != LUA_TUSERDATA)
      return luaL_argerror(L, 3, "target_var (a tensor of n_out variances, e.g. "
                                 "net:init_var()) is required unless the hypernetwork was built "
                                 "with target = net");
    hn_net *tn = hnl_net_test(L, -1);
    if (!tn) return luaL_error(L, "init: the target hnet.Net has been freed");
    int64_t n = hn_net_n_params(tn);
    hnl_tensor *v = hnl_tensor_push_new(L, 1, &n);
    hnl_check(L, hn_net_init_var(tn, NULL, v->t.data));
    var = v->t.data;
  } else {
    var = hnl_tensor_check_numel(L, 3, hn_hnet_n_out(u->h), "target_var")->t.data;
  }
  if (max_h_l1 > 0.0)
    hnl_check(L, hn_hnet_init_capped(u->h, theta->t.data, var, (float)emb_var, max_h_l1, r));
  else
    hnl_check(L, hn_hnet_init(u->h, theta->t.data, var, (float)emb_var, r));
  lua_pushvalue(L, 2);
  return 1;
}

static const char *const emb_keys[] = {"var", "rng", NULL};

static int hypernet_embeddings(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, n >= 1, 2, "task count must be >= 1");
  hnl_check_options(L, 3, emb_keys);
  double var = hnl_opt_number(L, 3, "var", 1.0, 0.0, DBL_MAX);
  hn_rng *r = NULL;
  if (lua_type(L, 3) == LUA_TTABLE && lua_getfield(L, 3, "rng") != LUA_TNIL) {
    if (!luaL_testudata(L, -1, HNL_RNG))
      luaL_argerror(L, 3, lua_pushfstring(L, "field 'rng': hnet.Rng expected, got %s",
                                          luaL_typename(L, -1)));
    r = hnl_rng_check(L, lua_gettop(L));
  }
  if (!r) r = hnl_default_rng(L);
  int64_t shape[2] = {n, hn_hnet_n_emb(u->h)};
  hnl_tensor *E = hnl_tensor_push_new(L, 2, shape);
  hn_rng_fill_normal(r, E->t.data, E->t.numel, 0.0f, (float)sqrt(var));
  return 1;
}

/* ---- forward / backward ---------------------------------------------------------------- */

static const char *const fwd_keys[] = {"out", NULL};

static int hypernet_forward(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  hn_hnet *h = u->h;
  hnl_tensor *theta = hnl_tensor_check_numel(L, 2, hn_hnet_n_params(h), "theta");
  hnl_tensor *E = hnl_tensor_check(L, 3);
  hnl_check_options(L, 4, fwd_keys);
  int64_t n_emb = hn_hnet_n_emb(h), n_out = hn_hnet_n_out(h);
  int64_t n_tasks;
  if (E->t.ndim == 1 && E->t.numel == n_emb) {
    n_tasks = 1;
  } else if (E->t.ndim == 2 && E->t.shape[1] == n_emb) {
    n_tasks = E->t.shape[0];
  } else {
    return luaL_argerror(L, 3,
                         lua_pushfstring(L, "E must be [n_tasks, %I] or [%I], got %s",
                                         (lua_Integer)n_emb, (lua_Integer)n_emb,
                                         hn_tensor_str(&E->t)));
  }
  if (n_tasks > hn_hnet_max_tasks(h))
    return luaL_argerror(L, 3,
                         lua_pushfstring(L, "%I task embeddings but the workspace holds %I; "
                                            "call hypernet:reserve(%I) first",
                                         (lua_Integer)n_tasks,
                                         (lua_Integer)hn_hnet_max_tasks(h), (lua_Integer)n_tasks));
  hnl_tensor *W = hnl_opt_tensor(L, 4, "out");
  lua_settop(L, 4);
  if (W) {
    if (W->t.numel != n_tasks * n_out)
      return luaL_argerror(L, 4,
                           lua_pushfstring(L, "field 'out': %I floats expected ([%I, %I]), got "
                                              "a tensor of shape %s",
                                           (lua_Integer)(n_tasks * n_out), (lua_Integer)n_tasks,
                                           (lua_Integer)n_out, hn_tensor_str(&W->t)));
    lua_getfield(L, 4, "out");
  } else {
    int64_t shape[2] = {n_tasks, n_out};
    W = E->t.ndim == 1 ? hnl_tensor_push_new(L, 1, &n_out) : hnl_tensor_push_new(L, 2, shape);
  }
  hnl_check(L, hn_hnet_forward(h, theta->t.data, E->t.data, n_tasks, W->t.data));
  u->last_tasks = n_tasks;
  return 1;
}

static int hypernet_backward(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  hn_hnet *h = u->h;
  int64_t np = hn_hnet_n_params(h);
  hnl_tensor *theta = hnl_tensor_check_numel(L, 2, np, "theta");
  if (u->last_tasks < 0)
    return luaL_error(L, "backward: no forward pass to differentiate; call hypernet:forward "
                         "first (reserve also discards the last forward)");
  int64_t nt = u->last_tasks;
  hnl_tensor *dW = hnl_tensor_check_numel(L, 3, nt * hn_hnet_n_out(h), "dW");
  hnl_tensor *dtheta = lua_isnoneornil(L, 4) ? NULL : hnl_tensor_check_numel(L, 4, np, "dtheta");
  hnl_tensor *dE =
      lua_isnoneornil(L, 5) ? NULL : hnl_tensor_check_numel(L, 5, nt * hn_hnet_n_emb(h), "dE");
  hnl_check(L, hn_hnet_backward(h, theta->t.data, dW->t.data, dtheta ? dtheta->t.data : NULL,
                                dE ? dE->t.data : NULL));
  return 0;
}

static const char *const reg_keys[] = {"targets", "rows", "theta_star", "beta", "dtheta", NULL};

/* The 0-based row indices of opts.rows (a list of n 1-based rows of a
 * [n_star, ...] table), in a buffer kept as the hypernetwork's user value. */
static const int64_t *reg_rows(lua_State *L, int opts, int64_t n, int64_t n_star) {
  if (lua_getfield(L, opts, "rows") == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (!lua_istable(L, -1) || (int64_t)luaL_len(L, -1) != n)
    luaL_argerror(L, opts, lua_pushfstring(L, "field 'rows': a list of %I row numbers expected "
                                              "(one per embedding)",
                                           (lua_Integer)n));
  int rows_idx = lua_gettop(L);
  lua_getiuservalue(L, 1, UV_ROWS);
  int64_t *buf = lua_touserdata(L, -1);
  if (!buf || (int64_t)lua_rawlen(L, -1) < n * (int64_t)sizeof(int64_t)) {
    lua_pop(L, 1);
    buf = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof(int64_t), 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_ROWS);
  }
  for (int64_t t = 0; t < n; t++) {
    lua_geti(L, rows_idx, t + 1);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 1 || v > n_star)
      luaL_argerror(L, opts, lua_pushfstring(L, "field 'rows': entry %I is not a row of "
                                                "targets (1 to %I)",
                                             (lua_Integer)(t + 1), (lua_Integer)n_star));
    buf[t] = v - 1;
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return buf;
}

static int hypernet_output_reg(lua_State *L) {
  hnl_hnet *u = check_hnet(L, 1);
  hn_hnet *h = u->h;
  int64_t np = hn_hnet_n_params(h), n_emb = hn_hnet_n_emb(h), n_out = hn_hnet_n_out(h);
  hnl_tensor *theta = hnl_tensor_check_numel(L, 2, np, "theta");
  hnl_tensor *E = hnl_tensor_check(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  hnl_check_options(L, 4, reg_keys);
  if (!(E->t.ndim == 2 && E->t.shape[1] == n_emb))
    return luaL_argerror(L, 3, lua_pushfstring(L, "E must be [n_tasks, %I], got %s",
                                               (lua_Integer)n_emb, hn_tensor_str(&E->t)));
  int64_t n = E->t.shape[0];
  hnl_tensor *Ws = hnl_opt_tensor(L, 4, "targets");
  hnl_tensor *ts = hnl_opt_tensor(L, 4, "theta_star");
  hnl_tensor *dt = hnl_opt_tensor(L, 4, "dtheta");
  if (!Ws == !ts)
    return luaL_argerror(L, 4, "give 'targets' (stored W*) or 'theta_star' (recomputed), "
                               "exactly one");
  if (ts && ts->t.numel != np)
    return luaL_argerror(L, 4, lua_pushfstring(L, "field 'theta_star': %I floats expected, "
                                                  "got %s",
                                               (lua_Integer)np, hn_tensor_str(&ts->t)));
  if (dt && dt->t.numel != np)
    return luaL_argerror(L, 4, lua_pushfstring(L, "field 'dtheta': %I floats expected, got %s",
                                               (lua_Integer)np, hn_tensor_str(&dt->t)));
  int64_t n_star = 0;
  if (Ws) {
    if (Ws->t.ndim != 2 || Ws->t.shape[1] != n_out)
      return luaL_argerror(L, 4, lua_pushfstring(L, "field 'targets': [n, %I] expected, got %s",
                                                 (lua_Integer)n_out, hn_tensor_str(&Ws->t)));
    n_star = Ws->t.shape[0];
  } else if (lua_getfield(L, 4, "rows") != LUA_TNIL) {
    return luaL_argerror(L, 4, "field 'rows' picks rows of stored 'targets'; recomputed "
                               "targets have none");
  }
  float beta = (float)hnl_opt_number(L, 4, "beta", NAN, 0.0, (double)FLT_MAX);
  if (isnan(beta)) return luaL_argerror(L, 4, "field 'beta': a number >= 0 expected");
  const int64_t *rows = Ws ? reg_rows(L, 4, n, n_star) : NULL;
  if (n > hn_hnet_max_tasks(h))
    return luaL_argerror(L, 3, lua_pushfstring(L, "%I task embeddings but the workspace holds "
                                                  "%I; call hypernet:reserve(%I) first",
                                               (lua_Integer)n, (lua_Integer)hn_hnet_max_tasks(h),
                                               (lua_Integer)n));
  float loss = 0.0f;
  hnl_check(L, hn_hnet_output_reg(h, theta->t.data, E->t.data, n, Ws ? Ws->t.data : NULL, rows,
                                  n_star, ts ? ts->t.data : NULL, beta, &loss,
                                  dt ? dt->t.data : NULL));
  u->last_tasks = -1; /* the regulariser discards the last forward */
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int hypernet_tostring(lua_State *L) {
  hnl_hnet *u = luaL_checkudata(L, 1, HNL_HYPERNET);
  if (!u->h) {
    lua_pushliteral(L, "hnet.HyperNet (freed)");
    return 1;
  }
  const hn_hnet_cfg *c = hn_hnet_config(u->h);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "hnet.HyperNet(emb %I -> [", (lua_Integer)c->n_emb);
  luaL_addvalue(&b);
  for (int i = 0; i < c->n_hidden; i++) {
    lua_pushfstring(L, i ? ", %I" : "%I", (lua_Integer)c->hidden[i]);
    luaL_addvalue(&b);
  }
  if (c->chunk > 0)
    lua_pushfstring(L, "] -> %I outputs in %I chunks of %I; %I params)", (lua_Integer)c->n_out,
                    (lua_Integer)hn_hnet_n_chunks(u->h), (lua_Integer)c->chunk,
                    (lua_Integer)hn_hnet_n_params(u->h));
  else
    lua_pushfstring(L, "] -> %I outputs; %I params)", (lua_Integer)c->n_out,
                    (lua_Integer)hn_hnet_n_params(u->h));
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg methods[] = {
    {"n_params", hypernet_n_params},   {"n_out", hypernet_n_out},       {"n_emb", hypernet_n_emb},
    {"n_chunks", hypernet_n_chunks},   {"max_tasks", hypernet_max_tasks}, {"layout", hypernet_layout},
    {"flops", hypernet_flops},         {"reserve", hypernet_reserve},   {"config", hypernet_config},
    {"init", hypernet_init},           {"embeddings", hypernet_embeddings}, {"forward", hypernet_forward},
    {"backward", hypernet_backward},   {"free", h_release},      {"output_reg", hypernet_output_reg},
    {NULL, NULL},
};

void hnl_open_hnet(lua_State *L) {
  if (luaL_newmetatable(L, HNL_HYPERNET)) {
    lua_pushcfunction(L, h_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, h_release);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, hypernet_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_hypernet);
  lua_setfield(L, -2, "hypernet");
}
