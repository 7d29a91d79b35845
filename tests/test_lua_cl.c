/* test_lua_cl.c — the continual-learning layer in Lua: the metrics on a
 * hand-made accuracy matrix, that earlier embeddings and regulariser targets
 * stay fixed while a new task is learned, and entropy task inference on a
 * constructed case where the right answer is known, that eval_max
 * samples a test split sorted by class evenly, and that the hypernetwork
 * learner's default init trains on inputs that are not centred, and that
 * hnet.run warns when a task's training loss stays at chance. */
#include "harness.h"
#include "lua_harness.h"

#include <string.h>

/* R as percentages; every value below is worked out by hand from DESIGN §7. */
static void test_metrics_hand_made(void **state) {
  (void)state;
  hntl_run_fresh(
      "local m = hnet.metrics\n"
      "local R = { {90, 40, 30},\n"
      "            {80, 95, 45},\n"
      "            {70, 85, 99} }\n"
      "local b = { 10, 20, 30 }\n"
      "local function near(a, x, what) assert(math.abs(a - x) < 1e-9, what .. ': ' .. a .. ' vs ' .. x) end\n"
      "near(m.acc(R), (70 + 85 + 99) / 3, 'ACC')\n"
      "near(m.bwt(R), ((70 - 90) + (85 - 95)) / 2, 'BWT')\n"
      "near(m.during(R), (90 + 95 + 99) / 3, 'ACC during')\n"
      "near(m.summary(R, b).acc_during, (90 + 95 + 99) / 3, 'acc_during in the summary')\n"
      "near(m.fwt(R, b), ((40 - 20) + (45 - 30)) / 2, 'FWT')\n"
      "local f, per = m.forgetting(R)\n"
      "near(per[1], 90 - 70, 'forgetting of task 1')\n"
      "near(per[2], 95 - 85, 'forgetting of task 2')\n"
      "near(f, 15, 'mean forgetting')\n"
      "assert(m.bwt({{50}}) == nil and m.fwt({{50}}, {1}) == nil, 'one task has no transfer')\n"
      "local mean, se = m.mean_se{1, 2, 3, 4}\n"
      "near(mean, 2.5, 'mean') near(se, math.sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3 / 4), 'SE')\n"
      "local ok, err = pcall(m.acc, { {1}, {2} })\n"
      "assert(not ok and err:find('R%[2%]%[2%] missing'), err)\n");
}

/* A 3-task stream of blobs; after task 1, train task 2 step by step and check
 * after every step that e_1 and the target W*_1 (stored) or the snapshot θ*
 * it is recomputed from (the default) are bit-identical to their values when
 * task 2 started, while θ and e_2 do change. */
static void test_earlier_tasks_fixed(void **state) {
  (void)state;
  hntl_run_fresh(
      "local tasks = {}\n"
      "for i = 1, 3 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 100,\n"
      "                                   n_test_per_class = 20, seed = i }\n"
      "end\n"
      "local stream = hnet.stream.from(tasks)\n"
      "for _, c in ipairs{ {false, true}, {true, true}, {false, false}, {true, false} } do\n"
      "  local la, store = c[1], c[2]\n"
      "  local L = hnet.learners.hypernet{ target = {'mlp', hidden = {8}},\n"
      "    hnet = { embedding = 3, hidden = {6}, chunk = 20, chunk_embedding = 2 },\n"
      "    iterations = 30, batch = 16, lr = 1e-2, beta = 0.05, lookahead = la,\n"
      "    store_targets = store }\n"
      "  L:setup{ n_tasks = 3, n_outputs = 2, input_shape = {4}, kind = 'classification' }\n"
      "  L:begin_task(1, stream:get(1)); L:train_task(1, stream:get(1)); L:end_task(1)\n"
      "  L:begin_task(2, stream:get(2))\n"
      "  local e1 = L.E:rows(1, 1):flat_table()\n"
      "  local theta0, e20 = L.theta:clone(), L.E:rows(2, 2):clone()\n"
      "  local w1 = store and L.Wstar:rows(1, 1):clone()\n"
      "  assert(store or L.theta_star:sqdist(theta0) == 0, 'theta* is not theta at the start of task 2')\n"
      "  local reg_seen = false\n"
      "  for it = 1, 20 do\n"
      "    local _, reg = L:train_step(it)\n"
      "    reg_seen = reg_seen or reg > 0\n"
      "    local now = L.E:rows(1, 1):flat_table()\n"
      "    for k = 1, #e1 do assert(now[k] == e1[k], 'e_1 changed at step ' .. it) end\n"
      "    if store then assert(L.Wstar:rows(1, 1):sqdist(w1) == 0, 'W*_1 changed at step ' .. it)\n"
      "    else assert(L.theta_star:sqdist(theta0) == 0, 'theta* changed at step ' .. it) end\n"
      "  end\n"
      "  assert(reg_seen, 'the regulariser was never active')\n"
      "  assert(L.theta:sqdist(theta0) > 0, 'theta did not move')\n"
      "  assert(L.E:rows(2, 2):sqdist(e20) > 0, 'e_2 did not move')\n"
      "  -- and the target is what the hypernetwork produced for e_1 when task 2 started\n"
      "  local W = L.h:forward(theta0, L.E:rows(1, 1))\n"
      "  assert(not store or W:sqdist(w1) == 0, 'W*_1 is not h(e_1; theta at the start of task 2)')\n"
      "end\n");
}

/* Two tasks whose data and fixed networks make the answer known: task t's
 * inputs are c * unit vector t; network t maps them to confident logits and
 * the other task's inputs to (0, 0), the maximum entropy. Entropy inference
 * must pick the right task every time; a policy that always answers 1 must
 * be right exactly half the time. */
static void test_entropy_task_inference(void **state) {
  (void)state;
  hntl_run_fresh(
      "local function task(t)\n"
      "  local n = 50\n"
      "  local x = hnet.tensor(n, 2)\n"
      "  for i = 1, n do x:set(i, t, 1 + i / n) end\n"
      "  local y = hnet.tensor(n)\n"
      "  for i = 1, n do y:set(i, i % 2) end\n"
      "  return hnet.tasks.from_tensors{ name = 'unit' .. t, n_classes = 2,\n"
      "    train = { x = x, y = y }, test = { x = x:clone(), y = y:clone() } }\n"
      "end\n"
      "local stream = hnet.stream.from{ task(1), task(2) }\n"
      "local net = hnet.net{ input = {2}, max_batch = 64, layers = { {'linear', 2, bias = false} } }\n"
      "-- W_t [2 outputs, 2 inputs]: confident on unit vector t, (0, 0) on the other\n"
      "local Ws = { hnet.tensor_from({ 20, 0, -20, 0 }, {4}), hnet.tensor_from({ 0, 20, 0, -20 }, {4}) }\n"
      "local Fake = require('hnet.learners.base').class()\n"
      "function Fake:name() return 'fake' end\n"
      "function Fake:schedule() return { eval_batch = 64, iterations = 0, batch = 1 } end\n"
      "function Fake:task_conditioned() return true end\n"
      "function Fake:setup() end\n"
      "function Fake:state() return {} end\n"
      "function Fake:load_state() end\n"
      "function Fake:predict(x, t) return net:forward(Ws[t], x) end\n"
      "local fake = setmetatable({}, Fake)\n"
      "local run = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false })\n"
      "assert(run.summary.task_inference == 100, 'entropy inference: ' .. tostring(run.summary.task_inference))\n"
      "local run1 = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false,\n"
      "  inference = function() return 1 end })\n"
      "assert(run1.summary.task_inference == 50, 'always-1 policy: ' .. tostring(run1.summary.task_inference))\n"
      "-- CL3 accuracy: the inferred task must be right and the class within it.\n"
      "-- Every sample is predicted class 0 (logit 20c vs -20c), labels alternate: 50%.\n"
      "assert(math.abs(run.R[2][1] - 50) < 1e-9 and math.abs(run.R[2][2] - 50) < 1e-9,\n"
      "  ('CL3 accuracies %.2f %.2f'):format(run.R[2][1], run.R[2][2]))\n"
      "assert(run1.R[2][2] == 0, 'task 2 with the wrong task inferred must be 0 in CL3')\n"
      "-- The same networks with the task given do not depend on the policy: 50%.\n"
      "local Rg, Rd = run1:result_of('task_given').R, run1:result_of('domain').R\n"
      "assert(Rg[2][2] == 50 and run1.summary.task_given.acc == 50,\n"
      "  'task-given accuracy of the class run: ' .. tostring(Rg[2][2]))\n"
      "-- CL2 read off the class run: the label within the inferred task's head.\n"
      "-- Task 2 through network 1 gives logits (0, 0): class 0, right for half.\n"
      "assert(Rd[2][2] == 50 and Rd[2][1] == 50, 'CL2 of the class run: ' .. tostring(Rd[2][2]))\n"
      "assert(run1.summary.domain.acc == 50 and run1.summary.domain.task_inference == 50)\n"
      "local dom = hnet.run(fake, stream, { scenario = 'domain', quiet = true, fwt = false,\n"
      "  inference = function() return 1 end })\n"
      "assert(dom.R[2][2] == Rd[2][2] and dom.R[2][1] == Rd[2][1], 'a domain run agrees')\n"
      "assert(dom.summary.domain == nil and dom:result_of('domain'):empty(), 'only class runs carry a CL2 matrix')\n"
      "-- A learner with its own task inference (infer_task) is used instead of the policy.\n"
      "local Own = require('hnet.learners.base').class(Fake)\n"
      "local answer = 2\n"
      "function Own:infer_task(x, n_seen)\n"
      "  local t = {}\n"
      "  for i = 1, x:size(1) do t[i] = math.min(answer, n_seen) end\n"
      "  return t\n"
      "end\n"
      "local own = hnet.run(setmetatable({}, Own), stream, { scenario = 'class', quiet = true, fwt = false })\n"
      "assert(own.summary.task_inference == 50 and own.R[2][1] == 0, 'infer_task: ' .. tostring(own.summary.task_inference))\n"
      "answer = 0\n"
      "local ok, err = pcall(hnet.run, setmetatable({}, Own), stream, { scenario = 'class', quiet = true, fwt = false })\n"
      "assert(not ok and err:find(\"the learner's infer_task returned 0\", 1, true), tostring(err))\n"
      "-- Named policies: max softmax probability and energy also pick each sample's own\n"
      "-- network (confident logits (20, -20) against (0, 0)); a registered policy that\n"
      "-- prefers the most uncertain network picks the other one every time.\n"
      "for _, name in ipairs { 'entropy', 'max_prob', 'energy' } do\n"
      "  local r = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false, inference = name })\n"
      "  assert(r.summary.task_inference == 100, name .. ': ' .. tostring(r.summary.task_inference))\n"
      "end\n"
      "local ev = require 'hnet.run.evaluate'\n"
      "-- max_prob orders networks whose largest probability rounds to 1 in float\n"
      "-- (margins of 20 and 40: p_max = 1.0f for both); it used to score them equal.\n"
      "local sc = ev.policies.max_prob.score\n"
      "local a, b = sc(hnet.tensor_from({ { 20, 0 } }))[1], sc(hnet.tensor_from({ { 40, 0 } }))[1]\n"
      "assert(b < a, 'max_prob on confident networks: ' .. a .. ' vs ' .. b)\n"
      "ev.register_policy('most_uncertain', { about = 'a test policy', score = function(out)\n"
      "  local h = hnet.loss.entropy(out):flat_table()\n"
      "  for i = 1, #h do h[i] = -h[i] end\n"
      "  return h\n"
      "end })\n"
      "local anti = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false, inference = 'most_uncertain' })\n"
      "-- Task 1's samples after task 1 have only one choice: 1 of the 3 evaluations is right.\n"
      "assert(anti.R[2][1] == 0 and anti.R[2][2] == 0, 'most_uncertain must pick the wrong task')\n"
      "ok, err = pcall(hnet.run, fake, stream, { scenario = 'class', quiet = true, inference = 'energie' })\n"
      "assert(not ok and err:find(\"field 'inference': a policy name (energy, entropy, entropy_noise, max_prob, most_uncertain) or a function expected, got 'energie'\", 1, true), tostring(err))\n"
      "ok, err = pcall(ev.register_policy, 'energy', { score = print })\n"
      "assert(not ok and err:find(\"policy 'energy' exists already\", 1, true), tostring(err))\n"
      "ok, err = pcall(ev.register_policy, 'both', { score = print, score_inputs = print })\n"
      "assert(not ok and err:find('one of the two functions', 1, true), tostring(err))\n"
      "-- An ensemble over input augmentations scores each sample by the mean of its\n"
      "-- scores over the augmented inputs. swap exchanges the two inputs: network t\n"
      "-- is then sure of task 3 - t's samples (entropy ~0) and unsure (ln 2) of its\n"
      "-- own. With {swap, id, id} the mean still favours each sample's own network\n"
      "-- (ln2/3 against 2 ln2/3); with {id, swap, swap} it favours the other. Using\n"
      "-- one augmentation (the first or the last) instead of the mean fails one of\n"
      "-- the two runs, and so does a mean that drops an augmentation.\n"
      "local function id(x) return x end\n"
      "local function swap(x)\n"
      "  local n = x:size(1)\n"
      "  local y = hnet.tensor(n, 2)\n"
      "  for i = 1, n do y:set(i, 1, x:get(i, 2)); y:set(i, 2, x:get(i, 1)) end\n"
      "  return y\n"
      "end\n"
      "ev.register_policy('mostly_id', { score_inputs = ev.ensemble(ev.policies.entropy.score, { swap, id, id }) })\n"
      "ev.register_policy('mostly_swap', { score_inputs = ev.ensemble(ev.policies.entropy.score, { id, swap, swap }) })\n"
      "local good = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false, inference = 'mostly_id' })\n"
      "assert(good.summary.task_inference == 100 and good.R[2][2] == 50, 'mostly_id: ' .. tostring(good.summary.task_inference))\n"
      "local bad = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false, inference = 'mostly_swap' })\n"
      "assert(bad.R[2][1] == 0 and bad.R[2][2] == 0, 'mostly_swap must pick the other task')\n"
      "-- The mean itself, on one batch: (entropy under swap + 2 entropies under id) / 3.\n"
      "local xb = stream:get(1).test.x\n"
      "local f = function(x) return net:forward(Ws[2], x) end\n"
      "local got = ev.policies.mostly_id.score_inputs(f, xb)\n"
      "local h_id, h_sw = hnet.loss.entropy(f(xb)):flat_table(), hnet.loss.entropy(f(swap(xb))):flat_table()\n"
      "for i = 1, #got do\n"
      "  local want = (h_sw[i] + 2 * h_id[i]) / 3\n"
      "  assert(math.abs(got[i] - want) <= 1e-6 * (1 + want), ('sample %d: %g, mean %g'):format(i, got[i], want))\n"
      "end\n"
      "-- The built-in noise ensemble runs as a named policy and, on these well\n"
      "-- separated inputs (margin 1 against noise std 0.1), picks each sample's network.\n"
      "local nz = hnet.run(fake, stream, { scenario = 'class', quiet = true, fwt = false, inference = 'entropy_noise' })\n"
      "assert(nz.summary.task_inference == 100, 'entropy_noise: ' .. tostring(nz.summary.task_inference))\n");
}

/* Which scenarios one training scores, in one table (hnet.run.scenario):
 * a class run scores CL1 and CL2 alongside, a domain run CL1, a task-given
 * run nothing else; compare trains a task-conditioned learner once, in the
 * asked-for scenario that scores the most of the others. */
static void test_scenario_table(void **state) {
  (void)state;
  hntl_run_fresh("local S = require 'hnet.run.scenario'\n"
         "assert(S.carrier { 'task-given', 'domain', 'class' } == 'class')\n"
         "assert(S.carrier { 'domain', 'task-given' } == 'domain')\n"
         "assert(S.carrier { 'task-given', 'class' } == 'class')\n"
         "assert(S.carrier { 'task-given' } == nil and S.carrier { 'class' } == nil)\n"
         "assert(S.carried('class', 'domain') == 'domain' and S.carried('class', 'task-given') == 'task_given')\n"
         "assert(S.carried('domain', 'task-given') == 'task_given' and S.carried('domain', 'domain') == nil)\n"
         "assert(S.carried('task-given', 'domain') == nil)\n"
         "assert(S.judges('class', 'domain') and not S.judges('domain', 'domain'))\n"
         "assert(S.task_given('task-given') and not S.task_given('class'))\n");
}

/* hnet.experiment.compare reads the task-given and domain rows of a learner
 * with one network per task off its class run: the figures must equal those
 * of a task-given or domain run trained on its own (same seed: bit for bit),
 * and a stream whose tasks differ in class count must not share (masks
 * differ there). */
static void test_compare_shares_training(void **state) {
  (void)state;
  hntl_run_fresh(
      "local function stream(k2)\n"
      "  local tasks = {}\n"
      "  for i = 1, 3 do\n"
      "    tasks[i] = hnet.synthetic.blobs{ n_classes = i == 2 and k2 or 2, dim = 4,\n"
      "      n_per_class = 60, n_test_per_class = 20, seed = i }\n"
      "  end\n"
      "  return hnet.stream.from(tasks)\n"
      "end\n"
      "local function opts(name)\n"
      "  local o = { target = {'mlp', hidden = {8}}, seed = 3, iterations = 25, batch = 16, lr = 1e-2 }\n"
      "  if name == 'hypernet' then\n"
      "    o.hnet, o.beta = { embedding = 3, hidden = {6}, chunk = 20, chunk_embedding = 2 }, 0.05\n"
      "  end\n"
      "  return o\n"
      "end\n"
      "local E = hnet.experiment\n"
      "for _, name in ipairs{ 'hypernet', 'separate' } do\n"
      "  hnet.seed(7)\n"
      "  local shared = E.compare{ stream = stream(2), learners = {name},\n"
      "    scenarios = {'task-given', 'class'}, learner_options = opts, quiet = true }\n"
      "  assert(#shared == 2 and shared[1].scenario == 'task-given' and shared[1].shared_with == 'class',\n"
      "    name .. ': the task-given row must come from the class run')\n"
      "  hnet.seed(7)\n"
      "  local own = E.compare{ stream = stream(2), learners = {name}, scenarios = {'task-given'},\n"
      "    learner_options = opts, quiet = true, share_training = false }\n"
      "  assert(own[1].shared_with == nil)\n"
      "  for j = 1, 3 do\n"
      "    assert(shared[1].final[j] == own[1].final[j], ('%s task %d: %.4f shared vs %.4f trained alone')\n"
      "      :format(name, j, shared[1].final[j], own[1].final[j]))\n"
      "  end\n"
      "  assert(shared[1].bwt == own[1].bwt and shared[1].acc == own[1].acc, name .. ': ACC/BWT differ')\n"
      "  -- CL2 from the class run too: equal to a domain run trained alone.\n"
      "  hnet.seed(7)\n"
      "  local three = E.compare{ stream = stream(2), learners = {name},\n"
      "    scenarios = {'task-given', 'domain', 'class'}, learner_options = opts, quiet = true }\n"
      "  assert(#three == 3 and three[2].scenario == 'domain' and three[2].shared_with == 'class'\n"
      "    and three[1].shared_with == 'class' and three[3].shared_with == nil, name .. ': rows of three')\n"
      "  assert(three[2].R == three[3].run:result_of('domain').R and three[1].R == three[3].run:result_of('task_given').R)\n"
      "  hnet.seed(7)\n"
      "  local dom = E.compare{ stream = stream(2), learners = {name}, scenarios = {'domain'},\n"
      "    learner_options = opts, quiet = true, share_training = false }\n"
      "  for j = 1, 3 do\n"
      "    assert(three[2].final[j] == dom[1].final[j], ('%s task %d CL2: %.4f shared vs %.4f trained alone')\n"
      "      :format(name, j, three[2].final[j], dom[1].final[j]))\n"
      "  end\n"
      "  assert(three[2].acc == dom[1].acc and three[2].bwt == dom[1].bwt and three[2].fwt == dom[1].fwt\n"
      "    and three[2].task_inference == dom[1].task_inference, name .. ': CL2 metrics differ')\n"
      "  assert(three[1].final[1] == shared[1].final[1], name .. ': task-given row as before')\n"
      "  local mixed = E.compare{ stream = stream(3), learners = {name},\n"
      "    scenarios = {'task-given', 'class'}, learner_options = opts, quiet = true }\n"
      "  assert(#mixed == 2 and mixed[1].shared_with == nil, name .. ': tasks of 2 and 3 classes must not share')\n"
      "end\n");
}

/* eval_max on a test split stored sorted by class: the first 50 samples are
 * class 0, the last 50 class 1, and the network predicts class 0 for all of
 * them, so the true accuracy is 50%. Ten evenly spaced samples give 50%; the
 * first ten would give 100%. */
static void test_eval_max_spread(void **state) {
  (void)state;
  hntl_run_fresh(
      "local n = 100\n"
      "local x = hnet.tensor(n, 2)\n"
      "for i = 1, n do x:set(i, 1, 1) end\n"
      "local y = hnet.tensor(n)\n"
      "for i = 51, n do y:set(i, 1) end\n"
      "local task = hnet.tasks.from_tensors{ name = 'sorted', n_classes = 2,\n"
      "  train = { x = x, y = y }, test = { x = x:clone(), y = y:clone() } }\n"
      "local net = hnet.net{ input = {2}, max_batch = 64, layers = { {'linear', 2, bias = false} } }\n"
      "local W = hnet.tensor_from({ 20, 0, -20, 0 }, {4})\n"
      "local Fake = require('hnet.learners.base').class()\n"
      "function Fake:schedule() return { eval_batch = 64, iterations = 0, batch = 1 } end\n"
      "function Fake:task_conditioned() return true end\n"
      "function Fake:setup() end\n"
      "function Fake:predict(x) return net:forward(W, x) end\n"
      "local fake = setmetatable({}, Fake)\n"
      "for _, m in ipairs{ 0, 10, 7, 99 } do\n"
      "  local run = hnet.run(fake, hnet.stream.from{ task }, { quiet = true, fwt = false,\n"
      "    eval_max = m > 0 and m or nil })\n"
      "  local want = ({ [0] = 50, [10] = 50, [7] = 400 / 7, [99] = 5000 / 99 })[m]\n"
      "  assert(math.abs(run.R[1][1] - want) < 1e-9,\n"
      "    ('eval_max %d: %.4f, expected %.4f'):format(m, run.R[1][1], want))\n"
      "end\n");
}

/* The learner's `init` reaches θ: with "xavier" every weight of the
 * hypernetwork lies within its Xavier bound and every bias is 0; hyperfan's
 * first layer (normal, std sqrt(2/5) = 0.63 against a bound of 0.74 over 30
 * weights) does not stay within it. */
static void test_learner_init_scheme(void **state) {
  (void)state;
  hntl_run_fresh(
      "local function within(init)\n"
      "  local l = hnet.learners.hypernet{ target = {'mlp', hidden = {8}}, seed = 3, init = init,\n"
      "    hnet = { embedding = 3, hidden = {6}, chunk = 20, chunk_embedding = 2 } }\n"
      "  l:setup{ n_tasks = 2, n_outputs = 2, input_shape = {4}, kind = 'classification' }\n"
      "  local inside, biases_zero = true, true\n"
      "  for _, e in ipairs(l.h:layout()) do\n"
      "    if e.name:match('%.weight$') then\n"
      "      local a = math.sqrt(6 / (e.shape[1] + e.shape[2]))\n"
      "      for i = e.offset + 1, e.offset + e.numel do\n"
      "        if math.abs(l.theta:get(i)) > a then inside = false end\n"
      "      end\n"
      "    elseif e.name:match('%.bias$') then\n"
      "      for i = e.offset + 1, e.offset + e.numel do\n"
      "        if l.theta:get(i) ~= 0 then biases_zero = false end\n"
      "      end\n"
      "    end\n"
      "  end\n"
      "  return inside, biases_zero\n"
      "end\n"
      "local xin, xb = within('xavier')\n"
      "assert(xin and xb, 'xavier: weights outside the bound or nonzero biases')\n"
      "assert(not within('hyperfan'), 'hyperfan must not look like xavier')\n"
      "assert(not within(nil), 'the default is hyperfan')\n"
      /* h:init's max_h_l1: only with hyperfan, a number >= 0 */
      "local net = hnet.mlp{ inputs = {4}, hidden = {8}, outputs = 2, max_batch = 4 }\n"
      "local h = hnet.hypernet{ target = net, embedding = 3, hidden = {6} }\n"
      "local th = hnet.tensor(h:n_params())\n"
      "local ok, err = pcall(h.init, h, th, nil, { scheme = 'xavier', max_h_l1 = 2 })\n"
      "assert(not ok and err:find(\"field 'max_h_l1': only with scheme = \\\"hyperfan\\\"\", 1, true), err)\n"
      "ok, err = pcall(h.init, h, th, nil, { max_h_l1 = -1 })\n"
      "assert(not ok and err:find('max_h_l1', 1, true), err)\n"
      "h:init(th, nil, { max_h_l1 = 2, rng = hnet.rng(1) })\n");
}

/* The default init on inputs that are not centred (Fashion-MNIST as
 * x' = 0.45 x + 0.3, every pixel >= 0.3): the learner with its defaults
 * trains. With He-scaled hidden layers and no rescale the generated weights
 * moved ~30 times as far per Adam step as directly trained ones: the loss
 * jumped to 7..45 within 20 steps (6 seeds) and often stayed at ln 10 with
 * every first-layer unit dead. Now the peak over steps 1-20 is 2.3..3.0
 * and the mean over steps 101-150 0.83..0.92 (7 seeds; before: 1.0..2.3).
 * Asserted: no step of 1-20 above 2 ln 10, and the mean over 101-150 of two
 * seeds below ln 10 / 2. Reads the Fashion-MNIST of `make data`. */
static void test_default_init_shifted_inputs(void **state) {
  (void)state;
  hntl_run_fresh(
      "local ds = hnet.datasets.load('fashion_mnist', { n_train = 2000, n_test = 10 })\n"
      "local task = hnet.tasks.map(ds, function(x) return x:clone():scale(0.45):add(0.3) end)\n"
      "local chance, tail = math.log(10), 0\n"
      "for seed = 1, 2 do\n"
      "  local L = hnet.learners.hypernet{ iterations = 150, seed = seed }\n"
      "  L:setup{ n_tasks = 1, n_outputs = 10, input_shape = {1, 28, 28}, kind = 'classification' }\n"
      "  L:begin_task(1, task)\n"
      "  for it = 1, 150 do\n"
      "    local loss = L:train_step(it)\n"
      "    assert(it > 20 or loss < 2 * chance,\n"
      "      ('seed %d, step %d: loss %.2f, more than twice ln 10: the first steps blow up'):format(seed, it, loss))\n"
      "    if it > 100 then tail = tail + loss / 100 end\n"
      "  end\n"
      "end\n"
      "assert(tail < chance / 2, ('mean loss over steps 101-150 is %.3f, not clearly below ln 10 = %.3f')\n"
      "  :format(tail, chance))\n");
}

/* hnet.run's chance watch: with lr = 0 a 4-class task's training loss stays
 * at chance (ln 4) and one warning says so, with what to try; a task that
 * learns (lr = 1e-2: the loss is far below chance by iteration 100), a task
 * shorter than the watch's 200 iterations and a regression task get none.
 * The warnings are read from stderr, as a user sees them. */
static void test_chance_watch(void **state) {
  (void)state;
  hntl_run_fresh(
      "local function warnings(task, lr, iterations)\n"
      "  local got, real = {}, io.stderr\n"
      "  io.stderr = { write = function(self, ...) for _, v in ipairs{...} do got[#got + 1] = v end\n"
      "    return self end, flush = function() end }\n"
      "  local ok, err = pcall(hnet.run, hnet.learners.hypernet{ target = {'mlp', hidden = {16}},\n"
      "    hnet = { embedding = 4, hidden = {16} }, lr = lr, iterations = iterations, batch = 32 },\n"
      "    hnet.stream.from{ task }, { quiet = true, fwt = false })\n"
      "  io.stderr = real\n"
      "  assert(ok, err)\n"
      "  return table.concat(got)\n"
      "end\n"
      "local blobs = hnet.synthetic.blobs{ n_classes = 4, dim = 8, n_per_class = 100,\n"
      "  n_test_per_class = 20, seed = 5 }\n"
      "local w = warnings(blobs, 0, 250)\n"
      "local _, n = w:gsub('is not learning', '')\n"
      "assert(n == 1, 'lr = 0: one chance warning expected, got ' .. n .. ': ' .. w)\n"
      "for _, word in ipairs{ 'task 1/1', 'iterations 101-200', 'ln 4 = 1.3863', 'normalised',\n"
      "                        'lr = 0', 'init' } do\n"
      "  assert(w:find(word, 1, true), 'the warning lacks \"' .. word .. '\": ' .. w)\n"
      "end\n"
      "w = warnings(blobs, 1e-2, 250)\n"
      "assert(not w:find('not learning', 1, true), 'a task that learns was warned about: ' .. w)\n"
      "w = warnings(blobs, 0, 150)\n"
      "assert(not w:find('not learning', 1, true), '150 iterations are too few to judge: ' .. w)\n"
      "local poly = hnet.synthetic.polynomial_tasks{ seed = 1 }[1]\n"
      "w = warnings(poly, 0, 250)\n"
      "assert(not w:find('not learning', 1, true), 'a regression task has no chance level: ' .. w)\n");
}

/* Run:evaluate_on judges a finished run on another stream of the same
 * tasks: the run's own stream gives back the final row of R bit for bit; a
 * corrupted copy of the test data scores lower; a stream that does not fit,
 * an unfinished run and a scenario a shared network was not trained for are
 * refused with messages. */
static void test_evaluate_on(void **state) {
  (void)state;
  hntl_run_fresh(
      "local tasks = {}\n"
      "for i = 1, 2 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 100,\n"
      "                                   n_test_per_class = 50, seed = i }\n"
      "end\n"
      "local stream = hnet.stream.from(tasks)\n"
      "local function learner(name)\n"
      "  return hnet.learners.new(name, { target = {'mlp', hidden = {16}}, iterations = 150,\n"
      "    batch = 32, lr = 1e-2, seed = 1,\n"
      "    hnet = name == 'hypernet' and { embedding = 3, hidden = {8}, chunk = 40, chunk_embedding = 2 } or nil })\n"
      "end\n"
      "local dir = os.tmpname(); os.remove(dir)\n"
      "local run = hnet.run(learner('hypernet'), stream, { scenario = 'task-given', quiet = true, fwt = false,\n"
      "  out = dir })\n"
      "local function slurp(p) local f = assert(io.open(p, 'rb')); local t = f:read('a'); f:close(); return t end\n"
      "local before = slurp(dir .. '/summary.json') .. slurp(dir .. '/log.txt')\n"
      "local same = run:evaluate_on(stream)\n"
      "for j = 1, 2 do assert(same.metric[j] == run.R[2][j], ('task %d: %s vs %s'):format(j, same.metric[j], run.R[2][j])) end\n"
      "assert(same.inferred == nil and same.inference == nil, 'the task is given')\n"
      "assert(math.abs(same.mean - (run.R[2][1] + run.R[2][2]) / 2) < 1e-12)\n"
      "assert(same.mean > 80, 'the blobs were learned: ' .. same.mean)\n"
      /* Noise of std 5 on unit-scale blobs: every test point moves far. */
      "local noisy = {}\n"
      "for i = 1, 2 do noisy[i] = hnet.tasks.map(tasks[i], function(x, y, split)\n"
      "  local n = hnet.rand({ x:size(1), x:size(2) }, hnet.rng(7, i), -5, 5)\n"
      "  return x:clone():add(n), y end) end\n"
      "local shifted = run:evaluate_on(hnet.stream.from(noisy))\n"
      "assert(shifted.mean < same.mean - 10, ('noise: %.2f vs %.2f'):format(shifted.mean, same.mean))\n"
      /* the hypernetwork has one network per task: CL3 on the same runs */
      "local cl3 = run:evaluate_on(stream, { scenario = 'class' })\n"
      "assert(#cl3.inferred == 2 and cl3.inference >= 0 and cl3.inference <= 100)\n"
      "local function refused(want, ...)\n"
      "  local ok, err = pcall(...)\n"
      "  assert(not ok and tostring(err):find(want, 1, true), tostring(err))\n"
      "end\n"
      "refused('the stream has 1 tasks; the run was trained on 2', run.evaluate_on, run, hnet.stream.from{ tasks[1] })\n"
      "local three = hnet.synthetic.blobs{ n_classes = 3, dim = 4, n_per_class = 10, n_test_per_class = 5, seed = 3 }\n"
      "refused('task 2 differs from the trained task 2', run.evaluate_on, run, hnet.stream.from{ tasks[1], three })\n"
      "refused('an hnet.stream expected', run.evaluate_on, run, tasks)\n"
      "refused(\"field 'scenario': task-given, domain or class expected\", run.evaluate_on, run, stream, { scenario = 'cl4' })\n"
      "refused(\"unknown option 'scenaro'\", run.evaluate_on, run, stream, { scenaro = 'class' })\n"
      /* NaN in the other stream's inputs: a numerical fault, and the
       * finished run's directory is left as it was */
      "local nan = {}\n"
      "for i = 1, 2 do nan[i] = hnet.tasks.map(tasks[i], function(x, y, split)\n"
      "  local z = x:clone(); z:set(1, 1, 0/0); return z, y end) end\n"
      "refused('numerical fault evaluating task 1/2', run.evaluate_on, run, hnet.stream.from(nan))\n"
      "assert(slurp(dir .. '/summary.json') .. slurp(dir .. '/log.txt') == before,\n"
      "  'evaluate_on changed the run directory')\n"
      "assert(os.execute('rm -rf ' .. dir))\n"
      "local ft = hnet.run(learner('finetune'), stream, { scenario = 'task-given', quiet = true, fwt = false })\n"
      "refused('cannot be judged in class', ft.evaluate_on, ft, stream, { scenario = 'class' })\n"
      "local testing = require 'hnet.run.testing'\n"
      "local part = testing.run(learner('finetune'), stream, { scenario = 'task-given', quiet = true, fwt = false },\n"
      "  testing.stop_after { task = 2, iteration = 10 })\n"
      "refused('the run has not finished', part.evaluate_on, part, stream)\n");
}

/* A metric is one registry entry: registered here, it is in the run's
 * summary (and summary.json), Run:report's line, `hnet report DIR` in
 * another process (which never saw the registration: summary.json
 * describes it), the runs side by side, and the comparison table. Bad
 * entries, and a metric that fails or returns a non-number, are refused. */
static void test_metric_registry(void **state) {
  (void)state;
  hntl_run_fresh(
      "local m = hnet.metrics\n"
      "local function refused(want, ...)\n"
      "  local ok, err = pcall(...)\n"
      "  assert(not ok and tostring(err):find(want, 1, true), 'expected ' .. want .. ', got ' .. tostring(err))\n"
      "end\n"
      "local f = function() return 1 end\n"
      "refused(\"bad argument #1 to 'hnet.metrics.register' (field 'fn' is required)\", m.register, { name = 'x' })\n"
      "refused(\"metric 'acc' is registered already; pass replace = true\", m.register, { name = 'acc', fn = f })\n"
      "refused(\"'final' is a summary or result field already\", m.register, { name = 'final', fn = f })\n"
      "refused(\"field 'name': an identifier expected, got 'min final'\", m.register, { name = 'min final', fn = f })\n"
      "refused(\"field 'format': 'abc' does not format a number\", m.register, { name = 'y', fn = f, format = 'abc' })\n"
      "refused(\"field 'kind': one of classification, regression, both expected, got 'both!'\",\n"
      "  m.register, { name = 'y', fn = f, kind = 'both!' })\n"
      "refused(\"unknown option 'fmt' (allowed: fn, format, header, kind, label, name, order, paper, replace)\", m.register, { name = 'y', fn = f, fmt = '%.1f' })\n"
      "assert(m.get('x') == nil and m.get('y') == nil, 'a refused entry must not be registered')\n"
      "local names = {}\n"
      "for _, e in ipairs(m.list('classification')) do names[#names + 1] = e.name end\n"
      "assert(table.concat(names, ',') == 'acc,acc_during,bwt,fwt,forgetting', table.concat(names, ','))\n"
      "assert(m.list('regression')[1].name == 'mse' and #m.list('regression') == 1)\n"
      "m.register { name = 'min_final', label = 'min final', header = 'min final %', format = '%.3f',\n"
      "  fn = function(R) local lo = math.huge; for _, v in ipairs(R[#R]) do lo = math.min(lo, v) end; return lo end }\n"
      "assert(m.list('classification')[6].name == 'min_final', 'a new metric goes after the built-ins')\n"
      "local tasks = {}\n"
      "for i = 1, 2 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 40, n_test_per_class = 20, seed = i }\n"
      "end\n"
      "local stream = hnet.stream.from(tasks)\n"
      "local function opts() return { target = {'mlp', hidden = {8}}, iterations = 20, batch = 16, lr = 1e-2, seed = 1 } end\n"
      "local dir = os.tmpname(); os.remove(dir)\n"
      "local run = hnet.run(hnet.learners.new('finetune', opts()), stream, { scenario = 'task-given', quiet = true, out = dir })\n"
      "local want = math.min(run.R[2][1], run.R[2][2])\n"
      "local shown = ('min final %.3f'):format(want)\n"
      "assert(run.summary.min_final == want, 'summary: ' .. tostring(run.summary.min_final))\n"
      "local function slurp(p) local fh = assert(io.open(p, 'rb')); local t = fh:read('a'); fh:close(); return t end\n"
      "local js = require('cjson').decode(slurp(dir .. '/summary.json'))\n"
      "assert(math.abs(js.min_final - want) < 1e-9, 'summary.json: ' .. tostring(js.min_final))\n"
      "local text = run:report()\n"
      "assert(text:find('forgetting ', 1, true) and text:find(shown, 1, true), 'Run:report: ' .. text)\n"
      "local function hnet_report(...)\n"
      "  local p = assert(io.popen(table.concat({ './hnet report', ... }, ' ') .. ' 2>&1'))\n"
      "  local out = p:read('a'); p:close(); return out\n"
      "end\n"
      "local out = hnet_report(dir)\n"
      "assert(out:find(shown, 1, true), './hnet report DIR: ' .. out)\n"
      "local dir2 = os.tmpname(); os.remove(dir2)\n"
      "local rows = hnet.experiment.compare{ stream = stream, learners = {'finetune'}, scenarios = {'task-given'},\n"
      "  learner_options = opts, quiet = true, out = dir2 }\n"
      "local r = rows[1]\n"
      "assert(r.min_final == math.min(r.final[1], r.final[2]), 'result row: ' .. tostring(r.min_final))\n"
      "local md = hnet.experiment.markdown(rows)\n"
      "assert(md:find('| forgetting | min final % | task inference % |', 1, true), md)\n"
      "assert(md:find((' | %.3f | '):format(r.min_final), 1, true), md)\n"
      "out = hnet_report(dir, dir2 .. '/finetune-task-given')\n"
      "assert(out:find('min final %%%s+' .. ('%.3f'):format(want):gsub('%.', '%%.') .. '%s+'\n"
      "  .. ('%.3f'):format(r.min_final):gsub('%.', '%%.')), './hnet report A B: ' .. out)\n"
      "assert(os.execute('rm -rf ' .. dir .. ' ' .. dir2))\n"
      "m.register { name = 'boom', fn = function() error('no data') end }\n"
      "refused(\"metric 'boom': \", m.summary, { {1} })\n"
      "m.register { name = 'boom', replace = true, fn = function() return 'high' end }\n"
      "refused(\"metric 'boom' returned a string (a number or nil expected)\", m.summary, { {1} })\n"
      "m.register { name = 'boom', replace = true, fn = function() return 0/0 end }\n"
      "refused(\"metric 'boom' returned \", m.summary, { {1} })\n"
      "refused(\"'classification' or 'regression' expected, got both\", m.summary, { {1} }, nil, 'both')\n");
}

/* The learner protocol in code (hnet.learners.base): a subclass gets every
 * method with its default; the required ones (schedule, setup, predict)
 * raise until defined; train_task's default runs train_step from hooks.from
 * and stops when hooks.step says so; watch() defaults to the tensors of
 * state(). Every built-in learner is a base learner answering the protocol,
 * task_conditioned() true exactly for those with one network per task. */
static void test_learner_protocol(void **state) {
  (void)state;
  hntl_run_fresh(
      "local base = require 'hnet.learners.base'\n"
      "local C = base.class()\n"
      "local l = setmetatable({}, C)\n"
      "assert(base.is_learner(l) and not base.is_learner({}))\n"
      "assert(l:name() == 'learner' and next(l:options()) == nil and next(l:implied_options()) == nil)\n"
      "assert(l:task_conditioned() == false and l:n_trainable() == 0 and l:state() == nil)\n"
      "assert(l:infer_task() == nil and l:hint('nonfinite') == nil and #l:watch() == 0)\n"
      "for _, m in ipairs{ 'schedule', 'setup', 'predict' } do\n"
      "  local ok, err = pcall(l[m], l)\n"
      "  assert(not ok and err:find('does not define ' .. m .. '()', 1, true), tostring(err))\n"
      "end\n"
      "local ok, err = pcall(l.load_state, l, {})\n"
      "assert(not ok and err:find('cannot resume', 1, true), tostring(err))\n"
      "-- a subclass of a subclass: train_task's default loop\n"
      "local D = base.class(C)\n"
      "local steps = {}\n"
      "function D:schedule() return { iterations = 5, batch = 1, eval_batch = 1 } end\n"
      "function D:train_step(it) steps[#steps + 1] = it; return it, 0 end\n"
      "function D:state() return { b = hnet.tensor(2), a = hnet.tensor(1), n = 3 } end\n"
      "local d = setmetatable({}, D)\n"
      "assert(base.is_learner(d) and d:name() == 'learner')\n"
      "assert(d:train_task(1, {}, { from = 2 }) == 5 and table.concat(steps, ',') == '2,3,4,5')\n"
      "steps = {}\n"
      "assert(d:train_task(1, {}, { step = function(it) return it == 3 end }) == 3)\n"
      "assert(table.concat(steps, ',') == '1,2,3')\n"
      "local w = d:watch()\n"
      "assert(#w == 2 and w[1][1] == 'a' and w[2][1] == 'b', 'watch: the tensors of state(), by name')\n"
      "-- the built-in learners\n"
      "local want = { hypernet = true, separate = true }\n"
      "for _, name in ipairs{ 'hypernet', 'finetune', 'ewc', 'online_ewc', 'si', 'separate', 'joint' } do\n"
      "  local L = hnet.learners.new(name, { iterations = 7, batch = 3, eval_batch = 11 })\n"
      "  assert(base.is_learner(L), name .. ' is not a base learner')\n"
      "  assert(L:name() == name and L:options().iterations == 7, name)\n"
      "  local s = L:schedule()\n"
      "  assert(s.iterations == 7 and s.batch == 3 and s.eval_batch == 11, name)\n"
      "  assert(L:task_conditioned() == (want[name] or false), name .. ': task_conditioned')\n"
      "  assert(L:hint('nonfinite'):find('lr = 0.001', 1, true), name)\n"
      "end\n"
      "assert(hnet.learners.new('hypernet'):implied_options().init == 'hyperfan')\n"
      "assert(hnet.learners.new('hypernet'):hint('chance'):find('init', 1, true))\n");
}

/* Test seams are not public API and the run context is no module global:
 * hnet.run refuses stop_after, hnet.ckpt has no fail_write_after, and
 * hnet.experiment.options returns the context instead of setting one on
 * hnet.run. hnet.run.testing stops a run at an exact point (a checkpoint
 * there, run.stopped) and checks that point against the stream and the
 * learner's iterations. */
static void test_seams_and_context(void **state) {
  (void)state;
  hntl_run_fresh(
      "local function refused(want, ...)\n"
      "  local ok, err = pcall(...)\n"
      "  assert(not ok and tostring(err):find(want, 1, true), 'expected ' .. want .. ', got ' .. tostring(err))\n"
      "end\n"
      "local tasks = {}\n"
      "for i = 1, 2 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 20, n_test_per_class = 5, seed = i }\n"
      "end\n"
      "local stream = hnet.stream.from(tasks)\n"
      "local function learner()\n"
      "  return hnet.learners.new('finetune', { target = {'mlp', hidden = {4}}, iterations = 20, batch = 8 })\n"
      "end\n"
      "refused(\"unknown option 'stop_after'\", hnet.run, learner(), stream, { stop_after = { task = 1, iteration = 1 } })\n"
      "assert(hnet.ckpt.fail_write_after == nil, 'the checkpoint test seam is public')\n"
      "local run_mod = require 'hnet.run'\n"
      "local saved = arg\n"
      "arg = { [0] = 'x.lua', '--quiet', '--checkpoint_every', '3' }\n"
      "local o, ctx = hnet.experiment.options(arg, { resumable = true })\n"
      "arg = saved\n"
      "assert(run_mod.context == nil and o.context == nil, 'the context went into a table other than its result')\n"
      "assert(type(ctx) == 'table' and ctx.script == 'x.lua' and ctx.checkpoint_every == 3)\n"
      "refused(\"field 'context': table expected, got string\", hnet.run, learner(), stream, { context = 'x' })\n"
      "local testing = require 'hnet.run.testing'\n"
      "local dir = os.tmpname(); os.remove(dir)\n"
      "local r = testing.run(learner(), stream, { quiet = true, plots = false, out = dir, context = ctx },\n"
      "  testing.stop_after { task = 2, iteration = 7 })\n"
      "assert(r.stopped.task == 2 and r.stopped.iteration == 7 and r.summary == nil)\n"
      "local ck = require 'hnet.checkpoint'\n"
      "local header = ck.load(dir .. '/checkpoint.hnck')\n"
      "assert(header.phase == 'in_task' and header.task == 2 and header.iteration == 7)\n"
      "local opts = require('cjson').decode(assert(require('hnet.util').read_file(dir .. '/options.json')))\n"
      "assert(opts.script == 'x.lua' and opts.checkpoint_every_minutes == 3, 'the context reached the run')\n"
      "local done = hnet.run(learner(), stream, { quiet = true, plots = false, resume = dir })\n"
      "assert(done.summary and done.R[2][2], 'resumed to the end')\n"
      "assert(os.execute('rm -rf ' .. dir))\n"
      "refused(\"field 'task'\", testing.run, learner(), stream, {}, testing.stop_after { task = 3, iteration = 1 })\n"
      "refused('past the learner', testing.run, learner(), stream, {}, testing.stop_after { task = 1, iteration = 21 })\n"
      "refused(\"unknown option 'it'\", testing.stop_after, { task = 1, it = 1 })\n"
      "refused(\"unknown option 'after_stop'\", testing.run, learner(), stream, {}, { after_stop = print })\n"
      "refused('\"task_given\" or \"domain\" expected, got cl2', done.result_of, done, 'cl2')\n"
      "assert(done:result_of() == done:result_of(nil) and done:result_of().R == done.R)\n");
}

/* Gradient-norm clipping in the baselines (plain.lua's step, here EWC on
 * task 2, so that the clipped gradient holds the penalty's too): each step
 * equals Adam on the unclipped learner's gradient at the same weights,
 * scaled by c/‖g‖ when ‖g‖ > c, bit for bit, and unscaled when below. */
static void test_baseline_clipping(void **state) {
  (void)state;
  hntl_run_fresh(
      "local tasks = {}\n"
      "for i = 1, 2 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 100,\n"
      "                                   n_test_per_class = 20, seed = i }\n"
      "end\n"
      "local info = { n_tasks = 2, n_outputs = 2, input_shape = {4}, kind = 'classification',\n"
      "  scenario = 'domain', heads = { { offset = 0, n = 2 }, { offset = 0, n = 2 } },\n"
      "  masks = function() return nil end }\n"
      "for _, c in ipairs{ 1e-3, 1e9 } do\n"
      "  local function make(clip)\n"
      "    local L = hnet.learners.ewc{ target = {'mlp', hidden = {8}}, iterations = 0, batch = 16,\n"
      "      lr = 1e-2, lambda = 1e3, clip_grad_norm = clip }\n"
      "    L:setup(info)\n"
      "    -- task 1 untrained: both anchor the penalty at the same weights\n"
      "    L:begin_task(1, tasks[1]); L:end_task(1, tasks[1]); L:begin_task(2, tasks[2])\n"
      "    return L\n"
      "  end\n"
      "  local L, R = make(c), make(0)\n"
      "  local Wref, ref = L.W:clone(), hnet.adam{ n = L.n_w, lr = 1e-2 }\n"
      "  local pen_seen = false\n"
      "  for it = 1, 5 do\n"
      "    R.W:copy(Wref)\n"
      "    local loss, pen = L:train_step(it)\n"
      "    local rloss, rpen = R:train_step(it)\n"
      "    assert(loss == rloss and pen == rpen, 'step ' .. it .. ': another batch or other weights')\n"
      "    pen_seen = pen_seen or pen > 0\n"
      "    local g = R.dW:clone()\n"
      "    local n = g:norm()\n"
      "    if c < 1 then\n"
      "      assert(n > c, 'nothing to clip')\n"
      "      g:scale(c / n)\n"
      "    else\n"
      "      assert(n < c, 'the gradient is above c')\n"
      "    end\n"
      "    ref:step(Wref, g)\n"
      "    assert(L.W:sqdist(Wref) == 0, ('c = %g, step %d: W differs from the written-out step'):format(c, it))\n"
      "  end\n"
      "  assert(pen_seen, 'the penalty was never active')\n"
      "end\n");
}

/* The EWC Fisher of a linear softmax classifier (no hidden layer) against its
 * closed form: per sample, the squared gradient of -log p_y summed over the
 * weights and biases is |p - e_y|^2 (|x|^2 + 1), p the softmax over the
 * classes the task trains (CL3: every class seen so far). y is the sample's
 * label ("given") or the most probable class ("predicted"); on task 2 the
 * untrained network mislabels samples, so the two differ, and a label off
 * by the head's offset or a softmax over the wrong classes would break the
 * match. A Fisher label on a regression task is refused. */
static void test_fisher_closed_form(void **state) {
  (void)state;
  hntl_run_fresh(
      "local tasks = {}\n"
      "for i = 1, 2 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 60,\n"
      "                                   n_test_per_class = 10, seed = i }\n"
      "end\n"
      "local heads = { { offset = 0, n = 2 }, { offset = 2, n = 2 } }\n"
      "local info = { n_tasks = 2, n_outputs = 4, input_shape = {4}, kind = 'classification',\n"
      "  scenario = 'class', heads = heads, masks = function(t, n_seen)\n"
      "    local m = {}\n"
      "    for c = 1, 4 do m[c] = c <= heads[n_seen].offset + heads[n_seen].n and 1 or 0 end\n"
      "    return m\n"
      "  end }\n"
      "local L = hnet.learners.ewc{ target = {'mlp', hidden = {}}, iterations = 0, batch = 16, seed = 5 }\n"
      "L:setup(info)\n"
      "assert(L.n_w == 20, 'a 4-to-4 linear layer has 20 parameters, got ' .. L.n_w)\n"
      "local sums = {}\n"
      "for _, labels in ipairs{ 'given', 'predicted' } do\n"
      "  local task, off = tasks[2], heads[2].offset\n"
      "  local n = task.train.x:size(1)\n"
      "  local F = L:fisher(2, task, n, labels)\n"
      "  local got = 0\n"
      "  for i = 1, L.n_w do assert(F:get(i) >= 0); got = got + F:get(i) end\n"
      "  local z, want, wrong = L:output(task.train.x, L.W), 0, 0\n"
      "  for i = 1, n do\n"
      "    local mx, arg = -math.huge, nil\n"
      "    for c = 1, 4 do local v = z:get(i, c) if v > mx then mx, arg = v, c end end\n"
      "    local p, tot = {}, 0\n"
      "    for c = 1, 4 do p[c] = math.exp(z:get(i, c) - mx); tot = tot + p[c] end\n"
      "    local label = task.train.y:get(i) + 1 + off\n"
      "    if arg ~= label then wrong = wrong + 1 end\n"
      "    local y = labels == 'given' and label or arg\n"
      "    local q, xx = 0, 1\n"
      "    for c = 1, 4 do local d = p[c] / tot - (c == y and 1 or 0); q = q + d * d end\n"
      "    for k = 1, 4 do xx = xx + task.train.x:get(i, k) ^ 2 end\n"
      "    want = want + q * xx / n\n"
      "  end\n"
      "  assert(wrong > 10, 'the untrained network should mislabel some samples, got ' .. wrong)\n"
      "  assert(math.abs(got - want) <= 1e-5 * want, ('%s: sum of F %.9g, closed form %.9g'):format(labels, got, want))\n"
      "  sums[labels] = got\n"
      "end\n"
      "assert(sums.given > 2 * sums.predicted, ('given %g, predicted %g'):format(sums.given, sums.predicted))\n"
      "local ok, err = pcall(L.fisher, L, 2, tasks[2], 4, 'true')\n"
      "assert(not ok and err:find(\"fisher labels 'true'; use 'given' or 'predicted'\", 1, true), err)\n"
      "local R = hnet.learners.ewc{ target = {'mlp', hidden = {}}, iterations = 0, batch = 16 }\n"
      "local rinfo = { n_tasks = 1, n_outputs = 1, input_shape = {1}, kind = 'regression', scenario = 'domain',\n"
      "  heads = { { offset = 0, n = 1 } }, masks = function() return nil end }\n"
      "R:setup(rinfo)\n"
      "local reg = { train = { x = hnet.randn({ 4, 1 }, hnet.rng(1)), y = hnet.randn({ 4 }, hnet.rng(2)) } }\n"
      "local ok2, err2 = pcall(R.fisher, R, 1, reg, 4, 'predicted')\n"
      "assert(not ok2 and err2:find('needs a classification task (task 1 is regression)', 1, true), err2)\n"
      "local F2 = R:fisher(1, reg, 4, 'given')\n"
      "assert(F2:sqnorm() > 0, 'the empirical Fisher of a regression task')\n");
}

/* reset_optimiser: true (the default) starts each task with a fresh Adam
 * (step count from 0, the first step's size lr per weight); false carries the
 * moments and the step count over, so the second task's first step equals
 * the step the first task's Adam would take next with that gradient. */
static void test_reset_optimiser(void **state) {
  (void)state;
  hntl_run_fresh(
      "local tasks = {}\n"
      "for i = 1, 2 do\n"
      "  tasks[i] = hnet.synthetic.blobs{ n_classes = 2, dim = 4, n_per_class = 50,\n"
      "                                   n_test_per_class = 10, seed = i }\n"
      "end\n"
      "local info = { n_tasks = 2, n_outputs = 2, input_shape = {4}, kind = 'classification',\n"
      "  scenario = 'domain', heads = { { offset = 0, n = 2 }, { offset = 0, n = 2 } },\n"
      "  masks = function() return nil end }\n"
      "for _, name in ipairs{ 'finetune', 'ewc', 'si', 'separate', 'joint' } do\n"
      "  for _, reset in ipairs{ true, false } do\n"
      "    local L = hnet.learners.new(name, { target = {'mlp', hidden = {8}}, iterations = 7, batch = 16,\n"
      "      lr = 1e-2, reset_optimiser = reset })\n"
      "    assert(L:options().reset_optimiser == reset)\n"
      "    L:setup(info)\n"
      "    L:begin_task(1, tasks[1])\n"
      "    for it = 1, 7 do L:train_step(it) end\n"
      "    L:end_task(1, tasks[1])\n"
      "    local before = L.opt\n"
      "    assert(before:step_count() == 7, name .. ': 7 steps in task 1')\n"
      "    local moments = before:state()\n"
      "    L:begin_task(2, tasks[2])\n"
      "    local what = ('%s, reset_optimiser = %s'):format(name, tostring(reset))\n"
      "    if reset then\n"
      "      assert(L.opt:step_count() == 0 and L.opt:state():sqnorm() == 0, what .. ': Adam not fresh')\n"
      "    else\n"
      "      assert(L.opt == before and L.opt:step_count() == 7, what .. ': Adam not carried over')\n"
      "      assert(L.opt:state():sqdist(moments) == 0, what .. ': moments changed')\n"
      "    end\n"
      "    L:train_step(1)\n"
      "    assert(L.opt:step_count() == (reset and 1 or 8), what .. ': step count after one step')\n"
      "  end\n"
      "end\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_hand_made),
      cmocka_unit_test(test_metric_registry),
      cmocka_unit_test(test_earlier_tasks_fixed),
      cmocka_unit_test(test_entropy_task_inference),
      cmocka_unit_test(test_scenario_table),
      cmocka_unit_test(test_compare_shares_training),
      cmocka_unit_test(test_eval_max_spread),
      cmocka_unit_test(test_learner_init_scheme),
      cmocka_unit_test(test_evaluate_on),
      cmocka_unit_test(test_default_init_shifted_inputs),
      cmocka_unit_test(test_chance_watch),
      cmocka_unit_test(test_learner_protocol),
      cmocka_unit_test(test_seams_and_context),
      cmocka_unit_test(test_baseline_clipping),
      cmocka_unit_test(test_fisher_closed_form),
      cmocka_unit_test(test_reset_optimiser),
  };
  return cmocka_run_group_tests_name("continual learning (Lua)", tests, NULL, NULL);
}
