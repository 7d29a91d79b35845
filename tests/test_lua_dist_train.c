/* test_lua_dist_train.c — distributed training (hnet.distributed,
 * hnet.hypermodel_dist) in a process of its own, in any build: a group of
 * one rank must train exactly as no group (the distributed step does the
 * same operations in the same order; its allreduce is a copy), for every
 * split, with and without look-ahead and a random subset of earlier tasks;
 * the allreduce count per step; the shares of 1..n; and the refusals
 * (hnet.run's distributed option in a build without MPI, other learners,
 * data split with dropout). tests/test_mpi_train.c runs the ranks. */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <string.h>

static void run_err(const char *chunk, const char *want) { hntl_assert_err_fresh(chunk, want); }

/* Three small random tasks and a hypernet learner over them. */
#define SETUP                                                                                        \
  "local D = require 'hnet.distributed'\n"                                                           \
  "local function task(t)\n"                                                                         \
  "  local r = hnet.rng(40 + t, 1)\n"                                                                \
  "  local function split(n)\n"                                                                      \
  "    local y = hnet.tensor(n)\n"                                                                   \
  "    for i = 1, n do y:set(i, r:below(3) - 1) end\n"                                               \
  "    return { x = hnet.randn({ n, 6 }, r), y = y }\n"                                              \
  "  end\n"                                                                                          \
  "  return hnet.tasks.from_tensors{ name = 't' .. t, n_classes = 3, train = split(40), test = split(10) }\n" \
  "end\n"                                                                                            \
  "local tasks = { task(1), task(2), task(3), task(4) }\n"                                           \
  "local function learner(o)\n"                                                                      \
  "  local l = hnet.learners.hypernet{ target = { 'mlp', hidden = { 5 } }, hnet = { embedding = 3,\n" \
  "    hidden = { 6 }, chunk = 0 }, beta = 0.05, lr = 1e-2, batch = 12, iterations = 12,\n"         \
  "    lookahead = o.lookahead, reg_tasks = o.reg_tasks or 0, store_targets = o.store ~= false, seed = 3,\n" \
  "    clip_grad_norm = o.clip or 0 }\n"                                                                \
  "  l:setup{ n_tasks = 4, n_outputs = 3, input_shape = { 6 }, kind = 'classification' }\n"        \
  "  return l\n"                                                                                     \
  "end\n"                                                                                            \
  "local function train(l, g)\n"                                                                     \
  "  local counts = {}\n"                                                                            \
  "  for t = 1, 4 do\n"                                                                              \
  "    l:begin_task(t, tasks[t])\n"                                                                  \
  "    for it = 1, 12 do l:train_step(it); if g then counts[t] = g.step_allreduces end end\n"       \
  "    l:end_task(t, tasks[t])\n"                                                                    \
  "  end\n"                                                                                          \
  "  return counts\n"                                                                                \
  "end\n"

/* A group of one: bit for bit the plain step, for each split and option. */
static void test_group_of_one_is_the_plain_step(void **state) {
  (void)state;
  hntl_run_fresh(SETUP
                 "assert(hnet.dist.size() == 1)\n"
                 "for _, o in ipairs{ {}, { lookahead = true }, { reg_tasks = 2 }, { store = false },\n"
                 "                    { lookahead = true, reg_tasks = 2 }, { lookahead = true, clip = 0.05 } } do\n"
                 "  local a = learner(o)\n"
                 "  train(a)\n"
                 /* gradient-norm clipping at 0.05 changes the run (it clips) */
                 "  if o.clip then\n"
                 "    local u = learner{ lookahead = true }\n"
                 "    train(u)\n"
                 "    assert(u.theta:sqdist(a.theta) > 0, 'clipping at 0.05 clipped nothing')\n"
                 "  end\n"
                 "  for _, split in ipairs(D.SPLITS) do\n"
                 "    local b = learner(o)\n"
                 "    local g = D.group{ split = split }\n"
                 "    b:distribute(g)\n"
                 "    local counts = train(b, g)\n"
                 "    local what = split .. (o.lookahead and ' look-ahead' or '') .. (o.reg_tasks and ' subset' or '')\n"
                 "      .. (o.clip and ' clipped' or '')\n"
                 "    assert(a.theta:sqdist(b.theta) == 0, what .. ': theta differs')\n"
                 "    assert(a.E:sqdist(b.E) == 0, what .. ': E differs')\n"
                 /* The allreduces per step: two only with look-ahead, both
                  * splits and a regulariser (task 1 has none). */
                 "    local want = (o.lookahead and split == 'both') and 2 or 1\n"
                 "    assert(counts[1] == 1 and counts[4] == want,\n"
                 "      ('%s: %d and %d allreduces per step, 1 and %d expected'):format(what, counts[1], counts[4], want))\n"
                 "  end\n"
                 "end\n");
}

/* Shares of 1..n: contiguous, in rank order, covering 1..n once, sizes
 * differing by at most one (also n < ranks: some ranks get none). */
static void test_shares(void **state) {
  (void)state;
  hntl_run_fresh("local D = require 'hnet.distributed'\n"
                 "for size = 1, 4 do for n = 0, 11 do\n"
                 "  local g = setmetatable({ rank = 0, size = size }, D.Group)\n"
                 "  local next_lo, lo_k, hi_k = 1, math.huge, -1\n"
                 "  for r = 0, size - 1 do\n"
                 "    local lo, hi = g:share(n, r)\n"
                 "    assert(lo == next_lo, ('size %d n %d rank %d starts at %d'):format(size, n, r, lo))\n"
                 "    local k = hi - lo + 1\n"
                 "    assert(k >= 0)\n"
                 "    lo_k, hi_k = math.min(lo_k, k), math.max(hi_k, k)\n"
                 "    next_lo = hi + 1\n"
                 "  end\n"
                 "  assert(next_lo == n + 1 and hi_k - lo_k <= 1, ('size %d n %d'):format(size, n))\n"
                 "end end\n");
}

/* hnet.run's distributed option needs an MPI build (the message of
 * hnet.dist.require_built); the experiment flag says the same. */
static void test_refused_without_mpi(void **state) {
  (void)state;
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  double built = hntl_number(L, "hnet.dist.built() and 1 or 0");
  lua_close(L);
  if (built != 0) skip();
  run_err(SETUP "hnet.run(learner{}, hnet.stream.from({ tasks[1] }), { distributed = 'data' })",
          "--distributed (one run trained over the ranks of an mpirun job) needs hnet built with Open MPI: "
          "run `make MPI=1`");
  run_err("hnet.experiment.options({ [0] = 'x.lua', '--distributed', '--out', '/tmp/hnet_dist_never' },\n"
          "  { resumable = true })",
          "--distributed (one run trained over the ranks of an mpirun job) needs hnet built with Open MPI");
}

/* Other learners, and a data split the target cannot take, are refused. */
static void test_refusals(void **state) {
  (void)state;
  run_err("local l = hnet.learners.new('finetune', { target = { 'mlp', hidden = { 4 } } })\n"
          "l:distribute(require('hnet.distributed').group{ split = 'tasks' })",
          "learner 'finetune' cannot train one run over several processes (--distributed)");
  run_err("local l = hnet.learners.hypernet{ target = { 'mlp', hidden = { 4 }, dropout = 0.2 } }\n"
          "l:setup{ n_tasks = 2, n_outputs = 3, input_shape = { 6 }, kind = 'classification' }\n"
          "l:distribute(require('hnet.distributed').group{ split = 'data' })",
          "and the target network has dropout");
  run_err("require('hnet.distributed').group{ split = 'rows' }",
          "field 'split': \"data\", \"tasks\" or \"both\" expected, got rows");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_of_one_is_the_plain_step),
      cmocka_unit_test(test_shares),
      cmocka_unit_test(test_refused_without_mpi),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
