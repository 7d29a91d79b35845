/* tensor.c — owned buffers and views; shape bookkeeping. */
#include "tensor.h"
#include "internal.h"

#include <string.h>

int64_t hn_shape_numel(int ndim, const int64_t *shape) {
  if (ndim < 1 || ndim > HN_MAX_DIMS) return -1;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] != 0 && n > INT64_MAX / 4 / shape[i]) return -1;
    n *= shape[i];
  }
  return n;
}

static void set_shape(hn_tensor *t, int ndim, const int64_t *shape, int64_t numel) {
  memset(t->shape, 0, sizeof t->shape);
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->ndim = ndim;
  t->numel = numel;
}

hn_status hn_tensor_init(hn_tensor *t, int ndim, const int64_t *shape) {
  if (!t || !shape) return hn_fail(HN_ERR_ARG, "hn_tensor_init: NULL argument");
  int64_t n = hn_shape_numel(ndim, shape);
  if (n < 0)
    return hn_fail(HN_ERR_SHAPE, "hn_tensor_init: invalid shape %s (1 to 4 non-negative dimensions)",
                   hn_shape_fmt(ndim > HN_MAX_DIMS ? HN_MAX_DIMS : (ndim < 0 ? 0 : ndim), shape).s);
  float *data = hn_calloc((size_t)n * sizeof(float));
  if (!data)
    return hn_fail(HN_ERR_NOMEM, "hn_tensor_init: cannot allocate %s (%lld bytes)",
                   hn_shape_fmt(ndim, shape).s, (long long)n * 4);
  t->data = data;
  t->owns = true;
  set_shape(t, ndim, shape, n);
  return HN_OK;
}

void hn_tensor_release(hn_tensor *t) {
  if (!t) return;
  if (t->owns) hn_free(t->data);
  memset(t, 0, sizeof *t);
}

hn_status hn_tensor_view(hn_tensor *v, float *data, int ndim, const int64_t *shape) {
  if (!v || !shape) return hn_fail(HN_ERR_ARG, "hn_tensor_view: NULL argument");
  int64_t n = hn_shape_numel(ndim, shape);
  if (n < 0)
    return hn_fail(HN_ERR_SHAPE, "hn_tensor_view: invalid shape (1 to 4 non-negative dimensions)");
  if (!data && n > 0) return hn_fail(HN_ERR_ARG, "hn_tensor_view: NULL data for %lld elements", (long long)n);
  v->data = data;
  v->owns = false;
  set_shape(v, ndim, shape, n);
  return HN_OK;
}

hn_status hn_tensor_view_rows(hn_tensor *v, const hn_tensor *t, int64_t r0, int64_t n) {
  if (!v || !t) return hn_fail(HN_ERR_ARG, "hn_tensor_view_rows: NULL argument");
  if (r0 < 0 || n < 0 || r0 + n > t->shape[0])
    return hn_fail(HN_ERR_SHAPE, "hn_tensor_view_rows: rows [%lld, %lld) outside a tensor of shape %s",
                   (long long)r0, (long long)(r0 + n), hn_tensor_str(t));
  int64_t row = t->shape[0] ? t->numel / t->shape[0] : 0;
  int64_t shape[HN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[0] = n;
  hn_tensor out;
  out.data = t->data + r0 * row;
  out.owns = false;
  set_shape(&out, t->ndim, shape, n * row);
  *v = out;
  return HN_OK;
}

hn_status hn_tensor_reshape(hn_tensor *t, int ndim, const int64_t *shape) {
  if (!t || !shape) return hn_fail(HN_ERR_ARG, "hn_tensor_reshape: NULL argument");
  int64_t n = hn_shape_numel(ndim, shape);
  if (n != t->numel)
    return hn_fail(HN_ERR_SHAPE, "hn_tensor_reshape: cannot reshape %s (%lld elements) to %s",
                   hn_tensor_str(t), (long long)t->numel,
                   hn_shape_fmt(ndim > HN_MAX_DIMS ? HN_MAX_DIMS : (ndim < 0 ? 0 : ndim), shape).s);
  set_shape(t, ndim, shape, n);
  return HN_OK;
}

hn_status hn_tensor_copy(hn_tensor *dst, const hn_tensor *src) {
  if (!dst || !src) return hn_fail(HN_ERR_ARG, "hn_tensor_copy: NULL argument");
  if (dst->numel != src->numel)
    return hn_fail(HN_ERR_SHAPE, "hn_tensor_copy: destination %s and source %s differ in size",
                   hn_tensor_str(dst), hn_tensor_str(src));
  if (dst->numel) memmove(dst->data, src->data, (size_t)dst->numel * sizeof(float));
  return HN_OK;
}

void hn_tensor_fill(hn_tensor *t, float v) {
  if (!t) return;
  for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
}

bool hn_tensor_same_shape(const hn_tensor *a, const hn_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}
