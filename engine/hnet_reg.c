/*
 * hnet_reg.c — the output regulariser of hypernetwork continual learning,
 *   L = β/n · Σ_t ‖h(e_t; θ) − W*_t‖²,
 * its value and gradient without materialising the generated weights.
 *
 * The hidden layers run over all chunk rows as in a forward pass; only the
 * output layer (linear: row r gives U·A_r + b, A_r its input) is special.
 *
 * Stored targets W* (any values): the output layer in cache-sized tiles,
 * each tile's forward GEMM, difference to the targets, bias sums and both
 * backward GEMMs done while it is hot.
 *
 * Recomputed targets W*_t = h(e_t; θ*): the targets' output rows are
 * U*·A*_r + b*, so the difference is linear in a few small matrices and the
 * whole output layer goes through Gram matrices (see gram_reg below).
 */
#include "blas.h"
#include "hnet.h"
#include "internal.h"
#include "ops.h"

#include <math.h>
#include <string.h>

#define COL_BLOCK HN_HNET_COL_BLOCK
#define REG_ROWS HN_HNET_REG_ROWS
#define REG_COLS HN_HNET_REG_COLS
#define REG_TILE HN_HNET_REG_TILE
#define REG_COLS_MAX HN_HNET_REG_COLS_MAX

/* ---- stored targets: tiles ------------------------------------------------------- */

/* One row of a tile strip, n columns: w = o + b, d = w − t; sq += d² and
 * db += s·d per column (double), o = s·d. Squares per column: the loop
 * vectorises (no chain of dependent double adds). Built for AVX2 too
 * (HN_SIMD_CLONES): the same bits. */
HN_SIMD_CLONES static void reg_row(int64_t n, float *o, const float *b, const float *t, float s,
                                   double *sq, double *db) {
  for (int64_t j = 0; j < n; j++) {
    float w = o[j] + b[j], wt = t[j];
    double dd = (double)w - (double)wt;
    sq[j] += dd * dd;
    float g = s * (w - wt);
    o[j] = g;
    db[j] += (double)g;
  }
}

/* One tile [rw, cw] of the output layer at rows r0.., columns c0..: on entry
 * o holds the GEMM part A·U^T. Adds the bias, takes the difference d = W − W*
 * to the targets, adds Σ d² (double) to *sq and Σ_rows s·d to dbacc
 * (double, per column), and leaves s·d in o (0 past the end of a truncated
 * chunk). Strips of COL_BLOCK columns run in parallel; within a strip the
 * squares are summed per column, then the columns and the strips in order,
 * so the bits do not depend on the thread count. */
static void reg_tile(const hn_hnet *h, int64_t r0, int64_t rw, int64_t c0, int64_t cw,
                     const float *b, const float *w_star, const int64_t *star_rows, float s,
                     float *o, double *dbacc, double *sq) {
  int64_t nc = h->n_chunks, ch = h->dim[h->n_layers], n_out = h->cfg.n_out;
  int64_t n_strips = (cw + COL_BLOCK - 1) / COL_BLOCK;
  double part[REG_COLS_MAX / COL_BLOCK];
#pragma omp parallel for schedule(static) if (rw * cw > HN_OMP_MIN_WORK)
  for (int64_t sb = 0; sb < n_strips; sb++) {
    int64_t j0 = sb * COL_BLOCK, j1 = HN_MIN(cw, j0 + COL_BLOCK);
    double sqc[COL_BLOCK];
    for (int64_t j = 0; j < COL_BLOCK; j++) sqc[j] = 0.0;
    for (int64_t rr = 0; rr < rw; rr++) {
      int64_t r = r0 + rr, t = r / nc, i = r % nc;
      /* valid columns of this row: the chunk may end before the tile does */
      int64_t len = HN_MAX(0, HN_MIN(cw, n_out - i * ch - c0));
      int64_t nv = HN_MAX(0, HN_MIN(j1, len) - j0);
      float *orow = o + rr * cw + j0;
      const float *trow = w_star + (star_rows ? star_rows[t] : t) * n_out + i * ch + c0 + j0;
      reg_row(nv, orow, b + j0, trow, s, sqc, dbacc + j0);
      for (int64_t j = nv; j < j1 - j0; j++) orow[j] = 0.0f;
    }
    double acc = 0.0;
    for (int64_t j = 0; j < j1 - j0; j++) acc += sqc[j];
    part[sb] = acc;
  }
  for (int64_t sb = 0; sb < n_strips; sb++) *sq += part[sb];
}

/* The output layer against stored targets: adds Σ‖d‖² to *sq and, with
 * dtheta, the output layer's gradient to dθ and dA [rows, k] to g[0]. */
static hn_status tile_reg(hn_hnet *h, const float *theta, const float *A, int64_t rows,
                          const float *w_star, const int64_t *star_rows, float s, double *sq,
                          float *dtheta) {
  static const char who[] = "hn_hnet_output_reg";
  int L = h->n_layers;
  int64_t ch = h->dim[L], k = h->dim[L - 1];
  const float *U = theta + h->off_w[L - 1], *b = theta + h->off_b[L - 1];
  float *o = h->tile[0], *dA = h->g[0];
  double *dbacc = h->dbacc;
  /* The tile's width: REG_COLS, or wider (whole strips) when there are
   * fewer rows than a tile holds. */
  int64_t tw = REG_TILE / HN_MIN(rows, REG_ROWS) / COL_BLOCK * COL_BLOCK;
  tw = HN_MIN(HN_MAX(tw, REG_COLS), REG_COLS_MAX);
  /* Column blocks outside, row blocks inside: a column block's slice of the
   * output layer (U, dθ.U, the bias sums) is reused by every row block. */
  for (int64_t c0 = 0; c0 < ch; c0 += tw) {
    int64_t cw = HN_MIN(tw, ch - c0);
    for (int64_t j = 0; j < cw; j++) dbacc[j] = 0.0;
    for (int64_t r0 = 0; r0 < rows; r0 += REG_ROWS) {
      int64_t rw = HN_MIN(REG_ROWS, rows - r0);
      HN_TRY(hn_blas_gemm(who, false, true, rw, cw, k, 1.0f, A + r0 * k, U + c0 * k, 0.0f, o));
      reg_tile(h, r0, rw, c0, cw, b + c0, w_star, star_rows, s, o, dbacc, sq);
      if (!dtheta) continue;
      /* dθ.U[c0..] += Gᵀ·A, dA += G·U[c0..] (the first column block writes dA) */
      HN_TRY(hn_blas_gemm(who, true, false, cw, k, rw, 1.0f, o, A + r0 * k, 1.0f,
                          dtheta + h->off_w[L - 1] + c0 * k));
      HN_TRY(hn_blas_gemm(who, false, false, rw, k, cw, 1.0f, o, U + c0 * k, c0 ? 1.0f : 0.0f,
                          dA + r0 * k));
    }
    if (dtheta)
      for (int64_t j = 0; j < cw; j++) dtheta[h->off_b[L - 1] + c0 + j] += (float)dbacc[j];
  }
  return HN_OK;
}

/* ---- recomputed targets: Gram matrices ------------------------------------------- */

/*
 * Row r's difference is d_r = U A_r + b − (U* A*_r + b*)
 *                           = ΔU A_r + U* ΔA_r + Δb = M y_r,
 * with ΔU = U − U*, Δb = b − b*, ΔA_r = A_r − A*_r, and
 *   M = [ΔU | U* | Δb]  [chunk, m],   y_r = [A_r; ΔA_r; 1]  [m],   m = 2k + 1.
 * With G = MᵀM and S = Σ_r y_r y_rᵀ (both [m, m]):
 *   Σ_r ‖d_r‖²   = Σ_ij G_ij S_ij,
 *   ∂‖d_r‖²/∂A_r = 2 Uᵀ d_r = 2 Hᵀ y_r,   H = G[:, 0:k] + G[:, k:2k]  (U = ΔU + U*),
 *   ∂/∂[U | b]   = 2 Σ_r d_r [A_r; 1]ᵀ = 2 M · S[:, (0:k, 2k)].
 * Nothing of size rows × chunk is formed: G costs chunk·m², S rows·m², the
 * input gradient 2·rows·k² and the weight gradient chunk·m·(k+1), against
 * 3·rows·chunk·k (4 with the targets' forward) for tiles: at the
 * PermutedMNIST-100 configuration (k = 350, chunk 7,500, 99 tasks of 272
 * chunks) 33 GFLOP instead of 550 for the output layer.
 *
 * Differences of θ and θ* are taken before any product, so every term is of
 * the size of d and nothing large cancels; at θ = θ* ΔU, Δb and ΔA are 0, so
 * are the value and every gradient, exactly, as Adam needs (it would make a
 * last-bit residual into a step of the learning rate's size).
 *
 * A truncated last chunk (its first len columns valid): its rows use G_head
 * = M[0:len]ᵀ M[0:len], the others G = G_head + G_tail; S splits the same
 * way (S_last over the truncated rows, S − S_last over the others); rows
 * 0:len of [U | b] get M[0:len]·S over all rows, rows len: M[len:]·(S − S_last).
 *
 * S is formed first (it needs only the rows), so that the bias gradient is
 * taken in the pass that writes M, each row of M still in registers.
 *
 * Scratch (allocated at the first call, reused): M [chunk, m], G, G_head, S,
 * S_last and S_full [m, m], H and H_head [m, k], S's last column over all
 * rows and over the full ones [m] each.
 */

static int64_t gram_floats(const hn_hnet *h) {
  int64_t ch = h->dim[h->n_layers], k = h->dim[h->n_layers - 1], m = 2 * k + 1;
  int64_t big = m <= HN_HNET_REG_PASS_MAX_M ? hn_hnet_reg_pass_floats(m) : ch * m;
  return big + 5 * m * m + 2 * m * k + 2 * m;
}

/* M = [U − U* | U* | b − b*], one row per output column; with db, also
 * db[j] += s·M[j]·c (c = ca for j < len, cf after it: S[:, 2k] over the rows
 * that reach column j), each summed in order. Rows go in groups of
 * BUILD_ROWS whose dot products run side by side: one chain of dependent
 * additions per row would wait on the adder's latency. */
#define BUILD_ROWS 8
static void gram_build_m(int64_t ch, int64_t k, const float *U, const float *b, const float *Us,
                         const float *bs, float *M, int64_t len, const float *ca, const float *cf,
                         float s, float *db) {
  int64_t m = 2 * k + 1, n_groups = (ch + BUILD_ROWS - 1) / BUILD_ROWS;
#pragma omp parallel for schedule(static) if (ch * m > HN_OMP_MIN_WORK)
  for (int64_t g = 0; g < n_groups; g++) {
    int64_t j0 = g * BUILD_ROWS, n = HN_MIN(BUILD_ROWS, ch - j0);
    for (int64_t j = j0; j < j0 + n; j++) {
      float *mj = M + j * m;
      const float *u = U + j * k, *us = Us + j * k;
      for (int64_t i = 0; i < k; i++) mj[i] = u[i] - us[i];
      memcpy(mj + k, us, (size_t)k * sizeof(float));
      mj[2 * k] = b[j] - bs[j];
    }
    if (!db) continue;
    float acc[BUILD_ROWS] = {0.0f};
    const float *c[BUILD_ROWS];
    for (int64_t q = 0; q < BUILD_ROWS; q++) c[q] = j0 + q < len ? ca : cf;
    const float *mg = M + j0 * m;
    if (n == BUILD_ROWS) {
      for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < BUILD_ROWS; q++) acc[q] += mg[q * m + i] * c[q][i];
    } else {
      for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < n; q++) acc[q] += mg[q * m + i] * c[q][i];
    }
    for (int64_t q = 0; q < n; q++) db[j0 + q] += s * acc[q];
  }
}

/* S = Σ_r y_r y_rᵀ [m, m] over n rows at A and ΔA (row stride ld): AᵀA and
 * ΔAᵀΔA (Gram), ΔAᵀA (GEMM, mirrored), the sums in double. */
static hn_status gram_s(int64_t k, const float *A, const float *dA, int64_t ld, int64_t n,
                        float *S) {
  static const char who[] = "hn_hnet_output_reg";
  int64_t m = 2 * k + 1;
  HN_TRY(hn_blas_gram(who, k, n, 1.0f, A, ld, S, m));
  HN_TRY(hn_blas_gram(who, k, n, 1.0f, dA, ld, S + k * m + k, m));
  HN_TRY(hn_blas_gemm_ld(who, true, false, k, k, n, 1.0f, dA, ld, A, ld, 0.0f, S + k * m, m));
  for (int64_t i = 0; i < k; i++)
    for (int64_t j = 0; j < k; j++) S[j * m + k + i] = S[(k + i) * m + j];
  for (int64_t i = 0; i < k; i++) {
    double sa = 0.0, sd = 0.0;
    for (int64_t r = 0; r < n; r++) {
      sa += (double)A[r * ld + i];
      sd += (double)dA[r * ld + i];
    }
    S[2 * k * m + i] = S[i * m + 2 * k] = (float)sa;
    S[2 * k * m + k + i] = S[(k + i) * m + 2 * k] = (float)sd;
  }
  S[2 * k * m + 2 * k] = (float)n;
  return HN_OK;
}

/* Σ_ij G_ij S_ij in double. */
static double gram_dot(int64_t m, const float *G, const float *S) {
  double v = 0.0;
  for (int64_t i = 0; i < m * m; i++) v += (double)G[i] * (double)S[i];
  return v;
}

/* H = G[:, 0:k] + G[:, k:2k]  [m, k]. */
static void gram_h(int64_t k, const float *G, float *H) {
  int64_t m = 2 * k + 1;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < k; j++) H[i * k + j] = G[i * m + j] + G[i * m + k + j];
}

/* dA_out rows = s·Hᵀ y_r for n rows at A, ΔA and dA_out (row stride ld). */
static hn_status gram_rows(int64_t k, const float *H, const float *A, const float *dA,
                           int64_t ld, int64_t n, float s, float *dA_out) {
  static const char who[] = "hn_hnet_output_reg";
  HN_TRY(hn_blas_gemm_ld(who, false, false, n, k, k, s, A, ld, H, k, 0.0f, dA_out, ld));
  HN_TRY(hn_blas_gemm_ld(who, false, false, n, k, k, s, dA, ld, H + k * k, k, 1.0f, dA_out, ld));
  const float *h2 = H + 2 * k * k;
#pragma omp parallel for schedule(static) if (n * k > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < n; r++)
    for (int64_t j = 0; j < k; j++) dA_out[r * ld + j] += s * h2[j];
  return HN_OK;
}

/* dθ.U[j0:j1] += s·M[j0:j1]·S[:, 0:k] (the bias part: gram_build_m). */
static hn_status gram_grad(hn_hnet *h, const float *M, const float *S, int64_t j0, int64_t j1,
                           float s, float *dtheta) {
  static const char who[] = "hn_hnet_output_reg";
  int L = h->n_layers;
  int64_t k = h->dim[L - 1], m = 2 * k + 1;
  return hn_blas_gemm_ld(who, false, false, j1 - j0, k, m, s, M + j0 * m, m, S, m, 1.0f,
                         dtheta + h->off_w[L - 1] + j0 * k, k);
}

/* The output layer against h(e; θ*): A [rows, k] the rows of θ, g[1] holds
 * A* on entry and ΔA after. Adds Σ‖d‖² to *sq and, with dtheta, the output
 * layer's gradient to dθ and dA [rows, k] to g[0]. */
static hn_status gram_reg(hn_hnet *h, const float *theta, const float *theta_star,
                          const float *A, int64_t n_tasks, float s, double *sq, float *dtheta) {
  static const char who[] = "hn_hnet_output_reg";
  int L = h->n_layers;
  int64_t nc = h->n_chunks, rows = n_tasks * nc, ch = h->dim[L], k = h->dim[L - 1];
  int64_t m = 2 * k + 1;
  if (!h->gram) {
    h->gram = hn_alloc((size_t)gram_floats(h) * sizeof(float));
    if (!h->gram)
      return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate %lld floats of Gram scratch", who,
                     (long long)gram_floats(h));
  }
  float *G = h->gram, *Gh = G + m * m, *S = Gh + m * m, *Sl = S + m * m;
  float *Sf = Sl + m * m, *H = Sf + m * m, *Hh = H + m * k, *ca = Hh + m * k, *cf = ca + m;
  float *M = cf + m; /* M [ch, m], or the fused pass's scratch */
  bool fused = m <= HN_HNET_REG_PASS_MAX_M;
  float *dA = h->g[1], *dAo = h->g[0];
  int64_t rw = rows * k;
#pragma omp parallel for schedule(static) if (rw > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < rw; i++) dA[i] = A[i] - dA[i];

  /* len valid columns in each task's last chunk (ch when not truncated) */
  int64_t len = h->truncated ? h->cfg.n_out - (nc - 1) * ch : ch;
  /* the truncated rows: every task's last chunk, row stride nc·k */
  const float *Al = A + (nc - 1) * k, *dAl = dA + (nc - 1) * k;
  HN_TRY(gram_s(k, A, dA, k, rows, S));
  if (h->truncated) { /* S_full = S − S_last */
    HN_TRY(gram_s(k, Al, dAl, nc * k, n_tasks, Sl));
    for (int64_t i = 0; i < m * m; i++) Sf[i] = S[i] - Sl[i];
  } else {
    memcpy(Sf, S, (size_t)(m * m) * sizeof(float));
  }
  if (fused) { /* G_head, G_tail and the output layer's gradient in one pass */
    hn_hnet_reg_pass(h, theta, theta_star, len, S, Sf, s, dtheta, M, Gh, G);
  } else {
    for (int64_t i = 0; i < m; i++) ca[i] = S[i * m + 2 * k], cf[i] = Sf[i * m + 2 * k];
    gram_build_m(ch, k, theta + h->off_w[L - 1], theta + h->off_b[L - 1],
                 theta_star + h->off_w[L - 1], theta_star + h->off_b[L - 1], M, len, ca, cf, s,
                 dtheta ? dtheta + h->off_b[L - 1] : NULL);
    HN_TRY(hn_blas_gram(who, m, len, 1.0f, M, m, Gh, m));
    if (h->truncated) HN_TRY(hn_blas_gram(who, m, ch - len, 1.0f, M + len * m, m, G, m));
  }
  if (h->truncated) {
    for (int64_t i = 0; i < m * m; i++) G[i] += Gh[i];
    *sq += gram_dot(m, G, Sf) + gram_dot(m, Gh, Sl);
  } else {
    *sq += gram_dot(m, Gh, S);
  }
  if (!dtheta) return HN_OK;
  gram_h(k, h->truncated ? G : Gh, H);
  HN_TRY(gram_rows(k, H, A, dA, k, rows, s, dAo));
  if (h->truncated) { /* the last chunks again, with G_head */
    gram_h(k, Gh, Hh);
    HN_TRY(gram_rows(k, Hh, Al, dAl, nc * k, n_tasks, s, dAo + (nc - 1) * k));
    if (!fused) HN_TRY(gram_grad(h, M, Sf, len, ch, s, dtheta));
  }
  return fused ? HN_OK : gram_grad(h, M, S, 0, len, s, dtheta);
}

/* ---- the entry point --------------------------------------------------------------- */

hn_status hn_hnet_output_reg(hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                             const float *w_star, const int64_t *star_rows, int64_t n_star,
                             const float *theta_star, float beta, float *loss, float *dtheta) {
  static const char who[] = "hn_hnet_output_reg";
  if (!h) return hn_fail(HN_ERR_ARG, "%s: hypernetwork is NULL", who);
  if (n_tasks < 0 || n_tasks > h->cap)
    return hn_fail(n_tasks < 0 ? HN_ERR_ARG : HN_ERR_SHAPE,
                   "%s: n_tasks = %lld but the workspace holds %lld; call hn_hnet_reserve(h, "
                   "%lld) first (n_tasks >= 0)",
                   who, (long long)n_tasks, (long long)h->cap, (long long)HN_MAX(0, n_tasks));
  if (!w_star == !theta_star)
    return hn_fail(HN_ERR_ARG, "%s: give the targets either stored (w_star) or as the "
                               "parameters that generate them (theta_star), exactly one",
                   who);
  if (!isfinite(beta) || beta < 0.0f)
    return hn_fail(HN_ERR_ARG, "%s: beta = %g; use a finite value >= 0", who, (double)beta);
  if (n_tasks > 0 && (!theta || !e))
    return hn_fail(HN_ERR_ARG, "%s: theta or e is NULL (e must be [%lld, %lld])", who,
                   (long long)n_tasks, (long long)h->cfg.n_emb);
  if (w_star) {
    if (!star_rows && n_star < n_tasks)
      return hn_fail(HN_ERR_SHAPE, "%s: w_star has %lld rows for %lld task embeddings; give "
                                   "one row per embedding, or star_rows",
                     who, (long long)n_star, (long long)n_tasks);
    for (int64_t t = 0; star_rows && t < n_tasks; t++)
      if (star_rows[t] < 0 || star_rows[t] >= n_star)
        return hn_fail(HN_ERR_ARG, "%s: star_rows[%lld] = %lld; use a row of w_star, 0 to %lld",
                       who, (long long)t, (long long)star_rows[t], (long long)(n_star - 1));
  }
  h->fwd_tasks = -1; /* the workspace no longer holds a forward to differentiate */
  if (n_tasks == 0) {
    if (loss) *loss = 0.0f;
    return HN_OK;
  }
  int L = h->n_layers;
  int64_t rows = n_tasks * h->n_chunks, k = h->dim[L - 1];
  const float *A, *As = NULL;
  if (theta_star) { /* the targets' last hidden rows, kept in g[1] */
    HN_TRY(hn_hnet_hidden_forward(h, theta_star, e, n_tasks, &As));
    memcpy(h->g[1], As, (size_t)(rows * k) * sizeof(float));
  }
  HN_TRY(hn_hnet_hidden_forward(h, theta, e, n_tasks, &A));
  float s = (float)(2.0 * (double)beta / (double)n_tasks);
  double sq = 0.0;
  if (theta_star)
    HN_TRY(gram_reg(h, theta, theta_star, A, n_tasks, s, &sq, dtheta));
  else
    HN_TRY(tile_reg(h, theta, A, rows, w_star, star_rows, s, &sq, dtheta));
  if (loss) *loss = (float)((double)beta / (double)n_tasks * sq);
  if (!dtheta) return HN_OK;
  float *dA = h->g[0];
  if (L > 1) /* dZ_{L-2} = act'(Z_{L-2}) ⊙ dA, in place */
    hn_ops_act_backward(h->cfg.act, h->cfg.act_alpha, h->z[L - 2], h->a[L - 2], dA, dA, rows * k);
  return hn_hnet_backward_from(h, theta, L - 2, dA, 1, n_tasks, dtheta, NULL);
}
