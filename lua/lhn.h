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

/* ---- additions (binding helpers shared across l_*.c) -------------------- */

/* Like hnl_check_options, but integer keys 1..n_pos are also allowed (the
 * positional part of a spec such as {"linear", 100, bias = false}). */
void hnl_check_options_pos(lua_State *L, int idx, const char *const *allowed, int n_pos);
/* A tensor field of an options table (nil -> NULL); raises
 * "bad argument #idx to 'f' (field 'k': hnet.Tensor expected, got ...)". */
hnl_tensor *hnl_opt_tensor(lua_State *L, int idx, const char *key);
/* hnl_tensor_check, plus: the tensor must hold exactly n elements; `what`
 * names it in the message ("W", "dW"). */
hnl_tensor *hnl_tensor_check_numel(lua_State *L, int arg, int64_t n, const char *what);
/* hnl_tensor_check, or NULL when the argument is none or nil. */
hnl_tensor *hnl_tensor_opt(lua_State *L, int arg);
/* The engine generator inside an hnet.Rng userdata at arg (raises if not). */
hn_rng *hnl_rng_check(lua_State *L, int arg);
/* hnl_rng_check, or the state's default generator (seeded from hnet.seed())
 * when the argument is none or nil. */
hn_rng *hnl_rng_opt(lua_State *L, int arg);
/* The default generator of this Lua state (created on first use). */
hn_rng *hnl_default_rng(lua_State *L);
/* Registry key of the default seed (an integer); ./hnet --seed sets it before
 * the script runs. Absent: HNL_DEFAULT_SEED. */
#define HNL_SEED_KEY "hnet.default_seed"
#define HNL_DEFAULT_SEED 1
/* Human-readable byte count ("392 KiB", "1.5 MiB") into buf. */
const char *hnl_fmt_bytes(char *buf, size_t n, double bytes);
/* Add the hnet.cl functions (output regulariser, EWC, SI) if engine/cl.h is
 * part of the build (l_cl.c); a weak symbol otherwise. */
void hnl_open_cl(lua_State *L);

/* The engine net inside an hnet.Net userdata (raises if arg is not a live
 * one); hnl_net_test returns NULL instead of raising. */
hn_net *hnl_net_check(lua_State *L, int arg);
hn_net *hnl_net_test(lua_State *L, int idx);

/* Push a parameter layout as a Lua list of {name, offset (0-based, in
 * floats), shape, numel, module (1-based; absent if none)} (l_net.c). */
void hnl_push_layout(lua_State *L, const hn_layout *lay);

/* Set a state up the way ./hnet does (the package library must be open):
 * luaopen_hnet_core goes into package.preload["hnet.core"], and, when lua_dir
 * is not NULL, "<lua_dir>/?.lua;<lua_dir>/?/init.lua;" is prepended to
 * package.path so that require "hnet" finds lua/hnet/init.lua. */
void hnl_preload(lua_State *L, const char *lua_dir);

/* Openers; each adds its constructors/functions to the table on top. */
void hnl_open_tensor(lua_State *L);
void hnl_open_net(lua_State *L);
void hnl_open_hnet(lua_State *L);
void hnl_open_optim(lua_State *L);
void hnl_open_loss(lua_State *L);
void hnl_open_rng(lua_State *L);
void hnl_open_data(lua_State *L);
void hnl_open_sys(lua_State *L);
void hnl_open_ckpt(lua_State *L);
void hnl_open_vae(lua_State *L);
void hnl_open_dist(lua_State *L);
/* The 'mask' option of the options table at opts for logits [n, c] (a list
 * of c 0/1 values or booleans, or a tensor of c values), read into buf
 * (HNL_MASK_STACK bytes) or a Lua-owned buffer left on the stack; NULL when
 * there is none (l_loss.c). */
#define HNL_MASK_STACK 1024
const uint8_t *hnl_opt_mask(lua_State *L, int opts, const hnl_tensor *logits, uint8_t *buf);

int luaopen_hnet_core(lua_State *L);

#endif
