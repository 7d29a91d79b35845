/*
 * internal.h — cross-file internals of the engine. Not installed; lua/ and
 * tests/ may include it for test hooks only.
 */
#ifndef HN_INTERNAL_H
#define HN_INTERNAL_H

#include "base.h"

/* Work (in elements) below which an OpenMP loop stays serial: forking costs
 * more than it saves on small tensors (the TH threshold idea). */
#define HN_OMP_MIN_WORK 32768

/* Fixed block size for reductions whose bits must not depend on the thread
 * count: partial sums per block in parallel, added serially in block order. */
#define HN_REDUCE_BLOCK 4096

/* Allocation-failure injection (Lua's ltests idea): after k more successful
 * allocations, hn_alloc returns NULL. k < 0 disarms. Test use only. */
void hn_mem_fail_after(int64_t k);

/* Checkpoint write-failure injection (ckpt.c): after `bytes` more bytes
 * written by hn_ckpt_commit, every write fails with ENOSPC until disarmed
 * with a value < 0. Test use only. */
void hn_ckpt_fail_write_after(int64_t bytes);

#define HN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HN_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
