/*
 * blas.h — shape-checked GEMM wrappers; blas.c is the only file that includes
 * cblas.h. Matrices are row-major and packed (leading dimension = columns).
 * Never call these from inside an OpenMP parallel region.
 */
#ifndef HN_BLAS_H
#define HN_BLAS_H

#include "base.h"

/* C[M,N] = alpha * op(A) · op(B) + beta * C, where op(A) is [M,K] and op(B)
 * is [K,N]; A is stored [M,K] (or [K,M] if trans_a), B is stored [K,N] (or
 * [N,K] if trans_b). `who` names the caller in error messages. */
hn_status hn_blas_gemm(const char *who, bool trans_a, bool trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, const float *b, float beta,
                       float *c);

/* As hn_blas_gemm with explicit leading dimensions (for sub-matrices). */
hn_status hn_blas_gemm_ld(const char *who, bool trans_a, bool trans_b, int64_t m, int64_t n,
                          int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                          int64_t ldb, float beta, float *c, int64_t ldc);

/* The name of the kernel family OpenBLAS chose for this CPU ("Haswell",
 * "SkylakeX", ...; OPENBLAS_CORETYPE overrides it): benchmarks print it,
 * since a CPU newer than the OpenBLAS build falls back to "Prescott" (SSE3),
 * several times slower. */
const char *hn_blas_core(void);

/* C[N,N] = alpha · Aᵀ·A (beta 0), A stored [K,N] with leading dimension
 * lda: one triangle by BLAS ssyrk (half a GEMM's FLOPs), mirrored, so C is
 * exactly symmetric. */
hn_status hn_blas_gram(const char *who, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, float *c, int64_t ldc);

#endif
