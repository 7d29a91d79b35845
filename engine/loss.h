/*
 * loss.h — losses and prediction helpers. Labels are float tensors holding
 * class indices (one tensor type across the Lua boundary); a label that is not
 * an integer in range is an error. Losses are means over the batch, summed in
 * double in fixed row order.
 *
 * Head masks: mask [n_classes] (1 = class belongs to the head in use) or NULL
 * for all classes. Masked-out logits are excluded from the softmax, which is
 * how a multi-head output layer serves one task at a time.
 */
#ifndef HN_LOSS_H
#define HN_LOSS_H

#include "tensor.h"

/* Softmax cross-entropy. logits [n, c]; labels [n]; *loss = mean over rows;
 * dlogits [n, c] (optional) is OVERWRITTEN with d(mean loss)/dlogits
 * (zero in masked-out columns). */
hn_status hn_loss_xent(const hn_tensor *logits, const hn_tensor *labels, const uint8_t *mask,
                       float *loss, hn_tensor *dlogits);
/* Mean squared error: mean over all elements of (y - t)^2; dy overwritten. */
hn_status hn_loss_mse(const hn_tensor *y, const hn_tensor *target, float *loss, hn_tensor *dy);
/* Gaussian negative log-likelihood: y [n, 2d] = (mean [d], log-variance [d])
 * per row; target [n, d]; mean over rows of
 * Σ_j 0.5 (log 2π + logvar_j + (t_j - mean_j)^2 / exp(logvar_j)). */
hn_status hn_loss_gauss_nll(const hn_tensor *y, const hn_tensor *target, float *loss,
                            hn_tensor *dy);
/* Binary cross-entropy from logits (Bernoulli likelihood of a decoder's
 * pixels): x [n, ...] logits, target the same shape with values in [0, 1];
 * *loss = mean over ALL elements of max(x, 0) - x t + log(1 + e^-|x|)
 * (the stable form of -t log σ(x) - (1-t) log(1-σ(x))), i.e. the mean over
 * pixels of each row, then over rows, as in the reference VAE; dx
 * (optional) is OVERWRITTEN with (σ(x) - t) / numel. */
hn_status hn_loss_bce_logits(const hn_tensor *x, const hn_tensor *target, float *loss,
                             hn_tensor *dx);
/* KL(N(mu, e^logvar) || N(0, 1)) of a diagonal Gaussian per row: h [n, 2d]
 * = (mu [d], logvar [d]) per row (the encoder's output); *loss = mean over
 * rows of Σ_j -0.5 (1 + logvar_j - mu_j^2 - e^logvar_j); dh (optional) is
 * OVERWRITTEN with its gradient (mu_j / n; 0.5 (e^logvar_j - 1) / n).
 * Callers that weight the term (the reference divides by the input size)
 * scale the value and dh. */
hn_status hn_loss_kl_gauss(const hn_tensor *h, float *loss, hn_tensor *dh);
/* Knowledge distillation (Hinton et al. 2015, as hypercl computes it):
 * logits [n, c] against target logits [n, c] of an earlier network, at
 * temperature T > 0: *loss = T^2 · mean over rows of
 * Σ_j -softmax(target/T)_j · log softmax(logits/T)_j over the mask's
 * columns; dlogits (optional) is OVERWRITTEN with T (softmax(logits/T) -
 * softmax(target/T)) / n (zero in masked-out columns). */
hn_status hn_loss_kd(const hn_tensor *logits, const hn_tensor *target, const uint8_t *mask,
                     float temperature, float *loss, hn_tensor *dlogits);
/* Prediction helpers. A row with a NaN or +-Inf active logit (the outputs of
 * a diverged net, or of NaN inputs) predicts nothing: it is never correct,
 * its argmax is -1 and its entropy NaN (so lowest-entropy task inference
 * never picks it). */
/* Number of rows whose (masked) argmax equals the label. */
hn_status hn_loss_accuracy(const hn_tensor *logits, const hn_tensor *labels, const uint8_t *mask,
                           int64_t *n_correct);
/* Predicted class per row (masked argmax) into pred [n] (floats); -1 for a
 * non-finite row. */
hn_status hn_loss_argmax(const hn_tensor *logits, const uint8_t *mask, hn_tensor *pred);
/* Predictive entropy (nats) of the (masked) softmax per row into ent [n];
 * NaN for a non-finite row. */
hn_status hn_loss_entropy(const hn_tensor *logits, const uint8_t *mask, hn_tensor *ent);
/* Largest (masked) softmax probability per row into p [n]; NaN for a
 * non-finite row. A task-inference score (maximum softmax probability). */
hn_status hn_loss_max_prob(const hn_tensor *logits, const uint8_t *mask, hn_tensor *p);
/* log of the largest (masked) softmax probability per row into lp [n]
 * (<= 0), computed so that it stays exact where that probability rounds to
 * 1 in float; NaN for a non-finite row. The max_prob task-inference score
 * without float saturation. */
hn_status hn_loss_max_logprob(const hn_tensor *logits, const uint8_t *mask, hn_tensor *lp);
/* log Σ_j exp(x_j) over the (masked) logits per row into lse [n]; NaN for a
 * non-finite row. Its negative is the energy score of Liu et al. (2020). */
hn_status hn_loss_logsumexp(const hn_tensor *logits, const uint8_t *mask, hn_tensor *lse);

/* Sigmoid cross-entropy of bit outputs (sequence tasks such as the Copy
 * Task): y [n, ..., k] logits, target [n, ..., b] with the same leading
 * dimensions and b <= k; the target's column j is y's column col + j (a
 * multi-head output layer scored on one head; col = 0 and b = k for one
 * head). An element with a negative target (-1: not an output step, or a
 * padded step) is not scored and contributes exactly 0; the others hold a
 * bit in [0, 1]. *loss (may be NULL) = Σ over scored elements of
 * max(y, 0) - y t + log(1 + e^-|y|), divided by n (the per-sample sum,
 * averaged over samples); dy [n, ..., k] (optional) is OVERWRITTEN with
 * (σ(y) - t) / n, 0 where not scored and outside the head; *n_correct and
 * *n_scored (each may be NULL): scored elements with (y >= 0) == (t >= 0.5)
 * (a NaN logit never is), and the scored count. loss_seq.c. */
hn_status hn_loss_bits(const hn_tensor *y, const hn_tensor *target, int64_t col, float *loss,
                       hn_tensor *dy, int64_t *n_correct, int64_t *n_scored);

#endif
