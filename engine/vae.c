/*
 * vae.c — reparameterised sampling of a VAE's latent code and its backward.
 *
 * The normal draws are taken serially (they advance one stream in a fixed
 * order); the elementwise work after them runs over rows in parallel with
 * disjoint writes, so the results do not depend on the thread count.
 */
#include "vae.h"
#include "internal.h"

#include <math.h>

/* h [n, 2d]; z (or dz) [n, m >= d]; eps [n, d]. */
static hn_status check(const char *who, const hn_tensor *h, const hn_tensor *eps,
                       const char *zname, const hn_tensor *z) {
  if (!h || !h->data) return hn_fail(HN_ERR_ARG, "%s: h is NULL", who);
  if (!eps || !eps->data) return hn_fail(HN_ERR_ARG, "%s: eps is NULL", who);
  if (!z || !z->data) return hn_fail(HN_ERR_ARG, "%s: %s is NULL", who, zname);
  if (h->ndim != 2 || h->shape[0] < 1 || h->shape[1] < 2 || h->shape[1] % 2 != 0)
    return hn_fail(HN_ERR_SHAPE, "%s: h is %s; expected [n, 2d] (mu then log-variance per "
                                 "latent, n >= 1, d >= 1)",
                   who, hn_tensor_str(h));
  int64_t n = h->shape[0], d = h->shape[1] / 2;
  if (eps->ndim != 2 || eps->shape[0] != n || eps->shape[1] != d)
    return hn_fail(HN_ERR_SHAPE, "%s: eps is %s but h is %s; expected eps [%lld, %lld]", who,
                   hn_tensor_str(eps), hn_tensor_str(h), (long long)n, (long long)d);
  if (z->ndim != 2 || z->shape[0] != n || z->shape[1] < d)
    return hn_fail(HN_ERR_SHAPE, "%s: %s is %s but h is %s; expected [%lld, m] with m >= %lld "
                                 "(the latent size d, then any condition columns)",
                   who, zname, hn_tensor_str(z), hn_tensor_str(h), (long long)n, (long long)d);
  return HN_OK;
}

hn_status hn_vae_reparam(const hn_tensor *h, hn_rng *rng, hn_tensor *eps, hn_tensor *z) {
  static const char who[] = "hn_vae_reparam";
  HN_TRY(check(who, h, eps, "z", z));
  if (!rng) return hn_fail(HN_ERR_ARG, "%s: rng is NULL", who);
  int64_t n = h->shape[0], d = h->shape[1] / 2, m = z->shape[1];
  hn_rng_fill_normal(rng, eps->data, n * d, 0.0f, 1.0f);
  const float *hd = h->data, *e = eps->data;
  float *zd = z->data;
#pragma omp parallel for schedule(static) if (n * d * 8 > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < n; r++) {
    const float *mu = hd + r * 2 * d, *lv = mu + d;
    for (int64_t j = 0; j < d; j++) zd[r * m + j] = mu[j] + expf(0.5f * lv[j]) * e[r * d + j];
  }
  return HN_OK;
}

hn_status hn_vae_reparam_backward(const hn_tensor *h, const hn_tensor *eps, const hn_tensor *dz,
                                  hn_tensor *dh) {
  static const char who[] = "hn_vae_reparam_backward";
  HN_TRY(check(who, h, eps, "dz", dz));
  if (!dh || !dh->data) return hn_fail(HN_ERR_ARG, "%s: dh is NULL", who);
  if (!hn_tensor_same_shape(dh, h))
    return hn_fail(HN_ERR_SHAPE, "%s: dh is %s but h is %s; they must match", who,
                   hn_tensor_str(dh), hn_tensor_str(h));
  int64_t n = h->shape[0], d = h->shape[1] / 2, m = dz->shape[1];
  const float *hd = h->data, *e = eps->data, *g = dz->data;
  float *dd = dh->data;
#pragma omp parallel for schedule(static) if (n * d * 8 > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < n; r++) {
    const float *lv = hd + r * 2 * d + d;
    float *dmu = dd + r * 2 * d, *dlv = dmu + d;
    for (int64_t j = 0; j < d; j++) {
      float gz = g[r * m + j];
      dmu[j] += gz;
      dlv[j] += gz * e[r * d + j] * 0.5f * expf(0.5f * lv[j]);
    }
  }
  return HN_OK;
}
