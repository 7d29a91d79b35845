/*
 * hnet_out.c — the hypernetwork's output layer over a few rows, fused with
 * the chunk layout.
 *
 * A training step generates one task's weights: R = n_chunks rows (27 at
 * PermutedMNIST-10, 12 at Split MNIST) of a thin product, [R, k] x [k,
 * chunk] with k the last hidden width (25, 10) and chunk tens of thousands.
 * As GEMMs (OpenBLAS) it took a padded scratch written by the GEMM and copied
 * into W with the bias, then in backward dW scattered back into the padded
 * layout, a transposed GEMM, a bias pass and the input-gradient product:
 * six passes over the chunk rows, each a thin product OpenBLAS runs far from
 * its rate. Here each side is one pass.
 *
 * Forward: W row r (task t = r / n_chunks, chunk i = r % n_chunks) gets
 * b + U · x_r over its first len_r = min(chunk, n_out - i·chunk) outputs,
 * written in place. Columns go in blocks of OUT_JB: the block of U is copied
 * transposed ([k][OUT_JB], OUT_KB rows of k at a time, in L1), then two rows
 * at a time are summed in registers (8 vectors of 16 floats) over k in order,
 * the bias added last. Each output is one thread's: the bits depend on
 * neither the thread count nor the block.
 *
 * Backward, one pass over dW's rows and U in OUT_SLOTS fixed slots of
 * columns: per tile of OUT_JT columns j and block of lanes c (16 or 32),
 *   dU[j, c] += Σ_r dW_r[j] x_r[c]   (and db[j] through a ones lane at c = k),
 *   dx_r[c]  += Σ_j dW_r[j] U[j, c]  (the slot's partial sums),
 * both from the same broadcast dW_r[j]; dW past a row's length counts as 0.
 * The tile's dx sums run in several chains added in a fixed order.
 * dU and db are summed over r in order, each column by one slot; the slots'
 * partial dx are added in slot order: fixed bits again.
 *
 * More rows (many tasks at once: targets, evaluation) go through GEMMs in
 * hnet.c, where OpenBLAS is at its rate.
 */
#include "internal.h"

#include <string.h>

#define OUT_JB 64  /* forward: columns per block (4 vectors)                */
#define OUT_KB 128 /* forward: rows of k per transposed copy (32 KiB)        */
#define OUT_SLOTS 8

/* The rows of one pass: where each row's outputs are and how many. */
typedef struct {
  float *row[HN_HNET_OUT_ROWS];
  int64_t len[HN_HNET_OUT_ROWS];
} out_rows;

static void rows_of(const hn_hnet *h, const float *W, int64_t rows, out_rows *o) {
  int64_t nc = h->n_chunks, cw = h->dim[h->n_layers], n_out = h->cfg.n_out;
  for (int64_t r = 0; r < rows; r++) {
    int64_t t = r / nc, i = r % nc;
    o->row[r] = (float *)(W + t * n_out + i * cw);
    o->len[r] = HN_MIN(cw, n_out - i * cw);
  }
}

int64_t hn_hnet_out_lanes(int64_t k) { return k + 1 <= 16 ? 16 : (k + 1 + 31) / 32 * 32; }

int64_t hn_hnet_out_floats(int64_t k) {
  int64_t kp = hn_hnet_out_lanes(k);
  /* xp [rows][kp], OUT_SLOTS partial dx [rows][kp], U's last rows padded */
  return (1 + OUT_SLOTS) * HN_HNET_OUT_ROWS * kp + (kp / k + 2) * kp;
}

/* ---- forward --------------------------------------------------------------------- */

HN_V16_CLONES static void fwd_block(int64_t j0, int64_t jn, int64_t rows, int64_t k,
                                 const float *x, const float *U, const float *b,
                                 const out_rows *o) {
  float ut[OUT_KB][OUT_JB] __attribute__((aligned(64)));
  float acc[HN_HNET_OUT_ROWS][OUT_JB] __attribute__((aligned(64)));
  float bb[OUT_JB] __attribute__((aligned(64)));
  for (int64_t jj = 0; jj < OUT_JB; jj++) bb[jj] = jj < jn ? b[j0 + jj] : 0.0f;
  for (int64_t kb0 = 0; kb0 < k; kb0 += OUT_KB) {
    int64_t kn = HN_MIN(OUT_KB, k - kb0);
    bool first = kb0 == 0, last = kb0 + kn == k;
    for (int64_t jj = 0; jj < jn; jj++)
      for (int64_t q = 0; q < kn; q++) ut[q][jj] = U[(j0 + jj) * k + kb0 + q];
    for (int64_t jj = jn; jj < OUT_JB; jj++)
      for (int64_t q = 0; q < kn; q++) ut[q][jj] = 0.0f;
    for (int64_t r = 0; r < rows; r += 2) {
      int nr = rows - r < 2 ? 1 : 2;
      const float *x0 = x + r * k + kb0, *x1 = x + (r + nr - 1) * k + kb0;
      hn_v16f s0[4], s1[4];
      for (int v = 0; v < 4; v++) {
        s0[v] = s1[v] = (hn_v16f){0};
        if (!first) {
          HN_LOAD16(s0[v], &acc[r][16 * v]);
          HN_LOAD16(s1[v], &acc[r + nr - 1][16 * v]);
        }
      }
      for (int64_t q = 0; q < kn; q++) {
        float a0 = x0[q], a1 = x1[q];
        for (int v = 0; v < 4; v++) {
          hn_v16f u;
          HN_LOAD16(u, &ut[q][16 * v]);
          s0[v] += a0 * u;
          s1[v] += a1 * u;
        }
      }
      for (int hh = 0; hh < nr; hh++) {
        float *dst = acc[r + hh];
        for (int v = 0; v < 4; v++) {
          hn_v16f s = hh ? s1[v] : s0[v], bv;
          HN_LOAD16(bv, bb + 16 * v);
          HN_STORE16(dst + 16 * v, last ? s + bv : s);
        }
        if (!last) continue;
        int64_t len = HN_MIN(jn, o->len[r + hh] - j0);
        if (len > 0) memcpy(o->row[r + hh] + j0, dst, (size_t)len * sizeof(float));
      }
    }
  }
}

void hn_hnet_out_forward(const hn_hnet *h, const float *theta, const float *x, int64_t rows,
                         float *W) {
  int L = h->n_layers;
  int64_t k = h->dim[L - 1], cw = h->dim[L];
  const float *U = theta + h->off_w[L - 1], *b = theta + h->off_b[L - 1];
  out_rows o;
  rows_of(h, W, rows, &o);
  int64_t n_blocks = (cw + OUT_JB - 1) / OUT_JB;
#pragma omp parallel for schedule(static) if (rows * cw * k > HN_OMP_MIN_WORK)
  for (int64_t bi = 0; bi < n_blocks; bi++)
    fwd_block(bi * OUT_JB, HN_MIN(OUT_JB, cw - bi * OUT_JB), rows, k, x, U, b, &o);
}

/* ---- backward -------------------------------------------------------------------- */

/* One tile: columns [jt, jt + jl) (jl ≤ JT), lanes [vb, vb + 16·NV). */
static inline __attribute__((always_inline)) void
bwd_tile(int JT, int NV, int64_t jt, int64_t jl, int64_t vb, int64_t rows, int64_t k, int64_t kp,
         const float *xp, const out_rows *o, const float *U, int64_t usafe, const float *upad,
         float *dU, float *db, float *dxp) {
  hn_v16f du[12][2], u[12][2];
  for (int q = 0; q < JT; q++) {
    int64_t j = jt + (q < jl ? q : 0); /* a tile's missing columns read any row; their dW is 0 */
    const float *src = j < usafe ? U + j * k + vb : upad + (j - usafe) * kp + vb;
    for (int v = 0; v < NV; v++) {
      HN_LOAD16(u[q][v], src + 16 * v);
      du[q][v] = (hn_v16f){0};
    }
  }
  for (int64_t r = 0; r < rows; r++) {
    float ov[12];
    const float *orow = o->row[r] + jt;
    if (jl == JT && jt + JT <= o->len[r])
      for (int q = 0; q < JT; q++) ov[q] = orow[q];
    else
      for (int q = 0; q < JT; q++) ov[q] = q < jl && jt + q < o->len[r] ? orow[q] : 0.0f;
    /* dx's sums in CH = 4 / NV interleaved chains (column q in chain q %
     * CH), added pairwise into the slot's sums: a single chain would wait on
     * the adder's latency at every column */
    int CH = 4 / NV;
    hn_v16f xv[2], d[2][4];
    for (int v = 0; v < NV; v++) {
      HN_LOAD16(xv[v], xp + r * kp + vb + 16 * v);
      for (int p = 0; p < CH; p++) d[v][p] = (hn_v16f){0};
    }
    for (int q = 0; q < JT; q++)
      for (int v = 0; v < NV; v++) {
        du[q][v] += ov[q] * xv[v];
        d[v][q % CH] += ov[q] * u[q][v];
      }
    for (int v = 0; v < NV; v++) {
      hn_v16f acc, sum = CH == 4 ? (d[v][0] + d[v][1]) + (d[v][2] + d[v][3]) : d[v][0] + d[v][1];
      HN_LOAD16(acc, dxp + r * kp + vb + 16 * v);
      HN_STORE16(dxp + r * kp + vb + 16 * v, acc + sum);
    }
  }
  if (!dU) return;
  int64_t c1 = HN_MIN(k, vb + 16 * NV);
  for (int64_t q = 0; q < jl; q++) {
    float s[32];
    for (int v = 0; v < NV; v++) HN_STORE16(s + 16 * v, du[q][v]);
    float *d = dU + (jt + q) * k;
    for (int64_t c = vb; c < c1; c++) d[c] += s[c - vb];
    if (k >= vb && k < vb + 16 * NV) db[jt + q] += s[k - vb];
  }
}

HN_V16_CLONES static void bwd_slot(int64_t j0, int64_t j1, int64_t rows, int64_t k, int64_t kp,
                                const float *xp, const out_rows *o, const float *U,
                                int64_t usafe, const float *upad, float *dU, float *db,
                                float *dxp) {
  if (kp == 16) {
    for (int64_t jt = j0; jt < j1; jt += 12)
      bwd_tile(12, 1, jt, HN_MIN(12, j1 - jt), 0, rows, k, kp, xp, o, U, usafe, upad, dU, db, dxp);
    return;
  }
  for (int64_t jt = j0; jt < j1; jt += 6)
    for (int64_t vb = 0; vb < kp; vb += 32)
      bwd_tile(6, 2, jt, HN_MIN(6, j1 - jt), vb, rows, k, kp, xp, o, U, usafe, upad, dU, db, dxp);
}

void hn_hnet_out_backward(hn_hnet *h, const float *theta, const float *x, const float *dW,
                          int64_t rows, float *dtheta, float *dx) {
  int L = h->n_layers;
  int64_t k = h->dim[L - 1], cw = h->dim[L], kp = hn_hnet_out_lanes(k);
  const float *U = theta + h->off_w[L - 1];
  float *dU = dtheta ? dtheta + h->off_w[L - 1] : NULL;
  float *db = dtheta ? dtheta + h->off_b[L - 1] : NULL;
  float *xp = h->out, *dxp = xp + HN_HNET_OUT_ROWS * kp;
  float *upad = dxp + OUT_SLOTS * HN_HNET_OUT_ROWS * kp;
  out_rows o;
  rows_of(h, dW, rows, &o);
  /* x with zeros past k and a ones lane at k (db) */
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < kp; c++) xp[r * kp + c] = c < k ? x[r * k + c] : c == k ? 1.0f : 0.0f;
  /* U's rows read kp floats wide in place as long as that stays inside U
   * (the lanes past k belong to the next row and are discarded); the last
   * ones from a zero-padded copy */
  int64_t usafe = cw * k >= kp ? HN_MIN(cw, (cw * k - kp) / k + 1) : 0;
  for (int64_t j = usafe; j < cw; j++)
    for (int64_t c = 0; c < kp; c++) upad[(j - usafe) * kp + c] = c < k ? U[j * k + c] : 0.0f;
#pragma omp parallel for schedule(static) if (rows * cw * k > HN_OMP_MIN_WORK)
  for (int s = 0; s < OUT_SLOTS; s++) {
    float *p = dxp + s * HN_HNET_OUT_ROWS * kp;
    memset(p, 0, (size_t)(rows * kp) * sizeof(float));
    bwd_slot(cw * s / OUT_SLOTS, cw * (s + 1) / OUT_SLOTS, rows, k, kp, xp, &o, U, usafe, upad,
             dU, db, p);
  }
  if (!dx) return;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < k; c++) {
      float v = 0.0f;
      for (int s = 0; s < OUT_SLOTS; s++) v += dxp[s * HN_HNET_OUT_ROWS * kp + r * kp + c];
      dx[r * k + c] = v;
    }
}
