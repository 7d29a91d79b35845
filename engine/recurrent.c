/*
 * recurrent.c — Elman RNN (tanh), LSTM and GRU layers, forward and
 * backward through time (module.h has the equations, the layout and the
 * init).
 *
 * Shapes: x [n, T, F] -> y [n, T, H] (all steps) or [n, H] (last valid
 * step); G = H (rnn), 4H (lstm, gates i f g o) or 3H (gru, gates r z n).
 * Parameters in w: weight_ih [G, F], weight_hh [G, H], bias [G], and for
 * the GRU bias_hn [H].
 *
 *   forward   Z [n*T, G] = x [n*T, F] · W_ih^T + b           one GEMM
 *             for t:  Z[:, t] += h_{t-1} · W_hh^T             strided GEMM, ld T*G
 *                     cell(Z[:, t]) -> h_t (and c_t)          elementwise
 *   backward  for t = T-1 .. 0:
 *                     dZ[:, t] = cell'(dh_t (+ dc_t))         elementwise
 *                     dh_{t-1} = dZ[:, t] · W_hh              strided GEMM
 *             dW_ih += dZ^T · x,  dW_hh += dZ^T · Hprev,  db += Σ dZ,
 *             dx = dZ · W_ih                                  one GEMM each
 *
 * Hprev [n*T, H] (h_{t-1} for every row, h_0 first) is copied from the kept
 * states once per backward, so that dW_hh is one GEMM over all n*T rows
 * rather than T small ones. Padded steps (t >= length) are set to 0 in every
 * buffer; their dZ rows are 0, so they add exactly 0 to every GEMM. Steps at
 * or beyond the longest length skip their GEMMs.
 *
 * Scratch (ws, floats, at batch n): forward keeps Z [n*T*G] (rnn: the states
 * h_t themselves; lstm, gru: the activated gates), for the GRU also Zh
 * [n*T*G] (below), for the LSTM C [n*T*H] (cells), for both Hs [n*T*H]
 * (states), then h0 (and c0) [n*H] and the lengths [n]; backward uses dZ
 * (and for the GRU dZh) [n*T*G], Hprev [n*T*H] and the carried dh (and dc)
 * [n*H].
 * A second backward after one forward gives the same result. dw is
 * accumulated by BLAS (beta = 1) as in linear.c.
 *
 * The GRU's candidate n = tanh(x_n + r (W_hn h + b_hn)) scales the hidden
 * product by r, so its hidden products of step t go to a separate Zh
 * [n*T*G] (beta = 0, b_hn added by the cell) and backward keeps their
 * gradients dZh apart from dZ: dW_hh and dh_{t-1} use dZh, dW_ih, db and dx
 * use dZ. Its dh_{t-1} also has a direct term z dh_t, which the cell writes
 * before the step's GEMM adds (beta = 1) the rest.
 */
#include "blas.h"
#include "internal.h"
#include "ops.h"

#include <math.h>
#include <string.h>

/* Elementwise work per element for the OpenMP threshold: the vectorised
 * tanh and sigmoid (hn_ops_tanh, hn_ops_sigmoid) cost some 20 flops each,
 * so a step is worth forking from ~2k elements. */
#define CELL_COST 16

typedef enum rec_kind { REC_RNN, REC_LSTM, REC_GRU } rec_kind;
static const char *const fwd_who[] = {"rnn forward", "lstm forward", "gru forward"};
static const char *const bwd_who[] = {"rnn backward", "lstm backward", "gru backward"};

static int64_t n_gates(rec_kind kind) { return kind == REC_LSTM ? 4 : kind == REC_GRU ? 3 : 1; }

typedef struct rec_buf {
  float *Z, *Zh, *C, *Hs, *H0, *C0, *L; /* kept by forward        */
  float *dZ, *dZh, *Hp, *dh, *dc;       /* backward scratch       */
  int64_t total;                        /* floats                 */
} rec_buf;

static rec_buf rec_layout(const hn_recurrent *cfg, rec_kind kind, int64_t n, int64_t T,
                          float *ws) {
  bool lstm = kind == REC_LSTM, gru = kind == REC_GRU;
  int64_t H = cfg->hidden, G = n_gates(kind) * H, nt = n * T, off = 0;
  rec_buf b;
  memset(&b, 0, sizeof b);
#define TAKE(field, count)                  \
  do {                                      \
    b.field = ws ? ws + off : NULL;         \
    off += (count);                         \
  } while (0)
  TAKE(Z, nt * G);
  if (gru) TAKE(Zh, nt * G);
  if (lstm) TAKE(C, nt * H);
  if (kind != REC_RNN) TAKE(Hs, nt * H);
  TAKE(H0, n * H);
  if (lstm) TAKE(C0, n * H);
  TAKE(L, n);
  TAKE(dZ, nt * G);
  if (gru) TAKE(dZh, nt * G);
  TAKE(Hp, nt * H);
  TAKE(dh, n * H);
  if (lstm) TAKE(dc, n * H);
#undef TAKE
  if (kind == REC_RNN) b.Hs = b.Z;
  b.total = off;
  return b;
}

static hn_status shape_of(const void *cfg_, const char *who, int ndim, const int64_t *in,
                          int *out_ndim, int64_t *out) {
  const hn_recurrent *cfg = cfg_;
  if (!cfg) return hn_fail(HN_ERR_ARG, "%s: NULL config", who);
  if (cfg->n_in < 1 || cfg->hidden < 1 || cfg->n_in > INT32_MAX || cfg->hidden > INT32_MAX / 4)
    return hn_fail(HN_ERR_ARG, "%s: n_in = %lld, hidden = %lld; both must be >= 1 (and fit the "
                   "BLAS int range)", who, (long long)cfg->n_in, (long long)cfg->hidden);
  if (!in) return hn_fail(HN_ERR_ARG, "%s: NULL input shape", who);
  if (ndim != 3 || in[0] < 0 || in[1] < 1 || in[1] > HN_SEQ_MAX_T || in[2] != cfg->n_in)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s, expected [%lld, T, %lld] ([n_batch, steps, "
                   "features], batch-first, 1 <= T <= 2^24)",
                   who, hn_shape_fmt(ndim < 0 ? 0 : HN_MIN(ndim, HN_MAX_DIMS), in).s,
                   (long long)(ndim >= 1 ? in[0] : 1), (long long)cfg->n_in);
  if (hn_shape_numel(3, (const int64_t[]){in[0], in[1], 4 * cfg->hidden}) < 0)
    return hn_fail(HN_ERR_SHAPE, "%s: x is %s; the gates would not fit in int64", who,
                   hn_shape_fmt(ndim, in).s);
  out[0] = in[0];
  if (cfg->last) {
    *out_ndim = 2;
    out[1] = cfg->hidden;
  } else {
    *out_ndim = 3;
    out[1] = in[1];
    out[2] = cfg->hidden;
  }
  return HN_OK;
}

static int64_t rec_n_params(const hn_recurrent *cfg, rec_kind kind) {
  int64_t G = n_gates(kind) * cfg->hidden;
  return G * cfg->n_in + G * cfg->hidden + G + (kind == REC_GRU ? cfg->hidden : 0);
}

/* Weights, then the bias (and b_hn) with the bias variance. */
static void rec_init_var(const hn_recurrent *cfg, rec_kind kind, float *mean, float *var) {
  int64_t G = n_gates(kind) * cfg->hidden, fan_in = cfg->n_in + cfg->hidden;
  float vw = 1.0f / (float)(cfg->fan_out ? G : fan_in);
  float vb = 1.0f / (3.0f * (float)fan_in);
  hn_module_weight_bias_var(G * fan_in, rec_n_params(cfg, kind), vw, vb, mean, var);
}

static int rec_param_slices(const hn_recurrent *cfg, rec_kind kind, const char **names,
                            int *ndims, int64_t (*shapes)[4]) {
  int64_t G = n_gates(kind) * cfg->hidden;
  names[0] = "weight_ih";
  names[1] = "weight_hh";
  names[2] = "bias";
  ndims[0] = ndims[1] = 2;
  ndims[2] = 1;
  shapes[0][0] = shapes[1][0] = shapes[2][0] = G;
  shapes[0][1] = cfg->n_in;
  shapes[1][1] = cfg->hidden;
  if (kind != REC_GRU) return 3;
  names[3] = "bias_hn";
  ndims[3] = 1;
  shapes[3][0] = cfg->hidden;
  return 4;
}

/* ---- cells, one step t over the batch --------------------------------------------- */

/* Each cell runs its nonlinearities as whole-row passes of hn_ops_tanh and
 * hn_ops_sigmoid (vectorised; the gates of one kind lie contiguous in a
 * row), the rest in plain loops. */

/* rnn: Z[b, t] holds the pre-activation; it becomes h_t (0 when padded). */
static void rnn_step(const rec_buf *bf, int64_t n, int64_t T, int64_t H, int64_t t) {
#pragma omp parallel for schedule(static) if (n * H * CELL_COST > HN_OMP_MIN_WORK)
  for (int64_t b = 0; b < n; b++) {
    float *z = bf->Z + (b * T + t) * H;
    if ((float)t < bf->L[b])
      hn_ops_tanh(z, z, H);
    else
      for (int64_t j = 0; j < H; j++) z[j] = 0.0f;
  }
}

/* lstm: Z[b, t] = pre-activations [i f g o] -> activated gates; C, Hs. */
static void lstm_step(const rec_buf *bf, int64_t n, int64_t T, int64_t H, int64_t t) {
#pragma omp parallel for schedule(static) if (n * H * 4 * CELL_COST > HN_OMP_MIN_WORK)
  for (int64_t b = 0; b < n; b++) {
    float *z = bf->Z + (b * T + t) * 4 * H, *c = bf->C + (b * T + t) * H,
          *h = bf->Hs + (b * T + t) * H;
    if ((float)t < bf->L[b]) {
      const float *cp = t > 0 ? c - H : bf->C0 + b * H;
      hn_ops_sigmoid(z, z, 2 * H); /* i, f */
      hn_ops_tanh(z + 2 * H, z + 2 * H, H);
      hn_ops_sigmoid(z + 3 * H, z + 3 * H, H);
      for (int64_t j = 0; j < H; j++) c[j] = z[H + j] * cp[j] + z[j] * z[2 * H + j];
      hn_ops_tanh(h, c, H);
      for (int64_t j = 0; j < H; j++) h[j] *= z[3 * H + j];
    } else {
      memset(z, 0, (size_t)(4 * H) * sizeof *z);
      memset(c, 0, (size_t)H * sizeof *c);
      memset(h, 0, (size_t)H * sizeof *h);
    }
  }
}

/* gru: Z[b, t] = x-part + bias [r z n], Zh[b, t] = W_hh h_{t-1} [r z n]
 * -> Z holds the activated r, z, n, Zh's n part gets b_hn added; Hs. */
static void gru_step(const rec_buf *bf, const float *bhn, int64_t n, int64_t T, int64_t H,
                     int64_t t) {
#pragma omp parallel for schedule(static) if (n * H * 3 * CELL_COST > HN_OMP_MIN_WORK)
  for (int64_t b = 0; b < n; b++) {
    float *z = bf->Z + (b * T + t) * 3 * H, *zh = bf->Zh + (b * T + t) * 3 * H,
          *h = bf->Hs + (b * T + t) * H;
    if ((float)t < bf->L[b]) {
      const float *hp = t > 0 ? h - H : bf->H0 + b * H;
      for (int64_t j = 0; j < 2 * H; j++) z[j] += zh[j];
      hn_ops_sigmoid(z, z, 2 * H); /* r, z */
      for (int64_t j = 0; j < H; j++) {
        float hn = zh[2 * H + j] + bhn[j];
        zh[2 * H + j] = hn;
        z[2 * H + j] += z[j] * hn;
      }
      hn_ops_tanh(z + 2 * H, z + 2 * H, H);
      for (int64_t j = 0; j < H; j++) {
        float u = z[H + j];
        h[j] = (1.0f - u) * z[2 * H + j] + u * hp[j];
      }
    } else {
      memset(z, 0, (size_t)(3 * H) * sizeof *z);
      memset(zh, 0, (size_t)(3 * H) * sizeof *zh);
      memset(h, 0, (size_t)H * sizeof *h);
    }
  }
}

/* The dy that reaches step t of sample b (NULL: none). */
static const float *dy_at(const hn_recurrent *cfg, const float *dy, const float *L, int64_t b,
                          int64_t T, int64_t t) {
  if ((float)t >= L[b]) return NULL;
  if (!cfg->last) return dy + (b * T + t) * cfg->hidden;
  return (float)(t + 1) == L[b] ? dy + b * cfg->hidden : NULL;
}

/* rnn backward of step t: dZ[b, t] = (dh + dy_t) (1 - h_t^2); 0 when padded. */
static void rnn_step_back(const hn_recurrent *cfg, const rec_buf *bf, const float *dy, int64_t n,
                          int64_t T, int64_t t) {
  int64_t H = cfg->hidden;
#pragma omp parallel for schedule(static) if (n * H * 4 > HN_OMP_MIN_WORK)
  for (int64_t b = 0; b < n; b++) {
    float *dz = bf->dZ + (b * T + t) * H;
    if ((float)t >= bf->L[b]) {
      memset(dz, 0, (size_t)H * sizeof *dz);
      continue;
    }
    const float *h = bf->Z + (b * T + t) * H, *d = bf->dh + b * H,
                *g = dy_at(cfg, dy, bf->L, b, T, t);
    for (int64_t j = 0; j < H; j++) {
      float gh = g ? d[j] + g[j] : d[j];
      dz[j] = gh * (1.0f - h[j] * h[j]);
    }
  }
}

/* lstm backward of step t: gate gradients dZ[b, t] and the carried dc. */
static void lstm_step_back(const hn_recurrent *cfg, const rec_buf *bf, const float *dy,
                           int64_t n, int64_t T, int64_t t) {
  int64_t H = cfg->hidden;
#pragma omp parallel for schedule(static) if (n * H * CELL_COST > HN_OMP_MIN_WORK)
  for (int64_t b = 0; b < n; b++) {
    float *dz = bf->dZ + (b * T + t) * 4 * H, *e = bf->dc + b * H;
    if ((float)t >= bf->L[b]) {
      memset(dz, 0, (size_t)(4 * H) * sizeof *dz);
      memset(e, 0, (size_t)H * sizeof *e);
      continue;
    }
    const float *z = bf->Z + (b * T + t) * 4 * H, *c = bf->C + (b * T + t) * H;
    const float *cp = t > 0 ? c - H : bf->C0 + b * H, *d = bf->dh + b * H,
                *g = dy_at(cfg, dy, bf->L, b, T, t);
    hn_ops_tanh(dz + 3 * H, c, H); /* tanh c_t, read below before dz[3H + j] is set */
    for (int64_t j = 0; j < H; j++) {
      float i = z[j], f = z[H + j], gg = z[2 * H + j], o = z[3 * H + j];
      float tc = dz[3 * H + j];
      float gh = g ? d[j] + g[j] : d[j];
      float gc = e[j] + gh * o * (1.0f - tc * tc);
      dz[j] = gc * gg * i * (1.0f - i);
      dz[H + j] = gc * cp[j] * f * (1.0f - f);
      dz[2 * H + j] = gc * i * (1.0f - gg * gg);
      dz[3 * H + j] = gh * tc * o * (1.0f - o);
      e[j] = gc * f;
    }
  }
}

/* gru backward of step t: dZ[b, t] (for W_ih, b, dx), dZh[b, t] (for W_hh,
 * b_hn) and the direct part z dh of the carried dh. */
static void gru_step_back(const hn_recurrent *cfg, const rec_buf *bf, const float *dy, int64_t n,
                          int64_t T, int64_t t) {
  int64_t H = cfg->hidden;
#pragma omp parallel for schedule(static) if (n * H * 8 > HN_OMP_MIN_WORK)
  for (int64_t b = 0; b < n; b++) {
    float *dz = bf->dZ + (b * T + t) * 3 * H, *dzh = bf->dZh + (b * T + t) * 3 * H,
          *d = bf->dh + b * H;
    if ((float)t >= bf->L[b]) {
      memset(dz, 0, (size_t)(3 * H) * sizeof *dz);
      memset(dzh, 0, (size_t)(3 * H) * sizeof *dzh);
      memset(d, 0, (size_t)H * sizeof *d);
      continue;
    }
    const float *z = bf->Z + (b * T + t) * 3 * H, *zh = bf->Zh + (b * T + t) * 3 * H,
                *h = bf->Hs + (b * T + t) * H;
    const float *hp = t > 0 ? h - H : bf->H0 + b * H, *g = dy_at(cfg, dy, bf->L, b, T, t);
    for (int64_t j = 0; j < H; j++) {
      float r = z[j], u = z[H + j], c = z[2 * H + j];
      float gh = g ? d[j] + g[j] : d[j];
      float dc = gh * (1.0f - u) * (1.0f - c * c); /* through tanh */
      float dr = dc * zh[2 * H + j] * r * (1.0f - r);
      float du = gh * (hp[j] - c) * u * (1.0f - u);
      dz[j] = dzh[j] = dr;
      dz[H + j] = dzh[H + j] = du;
      dz[2 * H + j] = dc;
      dzh[2 * H + j] = dc * r;
      d[j] = gh * u;
    }
  }
}

/* acc[j] += Σ_rows x[row * ld + j], j < cols (summed in double, then added). */
static void sum_cols_acc(const float *x, int64_t rows, int64_t cols, int64_t ld, float *acc) {
#pragma omp parallel for schedule(static) if (rows * cols > HN_OMP_MIN_WORK)
  for (int64_t j = 0; j < cols; j++) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) s += (double)x[r * ld + j];
    acc[j] += (float)s;
  }
}

/* ---- forward / backward ---------------------------------------------------------------- */

static hn_status rec_forward(const hn_recurrent *cfg, rec_kind kind, const float *w,
                             const hn_tensor *x, const float *h0, const float *c0, hn_tensor *y,
                             float *ws, const hn_run *run) {
  const char *who = fwd_who[kind];
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_forward(shape_of, cfg, who, x, y, &ond, out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL (%lld parameters expected)", who,
                         (long long)rec_n_params(cfg, kind));
  int64_t n = x->shape[0], T = x->shape[1], F = cfg->n_in, H = cfg->hidden;
  int64_t G = n_gates(kind) * H;
  const int64_t *lengths = run ? run->lengths : NULL;
  HN_TRY(hn_module_check_lengths(who, lengths, n, T));
  if (n == 0) return HN_OK;
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (ws_size floats expected)", who);
  rec_buf bf = rec_layout(cfg, kind, n, T, ws);
  const float *Wih = w, *Whh = w + G * F, *bias = w + G * (F + H), *bhn = bias + G;
  int64_t longest = hn_module_store_lengths(bf.L, lengths, n, T);
  if (h0) hn_ops_copy(bf.H0, h0, n * H);
  else hn_ops_fill(bf.H0, 0.0f, n * H);
  if (kind == REC_LSTM) {
    if (c0) hn_ops_copy(bf.C0, c0, n * H);
    else hn_ops_fill(bf.C0, 0.0f, n * H);
  }
  HN_TRY(hn_blas_gemm(who, false, true, n * T, G, F, 1.0f, x->data, Wih, 0.0f, bf.Z));
  hn_ops_add_row_bias(bf.Z, bias, n * T, G);
  bool gru = kind == REC_GRU; /* its hidden products go apart (beta 0), the others add into Z */
  for (int64_t t = 0; t < T; t++) {
    if (t < longest && (t > 0 || h0 || gru))
      HN_TRY(hn_blas_gemm_ld(who, false, true, n, G, H, 1.0f, t > 0 ? bf.Hs + (t - 1) * H : bf.H0,
                             t > 0 ? T * H : H, Whh, H, gru ? 0.0f : 1.0f,
                             (gru ? bf.Zh : bf.Z) + t * G, T * G));
    if (kind == REC_LSTM) lstm_step(&bf, n, T, H, t);
    else if (gru) gru_step(&bf, bhn, n, T, H, t);
    else rnn_step(&bf, n, T, H, t);
  }
  if (!cfg->last) {
    hn_ops_copy(y->data, bf.Hs, n * T * H);
  } else {
    for (int64_t b = 0; b < n; b++)
      memcpy(y->data + b * H, bf.Hs + (b * T + (int64_t)bf.L[b] - 1) * H, (size_t)H * sizeof(float));
  }
  return HN_OK;
}

static hn_status rec_backward(const hn_recurrent *cfg, rec_kind kind, const float *w,
                              const hn_tensor *x, const hn_tensor *y, float *ws,
                              const hn_tensor *dy, hn_tensor *dx, float *dw, float *dh0,
                              float *dc0, const hn_run *run) {
  const char *who = bwd_who[kind];
  bool lstm = kind == REC_LSTM, gru = kind == REC_GRU;
  int ond;
  int64_t out[4];
  HN_TRY(hn_module_check_backward(shape_of, cfg, who, HN_MODULE_NEED_X_DATA, x, y, dy, dx, &ond,
                                  out));
  if (!w) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  int64_t n = x->shape[0], T = x->shape[1], F = cfg->n_in, H = cfg->hidden;
  int64_t G = n_gates(kind) * H, nt = n * T;
  if (n == 0) return HN_OK;
  if (!ws) return hn_fail(HN_ERR_ARG, "%s: ws is NULL (the forward's scratch expected)", who);
  rec_buf bf = rec_layout(cfg, kind, n, T, ws);
  HN_TRY(hn_module_same_lengths(who, bf.L, run ? run->lengths : NULL, n));
  if (!dx && !dw && !dh0 && !dc0) return HN_OK;
  const float *Wih = w, *Whh = w + G * F;
  int64_t longest = 0;
  for (int64_t b = 0; b < n; b++) longest = HN_MAX(longest, (int64_t)bf.L[b]);
  hn_ops_fill(bf.dh, 0.0f, n * H);
  if (lstm) hn_ops_fill(bf.dc, 0.0f, n * H);
  const float *dZh = gru ? bf.dZh : bf.dZ; /* the gradients of the hidden products */
  for (int64_t t = T - 1; t >= 0; t--) {
    if (lstm) lstm_step_back(cfg, &bf, dy->data, n, T, t);
    else if (gru) gru_step_back(cfg, &bf, dy->data, n, T, t);
    else rnn_step_back(cfg, &bf, dy->data, n, T, t);
    if (t < longest && (t > 0 || dh0))
      HN_TRY(hn_blas_gemm_ld(who, false, false, n, H, G, 1.0f, dZh + t * G, T * G, Whh, H,
                             gru ? 1.0f : 0.0f, bf.dh, H));
  }
  if (dh0) hn_ops_copy(dh0, bf.dh, n * H);
  if (dc0) hn_ops_copy(dc0, bf.dc, n * H);
  if (dw) {
    for (int64_t b = 0; b < n; b++) {
      float *hp = bf.Hp + b * T * H;
      memcpy(hp, bf.H0 + b * H, (size_t)H * sizeof(float));
      if (T > 1) memcpy(hp + H, bf.Hs + b * T * H, (size_t)((T - 1) * H) * sizeof(float));
    }
    HN_TRY(hn_blas_gemm(who, true, false, G, F, nt, 1.0f, bf.dZ, x->data, 1.0f, dw));
    HN_TRY(hn_blas_gemm(who, true, false, G, H, nt, 1.0f, dZh, bf.Hp, 1.0f, dw + G * F));
    hn_ops_sum_rows_acc(bf.dZ, nt, G, dw + G * (F + H));
    if (gru) sum_cols_acc(bf.dZh + 2 * H, nt, H, G, dw + G * (F + H + 1));
  }
  if (dx) HN_TRY(hn_blas_gemm(who, false, false, nt, F, G, 1.0f, bf.dZ, Wih, 0.0f, dx->data));
  return HN_OK;
}

/* ---- public entry points and vtables ------------------------------------------------------ */

hn_status hn_rnn_forward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                               const float *h0, hn_tensor *y, float *ws, const hn_run *run) {
  return rec_forward(cfg, REC_RNN, w, x, h0, NULL, y, ws, run);
}

hn_status hn_lstm_forward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                const float *h0, const float *c0, hn_tensor *y, float *ws,
                                const hn_run *run) {
  return rec_forward(cfg, REC_LSTM, w, x, h0, c0, y, ws, run);
}

hn_status hn_rnn_backward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                                float *dh0, const hn_run *run) {
  return rec_backward(cfg, REC_RNN, w, x, NULL, ws, dy, dx, dw, dh0, NULL, run);
}

hn_status hn_lstm_backward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                 float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                                 float *dh0, float *dc0, const hn_run *run) {
  return rec_backward(cfg, REC_LSTM, w, x, NULL, ws, dy, dx, dw, dh0, dc0, run);
}

hn_status hn_gru_forward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                               const float *h0, hn_tensor *y, float *ws, const hn_run *run) {
  return rec_forward(cfg, REC_GRU, w, x, h0, NULL, y, ws, run);
}

hn_status hn_gru_backward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                                float *dh0, const hn_run *run) {
  return rec_backward(cfg, REC_GRU, w, x, NULL, ws, dy, dx, dw, dh0, NULL, run);
}

static int64_t ws_of(const void *cfg, rec_kind kind, int ndim, const int64_t *in) {
  if (ndim != 3 || !in || in[0] < 0 || in[1] < 1) return 0;
  return rec_layout(cfg, kind, in[0], in[1], NULL).total;
}

/* ---- vtables: the module contract has no kind argument, so each kind has
 * its own thin entries ---------------------------------------------------------------- */

static int64_t rnn_n_params(const void *cfg) { return rec_n_params(cfg, REC_RNN); }
static hn_status rnn_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                             int64_t *out) {
  return shape_of(cfg, "rnn", ndim, in, out_ndim, out);
}
static int64_t rnn_ws_size(const void *cfg, int ndim, const int64_t *in) {
  return ws_of(cfg, REC_RNN, ndim, in);
}
static void rnn_init_var(const void *cfg, float *mean, float *var) {
  rec_init_var(cfg, REC_RNN, mean, var);
}
static hn_status rnn_forward(const void *cfg, const float *w, const hn_tensor *x, hn_tensor *y,
                           float *ws, const hn_run *run) {
  return rec_forward(cfg, REC_RNN, w, x, NULL, NULL, y, ws, run);
}
static hn_status rnn_backward(const void *cfg, const float *w, const hn_tensor *x,
                            const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                            float *dw, const hn_run *run) {
  return rec_backward(cfg, REC_RNN, w, x, y, ws, dy, dx, dw, NULL, NULL, run);
}
static int rnn_slices(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]) {
  return rec_param_slices(cfg, REC_RNN, names, ndims, shapes);
}

const hn_module_vt hn_rnn_vt = {
    .name = "rnn",
    .n_params = rnn_n_params,
    .n_stats = hn_module_zero,
    .out_shape = rnn_out_shape,
    .ws_size = rnn_ws_size,
    .init_var = rnn_init_var,
    .init_stats = NULL,
    .forward = rnn_forward,
    .backward = rnn_backward,
    .param_slices = rnn_slices,
};

static int64_t lstm_n_params(const void *cfg) { return rec_n_params(cfg, REC_LSTM); }
static hn_status lstm_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                              int64_t *out) {
  return shape_of(cfg, "lstm", ndim, in, out_ndim, out);
}
static int64_t lstm_ws_size(const void *cfg, int ndim, const int64_t *in) {
  return ws_of(cfg, REC_LSTM, ndim, in);
}
static void lstm_init_var(const void *cfg, float *mean, float *var) {
  rec_init_var(cfg, REC_LSTM, mean, var);
}
static hn_status lstm_forward(const void *cfg, const float *w, const hn_tensor *x, hn_tensor *y,
                            float *ws, const hn_run *run) {
  return rec_forward(cfg, REC_LSTM, w, x, NULL, NULL, y, ws, run);
}
static hn_status lstm_backward(const void *cfg, const float *w, const hn_tensor *x,
                             const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                             float *dw, const hn_run *run) {
  return rec_backward(cfg, REC_LSTM, w, x, y, ws, dy, dx, dw, NULL, NULL, run);
}
static int lstm_slices(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]) {
  return rec_param_slices(cfg, REC_LSTM, names, ndims, shapes);
}

const hn_module_vt hn_lstm_vt = {
    .name = "lstm",
    .n_params = lstm_n_params,
    .n_stats = hn_module_zero,
    .out_shape = lstm_out_shape,
    .ws_size = lstm_ws_size,
    .init_var = lstm_init_var,
    .init_stats = NULL,
    .forward = lstm_forward,
    .backward = lstm_backward,
    .param_slices = lstm_slices,
};

static int64_t gru_n_params(const void *cfg) { return rec_n_params(cfg, REC_GRU); }
static hn_status gru_out_shape(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                             int64_t *out) {
  return shape_of(cfg, "gru", ndim, in, out_ndim, out);
}
static int64_t gru_ws_size(const void *cfg, int ndim, const int64_t *in) {
  return ws_of(cfg, REC_GRU, ndim, in);
}
static void gru_init_var(const void *cfg, float *mean, float *var) {
  rec_init_var(cfg, REC_GRU, mean, var);
}
static hn_status gru_forward(const void *cfg, const float *w, const hn_tensor *x, hn_tensor *y,
                           float *ws, const hn_run *run) {
  return rec_forward(cfg, REC_GRU, w, x, NULL, NULL, y, ws, run);
}
static hn_status gru_backward(const void *cfg, const float *w, const hn_tensor *x,
                            const hn_tensor *y, float *ws, const hn_tensor *dy, hn_tensor *dx,
                            float *dw, const hn_run *run) {
  return rec_backward(cfg, REC_GRU, w, x, y, ws, dy, dx, dw, NULL, NULL, run);
}
static int gru_slices(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]) {
  return rec_param_slices(cfg, REC_GRU, names, ndims, shapes);
}

const hn_module_vt hn_gru_vt = {
    .name = "gru",
    .n_params = gru_n_params,
    .n_stats = hn_module_zero,
    .out_shape = gru_out_shape,
    .ws_size = gru_ws_size,
    .init_var = gru_init_var,
    .init_stats = NULL,
    .forward = gru_forward,
    .backward = gru_backward,
    .param_slices = gru_slices,
};
