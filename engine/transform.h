/*
 * transform.h — task transforms over datasets held as tensors: bulk work that
 * must not run per sample in Lua. Images are x [n, c, h, w] or flat [n, d].
 * Outputs are written only after every check passes; none allocate unless
 * stated (hn_transform_gather writes into a caller tensor).
 */
#ifndef HN_TRANSFORM_H
#define HN_TRANSFORM_H

#include "rng.h"
#include "tensor.h"

/* y[i, j] = x[i, perm[j]] over the flattened sample; perm is a permutation of
 * 0..d-1 (checked). y may not alias x. */
hn_status hn_transform_permute(const hn_tensor *x, const int64_t *perm, int64_t d, hn_tensor *y);
/* Rotate each image by `degrees` (counter-clockwise) about its centre with
 * bilinear interpolation, zero fill. */
hn_status hn_transform_rotate(const hn_tensor *x, float degrees, hn_tensor *y);
/* y = x + N(0, std^2), clamped to [lo, hi] if lo < hi. */
hn_status hn_transform_noise(const hn_tensor *x, float std, float lo, float hi, hn_rng *rng,
                             hn_tensor *y);
/* y = contrast * (x - mean_of_sample) + mean_of_sample + brightness, clamped
 * to [lo, hi] if lo < hi. */
hn_status hn_transform_shift(const hn_tensor *x, float brightness, float contrast, float lo,
                             float hi, hn_tensor *y);
/* Zero-pad images [n, c, h, w] to [n, c, h2, w2] (centred; h2 >= h). */
hn_status hn_transform_pad(const hn_tensor *x, int64_t h2, int64_t w2, hn_tensor *y);
/* y [k, ...] = x[idx[0..k-1], ...]; indices checked against x's rows. */
hn_status hn_transform_gather(const hn_tensor *x, const int64_t *idx, int64_t k, hn_tensor *y);

#endif
