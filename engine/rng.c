/* rng.c — xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void hn_rng_init(hn_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull) ^ 0x5851F42D4C957F2Dull;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* never all-zero */
}

uint64_t hn_rng_next(hn_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float hn_rng_uniform(hn_rng *r) { return (float)(hn_rng_next(r) >> 40) * 0x1.0p-24f; }

double hn_rng_uniform_double(hn_rng *r) { return (double)(hn_rng_next(r) >> 11) * 0x1.0p-53; }

float hn_rng_normal(hn_rng *r) {
  double u1 = hn_rng_uniform_double(r);
  double u2 = hn_rng_uniform_double(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

int64_t hn_rng_below(hn_rng *r, int64_t n) {
  if (n <= 1) return 0;
  uint64_t un = (uint64_t)n;
  uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  uint64_t x;
  do x = hn_rng_next(r); while (x >= limit);
  return (int64_t)(x % un);
}

void hn_rng_fill_normal(hn_rng *r, float *x, int64_t n, float mean, float std) {
  for (int64_t i = 0; i < n; i++) x[i] = mean + std * hn_rng_normal(r);
}

void hn_rng_fill_uniform(hn_rng *r, float *x, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * hn_rng_uniform(r);
}

void hn_rng_permutation(hn_rng *r, int64_t *perm, int64_t n) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = hn_rng_below(r, i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
