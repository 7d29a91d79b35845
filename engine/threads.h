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

/* How idle OpenMP threads wait for the next parallel region. libgomp reads
 * it from the environment once, when it is loaded, so a program sets it
 * first thing and re-executes itself (./hnet and the bench do). hnet's
 * choice: spin for HN_THREADS_SPIN_COUNT iterations (a few hundred
 * microseconds here), then sleep. A training step enters 50 to 150
 * parallel regions (the GEMMs' and the element-wise kernels'); waking
 * sleeping threads for each (OMP_WAIT_POLICY=passive) cost ~46 µs per
 * region on the 2-core machine against ~2 µs while they spin, and spinning
 * without a bound (active) takes cores from other processes on a shared
 * machine. Sets GOMP_SPINCOUNT unless the user chose a policy
 * (OMP_WAIT_POLICY or GOMP_SPINCOUNT is set); true when it set it (the
 * caller then re-executes itself), false otherwise. */
#define HN_THREADS_SPIN_COUNT 10000
bool hn_threads_set_wait_env(void);

#endif
