/*
 * hnet.h — hypernetworks: W = h(e; θ), full (MLP) or chunked.
 *
 * Full: an MLP maps a task embedding e [n_emb] to the whole weight vector
 * W [n_out].
 * Chunked: W is produced in n_chunks = ceil(n_out / chunk) pieces; piece i is
 * h([e, c_i]; θ) with learned chunk embeddings c_i [n_chunk_emb] (part of θ),
 * and the last piece is truncated to n_out. All chunks of all requested
 * tasks are rows of ONE matrix product per layer: a pass over n_tasks
 * embeddings runs n_tasks * n_chunks rows through each layer.
 *
 * θ is one flat vector (hn_hnet_n_params floats) laid out by hn_hnet_layout:
 * "chunk_emb" [n_chunks, n_chunk_emb] (chunked only), then for each layer l
 * "l<l>.weight" [n_out_l, n_in_l] and "l<l>.bias" [n_out_l]. Hidden layers use
 * the configured activation; the output layer is linear.
 *
 * Workspace is planned for max_tasks embeddings per pass and allocated by
 * hn_hnet_new; hn_hnet_reserve grows it (the only allocation after set-up,
 * done once when a stream gets a new task, never in a steady-state step).
 */
#ifndef HN_HNET_H
#define HN_HNET_H

#include "layout.h"
#include "module.h"

#define HN_HNET_MAX_HIDDEN 8

typedef struct hn_hnet_cfg {
  int64_t n_out;          /* |W|, the generated vector's size                    */
  int64_t n_emb;          /* task-embedding size                                  */
  int n_hidden;           /* hidden layers, 0..HN_HNET_MAX_HIDDEN                 */
  int64_t hidden[HN_HNET_MAX_HIDDEN];
  hn_act_kind act;        /* hidden activation (ReLU, ELU, ...)                   */
  float act_alpha;        /* ELU alpha                                            */
  int64_t chunk;          /* chunk size; 0 = full hypernetwork                    */
  int64_t n_chunk_emb;    /* chunk-embedding size (chunked only, >= 1)            */
  int64_t max_tasks;      /* embeddings per pass the workspace is planned for    */
} hn_hnet_cfg;

typedef struct hn_hnet hn_hnet;

hn_status hn_hnet_new(hn_hnet **out, const hn_hnet_cfg *cfg);
void hn_hnet_free(hn_hnet *h);
hn_status hn_hnet_reserve(hn_hnet *h, int64_t n_tasks);

int64_t hn_hnet_n_params(const hn_hnet *h);
int64_t hn_hnet_n_out(const hn_hnet *h);
int64_t hn_hnet_n_emb(const hn_hnet *h);
int64_t hn_hnet_n_chunks(const hn_hnet *h);   /* 1 for a full hypernetwork */
int64_t hn_hnet_max_tasks(const hn_hnet *h);
const hn_hnet_cfg *hn_hnet_config(const hn_hnet *h);
const hn_layout *hn_hnet_layout(const hn_hnet *h);
/* Floating-point operations of one forward pass over n_tasks embeddings
 * (2 per multiply-add); backward is about twice that. */
int64_t hn_hnet_flops(const hn_hnet *h, int64_t n_tasks);

/* Hyperfan initialisation (Chang et al., ICLR 2020). target_var [n_out] is the
 * variance each generated coordinate should have (hn_net_init_var of the
 * target network, whose fan-in/fan-out mode selects hyperfan-in/-out);
 * emb_var is the variance of the task embeddings (drawn N(0, emb_var)).
 * Hidden layers get a variance-preserving init for their activation; chunk
 * embeddings are drawn N(0, emb_var); output-layer biases are 0 and its
 * weights are scaled so that the generated W has target_var. For a chunked
 * network an output row j serves one coordinate in every chunk, so its
 * variance is Σ_i target_var[i·chunk + j] / (n_last · Σ_i E_i[h^2]): the
 * generated variance averaged over the chunks the row serves equals the
 * target (E_i[h^2], the mean square of the last hidden layer for chunk i, is
 * estimated by a forward pass of the hidden layers over random embeddings;
 * it varies between chunks by an order of magnitude, so a per-chunk mean of
 * ratios would overshoot). Exact per layer when the layers a chunk row spans
 * share a fan-in. */
hn_status hn_hnet_init(hn_hnet *h, float *theta, const float *target_var, float emb_var,
                       hn_rng *rng);

/* hn_hnet_init for a hypernetwork trained with Adam: the first hidden layer
 * is then scaled down so that the last hidden activation h has a mean L1
 * norm of at most max_h_l1 (> 0) over the random embeddings, and the output
 * layer is scaled for target_var as before (W's variance is unchanged). One
 * Adam step moves every parameter by about lr whatever its scale, so it
 * moves a generated weight W_j = Σ_k U_jk h_k + b_j by about lr (|h|_1 + 1),
 * all of a target unit's weights the same way when its inputs share a sign:
 * with He-scaled hidden layers |h|_1 ≈ 0.6 n_last (~30 for 50 units), and on
 * inputs that are not centred the first target layer's ReLUs die in the
 * first steps. Exact for ReLU and identity hidden layers, within a few % for
 * ELU and tanh (three passes); sigmoid, whose outputs cannot be made small,
 * and networks with no hidden layer keep their scale. Under plain SGD the
 * same rescale would multiply the hidden path's effective step by the
 * inverse square of the scale: use hn_hnet_init there. Draws what
 * hn_hnet_init draws. */
hn_status hn_hnet_init_capped(hn_hnet *h, float *theta, const float *target_var, float emb_var,
                              double max_h_l1, hn_rng *rng);

/* Xavier (Glorot) uniform initialisation, the one hypercl's MNIST runs use
 * (von Oswald et al. 2020's published numbers): every weight matrix of θ
 * drawn U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), biases 0, chunk
 * embeddings N(0, emb_var). It ignores the target network: the generated
 * weights come out smaller than hyperfan makes them (for the Split MNIST
 * configuration a root mean square of 0.008-0.013 per target layer against
 * 0.037-0.052), and the entropy task inference of that benchmark is
 * sensitive to it. Draws the chunk embeddings, then the layers in order,
 * from rng. Fails only on bad arguments, θ untouched then. */
hn_status hn_hnet_init_xavier(hn_hnet *h, float *theta, float emb_var, hn_rng *rng);

/* e [n_tasks, n_emb] -> W [n_tasks, n_out] (written). Keeps activations for
 * backward. n_tasks <= hn_hnet_max_tasks. */
hn_status hn_hnet_forward(hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                          float *W);
/* Backward of the last forward: dW [n_tasks, n_out]; dtheta [n_params] and
 * de [n_tasks, n_emb] are ACCUMULATED into (either may be NULL). */
hn_status hn_hnet_backward(hn_hnet *h, const float *theta, const float *dW, float *dtheta,
                           float *de);

/* The output regulariser of hypernetwork continual learning over n_tasks
 * earlier embeddings e [n_tasks, n_emb]:
 *   loss = beta / n_tasks · Σ_t ‖h(e_t; θ) − W*_t‖²   (sum in double),
 * its gradient ACCUMULATED into dtheta (may be NULL; the embeddings stay
 * fixed). The targets are stored, W*_t = row star_rows[t] of w_star
 * [n_star, n_out] (star_rows NULL: row t), or recomputed, W*_t = h(e_t;
 * theta_star) (w_star NULL); give exactly one. Never materialises the
 * generated weights: the hidden layers run over all chunk rows; the output
 * layer, against stored targets, in cache-sized tiles (each tile's forward,
 * difference, bias sums and both backward products done while it is hot),
 * against recomputed ones through Gram matrices of the differences of θ
 * and θ* (hnet_reg.c: no product of size rows × chunk; exactly 0 value and
 * gradient at θ = θ*; a scratch of chunk · (2·k + 1) floats, k the last
 * hidden width, allocated at the first such call). n_tasks <=
 * hn_hnet_max_tasks.
 * Discards the last forward (hn_hnet_backward refuses until the next one).
 * Bad arguments leave loss and dtheta untouched. */
hn_status hn_hnet_output_reg(hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                             const float *w_star, const int64_t *star_rows, int64_t n_star,
                             const float *theta_star, float beta, float *loss, float *dtheta);

#endif
