/*
 * bench.c — speed figures for `make bench` (never part of `make test`).
 *
 * 1. The machine's ceiling: OpenBLAS sgemm GFLOP/s at 128x1000x784 (the shape
 *    of a target layer at batch 128) and 2048^3.
 *    And the memory bandwidth: a stream-style triad a = b + s·c over three
 *    64 MiB arrays (bytes counted: 3 arrays, read, read, write).
 * 2. The engine's full training step (the one hnet.hypermodel runs) on a
 *    published configuration of von Oswald et al.: inputs 32x32=1024, target
 *    MLP 1024-1000-1000-10 (ReLU), batch 128, Adam, and the hypernetwork of
 *    --config pm10 (PermutedMNIST-10: chunked 25-25 ELU, task embedding 24,
 *    chunk embedding 8, chunk 78,000) or pm100 (PermutedMNIST-100: 200-250-350
 *    ReLU, embedding 128, chunk embedding 12, chunk 7,500). With --reg R, R
 *    earlier tasks regularised at θ + the Adam step of the task loss (the
 *    look-ahead of the published runs), their targets the outputs of a
 *    snapshot θ* (--targets recomputed, the learner's default: θ* = θ with
 *    1e-3 added to the output layer's bias, the regulariser through Gram
 *    matrices) or stored (--targets stored: the outputs of θ plus 1e-3, the
 *    same values, the regulariser in tiles). With --stored S (> R), S earlier
 *    tasks and a random R of them regularised each step, as the learner's
 *    reg_tasks = R does (task 100 with reg_tasks 10: --reg 10 --stored 99).
 * 3. --config copy: the recurrent step of the Permuted Copy Task
 *    (bench_copy.c; --reg does not apply).
 *
 * Per part: time, GFLOP/s, GB/s and the fraction of its floor, the floor
 * being the larger of FLOPs / the 2048^3 sgemm ceiling and bytes / the
 * triad bandwidth; bytes are the least traffic the part needs (each operand
 * read or written once). Every figure is a median over repeats, measured in
 * this run. Usage:
 *   bench [--threads N] [--repeats K] [--config pm10|pm100|copy] [--reg R] [--stored S]
 *         [--targets recomputed|stored] [--tag NAME] [--dump PATH]
 *
 * Each workload ends with one RESULT line of key=value pairs, read by
 * run-bench.sh: step_ms, gflops, the ceilings, peak_mib, and what the
 * PyTorch twin (torch_step.py) must match: n_w (generated weights), n_theta,
 * reg and stored (earlier tasks regularised per step, of how many), targets, loss0 and reg0 (the first step's task
 * loss and regulariser: same magnitude on both sides, not the same values,
 * as the data and initial values come from different generators), setup_s
 * (the earlier tasks' targets). --dump PATH writes the first step's inputs
 * and results (bench.h), from which `torch_step.py --check PATH` runs the
 * same step and compares: both sides must compute the same thing.
 */
#include "bench.h"

#include <omp.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

enum { P_HFWD, P_TFWD, P_LOSS, P_TBWD, P_HBWD, P_LA, P_REG, P_OPT, N_PARTS };
static const char *part_names[N_PARTS] = {
    "hypernet forward", "target forward",   "loss",        "target backward",
    "hypernet backward", "look-ahead step", "regulariser", "optimiser (Adam)"};

int main(int argc, char **argv) {
  /* ./hnet's OpenMP wait policy unless the caller chose one (engine/threads.h) */
  if (hn_threads_set_wait_env()) execv("/proc/self/exe", argv);
  int threads = 0, repeats = 20, n_reg = 0, n_stored = -1;
  const char *tag = "", *config = "pm10", *dump = NULL, *targets = "recomputed";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reg") && i + 1 < argc) n_reg = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--stored") && i + 1 < argc) n_stored = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag = argv[++i];
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
    else if (!strcmp(argv[i], "--targets") && i + 1 < argc) targets = argv[++i];
    else {
      fprintf(stderr, "usage: bench [--threads N] [--repeats K] [--config pm10|pm100|copy] [--reg R] [--stored S] "
                      "[--targets recomputed|stored] [--tag NAME] [--dump PATH]\n");
      return 2;
    }
  }
  bool pm100 = !strcmp(config, "pm100"), copy = !strcmp(config, "copy");
  bool stored = !strcmp(targets, "stored");
  if (!stored && strcmp(targets, "recomputed")) {
    fprintf(stderr, "bench: --targets %s; use recomputed or stored\n", targets);
    return 2;
  }
  if (!pm100 && !copy && strcmp(config, "pm10")) {
    fprintf(stderr, "bench: --config %s; use pm10, pm100 or copy\n", config);
    return 2;
  }
  if (copy && n_reg) {
    fprintf(stderr, "bench: --reg %d with --config copy; the recurrent step is task 1's (leave "
                    "out --reg)\n", n_reg);
    return 2;
  }
  if (repeats < 3) repeats = 3;
  if (n_reg < 0) n_reg = 0;
  if (n_stored < 0) n_stored = n_reg;
  if (n_stored < n_reg || (n_stored > 0 && n_reg == 0)) {
    fprintf(stderr, "bench: --stored %d with --reg %d; the stored targets must cover the "
                    "regularised tasks (--stored >= --reg >= 1)\n", n_stored, n_reg);
    return 2;
  }
  CHECK(hn_threads_set(threads));
  threads = hn_threads_get();
  if (copy) return bench_copy(threads, repeats, tag, dump);

  /* The ceilings are measured before and after the step and the larger
   * median kept: on a shared machine a neighbour's burst can halve one
   * measurement, and a ceiling that is too low would flatter the step's
   * percentage. */
  double ceil_small = bench_sgemm_gflops(128, 1000, 784, repeats * 5);
  double ceil_big = bench_sgemm_gflops(2048, 2048, 2048, repeats < 5 ? repeats : 5);
  const int64_t triad_n = (int64_t)1 << 24; /* 64 MiB per array */
  double bw = bench_triad_gbs(triad_n, 10);

  /* ---- the step ---------------------------------------------------------- */
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
                    .max_tasks = n_reg > 1 ? n_reg : 1};
  if (pm100) {
    hc.n_emb = 128;
    hc.n_hidden = 3;
    hc.hidden[0] = 200, hc.hidden[1] = 250, hc.hidden[2] = 350;
    hc.act = HN_ACT_RELU;
    hc.chunk = 7500;
    hc.n_chunk_emb = 12;
  }
  const int64_t ne = hc.n_emb;
  hn_hnet *h;
  CHECK(hn_hnet_new(&h, &hc));
  const int64_t n_theta = hn_hnet_n_params(h), n_tasks = 1 + n_stored;

  float *theta = bench_falloc(n_theta), *dtheta = bench_falloc(n_theta), *theta_la = bench_falloc(n_theta);
  float *E = bench_falloc(n_tasks * ne), *dE = bench_falloc(ne);
  float *W = bench_falloc(n_w), *dW = bench_falloc(n_w);
  float *Wstar = stored ? bench_falloc(n_stored > 0 ? (int64_t)n_stored * n_w : 1) : NULL;
  float *theta_star = stored ? NULL : bench_falloc(n_theta);
  /* A subset (n_stored > n_reg): its embeddings, target rows and the
   * permutation it is drawn from, planned once. */
  float *Esub = bench_falloc(n_reg > 0 ? n_reg * ne : 1);
  int64_t *rows = malloc(sizeof(int64_t) * (size_t)(n_stored > 0 ? n_stored : 1));
  int64_t *rows0 = malloc(sizeof(int64_t) * (size_t)(n_stored > 0 ? n_stored : 1));
  for (int64_t i = 0; i < n_stored; i++) rows[i] = rows0[i] = i;
  float *var = bench_falloc(n_w);
  hn_rng rng;
  hn_rng_init(&rng, 42, 0);
  CHECK(hn_net_init_var(net, NULL, var));
  CHECK(hn_hnet_init(h, theta, var, 1.0f, &rng));
  hn_rng_fill_normal(&rng, E, n_tasks * ne, 0, 1);
  double t_setup = 0;
  if (n_reg && stored) { /* targets: the earlier tasks' outputs now, perturbed */
    double t0 = omp_get_wtime();
    for (int64_t t = 0; t < n_stored; t += hc.max_tasks) {
      int64_t nt = n_stored - t < hc.max_tasks ? n_stored - t : hc.max_tasks;
      CHECK(hn_hnet_forward(h, theta, E + (1 + t) * ne, nt, Wstar + t * n_w));
    }
    t_setup = omp_get_wtime() - t0;
    for (int64_t i = 0; i < (int64_t)n_stored * n_w; i++) Wstar[i] += 1e-3f;
  } else if (n_reg) { /* the snapshot θ*, its outputs those targets up to rounding */
    double t0 = omp_get_wtime();
    memcpy(theta_star, theta, sizeof(float) * (size_t)n_theta);
    const hn_layout_entry *ob = hn_layout_find(hn_hnet_layout(h), pm100 ? "l3.bias" : "l2.bias");
    for (int64_t i = 0; i < hc.chunk; i++) theta_star[ob->offset + i] += 1e-3f;
    t_setup = omp_get_wtime() - t0;
  }
  hn_tensor x, y, logits, dlogits;
  CHECK(hn_tensor_init(&x, 2, (int64_t[]){batch, n_in}));
  CHECK(hn_tensor_init(&y, 1, (int64_t[]){batch}));
  CHECK(hn_tensor_init(&logits, 2, (int64_t[]){batch, n_cls}));
  CHECK(hn_tensor_init(&dlogits, 2, (int64_t[]){batch, n_cls}));
  hn_rng_fill_uniform(&rng, x.data, x.numel, 0, 1);
  for (int64_t i = 0; i < batch; i++) y.data[i] = (float)hn_rng_below(&rng, n_cls);
  hn_optim *opt, *opt_e; /* θ and the task embedding, as the learner */
  hn_optim_cfg oc = hn_optim_defaults(HN_OPTIM_ADAM);
  oc.lr = 1e-4f;
  CHECK(hn_optim_new(&opt, n_theta, &oc));
  CHECK(hn_optim_new(&opt_e, ne, &oc));
  hn_run run = {.train = true, .rng = &rng, .stats = NULL};
  FILE *dump_f = bench_dump_open(dump, theta, n_theta, E, n_tasks, ne, &x, &y, n_reg);

  double *t[N_PARTS], *t_step = malloc(sizeof(double) * (size_t)repeats);
  for (int p = 0; p < N_PARTS; p++) t[p] = malloc(sizeof(double) * (size_t)repeats);
  int64_t allocs_before = 0;
  float loss = 0, reg = 0, loss0 = 0, reg0 = 0, loss1 = 0;
  for (int it = -3; it < repeats; it++) { /* 3 warm-up steps */
    if (it == 0) allocs_before = hn_alloc_count();
    double tp[N_PARTS + 1];
    tp[P_HFWD] = omp_get_wtime();
    CHECK(hn_hnet_forward(h, theta, E, 1, W));
    tp[P_TFWD] = omp_get_wtime();
    CHECK(hn_net_forward(net, W, &x, &logits, &run));
    tp[P_LOSS] = omp_get_wtime();
    CHECK(hn_loss_xent(&logits, &y, NULL, &loss, &dlogits));
    tp[P_TBWD] = omp_get_wtime();
    memset(dW, 0, sizeof(float) * (size_t)n_w);
    CHECK(hn_net_backward(net, W, &dlogits, dW, NULL, &run));
    tp[P_HBWD] = omp_get_wtime();
    memset(dtheta, 0, sizeof(float) * (size_t)n_theta);
    memset(dE, 0, sizeof(float) * (size_t)ne);
    CHECK(hn_hnet_backward(h, theta, dW, dtheta, dE));
    tp[P_LA] = omp_get_wtime();
    if (n_reg) CHECK(hn_optim_lookahead(opt, theta, dtheta, theta_la));
    tp[P_REG] = omp_get_wtime();
    if (n_reg && n_stored > n_reg) { /* a random n_reg of the stored, as reg_tasks */
      for (int64_t i = 0; i < n_reg; i++) {
        int64_t j = i + hn_rng_below(&rng, n_stored - i), s = rows[i];
        rows[i] = rows[j], rows[j] = s;
        memcpy(Esub + i * ne, E + (1 + rows[i]) * ne, sizeof(float) * (size_t)ne);
      }
      CHECK(hn_hnet_output_reg(h, theta_la, Esub, n_reg, Wstar, stored ? rows : NULL, n_stored,
                               theta_star, 0.01f, &reg, dtheta));
    } else if (n_reg)
      CHECK(hn_hnet_output_reg(h, theta_la, E + ne, n_reg, Wstar, NULL, n_reg, theta_star, 0.01f,
                               &reg, dtheta));
    tp[P_OPT] = omp_get_wtime();
    CHECK(hn_optim_step(opt, theta, dtheta));
    CHECK(hn_optim_step(opt_e, E, dE));
    tp[N_PARTS] = omp_get_wtime();
    if (it == -3) {
      loss0 = loss, reg0 = reg;
      memcpy(rows0, rows, sizeof(int64_t) * (size_t)n_reg);
    }
    if (it == -2) loss1 = loss;
    if (it >= 0) {
      for (int p = 0; p < N_PARTS; p++) t[p][it] = tp[p + 1] - tp[p];
      t_step[it] = tp[N_PARTS] - tp[0];
    }
  }
  int64_t step_allocs = hn_alloc_count() - allocs_before;
  /* The step's peak, read before the ceilings are measured again: their
   * arrays (the triad's 192 MiB) would otherwise count as the step's. */
  double peak = bench_peak_mib();
  bench_dump_close(dump_f, dump, loss0, reg0, loss1, rows0, n_reg);
  double again = bench_sgemm_gflops(128, 1000, 784, repeats * 5);
  if (again > ceil_small) ceil_small = again;
  again = bench_sgemm_gflops(2048, 2048, 2048, repeats < 5 ? repeats : 5);
  if (again > ceil_big) ceil_big = again;
  again = bench_triad_gbs(triad_n, 10);
  if (again > bw) bw = again;

  /* FLOPs (2 per multiply-add). Backward of a linear layer costs two GEMMs
   * (dx and dW) of the forward's size, except the first layer (no dx).
   * Bytes (4 per float): the operands each part must read or write once. */
  const double f4 = 4.0;
  int64_t n_out_layer = hc.chunk * (hc.n_hidden ? hc.hidden[hc.n_hidden - 1] : ne + hc.n_chunk_emb);
  double f_hfwd = (double)hn_hnet_flops(h, 1);
  double f_tfwd = 2.0 * (double)batch * (double)hn_net_flops_per_sample(net);
  double f_tbwd = 2.0 * f_tfwd - 2.0 * (double)batch * (double)n_in * 1000.0;
  double f_hbwd = 2.0 * f_hfwd;
  double f_opt = 10.0 * (double)n_theta; /* ~10 flops per element */
  /* the regulariser. Stored targets: the hypernetwork's forward and backward
   * over n_reg tasks, ~6 flops per generated weight for the difference and
   * sums. Recomputed (engine/hnet_reg.c): the hidden layers' forward for θ
   * and θ* and their backward, then the Gram form of the output layer: G
   * (one triangle, chunk·m² for m = 2k + 1), S and the input gradient
   * (8·rows·k²), the weight gradient (2·chunk·m·(k + 1)). */
  int64_t rows_reg = (int64_t)n_reg * hn_hnet_n_chunks(h);
  double k_last = hc.n_hidden ? hc.hidden[hc.n_hidden - 1] : ne + hc.n_chunk_emb, m_g = 2 * k_last + 1;
  double f_hid = (double)hn_hnet_flops(h, n_reg) - 2.0 * (double)rows_reg * k_last * (double)hc.chunk;
  double f_reg = stored ? 3.0 * (double)hn_hnet_flops(h, n_reg) + 6.0 * (double)n_reg * (double)n_w
                        : 4.0 * f_hid + (double)hc.chunk * m_g * m_g +
                              8.0 * (double)rows_reg * k_last * k_last +
                              2.0 * (double)hc.chunk * m_g * (k_last + 1);
  double flops[N_PARTS] = {f_hfwd, f_tfwd, 4.0 * batch * n_cls, f_tbwd, f_hbwd,
                           n_reg ? 12.0 * (double)n_theta : 0.0, f_reg, f_opt};
  double bytes[N_PARTS] = {
      f4 * ((double)n_w + (double)n_out_layer),                      /* W out, U in     */
      f4 * ((double)n_w + (double)batch * n_in),                     /* W, x in         */
      f4 * 2.0 * batch * n_cls,                                      /* logits          */
      f4 * (2.0 * (double)n_w + (double)batch * n_in),               /* W in, dW out    */
      f4 * ((double)n_w + 3.0 * (double)n_out_layer),                /* dW, U in, dU    */
      n_reg ? f4 * 5.0 * (double)n_theta : 0.0,                      /* θ g m v; θ_la    */
      !n_reg ? 0.0 /* stored: the targets, U, dU; recomputed: U, U*, dU, M (written, read twice), the rows */
             : stored ? f4 * ((double)n_reg * (double)n_w + 3.0 * (double)n_out_layer)
                      : f4 * (3.0 * (double)n_out_layer + 3.0 * (double)hc.chunk * m_g +
                              6.0 * (double)rows_reg * k_last),
      f4 * 7.0 * (double)n_theta};                                   /* θ g m v; θ m v  */
  double f_total = 0, b_total = 0;
  for (int p = 0; p < N_PARTS; p++) f_total += flops[p], b_total += bytes[p];
  double med_step = bench_median(t_step, repeats);

  printf("== hnet bench %s config=%s threads=%d repeats=%d earlier-tasks-regularised=%d (of %d, "
         "targets %s)\n", tag, config, threads, repeats, n_reg, n_stored, targets);
  printf("ceiling  sgemm 128x1000x784: %7.1f GFLOP/s   sgemm 2048^3: %7.1f GFLOP/s   triad: "
         "%6.1f GB/s   (OpenBLAS kernels: %s)\n",
         ceil_small, ceil_big, bw, hn_blas_core());
  printf("config   target 1024-1000-1000-10 (|W| = %lld), hypernet %s, %lld chunks of %lld, "
         "|theta| = %lld\n",
         (long long)n_w, pm100 ? "200-250-350 ReLU, emb 128, chunk emb 12"
                               : "25-25 ELU, emb 24, chunk emb 8",
         (long long)hn_hnet_n_chunks(h), (long long)hc.chunk, (long long)n_theta);
  printf("%-20s %10s %10s %10s %9s %8s %11s\n", "part", "MFLOP", "MB", "median ms", "GFLOP/s",
         "GB/s", "% of floor");
  double floor_total = 0;
  for (int p = 0; p < N_PARTS; p++) {
    if ((p == P_REG || p == P_LA) && !n_reg) continue;
    double m = bench_median(t[p], repeats);
    double fl = fmax(flops[p] / (ceil_big * 1e9), bytes[p] / (bw * 1e9));
    floor_total += fl;
    printf("%-20s %10.1f %10.1f %10.3f %9.1f %8.1f %10.0f%%\n", part_names[p], flops[p] * 1e-6,
           bytes[p] * 1e-6, m * 1e3, m > 0 ? flops[p] / m * 1e-9 : 0.0,
           m > 0 ? bytes[p] / m * 1e-9 : 0.0, m > 0 ? 100.0 * fl / m : 0.0);
  }
  double gf = f_total / med_step * 1e-9;
  printf("step     %.1f MFLOP, %.1f MB, median %.3f ms, %.2f steps/s, %.1f GFLOP/s = %.0f%% of "
         "the 128x1000x784 ceiling, %.0f%% of the 2048^3 ceiling; floor %.3f ms (%.0f%%)\n",
         f_total * 1e-6, b_total * 1e-6, med_step * 1e3, 1.0 / med_step, gf,
         100.0 * gf / ceil_small, 100.0 * gf / ceil_big, floor_total * 1e3,
         100.0 * floor_total / med_step);
  if (n_reg)
    printf("set-up   targets of %d earlier tasks (%s) in %.3f s\n", n_stored, targets, t_setup);
  printf("memory   peak resident %.1f MiB; allocations during %d timed steps: %lld; loss %.4f, "
         "regulariser %.4g\n",
         peak, repeats, (long long)step_allocs, (double)loss,
         (double)reg);
  printf("RESULT tag=%s config=%s threads=%d reg=%d stored=%d targets=%s blas_core=%s step_ms=%.3f gflops=%.1f ceil_small=%.1f "
         "ceil_big=%.1f bw=%.1f peak_mib=%.1f setup_s=%.3f n_w=%lld n_theta=%lld loss0=%.4f "
         "reg0=%.4g\n",
         tag, config, threads, n_reg, n_stored, targets, hn_blas_core(), med_step * 1e3, gf, ceil_small, ceil_big, bw, peak,
         t_setup, (long long)n_w, (long long)n_theta, (double)loss0, (double)reg0);

  for (int p = 0; p < N_PARTS; p++) free(t[p]);
  free(t_step);
  hn_optim_free(opt);
  hn_optim_free(opt_e);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_tensor_release(&logits);
  hn_tensor_release(&dlogits);
  hn_free(theta); hn_free(dtheta); hn_free(theta_la); hn_free(E); hn_free(dE);
  hn_free(W); hn_free(dW); hn_free(Wstar); hn_free(theta_star); hn_free(var); hn_free(Esub);
  free(rows);
  free(rows0);
  hn_hnet_free(h);
  hn_net_free(net);
  return 0;
}
