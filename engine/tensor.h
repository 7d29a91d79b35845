/*
 * tensor.h — hn_tensor: float32, contiguous, row-major, up to 4-D.
 *
 * Dimension order is row-major, outermost first (Torch/NumPy order):
 * shape[0] is the batch, shape[ndim-1] varies fastest. There are no strides.
 * A tensor either owns its 64-byte aligned buffer (owns = true) or is a view
 * borrowing memory that someone else owns (owns = false); releasing a view
 * never frees the memory. Every entry point checks its sizes and returns
 * HN_ERR_SHAPE / HN_ERR_ARG with a message; a failed call leaves its outputs
 * untouched.
 */
#ifndef HN_TENSOR_H
#define HN_TENSOR_H

#include "base.h"

#define HN_MAX_DIMS 4

typedef struct hn_tensor {
  float *data;
  int64_t shape[HN_MAX_DIMS];
  int ndim;
  int64_t numel;
  bool owns;
} hn_tensor;

/* Allocate an owned, zero-filled tensor. t is overwritten (not released). */
hn_status hn_tensor_init(hn_tensor *t, int ndim, const int64_t *shape);
/* Free an owned buffer; a view is just forgotten. Idempotent; NULL ok. */
void hn_tensor_release(hn_tensor *t);
/* A view over data (borrowed, not freed by release). */
hn_status hn_tensor_view(hn_tensor *v, float *data, int ndim, const int64_t *shape);
/* A view of rows [r0, r0+n) along dimension 0 of t. */
hn_status hn_tensor_view_rows(hn_tensor *v, const hn_tensor *t, int64_t r0, int64_t n);
/* Change the shape in place; the element count must stay the same. */
hn_status hn_tensor_reshape(hn_tensor *t, int ndim, const int64_t *shape);
/* Copy src into dst; the element counts must agree (shapes may differ). */
hn_status hn_tensor_copy(hn_tensor *dst, const hn_tensor *src);
void hn_tensor_fill(hn_tensor *t, float v);
bool hn_tensor_same_shape(const hn_tensor *a, const hn_tensor *b);
/* Element count of a shape; -1 if a dimension is < 0, ndim is out of 1..4,
 * or the product overflows. */
int64_t hn_shape_numel(int ndim, const int64_t *shape);

#define hn_tensor_str(t) (hn_shape_fmt((t)->ndim, (t)->shape).s)

#endif
