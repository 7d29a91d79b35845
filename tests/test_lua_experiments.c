/* test_lua_experiments.c — smoke runs of every experiment's --quick form, in
 * the embedded interpreter exactly as ./hnet would run them, asserting that
 * each learner does better than chance (and that the hypernetwork does
 * clearly better). Needs the data of `make data` (make test fetches it;
 * the language stream needs the word lists that make data installs). */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char outdir[256];

static int setup(void **state) {
  (void)state;
  snprintf(outdir, sizeof outdir, "/tmp/hnet-exp-XXXXXX");
  if (!mkdtemp(outdir)) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return hnt_remove_dir(outdir);
}

/* Run experiments/<name>.lua with --quick --quiet --out <tmp>/<name> plus
 * `extra` (a Lua list body, e.g. "'--tasks', '2'") and then `check`, a chunk
 * that sees the experiment's result as the global `result`. */
static void run_experiment(const char *name, const char *extra, const char *check) {
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  char chunk[4096], msg[4096];
  snprintf(chunk, sizeof chunk,
           "arg = { [0] = 'experiments/%s.lua', '--quick', '--quiet', '--force', "
           "'--out', '%s/%s', %s }\n"
           "result = dofile(arg[0])\n",
           name, outdir, name, extra ? extra : "");
  int st = hntl_run(L, chunk, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("experiments/%s.lua --quick failed: %s", name, msg);
  st = hntl_run(L, check, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("experiments/%s.lua --quick: %s", name, msg);
  lua_close(L);
}

/* Each row's ACC must beat chance for its scenario: 100/k for task-given and
 * domain (k classes per task), 100/(T k) for class-incremental. The bounds
 * must hold on any CPU: other BLAS kernels and libm round differently and
 * the quick runs amplify that about as much as another seed does, so every
 * bound below sits well under the lowest figure measured over seeds 1-4 and
 * under the Haswell, Zen, Sandybridge, Nehalem and Prescott kernels (the
 * lowest ACC above chance of any row: fine-tuning class-incremental, about
 * 2x chance, which is what forgetting all but the last task leaves). */
static const char check_rows[] =
    "local k, T, hnet_min = ...\n"
    "return function(rows)\n"
    "  assert(#rows > 0, 'no results')\n"
    "  for _, r in ipairs(rows) do\n"
    "    local chance = r.scenario == 'class' and 100 / (T * k) or 100 / k\n"
    "    assert(r.acc > chance, ('%s/%s: ACC %.2f is not above chance %.2f')\n"
    "      :format(r.learner, r.scenario, r.acc, chance))\n"
    "    if r.learner == 'hypernet' and r.scenario == 'task-given' then\n"
    "      assert(r.acc > hnet_min, ('hypernet/task-given: ACC %.2f <= %.2f'):format(r.acc, hnet_min))\n"
    "    end\n"
    "  end\n"
    "end\n";

static void check_with(const char *name, const char *extra, int k, int T, double hnet_min) {
  char check[2048];
  snprintf(check, sizeof check,
           "local f = load([[%s]])(%d, %d, %g)\nf(result)\n", check_rows, k, T, hnet_min);
  run_experiment(name, extra, check);
}

/* Measured R[2][1] = 100, R[2][2] = 96.5-97.1 (five kernels; seeds 1-3). */
static void test_quickstart(void **state) {
  (void)state;
  run_experiment("quickstart", NULL,
                 "assert(result.R[2][1] > 90 and result.R[2][2] > 80, ('quickstart accuracies %.2f, %.2f')"
                 ":format(result.R[2][1], result.R[2][2]))");
}

/* Measured ACC 96.9-97.2 (five kernels). */
static void test_custom_task(void **state) {
  (void)state;
  run_experiment("custom_task", NULL,
                 "assert(result.summary.acc > 75, 'custom task ACC ' .. result.summary.acc)\n"
                 "assert(#result.R == 4)");
}

/* The example script of docs/experiments.md (a new task, stream and
 * learner in one file) runs as printed there: a manual whose example has
 * rotted fails here. Binary tasks (chance 50%); measured ACC 91. */
static void test_docs_example(void **state) {
  (void)state;
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  char chunk[2048], msg[4096];
  snprintf(chunk, sizeof chunk,
           "local md = assert(io.open('docs/experiments.md')):read('a')\n"
           "local code = assert(md:match('```lua\\n(.-)\\n```'), 'no lua block in docs/experiments.md')\n"
           "local path = '%s/xor_tasks.lua'\n"
           "local f = assert(io.open(path, 'w')); f:write(code, '\\n'); f:close()\n"
           "arg = { [0] = path, '--quick', '--quiet', '--force', '--out', '%s/xor_tasks' }\n"
           "local run = dofile(path)\n"
           "assert(run.summary.acc > 65, 'docs/experiments.md example: ACC ' .. run.summary.acc)\n",
           outdir, outdir);
  int st = hntl_run(L, chunk, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("docs/experiments.md's example failed: %s", msg);
  lua_close(L);
}

static void test_toy_regression(void **state) {
  (void)state;
  /* Chance for regression: predicting zero. The hypernetwork must keep task 1
   * (learned first) far better than fine-tuning, which forgets it (measured:
   * 0.0008 vs 18.7, under five kernels). */
  run_experiment("toy_regression", NULL,
                 "local by = {}\n"
                 "for _, r in ipairs(result) do by[r.learner] = r end\n"
                 "assert(by.hypernet.final[1] < 0.05, 'hypernet task-1 MSE ' .. by.hypernet.final[1])\n"
                 "assert(by.finetune.final[1] > 10 * by.hypernet.final[1], 'fine-tuning did not forget')\n"
                 "assert(io.open(arg[5] .. '/curves.csv')):close()");
}

/* The learners of the published comparison before the replay learners
 * joined the experiments' defaults; those run apart, in the class
 * scenario only (their other rows cost a run each and add no check). */
#define BASE_LEARNERS "'--learners', 'hypernet,finetune,ewc,online_ewc,si,separate,joint'"

static void test_split_mnist(void **state) {
  (void)state;
  /* hypernet task-given ACC: 93.2-93.4 under five kernels, 91.3-98.8 over
   * seeds 1-4 (the quick form forgets up to 10 points): bound 80. */
  check_with("split_mnist", BASE_LEARNERS, 2, 5, 80);
  /* HNET+TIR and HNET+R class-incremental (chance 10%): over seeds 1-3
   * hnet_tir 45.3-55.0 (task inference 45.9-55.3, chance 20), hnet_r
   * 44.6-49.0, where fine-tuning keeps 19.3-19.5 and the hypernetwork's
   * entropy inference 32.0 (seed 1). Bounds 30 and 35: well under the lowest
   * figures, well over what forgetting all but the last task leaves. */
  char replay[512];
  snprintf(replay, sizeof replay,
           "'--learners', 'hnet_tir,hnet_r', '--scenarios', 'class', '--out', '%s/split_mnist_replay'", outdir);
  run_experiment("split_mnist", replay,
                 "assert(#result == 2, 'two rows')\n"
                 "for _, r in ipairs(result) do\n"
                 "  assert(r.scenario == 'class' and r.acc > 30, ('%s/class: ACC %.2f <= 30'):format(r.learner, r.acc))\n"
                 "  assert(r.acc_during > r.acc, r.learner .. ': during not above final')\n"
                 "end\n"
                 "assert(result[1].learner == 'hnet_tir' and result[1].task_inference > 35,\n"
                 "       'hnet_tir task inference ' .. tostring(result[1].task_inference))");
  /* --train_fraction: every task trains on its subsample (named in the run
   * directory), and separate networks still learn each pair of digits. */
  char extra[512];
  snprintf(extra, sizeof extra,
           "'--train_fraction', '0.25', '--learners', 'separate', '--scenarios', 'task-given', "
           "'--out', '%s/split_mnist_quarter'", outdir);
  run_experiment("split_mnist", extra,
                 "assert(#result == 1 and result[1].acc > 90, 'separate/task-given on a quarter of the data')\n"
                 "local f = assert(io.open(arg[#arg] .. '/separate-task-given/options.json'))\n"
                 "local o = require('cjson').decode(f:read('a')) f:close()\n"
                 "assert(o.stream == 'split-mnist-train0.25', 'stream ' .. tostring(o.stream))\n"
                 "assert(#o.task_names == 5, 'five tasks')\n"
                 "for _, n in ipairs(o.task_names) do\n"
                 "  assert(n:find('/sub%-0%.25$'), 'task ' .. n .. ' is not subsampled')\n"
                 "end");
}

static void test_split_fashion(void **state) {
  (void)state;
  /* hypernet task-given ACC: 95.1-95.2 under five kernels, 87.4-98.4 over seeds 1-4 */
  check_with("split_fashion", "'--learners', 'hypernet,finetune,si,joint'", 2, 5, 70);
}

static void test_permuted_fashion(void **state) {
  (void)state;
  /* hypernet task-given ACC: 71.5-71.8 under five kernels, 69.7-72.0 over seeds 1-4 */
  check_with("permuted_fashion", "'--tasks', '2', " BASE_LEARNERS, 10, 2, 50);
  /* HNET+TIR with the PermutedMNIST preset (8.5M parameters) runs and
   * infers tasks above chance: 10 iterations per phase on two tasks keep it
   * to seconds. Over seeds 1-3: ACC 37.0-43.2 (chance 5), task inference
   * 69.2-82.2 (chance 50): bounds 20 and 55. */
  char tir[512];
  snprintf(tir, sizeof tir,
           "'--tasks', '2', '--iterations', '10', '--learners', 'hnet_tir', '--scenarios', 'class', "
           "'--out', '%s/permuted_tir'", outdir);
  run_experiment("permuted_fashion", tir,
                 "local r = result[1]\n"
                 "assert(#result == 1 and r.learner == 'hnet_tir', 'one hnet_tir row')\n"
                 "assert(r.acc > 20, ('hnet_tir/class: ACC %.2f <= 20'):format(r.acc))\n"
                 "assert(r.task_inference > 55, 'hnet_tir task inference ' .. tostring(r.task_inference))");
}

/* Bits tasks, chance 50% per bit. hypernet task-given ACC over seeds 1-4
 * (gradient-norm clipping at 1, the script's default): 98.2, 96.6, 98.9,
 * 94.1; the lowest row of any learner: fine-tuning's 73.7 (seed 1; the
 * baselines are multi-head): bounds 50 (chance) and 85. */
static void test_copy_task(void **state) {
  (void)state;
  check_with("copy_task", NULL, 2, 3, 85);
}

/* Three of the learners (the run is an LSTM over 28 rows, slow for a smoke
 * test): hypernet task-given ACC 94.5, 96.3, 97.0 over seeds 1-3 (class
 * 31.6-39.7, chance 10; separate class 38.3-47.1): bound 80. */
static void test_seq_mnist(void **state) {
  (void)state;
  check_with("seq_mnist", "'--learners', 'hypernet,separate'", 2, 5, 80);
}

/* Two language pairs (chance 50% task-given, 25% class): hypernet
 * task-given ACC 85.0, 84.8, 84.8 over seeds 1-3, class 55.7-63.5; the
 * lowest row of any learner: fine-tuning class 47.0: bound 70. */
static void test_languages(void **state) {
  (void)state;
  check_with("languages", "'--learners', 'hypernet,finetune,separate'", 2, 2, 70);
}

static void test_paper_tables(void **state) {
  (void)state;
  run_experiment("paper_tables", "'--only', 'toy'",
                 "assert(result.toy and #result.toy == 4, 'toy section missing')\n"
                 "local f = assert(io.open(arg[5] .. '/paper_tables.md'))\n"
                 "local md = f:read('a') f:close()\n"
                 "assert(md:find('| hypernet |', 1, true), 'no hypernet row in the Markdown')");
}

/* Every kind of plot the project writes (a heatmap of an accuracy matrix
 * with rows of different lengths, the two plots of a classification and of a
 * regression run, lines over real x): the script gnuplot is given holds the
 * full grid with NaN for missing cells, integer ticks on task axes, a padded
 * y range (tests/plot_checks.lua); with gnuplot installed each one renders
 * to a PNG. */
static void test_plots(void **state) {
  (void)state;
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  char chunk[512], msg[4096];
  snprintf(chunk, sizeof chunk,
           "plot_note = dofile('tests/plot_checks.lua')('%s')", outdir);
  int st = hntl_run(L, chunk, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("plots: %s", msg);
  char note[256];
  if (hntl_string(L, "plot_note", note, sizeof note)) printf("# plots: %s\n", note);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quickstart),      cmocka_unit_test(test_custom_task),
      cmocka_unit_test(test_docs_example),
      cmocka_unit_test(test_toy_regression),  cmocka_unit_test(test_split_mnist),
      cmocka_unit_test(test_split_fashion),   cmocka_unit_test(test_permuted_fashion),
      cmocka_unit_test(test_copy_task),       cmocka_unit_test(test_seq_mnist),
      cmocka_unit_test(test_languages),
      cmocka_unit_test(test_paper_tables),    cmocka_unit_test(test_plots),
  };
  return cmocka_run_group_tests_name("experiments (--quick)", tests, setup, teardown);
}
