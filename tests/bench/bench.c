/*
 * bench.c — speed figures for `make bench` (never part of `make test`).
 *
 * 1. The machine's ceiling: OpenBLAS sgemm GFLOP/s at 128x1000x784 (the shape
 *    of a target layer at batch 128) and 2048^3.
 * 2. The engine's full training step on the published PermutedMNIST-10
 *    configuration of von Oswald et al. (hypercl defaults): inputs 32x32=1024,
 *    target MLP 1024-1000-1000-10 (ReLU), chunked hypernetwork 25-25 (ELU),
 *    task embedding 24, chunk embedding 8, chunk size 78,000, batch 128, Adam.
 *    Optionally with R earlier tasks regularised in the same pass (--reg R).
 *
 * Every figure is a median over repeats, measured in this run. Usage:
 *   bench [--threads N] [--repeats K] [--reg R] [--tag NAME]
 */
#include "../../engine/hn.h"
#include "../../engine/cl.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define CHECK(call)                                                        \
  do {                                                                     \
    hn_status st_ = (call);                                                \
    if (st_ != HN_OK) {                                                    \
      fprintf(stderr, "bench: %s failed: %s\n", #call, hn_errmsg());       \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

static float *falloc(int64_t n) {
  float *p = hn_calloc((size_t)n * sizeof(float));
  if (!p) {
    fprintf(stderr, "bench: out of memory (%lld floats)\n", (long long)n);
    exit(1);
  }
  return p;
}

/* GFLOP/s of C[m,n] = A[m,k] B[k,n]^T, median over repeats. */
static double sgemm_gflops(int64_t m, int64_t n, int64_t k, int repeats) {
  float *a = falloc(m * k), *b = falloc(n * k), *c = falloc(m * n);
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
  double med = median(t, repeats);
  free(t);
  hn_free(a);
  hn_free(b);
  hn_free(c);
  return 2.0 * (double)m * (double)n * (double)k / med * 1e-9;
}

enum { P_HFWD, P_TFWD, P_LOSS, P_TBWD, P_REG, P_HBWD, P_OPT, N_PARTS };
static const char *part_names[N_PARTS] = {"hypernet forward", "target forward", "loss",
                                          "target backward", "regulariser", "hypernet backward",
                                          "optimiser (Adam)"};

int main(int argc, char **argv) {
  int threads = 0, repeats = 20, n_reg = 0;
  const char *tag = "";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reg") && i + 1 < argc) n_reg = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag = argv[++i];
    else {
      fprintf(stderr, "usage: bench [--threads N] [--repeats K] [--reg R] [--tag NAME]\n");
      return 2;
    }
  }
  if (repeats < 3) repeats = 3;
  CHECK(hn_threads_set(threads));
  threads = hn_threads_get();

  /* The ceiling is measured before and after the step and the larger median
   * kept: on a shared machine a neighbour's burst can halve one measurement,
   * and a ceiling that is too low would flatter the step's percentage. */
  double ceil_small = sgemm_gflops(128, 1000, 784, repeats * 5);
  double ceil_big = sgemm_gflops(2048, 2048, 2048, repeats < 5 ? repeats : 5);

  /* ---- the PermutedMNIST-10 step ------------------------------------- */
  const int64_t batch = 128, n_in = 1024, n_cls = 10;
  hn_net *net;
  CHECK(hn_net_new(&net, 1, (int64_t[]){n_in}, batch));
  CHECK(hn_net_add_linear(net, 1000, true));
  CHECK(hn_net_add_act(net, HN_ACT_RELU, 0));
  CHECK(hn_net_add_linear(net, 1000, true));
  CHECK(hn_net_add_act(net, HN_ACT_RELU, 0));
  CHECK(hn_net_add_linear(net, n_cls, true));
  CHECK(hn_net_finalize(net));
  const int64_t n_w = hn_net_n_params(net);

  hn_hnet_cfg hc = {.n_out = n_w, .n_emb = 24, .n_hidden = 2, .hidden = {25, 25},
                    .act = HN_ACT_ELU, .act_alpha = 1.0f, .chunk = 78000, .n_chunk_emb = 8,
                    .max_tasks = 1 + n_reg};
  hn_hnet *h;
  CHECK(hn_hnet_new(&h, &hc));
  const int64_t n_theta = hn_hnet_n_params(h), n_tasks = 1 + n_reg;

  float *theta = falloc(n_theta), *dtheta = falloc(n_theta);
  float *E = falloc(n_tasks * 24), *dE = falloc(n_tasks * 24);
  float *W = falloc(n_tasks * n_w), *dW = falloc(n_tasks * n_w), *Wstar = falloc(n_tasks * n_w);
  float *var = falloc(n_w);
  hn_rng rng;
  hn_rng_init(&rng, 42, 0);
  CHECK(hn_net_init_var(net, NULL, var));
  CHECK(hn_hnet_init(h, theta, var, 1.0f, &rng));
  hn_rng_fill_normal(&rng, E, n_tasks * 24, 0, 1);
  if (n_reg) { /* targets: the current outputs, perturbed */
    CHECK(hn_hnet_forward(h, theta, E, n_tasks, Wstar));
    for (int64_t i = 0; i < n_tasks * n_w; i++) Wstar[i] += 1e-3f;
  }
  hn_tensor x, y, logits, dlogits;
  CHECK(hn_tensor_init(&x, 2, (int64_t[]){batch, n_in}));
  CHECK(hn_tensor_init(&y, 1, (int64_t[]){batch}));
  CHECK(hn_tensor_init(&logits, 2, (int64_t[]){batch, n_cls}));
  CHECK(hn_tensor_init(&dlogits, 2, (int64_t[]){batch, n_cls}));
  hn_rng_fill_uniform(&rng, x.data, x.numel, 0, 1);
  for (int64_t i = 0; i < batch; i++) y.data[i] = (float)hn_rng_below(&rng, n_cls);
  hn_optim *opt;
  hn_optim_cfg oc = hn_optim_defaults(HN_OPTIM_ADAM);
  oc.lr = 1e-4f;
  CHECK(hn_optim_new(&opt, n_theta, &oc));
  hn_run run = {.train = true, .rng = &rng, .stats = NULL};

  double *t[N_PARTS], *t_step = malloc(sizeof(double) * (size_t)repeats);
  for (int p = 0; p < N_PARTS; p++) t[p] = malloc(sizeof(double) * (size_t)repeats);
  int64_t allocs_before = 0;
  float loss = 0, reg = 0;
  for (int it = -3; it < repeats; it++) { /* 3 warm-up steps */
    if (it == 0) allocs_before = hn_alloc_count();
    double tp[N_PARTS + 1];
    tp[0] = omp_get_wtime();
    CHECK(hn_hnet_forward(h, theta, E, n_tasks, W));
    tp[1] = omp_get_wtime();
    CHECK(hn_net_forward(net, W, &x, &logits, &run));
    tp[2] = omp_get_wtime();
    CHECK(hn_loss_xent(&logits, &y, NULL, &loss, &dlogits));
    tp[3] = omp_get_wtime();
    memset(dW, 0, sizeof(float) * (size_t)(n_tasks * n_w));
    CHECK(hn_net_backward(net, W, &dlogits, dW, NULL, &run));
    tp[4] = omp_get_wtime();
    if (n_reg)
      CHECK(hn_cl_output_reg(W + n_w, Wstar + n_w, n_reg, n_w, 0.01f, &reg, dW + n_w));
    tp[5] = omp_get_wtime();
    memset(dtheta, 0, sizeof(float) * (size_t)n_theta);
    CHECK(hn_hnet_backward(h, theta, dW, dtheta, dE));
    tp[6] = omp_get_wtime();
    CHECK(hn_optim_step(opt, theta, dtheta));
    tp[7] = omp_get_wtime();
    if (it >= 0) {
      for (int p = 0; p < N_PARTS; p++) t[p][it] = tp[p + 1] - tp[p];
      t_step[it] = tp[N_PARTS] - tp[0];
    }
  }
  int64_t step_allocs = hn_alloc_count() - allocs_before;
  double again = sgemm_gflops(128, 1000, 784, repeats * 5);
  if (again > ceil_small) ceil_small = again;
  again = sgemm_gflops(2048, 2048, 2048, repeats < 5 ? repeats : 5);
  if (again > ceil_big) ceil_big = again;

  /* FLOPs (2 per multiply-add). Backward of a linear layer costs two GEMMs
   * (dx and dW) of the forward's size, except the first layer (no dx). */
  double f_hfwd = (double)hn_hnet_flops(h, n_tasks);
  double f_tfwd = 2.0 * (double)batch * (double)hn_net_flops_per_sample(net);
  double f_tbwd = 2.0 * f_tfwd - 2.0 * (double)batch * (double)n_in * 1000.0;
  double f_hbwd = 2.0 * f_hfwd;
  double f_opt = 10.0 * (double)n_theta; /* ~10 flops per element */
  double f_reg = n_reg ? 4.0 * (double)n_reg * (double)n_w : 0.0;
  double flops[N_PARTS] = {f_hfwd, f_tfwd, 4.0 * batch * n_cls, f_tbwd, f_reg, f_hbwd, f_opt};
  double f_total = 0;
  for (int p = 0; p < N_PARTS; p++) f_total += flops[p];
  double med_step = median(t_step, repeats);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("== hnet bench %s threads=%d repeats=%d earlier-tasks-regularised=%d\n", tag, threads,
         repeats, n_reg);
  printf("ceiling  sgemm 128x1000x784: %7.1f GFLOP/s   sgemm 2048^3: %7.1f GFLOP/s\n",
         ceil_small, ceil_big);
  printf("config   target 1024-1000-1000-10 (|W| = %lld), hypernet 25-25 ELU, emb 24, "
         "chunk emb 8, chunk 78000 (%lld chunks), |theta| = %lld (ratio |theta|/|W| = %.4f)\n",
         (long long)n_w, (long long)hn_hnet_n_chunks(h), (long long)n_theta,
         (double)n_theta / (double)n_w);
  printf("%-20s %12s %12s %10s\n", "part", "MFLOP", "median ms", "GFLOP/s");
  for (int p = 0; p < N_PARTS; p++) {
    if (p == P_REG && !n_reg) continue;
    double m = median(t[p], repeats);
    printf("%-20s %12.1f %12.3f %10.1f\n", part_names[p], flops[p] * 1e-6, m * 1e3,
           m > 0 ? flops[p] / m * 1e-9 : 0.0);
  }
  double gf = f_total / med_step * 1e-9;
  printf("step     %.1f MFLOP, median %.3f ms, %.2f steps/s, %.1f GFLOP/s = %.0f%% of the "
         "128x1000x784 ceiling, %.0f%% of the 2048^3 ceiling\n",
         f_total * 1e-6, med_step * 1e3, 1.0 / med_step, gf, 100.0 * gf / ceil_small,
         100.0 * gf / ceil_big);
  printf("memory   peak resident %.1f MiB; allocations during %d timed steps: %lld; loss %.4f\n",
         (double)ru.ru_maxrss / 1024.0, repeats, (long long)step_allocs, (double)loss);
  printf("RESULT tag=%s threads=%d step_ms=%.3f gflops=%.1f ceil_small=%.1f ceil_big=%.1f\n", tag,
         threads, med_step * 1e3, gf, ceil_small, ceil_big);

  for (int p = 0; p < N_PARTS; p++) free(t[p]);
  free(t_step);
  hn_optim_free(opt);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_tensor_release(&logits);
  hn_tensor_release(&dlogits);
  hn_free(theta); hn_free(dtheta); hn_free(E); hn_free(dE);
  hn_free(W); hn_free(dW); hn_free(Wstar); hn_free(var);
  hn_hnet_free(h);
  hn_net_free(net);
  return 0;
}
