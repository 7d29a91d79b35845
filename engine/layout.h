/*
 * layout.h — a parameter layout: named (offset, shape) slices of one flat
 * vector. The target network's W, its gradient dW, and everything generated
 * by a hypernetwork share the layout, so a layer's weights are a view at a
 * fixed offset.
 */
#ifndef HN_LAYOUT_H
#define HN_LAYOUT_H

#include "tensor.h"

typedef struct hn_layout_entry {
  char name[48];
  int64_t offset;
  int ndim;
  int64_t shape[HN_MAX_DIMS];
  int64_t numel;
  int module;     /* index of the module the slice belongs to (-1 if none) */
} hn_layout_entry;

typedef struct hn_layout {
  hn_layout_entry *entries; /* owned */
  int n, cap;
  int64_t n_params;         /* total floats */
} hn_layout;

void hn_layout_init(hn_layout *l);
void hn_layout_release(hn_layout *l);
/* Append a slice at the current end; names must be unique and < 48 chars. */
hn_status hn_layout_add(hn_layout *l, const char *name, int ndim, const int64_t *shape, int module);
/* The entry with that name, or NULL. */
const hn_layout_entry *hn_layout_find(const hn_layout *l, const char *name);
/* A view of slice `e` inside the flat vector w (borrowed). */
hn_status hn_layout_view(const hn_layout *l, const hn_layout_entry *e, float *w, hn_tensor *v);

#endif
