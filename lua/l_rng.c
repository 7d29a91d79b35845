/*
 * l_rng.c — hnet.Rng: the engine's xoshiro256** generator for Lua, the
 * default seed (hnet.seed) and the per-state default generator.
 *
 *   local r = hnet.rng(42)        -- seed 42, stream 0
 *   local s = hnet.rng(42, 3)     -- an independent stream of the same seed
 *   hnet.rng()                    -- seed hnet.seed(), stream 0
 *   r:uniform() r:uniform(lo, hi) r:normal() r:normal(mean, std)
 *   r:below(n)                    -- an integer in 1..n (Lua's convention)
 *   r:permutation(n)              -- a table holding a permutation of 1..n
 *   r:state() -> {w1, w2, w3, w4} -- the four 64-bit words as Lua integers
 *   r:set_state{...}  r:clone()
 *
 * Functions that take an optional generator (hnet.randn, dropout in
 * net:forward, ...) use the state's default one when it is omitted; it is
 * seeded from hnet.seed() (./hnet --seed N) on first use, and hnet.seed(s)
 * restarts it.
 */
#include "lhn.h"

#include <math.h>
#include <string.h>

#define DEFAULT_RNG_KEY "hnet.default_rng"
/* The default generator's stream, distinct from hnet.rng()'s stream 0. */
#define DEFAULT_STREAM 0x64656661756c74ULL

typedef struct hnl_rng {
  hn_rng r;
} hnl_rng;

static hnl_rng *push_rng(lua_State *L) {
  hnl_rng *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, HNL_RNG);
  return u;
}

hn_rng *hnl_rng_check(lua_State *L, int arg) {
  return &((hnl_rng *)luaL_checkudata(L, arg, HNL_RNG))->r;
}

static lua_Integer default_seed(lua_State *L) {
  lua_Integer s = HNL_DEFAULT_SEED;
  if (lua_getfield(L, LUA_REGISTRYINDEX, HNL_SEED_KEY) == LUA_TNUMBER) s = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return s;
}

hn_rng *hnl_default_rng(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, DEFAULT_RNG_KEY) == LUA_TUSERDATA) {
    hnl_rng *u = luaL_checkudata(L, -1, HNL_RNG);
    lua_pop(L, 1); /* the registry keeps it alive */
    return &u->r;
  }
  lua_pop(L, 1);
  lua_Integer seed = default_seed(L);
  hnl_rng *u = push_rng(L);
  hn_rng_init(&u->r, (uint64_t)seed, DEFAULT_STREAM);
  lua_setfield(L, LUA_REGISTRYINDEX, DEFAULT_RNG_KEY);
  return &u->r;
}

hn_rng *hnl_rng_opt(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return hnl_default_rng(L);
  return hnl_rng_check(L, arg);
}

static int l_rng_new(lua_State *L) {
  lua_Integer seed = lua_isnoneornil(L, 1) ? default_seed(L) : luaL_checkinteger(L, 1);
  lua_Integer stream = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, stream >= 0, 2, "stream must be >= 0");
  hnl_rng *u = push_rng(L);
  hn_rng_init(&u->r, (uint64_t)seed, (uint64_t)stream);
  return 1;
}

static int l_seed(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer s = luaL_checkinteger(L, 1);
    lua_pushinteger(L, s);
    lua_setfield(L, LUA_REGISTRYINDEX, HNL_SEED_KEY);
    lua_pushnil(L); /* the default generator restarts from the new seed */
    lua_setfield(L, LUA_REGISTRYINDEX, DEFAULT_RNG_KEY);
  }
  lua_pushinteger(L, default_seed(L));
  return 1;
}

static int rng_uniform(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  double u = hn_rng_uniform_double(r);
  if (lua_isnoneornil(L, 2)) {
    lua_pushnumber(L, u);
    return 1;
  }
  double lo = luaL_checknumber(L, 2), hi = luaL_checknumber(L, 3);
  luaL_argcheck(L, lo <= hi, 3, "need lo <= hi");
  lua_pushnumber(L, lo + (hi - lo) * u);
  return 1;
}

static int rng_normal(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  double mean = luaL_optnumber(L, 2, 0.0), std = luaL_optnumber(L, 3, 1.0);
  luaL_argcheck(L, std >= 0, 3, "standard deviation must be >= 0");
  lua_pushnumber(L, mean + std * (double)hn_rng_normal(r));
  return 1;
}

static int rng_below(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1, 2, "n must be >= 1 (the result is in 1..n)");
  lua_pushinteger(L, hn_rng_below(r, n) + 1);
  return 1;
}

/* A permutation of 1..n, Fisher-Yates from the top as in hn_rng_permutation
 * (the same draws, shifted to 1-based). */
static int rng_permutation(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && n <= INT32_MAX, 2, "n must be in 0..2^31-1");
  int64_t *perm = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *perm, 0);
  hn_rng_permutation(r, perm, n);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 0; i < n; i++) {
    lua_pushinteger(L, perm[i] + 1);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int rng_state(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  lua_createtable(L, 4, 0);
  for (int i = 0; i < 4; i++) {
    lua_pushinteger(L, (lua_Integer)r->s[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int rng_set_state(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  uint64_t s[4];
  bool any = false;
  for (int i = 0; i < 4; i++) {
    lua_geti(L, 2, i + 1);
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER)
      return luaL_argerror(L, 2,
                           lua_pushfstring(L, "state word %d must be an integer, got %s", i + 1,
                                           luaL_typename(L, -1)));
    s[i] = (uint64_t)v;
    any = any || v != 0;
    lua_pop(L, 1);
  }
  luaL_argcheck(L, any, 2, "an all-zero state is not a valid xoshiro256** state");
  memcpy(r->s, s, sizeof s);
  lua_settop(L, 1);
  return 1;
}

static int rng_clone(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  hnl_rng *c = push_rng(L);
  c->r = *r;
  return 1;
}

static int rng_tostring(lua_State *L) {
  hn_rng *r = hnl_rng_check(L, 1);
  lua_pushfstring(L, "hnet.Rng(%p)", (void *)r);
  return 1;
}

static const luaL_Reg methods[] = {
    {"uniform", rng_uniform}, {"normal", rng_normal},       {"below", rng_below},
    {"permutation", rng_permutation}, {"state", rng_state}, {"set_state", rng_set_state},
    {"clone", rng_clone},     {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"rng", l_rng_new},
    {"seed", l_seed},
    {NULL, NULL},
};

void hnl_open_rng(lua_State *L) {
  if (luaL_newmetatable(L, HNL_RNG)) {
    lua_pushcfunction(L, rng_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
