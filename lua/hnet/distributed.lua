--- hnet.distributed — one training run over the ranks of an Open MPI job
-- (mpirun -np N ./hnet SCRIPT --distributed): the group a learner trains
-- in. Every rank runs the same script, holds the whole model and draws the
-- same random numbers; the splits decide which share of a step's work each
-- rank computes:
--   "data"   each rank takes its share of every global batch's rows
--   "tasks"  each rank takes its share of the regulariser's earlier tasks
--   "both"   both at once
-- and the shares' gradients are summed over the ranks (hnet.dist.allreduce)
-- so that every rank takes the same optimiser step. docs/distributed_training.md
-- says how the hypernetwork learner does it and what it costs.
--
--   local g = hnet.distributed.group { split = "both", check_every_step = false }
--   learner:distribute(g)              -- after setup, before the first task
--   local lo, hi = g:share(n)          -- this rank's items of 1..n (hi < lo: none)
--   g:check_same("after task 3", { theta, E }, stop)  -- every rank: same bits? any stop?
local dist = require "hnet.dist"
-- hnet.sys, read when called (hnet's init requires this module).
local function sys() return require("hnet").sys end

local M = {}

M.SPLITS = { "data", "tasks", "both" }
local SPLIT = { data = { data = true }, tasks = { tasks = true }, both = { data = true, tasks = true } }

local Group = {}
Group.__index = Group
M.Group = Group

--- Raise (level 0: the message alone, for the command line) unless this
-- hnet was built with MPI: hnet.dist.require_built's message, naming `what`.
function M.require_built(what)
  local ok, msg = pcall(dist.require_built, what)
  if not ok then error(msg, 0) end
end

--- A group over every rank of the job (of one rank without mpirun).
-- o = { split = "data" | "tasks" | "both", check_every_step = (compare the
-- parameters' checksums after every step, not only at each task's end) }.
function M.group(o)
  local f = "hnet.distributed.group"
  if type(o) ~= "table" then error(("bad argument #1 to '%s' (a table expected, got %s)"):format(f, type(o)), 2) end
  local s = SPLIT[o.split]
  if not s then
    error(("bad argument #1 to '%s' (field 'split': \"data\", \"tasks\" or \"both\" expected, got %s)")
      :format(f, tostring(o.split)), 2)
  end
  return setmetatable({ split = o.split, data = s.data or false, tasks = s.tasks or false,
                        rank = dist.rank(), size = dist.size(), check_every_step = o.check_every_step or false,
                        stopped = false, allreduces = 0, comm_seconds = 0 }, Group)
end

--- This rank's items of 1..n (rank `rank`'s when given), as lo, hi
-- (hi = lo - 1: none): contiguous shares that differ in size by at most
-- one, in rank order.
function Group:share(n, rank)
  rank = rank or self.rank
  local lo = (n * rank) // self.size + 1
  local hi = (n * (rank + 1)) // self.size
  return lo, hi
end

--- t summed over every rank, in place (counted in self.allreduces, its
-- wall time, waiting for the slowest rank included, in self.comm_seconds).
function Group:allreduce(t)
  self.allreduces = self.allreduces + 1
  local clock = sys().clock
  local t0 = clock()
  dist.allreduce(t)
  self.comm_seconds = self.comm_seconds + (clock() - t0)
  return t
end

--- Does this rank want the run to stop (SIGINT/SIGTERM caught by
-- hnet.sys)? Agreed through the step's allreduce (self.stopped).
function Group:stop_wanted()
  return sys().interrupted() ~= nil
end

--- The signal that stops the run after an agreed stop: this rank's own, or
-- SIGTERM for a rank that caught none (mpirun signals the ranks one by one).
function Group:stop_signal()
  if not self.stopped then return nil end
  return sys().interrupted() or 15
end

--- Collective: compare a checksum of `tensors` (a list, or a list of
-- { name, tensor } pairs as a learner's watch() gives) across the ranks and
-- agree on a stop (any rank's `stop` true stops every rank: returns true).
-- A mismatch ends the job (hnet.dist.abort) with every rank's checksum.
function Group:check_same(where, tensors, stop)
  local ts = {}
  for i, t in ipairs(tensors) do ts[i] = type(t) == "table" and t[2] or t end
  local mine = ("%016x %d"):format(dist.checksum(table.unpack(ts)), stop and 1 or 0)
  local all = dist.allgather(mine)
  local any_stop, differ = false, false
  local first = all[1]:match("^(%x+)")
  for _, s in ipairs(all) do
    local h, flag = s:match("^(%x+) (%d)$")
    if h ~= first then differ = true end
    if flag == "1" then any_stop = true end
  end
  if differ then
    local list = {}
    for r, s in ipairs(all) do list[r] = ("rank %d %s"):format(r - 1, s:match("^(%x+)")) end
    dist.abort(("hnet.distributed: the ranks hold different parameters %s (checksums: %s): a rank computed differently (another hnet build or BLAS on its node, or a fault); the run stops")
      :format(where, table.concat(list, ", ")))
  end
  if any_stop then self.stopped = true end
  return any_stop
end

--- Collective: every rank's `text` (what must be the same on every rank:
-- the run's options and seed) compared across the ranks; a difference ends
-- the job (hnet.dist.abort) naming the ranks that differ from rank 0 — a
-- rank started with other options would otherwise wait in a collective the
-- others never make, or train another run.
function Group:agree(what, text)
  local all = dist.allgather(text)
  local differ = {}
  for r, s in ipairs(all) do
    if s ~= all[1] then differ[#differ + 1] = tostring(r - 1) end
  end
  if #differ > 0 then
    dist.abort(("hnet.distributed: rank(s) %s differ from rank 0 in %s: start every rank with the same command (mpirun -np N ./hnet SCRIPT ARGS)")
      :format(table.concat(differ, ", "), what))
  end
end

--- Add an experiment's options --distributed, --dist_split and
-- --dist_check to `spec` (hnet.experiment.options, for scripts whose runs
-- all go through hnet.run with the script's context).
function M.add_options(spec)
  spec.distributed = { false, "train each run over the ranks of the mpirun job (make MPI=1; hypernet learner), split as --dist_split says" }
  spec.dist_split = { "both", "what --distributed splits over the ranks: data (each batch's rows), tasks (the regulariser's earlier tasks) or both",
                      choices = M.SPLITS }
  spec.dist_check = { false, "with --distributed: compare the ranks' parameters after every step (not only at task ends)" }
end

--- After parsing the options add_options added: refuse --distributed in
-- a build without MPI; returns true on the ranks other than 0 of a
-- distributed run, which leave the check of --out to rank 0 (it may be
-- writing there by the time they look).
function M.apply_options(o)
  if not o.distributed then return false end
  M.require_built("--distributed (one run trained over the ranks of an mpirun job)")
  return dist.rank() ~= 0
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.distributed.add_options", sig = "hnet.distributed.add_options(spec)",
    about = "add --distributed, --dist_split and --dist_check to an experiment's option spec (hnet.experiment.options does, for resumable scripts)",
    notes = "positional arguments only; this rank alone" },
  { name = "hnet.distributed.apply_options", sig = "hnet.distributed.apply_options(o) -> boolean",
    about = "refuse --distributed without MPI; true on a distributed run's ranks other than 0 (they leave --out to rank 0)",
    notes = "positional arguments only; this rank alone" },
  { name = "hnet.distributed.require_built", sig = "hnet.distributed.require_built(what)",
    about = "raise hnet.dist.require_built's message (without a position) unless built with MPI",
    notes = "positional arguments only; this rank alone" },
  { name = "hnet.distributed.group", sig = "hnet.distributed.group{ split =, check_every_step = } -> group",
    about = "the ranks of an mpirun job training one run: split = \"data\" (rows of each batch), \"tasks\" (the regulariser's earlier tasks) or \"both\"",
    notes = "options: split (required: data, tasks or both), check_every_step (false: compare the ranks' parameter checksums at each task's end only); give the group to learner:distribute(group) after setup, or use hnet.run's distributed option; docs/distributed_training.md" },
}

return M
