/*
 * ops.h — elementwise and reduction kernels (OpenMP), softmax, im2col.
 *
 * Loops are parallel over disjoint output slices with an
 * if (work > HN_OMP_MIN_WORK) clause. Reductions returning a double are summed
 * over fixed blocks of HN_REDUCE_BLOCK elements, partials added serially in
 * block order, so their bits do not depend on the thread count. None of these
 * allocate; none fail (callers check sizes).
 */
#ifndef HN_OPS_H
#define HN_OPS_H

#include "module.h"

void hn_ops_fill(float *x, float v, int64_t n);
void hn_ops_copy(float *y, const float *x, int64_t n);
void hn_ops_add(float *y, const float *x, int64_t n);               /* y += x       */
void hn_ops_axpy(float *y, float a, const float *x, int64_t n);     /* y += a x     */
void hn_ops_scale(float *x, float a, int64_t n);                    /* x *= a       */
void hn_ops_add_scalar(float *y, float a, int64_t n);               /* y += a       */
void hn_ops_mul(float *y, const float *x, int64_t n);               /* y *= x       */
void hn_ops_div(float *y, const float *x, int64_t n);               /* y /= x       */
void hn_ops_sub(float *y, const float *a, const float *b, int64_t n); /* y = a - b  */
double hn_ops_sum(const float *x, int64_t n);
double hn_ops_dot(const float *a, const float *b, int64_t n);
double hn_ops_sqnorm(const float *x, int64_t n);
double hn_ops_sqdist(const float *a, const float *b, int64_t n);    /* Σ (a-b)^2    */
bool hn_ops_all_finite(const float *x, int64_t n);

/* y = tanh x and y = 1/(1 + e^-x), n values, serial (call them per slice
 * from a parallel loop); y may equal x. Within 3 ulp of the exact values
 * (ops.c says how), the same bits on any x86-64. */
void hn_ops_tanh(float *y, const float *x, int64_t n);
void hn_ops_sigmoid(float *y, const float *x, int64_t n);

/* Activations, elementwise over n values. Backward overwrites dx; it may use x
 * or y (whichever is cheaper for the kind). */
void hn_ops_act_forward(hn_act_kind kind, float alpha, const float *x, float *y, int64_t n);
void hn_ops_act_backward(hn_act_kind kind, float alpha, const float *x, const float *y,
                         const float *dy, float *dx, int64_t n);

/* y [rows, cols] += b [cols] broadcast over rows. */
void hn_ops_add_row_bias(float *y, const float *b, int64_t rows, int64_t cols);
/* db [cols] += Σ_rows dy [rows, cols] (parallel over columns). */
void hn_ops_sum_rows_acc(const float *dy, int64_t rows, int64_t cols, float *db);

/* Row-wise softmax of x [rows, cols] into y (y may equal x). */
void hn_ops_softmax_rows(const float *x, float *y, int64_t rows, int64_t cols);

/* im2col for one image x [c, h, w] -> col [c*k*k, h_out*w_out]; col2im
 * accumulates col back into dx [c, h, w] (dx must be zeroed by the caller). */
void hn_ops_im2col(const float *x, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride,
                   int64_t pad, float *col);
void hn_ops_col2im(const float *col, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride,
                   int64_t pad, float *dx);

#endif
