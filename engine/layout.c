/* layout.c — named (offset, shape) slices of one flat parameter vector. */
#include "layout.h"
#include "internal.h"

#include <string.h>

void hn_layout_init(hn_layout *l) {
  if (!l) return;
  memset(l, 0, sizeof *l);
}

void hn_layout_release(hn_layout *l) {
  if (!l) return;
  hn_free(l->entries);
  memset(l, 0, sizeof *l);
}

hn_status hn_layout_add(hn_layout *l, const char *name, int ndim, const int64_t *shape,
                        int module) {
  if (!l || !name || !shape) return hn_fail(HN_ERR_ARG, "hn_layout_add: NULL argument");
  size_t len = strlen(name);
  if (len == 0 || len >= sizeof l->entries[0].name)
    return hn_fail(HN_ERR_ARG,
                   "hn_layout_add: name '%s' has %zu characters; use 1 to %zu characters", name,
                   len, sizeof l->entries[0].name - 1);
  int64_t numel = hn_shape_numel(ndim, shape);
  if (numel < 0)
    return hn_fail(HN_ERR_SHAPE,
                   "hn_layout_add: slice '%s' has an invalid shape (1 to 4 non-negative "
                   "dimensions expected)",
                   name);
  if (hn_layout_find(l, name))
    return hn_fail(HN_ERR_ARG,
                   "hn_layout_add: a slice named '%s' already exists; names must be unique",
                   name);
  if (l->n_params > INT64_MAX - numel)
    return hn_fail(HN_ERR_SHAPE, "hn_layout_add: the layout would exceed INT64_MAX floats");
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    hn_layout_entry *e = hn_alloc((size_t)cap * sizeof *e);
    if (!e)
      return hn_fail(HN_ERR_NOMEM, "hn_layout_add: cannot allocate the layout (%d entries)",
                     cap);
    if (l->n) memcpy(e, l->entries, (size_t)l->n * sizeof *e);
    hn_free(l->entries);
    l->entries = e;
    l->cap = cap;
  }
  hn_layout_entry *e = &l->entries[l->n];
  memset(e, 0, sizeof *e);
  memcpy(e->name, name, len + 1);
  e->offset = l->n_params;
  e->ndim = ndim;
  for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
  e->numel = numel;
  e->module = module;
  l->n++;
  l->n_params += numel;
  return HN_OK;
}

const hn_layout_entry *hn_layout_find(const hn_layout *l, const char *name) {
  if (!l || !name) return NULL;
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->entries[i].name, name) == 0) return &l->entries[i];
  return NULL;
}

hn_status hn_layout_view(const hn_layout *l, const hn_layout_entry *e, float *w, hn_tensor *v) {
  if (!l || !e || !w || !v) return hn_fail(HN_ERR_ARG, "hn_layout_view: NULL argument");
  if (e < l->entries || e >= l->entries + l->n)
    return hn_fail(HN_ERR_ARG, "hn_layout_view: entry '%s' does not belong to this layout",
                   e->name);
  return hn_tensor_view(v, w + e->offset, e->ndim, e->shape);
}
