/*
 * threads.h — the one thread budget shared by OpenMP loops and OpenBLAS.
 *
 * hn_threads_set(n) sets both together. BLAS is only ever called from outside
 * OpenMP parallel regions, so the two never multiply.
 */
#ifndef HN_THREADS_H
#define HN_THREADS_H

#include "base.h"

/* n >= 1 threads; n == 0 means "all cores" (or HNET_THREADS if set). Also
 * puts every thread of the budget in the subnormal mode below (fails, with
 * nothing changed, when HNET_SUBNORMALS holds neither mode's name). */
hn_status hn_threads_set(int n);
/* The budget; sets the default one first when none is set (0 when that
 * fails: hn_threads_set(0) says why). */
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

/* Subnormal ("denormal") floats. A gradient that vanishes once a task is
 * learned (loss near 0) drives Adam's second moment, and the backward
 * passes' products, into the subnormal range, where each operation takes
 * a microcode assist (~100 cycles) on x86: the first task of a Split MNIST
 * run took 14.2 s with them against 5.8 s flushed (2 threads, 2026-12-07).
 * HN_SUBNORMALS_FLUSH (the default) flushes subnormal results to zero and
 * reads subnormal operands as zero (x86 MXCSR FTZ and DAZ; Arm FPCR.FZ), as
 * PyTorch does after torch.set_flush_denormal(True); HN_SUBNORMALS_KEEP is
 * IEEE gradual underflow, PyTorch's default on the CPU. The default comes
 * from HNET_SUBNORMALS ("flush" or "keep") when set. The mode is a
 * thread's floating-point state: it is set on the calling thread and on
 * every OpenMP thread of the budget, now and at each hn_threads_set
 * (threads the OpenMP runtime starts later inherit it from the thread that
 * starts them). OpenBLAS's pthread build (BLAS=pthread) starts its own
 * threads when it is loaded, out of reach: its GEMMs keep subnormals. */
typedef enum { HN_SUBNORMALS_FLUSH, HN_SUBNORMALS_KEEP } hn_subnormals;
hn_status hn_threads_set_subnormals(hn_subnormals mode);
/* The mode in force (HNET_SUBNORMALS's, or flush, before any call; flush
 * while a bad HNET_SUBNORMALS waits for hn_threads_set to report it). */
hn_subnormals hn_threads_subnormals(void);
/* "flush" or "keep"; hn_threads_subnormals_parse: the reverse, HN_ERR_ARG
 * (naming `who`) for anything else. */
const char *hn_threads_subnormals_name(hn_subnormals mode);
hn_status hn_threads_subnormals_parse(const char *who, const char *name, hn_subnormals *out);

#endif
