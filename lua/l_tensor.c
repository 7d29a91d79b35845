/*
 * l_tensor.c — hnet.Tensor: float32 tensors for Lua.
 *
 * A tensor userdata is created empty, given its metatable, then its buffer
 * (STYLE §10.4); __gc, __close and :free() share one idempotent release. A
 * view (:rows, :view, layout slices, ...) keeps the userdata that owns the
 * memory alive through user value 1 and is counted in that base's n_views;
 * :free() on a base with live views is an error, and __close on such a base
 * leaves the memory to the collector.
 *
 * Lua conventions at this boundary: element and row indices are 1-based
 * (get/set/rows/gather_rows, t[i] on 1-D tensors); :argmax() returns 0-based
 * column indices, because class labels in datasets are 0-based.
 * Arithmetic methods (add, sub, mul, div, scale, axpy, fill, copy, apply)
 * work in place and return the tensor itself, so `t:clone():add(u)` makes a
 * new one. :reshape(shape) is an alias of :view(shape) (a view sharing the
 * memory). :apply(fn) calls a Lua function once per element: for small
 * tensors only (a synthetic task's handful of points), never for images or
 * weight vectors; everything else runs in C over the whole tensor.
 *
 *   hnet.tensor(2, 3) / hnet.tensor{2, 3} / hnet.zeros(...)   zeros
 *   hnet.ones(...)  hnet.full({2, 3}, v)  hnet.randn(shape, rng?, std?)
 *   hnet.rand(shape, rng?, lo?, hi?)  hnet.tensor_from(nested_or_flat, shape?)
 *   hnet.cat{t1, t2, ...}   (rows of all, in order)
 *   t:shape() t:size(d) t:numel() t:ndim() #t t:is_view()
 *   t:get(i, j, ...) t:set(i, j, ..., v) t[i] (1-D) t:rows(i, j) t:view(shape)
 *   t:clone() t:copy(src) t:fill(v) t:zero() t:to_table() t:flat_table()
 *   t:gather_rows(idx) t:concat_rows(u)
 *   t:add(u|s) t:sub(u|s) t:mul(u|s) t:div(u|s) t:scale(a) t:axpy(a, x) t:apply(fn)
 *   t:sum() t:mean() t:min() t:max() (value, 1-based flat position)
 *   t:argmax() t:sqnorm() t:norm() t:dot(u) t:sqdist(u) t:all_finite() t:free()
 */
#include "lhn.h"

#include <math.h>
#include <string.h>

/* ---- creation and release ------------------------------------------------ */

static hnl_tensor *push_empty(lua_State *L) {
  hnl_tensor *u = lua_newuserdatauv(L, sizeof *u, 1);
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, HNL_TENSOR);
  return u;
}

hnl_tensor *hnl_tensor_push_new(lua_State *L, int ndim, const int64_t *shape) {
  hnl_tensor *u = push_empty(L);
  hnl_check(L, hn_tensor_init(&u->t, ndim, shape));
  hnl_gc_pace(L, (size_t)u->t.numel * sizeof(float));
  return u;
}

hnl_tensor *hnl_tensor_push_view(lua_State *L, int base_idx, float *data, int ndim,
                                 const int64_t *shape) {
  base_idx = lua_absindex(L, base_idx);
  hnl_tensor *root = luaL_testudata(L, base_idx, HNL_TENSOR);
  int keep = base_idx; /* what the view keeps alive */
  if (root && root->base_ud) {
    lua_getiuservalue(L, base_idx, 1); /* a view of a view holds the root */
    keep = lua_gettop(L);
    root = root->base_ud;
  }
  hnl_tensor *u = push_empty(L);
  hnl_check(L, hn_tensor_view(&u->t, data, ndim, shape));
  lua_pushvalue(L, keep);
  lua_setiuservalue(L, -2, 1);
  if (root) {
    u->base_ud = root;
    root->n_views++;
  }
  if (keep != base_idx) lua_remove(L, keep);
  return u;
}

static void release(hnl_tensor *u) {
  if (u->freed) return;
  if (u->base_ud) {
    u->base_ud->n_views--;
    u->base_ud = NULL;
  }
  hn_tensor_release(&u->t);
  u->freed = true;
}

hnl_tensor *hnl_tensor_check(lua_State *L, int arg) {
  hnl_tensor *u = luaL_checkudata(L, arg, HNL_TENSOR);
  if (u->freed) luaL_argerror(L, arg, "hnet.Tensor has been freed");
  return u;
}

hnl_tensor *hnl_tensor_opt(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return NULL;
  return hnl_tensor_check(L, arg);
}

hnl_tensor *hnl_tensor_check_numel(lua_State *L, int arg, int64_t n, const char *what) {
  hnl_tensor *u = hnl_tensor_check(L, arg);
  if (u->t.numel != n)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s must have %I elements, got a tensor of shape %s (%I)",
                                  what, (lua_Integer)n, hn_tensor_str(&u->t),
                                  (lua_Integer)u->t.numel));
  return u;
}

static int t_gc(lua_State *L) {
  hnl_tensor *u = luaL_checkudata(L, 1, HNL_TENSOR);
  release(u);
  return 0;
}

static int t_close(lua_State *L) {
  hnl_tensor *u = luaL_checkudata(L, 1, HNL_TENSOR);
  /* Views that escaped the scope still use the memory: the collector frees
   * it after them. */
  if (u->n_views == 0) release(u);
  return 0;
}

static int t_free(lua_State *L) {
  hnl_tensor *u = luaL_checkudata(L, 1, HNL_TENSOR);
  if (!u->freed && u->n_views > 0)
    return luaL_error(L,
                      "free: cannot free an hnet.Tensor %s while %d view(s) of it are alive "
                      "(free the views first, or drop them and let the collector run)",
                      hn_tensor_str(&u->t), u->n_views);
  release(u);
  return 0;
}

/* ---- shapes and constructors --------------------------------------------- */

/* A shape given as a table or as one integer (1-D), at exactly one argument. */
static int check_shape1(lua_State *L, int arg, int64_t *shape) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, arg);
    luaL_argcheck(L, n >= 0, arg, "size must be >= 0");
    shape[0] = n;
    return 1;
  }
  if (lua_type(L, arg) != LUA_TTABLE) return luaL_typeerror(L, arg, "shape table or integer");
  return hnl_check_shape(L, arg, shape);
}

static int l_tensor_new(lua_State *L) {
  int64_t shape[HN_MAX_DIMS];
  int nd = hnl_check_shape(L, 1, shape);
  hnl_tensor_push_new(L, nd, shape);
  return 1;
}

static int l_ones(lua_State *L) {
  int64_t shape[HN_MAX_DIMS];
  int nd = hnl_check_shape(L, 1, shape);
  hnl_tensor *u = hnl_tensor_push_new(L, nd, shape);
  hn_ops_fill(u->t.data, 1.0f, u->t.numel);
  return 1;
}

static int l_full(lua_State *L) {
  int64_t shape[HN_MAX_DIMS];
  int nd = check_shape1(L, 1, shape);
  float v = (float)luaL_checknumber(L, 2);
  hnl_tensor *u = hnl_tensor_push_new(L, nd, shape);
  hn_ops_fill(u->t.data, v, u->t.numel);
  return 1;
}

static int l_randn(lua_State *L) {
  int64_t shape[HN_MAX_DIMS];
  int nd = check_shape1(L, 1, shape);
  hn_rng *r = hnl_rng_opt(L, 2);
  double std = luaL_optnumber(L, 3, 1.0);
  luaL_argcheck(L, std >= 0 && isfinite(std), 3, "standard deviation must be finite and >= 0");
  hnl_tensor *u = hnl_tensor_push_new(L, nd, shape);
  hn_rng_fill_normal(r, u->t.data, u->t.numel, 0.0f, (float)std);
  return 1;
}

static int l_rand(lua_State *L) {
  int64_t shape[HN_MAX_DIMS];
  int nd = check_shape1(L, 1, shape);
  hn_rng *r = hnl_rng_opt(L, 2);
  double lo = luaL_optnumber(L, 3, 0.0), hi = luaL_optnumber(L, 4, 1.0);
  luaL_argcheck(L, isfinite(lo) && isfinite(hi) && lo <= hi, 4, "need finite lo <= hi");
  hnl_tensor *u = hnl_tensor_push_new(L, nd, shape);
  hn_rng_fill_uniform(r, u->t.data, u->t.numel, (float)lo, (float)hi);
  return 1;
}

/* Infer the shape of a nested table of numbers from its first elements. */
static int nested_shape(lua_State *L, int idx, int64_t *shape) {
  int nd = 0;
  lua_pushvalue(L, idx);
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (nd == HN_MAX_DIMS)
      luaL_argerror(L, 1, lua_pushfstring(L, "nested deeper than %d levels", HN_MAX_DIMS));
    shape[nd++] = (int64_t)luaL_len(L, -1);
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return nd;
}

/* Copy a nested table at the top of the stack into data (depth d of nd),
 * checking that it is rectangular; returns elements written. */
static int64_t fill_nested(lua_State *L, int d, int nd, const int64_t *shape, float *data,
                           int64_t pos) {
  if (lua_type(L, -1) != LUA_TTABLE || (int64_t)luaL_len(L, -1) != shape[d])
    luaL_argerror(L, 1,
                  lua_pushfstring(L, "ragged table: a level-%d entry should be a list of %I values",
                                  d + 1, (lua_Integer)shape[d]));
  for (int64_t i = 1; i <= shape[d]; i++) {
    lua_geti(L, -1, i);
    if (d + 1 < nd) {
      pos = fill_nested(L, d + 1, nd, shape, data, pos);
    } else {
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "entry %I at depth %d is a %s, expected a number",
                                      (lua_Integer)i, d + 1, luaL_typename(L, -1)));
      data[pos++] = (float)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
  }
  return pos;
}

static int l_tensor_from(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int64_t ishape[HN_MAX_DIMS];
  int ind = nested_shape(L, 1, ishape);
  int64_t shape[HN_MAX_DIMS];
  int nd = ind;
  memcpy(shape, ishape, sizeof shape);
  if (!lua_isnoneornil(L, 2)) {
    nd = check_shape1(L, 2, shape);
    int64_t want = hn_shape_numel(nd, shape), have = hn_shape_numel(ind, ishape);
    if (want != have)
      luaL_argerror(L, 2,
                    lua_pushfstring(L, "shape %s holds %I elements but the table has %I",
                                    hn_shape_fmt(nd, shape).s, (lua_Integer)want,
                                    (lua_Integer)have));
  }
  hnl_tensor *u = hnl_tensor_push_new(L, ind, ishape);
  lua_pushvalue(L, 1);
  fill_nested(L, 0, ind, ishape, u->t.data, 0);
  lua_pop(L, 1);
  hnl_check(L, hn_tensor_reshape(&u->t, nd, shape));
  return 1;
}

/* hnet.cat{t1, t2, ...}: a new tensor with the rows of all, in order. */
static int cat_list(lua_State *L, int list) {
  lua_Integer n = luaL_len(L, list);
  luaL_argcheck(L, n >= 1, list, "need at least one tensor");
  int64_t shape[HN_MAX_DIMS] = {0};
  int nd = 0;
  int64_t rows = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, list, i);
    hnl_tensor *u = luaL_testudata(L, -1, HNL_TENSOR);
    if (!u || u->freed)
      luaL_argerror(L, list,
                    lua_pushfstring(L, "entry %I is not a live hnet.Tensor", (lua_Integer)i));
    if (i == 1) {
      nd = u->t.ndim;
      memcpy(shape, u->t.shape, sizeof shape);
    } else {
      bool ok = u->t.ndim == nd;
      for (int d = 1; ok && d < nd; d++) ok = u->t.shape[d] == shape[d];
      if (!ok)
        luaL_argerror(L, list,
                      lua_pushfstring(L, "entry %I has shape %s; rows of %s expected",
                                      (lua_Integer)i, hn_tensor_str(&u->t),
                                      hn_shape_fmt(nd, shape).s));
    }
    rows += u->t.shape[0];
    lua_pop(L, 1);
  }
  shape[0] = rows;
  hnl_tensor *out = hnl_tensor_push_new(L, nd, shape);
  int64_t pos = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, list, i);
    hnl_tensor *u = lua_touserdata(L, -1);
    hn_ops_copy(out->t.data + pos, u->t.data, u->t.numel);
    pos += u->t.numel;
    lua_pop(L, 1);
  }
  return 1;
}

static int l_cat(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  return cat_list(L, 1);
}

/* ---- inspection ------------------------------------------------------------ */

static int tensor_shape(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_createtable(L, u->t.ndim, 0);
  for (int i = 0; i < u->t.ndim; i++) {
    lua_pushinteger(L, u->t.shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int tensor_size(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    for (int i = 0; i < u->t.ndim; i++) lua_pushinteger(L, u->t.shape[i]);
    return u->t.ndim;
  }
  lua_Integer d = luaL_checkinteger(L, 2);
  if (d < 0) d += u->t.ndim + 1; /* -1 is the last dimension */
  luaL_argcheck(L, d >= 1 && d <= u->t.ndim, 2, "dimension out of range");
  lua_pushinteger(L, u->t.shape[d - 1]);
  return 1;
}

static int tensor_numel(lua_State *L) {
  lua_pushinteger(L, hnl_tensor_check(L, 1)->t.numel);
  return 1;
}

static int tensor_ndim(lua_State *L) {
  lua_pushinteger(L, hnl_tensor_check(L, 1)->t.ndim);
  return 1;
}

static int tensor_is_view(lua_State *L) {
  lua_pushboolean(L, !hnl_tensor_check(L, 1)->t.owns);
  return 1;
}

static int tensor_len(lua_State *L) {
  lua_pushinteger(L, hnl_tensor_check(L, 1)->t.shape[0]);
  return 1;
}

static int tensor_tostring(lua_State *L) {
  hnl_tensor *u = luaL_checkudata(L, 1, HNL_TENSOR);
  if (u->freed) {
    lua_pushliteral(L, "hnet.Tensor (freed)");
    return 1;
  }
  char b[32];
  hnl_fmt_bytes(b, sizeof b, (double)u->t.numel * 4.0);
  lua_pushfstring(L, "hnet.Tensor%s (%s%s)", hn_tensor_str(&u->t), b, u->t.owns ? "" : ", view");
  return 1;
}

/* 1-based indices at args a..a+ndim-1 -> flat 0-based offset. */
static int64_t flat_index(lua_State *L, const hnl_tensor *u, int a) {
  int64_t off = 0;
  for (int d = 0; d < u->t.ndim; d++) {
    lua_Integer i = luaL_checkinteger(L, a + d);
    if (i < 1 || i > u->t.shape[d])
      luaL_argerror(L, a + d,
                    lua_pushfstring(L, "index %I out of range for dimension %d (1..%I)", i, d + 1,
                                    (lua_Integer)u->t.shape[d]));
    off = off * u->t.shape[d] + (i - 1);
  }
  return off;
}

static int tensor_get(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  int given = lua_gettop(L) - 1;
  if (given != u->t.ndim)
    return luaL_error(L, "get: a tensor of shape %s needs %d indices, got %d", hn_tensor_str(&u->t),
                      u->t.ndim, given);
  lua_pushnumber(L, (lua_Number)u->t.data[flat_index(L, u, 2)]);
  return 1;
}

static int tensor_set(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  int given = lua_gettop(L) - 2;
  if (given != u->t.ndim)
    return luaL_error(L, "set: a tensor of shape %s needs %d indices and a value, got %d arguments",
                      hn_tensor_str(&u->t), u->t.ndim, given + 1);
  float v = (float)luaL_checknumber(L, u->t.ndim + 2);
  u->t.data[flat_index(L, u, 2)] = v;
  lua_settop(L, 1);
  return 1;
}

static int tensor_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    hnl_tensor *u = hnl_tensor_check(L, 1);
    if (u->t.ndim != 1)
      return luaL_error(L, "t[i] indexes 1-D tensors only (this one is %s); use t:get(i, j, ...)",
                        hn_tensor_str(&u->t));
    lua_pushnumber(L, (lua_Number)u->t.data[flat_index(L, u, 2)]);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int tensor_newindex(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (lua_type(L, 2) != LUA_TNUMBER || u->t.ndim != 1)
    return luaL_error(L, "hnet.Tensor: only t[i] = v on 1-D tensors can be assigned (this one is "
                         "%s; key %s)",
                      hn_tensor_str(&u->t), luaL_typename(L, 2));
  float v = (float)luaL_checknumber(L, 3);
  u->t.data[flat_index(L, u, 2)] = v;
  return 0;
}

/* ---- views and copies ------------------------------------------------------ */

static int tensor_rows(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  lua_Integer j = luaL_optinteger(L, 3, i);
  int64_t n0 = u->t.shape[0];
  if (i < 1 || i > n0 + 1 || j < i - 1 || j > n0)
    return luaL_error(L, "rows: rows %I..%I out of range for a tensor of shape %s (1..%I)", i, j,
                      hn_tensor_str(&u->t), (lua_Integer)n0);
  hn_tensor v;
  hnl_check(L, hn_tensor_view_rows(&v, &u->t, i - 1, j - i + 1));
  hnl_tensor_push_view(L, 1, v.data, v.ndim, v.shape);
  return 1;
}

static int tensor_view(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  int64_t shape[HN_MAX_DIMS];
  int nd = hnl_check_shape(L, 2, shape);
  int64_t n = hn_shape_numel(nd, shape);
  if (n != u->t.numel)
    return luaL_error(L, "view: cannot view a tensor of shape %s (%I elements) as %s (%I elements)",
                      hn_tensor_str(&u->t), (lua_Integer)u->t.numel, hn_shape_fmt(nd, shape).s,
                      (lua_Integer)n);
  hnl_tensor_push_view(L, 1, u->t.data, nd, shape);
  return 1;
}

static int tensor_clone(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  hnl_tensor *c = hnl_tensor_push_new(L, u->t.ndim, u->t.shape);
  hn_ops_copy(c->t.data, u->t.data, u->t.numel);
  return 1;
}

static int tensor_copy(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  hnl_tensor *s = hnl_tensor_check(L, 2);
  hnl_check(L, hn_tensor_copy(&u->t, &s->t));
  lua_settop(L, 1);
  return 1;
}

static int tensor_fill(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  float v = (float)luaL_checknumber(L, 2);
  hn_ops_fill(u->t.data, v, u->t.numel);
  lua_settop(L, 1);
  return 1;
}

static int tensor_zero(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  hn_ops_fill(u->t.data, 0.0f, u->t.numel);
  lua_settop(L, 1);
  return 1;
}

static void push_nested(lua_State *L, const hnl_tensor *u, int d, const float *p) {
  int64_t n = u->t.shape[d];
  int64_t stride = 1;
  for (int k = d + 1; k < u->t.ndim; k++) stride *= u->t.shape[k];
  luaL_checkstack(L, 4, "to_table");
  lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    if (d + 1 == u->t.ndim)
      lua_pushnumber(L, (lua_Number)p[i]);
    else
      push_nested(L, u, d + 1, p + i * stride);
    lua_rawseti(L, -2, i + 1);
  }
}

static int tensor_to_table(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  push_nested(L, u, 0, u->t.data);
  return 1;
}

static int tensor_flat_table(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_createtable(L, u->t.numel > INT32_MAX ? 0 : (int)u->t.numel, 0);
  for (int64_t i = 0; i < u->t.numel; i++) {
    lua_pushnumber(L, (lua_Number)u->t.data[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int64_t row_len(const hn_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

static int tensor_gather_rows(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  int64_t n0 = u->t.shape[0], rl = row_len(&u->t);
  hnl_tensor *it = luaL_testudata(L, 2, HNL_TENSOR);
  int64_t k;
  if (it) {
    it = hnl_tensor_check(L, 2);
    k = it->t.numel;
    for (int64_t i = 0; i < k; i++) {
      float f = it->t.data[i];
      if (!(f >= 1.0f && f <= (float)n0 && f == floorf(f)))
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "index tensor entry %I is %f; row indices are "
                                                "integers in 1..%I",
                                             (lua_Integer)(i + 1), (double)f, (lua_Integer)n0));
    }
  } else {
    luaL_argexpected(L, lua_type(L, 2) == LUA_TTABLE, 2, "table or hnet.Tensor of row indices");
    k = (int64_t)luaL_len(L, 2);
    for (int64_t i = 1; i <= k; i++) {
      lua_geti(L, 2, i);
      int isnum = 0;
      lua_Integer r = lua_tointegerx(L, -1, &isnum);
      if (!isnum || r < 1 || r > n0)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "entry %I (%s) is not a row index in 1..%I",
                                             (lua_Integer)i, luaL_tolstring(L, -1, NULL),
                                             (lua_Integer)n0));
      lua_pop(L, 1);
    }
  }
  int64_t shape[HN_MAX_DIMS];
  memcpy(shape, u->t.shape, sizeof shape);
  shape[0] = k;
  hnl_tensor *out = hnl_tensor_push_new(L, u->t.ndim, shape);
  for (int64_t i = 0; i < k; i++) {
    int64_t r;
    if (it) {
      r = (int64_t)it->t.data[i] - 1;
    } else {
      lua_geti(L, 2, i + 1);
      r = (int64_t)lua_tointeger(L, -1) - 1;
      lua_pop(L, 1);
    }
    hn_ops_copy(out->t.data + i * rl, u->t.data + r * rl, rl);
  }
  return 1;
}

static int tensor_concat_rows(lua_State *L) {
  hnl_tensor_check(L, 1);
  hnl_tensor_check(L, 2);
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  return cat_list(L, lua_gettop(L));
}

/* ---- arithmetic (in place, returns self) ------------------------------------ */

/* The second operand must have the same shape as the first. */
static hnl_tensor *check_same(lua_State *L, const hnl_tensor *u, int arg, const char *fname) {
  hnl_tensor *x = hnl_tensor_check(L, arg);
  if (!hn_tensor_same_shape(&u->t, &x->t))
    luaL_error(L, "%s: shapes differ: %s and %s (elementwise operations need equal shapes)",
               fname, hn_tensor_str(&u->t), hn_tensor_str(&x->t));
  return x;
}

static int tensor_add(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    hn_ops_add_scalar(u->t.data, (float)lua_tonumber(L, 2), u->t.numel);
  } else {
    hnl_tensor *x = check_same(L, u, 2, "add");
    hn_ops_add(u->t.data, x->t.data, u->t.numel);
  }
  lua_settop(L, 1);
  return 1;
}

static int tensor_sub(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    hn_ops_add_scalar(u->t.data, -(float)lua_tonumber(L, 2), u->t.numel);
  } else {
    hnl_tensor *x = check_same(L, u, 2, "sub");
    hn_ops_sub(u->t.data, u->t.data, x->t.data, u->t.numel);
  }
  lua_settop(L, 1);
  return 1;
}

static int tensor_mul(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    hn_ops_scale(u->t.data, (float)lua_tonumber(L, 2), u->t.numel);
  } else {
    hnl_tensor *x = check_same(L, u, 2, "mul");
    hn_ops_mul(u->t.data, x->t.data, u->t.numel);
  }
  lua_settop(L, 1);
  return 1;
}

static int tensor_div(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double a = lua_tonumber(L, 2);
    luaL_argcheck(L, a != 0.0, 2, "division by zero");
    hn_ops_scale(u->t.data, (float)(1.0 / a), u->t.numel);
  } else {
    hnl_tensor *x = check_same(L, u, 2, "div");
    hn_ops_div(u->t.data, x->t.data, u->t.numel);
  }
  lua_settop(L, 1);
  return 1;
}

static int tensor_scale(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  float a = (float)luaL_checknumber(L, 2);
  hn_ops_scale(u->t.data, a, u->t.numel);
  lua_settop(L, 1);
  return 1;
}

static int tensor_axpy(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  float a = (float)luaL_checknumber(L, 2);
  hnl_tensor *x = check_same(L, u, 3, "axpy");
  hn_ops_axpy(u->t.data, a, x->t.data, u->t.numel);
  lua_settop(L, 1);
  return 1;
}

static int tensor_apply(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  for (int64_t i = 0; i < u->t.numel; i++) {
    lua_pushvalue(L, 2);
    lua_pushnumber(L, (lua_Number)u->t.data[i]);
    lua_call(L, 1, 1);
    int isnum = 0;
    lua_Number v = lua_tonumberx(L, -1, &isnum);
    if (!isnum)
      return luaL_error(L, "apply: the function returned a %s for element %I; a number is needed",
                        luaL_typename(L, -1), (lua_Integer)(i + 1));
    u->t.data[i] = (float)v;
    lua_pop(L, 1);
    if (u->freed) return luaL_error(L, "apply: the tensor was freed by the function");
  }
  lua_settop(L, 1);
  return 1;
}

/* ---- reductions -------------------------------------------------------------- */

static int tensor_sum(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_pushnumber(L, hn_ops_sum(u->t.data, u->t.numel));
  return 1;
}

static int tensor_mean(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (u->t.numel == 0) return luaL_error(L, "mean: the tensor is empty %s", hn_tensor_str(&u->t));
  lua_pushnumber(L, hn_ops_sum(u->t.data, u->t.numel) / (double)u->t.numel);
  return 1;
}

static int minmax(lua_State *L, bool want_max) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  if (u->t.numel == 0)
    return luaL_error(L, "%s: the tensor is empty %s", want_max ? "max" : "min",
                      hn_tensor_str(&u->t));
  float m = u->t.data[0];
  int64_t at = 0;
  for (int64_t i = 1; i < u->t.numel; i++) {
    float v = u->t.data[i];
    if (want_max ? v > m : v < m) {
      m = v;
      at = i;
    }
  }
  lua_pushnumber(L, (lua_Number)m);
  lua_pushinteger(L, at + 1);
  return 2;
}

static int tensor_min(lua_State *L) { return minmax(L, false); }
static int tensor_max(lua_State *L) { return minmax(L, true); }

/* Per row: 0-based index of the largest value (class-label convention). */
static int tensor_argmax(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  int64_t rl = u->t.ndim == 1 ? u->t.numel : row_len(&u->t);
  int64_t rows = u->t.ndim == 1 ? 1 : u->t.shape[0];
  if (rl == 0) return luaL_error(L, "argmax: rows of %s are empty", hn_tensor_str(&u->t));
  float *out = NULL;
  if (u->t.ndim > 1) out = hnl_tensor_push_new(L, 1, &rows)->t.data;
  int64_t best = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float *p = u->t.data + r * rl;
    best = 0;
    for (int64_t j = 1; j < rl; j++)
      if (p[j] > p[best]) best = j;
    if (out) out[r] = (float)best;
  }
  if (!out) lua_pushinteger(L, best);
  return 1;
}

static int tensor_sqnorm(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_pushnumber(L, hn_ops_sqnorm(u->t.data, u->t.numel));
  return 1;
}

static int tensor_norm(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_pushnumber(L, sqrt(hn_ops_sqnorm(u->t.data, u->t.numel)));
  return 1;
}

static int tensor_dot(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  hnl_tensor *x = check_same(L, u, 2, "dot");
  lua_pushnumber(L, hn_ops_dot(u->t.data, x->t.data, u->t.numel));
  return 1;
}

static int tensor_sqdist(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  hnl_tensor *x = check_same(L, u, 2, "sqdist");
  lua_pushnumber(L, hn_ops_sqdist(u->t.data, x->t.data, u->t.numel));
  return 1;
}

static int tensor_all_finite(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  lua_pushboolean(L, hn_ops_all_finite(u->t.data, u->t.numel));
  return 1;
}

static const luaL_Reg methods[] = {
    {"shape", tensor_shape},         {"size", tensor_size},
    {"numel", tensor_numel},         {"ndim", tensor_ndim},
    {"is_view", tensor_is_view},     {"get", tensor_get},
    {"set", tensor_set},             {"rows", tensor_rows},
    {"view", tensor_view},           {"reshape", tensor_view},
    {"clone", tensor_clone},         {"copy", tensor_copy},
    {"fill", tensor_fill},           {"zero", tensor_zero},
    {"to_table", tensor_to_table},   {"flat_table", tensor_flat_table},
    {"gather_rows", tensor_gather_rows}, {"concat_rows", tensor_concat_rows},
    {"add", tensor_add},             {"sub", tensor_sub},
    {"mul", tensor_mul},             {"div", tensor_div},
    {"scale", tensor_scale},         {"axpy", tensor_axpy},
    {"apply", tensor_apply},         {"sum", tensor_sum},
    {"mean", tensor_mean},           {"min", tensor_min},
    {"max", tensor_max},             {"argmax", tensor_argmax},
    {"sqnorm", tensor_sqnorm},       {"norm", tensor_norm},
    {"dot", tensor_dot},             {"sqdist", tensor_sqdist},
    {"all_finite", tensor_all_finite}, {"free", t_free},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", t_gc},       {"__close", t_close}, {"__tostring", tensor_tostring},
    {"__len", tensor_len},     {"__newindex", tensor_newindex},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"tensor", l_tensor_new}, {"zeros", l_tensor_new}, {"ones", l_ones},
    {"full", l_full},         {"randn", l_randn},      {"rand", l_rand},
    {"tensor_from", l_tensor_from}, {"cat", l_cat},
    {NULL, NULL},
};

void hnl_open_tensor(lua_State *L) {
  if (luaL_newmetatable(L, HNL_TENSOR)) {
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    lua_pushcclosure(L, tensor_index, 1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
