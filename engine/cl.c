/*
 * cl.c — per-weight kernels of the continual-learning methods (see cl.h).
 *
 * Elementwise loops are parallel over elements (each iteration writes its own
 * element). The two losses are sums in double over fixed blocks of
 * HN_REDUCE_BLOCK elements: block partials are computed in parallel and added
 * serially in block order (GROUP_BLOCKS partials at a time on the stack), so
 * the loss bits do not depend on the thread count.
 */
#include "cl.h"
#include "internal.h"
#include "ops.h"

#include <math.h>

#define GROUP_BLOCKS 256

static hn_status check_n(const char *who, int64_t n) {
  if (n < 0) return hn_fail(HN_ERR_ARG, "%s: n = %lld; use n >= 0", who, (long long)n);
  return HN_OK;
}

static hn_status check_ptr(const char *who, const char *what, const void *p, int64_t n) {
  if (!p && n > 0)
    return hn_fail(HN_ERR_ARG, "%s: %s is NULL (it must hold %lld floats)", who, what,
                   (long long)n);
  return HN_OK;
}

static hn_status check_scalar(const char *who, const char *what, float v, bool positive) {
  if (!isfinite(v) || v < 0.0f || (positive && v == 0.0f))
    return hn_fail(HN_ERR_ARG, "%s: %s = %g; use a finite value %s 0", who, what, (double)v,
                   positive ? ">" : ">=");
  return HN_OK;
}

/* ---- hypernetwork output regulariser ---------------------------------------- */

hn_status hn_cl_output_reg(const float *W, const float *W_star, int64_t n_tasks, int64_t n_out,
                           float beta, float *loss, float *dW) {
  static const char who[] = "hn_cl_output_reg";
  if (n_tasks < 0 || n_out < 0)
    return hn_fail(HN_ERR_ARG, "%s: n_tasks = %lld, n_out = %lld; both must be >= 0", who,
                   (long long)n_tasks, (long long)n_out);
  if (n_out > 0 && n_tasks > INT64_MAX / n_out)
    return hn_fail(HN_ERR_ARG, "%s: n_tasks * n_out overflows", who);
  int64_t n = n_tasks * n_out;
  HN_TRY(check_ptr(who, "W", W, n));
  HN_TRY(check_ptr(who, "W_star", W_star, n));
  HN_TRY(check_scalar(who, "beta", beta, false));
  if (n_tasks == 0) {
    if (loss) *loss = 0.0f;
    return HN_OK;
  }
  if (loss) *loss = (float)((double)beta / (double)n_tasks * hn_ops_sqdist(W, W_star, n));
  if (dW) {
    float s = (float)(2.0 * (double)beta / (double)n_tasks);
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
    for (int64_t i = 0; i < n; i++) dW[i] += s * (W[i] - W_star[i]);
  }
  return HN_OK;
}

/* ---- EWC / online EWC / SI penalty --------------------------------------------- */

/* Σ F (θ − θ*)² over [lo, hi), serially in double. */
static double quad_block(const float *t, const float *ts, const float *f, int64_t lo, int64_t hi) {
  double s = 0.0;
  for (int64_t i = lo; i < hi; i++) {
    double d = (double)t[i] - (double)ts[i];
    s += (double)f[i] * d * d;
  }
  return s;
}

static double quad_sum(const float *t, const float *ts, const float *f, int64_t n) {
  int64_t n_blocks = (n + HN_REDUCE_BLOCK - 1) / HN_REDUCE_BLOCK;
  double total = 0.0;
  double part[GROUP_BLOCKS];
  for (int64_t g0 = 0; g0 < n_blocks; g0 += GROUP_BLOCKS) {
    int64_t gn = HN_MIN(GROUP_BLOCKS, n_blocks - g0);
#pragma omp parallel for schedule(static) if (gn * HN_REDUCE_BLOCK > HN_OMP_MIN_WORK)
    for (int64_t j = 0; j < gn; j++) {
      int64_t lo = (g0 + j) * HN_REDUCE_BLOCK;
      part[j] = quad_block(t, ts, f, lo, HN_MIN(n, lo + HN_REDUCE_BLOCK));
    }
    for (int64_t j = 0; j < gn; j++) total += part[j];
  }
  return total;
}

hn_status hn_cl_quad_penalty(const float *theta, const float *theta_star, const float *fisher,
                             int64_t n, float lambda, float *loss, float *dtheta) {
  static const char who[] = "hn_cl_quad_penalty";
  HN_TRY(check_n(who, n));
  HN_TRY(check_ptr(who, "theta", theta, n));
  HN_TRY(check_ptr(who, "theta_star", theta_star, n));
  HN_TRY(check_ptr(who, "fisher", fisher, n));
  HN_TRY(check_scalar(who, "lambda", lambda, false));
  if (loss) *loss = (float)(0.5 * (double)lambda * quad_sum(theta, theta_star, fisher, n));
  if (dtheta) {
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
    for (int64_t i = 0; i < n; i++) dtheta[i] += lambda * fisher[i] * (theta[i] - theta_star[i]);
  }
  return HN_OK;
}

hn_status hn_cl_fisher_acc(float *fisher, const float *grad, int64_t n, float scale) {
  static const char who[] = "hn_cl_fisher_acc";
  HN_TRY(check_n(who, n));
  HN_TRY(check_ptr(who, "fisher", fisher, n));
  HN_TRY(check_ptr(who, "grad", grad, n));
  HN_TRY(check_scalar(who, "scale", scale, false));
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) fisher[i] += scale * (grad[i] * grad[i]);
  return HN_OK;
}

hn_status hn_cl_fisher_merge(float *fisher_total, const float *fisher_task, int64_t n,
                             float gamma) {
  static const char who[] = "hn_cl_fisher_merge";
  HN_TRY(check_n(who, n));
  HN_TRY(check_ptr(who, "fisher_total", fisher_total, n));
  HN_TRY(check_ptr(who, "fisher_task", fisher_task, n));
  HN_TRY(check_scalar(who, "gamma", gamma, false));
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) fisher_total[i] = gamma * fisher_total[i] + fisher_task[i];
  return HN_OK;
}

/* ---- SI ------------------------------------------------------------------------------ */

hn_status hn_cl_si_accumulate(float *omega_run, const float *grad, const float *delta,
                              int64_t n) {
  static const char who[] = "hn_cl_si_accumulate";
  HN_TRY(check_n(who, n));
  HN_TRY(check_ptr(who, "omega_run", omega_run, n));
  HN_TRY(check_ptr(who, "grad", grad, n));
  HN_TRY(check_ptr(who, "delta", delta, n));
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) omega_run[i] -= grad[i] * delta[i];
  return HN_OK;
}

hn_status hn_cl_si_consolidate(float *big_omega, float *omega_run, const float *theta,
                               const float *theta_start, int64_t n, float xi) {
  static const char who[] = "hn_cl_si_consolidate";
  HN_TRY(check_n(who, n));
  HN_TRY(check_ptr(who, "big_omega", big_omega, n));
  HN_TRY(check_ptr(who, "omega_run", omega_run, n));
  HN_TRY(check_ptr(who, "theta", theta, n));
  HN_TRY(check_ptr(who, "theta_start", theta_start, n));
  HN_TRY(check_scalar(who, "xi", xi, true));
#pragma omp parallel for schedule(static) if (n > HN_OMP_MIN_WORK)
  for (int64_t i = 0; i < n; i++) {
    float d = theta[i] - theta_start[i];
    big_omega[i] += omega_run[i] / (d * d + xi);
    omega_run[i] = 0.0f;
  }
  return HN_OK;
}
