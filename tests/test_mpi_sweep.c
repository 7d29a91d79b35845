/* test_mpi_sweep.c — sweeps over the ranks of an mpirun job (MPI builds
 * only: make check-mpi). tests/mpi/sweep.lua makes 6 runs of uneven length
 * (4 learners, 2 scenarios, Split MNIST subset) through
 * hnet.experiment.compare; tests/mpi/same_runs.lua compares two
 * experiments' run directories bit for bit (timings, memory and the
 * command line aside: see its header).
 *   - alone, at -np 2 and at -np 3: the same run directories and the same
 *     printed table (seconds aside), every run at --threads 1 (a run's
 *     figures are repeatable for a given thread count);
 *   - hnet.experiment.grid alone and at -np 2, and paper_tables.lua (nested
 *     experiments over seeds, hnet.sweep.batch) alone and at -np 3: the
 *     same run directories and tables;
 *   - one rank SIGKILLed mid-sweep ends the job; the same command with
 *     --resume finishes it (at -np 2, and a copy alone), resuming the
 *     interrupted run from its checkpoint, and the result equals the
 *     uninterrupted sweep;
 *   - a rank that cannot read the data, and ranks that made different lists
 *     of runs (another --learners, another --lambda on one rank), end the
 *     job with a message naming the problem, not a hang (under timeout). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp[256];
#define MPIRUN "mpirun", "--allow-run-as-root", "--oversubscribe"
/* The sweep's arguments: long enough runs that a kill lands mid-sweep. */
#define SWEEP_LOUD "./hnet", "--threads", "1", "tests/mpi/sweep.lua", "--iterations", "300", \
                   "--learners", "hypernet,finetune,ewc,separate"
#define SWEEP SWEEP_LOUD, "--quiet"

static int setup(void **state) {
  (void)state;
  snprintf(tmp, sizeof tmp, "/tmp/hnet-mpi-sweep-XXXXXX");
  return mkdtemp(tmp) ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  return hnt_remove_dir(tmp);
}

static const char *path(const char *name) {
  static char p[4][512];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
  return p[k];
}

/* The table lines ("| ..."), each without its last cell (seconds) when
 * drop_last. */
static void table_of(const char *out, char *table, size_t cap, int drop_last) {
  table[0] = '\0';
  for (const char *line = out; *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    if (n > 0 && line[0] == '|') {
      size_t keep = n;
      if (drop_last) { /* drop " seconds |" */
        keep = n - 1;
        while (keep > 0 && line[keep - 1] != '|') keep--;
      }
      strncat(table, line, keep < cap - strlen(table) - 2 ? keep : cap - strlen(table) - 2);
      strcat(table, "\n");
    }
    line = end ? end + 1 : line + n;
  }
}

static void expect_same_runs(const char *a, const char *b) {
  const char *argv[] = { "./hnet", "tests/mpi/same_runs.lua", a, b, NULL };
  const hnt_proc *r = hnt_spawn(tmp, argv, NULL, NULL);
  if (r->status != 0) fail_msg("%s and %s differ:\n%s%s", a, b, r->out, r->err);
  hnt_expect_in(r->out, "same: 6 runs", "same_runs.lua");
}

static char table1[8192];

/* The single-process sweep, once: the reference of the other tests. */
static void reference(void) {
  if (table1[0]) return;
  const char *argv[] = { SWEEP, "--out", path("np1"), NULL };
  const hnt_proc *r = hnt_spawn(tmp, argv, NULL, NULL);
  if (r->status != 0) fail_msg("the sweep alone failed (%d):\n%s", r->status, r->err);
  table_of(r->out, table1, sizeof table1, 1);
  hnt_expect_in(table1, "| hypernet | class |", "the single-process table");
}

static void test_ranks_give_the_same_runs(void **state) {
  (void)state;
  reference();
  const char *np[] = { "2", "3" };
  for (int k = 0; k < 2; k++) {
    char out[32], table[8192];
    snprintf(out, sizeof out, "np%s", np[k]);
    const char *argv[] = { "timeout", "300", MPIRUN, "-np", np[k], SWEEP, "--out", path(out), NULL };
    const hnt_proc *r = hnt_spawn(tmp, argv, NULL, NULL);
    if (r->status != 0) fail_msg("the sweep at -np %s failed (%d):\n%s", np[k], r->status, r->err);
    table_of(r->out, table, sizeof table, 1);
    assert_string_equal(table, table1);
    expect_same_runs(path("np1"), path(out));
  }
}

/* hnet.experiment.grid (4 points) alone and at -np 2: the same runs and
 * table, one row per point in the grid's order. */
static void test_grid(void **state) {
  (void)state;
  char t1[8192], t2[8192];
  const char *alone[] = { SWEEP, "--grid", "--out", path("grid1"), NULL };
  const hnt_proc *r = hnt_spawn(tmp, alone, NULL, NULL);
  if (r->status != 0) fail_msg("the grid alone failed (%d):\n%s", r->status, r->err);
  table_of(r->out, t1, sizeof t1, 1);
  hnt_expect_in(t1, "| ewc lambda=1,lr=0.001 | task-given |", "the grid's first row");
  hnt_expect_in(t1, "| ewc lambda=100,lr=0.01 | task-given |", "the grid's last row");
  const char *np2[] = { "timeout", "300", MPIRUN, "-np", "2", SWEEP, "--grid", "--out", path("grid2"), NULL };
  r = hnt_spawn(tmp, np2, NULL, NULL);
  if (r->status != 0) fail_msg("the grid at -np 2 failed (%d):\n%s", r->status, r->err);
  table_of(r->out, t2, sizeof t2, 1);
  assert_string_equal(t2, t1);
  const char *argv[] = { "./hnet", "tests/mpi/same_runs.lua", path("grid1"), path("grid2"), NULL };
  r = hnt_spawn(tmp, argv, NULL, NULL);
  if (r->status != 0) fail_msg("the grid alone and at -np 2 differ:\n%s%s", r->out, r->err);
  hnt_expect_in(r->out, "same: 4 runs", "same_runs.lua on the grid");
}

/* With --distributed every run trains over both ranks: compare then runs
 * them one after the other on every rank instead of handing them out (a
 * run handed to one rank would wait for the other forever: timeout). */
static void test_distributed_runs_in_turn(void **state) {
  (void)state;
  const char *argv[] = { "timeout", "120", MPIRUN, "-np", "2", "./hnet", "--threads", "1", "tests/mpi/sweep.lua",
                         "--quiet", "--iterations", "20", "--learners", "hypernet", "--distributed",
                         "--out", path("dist"), NULL };
  const hnt_proc *r = hnt_spawn(tmp, argv, NULL, NULL);
  if (r->status == 124) fail_msg("--distributed under compare hung");
  if (r->status != 0) fail_msg("--distributed under compare failed (%d):\n%s", r->status, r->err);
  hnt_expect_in(r->out, "| hypernet | class |", "--distributed's table");
  const char *ls[] = { "test", "-f", path("dist/hypernet-class/summary.json"), NULL };
  assert_int_equal(hnt_spawn(tmp, ls, NULL, NULL)->status, 0);
}

/* Two CSV files of the same cells, numbers equal to 1e-5 relative (floor
 * 1e-6), text equal. The toy experiment's curves are a forward pass of the
 * trained runs done again by whichever process writes the file: OpenBLAS's
 * SSE kernels (Prescott, what it picks for a CPU it does not know) round
 * depending on where the operands lie in memory, so that pass can differ in
 * the last bit between processes (seen: -1.442858 against -1.442857), while
 * the runs themselves are the same bit for bit (same_runs.lua above). */
static char *read_all(const char *file) {
  FILE *f = fopen(file, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, got;
  char *s = malloc(cap + 1);
  while (s && (got = fread(s + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) s = realloc(s, (cap *= 2) + 1);
  }
  fclose(f);
  if (s) s[n] = '\0';
  return s;
}

static void expect_same_csv(const char *a_path, const char *b_path) {
  char *a = read_all(a_path), *b = read_all(b_path);
  if (!a || !b) fail_msg("cannot read %s or %s", a_path, b_path);
  char *sa = NULL, *sb = NULL;
  int cell = 0;
  for (char *ta = strtok_r(a, ",\n", &sa), *tb = strtok_r(b, ",\n", &sb); ta || tb;
       ta = strtok_r(NULL, ",\n", &sa), tb = strtok_r(NULL, ",\n", &sb), cell++) {
    if (!ta || !tb) fail_msg("%s and %s: different cell counts (%d and more)", a_path, b_path, cell);
    char *ea, *eb;
    double x = strtod(ta, &ea), y = strtod(tb, &eb);
    bool numbers = ea != ta && *ea == '\0' && eb != tb && *eb == '\0';
    if (numbers ? !(fabs(x - y) <= 1e-5 * fmax(fabs(y), 0.1)) : strcmp(ta, tb) != 0)
      fail_msg("%s and %s: cell %d is %s against %s", a_path, b_path, cell, ta, tb);
  }
  free(a);
  free(b);
}

/* paper_tables.lua loops over seeds and runs nested experiments: under
 * mpirun all their runs go out at once (hnet.sweep.batch). Alone and at
 * -np 3: the same run directories, the same printed tables (seconds aside),
 * the same paper_tables.md and, to rounding, the nested experiments' curves
 * (rank 0 alone writes them). */
static void test_paper_tables_batch(void **state) {
  (void)state;
  const char *alone[] = { "./hnet", "--threads", "1", "experiments/paper_tables.lua", "--quick", "--quiet",
                          "--only", "toy", "--seeds", "2", "--out", path("pt1"), NULL };
  const hnt_proc *r = hnt_spawn(tmp, alone, NULL, NULL);
  if (r->status != 0) fail_msg("paper_tables alone failed (%d):\n%s", r->status, r->err);
  char t1[8192], t3[8192];
  table_of(r->out, t1, sizeof t1, 1);
  hnt_expect_in(t1, "| separate |", "paper_tables alone");
  const char *np3[] = { "timeout", "300", MPIRUN, "-np", "3", "./hnet", "--threads", "1", "experiments/paper_tables.lua",
                        "--quick", "--quiet", "--only", "toy", "--seeds", "2", "--out", path("pt3"), NULL };
  r = hnt_spawn(tmp, np3, NULL, NULL);
  if (r->status != 0) fail_msg("paper_tables at -np 3 failed (%d):\n%s", r->status, r->err);
  table_of(r->out, t3, sizeof t3, 1);
  assert_string_equal(t3, t1);
  const char *argv[] = { "./hnet", "tests/mpi/same_runs.lua", path("pt1"), path("pt3"), NULL };
  r = hnt_spawn(tmp, argv, NULL, NULL);
  if (r->status != 0) fail_msg("paper_tables alone and at -np 3 differ:\n%s%s", r->out, r->err);
  hnt_expect_in(r->out, "same: 8 runs", "same_runs.lua on paper_tables");
  expect_same_csv(path("pt1/toy_regression-seed2/curves.csv"), path("pt3/toy_regression-seed2/curves.csv"));
  const char *tables[] = { "cmp", path("pt1/paper_tables.md"), path("pt3/paper_tables.md"), NULL };
  assert_int_equal(hnt_spawn(tmp, tables, NULL, NULL)->status, 0);
}

/* Start the sweep at -np 2 (progress lines tagged with their rank) and
 * SIGKILL rank 1's process when it reports the end of task 2 of a run: the
 * run has a checkpoint after task 1 at least and is not finished, other runs
 * are finished or not started. mpirun then ends the job (rank 0 gets
 * SIGTERM, which checkpoints its run where it is). */
static const char kill_script[] =
    "D=$1; P=$2; shift 2\n"
    "\"$@\" --out \"$D\" --pids \"$P\" >\"$D.out\" 2>\"$D.err\" &\n"
    "M=$!; i=0; killed=no\n"
    "while [ $i -lt 6000 ] && kill -0 $M 2>/dev/null; do\n"
    "  if [ -f \"$P/rank1\" ] && grep -q '^\\[[0-9]*,1\\]<stdout>:after task 2/3' \"$D.out\"; then\n"
    "    kill -KILL $(cat \"$P/rank1\"); killed=yes; break\n"
    "  fi\n"
    "  i=$((i + 1)); sleep 0.01\n"
    "done\n"
    "wait $M; rc=$?\n"
    "echo \"killed=$killed rc=$rc\"\n";

static void test_killed_sweep_resumes(void **state) {
  (void)state;
  reference();
  const char *argv[] = { "timeout", "300", "sh", "-c", kill_script, "kill", path("killed"), path("pids"),
                         MPIRUN, "--tag-output", "-np", "2", SWEEP_LOUD, "--verbose", NULL };
  const hnt_proc *r = hnt_spawn(tmp, argv, NULL, NULL);
  hnt_expect_in(r->out, "killed=yes", "the kill mid-sweep");
  hnt_expect_not_in(r->out, "rc=0", "mpirun after a rank was killed");
  /* Something was left to do: a run without its summary. */
  const char *ls[] = { "sh", "-c", "for d in \"$1\"/*/; do [ -f \"$d/summary.json\" ] || echo unfinished; done", "ls",
                       path("killed"), NULL };
  hnt_expect_in(hnt_spawn(tmp, ls, NULL, NULL)->out, "unfinished", "the killed sweep's runs");
  /* A copy resumes in one process (no mpirun) to the same result too. */
  const char *copy[] = { "cp", "-r", path("killed"), path("killed1"), NULL };
  assert_int_equal(hnt_spawn(tmp, copy, NULL, NULL)->status, 0);
  const char *alone[] = { SWEEP, "--resume", path("killed1"), NULL };
  r = hnt_spawn(tmp, alone, NULL, NULL);
  if (r->status != 0) fail_msg("the killed sweep resumed alone failed (%d):\n%s", r->status, r->err);
  expect_same_runs(path("np1"), path("killed1"));
  const char *again[] = { "timeout", "300", MPIRUN, "-np", "2", SWEEP, "--resume", path("killed"), NULL };
  r = hnt_spawn(tmp, again, NULL, NULL);
  if (r->status != 0) fail_msg("the resumed sweep failed (%d):\n%s", r->status, r->err);
  char table[8192];
  table_of(r->out, table, sizeof table, 1);
  assert_string_equal(table, table1);
  expect_same_runs(path("np1"), path("killed"));
  /* At least one run continued from a checkpoint written before its end. */
  const char *grep[] = { "sh", "-c",
                         "for d in \"$1\"/*/; do grep -q 'resuming' \"$d/log.txt\" && ! grep -q 'already finished' "
                         "\"$d/log.txt\" && echo resumed-mid-run; done; true",
                         "grep", path("killed"), NULL };
  hnt_expect_in(hnt_spawn(tmp, grep, NULL, NULL)->out, "resumed-mid-run", "the resumed sweep's logs");
}

/* mpirun's MPMD form gives one rank other options or environment. */
static void expect_job_fails(const char *out, const char *env1, const char *extra1, const char *message) {
  const char *argv[] = { "timeout", "120", MPIRUN, "-np", "1", SWEEP, "--out", path(out), ":",
                         "-np", "1", "-x", env1, SWEEP, "--out", path(out), extra1 ? extra1 : NULL,
                         extra1 ? "1" : NULL, NULL };
  if (extra1 && strcmp(extra1, "--learners") == 0) argv[sizeof argv / sizeof *argv - 2] = "hypernet,finetune";
  const hnt_proc *r = hnt_spawn(tmp, argv, NULL, NULL);
  if (r->status == 124) fail_msg("%s: the job hung (killed by timeout)", out);
  assert_int_not_equal(r->status, 0);
  hnt_expect_in(r->err, message, out);
  hnt_expect_in(r->err, "hnet (rank ", out);
}

static void test_errors_end_the_job(void **state) {
  (void)state;
  expect_job_fails("nodata", "HNET_DATA=/nonexistent", NULL, "dataset 'mnist' not found in /nonexistent/mnist");
  expect_job_fails("learners", "HNET_TEST=1", "--learners", "the ranks disagree on the list of runs: rank 0 has 6 runs, rank 1 has 3");
  expect_job_fails("lambda", "HNET_TEST=1", "--lambda", "/lambda/ewc-task-given') has other settings on rank 1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranks_give_the_same_runs),
      cmocka_unit_test(test_grid),
      cmocka_unit_test(test_paper_tables_batch),
      cmocka_unit_test(test_distributed_runs_in_turn),
      cmocka_unit_test(test_killed_sweep_resumes),
      cmocka_unit_test(test_errors_end_the_job),
  };
  return cmocka_run_group_tests_name("mpi_sweep", tests, setup, teardown);
}
