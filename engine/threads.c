/* threads.c — OpenMP and OpenBLAS thread counts, set together. */
#include "threads.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dist.h"

static int budget = 0;

int hn_threads_default(void) {
  const char *env = getenv("HNET_THREADS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1 && v <= 1024) return (int)v;
  }
  /* Ranks of an MPI job on one node share its cores: each takes its share,
   * and no more than the cores it is bound to (mpirun binds each rank to a
   * core by default when there are no more ranks than cores). */
  int n = omp_get_num_procs();
  int ranks = hn_dist_local_size();
  int share = (int)sysconf(_SC_NPROCESSORS_ONLN) / ranks;
  if (ranks > 1 && share < n) n = share;
  return n >= 1 ? n : 1;
}

hn_status hn_threads_set(int n) {
  if (n < 0 || n > 1024)
    return hn_fail(HN_ERR_ARG, "hn_threads_set: %d threads requested; use 1..1024, or 0 for all cores", n);
  if (n == 0) n = hn_threads_default();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  budget = n;
  return HN_OK;
}

int hn_threads_get(void) {
  if (budget == 0) hn_threads_set(0);
  return budget;
}

bool hn_threads_set_wait_env(void) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return false;
  char count[32];
  snprintf(count, sizeof count, "%d", HN_THREADS_SPIN_COUNT);
  return setenv("GOMP_SPINCOUNT", count, 1) == 0;
}
