/*
 * rng.h — xoshiro256** with independent streams.
 *
 * hn_rng_init(&r, seed, stream) derives the 256-bit state from (seed, stream)
 * through splitmix64, so distinct streams of one seed are independent for
 * practical purposes. A value type: copy it to snapshot, store its four words
 * in a checkpoint to resume.
 */
#ifndef HN_RNG_H
#define HN_RNG_H

#include "base.h"

typedef struct hn_rng { uint64_t s[4]; } hn_rng;

void hn_rng_init(hn_rng *r, uint64_t seed, uint64_t stream);
uint64_t hn_rng_next(hn_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float hn_rng_uniform(hn_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double hn_rng_uniform_double(hn_rng *r);
/* Standard normal (Box–Muller in double, no cached second value so that the
 * state alone determines the future). */
float hn_rng_normal(hn_rng *r);
/* Uniform integer in [0, n); n >= 1 (unbiased, by rejection). */
int64_t hn_rng_below(hn_rng *r, int64_t n);
void hn_rng_fill_normal(hn_rng *r, float *x, int64_t n, float mean, float std);
void hn_rng_fill_uniform(hn_rng *r, float *x, int64_t n, float lo, float hi);
/* A uniformly random permutation of 0..n-1 (Fisher–Yates). */
void hn_rng_permutation(hn_rng *r, int64_t *perm, int64_t n);

#endif
