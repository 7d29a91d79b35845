/* test_blas.c — the GEMM wrappers against a naive double reference, the
 * narrow products hnet computes itself (C[M, N ≤ 32] = A[M, K]·B[K, N], K
 * long: engine/blas.c) above all: every lane count, row-group remainders, the
 * last rows of B read through a padded copy, leading dimensions larger than
 * the matrices, alpha and beta; M long with K short; 1 vs 2 threads bitwise
 * for those; the other
 * narrow shapes of the hypernetwork's output layer (Aᵀ·B, A·Bᵀ), which go to
 * OpenBLAS; the Gram product AᵀA; bad shapes. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *falloc(int64_t n) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  assert_non_null(p);
  return p;
}

typedef struct shape {
  bool ta, tb;
  int64_t m, n, k;
} shape;

/* A·B: N from 1 to 32 (each lane width 8/16/24/32 and its group size), M not
 * a multiple of any group, K around the narrow threshold (512) and the block
 * of B rows (128). Then the output layer's other products (Aᵀ·B: M long, K
 * short; A·Bᵀ: K ≤ 32, N long) and A·B with K short or N wide: OpenBLAS. */
static const shape narrow[] = {
    {false, false, 1, 1, 512},   {false, false, 2, 3, 600},    {false, false, 5, 7, 1000},
    {false, false, 7, 8, 513},   {false, false, 13, 9, 777},   {false, false, 12, 10, 4200},
    {false, false, 6, 16, 2048}, {false, false, 9, 17, 640},   {false, false, 11, 24, 1500},
    {false, false, 27, 25, 3001}, {false, false, 4, 32, 1300}, {false, false, 50, 31, 520},
    {true, false, 512, 1, 1},    {true, false, 600, 10, 12},   {true, false, 1000, 25, 27},
    {true, false, 2100, 32, 130}, {true, false, 777, 17, 5},   {true, false, 530, 8, 256},
    {false, true, 1, 512, 1},    {false, true, 12, 4200, 10},  {false, true, 27, 1000, 25},
    {false, true, 5, 530, 32},   {false, true, 8, 777, 17},    {false, true, 256, 1024, 24},
    {false, false, 3, 5, 100},   {false, false, 20, 40, 900},  {false, true, 20, 100, 40},
    /* M long, K short: hnet's too (from M 4096, K 16) */
    {false, false, 4096, 25, 51}, {false, false, 5001, 1, 16},  {false, false, 4100, 32, 300},
    {false, false, 4096, 9, 15}, {false, false, 4095, 24, 20}};

/* C = alpha·op(A)·op(B) + beta·C0 in double; the error allowed for a float
 * sum of K products: K·2⁻²³ of the sum of their magnitudes (a wrong lane or
 * row is off by the magnitude itself). */
static void check_gemm(const shape *s, bool ld_pad, float alpha, float beta, uint64_t seed) {
  int64_t m = s->m, n = s->n, k = s->k, pad = ld_pad ? 3 : 0;
  int64_t ra = s->ta ? k : m, ca = s->ta ? m : k, rb = s->tb ? n : k, cb = s->tb ? k : n;
  int64_t lda = ca + pad, ldb = cb + (ld_pad ? 5 : 0), ldc = n + (ld_pad ? 2 : 0);
  float *a = falloc(ra * lda), *b = falloc(rb * ldb), *c = falloc(m * ldc), *c0 = falloc(m * ldc);
  hnt_fill_uniform(a, ra * lda, -1, 1, seed);
  hnt_fill_uniform(b, rb * ldb, -1, 1, seed + 1);
  hnt_fill_uniform(c0, m * ldc, -1, 1, seed + 2);
  memcpy(c, c0, sizeof(float) * (size_t)(m * ldc));
  assert_int_equal(hn_blas_gemm_ld("test", s->ta, s->tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                                   ldc),
                   HN_OK);
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double ref = 0, mag = 0;
      for (int64_t l = 0; l < k; l++) {
        double p = (double)(s->ta ? a[l * lda + i] : a[i * lda + l]) *
                   (double)(s->tb ? b[j * ldb + l] : b[l * ldb + j]);
        ref += p;
        mag += fabs(p);
      }
      ref = (double)alpha * ref + (double)beta * (double)c0[i * ldc + j];
      double tol = ((double)k * 0x1p-23 + 1e-6) * (fabs((double)alpha) * mag + fabs((double)beta));
      if (fabs((double)c[i * ldc + j] - ref) > tol)
        fail_msg("GEMM %s%s %lld x %lld x %lld (ld %s, alpha %g, beta %g): C[%lld, %lld] = "
                 "%.8g, reference %.8g (tolerance %.3g)",
                 s->ta ? "T" : "N", s->tb ? "T" : "N", (long long)m, (long long)n, (long long)k,
                 ld_pad ? "padded" : "packed", (double)alpha, (double)beta, (long long)i,
                 (long long)j, (double)c[i * ldc + j], ref, tol);
    }
    /* the padding between rows of C is never written */
    for (int64_t j = n; j < ldc; j++) assert_true(c[i * ldc + j] == c0[i * ldc + j]);
  }
  free(a);
  free(b);
  free(c);
  free(c0);
}

static void test_matches_double(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
    check_gemm(&narrow[i], false, 1.0f, 0.0f, 10 * i + 1);
    check_gemm(&narrow[i], true, 1.0f, 1.0f, 10 * i + 2);
    check_gemm(&narrow[i], true, 0.5f, -2.0f, 10 * i + 3);
  }
}

/* The narrow products sum each element over K in order: the same bytes at 1
 * and 2 threads. */
static void test_threads_bitwise(void **state) {
  (void)state;
  int saved = hn_threads_get();
  for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
    const shape *s = &narrow[i];
    int64_t na = s->m * s->k, nb = s->k * s->n, lda = s->ta ? s->m : s->k;
    int64_t ldb = s->tb ? s->k : s->n;
    float *a = falloc(na), *b = falloc(nb), *c[2];
    hnt_fill_uniform(a, na, -1, 1, 70 + i);
    hnt_fill_uniform(b, nb, -1, 1, 80 + i);
    for (int t = 0; t < 2; t++) {
      c[t] = falloc(s->m * s->n);
      hn_threads_set(t + 1);
      assert_int_equal(hn_blas_gemm_ld("test", s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b,
                                       ldb, 0.0f, c[t], s->n),
                       HN_OK);
    }
    /* hnet's own products sum in a fixed order; OpenBLAS's may not */
    bool own = !s->ta && !s->tb && s->n <= 32 && (s->k >= 512 || (s->m >= 4096 && s->k >= 16));
    if (own)
      hnt_assert_bytes_equal(c[0], c[1], sizeof(float) * (size_t)(s->m * s->n),
                             "narrow product, 1 vs 2 threads");
    free(a);
    free(b);
    free(c[0]);
    free(c[1]);
  }
  hn_threads_set(saved);
}

/* hn_blas_gram: C = alpha·AᵀA against double, exactly symmetric, the padding
 * between C's rows untouched; K = 0 gives zeros; hnet's own kernel (N ≤ 64,
 * K ≥ 4096) the same bytes at 1 and 2 threads. */
static void test_gram(void **state) {
  (void)state;
  /* OpenBLAS's ssyrk below K 4096 or above N 64; hnet's own from there */
  const int64_t sizes[][2] = {{1, 1},    {51, 3000}, {7, 4},     {33, 1000}, {5, 0},   {65, 4096},
                              {51, 9001}, {64, 5000}, {1, 4096}, {17, 4100}, {32, 4099}, {30, 6000}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int64_t n = sizes[s][0], k = sizes[s][1], lda = n + 3, ldc = n + 2;
    float *a = falloc(k * lda), *c = falloc(n * ldc);
    hnt_fill_uniform(a, k * lda, -1, 1, 90 + s);
    for (int64_t i = 0; i < n * ldc; i++) c[i] = 5.0f;
    int saved = hn_threads_get();
    hn_threads_set(1);
    assert_int_equal(hn_blas_gram("test", n, k, 0.5f, a, lda, c, ldc), HN_OK);
    if (n <= 64 && k >= 4096) {
      float *c2 = falloc(n * ldc);
      memcpy(c2, c, sizeof(float) * (size_t)(n * ldc));
      hn_threads_set(2);
      assert_int_equal(hn_blas_gram("test", n, k, 0.5f, a, lda, c2, ldc), HN_OK);
      hnt_assert_bytes_equal(c, c2, sizeof(float) * (size_t)(n * ldc), "Gram, 1 vs 2 threads");
      free(c2);
    }
    hn_threads_set(saved);
    for (int64_t i = 0; i < n; i++) {
      for (int64_t j = 0; j < n; j++) {
        double ref = 0, mag = 0;
        for (int64_t l = 0; l < k; l++) {
          double p = (double)a[l * lda + i] * (double)a[l * lda + j];
          ref += p;
          mag += fabs(p);
        }
        double tol = ((double)k * 0x1p-23 + 1e-6) * 0.5 * mag;
        if (fabs((double)c[i * ldc + j] - 0.5 * ref) > tol)
          fail_msg("Gram %lld x %lld: C[%lld, %lld] = %.8g, reference %.8g", (long long)n,
                   (long long)k, (long long)i, (long long)j, (double)c[i * ldc + j], 0.5 * ref);
        assert_true(c[i * ldc + j] == c[j * ldc + i]);
      }
      for (int64_t j = n; j < ldc; j++) assert_true(c[i * ldc + j] == 5.0f);
    }
    free(a);
    free(c);
  }
  float a[4] = {1, 2, 3, 4}, c[4] = {7, 7, 7, 7};
  assert_int_equal(hn_blas_gram("caller", 2, 2, 1.0f, a, 1, c, 2), HN_ERR_SHAPE);
  hnt_expect_in(hn_errmsg(), "leading dimension", "error message");
  for (int i = 0; i < 4; i++) assert_true(c[i] == 7.0f);
}

static void test_errors(void **state) {
  (void)state;
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {7, 7, 7, 7};
  assert_int_equal(hn_blas_gemm("caller", false, false, -1, 2, 2, 1.0f, a, b, 0.0f, c),
                   HN_ERR_SHAPE);
  hnt_expect_in(hn_errmsg(), "caller", "error message");
  assert_int_equal(hn_blas_gemm_ld("caller", false, false, 2, 2, 2, 1.0f, a, 1, b, 2, 0.0f, c, 2),
                   HN_ERR_SHAPE);
  hnt_expect_in(hn_errmsg(), "leading dimension", "error message");
  for (int i = 0; i < 4; i++) assert_true(c[i] == 7.0f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_double),
      cmocka_unit_test(test_threads_bitwise),
      cmocka_unit_test(test_gram),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("blas", tests, NULL, NULL);
}
