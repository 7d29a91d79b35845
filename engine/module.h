/*
 * module.h — the contract every target-network module follows.
 *
 * A module owns *sizes*, never weights: its parameters are a slice `w` of the
 * flat weight vector W that the caller (usually the hypernetwork) provides.
 * Shapes include the batch as dimension 0: a Linear sees x [n_batch, n_in], a
 * Conv2d x [n_batch, channels, height, width].
 *
 *  n_params(cfg)                 floats the module reads from w
 *  n_stats(cfg)                  floats of external state (BatchNorm running
 *                                mean/var); the caller keeps one set per task
 *  out_shape(cfg, ndim, in, &ondim, out)   check an input shape, infer output
 *  ws_size(cfg, ndim, in)        floats of scratch the module needs between
 *                                forward and backward (masks, argmax, im2col)
 *  init_var(cfg, mean, var)      the mean and variance of a "normally
 *                                initialised" network for each parameter; used
 *                                by hn_net_init and by hyperfan initialisation
 *  forward(cfg, w, x, y, ws, run)
 *      argument order: config, weights, inputs, outputs, scratch, context.
 *      y is overwritten; what backward needs goes into ws.
 *  backward(cfg, w, x, y, ws, dy, dx, dw, run)
 *      dx is OVERWRITTEN (NULL: not needed);
 *      dw is ACCUMULATED INTO (NULL: not needed). The caller zeroes dw once per
 *      step; accumulation is what lets shared weights, chunks and sums over
 *      earlier tasks work without copies.
 *
 * Modules with train/eval behaviour take the mode and their external state
 * from hn_run; nothing is hidden in globals. Forward/backward check shapes
 * before writing anything and are called outside OpenMP regions (they may
 * open their own).
 */
#ifndef HN_MODULE_H
#define HN_MODULE_H

#include "rng.h"
#include "tensor.h"

/* Per-call context. */
typedef struct hn_run {
  bool train;    /* training mode (Dropout active, BatchNorm batch statistics) */
  hn_rng *rng;   /* Dropout's stream; required when train and p > 0            */
  float *stats;  /* this module's external state (n_stats floats) or NULL      */
  /* Sequence modules (embedding, rnn, lstm): the valid steps of each sample,
   * n_batch values in 1..T; NULL means every sample has all T steps. Steps
   * t >= lengths[b] are padding: they never reach an output or a gradient.
   * Backward uses the lengths of the forward (kept in ws); if given there,
   * they must be the same. */
  const int64_t *lengths;
} hn_run;

typedef struct hn_module_vt {
  const char *name;
  int64_t (*n_params)(const void *cfg);
  int64_t (*n_stats)(const void *cfg);
  hn_status (*out_shape)(const void *cfg, int ndim, const int64_t *in, int *out_ndim,
                         int64_t *out);
  int64_t (*ws_size)(const void *cfg, int ndim, const int64_t *in);
  void (*init_var)(const void *cfg, float *mean, float *var);
  /* Initial external state (BatchNorm: mean 0, var 1); NULL if n_stats == 0. */
  void (*init_stats)(const void *cfg, float *stats);
  hn_status (*forward)(const void *cfg, const float *w, const hn_tensor *x, hn_tensor *y,
                       float *ws, const hn_run *run);
  hn_status (*backward)(const void *cfg, const float *w, const hn_tensor *x, const hn_tensor *y,
                        float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                        const hn_run *run);
  /* Names and shapes of the parameter slices, for the layout: fills up to 4
   * (name suffix, ndim, shape) and returns how many. */
  int (*param_slices)(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]);
} hn_module_vt;

/* ---- the modules: one small config struct each --------------------------- */

/* Linear: x [n, n_in] · w[n_out, n_in]^T + b[n_out] -> y [n, n_out].
 * Parameters: weight [n_out, n_in] then bias [n_out] (if bias).
 * Normal init: weight N(0, 1/n_in) (or 1/n_out, fan-out mode), bias N(0, 1/(3 n_in))... see linear.c. */
typedef struct hn_linear { int64_t n_in, n_out; bool bias; bool fan_out; } hn_linear;
extern const hn_module_vt hn_linear_vt;

/* Conv2d: x [n, c_in, h, w] -> y [n, c_out, h_out, w_out], square kernel k,
 * stride, zero padding pad. Parameters: weight [c_out, c_in, k, k], bias [c_out].
 * im2col + GEMM. */
typedef struct hn_conv2d { int64_t c_in, c_out, k, stride, pad; bool bias; bool fan_out; } hn_conv2d;
extern const hn_module_vt hn_conv2d_vt;

/* MaxPool2d / AvgPool2d: x [n, c, h, w] -> y [n, c, h_out, w_out]; window k,
 * stride, no padding (h_out = (h - k) / stride + 1). No parameters. */
typedef struct hn_pool { int64_t k, stride; } hn_pool;
extern const hn_module_vt hn_maxpool2d_vt;
extern const hn_module_vt hn_avgpool2d_vt;

/* Flatten: x [n, ...] -> y [n, prod(...)]. */
typedef struct hn_flatten { int unused; } hn_flatten;
extern const hn_module_vt hn_flatten_vt;

/* Elementwise activations; alpha is ELU's alpha (ignored by the others). */
typedef enum hn_act_kind { HN_ACT_RELU, HN_ACT_TANH, HN_ACT_SIGMOID, HN_ACT_ELU, HN_ACT_IDENTITY } hn_act_kind;
typedef struct hn_act { hn_act_kind kind; float alpha; } hn_act;
extern const hn_module_vt hn_act_vt;

/* Dropout with drop probability p (inverted: kept units scaled by 1/(1-p)).
 * Identity in eval mode. The mask is stored in ws. */
typedef struct hn_dropout { float p; } hn_dropout;
extern const hn_module_vt hn_dropout_vt;

/* BatchNorm over channels: x [n, c] or [n, c, h, w]. Parameters: gamma offset
 * [c] then beta [c]; the scale is (1 + gamma offset) so that a zero-mean
 * generator (a hypernetwork) starts at the identity scale. External state
 * (n_stats = 2c): running mean [c] then running var [c], one set per task.
 * Train mode normalises with batch statistics and updates the running ones
 * with `momentum`; eval mode uses the running ones. */
typedef struct hn_batchnorm { int64_t c; float eps, momentum; } hn_batchnorm;
extern const hn_module_vt hn_batchnorm_vt;

/* ---- sequences ---------------------------------------------------------------
 *
 * Layout: batch-first, x [n, T, F] (sample b's step t is row b*T + t), like
 * every other tensor of a net, whose dimension 0 is the batch. The rows
 * (b, t) of all samples and steps are then one contiguous [n*T, F] matrix,
 * so the input products of all steps are ONE GEMM (and so are dW_ih, dW_hh
 * and dx in backward); the hidden-to-hidden product of step t reads and
 * writes the n rows of step t with a leading dimension of T*G (a strided
 * GEMM), so no transposed copy is ever made. Padded steps (t >= lengths[b],
 * see hn_run) give exactly 0 outputs, their dy is never read, and they
 * contribute exactly 0 to dx, dw and dh0 (their x is multiplied by 0 in
 * dW_ih, so it must be finite; hn_net zeroes it). T <= 2^24. */

/* Elman RNN (tanh), LSTM and GRU: x [n, T, n_in] -> y [n, T, hidden] (every
 * step; padded steps 0) or, with last, y [n, hidden] (the state after each
 * sample's last valid step).
 *   rnn:  h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)
 *   lstm: [i f g o] = W_ih x_t + W_hh h_{t-1} + b  (PyTorch's gate order)
 *         c_t = σ(f) c_{t-1} + σ(i) tanh(g),  h_t = σ(o) tanh(c_t)
 * Parameters: weight_ih [G, n_in], weight_hh [G, hidden], bias [G] with
 * G = hidden (rnn) or 4 hidden (lstm). One bias, not PyTorch's two
 * (b_ih + b_hh): only their sum enters the model, so the second is a
 * redundant direction that a hypernetwork would have to generate and that
 * the continual-learning regulariser would hold for no change of function.
 * Normal init: the cell is a linear map of [x_t, h_{t-1}] (fan-in
 * n_in + hidden, fan-out G): weights N(0, 1/(n_in + hidden)) (fan_out mode:
 * 1/G), bias N(0, 1/(3 (n_in + hidden))), as Linear does for its fan-in.
 * h_0 (and c_0) are 0 unless given through hn_*_forward_state. */
typedef struct hn_recurrent { int64_t n_in, hidden; bool last; bool fan_out; } hn_recurrent;
extern const hn_module_vt hn_rnn_vt;
extern const hn_module_vt hn_lstm_vt;
/* GRU, PyTorch's equations and gate order (r, z, n):
 *   r = σ(x_r + W_hr h_{t-1}), u = σ(x_u + W_hu h_{t-1}) (b folded into x_*)
 *   n = tanh(x_n + r (W_hn h_{t-1} + b_hn)),  h_t = (1 - u) n + u h_{t-1}
 * G = 3 hidden; parameters weight_ih, weight_hh, bias [G] as above, then
 * bias_hn [hidden]: inside r (.), b_hn is not redundant with bias, so this
 * one stays separate (init variance of the bias). */
extern const hn_module_vt hn_gru_vt;

/* Forward with a given initial state: h0 [n, hidden] (and, for the LSTM,
 * c0 [n, hidden]); NULL means 0. The vtable's forward is this with NULLs. */
hn_status hn_rnn_forward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                               const float *h0, hn_tensor *y, float *ws, const hn_run *run);
hn_status hn_lstm_forward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                const float *h0, const float *c0, hn_tensor *y, float *ws,
                                const hn_run *run);
hn_status hn_gru_forward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                               const float *h0, hn_tensor *y, float *ws, const hn_run *run);
/* Backward of the last forward (y is not read: the states are in ws), also
 * giving dh0 (and dc0) [n, hidden], OVERWRITTEN like dx (NULL: not needed). */
hn_status hn_rnn_backward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                                float *dh0, const hn_run *run);
hn_status hn_lstm_backward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                 float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                                 float *dh0, float *dc0, const hn_run *run);
hn_status hn_gru_backward_state(const hn_recurrent *cfg, const float *w, const hn_tensor *x,
                                float *ws, const hn_tensor *dy, hn_tensor *dx, float *dw,
                                float *dh0, const hn_run *run);

/* Embedding (lookup): token ids x [n, T] (floats holding integers in
 * 0..vocab-1) -> y [n, T, dim], y[b, t] = table[x[b, t]]. Parameters:
 * weight [vocab, dim], normal init N(0, 1) (PyTorch's). An id that is not an
 * integer in range is an error before any output is written; padded steps
 * (lengths) are not read and give 0. dx is 0 (ids are not differentiable);
 * the rows of dw are accumulated in a fixed order whatever the thread
 * count. */
typedef struct hn_embedding { int64_t vocab, dim; } hn_embedding;
extern const hn_module_vt hn_embedding_vt;

#endif
