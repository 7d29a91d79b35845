/*
 * lhn.h — helpers shared by the binding's l_*.c files (prefix hnl_).
 *
 * Pattern of every l_<type>.c: a userdata struct embedding the engine object;
 * hnl_<type>_check(L, arg) (luaL_checkudata + "has been freed" check); static
 * methods <type>_<method>; a methods luaL_Reg installed as __index and a
 * metamethods luaL_Reg (__gc, __close, __tostring ...); hnl_open_<type>(L)
 * which builds the metatable once and adds constructors to the module table
 * on top of the stack. All Lua arguments are read and checked before the
 * engine is called; engine failures become errors via hnl_check.
 */
#ifndef HNL_LHN_H
#define HNL_LHN_H

#include <lauxlib.h>
#include <lua.h>

#include "../engine/hn.h"

#define HNL_TENSOR "hnet.Tensor"
#define HNL_NET "hnet.Net"
#define HNL_HYPERNET "hnet.HyperNet"
#define HNL_OPTIM "hnet.Optim"
#define HNL_RNG "hnet.Rng"

/* A tensor userdata. A base owns t's buffer and counts its live views; a view
 * keeps its base alive through user value 1 and has base_ud != NULL. */
typedef struct hnl_tensor {
  hn_tensor t;
  int n_views;                 /* live views of this base           */
  struct hnl_tensor *base_ud;  /* the base of a view, NULL for a base */
  bool freed;
} hnl_tensor;

/* Raise a Lua error with the engine's message if st != HN_OK. */
void hnl_check(lua_State *L, hn_status st);

/* luaL_checkudata + "hnet.Tensor has been freed" check. */
hnl_tensor *hnl_tensor_check(lua_State *L, int arg);
/* Push a new owned, zero-filled tensor of that shape (raises on bad shape or
 * out of memory) and return it. */
hnl_tensor *hnl_tensor_push_new(lua_State *L, int ndim, const int64_t *shape);
/* Push a view over `data` that keeps the userdata at index base_idx alive. */
hnl_tensor *hnl_tensor_push_view(lua_State *L, int base_idx, float *data, int ndim,
                                 const int64_t *shape);
/* Read a shape given as a table {d1, d2, ...} or as integers from arg on;
 * returns ndim. */
int hnl_check_shape(lua_State *L, int arg, int64_t *shape);

/* Options tables. hnl_check_options raises on any key not in `allowed`
 * (NULL-terminated), naming the function's argument and the bad key, so a
 * typo fails loudly. The getters raise
 * "bad argument #i to 'f' (field 'k': positive integer expected, got -3)". */
void hnl_check_options(lua_State *L, int idx, const char *const *allowed);
int64_t hnl_opt_int(lua_State *L, int idx, const char *key, int64_t def, int64_t lo, int64_t hi);
double hnl_opt_number(lua_State *L, int idx, const char *key, double def, double lo, double hi);
bool hnl_opt_bool(lua_State *L, int idx, const char *key, bool def);
const char *hnl_opt_string(lua_State *L, int idx, const char *key, const char *def);
/* Read an integer list field (e.g. hidden = {100, 100}) into out; returns count. */
int hnl_opt_int_list(lua_State *L, int idx, const char *key, int64_t *out, int max, int64_t lo,
                     int64_t hi);

/* After allocating `bytes` of engine memory owned by a userdata, let the
 * collector pace itself against it. */
void hnl_gc_pace(lua_State *L, size_t bytes);

/* Openers; each adds its constructors/functions to the table on top. */
void hnl_open_tensor(lua_State *L);
void hnl_open_net(lua_State *L);
void hnl_open_hnet(lua_State *L);
void hnl_open_optim(lua_State *L);
void hnl_open_loss(lua_State *L);
void hnl_open_rng(lua_State *L);
void hnl_open_data(lua_State *L);

int luaopen_hnet_core(lua_State *L);

#endif
