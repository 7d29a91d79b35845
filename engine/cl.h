/*
 * cl.h — per-weight kernels of the continual-learning methods.
 *
 * The training loops that use them (which tasks to regularise, when to
 * snapshot, how to weight) live in Lua; these are the parts that run per
 * weight. All are elementwise or fixed-block reductions: parallel over
 * elements with OpenMP, losses summed in double over fixed blocks of
 * HN_REDUCE_BLOCK elements (partials added in block order), so the bits do
 * not depend on the thread count. None allocate. Arguments are checked
 * before anything is written; a failed call leaves its outputs untouched.
 * Gradients are ACCUMULATED into (dW, dtheta), following module.h.
 *
 * Methods and kernels:
 *  - Hypernetwork output regulariser (von Oswald et al., ICLR 2020):
 *      hn_cl_output_reg, β/T' Σ_{t} ||W_t − W*_t||² over T' earlier tasks.
 *  - EWC (Kirkpatrick et al., 2017) and online EWC (Schwarz et al., 2018):
 *      hn_cl_fisher_acc builds a diagonal empirical Fisher from gradients,
 *      hn_cl_fisher_merge folds a task's Fisher into the running total,
 *      hn_cl_quad_penalty is the penalty λ/2 Σ F (θ − θ*)².
 *  - SI (Zenke et al., 2017): hn_cl_si_accumulate integrates −g·Δθ along the
 *      path of every optimiser step, hn_cl_si_consolidate turns it into the
 *      importance Ω at the end of a task. The SI penalty c Σ Ω (θ − θ*)² is
 *      hn_cl_quad_penalty with fisher = Ω and lambda = 2c.
 */
#ifndef HN_CL_H
#define HN_CL_H

#include "base.h"

/* Output regulariser over n_tasks earlier tasks: W, W_star [n_tasks, n_out].
 *   *loss = beta / n_tasks · Σ_t ||W_t − W*_t||²      (loss may be NULL)
 *   dW   += 2 beta / n_tasks · (W − W*)                (dW may be NULL)
 * n_tasks = 0 gives loss 0 and leaves dW alone. beta >= 0. */
hn_status hn_cl_output_reg(const float *W, const float *W_star, int64_t n_tasks, int64_t n_out,
                           float beta, float *loss, float *dW);

/* Quadratic (EWC / online EWC / SI) penalty over n parameters:
 *   *loss   = lambda/2 · Σ_i F_i (θ_i − θ*_i)²         (loss may be NULL)
 *   dtheta += lambda · F ⊙ (θ − θ*)                    (dtheta may be NULL)
 * lambda >= 0; fisher holds importances (any finite values). */
hn_status hn_cl_quad_penalty(const float *theta, const float *theta_star, const float *fisher,
                             int64_t n, float lambda, float *loss, float *dtheta);

/* Empirical Fisher: fisher += scale · grad² (elementwise). Call once per
 * sample (or batch) gradient with scale = 1 / number of gradients. */
hn_status hn_cl_fisher_acc(float *fisher, const float *grad, int64_t n, float scale);

/* Online EWC: fisher_total = gamma · fisher_total + fisher_task (gamma >= 0;
 * gamma = 1 keeps a plain sum, as EWC with one penalty per task would). */
hn_status hn_cl_fisher_merge(float *fisher_total, const float *fisher_task, int64_t n,
                             float gamma);

/* SI path integral after one optimiser step: omega_run −= grad ⊙ delta, with
 * grad the task-loss gradient used by the step and delta = θ_new − θ_old. */
hn_status hn_cl_si_accumulate(float *omega_run, const float *grad, const float *delta, int64_t n);

/* SI consolidation at the end of a task:
 *   big_omega += omega_run / ((θ − θ_start)² + xi);  omega_run = 0
 * theta_start is θ at the start of the task; xi > 0 damps the division. */
hn_status hn_cl_si_consolidate(float *big_omega, float *omega_run, const float *theta,
                               const float *theta_start, int64_t n, float xi);

#endif
