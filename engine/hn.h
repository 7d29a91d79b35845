/*
 * hn.h — libhnet, the hnet engine: task-conditioned hypernetworks in C11 with
 * OpenMP and OpenBLAS. The only header lua/ and tests/ need.
 *
 * A 30-line tour: a hypernetwork generates the weights of an MLP from a task
 * embedding, and one training step runs through both.
 *
 *   hn_net *net;                                    // target network 784-100-10
 *   hn_net_new(&net, 1, (int64_t[]){784}, 128);
 *   hn_net_add_linear(net, 100, true);
 *   hn_net_add_act(net, HN_ACT_RELU, 0);
 *   hn_net_add_linear(net, 10, true);
 *   hn_net_finalize(net);
 *   int64_t n_w = hn_net_n_params(net);
 *
 *   hn_hnet_cfg hc = { .n_out = n_w, .n_emb = 8, .n_hidden = 2, .hidden = {50, 50},
 *                      .act = HN_ACT_ELU, .act_alpha = 1, .chunk = 4000,
 *                      .n_chunk_emb = 8, .max_tasks = 1 };
 *   hn_hnet *h;  hn_hnet_new(&h, &hc);
 *   float *theta = ..., *dtheta = ..., *e = ..., *de = ...;   // caller owns these
 *   float *W = ..., *dW = ..., *var = ...;                      // [n_w] each
 *   hn_rng rng;  hn_rng_init(&rng, 42, 0);
 *   hn_net_init_var(net, NULL, var);                 // what a normal init would give
 *   hn_hnet_init(h, theta, var, 1.0f, &rng);         // hyperfan
 *
 *   hn_hnet_forward(h, theta, e, 1, W);              // W = h(e; θ)
 *   hn_run run = { .train = true, .rng = &rng };
 *   hn_net_forward(net, W, &x, &logits, &run);
 *   hn_loss_xent(&logits, &labels, NULL, &loss, &dlogits);
 *   memset(dW, 0, n_w * 4);
 *   hn_net_backward(net, W, &dlogits, dW, NULL, &run);   // dL/dW
 *   hn_hnet_backward(h, theta, dW, dtheta, de);          // dL/dθ, dL/de
 *   hn_optim_step(opt, theta, dtheta);
 *
 * Every fallible call returns hn_status; hn_errmsg() says what, where and how
 * to fix it. Ownership: whoever calls hn_x_new or hn_x_init calls hn_x_free or hn_x_release.
 */
#ifndef HN_H
#define HN_H

#include "base.h"
#include "blas.h"
#include "ckpt.h"
#include "cl.h"
#include "dist.h"
#include "hnet.h"
#include "idx.h"
#include "layout.h"
#include "loss.h"
#include "module.h"
#include "net.h"
#include "ops.h"
#include "optim.h"
#include "rng.h"
#include "tensor.h"
#include "threads.h"
#include "transform.h"
#include "vae.h"

#endif
