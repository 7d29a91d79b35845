/* test_train.c — end to end: a chunked hypernetwork generates the weights of
 * an MLP; the target cross-entropy is differentiated back through W to θ and
 * the task embedding; the pair learns two interleaved moons; runs repeat bit
 * for bit; a whole training step allocates nothing. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- a small training set-up ------------------------------------------------------ */

typedef struct rig {
  hn_net *net;
  hn_hnet *h;
  hn_optim *opt;
  int64_t n_w, n_theta, n_emb, n;      /* |W|, |θ|, |e|, samples */
  float *p, *g;                       /* parameters [θ, e] and their gradient */
  float *W, *dW;
  hn_tensor x, y, logits, dlogits;
  hn_rng rng;
} rig;

/* MLP n_in-hidden...-n_cls with ReLU, chunked hypernetwork (ELU), θ by
 * hyperfan, e ~ N(0, 1). The optimiser runs over [θ, e] as one vector. */
static void rig_new(rig *r, int64_t n, int64_t n_in, int n_hid, const int64_t *hid, int64_t n_cls,
                    int64_t chunk, const hn_optim_cfg *ocfg, uint64_t seed) {
  memset(r, 0, sizeof *r);
  r->n = n;
  assert_int_equal(hn_net_new(&r->net, 1, (int64_t[]){n_in}, n), HN_OK);
  for (int l = 0; l < n_hid; l++) {
    assert_int_equal(hn_net_add_linear(r->net, hid[l], true), HN_OK);
    assert_int_equal(hn_net_add_act(r->net, HN_ACT_RELU, 0), HN_OK);
  }
  assert_int_equal(hn_net_add_linear(r->net, n_cls, true), HN_OK);
  assert_int_equal(hn_net_finalize(r->net), HN_OK);
  r->n_w = hn_net_n_params(r->net);
  r->n_emb = 8;
  hn_hnet_cfg hc = {.n_out = r->n_w, .n_emb = r->n_emb, .n_hidden = 2, .hidden = {24, 24},
                    .act = HN_ACT_ELU, .act_alpha = 1, .chunk = chunk, .n_chunk_emb = 6,
                    .max_tasks = 1};
  assert_int_equal(hn_hnet_new(&r->h, &hc), HN_OK);
  r->n_theta = hn_hnet_n_params(r->h);
  int64_t np = r->n_theta + r->n_emb;
  r->p = hn_calloc(sizeof(float) * (size_t)np);
  r->g = hn_calloc(sizeof(float) * (size_t)np);
  r->W = hn_calloc(sizeof(float) * (size_t)r->n_w);
  r->dW = hn_calloc(sizeof(float) * (size_t)r->n_w);
  float *var = hn_alloc(sizeof(float) * (size_t)r->n_w);
  assert_int_equal(hn_net_init_var(r->net, NULL, var), HN_OK);
  hn_rng_init(&r->rng, seed, 0);
  assert_int_equal(hn_hnet_init(r->h, r->p, var, 1.0f, &r->rng), HN_OK);
  hn_rng_fill_normal(&r->rng, r->p + r->n_theta, r->n_emb, 0, 1);
  hn_free(var);
  assert_int_equal(hn_optim_new(&r->opt, np, ocfg), HN_OK);
  assert_int_equal(hn_tensor_init(&r->x, 2, (int64_t[]){n, n_in}), HN_OK);
  assert_int_equal(hn_tensor_init(&r->y, 1, (int64_t[]){n}), HN_OK);
  assert_int_equal(hn_tensor_init(&r->logits, 2, (int64_t[]){n, n_cls}), HN_OK);
  assert_int_equal(hn_tensor_init(&r->dlogits, 2, (int64_t[]){n, n_cls}), HN_OK);
}

static void rig_free(rig *r) {
  hn_net_free(r->net);
  hn_hnet_free(r->h);
  hn_optim_free(r->opt);
  hn_free(r->p);
  hn_free(r->g);
  hn_free(r->W);
  hn_free(r->dW);
  hn_tensor_release(&r->x);
  hn_tensor_release(&r->y);
  hn_tensor_release(&r->logits);
  hn_tensor_release(&r->dlogits);
}

/* Loss at the current parameters; with grad, also g = dL/d[θ, e]. */
static float rig_loss(rig *r, bool grad) {
  hn_run run = {.train = true, .rng = &r->rng};
  float loss = 0;
  assert_int_equal(hn_hnet_forward(r->h, r->p, r->p + r->n_theta, 1, r->W), HN_OK);
  assert_int_equal(hn_net_forward(r->net, r->W, &r->x, &r->logits, &run), HN_OK);
  assert_int_equal(hn_loss_xent(&r->logits, &r->y, NULL, &loss, grad ? &r->dlogits : NULL),
                   HN_OK);
  if (!grad) return loss;
  memset(r->dW, 0, sizeof(float) * (size_t)r->n_w);
  memset(r->g, 0, sizeof(float) * (size_t)(r->n_theta + r->n_emb));
  assert_int_equal(hn_net_backward(r->net, r->W, &r->dlogits, r->dW, NULL, &run), HN_OK);
  assert_int_equal(hn_hnet_backward(r->h, r->p, r->dW, r->g, r->g + r->n_theta), HN_OK);
  return loss;
}

/* One training step: hnet forward, net forward, loss, net backward, hnet
 * backward, optimiser step. */
static float rig_step(rig *r) {
  float loss = rig_loss(r, true);
  assert_int_equal(hn_optim_step(r->opt, r->p, r->g), HN_OK);
  return loss;
}

static double rig_accuracy(rig *r) {
  (void)rig_loss(r, false);
  int64_t nc = 0;
  assert_int_equal(hn_loss_accuracy(&r->logits, &r->y, NULL, &nc), HN_OK);
  return (double)nc / (double)r->n;
}

/* Two interleaving half circles (scikit-learn's make_moons): n/2 points
 * (cos t, sin t) with label 0 and n/2 points (1 - cos t, 0.5 - sin t) with
 * label 1, t evenly spaced in [0, π], plus N(0, noise^2) on each coordinate;
 * rows shuffled. */
static void make_moons(hn_tensor *x, hn_tensor *y, int64_t n, float noise, uint64_t seed) {
  hn_rng rng;
  hn_rng_init(&rng, seed, 3);
  int64_t *perm = hn_alloc(sizeof(int64_t) * (size_t)n);
  hn_rng_permutation(&rng, perm, n);
  int64_t half = n / 2;
  for (int64_t i = 0; i < n; i++) {
    bool inner = i >= half;
    int64_t k = inner ? i - half : i, m = inner ? n - half : half;
    double t = m > 1 ? M_PI * (double)k / (double)(m - 1) : 0.0;
    double a = inner ? 1.0 - cos(t) : cos(t);
    double b = inner ? 0.5 - sin(t) : sin(t);
    int64_t row = perm[i];
    x->data[2 * row] = (float)a + noise * hn_rng_normal(&rng);
    x->data[2 * row + 1] = (float)b + noise * hn_rng_normal(&rng);
    y->data[row] = inner ? 1.0f : 0.0f;
  }
  hn_free(perm);
}

/* ---- (1) gradient of the target loss back to θ and e ------------------------------- */

typedef struct grad_ctx {
  rig *r;
  const hn_layout_entry *w1, *b1; /* the first Linear's slices of W */
  int64_t hid;
  uint8_t *sign0;                 /* ReLU input signs at the base point */
} grad_ctx;

/* Signs of the first hidden layer's pre-activations z = x W1^T + b1, computed
 * here from the generated W (in double). */
static void relu_signs(const grad_ctx *c, uint8_t *s) {
  const rig *r = c->r;
  int64_t n_in = r->x.shape[1];
  for (int64_t i = 0; i < r->n; i++)
    for (int64_t o = 0; o < c->hid; o++) {
      double z = r->W[c->b1->offset + o];
      for (int64_t k = 0; k < n_in; k++)
        z += (double)r->W[c->w1->offset + o * n_in + k] * (double)r->x.data[i * n_in + k];
      s[i * c->hid + o] = z > 0;
    }
}

static double grad_fn(void *vctx) {
  grad_ctx *c = vctx;
  float loss = rig_loss(c->r, false);
  uint8_t s[64 * 16];
  relu_signs(c, s);
  if (memcmp(s, c->sign0, (size_t)(c->r->n * c->hid)) != 0)
    fail_msg("a perturbation moved a ReLU input of the target net across 0: the central "
             "difference straddles a kink; use a smaller eps for this tensor");
  return loss;
}

static void test_gradient_through_w(void **state) {
  (void)state;
  /* MLP 3-8-3 (ReLU), 59 weights, generated in chunks of 16 (the last
   * truncated to 11); 6 samples. */
  rig r;
  hn_optim_cfg oc = hn_optim_defaults(HN_OPTIM_ADAM);
  int64_t hid[1] = {8};
  rig_new(&r, 6, 3, 1, hid, 3, 16, &oc, 7);
  assert_int_equal(r.n_w, 59);
  assert_int_equal(hn_hnet_n_chunks(r.h), 4);
  hnt_fill_normal(r.x.data, r.x.numel, 1.0f, 8);
  for (int i = 0; i < 6; i++) r.y.data[i] = (float)(i % 3);
  float loss = rig_loss(&r, true);
  assert_true(isfinite(loss) && loss > 0);

  grad_ctx c = {&r, hn_layout_find(hn_net_layout(r.net), "0.linear.weight"),
                hn_layout_find(hn_net_layout(r.net), "0.linear.bias"), 8, NULL};
  assert_non_null(c.w1);
  assert_non_null(c.b1);
  uint8_t s0[64 * 16];
  relu_signs(&c, s0);
  c.sign0 = s0;
  /* eps = 1e-2: the loss is an O(1) float computed through two float32
   * networks, with rounding noise ~1e-7..1e-6, i.e. up to ~5e-5 in the
   * difference quotient against gradients O(0.003..0.6) and the 1e-3 floor
   * (eps = 1e-3 would make that noise 10x larger); truncation O(eps^2).
   * The perturbations must not move a ReLU input of the target net across 0
   * (grad_fn fails if one does). The hypernetwork's output layer maps
   * straight into W with gradients O(0.1..1), so there eps = 1e-2 would
   * cross kinks; eps = 1e-3 is safe and its noise (~5e-5) negligible against
   * those gradients. That noise against the floor allows errors up to
   * ~5e-2 on the smallest gradients (the worst seen is ~1.3e-2): tol 5e-2. */
  const hn_layout *lay = hn_hnet_layout(r.h);
  char what[80];
  for (int i = 0; i < lay->n; i++) {
    const hn_layout_entry *en = &lay->entries[i];
    snprintf(what, sizeof what, "dL/d%s through W", en->name);
    float eps = en->module == hn_hnet_config(r.h)->n_hidden ? 1e-3f : 1e-2f;
    hnt_gradcheck(what, grad_fn, &c, r.p + en->offset, r.g + en->offset, en->numel, eps, 200,
                  1e-3, 5e-2);
  }
  hnt_gradcheck("dL/de through W", grad_fn, &c, r.p + r.n_theta, r.g + r.n_theta, r.n_emb, 1e-2f,
                200, 1e-3, 5e-2);
  rig_free(&r);
}

/* ---- (2) learning: two moons ----------------------------------------------------------- */

static void test_learns_two_moons(void **state) {
  (void)state;
  rig r;
  hn_optim_cfg oc = hn_optim_defaults(HN_OPTIM_ADAM); /* lr 1e-3, the paper's */
  int64_t hid[2] = {32, 32};
  rig_new(&r, 400, 2, 2, hid, 2, 300, &oc, 11);
  assert_int_equal(r.n_w, 2 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2);
  assert_int_equal(hn_hnet_n_chunks(r.h), 5);
  make_moons(&r.x, &r.y, 400, 0.1f, 12);
  double acc0 = rig_accuracy(&r);
  float first = rig_step(&r), last = first;
  double acc = 0;
  int steps = 0;
  for (; steps < 3000; steps++) {
    last = rig_step(&r);
    if (steps % 100 == 99 && (acc = rig_accuracy(&r)) >= 0.97) break;
  }
  acc = rig_accuracy(&r);
  print_message("two moons: accuracy %.3f -> %.3f after %d Adam steps (loss %.4g -> %.4g)\n",
                acc0, acc, steps + 2, (double)first, (double)last);
  assert_true(acc >= 0.95);
  assert_true(last < first);
  rig_free(&r);
}

/* ---- (3) repeatability and threads -------------------------------------------------------- */

static void run_steps(rig *r, int k) {
  for (int i = 0; i < k; i++) (void)rig_step(r);
}

static void test_repeatable(void **state) {
  (void)state;
  int64_t hid[2] = {32, 32};
  hn_optim_cfg adam = hn_optim_defaults(HN_OPTIM_ADAM);
  int saved = hn_threads_get();
  /* Same seed, same thread count: identical bytes of θ after 20 steps. */
  rig a, b;
  rig_new(&a, 400, 2, 2, hid, 2, 300, &adam, 21);
  rig_new(&b, 400, 2, 2, hid, 2, 300, &adam, 21);
  make_moons(&a.x, &a.y, 400, 0.1f, 22);
  make_moons(&b.x, &b.y, 400, 0.1f, 22);
  hn_threads_set(2);
  run_steps(&a, 20);
  run_steps(&b, 20);
  hnt_assert_bytes_equal(a.p, b.p, sizeof(float) * (size_t)(a.n_theta + a.n_emb),
                         "θ and e, same seed twice");
  rig_free(&a);
  rig_free(&b);

  /* 1 vs 2 threads after 5 steps: GEMMs may round differently, 1e-5
   * relative. SGD with momentum here: Adam's first steps are lr·sign(g), so
   * a last-bit difference in a gradient that is ~0 would move a parameter
   * by a whole lr, which says nothing about the kernels. */
  hn_optim_cfg sgd = hn_optim_defaults(HN_OPTIM_SGD);
  sgd.lr = 0.05f;
  sgd.momentum = 0.9f;
  rig_new(&a, 400, 2, 2, hid, 2, 300, &sgd, 23);
  rig_new(&b, 400, 2, 2, hid, 2, 300, &sgd, 23);
  make_moons(&a.x, &a.y, 400, 0.1f, 24);
  make_moons(&b.x, &b.y, 400, 0.1f, 24);
  hn_threads_set(1);
  run_steps(&a, 5);
  hn_threads_set(2);
  run_steps(&b, 5);
  hn_threads_set(saved);
  int64_t np = a.n_theta + a.n_emb;
  double scale = 0;
  for (int64_t i = 0; i < np; i++) scale = fmax(scale, fabs((double)a.p[i]));
  hnt_assert_close(b.p, a.p, np, 1e-5, 1e-6 * scale, "θ and e, 1 vs 2 threads");
  rig_free(&a);
  rig_free(&b);
}

/* ---- (4) no allocation in a training step --------------------------------------------- */

static void test_step_allocates_nothing(void **state) {
  (void)state;
  int64_t hid[2] = {32, 32};
  hn_optim_cfg adam = hn_optim_defaults(HN_OPTIM_ADAM);
  rig r;
  rig_new(&r, 400, 2, 2, hid, 2, 300, &adam, 31);
  make_moons(&r.x, &r.y, 400, 0.1f, 32);
  /* Counted from right after set-up: the first step included. */
  int64_t before = hn_alloc_count();
  run_steps(&r, 10);
  (void)rig_accuracy(&r);
  assert_int_equal(hn_alloc_count(), before);
  rig_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradient_through_w),
      cmocka_unit_test(test_learns_two_moons),
      cmocka_unit_test(test_repeatable),
      cmocka_unit_test(test_step_allocates_nothing),
  };
  return cmocka_run_group_tests_name("train", tests, NULL, NULL);
}
