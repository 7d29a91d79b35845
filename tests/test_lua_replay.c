/*
 * test_lua_replay.c — a learner written outside hnet's tree: the worked
 * example docs/examples/replay/learners/replay.lua (experience replay with a
 * reservoir buffer), which edits no framework file.
 *   - it is found by name through HNET_PATH and ./hnet --lib, and through
 *     hnet.learners.register from a script; without either it is not;
 *   - it runs in every scenario, and its memory does what it is for: in the
 *     class-incremental scenario fine-tuning forgets the earlier tasks
 *     (their classes are never seen again) and replay keeps them;
 *   - an experiment takes its own option (--memory) from the command line.
 * Bit-exact resume of the same learner is in test_lua_reliability.c.
 * Run from the repository root after `make all` (./hnet must exist).
 */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define EXAMPLE "docs/examples/replay"

static lua_State *fresh(void) {
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  return L;
}

/* A stream of three 2-class blob tasks, and run(name, scenario, extra) ->
 * hnet.run's result with a small network. */
static const char *FIXTURE =
    "local ts = {}\n"
    "for i = 1, 3 do\n"
    "  ts[i] = hnet.synthetic.blobs { n_classes = 2, dim = 4, n_per_class = 60,\n"
    "    n_test_per_class = 40, seed = 10 + i, name = 'blobs' .. i }\n"
    "end\n"
    "STREAM = hnet.stream.from(ts, { name = 'blobs' })\n"
    "function RUN(name, scenario, extra)\n"
    "  local o = { target = { 'mlp', hidden = { 16 } }, lr = 1e-2, batch = 16, iterations = 200, seed = 3 }\n"
    "  for k, v in pairs(extra or {}) do o[k] = v end\n"
    "  return hnet.run(hnet.learners.new(name, o), STREAM, { scenario = scenario, quiet = true, plots = false })\n"
    "end\n";

static void test_found_by_path_and_register(void **state) {
  (void)state;
  unsetenv("HNET_PATH");
  lua_State *L = fresh();
  /* Not found without a path or a registration; the message says how. */
  hntl_assert_err(L, "hnet.learners.new('replay', {})", "no learner named 'replay'");
  /* register: the file's module, from a script. */
  hntl_assert_ok(L,
                 "hnet.learners.register('replay', dofile('" EXAMPLE "/learners/replay.lua'))\n"
                 "local l = hnet.learners.new('replay', { memory = 10 })\n"
                 "assert(l:name() == 'replay' and l:options().memory == 10)\n"
                 "assert(require('hnet.learners.base').is_learner(l))\n"
                 "local found = false\n"
                 "for _, n in ipairs(hnet.learners.list()) do found = found or n == 'replay' end\n"
                 "assert(found, 'a registered learner is listed')\n");
  /* Its options are checked through its spec. */
  hntl_assert_err(L, "hnet.learners.new('replay', { memory = 0 })", "field 'memory'");
  hntl_assert_err(L, "hnet.learners.new('replay', { memroy = 5 })", "unknown option 'memroy'");
  lua_close(L);

  /* HNET_PATH: found in the folder, from the file. */
  setenv("HNET_PATH", EXAMPLE, 1);
  L = fresh();
  hntl_assert_ok(L,
                 "assert(hnet.learners.exists('replay'))\n"
                 "local l = hnet.learners.replay { replay_batch = 4 }\n"
                 "assert(l:options().replay_batch == 4 and l:options().memory == 500)\n");
  lua_close(L);
  unsetenv("HNET_PATH");

  /* ./hnet --lib DIR, and its help from the same spec. */
  assert_int_equal(system("./hnet --lib " EXAMPLE " -e \"assert(hnet.learners.exists('replay'))\""), 0);
  int st = system("./hnet --lib " EXAMPLE " help replay | grep -q 'samples the reservoir keeps'");
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  st = system("./hnet -e \"assert(hnet.learners.exists('replay'))\" 2>/dev/null");
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

/* Every scenario runs; in the class-incremental one replay keeps the first
 * tasks where fine-tuning loses them. The blobs are far apart: replay's
 * earlier tasks stay near 90% and fine-tuning's fall near 0% on every
 * BLAS kernel tried, so the bounds (60 and 30) leave wide margins. */
static void test_every_scenario(void **state) {
  (void)state;
  setenv("HNET_PATH", EXAMPLE, 1);
  lua_State *L = fresh();
  hntl_assert_ok(L, FIXTURE);
  hntl_assert_ok(L,
                 "for _, sc in ipairs { 'task-given', 'domain', 'class' } do\n"
                 "  local r = RUN('replay', sc, { memory = 60, replay_batch = 16 })\n"
                 "  assert(r.summary and r.summary.acc == r.summary.acc, sc .. ': no ACC')\n"
                 "  assert(#r.R == 3 and #r.R[3] == 3, sc .. ': not a 3x3 matrix')\n"
                 "end\n"
                 "local rp = RUN('replay', 'class', { memory = 60, replay_batch = 16 })\n"
                 "local ft = RUN('finetune', 'class')\n"
                 "for j = 1, 2 do\n"
                 "  assert(rp.R[3][j] >= 60, ('replay kept task %d at %.1f%%'):format(j, rp.R[3][j]))\n"
                 "  assert(ft.R[3][j] <= 30, ('fine-tuning kept task %d at %.1f%%'):format(j, ft.R[3][j]))\n"
                 "end\n"
                 /* The reservoir: full, and every task's samples in it about
                  * equally (60 of 360 seen; each task's count is
                  * Binomial(60, 1/3), mean 20; the RNG is hnet's own, the
                  * same on every CPU). */
                 "local s = rp.learner:state()\n"
                 "assert(s.mem_x:size(1) == 60 and #s.slots == 60 and s.seen == 360)\n"
                 "local per = { 0, 0, 0 }\n"
                 "for _, t in ipairs(s.slots) do per[t] = per[t] + 1 end\n"
                 "for t = 1, 3 do assert(per[t] >= 8, ('task %d holds %d of 60 slots'):format(t, per[t])) end\n");
  lua_close(L);
  unsetenv("HNET_PATH");
}

/* An experiment script takes the learner's own option from the command
 * line, with no edit of the script. */
static void test_experiment_option(void **state) {
  (void)state;
  int st = system("./hnet --lib " EXAMPLE " experiments/toy_regression.lua --quick --quiet --force"
                  " --threads 1 --learners replay --memory 50 --out /tmp/hnet_test_replay_toy > /dev/null"
                  " && grep -q '\"memory\": *50' /tmp/hnet_test_replay_toy/replay-task-given/options.json");
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (system("rm -rf /tmp/hnet_test_replay_toy") != 0) fail_msg("cannot remove the run directory");
  assert_true(ok);
}

/* Also after a failed test (cmocka jumps out of it). */
static int unset_path(void **state) {
  (void)state;
  unsetenv("HNET_PATH");
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_found_by_path_and_register, unset_path),
      cmocka_unit_test_teardown(test_every_scenario, unset_path),
      cmocka_unit_test(test_experiment_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
