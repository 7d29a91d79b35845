/*
 * modcheck.h — shared checks for the module tests (test_linear.c,
 * test_conv2d.c, test_pool.c, test_act.c, test_batchnorm.c, test_dropout.c):
 * a module instance with its buffers (mc_mod), the probe-loss gradient check
 * of STYLE.md §9, the backward semantics (accumulating dw, overwriting dx,
 * NULL outputs), shape errors that leave outputs untouched, and 1 vs 2
 * threads. Header-only (static functions), included by each module test.
 */
#ifndef HNT_MODCHECK_H
#define HNT_MODCHECK_H

#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mc_mod {
  const hn_module_vt *vt;
  const void *cfg;
  hn_tensor x, y, dx, dy;
  float *w, *dw, *ws, *stats, *stats0;
  int64_t n_w, n_ws, n_s;
  hn_rng rng, rng0; /* dropout's stream, reset to rng0 before every forward */
  hn_run run;
} mc_mod;

static float *mc_alloc(int64_t n) {
  float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
  assert_non_null(p);
  return p;
}

/* Buffers for vt/cfg on input shape in[ndim]: x ~ U(-1, 1), w ~ N(0, 0.5),
 * stats from init_stats (tests may overwrite stats0), mode from `train`. */
static void mc_setup(mc_mod *m, const hn_module_vt *vt, const void *cfg, int ndim,
                     const int64_t *in, bool train, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->vt = vt;
  m->cfg = cfg;
  int ond;
  int64_t out[4];
  assert_int_equal(vt->out_shape(cfg, ndim, in, &ond, out), HN_OK);
  assert_int_equal(hn_tensor_init(&m->x, ndim, in), HN_OK);
  assert_int_equal(hn_tensor_init(&m->dx, ndim, in), HN_OK);
  assert_int_equal(hn_tensor_init(&m->y, ond, out), HN_OK);
  assert_int_equal(hn_tensor_init(&m->dy, ond, out), HN_OK);
  m->n_w = vt->n_params(cfg);
  m->n_ws = vt->ws_size(cfg, ndim, in);
  m->n_s = vt->n_stats(cfg);
  m->w = mc_alloc(m->n_w);
  m->dw = mc_alloc(m->n_w);
  m->ws = mc_alloc(m->n_ws);
  m->stats = mc_alloc(m->n_s);
  m->stats0 = mc_alloc(m->n_s);
  if (m->n_s) vt->init_stats(cfg, m->stats0);
  hnt_fill_uniform(m->x.data, m->x.numel, -1.0f, 1.0f, seed);
  hnt_fill_normal(m->w, m->n_w, 0.5f, seed + 1);
  hnt_fill_uniform(m->dy.data, m->dy.numel, -1.0f, 1.0f, seed + 2);
  hn_rng_init(&m->rng0, seed + 3, 5);
  m->rng = m->rng0;
  m->run.train = train;
  m->run.rng = &m->rng;
  m->run.stats = m->n_s ? m->stats : NULL;
}

static void mc_teardown(mc_mod *m) {
  hn_tensor_release(&m->x);
  hn_tensor_release(&m->y);
  hn_tensor_release(&m->dx);
  hn_tensor_release(&m->dy);
  free(m->w);
  free(m->dw);
  free(m->ws);
  free(m->stats);
  free(m->stats0);
}

/* Forward from a fixed state: stats and the dropout stream are reset first. */
static void mc_forward(mc_mod *m) {
  if (m->n_s) memcpy(m->stats, m->stats0, (size_t)m->n_s * sizeof(float));
  m->rng = m->rng0;
  hn_status st = m->vt->forward(m->cfg, m->w, &m->x, &m->y, m->ws, &m->run);
  if (st != HN_OK) fail_msg("%s forward failed: %s", m->vt->name, hn_errmsg());
}

/* Forward, then backward with dy (dw zeroed first) into m->dx, m->dw. */
static void mc_forward_backward(mc_mod *m) {
  mc_forward(m);
  memset(m->dw, 0, (size_t)(m->n_w > 0 ? m->n_w : 1) * sizeof(float));
  hn_status st = m->vt->backward(m->cfg, m->w, &m->x, &m->y, m->ws, &m->dy, &m->dx,
                                 m->n_w ? m->dw : NULL, &m->run);
  if (st != HN_OK) fail_msg("%s backward failed: %s", m->vt->name, hn_errmsg());
}

static double mc_loss(void *ctx) {
  mc_mod *m = ctx;
  mc_forward(m);
  return hnt_probe(m->dy.data, m->y.data, m->y.numel);
}

/* Central differences of L = Σ dy·y against dx and dw (≤ 200 coordinates
 * each, floor 1e-3), with the module's stated tolerance. Returns the worst
 * error.
 *
 * Noise floor (float32 forward, L summed in double): the outputs that a
 * perturbed coordinate does not touch are recomputed bit-identically and
 * cancel in L(v+e) - L(v-e); the k outputs it touches carry a rounding error
 * of about u·sqrt(k)·|y| (u = 6e-8), so the numeric derivative has an
 * absolute error of about 1e-7·sqrt(k)/(2e) ≈ 1e-5 for e = 1e-2. Against the
 * 1e-3 floor, a near-zero gradient can thus show a relative error of up to
 * ~1e-2 with a correct implementation; a wrong gradient shows O(1). Modules
 * that are linear in the checked argument (Linear, Conv2d) therefore use
 * eps = 0.1, which is exact for them and ten times less noisy; every module
 * test states its tolerance (1e-2) and why. Set HNT_VERBOSE=1 to print the
 * worst error of every check. */
static double mc_gradcheck(mc_mod *m, const char *what, float eps, double tol) {
  char name[160];
  mc_forward_backward(m);
  float *dx = mc_alloc(m->x.numel), *dw = mc_alloc(m->n_w);
  memcpy(dx, m->dx.data, (size_t)m->x.numel * sizeof(float));
  if (m->n_w) memcpy(dw, m->dw, (size_t)m->n_w * sizeof(float));
  snprintf(name, sizeof name, "%s dx", what);
  double worst = hnt_gradcheck(name, mc_loss, m, m->x.data, dx, m->x.numel, eps, 200, 1e-3, tol);
  if (m->n_w) {
    snprintf(name, sizeof name, "%s dw", what);
    double e = hnt_gradcheck(name, mc_loss, m, m->w, dw, m->n_w, eps, 200, 1e-3, tol);
    worst = e > worst ? e : worst;
  }
  if (getenv("HNT_VERBOSE")) printf("    %s: worst gradcheck error %.3g\n", what, worst);
  free(dx);
  free(dw);
  return worst;
}

/* Backward twice gives exactly 2·dw (from zero) and the same dx; dx = NULL
 * and dw = NULL work and give the same other result. */
static void mc_check_semantics(mc_mod *m) {
  int64_t nx = m->x.numel, nw = m->n_w;
  mc_forward_backward(m);
  float *dx1 = mc_alloc(nx), *dw1 = mc_alloc(nw);
  memcpy(dx1, m->dx.data, (size_t)nx * sizeof(float));
  if (nw) memcpy(dw1, m->dw, (size_t)nw * sizeof(float));
  /* second pass, accumulating */
  hn_ops_fill(m->dx.data, 123.0f, nx);
  assert_int_equal(m->vt->backward(m->cfg, m->w, &m->x, &m->y, m->ws, &m->dy, &m->dx,
                                   nw ? m->dw : NULL, &m->run), HN_OK);
  hnt_assert_bytes_equal(m->dx.data, dx1, (size_t)nx * sizeof(float), "dx second pass");
  for (int64_t i = 0; i < nw; i++) {
    float twice = dw1[i] + dw1[i];
    if (memcmp(&m->dw[i], &twice, sizeof twice) != 0)
      fail_msg("%s: dw after two passes is not exactly 2*dw at %lld: %.9g vs %.9g", m->vt->name,
               (long long)i, (double)m->dw[i], (double)twice);
  }
  /* dx = NULL: dw still right */
  if (nw) {
    memset(m->dw, 0, (size_t)nw * sizeof(float));
    assert_int_equal(m->vt->backward(m->cfg, m->w, &m->x, &m->y, m->ws, &m->dy, NULL, m->dw,
                                     &m->run), HN_OK);
    hnt_assert_bytes_equal(m->dw, dw1, (size_t)nw * sizeof(float), "dw with dx = NULL");
  }
  /* dw = NULL: dx still right */
  hn_ops_fill(m->dx.data, -7.0f, nx);
  assert_int_equal(m->vt->backward(m->cfg, m->w, &m->x, &m->y, m->ws, &m->dy, &m->dx, NULL,
                                   &m->run), HN_OK);
  hnt_assert_bytes_equal(m->dx.data, dx1, (size_t)nx * sizeof(float), "dx with dw = NULL");
  /* both NULL: nothing to do, nothing fails */
  assert_int_equal(m->vt->backward(m->cfg, m->w, &m->x, &m->y, m->ws, &m->dy, NULL, NULL,
                                   &m->run), HN_OK);
  free(dx1);
  free(dw1);
}

static void mc_assert_msg_has(const char *needle) {
  if (!strstr(hn_errmsg(), needle))
    fail_msg("error message \"%s\" does not contain \"%s\"", hn_errmsg(), needle);
}

/* Forward with x of a wrong shape: HN_ERR_SHAPE, the message names the module
 * and both shapes (the bad one and `expected`), y stays byte-identical to
 * its sentinel. Then a wrong y and a wrong dy (dx and dw untouched). */
static void mc_check_shape_errors(mc_mod *m, int bad_ndim, const int64_t *bad,
                                  const char *expected) {
  hn_tensor xb;
  assert_int_equal(hn_tensor_init(&xb, bad_ndim, bad), HN_OK);
  size_t ybytes = (size_t)m->y.numel * sizeof(float);
  unsigned char *sentinel = malloc(ybytes + 1);
  assert_non_null(sentinel);
  memset(m->y.data, 0xA5, ybytes);
  memcpy(sentinel, m->y.data, ybytes);
  assert_int_equal(m->vt->forward(m->cfg, m->w, &xb, &m->y, m->ws, &m->run), HN_ERR_SHAPE);
  mc_assert_msg_has(m->vt->name);
  mc_assert_msg_has(hn_tensor_str(&xb));
  mc_assert_msg_has(expected);
  hnt_assert_bytes_equal(m->y.data, sentinel, ybytes, "y after a failed forward");
  free(sentinel);

  /* y of a wrong shape (one more row) */
  hn_tensor yb;
  int64_t ys[4];
  memcpy(ys, m->y.shape, sizeof ys);
  ys[0] += 1;
  assert_int_equal(hn_tensor_init(&yb, m->y.ndim, ys), HN_OK);
  hn_tensor_fill(&yb, 3.0f);
  assert_int_equal(m->vt->forward(m->cfg, m->w, &m->x, &yb, m->ws, &m->run), HN_ERR_SHAPE);
  mc_assert_msg_has(m->vt->name);
  mc_assert_msg_has(hn_tensor_str(&yb));
  mc_assert_msg_has(hn_tensor_str(&m->y));
  for (int64_t i = 0; i < yb.numel; i++) assert_true(yb.data[i] == 3.0f);

  /* backward with dy of the wrong shape: dx and dw untouched */
  mc_forward(m);
  hn_ops_fill(m->dx.data, 9.0f, m->dx.numel);
  hn_ops_fill(m->dw, 4.0f, m->n_w);
  assert_int_equal(m->vt->backward(m->cfg, m->w, &m->x, &m->y, m->ws, &yb, &m->dx, m->dw,
                                   &m->run), HN_ERR_SHAPE);
  mc_assert_msg_has(m->vt->name);
  mc_assert_msg_has(hn_tensor_str(&yb));
  for (int64_t i = 0; i < m->dx.numel; i++) assert_true(m->dx.data[i] == 9.0f);
  for (int64_t i = 0; i < m->n_w; i++) assert_true(m->dw[i] == 4.0f);
  /* and with x of the wrong shape */
  assert_int_equal(m->vt->backward(m->cfg, m->w, &xb, &m->y, m->ws, &m->dy, &m->dx, m->dw,
                                   &m->run), HN_ERR_SHAPE);
  mc_assert_msg_has(m->vt->name);
  for (int64_t i = 0; i < m->dx.numel; i++) assert_true(m->dx.data[i] == 9.0f);
  hn_tensor_release(&xb);
  hn_tensor_release(&yb);
}

static double mc_maxabs(const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
  return m;
}

/* Forward + backward with 1 and with 2 threads: y, dx, dw bitwise equal
 * (rtol < 0) or within rtol (GEMM: BLAS may split sums differently). */
static void mc_check_threads(mc_mod *m, double rtol) {
  int saved = hn_threads_get();
  int64_t ny = m->y.numel, nx = m->x.numel, nw = m->n_w;
  assert_int_equal(hn_threads_set(1), HN_OK);
  mc_forward_backward(m);
  float *y1 = mc_alloc(ny), *dx1 = mc_alloc(nx), *dw1 = mc_alloc(nw);
  memcpy(y1, m->y.data, (size_t)ny * sizeof(float));
  memcpy(dx1, m->dx.data, (size_t)nx * sizeof(float));
  if (nw) memcpy(dw1, m->dw, (size_t)nw * sizeof(float));
  assert_int_equal(hn_threads_set(2), HN_OK);
  mc_forward_backward(m);
  if (rtol < 0) {
    hnt_assert_bytes_equal(m->y.data, y1, (size_t)ny * sizeof(float), "y 1 vs 2 threads");
    hnt_assert_bytes_equal(m->dx.data, dx1, (size_t)nx * sizeof(float), "dx 1 vs 2 threads");
    hnt_assert_bytes_equal(m->dw, dw1, (size_t)nw * sizeof(float), "dw 1 vs 2 threads");
  } else {
    /* relative to each tensor's largest magnitude, so that entries which
     * cancel to near zero are judged on the scale of their partial sums */
    hnt_assert_close(m->y.data, y1, ny, rtol, rtol * mc_maxabs(y1, ny), "y 1 vs 2 threads");
    hnt_assert_close(m->dx.data, dx1, nx, rtol, rtol * mc_maxabs(dx1, nx), "dx 1 vs 2 threads");
    hnt_assert_close(m->dw, dw1, nw, rtol, rtol * mc_maxabs(dw1, nw), "dw 1 vs 2 threads");
  }
  assert_int_equal(hn_threads_set(saved), HN_OK);
  free(y1);
  free(dx1);
  free(dw1);
}

#endif
