/*
 * vae.h — the reparameterised sample of a variational autoencoder's latent
 * code, z = mu + exp(0.5 logvar) · eps with eps ~ N(0, 1), and its backward.
 * The loss terms of a VAE (Gaussian KL, Bernoulli reconstruction) are in
 * loss.h.
 *
 * h [n, 2d] = (mu [d], logvar [d]) per row: the encoder's output, as in
 * hn_loss_kl_gauss. z [n, m] with m >= d: the sample is written into columns
 * [0, d) of each row and columns [d, m) are never touched, so a conditional
 * decoder's input [z | condition] is one buffer whose condition columns the
 * caller writes once; the backward reads dz's first d columns likewise.
 */
#ifndef HN_VAE_H
#define HN_VAE_H

#include "rng.h"
#include "tensor.h"

/* eps [n, d] is OVERWRITTEN with n·d standard normal draws from rng, taken
 * in row-major order (so the stream, not the thread count, fixes them; the
 * backward needs eps); z's first d columns are OVERWRITTEN with
 * mu + exp(0.5 logvar) · eps. A failed call leaves eps, z and rng untouched. */
hn_status hn_vae_reparam(const hn_tensor *h, hn_rng *rng, hn_tensor *eps, hn_tensor *z);

/* Given dz [n, m] (m >= d, columns [d, m) ignored), ACCUMULATES into
 * dh [n, 2d]: dmu += dz, dlogvar += dz · eps · 0.5 exp(0.5 logvar). It
 * accumulates so that it adds to the KL term's gradient (hn_loss_kl_gauss
 * overwrites dh): call the KL first, then this. */
hn_status hn_vae_reparam_backward(const hn_tensor *h, const hn_tensor *eps, const hn_tensor *dz,
                                  hn_tensor *dh);

#endif
