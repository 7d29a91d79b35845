/*
 * embedding.c — lookup table for token inputs.
 *
 *   forward   x [n, T] token ids (floats holding integers 0..V-1)
 *             -> y [n, T, D], y[b, t] = table[x[b, t]]   (padded steps: 0)
 *   backward  dx = 0 (overwritten: ids are not differentiable)
 *             dtable[v] += Σ_{(b,t): x[b,t] = v, t < length_b} dy[b, t]
 *
 * Parameters: weight (the table) [V, D], generated like any other weight.
 * Every id of a valid step is checked (integer, in range) before anything is
 * written. Backward groups the positions by id with a counting sort in ws
 * (positions stay in (b, t) order within an id), then sums each row's
 * positions in that fixed order in double and adds the sum to dw once: the
 * bits do not depend on the thread count (rows are disjoint), and two
 * backward passes give exactly 2·dw.
 *
 * Scratch (ws, at batch n): the lengths [n] kept by forward, then backward's
 * start offsets [V + 1] and positions [n*T] (int64, two floats each).
 */
#include "internal.h"
#include "ops.h"

#include <math.h>
#include <string.h>

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_embedding *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (cfg->vocab < 1 || cfg->dim < 1 || cfg->vocab > HN_SEQ_MAX_T)
    return hn_fail(HN_ERR_ARG, "%s: vocab = %lld, dim = %lld; both must be >= 1 (vocab <= 2^24, "
                   "the integers a float holds exactly)", who, (long long)cfg->vocab,
                   (long long)cfg->dim);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (ndim != 2 || in[0] < 0 || in[1] < 1 || in[1] > HN_SEQ_MAX_T)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s, expected [%lld, T] ([n_batch, steps] of token "
                   "ids, 1 <= T <= 2^24)", who,
                   hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s,
                   (long long)(ndim >= 1 ? in[0] : 1));
  if (hn_shape_numel(3, (const int64_t[]){in[0], in[1], cfg->dim}) < 0)
    return hn_fail(HN_ERR_SHAPE, "%s: y for x %s would not fit in int64", who,
                   hn_shape_fmt(ndim, in).s);
  *out_ndim = 3;
  out[0] = in[0];
  out[1] = in[1];
  out[2] = cfg->dim;
  return HN_OK;
}

static int64_t emb_n_params(const void *cfg_) {
  const hn_embedding *cfg = cfg_;
  return cfg->vocab * cfg->dim;
}

static hn_status emb_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                               int64_t *out) {
  return shape_of(cfg, "embedding", ndim, in, out_ndim, out);
}

/* L [n] floats, then start [V+1] and pos [n*T] as int64 on an 8-byte boundary. */
static int64_t emb_ws_size(const void *cfg_, int ndim, const int64_t *in) {
  const hn_embedding *cfg = cfg_;
  if (ndim != 2 || !in || in[0] < 0 || in[1] < 1) return 0;
  int64_t n_l = (in[0] + 1) / 2 * 2;
  return n_l + 2 * (cfg->vocab + 1 + in[0] * in[1]);
}

static void emb_init_var(const void *cfg, float *mean, float *var) {
  hn_module_weight_bias_var(emb_n_params(cfg), emb_n_params(cfg), 1.0f, 1.0f, mean, var);
}

static hn_status emb_forward(const void *cfg_, const float *w, const hn_tensor *x, hn_tensor *y,
                             float *ws, const hn_run *run) {
  const hn_embedding *cfg = cfg_;
  const char *who = "embedding forward";
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL (%lld parameters expected)", who,
                         (long long)emb_n_params(cfg));
  int64_t n = x->shape[0], T = x->shape[1], V = cfg->vocab, D = cfg->dim;
  const int64_t *lengths = run ? run->lengths : NULL;
  HN_TRY(hn_module_check_lengths(who, lengths, n, T));
  if (n == 0) return HN_OK;
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (ws_size floats expected)", who);
  for (int64_t b = 0; b < n; b++) {
    int64_t len = lengths ? lengths[b] : T;
    for (int64_t t = 0; t < len; t++) {
      float id = x->data[b * T + t];
      if (!(id >= 0.0f && id < (float)V && id == floorf(id)))
        return hn_fail(HN_ERR_ARG, "%s: x[%lld, %lld] = %g (sample %lld, step %lld, counted "
                       "from 0) is not a token id (an integer in 0..%lld, the vocabulary size "
                       "minus 1)", who, (long long)b, (long long)t, (double)id, (long long)b,
                       (long long)t, (long long)(V - 1));
    }
  }
  hn_module_store_lengths(ws, lengths, n, T);
  const float *L = ws;
#pragma omp parallel for schedule(static) if (n * T * D > HN_OMP_MIN_WORK)
  for (int64_t p = 0; p < n * T; p++) {
    float *yp = y->data + p * D;
    if ((float)(p % T) < L[p / T])
      memcpy(yp, w + (int64_t)x->data[p] * D, (size_t)D * sizeof(float));
    else
      memset(yp, 0, (size_t)D * sizeof(float));
  }
  return HN_OK;
}

static hn_status emb_backward(const void *cfg_, const float *w, const hn_tensor *x,
                              const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                              float *dw, const hn_run *run) {
  const hn_embedding *cfg = cfg_;
  const char *who = "embedding backward";
  (void)w;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  int64_t n = x->shape[0], T = x->shape[1], V = cfg->vocab, D = cfg->dim, np = n * T;
  if (n == 0) return HN_OK;
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (the forward's scratch expected)", who);
  const float *L = ws;
  HN_TRY(hn_module_same_lengths(who, L, run ? run->lengths : NULL, n));
  if (dx) hn_ops_fill(dx->data, 0.0f, dx->numel);
  if (!dw) return HN_OK;
  int64_t *start = (int64_t *)(ws + (n + 1) / 2 * 2), *pos = start + V + 1;
  /* counting sort of the valid positions by id (forward checked the ids) */
  memset(start, 0, (size_t)(V + 1) * sizeof *start);
  for (int64_t p = 0; p < np; p++)
    if ((float)(p % T) < L[p / T]) start[(int64_t)x->data[p] + 1]++;
  for (int64_t v = 0; v < V; v++) start[v + 1] += start[v];
  for (int64_t p = 0; p < np; p++)
    if ((float)(p % T) < L[p / T]) pos[start[(int64_t)x->data[p]]++] = p;
  /* start[v] is now the end of id v's positions (and the start of v + 1's) */
#pragma omp parallel for schedule(static) if (np * D > HN_OMP_MIN_WORK)
  for (int64_t v = 0; v < V; v++) {
    int64_t p0 = v > 0 ? start[v - 1] : 0, p1 = start[v];
    if (p0 == p1) continue;
    float *row = dw + v * D;
    for (int64_t d = 0; d < D; d++) {
      double s = 0.0;
      for (int64_t k = p0; k < p1; k++) s += (double)dy->data[pos[k] * D + d];
      row[d] += (float)s;
    }
  }
  return HN_OK;
}

static int emb_slices(const void *cfg_, const char **names, int *ndims, int64_t (*shapes)[4]) {
  const hn_embedding *cfg = cfg_;
  return hn_module_weight_bias_slices(2, (const int64_t[]){cfg->vocab, cfg->dim}, false, 0, names,
                                      ndims, shapes);
}

const hn_module_vt hn_embedding_vt = {
    .name = "embedding",
    .n_params = emb_n_params,
    .n_stats = hn_module_zero,
    .out_shape = emb_out_shape,
    .ws_size = emb_ws_size,
    .init_var = emb_init_var,
    .init_stats = NULL,
    .forward = emb_forward,
    .backward = emb_backward,
    .param_slices = emb_slices,
};
