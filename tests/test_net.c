/* test_net.c — the target network: whole-net gradient checks (an MLP and a
 * small convnet with BatchNorm and Dropout), layout, LeNet and ZenkeNet
 * parameter counts, no allocation after finalize, per-task BatchNorm
 * statistics, initialisation variance, batch limits and errors. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *falloc(int64_t n) {
  float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
  assert_non_null(p);
  return p;
}

#define OK(call)                                                        \
  do {                                                                  \
    hn_status st_ = (call);                                             \
    if (st_ != HN_OK) fail_msg("%s failed: %s", #call, hn_errmsg());    \
  } while (0)

static void assert_msg_has(const char *needle) {
  if (!strstr(hn_errmsg(), needle))
    fail_msg("error message \"%s\" does not contain \"%s\"", hn_errmsg(), needle);
}

/* A net with its buffers for batch n: x, y, dy (the probe r), dx, W, dW, stats. */
typedef struct net_case {
  hn_net *net;
  hn_tensor x, y, dy, dx;
  float *w, *dw, *stats, *stats0;
  int64_t n_w, n_s;
  hn_rng rng, rng0;
  hn_run run;
} net_case;

static void case_setup(net_case *c, hn_net *net, int64_t n, bool train, uint64_t seed) {
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
  c->n_s = hn_net_n_stats(net);
  c->w = falloc(c->n_w);
  c->dw = falloc(c->n_w);
  c->stats = falloc(c->n_s);
  c->stats0 = falloc(c->n_s);
  OK(hn_net_init_stats(net, c->stats0));
  hn_rng_init(&c->rng0, seed, 1);
  c->rng = c->rng0;
  OK(hn_net_init(net, c->w, &c->rng));
  hnt_fill_uniform(c->x.data, c->x.numel, -1, 1, seed + 1);
  hnt_fill_uniform(c->dy.data, c->dy.numel, -1, 1, seed + 2);
  c->run = (hn_run){.train = train, .rng = &c->rng, .stats = c->n_s ? c->stats : NULL};
}

static void case_teardown(net_case *c) {
  hn_tensor_release(&c->x);
  hn_tensor_release(&c->y);
  hn_tensor_release(&c->dy);
  hn_tensor_release(&c->dx);
  free(c->w);
  free(c->dw);
  free(c->stats);
  free(c->stats0);
  hn_net_free(c->net);
}

/* Forward from a fixed state (stats and dropout stream reset). */
static void case_forward(net_case *c) {
  if (c->n_s) memcpy(c->stats, c->stats0, (size_t)c->n_s * sizeof(float));
  c->rng = c->rng0;
  OK(hn_net_forward(c->net, c->w, &c->x, &c->y, &c->run));
}

static void case_forward_backward(net_case *c, bool want_dx) {
  case_forward(c);
  memset(c->dw, 0, (size_t)(c->n_w ? c->n_w : 1) * sizeof(float));
  OK(hn_net_backward(c->net, c->w, &c->dy, c->dw, want_dx ? &c->dx : NULL, &c->run));
}

static double case_loss(void *ctx) {
  net_case *c = ctx;
  case_forward(c);
  return hnt_probe(c->dy.data, c->y.data, c->y.numel);
}

/* Central differences that skip coordinates where a ReLU or a max-pool
 * choice flips inside [v - eps, v + eps] (ggml's "kinks skipped"). L is
 * evaluated at v + j·eps/2, j = -2..2. For a smooth function the four
 * sub-interval slopes differ from the central difference by about eps·|f''|;
 * a kink makes one of them jump, and it can move the central difference by
 * as much as that jump. A coordinate is skipped when the slopes spread by
 * more than tol · max(|central|, 1e-3), i.e. when a kink (or float noise on
 * a near-zero gradient) could account for an error above the tolerance. The
 * decision uses only L, never the analytic gradient, so a wrong gradient
 * cannot hide behind a skip. Fails if more than max_skip of the coordinates
 * were skipped, or if the worst symmetric relative error (floor 1e-3) of the
 * others exceeds tol. */
static double gradcheck_kinks(const char *what, net_case *c, float *v, const float *grad,
                              int64_t n, float eps, double tol, double max_skip) {
  hn_rng r;
  hn_rng_init(&r, 777, 2);
  int n_check = n <= 200 ? (int)n : 200, skipped = 0;
  double l0 = case_loss(c), worst = 0;
  int64_t worst_i = -1;
  double worst_a = 0, worst_n = 0;
  for (int k = 0; k < n_check; k++) {
    int64_t i = n <= 200 ? k : hn_rng_below(&r, n);
    float saved = v[i];
    double l[5];
    for (int j = -2; j <= 2; j++) {
      v[i] = saved + (float)j * 0.5f * eps;
      l[j + 2] = j == 0 ? l0 : case_loss(c);
    }
    v[i] = saved; /* exact restore */
    double num = (l[4] - l[0]) / (2.0 * (double)eps), ana = (double)grad[i], spread = 0;
    for (int j = 0; j < 4; j++)
      spread = fmax(spread, fabs((l[j + 1] - l[j]) / (0.5 * (double)eps) - num));
    if (spread > tol * fmax(fabs(num), 1e-3)) {
      skipped++;
      continue;
    }
    double err = fabs(ana - num) / fmax(fabs(ana) + fabs(num), 1e-3);
    if (err > worst || worst_i < 0) worst = err, worst_i = i, worst_a = ana, worst_n = num;
  }
  if (getenv("HNT_VERBOSE"))
    printf("    %s: worst %.3g, %d of %d coordinates skipped at kinks\n", what, worst, skipped,
           n_check);
  if (skipped > max_skip * n_check)
    fail_msg("%s: %d of %d coordinates at kinks", what, skipped, n_check);
  if (worst > tol)
    fail_msg("%s: worst relative error %.3g > %.3g at %lld (analytic %.6g, numeric %.6g)", what,
             worst, tol, (long long)worst_i, worst_a, worst_n);
  return worst;
}

/* ---- networks --------------------------------------------------------------- */

static hn_net *make_mlp(int64_t max_batch) {
  hn_net *net;
  OK(hn_net_new(&net, 1, (int64_t[]){6}, max_batch));
  OK(hn_net_add_linear(net, 8, true));
  OK(hn_net_add_act(net, HN_ACT_TANH, 0));
  OK(hn_net_add_linear(net, 7, true));
  OK(hn_net_add_act(net, HN_ACT_ELU, 1.0f));
  OK(hn_net_add_linear(net, 4, false));
  OK(hn_net_add_act(net, HN_ACT_SIGMOID, 0));
  OK(hn_net_add_linear(net, 3, true));
  OK(hn_net_finalize(net));
  return net;
}

/* conv-bn-relu-maxpool-conv-relu-avgpool-flatten-dropout-linear on 1x6x6.
 * Small on purpose: every first-layer weight moves all ReLU and max-pool
 * decisions of its channel, and the gradient check needs few of them to
 * flip within ±eps. */
static hn_net *make_convnet(int64_t max_batch) {
  hn_net *net;
  OK(hn_net_new(&net, 3, (int64_t[]){1, 6, 6}, max_batch));
  OK(hn_net_add_conv2d(net, 3, 3, 1, 1, true));  /* 3x6x6 */
  OK(hn_net_add_batchnorm(net, 1e-5f, 0.1f));
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_maxpool2d(net, 2, 2));           /* 3x3x3 */
  OK(hn_net_add_conv2d(net, 4, 2, 1, 0, true));  /* 4x2x2 */
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_avgpool2d(net, 2, 1));           /* 4x1x1 */
  OK(hn_net_add_flatten(net));                   /* 4 */
  OK(hn_net_add_dropout(net, 0.3f));
  OK(hn_net_add_linear(net, 3, true));
  OK(hn_net_finalize(net));
  return net;
}

/* The MLP is smooth (tanh, ELU with alpha 1 is C1, sigmoid): truncation
 * error ~eps^2 |f'''|/6 ~ 1e-5, float noise ~1e-5 absolute (modcheck.h's
 * argument with the few outputs of this net): tolerance 1e-2. */
static void test_mlp_gradcheck(void **state) {
  (void)state;
  net_case c;
  case_setup(&c, make_mlp(8), 5, true, 11);
  case_forward_backward(&c, true);
  float *dx = falloc(c.x.numel), *dw = falloc(c.n_w);
  memcpy(dx, c.dx.data, (size_t)c.x.numel * 4);
  memcpy(dw, c.dw, (size_t)c.n_w * 4);
  double e1 =
      hnt_gradcheck("mlp dx", case_loss, &c, c.x.data, dx, c.x.numel, 1e-2f, 200, 1e-3, 1e-2);
  double e2 = hnt_gradcheck("mlp dW", case_loss, &c, c.w, dw, c.n_w, 1e-2f, 200, 1e-3, 1e-2);
  if (getenv("HNT_VERBOSE")) printf("    mlp: worst dx %.3g, dW %.3g\n", e1, e2);
  free(dx);
  free(dw);
  case_teardown(&c);
}

/* The convnet in train mode (batch statistics, a fixed dropout mask) and in
 * eval mode: smooth except at ReLU and max-pool kinks, which gradcheck_kinks
 * skips. Tolerance 3e-2: the whole float32 net carries more rounding noise
 * than one module (every layer rounds, and in train mode BatchNorm makes each
 * input move every output of its channel): the numeric derivative is off by
 * up to ~1.5e-5 absolute (measured), ~1.5e-2 against the 1e-3 floor on
 * near-zero gradients; a wrong gradient shows errors of order 1. Over 40
 * seeds the worst error seen was 1.1e-2 and at most 42% of the coordinates
 * were skipped (11% on average), hence the cap of one half. */
static void test_convnet_gradcheck(void **state) {
  (void)state;
  for (int train = 0; train < 2; train++) {
    net_case c;
    case_setup(&c, make_convnet(6), 2, train, 21 + train);
    hnt_fill_uniform(c.stats0, 3, -0.3f, 0.3f, 5); /* eval: non-trivial running stats */
    hnt_fill_uniform(c.stats0 + 3, 3, 0.5f, 1.5f, 6);
    case_forward_backward(&c, true);
    float *dx = falloc(c.x.numel), *dw = falloc(c.n_w);
    memcpy(dx, c.dx.data, (size_t)c.x.numel * 4);
    memcpy(dw, c.dw, (size_t)c.n_w * 4);
    gradcheck_kinks(train ? "convnet train dx" : "convnet eval dx", &c, c.x.data, dx, c.x.numel,
                    1e-2f, 3e-2, 0.5);
    gradcheck_kinks(train ? "convnet train dW" : "convnet eval dW", &c, c.w, dw, c.n_w, 1e-2f,
                    3e-2, 0.5);
    free(dx);
    free(dw);
    case_teardown(&c);
  }
}

/* Backward accumulates dW (twice = exactly 2x from zero), overwrites dx;
 * dx = NULL gives the same dW; dW = NULL the same dx. */
static void test_backward_semantics(void **state) {
  (void)state;
  net_case c;
  case_setup(&c, make_convnet(6), 4, true, 31);
  case_forward_backward(&c, true);
  float *dx1 = falloc(c.x.numel), *dw1 = falloc(c.n_w);
  memcpy(dx1, c.dx.data, (size_t)c.x.numel * 4);
  memcpy(dw1, c.dw, (size_t)c.n_w * 4);
  hn_tensor_fill(&c.dx, 5.0f);
  OK(hn_net_backward(c.net, c.w, &c.dy, c.dw, &c.dx, &c.run));
  hnt_assert_bytes_equal(c.dx.data, dx1, (size_t)c.x.numel * 4, "dx second pass");
  for (int64_t i = 0; i < c.n_w; i++) {
    float twice = dw1[i] + dw1[i];
    if (memcmp(&twice, &c.dw[i], 4) != 0)
      fail_msg("dW[%lld] after two passes: %.9g, expected %.9g", (long long)i,
               (double)c.dw[i], (double)twice);
  }
  memset(c.dw, 0, (size_t)c.n_w * 4);
  OK(hn_net_backward(c.net, c.w, &c.dy, c.dw, NULL, &c.run));
  hnt_assert_bytes_equal(c.dw, dw1, (size_t)c.n_w * 4, "dW without dx");
  hn_tensor_fill(&c.dx, 5.0f);
  OK(hn_net_backward(c.net, c.w, &c.dy, NULL, &c.dx, &c.run));
  hnt_assert_bytes_equal(c.dx.data, dx1, (size_t)c.x.numel * 4, "dx without dW");
  OK(hn_net_backward(c.net, c.w, &c.dy, NULL, NULL, &c.run));
  free(dx1);
  free(dw1);
  case_teardown(&c);
}

/* Layout: one entry per parameter slice, named index.kind.slice, contiguous,
 * per-module totals equal to the module's n_params. */
static void test_layout(void **state) {
  (void)state;
  hn_net *net = make_convnet(2);
  const hn_layout *l = hn_net_layout(net);
  const char *want[] = {"0.conv2d.weight", "0.conv2d.bias", "1.batchnorm.weight",
                        "1.batchnorm.bias", "4.conv2d.weight", "4.conv2d.bias",
                        "9.linear.weight", "9.linear.bias"};
  const int64_t numel[] = {3 * 1 * 9, 3, 3, 3, 4 * 3 * 4, 4, 3 * 4, 3};
  assert_int_equal(l->n, 8);
  int64_t off = 0;
  for (int i = 0; i < 8; i++) {
    assert_string_equal(l->entries[i].name, want[i]);
    assert_int_equal(l->entries[i].offset, off);
    assert_int_equal(l->entries[i].numel, numel[i]);
    off += numel[i];
  }
  assert_int_equal(l->n_params, off);
  assert_int_equal(hn_net_n_params(net), off);
  const hn_layout_entry *e = hn_layout_find(l, "4.conv2d.weight");
  assert_non_null(e);
  assert_int_equal(e->module, 4);
  assert_true(e->ndim == 4 && e->shape[0] == 4 && e->shape[1] == 3 && e->shape[2] == 2 &&
              e->shape[3] == 2);
  assert_null(hn_layout_find(l, "4.conv2d.nothing"));
  float *w = falloc(off);
  hn_tensor v;
  OK(hn_layout_view(l, e, w, &v));
  assert_true(v.data == w + e->offset && !v.owns && v.numel == 48);
  /* per-module totals against the module names */
  const char *names[] = {"conv2d", "batchnorm", "act", "maxpool2d", "conv2d", "act",
                         "avgpool2d", "flatten", "dropout", "linear"};
  assert_int_equal(hn_net_n_modules(net), 10);
  for (int i = 0; i < 10; i++) assert_string_equal(hn_net_module_name(net, i), names[i]);
  assert_null(hn_net_module_name(net, 10));
  assert_int_equal(hn_net_n_stats(net), 6);
  free(w);
  hn_net_free(net);
  /* the layout on its own: duplicates and long names refused */
  hn_layout lay;
  hn_layout_init(&lay);
  OK(hn_layout_add(&lay, "a", 1, (int64_t[]){3}, -1));
  assert_int_equal(hn_layout_add(&lay, "a", 1, (int64_t[]){3}, -1), HN_ERR_ARG);
  assert_msg_has("already exists");
  char longname[60];
  memset(longname, 'x', 59);
  longname[59] = 0;
  assert_int_equal(hn_layout_add(&lay, longname, 1, (int64_t[]){3}, -1), HN_ERR_ARG);
  assert_int_equal(hn_layout_add(&lay, "b", 2, (int64_t[]){3, -1}, -1), HN_ERR_SHAPE);
  for (int i = 0; i < 20; i++) { /* growth */
    char nm[16];
    snprintf(nm, sizeof nm, "g%d", i);
    OK(hn_layout_add(&lay, nm, 2, (int64_t[]){2, 2}, i));
  }
  assert_int_equal(lay.n, 21);
  assert_int_equal(lay.n_params, 3 + 20 * 4);
  assert_int_equal(hn_layout_find(&lay, "g19")->offset, 3 + 19 * 4);
  hn_layout_release(&lay);
  hn_layout_release(&lay);
}

static hn_net *make_lenet(int64_t max_batch) {
  hn_net *net;
  OK(hn_net_new(&net, 3, (int64_t[]){1, 28, 28}, max_batch));
  OK(hn_net_add_conv2d(net, 20, 5, 1, 0, true)); /* 20x24x24 */
  OK(hn_net_add_maxpool2d(net, 2, 2));           /* 20x12x12 */
  OK(hn_net_add_conv2d(net, 50, 5, 1, 0, true)); /* 50x8x8 */
  OK(hn_net_add_maxpool2d(net, 2, 2));           /* 50x4x4 */
  OK(hn_net_add_flatten(net));                   /* 800 */
  OK(hn_net_add_linear(net, 500, true));
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_linear(net, 10, true));
  OK(hn_net_finalize(net));
  return net;
}

static hn_net *make_zenke(int64_t max_batch) {
  hn_net *net;
  OK(hn_net_new(&net, 3, (int64_t[]){3, 32, 32}, max_batch));
  OK(hn_net_add_conv2d(net, 32, 3, 1, 1, true)); /* 32x32x32 */
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_conv2d(net, 32, 3, 1, 0, true)); /* 32x30x30 */
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_maxpool2d(net, 2, 2));           /* 32x15x15 */
  OK(hn_net_add_dropout(net, 0.25f));
  OK(hn_net_add_conv2d(net, 64, 3, 1, 1, true)); /* 64x15x15 */
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_conv2d(net, 64, 3, 1, 0, true)); /* 64x13x13 */
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_maxpool2d(net, 2, 2));           /* 64x6x6 */
  OK(hn_net_add_dropout(net, 0.25f));
  OK(hn_net_add_flatten(net));                   /* 2304 */
  OK(hn_net_add_linear(net, 512, true));
  OK(hn_net_add_act(net, HN_ACT_RELU, 0));
  OK(hn_net_add_dropout(net, 0.5f));
  OK(hn_net_add_linear(net, 10, true));
  OK(hn_net_finalize(net));
  return net;
}

/* Forward + backward on a real-size net; the loss gradient is finite and not
 * all zero, and dx reaches the input. */
static void run_big(hn_net *net, int64_t n, bool train) {
  net_case c;
  case_setup(&c, net, n, train, 41);
  case_forward_backward(&c, true);
  assert_true(hn_ops_all_finite(c.y.data, c.y.numel));
  assert_true(hn_ops_all_finite(c.dw, c.n_w));
  assert_true(hn_ops_sqnorm(c.dw, c.n_w) > 0);
  assert_true(hn_ops_sqnorm(c.dx.data, c.dx.numel) > 0);
  case_teardown(&c);
}

static void test_lenet(void **state) {
  (void)state;
  hn_net *net = make_lenet(16);
  int64_t conv1 = 20 * 1 * 5 * 5 + 20;    /*    520 */
  int64_t conv2 = 50 * 20 * 5 * 5 + 50;   /*  25050 */
  int64_t fc1 = 800 * 500 + 500;          /* 400500 */
  int64_t fc2 = 500 * 10 + 10;            /*   5010 */
  assert_int_equal(conv1 + conv2 + fc1 + fc2, 431080);
  assert_int_equal(hn_net_n_params(net), 431080);
  int64_t out[3];
  assert_int_equal(hn_net_out_shape(net, out), 1);
  assert_int_equal(out[0], 10);
  /* multiply-adds: 20*24*24*25 + 50*8*8*500 + 800*500 + 500*10 */
  assert_int_equal(hn_net_flops_per_sample(net), 288000 + 1600000 + 400000 + 5000);
  assert_true(hn_net_ws_bytes(net) > 0);
  run_big(net, 8, true);
}

static void test_zenkenet(void **state) {
  (void)state;
  hn_net *net = make_zenke(8);
  int64_t c1 = 32 * 3 * 9 + 32;           /*     896 */
  int64_t c2 = 32 * 32 * 9 + 32;          /*    9248 */
  int64_t c3 = 64 * 32 * 9 + 64;          /*   18496 */
  int64_t c4 = 64 * 64 * 9 + 64;          /*   36928 */
  int64_t f1 = 2304 * 512 + 512;          /* 1180160 */
  int64_t f2 = 512 * 10 + 10;             /*    5130 */
  assert_int_equal(c1 + c2 + c3 + c4 + f1 + f2, 1250858);
  assert_int_equal(hn_net_n_params(net), 1250858);
  assert_int_equal(hn_net_flops_per_sample(net),
                   32 * 32 * 32 * 27 + 32 * 30 * 30 * 288 + 64 * 15 * 15 * 288 +
                       64 * 13 * 13 * 576 + 2304 * 512 + 5120);
  int64_t out[3];
  assert_int_equal(hn_net_out_shape(net, out), 1);
  assert_int_equal(out[0], 10);
  run_big(net, 4, true);
}

/* After finalize, forward and backward never allocate. */
static void test_no_alloc_after_finalize(void **state) {
  (void)state;
  net_case c;
  case_setup(&c, make_convnet(8), 8, true, 51);
  net_case m;
  case_setup(&m, make_mlp(8), 3, false, 52);
  int64_t before = hn_alloc_count();
  for (int step = 0; step < 3; step++) {
    int64_t n = step == 1 ? 5 : 8; /* a smaller batch uses a prefix */
    hn_tensor xv, yv, dyv, dxv;
    OK(hn_tensor_view_rows(&xv, &c.x, 0, n));
    OK(hn_tensor_view_rows(&yv, &c.y, 0, n));
    OK(hn_tensor_view_rows(&dyv, &c.dy, 0, n));
    OK(hn_tensor_view_rows(&dxv, &c.dx, 0, n));
    memset(c.dw, 0, (size_t)c.n_w * 4);
    OK(hn_net_forward(c.net, c.w, &xv, &yv, &c.run));
    OK(hn_net_backward(c.net, c.w, &dyv, c.dw, &dxv, &c.run));
    case_forward_backward(&m, false);
  }
  assert_int_equal(hn_alloc_count(), before);
  case_teardown(&c);
  case_teardown(&m);
}

/* A prefix batch gives the rows of the full batch (eval mode: rows are
 * independent). GEMM may block differently for another row count: 1e-5. */
static void test_smaller_batch_prefix(void **state) {
  (void)state;
  net_case c;
  case_setup(&c, make_convnet(8), 8, false, 61);
  case_forward(&c);
  float *full = falloc(c.y.numel);
  memcpy(full, c.y.data, (size_t)c.y.numel * 4);
  hn_tensor x3, y3;
  OK(hn_tensor_view_rows(&x3, &c.x, 0, 3));
  OK(hn_tensor_view_rows(&y3, &c.y, 0, 3));
  hn_tensor_fill(&y3, 0.0f);
  OK(hn_net_forward(c.net, c.w, &x3, &y3, &c.run));
  hnt_assert_close(y3.data, full, y3.numel, 1e-5, 1e-6, "prefix batch");
  /* batch > max_batch */
  hn_tensor xb, yb;
  OK(hn_tensor_init(&xb, 4, (int64_t[]){9, 1, 6, 6}));
  OK(hn_tensor_init(&yb, 2, (int64_t[]){9, 3}));
  hn_tensor_fill(&yb, 7.0f);
  assert_int_equal(hn_net_forward(c.net, c.w, &xb, &yb, &c.run), HN_ERR_SHAPE);
  assert_msg_has("max_batch");
  assert_msg_has("[9, 1, 6, 6]");
  for (int i = 0; i < 27; i++) assert_true(yb.data[i] == 7.0f);
  hn_tensor_release(&xb);
  hn_tensor_release(&yb);
  free(full);
  case_teardown(&c);
}

/* Per-task BatchNorm statistics: train on task A's vector changes only it;
 * eval with A's and B's vectors gives different outputs. */
static void test_per_task_stats(void **state) {
  (void)state;
  net_case c;
  case_setup(&c, make_convnet(8), 8, true, 71);
  int64_t ns = c.n_s;
  assert_int_equal(ns, 6);
  float *sa = falloc(ns), *sb = falloc(ns), *sb0 = falloc(ns), *sa0 = falloc(ns);
  OK(hn_net_init_stats(c.net, sa));
  OK(hn_net_init_stats(c.net, sb));
  for (int i = 0; i < 3; i++) assert_true(sa[i] == 0.0f && sa[3 + i] == 1.0f);
  memcpy(sb0, sb, (size_t)ns * 4);
  memcpy(sa0, sa, (size_t)ns * 4);
  hn_ops_scale(c.x.data, 3.0f, c.x.numel); /* batch statistics far from (0, 1) */
  hn_run ra = {.train = true, .rng = &c.rng, .stats = sa};
  for (int step = 0; step < 3; step++) OK(hn_net_forward(c.net, c.w, &c.x, &c.y, &ra));
  hnt_assert_bytes_equal(sb, sb0, (size_t)ns * 4, "task B stats after training on A");
  assert_true(memcmp(sa, sa0, (size_t)ns * 4) != 0);
  hn_run ea = {.train = false, .stats = sa}, eb = {.train = false, .stats = sb};
  float *ya = falloc(c.y.numel);
  OK(hn_net_forward(c.net, c.w, &c.x, &c.y, &ea));
  memcpy(ya, c.y.data, (size_t)c.y.numel * 4);
  OK(hn_net_forward(c.net, c.w, &c.x, &c.y, &eb));
  assert_true(memcmp(ya, c.y.data, (size_t)c.y.numel * 4) != 0);
  hnt_assert_bytes_equal(sb, sb0, (size_t)ns * 4, "eval leaves stats alone");
  /* no stats with BatchNorm: refused, y untouched */
  hn_tensor_fill(&c.y, 4.0f);
  hn_run none = {.train = false};
  assert_int_equal(hn_net_forward(c.net, c.w, &c.x, &c.y, &none), HN_ERR_ARG);
  assert_msg_has("stats");
  assert_int_equal(hn_net_forward(c.net, c.w, &c.x, &c.y, NULL), HN_ERR_ARG);
  for (int64_t i = 0; i < c.y.numel; i++) assert_true(c.y.data[i] == 4.0f);
  free(sa), free(sb), free(sa0), free(sb0), free(ya);
  case_teardown(&c);
}

/* The net is the composition of its modules: run the modules by hand with
 * the layout's weight offsets and each BatchNorm's stats offset (two
 * BatchNorms, so the second sits at 2c of the first) and compare y and the
 * updated running statistics bitwise. */
static void test_net_equals_modules(void **state) {
  (void)state;
  hn_net *net;
  OK(hn_net_new(&net, 1, (int64_t[]){5}, 4));
  OK(hn_net_add_linear(net, 4, true));
  OK(hn_net_add_batchnorm(net, 1e-5f, 0.1f));
  OK(hn_net_add_act(net, HN_ACT_TANH, 0));
  OK(hn_net_add_linear(net, 3, true));
  OK(hn_net_add_batchnorm(net, 1e-3f, 0.2f));
  OK(hn_net_finalize(net));
  assert_int_equal(hn_net_n_stats(net), 8 + 6);
  net_case c;
  case_setup(&c, net, 4, true, 91);
  hnt_fill_uniform(c.stats0, 14, 0.5f, 1.5f, 92);
  case_forward(&c);
  const hn_layout *l = hn_net_layout(net);
  hn_linear l1 = {.n_in = 5, .n_out = 4, .bias = true}, l2 = {.n_in = 4, .n_out = 3, .bias = true};
  hn_batchnorm b1 = {.c = 4, .eps = 1e-5f, .momentum = 0.1f};
  hn_batchnorm b2 = {.c = 3, .eps = 1e-3f, .momentum = 0.2f};
  hn_act th = {HN_ACT_TANH, 0};
  hn_tensor h1, h2, h3, h4, y;
  OK(hn_tensor_init(&h1, 2, (int64_t[]){4, 4}));
  OK(hn_tensor_init(&h2, 2, (int64_t[]){4, 4}));
  OK(hn_tensor_init(&h3, 2, (int64_t[]){4, 4}));
  OK(hn_tensor_init(&h4, 2, (int64_t[]){4, 3}));
  OK(hn_tensor_init(&y, 2, (int64_t[]){4, 3}));
  float ws[64], stats[14];
  memcpy(stats, c.stats0, sizeof stats);
  hn_run r1 = {.train = true, .stats = stats}, r2 = {.train = true, .stats = stats + 8};
#define W_AT(name) (c.w + hn_layout_find(l, name)->offset)
  OK(hn_linear_vt.forward(&l1, W_AT("0.linear.weight"), &c.x, &h1, NULL, &r1));
  OK(hn_batchnorm_vt.forward(&b1, W_AT("1.batchnorm.weight"), &h1, &h2, ws, &r1));
  OK(hn_act_vt.forward(&th, NULL, &h2, &h3, NULL, &r1));
  OK(hn_linear_vt.forward(&l2, W_AT("3.linear.weight"), &h3, &h4, NULL, &r2));
  OK(hn_batchnorm_vt.forward(&b2, W_AT("4.batchnorm.weight"), &h4, &y, ws, &r2));
#undef W_AT
  hnt_assert_bytes_equal(c.y.data, y.data, sizeof(float) * 12, "net y vs modules");
  hnt_assert_bytes_equal(c.stats, stats, sizeof stats, "net stats vs modules");
  hn_tensor_release(&h1), hn_tensor_release(&h2), hn_tensor_release(&h3);
  hn_tensor_release(&h4), hn_tensor_release(&y);
  case_teardown(&c);
}

/* hn_net_init: per-slice empirical mean and variance match init_var. */
static void test_init_variance(void **state) {
  (void)state;
  hn_net *net;
  OK(hn_net_new(&net, 3, (int64_t[]){16, 10, 10}, 2));
  OK(hn_net_add_conv2d(net, 64, 3, 1, 1, true));
  OK(hn_net_add_batchnorm(net, 1e-5f, 0.1f));
  OK(hn_net_add_flatten(net));
  OK(hn_net_add_linear(net, 300, true));
  OK(hn_net_finalize(net));
  int64_t n = hn_net_n_params(net);
  float *w = falloc(n), *mean = falloc(n), *var = falloc(n);
  hn_rng r;
  hn_rng_init(&r, 5, 0);
  OK(hn_net_init(net, w, &r));
  OK(hn_net_init_var(net, mean, var));
  const hn_layout *l = hn_net_layout(net);
  for (int e = 0; e < l->n; e++) {
    const hn_layout_entry *en = &l->entries[e];
    double s = 0, sq = 0;
    for (int64_t i = en->offset; i < en->offset + en->numel; i++) s += (double)w[i];
    double mu = s / (double)en->numel;
    for (int64_t i = en->offset; i < en->offset + en->numel; i++)
      sq += ((double)w[i] - mu) * ((double)w[i] - mu);
    double v = sq / (double)(en->numel - 1), want = (double)var[en->offset];
    /* the sample variance has relative sd sqrt(2/n); allow 5 sd */
    double rel = 5.0 * sqrt(2.0 / (double)en->numel);
    if (fabs(v / want - 1.0) > rel)
      fail_msg("%s: empirical variance %.4g, init_var %.4g", en->name, v, want);
    if (fabs(mu) > 5.0 * sqrt(want / (double)en->numel))
      fail_msg("%s: empirical mean %.4g", en->name, mu);
  }
  /* the expected values themselves */
  assert_true(var[0] == 1.0f / 144.0f);                                /* conv fan_in 16*9 */
  assert_true(var[hn_layout_find(l, "3.linear.weight")->offset] == 1.0f / 6400.0f);
  assert_true(var[hn_layout_find(l, "1.batchnorm.weight")->offset] == 0.01f);
  /* init_var with mean = NULL, and the fan-out mode set before finalize */
  OK(hn_net_init_var(net, NULL, var));
  assert_int_equal(hn_net_set_fan_mode(net, true), HN_ERR_STATE);
  free(w), free(mean), free(var);
  hn_net_free(net);
  OK(hn_net_new(&net, 1, (int64_t[]){40}, 2));
  OK(hn_net_add_linear(net, 10, true));
  OK(hn_net_set_fan_mode(net, true));
  OK(hn_net_add_linear(net, 5, true));
  OK(hn_net_finalize(net));
  float v2[410 + 55];
  OK(hn_net_init_var(net, NULL, v2));
  assert_true(v2[0] == 1.0f / 10.0f);   /* fan_out of the first layer */
  assert_true(v2[400] == 1.0f / 120.0f); /* its bias keeps 1/(3 fan_in) */
  assert_true(v2[410] == 1.0f / 5.0f);
  hn_net_free(net);
}

/* Allocation-failure injection: building a net with the k-th allocation
 * failing returns HN_ERR_NOMEM from that step, leaves the net as it was
 * (same module and parameter counts; the build can be resumed), and leaks
 * nothing (ASan in `make test SAN=1`). */
static hn_status build_step(hn_net **net, int step) {
  switch (step) {
    case 0: return hn_net_new(net, 3, (int64_t[]){1, 6, 6}, 4);
    case 1: return hn_net_add_conv2d(*net, 3, 3, 1, 1, true);
    case 2: return hn_net_add_batchnorm(*net, 1e-5f, 0.1f);
    case 3: return hn_net_add_act(*net, HN_ACT_RELU, 0);
    case 4: return hn_net_add_maxpool2d(*net, 2, 2);
    case 5: return hn_net_add_flatten(*net);
    case 6: return hn_net_add_dropout(*net, 0.5f);
    case 7: return hn_net_add_linear(*net, 7, true);
    case 8: return hn_net_add_linear(*net, 3, true);
    default: return hn_net_finalize(*net);
  }
}

static void test_alloc_failure_injection(void **state) {
  (void)state;
  int k;
  for (k = 0; k < 1000; k++) {
    hn_net *net = NULL;
    hn_status st = HN_OK;
    int step;
    hn_mem_fail_after(k);
    for (step = 0; step <= 9 && st == HN_OK; step++) st = build_step(&net, step);
    hn_mem_fail_after(-1);
    if (st == HN_OK) {
      assert_int_equal(hn_net_n_params(net), 30 + 6 + 27 * 7 + 7 + 7 * 3 + 3);
      hn_net_free(net);
      break;
    }
    assert_int_equal(st, HN_ERR_NOMEM);
    assert_msg_has("allocate");
    step--; /* the step that failed */
    if (step == 0) {
      assert_null(net);
      continue;
    }
    /* unchanged: steps 1..step-1 are in, and the build resumes */
    assert_int_equal(hn_net_n_modules(net), step <= 8 ? step - 1 : 8);
    for (; step <= 9; step++) OK(build_step(&net, step));
    assert_int_equal(hn_net_n_params(net), 30 + 6 + 27 * 7 + 7 + 7 * 3 + 3);
    hn_net_free(net);
  }
  assert_true(k > 10); /* every allocation site was made to fail once */
}

static void test_errors(void **state) {
  (void)state;
  hn_net *net;
  assert_int_equal(hn_net_new(&net, 0, (int64_t[]){1}, 4), HN_ERR_SHAPE);
  assert_int_equal(hn_net_new(&net, 1, (int64_t[]){0}, 4), HN_ERR_SHAPE);
  assert_int_equal(hn_net_new(&net, 1, (int64_t[]){5}, 0), HN_ERR_ARG);
  assert_msg_has("max_batch");
  OK(hn_net_new(&net, 3, (int64_t[]){1, 8, 8}, 4));
  assert_int_equal(hn_net_finalize(net), HN_ERR_STATE); /* no modules */
  assert_int_equal(hn_net_add_linear(net, 10, true), HN_ERR_SHAPE);
  assert_msg_has("flatten");
  assert_int_equal(hn_net_add_conv2d(net, 4, 9, 1, 0, true), HN_ERR_SHAPE); /* 9 > 8 */
  assert_msg_has("conv2d");
  assert_int_equal(hn_net_add_maxpool2d(net, 0, 1), HN_ERR_ARG);
  assert_int_equal(hn_net_add_dropout(net, 1.5f), HN_ERR_ARG);
  assert_int_equal(hn_net_n_modules(net), 0); /* failed adds left nothing */
  assert_int_equal(hn_net_n_params(net), 0);
  OK(hn_net_add_conv2d(net, 2, 3, 1, 1, false));
  OK(hn_net_add_flatten(net));
  OK(hn_net_add_linear(net, 3, true));
  int64_t in[3];
  assert_int_equal(hn_net_in_shape(net, in), 3);
  assert_true(in[0] == 1 && in[1] == 8 && in[2] == 8);
  hn_tensor x, y, dy;
  OK(hn_tensor_init(&x, 4, (int64_t[]){2, 1, 8, 8}));
  OK(hn_tensor_init(&y, 2, (int64_t[]){2, 3}));
  OK(hn_tensor_init(&dy, 2, (int64_t[]){2, 3}));
  float *w = falloc(hn_net_n_params(net));
  assert_int_equal(hn_net_forward(net, w, &x, &y, NULL), HN_ERR_STATE); /* not finalized */
  OK(hn_net_finalize(net));
  assert_int_equal(hn_net_finalize(net), HN_ERR_STATE);
  assert_int_equal(hn_net_add_act(net, HN_ACT_RELU, 0), HN_ERR_STATE);
  assert_int_equal(hn_net_backward(net, w, &dy, NULL, NULL, NULL), HN_ERR_STATE); /* no forward */
  /* wrong x: shape error naming both shapes, y untouched */
  hn_tensor xb;
  OK(hn_tensor_init(&xb, 4, (int64_t[]){2, 1, 8, 7}));
  hn_tensor_fill(&y, 6.0f);
  assert_int_equal(hn_net_forward(net, w, &xb, &y, NULL), HN_ERR_SHAPE);
  assert_msg_has("[2, 1, 8, 7]");
  assert_msg_has("[2, 1, 8, 8]");
  for (int i = 0; i < 6; i++) assert_true(y.data[i] == 6.0f);
  assert_int_equal(hn_net_forward(net, NULL, &x, &y, NULL), HN_ERR_ARG);
  OK(hn_net_forward(net, w, &x, &y, NULL));
  /* wrong dy and dx */
  hn_tensor dyb;
  OK(hn_tensor_init(&dyb, 2, (int64_t[]){3, 3}));
  assert_int_equal(hn_net_backward(net, w, &dyb, NULL, NULL, NULL), HN_ERR_SHAPE);
  assert_msg_has("[2, 3]");
  assert_int_equal(hn_net_backward(net, w, &dy, NULL, &xb, NULL), HN_ERR_SHAPE);
  /* dropout in train mode without a stream */
  hn_tensor_release(&x), hn_tensor_release(&y), hn_tensor_release(&dy);
  hn_tensor_release(&xb), hn_tensor_release(&dyb);
  free(w);
  hn_net_free(net);
  net_case c;
  case_setup(&c, make_convnet(4), 4, true, 81);
  hn_run r = {.train = true, .rng = NULL, .stats = c.stats};
  assert_int_equal(hn_net_forward(c.net, c.w, &c.x, &c.y, &r), HN_ERR_ARG);
  assert_msg_has("dropout");
  /* a batch of one cannot be batch-normalised in train mode */
  hn_tensor x1, y1;
  OK(hn_tensor_view_rows(&x1, &c.x, 0, 1));
  OK(hn_tensor_view_rows(&y1, &c.y, 0, 1));
  memcpy(c.stats, c.stats0, (size_t)c.n_s * 4);
  r.rng = &c.rng;
  /* 1 x 6 x 6 values per channel: fine even for one sample */
  OK(hn_net_forward(c.net, c.w, &x1, &y1, &r));
  case_teardown(&c);
  OK(hn_net_new(&net, 1, (int64_t[]){5}, 4));
  OK(hn_net_add_batchnorm(net, 1e-5f, 0.1f));
  OK(hn_net_finalize(net));
  float st[10];
  OK(hn_net_init_stats(net, st));
  OK(hn_tensor_init(&x, 2, (int64_t[]){1, 5}));
  OK(hn_tensor_init(&y, 2, (int64_t[]){1, 5}));
  float bw[10] = {0};
  hn_run rt = {.train = true, .stats = st};
  assert_int_equal(hn_net_forward(net, bw, &x, &y, &rt), HN_ERR_SHAPE);
  assert_msg_has("more than one value per channel");
  hn_tensor_release(&x), hn_tensor_release(&y);
  hn_net_free(net);
  hn_net_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_gradcheck),
      cmocka_unit_test(test_convnet_gradcheck),
      cmocka_unit_test(test_backward_semantics),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_lenet),
      cmocka_unit_test(test_zenkenet),
      cmocka_unit_test(test_no_alloc_after_finalize),
      cmocka_unit_test(test_smaller_batch_prefix),
      cmocka_unit_test(test_per_task_stats),
      cmocka_unit_test(test_net_equals_modules),
      cmocka_unit_test(test_init_variance),
      cmocka_unit_test(test_alloc_failure_injection),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
