/* harness.c — see harness.h. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void hnt_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed) {
  hn_rng r;
  hn_rng_init(&r, seed, 7);
  hn_rng_fill_uniform(&r, x, n, lo, hi);
}

void hnt_fill_normal(float *x, int64_t n, float std, uint64_t seed) {
  hn_rng r;
  hn_rng_init(&r, seed, 11);
  hn_rng_fill_normal(&r, x, n, 0.0f, std);
}

void hnt_away_from_zero(float *x, int64_t n, float margin) {
  for (int64_t i = 0; i < n; i++)
    if (fabsf(x[i]) < margin) x[i] = x[i] < 0 ? -margin : margin;
}

void hnt_assert_close(const float *a, const float *b, int64_t n, double rtol, double atol,
                      const char *what) {
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= atol + rtol * fabs((double)b[i])))
      fail_msg("%s: first mismatch at index %lld: got %.9g, expected %.9g (|diff| %.3g)", what,
               (long long)i, (double)a[i], (double)b[i], d);
  }
}

void hnt_assert_close_d(const float *a, const double *ref, int64_t n, double rtol, double atol,
                        const char *what) {
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - ref[i]);
    if (!(d <= atol + rtol * fabs(ref[i])))
      fail_msg("%s: first mismatch at index %lld: got %.9g, expected %.9g (|diff| %.3g)", what,
               (long long)i, (double)a[i], ref[i], d);
  }
}

double hnt_gradcheck(const char *what, hnt_scalar_fn fn, void *ctx, float *v, const float *grad,
                     int64_t n, float eps, int max_coords, double floor, double tol) {
  hn_rng r;
  hn_rng_init(&r, 12345, 3);
  int64_t n_check = n <= max_coords ? n : max_coords;
  double worst = 0.0;
  int64_t worst_i = -1;
  double worst_a = 0, worst_n = 0;
  for (int64_t c = 0; c < n_check; c++) {
    int64_t i = n <= max_coords ? c : hn_rng_below(&r, n);
    float saved = v[i];
    v[i] = saved + eps;
    double lp = fn(ctx);
    v[i] = saved - eps;
    double lm = fn(ctx);
    v[i] = saved; /* exact restore */
    double num = (lp - lm) / (2.0 * (double)eps);
    double ana = grad[i];
    double denom = fabs(ana) + fabs(num);
    if (denom < floor) denom = floor;
    double err = fabs(ana - num) / denom;
    if (err > worst || worst_i < 0) {
      worst = err;
      worst_i = i;
      worst_a = ana;
      worst_n = num;
    }
  }
  if (worst > tol)
    fail_msg("%s: gradient check failed: worst relative error %.3g > %.3g at coordinate %lld "
             "(analytic %.6g, numeric %.6g)",
             what, worst, tol, (long long)worst_i, worst_a, worst_n);
  return worst;
}

double hnt_probe(const float *r, const float *y, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += (double)r[i] * (double)y[i];
  return s;
}

int hnt_remove_dir(const char *dir) {
  char cmd[4200];
  if (!dir || !*dir || strlen(dir) > 4000 || strchr(dir, '\'')) return -1;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

void hnt_assert_bytes_equal(const void *a, const void *b, size_t n, const char *what) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) fail_msg("%s: bytes differ first at offset %zu", what, i);
}

static void slurp(int fd, char *buf, size_t n) {
  lseek(fd, 0, SEEK_SET);
  ssize_t got = read(fd, buf, n - 1);
  buf[got > 0 ? got : 0] = '\0';
  close(fd);
}

hnt_proc *hnt_spawn(const char *dir, const char *const *argv, const char *const *env, const char *input) {
  static hnt_proc r;
  memset(&r, 0, sizeof r);
  char po[256], pe[256], pi[256];
  snprintf(po, sizeof po, "%s/out.XXXXXX", dir);
  snprintf(pe, sizeof pe, "%s/err.XXXXXX", dir);
  snprintf(pi, sizeof pi, "%s/in.XXXXXX", dir);
  int fo = mkstemp(po), fe = mkstemp(pe), fi = mkstemp(pi);
  assert_true(fo >= 0 && fe >= 0 && fi >= 0);
  unlink(po);
  unlink(pe);
  unlink(pi);
  if (input) assert_int_equal(write(fi, input, strlen(input)), (ssize_t)strlen(input));
  lseek(fi, 0, SEEK_SET);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fi, 0);
    dup2(fo, 1);
    dup2(fe, 2);
    for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "exec %s failed\n", argv[0]);
    _exit(127);
  }
  int ws = 0;
  assert_true(waitpid(pid, &ws, 0) == pid);
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  slurp(fo, r.out, sizeof r.out);
  slurp(fe, r.err, sizeof r.err);
  close(fi);
  return &r;
}

void hnt_expect_in(const char *haystack, const char *needle, const char *what) {
  if (!strstr(haystack, needle)) {
    print_error("%s: expected to find \"%s\" in:\n%s\n", what, needle, haystack);
    fail();
  }
}

void hnt_expect_not_in(const char *haystack, const char *needle, const char *what) {
  if (strstr(haystack, needle)) {
    print_error("%s: did not expect \"%s\" in:\n%s\n", what, needle, haystack);
    fail();
  }
}

void hnt_write_file(const char *dir, const char *name, const char *text) {
  char mk[400], path[400];
  snprintf(mk, sizeof mk, "mkdir -p '%s'", dir);
  assert_int_equal(system(mk), 0);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* ---- naive hypernetwork reference (test_hnet, test_hnet_reg) ------------------- */

static const hn_layout_entry *layout_entry(const hn_hnet *h, const char *name) {
  const hn_layout_entry *e = hn_layout_find(hn_hnet_layout(h), name);
  if (!e) fail_msg("layout has no slice '%s'", name);
  return e;
}

double hnt_act_ref(hn_act_kind k, double alpha, double z) {
  switch (k) {
    case HN_ACT_RELU: return z > 0 ? z : 0;
    case HN_ACT_TANH: return tanh(z);
    case HN_ACT_SIGMOID: return 1 / (1 + exp(-z));
    case HN_ACT_ELU: return z > 0 ? z : alpha * expm1(z);
    case HN_ACT_IDENTITY: return z;
  }
  return z;
}

/* W [n_tasks, n_out] = h(e_t) computed one (task, chunk) row at a time:
 * x = [e_t, c_i], through every layer, coordinates i*chunk + j < n_out kept. */
void hnt_hnet_ref_forward(const hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                        double *W) {
  const hn_hnet_cfg *c = hn_hnet_config(h);
  int64_t nc = hn_hnet_n_chunks(h), chunk = c->chunk > 0 ? c->chunk : c->n_out;
  int64_t nce = c->chunk > 0 ? c->n_chunk_emb : 0;
  int L = c->n_hidden + 1;
  int64_t maxw = c->n_emb + nce;
  for (int l = 0; l < c->n_hidden; l++) maxw = HN_MAX(maxw, c->hidden[l]);
  maxw = HN_MAX(maxw, chunk);
  double *x = malloc(sizeof(double) * (size_t)maxw), *y = malloc(sizeof(double) * (size_t)maxw);
  for (int64_t t = 0; t < n_tasks; t++)
    for (int64_t i = 0; i < nc; i++) {
      int64_t n_in = c->n_emb + nce;
      for (int64_t k = 0; k < c->n_emb; k++) x[k] = e[t * c->n_emb + k];
      for (int64_t k = 0; k < nce; k++)
        x[c->n_emb + k] = theta[layout_entry(h, "chunk_emb")->offset + i * nce + k];
      for (int l = 0; l < L; l++) {
        char nw[32], nb[32];
        snprintf(nw, sizeof nw, "l%d.weight", l);
        snprintf(nb, sizeof nb, "l%d.bias", l);
        const hn_layout_entry *ew = layout_entry(h, nw), *eb = layout_entry(h, nb);
        int64_t n_o = ew->shape[0];
        assert_int_equal(ew->shape[1], n_in);
        for (int64_t o = 0; o < n_o; o++) {
          double s = theta[eb->offset + o];
          for (int64_t k = 0; k < n_in; k++) s += (double)theta[ew->offset + o * n_in + k] * x[k];
          y[o] = l < L - 1 ? hnt_act_ref(c->act, (double)c->act_alpha, s) : s;
        }
        memcpy(x, y, sizeof(double) * (size_t)n_o);
        n_in = n_o;
      }
      for (int64_t j = 0; j < chunk && i * chunk + j < c->n_out; j++)
        W[t * c->n_out + i * chunk + j] = x[j];
    }
  free(x);
  free(y);
}
