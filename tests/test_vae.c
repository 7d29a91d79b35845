/* test_vae.c — the generative-replay pieces: Bernoulli reconstruction from
 * logits, the Gaussian KL and knowledge distillation (loss.c), the
 * reparameterised sample and its backward (vae.c):
 * hand-computed values, central-difference gradients, accumulate/overwrite
 * semantics, the sample's distribution and stream, errors that leave outputs
 * untouched, thread independence. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SENTINEL 12345.0f

static hn_tensor view2(float *d, int64_t r, int64_t c) {
  hn_tensor t;
  assert_int_equal(hn_tensor_view(&t, d, 2, (int64_t[]){r, c}), HN_OK);
  return t;
}

static void fill(float *x, int64_t n, float v) {
  for (int64_t i = 0; i < n; i++) x[i] = v;
}

static void assert_all(const float *x, int64_t n, float v, const char *what) {
  for (int64_t i = 0; i < n; i++)
    if (x[i] != v) fail_msg("%s: element %lld changed to %g", what, (long long)i, (double)x[i]);
}

/* ---- hand-computed values ------------------------------------------------------ */

static void test_bce_values(void **state) {
  (void)state;
  /* (x, t): (0, 0.5) -> log 2; (2, 1) -> log(1 + e^-2); (-1, 0) -> log(1 + e^-1);
   * (1000, 1) -> 0 and (-1000, 1) -> 1000 without overflow (a naive
   * log σ(x) gives -inf); mean over the 6 elements (2 rows of 3). */
  float x[6] = {0, 2, -1, 1000, -1000, 3}, t[6] = {0.5f, 1, 0, 1, 1, 0.25f}, dx[6];
  double l[6] = {log(2.0), log1p(exp(-2.0)), log1p(exp(-1.0)), 0.0, 1000.0,
                 3.0 - 3.0 * 0.25 + log1p(exp(-3.0))};
  double mean = 0;
  for (int i = 0; i < 6; i++) mean += l[i] / 6;
  hn_tensor lx = view2(x, 2, 3), lt = view2(t, 2, 3), ldx = view2(dx, 2, 3);
  float loss = 0;
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &loss, &ldx), HN_OK);
  assert_float_equal(loss, mean, 1e-4);
  /* dx = (σ(x) - t) / 6. */
  double sig[6] = {0.5, 1 / (1 + exp(-2.0)), 1 / (1 + exp(1.0)), 1.0, 0.0, 1 / (1 + exp(-3.0))};
  double ref[6];
  for (int i = 0; i < 6; i++) ref[i] = (sig[i] - (double)t[i]) / 6;
  hnt_assert_close_d(dx, ref, 6, 1e-6, 1e-8, "bce dx");
  float loss2 = 0;
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &loss2, NULL), HN_OK);
  assert_true(loss2 == loss);
}

static void test_kl_values(void **state) {
  (void)state;
  /* Row 0: mu (1, 0), logvar (0, log 2): 0.5·1 + (-0.5)(1 + ln 2 - 2) = 0.5 + 0.5(1 - ln 2).
   * Row 1: mu (0, 0), logvar (0, 0): 0 (the prior itself). Mean over 2 rows. */
  float h[8] = {1, 0, 0, (float)log(2.0), 0, 0, 0, 0}, dh[8];
  hn_tensor lh = view2(h, 2, 4), ldh = view2(dh, 2, 4);
  float loss = 0;
  assert_int_equal(hn_loss_kl_gauss(&lh, &loss, &ldh), HN_OK);
  assert_float_equal(loss, (0.5 + 0.5 * (1 - log(2.0))) / 2, 1e-6);
  /* dmu = mu / n; dlogvar = 0.5 (e^logvar - 1) / n. */
  double ref[8] = {0.5, 0, 0, 0.25, 0, 0, 0, 0};
  hnt_assert_close_d(dh, ref, 8, 1e-6, 1e-8, "kl dh");
  fill(dh, 8, SENTINEL);
  assert_int_equal(hn_loss_kl_gauss(&lh, &loss, NULL), HN_OK);
  assert_all(dh, 8, SENTINEL, "dh without a gradient request");
}

/* ---- gradients ------------------------------------------------------------------ */

typedef struct gctx {
  int kind; /* 0 bce, 1 kl, 2 reparam probe */
  hn_tensor *x, *t, *eps, *z;
  const float *r;
  hn_rng rng0;
} gctx;

static double gfn(void *vctx) {
  gctx *c = vctx;
  float loss = 0;
  if (c->kind == 0) assert_int_equal(hn_loss_bce_logits(c->x, c->t, &loss, NULL), HN_OK);
  if (c->kind == 1) assert_int_equal(hn_loss_kl_gauss(c->x, &loss, NULL), HN_OK);
  if (c->kind == 2) {
    hn_rng r = c->rng0; /* the same eps every evaluation */
    assert_int_equal(hn_vae_reparam(c->x, &r, c->eps, c->z), HN_OK);
    return hnt_probe(c->r, c->z->data, c->z->numel);
  }
  return loss;
}

/* Tolerance 5e-3: the losses are O(1) floats (rounding ~1e-7, i.e. ~1e-5
 * absolute after dividing by 2 eps = 2e-2) and the gradients O(0.01..1), so
 * rounding is ≤ 1e-3 relative; the central difference's truncation error is
 * O(eps^2) = 1e-4 relative for these smooth functions (exp, softplus). */
static void test_gradients(void **state) {
  (void)state;
  enum { N = 5, P = 7, D = 3, M = D + 2 };
  float x[N * P], t[N * P], dx[N * P];
  hnt_fill_uniform(x, N * P, -3, 3, 1);
  hnt_fill_uniform(t, N * P, 0, 1, 2);
  t[0] = 0, t[1] = 1; /* the end points are valid targets */
  hn_tensor lx = view2(x, N, P), lt = view2(t, N, P), ldx = view2(dx, N, P);
  float loss;
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &loss, &ldx), HN_OK);
  gctx c0 = {.kind = 0, .x = &lx, .t = &lt};
  hnt_gradcheck("bce", gfn, &c0, x, dx, N * P, 1e-2f, 200, 1e-3, 5e-3);

  float h[N * 2 * D], dh[N * 2 * D];
  hnt_fill_uniform(h, N * 2 * D, -1.5f, 1.5f, 3);
  hn_tensor lh = view2(h, N, 2 * D), ldh = view2(dh, N, 2 * D);
  assert_int_equal(hn_loss_kl_gauss(&lh, &loss, &ldh), HN_OK);
  gctx c1 = {.kind = 1, .x = &lh};
  hnt_gradcheck("kl", gfn, &c1, h, dh, N * 2 * D, 1e-2f, 200, 1e-3, 5e-3);

  /* Reparameterisation with a fixed stream: L = Σ r·z over z [N, M], whose
   * condition columns [D, M) do not depend on h; dz = r. */
  float eps[N * D], z[N * M], r[N * M], dhr[N * 2 * D];
  hnt_fill_uniform(r, N * M, -1, 1, 4);
  fill(z, N * M, 0.0f);
  hn_tensor leps = view2(eps, N, D), lz = view2(z, N, M), lr = view2(r, N, M);
  hn_tensor ldhr = view2(dhr, N, 2 * D);
  gctx c2 = {.kind = 2, .x = &lh, .eps = &leps, .z = &lz, .r = r};
  hn_rng_init(&c2.rng0, 7, 1);
  hn_rng rr = c2.rng0;
  assert_int_equal(hn_vae_reparam(&lh, &rr, &leps, &lz), HN_OK);
  fill(dhr, N * 2 * D, 0.0f);
  assert_int_equal(hn_vae_reparam_backward(&lh, &leps, &lr, &ldhr), HN_OK);
  hnt_gradcheck("reparam", gfn, &c2, h, dhr, N * 2 * D, 1e-2f, 200, 1e-3, 5e-3);
}

/* ---- semantics -------------------------------------------------------------------- */

static void test_reparam_semantics(void **state) {
  (void)state;
  enum { N = 4, D = 3, M = 6 };
  float h[N * 2 * D], eps[N * D], z[N * M], dz[N * M], dh[N * 2 * D], dh2[N * 2 * D];
  hnt_fill_uniform(h, N * 2 * D, -1, 1, 5);
  hnt_fill_uniform(dz, N * M, -1, 1, 6);
  fill(z, N * M, SENTINEL);
  hn_tensor lh = view2(h, N, 2 * D), leps = view2(eps, N, D), lz = view2(z, N, M);
  hn_tensor ldz = view2(dz, N, M), ldh = view2(dh, N, 2 * D);
  hn_rng r, r0;
  hn_rng_init(&r, 11, 2);
  r0 = r;
  assert_int_equal(hn_vae_reparam(&lh, &r, &leps, &lz), HN_OK);
  /* eps is the stream's next N·D normals, in row-major order, and the
   * stream has advanced past them. */
  float ref[N * D];
  hn_rng_fill_normal(&r0, ref, N * D, 0.0f, 1.0f);
  hnt_assert_bytes_equal(eps, ref, sizeof ref, "eps against the stream");
  assert_true(memcmp(&r, &r0, sizeof r) == 0);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < M; j++) {
      if (j >= D) {
        assert_true(z[i * M + j] == SENTINEL); /* condition columns untouched */
        continue;
      }
      double want = (double)h[i * 2 * D + j] +
                    exp(0.5 * (double)h[i * 2 * D + D + j]) * (double)eps[i * D + j];
      assert_float_equal(z[i * M + j], want, 1e-5);
    }
  /* Backward accumulates: from zero twice gives exactly 2·once. */
  fill(dh, N * 2 * D, 0.0f);
  assert_int_equal(hn_vae_reparam_backward(&lh, &leps, &ldz, &ldh), HN_OK);
  memcpy(dh2, dh, sizeof dh);
  assert_int_equal(hn_vae_reparam_backward(&lh, &leps, &ldz, &ldh), HN_OK);
  for (int i = 0; i < N * 2 * D; i++) assert_true(dh[i] == 2.0f * dh2[i]);
}

/* The sample has the Gaussian's moments: 40000 draws of one (mu, logvar)
 * have mean within 0.03 and std within 3% of (0.7, e^0.5·(-0.8)=0.670) —
 * the standard errors are 0.0034 and 0.35%, so the margins are ~9 SE. */
static void test_reparam_moments(void **state) {
  (void)state;
  enum { N = 40000 };
  float *h = hn_alloc(sizeof(float) * N * 2), *eps = hn_alloc(sizeof(float) * N);
  float *z = hn_alloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) h[2 * i] = 0.7f, h[2 * i + 1] = -0.8f;
  hn_tensor lh = view2(h, N, 2), leps = view2(eps, N, 1), lz = view2(z, N, 1);
  hn_rng r;
  hn_rng_init(&r, 3, 9);
  assert_int_equal(hn_vae_reparam(&lh, &r, &leps, &lz), HN_OK);
  double s = 0, ss = 0;
  for (int i = 0; i < N; i++) s += (double)z[i];
  double mean = s / N;
  for (int i = 0; i < N; i++) ss += ((double)z[i] - mean) * ((double)z[i] - mean);
  double sd = sqrt(ss / (N - 1)), want = exp(-0.4);
  assert_true(fabs(mean - 0.7) < 0.03);
  assert_true(fabs(sd / want - 1) < 0.03);
  hn_free(h);
  hn_free(eps);
  hn_free(z);
}

/* ---- errors ------------------------------------------------------------------------ */

static void test_errors_leave_outputs(void **state) {
  (void)state;
  float x[12], t[12], dx[12];
  hnt_fill_uniform(x, 12, -1, 1, 7);
  hnt_fill_uniform(t, 12, 0, 1, 8);
  fill(dx, 12, SENTINEL);
  hn_tensor lx = view2(x, 3, 4), lt = view2(t, 3, 4), ldx = view2(dx, 3, 4);
  float loss = SENTINEL;
  hn_tensor t2 = view2(t, 2, 4);
  assert_int_equal(hn_loss_bce_logits(&lx, &t2, &loss, &ldx), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_loss_bce_logits"));
  assert_non_null(strstr(hn_errmsg(), "[2, 4]"));
  assert_non_null(strstr(hn_errmsg(), "[3, 4]"));
  hn_tensor bad_dx = view2(dx, 4, 3);
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &loss, &bad_dx), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "dx"));
  t[5] = 1.5f;
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &loss, &ldx), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "element 5"));
  assert_non_null(strstr(hn_errmsg(), "[0, 1]"));
  t[5] = NAN;
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &loss, &ldx), HN_ERR_ARG);
  assert_true(loss == SENTINEL);
  assert_all(dx, 12, SENTINEL, "bce dx after errors");

  /* KL: h must be [n, 2d]. */
  hn_tensor odd = view2(x, 4, 3);
  assert_int_equal(hn_loss_kl_gauss(&odd, &loss, NULL), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_loss_kl_gauss"));
  assert_non_null(strstr(hn_errmsg(), "[4, 3]"));
  hn_tensor h = view2(x, 3, 4), bad_dh = view2(dx, 4, 3);
  assert_int_equal(hn_loss_kl_gauss(&h, &loss, &bad_dh), HN_ERR_SHAPE);
  assert_true(loss == SENTINEL);
  assert_all(dx, 12, SENTINEL, "kl dh after errors");

  /* Reparam: eps must be [n, d], z [n, m >= d]; the stream is not advanced
   * by a failed call. h [3, 4]: d = 2. */
  float eps[6], z[12];
  fill(eps, 6, SENTINEL);
  fill(z, 12, SENTINEL);
  hn_rng r, r0;
  hn_rng_init(&r, 1, 1);
  r0 = r;
  hn_tensor eps_bad = view2(eps, 2, 3), eps_ok = view2(eps, 3, 2), z_narrow = view2(z, 3, 1);
  hn_tensor z_rows = view2(z, 4, 3), z_ok = view2(z, 3, 4);
  assert_int_equal(hn_vae_reparam(&h, &r, &eps_bad, &z_ok), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_vae_reparam"));
  assert_non_null(strstr(hn_errmsg(), "eps is [2, 3]"));
  assert_int_equal(hn_vae_reparam(&h, &r, &eps_ok, &z_narrow), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "m >= 2"));
  assert_int_equal(hn_vae_reparam(&h, &r, &eps_ok, &z_rows), HN_ERR_SHAPE);
  assert_int_equal(hn_vae_reparam(&odd, &r, &eps_ok, &z_ok), HN_ERR_SHAPE);
  assert_int_equal(hn_vae_reparam(&h, NULL, &eps_ok, &z_ok), HN_ERR_ARG);
  assert_true(memcmp(&r, &r0, sizeof r) == 0);
  assert_all(eps, 6, SENTINEL, "eps after errors");
  assert_all(z, 12, SENTINEL, "z after errors");
  float dh[12];
  fill(dh, 12, SENTINEL);
  hn_tensor ldh_bad = view2(dh, 4, 3);
  assert_int_equal(hn_vae_reparam_backward(&h, &eps_ok, &z_ok, &ldh_bad), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_vae_reparam_backward"));
  assert_int_equal(hn_vae_reparam_backward(&h, &eps_ok, &z_narrow, &ldh_bad), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "dz is [3, 1]"));
  assert_all(dh, 12, SENTINEL, "dh after errors");
}

/* ---- threads ---------------------------------------------------------------------- */

/* Blocks are summed in parallel and added in block order, the normal draws
 * are serial: every value and gradient is bitwise the same with 1 and 2
 * threads. Sizes exceed the OpenMP thresholds and several blocks. */
static void test_threads_bitwise(void **state) {
  (void)state;
  enum { N = 1031, P = 97, D = 16 };
  float *x = hn_alloc(sizeof(float) * N * P), *t = hn_alloc(sizeof(float) * N * P);
  float *d1 = hn_alloc(sizeof(float) * N * P), *d2 = hn_alloc(sizeof(float) * N * P);
  hnt_fill_uniform(x, N * P, -4, 4, 9);
  hnt_fill_uniform(t, N * P, 0, 1, 10);
  hn_tensor lx = view2(x, N, P), lt = view2(t, N, P), l1 = view2(d1, N, P), l2 = view2(d2, N, P);
  int saved = hn_threads_get();
  float a, b;
  hn_threads_set(1);
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &a, &l1), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_loss_bce_logits(&lx, &lt, &b, &l2), HN_OK);
  assert_true(memcmp(&a, &b, sizeof a) == 0);
  hnt_assert_bytes_equal(d1, d2, sizeof(float) * N * P, "bce dx 1 vs 2 threads");

  hn_tensor lh = view2(x, N, 2 * D), k1 = view2(d1, N, 2 * D), k2 = view2(d2, N, 2 * D);
  hn_threads_set(1);
  assert_int_equal(hn_loss_kl_gauss(&lh, &a, &k1), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_loss_kl_gauss(&lh, &b, &k2), HN_OK);
  assert_true(memcmp(&a, &b, sizeof a) == 0);
  hnt_assert_bytes_equal(d1, d2, sizeof(float) * N * 2 * D, "kl dh 1 vs 2 threads");

  /* reparam: z and the accumulated dh. */
  float *eps = hn_alloc(sizeof(float) * N * D);
  hn_tensor leps = view2(eps, N, D), z1 = view2(d1, N, D), z2 = view2(d2, N, D);
  hn_rng r;
  hn_threads_set(1);
  hn_rng_init(&r, 5, 5);
  assert_int_equal(hn_vae_reparam(&lh, &r, &leps, &z1), HN_OK);
  hn_threads_set(2);
  hn_rng_init(&r, 5, 5);
  assert_int_equal(hn_vae_reparam(&lh, &r, &leps, &z2), HN_OK);
  hnt_assert_bytes_equal(d1, d2, sizeof(float) * N * D, "reparam z 1 vs 2 threads");
  hn_tensor dz = view2(t, N, D);
  float *g1 = hn_alloc(sizeof(float) * N * 2 * D), *g2 = hn_alloc(sizeof(float) * N * 2 * D);
  hn_tensor lg1 = view2(g1, N, 2 * D), lg2 = view2(g2, N, 2 * D);
  fill(g1, N * 2 * D, 0.5f);
  fill(g2, N * 2 * D, 0.5f);
  hn_threads_set(1);
  assert_int_equal(hn_vae_reparam_backward(&lh, &leps, &dz, &lg1), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_vae_reparam_backward(&lh, &leps, &dz, &lg2), HN_OK);
  hnt_assert_bytes_equal(g1, g2, sizeof(float) * N * 2 * D, "reparam dh 1 vs 2 threads");
  hn_threads_set(saved);
  hn_free(x);
  hn_free(t);
  hn_free(d1);
  hn_free(d2);
  hn_free(eps);
  hn_free(g1);
  hn_free(g2);
}


/* ---- knowledge distillation ------------------------------------------------------ */

typedef struct kd_ctx {
  hn_tensor *x, *t;
  const uint8_t *mask;
  float temp;
} kd_ctx;

static double kd_fn(void *vctx) {
  kd_ctx *c = vctx;
  float loss = 0;
  assert_int_equal(hn_loss_kd(c->x, c->t, c->mask, c->temp, &loss, NULL), HN_OK);
  return loss;
}

static void test_kd(void **state) {
  (void)state;
  /* Hand values: logits = target = (0, 0, 0) with the third column masked
   * out: T^2 · log 2 (the entropy of (1/2, 1/2)), gradient 0. Row 2: target
   * (0, log 3) at T = 1 is p = (1/4, 3/4); logits (0, 0) give
   * -(1/4 log 1/2 + 3/4 log 1/2) = log 2 and dx = (1/2 - p) / n. */
  float x[6] = {0, 0, 0, 0, 0, 0}, t[6] = {0, 0, 0, 0, (float)log(3.0), 0}, dx[6];
  uint8_t mask[3] = {1, 1, 0};
  hn_tensor lx = view2(x, 2, 3), lt = view2(t, 2, 3), ldx = view2(dx, 2, 3);
  float loss = 0;
  assert_int_equal(hn_loss_kd(&lx, &lt, mask, 1.0f, &loss, &ldx), HN_OK);
  assert_float_equal(loss, log(2.0), 1e-6);
  double ref[6] = {0, 0, 0, (0.5 - 0.25) / 2, (0.5 - 0.75) / 2, 0};
  hnt_assert_close_d(dx, ref, 6, 1e-6, 1e-7, "kd dx at T = 1");
  assert_int_equal(hn_loss_kd(&lx, &lx, mask, 2.0f, &loss, &ldx), HN_OK);
  assert_true(fabs((double)loss - 4.0 * log(2.0)) < 1e-5);
  for (int i = 0; i < 6; i++) assert_true(dx[i] == 0.0f);

  /* Finite differences at T = 2 (hypercl's) and T = 0.5, with and without
   * a mask; masked columns get exactly 0. The loss carries the factor T^2
   * (up to ~7 here), so its float rounding (~4e-7) is ~2e-5 after dividing
   * by 2 eps: the floor is 1e-2 (noise ≤ 2e-3 relative) and the tolerance
   * 5e-3 as above (smooth log-sum-exp, truncation O(eps^2 / T^2)). */
  enum { N = 5, C = 6 };
  float a[N * C], b[N * C], da[N * C];
  hnt_fill_uniform(a, N * C, -2, 2, 21);
  hnt_fill_uniform(b, N * C, -2, 2, 22);
  hn_tensor la = view2(a, N, C), lb = view2(b, N, C), lda = view2(da, N, C);
  uint8_t m2[C] = {1, 1, 0, 1, 0, 1};
  const float temps[2] = {2.0f, 0.5f};
  for (int k = 0; k < 2; k++)
    for (int masked = 0; masked < 2; masked++) {
      kd_ctx c = {&la, &lb, masked ? m2 : NULL, temps[k]};
      assert_int_equal(hn_loss_kd(&la, &lb, c.mask, c.temp, &loss, &lda), HN_OK);
      if (masked)
        for (int r = 0; r < N; r++) assert_true(da[r * C + 2] == 0.0f && da[r * C + 4] == 0.0f);
      hnt_gradcheck("kd", kd_fn, &c, a, da, N * C, 1e-2f, 200, 1e-2, 5e-3);
    }

  /* Errors leave the outputs untouched. */
  float sentinel_loss = SENTINEL;
  fill(da, N * C, SENTINEL);
  hn_tensor lb_bad = view2(b, C, N);
  assert_int_equal(hn_loss_kd(&la, &lb_bad, NULL, 2.0f, &sentinel_loss, &lda), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_loss_kd"));
  assert_non_null(strstr(hn_errmsg(), "target is [6, 5]"));
  assert_int_equal(hn_loss_kd(&la, &lb, NULL, 0.0f, &sentinel_loss, &lda), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "temperature"));
  assert_int_equal(hn_loss_kd(&la, &lb, NULL, NAN, &sentinel_loss, &lda), HN_ERR_ARG);
  uint8_t none[C] = {0};
  assert_int_equal(hn_loss_kd(&la, &lb, none, 2.0f, &sentinel_loss, &lda), HN_ERR_ARG);
  assert_true(sentinel_loss == SENTINEL);
  assert_all(da, N * C, SENTINEL, "kd dx after errors");
}

/* Row blocks in parallel, added in order: 1 vs 2 threads bitwise. */
static void test_kd_threads(void **state) {
  (void)state;
  enum { N = 3001, C = 10 };
  float *x = hn_alloc(sizeof(float) * N * C), *t = hn_alloc(sizeof(float) * N * C);
  float *d1 = hn_alloc(sizeof(float) * N * C), *d2 = hn_alloc(sizeof(float) * N * C);
  hnt_fill_uniform(x, N * C, -3, 3, 23);
  hnt_fill_uniform(t, N * C, -3, 3, 24);
  hn_tensor lx = view2(x, N, C), lt = view2(t, N, C), l1 = view2(d1, N, C), l2 = view2(d2, N, C);
  int saved = hn_threads_get();
  float a, b;
  hn_threads_set(1);
  assert_int_equal(hn_loss_kd(&lx, &lt, NULL, 2.0f, &a, &l1), HN_OK);
  hn_threads_set(2);
  assert_int_equal(hn_loss_kd(&lx, &lt, NULL, 2.0f, &b, &l2), HN_OK);
  hn_threads_set(saved);
  assert_true(memcmp(&a, &b, sizeof a) == 0);
  hnt_assert_bytes_equal(d1, d2, sizeof(float) * N * C, "kd dx 1 vs 2 threads");
  hn_free(x);
  hn_free(t);
  hn_free(d1);
  hn_free(d2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bce_values),
      cmocka_unit_test(test_kl_values),
      cmocka_unit_test(test_gradients),
      cmocka_unit_test(test_reparam_semantics),
      cmocka_unit_test(test_reparam_moments),
      cmocka_unit_test(test_errors_leave_outputs),
      cmocka_unit_test(test_threads_bitwise),
      cmocka_unit_test(test_kd),
      cmocka_unit_test(test_kd_threads),
  };
  return cmocka_run_group_tests_name("vae", tests, NULL, NULL);
}
