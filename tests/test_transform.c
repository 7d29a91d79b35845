/* test_transform.c — task transforms: permute, rotate, pad, noise, shift,
 * gather, and the index selections used to build tasks. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 0x7Bu

static void tensor_new(hn_tensor *t, int ndim, const int64_t *shape) {
  assert_int_equal(hn_tensor_init(t, ndim, shape), HN_OK);
}

static void sentinel_fill(hn_tensor *t) { memset(t->data, SENTINEL, (size_t)t->numel * 4); }

static void assert_untouched(const hn_tensor *t, const char *what) {
  const unsigned char *p = (const unsigned char *)t->data;
  for (size_t i = 0; i < (size_t)t->numel * 4; i++)
    if (p[i] != SENTINEL) fail_msg("%s: output byte %zu was written on a failed call", what, i);
}

static void test_permute_bijection(void **state) {
  (void)state;
  int64_t n = 5, d = 37;
  hn_tensor x, y, z;
  tensor_new(&x, 2, (int64_t[]){n, d});
  tensor_new(&y, 2, (int64_t[]){n, d});
  tensor_new(&z, 2, (int64_t[]){n, d});
  hnt_fill_uniform(x.data, x.numel, -1, 1, 1);
  int64_t perm[37], inv[37];
  hn_rng r;
  hn_rng_init(&r, 9, 0);
  hn_rng_permutation(&r, perm, d);
  assert_int_equal(hn_transform_permute(&x, perm, d, &y), HN_OK);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) assert_true(y.data[i * d + j] == x.data[i * d + perm[j]]);
  /* Every input value appears exactly once per sample: the sorted rows agree. */
  for (int64_t j = 0; j < d; j++) inv[perm[j]] = j;
  assert_int_equal(hn_transform_permute(&y, inv, d, &z), HN_OK);
  hnt_assert_bytes_equal(z.data, x.data, (size_t)x.numel * 4, "inverse permutation restores x");
  /* A permutation over image-shaped input into a flat output. */
  hn_tensor img, flat;
  tensor_new(&img, 4, (int64_t[]){2, 1, 3, 4});
  tensor_new(&flat, 2, (int64_t[]){2, 12});
  for (int i = 0; i < 24; i++) img.data[i] = (float)i;
  int64_t rev[12];
  for (int j = 0; j < 12; j++) rev[j] = 11 - j;
  assert_int_equal(hn_transform_permute(&img, rev, 12, &flat), HN_OK);
  assert_true(flat.data[0] == 11.0f && flat.data[12] == 23.0f && flat.data[23] == 12.0f);
  hn_tensor_release(&img);
  hn_tensor_release(&flat);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_tensor_release(&z);
}

static void test_permute_errors(void **state) {
  (void)state;
  hn_tensor x, y;
  tensor_new(&x, 2, (int64_t[]){3, 6});
  tensor_new(&y, 2, (int64_t[]){3, 6});
  sentinel_fill(&y);
  int64_t dup[6] = {0, 1, 2, 3, 4, 1};
  assert_int_equal(hn_transform_permute(&x, dup, 6, &y), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "value 1 appears twice (again at perm[5])"));
  int64_t oob[6] = {0, 1, 2, 3, 4, 6};
  assert_int_equal(hn_transform_permute(&x, oob, 6, &y), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "perm[5] = 6 is outside 0..5"));
  int64_t neg[6] = {0, 1, -2, 3, 4, 5};
  assert_int_equal(hn_transform_permute(&x, neg, 6, &y), HN_ERR_ARG);
  int64_t ok[5] = {0, 1, 2, 3, 4};
  assert_int_equal(hn_transform_permute(&x, ok, 5, &y), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "[3, 6]"));
  assert_untouched(&y, "permute");
  hn_tensor y2;
  tensor_new(&y2, 2, (int64_t[]){2, 9});
  sentinel_fill(&y2);
  int64_t id[6] = {0, 1, 2, 3, 4, 5};
  assert_int_equal(hn_transform_permute(&x, id, 6, &y2), HN_ERR_SHAPE);
  assert_untouched(&y2, "permute into wrong sample count");
  assert_int_equal(hn_transform_permute(&x, id, 6, &x), HN_ERR_ARG); /* aliasing */
  hn_tensor_release(&y2);
  /* Samples larger than the stack bitmap take the allocated path. */
  int64_t big = (1 << 19) + 3;
  int64_t *p = malloc((size_t)big * sizeof *p);
  assert_non_null(p);
  for (int64_t j = 0; j < big; j++) p[j] = big - 1 - j;
  assert_int_equal(hn_transform_perm_check(p, big), HN_OK);
  p[big - 1] = 5;
  assert_int_equal(hn_transform_perm_check(p, big), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "appears twice"));
  free(p);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
}

static void test_rotate_exact(void **state) {
  (void)state;
  for (int64_t N = 5; N <= 6; N++) { /* odd and even sizes */
    hn_tensor x, y;
    tensor_new(&x, 4, (int64_t[]){3, 2, N, N});
    tensor_new(&y, 4, (int64_t[]){3, 2, N, N});
    hnt_fill_uniform(x.data, x.numel, 0, 1, 4);
    assert_int_equal(hn_transform_rotate(&x, 0.0f, &y), HN_OK);
    hnt_assert_bytes_equal(y.data, x.data, (size_t)x.numel * 4, "rotate by 0");
    assert_int_equal(hn_transform_rotate(&x, 360.0f, &y), HN_OK);
    hnt_assert_bytes_equal(y.data, x.data, (size_t)x.numel * 4, "rotate by 360");
    /* 90 degrees counter-clockwise (numpy rot90): out[r][c] = in[c][N-1-r]. */
    assert_int_equal(hn_transform_rotate(&x, 90.0f, &y), HN_OK);
    for (int64_t p = 0; p < 6; p++)
      for (int64_t r = 0; r < N; r++)
        for (int64_t c = 0; c < N; c++)
          assert_true(y.data[p * N * N + r * N + c] == x.data[p * N * N + c * N + (N - 1 - r)]);
    /* 180: out[r][c] = in[N-1-r][N-1-c]; -90 is clockwise: out[r][c] = in[N-1-c][r]. */
    assert_int_equal(hn_transform_rotate(&x, 180.0f, &y), HN_OK);
    for (int64_t p = 0; p < 6; p++)
      for (int64_t r = 0; r < N; r++)
        for (int64_t c = 0; c < N; c++)
          assert_true(y.data[p * N * N + r * N + c] == x.data[p * N * N + (N - 1 - r) * N + (N - 1 - c)]);
    assert_int_equal(hn_transform_rotate(&x, -90.0f, &y), HN_OK);
    for (int64_t p = 0; p < 6; p++)
      for (int64_t r = 0; r < N; r++)
        for (int64_t c = 0; c < N; c++)
          assert_true(y.data[p * N * N + r * N + c] == x.data[p * N * N + (N - 1 - c) * N + r]);
    hn_tensor_release(&x);
    hn_tensor_release(&y);
  }
}

/* Bilinear sampling as written in the textbook: the source point of output
 * (r, c) is R(-a) applied about the centre, in row/column coordinates. */
static double ref_rotate_px(const float *img, int64_t h, int64_t w, double deg, int64_t r, int64_t c) {
  double a = deg * M_PI / 180.0, cy = (double)(h - 1) / 2, cx = (double)(w - 1) / 2;
  double dr = (double)r - cy, dc = (double)c - cx, v = 0;
  /* counter-clockwise on screen = clockwise in (row, col) axes */
  double sr = cy + cos(a) * dr + sin(a) * dc;
  double sc = cx - sin(a) * dr + cos(a) * dc;
  double fr = floor(sr), fc = floor(sc);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      int64_t rr = (int64_t)fr + i, cc = (int64_t)fc + j;
      double wgt = (i ? sr - fr : 1 - (sr - fr)) * (j ? sc - fc : 1 - (sc - fc));
      if (rr >= 0 && rr < h && cc >= 0 && cc < w) v += wgt * (double)img[rr * w + cc];
    }
  return v;
}

static void test_rotate_bilinear(void **state) {
  (void)state;
  int64_t n = 4, h = 9, w = 7;
  hn_tensor x, y;
  tensor_new(&x, 3, (int64_t[]){n, h, w});
  tensor_new(&y, 3, (int64_t[]){n, h, w});
  hnt_fill_uniform(x.data, x.numel, 0, 1, 8);
  double angles[] = {30.0, -17.5, 45.0, 123.0};
  for (int k = 0; k < 4; k++) {
    assert_int_equal(hn_transform_rotate(&x, (float)angles[k], &y), HN_OK);
    double *ref = malloc((size_t)x.numel * sizeof *ref);
    for (int64_t i = 0; i < n; i++)
      for (int64_t r = 0; r < h; r++)
        for (int64_t c = 0; c < w; c++)
          ref[(i * h + r) * w + c] = ref_rotate_px(x.data + i * h * w, h, w, angles[k], r, c);
    hnt_assert_close_d(y.data, ref, x.numel, 1e-5, 1e-6, "rotate vs reference bilinear");
    free(ref);
  }
  /* A constant square image keeps its value near the centre and loses the
   * corners (the corner's source lies 1.66 pixels outside). */
  hn_tensor sq, sq2;
  tensor_new(&sq, 3, (int64_t[]){1, 9, 9});
  tensor_new(&sq2, 3, (int64_t[]){1, 9, 9});
  hn_tensor_fill(&sq, 1.0f);
  assert_int_equal(hn_transform_rotate(&sq, 45.0f, &sq2), HN_OK);
  assert_true(fabsf(sq2.data[4 * 9 + 4] - 1.0f) < 1e-6f);
  assert_true(fabsf(sq2.data[3 * 9 + 5] - 1.0f) < 1e-6f);
  assert_true(sq2.data[0] == 0.0f && sq2.data[8] == 0.0f && sq2.data[80] == 0.0f);
  hn_tensor_release(&sq);
  hn_tensor_release(&sq2);
  /* Errors leave y untouched. */
  sentinel_fill(&y);
  hn_tensor flat;
  tensor_new(&flat, 2, (int64_t[]){n, h * w});
  assert_int_equal(hn_transform_rotate(&flat, 10.0f, &flat), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "expected images"));
  assert_int_equal(hn_transform_rotate(&x, NAN, &y), HN_ERR_ARG);
  hn_tensor y2;
  tensor_new(&y2, 3, (int64_t[]){n, w, h});
  sentinel_fill(&y2);
  assert_int_equal(hn_transform_rotate(&x, 10.0f, &y2), HN_ERR_SHAPE);
  assert_untouched(&y2, "rotate wrong shape");
  assert_untouched(&y, "rotate");
  hn_tensor_release(&y2);
  hn_tensor_release(&flat);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
}

static void test_pad_centres(void **state) {
  (void)state;
  hn_tensor x, y;
  tensor_new(&x, 4, (int64_t[]){2, 3, 28, 28});
  tensor_new(&y, 4, (int64_t[]){2, 3, 32, 32});
  hnt_fill_uniform(x.data, x.numel, 1, 2, 3); /* no zeros inside */
  sentinel_fill(&y);
  assert_int_equal(hn_transform_pad(&x, 32, 32, &y), HN_OK);
  for (int64_t p = 0; p < 6; p++)
    for (int64_t r = 0; r < 32; r++)
      for (int64_t c = 0; c < 32; c++) {
        float v = y.data[p * 1024 + r * 32 + c];
        bool inside = r >= 2 && r < 30 && c >= 2 && c < 30;
        if (inside) assert_true(v == x.data[p * 784 + (r - 2) * 28 + (c - 2)]);
        else assert_true(v == 0.0f);
      }
  /* Odd margins: 3x2 in 6x5 puts 1 row on top, 2 below; 1 column left, 2 right. */
  hn_tensor a, b;
  tensor_new(&a, 3, (int64_t[]){1, 3, 2});
  tensor_new(&b, 3, (int64_t[]){1, 6, 5});
  for (int i = 0; i < 6; i++) a.data[i] = (float)(i + 1);
  assert_int_equal(hn_transform_pad(&a, 6, 5, &b), HN_OK);
  assert_true(b.data[1 * 5 + 1] == 1.0f && b.data[1 * 5 + 2] == 2.0f && b.data[3 * 5 + 2] == 6.0f);
  assert_true(b.data[4 * 5 + 1] == 0.0f && b.data[1 * 5 + 3] == 0.0f);
  /* Errors */
  sentinel_fill(&b);
  assert_int_equal(hn_transform_pad(&a, 2, 5, &b), HN_ERR_ARG);
  assert_int_equal(hn_transform_pad(&a, 6, 6, &b), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "expected [1, 6, 6]"));
  assert_untouched(&b, "pad");
  hn_tensor_release(&a);
  hn_tensor_release(&b);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
}

static void test_noise_stats(void **state) {
  (void)state;
  int64_t n = 100, d = 1000;
  hn_tensor x, y, y2;
  tensor_new(&x, 2, (int64_t[]){n, d});
  tensor_new(&y, 2, (int64_t[]){n, d});
  tensor_new(&y2, 2, (int64_t[]){n, d});
  hn_tensor_fill(&x, 0.25f);
  hn_rng r;
  hn_rng_init(&r, 77, 0);
  float std = 0.2f;
  assert_int_equal(hn_transform_noise(&x, std, 0.0f, 0.0f, &r, &y), HN_OK); /* no clamp */
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < y.numel; i++) {
    double e = (double)y.data[i] - 0.25;
    s += e, s2 += e * e;
  }
  double mean = s / (double)y.numel, sd = sqrt(s2 / (double)y.numel - mean * mean);
  /* 1e5 draws: the mean's standard error is 0.2/316 = 6e-4, the std's 4.5e-4;
   * five standard errors. */
  assert_true(fabs(mean) < 3e-3);
  assert_true(fabs(sd - 0.2) < 2.5e-3);
  /* Same seed, same bits, whatever the thread count. */
  int threads = hn_threads_get();
  hn_threads_set(1);
  hn_rng_init(&r, 77, 0);
  assert_int_equal(hn_transform_noise(&x, std, 0.0f, 0.0f, &r, &y2), HN_OK);
  hn_threads_set(threads);
  hnt_assert_bytes_equal(y2.data, y.data, (size_t)y.numel * 4, "noise 1 thread vs default");
  /* The generator moved on: another call differs. */
  assert_int_equal(hn_transform_noise(&x, std, 0.0f, 0.0f, &r, &y2), HN_OK);
  assert_true(memcmp(y2.data, y.data, (size_t)y.numel * 4) != 0);
  /* Clamping, in place. */
  hn_tensor_copy(&y2, &x);
  assert_int_equal(hn_transform_noise(&y2, 1.0f, 0.0f, 1.0f, &r, &y2), HN_OK);
  int64_t at_lo = 0;
  for (int64_t i = 0; i < y2.numel; i++) {
    assert_true(y2.data[i] >= 0.0f && y2.data[i] <= 1.0f);
    at_lo += y2.data[i] == 0.0f;
  }
  assert_true(at_lo > y2.numel / 10); /* P(0.25 + N(0,1) < 0) = 0.40 */
  /* std 0 is the identity. */
  assert_int_equal(hn_transform_noise(&x, 0.0f, 0.0f, 1.0f, &r, &y), HN_OK);
  hnt_assert_bytes_equal(y.data, x.data, (size_t)x.numel * 4, "noise std 0");
  /* Errors: output untouched and the generator not advanced. */
  sentinel_fill(&y);
  hn_rng before = r;
  assert_int_equal(hn_transform_noise(&x, -1.0f, 0.0f, 1.0f, &r, &y), HN_ERR_ARG);
  assert_int_equal(hn_transform_noise(&x, NAN, 0.0f, 1.0f, &r, &y), HN_ERR_ARG);
  assert_int_equal(hn_transform_noise(&x, 1.0f, 0.0f, 1.0f, NULL, &y), HN_ERR_ARG);
  hn_tensor small;
  tensor_new(&small, 2, (int64_t[]){n, d - 1});
  assert_int_equal(hn_transform_noise(&x, 1.0f, 0.0f, 1.0f, &r, &small), HN_ERR_SHAPE);
  assert_memory_equal(&r, &before, sizeof r);
  assert_untouched(&y, "noise");
  hn_tensor_release(&small);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_tensor_release(&y2);
}

static void test_shift(void **state) {
  (void)state;
  int64_t n = 7, d = 33;
  hn_tensor x, y;
  tensor_new(&x, 2, (int64_t[]){n, d});
  tensor_new(&y, 2, (int64_t[]){n, d});
  hnt_fill_uniform(x.data, x.numel, 0, 1, 21);
  float b = 0.1f, c = 1.7f;
  double *ref = malloc((size_t)x.numel * sizeof *ref);
  for (int pass = 0; pass < 2; pass++) {
    float lo = pass ? 0.0f : 0.0f, hi = pass ? 1.0f : 0.0f; /* pass 1 clamps */
    assert_int_equal(hn_transform_brightness_contrast(&x, b, c, lo, hi, &y), HN_OK);
    for (int64_t i = 0; i < n; i++) {
      double m = 0;
      for (int64_t j = 0; j < d; j++) m += (double)x.data[i * d + j];
      m /= (double)d;
      for (int64_t j = 0; j < d; j++) {
        double v = (double)c * ((double)x.data[i * d + j] - m) + m + (double)b;
        if (pass) v = v < 0 ? 0 : (v > 1 ? 1 : v);
        ref[i * d + j] = v;
      }
    }
    hnt_assert_close_d(y.data, ref, x.numel, 1e-5, 1e-6, pass ? "shift clamped" : "shift");
  }
  /* contrast 1, brightness 0 is the identity up to rounding of (x-m)+m */
  assert_int_equal(hn_transform_brightness_contrast(&x, 0.0f, 1.0f, 0.0f, 0.0f, &y), HN_OK);
  hnt_assert_close(y.data, x.data, x.numel, 1e-6, 1e-7, "shift identity");
  /* In place equals out of place. */
  hn_tensor z;
  tensor_new(&z, 2, (int64_t[]){n, d});
  hn_tensor_copy(&z, &x);
  assert_int_equal(hn_transform_brightness_contrast(&x, b, c, 0.0f, 1.0f, &y), HN_OK);
  assert_int_equal(hn_transform_brightness_contrast(&z, b, c, 0.0f, 1.0f, &z), HN_OK);
  hnt_assert_bytes_equal(z.data, y.data, (size_t)y.numel * 4, "shift in place");
  sentinel_fill(&y);
  assert_int_equal(hn_transform_brightness_contrast(&x, INFINITY, c, 0.0f, 1.0f, &y), HN_ERR_ARG);
  hn_tensor w;
  tensor_new(&w, 2, (int64_t[]){d, n});
  assert_int_equal(hn_transform_brightness_contrast(&x, b, c, 0.0f, 1.0f, &w), HN_ERR_SHAPE);
  assert_untouched(&y, "shift");
  free(ref);
  hn_tensor_release(&w);
  hn_tensor_release(&z);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
}

static void test_gather(void **state) {
  (void)state;
  hn_tensor x, y;
  tensor_new(&x, 3, (int64_t[]){6, 2, 3});
  for (int i = 0; i < 36; i++) x.data[i] = (float)i;
  tensor_new(&y, 3, (int64_t[]){4, 2, 3});
  int64_t idx[4] = {5, 0, 5, 2};
  assert_int_equal(hn_transform_gather(&x, idx, 4, &y), HN_OK);
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < 6; j++) assert_true(y.data[k * 6 + j] == x.data[idx[k] * 6 + j]);
  sentinel_fill(&y);
  int64_t bad[4] = {0, 1, 6, 2};
  assert_int_equal(hn_transform_gather(&x, bad, 4, &y), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "index 6 at position 2"));
  assert_int_equal(hn_transform_gather(&x, idx, 3, &y), HN_ERR_SHAPE);
  assert_untouched(&y, "gather");
  hn_tensor_release(&x);
  hn_tensor_release(&y);
}

static void test_threads_bitwise(void **state) {
  (void)state;
  /* Large enough to cross the OpenMP thresholds. */
  int64_t n = 64, h = 32, w = 32;
  hn_tensor x, a, b;
  tensor_new(&x, 4, (int64_t[]){n, 1, h, w});
  tensor_new(&a, 4, (int64_t[]){n, 1, h, w});
  tensor_new(&b, 4, (int64_t[]){n, 1, h, w});
  hnt_fill_uniform(x.data, x.numel, 0, 1, 5);
  int threads = hn_threads_get();
  hn_threads_set(2);
  assert_int_equal(hn_transform_rotate(&x, 33.0f, &a), HN_OK);
  hn_threads_set(1);
  assert_int_equal(hn_transform_rotate(&x, 33.0f, &b), HN_OK);
  hnt_assert_bytes_equal(a.data, b.data, (size_t)a.numel * 4, "rotate threads");
  hn_threads_set(2);
  assert_int_equal(hn_transform_brightness_contrast(&x, 0.1f, 0.5f, 0, 1, &a), HN_OK);
  hn_threads_set(1);
  assert_int_equal(hn_transform_brightness_contrast(&x, 0.1f, 0.5f, 0, 1, &b), HN_OK);
  hnt_assert_bytes_equal(a.data, b.data, (size_t)a.numel * 4, "shift threads");
  hn_threads_set(threads);
  hn_tensor_release(&x);
  hn_tensor_release(&a);
  hn_tensor_release(&b);
}

static void test_select_classes(void **state) {
  (void)state;
  hn_tensor lab;
  tensor_new(&lab, 1, (int64_t[]){10});
  float l[10] = {0, 3, 2, 3, 1, 2, 0, 3, 2, 9};
  memcpy(lab.data, l, sizeof l);
  int64_t n_sel = -1;
  assert_int_equal(hn_transform_select_classes(&lab, (int64_t[]){3, 2}, 2, NULL, NULL, 0, &n_sel), HN_OK);
  assert_int_equal(n_sel, 6);
  int64_t idx[6];
  float nl[6];
  assert_int_equal(hn_transform_select_classes(&lab, (int64_t[]){3, 2}, 2, idx, nl, 6, &n_sel), HN_OK);
  int64_t want_idx[6] = {1, 2, 3, 5, 7, 8};
  float want_l[6] = {0, 1, 0, 1, 0, 1}; /* 3 -> 0, 2 -> 1: the given order */
  assert_memory_equal(idx, want_idx, sizeof idx);
  assert_memory_equal(nl, want_l, sizeof nl);
  assert_int_equal(hn_transform_select_classes(&lab, (int64_t[]){3, 2}, 2, idx, nl, 5, &n_sel), HN_ERR_ARG);
  assert_int_equal(hn_transform_select_classes(&lab, (int64_t[]){3, 3}, 2, idx, nl, 6, &n_sel), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "listed twice"));
  lab.data[4] = 1.5f;
  assert_int_equal(hn_transform_select_classes(&lab, (int64_t[]){3}, 1, NULL, NULL, 0, &n_sel), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "label 1.5 at index 4"));
  hn_tensor_release(&lab);
}

static void test_k_shot(void **state) {
  (void)state;
  int64_t n = 50;
  hn_tensor lab;
  tensor_new(&lab, 1, &n);
  for (int64_t i = 0; i < n; i++) lab.data[i] = (float)((i * 7) % 5); /* 10 per class */
  int64_t scratch[50], idx[15];
  hn_rng r;
  hn_rng_init(&r, 4, 0);
  assert_int_equal(hn_transform_k_shot(&lab, 5, 3, &r, scratch, idx), HN_OK);
  for (int c = 0; c < 5; c++)
    for (int j = 0; j < 3; j++) {
      int64_t i = idx[c * 3 + j];
      assert_true(i >= 0 && i < n);
      assert_true(lab.data[i] == (float)c);
      if (j) assert_true(idx[c * 3 + j - 1] < i); /* ascending, distinct */
    }
  /* Another draw picks other samples (with overwhelming probability). */
  int64_t idx2[15];
  assert_int_equal(hn_transform_k_shot(&lab, 5, 3, &r, scratch, idx2), HN_OK);
  assert_true(memcmp(idx, idx2, sizeof idx) != 0);
  /* Too few: class 4 loses all but 2 samples. */
  for (int64_t i = 0; i < n; i++)
    if (lab.data[i] == 4.0f && i > 10) lab.data[i] = 0.0f; /* keeps i = 2, 7 */
  hn_rng before = r;
  memset(idx2, 0x7B, sizeof idx2);
  int64_t snapshot[15];
  memcpy(snapshot, idx2, sizeof idx2);
  assert_int_equal(hn_transform_k_shot(&lab, 5, 3, &r, scratch, idx2), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "class 4 has only"));
  assert_memory_equal(idx2, snapshot, sizeof idx2);
  assert_memory_equal(&r, &before, sizeof r);
  assert_int_equal(hn_transform_k_shot(&lab, 4, 1, &r, scratch, idx2), HN_ERR_ARG); /* label 4 >= 4 */
  hn_tensor_release(&lab);
}

static void test_sample_indices(void **state) {
  (void)state;
  int64_t scratch[100], idx[30];
  hn_rng r;
  hn_rng_init(&r, 8, 0);
  assert_int_equal(hn_transform_sample_indices(100, 30, &r, scratch, idx), HN_OK);
  for (int i = 0; i < 30; i++) {
    assert_true(idx[i] >= 0 && idx[i] < 100);
    if (i) assert_true(idx[i - 1] < idx[i]);
  }
  int64_t all[100];
  assert_int_equal(hn_transform_sample_indices(100, 100, &r, scratch, all), HN_OK);
  for (int i = 0; i < 100; i++) assert_int_equal(all[i], i); /* all of them, sorted */
  assert_int_equal(hn_transform_sample_indices(10, 11, &r, scratch, idx), HN_ERR_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_permute_bijection), cmocka_unit_test(test_permute_errors),
      cmocka_unit_test(test_rotate_exact),      cmocka_unit_test(test_rotate_bilinear),
      cmocka_unit_test(test_pad_centres),       cmocka_unit_test(test_noise_stats),
      cmocka_unit_test(test_shift),             cmocka_unit_test(test_gather),
      cmocka_unit_test(test_threads_bitwise),   cmocka_unit_test(test_select_classes),
      cmocka_unit_test(test_k_shot),            cmocka_unit_test(test_sample_indices),
  };
  return cmocka_run_group_tests_name("transform", tests, NULL, NULL);
}
