/* blas.c — the only door to OpenBLAS, and the one GEMM shape hnet computes
 * itself (narrow products, below). */
#include "blas.h"

#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>

/* ---- narrow products ------------------------------------------------------------
 * C[M, N] = alpha·A[M, K]·B[K, N] + beta·C with N ≤ NARROW_MAX_N and K long: the
 * input gradient of the hypernetwork's output layer (M chunk rows, N its
 * hidden width, K the chunk: 27 x 25 x 78,000 at PermutedMNIST-10, 12 x 10 x
 * 42,000 at Split MNIST) and of the regulariser's tiles. OpenBLAS threads
 * such a product over M and N and measured 7 GFLOP/s on it at 2 threads, slower
 * than at 1. Or with M long and K short: the output layer's weight gradient
 * through the regulariser's Gram matrices (78,000 x 25 x 51 at
 * PermutedMNIST-10: 3.2 ms here at 2 threads, OpenBLAS 6.2 ms). Here the rows of C are shared among the threads; a thread keeps
 * the sums of G rows in registers while it runs down a block of NARROW_KB rows
 * of B (in L1), reading KP = N rounded up to 8 floats of each (the lanes past
 * N read the next row and are discarded; the last rows go through a padded
 * copy), and the next G rows reuse the block. Each element is summed over K
 * in order, in float: the bits depend on neither the thread count nor the
 * blocking. */
#define NARROW_MAX_N 32
#define NARROW_MIN_K 512
#define NARROW_LONG_M 4096
#define NARROW_SHORT_K 16
#define NARROW_KB 128
#define NARROW_PANEL 48

/* Eight floats in a register (GCC/Clang vector extension: AVX2 in the AVX2
 * clone, two SSE registers in the baseline one). */
typedef float v8f __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) void load8(v8f *v, const float *p) {
  __builtin_memcpy(v, p, sizeof *v);
}

/* Rows a[0..G) (stride lda) times B's rows kb0..kb1 added into acc [G][KP]
 * (KP/8 vectors per row); B's rows below kfast are read KP floats wide in
 * place, the others through a zero-padded copy. */
static inline __attribute__((always_inline)) void
narrow_block(int G, int KP, int64_t kb0, int64_t kb1, int64_t kfast, const float *a, int64_t lda,
             const float *b, int64_t ldb, int64_t n, float *acc) {
  v8f s[6][NARROW_MAX_N / 8];
  for (int g = 0; g < G; g++)
    for (int v = 0; v < KP / 8; v++) {
      v8f t; /* through a temporary: s's address is never taken, so it stays in registers */
      load8(&t, acc + g * KP + v * 8);
      s[g][v] = t;
    }
  int64_t kf = HN_MIN(kb1, HN_MAX(kb0, kfast));
  for (int64_t kk = kb0; kk < kf; kk++) {
    v8f bv[NARROW_MAX_N / 8];
    for (int v = 0; v < KP / 8; v++) {
      v8f t;
      load8(&t, b + kk * ldb + v * 8);
      bv[v] = t;
    }
    for (int g = 0; g < G; g++) {
      float av = a[g * lda + kk];
      for (int v = 0; v < KP / 8; v++) s[g][v] += av * bv[v];
    }
  }
  for (int64_t kk = kf; kk < kb1; kk++) { /* the last rows: never read past B's end */
    float pad[NARROW_MAX_N] = {0.0f};
    for (int64_t l = 0; l < n; l++) pad[l] = b[kk * ldb + l];
    v8f bv[NARROW_MAX_N / 8];
    for (int v = 0; v < KP / 8; v++) {
      v8f t;
      load8(&t, pad + v * 8);
      bv[v] = t;
    }
    for (int g = 0; g < G; g++) {
      float av = a[g * lda + kk];
      for (int v = 0; v < KP / 8; v++) s[g][v] += av * bv[v];
    }
  }
  for (int g = 0; g < G; g++)
    for (int v = 0; v < KP / 8; v++) {
      v8f t = s[g][v];
      __builtin_memcpy(acc + g * KP + v * 8, &t, sizeof t);
    }
}

/* One panel of rows [r0, r1) of C: G and KP constant, so the loops unroll. */
static inline __attribute__((always_inline)) void
narrow_panel(int G, int KP, int64_t r0, int64_t r1, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc) {
  float acc[NARROW_PANEL * NARROW_MAX_N];
  int64_t rows = r1 - r0;
  for (int64_t i = 0; i < rows * KP; i++) acc[i] = 0.0f;
  /* the last row of B that can be read KP floats wide without leaving B */
  int64_t kfast = HN_MAX(0, ((k - 1) * ldb + n - KP) / ldb + 1);
  for (int64_t kb0 = 0; kb0 < k; kb0 += NARROW_KB) {
    int64_t kb1 = HN_MIN(k, kb0 + NARROW_KB);
    int64_t g0 = 0;
    for (; g0 + G <= rows; g0 += G)
      narrow_block(G, KP, kb0, kb1, kfast, a + (r0 + g0) * lda, lda, b, ldb, n, acc + g0 * KP);
    for (; g0 < rows; g0++)
      narrow_block(1, KP, kb0, kb1, kfast, a + (r0 + g0) * lda, lda, b, ldb, n, acc + g0 * KP);
  }
  for (int64_t i = 0; i < rows; i++) {
    float *ci = c + (r0 + i) * ldc;
    for (int64_t l = 0; l < n; l++)
      ci[l] = alpha * acc[i * KP + l] + (beta == 0.0f ? 0.0f : beta * ci[l]);
  }
}

HN_SIMD_CLONES static void narrow_rows(int64_t r0, int64_t r1, int64_t n, int64_t k, float alpha,
                                       const float *a, int64_t lda, const float *b, int64_t ldb,
                                       float beta, float *c, int64_t ldc) {
  for (int64_t p0 = r0; p0 < r1; p0 += NARROW_PANEL) {
    int64_t p1 = HN_MIN(r1, p0 + NARROW_PANEL);
    if (n <= 8)
      narrow_panel(6, 8, p0, p1, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (n <= 16)
      narrow_panel(4, 16, p0, p1, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (n <= 24)
      narrow_panel(3, 24, p0, p1, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
      narrow_panel(2, 32, p0, p1, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

static void gemm_narrow(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc) {
#pragma omp parallel if (m * n * k > HN_OMP_MIN_WORK)
  {
    int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    narrow_rows(m * t / nt, m * (t + 1) / nt, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

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
  if (!trans_a && !trans_b && n <= NARROW_MAX_N &&
      (k >= NARROW_MIN_K || (m >= NARROW_LONG_M && k >= NARROW_SHORT_K))) {
    gemm_narrow(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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

/* ---- Gram products of tall matrices ----------------------------------------------
 * C[N, N] = alpha·AᵀA for A [K, N] with N ≤ GRAM_MAX_N and K long: the
 * regulariser's S over many chunk rows (hnet_reg.c's gram_s; the narrow
 * output layers' G has its own pass, hnet_reg_pass.c, that never stores
 * M). OpenBLAS's ssyrk does not split K over threads (10 ms on a 51 x
 * 78,000 A, at 1 thread or 2).
 * Here K is cut into GRAM_SLOTS fixed slots shared among the threads; a slot
 * copies GRAM_ROWS rows at a time into a zero-padded block (in L1) and adds
 * their products into its partial sums, tile by tile (4 rows of C by 32
 * columns, held in registers: 8 vectors of 16 floats), upper triangle only;
 * the partial sums are added in slot order. Every element is summed in a
 * fixed order: the bits depend on neither the thread count nor the vector
 * width of the clone that runs. */
#define GRAM_MAX_N 64
#define GRAM_MIN_K 4096
#define GRAM_SLOTS 8
#define GRAM_ROWS 64

/* g [GRAM_MAX_N][GRAM_MAX_N] += Σ_r buf_rᵀ buf_r over nr rows of buf
 * (rows GRAM_MAX_N floats, zero past the width n), upper-triangle tiles
 * of 4 rows by 32 columns held in registers (8 vectors), each element summed
 * in row order; inlined into gram_slot's clones. */
static inline __attribute__((always_inline)) void
gram_block_acc(const float (*buf)[GRAM_MAX_N], int64_t nr, int64_t n, float *g) {
  int64_t nj = (n + 31) / 32 * 32; /* columns of the tiles, whole vectors */
  for (int64_t j0 = 0; j0 < nj; j0 += 32)
    for (int64_t i0 = 0; i0 < (n < j0 + 32 ? n : j0 + 32); i0 += 4) {
      hn_v16f t[4][2];
      for (int q = 0; q < 4; q++)
        for (int v = 0; v < 2; v++) HN_LOAD16(t[q][v], g + (i0 + q) * GRAM_MAX_N + j0 + 16 * v);
      for (int64_t r = 0; r < nr; r++) {
        hn_v16f b0, b1;
        HN_LOAD16(b0, &buf[r][j0]);
        HN_LOAD16(b1, &buf[r][j0 + 16]);
        for (int q = 0; q < 4; q++) {
          float x = buf[r][i0 + q]; /* i0 + q < nj: a zero past n */
          t[q][0] += x * b0;
          t[q][1] += x * b1;
        }
      }
      for (int q = 0; q < 4; q++)
        for (int v = 0; v < 2; v++) HN_STORE16(g + (i0 + q) * GRAM_MAX_N + j0 + 16 * v, t[q][v]);
    }
}

/* Rows [r0, r1) of a into p [GRAM_MAX_N][GRAM_MAX_N] (upper-triangle tiles,
 * accumulated). */
HN_V16_CLONES static void gram_slot(int64_t r0, int64_t r1, int64_t n, const float *a, int64_t lda,
                                  float *p) {
  float buf[GRAM_ROWS][GRAM_MAX_N] __attribute__((aligned(64)));
  int64_t nj = (n + 31) / 32 * 32; /* columns of the tiles, whole vectors */
  for (int64_t rb = r0; rb < r1; rb += GRAM_ROWS) {
    int64_t nr = HN_MIN(GRAM_ROWS, r1 - rb);
    for (int64_t r = 0; r < nr; r++) {
      for (int64_t j = 0; j < n; j++) buf[r][j] = a[(rb + r) * lda + j];
      for (int64_t j = n; j < nj; j++) buf[r][j] = 0.0f;
    }
    gram_block_acc((const float(*)[GRAM_MAX_N])buf, nr, n, p);
  }
}

static void gram_own(int64_t n, int64_t k, float alpha, const float *a, int64_t lda, float *c,
                     int64_t ldc) {
  _Static_assert(GRAM_MAX_N % 32 == 0, "tiles are 32 columns wide");
  float part[GRAM_SLOTS][GRAM_MAX_N * GRAM_MAX_N] __attribute__((aligned(64)));
#pragma omp parallel for schedule(static)
  for (int s = 0; s < GRAM_SLOTS; s++) {
    float *p = part[s];
    for (int64_t i = 0; i < GRAM_MAX_N * GRAM_MAX_N; i++) p[i] = 0.0f;
    gram_slot(k * s / GRAM_SLOTS, k * (s + 1) / GRAM_SLOTS, n, a, lda, p);
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i; j < n; j++) {
      float v = 0.0f;
      for (int s = 0; s < GRAM_SLOTS; s++) v += part[s][i * GRAM_MAX_N + j];
      c[i * ldc + j] = c[j * ldc + i] = alpha * v;
    }
}

hn_status hn_blas_gram(const char *who, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, float *c, int64_t ldc) {
  if (n < 0 || k < 0)
    return hn_fail(HN_ERR_SHAPE, "%s: negative Gram size (n=%lld, k=%lld)", who, (long long)n,
                   (long long)k);
  if (n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldc > INT_MAX)
    return hn_fail(HN_ERR_SHAPE, "%s: Gram dimension exceeds the BLAS int range", who);
  if (n == 0) return HN_OK;
  if (!c || (k > 0 && !a)) return hn_fail(HN_ERR_ARG, "%s: NULL Gram operand", who);
  if (lda < n || ldc < n) return hn_fail(HN_ERR_SHAPE, "%s: leading dimension too small", who);
  if (k == 0) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = 0.0f;
    return HN_OK;
  }
  if (n <= GRAM_MAX_N && k >= GRAM_MIN_K) {
    gram_own(n, k, alpha, a, lda, c, ldc);
    return HN_OK;
  }
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)k, alpha, a, (int)lda, 0.0f, c,
              (int)ldc);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < i; j++) c[i * ldc + j] = c[j * ldc + i];
  return HN_OK;
}

const char *hn_blas_core(void) { return openblas_get_corename(); }
