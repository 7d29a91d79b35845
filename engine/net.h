/*
 * net.h — a target network: a sequence of modules, a parameter layout, and a
 * workspace planned once for the largest batch.
 *
 * The network has no weights of its own: forward and backward take the flat
 * weight vector W (hn_net_n_params floats, laid out by hn_net_layout) from
 * the caller. Build it with hn_net_new + hn_net_add_* + hn_net_finalize;
 * finalize computes every shape and allocates the workspace (activations,
 * module scratch, gradient buffers) at once. After that, forward/backward
 * never allocate; a smaller batch uses a prefix of the workspace.
 *
 *   hn_net *net;
 *   hn_net_new(&net, 1, (int64_t[]){784}, 128);
 *   hn_net_add_linear(net, 100, true); hn_net_add_act(net, HN_ACT_RELU, 0);
 *   hn_net_add_linear(net, 10, true);
 *   hn_net_finalize(net);
 *   hn_net_forward(net, W, &x, &y, &run);       // y [n, 10]
 *   hn_net_backward(net, W, &dy, dW, NULL, &run); // dW += dL/dW
 */
#ifndef HN_NET_H
#define HN_NET_H

#include "layout.h"
#include "module.h"

typedef struct hn_net hn_net;

/* in_shape is the per-sample shape ([784] or [1, 28, 28]); 1..3 dims. */
hn_status hn_net_new(hn_net **out, int in_ndim, const int64_t *in_shape, int64_t max_batch);
void hn_net_free(hn_net *net);

hn_status hn_net_add_linear(hn_net *net, int64_t n_out, bool bias);
hn_status hn_net_add_conv2d(hn_net *net, int64_t c_out, int64_t k, int64_t stride, int64_t pad, bool bias);
hn_status hn_net_add_maxpool2d(hn_net *net, int64_t k, int64_t stride);
hn_status hn_net_add_avgpool2d(hn_net *net, int64_t k, int64_t stride);
hn_status hn_net_add_flatten(hn_net *net);
hn_status hn_net_add_act(hn_net *net, hn_act_kind kind, float alpha);
hn_status hn_net_add_dropout(hn_net *net, float p);
hn_status hn_net_add_batchnorm(hn_net *net, float eps, float momentum);
/* Sequence modules (module.h). A net with any of them is a sequence net: its
 * per-sample input is [T] token ids (embedding first) or [T, features], T
 * fixed at creation (the longest sequence); shorter samples come with
 * run->lengths. The linear layer applies at every step of a [T, features]
 * input. last: the recurrent layer outputs [hidden], the state after each
 * sample's last valid step, instead of [T, hidden]. */
hn_status hn_net_add_embedding(hn_net *net, int64_t vocab, int64_t dim);
hn_status hn_net_add_rnn(hn_net *net, int64_t hidden, bool last);
hn_status hn_net_add_lstm(hn_net *net, int64_t hidden, bool last);
hn_status hn_net_add_gru(hn_net *net, int64_t hidden, bool last);
/* Fan mode of the normal initialisation of Linear and Conv2d weights (and so
 * of hyperfan init): false (default) gives var 1/fan_in, true 1/fan_out.
 * Applies to modules already added and to later ones; before finalize only. */
hn_status hn_net_set_fan_mode(hn_net *net, bool fan_out);
/* Plan shapes and allocate the workspace. Adding after this is an error. */
hn_status hn_net_finalize(hn_net *net);

int64_t hn_net_n_params(const hn_net *net);
int64_t hn_net_n_stats(const hn_net *net);
int64_t hn_net_max_batch(const hn_net *net);
/* T of a sequence net (its input's dimension 0), 0 for other nets. */
int64_t hn_net_seq_len(const hn_net *net);
int hn_net_n_modules(const hn_net *net);
const char *hn_net_module_name(const hn_net *net, int i);
const hn_layout *hn_net_layout(const hn_net *net);
/* Per-sample input and output shapes. */
int hn_net_in_shape(const hn_net *net, int64_t *shape);
int hn_net_out_shape(const hn_net *net, int64_t *shape);
/* Multiply-add count of one forward pass per sample (for FLOP reports). */
int64_t hn_net_flops_per_sample(const hn_net *net);
/* Bytes of workspace allocated by finalize. */
int64_t hn_net_ws_bytes(const hn_net *net);

/* The per-parameter mean and variance of a normally initialised network. */
hn_status hn_net_init_var(const hn_net *net, float *mean, float *var);
/* Draw W ~ N(mean, var) per parameter. */
hn_status hn_net_init(const hn_net *net, float *w, hn_rng *rng);
/* Initial external state (BatchNorm running mean 0, var 1). */
hn_status hn_net_init_stats(const hn_net *net, float *stats);

/* x [n, in_shape...] with n <= max_batch -> y [n, out...] (y is written).
 * run->stats, if the net has BatchNorm, is the whole n_stats vector of the
 * current task. Keeps the activations for backward. */
hn_status hn_net_forward(hn_net *net, const float *w, const hn_tensor *x, hn_tensor *y,
                         const hn_run *run);
/* Backward of the last forward: dy [n, out...]; dw (n_params) accumulated;
 * dx (optional, [n, in...]) overwritten.
 *
 * Sequence nets: forward takes run->lengths (n values in 1..T, or NULL for
 * all T) and keeps a copy; backward goes through that copy (run->lengths,
 * if given to backward, must be the same). When the output has the time
 * axis ([n, T, ...]), forward sets its padded steps to 0 and backward
 * ignores dy there: padding contributes exactly 0 to dw and dx. The loss
 * must still leave padded steps out of its value (they are 0 logits). */
hn_status hn_net_backward(hn_net *net, const float *w, const hn_tensor *dy, float *dw,
                          hn_tensor *dx, const hn_run *run);

#endif
