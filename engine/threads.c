/* threads.c — OpenMP and OpenBLAS thread counts, set together. */
#include "threads.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "dist.h"

static int budget = 0;
static bool subnormal_mode_set = false;
static hn_subnormals subnormal_mode = HN_SUBNORMALS_FLUSH;

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

/* The calling thread's subnormal mode. */
static void subnormals_here(hn_subnormals mode) {
  bool flush = mode == HN_SUBNORMALS_FLUSH;
#if defined(__x86_64__) || defined(__i386__)
  const unsigned ftz_daz = 0x8040u; /* MXCSR bit 15 flush-to-zero, bit 6 denormals-are-zero */
  unsigned csr = _mm_getcsr();
  _mm_setcsr(flush ? csr | ftz_daz : csr & ~ftz_daz);
#elif defined(__aarch64__)
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  fpcr = flush ? fpcr | (1ul << 24) : fpcr & ~(1ul << 24); /* FZ */
  __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#else
#error "threads.c: no subnormal control for this architecture (x86 and AArch64 only)"
#endif
}

/* The mode on the calling thread and on each of the n OpenMP threads. */
static void subnormals_team(hn_subnormals mode, int n) {
  subnormals_here(mode);
#pragma omp parallel num_threads(n)
  subnormals_here(mode);
}

const char *hn_threads_subnormals_name(hn_subnormals mode) {
  return mode == HN_SUBNORMALS_KEEP ? "keep" : "flush";
}

hn_status hn_threads_subnormals_parse(const char *who, const char *name, hn_subnormals *out) {
  if (name && !strcmp(name, "flush")) *out = HN_SUBNORMALS_FLUSH;
  else if (name && !strcmp(name, "keep")) *out = HN_SUBNORMALS_KEEP;
  else
    return hn_fail(HN_ERR_ARG, "%s: subnormal mode '%s'; use 'flush' (to zero, the default) or 'keep' (IEEE)",
                   who, name ? name : "(null)");
  return HN_OK;
}

/* The mode before any explicit choice: HNET_SUBNORMALS's, else flush. */
static hn_status subnormals_resolve(void) {
  if (subnormal_mode_set) return HN_OK;
  const char *env = getenv("HNET_SUBNORMALS");
  hn_subnormals mode = HN_SUBNORMALS_FLUSH;
  if (env && *env) HN_TRY(hn_threads_subnormals_parse("HNET_SUBNORMALS", env, &mode));
  subnormal_mode = mode;
  subnormal_mode_set = true;
  return HN_OK;
}

hn_status hn_threads_set(int n) {
  if (n < 0 || n > 1024)
    return hn_fail(HN_ERR_ARG, "hn_threads_set: %d threads requested; use 1..1024, or 0 for all cores", n);
  HN_TRY(subnormals_resolve());
  if (n == 0) n = hn_threads_default();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  budget = n;
  subnormals_team(subnormal_mode, n);
  return HN_OK;
}

hn_status hn_threads_set_subnormals(hn_subnormals mode) {
  if (mode != HN_SUBNORMALS_FLUSH && mode != HN_SUBNORMALS_KEEP)
    return hn_fail(HN_ERR_ARG, "hn_threads_set_subnormals: mode %d; use HN_SUBNORMALS_FLUSH or HN_SUBNORMALS_KEEP",
                   (int)mode);
  subnormal_mode = mode;
  subnormal_mode_set = true; /* first: a first hn_threads_get then sets the budget in this mode */
  subnormals_team(mode, hn_threads_get());
  return HN_OK;
}

hn_subnormals hn_threads_subnormals(void) {
  if (subnormals_resolve() != HN_OK) return HN_SUBNORMALS_FLUSH;
  return subnormal_mode;
}

int hn_threads_get(void) {
  if (budget == 0) (void)hn_threads_set(0); /* fails only on a bad HNET_SUBNORMALS: 0 below */
  return budget;
}

bool hn_threads_set_wait_env(void) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return false;
  char count[32];
  snprintf(count, sizeof count, "%d", HN_THREADS_SPIN_COUNT);
  return setenv("GOMP_SPINCOUNT", count, 1) == 0;
}
