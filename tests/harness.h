/*
 * harness.h — shared test helpers: seeded fills, assert-close with the first
 * bad index, central-difference gradient checks (ggml's harness shape), an
 * allocation counter probe. Include after <cmocka.h>'s prerequisites.
 */
#ifndef HNT_HARNESS_H
#define HNT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../engine/hn.h"
#include "../engine/internal.h"

/* x[i] ~ U[lo, hi) from a stream of `seed`. */
void hnt_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed);
void hnt_fill_normal(float *x, int64_t n, float std, uint64_t seed);
/* Keep every value at least `margin` away from 0 (for ReLU kinks): values
 * with |x| < margin are pushed to ±margin. */
void hnt_away_from_zero(float *x, int64_t n, float margin);

/* Fail (cmocka) unless |a-b| <= atol + rtol*|b| everywhere; the message names
 * `what`, the first bad index and both values. */
void hnt_assert_close(const float *a, const float *b, int64_t n, double rtol, double atol,
                      const char *what);
/* Same for double references. */
void hnt_assert_close_d(const float *a, const double *ref, int64_t n, double rtol, double atol,
                        const char *what);

/* A scalar function of whatever the test perturbs (accumulate it in double). */
typedef double (*hnt_scalar_fn)(void *ctx);

/* Central-difference gradient check of the analytic gradient `grad` of fn with
 * respect to v (n floats, perturbed in place and restored exactly). Checks at
 * most max_coords coordinates (all if n <= max_coords, else a seeded sample).
 * Error per coordinate: |a-n| / max(|a|+|n|, floor). Returns the worst error
 * and prints the worst coordinate when verbose or when it exceeds tol; fails
 * (cmocka) if worst > tol. */
double hnt_gradcheck(const char *what, hnt_scalar_fn fn, void *ctx, float *v, const float *grad,
                     int64_t n, float eps, int max_coords, double floor, double tol);

/* Σ r_i y_i in double: the probe loss L = Σ r·y whose dy is r. */
double hnt_probe(const float *r, const float *y, int64_t n);

/* rm -rf dir (a test's temporary directory): 0 on success, -1 otherwise. */
int hnt_remove_dir(const char *dir);

/* A child process's exit status (or 128 + the signal that ended it) and
 * what it wrote, each truncated to HNT_PROC_OUT - 1 bytes. */
#define HNT_PROC_OUT 32768
typedef struct hnt_proc {
  int status;
  char out[HNT_PROC_OUT];
  char err[HNT_PROC_OUT];
} hnt_proc;

/* Run argv (execvp) with extra environment entries ("K=V", NULL-terminated;
 * may be NULL) and `input` on its stdin (NULL: empty); scratch files go in
 * dir. Returns a static result, overwritten by the next call. */
hnt_proc *hnt_spawn(const char *dir, const char *const *argv, const char *const *env, const char *input);

/* Fail (printing `what` and the haystack) unless `needle` is in / not in
 * `haystack`. */
void hnt_expect_in(const char *haystack, const char *needle, const char *what);
void hnt_expect_not_in(const char *haystack, const char *needle, const char *what);

/* Write `text` to dir/name, making dir (and its parents) first. */
void hnt_write_file(const char *dir, const char *name, const char *text);

/* Bytes equal? Fails with the first differing index. */
void hnt_assert_bytes_equal(const void *a, const void *b, size_t n, const char *what);

/* The naive hypernetwork reference: W [n_tasks, n_out] = h(e_t; θ) in double,
 * one (task, chunk) row at a time, x = [e_t, c_i] through every layer,
 * coordinates i*chunk + j < n_out kept; and the activations in double. */
double hnt_act_ref(hn_act_kind k, double alpha, double z);
void hnt_hnet_ref_forward(const hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                          double *W);

#endif
