/* test_tensor.c — tensors, views, shapes, RNG and the allocation counter. */
#include "harness.h"

#include <math.h>
#include <string.h>

static void test_init_and_release(void **state) {
  (void)state;
  hn_tensor t;
  assert_int_equal(hn_tensor_init(&t, 2, (int64_t[]){3, 5}), HN_OK);
  assert_int_equal(t.numel, 15);
  assert_true(t.owns);
  assert_true(((uintptr_t)t.data % 64) == 0);
  for (int i = 0; i < 15; i++) assert_true(t.data[i] == 0.0f);
  hn_tensor_release(&t);
  assert_null(t.data);
  hn_tensor_release(&t); /* idempotent */
  hn_tensor_release(NULL);
}

static void test_bad_shapes(void **state) {
  (void)state;
  hn_tensor t;
  memset(&t, 0xAB, sizeof t);
  hn_tensor before = t;
  assert_int_equal(hn_tensor_init(&t, 2, (int64_t[]){3, -1}), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "hn_tensor_init"));
  assert_non_null(strstr(hn_errmsg(), "[3, -1]"));
  assert_memory_equal(&t, &before, sizeof t); /* untouched */
  assert_int_equal(hn_tensor_init(&t, 5, (int64_t[]){1, 1, 1, 1, 1}), HN_ERR_SHAPE);
  assert_int_equal(hn_tensor_init(&t, 0, (int64_t[]){1}), HN_ERR_SHAPE);
}

static void test_views_and_reshape(void **state) {
  (void)state;
  hn_tensor t, v;
  assert_int_equal(hn_tensor_init(&t, 3, (int64_t[]){4, 2, 3}), HN_OK);
  for (int i = 0; i < 24; i++) t.data[i] = (float)i;
  assert_int_equal(hn_tensor_view_rows(&v, &t, 1, 2), HN_OK);
  assert_false(v.owns);
  assert_int_equal(v.numel, 12);
  assert_true(v.data[0] == 6.0f);
  assert_int_equal(hn_tensor_view_rows(&v, &t, 3, 2), HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "[4, 2, 3]"));
  assert_int_equal(hn_tensor_reshape(&t, 2, (int64_t[]){4, 6}), HN_OK);
  assert_int_equal(hn_tensor_reshape(&t, 2, (int64_t[]){5, 6}), HN_ERR_SHAPE);
  assert_int_equal(t.shape[1], 6);
  hn_tensor_release(&t);
}

static void test_copy_checks_size(void **state) {
  (void)state;
  hn_tensor a, b;
  assert_int_equal(hn_tensor_init(&a, 1, (int64_t[]){6}), HN_OK);
  assert_int_equal(hn_tensor_init(&b, 2, (int64_t[]){2, 3}), HN_OK);
  hn_tensor_fill(&a, 2.5f);
  assert_int_equal(hn_tensor_copy(&b, &a), HN_OK);
  assert_true(b.data[5] == 2.5f);
  hn_tensor_release(&a);
  assert_int_equal(hn_tensor_init(&a, 1, (int64_t[]){7}), HN_OK);
  hn_tensor_fill(&a, 9.0f);
  assert_int_equal(hn_tensor_copy(&b, &a), HN_ERR_SHAPE);
  assert_true(b.data[0] == 2.5f);
  hn_tensor_release(&a);
  hn_tensor_release(&b);
}

static void test_alloc_failure_injection(void **state) {
  (void)state;
  hn_tensor t;
  hn_mem_fail_after(0);
  assert_int_equal(hn_tensor_init(&t, 1, (int64_t[]){10}), HN_ERR_NOMEM);
  assert_non_null(strstr(hn_errmsg(), "cannot allocate"));
  hn_mem_fail_after(-1);
  int64_t before = hn_alloc_count();
  assert_int_equal(hn_tensor_init(&t, 1, (int64_t[]){10}), HN_OK);
  assert_int_equal(hn_alloc_count(), before + 1);
  hn_tensor_release(&t);
}

static void test_rng_repeatable_and_distributed(void **state) {
  (void)state;
  hn_rng a, b, c;
  hn_rng_init(&a, 42, 0);
  hn_rng_init(&b, 42, 0);
  hn_rng_init(&c, 42, 1);
  int same_c = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t x = hn_rng_next(&a);
    assert_true(x == hn_rng_next(&b));
    same_c += x == hn_rng_next(&c);
  }
  assert_true(same_c == 0); /* streams differ */
  double s = 0, s2 = 0;
  int n = 200000;
  for (int i = 0; i < n; i++) {
    double z = hn_rng_normal(&a);
    s += z;
    s2 += z * z;
  }
  assert_true(fabs(s / n) < 0.01);
  assert_true(fabs(s2 / n - 1.0) < 0.02);
  int64_t perm[50], seen[50] = {0};
  hn_rng_permutation(&a, perm, 50);
  for (int i = 0; i < 50; i++) seen[perm[i]]++;
  for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
  int counts[3] = {0};
  for (int i = 0; i < 30000; i++) counts[hn_rng_below(&a, 3)]++;
  for (int i = 0; i < 3; i++) assert_true(counts[i] > 9500 && counts[i] < 10500);
}

static void test_gemm_matches_naive(void **state) {
  (void)state;
  enum { M = 7, N = 5, K = 9 };
  float a[M * K], b[K * N], c[M * N], bt[N * K];
  double ref[M * N];
  hnt_fill_uniform(a, M * K, -1, 1, 1);
  hnt_fill_uniform(b, K * N, -1, 1, 2);
  for (int i = 0; i < K; i++)
    for (int j = 0; j < N; j++) bt[j * K + i] = b[i * N + j];
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)a[i * K + k] * (double)b[k * N + j];
      ref[i * N + j] = s;
    }
  assert_int_equal(hn_blas_gemm("test", false, false, M, N, K, 1.0f, a, b, 0.0f, c), HN_OK);
  hnt_assert_close_d(c, ref, M * N, 1e-5, 1e-6, "gemm nn");
  assert_int_equal(hn_blas_gemm("test", false, true, M, N, K, 1.0f, a, bt, 0.0f, c), HN_OK);
  hnt_assert_close_d(c, ref, M * N, 1e-5, 1e-6, "gemm nt");
  assert_int_equal(hn_blas_gemm("mycaller", false, false, -1, N, K, 1.0f, a, b, 0.0f, c),
                   HN_ERR_SHAPE);
  assert_non_null(strstr(hn_errmsg(), "mycaller"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_and_release),
      cmocka_unit_test(test_bad_shapes),
      cmocka_unit_test(test_views_and_reshape),
      cmocka_unit_test(test_copy_checks_size),
      cmocka_unit_test(test_alloc_failure_injection),
      cmocka_unit_test(test_rng_repeatable_and_distributed),
      cmocka_unit_test(test_gemm_matches_naive),
  };
  return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
