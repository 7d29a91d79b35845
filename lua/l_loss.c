/*
 * l_loss.c — hnet.loss: losses and prediction helpers.
 *
 *   hnet.loss.xent(logits, labels, { mask = m, grad = dlogits }) -> loss
 *   hnet.loss.mse(y, target, { grad = dy })                       -> loss
 *   hnet.loss.gauss_nll(y, target, { grad = dy })                 -> loss
 *   hnet.loss.accuracy(logits, labels, { mask = m })              -> fraction, count
 *   hnet.loss.argmax(logits, { mask = m, out = t })               -> tensor [n]
 *   hnet.loss.entropy(logits, { mask = m, out = t })              -> tensor [n]
 *   hnet.loss.max_prob(logits, { mask = m, out = t })             -> tensor [n]
 *   hnet.loss.max_logprob(logits, { mask = m, out = t })          -> tensor [n]
 *   hnet.loss.logsumexp(logits, { mask = m, out = t })            -> tensor [n]
 *   hnet.loss.bits(y, target, { grad = dy, offset = c })  -> loss, n_correct, n_scored
 *
 * Labels are float tensors [n] holding 0-based class indices (the datasets'
 * convention), and argmax returns 0-based classes too. A row with a NaN or
 * +-Inf logit predicts nothing: it is never correct, its argmax is -1 and its
 * entropy (max_prob, logsumexp) NaN. A head mask is a list
 * of n_classes 0/1 values (or booleans) or a tensor of n_classes values
 * (nonzero = the class belongs to the head in use). `grad` is OVERWRITTEN
 * with the gradient of the returned (mean) loss.
 */
#include "lhn.h"

#include <string.h>

#define MASK_STACK 1024

static const char *const xent_keys[] = {"mask", "grad", NULL};
static const char *const reg_keys[] = {"grad", NULL};
static const char *const acc_keys[] = {"mask", NULL};
static const char *const pred_keys[] = {"mask", "out", NULL};

/* Read the 'mask' option of the table at opts for logits with c classes into
 * a byte mask (buf if it fits, else a Lua-owned buffer left on the stack);
 * NULL when there is none. */
static const uint8_t *opt_mask(lua_State *L, int opts, const hnl_tensor *logits, uint8_t *buf) {
  if (lua_type(L, opts) != LUA_TTABLE) return NULL;
  int t = lua_getfield(L, opts, "mask");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (logits->t.ndim != 2)
    luaL_error(L, "a head mask needs logits [n, n_classes]; got %s", hn_tensor_str(&logits->t));
  int64_t c = logits->t.shape[1];
  int mi = lua_gettop(L);
  uint8_t *m = buf;
  if (c > MASK_STACK) {
    m = lua_newuserdatauv(L, (size_t)c, 0);
    lua_insert(L, mi); /* keep it below the mask value */
    mi++;
  }
  hnl_tensor *mt = luaL_testudata(L, mi, HNL_TENSOR);
  if (mt) {
    if (mt->freed) luaL_argerror(L, opts, "field 'mask': hnet.Tensor has been freed");
    if (mt->t.numel != c)
      luaL_argerror(L, opts,
                    lua_pushfstring(L, "field 'mask': %I entries but logits %s have %I classes",
                                    (lua_Integer)mt->t.numel, hn_tensor_str(&logits->t),
                                    (lua_Integer)c));
    for (int64_t j = 0; j < c; j++) m[j] = mt->t.data[j] != 0.0f;
  } else if (t == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, mi);
    if (n != c)
      luaL_argerror(L, opts,
                    lua_pushfstring(L, "field 'mask': %I entries but logits %s have %I classes",
                                    n, hn_tensor_str(&logits->t), (lua_Integer)c));
    for (int64_t j = 0; j < c; j++) {
      int vt = lua_geti(L, mi, j + 1);
      if (vt == LUA_TBOOLEAN)
        m[j] = (uint8_t)lua_toboolean(L, -1);
      else if (vt == LUA_TNUMBER)
        m[j] = lua_tonumber(L, -1) != 0;
      else
        luaL_argerror(L, opts,
                      lua_pushfstring(L, "field 'mask': entry %I is a %s; use 0/1 or booleans",
                                      (lua_Integer)(j + 1), luaL_typename(L, -1)));
      lua_pop(L, 1);
    }
  } else {
    luaL_argerror(L, opts,
                  lua_pushfstring(L, "field 'mask': table or hnet.Tensor expected, got %s",
                                  luaL_typename(L, mi)));
  }
  lua_pop(L, 1); /* the mask value; a heap buffer stays on the stack */
  return m;
}

static hnl_tensor *opt_grad(lua_State *L, int opts, const char *key) {
  if (lua_type(L, opts) != LUA_TTABLE) return NULL;
  return hnl_opt_tensor(L, opts, key);
}

static int l_xent(lua_State *L) {
  hnl_tensor *logits = hnl_tensor_check(L, 1);
  hnl_tensor *labels = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, xent_keys);
  uint8_t buf[MASK_STACK];
  const uint8_t *mask = opt_mask(L, 3, logits, buf);
  hnl_tensor *g = opt_grad(L, 3, "grad");
  float loss = 0.0f;
  hnl_check(L, hn_loss_xent(&logits->t, &labels->t, mask, &loss, g ? &g->t : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int regression(lua_State *L, bool gauss) {
  hnl_tensor *y = hnl_tensor_check(L, 1);
  hnl_tensor *t = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, reg_keys);
  hnl_tensor *g = opt_grad(L, 3, "grad");
  float loss = 0.0f;
  if (gauss)
    hnl_check(L, hn_loss_gauss_nll(&y->t, &t->t, &loss, g ? &g->t : NULL));
  else
    hnl_check(L, hn_loss_mse(&y->t, &t->t, &loss, g ? &g->t : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int l_mse(lua_State *L) { return regression(L, false); }
static int l_gauss_nll(lua_State *L) { return regression(L, true); }

/* Per-bit sigmoid cross-entropy; targets < 0 are not scored; `offset`: the
 * head's first column in y (0-based; hn_loss_bits). */
static const char *const bits_keys[] = {"grad", "offset", NULL};
static int l_bits(lua_State *L) {
  hnl_tensor *y = hnl_tensor_check(L, 1);
  hnl_tensor *t = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, bits_keys);
  hnl_tensor *g = opt_grad(L, 3, "grad");
  int64_t col = hnl_opt_int(L, 3, "offset", 0, 0, INT64_MAX);
  float loss = 0.0f;
  int64_t correct = 0, scored = 0;
  hnl_check(L, hn_loss_bits(&y->t, &t->t, col, &loss, g ? &g->t : NULL, &correct, &scored));
  lua_pushnumber(L, (lua_Number)loss);
  lua_pushinteger(L, (lua_Integer)correct);
  lua_pushinteger(L, (lua_Integer)scored);
  return 3;
}

static int l_accuracy(lua_State *L) {
  hnl_tensor *logits = hnl_tensor_check(L, 1);
  hnl_tensor *labels = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, acc_keys);
  uint8_t buf[MASK_STACK];
  const uint8_t *mask = opt_mask(L, 3, logits, buf);
  int64_t correct = 0;
  hnl_check(L, hn_loss_accuracy(&logits->t, &labels->t, mask, &correct));
  int64_t n = logits->t.shape[0];
  lua_pushnumber(L, n > 0 ? (double)correct / (double)n : 0.0);
  lua_pushinteger(L, correct);
  return 2;
}

typedef enum { ROW_ARGMAX, ROW_ENTROPY, ROW_MAX_PROB, ROW_MAX_LOGPROB, ROW_LOGSUMEXP } row_kind;

static int per_row(lua_State *L, row_kind kind) {
  hnl_tensor *logits = hnl_tensor_check(L, 1);
  hnl_check_options(L, 2, pred_keys);
  uint8_t buf[MASK_STACK];
  const uint8_t *mask = opt_mask(L, 2, logits, buf);
  hnl_tensor *out = opt_grad(L, 2, "out");
  if (out) {
    lua_getfield(L, 2, "out");
  } else {
    int64_t n = logits->t.ndim == 2 ? logits->t.shape[0] : 1;
    out = hnl_tensor_push_new(L, 1, &n);
  }
  hn_status st = HN_OK;
  switch (kind) {
  case ROW_ARGMAX: st = hn_loss_argmax(&logits->t, mask, &out->t); break;
  case ROW_ENTROPY: st = hn_loss_entropy(&logits->t, mask, &out->t); break;
  case ROW_MAX_PROB: st = hn_loss_max_prob(&logits->t, mask, &out->t); break;
  case ROW_MAX_LOGPROB: st = hn_loss_max_logprob(&logits->t, mask, &out->t); break;
  case ROW_LOGSUMEXP: st = hn_loss_logsumexp(&logits->t, mask, &out->t); break;
  }
  hnl_check(L, st);
  return 1;
}

static int l_argmax(lua_State *L) { return per_row(L, ROW_ARGMAX); }
static int l_entropy(lua_State *L) { return per_row(L, ROW_ENTROPY); }
static int l_max_prob(lua_State *L) { return per_row(L, ROW_MAX_PROB); }
static int l_max_logprob(lua_State *L) { return per_row(L, ROW_MAX_LOGPROB); }
static int l_logsumexp(lua_State *L) { return per_row(L, ROW_LOGSUMEXP); }

static const luaL_Reg loss_funcs[] = {
    {"xent", l_xent},         {"mse", l_mse},         {"gauss_nll", l_gauss_nll},
    {"accuracy", l_accuracy}, {"argmax", l_argmax},   {"entropy", l_entropy},
    {"max_prob", l_max_prob}, {"max_logprob", l_max_logprob}, {"logsumexp", l_logsumexp}, {"bits", l_bits}, {NULL, NULL},
};

void hnl_open_loss(lua_State *L) {
  luaL_newlib(L, loss_funcs);
  lua_setfield(L, -2, "loss");
}

/* The head-mask reader for the other binding files (l_vae.c). */
_Static_assert(MASK_STACK == HNL_MASK_STACK, "HNL_MASK_STACK must match l_loss.c's buffer");
const uint8_t *hnl_opt_mask(lua_State *L, int opts, const hnl_tensor *logits, uint8_t *buf) {
  return opt_mask(L, opts, logits, buf);
}
