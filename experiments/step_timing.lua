-- step_timing.lua — the median time of one hypernetwork training step at
-- task k of a Permuted stream (inputs 32x32 = 1024, target MLP 1000-1000-10),
-- with all k-1 earlier tasks regularised in one batched pass (or a random
-- subset of --reg_tasks of them). Earlier embeddings are random: the cost of
-- a step does not depend on their values, and skipping the k-1 earlier
-- tasks' training keeps this a measurement of the step alone.
--
--   ./hnet experiments/step_timing.lua --task 1
--   ./hnet experiments/step_timing.lua --task 10                      (PermutedMNIST-10 config)
--   ./hnet experiments/step_timing.lua --task 100 --config pm100      (PermutedMNIST-100 config)
--   mpirun -np 2 ./hnet experiments/step_timing.lua --task 100 --config pm100 --distributed --dist_split tasks
--                                  (the step over 2 ranks, make MPI=1; docs/distributed_training.md)
local hnet = require "hnet"
local E = hnet.experiment

local o = E.options(arg, {
  out_default = "runs/step_timing",
  task = { 10, "the task whose step is timed (task-1 earlier tasks are regularised)", min = 1 },
  config = { "pm10", "hypernetwork configuration", choices = { "pm10", "pm100" } },
  steps = { 10, "timed steps (after 2 warm-up steps)" },
  lookahead = { true, "look-ahead regulariser (evaluated at theta + the Adam step the task loss would take)" },
  reg_tasks = { 0, "regularise a random subset of this many earlier tasks (0: all)" },
  store_targets = { false, "store W*_t (default: recompute them from a snapshot of theta, through Gram matrices)" },
  distributed = { false, "the step over the ranks of the mpirun job (make MPI=1), split as --dist_split says" },
  dist_split = { "both", "data (each batch's rows), tasks (the earlier tasks) or both", choices = hnet.distributed.SPLITS },
}, "step_timing.lua: time one training step at task k")
if o.quick then o.steps = 2 end
local HN = {
  pm10 = { embedding = 24, hidden = { 25, 25 }, act = "elu", chunk = 78000, chunk_embedding = 8 },
  pm100 = { embedding = 128, hidden = { 200, 250, 350 }, act = "relu", chunk = 7500, chunk_embedding = 12 },
}
local k = o.task

local learner = hnet.learners.hypernet {
  target = { "mlp", hidden = { 1000, 1000 } }, hnet = HN[o.config], beta = 0.01, lr = 1e-4,
  batch = 128, iterations = o.steps, lookahead = o.lookahead, reg_tasks = o.reg_tasks,
  store_targets = o.store_targets, seed = o.seed, eval_batch = 128,
}
learner:setup { n_tasks = k, n_outputs = 10, input_shape = { 1024 }, kind = "classification" }
local group
if o.distributed then
  hnet.distributed.require_built("--distributed")
  group = hnet.distributed.group { split = o.dist_split }
  learner:distribute(group)
end
if k > 1 then learner.E:rows(1, k - 1):copy(learner.h:embeddings(k - 1, { rng = hnet.rng(o.seed, 9) })) end
local rng = hnet.rng(o.seed, 3)
local x = hnet.rand({ 1024, 1024 }, rng)
local y = hnet.tensor(1024)
for i = 1, 1024 do y:set(i, rng:below(10) - 1) end
local task = hnet.tasks.from_tensors { name = "random", n_classes = 10, train = { x = x, y = y },
                                       test = { x = x, y = y } }
local t0 = hnet.sys.clock()
learner:begin_task(k, task)
local setup_s = hnet.sys.clock() - t0
for it = 1, 2 do learner:train_step(it) end
local times, comm = {}, {}
for it = 1, o.steps do
  local c0 = group and group.comm_seconds or 0
  local s = hnet.sys.clock()
  learner:train_step(it)
  times[it] = hnet.sys.clock() - s
  comm[it] = group and group.comm_seconds - c0 or 0
end
local function median(v)
  table.sort(v)
  local n = #v
  return n % 2 == 1 and v[(n + 1) // 2] or 0.5 * (v[n // 2] + v[n // 2 + 1])
end
local med_comm = median(comm)
local n = #times
local med = median(times)
local line = ("task %d, config %s, %s earlier tasks regularised, look-ahead %s, %d threads: median step %.1f ms over %d steps (targets for task %d computed in %.2f s); |theta| = %d, |W| = %d, peak memory %.0f MiB")
  :format(k, o.config, o.reg_tasks > 0 and tostring(math.min(o.reg_tasks, k - 1)) or tostring(k - 1),
          tostring(o.lookahead), hnet.threads(), med * 1e3, n, k, setup_s, learner.n_theta,
          learner.n_w, hnet.sys.peak_rss_mib())
if group then
  line = line .. ("; %d ranks split by %s: %d allreduce(s) per step of %d floats, median %.1f ms of the step in them")
    :format(group.size, group.split, group.step_allreduces, learner.model.fused:numel(), med_comm * 1e3)
end
if hnet.dist.rank() == 0 then print(line) end
return { median_ms = med * 1e3, line = line }
