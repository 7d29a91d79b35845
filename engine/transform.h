/*
 * transform.h — task transforms over datasets held as tensors: bulk work that
 * must not run per sample in Lua. Images are x [n, c, h, w] or flat [n, d]
 * (rotate and pad need images: [n, c, h, w] or [n, h, w]). Outputs are
 * written only after every check passes; every output is a caller tensor and
 * none of these allocate (except the permutation check for samples of more
 * than 2^19 values, which takes a bitmap). Loops run in parallel over samples
 * (OpenMP); results do not depend on the thread count.
 */
#ifndef HN_TRANSFORM_H
#define HN_TRANSFORM_H

#include "rng.h"
#include "tensor.h"

/* y[i, j] = x[i, perm[j]] over the flattened sample; perm is a permutation of
 * 0..d-1 (checked). y has x's sample count and size (any shape); y may not
 * alias x. */
hn_status hn_transform_permute(const hn_tensor *x, const int64_t *perm, int64_t d, hn_tensor *y);
/* HN_OK if perm is a permutation of 0..d-1, else HN_ERR_ARG naming the first
 * out-of-range or repeated value. */
hn_status hn_transform_perm_check(const int64_t *perm, int64_t d);
/* Rotate each image by `degrees` (counter-clockwise as displayed, row 0 at the
 * top) about its centre ((w-1)/2, (h-1)/2) with bilinear interpolation, zero
 * fill outside. Multiples of 90 degrees on square images move pixels exactly.
 * y has x's shape and may not alias it. */
hn_status hn_transform_rotate(const hn_tensor *x, float degrees, hn_tensor *y);
/* y = x + N(0, std^2), clamped to [lo, hi] if lo < hi. One value is drawn from
 * rng to seed an independent stream per sample (thread-count independent).
 * y == x (in place) is allowed. */
hn_status hn_transform_noise(const hn_tensor *x, float std, float lo, float hi, hn_rng *rng,
                             hn_tensor *y);
/* y = contrast * (x - mean_of_sample) + mean_of_sample + brightness, clamped
 * to [lo, hi] if lo < hi. */
hn_status hn_transform_brightness_contrast(const hn_tensor *x, float brightness, float contrast,
                                           float lo, float hi, hn_tensor *y);
/* Zero-pad images [n, c, h, w] to [n, c, h2, w2] (centred: (h2-h)/2 rows on
 * top, the rest below; the same for columns; h2 >= h, w2 >= w). */
hn_status hn_transform_pad(const hn_tensor *x, int64_t h2, int64_t w2, hn_tensor *y);
/* y [k, ...] = x[idx[0..k-1], ...] (0-based); indices checked against x's
 * rows; y has k rows of x's row size. */
hn_status hn_transform_gather(const hn_tensor *x, const int64_t *idx, int64_t k, hn_tensor *y);

/* ---- index selection for building tasks (labels [n] hold class indices) --- */

/* The samples whose label is one of classes[0..n_cls-1] (distinct), in
 * dataset order: *n_sel is their count; if idx / new_labels are not NULL they
 * receive (cap entries at most: HN_ERR_ARG if more are selected) the sample
 * indices and the new labels (the label's position a in `classes`, so the
 * classes are relabelled 0..n_cls-1 in the given order). Call once with
 * idx = new_labels = NULL to size the outputs. */
hn_status hn_transform_select_classes(const hn_tensor *labels, const int64_t *classes, int n_cls,
                                      int64_t *idx, float *new_labels, int64_t cap,
                                      int64_t *n_sel);
/* Exactly k random samples of each class 0..n_classes-1 (at most 4096
 * classes): idx [n_classes * k] receives class c's indices at [c*k, c*k+k),
 * ascending. scratch [n] is a workspace. A class with fewer than k samples is
 * an error (naming the class and its count); rng is advanced only on success. */
hn_status hn_transform_k_shot(const hn_tensor *labels, int n_classes, int64_t k, hn_rng *rng,
                              int64_t *scratch, int64_t *idx);
/* n distinct random indices from 0..n_total-1, ascending, into idx [n];
 * scratch [n_total] is a workspace. */
hn_status hn_transform_sample_indices(int64_t n_total, int64_t n, hn_rng *rng, int64_t *scratch,
                                      int64_t *idx);

#endif
