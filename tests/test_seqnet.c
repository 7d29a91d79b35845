/* test_seqnet.c — sequence modules inside a target network (net.c): a stack
 * (embedding -> lstm -> per-step or last-step linear head) equals its
 * modules run one by one; whole-net central differences with ragged
 * lengths; padding reaches no output and no gradient through the head; no
 * allocation in forward/backward; 1 vs 2 threads; errors; and a chunked
 * hypernetwork end to end through an LSTM (gradient of the target loss with
 * respect to θ and the task embedding, hyperfan variance of the generated
 * recurrent weights). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK(call)                                                        \
  do {                                                                  \
    hn_status st_ = (call);                                             \
    if (st_ != HN_OK) fail_msg("%s failed: %s", #call, hn_errmsg());    \
  } while (0)

static float *falloc(int64_t n) {
  float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
  assert_non_null(p);
  return p;
}

static void assert_msg_has(const char *needle) {
  if (!strstr(hn_errmsg(), needle))
    fail_msg("error message \"%s\" does not contain \"%s\"", hn_errmsg(), needle);
}

enum { V = 7, D = 5, H = 6, O = 3, T = 6, NB = 5 };
static const int64_t lens[NB] = {6, 2, 4, 1, 5};

/* embedding(V, D) -> lstm(H, last) -> linear(O): per step [T, O] or [O]. */
static hn_net *tok_net(bool last, int64_t max_batch) {
  hn_net *net;
  OK(hn_net_new(&net, 1, (int64_t[]){T}, max_batch));
  OK(hn_net_add_embedding(net, V, D));
  OK(hn_net_add_lstm(net, H, last));
  OK(hn_net_add_linear(net, O, true));
  OK(hn_net_finalize(net));
  return net;
}

/* [T, 4] features -> rnn(5) -> tanh -> gru(5) -> lstm(4, last) -> linear(O). */
static hn_net *feat_net(int64_t max_batch) {
  hn_net *net;
  OK(hn_net_new(&net, 2, (int64_t[]){T, 4}, max_batch));
  OK(hn_net_add_rnn(net, 5, false));
  OK(hn_net_add_act(net, HN_ACT_TANH, 0));
  OK(hn_net_add_gru(net, 5, false));
  OK(hn_net_add_lstm(net, 4, true));
  OK(hn_net_add_linear(net, O, true));
  OK(hn_net_finalize(net));
  return net;
}

static void fill_ids(float *x, int64_t n, uint64_t seed) {
  hn_rng r;
  hn_rng_init(&r, seed, 2);
  for (int64_t i = 0; i < n; i++) x[i] = (float)hn_rng_below(&r, V);
}

/* A net with its tensors at batch n, W from the net's normal init. */
typedef struct seq_case {
  hn_net *net;
  hn_tensor x, y, dy, dx;
  float *w, *dw;
  int64_t n_w;
  hn_run run;
} seq_case;

static void case_new(seq_case *c, hn_net *net, int64_t n, bool ids, uint64_t seed) {
  memset(c, 0, sizeof *c);
  c->net = net;
  int64_t in[4], out[4];
  int ind = hn_net_in_shape(net, in + 1), ond = hn_net_out_shape(net, out + 1);
  in[0] = out[0] = n;
  OK(hn_tensor_init(&c->x, ind + 1, in));
  OK(hn_tensor_init(&c->dx, ind + 1, in));
  OK(hn_tensor_init(&c->y, ond + 1, out));
  OK(hn_tensor_init(&c->dy, ond + 1, out));
  c->n_w = hn_net_n_params(net);
  c->w = falloc(c->n_w);
  c->dw = falloc(c->n_w);
  hn_rng r;
  hn_rng_init(&r, seed, 1);
  OK(hn_net_init(net, c->w, &r));
  if (ids) fill_ids(c->x.data, c->x.numel, seed + 1);
  else hnt_fill_uniform(c->x.data, c->x.numel, -1, 1, seed + 1);
  hnt_fill_uniform(c->dy.data, c->dy.numel, -1, 1, seed + 2);
  c->run = (hn_run){.lengths = lens};
}

static void case_free(seq_case *c) {
  hn_tensor_release(&c->x);
  hn_tensor_release(&c->y);
  hn_tensor_release(&c->dy);
  hn_tensor_release(&c->dx);
  free(c->w);
  free(c->dw);
  hn_net_free(c->net);
}

static void case_fwd_bwd(seq_case *c, bool dx) {
  OK(hn_net_forward(c->net, c->w, &c->x, &c->y, &c->run));
  memset(c->dw, 0, (size_t)c->n_w * sizeof(float));
  OK(hn_net_backward(c->net, c->w, &c->dy, c->dw, dx ? &c->dx : NULL, &c->run));
}

/* ---- a stack equals its parts ----------------------------------------------------- */

/* One module run by hand: its own ws, input x, output y, dy/dx buffers. */
typedef struct part {
  const hn_module_vt *vt;
  const void *cfg;
  float *ws;
  hn_tensor y, dx;
} part;

static void part_new(part *p, const hn_module_vt *vt, const void *cfg, const hn_tensor *x) {
  p->vt = vt;
  p->cfg = cfg;
  int ond;
  int64_t out[4];
  OK(vt->out_shape(cfg, x->ndim, x->shape, &ond, out));
  OK(hn_tensor_init(&p->y, ond, out));
  OK(hn_tensor_init(&p->dx, x->ndim, x->shape));
  p->ws = falloc(vt->ws_size(cfg, x->ndim, x->shape));
}

static void part_free(part *p) {
  hn_tensor_release(&p->y);
  hn_tensor_release(&p->dx);
  free(p->ws);
}

/* The net's forward and backward are its modules' calls in sequence (the
 * same code on the same data): y and dW bitwise equal to the parts run by
 * hand, with the net zeroing the padded steps of a per-step output and of
 * its dy. */
static void test_stack_equals_parts(void **state) {
  (void)state;
  for (int last = 0; last < 2; last++) {
    seq_case c;
    case_new(&c, tok_net(last, 8), NB, true, 10 + last);
    case_fwd_bwd(&c, false);
    const hn_layout *lay = hn_net_layout(c.net);
    assert_int_equal(lay->n, 6);
    assert_string_equal(lay->entries[0].name, "0.embedding.weight");
    assert_string_equal(lay->entries[1].name, "1.lstm.weight_ih");
    assert_string_equal(lay->entries[2].name, "1.lstm.weight_hh");
    assert_string_equal(lay->entries[3].name, "1.lstm.bias");
    assert_string_equal(lay->entries[4].name, "2.linear.weight");
    assert_string_equal(lay->entries[5].name, "2.linear.bias");
    assert_int_equal(c.n_w, V * D + 4 * H * (D + H + 1) + O * H + O);
    /* multiply-adds per sample: the cells' T (4H)(D + H), the head per step or once */
    assert_int_equal(hn_net_flops_per_sample(c.net), T * 4 * H * (D + H) + (last ? 1 : T) * H * O);

    hn_embedding ec = {.vocab = V, .dim = D};
    hn_recurrent rc = {.n_in = D, .hidden = H, .last = last != 0};
    hn_linear lc = {.n_in = H, .n_out = O, .bias = true};
    part pe, pr, pl;
    part_new(&pe, &hn_embedding_vt, &ec, &c.x);
    part_new(&pr, &hn_lstm_vt, &rc, &pe.y);
    part_new(&pl, &hn_linear_vt, &lc, &pr.y);
    const float *we = c.w + lay->entries[0].offset, *wr = c.w + lay->entries[1].offset,
                *wl = c.w + lay->entries[4].offset;
    hn_run run = {.lengths = lens};
    OK(pe.vt->forward(pe.cfg, we, &c.x, &pe.y, pe.ws, &run));
    OK(pr.vt->forward(pr.cfg, wr, &pe.y, &pr.y, pr.ws, &run));
    OK(pl.vt->forward(pl.cfg, wl, &pr.y, &pl.y, pl.ws, &run));
    hn_tensor dy;
    OK(hn_tensor_init(&dy, c.dy.ndim, c.dy.shape));
    OK(hn_tensor_copy(&dy, &c.dy));
    if (!last) /* the padded steps of a per-step output: 0 in y, ignored in dy */
      for (int64_t b = 0; b < NB; b++)
        for (int64_t t = lens[b]; t < T; t++)
          for (int64_t o = 0; o < O; o++) {
            pl.y.data[(b * T + t) * O + o] = 0.0f;
            dy.data[(b * T + t) * O + o] = 0.0f;
          }
    hnt_assert_bytes_equal(c.y.data, pl.y.data, (size_t)c.y.numel * sizeof(float), "net y vs parts");
    float *dw = falloc(c.n_w);
    OK(pl.vt->backward(pl.cfg, wl, &pr.y, &pl.y, pl.ws, &dy, &pl.dx,
                       dw + lay->entries[4].offset, &run));
    OK(pr.vt->backward(pr.cfg, wr, &pe.y, &pr.y, pr.ws, &pl.dx, &pr.dx,
                       dw + lay->entries[1].offset, &run));
    OK(pe.vt->backward(pe.cfg, we, &c.x, &pe.y, pe.ws, &pr.dx, NULL, dw, &run));
    hnt_assert_bytes_equal(c.dw, dw, (size_t)c.n_w * sizeof(float), "net dW vs parts");
    if (!last)
      for (int64_t b = 0; b < NB; b++)
        for (int64_t t = lens[b]; t < T; t++)
          for (int64_t o = 0; o < O; o++) assert_true(c.y.data[(b * T + t) * O + o] == 0.0f);
    free(dw);
    hn_tensor_release(&dy);
    part_free(&pe);
    part_free(&pr);
    part_free(&pl);
    case_free(&c);
  }
}

/* ---- whole-net gradients ------------------------------------------------------------ */

static double net_loss(void *ctx) {
  seq_case *c = ctx;
  OK(hn_net_forward(c->net, c->w, &c->x, &c->y, &c->run));
  return hnt_probe(c->dy.data, c->y.data, c->y.numel);
}

/* Smooth nets (tanh, sigmoid cells; no kinks): eps = 1e-2, truncation
 * ~1e-4 relative, float noise ~1e-2 relative at the 1e-3 floor (the module
 * tests' reasoning). Tolerance 2e-2. */
static void test_net_gradcheck(void **state) {
  (void)state;
  seq_case c;
  case_new(&c, feat_net(8), NB, false, 20);
  case_fwd_bwd(&c, true);
  float *dx = falloc(c.x.numel), *dw = falloc(c.n_w);
  memcpy(dx, c.dx.data, (size_t)c.x.numel * sizeof(float));
  memcpy(dw, c.dw, (size_t)c.n_w * sizeof(float));
  hnt_gradcheck("feature net dx (ragged)", net_loss, &c, c.x.data, dx, c.x.numel, 1e-2f, 200,
                1e-3, 2e-2);
  hnt_gradcheck("feature net dW (ragged)", net_loss, &c, c.w, dw, c.n_w, 1e-2f, 200, 1e-3, 2e-2);
  free(dx);
  free(dw);
  case_free(&c);
  for (int last = 0; last < 2; last++) {
    case_new(&c, tok_net(last, NB), NB, true, 30 + last);
    case_fwd_bwd(&c, false);
    dw = falloc(c.n_w);
    memcpy(dw, c.dw, (size_t)c.n_w * sizeof(float));
    hnt_gradcheck(last ? "token net dW (last)" : "token net dW (per step)", net_loss, &c, c.w, dw,
                  c.n_w, 1e-2f, 200, 1e-3, 2e-2);
    free(dw);
    case_free(&c);
  }
}

/* Garbage (NaN, Inf, large values) in the padded steps of x and dy changes
 * no bit of y, dx or dW, and dx is exactly 0 there: padding contributes nothing through the whole
 * stack, including the per-step head after the recurrent layers. */
static void test_net_padding(void **state) {
  (void)state;
  hn_net *net;
  OK(hn_net_new(&net, 2, (int64_t[]){T, 4}, NB));
  OK(hn_net_add_linear(net, 5, true)); /* per-step input projection */
  OK(hn_net_add_rnn(net, 6, false));
  OK(hn_net_add_lstm(net, 4, false));
  OK(hn_net_add_linear(net, O, true)); /* per-step head: bias at padded steps */
  OK(hn_net_finalize(net));
  assert_int_equal(hn_net_seq_len(net), T);
  seq_case c;
  case_new(&c, net, NB, false, 40);
  case_fwd_bwd(&c, true);
  size_t by = (size_t)c.y.numel * 4, bx = (size_t)c.x.numel * 4, bw = (size_t)c.n_w * 4;
  float *y1 = malloc(by), *dx1 = malloc(bx), *dw1 = malloc(bw);
  memcpy(y1, c.y.data, by);
  memcpy(dx1, c.dx.data, bx);
  memcpy(dw1, c.dw, bw);
  for (int64_t b = 0; b < NB; b++)
    for (int64_t t = lens[b]; t < T; t++) {
      for (int j = 0; j < 4; j++) {
        assert_true(c.dx.data[(b * T + t) * 4 + j] == 0.0f);
        c.x.data[(b * T + t) * 4 + j] = j == 0 ? NAN : j == 1 ? INFINITY : 50.0f;
      }
      for (int j = 0; j < O; j++) {
        assert_true(c.y.data[(b * T + t) * O + j] == 0.0f);
        c.dy.data[(b * T + t) * O + j] = j == 0 ? NAN : 1e3f;
      }
    }
  case_fwd_bwd(&c, true);
  hnt_assert_bytes_equal(c.y.data, y1, by, "net y, garbage padding");
  hnt_assert_bytes_equal(c.dx.data, dx1, bx, "net dx, garbage padding");
  hnt_assert_bytes_equal(c.dw, dw1, bw, "net dW, garbage padding");
  free(y1);
  free(dx1);
  free(dw1);
  case_free(&c);
}

/* ---- steady state, threads ------------------------------------------------------------ */

static void test_no_alloc(void **state) {
  (void)state;
  seq_case c;
  case_new(&c, tok_net(false, 16), NB, true, 50);
  case_fwd_bwd(&c, true);
  int64_t before = hn_alloc_count();
  for (int i = 0; i < 3; i++) {
    c.run.lengths = i == 1 ? NULL : lens;
    case_fwd_bwd(&c, true);
  }
  assert_int_equal(hn_alloc_count(), before);
  case_free(&c);
}

/* GEMMs: 1e-5 relative to each tensor's scale. Sizes above the OpenMP
 * thresholds of the cells and the embedding. */
static void test_threads(void **state) {
  (void)state;
  hn_net *net;
  OK(hn_net_new(&net, 1, (int64_t[]){12}, 64));
  OK(hn_net_add_embedding(net, 40, 64));
  OK(hn_net_add_lstm(net, 64, false));
  OK(hn_net_add_rnn(net, 48, true));
  OK(hn_net_add_linear(net, 10, true));
  OK(hn_net_finalize(net));
  seq_case c;
  memset(&c, 0, sizeof c);
  c.net = net;
  OK(hn_tensor_init(&c.x, 2, (int64_t[]){64, 12}));
  OK(hn_tensor_init(&c.y, 2, (int64_t[]){64, 10}));
  OK(hn_tensor_init(&c.dy, 2, (int64_t[]){64, 10}));
  OK(hn_tensor_init(&c.dx, 2, (int64_t[]){64, 12}));
  c.n_w = hn_net_n_params(net);
  c.w = falloc(c.n_w);
  c.dw = falloc(c.n_w);
  hn_rng r;
  hn_rng_init(&r, 3, 1);
  OK(hn_net_init(net, c.w, &r));
  hn_rng_init(&r, 4, 1);
  for (int64_t i = 0; i < c.x.numel; i++) c.x.data[i] = (float)hn_rng_below(&r, 40);
  hnt_fill_uniform(c.dy.data, c.dy.numel, -1, 1, 5);
  int64_t l64[64];
  for (int b = 0; b < 64; b++) l64[b] = 1 + (b * 5) % 12;
  c.run = (hn_run){.lengths = l64};
  int saved = hn_threads_get();
  OK(hn_threads_set(1));
  case_fwd_bwd(&c, false);
  float *y1 = falloc(c.y.numel), *dw1 = falloc(c.n_w);
  memcpy(y1, c.y.data, (size_t)c.y.numel * 4);
  memcpy(dw1, c.dw, (size_t)c.n_w * 4);
  OK(hn_threads_set(2));
  case_fwd_bwd(&c, false);
  double sy = 0, sw = 0;
  for (int64_t i = 0; i < c.y.numel; i++) sy = fmax(sy, fabs((double)y1[i]));
  for (int64_t i = 0; i < c.n_w; i++) sw = fmax(sw, fabs((double)dw1[i]));
  hnt_assert_close(c.y.data, y1, c.y.numel, 1e-5, 1e-5 * sy, "net y 1 vs 2 threads");
  hnt_assert_close(c.dw, dw1, c.n_w, 1e-5, 1e-5 * sw, "net dW 1 vs 2 threads");
  OK(hn_threads_set(saved));
  free(y1);
  free(dw1);
  case_free(&c);
}

/* ---- errors ------------------------------------------------------------------------------- */

static void test_errors(void **state) {
  (void)state;
  hn_net *net;
  /* lengths on a net without sequence modules */
  OK(hn_net_new(&net, 1, (int64_t[]){4}, 2));
  OK(hn_net_add_linear(net, 3, true));
  assert_int_equal(hn_net_add_rnn(net, 3, false), HN_ERR_SHAPE); /* [3] is no sequence */
  assert_msg_has("[T, features]");
  assert_int_equal(hn_net_add_embedding(net, 5, 2), HN_ERR_SHAPE); /* after a feature layer */
  assert_msg_has("time axis");
  OK(hn_net_finalize(net));
  assert_int_equal(hn_net_seq_len(net), 0);
  hn_tensor x, y;
  OK(hn_tensor_init(&x, 2, (int64_t[]){2, 4}));
  OK(hn_tensor_init(&y, 2, (int64_t[]){2, 3}));
  float w[15] = {0};
  const int64_t l2[2] = {1, 1};
  hn_run run = {.lengths = l2};
  assert_int_equal(hn_net_forward(net, w, &x, &y, &run), HN_ERR_ARG);
  assert_msg_has("no sequence module");
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_net_free(net);
  /* a recurrent layer after a flatten or a last-step output */
  OK(hn_net_new(&net, 2, (int64_t[]){T, 3}, 2));
  OK(hn_net_add_rnn(net, 4, true));
  assert_int_equal(hn_net_add_lstm(net, 4, false), HN_ERR_SHAPE);
  hn_net_free(net);
  OK(hn_net_new(&net, 2, (int64_t[]){T, 3}, 2));
  OK(hn_net_add_flatten(net));
  assert_int_equal(hn_net_add_embedding(net, 4, 4), HN_ERR_SHAPE);
  assert_msg_has("time axis");
  hn_net_free(net);
  /* bad lengths: HN_ERR_ARG naming the sample, y untouched; backward with other lengths */
  seq_case c;
  case_new(&c, tok_net(false, NB), NB, true, 60);
  const int64_t bad[][NB] = {{6, 0, 1, 1, 1}, {6, 2, 7, 1, 1}, {-1, 1, 1, 1, 1}};
  const char *said[] = {"lengths[1] = 0", "lengths[2] = 7", "lengths[0] = -1"};
  for (int i = 0; i < 3; i++) {
    hn_tensor_fill(&c.y, 4.5f);
    hn_run rb = {.lengths = bad[i]};
    assert_int_equal(hn_net_forward(c.net, c.w, &c.x, &c.y, &rb), HN_ERR_ARG);
    assert_msg_has(said[i]);
    assert_msg_has("1..6");
    for (int64_t j = 0; j < c.y.numel; j++) assert_true(c.y.data[j] == 4.5f);
  }
  /* an out-of-range id at a valid step: the embedding's error, through the net */
  float saved = c.x.data[1];
  c.x.data[1] = (float)V;
  assert_int_equal(hn_net_forward(c.net, c.w, &c.x, &c.y, &c.run), HN_ERR_ARG);
  assert_msg_has("x[0, 1] = 7");
  for (int64_t j = 0; j < c.y.numel; j++) assert_true(c.y.data[j] == 4.5f);
  c.x.data[1] = saved;
  OK(hn_net_forward(c.net, c.w, &c.x, &c.y, &c.run));
  const int64_t other[NB] = {6, 2, 4, 1, 4};
  hn_run ro = {.lengths = other};
  hn_ops_fill(c.dw, 2.0f, c.n_w);
  assert_int_equal(hn_net_backward(c.net, c.w, &c.dy, c.dw, NULL, &ro), HN_ERR_ARG);
  assert_msg_has("lengths[4] = 4");
  for (int64_t j = 0; j < c.n_w; j++) assert_true(c.dw[j] == 2.0f);
  OK(hn_net_backward(c.net, c.w, &c.dy, c.dw, NULL, &c.run)); /* the same: fine */
  OK(hn_net_backward(c.net, c.w, &c.dy, c.dw, NULL, NULL));   /* none: the forward's */
  case_free(&c);
}

/* Allocation-failure injection while building a sequence net: HN_ERR_NOMEM
 * from the failing step, the net unchanged and resumable, no leak (ASan). */
static hn_status seq_build_step(hn_net **net, int step) {
  switch (step) {
    case 0: return hn_net_new(net, 1, (int64_t[]){T}, 4);
    case 1: return hn_net_add_embedding(*net, V, D);
    case 2: return hn_net_add_gru(*net, H, false);
    case 3: return hn_net_add_linear(*net, 4, true);
    case 4: return hn_net_add_act(*net, HN_ACT_TANH, 0);
    case 5: return hn_net_add_rnn(*net, H, false);
    case 6: return hn_net_add_lstm(*net, H, true);
    case 7: return hn_net_add_linear(*net, O, true);
    default: return hn_net_finalize(*net);
  }
}

static void test_alloc_failure_injection(void **state) {
  (void)state;
  const int64_t np = V * D + 3 * H * (D + H + 1) + H + 4 * H + 4 + H * (4 + H + 1) +
                     4 * H * (2 * H + 1) + O * H + O;
  int k;
  for (k = 0; k < 1000; k++) {
    hn_net *net = NULL;
    hn_status st = HN_OK;
    int step;
    hn_mem_fail_after(k);
    for (step = 0; step <= 8 && st == HN_OK; step++) st = seq_build_step(&net, step);
    hn_mem_fail_after(-1);
    if (st == HN_OK) {
      assert_int_equal(hn_net_n_params(net), np);
      hn_net_free(net);
      break;
    }
    assert_int_equal(st, HN_ERR_NOMEM);
    step--; /* the step that failed */
    if (step == 0) {
      assert_null(net);
      continue;
    }
    assert_int_equal(hn_net_n_modules(net), step <= 7 ? step - 1 : 7);
    for (; step <= 8; step++) OK(seq_build_step(&net, step));
    assert_int_equal(hn_net_n_params(net), np);
    assert_int_equal(hn_net_seq_len(net), T);
    hn_net_free(net);
  }
  assert_true(k > 8);
}

/* ---- a hypernetwork end to end through an LSTM -------------------------------------------- */

typedef struct hctx {
  seq_case *c;
  hn_hnet *h;
  float *theta, *e, *W;
} hctx;

static double hnet_loss(void *vctx) {
  hctx *k = vctx;
  OK(hn_hnet_forward(k->h, k->theta, k->e, 1, k->W));
  OK(hn_net_forward(k->c->net, k->W, &k->c->x, &k->c->y, &k->c->run));
  return hnt_probe(k->c->dy.data, k->c->y.data, k->c->y.numel);
}

/* W = h(e; θ) (chunked, tanh hidden layers: smooth everywhere) feeds the
 * token net (embedding -> lstm -> last-step head) on ragged lengths; dL/dθ
 * and dL/de by central differences. Nothing has a kink, so eps = 1e-2
 * leaves truncation ~1e-4; the float noise of two float32 networks
 * (~1e-6 in L, ~5e-5 in the quotient) against the 1e-3 floor allows ~5e-2
 * on the smallest gradients: tolerance 5e-2, as test_train.c. Also: the
 * hyperfan-initialised θ generates recurrent weights with about the
 * variance hn_net_init_var asks for (fan-in n_in + hidden). */
static void test_hnet_through_lstm(void **state) {
  (void)state;
  seq_case c;
  case_new(&c, tok_net(true, NB), NB, true, 70);
  int64_t n_w = c.n_w;
  hn_hnet_cfg hc = {.n_out = n_w, .n_emb = 4, .n_hidden = 2, .hidden = {12, 10},
                    .act = HN_ACT_TANH, .chunk = 64, .n_chunk_emb = 3, .max_tasks = 1};
  hn_hnet *h;
  OK(hn_hnet_new(&h, &hc));
  int64_t n_theta = hn_hnet_n_params(h);
  float *theta = falloc(n_theta), *dtheta = falloc(n_theta), *e = falloc(4), *de = falloc(4),
        *W = falloc(n_w), *dW = falloc(n_w), *var = falloc(n_w);
  OK(hn_net_init_var(c.net, NULL, var));
  const hn_layout *lay = hn_net_layout(c.net);
  const hn_layout_entry *ih = hn_layout_find(lay, "1.lstm.weight_ih"),
                        *hh = hn_layout_find(lay, "1.lstm.weight_hh");
  assert_true(var[ih->offset] == 1.0f / (float)(D + H));
  assert_true(var[hh->offset] == 1.0f / (float)(D + H));
  assert_true(var[0] == 1.0f); /* the embedding table */
  hn_rng r;
  hn_rng_init(&r, 71, 0);
  OK(hn_hnet_init(h, theta, var, 1.0f, &r));
  /* mean square of the generated recurrent weights over 32 random tasks */
  double ms = 0;
  int64_t cnt = 0;
  for (int task = 0; task < 32; task++) {
    hn_rng_fill_normal(&r, e, 4, 0, 1);
    OK(hn_hnet_forward(h, theta, e, 1, W));
    for (int64_t i = ih->offset; i < hh->offset + hh->numel; i++, cnt++) ms += (double)W[i] * (double)W[i];
  }
  ms /= (double)cnt;
  double want = 1.0 / (D + H);
  if (!(ms > want / 3 && ms < want * 3))
    fail_msg("generated lstm weights have mean square %.4g, the normal init asks %.4g", ms, want);

  hn_rng_fill_normal(&r, e, 4, 0, 1);
  OK(hn_hnet_forward(h, theta, e, 1, W));
  OK(hn_net_forward(c.net, W, &c.x, &c.y, &c.run));
  OK(hn_net_backward(c.net, W, &c.dy, dW, NULL, &c.run));
  OK(hn_hnet_backward(h, theta, dW, dtheta, de));
  hctx k = {.c = &c, .h = h, .theta = theta, .e = e, .W = W};
  hnt_gradcheck("dL/dθ through the lstm", hnet_loss, &k, theta, dtheta, n_theta, 1e-2f, 200, 1e-3,
                5e-2);
  hnt_gradcheck("dL/de through the lstm", hnet_loss, &k, e, de, 4, 1e-2f, 200, 1e-3, 5e-2);
  /* one whole step (hnet, net, backward both ways) allocates nothing */
  int64_t before = hn_alloc_count();
  memset(dW, 0, (size_t)n_w * 4);
  OK(hn_hnet_forward(h, theta, e, 1, W));
  OK(hn_net_forward(c.net, W, &c.x, &c.y, &c.run));
  OK(hn_net_backward(c.net, W, &c.dy, dW, NULL, &c.run));
  OK(hn_hnet_backward(h, theta, dW, dtheta, de));
  assert_int_equal(hn_alloc_count(), before);
  free(theta);
  free(dtheta);
  free(e);
  free(de);
  free(W);
  free(dW);
  free(var);
  hn_hnet_free(h);
  case_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stack_equals_parts),
      cmocka_unit_test(test_net_gradcheck),
      cmocka_unit_test(test_net_padding),
      cmocka_unit_test(test_no_alloc),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_alloc_failure_injection),
      cmocka_unit_test(test_hnet_through_lstm),
  };
  return cmocka_run_group_tests_name("seqnet", tests, NULL, NULL);
}
