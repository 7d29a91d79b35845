/* test_dist.c — engine/dist.h without mpirun: every call sees a group of one
 * (rank 0 of 1) in any build; the job queue hands out 0..n-1 then -1; bad
 * arguments are refused with the output untouched; the launcher's
 * environment is read; a build without MPI refuses a launch with several
 * ranks (./hnet too), naming the fix. MPI-only expectations are guarded
 * with hn_dist_built(): an MPI build started without mpirun is a group of
 * one as well. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void unset_launcher(void) {
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMIX_SIZE");
  unsetenv("PMI_SIZE");
  unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  unsetenv("MPI_LOCALNRANKS");
}

static void test_group_of_one(void **state) {
  (void)state;
  unset_launcher();
  assert_int_equal(hn_dist_init(), HN_OK);
  assert_int_equal(hn_dist_init(), HN_OK); /* idempotent */
  assert_int_equal(hn_dist_rank(), 0);
  assert_int_equal(hn_dist_size(), 1);
  assert_int_equal(hn_dist_local_size(), 1);
  assert_int_equal(hn_dist_launched_size(), 0);
  float x[5] = { 1.5f, -2.0f, 0.25f, 3.0f, 7.0f }, x0[5];
  memcpy(x0, x, sizeof x);
  assert_int_equal(hn_dist_allreduce_sum(x, 5), HN_OK);
  hnt_assert_bytes_equal(x, x0, sizeof x, "allreduce over one rank is the identity");
  assert_int_equal(hn_dist_allreduce_sum(x, 0), HN_OK);
  char buf[8] = "abcdefg";
  assert_int_equal(hn_dist_bcast(buf, sizeof buf, 0), HN_OK);
  assert_string_equal(buf, "abcdefg");
  int mine[3] = { 4, 5, 6 }, all[3] = { 0, 0, 0 };
  assert_int_equal(hn_dist_allgather(mine, sizeof mine, all), HN_OK);
  assert_memory_equal(mine, all, sizeof mine);
  assert_int_equal(hn_dist_barrier(), HN_OK);
  hn_dist_abort(3); /* returns in a group of one */
}

static void test_bad_arguments(void **state) {
  (void)state;
  float x[2] = { 1, 2 };
  assert_int_equal(hn_dist_allreduce_sum(x, -1), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "hn_dist_allreduce_sum"));
  assert_true(x[0] == 1 && x[1] == 2);
  char buf[4] = "abc";
  assert_int_equal(hn_dist_bcast(buf, 4, 1), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "rank 1 of 1"));
  assert_int_equal(hn_dist_bcast(buf, -2, 0), HN_ERR_ARG);
  assert_string_equal(buf, "abc");
  char all[4] = "xyz";
  assert_int_equal(hn_dist_allgather(buf, -1, all), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "hn_dist_allgather"));
  assert_string_equal(all, "xyz");
  assert_int_equal(hn_dist_queue_start(-1), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "-1 jobs"));
}

static void test_queue(void **state) {
  (void)state;
  int64_t job = 42;
  /* No queue open: refused, job untouched. */
  assert_int_equal(hn_dist_queue_next(&job), HN_ERR_STATE);
  assert_non_null(strstr(hn_errmsg(), "no queue is open"));
  assert_int_equal(job, 42);
  for (int64_t n = 0; n <= 4; n++) {
    assert_int_equal(hn_dist_queue_start(n), HN_OK);
    for (int64_t k = 0; k < n; k++) {
      assert_int_equal(hn_dist_queue_next(&job), HN_OK);
      assert_int_equal(job, k); /* in order, each once */
    }
    assert_int_equal(hn_dist_queue_next(&job), HN_OK);
    assert_int_equal(job, -1);
    assert_int_equal(hn_dist_queue_next(&job), HN_OK);
    assert_int_equal(job, -1); /* stays exhausted */
    assert_int_equal(hn_dist_queue_finish(), HN_OK);
  }
  assert_int_equal(hn_dist_queue_start(2), HN_OK);
  assert_int_equal(hn_dist_queue_start(2), HN_ERR_STATE); /* one queue at a time */
  assert_non_null(strstr(hn_errmsg(), "a queue is open"));
  assert_int_equal(hn_dist_queue_next(&job), HN_OK);
  assert_int_equal(job, 0); /* the refused start did not reset the open queue */
  assert_int_equal(hn_dist_queue_finish(), HN_OK);
  assert_int_equal(hn_dist_queue_finish(), HN_OK); /* idempotent */
  assert_int_equal(hn_dist_queue_next(&job), HN_ERR_STATE);
}

static void test_launcher_environment(void **state) {
  (void)state;
  unset_launcher();
  setenv("PMI_SIZE", "3", 1);
  assert_int_equal(hn_dist_launched_size(), 3);
  setenv("PMIX_SIZE", "5", 1);
  assert_int_equal(hn_dist_launched_size(), 5); /* PMIx before PMI */
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  assert_int_equal(hn_dist_launched_size(), 2); /* Open MPI's own first */
  setenv("OMPI_COMM_WORLD_SIZE", "2x", 1);
  assert_int_equal(hn_dist_launched_size(), 5); /* not a number: the next one */
  unset_launcher();
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
  assert_int_equal(hn_dist_local_size(), 4);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "-4", 1);
  assert_int_equal(hn_dist_local_size(), 1);
  unset_launcher();
}

/* A build without MPI started by mpirun with two ranks: hn_dist_init and
 * ./hnet refuse, saying how to rebuild (each rank would otherwise run the
 * whole job and write the same files). */
static void test_refuses_mpirun_without_mpi(void **state) {
  (void)state;
  if (hn_dist_built()) {
    print_message("MPI build: the refusal is for builds without MPI (tests/test_mpi_*.c cover mpirun)\n");
    return;
  }
  unset_launcher();
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  assert_int_equal(hn_dist_init(), HN_ERR_STATE);
  assert_non_null(strstr(hn_errmsg(), "make MPI=1"));
  assert_non_null(strstr(hn_errmsg(), "2 ranks"));
  setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
  assert_int_equal(hn_dist_init(), HN_OK); /* one rank: nothing to share */
  unset_launcher();
  const char *argv[] = { "./hnet", "-e", "print('ran')", NULL };
  const char *env[] = { "OMPI_COMM_WORLD_SIZE=2", NULL };
  const hnt_proc *r = hnt_spawn("/tmp", argv, env, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "make MPI=1", "./hnet under a 2-rank launch");
  hnt_expect_not_in(r->out, "ran", "./hnet ran the script under a 2-rank launch");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_of_one),         cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_queue),                cmocka_unit_test(test_launcher_environment),
      cmocka_unit_test(test_refuses_mpirun_without_mpi),
  };
  return cmocka_run_group_tests_name("dist", tests, NULL, NULL);
}
