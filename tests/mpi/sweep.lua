-- tests/mpi/sweep.lua — a small sweep for tests/test_mpi_sweep.c: Split
-- MNIST (the 10k subset), 3 tasks, a small MLP, several learners and two
-- scenarios through hnet.experiment.compare, runs of uneven length (the
-- hypernetwork trains longest). Under `mpirun -np N` the runs are spread
-- over the ranks.
--   ./hnet tests/mpi/sweep.lua --out DIR [--iterations N] [--pids DIR] [--resume DIR]
-- --pids DIR: each rank writes its process id to DIR/rank<r> (the test
-- kills one rank's process with it).
local hnet = require "hnet"
local E = hnet.experiment

local o, context = E.options(arg, {
  out_default = "runs/sweep-test",
  resumable = true,
  learners = E.learners_option("hypernet,finetune,ewc,si,separate,joint"),
  scenarios = E.scenarios_option("task-given,class"),
  iterations = { 30, "training iterations per task (the hypernetwork: 3x)" },
  pids = { nil, "write this rank's pid to DIR/rank<r>", type = "string" },
  grid = { false, "instead: hnet.experiment.grid, ewc over lambda in {1, 100} x lr in {0.001, 0.01}, task-given" },
}, "tests/mpi/sweep.lua: a small sweep over ranks")
if o.pids then
  assert(hnet.sys.mkdir_p(o.pids))
  assert(hnet.sys.write_file(("%s/rank%d"):format(o.pids, hnet.dist.rank()), tostring(hnet.sys.getpid()) .. "\n"))
end
local ds = hnet.datasets.load("mnist")
local stream = hnet.stream.split(ds, { classes_per_task = 2, tasks = 3 })
local learner_options = E.learner_options(o, {
  all = { target = { "mlp", hidden = { 32 } }, lr = 1e-3, batch = 32 },
  learner = { hypernet = { hnet = { embedding = 8, hidden = { 16 }, chunk = 600, chunk_embedding = 8 },
                           iterations = 3 * o.iterations } },
})
if o.grid then
  local rows = E.grid {
    context = context, stream = stream, learner = "ewc", out = o.out, force = o.force, quiet = o.quiet,
    verbose = o.verbose, eval_max = 200, meta = { experiment = "grid-test", seed = o.seed },
    grid = { lambda = { 1.0, 100.0 }, lr = { 0.001, 0.01 } },
    learner_options = function(p)
      local t = learner_options("ewc")
      t.lambda, t.lr = p.lambda, p.lr
      return t
    end,
  }
  E.finish(rows, o, ("grid test, seed %d, %d iterations per task"):format(o.seed, o.iterations))
  return rows
end
local rows = E.compare {
  context = context, stream = stream, learners = hnet.cli.list(o.learners),
  scenarios = hnet.cli.list(o.scenarios), learner_options = learner_options, out = o.out,
  force = o.force, quiet = o.quiet, verbose = o.verbose, eval_max = 200,
  meta = { experiment = "sweep-test", seed = o.seed },
}
E.finish(rows, o, ("sweep test, seed %d, %d iterations per task"):format(o.seed, o.iterations))
return rows
