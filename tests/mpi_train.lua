-- mpi_train.lua — the run tests/test_mpi_train.c trains under mpirun (and in
-- one process): a tiny hypernetwork learner over a stream of random
-- classification tasks (each labels 8-dimensional Gaussian inputs by the
-- argmax of its own random linear map), through hnet.run with the
-- experiment's --distributed / --dist_split / --resume options.
--   ./hnet tests/mpi_train.lua --out DIR [--distributed --dist_split S] [--lookahead]
--       [--theta_out F]   rank 0 writes θ then E there (raw little-endian floats)
--       [--perturb IT]    test hook: rank 1 changes θ after iteration IT of task 1
--       [--stop_task T --stop_it IT]  checkpoint after iteration IT of task T and return
--       [--signal_rank R --signal_it IT]  rank R alone catches SIGTERM after iteration IT
--       [--ready_file F]  rank 0 creates F once training is under way
--       [--watch_writes]  ranks other than 0 report any file they write
local hnet = require "hnet"
local E = hnet.experiment

local o, ctx = E.options(arg, {
  resumable = true, out_default = "runs/mpi_train",
  tasks = { 5, "tasks in the stream" },
  iterations = { 40, "steps per task" },
  batch = { 32, "the global batch (3 ranks split by data: 10, 11 and 11 rows)" },
  lr = { 1e-2, "learning rate" },
  scenario = { "task-given", "task-given (CL1), domain (CL2) or class (CL3)" },
  lookahead = { false, "look-ahead regulariser" },
  reg_tasks = { 0, "a random subset of this many earlier tasks per step (0: all)" },
  store_targets = { false, "store W* (default: recompute them from θ*, as the learners do)" },
  theta_out = { "", "rank 0 writes θ and E here as raw floats" },
  perturb = { 0, "test hook: rank 1 adds 1e-3 to θ[1] after this iteration of task 1 (0: never)" },
  stop_task = { 0, "test hook: stop (checkpoint and return) after --stop_it of this task (0: never)" },
  stop_it = { 1, "the iteration --stop_task stops after" },
  signal_rank = { -1, "test hook: this rank sends itself SIGTERM after --signal_it of task 1 (-1: none)" },
  signal_it = { 1, "the iteration after which --signal_rank signals itself" },
  ready_file = { "", "test hook: rank 0 creates this file after iteration 20 of task 1 (training is under way)" },
  watch_writes = { false, "ranks other than 0 report every file they write (test of rank 0 writing alone)" },
}, "mpi_train.lua: a tiny distributed hypernetwork run")

local rank = hnet.dist.rank()
if o.watch_writes and rank ~= 0 then
  -- Every way hnet.run writes a file goes through one of these.
  local function report(what, path) io.stderr:write(("rank %d wrote %s %s\n"):format(rank, what, tostring(path))) end
  local sys, ck = hnet.sys, require "hnet.checkpoint"
  local wf, mk, save, open, rm = sys.write_file, sys.mkdir_p, ck.save, io.open, os.remove
  sys.write_file = function(p, ...) report("write_file", p) return wf(p, ...) end
  sys.mkdir_p = function(p, ...) report("mkdir_p", p) return mk(p, ...) end
  ck.save = function(p, ...) report("checkpoint", p) return save(p, ...) end
  io.open = function(p, mode, ...)
    if mode and mode:find("[wa+]") then report("io.open", p) end
    return open(p, mode, ...)
  end
  os.remove = function(p) report("os.remove", p) return rm(p) end
end

local D, K, N = 8, 3, 120
local tasks = {}
for t = 1, o.tasks do
  local rng = hnet.rng(1000 + t, 1)
  local Wt = hnet.randn({ D, K }, rng)
  local function split(n)
    local x = hnet.randn({ n, D }, rng)
    local y = hnet.tensor(n)
    local s = x:flat_table()
    local w = Wt:flat_table()
    for i = 1, n do
      local best, arg_best = -math.huge, 0
      for k = 1, K do
        local v = 0
        for d = 1, D do v = v + s[(i - 1) * D + d] * w[(d - 1) * K + k] end
        if v > best then best, arg_best = v, k - 1 end
      end
      y:set(i, arg_best)
    end
    return { x = x, y = y }
  end
  tasks[t] = hnet.tasks.from_tensors { name = "random" .. t, n_classes = K, train = split(N), test = split(60) }
end
local stream = hnet.stream.from(tasks, { name = "random" })

local learner = hnet.learners.hypernet {
  target = { "mlp", hidden = { 8 } }, hnet = { embedding = 4, hidden = { 10 }, chunk = 0 },
  beta = 0.05, lr = o.lr, batch = o.batch, iterations = o.iterations, eval_batch = 60,
  lookahead = o.lookahead, reg_tasks = o.reg_tasks, store_targets = o.store_targets, seed = o.seed,
}
local testing = require "hnet.run.testing"
local hooks = {}
if o.stop_task > 0 then hooks = testing.stop_after { task = o.stop_task, iteration = o.stop_it } end
if o.perturb > 0 then
  hooks.after_step = function(_, t, it)
    if rank == 1 and t == 1 and it == o.perturb then learner.theta:set(1, learner.theta:get(1) + 1e-3) end
    return false
  end
end
if o.signal_rank >= 0 then
  local stop = hooks.after_step
  hooks.after_step = function(r, t, it)
    if rank == o.signal_rank and t == 1 and it == o.signal_it then
      os.execute("kill -TERM " .. hnet.sys.getpid())
    end
    return stop and stop(r, t, it) or false
  end
end
if o.ready_file ~= "" then
  local before = hooks.after_step
  hooks.after_step = function(r, t, it)
    if rank == 0 and t == 1 and it == 20 then assert(hnet.sys.write_file(o.ready_file, "ready\n")) end
    return before and before(r, t, it) or false
  end
end
local run = testing.run(learner, stream, { out = o.out, context = ctx, quiet = o.quiet, scenario = o.scenario,
                                                               plots = false, force = o.force }, hooks)
if rank == 0 and o.theta_out ~= "" then
  local parts = {}
  for _, t in ipairs { learner.theta, learner.E } do
    for _, v in ipairs(t:flat_table()) do parts[#parts + 1] = string.pack("<f", v) end
  end
  assert(hnet.sys.write_file(o.theta_out, table.concat(parts)))
end
if rank == 0 then print(("final accuracy %.2f"):format(run.summary and run.summary.acc or -1)) end
