/*
 * lhn.c — luaopen_hnet_core and the helpers every l_*.c file shares: engine
 * errors to Lua errors, options tables with unknown keys rejected, shapes,
 * collector pacing.
 */
#include "lhn.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lualib.h>

/* Openers that live in files other helpers may add later (datasets, the
 * continual-learning kernels): weak, called only when linked in. */
extern void hnl_open_data(lua_State *L) __attribute__((weak));
extern void hnl_open_cl(lua_State *L) __attribute__((weak));
extern void hnl_open_sys(lua_State *L) __attribute__((weak));
extern void hnl_open_ckpt(lua_State *L) __attribute__((weak));
extern void hnl_open_vae(lua_State *L) __attribute__((weak));

void hnl_check(lua_State *L, hn_status st) {
  if (st == HN_OK) return;
  const char *msg = hn_errmsg();
  if (!msg || !*msg) msg = hn_status_name(st);
  luaL_error(L, "%s", msg);
}

const char *hnl_fmt_bytes(char *buf, size_t n, double bytes) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    u++;
  }
  if (u == 0 || bytes >= 100.0 || bytes == floor(bytes))
    snprintf(buf, n, "%.0f %s", bytes, unit[u]);
  else
    snprintf(buf, n, "%.1f %s", bytes, unit[u]);
  return buf;
}

/* ---- options tables -------------------------------------------------------- */

static bool key_allowed(const char *key, const char *const *allowed) {
  for (int i = 0; allowed && allowed[i]; i++)
    if (strcmp(key, allowed[i]) == 0) return true;
  return false;
}

static void unknown_key(lua_State *L, int idx, const char *key, const char *const *allowed) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "unknown option '");
  luaL_addstring(&b, key);
  luaL_addstring(&b, "'");
  if (allowed && allowed[0]) {
    luaL_addstring(&b, " (allowed: ");
    for (int i = 0; allowed[i]; i++) {
      if (i) luaL_addstring(&b, ", ");
      luaL_addstring(&b, allowed[i]);
    }
    luaL_addstring(&b, ")");
  }
  luaL_pushresult(&b);
  luaL_argerror(L, idx, lua_tostring(L, -1));
}

void hnl_check_options_pos(lua_State *L, int idx, const char *const *allowed, int n_pos) {
  idx = lua_absindex(L, idx);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1); /* the value */
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -1);
      if (!key_allowed(key, allowed)) unknown_key(L, idx, key, allowed);
    } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
               lua_tointeger(L, -1) <= n_pos) {
      /* a positional entry the caller reads */
    } else {
      lua_pushvalue(L, -1); /* keep the key intact for lua_next */
      const char *k = luaL_tolstring(L, -1, NULL);
      if (n_pos > 0)
        luaL_argerror(L, idx,
                      lua_pushfstring(L, "unexpected key %s (at most %d positional values)", k,
                                      n_pos));
      else
        luaL_argerror(L, idx,
                      lua_pushfstring(L, "unexpected key %s (options are named fields)", k));
    }
  }
}

void hnl_check_options(lua_State *L, int idx, const char *const *allowed) {
  hnl_check_options_pos(L, idx, allowed, 0);
}

/* Push field `key` of the options table at idx (nil if there is none) and
 * return its type. */
static int opt_field(lua_State *L, int idx, const char *key) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, idx, key);
}

/* Raise "field 'key': <expected> expected, got <value or type>" for the
 * value on top of the stack. */
static int field_error(lua_State *L, int idx, const char *key, const char *expected) {
  const char *got = lua_type(L, -1) == LUA_TNUMBER ? luaL_tolstring(L, -1, NULL)
                                                   : luaL_typename(L, -1);
  return luaL_argerror(L, idx,
                       lua_pushfstring(L, "field '%s': %s expected, got %s", key, expected, got));
}

int64_t hnl_opt_int(lua_State *L, int idx, const char *key, int64_t def, int64_t lo, int64_t hi) {
  idx = lua_absindex(L, idx);
  if (opt_field(L, idx, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  const char *expected;
  char buf[96];
  if (lo == 1 && hi >= INT32_MAX)
    expected = "positive integer";
  else if (lo == 0 && hi >= INT32_MAX)
    expected = "non-negative integer";
  else {
    snprintf(buf, sizeof buf, "integer in [%lld, %lld]", (long long)lo, (long long)hi);
    expected = buf;
  }
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || lua_type(L, -1) != LUA_TNUMBER || v < lo || v > hi)
    field_error(L, idx, key, expected);
  lua_pop(L, 1);
  return (int64_t)v;
}

double hnl_opt_number(lua_State *L, int idx, const char *key, double def, double lo, double hi) {
  idx = lua_absindex(L, idx);
  if (opt_field(L, idx, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  char buf[96];
  if (hi >= DBL_MAX && lo > 0 && lo < 1e-30)
    snprintf(buf, sizeof buf, "positive number");
  else if (hi >= DBL_MAX)
    snprintf(buf, sizeof buf, "number >= %g", lo);
  else if (lo <= -DBL_MAX)
    snprintf(buf, sizeof buf, "number <= %g", hi);
  else
    snprintf(buf, sizeof buf, "number in [%g, %g]", lo, hi);
  if (lua_type(L, -1) != LUA_TNUMBER) field_error(L, idx, key, buf);
  double v = lua_tonumber(L, -1);
  if (!(v >= lo && v <= hi)) field_error(L, idx, key, buf); /* also rejects NaN */
  lua_pop(L, 1);
  return v;
}

bool hnl_opt_bool(lua_State *L, int idx, const char *key, bool def) {
  idx = lua_absindex(L, idx);
  int t = opt_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TBOOLEAN) field_error(L, idx, key, "boolean");
  bool v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The string stays valid while the options table holds it. */
const char *hnl_opt_string(lua_State *L, int idx, const char *key, const char *def) {
  idx = lua_absindex(L, idx);
  int t = opt_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TSTRING) field_error(L, idx, key, "string");
  const char *s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

int hnl_opt_int_list(lua_State *L, int idx, const char *key, int64_t *out, int max, int64_t lo,
                     int64_t hi) {
  idx = lua_absindex(L, idx);
  int t = opt_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (t == LUA_TNUMBER) { /* a single value stands for a one-element list */
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum || v < lo || v > hi || max < 1) field_error(L, idx, key, "list of positive integers");
    out[0] = v;
    lua_pop(L, 1);
    return 1;
  }
  if (t != LUA_TTABLE) field_error(L, idx, key, "list of integers");
  lua_Integer n = luaL_len(L, -1);
  if (n > max)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "field '%s': at most %d entries allowed, got %d", key, max,
                                  (int)n));
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, -1, i);
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER || v < lo || v > hi) {
      const char *got = luaL_tolstring(L, -1, NULL);
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "field '%s': entry %d must be an integer in [%I, %I], got %s",
                                    key, (int)i, (lua_Integer)lo, (lua_Integer)hi, got));
    }
    out[i - 1] = v;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return (int)n;
}

hnl_tensor *hnl_opt_tensor(lua_State *L, int idx, const char *key) {
  idx = lua_absindex(L, idx);
  if (opt_field(L, idx, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  hnl_tensor *u = luaL_testudata(L, -1, HNL_TENSOR);
  if (!u) field_error(L, idx, key, HNL_TENSOR);
  if (u->freed)
    luaL_argerror(L, idx, lua_pushfstring(L, "field '%s': hnet.Tensor has been freed", key));
  lua_pop(L, 1); /* the options table keeps it alive */
  return u;
}

/* ---- shapes --------------------------------------------------------------- */

/* The dimension on top of the stack (entry i of the shape at arg). */
static int64_t shape_dim(lua_State *L, int arg, int i) {
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || lua_type(L, -1) != LUA_TNUMBER) {
    const char *got = lua_type(L, -1) == LUA_TNUMBER ? luaL_tolstring(L, -1, NULL)
                                                     : luaL_typename(L, -1);
    luaL_argerror(L, arg, lua_pushfstring(L, "dimension %d must be an integer, got %s", i, got));
  }
  if (v < 0)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "dimension %d is negative (%I); sizes must be >= 0", i, v));
  return (int64_t)v;
}

int hnl_check_shape(lua_State *L, int arg, int64_t *shape) {
  arg = lua_absindex(L, arg);
  if (lua_type(L, arg) == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, arg);
    if (n < 1 || n > HN_MAX_DIMS)
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "shape must have 1 to %d dimensions, got %d", HN_MAX_DIMS,
                                    (int)n));
    for (int i = 1; i <= (int)n; i++) {
      lua_geti(L, arg, i);
      shape[i - 1] = shape_dim(L, arg, i);
      lua_pop(L, 1);
    }
    return (int)n;
  }
  int top = lua_gettop(L);
  if (arg > top || lua_type(L, arg) != LUA_TNUMBER)
    return luaL_typeerror(L, arg, "shape table or integer dimensions");
  int n = 0;
  for (int a = arg; a <= top && lua_type(L, a) == LUA_TNUMBER; a++) {
    if (n == HN_MAX_DIMS)
      luaL_argerror(L, a, lua_pushfstring(L, "at most %d dimensions", HN_MAX_DIMS));
    lua_pushvalue(L, a);
    shape[n] = shape_dim(L, a, n + 1);
    lua_pop(L, 1);
    n++;
  }
  return n;
}

/* ---- collector pacing ----------------------------------------------------- */

void hnl_gc_pace(lua_State *L, size_t bytes) {
  /* Engine memory is invisible to Lua's allocator: tell the collector about
   * it so that a loop creating tensors does not outrun it. */
  if (bytes < ((size_t)64 << 10)) return; /* small buffers: Lua's own pacing is enough */
  size_t kib = bytes / 1024;
  if (kib > (size_t)1 << 30) kib = (size_t)1 << 30;
  lua_gc(L, LUA_GCSTEP, (int)kib);
}

/* ---- the module ----------------------------------------------------------- */

static int core_threads(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 1024, 1, "thread count must be in 0..1024 (0 = all cores)");
    hnl_check(L, hn_threads_set((int)n));
  }
  lua_pushinteger(L, hn_threads_get());
  return 1;
}

/* hnet.subnormals([mode]) -> mode: "flush" (to zero, the default) or "keep"
 * (IEEE gradual underflow) on every thread of the budget (engine/threads.h). */
static int core_subnormals(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    const char *name = luaL_checkstring(L, 1);
    hn_subnormals mode;
    if (hn_threads_subnormals_parse("hnet.subnormals", name, &mode) != HN_OK)
      return luaL_argerror(L, 1, lua_pushfstring(L, "'flush' or 'keep' expected, got '%s'", name));
    hnl_check(L, hn_threads_set_subnormals(mode));
  }
  lua_pushstring(L, hn_threads_subnormals_name(hn_threads_subnormals()));
  return 1;
}

static int core_alloc_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)hn_alloc_count());
  return 1;
}

static const luaL_Reg core_funcs[] = {
    {"threads", core_threads},
    {"subnormals", core_subnormals},
    {"alloc_count", core_alloc_count},
    {NULL, NULL},
};

void hnl_preload(lua_State *L, const char *lua_dir) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_hnet_core);
  lua_setfield(L, -2, "hnet.core");
  lua_pop(L, 1);
  if (!lua_dir) return;
  lua_getglobal(L, "package");
  if (lua_type(L, -1) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -1, "path");
  const char *old = lua_tostring(L, -1);
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", lua_dir, lua_dir, old ? old : "");
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

int luaopen_hnet_core(lua_State *L) {
  /* The budget and its subnormal mode before any kernel runs, so that a bad
   * HNET_SUBNORMALS stops a plain Lua that loads hnet.so here (./hnet has set
   * both already; setting the same budget again changes nothing). */
  hnl_check(L, hn_threads_set(hn_threads_get()));
  luaL_newlib(L, core_funcs);
  lua_pushstring(L, hn_version());
  lua_setfield(L, -2, "version");
  hnl_open_tensor(L);
  hnl_open_rng(L);
  hnl_open_net(L);
  hnl_open_hnet(L);
  hnl_open_optim(L);
  hnl_open_loss(L);
  if (hnl_open_cl) hnl_open_cl(L);
  if (hnl_open_data) hnl_open_data(L);
  if (hnl_open_sys) hnl_open_sys(L);
  if (hnl_open_ckpt) hnl_open_ckpt(L);
  if (hnl_open_vae) hnl_open_vae(L);
  hnl_open_dist(L);
  return 1;
}
