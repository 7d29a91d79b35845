/*
 * hnet.c — full and chunked hypernetworks, hyperfan initialisation.
 *
 * Sizes. A network has L = n_hidden + 1 linear layers of widths
 * dim[0] -> dim[1] -> ... -> dim[L], where dim[0] = n_emb (+ n_chunk_emb when
 * chunked), dim[1..L-1] = hidden, and dim[L] = n_out (full) or chunk
 * (chunked). A pass over n_tasks embeddings runs R = n_tasks * n_chunks rows;
 * row r = t * n_chunks + i holds the input [e_t, c_i] of task t, chunk i.
 *
 * Forward, per layer l: Z_l = X_l · W_l^T + b_l  (ONE GEMM over all R rows),
 * then A_l = act(Z_l) for hidden layers. The output rows [R, dim[L]] are the
 * chunks of every task in order. A pass of at most HN_HNET_OUT_ROWS rows (a
 * training step's one task) runs its output layer fused with the chunk
 * layout, straight into W and back from dW (hnet_out.c). A larger pass runs
 * it as a GEMM: when n_chunks * chunk == n_out the rows ARE W [n_tasks,
 * n_out] and the GEMM writes W directly; otherwise they go to a scratch and
 * each row is copied into W, the last chunk truncated.
 *
 * Backward of the last forward: dO = dW (or, for a large pass, dW scattered
 * into the padded chunk layout, zeros in the truncated tail), then per layer
 * from the top:
 *   dθ.W_l += dZ_l^T · X_l  (GEMM, beta = 1),  dθ.b_l += Σ_rows dZ_l,
 *   dX_l = dZ_l · W_l,  dZ_{l-1} = act'(dX_l)  (in place).
 * dX_0 [R, dim[0]] splits into the task part (summed over chunks into de)
 * and the chunk part (summed over tasks into dθ.chunk_emb).
 *
 * Workspace (one allocation, planned for `cap` tasks): X_0, Z_l and A_l per
 * hidden layer, the output scratch (only when truncating; reused for dO in
 * backward), two gradient buffers of the widest layer input, the
 * regulariser's tiles and the fused output layer's scratch. Backward
 * leaves X_0, Z and A intact, so it can run again on the same forward.
 */
#include "hnet.h"
#include "blas.h"
#include "internal.h"
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Random task embeddings per chunk used to estimate E[h^2] for hyperfan. */
#define HYPERFAN_SAMPLES 256
/* Rows per batch of that estimate (bounds its scratch). */
#define HYPERFAN_ROWS 16384
/* The padded output rows of a truncated network go through a scratch of at
 * most this many floats (whole tasks, at least one): 16 MiB. */
#define OUT_SCRATCH (1 << 22)

/* ---- construction ----------------------------------------------------------- */

static hn_status check_cfg(const hn_hnet_cfg *c) {
  static const char who[] = "hn_hnet_new";
  if (c->n_out < 1 || c->n_emb < 1)
    return hn_fail(HN_ERR_ARG, "%s: n_out = %lld, n_emb = %lld; both must be >= 1", who,
                   (long long)c->n_out, (long long)c->n_emb);
  if (c->n_hidden < 0 || c->n_hidden > HN_HNET_MAX_HIDDEN)
    return hn_fail(HN_ERR_ARG, "%s: n_hidden = %d; use 0 to %d hidden layers", who, c->n_hidden,
                   HN_HNET_MAX_HIDDEN);
  for (int l = 0; l < c->n_hidden; l++)
    if (c->hidden[l] < 1)
      return hn_fail(HN_ERR_ARG, "%s: hidden[%d] = %lld; every hidden width must be >= 1", who, l,
                     (long long)c->hidden[l]);
  if ((int)c->act < (int)HN_ACT_RELU || (int)c->act > (int)HN_ACT_IDENTITY)
    return hn_fail(HN_ERR_ARG, "%s: unknown activation %d", who, (int)c->act);
  if (c->act == HN_ACT_ELU && !(c->act_alpha > 0.0f && isfinite(c->act_alpha)))
    return hn_fail(HN_ERR_ARG, "%s: ELU act_alpha = %g; use a finite value > 0 (usually 1)", who,
                   (double)c->act_alpha);
  if (c->chunk < 0)
    return hn_fail(HN_ERR_ARG, "%s: chunk = %lld; use 0 for a full hypernetwork or a chunk size "
                               ">= 1",
                   who, (long long)c->chunk);
  if (c->chunk > 0 && c->n_chunk_emb < 1)
    return hn_fail(HN_ERR_ARG, "%s: a chunked hypernetwork (chunk = %lld) needs n_chunk_emb >= 1, "
                               "got %lld",
                   who, (long long)c->chunk, (long long)c->n_chunk_emb);
  if (c->max_tasks < 1)
    return hn_fail(HN_ERR_ARG, "%s: max_tasks = %lld; plan the workspace for at least 1 task",
                   who, (long long)c->max_tasks);
  return HN_OK;
}

/* a * b into *out unless it overflows or either is negative. */
static bool mul_ok(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return false;
  if (a != 0 && b > INT64_MAX / a) return false;
  *out = a * b;
  return true;
}

/* Tasks of the output scratch for cap tasks (0 when not truncated). */
static int64_t out_tasks(const hn_hnet *h, int64_t cap) {
  if (!h->truncated) return 0;
  return HN_MIN(cap, HN_MAX(1, OUT_SCRATCH / (h->n_chunks * h->dim[h->n_layers])));
}

/* Floats of workspace for cap tasks; -1 on overflow. */
static int64_t ws_floats(const hn_hnet *h, int64_t cap) {
  int64_t rows, total = 0, t;
  if (!mul_ok(cap, h->n_chunks, &rows)) return -1;
  int64_t widths = h->dim[0] + 2 * h->maxw;
  for (int l = 0; l < h->cfg.n_hidden; l++) widths += 2 * h->dim[l + 1];
  if (!mul_ok(rows, widths, &total)) return -1;
  if (total > INT64_MAX - out_tasks(h, cap) * h->n_chunks * h->dim[h->n_layers]) return -1;
  total += out_tasks(h, cap) * h->n_chunks * h->dim[h->n_layers];
  int64_t fixed = 2 * HN_HNET_REG_TILE + hn_hnet_out_floats(h->dim[h->n_layers - 1]);
  if (total > INT64_MAX - fixed) return -1;
  total += fixed;
  if (!mul_ok(total, (int64_t)sizeof(float), &t)) return -1;
  return total;
}

/* Point the buffers into ws for cap tasks. */
static void ws_assign(hn_hnet *h, float *ws, int64_t cap) {
  int64_t rows = cap * h->n_chunks;
  float *p = ws;
  h->x0 = p;
  p += rows * h->dim[0];
  for (int l = 0; l < h->cfg.n_hidden; l++) {
    h->z[l] = p;
    p += rows * h->dim[l + 1];
    h->a[l] = p;
    p += rows * h->dim[l + 1];
  }
  h->o_tasks = out_tasks(h, cap);
  h->o = h->truncated ? p : NULL;
  p += h->o_tasks * h->n_chunks * h->dim[h->n_layers];
  h->g[0] = p;
  p += rows * h->maxw;
  h->g[1] = p;
  p += rows * h->maxw;
  h->tile[0] = p;
  h->tile[1] = p + HN_HNET_REG_TILE;
  h->out = p + 2 * HN_HNET_REG_TILE;
  h->ws = ws;
  h->cap = cap;
}

static hn_status ws_alloc(hn_hnet *h, const char *who, int64_t cap) {
  int64_t n = ws_floats(h, cap);
  if (n < 0)
    return hn_fail(HN_ERR_ARG, "%s: the workspace for %lld tasks overflows; use fewer tasks per "
                               "pass",
                   who, (long long)cap);
  float *ws = hn_alloc((size_t)n * sizeof(float));
  if (!ws)
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate %lld floats of workspace for %lld tasks", who,
                   (long long)n, (long long)cap);
  hn_free(h->ws);
  ws_assign(h, ws, cap);
  return HN_OK;
}

static hn_status build_layout(hn_hnet *h) {
  char name[48];
  if (h->cfg.chunk > 0) {
    HN_TRY(hn_layout_add(&h->layout, "chunk_emb", 2,
                         (int64_t[]){h->n_chunks, h->cfg.n_chunk_emb}, -1));
    h->off_cemb = hn_layout_find(&h->layout, "chunk_emb")->offset;
  }
  for (int l = 0; l < h->n_layers; l++) {
    snprintf(name, sizeof name, "l%d.weight", l);
    HN_TRY(hn_layout_add(&h->layout, name, 2, (int64_t[]){h->dim[l + 1], h->dim[l]}, l));
    h->off_w[l] = hn_layout_find(&h->layout, name)->offset;
    snprintf(name, sizeof name, "l%d.bias", l);
    HN_TRY(hn_layout_add(&h->layout, name, 1, (int64_t[]){h->dim[l + 1]}, l));
    h->off_b[l] = hn_layout_find(&h->layout, name)->offset;
  }
  return HN_OK;
}

hn_status hn_hnet_new(hn_hnet **out, const hn_hnet_cfg *cfg) {
  if (!out || !cfg) return hn_fail(HN_ERR_ARG, "hn_hnet_new: out or cfg is NULL");
  HN_TRY(check_cfg(cfg));
  hn_hnet *h = hn_calloc(sizeof *h);
  if (!h) return hn_fail(HN_ERR_NOMEM, "hn_hnet_new: cannot allocate the hypernetwork");
  h->cfg = *cfg;
  hn_layout_init(&h->layout);
  h->n_layers = cfg->n_hidden + 1;
  h->off_cemb = -1;
  h->fwd_tasks = -1;
  bool chunked = cfg->chunk > 0;
  h->n_chunks = chunked ? (cfg->n_out + cfg->chunk - 1) / cfg->chunk : 1;
  h->dim[0] = cfg->n_emb + (chunked ? cfg->n_chunk_emb : 0);
  for (int l = 0; l < cfg->n_hidden; l++) h->dim[l + 1] = cfg->hidden[l];
  h->dim[h->n_layers] = chunked ? cfg->chunk : cfg->n_out;
  h->truncated = chunked && h->n_chunks * cfg->chunk != cfg->n_out;
  h->maxw = h->dim[0];
  for (int l = 1; l < h->n_layers; l++) h->maxw = HN_MAX(h->maxw, h->dim[l]);
  hn_status st = build_layout(h);
  if (st == HN_OK) st = ws_alloc(h, "hn_hnet_new", cfg->max_tasks);
  if (st != HN_OK) {
    hn_hnet_free(h);
    return st;
  }
  *out = h;
  return HN_OK;
}

void hn_hnet_free(hn_hnet *h) {
  if (!h) return;
  hn_layout_release(&h->layout);
  hn_free(h->ws);
  hn_free(h->gram);
  hn_free(h);
}

hn_status hn_hnet_reserve(hn_hnet *h, int64_t n_tasks) {
  if (!h) return hn_fail(HN_ERR_ARG, "hn_hnet_reserve: hypernetwork is NULL");
  if (n_tasks < 0)
    return hn_fail(HN_ERR_ARG, "hn_hnet_reserve: n_tasks = %lld; use n_tasks >= 0",
                   (long long)n_tasks);
  if (n_tasks <= h->cap) return HN_OK;
  HN_TRY(ws_alloc(h, "hn_hnet_reserve", n_tasks));
  h->cfg.max_tasks = n_tasks;
  h->fwd_tasks = -1; /* the activations of the last forward are gone */
  return HN_OK;
}

int64_t hn_hnet_n_params(const hn_hnet *h) { return h ? h->layout.n_params : 0; }
int64_t hn_hnet_n_out(const hn_hnet *h) { return h ? h->cfg.n_out : 0; }
int64_t hn_hnet_n_emb(const hn_hnet *h) { return h ? h->cfg.n_emb : 0; }
int64_t hn_hnet_n_chunks(const hn_hnet *h) { return h ? h->n_chunks : 0; }
int64_t hn_hnet_max_tasks(const hn_hnet *h) { return h ? h->cap : 0; }
const hn_hnet_cfg *hn_hnet_config(const hn_hnet *h) { return h ? &h->cfg : NULL; }
const hn_layout *hn_hnet_layout(const hn_hnet *h) { return h ? &h->layout : NULL; }

int64_t hn_hnet_flops(const hn_hnet *h, int64_t n_tasks) {
  if (!h || n_tasks < 0) return 0;
  int64_t rows = n_tasks * h->n_chunks, f = 0;
  for (int l = 0; l < h->n_layers; l++) f += 2 * rows * h->dim[l] * h->dim[l + 1];
  return f;
}

/* ---- forward ---------------------------------------------------------------------- */

/* Input rows [R, dim[0]]: row t * n_chunks + i = [e_t, c_i]. */
static void build_input(const hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                        float *x0) {
  int64_t nc = h->n_chunks, n_emb = h->cfg.n_emb, d0 = h->dim[0];
  int64_t nce = h->off_cemb >= 0 ? h->cfg.n_chunk_emb : 0;
  const float *cemb = h->off_cemb >= 0 ? theta + h->off_cemb : NULL;
  int64_t rows = n_tasks * nc;
#pragma omp parallel for schedule(static) if (rows * d0 > HN_OMP_MIN_WORK)
  for (int64_t r = 0; r < rows; r++) {
    int64_t t = r / nc, i = r % nc;
    float *xr = x0 + r * d0;
    memcpy(xr, e + t * n_emb, (size_t)n_emb * sizeof(float));
    if (nce) memcpy(xr + n_emb, cemb + i * nce, (size_t)nce * sizeof(float));
  }
}

/* One linear layer over `rows` rows: y = x · W_l^T + b_l. */
static hn_status layer_forward(const hn_hnet *h, const float *theta, int l, const float *x,
                               int64_t rows, float *y) {
  HN_TRY(hn_blas_gemm("hn_hnet_forward", false, true, rows, h->dim[l + 1], h->dim[l], 1.0f, x,
                      theta + h->off_w[l], 0.0f, y));
  hn_ops_add_row_bias(y, theta + h->off_b[l], rows, h->dim[l + 1]);
  return HN_OK;
}

hn_status hn_hnet_hidden_forward(hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                                 const float **last) {
  int64_t rows = n_tasks * h->n_chunks;
  build_input(h, theta, e, n_tasks, h->x0);
  const float *x = h->x0;
  for (int l = 0; l < h->n_layers - 1; l++) {
    HN_TRY(layer_forward(h, theta, l, x, rows, h->z[l]));
    hn_ops_act_forward(h->cfg.act, h->cfg.act_alpha, h->z[l], h->a[l], rows * h->dim[l + 1]);
    x = h->a[l];
  }
  *last = x;
  return HN_OK;
}

hn_status hn_hnet_forward(hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                          float *W) {
  static const char who[] = "hn_hnet_forward";
  if (!h) return hn_fail(HN_ERR_ARG, "%s: hypernetwork is NULL", who);
  if (n_tasks < 0)
    return hn_fail(HN_ERR_ARG, "%s: n_tasks = %lld; use n_tasks >= 0", who, (long long)n_tasks);
  if (n_tasks > h->cap)
    return hn_fail(HN_ERR_SHAPE, "%s: %lld task embeddings in one pass but the workspace holds "
                                 "%lld; call hn_hnet_reserve(h, %lld) first",
                   who, (long long)n_tasks, (long long)h->cap, (long long)n_tasks);
  if (n_tasks > 0 && (!theta || !e || !W))
    return hn_fail(HN_ERR_ARG, "%s: theta, e or W is NULL (theta [%lld], e [%lld, %lld], W "
                               "[%lld, %lld])",
                   who, (long long)h->layout.n_params, (long long)n_tasks, (long long)h->cfg.n_emb,
                   (long long)n_tasks, (long long)h->cfg.n_out);
  h->fwd_tasks = -1;
  if (n_tasks == 0) {
    h->fwd_tasks = 0;
    return HN_OK;
  }
  int64_t rows = n_tasks * h->n_chunks;
  int L = h->n_layers;
  const float *x;
  HN_TRY(hn_hnet_hidden_forward(h, theta, e, n_tasks, &x));
  if (rows <= HN_HNET_OUT_ROWS) {
    hn_hnet_out_forward(h, theta, x, rows, W);
  } else if (!h->truncated) {
    HN_TRY(layer_forward(h, theta, L - 1, x, rows, W));
  } else {
    /* The output rows are padded chunks: per pass of the scratch's tasks,
     * one GEMM into the scratch, then the bias is added while the rows are
     * copied into W (truncating the last chunk of each task). A row's bits
     * do not depend on the pass it is in. */
    int64_t nc = h->n_chunks, chunk = h->cfg.chunk, n_out = h->cfg.n_out, k = h->dim[L - 1];
    float *o = h->o;
    const float *b = theta + h->off_b[L - 1];
    for (int64_t t0 = 0; t0 < n_tasks; t0 += h->o_tasks) {
      int64_t r0 = t0 * nc, rw = HN_MIN(h->o_tasks, n_tasks - t0) * nc;
      HN_TRY(hn_blas_gemm(who, false, true, rw, chunk, k, 1.0f, x + r0 * k,
                          theta + h->off_w[L - 1], 0.0f, o));
#pragma omp parallel for schedule(static) if (rw * chunk > HN_OMP_MIN_WORK)
      for (int64_t rr = 0; rr < rw; rr++) {
        int64_t r = r0 + rr, t = r / nc, i = r % nc;
        int64_t len = HN_MIN(chunk, n_out - i * chunk);
        float *dst = W + t * n_out + i * chunk;
        const float *src = o + rr * chunk;
        for (int64_t j = 0; j < len; j++) dst[j] = src[j] + b[j];
      }
    }
  }
  h->fwd_tasks = n_tasks;
  return HN_OK;
}

/* ---- backward ---------------------------------------------------------------------- */

/* out[g, c] += Σ_k x[(g*gs + k*ks), col0 + c] for g < n_groups, k < len,
 * c < ncols; x has ld columns. Each output element is summed in double in k
 * order, so the result does not depend on the thread count. */
static void group_sums(const float *x, int64_t ld, int64_t col0, int64_t ncols, int64_t n_groups,
                       int64_t gs, int64_t len, int64_t ks, float *out) {
  int64_t n_cb = (ncols + HN_HNET_COL_BLOCK - 1) / HN_HNET_COL_BLOCK;
  int64_t n_items = n_groups * n_cb;
#pragma omp parallel for schedule(static) if (n_groups * len * ncols > HN_OMP_MIN_WORK)
  for (int64_t it = 0; it < n_items; it++) {
    int64_t g = it / n_cb, cb = it % n_cb;
    int64_t c0 = cb * HN_HNET_COL_BLOCK, c1 = HN_MIN(ncols, c0 + HN_HNET_COL_BLOCK);
    double acc[HN_HNET_COL_BLOCK];
    for (int64_t c = c0; c < c1; c++) acc[c - c0] = 0.0;
    for (int64_t k = 0; k < len; k++) {
      const float *xr = x + (g * gs + k * ks) * ld + col0;
      for (int64_t c = c0; c < c1; c++) acc[c - c0] += (double)xr[c];
    }
    float *og = out + g * ncols;
    for (int64_t c = c0; c < c1; c++) og[c] += (float)acc[c - c0];
  }
}

/* From the output layer's input gradient dx (in g[0]) down. */
static hn_status backward_below_out(hn_hnet *h, const float *theta, float *dx, int64_t n_tasks,
                                    float *dtheta, float *de) {
  int L = h->n_layers;
  if (L > 1) /* dZ_{L-2} = act'(Z_{L-2}) ⊙ dA_{L-2}, in place */
    hn_ops_act_backward(h->cfg.act, h->cfg.act_alpha, h->z[L - 2], h->a[L - 2], dx, dx,
                        n_tasks * h->n_chunks * h->dim[L - 1]);
  return hn_hnet_backward_from(h, theta, L - 2, dx, 1, n_tasks, dtheta, de);
}

hn_status hn_hnet_backward(hn_hnet *h, const float *theta, const float *dW, float *dtheta,
                           float *de) {
  static const char who[] = "hn_hnet_backward";
  if (!h) return hn_fail(HN_ERR_ARG, "%s: hypernetwork is NULL", who);
  if (h->fwd_tasks < 0)
    return hn_fail(HN_ERR_STATE, "%s: no forward pass to differentiate; call hn_hnet_forward "
                                 "first (hn_hnet_reserve also discards the last forward)",
                   who);
  int64_t n_tasks = h->fwd_tasks;
  if (n_tasks == 0 || (!dtheta && !de)) return HN_OK;
  if (!theta || !dW)
    return hn_fail(HN_ERR_ARG, "%s: theta or dW is NULL (dW must be [%lld, %lld])", who,
                   (long long)n_tasks, (long long)h->cfg.n_out);
  int L = h->n_layers;
  int64_t nc = h->n_chunks, chunk = h->cfg.chunk, n_out = h->cfg.n_out, k = h->dim[L - 1];
  bool need_dx = L > 1 || de != NULL || (h->off_cemb >= 0 && dtheta != NULL);
  const float *x = L > 1 ? h->a[L - 2] : h->x0, *U = theta + h->off_w[L - 1];
  float *dx = h->g[0];
  if (n_tasks * nc <= HN_HNET_OUT_ROWS) {
    hn_hnet_out_backward(h, theta, x, dW, n_tasks * nc, dtheta, need_dx ? dx : NULL);
    return need_dx ? backward_below_out(h, theta, dx, n_tasks, dtheta, de) : HN_OK;
  }
  /* The last layer is linear: dZ = dO = dW when the rows are not padded. */
  if (!h->truncated) return hn_hnet_backward_from(h, theta, L - 1, dW, 0, n_tasks, dtheta, de);

  /* Padded rows: per pass of the scratch's tasks, dW's rows scattered into
   * the padded chunk layout (zeros in the truncated tail), then the output
   * layer's products for those rows. One pass when the forward fits the
   * scratch (a single task always does). */
  float *o = h->o;
  for (int64_t t0 = 0; t0 < n_tasks; t0 += h->o_tasks) {
    int64_t r0 = t0 * nc, rw = HN_MIN(h->o_tasks, n_tasks - t0) * nc;
#pragma omp parallel for schedule(static) if (rw * chunk > HN_OMP_MIN_WORK)
    for (int64_t rr = 0; rr < rw; rr++) {
      int64_t r = r0 + rr, t = r / nc, i = r % nc;
      int64_t len = HN_MIN(chunk, n_out - i * chunk);
      memcpy(o + rr * chunk, dW + t * n_out + i * chunk, (size_t)len * sizeof(float));
      for (int64_t j = len; j < chunk; j++) o[rr * chunk + j] = 0.0f;
    }
    if (dtheta) {
      HN_TRY(hn_blas_gemm(who, true, false, chunk, k, rw, 1.0f, o, x + r0 * k, 1.0f,
                          dtheta + h->off_w[L - 1]));
      hn_ops_sum_rows_acc(o, rw, chunk, dtheta + h->off_b[L - 1]);
    }
    if (need_dx)
      HN_TRY(hn_blas_gemm(who, false, false, rw, k, chunk, 1.0f, o, U, 0.0f, dx + r0 * k));
  }
  return need_dx ? backward_below_out(h, theta, dx, n_tasks, dtheta, de) : HN_OK;
}

hn_status hn_hnet_backward_from(hn_hnet *h, const float *theta, int top, const float *dz, int buf,
                                int64_t n_tasks, float *dtheta, float *de) {
  static const char who[] = "hn_hnet_backward";
  int64_t nc = h->n_chunks, rows = n_tasks * nc;
  bool chunked = h->off_cemb >= 0;
  bool need_dx0 = de != NULL || (chunked && dtheta != NULL);
  for (int l = top; l >= 0; l--) {
    const float *x = l == 0 ? h->x0 : h->a[l - 1];
    int64_t n_o = h->dim[l + 1], n_i = h->dim[l];
    if (dtheta) {
      HN_TRY(hn_blas_gemm(who, true, false, n_o, n_i, rows, 1.0f, dz, x, 1.0f,
                          dtheta + h->off_w[l]));
      hn_ops_sum_rows_acc(dz, rows, n_o, dtheta + h->off_b[l]);
    }
    if (l == 0 && !need_dx0) break;
    float *dx = h->g[buf];
    HN_TRY(hn_blas_gemm(who, false, false, rows, n_i, n_o, 1.0f, dz, theta + h->off_w[l], 0.0f,
                        dx));
    if (l > 0) /* dZ_{l-1} = act'(Z_{l-1}) ⊙ dA_{l-1}, in place */
      hn_ops_act_backward(h->cfg.act, h->cfg.act_alpha, h->z[l - 1], h->a[l - 1], dx, dx,
                          rows * n_i);
    dz = dx;
    buf ^= 1;
  }
  if (!need_dx0) return HN_OK;

  /* dz now holds dX_0 [rows, dim[0]]. */
  int64_t d0 = h->dim[0], n_emb = h->cfg.n_emb;
  if (de) /* task t: rows t*nc + i, i < nc */
    group_sums(dz, d0, 0, n_emb, n_tasks, nc, nc, 1, de);
  if (chunked && dtheta) /* chunk i: rows t*nc + i, t < n_tasks */
    group_sums(dz, d0, n_emb, h->cfg.n_chunk_emb, nc, 1, n_tasks, nc, dtheta + h->off_cemb);
  return HN_OK;
}

/* ---- Xavier initialisation ------------------------------------------------------------- */

hn_status hn_hnet_init_xavier(hn_hnet *h, float *theta, float emb_var, hn_rng *rng) {
  static const char who[] = "hn_hnet_init_xavier";
  if (!h || !theta || !rng)
    return hn_fail(HN_ERR_ARG, "%s: hypernetwork, theta or rng is NULL", who);
  if (!(emb_var > 0.0f) || !isfinite(emb_var))
    return hn_fail(HN_ERR_ARG, "%s: emb_var = %g; use the finite variance > 0 the chunk "
                               "embeddings are drawn with",
                   who, (double)emb_var);
  if (h->off_cemb >= 0)
    hn_rng_fill_normal(rng, theta + h->off_cemb, h->n_chunks * h->cfg.n_chunk_emb, 0.0f,
                       sqrtf(emb_var));
  for (int l = 0; l < h->n_layers; l++) {
    float a = (float)sqrt(6.0 / (double)(h->dim[l] + h->dim[l + 1]));
    hn_rng_fill_uniform(rng, theta + h->off_w[l], h->dim[l + 1] * h->dim[l], -a, a);
    memset(theta + h->off_b[l], 0, (size_t)h->dim[l + 1] * sizeof(float));
  }
  return HN_OK;
}

/* ---- hyperfan initialisation ------------------------------------------------------------ */

/* Variance-preserving weight variance gain for a hidden activation: He (2)
 * for the rectifiers, LeCun (1) for the others. */
static double act_gain(hn_act_kind k) {
  return (k == HN_ACT_RELU || k == HN_ACT_ELU) ? 2.0 : 1.0;
}

/* Chunks per batch of the E[h^2] estimate, and its scratch in floats. */
static int64_t eh2_chunks_per_batch(const hn_hnet *h, int64_t S) {
  return HN_MIN(HN_MAX(1, HYPERFAN_ROWS / S), h->n_chunks);
}

static int64_t eh2_scratch_floats(const hn_hnet *h, int64_t S) {
  int64_t maxh = 0;
  for (int l = 1; l < h->n_layers; l++) maxh = HN_MAX(maxh, h->dim[l]);
  return eh2_chunks_per_batch(h, S) * S * (h->dim[0] + 2 * maxh);
}

/* E_i[h^2] for every chunk i: the mean square of the last hidden activation
 * (or of the input row when there is no hidden layer) over S random task
 * embeddings E [S, n_emb] and over the units; and *l1, the L1 norm of that
 * activation averaged over all rows (i, s). Runs the hidden layers of θ on
 * rows (i, s) in batches of whole chunks. eh2 [n_chunks]. */
static hn_status estimate_eh2(const hn_hnet *h, const float *theta, const float *E, int64_t S,
                              float *scratch, double *eh2, double *l1, const char *who) {
  int64_t nc = h->n_chunks, d0 = h->dim[0], n_emb = h->cfg.n_emb;
  int64_t nce = h->off_cemb >= 0 ? h->cfg.n_chunk_emb : 0;
  int64_t per = eh2_chunks_per_batch(h, S);
  int64_t max_rows = per * S, maxh = 0;
  for (int l = 1; l < h->n_layers; l++) maxh = HN_MAX(maxh, h->dim[l]);
  float *x = scratch, *p = scratch + max_rows * d0, *q = p + max_rows * maxh;
  hn_status st = HN_OK;
  double sum_abs = 0.0;
  for (int64_t i0 = 0; i0 < nc && st == HN_OK; i0 += per) {
    int64_t ni = HN_MIN(per, nc - i0), rows = ni * S;
    for (int64_t ii = 0; ii < ni; ii++)
      for (int64_t s = 0; s < S; s++) {
        float *xr = x + (ii * S + s) * d0;
        memcpy(xr, E + s * n_emb, (size_t)n_emb * sizeof(float));
        if (nce)
          memcpy(xr + n_emb, theta + h->off_cemb + (i0 + ii) * nce, (size_t)nce * sizeof(float));
      }
    const float *in = x;
    float *outb = p;
    for (int l = 0; l < h->n_layers - 1 && st == HN_OK; l++) {
      st = layer_forward(h, theta, l, in, rows, outb);
      hn_ops_act_forward(h->cfg.act, h->cfg.act_alpha, outb, outb, rows * h->dim[l + 1]);
      in = outb;
      outb = outb == p ? q : p;
    }
    int64_t w = h->dim[h->n_layers - 1];
    for (int64_t ii = 0; ii < ni && st == HN_OK; ii++) {
      double s2 = 0.0;
      const float *hr = in + ii * S * w;
      for (int64_t k = 0; k < S * w; k++) {
        s2 += (double)hr[k] * (double)hr[k];
        sum_abs += fabs((double)hr[k]);
      }
      eh2[i0 + ii] = s2 / (double)(S * w);
      if (!(eh2[i0 + ii] > 0.0) || !isfinite(eh2[i0 + ii]))
        st = hn_fail(HN_ERR_NUMERIC, "%s: the last hidden layer's mean square activation is %g "
                                     "for chunk %lld; hyperfan cannot scale the output layer "
                                     "(check emb_var and the activation)",
                     who, eh2[i0 + ii], (long long)(i0 + ii));
    }
  }
  *l1 = sum_abs / (double)(nc * S);
  return st;
}

/* Whether scaling the first hidden layer's weights by s scales the last
 * hidden activation by about s: exactly for the positively homogeneous ReLU
 * and identity, near 0 (where the scaled activations end up) for ELU and
 * tanh; not for sigmoid, whose outputs stay near 1/2. */
static bool act_scales(hn_act_kind k) {
  return k == HN_ACT_RELU || k == HN_ACT_IDENTITY || k == HN_ACT_ELU || k == HN_ACT_TANH;
}

/* Draws, in this order from rng: the chunk embeddings, the hidden layers'
 * weights, HYPERFAN_SAMPLES task embeddings for the E[h^2] estimate, then the
 * output layer row by row; so a seed fixes θ (for a given thread count: the
 * estimate runs through GEMM). Set-up only: allocates its scratch, all of it
 * before writing θ. Bad arguments leave θ untouched; the one late failure,
 * HN_ERR_NUMERIC when a chunk's E[h^2] is 0 or not finite, leaves it partly
 * written. */
static hn_status hyperfan(hn_hnet *h, float *theta, const float *target_var, float emb_var,
                          double max_h_l1, hn_rng *rng, const char *who) {
  if (!h || !theta || !target_var || !rng)
    return hn_fail(HN_ERR_ARG, "%s: hypernetwork, theta, target_var or rng is NULL", who);
  if (!(emb_var > 0.0f) || !isfinite(emb_var))
    return hn_fail(HN_ERR_ARG, "%s: emb_var = %g; use the finite variance > 0 the task "
                               "embeddings are drawn with",
                   who, (double)emb_var);
  int64_t n_out = h->cfg.n_out;
  for (int64_t j = 0; j < n_out; j++)
    if (!(target_var[j] >= 0.0f) || !isfinite(target_var[j]))
      return hn_fail(HN_ERR_ARG, "%s: target_var[%lld] = %g; variances must be finite and >= 0",
                     who, (long long)j, (double)target_var[j]);
  int64_t nc = h->n_chunks, S = HYPERFAN_SAMPLES, n_emb = h->cfg.n_emb;
  int L = h->n_layers;
  /* All scratch first, so that running out of memory leaves theta untouched. */
  float *E = hn_alloc((size_t)(S * n_emb) * sizeof(float));
  double *eh2 = hn_alloc((size_t)nc * sizeof(double));
  float *scratch = hn_alloc((size_t)eh2_scratch_floats(h, S) * sizeof(float));
  if (!E || !eh2 || !scratch) {
    hn_free(E);
    hn_free(eh2);
    hn_free(scratch);
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate the scratch of the hyperfan estimate "
                                 "(%lld floats)",
                   who, (long long)(S * n_emb + eh2_scratch_floats(h, S)));
  }
  float emb_std = sqrtf(emb_var);
  /* Chunk embeddings, then hidden layers (variance-preserving, zero biases). */
  if (h->off_cemb >= 0)
    hn_rng_fill_normal(rng, theta + h->off_cemb, nc * h->cfg.n_chunk_emb, 0.0f, emb_std);
  for (int l = 0; l < L - 1; l++) {
    float std = (float)sqrt(act_gain(h->cfg.act) / (double)h->dim[l]);
    hn_rng_fill_normal(rng, theta + h->off_w[l], h->dim[l + 1] * h->dim[l], 0.0f, std);
    memset(theta + h->off_b[l], 0, (size_t)h->dim[l + 1] * sizeof(float));
  }
  /* E_i[h^2] from random task embeddings N(0, emb_var). Before it, with
   * max_h_l1 > 0, the hidden path is scaled down so that the last hidden
   * activation has a mean L1 norm of at most max_h_l1 (why: hnet.h, at
   * hn_hnet_init_capped). The output layer below compensates, so W's
   * variance is the same either way. */
  double l1 = 0.0;
  hn_status st = HN_OK;
  hn_rng_fill_normal(rng, E, S * n_emb, 0.0f, emb_std);
  /* Exact in one pass for ReLU and identity; ELU and tanh are closer to
   * linear at each pass's smaller scale: three passes bring them within a
   * few %. */
  hn_act_kind act = h->cfg.act;
  int passes = max_h_l1 <= 0.0 || L < 2 || !act_scales(act) ? 0
               : act == HN_ACT_RELU || act == HN_ACT_IDENTITY ? 1
                                                              : 3;
  for (int pass = 0; pass < passes && st == HN_OK; pass++) {
    st = estimate_eh2(h, theta, E, S, scratch, eh2, &l1, who);
    if (st == HN_OK && l1 > max_h_l1)
      hn_ops_scale(theta + h->off_w[0], (float)(max_h_l1 / l1), h->dim[1] * h->dim[0]);
  }
  if (st == HN_OK) st = estimate_eh2(h, theta, E, S, scratch, eh2, &l1, who);
  if (st == HN_OK) {
    /* Output layer: the generated coordinate j of chunk i is
     * W_{i,j} = Σ_k U_{jk} h_k([e, c_i]), so Var(W_{i,j}) = n_last Var(U_j)
     * E_i[h^2]. One row U_j serves every chunk i that reaches coordinate j
     * (the last chunk may be truncated), so it cannot match each chunk's
     * target; it matches their mean:
     *   mean_i Var(W_{i,j}) = mean_i target_var[i chunk + j]
     *   => Var(U_j) = Σ_i target_var[i chunk + j] / (n_last Σ_i E_i[h^2]).
     * For a full network (one chunk) this is target_var[j] / (n_last E[h^2]).
     * (Averaging target_var / E_i[h^2] over chunks instead would overshoot
     * by mean(E) mean(1/E): E_i[h^2] spreads over a factor of ~10 between
     * chunks, whose embeddings differ, and that factor is ~1.15.) */
    int64_t n_last = h->dim[L - 1], n_rows = h->dim[L];
    int64_t chunk = h->off_cemb >= 0 ? h->cfg.chunk : n_out;
    float *U = theta + h->off_w[L - 1];
    for (int64_t j = 0; j < n_rows; j++) {
      double sum_t = 0.0, sum_e = 0.0;
      for (int64_t i = 0; i < nc && i * chunk + j < n_out; i++) {
        sum_t += (double)target_var[i * chunk + j];
        sum_e += eh2[i];
      }
      double var_u = sum_e > 0.0 ? sum_t / sum_e / (double)n_last : 0.0;
      hn_rng_fill_normal(rng, U + j * n_last, n_last, 0.0f, (float)sqrt(var_u));
    }
    memset(theta + h->off_b[L - 1], 0, (size_t)n_rows * sizeof(float));
  }
  hn_free(E);
  hn_free(eh2);
  hn_free(scratch);
  return st;
}

hn_status hn_hnet_init(hn_hnet *h, float *theta, const float *target_var, float emb_var,
                       hn_rng *rng) {
  return hyperfan(h, theta, target_var, emb_var, 0.0, rng, "hn_hnet_init");
}

hn_status hn_hnet_init_capped(hn_hnet *h, float *theta, const float *target_var, float emb_var,
                              double max_h_l1, hn_rng *rng) {
  if (!(max_h_l1 > 0.0) || !isfinite(max_h_l1))
    return hn_fail(HN_ERR_ARG, "hn_hnet_init_capped: max_h_l1 = %g; use a finite bound > 0 "
                               "(hn_hnet_init for none)",
                   max_h_l1);
  return hyperfan(h, theta, target_var, emb_var, max_h_l1, rng, "hn_hnet_init_capped");
}
