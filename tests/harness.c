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
