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
 * ≤ REG_PASS_MAX_M, blocks of REG_PASS_ROWS rows are built in L1 from U, U*,
 * b, b* and used at once by all three: M never exists.
 *
 * Columns go in REG_PASS_SLOTS fixed slots shared among the threads; each slot
 * keeps its own partial G's and adds to them in row order; the slots' partials
 * are added in slot order. db_j and dU_j are each one slot's, summed over i
 * in order. The bits depend on neither the thread count nor the clone.
 */
#include "internal.h"

#include <string.h>

#define REG_PASS_ROWS 64
#define REG_PASS_SLOTS 8

int64_t hn_hnet_reg_pass_floats(void) {
  return 2 * REG_PASS_SLOTS * HN_HNET_REG_PASS_MAX_M * HN_HNET_REG_PASS_MAX_M;
}

/* The inputs of a range of columns that share S and c. */
typedef struct pass_in {
  int64_t k, m, nj;              /* widths: k, m = 2k + 1, nj = m rounded up to 32 */
  const float *U, *Us, *b, *bs;  /* the output layer of θ and θ*                  */
  const float *Sp;               /* S[:, 0:k] as [m][32], zeros past k             */
  const float *c;                /* S[:, 2k] [m]                                  */
  float s;
  float *dU, *db;                /* NULL: no gradient                             */
} pass_in;

/* dU rows [j0, j0 + n) += s·M·S[:, 0:k], rows of M in buf; NV vectors of k. */
static inline __attribute__((always_inline)) void
grad_rows(int NV, const pass_in *in, const float (*buf)[HN_HNET_REG_PASS_MAX_M], int64_t n,
          int64_t j0) {
  int64_t k = in->k, m = in->m;
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {
    hn_v16f a[4][2];
    for (int q = 0; q < 4; q++)
      for (int v = 0; v < NV; v++) a[q][v] = (hn_v16f){0};
    for (int64_t i = 0; i < m; i++) {
      hn_v16f sv[2];
      for (int v = 0; v < NV; v++) HN_LOAD16(sv[v], in->Sp + i * 32 + 16 * v);
      for (int q = 0; q < 4; q++) {
        float x = buf[r + q][i];
        for (int v = 0; v < NV; v++) a[q][v] += x * sv[v];
      }
    }
    for (int q = 0; q < 4; q++) {
      float t[32];
      for (int v = 0; v < NV; v++) HN_STORE16(t + 16 * v, a[q][v]);
      float *d = in->dU + (j0 + r + q) * k;
      for (int64_t c = 0; c < k; c++) d[c] += in->s * t[c];
    }
  }
  for (; r < n; r++) {
    hn_v16f a[2];
    for (int v = 0; v < NV; v++) a[v] = (hn_v16f){0};
    for (int64_t i = 0; i < m; i++) {
      float x = buf[r][i];
      for (int v = 0; v < NV; v++) {
        hn_v16f sv;
        HN_LOAD16(sv, in->Sp + i * 32 + 16 * v);
        a[v] += x * sv;
      }
    }
    float t[32];
    for (int v = 0; v < NV; v++) HN_STORE16(t + 16 * v, a[v]);
    float *d = in->dU + (j0 + r) * k;
    for (int64_t c = 0; c < k; c++) d[c] += in->s * t[c];
  }
}

/* Columns [j0, j1) into the partial G p [MAX_M][MAX_M] (upper-triangle tiles)
 * and, with gradients, into db and dU. */
HN_V16_CLONES static void pass_range(const pass_in *in, int64_t j0, int64_t j1, float *p) {
  float buf[REG_PASS_ROWS][HN_HNET_REG_PASS_MAX_M] __attribute__((aligned(64)));
  int64_t k = in->k, m = in->m, nj = in->nj;
  for (int64_t rb = j0; rb < j1; rb += REG_PASS_ROWS) {
    int64_t n = HN_MIN(REG_PASS_ROWS, j1 - rb);
    for (int64_t r = 0; r < n; r++) {
      int64_t j = rb + r;
      const float *u = in->U + j * k, *us = in->Us + j * k;
      float *row = buf[r];
      for (int64_t i = 0; i < k; i++) row[i] = u[i] - us[i];
      for (int64_t i = 0; i < k; i++) row[k + i] = us[i];
      row[2 * k] = in->b[j] - in->bs[j];
      for (int64_t i = m; i < nj; i++) row[i] = 0.0f;
    }
    if (in->db) { /* db_j += s·M_j·c, 8 rows' dot products side by side */
      for (int64_t r0 = 0; r0 < n; r0 += 8) {
        int64_t g = HN_MIN(8, n - r0);
        float acc[8] = {0.0f};
        for (int64_t i = 0; i < m; i++)
          for (int64_t q = 0; q < g; q++) acc[q] += buf[r0 + q][i] * in->c[i];
        for (int64_t q = 0; q < g; q++) in->db[rb + r0 + q] += in->s * acc[q];
      }
    }
    if (in->dU) {
      if (k <= 16)
        grad_rows(1, in, (const float(*)[HN_HNET_REG_PASS_MAX_M])buf, n, rb);
      else
        grad_rows(2, in, (const float(*)[HN_HNET_REG_PASS_MAX_M])buf, n, rb);
    }
    /* G += Σ_r M_rᵀ M_r */
    hn_gram_block_acc((const float(*)[HN_HNET_REG_PASS_MAX_M])buf, n, m, p);
  }
}

void hn_hnet_reg_pass(const hn_hnet *h, const float *theta, const float *theta_star, int64_t len,
                      const float *S, const float *Sf, float s, float *dtheta, float *scratch,
                      float *Gh, float *Gt) {
  int L = h->n_layers;
  int64_t ch = h->dim[L], k = h->dim[L - 1], m = 2 * k + 1, nj = (m + 31) / 32 * 32;
  const int64_t MM = HN_HNET_REG_PASS_MAX_M * HN_HNET_REG_PASS_MAX_M;
  /* S[:, 0:k] and c = S[:, 2k] of the head (S) and the tail (Sf) */
  float Sp[2][HN_HNET_REG_PASS_MAX_M * 32] __attribute__((aligned(64)));
  float c[2][HN_HNET_REG_PASS_MAX_M];
  const float *Ss[2] = {S, Sf};
  for (int w = 0; w < 2; w++)
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < 32; j++) Sp[w][i * 32 + j] = j < k ? Ss[w][i * m + j] : 0.0f;
      c[w][i] = Ss[w][i * m + 2 * k];
    }
  pass_in in[2];
  for (int w = 0; w < 2; w++)
    in[w] = (pass_in){.k = k, .m = m, .nj = nj, .U = theta + h->off_w[L - 1],
                      .Us = theta_star + h->off_w[L - 1], .b = theta + h->off_b[L - 1],
                      .bs = theta_star + h->off_b[L - 1], .Sp = Sp[w], .c = c[w], .s = s,
                      .dU = dtheta ? dtheta + h->off_w[L - 1] : NULL,
                      .db = dtheta ? dtheta + h->off_b[L - 1] : NULL};
#pragma omp parallel for schedule(static)
  for (int sl = 0; sl < REG_PASS_SLOTS; sl++) {
    int64_t j0 = ch * sl / REG_PASS_SLOTS, j1 = ch * (sl + 1) / REG_PASS_SLOTS;
    float *ph = scratch + (2 * sl) * MM, *pt = ph + MM;
    memset(ph, 0, (size_t)(2 * MM) * sizeof(float));
    if (j0 < HN_MIN(j1, len)) pass_range(&in[0], j0, HN_MIN(j1, len), ph);
    if (HN_MAX(j0, len) < j1) pass_range(&in[1], HN_MAX(j0, len), j1, pt);
  }
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = i; j < m; j++) {
      float vh = 0.0f, vt = 0.0f;
      for (int sl = 0; sl < REG_PASS_SLOTS; sl++) {
        vh += scratch[(2 * sl) * MM + i * HN_HNET_REG_PASS_MAX_M + j];
        vt += scratch[(2 * sl + 1) * MM + i * HN_HNET_REG_PASS_MAX_M + j];
      }
      Gh[i * m + j] = Gh[j * m + i] = vh;
      Gt[i * m + j] = Gt[j * m + i] = vt;
    }
}
