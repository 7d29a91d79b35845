--- hnet.compare — the runs of hnet.experiment.compare: each learner under
-- each scenario on one stream, in one process, or spread over the ranks of
-- an Open MPI job (mpirun -np N; hnet.sweep hands the runs out and reads
-- them back) with the same rows on every rank.
local hnet = require "hnet"
local scenario = require "hnet.run.scenario"

local M = {}

-- True when every task of the stream has the same number of outputs: then a
-- learner with one network per task trains identically in every scenario
-- (no output mask in any of them; the scenario only changes evaluation).
local function uniform_heads(stream)
  local k
  for t = 1, stream:len() do
    local task = stream:get(t)
    local n = task.n_classes or task.n_outputs or 1
    if k and n ~= k then return false end
    k = n
  end
  return true
end

-- A result row. `R` is the accuracy matrix its figures come from and `dir`
-- the run directory holding its files (nil without spec.out); a row read
-- off another scenario's run has that run's matrix for the row's scenario
-- (task-given or domain) and that run's directory.
-- Every registered metric is a field of the row under its name.
local function result_row(name, sc, s, run, R, dir)
  local row = { learner = name, scenario = sc, task_inference = s.task_inference,
                final = s.final or s.final_mse, regression = run.summary.final_mse ~= nil,
                seconds = s.seconds, params = s.trainable_parameters, run = run, R = R or run.R, dir = dir }
  for _, e in ipairs(hnet.metrics.list()) do row[e.name] = s[e.name] end
  return row
end

--- Run each learner (name -> options) under each scenario on `stream`.
-- Every run gets its own directory out/<learner>-<scenario>. Returns the
-- list of result rows.
--
-- Learners with one network per task (hypernet, separate) train the same
-- way whatever the scenario when all tasks have the same number of classes,
-- and a run that infers the task also evaluates its networks with the task
-- given and, a class run, on the label within the inferred task (CL2). So
-- such a learner trains once, in its "carrier" scenario (class if asked
-- for, else domain: hnet.run.scenario.carrier), and its task-given and domain rows are read off that
-- run (row.shared_with names it) instead of training identical models two
-- or three times. spec.share_training = false trains every scenario
-- separately. spec.context is the script's (M.options' second result),
-- given to every run.

-- The hnet.run options that compare (and hnet.experiment.grid) hand to
-- every run as given; M.run_options builds a run's table from them.
M.RUN_OPTIONS = {
  { name = "force", type = "boolean", help = "hnet.run's force" },
  { name = "quiet", type = "boolean", help = "hnet.run's quiet (and no reports)" },
  { name = "verbose", type = "boolean", help = "hnet.run's verbose" },
  { name = "eval_max", type = "integer", min = 1, help = "hnet.run's eval_max" },
  { name = "inference", type = "any", help = "hnet.run's inference (a task-inference policy name or function)" },
  { name = "meta", type = "table", help = "hnet.run's meta" },
  { name = "context", type = "table", help = "the experiment's context (hnet.experiment.options's second result), passed to every run" },
}

--- One run's hnet.run options: its scenario and directory, and the
-- M.RUN_OPTIONS fields of the checked options o as given.
function M.run_options(o, sc, out)
  local r = { scenario = sc, out = out }
  for _, e in ipairs(M.RUN_OPTIONS) do r[e.name] = o[e.name] end
  return r
end

-- Every learner name, scenario and learner option is checked before the
-- first run trains: all the learners are made up front.
M.OPTIONS = {
  { name = "stream", type = "table", required = true, help = "the stream every run learns" },
  { name = "learners", type = "table", required = true, help = "a list of learner names" },
  { name = "scenarios", type = "table", required = true, help = "a list of hnet.run scenarios" },
  { name = "learner_options", type = "function", required = true,
    help = "function(name, scenario) -> the learner's options (hnet.experiment.learner_options builds one)" },
  { name = "out", type = "string", help = "root of the run directories (out/<learner>-<scenario>); none: nothing written" },
  { name = "share_training", type = "boolean", default = true,
    help = "train a learner with one network per task once and read its task-given/domain rows off that run" },
}
for _, e in ipairs(M.RUN_OPTIONS) do table.insert(M.OPTIONS, #M.OPTIONS, e) end
-- compare's options checked through M.OPTIONS (hnet.spec.check:
-- unknown keys, types, bounds, defaults), then the lists' entries and the
-- learners made; returns the learners and the checked options. Errors name
-- compare's caller.
local function make_learners(opts)
  local f = "hnet.experiment.compare"
  if type(opts) ~= "table" then error(("bad argument #1 to '%s' (table expected, got %s)"):format(f, type(opts)), 3) end
  local spec = require("hnet.spec").check(M.OPTIONS, opts, f, 1, 3)
  local function list(key)
    local v = spec[key]
    if type(v) ~= "table" or #v == 0 then
      error(("bad argument #1 to '%s' (field '%s': a non-empty list expected, got %s)"):format(f, key, type(v)), 4)
    end
    local seen = {}
    for i, x in ipairs(v) do
      if seen[x] then
        error(("bad argument #1 to '%s' (field '%s': '%s' is listed twice, as entries %d and %d)")
          :format(f, key, tostring(x), seen[x], i), 4)
      end
      seen[x] = i
    end
    return v
  end
  local scenario_ok = {}
  for _, sc in ipairs(require("hnet.run").scenarios()) do scenario_ok[sc] = true end
  for i, sc in ipairs(list("scenarios")) do
    if not scenario_ok[sc] then
      error(("bad argument #1 to '%s' (field 'scenarios': entry %d is '%s'; allowed: %s)")
        :format(f, i, tostring(sc), table.concat(require("hnet.run").scenarios(), ", ")), 3)
    end
  end
  for i, name in ipairs(list("learners")) do
    local ok, why = hnet.learners.exists(name)
    if not ok then
      error(("bad argument #1 to '%s' (field 'learners': entry %d is '%s', not a learner: %s)")
        :format(f, i, tostring(name), why), 3)
    end
  end
  local made = {}
  for _, name in ipairs(spec.learners) do
    made[name] = {}
    for _, sc in ipairs(spec.scenarios) do
      made[name][sc] = hnet.learners.new(name, spec.learner_options(name, sc))
    end
  end
  return made, spec
end

function M.run(opts)
  local rows, uniform = {}, nil
  local made, spec = make_learners(opts)
  local carrier = scenario.carrier(spec.scenarios)
  local function dir_of(name, sc) return spec.out and (spec.out .. "/" .. name .. "-" .. sc) end
  -- The scenarios of learner `name` in order, each { sc =, train = false
  -- when its row is read off the carrier's run }.
  local function plan(name)
    local list, pending = {}, {}
    for _, sc in ipairs(spec.scenarios) do
      local share = scenario.carried(carrier, sc) and made[name][sc]:task_conditioned() and spec.share_training
                    and not pending[sc]
      if share and uniform == nil then uniform = uniform_heads(spec.stream) end
      pending[sc] = share and uniform or nil
      list[#list + 1] = { sc = sc, train = not (share and uniform) }
    end
    return list
  end
  local function job(name, sc)
    return { name = name .. "-" .. sc, learner = made[name][sc], stream = spec.stream,
             opts = M.run_options(spec, sc, dir_of(name, sc)) }
  end
  -- Over several ranks every planned run trains first, spread over the
  -- ranks (hnet.sweep); the loop below then takes them in order.
  local done = {}
  if hnet.dist.size() > 1 then
    local jobs = {}
    for _, name in ipairs(spec.learners) do
      for _, p in ipairs(plan(name)) do
        if p.train then jobs[#jobs + 1] = job(name, p.sc) end
      end
    end
    for i, run in ipairs(require("hnet.sweep").take(jobs, "hnet.experiment.compare", spec.context)) do
      done[jobs[i].name] = run
    end
  end
  local function train(name, sc)
    local run = done[name .. "-" .. sc]
    if not run then -- one process; or, over ranks, a row the carrier could not give after all
      run = require("hnet.sweep").take({ job(name, sc) }, "hnet.experiment.compare", spec.context)[1]
    end
    if not spec.quiet and hnet.dist.rank() == 0 then run:report() end
    return run
  end
  for _, name in ipairs(spec.learners) do
    local learner_rows, pending = {}, {} -- pending[scenario] = index of a row the carrier fills
    for _, p in ipairs(plan(name)) do
      local sc = p.sc
      if not p.train then
        learner_rows[#learner_rows + 1] = false
        pending[sc] = #learner_rows
      else
        local run = train(name, sc)
        learner_rows[#learner_rows + 1] = result_row(name, sc, run.summary, run, nil, dir_of(name, sc))
        if sc == carrier then
          for psc, k in pairs(pending) do
            local key = scenario.carried(carrier, psc)
            local g = run.summary[key]
            if g then
              local r = result_row(name, psc, g, run, run:result_of(key).R, dir_of(name, sc))
              r.seconds, r.params, r.shared_with = run.summary.seconds, run.summary.trainable_parameters, sc
              learner_rows[k] = r
            end
          end
        end
      end
    end
    for _, sc in ipairs(spec.scenarios) do -- nothing to read off after all: train it
      local k = pending[sc]
      if k and not learner_rows[k] then
        local run = train(name, sc)
        learner_rows[k] = result_row(name, sc, run.summary, run, nil, dir_of(name, sc))
      end
    end
    for _, r in ipairs(learner_rows) do rows[#rows + 1] = r end
  end
  return rows
end

M.row = result_row

return M
