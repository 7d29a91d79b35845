/* blas.c — the only door to OpenBLAS. */
#include "blas.h"

#include <cblas.h>
#include <limits.h>

hn_status hn_blas_gemm_ld(const char *who, bool trans_a, bool trans_b, int64_t m, int64_t n,
                          int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                          int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m < 0 || n < 0 || k < 0)
    return hn_fail(HN_ERR_SHAPE, "%s: negative GEMM size (m=%lld, n=%lld, k=%lld)", who,
                   (long long)m, (long long)n, (long long)k);
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
    return hn_fail(HN_ERR_SHAPE, "%s: GEMM dimension exceeds the BLAS int range", who);
  if (m == 0 || n == 0) return HN_OK;
  if (!c || (k > 0 && (!a || !b))) return hn_fail(HN_ERR_ARG, "%s: NULL GEMM operand", who);
  if (lda < (trans_a ? m : k) || ldb < (trans_b ? k : n) || ldc < n)
    return hn_fail(HN_ERR_SHAPE, "%s: leading dimension too small", who);
  if (k == 0) { /* BLAS leaves C*beta; do it ourselves for clarity */
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return HN_OK;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
  return HN_OK;
}

hn_status hn_blas_gemm(const char *who, bool trans_a, bool trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, const float *b, float beta,
                       float *c) {
  return hn_blas_gemm_ld(who, trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b,
                         trans_b ? k : n, beta, c, n);
}
