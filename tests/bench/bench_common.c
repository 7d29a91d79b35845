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

static void dump_write(FILE *f, const char *path, const void *p, size_t size, size_t n) {
  if (fwrite(p, size, n, f) != n) {
    fprintf(stderr, "bench: cannot write %s (disk full?)\n", path);
    exit(1);
  }
}

FILE *bench_dump_open(const char *path, const float *theta, int64_t n_theta, const float *E,
                      int64_t n_emb_rows, int64_t n_emb, const hn_tensor *x, const hn_tensor *y,
                      int64_t n_reg) {
  if (!path) return NULL;
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "bench: --dump %s: cannot open it for writing\n", path);
    exit(1);
  }
  int64_t head[7] = {BENCH_DUMP_MAGIC, n_theta, n_emb_rows, n_emb, x->numel, y->numel, n_reg};
  dump_write(f, path, head, sizeof head[0], 7);
  dump_write(f, path, theta, sizeof(float), (size_t)n_theta);
  dump_write(f, path, E, sizeof(float), (size_t)(n_emb_rows * n_emb));
  dump_write(f, path, x->data, sizeof(float), (size_t)x->numel);
  dump_write(f, path, y->data, sizeof(float), (size_t)y->numel);
  return f;
}

void bench_dump_close(FILE *f, const char *path, float loss0, float reg0, float loss1,
                      const int64_t *rows0, int64_t n_reg) {
  if (!f) return;
  float tail[3] = {loss0, reg0, loss1};
  dump_write(f, path, tail, sizeof(float), 3);
  for (int64_t i = 0; i < n_reg; i++) {
    float r = (float)rows0[i];
    dump_write(f, path, &r, sizeof r, 1);
  }
  if (fclose(f) != 0) {
    fprintf(stderr, "bench: cannot write %s\n", path);
    exit(1);
  }
}
