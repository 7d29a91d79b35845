/*
 * hnet_reg_pass.c — the Gram form's pass over the output layer's columns
 * (hnet_reg.c's gram_reg), in one sweep for narrow layers.
 *
 * Per output column j the regulariser needs the row M_j = [U_j − U*_j | U*_j
 * | b_j − b*_j] (m = 2k + 1 floats) three times: in G = Σ_j M_jᵀ M_j (split at
 * len: the columns every chunk reaches, and the rest), in the bias gradient
 * db_j += s·M_j·c and in the weight gradient dU_j += s·M_j·S[:, 0:k] (c and S
 * those of the head or of the tail). Written out as a matrix, M is chunk x m
 * floats (16 MB at PermutedMNIST-10) written once and read twice. Here, for m
 * ≤ HN_HNET_REG_PASS_MAX_M, blocks of REG_PASS_ROWS rows are built in L1 from
 * U, U*, b, b* and used at once by all three: M never exists.
 *
 * A block is held transposed (one of M's columns per row, 16 of M's rows per
 * vector), so that G runs 16 rows at a time: its upper triangle in 4 x 4
 * tiles of pairs (i, j), each pair's sum kept per lane. Keeping M's rows in
 * the lanes, rather than broadcasting an element of a row against whole
 * rows, computes G's triangle only (m = 21: 336 pair sums for 231, where
 * row-broadcast tiles of 4 x 32 compute 768). The gradients go the other
 * way, GRAD_ROWS rows at a time with M's elements broadcast against S's
 * rows, so that each row's sums come out as a contiguous row of dU.
 *
 * Columns go in REG_PASS_SLOTS fixed slots shared among the threads; each slot
 * keeps its own partial tiles and adds to them in row order; a sum of G is a
 * slot's lanes in order, then the slots in order. db_j and dU_j are each one
 * slot's, summed over i in order. The bits depend on neither the thread count
 * nor the clone.
 */
#include "internal.h"

#include <string.h>

#define REG_PASS_ROWS 64 /* rows of M per block: four vectors of 16 */
#define REG_PASS_RV (REG_PASS_ROWS / 16)
#define REG_PASS_SLOTS 8
#define GRAD_ROWS 8 /* gradient rows per register block */

/* G's upper triangle in 4 x 4 tiles: (nb + 1)·nb / 2 tiles, nb = ⌈m / 4⌉. */
static int64_t n_tiles(int64_t m) {
  int64_t nb = (m + 3) / 4;
  return nb * (nb + 1) / 2;
}

/* Per slot, head and tail: each tile's 16 sums as 16 lanes each. */
int64_t hn_hnet_reg_pass_floats(int64_t m) { return 2 * REG_PASS_SLOTS * n_tiles(m) * 256; }

/* The inputs of a range of columns that share S and c. */
typedef struct pass_in {
  int64_t k, m;                  /* widths: k, m = 2k + 1                          */
  int64_t rows;                  /* U's rows (the chunk)                           */
  const float *U, *Us, *b, *bs;  /* the output layer of θ and θ*                  */
  const float *Sp;               /* [m][32]: S[:, 0:k], S[:, 2k] in lane k, zeros  */
  float s;
  float *dU, *db;                /* NULL: no gradient                             */
} pass_in;

/* v (16 rows of 16 lanes) transposed in place: four rounds of swapping the
 * off-diagonal d x d blocks (d = 8, 4, 2, 1), two-source shuffles. */
typedef int hn_v16i __attribute__((vector_size(64)));
static inline __attribute__((always_inline)) void transpose16(hn_v16f v[16]) {
  static const hn_v16i lo[4] = {
      {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
      {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
      {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
      {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30}};
  static const hn_v16i hi[4] = {
      {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
      {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
      {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
      {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31}};
  for (int s = 0, d = 8; s < 4; s++, d /= 2)
    for (int q = 0; q < 16; q++)
      if (!(q & d)) {
        hn_v16f a = v[q], b = v[q + d];
        v[q] = __builtin_shuffle(a, b, lo[s]);
        v[q + d] = __builtin_shuffle(a, b, hi[s]);
      }
}

/* Rows [rb, rb + n) of M, transposed: bt[i][r] = M_{rb+r, i}; columns past n
 * are zero (rows m..4·nb were zeroed by the caller). For k ≤ 16, groups of
 * 16 rows whose 16-float reads stay inside U are loaded whole (a row and the
 * start of the next) and transposed in registers; the rest go element by
 * element. Either way the same subtractions: the same bits. */
static inline __attribute__((always_inline)) void
build_block(const pass_in *in, int64_t rb, int64_t n, float (*bt)[REG_PASS_ROWS]) {
  int64_t k = in->k, m = in->m, r = 0;
  if (k <= 16)
    for (; r + 16 <= n && (rb + r + 15) * k + 16 <= in->rows * k; r += 16) {
      const float *u = in->U + (rb + r) * k, *us = in->Us + (rb + r) * k;
      hn_v16f v[16];
      for (int q = 0; q < 16; q++) HN_LOAD16(v[q], us + q * k);
      transpose16(v);
      for (int64_t i = 0; i < k; i++) HN_STORE16(&bt[k + i][r], v[i]);
      for (int q = 0; q < 16; q++) HN_LOAD16(v[q], u + q * k);
      transpose16(v);
      for (int64_t i = 0; i < k; i++) {
        hn_v16f t;
        HN_LOAD16(t, &bt[k + i][r]);
        v[i] -= t;
        HN_STORE16(&bt[i][r], v[i]);
      }
    }
  for (; r < n; r++) {
    int64_t j = rb + r;
    const float *u = in->U + j * k, *us = in->Us + j * k;
    for (int64_t i = 0; i < k; i++) {
      bt[i][r] = u[i] - us[i];
      bt[k + i][r] = us[i];
    }
  }
  for (r = 0; r < n; r++) bt[2 * k][r] = in->b[rb + r] - in->bs[rb + r];
  if (n < REG_PASS_ROWS)
    for (int64_t i = 0; i < m; i++) memset(&bt[i][n], 0, sizeof(float) * (size_t)(REG_PASS_ROWS - n));
}

/* dU_j += s·M_j·S[:, 0:k] and db_j += s·M_j·c for rows [r0, r0 + g) of the
 * block (g ≤ GRAD_ROWS): M's elements broadcast from bt, S's rows as NV
 * vectors of lanes (c in lane k), g rows of sums in registers, each summed
 * over i in order from zero. The g rows of dU are contiguous: the sums are
 * packed by overlapping stores (row q at q·k, its lanes past k overwritten
 * by row q + 1's) and added as one run of g·k floats. */
static inline __attribute__((always_inline)) void
grad_rows(int NV, const pass_in *in, const float (*bt)[REG_PASS_ROWS], int64_t r0, int64_t g,
          int64_t j0) {
  int64_t k = in->k, m = in->m;
  hn_v16f a[GRAD_ROWS][2];
  for (int q = 0; q < GRAD_ROWS; q++)
    for (int v = 0; v < NV; v++) a[q][v] = (hn_v16f){0};
  for (int64_t i = 0; i < m; i++) {
    hn_v16f sv[2];
    for (int v = 0; v < NV; v++) HN_LOAD16(sv[v], in->Sp + i * 32 + 16 * v);
    const float *x = &bt[i][r0];
    for (int q = 0; q < GRAD_ROWS; q++)
      for (int v = 0; v < NV; v++) a[q][v] += x[q] * sv[v];
  }
  float pack[GRAD_ROWS * 32 + 32], dbs[GRAD_ROWS];
  for (int64_t q = 0; q < g; q++) {
    for (int v = 0; v < NV; v++) HN_STORE16(pack + q * k + 16 * v, a[q][v]);
    dbs[q] = pack[q * k + k];
  }
  float *d = in->dU + j0 * k;
  for (int64_t c = 0; c < g * k; c++) d[c] += in->s * pack[c];
  for (int64_t q = 0; q < g; q++) in->db[j0 + q] += in->s * dbs[q];
}

static inline __attribute__((always_inline)) void
grad_block(const pass_in *in, const float (*bt)[REG_PASS_ROWS], int64_t rb, int64_t n) {
  for (int64_t r0 = 0; r0 < n; r0 += GRAD_ROWS) {
    int64_t g = HN_MIN(GRAD_ROWS, n - r0);
    if (in->k < 16)
      grad_rows(1, in, bt, r0, g, rb + r0);
    else
      grad_rows(2, in, bt, r0, g, rb + r0);
  }
}

/* The partial G's tiles += the block's: tile (I, J), I ≤ J, holds for rows
 * 4I + a, columns 4J + b the sum per lane (rows r ≡ lane mod 16). */
static inline __attribute__((always_inline)) void
gram_block(const float (*bt)[REG_PASS_ROWS], int64_t nb, float *P) {
  float *pt = P;
  for (int64_t I = 0; I < nb; I++)
    for (int64_t J = I; J < nb; J++, pt += 256) {
      hn_v16f t[4][4];
      for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) HN_LOAD16(t[a][b], pt + (4 * a + b) * 16);
      for (int rv = 0; rv < REG_PASS_RV; rv++) {
        hn_v16f x[4], y[4];
        for (int a = 0; a < 4; a++) HN_LOAD16(x[a], &bt[4 * I + a][16 * rv]);
        for (int b = 0; b < 4; b++) HN_LOAD16(y[b], &bt[4 * J + b][16 * rv]);
        for (int a = 0; a < 4; a++)
          for (int b = 0; b < 4; b++) t[a][b] += x[a] * y[b];
      }
      for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) HN_STORE16(pt + (4 * a + b) * 16, t[a][b]);
    }
}

/* Columns [j0, j1) into the partial tiles P and, with gradients, into db and
 * dU. */
HN_V16_CLONES static void pass_range(const pass_in *in, int64_t j0, int64_t j1, float *P) {
  float bt[HN_HNET_REG_PASS_MAX_M][REG_PASS_ROWS] __attribute__((aligned(64)));
  int64_t m = in->m, nb = (m + 3) / 4;
  for (int64_t i = m; i < 4 * nb; i++) memset(bt[i], 0, sizeof bt[i]);
  for (int64_t rb = j0; rb < j1; rb += REG_PASS_ROWS) {
    int64_t n = HN_MIN(REG_PASS_ROWS, j1 - rb);
    build_block(in, rb, n, bt);
    if (in->dU) grad_block(in, (const float(*)[REG_PASS_ROWS])bt, rb, n);
    gram_block((const float(*)[REG_PASS_ROWS])bt, nb, P);
  }
}

void hn_hnet_reg_pass(const hn_hnet *h, const float *theta, const float *theta_star, int64_t len,
                      const float *S, const float *Sf, float s, float *dtheta, float *scratch,
                      float *Gh, float *Gt) {
  int L = h->n_layers;
  int64_t ch = h->dim[L], k = h->dim[L - 1], m = 2 * k + 1, nb = (m + 3) / 4;
  const int64_t PS = n_tiles(m) * 256; /* one partial's floats */
  /* S[:, 0:k] and c = S[:, 2k] of the head (S) and the tail (Sf) */
  float Sp[2][HN_HNET_REG_PASS_MAX_M * 32] __attribute__((aligned(64)));
  const float *Ss[2] = {S, Sf};
  for (int w = 0; w < 2; w++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < 32; j++)
        Sp[w][i * 32 + j] = j < k ? Ss[w][i * m + j] : j == k ? Ss[w][i * m + 2 * k] : 0.0f;
  pass_in in[2];
  for (int w = 0; w < 2; w++)
    in[w] = (pass_in){.k = k, .m = m, .rows = ch, .U = theta + h->off_w[L - 1],
                      .Us = theta_star + h->off_w[L - 1], .b = theta + h->off_b[L - 1],
                      .bs = theta_star + h->off_b[L - 1], .Sp = Sp[w], .s = s,
                      .dU = dtheta ? dtheta + h->off_w[L - 1] : NULL,
                      .db = dtheta ? dtheta + h->off_b[L - 1] : NULL};
#pragma omp parallel for schedule(static)
  for (int sl = 0; sl < REG_PASS_SLOTS; sl++) {
    int64_t j0 = ch * sl / REG_PASS_SLOTS, j1 = ch * (sl + 1) / REG_PASS_SLOTS;
    float *ph = scratch + (2 * sl) * PS, *pt = ph + PS;
    memset(ph, 0, (size_t)(2 * PS) * sizeof(float));
    if (j0 < HN_MIN(j1, len)) pass_range(&in[0], j0, HN_MIN(j1, len), ph);
    if (HN_MAX(j0, len) < j1) pass_range(&in[1], HN_MAX(j0, len), j1, pt);
  }
  /* each sum: a slot's lanes in order, then the slots in order */
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = i; j < m; j++) {
      int64_t I = i / 4, J = j / 4;
      int64_t off = (I * nb - I * (I - 1) / 2 + (J - I)) * 256 + (4 * (i % 4) + j % 4) * 16;
      float vh = 0.0f, vt = 0.0f;
      for (int sl = 0; sl < REG_PASS_SLOTS; sl++) {
        const float *ph = scratch + (2 * sl) * PS + off, *pt = ph + PS;
        float sh = 0.0f, st = 0.0f;
        for (int l = 0; l < 16; l++) sh += ph[l], st += pt[l];
        vh += sh;
        vt += st;
      }
      Gh[i * m + j] = Gh[j * m + i] = vh;
      Gt[i * m + j] = Gt[j * m + i] = vt;
    }
}
