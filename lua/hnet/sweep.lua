--- hnet.sweep — independent runs, in one process or spread over the ranks
-- of an Open MPI job (`mpirun -np N ./hnet SCRIPT ...`, an hnet built with
-- `make MPI=1`).
--
-- A job is one hnet.run: { name =, learner =, stream =, opts = } (opts:
-- hnet.run's options). In one process the jobs run in order. Over several
-- ranks every rank makes the same list (the same script and command line),
-- the ranks check that they agree, rank 0 hands the jobs out as ranks become
-- free (hnet.dist.jobs: runs of uneven length keep every rank busy), and
-- each job writes its run directory (opts.out, required: the ranks share the
-- file system). Then every rank has every run: its own as it trained them,
-- the others read back from their directories (hnet.run.load), so the
-- script goes on alike on every rank.
--
-- A run is single-process and seeded, so where it runs does not change its
-- figures: before each job the default generator restarts from the job's
-- seed (hnet.seed() when the job was made), so that no run sees another's
-- draws, in one process too.
-- Its figures depend on the thread count (GEMM's summation order), which is
-- recorded in options.json: runs are bit-identical for equal --threads.
local hnet = require "hnet"
local directory = require "hnet.run.directory"
local compare = require "hnet.compare"

local M = {}

-- FNV-1a over s, 64-bit (Lua integers wrap): a short digest of a job.
local function digest(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do
    h = (h ~ s:byte(i)) * 1099511628211
  end
  return ("%016x"):format(h)
end

-- What must agree between ranks for a job: its name, learner, learner
-- options, scenario, stream, seed and evaluation settings.
local function signature(job)
  local o = job.opts or {}
  local parts = { job.name, job.learner:name(), tostring(o.scenario), tostring(o.out),
                  tostring(job.stream.name), tostring(job.stream:len()), tostring(job.seed or hnet.seed()),
                  tostring(o.eval_max), type(o.inference) == "function" and "function" or tostring(o.inference) }
  local flat = directory.flatten(job.learner:options(), "")
  local keys = {}
  for k in pairs(flat) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. flat[k] end
  return digest(table.concat(parts, "\n"))
end

--- Check that every rank made the same jobs (names and settings); raise,
-- naming the first difference, when they did not. Collective.
function M.agree(jobs, what)
  local lines = {}
  -- A run is named by its directory when it has one: a batch holds runs of
  -- the same name from several experiments and seeds.
  for i, job in ipairs(jobs) do lines[i] = (job.opts.out or job.name) .. "\t" .. signature(job) end
  local all = hnet.dist.allgather(table.concat(lines, "\n"))
  for r = 1, #all do
    if all[r] ~= all[1] then
      local a, b = {}, {}
      for l in all[1]:gmatch("[^\n]+") do a[#a + 1] = l end
      for l in all[r]:gmatch("[^\n]+") do b[#b + 1] = l end
      local k = 1
      while a[k] == b[k] do k = k + 1 end
      local function show(x) return x and ("'%s'"):format(x:match("^[^\t]*")) or "none" end
      local why
      if a[k] and b[k] and a[k]:match("^[^\t]*") == b[k]:match("^[^\t]*") then
        why = ("run %d (%s) has other settings on rank %d than on rank 0 (learner options, seed or evaluation)")
          :format(k, show(a[k]), r - 1)
      else
        why = ("rank 0 has %d runs, rank %d has %d; run %d is %s on rank 0, %s on rank %d")
          :format(#a, r - 1, #b, k, show(a[k]), show(b[k]), r - 1)
      end
      error(("%s: the ranks disagree on the list of runs: %s. Every rank must run the same script with the same options, files and environment (mpirun -np N ./hnet SCRIPT ARGS)")
        :format(what or "hnet.sweep", why), 0)
    end
  end
end

--- A finished run from its directory (nothing written): as hnet.run
-- returned it. On a rank other than the one that trained it.
local function load(job)
  local o = {}
  for k, v in pairs(job.opts) do o[k] = v end
  o.resume, o.force = o.out, nil
  hnet.seed(job.seed)
  return require("hnet.run").load(job.learner, job.stream, o)
end

-- Train a job: the default generator restarts from the job's seed.
local function train(job)
  hnet.seed(job.seed)
  return hnet.run(job.learner, job.stream, job.opts)
end

-- A job trained over every rank (hnet.run's distributed option, or the
-- script's --distributed: docs/distributed_training.md).
local function distributed(job)
  local o = job.opts
  if o.distributed ~= nil then return true end
  return o.context ~= nil and o.context.distributed ~= nil -- what hnet.run reads
end

--- Run `jobs` (see the top of this file); returns their runs, in the jobs'
-- order. what: the caller's name for messages. Over several ranks every
-- job needs opts.out. A job's seed (job.seed, default hnet.seed() now) is
-- hnet.seed() while it runs; hnet.seed() is as it was afterwards. Jobs
-- that each train over every rank (--distributed) run one after the other
-- on every rank, as in one process.
function M.run(jobs, what)
  what = what or "hnet.sweep.run"
  local seed0 = hnet.seed()
  local n_dist = 0
  for _, job in ipairs(jobs) do
    job.seed = job.seed or seed0
    if distributed(job) then n_dist = n_dist + 1 end
  end
  if n_dist > 0 and n_dist < #jobs then
    error(("%s: %d of the %d runs train over every rank (distributed) and the others alone: give every run the same distributed option")
      :format(what, n_dist, #jobs), 3)
  end
  local runs = {}
  if hnet.dist.size() == 1 or n_dist > 0 then
    for i, job in ipairs(jobs) do runs[i] = train(job) end
    hnet.seed(seed0)
    return runs
  end
  for i, job in ipairs(jobs) do
    if not job.opts.out then
      error(("%s: run %d (%s) has no run directory (out): over several ranks every run writes one, and the others read it back; give the experiment an --out on a file system every rank sees")
        :format(what, i, job.name), 3)
    end
  end
  M.agree(jobs, what)
  for i in hnet.dist.jobs(#jobs) do
    runs[i] = train(jobs[i])
  end
  for i, job in ipairs(jobs) do
    if not runs[i] then runs[i] = load(job) end
  end
  hnet.seed(seed0)
  return runs
end

-- ---- batches: every run of a script at once ------------------------------------------
-- A script that makes one compare (or grid) call per seed, experiment or
-- setting would meet the other ranks at the end of each call, and a call
-- with fewer runs than ranks leaves ranks idle. hnet.sweep.batch runs the
-- script's body twice over several ranks: first collecting the runs of
-- every call (none trains; each call ends the nested experiment that made
-- it, which hnet.sweep.nested catches), then all of them at once, then the
-- body again, every call finding its runs done. In one process the body
-- runs once. The state lives in the script's context (hnet.experiment.options).

--- The error object a compare/grid call raises while its runs are collected.
M.COLLECTED = setmetatable({}, { __tostring = function()
  return "hnet.sweep: runs collected (a compare or grid call inside hnet.sweep.batch, outside hnet.sweep.nested)"
end })

local function state_of(context)
  local root = context and (context.root or context)
  return root, root and root.sweep
end

--- What compare and grid call instead of M.run: inside a batch's first
-- pass, add the jobs to the batch and raise M.COLLECTED; inside its second,
-- the runs the batch made (any other job runs now, over the ranks);
-- otherwise M.run(jobs).
function M.take(jobs, what, context)
  local _, s = state_of(context)
  if s and s.collect then
    for _, job in ipairs(jobs) do
      job.seed = job.seed or hnet.seed()
      s.collect[#s.collect + 1] = job
    end
    error(M.COLLECTED, 0)
  end
  if not (s and s.done) then return M.run(jobs, what) end
  local runs, rest, at = {}, {}, {}
  for i, job in ipairs(jobs) do
    runs[i] = job.opts.out and s.done[job.opts.out]
    if not runs[i] then rest[#rest + 1], at[#at + 1] = job, i end
  end
  for k, run in ipairs(#rest > 0 and M.run(rest, what) or {}) do runs[at[k]] = run end
  return runs
end

--- fn(...) for a nested experiment inside a batch: its results, or {}
-- when its compare/grid call was collected.
function M.nested(fn, ...)
  local res = table.pack(pcall(fn, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  if res[2] == M.COLLECTED then return {} end
  error(res[2], 0)
end

--- body() with every run of every compare/grid call it makes (inside
-- hnet.sweep.nested) spread over the ranks at once; returns body's results.
-- context: the script's (hnet.experiment.options's second result).
function M.batch(context, body)
  local root = state_of(context)
  if hnet.dist.size() == 1 or (type(root) == "table" and root.distributed ~= nil) then return body() end
  if type(root) ~= "table" then
    error("bad argument #1 to 'hnet.sweep.batch' (the script's context expected: the second result of hnet.experiment.options)", 2)
  end
  local seed0 = hnet.seed()
  root.sweep = { collect = {} }
  local ok, err = pcall(body)
  local jobs = root.sweep.collect
  root.sweep = nil
  if not ok then error(err, 0) end
  hnet.seed(seed0)
  local done = {}
  for i, run in ipairs(M.run(jobs, "hnet.sweep.batch")) do done[jobs[i].opts.out] = run end
  root.sweep = { done = done }
  local res = table.pack(pcall(body))
  root.sweep = nil
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- hnet.experiment.grid: one learner over every combination of option
-- values, each a run out/<learner>-<name>=<value>,... (in one process, or
-- spread over the ranks of an mpirun job like hnet.experiment.compare).
M.GRID_OPTIONS = {
  { name = "stream", type = "table", required = true, help = "the stream every run learns" },
  { name = "learner", type = "string", required = true, help = "the learner's name (hnet.learners)" },
  { name = "grid", type = "table", required = true,
    help = "option name -> a non-empty list of values; every combination is one run (names in sorted order, values as listed)" },
  { name = "learner_options", type = "function",
    help = "function(point) -> the learner's options at a grid point { name = value, ... } (default: the point itself)" },
  { name = "scenario", type = "string", default = "task-given", help = "the hnet.run scenario of every run" },
  { name = "out", type = "string", help = "root of the run directories; none: nothing written (one process only)" },
}
for _, e in ipairs(compare.RUN_OPTIONS) do M.GRID_OPTIONS[#M.GRID_OPTIONS + 1] = e end

-- The grid's points in order: the last name varies fastest.
local function points(grid, f)
  local names = {}
  for k in pairs(grid) do
    if type(k) ~= "string" then error(("bad argument #1 to '%s' (field 'grid': option names expected, got %s)"):format(f, type(k)), 4) end
    local v = grid[k]
    if type(v) ~= "table" or #v == 0 then
      error(("bad argument #1 to '%s' (field 'grid': '%s' must list at least one value)"):format(f, k), 4)
    end
    names[#names + 1] = k
  end
  if #names == 0 then error(("bad argument #1 to '%s' (field 'grid': no option to vary)"):format(f), 4) end
  table.sort(names)
  local out = { {} }
  for _, k in ipairs(names) do
    local next_ = {}
    for _, p in ipairs(out) do
      for _, v in ipairs(grid[k]) do
        local q = {}
        for kk, vv in pairs(p) do q[kk] = vv end
        q[k] = v
        next_[#next_ + 1] = q
      end
    end
    out = next_
  end
  return out, names
end

function M.grid(opts)
  local f = "hnet.experiment.grid"
  local o = require("hnet.spec").check(M.GRID_OPTIONS, opts, f, 1, 2)
  local ok, why = hnet.learners.exists(o.learner)
  if not ok then error(("bad argument #1 to '%s' (field 'learner': '%s' is not a learner: %s)"):format(f, o.learner, why), 2) end
  local list, names = points(o.grid, f)
  local jobs = {}
  for i, p in ipairs(list) do
    local parts = {}
    for _, k in ipairs(names) do
      local v = p[k]
      parts[#parts + 1] = k .. "=" .. (math.type(v) == "float" and ("%g"):format(v) or tostring(v))
    end
    local label = table.concat(parts, ","):gsub("[^%w%.,=_+-]", "_")
    local lopts = o.learner_options and o.learner_options(p) or p
    jobs[i] = { name = o.learner .. "-" .. label, point = p, label = label,
                learner = hnet.learners.new(o.learner, lopts), stream = o.stream,
                opts = compare.run_options(o, o.scenario, o.out and (o.out .. "/" .. o.learner .. "-" .. label)) }
  end
  local row = compare.row
  local rows = {}
  for i, run in ipairs(M.take(jobs, f, o.context)) do
    local j = jobs[i]
    if not o.quiet and hnet.dist.rank() == 0 then run:report() end
    rows[i] = row(o.learner .. " " .. j.label, run.scenario, run.summary, run, nil, j.opts.out)
    rows[i].point = j.point
  end
  return rows
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.sweep.run", sig = "hnet.sweep.run(jobs, what) -> runs",
    about = "run independent hnet.run jobs { name =, learner =, stream =, opts = }: in order in one process; under mpirun -np N spread over the ranks (rank 0 hands them out as ranks finish; every job needs opts.out on a shared file system), then every rank has every run (its own, the others read back from their directories)",
    notes = "positional arguments; collective under mpirun: every rank calls it with the same jobs (checked)" },
  { name = "hnet.sweep.take", sig = "hnet.sweep.take(jobs, what, context) -> runs",
    about = "hnet.sweep.run, or inside hnet.sweep.batch: collect the jobs (first pass) or give the batch's runs (second pass); what compare and grid call",
    notes = "positional arguments; collective under mpirun" },
  { name = "hnet.sweep.batch", sig = "hnet.sweep.batch(context, body) -> body's results",
    about = "run body twice over several ranks: collect every compare/grid call's runs (nested experiments through hnet.sweep.nested), run them all at once, then body again with the runs done; one process: body once",
    notes = "positional arguments; collective under mpirun; context: hnet.experiment.options's second result" },
  { name = "hnet.sweep.nested", sig = "hnet.sweep.nested(fn, ...) -> fn's results",
    about = "fn(...) (a nested experiment's chunk) inside hnet.sweep.batch: {} when its compare/grid call was collected",
    notes = "positional arguments" },
  { name = "hnet.sweep.agree", sig = "hnet.sweep.agree(jobs, what)",
    about = "raise, naming the first difference, unless every rank made the same jobs (names, learner options, seed); collective",
    notes = "positional arguments" },
}

return M
