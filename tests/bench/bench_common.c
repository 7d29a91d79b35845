/*
 * bench_common.c — medians, allocation and the machine's ceilings for the
 * bench's workloads (bench.h).
 */
#include "bench.h"

#include <omp.h>
#include <sys/resource.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

float *bench_falloc(int64_t n) {
  float *p = hn_calloc((size_t)n * sizeof(float));
  if (!p) {
    fprintf(stderr, "bench: out of memory (%lld floats)\n", (long long)n);
    exit(1);
  }
  return p;
}

double bench_sgemm_gflops(int64_t m, int64_t n, int64_t k, int repeats) {
  float *a = bench_falloc(m * k), *b = bench_falloc(n * k), *c = bench_falloc(m * n);
  hn_rng r;
  hn_rng_init(&r, 1, 0);
  hn_rng_fill_uniform(&r, a, m * k, -1, 1);
  hn_rng_fill_uniform(&r, b, n * k, -1, 1);
  double *t = malloc(sizeof(double) * (size_t)repeats);
  CHECK(hn_blas_gemm("bench", false, true, m, n, k, 1, a, b, 0, c)); /* warm-up */
  for (int i = 0; i < repeats; i++) {
    double t0 = omp_get_wtime();
    CHECK(hn_blas_gemm("bench", false, true, m, n, k, 1, a, b, 0, c));
    t[i] = omp_get_wtime() - t0;
  }
  double med = bench_median(t, repeats);
  free(t);
  hn_free(a);
  hn_free(b);
  hn_free(c);
  return 2.0 * (double)m * (double)n * (double)k / med * 1e-9;
}

double bench_triad_gbs(int64_t n, int repeats) {
  float *a = bench_falloc(n), *b = bench_falloc(n), *c = bench_falloc(n);
  for (int64_t i = 0; i < n; i++) b[i] = 1.0f, c[i] = 2.0f;
  double *t = malloc(sizeof(double) * (size_t)repeats);
  for (int it = -1; it < repeats; it++) {
    double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
    if (it >= 0) t[it] = omp_get_wtime() - t0;
  }
  double med = bench_median(t, repeats);
  volatile float sink = a[n / 2];
  (void)sink;
  free(t);
  hn_free(a);
  hn_free(b);
  hn_free(c);
  return 3.0 * (double)n * sizeof(float) / med * 1e-9;
}

double bench_peak_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}
