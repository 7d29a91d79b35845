-- rotated_stream.lua — domain-incremental streams of rotated images: task i
-- is the whole dataset rotated by (i−1)·step degrees (same 10 classes in
-- every task, only the input distribution changes). Run on the MNIST subset
-- (hnet.datasets.load "mnist") and on Fashion-MNIST.
--
-- Scenarios: CL1 (task given: per-task heads, or the task's own embedding)
-- and CL2 (domain: one shared head; the hypernetwork infers the task per
-- test sample from the lowest predictive entropy over every embedding,
-- HNET+ENT). Learners: the hypernetwork, fine-tuning, EWC, SI and joint
-- training. Printed and written per dataset: the accuracy matrix of every
-- run (accuracy_matrix.csv, and accuracy.png for the hypernetwork), ACC,
-- BWT, FWT, forgetting and task-inference accuracy (results.md).
--
--   ./hnet experiments/rotated_stream.lua [--quick] [--datasets mnist,fashion_mnist]
--       [--tasks 10] [--step 18] [--learners a,b] [--scenarios task-given,domain]
local hnet = require "hnet"
local E = hnet.experiment

local ALL = "hypernet,finetune,ewc,si,joint"
local o, context = E.options(arg, {
  out_default = "runs/rotated_stream",
  resumable = true, -- all its work is hnet.run (E.compare)
  datasets = { "mnist,fashion_mnist", "comma-separated datasets", choices = hnet.datasets.list(), list = true },
  learners = E.learners_option(ALL),
  scenarios = E.scenarios_option("task-given,domain"),
  tasks = { 10, "number of rotated tasks" },
  step = { 18.0, "degrees between consecutive tasks (task i is rotated by (i-1)*step)" },
  iterations = { 1500, "training iterations per task" },
  hidden = { "100,100", "target MLP hidden layers" },
  beta = { 0.05, "hypernetwork regularisation strength" },
  ewc_lambda = { 5000.0, "EWC strength" },
  si_c = { 1.0, "SI strength" },
  eval_max = { 0, "test samples per task (0: all; else evenly spaced over each test split)" },
  subset = { 0, "train on a random subset of this many training samples (and a sixth as many test samples; 0: all)" },
}, "rotated_stream.lua: rotated MNIST / Fashion-MNIST, CL1 and CL2 with task inference")
local eval_max = o.eval_max > 0 and o.eval_max or nil
if o.quick then
  o.iterations = math.min(o.iterations, 150)
  if o.tasks == 10 then o.tasks, o.step = 3, 60.0 end
  if o.subset == 0 then o.subset = 1500 end
end

local hidden = {}
for _, h in ipairs(hnet.cli.list(o.hidden)) do
  local n = math.tointeger(tonumber(h))
  if not n or n < 1 then error(("--hidden: '%s' is not a positive integer"):format(h), 0) end
  hidden[#hidden + 1] = n
end

-- Each learner gets the options of its cli spec that the command line names
-- (iterations, seed, beta, ...) over these settings.
local learner_options = E.learner_options(o, {
  all = { target = { "mlp", hidden = hidden }, lr = 1e-3, batch = 128 },
  learner = { hypernet = { hnet = { embedding = 32, hidden = { 20, 20 }, act = "elu", chunk = 5000,
                                    chunk_embedding = 32 } } },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" } },
})

local all_rows, md = {}, {}
for _, dname in ipairs(hnet.cli.list(o.datasets)) do
  local ds = hnet.datasets.load(dname)
  if o.subset > 0 then ds = hnet.shift.subset(ds, o.subset, math.max(1, o.subset // 6), o.seed) end
  local stream = hnet.stream.rotated(ds, { tasks = o.tasks, step = o.step })
  local out = o.out and (o.out .. "/" .. dname)
  local rows = E.compare {
    context = context,
    stream = stream, learners = hnet.cli.list(o.learners), scenarios = hnet.cli.list(o.scenarios),
    learner_options = learner_options, out = out, force = o.force, quiet = o.quiet,
    verbose = o.verbose, eval_max = eval_max,
    meta = { experiment = "rotated_stream", dataset = dname, seed = o.seed, step = o.step },
  }
  for _, r in ipairs(rows) do
    r.dataset = dname
    all_rows[#all_rows + 1] = r
    if r.dir and r.learner == "hypernet" and hnet.dist.rank() == 0 then -- under mpirun, rank 0 writes
      -- A row read off another scenario's run lives in that run's
      -- directory, beside its own plot.
      local file = r.shared_with and ("accuracy_%s.png"):format((r.scenario:gsub("-", "_"))) or "accuracy.png"
      local ok, msg = hnet.plot.heatmap { out = r.dir .. "/" .. file,
        matrix = r.R, title = ("%s, rotated %s, %s: test accuracy %%"):format(r.learner, dname, r.scenario) }
      if not ok and not o.quiet then print(msg) end
    end
  end
  md[#md + 1] = E.markdown(rows, ("Rotated %s, %d tasks of %g degrees, seed %d, %d iterations per task")
    :format(dname, o.tasks, o.step, o.seed, o.iterations))
end
local text = table.concat(md, "\n")
if hnet.dist.rank() == 0 then print(text) end
if o.out and hnet.dist.rank() == 0 then
  assert(hnet.sys.mkdir_p(o.out))
  assert(hnet.sys.write_file(o.out .. "/results.md", text))
end
return all_rows
