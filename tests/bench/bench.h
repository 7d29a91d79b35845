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

/* --dump PATH: the first step's inputs and results, for torch_step.py
 * --check PATH to run the same step from the same numbers. The file (native
 * byte order): int64 magic, n_theta, n_emb_rows, n_emb, x numel, y numel,
 * n_reg, then floats θ, the task embeddings [n_emb_rows, n_emb] (the current
 * task's first, then the earlier tasks'), x, y; bench_dump_close appends the
 * first step's task loss and regulariser, the second step's task loss
 * (after one Adam step: it checks the gradients too) and the n_reg earlier
 * tasks the first step regularised (0-based indices among the stored, as
 * floats). NULL path: no file. Exits on a write error. */
#define BENCH_DUMP_MAGIC INT64_C(0x3150534e5448424e)
FILE *bench_dump_open(const char *path, const float *theta, int64_t n_theta, const float *E,
                      int64_t n_emb_rows, int64_t n_emb, const hn_tensor *x, const hn_tensor *y,
                      int64_t n_reg);
void bench_dump_close(FILE *f, const char *path, float loss0, float reg0, float loss1,
                      const int64_t *rows0, int64_t n_reg);

/* The recurrent workload (bench_copy.c): the Permuted Copy Task step. */
int bench_copy(int threads, int repeats, const char *tag, const char *dump);

#endif
