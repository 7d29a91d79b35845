/*
 * threads.h — the one thread budget shared by OpenMP loops and OpenBLAS.
 *
 * hn_threads_set(n) sets both together. BLAS is only ever called from outside
 * OpenMP parallel regions, so the two never multiply.
 */
#ifndef HN_THREADS_H
#define HN_THREADS_H

#include "base.h"

/* n >= 1 threads; n == 0 means "all cores" (or HNET_THREADS if set). */
hn_status hn_threads_set(int n);
int hn_threads_get(void);
/* The default budget: HNET_THREADS if set and valid, else the cores this
 * process may use; in an MPI job, the node's cores divided by its ranks on
 * the node (hn_dist_local_size), at most the cores the rank is bound to. */
int hn_threads_default(void);

#endif
