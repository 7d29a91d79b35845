/*
 * l_vae.c — the VAE pieces: hnet.vae (the reparameterised sample) and two
 * losses added to hnet.loss.
 *
 *   hnet.loss.bce_logits(x, target, { grad = dx })  -> loss
 *       mean over all elements of the Bernoulli cross-entropy of logits x
 *       against targets in [0, 1]; grad is OVERWRITTEN.
 *   hnet.loss.kl_gauss(h, { grad = dh })            -> loss
 *       h [n, 2d] = (mu, logvar) per row; mean over rows of
 *       KL(N(mu, e^logvar) || N(0, 1)) summed over the d latents; grad is
 *       OVERWRITTEN.
 *   hnet.loss.kd(logits, target, { mask = m, temperature = 2, grad = dx }) -> loss
 *       knowledge distillation against an earlier network's logits:
 *       T^2 · mean over rows of the cross-entropy of softmax(logits/T)
 *       against softmax(target/T) over the mask's columns (hnet.loss.xent's
 *       head masks); grad is OVERWRITTEN.
 *   hnet.vae.reparam(h, rng, { eps = e, out = z })  -> z, eps
 *       eps [n, d] <- n·d normals from rng (row-major); z's first d columns
 *       <- mu + exp(logvar / 2) · eps, its other columns untouched (a
 *       conditional decoder's condition). New tensors [n, d] when eps or
 *       out is not given.
 *   hnet.vae.reparam_backward(h, eps, dz, { grad = dh }) -> dh
 *       ACCUMULATES into dh [n, 2d] (a new zero tensor when not given):
 *       dmu += dz, dlogvar += dz · eps · exp(logvar / 2) / 2; call the KL
 *       (which overwrites) first.
 *
 * The generator is required: the sample must come from the caller's
 * stream (the run's), so that a run is deterministic by its seed.
 */
#include "lhn.h"

static const char *const grad_keys[] = {"grad", NULL};
static const char *const reparam_keys[] = {"eps", "out", NULL};
static const char *const kd_keys[] = {"mask", "temperature", "grad", NULL};

static hnl_tensor *opt_tensor(lua_State *L, int opts, const char *key) {
  if (lua_type(L, opts) != LUA_TTABLE) return NULL;
  return hnl_opt_tensor(L, opts, key);
}

static int l_bce_logits(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  hnl_tensor *t = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, grad_keys);
  hnl_tensor *g = opt_tensor(L, 3, "grad");
  float loss = 0.0f;
  hnl_check(L, hn_loss_bce_logits(&x->t, &t->t, &loss, g ? &g->t : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int l_kl_gauss(lua_State *L) {
  hnl_tensor *h = hnl_tensor_check(L, 1);
  hnl_check_options(L, 2, grad_keys);
  hnl_tensor *g = opt_tensor(L, 2, "grad");
  float loss = 0.0f;
  hnl_check(L, hn_loss_kl_gauss(&h->t, &loss, g ? &g->t : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

static int l_kd(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  hnl_tensor *t = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, kd_keys);
  double temp = lua_type(L, 3) == LUA_TTABLE ? hnl_opt_number(L, 3, "temperature", 2.0, 1e-6, 1e6) : 2.0;
  uint8_t buf[HNL_MASK_STACK];
  const uint8_t *mask = hnl_opt_mask(L, 3, x, buf);
  hnl_tensor *g = opt_tensor(L, 3, "grad");
  float loss = 0.0f;
  hnl_check(L, hn_loss_kd(&x->t, &t->t, mask, (float)temp, &loss, g ? &g->t : NULL));
  lua_pushnumber(L, (lua_Number)loss);
  return 1;
}

/* n and d of h [n, 2d], or an argument error naming the shape. */
static void latent_shape(lua_State *L, const hnl_tensor *h, int64_t *n, int64_t *d) {
  if (h->t.ndim != 2 || h->t.shape[1] < 2 || h->t.shape[1] % 2 != 0)
    luaL_argerror(L, 1, lua_pushfstring(L, "h is %s; expected [n, 2d] (mu then log-variance per "
                                           "latent)",
                                        hn_tensor_str(&h->t)));
  *n = h->t.shape[0];
  *d = h->t.shape[1] / 2;
}

static int l_reparam(lua_State *L) {
  hnl_tensor *h = hnl_tensor_check(L, 1);
  hn_rng *rng = hnl_rng_check(L, 2);
  hnl_check_options(L, 3, reparam_keys);
  int64_t n, d;
  latent_shape(L, h, &n, &d);
  hnl_tensor *z = opt_tensor(L, 3, "out");
  hnl_tensor *eps = opt_tensor(L, 3, "eps");
  int64_t shape[2] = {n, d};
  int zi, ei;
  if (z) {
    lua_getfield(L, 3, "out");
  } else {
    z = hnl_tensor_push_new(L, 2, shape);
  }
  zi = lua_gettop(L);
  if (eps) {
    lua_getfield(L, 3, "eps");
  } else {
    eps = hnl_tensor_push_new(L, 2, shape);
  }
  ei = lua_gettop(L);
  hnl_check(L, hn_vae_reparam(&h->t, rng, &eps->t, &z->t));
  lua_pushvalue(L, zi);
  lua_pushvalue(L, ei);
  return 2;
}

static int l_reparam_backward(lua_State *L) {
  hnl_tensor *h = hnl_tensor_check(L, 1);
  hnl_tensor *eps = hnl_tensor_check(L, 2);
  hnl_tensor *dz = hnl_tensor_check(L, 3);
  hnl_check_options(L, 4, grad_keys);
  int64_t n, d;
  latent_shape(L, h, &n, &d);
  hnl_tensor *dh = opt_tensor(L, 4, "grad");
  if (dh) {
    lua_getfield(L, 4, "grad");
  } else {
    int64_t shape[2] = {n, 2 * d};
    dh = hnl_tensor_push_new(L, 2, shape); /* zeros */
  }
  hnl_check(L, hn_vae_reparam_backward(&h->t, &eps->t, &dz->t, &dh->t));
  return 1;
}

static const luaL_Reg vae_funcs[] = {
    {"reparam", l_reparam},
    {"reparam_backward", l_reparam_backward},
    {NULL, NULL},
};

static const luaL_Reg loss_funcs[] = {
    {"bce_logits", l_bce_logits},
    {"kl_gauss", l_kl_gauss},
    {"kd", l_kd},
    {NULL, NULL},
};

/* Adds hnet.vae, and two functions to hnet.loss (opened before). */
void hnl_open_vae(lua_State *L) {
  luaL_newlib(L, vae_funcs);
  lua_setfield(L, -2, "vae");
  if (lua_getfield(L, -1, "loss") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "loss");
  }
  luaL_setfuncs(L, loss_funcs, 0);
  lua_pop(L, 1);
}
