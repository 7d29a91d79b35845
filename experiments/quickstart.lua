-- quickstart.lua — a hypernetwork-generated MLP learns two tasks of Split
-- MNIST (digits 0/1, then 2/3) one after the other, and keeps the first.
--
--   ./hnet experiments/quickstart.lua            (about a minute)
--   ./hnet experiments/quickstart.lua --quick    (a few seconds)
local hnet = require "hnet"

local o, context = hnet.experiment.options(arg, {
  out_default = "runs/quickstart",
  resumable = true, -- all its work is one hnet.run
  iterations = { 1000, "training iterations per task" },
}, "quickstart.lua: a hypernetwork learns two Split MNIST tasks in turn")
if o.quick then o.iterations = math.min(o.iterations, 150) end

local mnist = hnet.datasets.load "mnist"
local stream = hnet.stream.split(mnist, { classes_per_task = 2, tasks = 2 })

local learner = hnet.learners.hypernet {
  target = { "mlp", hidden = { 100, 100 } },
  hnet = { embedding = 32, hidden = { 50, 50 }, chunk = 6000, chunk_embedding = 32 },
  beta = 0.01, lr = 1e-3, batch = 64, iterations = o.iterations, seed = o.seed,
}
local run = hnet.run(learner, stream, { scenario = "task-given", out = o.out, force = o.force,
                                        quiet = o.quiet, verbose = o.verbose, context = context })
run:report()
for j = 1, 2 do
  print(("task %d (%s): test accuracy %.2f%%"):format(j, stream:get(j).name, run.R[2][j]))
end
return run
