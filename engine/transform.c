/* transform.c — task transforms over whole datasets (see transform.h).
 *
 * Every function checks all of its arguments before writing anything, then
 * runs one OpenMP loop over samples (disjoint output rows, nothing that can
 * fail inside the region). None allocates, except hn_transform_permute's
 * bijection check for samples of more than HN_PERM_STACK_BITS values. */
#include "transform.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The permutation check keeps a bitmap of seen indices on the stack up to
 * this many values per sample (64 KiB). */
#define HN_PERM_STACK_BITS (1 << 19)
/* hn_transform_k_shot keeps per-class counters on the stack. */
#define HN_KSHOT_MAX_CLASSES 4096

static bool overlaps(const hn_tensor *a, const hn_tensor *b) {
  if (!a->numel || !b->numel) return false;
  const float *a0 = a->data, *a1 = a->data + a->numel;
  const float *b0 = b->data, *b1 = b->data + b->numel;
  return a0 < b1 && b0 < a1;
}

static hn_status check_tensor(const char *fn, const char *name, const hn_tensor *t) {
  if (!t) return hn_fail(HN_ERR_ARG, "%s: %s is NULL", fn, name);
  if (t->ndim < 1 || t->ndim > HN_MAX_DIMS || (!t->data && t->numel > 0))
    return hn_fail(HN_ERR_ARG, "%s: %s is not a valid tensor", fn, name);
  return HN_OK;
}

/* Images as (n, c, h, w) from [n, c, h, w] or [n, h, w]. */
static hn_status image_dims(const char *fn, const hn_tensor *x, int64_t *n, int64_t *c,
                            int64_t *h, int64_t *w) {
  if (x->ndim == 4) {
    *n = x->shape[0], *c = x->shape[1], *h = x->shape[2], *w = x->shape[3];
  } else if (x->ndim == 3) {
    *n = x->shape[0], *c = 1, *h = x->shape[1], *w = x->shape[2];
  } else {
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s; expected images [n, c, h, w] or [n, h, w] "
                   "(reshape flat samples first)", fn, hn_tensor_str(x));
  }
  return HN_OK;
}

static int64_t row_size(const hn_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

/* ---- permute ------------------------------------------------------------ */

hn_status hn_transform_perm_check(const int64_t *perm, int64_t d) {
  if (d < 0) return hn_fail(HN_ERR_ARG, "hn_transform_permute: permutation length %lld", (long long)d);
  if (d > 0 && !perm) return hn_fail(HN_ERR_ARG, "hn_transform_permute: NULL permutation");
  uint64_t stack_bits[HN_PERM_STACK_BITS / 64];
  uint64_t *seen = stack_bits;
  size_t words = (size_t)((d + 63) / 64);
  if (d > HN_PERM_STACK_BITS) {
    seen = hn_alloc(words * sizeof *seen);
    if (!seen)
      return hn_fail(HN_ERR_NOMEM, "hn_transform_permute: cannot allocate a %lld-bit check bitmap",
                     (long long)d);
  }
  memset(seen, 0, words * sizeof *seen);
  hn_status st = HN_OK;
  for (int64_t j = 0; j < d; j++) {
    int64_t p = perm[j];
    if (p < 0 || p >= d) {
      st = hn_fail(HN_ERR_ARG, "hn_transform_permute: perm[%lld] = %lld is outside 0..%lld: not a permutation",
                   (long long)j, (long long)p, (long long)(d - 1));
      break;
    }
    uint64_t bit = (uint64_t)1 << (p % 64);
    if (seen[p / 64] & bit) {
      st = hn_fail(HN_ERR_ARG, "hn_transform_permute: value %lld appears twice (again at perm[%lld]): "
                   "not a permutation", (long long)p, (long long)j);
      break;
    }
    seen[p / 64] |= bit;
  }
  if (seen != stack_bits) hn_free(seen);
  return st;
}

hn_status hn_transform_permute(const hn_tensor *x, const int64_t *perm, int64_t d, hn_tensor *y) {
  static const char fn[] = "hn_transform_permute";
  HN_TRY(check_tensor(fn, "x", x));
  HN_TRY(check_tensor(fn, "y", y));
  int64_t n = x->shape[0], row = row_size(x);
  if (row != d)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s (%lld values per sample) but the permutation has %lld",
                   fn, hn_tensor_str(x), (long long)row, (long long)d);
  if (y->numel != x->numel || y->shape[0] != n)
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s, x is %s; y needs the same samples and size", fn,
                   hn_tensor_str(y), hn_tensor_str(x));
  if (overlaps(x, y)) return hn_fail(HN_ERR_ARG, "%s: y may not alias x", fn);
  HN_TRY(hn_transform_perm_check(perm, d));
  const float *xd = x->data;
  float *yd = y->data;
#pragma omp parallel for schedule(static) if (x->numel > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = xd + i * d;
    float *yi = yd + i * d;
    for (int64_t j = 0; j < d; j++) yi[j] = xi[perm[j]];
  }
  return HN_OK;
}

/* ---- rotate ------------------------------------------------------------- */

/* Snap a coordinate that is within rounding of an integer onto it, so that
 * right-angle rotations move pixels exactly. */
static double snap(double v) {
  double r = nearbyint(v);
  return fabs(v - r) < 1e-9 ? r : v;
}

hn_status hn_transform_rotate(const hn_tensor *x, float degrees, hn_tensor *y) {
  static const char fn[] = "hn_transform_rotate";
  HN_TRY(check_tensor(fn, "x", x));
  HN_TRY(check_tensor(fn, "y", y));
  int64_t n = 0, c = 0, h = 0, w = 0;
  HN_TRY(image_dims(fn, x, &n, &c, &h, &w));
  if (!hn_tensor_same_shape(x, y))
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s, expected x's shape %s", fn, hn_tensor_str(y),
                   hn_tensor_str(x));
  if (!isfinite(degrees)) return hn_fail(HN_ERR_ARG, "%s: degrees is not finite", fn);
  if (overlaps(x, y)) return hn_fail(HN_ERR_ARG, "%s: y may not alias x", fn);
  double a = (double)degrees * 3.14159265358979323846 / 180.0;
  double cs = cos(a), sn = sin(a);
  if (fabs(cs) < 1e-12) cs = 0.0;
  if (fabs(sn) < 1e-12) sn = 0.0;
  double cx = (double)(w - 1) / 2.0, cy = (double)(h - 1) / 2.0;
  const float *xd = x->data;
  float *yd = y->data;
  int64_t plane = h * w;
#pragma omp parallel for schedule(static) if (x->numel > HN_OMP_MIN_WORK / 8)
  for (int64_t i = 0; i < n; i++) {
    for (int64_t r = 0; r < h; r++) {
      for (int64_t col = 0; col < w; col++) {
        /* Output pixel in centred coordinates with y pointing up; its source
         * is the point rotated back by -a. */
        double u = (double)col - cx, v = cy - (double)r;
        double su = u * cs + v * sn, sv = -u * sn + v * cs;
        double sc = snap(cx + su), sr = snap(cy - sv);
        double fc = floor(sc), fr = floor(sr);
        double wc = sc - fc, wr = sr - fr;
        int64_t c0 = (int64_t)fc, r0 = (int64_t)fr;
        for (int64_t ch = 0; ch < c; ch++) {
          const float *src = xd + (i * c + ch) * plane;
          double acc = 0.0;
          for (int dr = 0; dr < 2; dr++) {
            int64_t rr = r0 + dr;
            double wy = dr ? wr : 1.0 - wr;
            if (rr < 0 || rr >= h || wy == 0.0) continue;
            for (int dc = 0; dc < 2; dc++) {
              int64_t cc = c0 + dc;
              double wx = dc ? wc : 1.0 - wc;
              if (cc < 0 || cc >= w || wx == 0.0) continue;
              acc += wy * wx * (double)src[rr * w + cc];
            }
          }
          yd[(i * c + ch) * plane + r * w + col] = (float)acc;
        }
      }
    }
  }
  return HN_OK;
}

/* ---- noise, brightness and contrast ------------------------------------------------------ */

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

hn_status hn_transform_noise(const hn_tensor *x, float std, float lo, float hi, hn_rng *rng,
                             hn_tensor *y) {
  static const char fn[] = "hn_transform_noise";
  HN_TRY(check_tensor(fn, "x", x));
  HN_TRY(check_tensor(fn, "y", y));
  if (!rng) return hn_fail(HN_ERR_ARG, "%s: rng is NULL", fn);
  if (!hn_tensor_same_shape(x, y))
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s, expected x's shape %s", fn, hn_tensor_str(y),
                   hn_tensor_str(x));
  if (!(std >= 0.0f) || !isfinite(std))
    return hn_fail(HN_ERR_ARG, "%s: std is %g; expected a finite value >= 0", fn, (double)std);
  if (!isfinite(lo) || !isfinite(hi))
    return hn_fail(HN_ERR_ARG, "%s: clamp bounds [%g, %g] are not finite", fn, (double)lo, (double)hi);
  if (x->data != y->data && overlaps(x, y))
    return hn_fail(HN_ERR_ARG, "%s: y partly overlaps x (in place is fine, a shifted overlap is not)", fn);
  /* One draw from the caller's generator seeds a stream per sample, so the
   * result does not depend on the thread count. */
  uint64_t base = hn_rng_next(rng);
  int64_t n = x->shape[0], row = row_size(x);
  bool clamp = lo < hi;
  const float *xd = x->data;
  float *yd = y->data;
#pragma omp parallel for schedule(static) if (x->numel > HN_OMP_MIN_WORK / 8)
  for (int64_t i = 0; i < n; i++) {
    hn_rng r;
    hn_rng_init(&r, base, (uint64_t)i);
    for (int64_t j = 0; j < row; j++) {
      float v = xd[i * row + j] + std * hn_rng_normal(&r);
      yd[i * row + j] = clamp ? clampf(v, lo, hi) : v;
    }
  }
  return HN_OK;
}

hn_status hn_transform_brightness_contrast(const hn_tensor *x, float brightness, float contrast,
                                           float lo, float hi, hn_tensor *y) {
  static const char fn[] = "hn_transform_brightness_contrast";
  HN_TRY(check_tensor(fn, "x", x));
  HN_TRY(check_tensor(fn, "y", y));
  if (!hn_tensor_same_shape(x, y))
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s, expected x's shape %s", fn, hn_tensor_str(y),
                   hn_tensor_str(x));
  if (!isfinite(brightness) || !isfinite(contrast) || !isfinite(lo) || !isfinite(hi))
    return hn_fail(HN_ERR_ARG, "%s: brightness %g, contrast %g, bounds [%g, %g] must be finite", fn,
                   (double)brightness, (double)contrast, (double)lo, (double)hi);
  if (x->data != y->data && overlaps(x, y))
    return hn_fail(HN_ERR_ARG, "%s: y partly overlaps x (in place is fine, a shifted overlap is not)", fn);
  int64_t n = x->shape[0], row = row_size(x);
  bool clamp = lo < hi;
  const float *xd = x->data;
  float *yd = y->data;
#pragma omp parallel for schedule(static) if (x->numel > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = xd + i * row;
    float *yi = yd + i * row;
    double s = 0.0;
    for (int64_t j = 0; j < row; j++) s += (double)xi[j];
    float mean = row ? (float)(s / (double)row) : 0.0f;
    for (int64_t j = 0; j < row; j++) {
      float v = contrast * (xi[j] - mean) + mean + brightness;
      yi[j] = clamp ? clampf(v, lo, hi) : v;
    }
  }
  return HN_OK;
}

/* ---- pad and gather ------------------------------------------------------- */

hn_status hn_transform_pad(const hn_tensor *x, int64_t h2, int64_t w2, hn_tensor *y) {
  static const char fn[] = "hn_transform_pad";
  HN_TRY(check_tensor(fn, "x", x));
  HN_TRY(check_tensor(fn, "y", y));
  int64_t n = 0, c = 0, h = 0, w = 0;
  HN_TRY(image_dims(fn, x, &n, &c, &h, &w));
  if (h2 < h || w2 < w)
    return hn_fail(HN_ERR_ARG, "%s: cannot pad %lldx%lld images to %lldx%lld (smaller)", fn,
                   (long long)h, (long long)w, (long long)h2, (long long)w2);
  int64_t want[HN_MAX_DIMS];
  memcpy(want, x->shape, sizeof want);
  want[x->ndim - 2] = h2;
  want[x->ndim - 1] = w2;
  bool ok = y->ndim == x->ndim;
  for (int i = 0; ok && i < x->ndim; i++) ok = y->shape[i] == want[i];
  if (!ok)
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s, expected %s", fn, hn_tensor_str(y),
                   hn_shape_fmt(x->ndim, want).s);
  if (overlaps(x, y)) return hn_fail(HN_ERR_ARG, "%s: y may not alias x", fn);
  int64_t top = (h2 - h) / 2, left = (w2 - w) / 2;
  const float *xd = x->data;
  float *yd = y->data;
  int64_t planes = n * c;
#pragma omp parallel for schedule(static) if (y->numel > HN_OMP_MIN_WORK)
  for (int64_t p = 0; p < planes; p++) {
    float *dst = yd + p * h2 * w2;
    const float *src = xd + p * h * w;
    memset(dst, 0, (size_t)(h2 * w2) * sizeof *dst);
    for (int64_t r = 0; r < h; r++)
      memcpy(dst + (r + top) * w2 + left, src + r * w, (size_t)w * sizeof *dst);
  }
  return HN_OK;
}

hn_status hn_transform_gather(const hn_tensor *x, const int64_t *idx, int64_t k, hn_tensor *y) {
  static const char fn[] = "hn_transform_gather";
  HN_TRY(check_tensor(fn, "x", x));
  HN_TRY(check_tensor(fn, "y", y));
  if (k < 0 || (k > 0 && !idx)) return hn_fail(HN_ERR_ARG, "%s: %lld indices", fn, (long long)k);
  int64_t n = x->shape[0], row = row_size(x);
  if (y->shape[0] != k || y->numel != k * row)
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s; expected %lld rows of x's %lld values (x is %s)", fn,
                   hn_tensor_str(y), (long long)k, (long long)row, hn_tensor_str(x));
  for (int64_t i = 0; i < k; i++)
    if (idx[i] < 0 || idx[i] >= n)
      return hn_fail(HN_ERR_ARG, "%s: index %lld at position %lld is outside x's rows 0..%lld", fn,
                     (long long)idx[i], (long long)i, (long long)(n - 1));
  if (overlaps(x, y)) return hn_fail(HN_ERR_ARG, "%s: y may not alias x", fn);
  const float *xd = x->data;
  float *yd = y->data;
#pragma omp parallel for schedule(static) if (y->numel > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < k; i++)
    memcpy(yd + i * row, xd + idx[i] * row, (size_t)row * sizeof *yd);
  return HN_OK;
}

/* ---- index selection for task construction -------------------------------- */

/* Label i as an integer class, or -1 if it is not a non-negative integer. */
static int64_t label_at(const hn_tensor *labels, int64_t i) {
  float v = labels->data[i];
  if (!(v >= 0.0f) || v != floorf(v) || v > 2147483647.0f) return -1;
  return (int64_t)v;
}

hn_status hn_transform_select_classes(const hn_tensor *labels, const int64_t *classes, int n_cls,
                                      int64_t *idx, float *new_labels, int64_t cap,
                                      int64_t *n_sel) {
  static const char fn[] = "hn_transform_select_classes";
  HN_TRY(check_tensor(fn, "labels", labels));
  if (!n_sel || (n_cls > 0 && !classes))
    return hn_fail(HN_ERR_ARG, "%s: NULL argument", fn);
  if (labels->ndim != 1)
    return hn_fail(HN_ERR_SHAPE, "%s: labels are %s; expected [n]", fn, hn_tensor_str(labels));
  if (n_cls < 1) return hn_fail(HN_ERR_ARG, "%s: no classes given", fn);
  for (int a = 0; a < n_cls; a++) {
    if (classes[a] < 0)
      return hn_fail(HN_ERR_ARG, "%s: class %lld is negative", fn, (long long)classes[a]);
    for (int b = 0; b < a; b++)
      if (classes[a] == classes[b])
        return hn_fail(HN_ERR_ARG, "%s: class %lld is listed twice", fn, (long long)classes[a]);
  }
  int64_t count = 0;
  for (int64_t i = 0; i < labels->numel; i++) {
    int64_t l = label_at(labels, i);
    if (l < 0)
      return hn_fail(HN_ERR_ARG, "%s: label %g at index %lld is not a class index", fn,
                     (double)labels->data[i], (long long)i);
    for (int a = 0; a < n_cls; a++)
      if (l == classes[a]) { count++; break; }
  }
  if ((idx || new_labels) && count > cap)
    return hn_fail(HN_ERR_ARG, "%s: %lld samples selected but the outputs hold %lld", fn,
                   (long long)count, (long long)cap);
  if (idx || new_labels) {
    int64_t k = 0;
    for (int64_t i = 0; i < labels->numel; i++) {
      int64_t l = label_at(labels, i);
      for (int a = 0; a < n_cls; a++)
        if (l == classes[a]) {
          if (idx) idx[k] = i;
          if (new_labels) new_labels[k] = (float)a;
          k++;
          break;
        }
    }
  }
  *n_sel = count;
  return HN_OK;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

hn_status hn_transform_k_shot(const hn_tensor *labels, int n_classes, int64_t k, hn_rng *rng,
                              int64_t *scratch, int64_t *idx) {
  static const char fn[] = "hn_transform_k_shot";
  HN_TRY(check_tensor(fn, "labels", labels));
  if (!rng || !scratch || !idx) return hn_fail(HN_ERR_ARG, "%s: NULL argument", fn);
  if (labels->ndim != 1)
    return hn_fail(HN_ERR_SHAPE, "%s: labels are %s; expected [n]", fn, hn_tensor_str(labels));
  if (n_classes < 1 || n_classes > HN_KSHOT_MAX_CLASSES)
    return hn_fail(HN_ERR_ARG, "%s: n_classes is %d; expected 1..%d", fn, n_classes, HN_KSHOT_MAX_CLASSES);
  if (k < 1) return hn_fail(HN_ERR_ARG, "%s: k is %lld; expected >= 1", fn, (long long)k);
  int64_t count[HN_KSHOT_MAX_CLASSES];
  memset(count, 0, (size_t)n_classes * sizeof count[0]);
  int64_t n = labels->numel;
  for (int64_t i = 0; i < n; i++) {
    int64_t l = label_at(labels, i);
    if (l < 0 || l >= n_classes)
      return hn_fail(HN_ERR_ARG, "%s: label %g at index %lld is not a class in 0..%d", fn,
                     (double)labels->data[i], (long long)i, n_classes - 1);
    count[l]++;
  }
  for (int c = 0; c < n_classes; c++)
    if (count[c] < k)
      return hn_fail(HN_ERR_ARG, "%s: class %d has only %lld samples, fewer than k = %lld", fn, c,
                     (long long)count[c], (long long)k);
  hn_rng_permutation(rng, scratch, n);
  memset(count, 0, (size_t)n_classes * sizeof count[0]);
  for (int64_t j = 0; j < n; j++) {
    int64_t i = scratch[j], l = label_at(labels, i);
    if (count[l] < k) idx[l * k + count[l]++] = i;
  }
  for (int c = 0; c < n_classes; c++) qsort(idx + c * k, (size_t)k, sizeof *idx, cmp_i64);
  return HN_OK;
}

hn_status hn_transform_sample_indices(int64_t n_total, int64_t n, hn_rng *rng, int64_t *scratch,
                                      int64_t *idx) {
  static const char fn[] = "hn_transform_sample_indices";
  if (!rng || (n_total > 0 && (!scratch || !idx))) return hn_fail(HN_ERR_ARG, "%s: NULL argument", fn);
  if (n < 0 || n > n_total)
    return hn_fail(HN_ERR_ARG, "%s: cannot draw %lld of %lld samples", fn, (long long)n,
                   (long long)n_total);
  for (int64_t i = 0; i < n_total; i++) scratch[i] = i;
  for (int64_t i = 0; i < n; i++) { /* partial Fisher–Yates */
    int64_t j = i + hn_rng_below(rng, n_total - i);
    int64_t t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
  }
  if (n > 0) {
    memcpy(idx, scratch, (size_t)n * sizeof *idx);
    qsort(idx, (size_t)n, sizeof *idx, cmp_i64);
  }
  return HN_OK;
}
