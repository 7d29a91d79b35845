/* test_lua_shift.c — hnet.shift (change detectors, drifting streams, the
 * embedding pool) and --quick smoke runs of the distribution-shift and
 * transfer experiments (rotated_stream, gradual_drift, covariate_shift,
 * transfer_stream). The detector tests use synthetic statistics with known
 * change points generated in the test; the smoke runs need the data of
 * `make data` (make test fetches it). */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *L;
static char outdir[256];

static int group_setup(void **state) {
  (void)state;
  snprintf(outdir, sizeof outdir, "/tmp/hnet-shift-XXXXXX");
  if (!mkdtemp(outdir)) return -1;
  L = hntl_newstate();
  return L ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  if (L) lua_close(L);
  return hnt_remove_dir(outdir);
}

static void run_ok(const char *chunk) { hntl_assert_ok(L, chunk); }

/* ---- detectors ------------------------------------------------------------------ */

/* The stated behaviour, on statistics N(1, 0.1^2) of 1,200 values with the
 * level jumping at values 300, 600 and 900 (seeds 1..10): every change is
 * detected within 10 values (15 for 3-sigma jumps), with no other alarm, and
 * the same detector raises no alarm at all on a stationary stream of the
 * same length. The detector is reset after each alarm, as a learner does.
 * Defaults: CUSUM k = 0.5, h = 12, warm-up 50; z-test window 8, reference 40,
 * threshold 5. */
static void test_detectors_change_points(void **state) {
  (void)state;
  run_ok(
    "local shift = hnet.shift\n"
    "-- A synthetic statistic: N(1, 0.1^2) per value, the level jumping by\n"
    "-- jumps[c] at position changes[c] (0-based count of values before it).\n"
    "function series(seed, n, changes, jumps)\n"
    "  local r = hnet.rng(seed, 5)\n"
    "  local xs, level, c = {}, 1.0, 1\n"
    "  for t = 1, n do\n"
    "    if changes[c] and t == changes[c] then level = level + jumps[c]; c = c + 1 end\n"
    "    xs[t] = r:normal(level, 0.1)\n"
    "  end\n"
    "  return xs\n"
    "end\n"
    "function alarms_of(det, xs)\n"
    "  local out = {}\n"
    "  for t, v in ipairs(xs) do\n"
    "    if det:update(v) then out[#out + 1] = t; det:reset() end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "function check_detector(make, jumps, max_delay, seeds)\n"
    "  local cps = { 300, 600, 900 }\n"
    "  local changes = {}\n"
    "  for i, c in ipairs(cps) do changes[i] = { start = c, finish = c } end\n"
    "  local worst = 0\n"
    "  for seed = 1, seeds do\n"
    "    local quiet = alarms_of(make(), series(seed, 1200, {}, {}))\n"
    "    assert(#quiet == 0, ('seed %d: %d false alarm(s) on a stationary stream, first at %d'):format(seed, #quiet, quiet[1] or -1))\n"
    "    local a = alarms_of(make(), series(seed, 1200, cps, jumps))\n"
    "    local s = shift.score_alarms(a, changes, { tolerance = max_delay })\n"
    "    assert(s.detected == 3, ('seed %d: %d of 3 changes detected within %d values (alarms at %s)'):format(seed, s.detected, max_delay, table.concat(a, ',')))\n"
    "    assert(s.false_alarms == 0 and s.extra == 0, ('seed %d: %d false and %d extra alarms (at %s)'):format(seed, s.false_alarms, s.extra, table.concat(a, ',')))\n"
    "    for c = 1, 3 do worst = math.max(worst, s.delays[c]) end\n"
    "  end\n"
    "  return worst\n"
    "end\n"
    "check_detector(function() return shift.cusum() end, { 0.6, 0.6, 0.6 }, 10, 10)\n"
    "check_detector(function() return shift.cusum { side = 'both' } end, { 0.6, -0.6, -0.6 }, 10, 10)\n"
    "check_detector(function() return shift.ztest() end, { 0.6, 0.6, 0.6 }, 10, 10)\n"
    "check_detector(function() return shift.ztest { side = 'both' } end, { 0.6, -0.6, 0.6 }, 10, 10)\n"
    "check_detector(function() return shift.cusum{transform = 'log'} end, { 0.6, 0.6, 0.6 }, 10, 10)\n"
    "check_detector(function() return shift.cusum() end, { 0.3, 0.3, 0.3 }, 15, 10)\n");
}

static void test_detector_reset_and_scoring(void **state) {
  (void)state;
  run_ok(
    "-- reset(mean, std): no warm-up, the level is known.\n"
    "local c = hnet.shift.cusum()\n"
    "assert(c:baseline() == nil, 'no baseline during the warm-up')\n"
    "c:reset(1.0, 0.1)\n"
    "local m, s = c:baseline()\n"
    "assert(m == 1.0 and s >= 0.1, 'baseline after reset(mean, std)')\n"
    "local a = c:update(1.05)\n"
    "assert(not a, 'in control')\n"
    "a = c:update(3.0)\n"
    "assert(a, 'a 20-sigma value right after reset(mean, std) raises the alarm')\n"
    "local z = hnet.shift.ztest { window = 4 }\n"
    "z:reset(1.0, 0.1)\n"
    "local fired = false\n"
    "for i = 1, 4 do fired = fired or z:update(2.0) end\n"
    "assert(fired, 'z-test with a known level alarms within one window')\n"
    "-- score_alarms on hand-made positions.\n"
    "local ch = { { start = 10, finish = 20 }, { start = 50, finish = 50 }, { start = 80, finish = 90 } }\n"
    "local r = hnet.shift.score_alarms({ 5, 12, 15, 33, 52, 200 }, ch, { tolerance = 5 })\n"
    "assert(r.detected == 2 and r.missed == 1, 'detected/missed')\n"
    "assert(r.delays[1] == 2 and r.delays[2] == 2 and r.delays[3] == nil, 'delays')\n"
    "assert(r.extra == 1 and r.false_alarms == 3 and r.n_alarms == 6, 'extra/false')\n"
    "assert(r.mean_delay == 2)\n"
    "-- The windows stop at the next change: an alarm there belongs to it.\n"
    "r = hnet.shift.score_alarms({ 55 }, { { start = 10, finish = 50 }, { start = 52, finish = 60 } }, { tolerance = 20 })\n"
    "assert(r.detected == 1 and r.delays[2] == 3 and r.delays[1] == nil)\n");
}

/* Misuse: { chunk, words the error must contain }. */
static const char *const misuse[][2] = {
    {"hnet.shift.cusum{ h = -1 }", "field 'h'"},
    {"hnet.shift.cusum{ bogus = 1 }", "unknown option 'bogus'"},
    {"hnet.shift.cusum():update(0/0)", "finite number"},
    {"hnet.shift.cusum():update('x')", "finite number"},
    {"hnet.shift.cusum():reset(1)", "a mean and a standard deviation"},
    {"hnet.shift.ztest{ side = 'left' }", "field 'side'"},
    {"hnet.shift.ztest{ window = 0 }", "field 'window'"},
    {"hnet.shift.detector('pagehinkley')", "unknown detector 'pagehinkley'"},
    {"hnet.shift.score_alarms({}, {}, { tolerance = -1 })", "field 'tolerance'"},
    {"hnet.shift.drift_stream{ source = 1 }", "field 'source'"},
    {"hnet.shift.drift_stream{ source = ds, segments = {} }", "field 'segments'"},
    {"hnet.shift.drift_stream{ source = ds, segments = { { value = 0 } } }", "entry 1 needs"},
    {"hnet.shift.drift_stream{ source = ds, kind = 'blur', segments = { { value = 0, batches = 1 } } }",
     "field 'kind'"},
    {"hnet.shift.drift_stream{ source = ds, batch = 100, segments = { { value = 0, batches = 1 } } }",
     "field 'batch'"},
    {"stream:value(100)", "out of range"},
    {"stream:task(5)", "no distribution 5"},
    {"hnet.shift.subset(ds, 0, 5)", "n_train"},
    {"hnet.shift.pool{ n_outputs = 3 }", "field 'input_shape'"},
    {"hnet.shift.pool{ input_shape = { 4 }, n_outputs = 2, lr = -1 }", "field 'lr'"},
    {"hnet.shift.pool{ input_shape = { 4 }, n_outputs = 2, hnet = { depth = 2 } }", "unknown option 'depth'"},
    {"local p = new_pool() p:add() p:activate(2)", "embedding index 1..1 expected"},
    {"local p = new_pool() p:add() p:step(hnet.tensor(2, 4), hnet.tensor(2))", "no active embedding"},
    {"local p = new_pool() p:add() p:add() p:add()", "all 2 embeddings are in use"},
    {"local p = new_pool() p:add(1)", "add(from)"},
    {"local p = new_pool() p:add() p:scores(hnet.tensor(2, 4), hnet.tensor(2), 'mse')", "'loss' or 'entropy'"},
    {"local p = new_pool() p:activate(p:add()) p:step(hnet.tensor(9, 4), hnet.tensor(9))",
     "built for batches up to 8"},
    {"local p = new_pool() p:import(hnet.tensor(3), hnet.tensor(1, 2), 1)", "theta has 3 values"},
    {"local p = new_pool() p:set_state({})", "a table from pool:state()"},
    {"local p = new_pool() p:forward(hnet.tensor(1, 4), 1)", "embedding index 1..0 expected"},
};

static void test_misuse(void **state) {
  (void)state;
  run_ok("local r = hnet.rng(3)\n"
         "ds = { name = 'toy', n_classes = 2, shape = { 1, 4, 4 },\n"
         "  train = { x = hnet.rand({ 10, 1, 4, 4 }, r), y = hnet.tensor(10) },\n"
         "  test = { x = hnet.rand({ 4, 1, 4, 4 }, r), y = hnet.tensor(4) } }\n"
         "stream = hnet.shift.drift_stream{ source = ds, batch = 2,\n"
         "  segments = { { value = 0, batches = 2 }, { value = 30, batches = 2 } } }\n"
         "function new_pool() return hnet.shift.pool{ input_shape = { 4 }, n_outputs = 2,\n"
         "  target = { 'mlp', hidden = { 3 } }, hnet = { embedding = 2, hidden = { 3 } },\n"
         "  batch = 8, eval_batch = 8, max_embeddings = 2 } end\n");
  for (size_t i = 0; i < sizeof misuse / sizeof misuse[0]; i++) {
    char msg[2048];
    int st = hntl_run(L, misuse[i][0], msg, sizeof msg);
    lua_gc(L, LUA_GCCOLLECT);
    if (st != LUA_ERRRUN) fail_msg("case %zu (%s): expected a runtime error, got status %d", i, misuse[i][0], st);
    if (!strstr(msg, misuse[i][1]))
      fail_msg("case %zu (%s): message '%s' lacks '%s'", i, misuse[i][0], msg, misuse[i][1]);
  }
}

/* ---- drifting streams and the embedding pool ------------------------------------ */

static void test_drift_stream(void **state) {
  (void)state;
  run_ok(
    "local shift = hnet.shift\n"
    "local r = hnet.rng(11)\n"
    "local y = {}\n"
    "for i = 1, 60 do y[i] = (i - 1) % 4 end\n"
    "local ds = { name = 'toy', n_classes = 4, shape = { 1, 6, 6 },\n"
    "  train = { x = hnet.rand({ 60, 1, 6, 6 }, r), y = hnet.tensor_from(y) },\n"
    "  test = { x = hnet.rand({ 24, 1, 6, 6 }, r), y = hnet.tensor_from({ table.unpack(y, 1, 24) }) } }\n"
    "local s = shift.drift_stream { source = ds, kind = 'rotation', ramp = 4, batch = 8, seed = 2,\n"
    "  segments = { { value = 0, batches = 5 }, { value = 90, batches = 5 }, { value = 0, batches = 5 } } }\n"
    "assert(s:len() == 23, 'length ' .. s:len())\n"
    "assert(#s.distributions == 2 and s.distributions[2].value == 90, 'two distributions')\n"
    "assert(#s.changes == 2, 'two changes')\n"
    "local c1, c2 = s.changes[1], s.changes[2]\n"
    "assert(c1.start == 6 and c1.finish == 9 and c1.from == 1 and c1.to == 2, 'change 1')\n"
    "assert(c2.start == 15 and c2.finish == 18 and c2.from == 2 and c2.to == 1, 'change 2')\n"
    "assert(s:value(5) == 0 and s:value(10) == 90 and math.abs(s:value(7) - 36) < 1e-12, 'ramp values')\n"
    "assert(s:distribution(3) == 1 and s:distribution(7) == nil and s:distribution(12) == 2 and s:distribution(23) == 1)\n"
    "local seen = {}\n"
    "for t = 1, s:len() do\n"
    "  local x, yb, v = s:batch(t)\n"
    "  assert(v == s:value(t))\n"
    "  local ref = hnet.transform.rotate(hnet.transform.gather(ds.train.x, s.idx), v)\n"
    "  assert(x:sqdist(ref) == 0, 'batch ' .. t .. ' is not the rotated rows')\n"
    "  assert(yb:sqdist(hnet.transform.gather(ds.train.y, s.idx)) == 0, 'labels of batch ' .. t)\n"
    "  for _, i in ipairs(s.idx) do seen[i] = (seen[i] or 0) + 1 end\n"
    "end\n"
    "-- 23 batches of 8 from 60 samples, without replacement within an epoch of 7\n"
    "-- batches (4 samples left out per epoch): each drawn 2 to 4 times.\n"
    "local lo, hi = math.huge, 0\n"
    "for i = 1, 60 do lo, hi = math.min(lo, seen[i] or 0), math.max(hi, seen[i] or 0) end\n"
    "assert(lo >= 2 and hi <= 4, ('samples drawn %d..%d times'):format(lo, hi))\n"
    "local t2 = s:task(2)\n"
    "assert(t2.test.x:sqdist(hnet.transform.rotate(ds.test.x, 90)) == 0, 'task(2) is the rotated test split')\n"
    "local b = shift.drift_stream { source = ds, kind = 'brightness', batch = 4,\n"
    "  segments = { { value = 0, batches = 2 }, { value = 0.5, batches = 2 } } }\n"
    "assert(b:len() == 4 and b.changes[1].start == 3 and b.changes[1].finish == 3, 'abrupt change')\n"
    "local x = b:batch(3)\n"
    "assert(x:sqdist(hnet.transform.brightness_contrast(hnet.transform.gather(ds.train.x, b.idx), { brightness = 0.5 })) == 0)\n"
    "-- a random subset\n"
    "local sub = shift.subset(ds, 20, 10, 3)\n"
    "assert(sub.train.x:size(1) == 20 and sub.test.x:size(1) == 10 and sub.n_classes == 4)\n");
}

/* On two Gaussian-blob tasks: the pool learns; the regulariser keeps the
 * first embedding's generated weights while the second learns (W_1 moves
 * less than a fifth as far as with beta = 0); embedding-only training
 * (train_theta = false) leaves theta and every other embedding bit-identical. */
static void test_pool(void **state) {
  (void)state;
  run_ok(
    "local shift = hnet.shift\n"
    "local A = hnet.synthetic.blobs { n_classes = 3, dim = 8, n_per_class = 100, n_test_per_class = 50, seed = 3 }\n"
    "local B = hnet.synthetic.blobs { n_classes = 3, dim = 8, n_per_class = 100, n_test_per_class = 50, seed = 4 }\n"
    "local function pool(beta, train_theta)\n"
    "  return shift.pool { input_shape = { 8 }, n_outputs = 3, target = { \"mlp\", hidden = { 16 } },\n"
    "    hnet = { embedding = 4, hidden = { 8 }, chunk = 64, chunk_embedding = 4 },\n"
    "    beta = beta, lr = 1e-2, batch = 32, eval_batch = 200, max_embeddings = 3, seed = 5,\n"
    "    train_theta = train_theta }\n"
    "end\n"
    "local function train(p, task, steps)\n"
    "  local b = require(\"hnet.learners.common\").batcher(task.train, 32, hnet.rng(7))\n"
    "  for _ = 1, steps do local x, y = b:next(); p:step(x, y) end\n"
    "end\n"
    "-- Learning, and per-sample inference between two embeddings.\n"
    "local p = pool(0.5, true)\n"
    "p:activate(p:add())\n"
    "train(p, A, 300)\n"
    "local accA = p:evaluate(A.test, 1)\n"
    "assert(accA > 90, ('embedding 1 on task A: %.1f%%'):format(accA))\n"
    "-- The regulariser keeps embedding 1's weights while embedding 2 learns B.\n"
    "local W1 = p.h:forward(p.theta, p.E:rows(1, 1)):clone()\n"
    "local q = pool(0, true)\n"
    "q:set_state(p:state())\n"
    "local function drift(pp)\n"
    "  pp:activate(pp:add())\n"
    "  train(pp, B, 300)\n"
    "  return pp.h:forward(pp.theta, pp.E:rows(1, 1)):sqdist(W1)\n"
    "end\n"
    "local with, without = drift(p), drift(q)\n"
    "assert(with < 0.2 * without, ('W_1 moved %.4g with beta = 0.5, %.4g without'):format(with, without))\n"
    "assert(p:evaluate(A.test, 1) > 85 and p:evaluate(B.test, 2) > 90, 'accuracies after task B')\n"
    "local acc, chosen = p:evaluate(A.test, 'infer')\n"
    "assert(#chosen == 2 and chosen[1] + chosen[2] == 150)\n"
    "-- Embedding-only training: θ and every other embedding stay bit-identical.\n"
    "local r = pool(0.5, false)\n"
    "r:set_state(p:state())\n"
    "local theta0, E0 = r.theta:clone(), r.E:clone()\n"
    "r:activate(r:add(1))\n"
    "assert(r.E:rows(3, 3):sqdist(E0:rows(1, 1)) == 0, 'add(1) copies embedding 1')\n"
    "train(r, B, 50)\n"
    "assert(r.theta:sqdist(theta0) == 0, 'theta changed with train_theta = false')\n"
    "assert(r.E:rows(1, 2):sqdist(E0:rows(1, 2)) == 0, 'an inactive embedding changed')\n"
    "assert(r.E:rows(3, 3):sqdist(E0:rows(1, 1)) > 0, 'the active embedding did not learn')\n"
    "-- scores: one per embedding, loss and entropy.\n"
    "local s = r:scores(B.test.x:rows(1, 50), B.test.y:rows(1, 50), 'loss')\n"
    "assert(#s == 3 and s[2] < s[1], 'B loss lower under embedding 2')\n");
}

/* ---- --quick smoke runs ----------------------------------------------------------- */

/* Run experiments/<name>.lua --quick --quiet --force --out <tmp>/<name> plus
 * `extra` (a Lua list body), then `check` with the script's result in the
 * global `result`, in a fresh state (as ./hnet would run it). */
static void run_experiment(const char *name, const char *extra, const char *check) {
  lua_State *S = hntl_newstate();
  assert_non_null(S);
  char chunk[2048], msg[4096];
  snprintf(chunk, sizeof chunk,
           "arg = { [0] = 'experiments/%s.lua', '--quick', '--quiet', '--force', "
           "'--out', '%s/%s', %s }\n"
           "result = dofile(arg[0])\n",
           name, outdir, name, extra ? extra : "");
  int st = hntl_run(S, chunk, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("experiments/%s.lua --quick failed: %s", name, msg);
  st = hntl_run(S, check, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("experiments/%s.lua --quick: %s", name, msg);
  lua_close(S);
}

static void test_quick_rotated_stream(void **state) {
  (void)state;
  /* 3 rotated tasks of 10 classes: chance is 10% (CL1 and CL2); the
   * hypernetwork's entropy-based task inference must beat 1 in 3. */
  run_experiment("rotated_stream", "'--datasets', 'mnist', '--learners', 'hypernet,finetune,ewc'",
                 "assert(#result == 6, 'expected 3 learners x 2 scenarios, got ' .. #result)\n"
                 "for _, r in ipairs(result) do\n"
                 "  assert(r.acc > 20, ('%s/%s: ACC %.2f'):format(r.learner, r.scenario, r.acc))\n"
                 "  if r.learner == 'hypernet' and r.scenario == 'domain' then\n"
                 "    assert(r.task_inference > 100 / 3, 'task inference ' .. r.task_inference)\n"
                 "  end\n"
                 "end\n"
                 "assert(io.open(arg[5] .. '/mnist/hypernet-domain/accuracy_matrix.csv')):close()\n"
                 "assert(io.open(arg[5] .. '/results.md')):close()\n"
                 "-- The task-given row is read off the domain run: its plot goes there,\n"
                 "-- from the task-given matrix, and no directory is made up for it.\n"
                 "local tg\n"
                 "for _, r in ipairs(result) do\n"
                 "  if r.learner == 'hypernet' and r.scenario == 'task-given' then tg = r end\n"
                 "end\n"
                 "assert(tg.shared_with == 'domain' and tg.R == tg.run:result_of('task_given').R, 'shared row: its own matrix')\n"
                 "assert(not io.open(arg[5] .. '/mnist/hypernet-task-given/accuracy.png'))\n"
                 "if os.execute('command -v gnuplot >/dev/null 2>&1') then\n"
                 "  local f = assert(io.open(arg[5] .. '/mnist/hypernet-domain/accuracy_task_given.png', 'rb'))\n"
                 "  assert(f:read(4) == '\\x89PNG', 'not a PNG'); f:close()\n"
                 "end\n"
                 "-- A plot into a folder that does not exist: an error message, nothing on stdout.\n"
                 "local ok, msg = hnet.plot.heatmap{ out = arg[5] .. '/no/such/dir/x.png', matrix = {{1}} }\n"
                 "assert(not ok and msg:find('cannot write plot', 1, true), tostring(msg))");
}

static void test_quick_gradual_drift(void **state) {
  (void)state;
  /* Two distributions (0 and 90 degrees, returning to 0): every learner
   * beats chance (10%) on both; the detector finds at least one change.
   * Margins: the learners with an embedding per distribution (detect,
   * oracle) score 85-94% under their assigned embedding (Haswell, Zen,
   * Sandybridge, Nehalem, Prescott kernels; seeds 1-5), asserted > 50. The
   * single embedding, last trained on 0 degrees, scores 20.2-22.6% on 90
   * degrees (rotated digits it partly recognises): asserted > 14, three
   * standard errors of chance on the quick form's 500 test images above
   * 10%, not a 20% bound that one trajectory clears by 0.2. */
  run_experiment("gradual_drift", NULL,
                 "assert(#result == 3)\n"
                 "for _, r in ipairs(result) do\n"
                 "  assert(#r.per == 2, 'two distributions expected')\n"
                 "  local bound = r.learner == 'single' and 14 or 50\n"
                 "  for _, p in ipairs(r.per) do\n"
                 "    assert(p.assigned > bound, ('%s at %g: %.2f%% (bound %g)'):format(r.learner, p.value, p.assigned, bound))\n"
                 "  end\n"
                 "  assert(r.online > 20 and r.acc_inferred > 20, r.learner .. ': online/inferred accuracy')\n"
                 "  if r.learner == 'detect' then assert(r.score.detected >= 1, 'no change detected') end\n"
                 "  if r.learner == 'single' then assert(r.embeddings == 1) end\n"
                 "end\n"
                 "assert(io.open(arg[5] .. '/detect.csv')):close()");
}

static void test_quick_covariate_shift(void **state) {
  (void)state;
  /* Split MNIST (5 tasks of 2 classes): chance is 50% task-given, 10%
   * class-incremental; task inference chance is 20%. */
  run_experiment("covariate_shift", "'--learners', 'hypernet,finetune', '--scenarios', 'task-given,class'",
                 "for _, kind in ipairs { 'noise', 'contrast' } do\n"
                 "  local rows = result[kind]\n"
                 "  assert(#rows == 4, kind .. ': 2 learners x 2 scenarios expected')\n"
                 "  for _, r in ipairs(rows) do\n"
                 "    local chance = r.scenario == 'class' and 10 or 50\n"
                 "    assert(#r.acc == 3, 'three severity levels')\n"
                 "    assert(r.acc[1] > chance + 5, ('%s %s/%s: %.2f%% unshifted'):format(kind, r.learner, r.scenario, r.acc[1]))\n"
                 "    if r.learner == 'hypernet' and r.scenario == 'class' then\n"
                 "      assert(r.inf[1] > 25, 'task inference ' .. r.inf[1])\n"
                 "    end\n"
                 "  end\n"
                 "end\n"
                 "assert(io.open(arg[5] .. '/covariate.csv')):close()");
}

static void test_quick_transfer_stream(void **state) {
  (void)state;
  /* Split Fashion-MNIST: 4 earlier tasks and a new binary task (chance 50%). */
  run_experiment("transfer_stream",
                 "'--streams', 'split', '--learners', 'hypernet,finetune', '--fractions', '0.1,1', "
                 "'--conditions', 'random,similar,fresh'",
                 "assert(#result.fwt == 2 and result.fwt[1].fwt ~= nil, 'FWT rows')\n"
                 "for _, r in ipairs(result.fwt) do assert(r.acc > 60, r.learner .. ' ACC ' .. r.acc) end\n"
                 "assert(#result.curves == 6, '2 fractions x 3 conditions')\n"
                 "for _, c in ipairs(result.curves) do\n"
                 "  assert(c.curve[1].it == 0 and c.curve[#c.curve].it == 120)\n"
                 "  assert(c.final > 60, ('%s at %g: %.2f%%'):format(c.condition, c.fraction, c.final))\n"
                 "  if c.condition ~= 'fresh' then assert(c.old > 60, 'earlier tasks ' .. c.old) end\n"
                 "end\n"
                 "assert(io.open(arg[5] .. '/curves.csv')):close()");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detectors_change_points), cmocka_unit_test(test_detector_reset_and_scoring),
      cmocka_unit_test(test_misuse),                  cmocka_unit_test(test_drift_stream),
      cmocka_unit_test(test_pool),                    cmocka_unit_test(test_quick_rotated_stream),
      cmocka_unit_test(test_quick_gradual_drift),     cmocka_unit_test(test_quick_covariate_shift),
      cmocka_unit_test(test_quick_transfer_stream),
  };
  return cmocka_run_group_tests_name("hnet.shift and the shift/transfer experiments", tests, group_setup,
                                     group_teardown);
}
