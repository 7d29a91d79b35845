/*
 * net.c — a target network: a sequence of modules (each a vtable plus its own
 * small config struct, allocated separately), a parameter layout built as
 * modules are added, and one workspace planned and allocated by
 * hn_net_finalize for max_batch samples:
 *
 *   act[0]            the input, copied by forward     [max_batch, in...]
 *   act[i + 1]        module i's output                [max_batch, out_i...]
 *   ws[i]             module i's scratch (ws_size at max_batch)
 *   grad[0], grad[1]  ping-pong buffers for the gradient flowing backward,
 *                     each as large as the largest activation
 *
 * Every region starts on a 64-byte boundary. A batch n < max_batch uses a
 * prefix of each region. Forward and backward never allocate.
 *
 * Layout entries are named "<index>.<module>.<slice>" ("0.linear.weight",
 * "3.batchnorm.bias"); external state (BatchNorm running statistics) is laid
 * out the same way, in module order, in a separate n_stats vector.
 *
 * Sequences: a net with an embedding, rnn, lstm or gru module is a sequence net;
 * dimension 0 of its per-sample input is the time axis (T steps). The net
 * tracks which boundaries still have that axis (a per-step linear,
 * activation or dropout keeps it; the last-step output of a recurrent layer
 * or a flatten ends it). Forward copies run->lengths into the workspace and
 * hands the copy to every module; when the net's output has the time axis,
 * its padded steps are set to 0 and backward zeroes dy there before going
 * down, so padding reaches no gradient whatever modules follow the
 * recurrent ones; the padded steps of the input copy are set to 0 too, so
 * that not even a NaN there reaches a product.
 */
#include "net.h"
#include "internal.h"
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SAMPLE_DIMS 3 /* per-sample shape: the batch takes the 4th */
#define ALIGN_FLOATS 16   /* 64 bytes */

typedef struct net_module {
  const hn_module_vt *vt;
  void *cfg; /* owned: the module's own config struct */
  int in_ndim, out_ndim; /* per-sample */
  int64_t in_shape[MAX_SAMPLE_DIMS], out_shape[MAX_SAMPLE_DIMS];
  int64_t w_off, n_w; /* slice of W */
  int64_t s_off, n_s; /* slice of the stats vector */
  int64_t n_ws;       /* scratch floats at max_batch */
  float *ws, *out;    /* inside the workspace (after finalize) */
  bool time_out;      /* dimension 0 of the per-sample output is the time axis */
} net_module;

struct hn_net {
  int in_ndim, cur_ndim;
  int64_t in_shape[MAX_SAMPLE_DIMS], cur_shape[MAX_SAMPLE_DIMS];
  int64_t max_batch;
  net_module *mods;
  int n_mods, cap_mods;
  hn_layout layout;
  int64_t n_stats;
  bool fan_out, finalized;
  bool cur_time;  /* dimension 0 of cur_shape is the input's (time) axis   */
  bool has_seq;   /* an embedding, rnn or lstm: a sequence net             */
  int64_t *lengths; /* [max_batch] copy of the last forward's lengths     */
  bool has_lengths; /* the last forward had lengths                        */
  float *block;   /* the one workspace allocation */
  int64_t ws_bytes;
  float *x0;      /* act[0] */
  float *grad[2];
  int64_t last_n; /* batch of the last successful forward; -1 if none */
};

static int64_t sample_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

/* Full shape [n, sample...] of a tensor at a boundary. */
static int full_shape(int64_t n, int ndim, const int64_t *sample, int64_t *full) {
  full[0] = n;
  for (int i = 0; i < ndim; i++) full[i + 1] = sample[i];
  return ndim + 1;
}

/* A view built in place (no checks: the net planned these shapes). */
static void make_view(hn_tensor *t, float *data, int64_t n, int ndim, const int64_t *sample) {
  memset(t, 0, sizeof *t);
  t->data = data;
  t->ndim = full_shape(n, ndim, sample, t->shape);
  t->numel = n * sample_numel(ndim, sample);
  t->owns = false;
}

static bool is_dims(const hn_tensor *t, int64_t n, int ndim, const int64_t *sample) {
  if (t->ndim != ndim + 1 || t->shape[0] != n) return false;
  for (int i = 0; i < ndim; i++)
    if (t->shape[i + 1] != sample[i]) return false;
  return true;
}

/* ---- construction ---------------------------------------------------------- */

hn_status hn_net_new(hn_net **out, int in_ndim, const int64_t *in_shape, int64_t max_batch) {
  if (!out || !in_shape) return hn_fail(HN_ERR_ARG, "hn_net_new: NULL argument");
  if (in_ndim < 1 || in_ndim > MAX_SAMPLE_DIMS)
    return hn_fail(HN_ERR_SHAPE, "hn_net_new: the per-sample input has %d dimensions; use 1 to "
                   "3 ([features] or [channels, height, width])", in_ndim);
  for (int i = 0; i < in_ndim; i++)
    if (in_shape[i] < 1)
      return hn_fail(HN_ERR_SHAPE, "hn_net_new: input shape %s has a dimension < 1",
                     hn_shape_fmt(in_ndim, in_shape).s);
  if (hn_shape_numel(in_ndim, in_shape) < 0)
    return hn_fail(HN_ERR_SHAPE, "hn_net_new: input shape %s is too large",
                   hn_shape_fmt(in_ndim, in_shape).s);
  if (max_batch < 1)
    return hn_fail(HN_ERR_ARG, "hn_net_new: max_batch = %lld; use max_batch >= 1",
                   (long long)max_batch);
  hn_net *net = hn_calloc(sizeof *net);
  if (!net) return hn_fail(HN_ERR_NOMEM, "hn_net_new: cannot allocate the network");
  net->in_ndim = net->cur_ndim = in_ndim;
  for (int i = 0; i < in_ndim; i++) net->in_shape[i] = net->cur_shape[i] = in_shape[i];
  net->max_batch = max_batch;
  net->last_n = -1;
  net->cur_time = true;
  hn_layout_init(&net->layout);
  *out = net;
  return HN_OK;
}

void hn_net_free(hn_net *net) {
  if (!net) return;
  for (int i = 0; i < net->n_mods; i++) hn_free(net->mods[i].cfg);
  hn_free(net->mods);
  hn_layout_release(&net->layout);
  hn_free(net->block);
  hn_free(net);
}

/* Append a module: validate its shapes against the current output, copy its
 * config, and add its parameter slices to the layout. On failure the net is
 * unchanged. */
static hn_status add_module(hn_net *net, const char *who, const hn_module_vt *vt,
                            const void *cfg, size_t cfg_bytes) {
  if (!net) return hn_fail(HN_ERR_ARG, "%s: net is NULL", who);
  if (net->finalized)
    return hn_fail(HN_ERR_STATE, "%s: the network is finalized; add every module before "
                   "hn_net_finalize", who);
  int idx = net->n_mods;
  int64_t in[HN_MAX_DIMS], out[HN_MAX_DIMS];
  int in_nd = full_shape(1, net->cur_ndim, net->cur_shape, in), out_nd = 0;
  hn_status st = vt->out_shape(cfg, in_nd, in, &out_nd, out);
  if (st != HN_OK) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", hn_errmsg());
    return hn_fail(st, "%s: module %d (%s) does not fit after per-sample shape %s: %s", who,
                   idx, vt->name, hn_shape_fmt(net->cur_ndim, net->cur_shape).s, msg);
  }
  if (out_nd < 2 || out_nd > MAX_SAMPLE_DIMS + 1)
    return hn_fail(HN_ERR_SHAPE, "%s: module %d (%s) would output %d dimensions", who, idx,
                   vt->name, out_nd);
  bool rec = vt == &hn_rnn_vt || vt == &hn_lstm_vt || vt == &hn_gru_vt;
  bool seq = rec || vt == &hn_embedding_vt, time_out = false;
  if (seq && !net->cur_time)
    return hn_fail(HN_ERR_SHAPE, "%s: module %d (%s) needs a sequence, but dimension 0 of the "
                   "per-sample shape %s is no longer the input's time axis (a flatten or a "
                   "last-step output came before)", who, idx, vt->name,
                   hn_shape_fmt(net->cur_ndim, net->cur_shape).s);
  if (vt == &hn_embedding_vt) time_out = true;
  else if (rec) time_out = !((const hn_recurrent *)cfg)->last;
  else if (vt == &hn_linear_vt) time_out = net->cur_time && net->cur_ndim == 2;
  else if (vt == &hn_act_vt || vt == &hn_dropout_vt) time_out = net->cur_time;
  if (net->n_mods == net->cap_mods) {
    int cap = net->cap_mods ? 2 * net->cap_mods : 8;
    net_module *m = hn_alloc((size_t)cap * sizeof *m);
    if (!m)
      return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate the module list (%d entries)", who,
                     cap);
    if (net->n_mods) memcpy(m, net->mods, (size_t)net->n_mods * sizeof *m);
    hn_free(net->mods);
    net->mods = m;
    net->cap_mods = cap;
  }
  void *copy = hn_alloc(cfg_bytes);
  if (!copy) return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate the module config", who);
  memcpy(copy, cfg, cfg_bytes);

  int saved_n = net->layout.n;
  int64_t saved_params = net->layout.n_params;
  const char *names[4];
  int ndims[4];
  int64_t shapes[4][4];
  int n_slices = vt->param_slices(copy, names, ndims, shapes);
  for (int s = 0; s < n_slices; s++) {
    char name[64];
    snprintf(name, sizeof name, "%d.%s.%s", idx, vt->name, names[s]);
    st = hn_layout_add(&net->layout, name, ndims[s], shapes[s], idx);
    if (st != HN_OK) {
      net->layout.n = saved_n;
      net->layout.n_params = saved_params;
      hn_free(copy);
      return st;
    }
  }
  net_module *m = &net->mods[idx];
  memset(m, 0, sizeof *m);
  m->vt = vt;
  m->cfg = copy;
  m->in_ndim = net->cur_ndim;
  memcpy(m->in_shape, net->cur_shape, sizeof m->in_shape);
  m->out_ndim = out_nd - 1;
  for (int i = 1; i < out_nd; i++) m->out_shape[i - 1] = out[i];
  m->w_off = saved_params;
  m->n_w = vt->n_params(copy);
  m->s_off = net->n_stats;
  m->n_s = vt->n_stats(copy);
  m->time_out = time_out;
  net->n_stats += m->n_s;
  net->cur_time = time_out;
  net->has_seq = net->has_seq || seq;
  net->cur_ndim = m->out_ndim;
  memcpy(net->cur_shape, m->out_shape, sizeof net->cur_shape);
  net->n_mods++;
  return HN_OK;
}

hn_status hn_net_add_linear(hn_net *net, int64_t n_out, bool bias) {
  bool per_step = net && net->cur_ndim == 2 && net->cur_time;
  hn_linear cfg = {.n_in = net && (net->cur_ndim == 1 || per_step)
                               ? net->cur_shape[net->cur_ndim - 1] : -1,
                   .n_out = n_out, .bias = bias, .fan_out = net && net->fan_out};
  if (net && net->cur_ndim != 1 && !per_step && !net->finalized)
    return hn_fail(HN_ERR_SHAPE, "hn_net_add_linear: the current per-sample shape is %s; a "
                   "linear layer needs [features] (add a flatten first) or a sequence [T, "
                   "features] (applied at every step)",
                   hn_shape_fmt(net->cur_ndim, net->cur_shape).s);
  return add_module(net, "hn_net_add_linear", &hn_linear_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_conv2d(hn_net *net, int64_t c_out, int64_t k, int64_t stride, int64_t pad,
                            bool bias) {
  hn_conv2d cfg = {.c_in = net && net->cur_ndim == 3 ? net->cur_shape[0] : -1,
                   .c_out = c_out, .k = k, .stride = stride, .pad = pad, .bias = bias,
                   .fan_out = net && net->fan_out};
  if (net && net->cur_ndim != 3 && !net->finalized)
    return hn_fail(HN_ERR_SHAPE, "hn_net_add_conv2d: the current per-sample shape is %s; a "
                   "convolution needs [channels, height, width]",
                   hn_shape_fmt(net->cur_ndim, net->cur_shape).s);
  return add_module(net, "hn_net_add_conv2d", &hn_conv2d_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_maxpool2d(hn_net *net, int64_t k, int64_t stride) {
  hn_pool cfg = {.k = k, .stride = stride};
  return add_module(net, "hn_net_add_maxpool2d", &hn_maxpool2d_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_avgpool2d(hn_net *net, int64_t k, int64_t stride) {
  hn_pool cfg = {.k = k, .stride = stride};
  return add_module(net, "hn_net_add_avgpool2d", &hn_avgpool2d_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_flatten(hn_net *net) {
  hn_flatten cfg = {0};
  return add_module(net, "hn_net_add_flatten", &hn_flatten_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_act(hn_net *net, hn_act_kind kind, float alpha) {
  hn_act cfg = {.kind = kind, .alpha = alpha};
  return add_module(net, "hn_net_add_act", &hn_act_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_dropout(hn_net *net, float p) {
  hn_dropout cfg = {.p = p};
  return add_module(net, "hn_net_add_dropout", &hn_dropout_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_batchnorm(hn_net *net, float eps, float momentum) {
  hn_batchnorm cfg = {.c = net && net->cur_ndim >= 1 ? net->cur_shape[0] : -1, .eps = eps,
                      .momentum = momentum};
  return add_module(net, "hn_net_add_batchnorm", &hn_batchnorm_vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_embedding(hn_net *net, int64_t vocab, int64_t dim) {
  hn_embedding cfg = {.vocab = vocab, .dim = dim};
  return add_module(net, "hn_net_add_embedding", &hn_embedding_vt, &cfg, sizeof cfg);
}

static hn_status add_recurrent(hn_net *net, const char *who, const hn_module_vt *vt,
                               int64_t hidden, bool last) {
  hn_recurrent cfg = {.n_in = net && net->cur_ndim == 2 ? net->cur_shape[1] : -1,
                      .hidden = hidden, .last = last, .fan_out = net && net->fan_out};
  if (net && net->cur_ndim != 2 && !net->finalized)
    return hn_fail(HN_ERR_SHAPE, "%s: the current per-sample shape is %s; a recurrent layer "
                   "needs a sequence [T, features] (an embedding gives one from token ids)",
                   who, hn_shape_fmt(net->cur_ndim, net->cur_shape).s);
  return add_module(net, who, vt, &cfg, sizeof cfg);
}

hn_status hn_net_add_rnn(hn_net *net, int64_t hidden, bool last) {
  return add_recurrent(net, "hn_net_add_rnn", &hn_rnn_vt, hidden, last);
}

hn_status hn_net_add_lstm(hn_net *net, int64_t hidden, bool last) {
  return add_recurrent(net, "hn_net_add_lstm", &hn_lstm_vt, hidden, last);
}

hn_status hn_net_add_gru(hn_net *net, int64_t hidden, bool last) {
  return add_recurrent(net, "hn_net_add_gru", &hn_gru_vt, hidden, last);
}

hn_status hn_net_set_fan_mode(hn_net *net, bool fan_out) {
  if (!net) return hn_fail(HN_ERR_ARG, "hn_net_set_fan_mode: net is NULL");
  if (net->finalized)
    return hn_fail(HN_ERR_STATE, "hn_net_set_fan_mode: the network is finalized; set the fan "
                   "mode before hn_net_finalize");
  net->fan_out = fan_out;
  for (int i = 0; i < net->n_mods; i++) {
    if (net->mods[i].vt == &hn_linear_vt) ((hn_linear *)net->mods[i].cfg)->fan_out = fan_out;
    if (net->mods[i].vt == &hn_conv2d_vt) ((hn_conv2d *)net->mods[i].cfg)->fan_out = fan_out;
    if (net->mods[i].vt == &hn_rnn_vt || net->mods[i].vt == &hn_lstm_vt ||
        net->mods[i].vt == &hn_gru_vt)
      ((hn_recurrent *)net->mods[i].cfg)->fan_out = fan_out;
  }
  return HN_OK;
}

static int64_t round_up(int64_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

hn_status hn_net_finalize(hn_net *net) {
  const char *who = "hn_net_finalize";
  if (!net) return hn_fail(HN_ERR_ARG, "%s: net is NULL", who);
  if (net->finalized) return hn_fail(HN_ERR_STATE, "%s: the network is already finalized", who);
  if (net->n_mods == 0)
    return hn_fail(HN_ERR_STATE, "%s: the network has no modules; add at least one", who);
  int64_t B = net->max_batch, total = 0, max_act;
  int64_t limit = INT64_MAX / 8 / (int64_t)sizeof(float);
  max_act = B * sample_numel(net->in_ndim, net->in_shape);
  total += round_up(max_act);
  for (int i = 0; i < net->n_mods; i++) {
    net_module *m = &net->mods[i];
    int64_t full[HN_MAX_DIMS];
    int nd = full_shape(B, m->in_ndim, m->in_shape, full);
    int64_t a = sample_numel(m->out_ndim, m->out_shape);
    m->n_ws = m->vt->ws_size(m->cfg, nd, full);
    if (a > limit / B || m->n_ws > limit || total > limit)
      return hn_fail(HN_ERR_SHAPE, "%s: the workspace for max_batch = %lld is too large; "
                     "lower max_batch", who, (long long)B);
    max_act = HN_MAX(max_act, a * B);
    total += round_up(a * B) + round_up(m->n_ws);
  }
  total += 2 * round_up(max_act);
  if (net->has_seq) total += round_up(2 * B); /* lengths, int64 */
  if (total > limit)
    return hn_fail(HN_ERR_SHAPE, "%s: the workspace for max_batch = %lld is too large; lower "
                   "max_batch", who, (long long)B);
  float *block = hn_calloc((size_t)total * sizeof(float));
  if (!block)
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate the workspace (%lld bytes for max_batch "
                   "%lld); lower max_batch", who, (long long)(total * 4), (long long)B);
  float *p = block;
  net->x0 = p;
  p += round_up(B * sample_numel(net->in_ndim, net->in_shape));
  for (int i = 0; i < net->n_mods; i++) {
    net_module *m = &net->mods[i];
    m->out = p;
    p += round_up(B * sample_numel(m->out_ndim, m->out_shape));
    m->ws = m->n_ws > 0 ? p : NULL;
    p += round_up(m->n_ws);
  }
  net->grad[0] = p;
  p += round_up(max_act);
  net->grad[1] = p;
  p += round_up(max_act);
  if (net->has_seq) net->lengths = (int64_t *)p; /* 64-byte aligned */
  net->block = block;
  net->ws_bytes = total * (int64_t)sizeof(float);
  net->finalized = true;
  return HN_OK;
}

/* ---- queries --------------------------------------------------------------- */

int64_t hn_net_n_params(const hn_net *net) { return net ? net->layout.n_params : 0; }
int64_t hn_net_n_stats(const hn_net *net) { return net ? net->n_stats : 0; }
int64_t hn_net_max_batch(const hn_net *net) { return net ? net->max_batch : 0; }
int64_t hn_net_seq_len(const hn_net *net) {
  return net && net->has_seq ? net->in_shape[0] : 0;
}
int hn_net_n_modules(const hn_net *net) { return net ? net->n_mods : 0; }
const hn_layout *hn_net_layout(const hn_net *net) { return net ? &net->layout : NULL; }
int64_t hn_net_ws_bytes(const hn_net *net) { return net ? net->ws_bytes : 0; }

const char *hn_net_module_name(const hn_net *net, int i) {
  if (!net || i < 0 || i >= net->n_mods) return NULL;
  return net->mods[i].vt->name;
}

int hn_net_in_shape(const hn_net *net, int64_t *shape) {
  if (!net) return 0;
  if (shape) memcpy(shape, net->in_shape, (size_t)net->in_ndim * sizeof *shape);
  return net->in_ndim;
}

int hn_net_out_shape(const hn_net *net, int64_t *shape) {
  if (!net) return 0;
  if (shape) memcpy(shape, net->cur_shape, (size_t)net->cur_ndim * sizeof *shape);
  return net->cur_ndim;
}

int64_t hn_net_flops_per_sample(const hn_net *net) {
  if (!net) return 0;
  int64_t f = 0;
  for (int i = 0; i < net->n_mods; i++) {
    const net_module *m = &net->mods[i];
    if (m->vt == &hn_linear_vt) {
      const hn_linear *c = m->cfg;
      f += c->n_in * c->n_out * (m->in_ndim == 2 ? m->in_shape[0] : 1); /* per step */
    } else if (m->vt == &hn_rnn_vt || m->vt == &hn_lstm_vt || m->vt == &hn_gru_vt) {
      const hn_recurrent *c = m->cfg;
      int64_t gates = m->vt == &hn_lstm_vt ? 4 : m->vt == &hn_gru_vt ? 3 : 1;
      f += m->in_shape[0] * gates * c->hidden * (c->n_in + c->hidden);
    } else if (m->vt == &hn_conv2d_vt) {
      const hn_conv2d *c = m->cfg;
      f += c->c_out * m->out_shape[1] * m->out_shape[2] * c->c_in * c->k * c->k;
    }
  }
  return f;
}

/* ---- initialisation --------------------------------------------------------- */

hn_status hn_net_init_var(const hn_net *net, float *mean, float *var) {
  if (!net || !var) return hn_fail(HN_ERR_ARG, "hn_net_init_var: NULL net or var");
  for (int i = 0; i < net->n_mods; i++) {
    const net_module *m = &net->mods[i];
    if (m->n_w == 0) continue;
    m->vt->init_var(m->cfg, mean ? mean + m->w_off : NULL, var + m->w_off);
  }
  return HN_OK;
}

/* Draws n_params normals from rng in order: W[i] = mean[i] + sqrt(var[i]) z_i.
 * Uses a temporary buffer of one module's size (set-up, not a training step). */
hn_status hn_net_init(const hn_net *net, float *w, hn_rng *rng) {
  if (!net || !w || !rng) return hn_fail(HN_ERR_ARG, "hn_net_init: NULL net, w or rng");
  int64_t max_w = 0;
  for (int i = 0; i < net->n_mods; i++) max_w = HN_MAX(max_w, net->mods[i].n_w);
  if (max_w == 0) return HN_OK;
  float *tmp = hn_alloc(2 * (size_t)max_w * sizeof(float));
  if (!tmp) return hn_fail(HN_ERR_NOMEM, "hn_net_init: cannot allocate %lld floats",
                           (long long)(2 * max_w));
  float *mean = tmp, *var = tmp + max_w;
  for (int i = 0; i < net->n_mods; i++) {
    const net_module *m = &net->mods[i];
    if (m->n_w == 0) continue;
    m->vt->init_var(m->cfg, mean, var);
    float *wm = w + m->w_off;
    for (int64_t j = 0; j < m->n_w; j++) wm[j] = mean[j] + sqrtf(var[j]) * hn_rng_normal(rng);
  }
  hn_free(tmp);
  return HN_OK;
}

hn_status hn_net_init_stats(const hn_net *net, float *stats) {
  if (!net) return hn_fail(HN_ERR_ARG, "hn_net_init_stats: net is NULL");
  if (net->n_stats > 0 && !stats)
    return hn_fail(HN_ERR_ARG, "hn_net_init_stats: stats is NULL (%lld floats expected)",
                   (long long)net->n_stats);
  for (int i = 0; i < net->n_mods; i++) {
    const net_module *m = &net->mods[i];
    if (m->n_s > 0) m->vt->init_stats(m->cfg, stats + m->s_off);
  }
  return HN_OK;
}

/* ---- forward / backward ------------------------------------------------------ */

static hn_run module_run(const hn_net *net, const net_module *m, const hn_run *run) {
  hn_run r = {.train = false, .rng = NULL, .stats = NULL,
              .lengths = net->has_lengths ? net->lengths : NULL};
  if (run) {
    r.train = run->train;
    r.rng = run->rng;
    r.stats = m->n_s > 0 && run->stats ? run->stats + m->s_off : NULL;
  }
  return r;
}

static hn_status check_batch(const hn_net *net, const char *who, const char *what,
                             const hn_tensor *t, int ndim, const int64_t *sample) {
  if (!t) return hn_fail(HN_ERR_ARG, "%s: %s is NULL", who, what);
  int64_t n = t->ndim >= 1 ? t->shape[0] : 0;
  if (t->ndim == ndim + 1 && n > net->max_batch && is_dims(t, n, ndim, sample))
    return hn_fail(HN_ERR_SHAPE, "%s: %s is %s, a batch of %lld exceeds max_batch = %lld; "
                   "create the net with a larger max_batch (hn_net_new) or split the batch",
                   who, what, hn_tensor_str(t), (long long)n, (long long)net->max_batch);
  if (n < 1 || !is_dims(t, n, ndim, sample)) {
    int64_t full[HN_MAX_DIMS];
    int nd = full_shape(n < 1 ? 1 : n, ndim, sample, full);
    return hn_fail(HN_ERR_SHAPE, "%s: %s is %s, expected %s (1 <= n_batch <= %lld)", who, what,
                   hn_tensor_str(t), hn_shape_fmt(nd, full).s, (long long)net->max_batch);
  }
  if (!t->data) return hn_fail(HN_ERR_ARG, "%s: %s has no data", who, what);
  return HN_OK;
}

/* The run's lengths fit the net and a batch of n (1..T each). */
static hn_status check_lengths(const hn_net *net, const char *who, const hn_run *run, int64_t n) {
  if (!run || !run->lengths) return HN_OK;
  if (!net->has_seq)
    return hn_fail(HN_ERR_ARG, "%s: run->lengths is given, but the net has no sequence module "
                   "(embedding, rnn, lstm, gru); lengths apply to sequence nets", who);
  int64_t T = net->in_shape[0];
  for (int64_t b = 0; b < n; b++)
    if (run->lengths[b] < 1 || run->lengths[b] > T)
      return hn_fail(HN_ERR_ARG, "%s: lengths[%lld] = %lld; each sample's length must be in "
                     "1..%lld (T, the net's sequence length); steps beyond it are padding",
                     who, (long long)b, (long long)run->lengths[b], (long long)T);
  return HN_OK;
}

/* Zero the padded steps of a tensor t [n, T, ...] of `per_sample` floats a sample. */
static void zero_padding(const hn_net *net, float *t, int64_t n, int64_t per_sample) {
  int64_t T = net->in_shape[0], step = per_sample / T;
  for (int64_t b = 0; b < n; b++)
    if (net->lengths[b] < T)
      memset(t + (b * T + net->lengths[b]) * step, 0,
             (size_t)((T - net->lengths[b]) * step) * sizeof(float));
}

hn_status hn_net_forward(hn_net *net, const float *w, const hn_tensor *x, hn_tensor *y,
                         const hn_run *run) {
  const char *who = "hn_net_forward";
  if (!net) return hn_fail(HN_ERR_ARG, "%s: net is NULL", who);
  if (!net->finalized)
    return hn_fail(HN_ERR_STATE, "%s: call hn_net_finalize before forward", who);
  HN_TRY(check_batch(net, who, "x", x, net->in_ndim, net->in_shape));
  int64_t n = x->shape[0];
  if (!y) return hn_fail(HN_ERR_ARG, "%s: y is NULL", who);
  if (!is_dims(y, n, net->cur_ndim, net->cur_shape)) {
    int64_t full[HN_MAX_DIMS];
    int nd = full_shape(n, net->cur_ndim, net->cur_shape, full);
    return hn_fail(HN_ERR_SHAPE, "%s: y is %s, expected %s", who, hn_tensor_str(y),
                   hn_shape_fmt(nd, full).s);
  }
  if (!y->data) return hn_fail(HN_ERR_ARG, "%s: y has no data", who);
  if (!w && net->layout.n_params > 0)
    return hn_fail(HN_ERR_ARG, "%s: w is NULL (%lld parameters expected)", who,
                   (long long)net->layout.n_params);
  if (net->n_stats > 0 && (!run || !run->stats))
    return hn_fail(HN_ERR_ARG, "%s: the network has BatchNorm; pass this task's running "
                   "statistics in run->stats (%lld floats, see hn_net_init_stats)",
                   who, (long long)net->n_stats);
  for (int i = 0; i < net->n_mods; i++) {
    const net_module *m = &net->mods[i];
    if (m->vt == &hn_dropout_vt && ((const hn_dropout *)m->cfg)->p > 0.0f && run && run->train &&
        !run->rng)
      return hn_fail(HN_ERR_ARG, "%s: module %d (dropout) in train mode needs run->rng", who, i);
    if (m->vt == &hn_batchnorm_vt && run && run->train &&
        n * sample_numel(m->in_ndim - 1, m->in_shape + 1) < 2)
      return hn_fail(HN_ERR_SHAPE, "%s: module %d (batchnorm) in train mode needs more than one "
                     "value per channel; x is %s (use a larger batch or eval mode)", who, i,
                     hn_tensor_str(x));
  }
  HN_TRY(check_lengths(net, who, run, n));
  net->last_n = -1;
  net->has_lengths = run && run->lengths;
  if (net->has_lengths) memcpy(net->lengths, run->lengths, (size_t)n * sizeof *net->lengths);
  hn_ops_copy(net->x0, x->data, x->numel);
  /* padded input steps are never read as values, but a recurrent layer's
   * dW_ih multiplies them by 0, which a NaN or Inf there would survive */
  if (net->has_lengths) zero_padding(net, net->x0, n, sample_numel(net->in_ndim, net->in_shape));
  const float *cur = net->x0;
  for (int i = 0; i < net->n_mods; i++) {
    net_module *m = &net->mods[i];
    hn_tensor xi, yi;
    make_view(&xi, (float *)cur, n, m->in_ndim, m->in_shape);
    make_view(&yi, m->out, n, m->out_ndim, m->out_shape);
    hn_run r = module_run(net, m, run);
    HN_TRY(m->vt->forward(m->cfg, m->n_w ? w + m->w_off : NULL, &xi, &yi, m->ws, &r));
    cur = m->out;
  }
  hn_ops_copy(y->data, cur, y->numel);
  if (net->has_lengths && net->cur_time)
    zero_padding(net, y->data, n, sample_numel(net->cur_ndim, net->cur_shape));
  net->last_n = n;
  return HN_OK;
}

hn_status hn_net_backward(hn_net *net, const float *w, const hn_tensor *dy, float *dw,
                          hn_tensor *dx, const hn_run *run) {
  const char *who = "hn_net_backward";
  if (!net) return hn_fail(HN_ERR_ARG, "%s: net is NULL", who);
  if (!net->finalized || net->last_n < 0)
    return hn_fail(HN_ERR_STATE, "%s: no forward pass to go back through; call hn_net_forward "
                   "first (and finalize the net)", who);
  int64_t n = net->last_n;
  if (!dy) return hn_fail(HN_ERR_ARG, "%s: dy is NULL", who);
  if (!is_dims(dy, n, net->cur_ndim, net->cur_shape)) {
    int64_t full[HN_MAX_DIMS];
    int nd = full_shape(n, net->cur_ndim, net->cur_shape, full);
    return hn_fail(HN_ERR_SHAPE, "%s: dy is %s, expected %s (the shape of the last forward's y)",
                   who, hn_tensor_str(dy), hn_shape_fmt(nd, full).s);
  }
  if (!dy->data) return hn_fail(HN_ERR_ARG, "%s: dy has no data", who);
  if (dx) {
    if (!is_dims(dx, n, net->in_ndim, net->in_shape)) {
      int64_t full[HN_MAX_DIMS];
      int nd = full_shape(n, net->in_ndim, net->in_shape, full);
      return hn_fail(HN_ERR_SHAPE, "%s: dx is %s, expected %s (the shape of the last forward's "
                     "x)", who, hn_tensor_str(dx), hn_shape_fmt(nd, full).s);
    }
    if (!dx->data) return hn_fail(HN_ERR_ARG, "%s: dx has no data", who);
  }
  if (!w && net->layout.n_params > 0) return hn_fail(HN_ERR_ARG, "%s: w is NULL", who);
  /* Modules before the first one with parameters only matter if dx is wanted. */
  int first = 0;
  if (!dx) {
    first = net->n_mods;
    if (dw)
      for (int i = 0; i < net->n_mods; i++)
        if (net->mods[i].n_w > 0) {
          first = i;
          break;
        }
  }
  if (run && run->lengths)
    for (int64_t b = 0; b < n; b++) {
      int64_t had = net->has_lengths ? net->lengths[b] : net->in_shape[0];
      if (!net->has_seq || run->lengths[b] != had)
        return hn_fail(HN_ERR_ARG, "%s: lengths[%lld] = %lld, but the last forward ran with %s%lld;"
                       " backward goes through the forward's lengths (pass the same or none)",
                       who, (long long)b, (long long)run->lengths[b],
                       net->has_seq ? "" : "no lengths (not a sequence net) ",
                       (long long)(net->has_seq ? had : 0));
    }
  const hn_tensor *g = dy;
  hn_tensor bufs[2], masked;
  int k = 0;
  if (net->has_lengths && net->cur_time) {
    /* padded steps of dy reach no module; grad[1] is free until the second module down */
    make_view(&masked, net->grad[1], n, net->cur_ndim, net->cur_shape);
    hn_ops_copy(masked.data, dy->data, dy->numel);
    zero_padding(net, masked.data, n, sample_numel(net->cur_ndim, net->cur_shape));
    g = &masked;
  }
  for (int i = net->n_mods - 1; i >= first; i--) {
    net_module *m = &net->mods[i];
    const float *in = i == 0 ? net->x0 : net->mods[i - 1].out;
    hn_tensor xi, yi, *target = NULL;
    make_view(&xi, (float *)in, n, m->in_ndim, m->in_shape);
    make_view(&yi, m->out, n, m->out_ndim, m->out_shape);
    if (i == 0) {
      target = dx;
    } else if (i > first) {
      make_view(&bufs[k], net->grad[k], n, m->in_ndim, m->in_shape);
      target = &bufs[k];
    }
    hn_run r = module_run(net, m, run);
    HN_TRY(m->vt->backward(m->cfg, m->n_w ? w + m->w_off : NULL, &xi, &yi, m->ws, g, target,
                           dw && m->n_w ? dw + m->w_off : NULL, &r));
    if (target == &bufs[k]) {
      g = target;
      k ^= 1;
    }
  }
  return HN_OK;
}
