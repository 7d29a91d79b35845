/*
 * bench.h — what the bench's workloads share (bench_common.c): medians,
 * allocation that exits on failure, and the machine's ceilings measured in
 * the same run (sgemm GFLOP/s at a given shape, stream-triad GB/s).
 */
#ifndef HN_BENCH_H
#define HN_BENCH_H

#include "../../engine/hn.h"

#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                        \
  do {                                                                     \
    hn_status st_ = (call);                                                \
    if (st_ != HN_OK) {                                                    \
      fprintf(stderr, "bench: %s failed: %s\n", #call, hn_errmsg());       \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);
/* n zeroed floats from hn_calloc; exits with a message when out of memory. */
float *bench_falloc(int64_t n);
/* GFLOP/s of C[m,n] = A[m,k] B[n,k]^T, median over repeats. */
double bench_sgemm_gflops(int64_t m, int64_t n, int64_t k, int repeats);
/* GB/s of the triad a = b + s·c over three n-float arrays, median over
 * repeats (3 n floats moved per pass). */
double bench_triad_gbs(int64_t n, int repeats);
/* Peak resident memory of this process so far, MiB (ru_maxrss). */
double bench_peak_mib(void);

/* The recurrent workload (bench_copy.c): the Permuted Copy Task step. */
int bench_copy(int threads, int repeats, const char *tag);

#endif
