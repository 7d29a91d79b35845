/*
 * l_net.c — hnet.Net: a target network (modules + parameter layout) whose
 * weights come from outside as one flat hnet.Tensor.
 *
 *   local net = hnet.net{ input = {784}, max_batch = 128, fan = "in",
 *     layers = { {"linear", 100}, {"relu"}, {"dropout", 0.2}, {"linear", 10, bias = false} } }
 *   net:n_params()  net:n_stats()  net:max_batch()  net:in_shape()  net:out_shape()
 *   net:layout()       -- list of {name, offset (0-based, in floats), shape, numel, module (1-based)}
 *   net:param(W, name) -- a view of one slice of W (e.g. "1.weight")
 *   net:init(W, rng)   net:init_var() -> tensor   net:init_stats() -> tensor
 *   local y = net:forward(W, x, { train = true, rng = r, stats = s, out = y })
 *   net:backward(W, dy, dW, { dx = t })   -- dW ACCUMULATED, dx overwritten
 *   net:flops_per_sample()  net:modules()  net:ws_bytes()
 *
 * Layer specs (positional values, then named options):
 *   {"linear", n_out, bias=true}   {"conv2d", c_out, k=3, stride=1, pad=0, bias=true}
 *   {"maxpool2d", k, stride=k}     {"avgpool2d", k, stride=k}      {"flatten"}
 *   {"relu"} {"tanh"} {"sigmoid"} {"identity"} {"elu", alpha=1}    {"dropout", p}
 *   {"batchnorm", eps=1e-5, momentum=0.1}
 *   {"embedding", vocab=V, dim=D}      token ids [T] -> [T, D]
 *   {"rnn", hidden=H, output="all"}    [T, F] -> [T, H] ("all") or [H] ("last")
 *   {"lstm", hidden=H, output="all"}   the same, LSTM cells
 *   {"gru", hidden=H, output="all"}    the same, GRU cells
 * A bare string ("relu") is a layer without arguments. After a sequence
 * layer, {"linear", n} applies at every step of [T, F].
 *
 * Sequence nets (net:seq_len() = T > 0): forward and backward take
 * lengths = a tensor or a list of n integers in 1..T (the valid steps of each
 * sample; the rest is padding, which reaches no output and no gradient);
 * backward goes through the lengths of the last forward.
 *
 * backward uses the mode, statistics and generator of the last forward unless
 * its options say otherwise; the net keeps the last statistics tensor alive.
 */
#include "lhn.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct hnl_net {
  hn_net *net;
  bool last_train;
  bool has_forward;
  int64_t lengths[]; /* max_batch values: the lengths option, converted */
} hnl_net;

/* User values: 1 = the last forward's stats tensor, 2 = its rng. */
#define UV_STATS 1
#define UV_RNG 2

static hnl_net *check_net(lua_State *L, int arg) {
  hnl_net *u = luaL_checkudata(L, arg, HNL_NET);
  if (!u->net) luaL_argerror(L, arg, "hnet.Net has been freed");
  return u;
}

hn_net *hnl_net_check(lua_State *L, int arg) { return check_net(L, arg)->net; }

hn_net *hnl_net_test(lua_State *L, int idx) {
  hnl_net *u = luaL_testudata(L, idx, HNL_NET);
  return u ? u->net : NULL;
}

static int n_release(lua_State *L) {
  hnl_net *u = luaL_checkudata(L, 1, HNL_NET);
  hn_net_free(u->net);
  u->net = NULL;
  return 0;
}

/* ---- construction ------------------------------------------------------------ */

static const char *const net_keys[] = {"input", "max_batch", "fan", "layers", NULL};

static const char *const k_linear[] = {"bias", NULL};
static const char *const k_conv[] = {"k", "stride", "pad", "bias", NULL};
static const char *const k_pool[] = {"stride", NULL};
static const char *const k_none[] = {NULL};
static const char *const k_elu[] = {"alpha", NULL};
static const char *const k_bn[] = {"eps", "momentum", NULL};
static const char *const k_emb[] = {"vocab", "dim", NULL};
static const char *const k_rec[] = {"hidden", "output", NULL};

/* Integer positional value i of the spec at idx (1-based; nil -> def, if
 * def >= 0 there is a default). */
static int64_t spec_int(lua_State *L, int idx, int layer, int i, const char *what, int64_t def) {
  int t = lua_geti(L, idx, i);
  if (t == LUA_TNIL && def >= 0) {
    lua_pop(L, 1);
    return def;
  }
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || t != LUA_TNUMBER || v < 1)
    luaL_error(L, "net: layer %d: %s must be a positive integer, got %s", layer, what,
               t == LUA_TNUMBER ? luaL_tolstring(L, -1, NULL) : luaL_typename(L, -1));
  lua_pop(L, 1);
  return (int64_t)v;
}

/* The options of layer spec at idx (a table) are read with the hnl_opt_*
 * helpers, whose messages name the argument; prefix the layer number by
 * checking the keys here. */
static void spec_keys(lua_State *L, int idx, int layer, const char *kind, const char *const *allowed,
                      int n_pos) {
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      bool ok = false;
      for (int i = 0; allowed[i]; i++) ok = ok || strcmp(k, allowed[i]) == 0;
      if (!ok) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 0; allowed[i]; i++) {
          if (i) luaL_addstring(&b, ", ");
          luaL_addstring(&b, allowed[i]);
        }
        if (!allowed[0]) luaL_addstring(&b, "none");
        luaL_pushresult(&b);
        luaL_error(L, "net: layer %d (%s): unknown option '%s' (allowed: %s)", layer, kind, k,
                   lua_tostring(L, -1));
      }
    } else if (!(lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
                 lua_tointeger(L, -1) <= n_pos + 1)) {
      luaL_error(L, "net: layer %d (%s): takes %d positional value(s)", layer, kind, n_pos);
    }
  }
  lua_Integer len = luaL_len(L, idx);
  if (len > n_pos + 1)
    luaL_error(L, "net: layer %d (%s): takes %d positional value(s), got %d", layer, kind, n_pos,
               (int)(len - 1));
}

static double spec_num(lua_State *L, int idx, int layer, const char *key, double def, double lo,
                       double hi) {
  int t = lua_getfield(L, idx, key);
  double v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TNUMBER)
      luaL_error(L, "net: layer %d: option '%s' must be a number, got %s", layer, key,
                 luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
    if (!(v >= lo && v <= hi))
      luaL_error(L, "net: layer %d: option '%s' = %f is outside [%f, %f]", layer, key, v, lo, hi);
  }
  lua_pop(L, 1);
  return v;
}

static int64_t spec_opt_int(lua_State *L, int idx, int layer, const char *key, int64_t def,
                            int64_t lo) {
  int t = lua_getfield(L, idx, key);
  int64_t v = def;
  if (t != LUA_TNIL) {
    int isnum = 0;
    lua_Integer x = lua_tointegerx(L, -1, &isnum);
    if (!isnum || t != LUA_TNUMBER || x < lo)
      luaL_error(L, "net: layer %d: option '%s' must be an integer >= %d, got %s", layer, key,
                 (int)lo, luaL_tolstring(L, -1, NULL));
    v = x;
  }
  lua_pop(L, 1);
  return v;
}

static bool spec_bool(lua_State *L, int idx, int layer, const char *key, bool def) {
  int t = lua_getfield(L, idx, key);
  bool v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TBOOLEAN)
      luaL_error(L, "net: layer %d: option '%s' must be a boolean, got %s", layer, key,
                 luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* Add the layer whose spec is at idx. */
static void add_layer(lua_State *L, hn_net *net, int idx, int layer) {
  const char *kind;
  bool bare = lua_type(L, idx) == LUA_TSTRING;
  if (bare) {
    kind = lua_tostring(L, idx);
  } else {
    if (lua_type(L, idx) != LUA_TTABLE)
      luaL_error(L, "net: layer %d must be a table such as {\"linear\", 100} or a name, got %s",
                 layer, luaL_typename(L, idx));
    if (lua_geti(L, idx, 1) != LUA_TSTRING)
      luaL_error(L, "net: layer %d: the first entry must be the layer kind (\"linear\", "
                    "\"relu\", ...), got %s",
                 layer, luaL_typename(L, -1));
    kind = lua_tostring(L, -1);
    lua_pop(L, 1); /* the spec table keeps the string alive */
  }
  hn_status st;
  static const struct {
    const char *name;
    hn_act_kind kind;
  } acts[] = {{"relu", HN_ACT_RELU},
              {"tanh", HN_ACT_TANH},
              {"sigmoid", HN_ACT_SIGMOID},
              {"identity", HN_ACT_IDENTITY}};
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
    if (strcmp(kind, acts[i].name) == 0) {
      if (!bare) spec_keys(L, idx, layer, kind, k_none, 0);
      hnl_check(L, hn_net_add_act(net, acts[i].kind, 0.0f));
      return;
    }
  if (strcmp(kind, "flatten") == 0) {
    if (!bare) spec_keys(L, idx, layer, kind, k_none, 0);
    st = hn_net_add_flatten(net);
  } else if (bare && strcmp(kind, "elu") == 0) {
    st = hn_net_add_act(net, HN_ACT_ELU, 1.0f);
  } else if (bare && strcmp(kind, "batchnorm") == 0) {
    st = hn_net_add_batchnorm(net, 1e-5f, 0.1f);
  } else if (bare) {
    return (void)luaL_error(L, "net: layer %d: '%s' needs arguments (write {\"%s\", ...}) or is "
                               "not a layer kind",
                            layer, kind, kind);
  } else if (strcmp(kind, "linear") == 0) {
    spec_keys(L, idx, layer, kind, k_linear, 1);
    int64_t n_out = spec_int(L, idx, layer, 2, "the output size", -1);
    st = hn_net_add_linear(net, n_out, spec_bool(L, idx, layer, "bias", true));
  } else if (strcmp(kind, "conv2d") == 0) {
    spec_keys(L, idx, layer, kind, k_conv, 1);
    int64_t c_out = spec_int(L, idx, layer, 2, "the output channel count", -1);
    int64_t k = spec_opt_int(L, idx, layer, "k", 3, 1);
    int64_t stride = spec_opt_int(L, idx, layer, "stride", 1, 1);
    int64_t pad = spec_opt_int(L, idx, layer, "pad", 0, 0);
    st = hn_net_add_conv2d(net, c_out, k, stride, pad, spec_bool(L, idx, layer, "bias", true));
  } else if (strcmp(kind, "maxpool2d") == 0 || strcmp(kind, "avgpool2d") == 0) {
    spec_keys(L, idx, layer, kind, k_pool, 1);
    int64_t k = spec_int(L, idx, layer, 2, "the window size", -1);
    int64_t stride = spec_opt_int(L, idx, layer, "stride", k, 1);
    st = kind[0] == 'm' ? hn_net_add_maxpool2d(net, k, stride) : hn_net_add_avgpool2d(net, k, stride);
  } else if (strcmp(kind, "elu") == 0) {
    spec_keys(L, idx, layer, kind, k_elu, 0);
    st = hn_net_add_act(net, HN_ACT_ELU, (float)spec_num(L, idx, layer, "alpha", 1.0, (double)FLT_MIN, 1e6));
  } else if (strcmp(kind, "dropout") == 0) {
    spec_keys(L, idx, layer, kind, k_none, 1);
    int t = lua_geti(L, idx, 2);
    if (t != LUA_TNUMBER || !(lua_tonumber(L, -1) >= 0.0 && lua_tonumber(L, -1) < 1.0))
      luaL_error(L, "net: layer %d (dropout): the drop probability must be a number in [0, 1), "
                    "got %s",
                 layer, luaL_tolstring(L, -1, NULL));
    float p = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
    st = hn_net_add_dropout(net, p);
  } else if (strcmp(kind, "batchnorm") == 0) {
    spec_keys(L, idx, layer, kind, k_bn, 0);
    float eps = (float)spec_num(L, idx, layer, "eps", 1e-5, (double)FLT_MIN, 1.0);
    float mom = (float)spec_num(L, idx, layer, "momentum", 0.1, 0.0, 1.0);
    st = hn_net_add_batchnorm(net, eps, mom);
  } else if (strcmp(kind, "embedding") == 0) {
    spec_keys(L, idx, layer, kind, k_emb, 0);
    int64_t v = spec_opt_int(L, idx, layer, "vocab", 0, 1), d = spec_opt_int(L, idx, layer, "dim", 0, 1);
    if (v < 1 || d < 1)
      luaL_error(L, "net: layer %d (embedding): vocab and dim (positive integers) are required, "
                    "as in {\"embedding\", vocab = 100, dim = 32}", layer);
    st = hn_net_add_embedding(net, v, d);
  } else if (strcmp(kind, "rnn") == 0 || strcmp(kind, "lstm") == 0 || strcmp(kind, "gru") == 0) {
    spec_keys(L, idx, layer, kind, k_rec, 0);
    int64_t hid = spec_opt_int(L, idx, layer, "hidden", 0, 1);
    if (hid < 1)
      luaL_error(L, "net: layer %d (%s): hidden (a positive integer) is required, as in "
                    "{\"%s\", hidden = 128}", layer, kind, kind);
    bool last = false;
    int t = lua_getfield(L, idx, "output");
    if (t != LUA_TNIL) {
      const char *o = t == LUA_TSTRING ? lua_tostring(L, -1) : "";
      if (strcmp(o, "all") != 0 && strcmp(o, "last") != 0)
        luaL_error(L, "net: layer %d (%s): option 'output' must be \"all\" (every step) or "
                      "\"last\" (each sample's last valid step), got %s", layer, kind,
                   t == LUA_TSTRING ? o : luaL_typename(L, -1));
      last = o[0] == 'l';
    }
    lua_pop(L, 1);
    st = kind[0] == 'r'   ? hn_net_add_rnn(net, hid, last)
         : kind[0] == 'l' ? hn_net_add_lstm(net, hid, last)
                          : hn_net_add_gru(net, hid, last);
  } else {
    return (void)luaL_error(L, "net: layer %d: unknown layer kind '%s' (linear, conv2d, maxpool2d, "
                               "avgpool2d, flatten, relu, tanh, sigmoid, elu, identity, dropout, "
                               "batchnorm, embedding, rnn, lstm, gru)",
                            layer, kind);
  }
  if (st != HN_OK) luaL_error(L, "net: layer %d (%s): %s", layer, kind, hn_errmsg());
}

static int l_net_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  hnl_check_options(L, 1, net_keys);
  int64_t in_shape[HN_MAX_DIMS];
  int in_nd;
  if (lua_getfield(L, 1, "input") == LUA_TNUMBER) {
    int isnum = 0;
    in_shape[0] = lua_tointegerx(L, -1, &isnum);
    if (!isnum || in_shape[0] < 1) luaL_argerror(L, 1, "field 'input': positive size or shape table expected");
    in_nd = 1;
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    in_nd = hnl_check_shape(L, lua_gettop(L), in_shape);
    if (in_nd > 3) luaL_argerror(L, 1, "field 'input': the per-sample shape has 1 to 3 dimensions");
  } else {
    return luaL_argerror(L, 1, "field 'input' (the per-sample shape, e.g. {784} or {1, 28, 28}) is required");
  }
  lua_pop(L, 1);
  int64_t max_batch = hnl_opt_int(L, 1, "max_batch", 128, 1, INT32_MAX);
  const char *fan = hnl_opt_string(L, 1, "fan", "in");
  if (strcmp(fan, "in") != 0 && strcmp(fan, "out") != 0)
    luaL_argerror(L, 1, lua_pushfstring(L, "field 'fan': \"in\" or \"out\" expected, got \"%s\"", fan));
  if (lua_getfield(L, 1, "layers") != LUA_TTABLE)
    luaL_argerror(L, 1, "field 'layers' (a list of layer specs) is required");
  int layers = lua_gettop(L);
  lua_Integer n_layers = luaL_len(L, layers);
  if (n_layers < 1) luaL_argerror(L, 1, "field 'layers': at least one layer is needed");

  size_t bytes = sizeof(hnl_net) + (size_t)max_batch * sizeof(int64_t);
  hnl_net *u = lua_newuserdatauv(L, bytes, 2);
  memset(u, 0, bytes);
  luaL_setmetatable(L, HNL_NET);
  hnl_check(L, hn_net_new(&u->net, in_nd, in_shape, max_batch));
  for (lua_Integer i = 1; i <= n_layers; i++) {
    lua_geti(L, layers, i);
    add_layer(L, u->net, lua_gettop(L), (int)i);
    lua_pop(L, 1);
  }
  hnl_check(L, hn_net_set_fan_mode(u->net, fan[0] == 'o'));
  hnl_check(L, hn_net_finalize(u->net));
  hnl_gc_pace(L, (size_t)hn_net_ws_bytes(u->net));
  return 1;
}

/* ---- queries ------------------------------------------------------------------- */

static int net_n_params(lua_State *L) {
  lua_pushinteger(L, hn_net_n_params(check_net(L, 1)->net));
  return 1;
}

static int net_n_stats(lua_State *L) {
  lua_pushinteger(L, hn_net_n_stats(check_net(L, 1)->net));
  return 1;
}

static int net_seq_len(lua_State *L) {
  lua_pushinteger(L, hn_net_seq_len(check_net(L, 1)->net));
  return 1;
}

static int net_max_batch(lua_State *L) {
  lua_pushinteger(L, hn_net_max_batch(check_net(L, 1)->net));
  return 1;
}

static void push_shape(lua_State *L, int nd, const int64_t *shape) {
  lua_createtable(L, nd, 0);
  for (int i = 0; i < nd; i++) {
    lua_pushinteger(L, shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int net_in_shape(lua_State *L) {
  int64_t s[HN_MAX_DIMS];
  int nd = hn_net_in_shape(check_net(L, 1)->net, s);
  push_shape(L, nd, s);
  return 1;
}

static int net_out_shape(lua_State *L) {
  int64_t s[HN_MAX_DIMS];
  int nd = hn_net_out_shape(check_net(L, 1)->net, s);
  push_shape(L, nd, s);
  return 1;
}

static int net_flops(lua_State *L) {
  lua_pushinteger(L, hn_net_flops_per_sample(check_net(L, 1)->net));
  return 1;
}

static int net_ws_bytes(lua_State *L) {
  lua_pushinteger(L, hn_net_ws_bytes(check_net(L, 1)->net));
  return 1;
}

static int net_modules(lua_State *L) {
  hn_net *net = check_net(L, 1)->net;
  int n = hn_net_n_modules(net);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, hn_net_module_name(net, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* Push a layout as a list of {name, offset (0-based), shape, numel, module
 * (1-based, absent for slices that belong to no module)}. */
void hnl_push_layout(lua_State *L, const hn_layout *lay) {
  lua_createtable(L, lay->n, 0);
  for (int i = 0; i < lay->n; i++) {
    const hn_layout_entry *e = &lay->entries[i];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, e->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, e->offset);
    lua_setfield(L, -2, "offset");
    push_shape(L, e->ndim, e->shape);
    lua_setfield(L, -2, "shape");
    lua_pushinteger(L, e->numel);
    lua_setfield(L, -2, "numel");
    if (e->module >= 0) {
      lua_pushinteger(L, e->module + 1);
      lua_setfield(L, -2, "module");
    }
    lua_rawseti(L, -2, i + 1);
  }
}

static int net_layout(lua_State *L) {
  hnl_push_layout(L, hn_net_layout(check_net(L, 1)->net));
  return 1;
}

/* net:param(W, name) -> a view of that slice of W with its shape. */
static int net_param(lua_State *L) {
  hn_net *net = check_net(L, 1)->net;
  hnl_tensor *W = hnl_tensor_check_numel(L, 2, hn_net_n_params(net), "W");
  const char *name = luaL_checkstring(L, 3);
  const hn_layout *lay = hn_net_layout(net);
  const hn_layout_entry *e = hn_layout_find(lay, name);
  if (!e) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < lay->n; i++) {
      if (i) luaL_addstring(&b, ", ");
      luaL_addstring(&b, lay->entries[i].name);
    }
    luaL_pushresult(&b);
    return luaL_argerror(L, 3, lua_pushfstring(L, "no slice named '%s' (the layout has: %s)", name,
                                               lua_tostring(L, -1)));
  }
  hnl_tensor_push_view(L, 2, W->t.data + e->offset, e->ndim, e->shape);
  return 1;
}

/* ---- initialisation ------------------------------------------------------------ */

static int net_init(lua_State *L) {
  hn_net *net = check_net(L, 1)->net;
  hnl_tensor *W = hnl_tensor_check_numel(L, 2, hn_net_n_params(net), "W");
  hn_rng *r = hnl_rng_opt(L, 3);
  hnl_check(L, hn_net_init(net, W->t.data, r));
  lua_settop(L, 2);
  return 1;
}

static int net_init_var(lua_State *L) {
  hn_net *net = check_net(L, 1)->net;
  int64_t n = hn_net_n_params(net);
  hnl_tensor *v = hnl_tensor_push_new(L, 1, &n);
  hnl_check(L, hn_net_init_var(net, NULL, v->t.data));
  return 1;
}

static int net_init_stats(lua_State *L) {
  hn_net *net = check_net(L, 1)->net;
  int64_t n = hn_net_n_stats(net);
  hnl_tensor *s = hnl_tensor_push_new(L, 1, &n);
  hnl_check(L, hn_net_init_stats(net, s->t.data));
  return 1;
}

/* ---- forward / backward --------------------------------------------------------- */

static const char *const fwd_keys[] = {"train", "rng", "stats", "out", "lengths", NULL};
static const char *const bwd_keys[] = {"dx", "train", "rng", "stats", "lengths", NULL};

/* The lengths option of the table at opts for a batch of n (a tensor or a
 * list of n integers in 1..T), converted into u->lengths; NULL if absent. */
static const int64_t *read_lengths(lua_State *L, hnl_net *u, int opts, int64_t n) {
  if (lua_type(L, opts) != LUA_TTABLE) return NULL;
  int t = lua_getfield(L, opts, "lengths");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  int64_t T = hn_net_seq_len(u->net);
  if (T == 0)
    luaL_argerror(L, opts, "field 'lengths': this net has no sequence layer (embedding, rnn, "
                           "lstm, gru); lengths apply to sequence nets");
  hnl_tensor *tl = luaL_testudata(L, -1, HNL_TENSOR);
  if (!tl && t != LUA_TTABLE)
    luaL_argerror(L, opts, lua_pushfstring(L, "field 'lengths': hnet.Tensor or list of integers "
                                              "expected, got %s", luaL_typename(L, -1)));
  if (tl && tl->freed) luaL_argerror(L, opts, "field 'lengths': hnet.Tensor has been freed");
  int64_t count = tl ? tl->t.numel : (int64_t)luaL_len(L, -1);
  if (n < 1 || n > hn_net_max_batch(u->net) || count != n)
    luaL_argerror(L, opts, lua_pushfstring(L, "field 'lengths': %I values for a batch of %I; "
                                              "give one length per sample",
                                           (lua_Integer)count, (lua_Integer)n));
  for (int64_t b = 0; b < n; b++) {
    double v;
    if (tl) {
      v = (double)tl->t.data[b];
    } else {
      int vt = lua_geti(L, -1, (lua_Integer)b + 1);
      v = vt == LUA_TNUMBER ? lua_tonumber(L, -1) : -1.0;
      if (vt != LUA_TNUMBER)
        luaL_argerror(L, opts, lua_pushfstring(L, "field 'lengths': entry %I is a %s, not an "
                                                  "integer", (lua_Integer)b + 1,
                                               luaL_typename(L, -1)));
      lua_pop(L, 1);
    }
    if (!(v == floor(v)) || v < 1 || v > (double)T) {
      char num[32];
      snprintf(num, sizeof num, "%g", v);
      luaL_argerror(L, opts, lua_pushfstring(L, "field 'lengths': entry %I is %s; each length "
                                                "must be an integer in 1..%I (T, the net's "
                                                "sequence length)",
                                             (lua_Integer)b + 1, num, (lua_Integer)T));
    }
    u->lengths[b] = (int64_t)v;
  }
  lua_pop(L, 1);
  return u->lengths;
}

/* Read the run options (train, rng, stats) of the table at opts; defaults
 * from the previous forward when `remembered`. */
static hn_run read_run(lua_State *L, hnl_net *u, int opts, bool remembered) {
  hn_run run = {.train = remembered ? u->last_train : false, .rng = NULL, .stats = NULL};
  run.train = hnl_opt_bool(L, opts, "train", run.train);
  if (lua_type(L, opts) == LUA_TTABLE) {
    if (lua_getfield(L, opts, "rng") != LUA_TNIL) {
      if (!luaL_testudata(L, -1, HNL_RNG))
        luaL_argerror(L, opts, lua_pushfstring(L, "field 'rng': hnet.Rng expected, got %s",
                                               luaL_typename(L, -1)));
      run.rng = hnl_rng_check(L, lua_gettop(L));
    }
    lua_pop(L, 1); /* the options table keeps it alive */
  }
  if (!run.rng && remembered) {
    if (lua_getiuservalue(L, 1, UV_RNG) == LUA_TUSERDATA) run.rng = hnl_rng_check(L, lua_gettop(L));
    lua_pop(L, 1); /* the net's user value keeps it alive */
  }
  if (!run.rng && run.train) run.rng = hnl_default_rng(L);

  int64_t n_stats = hn_net_n_stats(u->net);
  hnl_tensor *s = hnl_opt_tensor(L, opts, "stats");
  if (!s && remembered) {
    if (lua_getiuservalue(L, 1, UV_STATS) == LUA_TUSERDATA) {
      s = luaL_checkudata(L, -1, HNL_TENSOR);
      if (s->freed)
        luaL_error(L, "backward: the statistics tensor of the last forward has been freed");
    }
    lua_pop(L, 1);
  }
  if (s) {
    if (s->t.numel != n_stats)
      luaL_argerror(L, opts,
                    lua_pushfstring(L, "field 'stats': %I floats expected (net:n_stats()), got "
                                       "a tensor of shape %s",
                                    (lua_Integer)n_stats, hn_tensor_str(&s->t)));
    run.stats = s->t.data;
  } else if (n_stats > 0) {
    luaL_argerror(L, opts,
                  lua_pushfstring(L, "field 'stats' is required: the net has BatchNorm; pass "
                                     "this task's running statistics (net:init_stats(), %I floats)",
                                  (lua_Integer)n_stats));
  }
  return run;
}

static int net_forward(lua_State *L) {
  hnl_net *u = check_net(L, 1);
  hn_net *net = u->net;
  hnl_tensor *W = hnl_tensor_check_numel(L, 2, hn_net_n_params(net), "W");
  hnl_tensor *x = hnl_tensor_check(L, 3);
  hnl_check_options(L, 4, fwd_keys);
  hn_run run = read_run(L, u, 4, false);
  hnl_tensor *y = hnl_opt_tensor(L, 4, "out");
  run.lengths = read_lengths(L, u, 4, x->t.ndim >= 1 ? x->t.shape[0] : 0);
  lua_settop(L, 4);
  if (y) {
    lua_getfield(L, 4, "out");
  } else {
    int64_t os[HN_MAX_DIMS + 1];
    int nd = hn_net_out_shape(net, os + 1);
    os[0] = x->t.ndim >= 1 ? x->t.shape[0] : 0;
    if (nd + 1 > HN_MAX_DIMS) return luaL_error(L, "forward: output has too many dimensions");
    if (os[0] < 1 || os[0] > hn_net_max_batch(net))
      os[0] = 1; /* the engine reports the bad input below */
    y = hnl_tensor_push_new(L, nd + 1, os);
  }
  hnl_check(L, hn_net_forward(net, W->t.data, &x->t, &y->t, &run));
  /* Remember the mode, statistics and generator for backward. */
  u->last_train = run.train;
  u->has_forward = true;
  if (lua_type(L, 4) == LUA_TTABLE) lua_getfield(L, 4, "stats");
  else lua_pushnil(L);
  lua_setiuservalue(L, 1, UV_STATS);
  if (lua_type(L, 4) == LUA_TTABLE) lua_getfield(L, 4, "rng");
  else lua_pushnil(L);
  lua_setiuservalue(L, 1, UV_RNG);
  return 1;
}

static int net_backward(lua_State *L) {
  hnl_net *u = check_net(L, 1);
  hn_net *net = u->net;
  int64_t np = hn_net_n_params(net);
  hnl_tensor *W = hnl_tensor_check_numel(L, 2, np, "W");
  hnl_tensor *dy = hnl_tensor_check(L, 3);
  hnl_tensor *dW = lua_isnoneornil(L, 4) ? NULL : hnl_tensor_check_numel(L, 4, np, "dW");
  hnl_check_options(L, 5, bwd_keys);
  if (!u->has_forward)
    return luaL_error(L, "backward: no forward pass to go back through; call net:forward first");
  hn_run run = read_run(L, u, 5, true);
  hnl_tensor *dx = hnl_opt_tensor(L, 5, "dx");
  run.lengths = read_lengths(L, u, 5, dy->t.ndim >= 1 ? dy->t.shape[0] : 0);
  hnl_check(L, hn_net_backward(net, W->t.data, &dy->t, dW ? dW->t.data : NULL, dx ? &dx->t : NULL,
                               &run));
  if (dx) {
    lua_getfield(L, 5, "dx");
    return 1;
  }
  return 0;
}

static int net_tostring(lua_State *L) {
  hnl_net *u = luaL_checkudata(L, 1, HNL_NET);
  if (!u->net) {
    lua_pushliteral(L, "hnet.Net (freed)");
    return 1;
  }
  int64_t is[HN_MAX_DIMS], os[HN_MAX_DIMS];
  int ind = hn_net_in_shape(u->net, is), ond = hn_net_out_shape(u->net, os);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "hnet.Net(%s -> ", hn_shape_fmt(ind, is).s);
  luaL_addvalue(&b);
  int n = hn_net_n_modules(u->net);
  for (int i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, hn_net_module_name(u->net, i));
  }
  lua_pushfstring(L, " -> %s; %I params", hn_shape_fmt(ond, os).s,
                  (lua_Integer)hn_net_n_params(u->net));
  luaL_addvalue(&b);
  if (hn_net_n_stats(u->net) > 0) {
    lua_pushfstring(L, ", %I stats", (lua_Integer)hn_net_n_stats(u->net));
    luaL_addvalue(&b);
  }
  luaL_addstring(&b, ")");
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg methods[] = {
    {"n_params", net_n_params},   {"n_stats", net_n_stats},
    {"seq_len", net_seq_len},
    {"max_batch", net_max_batch}, {"in_shape", net_in_shape},
    {"out_shape", net_out_shape}, {"flops_per_sample", net_flops},
    {"ws_bytes", net_ws_bytes},   {"modules", net_modules},
    {"layout", net_layout},       {"param", net_param},
    {"init", net_init},           {"init_var", net_init_var},
    {"init_stats", net_init_stats}, {"forward", net_forward},
    {"backward", net_backward},   {"free", n_release},
    {NULL, NULL},
};

void hnl_open_net(lua_State *L) {
  if (luaL_newmetatable(L, HNL_NET)) {
    lua_pushcfunction(L, n_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, n_release);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, net_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_net_new);
  lua_setfield(L, -2, "net");
}
