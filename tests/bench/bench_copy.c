/*
 * bench_copy.c — the recurrent workload of `make bench` (bench --config copy):
 * one training step of the Permuted Copy Task's published hypernetwork run
 * (experiments/copy_task.lua's defaults; Ehret et al., ICLR 2021): patterns
 * of 5 steps of 7 bits, so x [128, T = 11, 8] (7 bits + the delimiter
 * channel) and targets [128, 11, 7] scored at the 5 output steps; target
 * network a vanilla RNN 8-256 (tanh) with a linear read-out 256-7 at every
 * step; a chunked hypernetwork 50-50 (ReLU), task and chunk embeddings 32,
 * chunks of 2,500; sigmoid cross-entropy per bit (hn_loss_bits); Adam on θ
 * and on the task embedding (lr 5e-4). Task 1: no earlier tasks.
 *
 * The step runs the modules of the target network one by one (the rnn and
 * linear modules' own forward and backward, what hn_net runs for this
 * stack), so that the time loop is a part of its own:
 *   hypernet forward      W = h(e; θ)
 *   rnn forward           Z = x W_ih^T + b (one GEMM), then for t = 1..10
 *                         Z_t += h_{t-1} W_hh^T ([128,256]x[256,256]) and tanh
 *   head, loss            the read-out's forward, hn_loss_bits, its backward
 *   rnn backward          for t = 10..0 the cell's derivative and, for t > 0,
 *                         dh_{t-1} = dZ_t W_hh; then dW_ih, dW_hh, db (one
 *                         GEMM each over all 1,408 rows)
 *   hypernet backward, Adam
 * A set-up check runs the same W and batch through the assembled hn_net
 * (rnn + linear) and requires the same logits, loss and dW bit for bit; the
 * same step through hn_net is timed too, and its median is the RESULT (the
 * path the learner runs). The time loop of the backward is also timed alone
 * (no weight gradients: T products, the first one for dh_0), and both loops'
 * GFLOP/s are set against sgemm at their shape [128,256]x[256,256], measured
 * in this run.
 */
#include "bench.h"

#include <math.h>
#include <omp.h>
#include <string.h>

enum { C_HFWD, C_RFWD, C_HEAD, C_RBWD, C_HBWD, C_OPT, C_PARTS };
static const char *copy_part_names[C_PARTS] = {
    "hypernet forward", "rnn forward",       "head + loss",
    "rnn backward",     "hypernet backward", "optimiser (Adam)"};

/* The published configuration (experiments/copy_task.lua). */
enum { CP_BATCH = 128, CP_LEN = 5, CP_BITS = 7, CP_HIDDEN = 256 };

/* One Permuted Copy Task batch (lua/hnet/seq/copy.lua's layout): steps
 * 0..L-1 the pattern, step L the delimiter (last channel 1), the target
 * -1 (not scored) up to the delimiter and pattern step order[k] at output
 * step L+1+k. */
static void copy_batch(hn_rng *rng, hn_tensor *x, hn_tensor *y) {
  const int64_t n = x->shape[0], T = x->shape[1], F = x->shape[2], L = CP_LEN, B = CP_BITS;
  int64_t order[CP_LEN];
  for (int64_t k = 0; k < L; k++) order[k] = k;
  for (int64_t k = L - 1; k > 0; k--) { /* one fixed permutation (task 1's) */
    int64_t j = hn_rng_below(rng, k + 1), s = order[k];
    order[k] = order[j], order[j] = s;
  }
  memset(x->data, 0, sizeof(float) * (size_t)x->numel);
  for (int64_t s = 0; s < n; s++) {
    float *xs = x->data + s * T * F, *ys = y->data + s * T * B;
    for (int64_t t = 0; t < L; t++)
      for (int64_t b = 0; b < B; b++) xs[t * F + b] = (float)hn_rng_below(rng, 2);
    xs[L * F + F - 1] = 1.0f;
    for (int64_t t = 0; t < T; t++)
      for (int64_t b = 0; b < B; b++) {
        int64_t k = t - L - 1;
        ys[t * B + b] = k >= 0 && k < L ? xs[order[k] * F + b] : -1.0f;
      }
  }
}

static float max_abs_diff(const float *a, const float *b, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
  return m;
}

int bench_copy(int threads, int repeats, const char *tag, const char *dump) {
  const int64_t n = CP_BATCH, T = 2 * CP_LEN + 1, F = CP_BITS + 1, H = CP_HIDDEN, K = CP_BITS;
  const int64_t nt = n * T;
  double ceil_hh = bench_sgemm_gflops(n, H, H, repeats * 20);
  double ceil_big = bench_sgemm_gflops(2048, 2048, 2048, repeats < 5 ? repeats : 5);
  const int64_t triad_n = (int64_t)1 << 24;
  double bw = bench_triad_gbs(triad_n, 10);

  /* The target network as the learner builds it, for the set-up check and
   * the one-net step. */
  hn_net *net;
  CHECK(hn_net_new(&net, 2, (int64_t[]){T, F}, n));
  CHECK(hn_net_add_rnn(net, H, false));
  CHECK(hn_net_add_linear(net, K, true));
  CHECK(hn_net_finalize(net));
  const int64_t n_w = hn_net_n_params(net);
  /* The same two modules driven one by one: W = [rnn | linear]. */
  const hn_recurrent rc = {.n_in = F, .hidden = H, .last = false, .fan_out = false};
  const hn_linear lc = {.n_in = H, .n_out = K, .bias = true, .fan_out = false};
  const int64_t n_wr = hn_rnn_vt.n_params(&rc);
  if (n_wr + hn_linear_vt.n_params(&lc) != n_w) {
    fprintf(stderr, "bench: copy: the modules have %lld + %lld parameters, the net %lld\n",
            (long long)n_wr, (long long)hn_linear_vt.n_params(&lc), (long long)n_w);
    return 1;
  }
  int64_t x_shape[3] = {n, T, F}, h_shape[3] = {n, T, H}, y_shape[3] = {n, T, K};
  float *ws_r = bench_falloc(hn_rnn_vt.ws_size(&rc, 3, x_shape));
  int64_t ws_l_n = hn_linear_vt.ws_size(&lc, 3, h_shape);
  float *ws_l = ws_l_n > 0 ? bench_falloc(ws_l_n) : NULL;

  hn_hnet_cfg hc = {.n_out = n_w, .n_emb = 32, .n_hidden = 2, .hidden = {50, 50},
                    .act = HN_ACT_RELU, .act_alpha = 1.0f, .chunk = 2500, .n_chunk_emb = 32,
                    .max_tasks = 1};
  hn_hnet *h;
  CHECK(hn_hnet_new(&h, &hc));
  const int64_t n_theta = hn_hnet_n_params(h), ne = hc.n_emb;
  float *theta = bench_falloc(n_theta), *dtheta = bench_falloc(n_theta);
  float *e = bench_falloc(ne), *de = bench_falloc(ne), *var = bench_falloc(n_w);
  float *W = bench_falloc(n_w), *dW = bench_falloc(n_w), *dW2 = bench_falloc(n_w);
  float *dh0 = bench_falloc(n * H), *zs = bench_falloc(nt * H);
  hn_rng rng;
  hn_rng_init(&rng, 42, 0);
  CHECK(hn_net_init_var(net, NULL, var));
  CHECK(hn_hnet_init(h, theta, var, 1.0f, &rng));
  hn_rng_fill_normal(&rng, e, ne, 0, 1);

  hn_tensor x, y, hs, dhs, logits, dlogits, logits2;
  CHECK(hn_tensor_init(&x, 3, x_shape));
  CHECK(hn_tensor_init(&y, 3, y_shape));
  CHECK(hn_tensor_init(&hs, 3, h_shape));
  CHECK(hn_tensor_init(&dhs, 3, h_shape));
  CHECK(hn_tensor_init(&logits, 3, y_shape));
  CHECK(hn_tensor_init(&dlogits, 3, y_shape));
  CHECK(hn_tensor_init(&logits2, 3, y_shape));
  copy_batch(&rng, &x, &y);
  hn_optim *opt, *opt_e;
  hn_optim_cfg oc = hn_optim_defaults(HN_OPTIM_ADAM);
  oc.lr = 5e-4f;
  CHECK(hn_optim_new(&opt, n_theta, &oc));
  CHECK(hn_optim_new(&opt_e, ne, &oc));
  hn_run run = {.train = true, .rng = &rng, .stats = NULL, .lengths = NULL};
  FILE *dump_f = bench_dump_open(dump, theta, n_theta, e, 1, ne, &x, &y, 0);

  /* Set-up check: modules one by one == the assembled net, bit for bit. */
  float loss = 0, loss2 = 0;
  CHECK(hn_hnet_forward(h, theta, e, 1, W));
  CHECK(hn_rnn_vt.forward(&rc, W, &x, &hs, ws_r, &run));
  CHECK(hn_linear_vt.forward(&lc, W + n_wr, &hs, &logits, ws_l, &run));
  CHECK(hn_loss_bits(&logits, &y, 0, &loss, &dlogits, NULL, NULL));
  CHECK(hn_linear_vt.backward(&lc, W + n_wr, &hs, &logits, ws_l, &dlogits, &dhs, dW + n_wr, &run));
  CHECK(hn_rnn_vt.backward(&rc, W, &x, &hs, ws_r, &dhs, NULL, dW, &run));
  CHECK(hn_net_forward(net, W, &x, &logits2, &run));
  CHECK(hn_loss_bits(&logits2, &y, 0, &loss2, &dlogits, NULL, NULL));
  CHECK(hn_net_backward(net, W, &dlogits, dW2, NULL, &run));
  float d_logits = max_abs_diff(logits.data, logits2.data, logits.numel);
  float d_w = max_abs_diff(dW, dW2, n_w);
  if (d_logits != 0 || d_w != 0 || loss != loss2) {
    fprintf(stderr, "bench: copy: the modules one by one and hn_net disagree: logits by %g, "
            "loss %.9g vs %.9g, dW by %g\n", (double)d_logits, (double)loss, (double)loss2,
            (double)d_w);
    return 1;
  }
  const float loss0 = loss;
  float loss1 = 0;

  double *t[C_PARTS], *t_step = malloc(sizeof(double) * (size_t)repeats);
  double *t_net = malloc(sizeof(double) * (size_t)repeats);
  double *t_loop = malloc(sizeof(double) * (size_t)repeats);
  double *t_gemms = malloc(sizeof(double) * (size_t)repeats);
  for (int p = 0; p < C_PARTS; p++) t[p] = malloc(sizeof(double) * (size_t)repeats);
  int64_t allocs_before = 0;
  for (int it = -3; it < repeats; it++) { /* 3 warm-up steps */
    if (it == 0) allocs_before = hn_alloc_count();
    double tp[C_PARTS + 1];
    tp[C_HFWD] = omp_get_wtime();
    CHECK(hn_hnet_forward(h, theta, e, 1, W));
    tp[C_RFWD] = omp_get_wtime();
    CHECK(hn_rnn_vt.forward(&rc, W, &x, &hs, ws_r, &run));
    tp[C_HEAD] = omp_get_wtime();
    memset(dW, 0, sizeof(float) * (size_t)n_w);
    CHECK(hn_linear_vt.forward(&lc, W + n_wr, &hs, &logits, ws_l, &run));
    CHECK(hn_loss_bits(&logits, &y, 0, &loss, &dlogits, NULL, NULL));
    CHECK(hn_linear_vt.backward(&lc, W + n_wr, &hs, &logits, ws_l, &dlogits, &dhs, dW + n_wr,
                                &run));
    tp[C_RBWD] = omp_get_wtime();
    CHECK(hn_rnn_vt.backward(&rc, W, &x, &hs, ws_r, &dhs, NULL, dW, &run));
    tp[C_HBWD] = omp_get_wtime();
    memset(dtheta, 0, sizeof(float) * (size_t)n_theta);
    memset(de, 0, sizeof(float) * (size_t)ne);
    CHECK(hn_hnet_backward(h, theta, dW, dtheta, de));
    tp[C_OPT] = omp_get_wtime();
    CHECK(hn_optim_step(opt, theta, dtheta));
    CHECK(hn_optim_step(opt_e, e, de));
    tp[C_PARTS] = omp_get_wtime();
    if (it == -2) loss1 = loss; /* after one Adam step (the set-up check took none) */
    if (it >= 0) {
      for (int p = 0; p < C_PARTS; p++) t[p][it] = tp[p + 1] - tp[p];
      t_step[it] = tp[C_PARTS] - tp[0];
    }
  }
  bench_dump_close(dump_f, dump, loss0, 0.0f, loss1, NULL, 0);
  /* The same step through the assembled net (what the learner runs). */
  for (int it = -3; it < repeats; it++) {
    double t0 = omp_get_wtime();
    CHECK(hn_hnet_forward(h, theta, e, 1, W));
    CHECK(hn_net_forward(net, W, &x, &logits, &run));
    CHECK(hn_loss_bits(&logits, &y, 0, &loss, &dlogits, NULL, NULL));
    memset(dW, 0, sizeof(float) * (size_t)n_w);
    CHECK(hn_net_backward(net, W, &dlogits, dW, NULL, &run));
    memset(dtheta, 0, sizeof(float) * (size_t)n_theta);
    memset(de, 0, sizeof(float) * (size_t)ne);
    CHECK(hn_hnet_backward(h, theta, dW, dtheta, de));
    CHECK(hn_optim_step(opt, theta, dtheta));
    CHECK(hn_optim_step(opt_e, e, de));
    if (it >= 0) t_net[it] = omp_get_wtime() - t0;
  }
  /* The backward time loop alone: with dh0 wanted and no weight gradient,
   * the rnn backward runs only its loop (T products, the cell's derivative
   * at every step). The forward state of the last step is still kept. */
  CHECK(hn_rnn_vt.forward(&rc, W, &x, &hs, ws_r, &run));
  for (int it = -3; it < repeats; it++) {
    double t0 = omp_get_wtime();
    CHECK(hn_rnn_backward_state(&rc, W, &x, ws_r, &dhs, NULL, NULL, dh0, &run));
    if (it >= 0) t_loop[it] = omp_get_wtime() - t0;
  }
  /* The forward loop's products alone, strided as in the layer (states and
   * gates of sample b at rows b*T + t, ld T*H), on a scratch Z: what the
   * forward would take if its cell (tanh) and set-up cost nothing. */
  for (int it = -3; it < repeats; it++) {
    double t0 = omp_get_wtime();
    for (int64_t s = 1; s < T; s++)
      CHECK(hn_blas_gemm_ld("bench", false, true, n, H, H, 1.0f, hs.data + (s - 1) * H, T * H,
                            W + H * F, H, 1.0f, zs + s * H, T * H));
    if (it >= 0) t_gemms[it] = omp_get_wtime() - t0;
  }
  int64_t step_allocs = hn_alloc_count() - allocs_before;
  /* The step's peak, read before the ceilings are measured again: their
   * arrays (the triad's 192 MiB) would otherwise count as the step's. */
  double peak = bench_peak_mib();
  double again = bench_sgemm_gflops(n, H, H, repeats * 20);
  if (again > ceil_hh) ceil_hh = again;
  again = bench_sgemm_gflops(2048, 2048, 2048, repeats < 5 ? repeats : 5);
  if (again > ceil_big) ceil_big = again;
  again = bench_triad_gbs(triad_n, 10);
  if (again > bw) bw = again;

  /* FLOPs (2 per multiply-add); the cell's tanh and its derivative are not
   * counted. The forward skips the product at t = 0 (h_0 = 0); the
   * backward's loop runs T - 1 products (no dh_0), the loop alone T. */
  const double f4 = 4.0, prod = 2.0 * (double)n * (double)H * (double)H;
  double f_loop_fwd = (double)(T - 1) * prod, f_loop_bwd = (double)(T - 1) * prod;
  double f_in = 2.0 * (double)nt * (double)F * (double)H;
  double f_wgrad = 2.0 * (double)H * (double)(F + H) * (double)nt;
  double f_head = 2.0 * (double)nt * (double)H * (double)K;
  double f_hfwd = (double)hn_hnet_flops(h, 1);
  int64_t n_out_layer = hc.chunk * hc.hidden[hc.n_hidden - 1];
  double flops[C_PARTS] = {f_hfwd,
                           f_in + f_loop_fwd,
                           3.0 * f_head + 10.0 * (double)nt * (double)K,
                           f_loop_bwd + f_wgrad,
                           2.0 * f_hfwd,
                           10.0 * (double)(n_theta + ne)};
  double w_rnn = (double)n_wr;
  double bytes[C_PARTS] = {
      f4 * ((double)n_w + (double)n_out_layer),                          /* W out, U in    */
      f4 * ((double)nt * (double)(F + H) + w_rnn),                       /* x, W in; h out */
      f4 * (2.0 * (double)nt * (double)(H + K) + (double)(n_w - n_wr)),  /* h, y in; dh out */
      f4 * ((double)nt * (double)(2 * H + F) + w_rnn),                   /* dh, h, x; dW   */
      f4 * ((double)n_w + 3.0 * (double)n_out_layer),                    /* dW, U in; dU   */
      f4 * 7.0 * (double)(n_theta + ne)};                                /* θ g m v; θ m v */
  double f_total = 0, b_total = 0;
  for (int p = 0; p < C_PARTS; p++) f_total += flops[p], b_total += bytes[p];
  double med_step = bench_median(t_step, repeats), med_net = bench_median(t_net, repeats);
  double med_loop = bench_median(t_loop, repeats), med_gemms = bench_median(t_gemms, repeats);

  printf("== hnet bench %s config=copy threads=%d repeats=%d\n", tag, threads, repeats);
  printf("ceiling  sgemm 128x256x256 (the h-to-h product): %7.1f GFLOP/s   sgemm 2048^3: %7.1f "
         "GFLOP/s   triad: %6.1f GB/s\n", ceil_hh, ceil_big, bw);
  printf("config   vanilla RNN %lld-%lld tanh, T = %lld, read-out %lld-%lld per step, batch %lld "
         "(|W| = %lld); hypernet 50-50 ReLU, emb 32, chunk emb 32, %lld chunks of %lld, |theta| "
         "= %lld\n", (long long)F, (long long)H, (long long)T, (long long)H, (long long)K,
         (long long)n, (long long)n_w, (long long)hn_hnet_n_chunks(h), (long long)hc.chunk,
         (long long)n_theta);
  printf("%-20s %10s %10s %10s %9s %8s %11s\n", "part", "MFLOP", "MB", "median ms", "GFLOP/s",
         "GB/s", "% of floor");
  double floor_total = 0, m_part[C_PARTS];
  for (int p = 0; p < C_PARTS; p++) {
    double m = m_part[p] = bench_median(t[p], repeats);
    double fl = fmax(flops[p] / (ceil_big * 1e9), bytes[p] / (bw * 1e9));
    floor_total += fl;
    printf("%-20s %10.1f %10.1f %10.3f %9.1f %8.1f %10.0f%%\n", copy_part_names[p],
           flops[p] * 1e-6, bytes[p] * 1e-6, m * 1e3, m > 0 ? flops[p] / m * 1e-9 : 0.0,
           m > 0 ? bytes[p] / m * 1e-9 : 0.0, m > 0 ? 100.0 * fl / m : 0.0);
  }
  double gf = f_total / med_step * 1e-9;
  printf("step     %.1f MFLOP, %.1f MB, median %.3f ms (modules one by one), %.1f GFLOP/s = %.0f%% "
         "of the 2048^3 ceiling; floor %.3f ms (%.0f%%); through hn_net: median %.3f ms\n",
         f_total * 1e-6, b_total * 1e-6, med_step * 1e3, gf, 100.0 * gf / ceil_big,
         floor_total * 1e3, 100.0 * floor_total / med_step, med_net * 1e3);
  double gf_rfwd = flops[C_RFWD] / m_part[C_RFWD] * 1e-9;
  double gf_loop = (double)T * prod / med_loop * 1e-9;
  printf("time loop forward (the rnn forward: %lld products [128,256]x[256,256], %.0f%% of its "
         "FLOPs): %.1f GFLOP/s = %.0f%% of the 128x256x256 ceiling\n", (long long)(T - 1),
         100.0 * f_loop_fwd / flops[C_RFWD], gf_rfwd, 100.0 * gf_rfwd / ceil_hh);
  printf("time loop forward, its products alone: %.3f ms, %.1f GFLOP/s = %.0f%% of the "
         "128x256x256 ceiling; the rest of the rnn forward (input GEMM, bias, tanh, copies): "
         "%.3f ms\n", med_gemms * 1e3, f_loop_fwd / med_gemms * 1e-9,
         100.0 * f_loop_fwd / med_gemms * 1e-9 / ceil_hh, (m_part[C_RFWD] - med_gemms) * 1e3);
  printf("time loop backward alone (%lld products, no weight gradients): %.3f ms, %.1f GFLOP/s = "
         "%.0f%% of the 128x256x256 ceiling\n", (long long)T, med_loop * 1e3, gf_loop,
         100.0 * gf_loop / ceil_hh);
  printf("memory   peak resident %.1f MiB; allocations during the timed steps: %lld; loss at "
         "step 1 %.4f (%lld scored bits), last %.4f\n", peak, (long long)step_allocs,
         (double)loss0, (long long)(n * CP_LEN * K), (double)loss);
  printf("RESULT tag=%s config=copy threads=%d reg=0 stored=0 step_ms=%.3f gflops=%.1f ceil_hh=%.1f "
         "ceil_big=%.1f bw=%.1f peak_mib=%.1f n_w=%lld n_theta=%lld loss0=%.4f reg0=0 "
         "parts_ms=%.3f loop_fwd_pct=%.0f loop_fwd_gemm_pct=%.0f loop_bwd_pct=%.0f\n",
         tag, threads, med_net * 1e3, f_total / med_net * 1e-9, ceil_hh, ceil_big, bw, peak,
         (long long)n_w, (long long)n_theta, (double)loss0, med_step * 1e3,
         100.0 * gf_rfwd / ceil_hh, 100.0 * f_loop_fwd / med_gemms * 1e-9 / ceil_hh,
         100.0 * gf_loop / ceil_hh);

  for (int p = 0; p < C_PARTS; p++) free(t[p]);
  free(t_step);
  free(t_net);
  free(t_loop);
  free(t_gemms);
  hn_free(zs);
  hn_optim_free(opt);
  hn_optim_free(opt_e);
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_tensor_release(&hs);
  hn_tensor_release(&dhs);
  hn_tensor_release(&logits);
  hn_tensor_release(&dlogits);
  hn_tensor_release(&logits2);
  hn_free(theta); hn_free(dtheta); hn_free(e); hn_free(de); hn_free(var);
  hn_free(W); hn_free(dW); hn_free(dW2); hn_free(dh0); hn_free(ws_r); hn_free(ws_l);
  hn_hnet_free(h);
  hn_net_free(net);
  return 0;
}
