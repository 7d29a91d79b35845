/* test_recurrent.c — the Elman RNN, LSTM and GRU modules (recurrent.c),
 * each test run for every cell: forward against a naive double loop (with an initial
 * state, ragged lengths, all steps and last step), central differences for
 * dx, dw and dh0/dc0 over T >= 5 steps with ragged lengths, padded steps
 * contributing exactly zero, padded batches against each sample run alone at
 * its true length, accumulate/overwrite semantics, shape and length errors
 * that leave outputs untouched, 1 vs 2 threads, init variance and slices. */
#include "modcheck.h"

#define N_KINDS 3
static const hn_module_vt *const kinds[N_KINDS] = {&hn_rnn_vt, &hn_lstm_vt, &hn_gru_vt};

static bool is_lstm(const hn_module_vt *vt) { return vt == &hn_lstm_vt; }
static bool is_gru(const hn_module_vt *vt) { return vt == &hn_gru_vt; }
static int64_t n_gates(const hn_module_vt *vt) { return is_lstm(vt) ? 4 : is_gru(vt) ? 3 : 1; }

static double sigm_d(double z) { return 1.0 / (1.0 + exp(-z)); }

/* The network in double: y as the module defines it; h0, c0 may be NULL. */
static void ref_forward(const hn_module_vt *vt, const hn_recurrent *cfg, const float *w,
                        const float *x, int64_t n, int64_t T, const int64_t *lengths,
                        const float *h0, const float *c0, double *y) {
  int64_t F = cfg->n_in, H = cfg->hidden, G = n_gates(vt) * H;
  const float *Wih = w, *Whh = w + G * F, *bias = w + G * (F + H), *bhn = bias + G;
  double *h = calloc((size_t)H, sizeof *h), *c = calloc((size_t)H, sizeof *c),
         *a = calloc((size_t)G, sizeof *a), *ah = calloc((size_t)G, sizeof *ah);
  assert_non_null(h);
  assert_non_null(c);
  assert_non_null(a);
  assert_non_null(ah);
  for (int64_t b = 0; b < n; b++) {
    int64_t len = lengths ? lengths[b] : T;
    for (int64_t j = 0; j < H; j++) {
      h[j] = h0 ? (double)h0[b * H + j] : 0.0;
      c[j] = c0 ? (double)c0[b * H + j] : 0.0;
    }
    for (int64_t t = 0; t < T; t++) {
      double *yt = cfg->last ? NULL : y + (b * T + t) * H;
      if (t >= len) {
        if (yt)
          for (int64_t j = 0; j < H; j++) yt[j] = 0.0;
        continue;
      }
      for (int64_t g = 0; g < G; g++) { /* input part a, hidden part ah */
        double s = (double)bias[g], sh = 0.0;
        for (int64_t k = 0; k < F; k++) s += (double)Wih[g * F + k] * (double)x[(b * T + t) * F + k];
        for (int64_t k = 0; k < H; k++) sh += (double)Whh[g * H + k] * h[k];
        a[g] = s;
        ah[g] = sh;
      }
      for (int64_t j = 0; j < H; j++) {
        if (is_gru(vt)) { /* PyTorch's GRU: r, z, n */
          double r = sigm_d(a[j] + ah[j]), z = sigm_d(a[H + j] + ah[H + j]);
          double nn = tanh(a[2 * H + j] + r * (ah[2 * H + j] + (double)bhn[j]));
          h[j] = (1.0 - z) * nn + z * h[j];
        } else if (!is_lstm(vt)) {
          h[j] = tanh(a[j] + ah[j]);
        } else {
          for (int64_t q = 0; q < 4; q++) a[q * H + j] += ah[q * H + j];
          double i = sigm_d(a[j]), f = sigm_d(a[H + j]), g = tanh(a[2 * H + j]),
                 o = sigm_d(a[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * tanh(c[j]);
        }
      }
      if (yt)
        for (int64_t j = 0; j < H; j++) yt[j] = h[j];
    }
    if (cfg->last)
      for (int64_t j = 0; j < H; j++) y[b * H + j] = h[j];
  }
  free(h);
  free(c);
  free(a);
  free(ah);
}

/* A module with w scaled like a normal init (std 1/sqrt(F + H)), so that the
 * cells work away from saturation, and dy = the probe r. */
static void setup(mc_mod *m, const hn_module_vt *vt, const hn_recurrent *cfg, int64_t n, int64_t T,
                  uint64_t seed) {
  mc_setup(m, vt, cfg, 3, (int64_t[]){n, T, cfg->n_in}, false, seed);
  hnt_fill_normal(m->w, m->n_w, 1.0f / sqrtf((float)(cfg->n_in + cfg->hidden)), seed + 9);
}

static const int64_t ragged[] = {5, 1, 3, 6, 2, 6, 4};

static void test_forward_matches_reference(void **state) {
  (void)state;
  const int64_t cases[][5] = {/* n, T, F, H, last */
                              {1, 1, 1, 1, 0}, {3, 5, 4, 3, 0}, {7, 6, 5, 9, 1},
                              {2, 9, 13, 17, 0}, {7, 6, 3, 4, 0}};
  for (int k = 0; k < N_KINDS; k++)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      hn_recurrent cfg = {.n_in = cases[c][2], .hidden = cases[c][3], .last = cases[c][4] != 0};
      int64_t n = cases[c][0], T = cases[c][1], H = cfg.hidden;
      mc_mod m;
      setup(&m, kinds[k], &cfg, n, T, 100 + c);
      int64_t lens[7];
      bool use_len = n == 7;
      for (int64_t b = 0; b < n; b++) lens[b] = use_len ? ragged[b] : T;
      m.run.lengths = use_len ? lens : NULL;
      float *h0 = mc_alloc(n * H), *c0 = mc_alloc(n * H);
      hnt_fill_uniform(h0, n * H, -0.8f, 0.8f, 7 + c);
      hnt_fill_uniform(c0, n * H, -1.0f, 1.0f, 8 + c);
      double *ref = malloc((size_t)m.y.numel * sizeof *ref);
      assert_non_null(ref);
      for (int with_state = 0; with_state < 2; with_state++) {
        const float *hs = with_state ? h0 : NULL, *cs = with_state ? c0 : NULL;
        hn_status st = is_lstm(kinds[k])
                           ? hn_lstm_forward_state(&cfg, m.w, &m.x, hs, cs, &m.y, m.ws, &m.run)
                       : is_gru(kinds[k])
                           ? hn_gru_forward_state(&cfg, m.w, &m.x, hs, &m.y, m.ws, &m.run)
                           : hn_rnn_forward_state(&cfg, m.w, &m.x, hs, &m.y, m.ws, &m.run);
        if (st != HN_OK) fail_msg("%s", hn_errmsg());
        ref_forward(kinds[k], &cfg, m.w, m.x.data, n, T, m.run.lengths, hs, cs, ref);
        /* float GEMMs over F + H terms and T chained steps of bounded (tanh,
         * sigmoid) cells: the float rounding stays ~1e-6; 1e-5 + 1e-5 |y| */
        hnt_assert_close_d(m.y.data, ref, m.y.numel, 1e-5, 1e-5, kinds[k]->name);
      }
      free(ref);
      free(h0);
      free(c0);
      mc_teardown(&m);
    }
}

/* Nonlinear in x, w and h0, so eps trades truncation (~eps^2 |f'''|) for
 * float noise (~1e-7 sqrt(k) / (2 eps) absolute, modcheck.h). At eps = 1e-2
 * the noise alone reached 1.5e-2 against the 1e-3 floor (GRU, gradients
 * ~2e-4); eps = 2e-2 halves it (worst seen 6e-3 over all cells) while the
 * truncation stays ~4e-4 relative. Tolerance 2e-2; a wrong term (a dropped
 * step, a missing gate factor) shows errors of order 1. */
static void test_gradcheck(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++)
    for (int last = 0; last < 2; last++) {
      hn_recurrent cfg = {.n_in = 4, .hidden = 5, .last = last != 0};
      mc_mod m;
      setup(&m, kinds[k], &cfg, 7, 6, 200 + 2 * k + last);
      m.run.lengths = ragged;
      char what[64];
      snprintf(what, sizeof what, "%s (%s, ragged)", kinds[k]->name, last ? "last" : "all");
      mc_gradcheck(&m, what, 2e-2f, 2e-2);
      m.run.lengths = NULL;
      snprintf(what, sizeof what, "%s (%s, full)", kinds[k]->name, last ? "last" : "all");
      mc_gradcheck(&m, what, 2e-2f, 2e-2);
      mc_teardown(&m);
    }
}

/* ---- initial state ------------------------------------------------------------- */

typedef struct state_ctx {
  mc_mod *m;
  const hn_recurrent *cfg;
  float *h0, *c0;
} state_ctx;

static void state_forward(state_ctx *s) {
  mc_mod *m = s->m;
  hn_status st = is_lstm(m->vt)
                     ? hn_lstm_forward_state(s->cfg, m->w, &m->x, s->h0, s->c0, &m->y, m->ws, &m->run)
                 : is_gru(m->vt)
                     ? hn_gru_forward_state(s->cfg, m->w, &m->x, s->h0, &m->y, m->ws, &m->run)
                     : hn_rnn_forward_state(s->cfg, m->w, &m->x, s->h0, &m->y, m->ws, &m->run);
  if (st != HN_OK) fail_msg("forward_state: %s", hn_errmsg());
}

static double state_loss(void *ctx) {
  state_ctx *s = ctx;
  state_forward(s);
  return hnt_probe(s->m->dy.data, s->m->y.data, s->m->y.numel);
}

static void state_backward(state_ctx *s, float *dw, float *dh0, float *dc0, hn_tensor *dx) {
  mc_mod *m = s->m;
  hn_status st = is_lstm(m->vt)
                     ? hn_lstm_backward_state(s->cfg, m->w, &m->x, m->ws, &m->dy, dx, dw, dh0,
                                              dc0, &m->run)
                 : is_gru(m->vt)
                     ? hn_gru_backward_state(s->cfg, m->w, &m->x, m->ws, &m->dy, dx, dw, dh0,
                                             &m->run)
                     : hn_rnn_backward_state(s->cfg, m->w, &m->x, m->ws, &m->dy, dx, dw, dh0,
                                             &m->run);
  if (st != HN_OK) fail_msg("backward_state: %s", hn_errmsg());
}

/* dh0 and dc0 by central differences (eps and tolerance as test_gradcheck), with a
 * nonzero h0/c0 and ragged lengths; dw with a given state too. */
static void test_initial_state_gradient(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++)
    for (int last = 0; last < 2; last++) {
      hn_recurrent cfg = {.n_in = 3, .hidden = 4, .last = last != 0};
      int64_t n = 7, H = cfg.hidden;
      mc_mod m;
      setup(&m, kinds[k], &cfg, n, 6, 300 + 2 * k + last);
      m.run.lengths = ragged;
      state_ctx s = {.m = &m, .cfg = &cfg, .h0 = mc_alloc(n * H), .c0 = mc_alloc(n * H)};
      hnt_fill_uniform(s.h0, n * H, -0.9f, 0.9f, 31);
      hnt_fill_uniform(s.c0, n * H, -1.0f, 1.0f, 32);
      float *dh0 = mc_alloc(n * H), *dc0 = mc_alloc(n * H);
      state_forward(&s);
      memset(m.dw, 0, (size_t)m.n_w * sizeof(float));
      state_backward(&s, m.dw, dh0, is_lstm(kinds[k]) ? dc0 : NULL, &m.dx);
      float *dw = mc_alloc(m.n_w);
      memcpy(dw, m.dw, (size_t)m.n_w * sizeof(float));
      char what[64];
      snprintf(what, sizeof what, "%s dh0 (%s)", kinds[k]->name, last ? "last" : "all");
      hnt_gradcheck(what, state_loss, &s, s.h0, dh0, n * H, 2e-2f, 200, 1e-3, 2e-2);
      if (is_lstm(kinds[k])) {
        snprintf(what, sizeof what, "lstm dc0 (%s)", last ? "last" : "all");
        hnt_gradcheck(what, state_loss, &s, s.c0, dc0, n * H, 2e-2f, 200, 1e-3, 2e-2);
      }
      snprintf(what, sizeof what, "%s dw with h0 (%s)", kinds[k]->name, last ? "last" : "all");
      hnt_gradcheck(what, state_loss, &s, m.w, dw, m.n_w, 2e-2f, 200, 1e-3, 2e-2);
      /* the plain entry points are the zero state */
      float *y0 = mc_alloc(m.y.numel);
      memset(s.h0, 0, (size_t)(n * H) * sizeof(float));
      memset(s.c0, 0, (size_t)(n * H) * sizeof(float));
      state_forward(&s);
      memcpy(y0, m.y.data, (size_t)m.y.numel * sizeof(float));
      mc_forward(&m);
      hnt_assert_bytes_equal(m.y.data, y0, (size_t)m.y.numel * sizeof(float), "h0 = 0 vs none");
      free(y0);
      free(dw);
      free(dh0);
      free(dc0);
      free(s.h0);
      free(s.c0);
      mc_teardown(&m);
    }
}

/* ---- padding ------------------------------------------------------------------- */

/* Forward + backward (all outputs, dh0) with the module's current x and dy. */
static void run_all(mc_mod *m, const hn_recurrent *cfg, float *h0, float *dh0) {
  state_ctx s = {.m = m, .cfg = cfg, .h0 = h0, .c0 = NULL};
  state_forward(&s);
  memset(m->dw, 0, (size_t)m->n_w * sizeof(float));
  state_backward(&s, m->dw, dh0, NULL, &m->dx);
}

/* Padded steps never reach an output or a gradient: their outputs are
 * exactly 0, dx there is exactly 0, and changing x and dy at padded steps
 * changes no bit of y, dx, dw or dh0. */
static void test_padding_contributes_nothing(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++)
    for (int last = 0; last < 2; last++) {
      hn_recurrent cfg = {.n_in = 3, .hidden = 5, .last = last != 0};
      int64_t n = 7, T = 6, F = cfg.n_in, H = cfg.hidden;
      mc_mod m;
      setup(&m, kinds[k], &cfg, n, T, 400 + 2 * k + last);
      m.run.lengths = ragged;
      float *h0 = mc_alloc(n * H), *dh0 = mc_alloc(n * H), *dh0b = mc_alloc(n * H);
      hnt_fill_uniform(h0, n * H, -0.5f, 0.5f, 41);
      run_all(&m, &cfg, h0, dh0);
      size_t by = (size_t)m.y.numel * sizeof(float), bx = (size_t)m.x.numel * sizeof(float),
             bw = (size_t)m.n_w * sizeof(float);
      float *y1 = malloc(by), *dx1 = malloc(bx), *dw1 = malloc(bw);
      memcpy(y1, m.y.data, by);
      memcpy(dx1, m.dx.data, bx);
      memcpy(dw1, m.dw, bw);
      for (int64_t b = 0; b < n; b++)
        for (int64_t t = ragged[b]; t < T; t++) {
          for (int64_t j = 0; j < F; j++) {
            if (m.dx.data[(b * T + t) * F + j] != 0.0f)
              fail_msg("%s: dx at padded step (%lld, %lld) is %g, not 0", kinds[k]->name,
                       (long long)b, (long long)t, (double)m.dx.data[(b * T + t) * F + j]);
            m.x.data[(b * T + t) * F + j] = 1e3f; /* garbage in the padding */
          }
          if (!last)
            for (int64_t j = 0; j < H; j++) {
              if (m.y.data[(b * T + t) * H + j] != 0.0f)
                fail_msg("%s: y at padded step (%lld, %lld) is not 0", kinds[k]->name,
                         (long long)b, (long long)t);
              m.dy.data[(b * T + t) * H + j] = -1e3f;
            }
        }
      run_all(&m, &cfg, h0, dh0b);
      hnt_assert_bytes_equal(m.y.data, y1, by, "y with garbage padding");
      hnt_assert_bytes_equal(m.dx.data, dx1, bx, "dx with garbage padding");
      hnt_assert_bytes_equal(m.dw, dw1, bw, "dw with garbage padding");
      hnt_assert_bytes_equal(dh0b, dh0, (size_t)(n * H) * sizeof(float), "dh0 with garbage padding");
      free(y1);
      free(dx1);
      free(dw1);
      free(h0);
      free(dh0);
      free(dh0b);
      mc_teardown(&m);
    }
}

/* A padded batch equals its samples run one by one at their true lengths
 * (no padding at all): y, dx, dh0 per sample and dw summed over them. The
 * GEMMs group the sums differently, so within 1e-5 relative to each
 * tensor's scale. */
static void test_padded_equals_true_length(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++)
    for (int last = 0; last < 2; last++) {
      hn_recurrent cfg = {.n_in = 4, .hidden = 6, .last = last != 0};
      int64_t n = 7, T = 6, F = cfg.n_in, H = cfg.hidden;
      mc_mod m;
      setup(&m, kinds[k], &cfg, n, T, 500 + 2 * k + last);
      m.run.lengths = ragged;
      float *h0 = mc_alloc(n * H), *dh0 = mc_alloc(n * H);
      hnt_fill_uniform(h0, n * H, -0.5f, 0.5f, 51);
      run_all(&m, &cfg, h0, dh0);
      float *dw_sum = mc_alloc(m.n_w);
      for (int64_t b = 0; b < n; b++) {
        int64_t len = ragged[b];
        mc_mod s;
        setup(&s, kinds[k], &cfg, 1, len, 1);
        memcpy(s.w, m.w, (size_t)m.n_w * sizeof(float));
        memcpy(s.x.data, m.x.data + b * T * F, (size_t)(len * F) * sizeof(float));
        if (last)
          memcpy(s.dy.data, m.dy.data + b * H, (size_t)H * sizeof(float));
        else
          memcpy(s.dy.data, m.dy.data + b * T * H, (size_t)(len * H) * sizeof(float));
        float dh0s[6];
        run_all(&s, &cfg, h0 + b * H, dh0s);
        const float *yb = m.y.data + (last ? b * H : b * T * H);
        double sy = mc_maxabs(yb, s.y.numel), sx = mc_maxabs(s.dx.data, s.dx.numel);
        hnt_assert_close(yb, s.y.data, s.y.numel, 1e-5, 1e-6 * sy, "y padded vs alone");
        hnt_assert_close(m.dx.data + b * T * F, s.dx.data, len * F, 1e-5, 1e-5 * sx,
                         "dx padded vs alone");
        hnt_assert_close(dh0 + b * H, dh0s, H, 1e-5, 1e-5 * mc_maxabs(dh0s, H),
                         "dh0 padded vs alone");
        for (int64_t i = 0; i < m.n_w; i++) dw_sum[i] += s.dw[i];
        mc_teardown(&s);
      }
      hnt_assert_close(m.dw, dw_sum, m.n_w, 1e-4, 1e-5 * mc_maxabs(dw_sum, m.n_w),
                       "dw padded vs sum of samples");
      free(dw_sum);
      free(h0);
      free(dh0);
      mc_teardown(&m);
    }
}

static void test_semantics(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++) {
    hn_recurrent cfg = {.n_in = 5, .hidden = 4};
    mc_mod m;
    setup(&m, kinds[k], &cfg, 7, 6, 600 + k);
    m.run.lengths = ragged;
    mc_check_semantics(&m);
    mc_teardown(&m);
  }
}

static void test_errors(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++) {
    hn_recurrent cfg = {.n_in = 4, .hidden = 3};
    mc_mod m;
    setup(&m, kinds[k], &cfg, 3, 5, 700 + k);
    mc_check_shape_errors(&m, 3, (int64_t[]){3, 5, 2}, "[3, T, 4]");
    mc_check_shape_errors(&m, 2, (int64_t[]){3, 4}, "[3, T, 4]");
    /* bad lengths: HN_ERR_ARG naming the module, the sample and the value; y untouched */
    const int64_t bad[][3] = {{5, 0, 5}, {6, 1, 1}, {-2, 3, 3}};
    for (int i = 0; i < 3; i++) {
      hn_tensor_fill(&m.y, 2.5f);
      m.run.lengths = bad[i];
      assert_int_equal(m.vt->forward(m.cfg, m.w, &m.x, &m.y, m.ws, &m.run), HN_ERR_ARG);
      mc_assert_msg_has(m.vt->name);
      mc_assert_msg_has("lengths[");
      mc_assert_msg_has("1..5");
      for (int64_t j = 0; j < m.y.numel; j++) assert_true(m.y.data[j] == 2.5f);
    }
    /* backward with other lengths than the forward: error, dx and dw untouched */
    const int64_t good[3] = {5, 2, 4}, other[3] = {5, 3, 4};
    m.run.lengths = good;
    mc_forward(&m);
    m.run.lengths = other;
    hn_ops_fill(m.dx.data, 9.0f, m.dx.numel);
    hn_ops_fill(m.dw, 4.0f, m.n_w);
    assert_int_equal(m.vt->backward(m.cfg, m.w, &m.x, &m.y, m.ws, &m.dy, &m.dx, m.dw, &m.run),
                     HN_ERR_ARG);
    mc_assert_msg_has("lengths[1] = 3");
    for (int64_t j = 0; j < m.dx.numel; j++) assert_true(m.dx.data[j] == 9.0f);
    for (int64_t j = 0; j < m.n_w; j++) assert_true(m.dw[j] == 4.0f);
    m.run.lengths = NULL; /* none: the forward's */
    assert_int_equal(m.vt->backward(m.cfg, m.w, &m.x, &m.y, m.ws, &m.dy, &m.dx, m.dw, &m.run),
                     HN_OK);
    mc_teardown(&m);
    /* bad configs */
    int ond;
    int64_t out[4];
    hn_recurrent z = {.n_in = 0, .hidden = 3};
    assert_int_equal(kinds[k]->out_shape(&z, 3, (int64_t[]){1, 2, 0}, &ond, out), HN_ERR_ARG);
    mc_assert_msg_has("n_in");
  }
}

/* GEMMs (BLAS may split sums by thread count): 1e-5 relative to each
 * tensor's scale. Sizes put the cells above the OpenMP threshold. */
static void test_threads(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++) {
    hn_recurrent cfg = {.n_in = 40, .hidden = 96};
    mc_mod m;
    setup(&m, kinds[k], &cfg, 48, 7, 800 + k);
    int64_t lens[48];
    for (int b = 0; b < 48; b++) lens[b] = 1 + (b * 5) % 7;
    m.run.lengths = lens;
    mc_check_threads(&m, 1e-5);
    mc_teardown(&m);
  }
}

static void test_init_var_and_slices(void **state) {
  (void)state;
  for (int k = 0; k < N_KINDS; k++) {
    hn_recurrent cfg = {.n_in = 6, .hidden = 4};
    int64_t G = n_gates(kinds[k]) * 4, np = G * 6 + G * 4 + G + (is_gru(kinds[k]) ? 4 : 0);
    assert_int_equal(kinds[k]->n_params(&cfg), np);
    float *mean = mc_alloc(np), *var = mc_alloc(np);
    kinds[k]->init_var(&cfg, mean, var);
    for (int64_t i = 0; i < np; i++) {
      assert_true(mean[i] == 0.0f);
      assert_true(var[i] == (i < G * 10 ? 1.0f / 10.0f : 1.0f / 30.0f));
    }
    cfg.fan_out = true;
    kinds[k]->init_var(&cfg, NULL, var);
    for (int64_t i = 0; i < G * 10; i++) assert_true(var[i] == 1.0f / (float)G);
    const char *names[4];
    int ndims[4];
    int64_t shapes[4][4];
    assert_int_equal(kinds[k]->param_slices(&cfg, names, ndims, shapes), is_gru(kinds[k]) ? 4 : 3);
    assert_string_equal(names[0], "weight_ih");
    assert_true(shapes[0][0] == G && shapes[0][1] == 6);
    assert_string_equal(names[1], "weight_hh");
    assert_true(shapes[1][0] == G && shapes[1][1] == 4);
    assert_string_equal(names[2], "bias");
    assert_true(ndims[2] == 1 && shapes[2][0] == G);
    if (is_gru(kinds[k])) {
      assert_string_equal(names[3], "bias_hn");
      assert_true(ndims[3] == 1 && shapes[3][0] == 4);
    }
    int ond;
    int64_t out[4];
    cfg.last = true;
    assert_int_equal(kinds[k]->out_shape(&cfg, 3, (int64_t[]){2, 9, 6}, &ond, out), HN_OK);
    assert_true(ond == 2 && out[0] == 2 && out[1] == 4);
    free(mean);
    free(var);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_reference),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_initial_state_gradient),
      cmocka_unit_test(test_padding_contributes_nothing),
      cmocka_unit_test(test_padded_equals_true_length),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_init_var_and_slices),
  };
  return cmocka_run_group_tests_name("recurrent", tests, NULL, NULL);
}
