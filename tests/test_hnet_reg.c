/* test_hnet_reg.c — the fused output regulariser hn_hnet_output_reg:
 * value and gradient against the definition L = β/n Σ_t ‖h(e_t; θ) − W*_t‖²
 * evaluated by a naive double reference that materialises every generated
 * weight; gradients by central differences of that reference and against
 * the unfused path (forward, dW = 2β/n (W − W*), backward); stored targets,
 * a subset of stored rows, recomputed targets (θ*), full and chunked
 * networks with tiles cut in both directions and a truncated last chunk;
 * recomputed targets (the Gram form) near θ* and exactly at it, narrow
 * (one pass) and wide output layers;
 * errors leaving outputs untouched; threads. And the output layer of a
 * truncated network in passes through its bounded scratch. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hn_hnet *make(const hn_hnet_cfg *cfg) {
  hn_hnet *h = NULL;
  if (hn_hnet_new(&h, cfg) != HN_OK) fail_msg("hn_hnet_new: %s", hn_errmsg());
  return h;
}

static float *falloc(int64_t n) {
  float *p = hn_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  assert_non_null(p);
  return p;
}

/* One regulariser problem: θ (where it is evaluated), e [T, n_emb], and the
 * targets: stored rows of Ws [n_star, n_out] (rows picks them, or NULL), or
 * recomputed from θ* (Ws NULL). */
typedef struct reg_ctx {
  hn_hnet *h;
  float *theta, *e, *Ws, *theta_star;
  const int64_t *rows;
  int64_t T, n_star;
  float beta;
  double *W, *Wt; /* reference scratch [T, n_out] */
} reg_ctx;

/* The definition, in double: β/T Σ_t ‖h(e_t; θ) − W*_t‖². */
static double ref_loss(void *vctx) {
  reg_ctx *c = vctx;
  int64_t n_out = hn_hnet_n_out(c->h);
  hnt_hnet_ref_forward(c->h, c->theta, c->e, c->T, c->W);
  if (c->theta_star) hnt_hnet_ref_forward(c->h, c->theta_star, c->e, c->T, c->Wt);
  double s = 0;
  for (int64_t t = 0; t < c->T; t++)
    for (int64_t j = 0; j < n_out; j++) {
      double wt = c->theta_star ? c->Wt[t * n_out + j]
                                : (double)c->Ws[(c->rows ? c->rows[t] : t) * n_out + j];
      double d = c->W[t * n_out + j] - wt;
      s += d * d;
    }
  return (double)c->beta / (double)c->T * s;
}

static hn_status run_reg(const reg_ctx *c, float *loss, float *dtheta) {
  return hn_hnet_output_reg(c->h, c->theta, c->e, c->T, c->Ws, c->rows, c->n_star, c->theta_star,
                            c->beta, loss, dtheta);
}

/* The unfused path: W = h(e; θ), W* likewise (or gathered), dW = 2β/T (W − W*),
 * backward into dθ. */
static void unfused_grad(const reg_ctx *c, float *dtheta) {
  int64_t n_out = hn_hnet_n_out(c->h), n = c->T * n_out;
  float *W = falloc(n), *Wt = falloc(n), *dW = falloc(n);
  if (c->theta_star) assert_int_equal(hn_hnet_forward(c->h, c->theta_star, c->e, c->T, Wt), HN_OK);
  assert_int_equal(hn_hnet_forward(c->h, c->theta, c->e, c->T, W), HN_OK);
  for (int64_t t = 0; t < c->T; t++)
    for (int64_t j = 0; j < n_out; j++) {
      float wt = c->theta_star ? Wt[t * n_out + j] : c->Ws[(c->rows ? c->rows[t] : t) * n_out + j];
      dW[t * n_out + j] = (float)(2.0 * (double)c->beta / (double)c->T) * (W[t * n_out + j] - wt);
    }
  assert_int_equal(hn_hnet_backward(c->h, c->theta, dW, dtheta, NULL), HN_OK);
  hn_free(W);
  hn_free(Wt);
  hn_free(dW);
}

typedef enum { STORED, SUBSET, RECOMPUTED } target_kind;

/* pert: θ* = θ + U(−pert, pert) for recomputed targets. */
static void check_reg_at(const hn_hnet_cfg *cfg, target_kind kind, int64_t T, float pert,
                         const char *name) {
  hn_hnet *h = make(cfg);
  int64_t np = hn_hnet_n_params(h), n_out = cfg->n_out, n_emb = cfg->n_emb;
  int64_t n_star = kind == SUBSET ? 2 * T + 1 : T;
  float *theta = falloc(np), *theta_star = falloc(np), *e = falloc(T * n_emb);
  float *Ws = falloc(n_star * n_out), *dt = falloc(np), *dt_ref = falloc(np);
  int64_t *rows = malloc(sizeof(int64_t) * (size_t)T);
  hnt_fill_uniform(theta, np, -0.3f, 0.3f, 11);
  hnt_fill_normal(e, T * n_emb, 1.0f, 12);
  hnt_fill_uniform(theta_star, np, -pert, pert, 13);
  for (int64_t i = 0; i < np; i++) theta_star[i] += theta[i];
  hnt_fill_uniform(Ws, n_star * n_out, -1.0f, 1.0f, 14);
  for (int64_t t = 0; t < T; t++) rows[t] = (t * 7 + 3) % n_star; /* distinct, out of order */
  reg_ctx c = {h, theta, e, kind == RECOMPUTED ? NULL : Ws, kind == RECOMPUTED ? theta_star : NULL,
               kind == SUBSET ? rows : NULL, T, n_star, 0.37f,
               malloc(sizeof(double) * (size_t)(T * n_out)),
               malloc(sizeof(double) * (size_t)(T * n_out))};
  char what[128];

  /* The value: float forward against the double definition. Each term is a
   * difference of float-rounded values (relative ~1e-6 of |W| ~ 1), summed
   * in double: 1e-5 relative. With θ* within pert of θ the float hidden
   * rows of θ and θ* (rounded to ~6e-8 of their size) differ by ~pert of
   * their size, so each difference carries up to ~6e-8/pert relative error;
   * independent roundings mostly cancel in the sum of squares: 6e-5
   * measured at pert 1e-4 (any float forward has this error, not only the
   * Gram form), bound 3e-8/pert when larger than 1e-5. */
  float loss = -1.0f, loss2 = -1.0f;
  memset(dt, 0, sizeof(float) * (size_t)np);
  assert_int_equal(run_reg(&c, &loss, dt), HN_OK);
  double want = ref_loss(&c), vtol = fmax(1e-5, 3e-8 / (double)pert);
  if (!(fabs((double)loss - want) <= vtol * want))
    fail_msg("%s: loss %.9g, the definition gives %.9g", name, (double)loss, want);
  assert_int_equal(run_reg(&c, &loss2, NULL), HN_OK); /* value only: the same bits */
  assert_true(loss2 == loss);

  /* The gradient against the unfused path: the same products summed in
   * another order (tiles), float rounding of sums of up to R·chunk terms:
   * 1e-4 relative, with an absolute floor of 1e-5 of the largest entry for
   * entries that cancel. */
  memset(dt_ref, 0, sizeof(float) * (size_t)np);
  unfused_grad(&c, dt_ref);
  double big = 0;
  for (int64_t i = 0; i < np; i++) big = fmax(big, fabs((double)dt_ref[i]));
  snprintf(what, sizeof what, "%s: dθ fused vs unfused", name);
  hnt_assert_close(dt, dt_ref, np, 1e-4, 1e-5 * big, what);

  /* The gradient of the definition by central differences of the double
   * reference, eps = 1e-3: no rounding in L; the float perturbation changes
   * the step by up to ulp(v)/eps ~ 1e-4 relative and the truncation error is
   * O(eps²) ~ 1e-6 relative (L is quadratic in the output layer, smooth
   * elsewhere; ReLU kinks are skipped by the harness's floor): tol 5e-4. */
  snprintf(what, sizeof what, "%s: dθ by central differences", name);
  hnt_gradcheck(what, ref_loss, &c, theta, dt, np, 1e-3f, 200, 1e-3, 5e-4);

  /* Accumulates: a second call doubles dθ, up to the rounding of adding
   * row tiles one at a time into a non-zero dθ (1e-5 relative, floor 1e-6
   * of the largest entry). */
  float *dt2 = falloc(np), *twice = falloc(np);
  memcpy(dt2, dt, sizeof(float) * (size_t)np);
  assert_int_equal(run_reg(&c, NULL, dt2), HN_OK);
  for (int64_t i = 0; i < np; i++) twice[i] = 2 * dt[i];
  snprintf(what, sizeof what, "%s: a second call doubles dθ", name);
  hnt_assert_close(dt2, twice, np, 1e-5, 1e-6 * 2 * big, what);
  hn_free(twice);

  free(c.W);
  free(c.Wt);
  free(rows);
  hn_free(dt2);
  hn_free(theta);
  hn_free(theta_star);
  hn_free(e);
  hn_free(Ws);
  hn_free(dt);
  hn_free(dt_ref);
  hn_hnet_free(h);
}

/* θ* = θ + a perturbation of the size a task's training makes. */
static void check_reg(const hn_hnet_cfg *cfg, target_kind kind, int64_t T, const char *name) {
  check_reg_at(cfg, kind, T, 0.05f, name);
}

/* Tiles are 256 chunk rows by 1024 columns, wider when there are fewer
 * rows: these sizes cut them both ways. */
static void test_chunked(void **state) {
  (void)state;
  /* 2500 = 1100 + 1100 + 300: two column tiles per chunk (1024 + 76), the
   * last chunk ends inside the first; 90 tasks x 3 chunks = 270 rows, two
   * row tiles. */
  hn_hnet_cfg cfg = {.n_out = 2500, .n_emb = 3, .n_hidden = 2, .hidden = {5, 4},
                     .act = HN_ACT_ELU, .act_alpha = 1.0f, .chunk = 1100, .n_chunk_emb = 2,
                     .max_tasks = 90};
  check_reg(&cfg, STORED, 90, "chunked, stored");
  check_reg(&cfg, SUBSET, 90, "chunked, subset of stored rows");
  check_reg(&cfg, RECOMPUTED, 90, "chunked, recomputed");
  check_reg(&cfg, STORED, 1, "chunked, one task");
  /* Few rows widen the tile (up to 16384 columns): 2 tasks x 3 chunks of
   * 20000 (the last 5000) cut each full chunk into 16384 + 3616 columns. */
  hn_hnet_cfg wide = {.n_out = 45000, .n_emb = 3, .n_hidden = 1, .hidden = {4},
                      .act = HN_ACT_RELU, .chunk = 20000, .n_chunk_emb = 2, .max_tasks = 2};
  check_reg(&wide, STORED, 2, "wide tiles, stored");
  check_reg(&wide, RECOMPUTED, 2, "wide tiles, recomputed");
}

/* Recomputed targets go through Gram matrices of the differences θ − θ*:
 * exactly 0 at θ = θ* (Adam would turn a last-bit residual into a step of
 * the learning rate's size), as accurate near θ* as far from it (nothing
 * large cancels), and no allocation after the first call. */
static void test_recomputed_near_theta_star(void **state) {
  (void)state;
  hn_hnet_cfg cfg = {.n_out = 2500, .n_emb = 3, .n_hidden = 2, .hidden = {5, 4},
                     .act = HN_ACT_ELU, .act_alpha = 1.0f, .chunk = 1100, .n_chunk_emb = 2,
                     .max_tasks = 7};
  hn_hnet_cfg full = {.n_out = 1500, .n_emb = 4, .n_hidden = 1, .hidden = {6},
                      .act = HN_ACT_TANH, .max_tasks = 4};
  check_reg_at(&cfg, RECOMPUTED, 7, 1e-3f, "chunked, recomputed, θ* near θ");
  check_reg_at(&full, RECOMPUTED, 4, 1e-4f, "full, recomputed, θ* near θ");
  const hn_hnet_cfg *cfgs[2] = {&cfg, &full};
  for (int c = 0; c < 2; c++) {
    hn_hnet *h = make(cfgs[c]);
    int64_t np = hn_hnet_n_params(h), T = cfgs[c]->max_tasks, n_emb = cfgs[c]->n_emb;
    float *theta = falloc(np), *theta_star = falloc(np), *e = falloc(T * n_emb), *dt = falloc(np);
    hnt_fill_uniform(theta, np, -0.3f, 0.3f, 51);
    hnt_fill_normal(e, T * n_emb, 1.0f, 52);
    memcpy(theta_star, theta, sizeof(float) * (size_t)np);
    memset(dt, 0, sizeof(float) * (size_t)np);
    float loss = -1.0f;
    assert_int_equal(hn_hnet_output_reg(h, theta, e, T, NULL, NULL, 0, theta_star, 0.5f, &loss, dt),
                     HN_OK);
    assert_true(loss == 0.0f);
    for (int64_t i = 0; i < np; i++)
      if (dt[i] != 0.0f) fail_msg("θ = θ*: dθ[%lld] = %g, not 0", (long long)i, (double)dt[i]);
    int64_t a0 = hn_alloc_count();
    assert_int_equal(hn_hnet_output_reg(h, theta, e, T, NULL, NULL, 0, theta_star, 0.5f, &loss, dt),
                     HN_OK);
    assert_int_equal(hn_alloc_count(), a0);
    hn_free(theta);
    hn_free(theta_star);
    hn_free(e);
    hn_free(dt);
    hn_hnet_free(h);
  }
}

static void test_full_and_shallow(void **state) {
  (void)state;
  hn_hnet_cfg full = {.n_out = 1500, .n_emb = 4, .n_hidden = 1, .hidden = {6},
                      .act = HN_ACT_TANH, .max_tasks = 4};
  check_reg(&full, STORED, 4, "full, stored");
  check_reg(&full, RECOMPUTED, 3, "full, recomputed");
  /* No hidden layer: the output layer reads [e, c_i] (c_i of θ, or of θ*). */
  hn_hnet_cfg lin = {.n_out = 37, .n_emb = 2, .n_hidden = 0, .act = HN_ACT_RELU, .chunk = 10,
                     .n_chunk_emb = 3, .max_tasks = 5};
  check_reg(&lin, SUBSET, 5, "no hidden layer, subset");
  check_reg(&lin, RECOMPUTED, 5, "no hidden layer, recomputed");
  hn_hnet_cfg relu = {.n_out = 300, .n_emb = 3, .n_hidden = 2, .hidden = {8, 8},
                      .act = HN_ACT_RELU, .chunk = 64, .n_chunk_emb = 2, .max_tasks = 6};
  check_reg(&relu, RECOMPUTED, 6, "relu, recomputed");
}

/* Recomputed targets of narrow output layers (m = 2k + 1 ≤ 64) go through
 * one pass that never stores M (hnet_reg_pass.c: a vector of k lanes for k
 * ≤ 15, two up to 31; blocks built by 16 x 16 transposes for k ≤ 16 except
 * the last rows of U), wider ones through M and GEMMs: each width against
 * the definition, truncated (the head/tail split inside a slot) and not. */
static void test_recomputed_widths(void **state) {
  (void)state;
  static const int64_t ks[] = {10, 16, 17, 31, 32, 40};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    hn_hnet_cfg cfg = {.n_out = 3000, .n_emb = 3, .n_hidden = 2, .hidden = {6, ks[i]},
                       .act = HN_ACT_ELU, .act_alpha = 1.0f, .chunk = 700, .n_chunk_emb = 2,
                       .max_tasks = 3};
    char name[64];
    snprintf(name, sizeof name, "k = %lld, truncated, recomputed", (long long)ks[i]);
    check_reg(&cfg, RECOMPUTED, 3, name);
    cfg.chunk = 750; /* 4 full chunks */
    snprintf(name, sizeof name, "k = %lld, recomputed", (long long)ks[i]);
    check_reg(&cfg, RECOMPUTED, 2, name);
  }
}

/* The same loss and dθ at 1 and 2 threads up to GEMM blocking, identical
 * bytes for the same thread count. */
static void check_threads(bool recomputed) {
  hn_hnet_cfg cfg = {.n_out = 5000, .n_emb = 4, .n_hidden = 2, .hidden = {16, 16},
                     .act = HN_ACT_RELU, .chunk = 1300, .n_chunk_emb = 4, .max_tasks = 80};
  hn_hnet *h = make(&cfg);
  int64_t np = hn_hnet_n_params(h), T = 80;
  float *theta = falloc(np), *e = falloc(T * 4), *Ws = falloc(T * 5000), *dt[3];
  float *theta_star = falloc(np);
  hnt_fill_uniform(theta, np, -0.3f, 0.3f, 21);
  hnt_fill_uniform(theta_star, np, -0.05f, 0.05f, 24);
  for (int64_t i = 0; i < np; i++) theta_star[i] += theta[i];
  hnt_fill_normal(e, T * 4, 1.0f, 22);
  hnt_fill_uniform(Ws, T * 5000, -1, 1, 23);
  float loss[3];
  int saved = hn_threads_get(), threads[3] = {1, 2, 2};
  for (int k = 0; k < 3; k++) {
    dt[k] = falloc(np);
    memset(dt[k], 0, sizeof(float) * (size_t)np);
    hn_threads_set(threads[k]);
    assert_int_equal(hn_hnet_output_reg(h, theta, e, T, recomputed ? NULL : Ws, NULL, T,
                                        recomputed ? theta_star : NULL, 0.5f, &loss[k], dt[k]),
                     HN_OK);
  }
  hn_threads_set(saved);
  assert_true(loss[1] == loss[2]);
  hnt_assert_bytes_equal(dt[1], dt[2], sizeof(float) * (size_t)np, "dθ, 2 threads twice");
  /* the loss sums in a fixed order: the thread count moves only GEMM bits */
  assert_true(fabs((double)loss[0] - (double)loss[1]) <= 1e-6 * (double)loss[0]);
  double big = 0;
  for (int64_t i = 0; i < np; i++) big = fmax(big, fabs((double)dt[0][i]));
  hnt_assert_close(dt[1], dt[0], np, 1e-5, 1e-6 * big, "dθ, 1 vs 2 threads");
  for (int k = 0; k < 3; k++) hn_free(dt[k]);
  hn_free(theta);
  hn_free(theta_star);
  hn_free(e);
  hn_free(Ws);
  hn_hnet_free(h);
}

static void test_threads(void **state) {
  (void)state;
  check_threads(false);
  check_threads(true);
}

static void expect_error(hn_status got, hn_status want, const char *words) {
  assert_int_equal(got, want);
  hnt_expect_in(hn_errmsg(), words, "error message");
}

static void test_errors(void **state) {
  (void)state;
  hn_hnet_cfg cfg = {.n_out = 30, .n_emb = 2, .n_hidden = 1, .hidden = {4}, .act = HN_ACT_RELU,
                     .chunk = 8, .n_chunk_emb = 2, .max_tasks = 3};
  hn_hnet *h = make(&cfg);
  int64_t np = hn_hnet_n_params(h);
  float *theta = falloc(np), *e = falloc(6), *Ws = falloc(90), *dt = falloc(np);
  hnt_fill_uniform(theta, np, -0.3f, 0.3f, 31);
  hnt_fill_normal(e, 6, 1.0f, 32);
  hnt_fill_uniform(Ws, 90, -1, 1, 33);
  for (int64_t i = 0; i < np; i++) dt[i] = 5.0f;
  float loss = 5.0f;
  int64_t bad_rows[3] = {0, 3, 1}, rows[3] = {2, 0, 1};
  expect_error(hn_hnet_output_reg(h, theta, e, 3, Ws, NULL, 3, theta, 1, &loss, dt), HN_ERR_ARG,
               "exactly one");
  expect_error(hn_hnet_output_reg(h, theta, e, 3, NULL, NULL, 3, NULL, 1, &loss, dt), HN_ERR_ARG,
               "exactly one");
  expect_error(hn_hnet_output_reg(h, theta, e, 3, Ws, bad_rows, 3, NULL, 1, &loss, dt),
               HN_ERR_ARG, "star_rows[1] = 3");
  expect_error(hn_hnet_output_reg(h, theta, e, 3, Ws, NULL, 2, NULL, 1, &loss, dt), HN_ERR_SHAPE,
               "2 rows for 3 task embeddings");
  expect_error(hn_hnet_output_reg(h, theta, e, 4, Ws, NULL, 4, NULL, 1, &loss, dt), HN_ERR_SHAPE,
               "hn_hnet_reserve(h, 4)");
  expect_error(hn_hnet_output_reg(h, theta, e, 3, Ws, NULL, 3, NULL, -1, &loss, dt), HN_ERR_ARG,
               "beta = -1");
  expect_error(hn_hnet_output_reg(h, NULL, e, 3, Ws, NULL, 3, NULL, 1, &loss, dt), HN_ERR_ARG,
               "theta or e is NULL");
  expect_error(hn_hnet_output_reg(NULL, theta, e, 3, Ws, NULL, 3, NULL, 1, &loss, dt),
               HN_ERR_ARG, "NULL");
  assert_true(loss == 5.0f);
  for (int64_t i = 0; i < np; i++) assert_true(dt[i] == 5.0f);
  /* no tasks: loss 0, dθ untouched */
  assert_int_equal(hn_hnet_output_reg(h, theta, e, 0, Ws, NULL, 0, NULL, 1, &loss, dt), HN_OK);
  assert_true(loss == 0.0f);
  for (int64_t i = 0; i < np; i++) assert_true(dt[i] == 5.0f);
  /* the regulariser discards the last forward */
  float W[90], dW[90] = {0};
  assert_int_equal(hn_hnet_forward(h, theta, e, 3, W), HN_OK);
  assert_int_equal(hn_hnet_output_reg(h, theta, e, 3, Ws, rows, 3, NULL, 1, &loss, NULL), HN_OK);
  expect_error(hn_hnet_backward(h, theta, dW, dt, NULL), HN_ERR_STATE, "no forward pass");
  /* no allocation in a step */
  int64_t a0 = hn_alloc_count();
  assert_int_equal(hn_hnet_output_reg(h, theta, e, 3, Ws, rows, 3, NULL, 1, &loss, dt), HN_OK);
  assert_int_equal(hn_alloc_count(), a0);
  hn_free(theta);
  hn_free(e);
  hn_free(Ws);
  hn_free(dt);
  hn_hnet_free(h);
}

/* A truncated network whose padded output rows exceed the 16 MiB output
 * scratch: forward and backward run in passes of one task. The forward
 * matches one-task forwards bit for bit and the double reference; de (per
 * task rows) matches bit for bit too, dθ (summed over passes) to rounding. */
static void test_output_scratch_passes(void **state) {
  (void)state;
  enum { T = 3, NE = 2 };
  /* 2 chunks of 2,500,001 (the second truncated to 2,499,999): 5,000,002
   * padded floats per task, more than the scratch's 4,194,304. */
  hn_hnet_cfg cfg = {.n_out = 5000000, .n_emb = NE, .n_hidden = 1, .hidden = {2},
                     .act = HN_ACT_TANH, .chunk = 2500001, .n_chunk_emb = 1, .max_tasks = T};
  hn_hnet *h = make(&cfg);
  int64_t np = hn_hnet_n_params(h), n_out = cfg.n_out;
  float *theta = falloc(np), *e = falloc(T * NE), *W = falloc(T * n_out), *W1 = falloc(n_out);
  float *r = falloc(T * n_out), *dt = falloc(np), *dt1 = falloc(np), *de = falloc(T * NE);
  float *de1 = falloc(NE);
  double *Wd = malloc(sizeof(double) * (size_t)(T * n_out));
  hnt_fill_uniform(theta, np, -0.5f, 0.5f, 41);
  hnt_fill_normal(e, T * NE, 1.0f, 42);
  hnt_fill_uniform(r, T * n_out, -1, 1, 43);
  memset(dt, 0, sizeof(float) * (size_t)np);
  memset(dt1, 0, sizeof(float) * (size_t)np);
  memset(de, 0, sizeof(float) * T * NE);
  assert_int_equal(hn_hnet_forward(h, theta, e, T, W), HN_OK);
  assert_int_equal(hn_hnet_backward(h, theta, r, dt, de), HN_OK);
  hnt_hnet_ref_forward(h, theta, e, T, Wd);
  /* float forward against double: |W| <= ~1, 1e-5 relative, 1e-6 absolute */
  hnt_assert_close_d(W, Wd, T * n_out, 1e-5, 1e-6, "W in passes vs the double reference");
  for (int64_t t = 0; t < T; t++) {
    memset(de1, 0, sizeof(float) * NE);
    assert_int_equal(hn_hnet_forward(h, theta, e + t * NE, 1, W1), HN_OK);
    hnt_assert_bytes_equal(W1, W + t * n_out, sizeof(float) * (size_t)n_out, "W, one task");
    assert_int_equal(hn_hnet_backward(h, theta, r + t * n_out, dt1, de1), HN_OK);
    hnt_assert_bytes_equal(de1, de + t * NE, sizeof(float) * NE, "de, one task");
  }
  /* the same products summed over tasks in another order: 1e-5 relative,
   * floor 1e-6 of the largest entry */
  double big = 0;
  for (int64_t i = 0; i < np; i++) big = fmax(big, fabs((double)dt1[i]));
  hnt_assert_close(dt, dt1, np, 1e-5, 1e-6 * big, "dθ in passes vs per task");
  free(Wd);
  hn_free(theta);
  hn_free(e);
  hn_free(W);
  hn_free(W1);
  hn_free(r);
  hn_free(dt);
  hn_free(dt1);
  hn_free(de);
  hn_free(de1);
  hn_hnet_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunked),
      cmocka_unit_test(test_full_and_shallow),
      cmocka_unit_test(test_recomputed_widths),
      cmocka_unit_test(test_recomputed_near_theta_star),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_output_scratch_passes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
