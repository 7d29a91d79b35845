/* test_threads.c — the thread budget's subnormal mode: flushed or kept on
 * every OpenMP thread (those of the budget and those started later), its
 * names, and Adam's second moment under a vanishing gradient. */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_T 8

/* Per thread of a team of n: whether a float product with a subnormal
 * result came out 0 (flush to zero), whether a subnormal operand read as
 * 0 (denormals are zero), and the same for a double product. */
typedef struct {
  int seen;
  int ftz[MAX_T], daz[MAX_T], ftz_d[MAX_T];
} probe;

/* Operands the compiler cannot fold: the products run on each thread. */
static volatile float small_f = 1e-20f, scale_f = 0x1p100f;
static volatile double small_d = 1e-160;
static volatile uint32_t one_ulp = 1; /* the smallest positive subnormal float */

static probe probe_team(int n) {
  probe p;
  memset(&p, 0, sizeof p);
#pragma omp parallel num_threads(n)
  {
    int t = omp_get_thread_num();
    uint32_t bits = one_ulp;
    float tiny;
    memcpy(&tiny, &bits, sizeof tiny);
    volatile float prod = small_f * small_f;  /* 1e-40: subnormal */
    volatile float scaled = tiny * scale_f;   /* 2^-149 · 2^100: normal unless read as 0 */
    volatile double prod_d = small_d * small_d; /* 1e-320: subnormal */
    uint32_t pb, sb;
    uint64_t db;
    float pv = prod, sv = scaled;
    double dv = prod_d;
    memcpy(&pb, &pv, 4); /* compare bits: a compare would itself read subnormals as 0 */
    memcpy(&sb, &sv, 4);
    memcpy(&db, &dv, 8);
    p.ftz[t] = pb == 0;
    p.daz[t] = sb == 0;
    p.ftz_d[t] = db == 0;
#pragma omp atomic
    p.seen++;
  }
  return p;
}

static void expect_team(int n, bool flushed, const char *what) {
  probe p = probe_team(n);
  assert_int_equal(p.seen, n);
  for (int t = 0; t < n; t++) {
    if (p.ftz[t] != flushed || p.daz[t] != flushed || p.ftz_d[t] != flushed)
      fail_msg("%s: thread %d of %d: float product %s, subnormal operand %s, double product %s "
               "(expected all %s)", what, t, n, p.ftz[t] ? "flushed" : "kept",
               p.daz[t] ? "read as 0" : "read", p.ftz_d[t] ? "flushed" : "kept",
               flushed ? "flushed" : "kept");
  }
}

static void test_modes_on_every_thread(void **state) {
  (void)state;
  int saved = hn_threads_get();
  /* Flush is the default, unless HNET_SUBNORMALS says keep. */
  const char *env = getenv("HNET_SUBNORMALS");
  bool keep_env = env && !strcmp(env, "keep");
  assert_int_equal(hn_threads_set(2), HN_OK);
  assert_int_equal(hn_threads_subnormals(), keep_env ? HN_SUBNORMALS_KEEP : HN_SUBNORMALS_FLUSH);
  expect_team(2, !keep_env, "default");
  assert_int_equal(hn_threads_set_subnormals(HN_SUBNORMALS_KEEP), HN_OK);
  assert_int_equal(hn_threads_subnormals(), HN_SUBNORMALS_KEEP);
  expect_team(2, false, "keep");
  /* A larger budget: threads the runtime starts now get the mode too. */
  assert_int_equal(hn_threads_set(MAX_T), HN_OK);
  expect_team(MAX_T, false, "keep, 8 threads");
  assert_int_equal(hn_threads_set_subnormals(HN_SUBNORMALS_FLUSH), HN_OK);
  expect_team(MAX_T, true, "flush, 8 threads");
  /* Back to one thread and up again: the mode holds on all of them. */
  assert_int_equal(hn_threads_set(1), HN_OK);
  expect_team(1, true, "flush, 1 thread");
  assert_int_equal(hn_threads_set(3), HN_OK);
  expect_team(3, true, "flush, 3 threads");
  assert_int_equal(hn_threads_set(saved), HN_OK);
}

static void test_names_and_errors(void **state) {
  (void)state;
  hn_subnormals m = HN_SUBNORMALS_KEEP;
  assert_int_equal(hn_threads_subnormals_parse("t", "flush", &m), HN_OK);
  assert_int_equal(m, HN_SUBNORMALS_FLUSH);
  assert_int_equal(hn_threads_subnormals_parse("t", "keep", &m), HN_OK);
  assert_int_equal(m, HN_SUBNORMALS_KEEP);
  assert_string_equal(hn_threads_subnormals_name(HN_SUBNORMALS_FLUSH), "flush");
  assert_string_equal(hn_threads_subnormals_name(HN_SUBNORMALS_KEEP), "keep");
  m = HN_SUBNORMALS_KEEP;
  assert_int_equal(hn_threads_subnormals_parse("HNET_SUBNORMALS", "fast", &m), HN_ERR_ARG);
  assert_int_equal(m, HN_SUBNORMALS_KEEP); /* untouched */
  hnt_expect_in(hn_errmsg(), "HNET_SUBNORMALS: subnormal mode 'fast'; use 'flush'", "bad name");
  assert_int_equal(hn_threads_subnormals_parse("t", NULL, &m), HN_ERR_ARG);
  hn_subnormals before = hn_threads_subnormals();
  assert_int_equal(hn_threads_set_subnormals((hn_subnormals)7), HN_ERR_ARG);
  hnt_expect_in(hn_errmsg(), "mode 7", "bad mode");
  assert_int_equal(hn_threads_subnormals(), before);
}

/* Adam's second moment under a gradient of 1e-20 (a task learned to zero
 * loss): (1 − β2)·g² = 1e-43 is subnormal. Flushed, v stays 0 on both
 * threads' blocks; kept, it holds that subnormal; the parameters move by
 * the same bits either way (eps dominates √v). */
static void test_adam_vanishing_gradient(void **state) {
  (void)state;
  int saved = hn_threads_get();
  hn_subnormals saved_mode = hn_threads_subnormals();
  enum { N = 1 << 16 };
  hn_optim_cfg cfg = hn_optim_defaults(HN_OPTIM_ADAM);
  float *p[2], *g = hn_alloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) g[i] = (i % 2 ? 1e-20f : -1e-20f);
  assert_int_equal(hn_threads_set(2), HN_OK);
  for (int mode = 0; mode < 2; mode++) {
    assert_int_equal(hn_threads_set_subnormals(mode ? HN_SUBNORMALS_KEEP : HN_SUBNORMALS_FLUSH), HN_OK);
    hn_optim *o;
    assert_int_equal(hn_optim_new(&o, N, &cfg), HN_OK);
    p[mode] = hn_alloc(sizeof(float) * N);
    hnt_fill_uniform(p[mode], N, -1, 1, 5);
    assert_int_equal(hn_optim_step(o, p[mode], g), HN_OK);
    int64_t n_state;
    float *st = hn_optim_state(o, &n_state);
    assert_int_equal(n_state, 2 * N);
    const float *v = st + N;
    int64_t zeros = 0, subnormal = 0;
    for (int64_t i = 0; i < N; i++) {
      zeros += v[i] == 0.0f;
      subnormal += v[i] != 0.0f && fabsf(v[i]) < FLT_MIN;
    }
    if (mode == 0) assert_int_equal(zeros, N);
    else assert_int_equal(subnormal, N);
    hn_optim_free(o);
  }
  hnt_assert_bytes_equal(p[0], p[1], sizeof(float) * N, "parameters, flushed vs kept");
  assert_int_equal(hn_threads_set_subnormals(saved_mode), HN_OK);
  assert_int_equal(hn_threads_set(saved), HN_OK);
  hn_free(p[0]);
  hn_free(p[1]);
  hn_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modes_on_every_thread),
      cmocka_unit_test(test_names_and_errors),
      cmocka_unit_test(test_adam_vanishing_gradient),
  };
  return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
