--- hnet.run — train a learner on a stream of tasks and evaluate it as it goes.
--
--   local run = hnet.run(learner, stream, { scenario = "task-given", out = "runs/x" })
--   run:report()
--
-- The learner is any hnet.learners.base learner (hnet.learners.new makes the
-- built-in ones); the run calls only its protocol methods. Scenarios
-- (hnet.run.scenario): "task-given" (CL1), "domain" (CL2), "class" (CL3).
-- A task-conditioned learner (one network per task: the hypernetwork,
-- separate networks) infers the task when it is not given: by default the
-- task whose prediction has the lowest mean entropy per sample (HNET+ENT).
--
-- After task i, every task j <= i is evaluated on its test split: run.R[i][j]
-- (accuracy, or MSE for regression tasks). R[i][i+1] (the next task before
-- its training) and run.b[j] (an untrained learner) give forward transfer.
-- run:result_of(key) gives the result of a scenario judged alongside
-- ("task_given", "domain"; hnet.run.scenario.ALONGSIDE).
--
-- Options (every one is checked; an unknown key is an error):
--   scenario          "task-given" (default) | "domain" | "class" (or cl1/cl2/cl3)
--   out               run directory (none: nothing is written, no checkpoints);
--                     new, empty, or an earlier run's: a folder of other
--                     files is refused
--   force             overwrite a finished or interrupted run in `out` (false)
--   resume            a run directory: continue its interrupted run from its
--                     checkpoint (a finished one is loaded, not trained again);
--                     `out` defaults to it. The checkpoint must come from the same
--                     learner, learner options, stream, scenario and seed.
--   checkpoint_every  minutes between checkpoints within a task (default 10;
--                     0: only at the end of each task)
--   quiet / verbose   print only results / progress as plain lines on a terminal
--   progress_every    seconds between plain progress lines (10)
--   fwt               evaluate forward transfer (default true; off for regression)
--   inference         function(entropies_by_task, i) -> task (task inference)
--   eval_max          evaluate on at most this many test samples per task,
--                     evenly spaced over its test split
--   plots             write PNG plots through gnuplot (default true)
--   name, meta        a label and a table stored in options.json
--   context           the context of an experiment script (the second
--                     result of hnet.experiment.options): its --resume and
--                     --checkpoint_every apply to the run (explicit options
--                     win), and its script and command line are recorded
--                     and named in resume hints
--
-- The run directory: hnet.run.directory; checkpoints, resuming and
-- interrupts: hnet.run.resume; numerical faults: hnet.run.watch. Tests stop
-- a run at an exact point through hnet.run.testing (not an option here).
local spec = require "hnet.spec"
local base = require "hnet.learners.base"
local scenario = require "hnet.run.scenario"
local directory = require "hnet.run.directory"
local loop = require "hnet.run.loop"

local M = {}

--- The names opts.scenario accepts (the checks of experiment options use it).
M.scenarios = scenario.names
M.command_of = directory.command_of
M.Run = loop.Run

-- The options: the spec that checks them is the one `./hnet help hnet.run`
-- prints.
local SPEC = require "hnet.run.spec"

-- The learner protocol hnet.run calls (hnet.learners.base defines each;
-- docs/learners.md, "The protocol").
local LEARNER_METHODS = { "name", "options", "implied_options", "schedule", "setup", "n_trainable",
                          "task_conditioned", "begin_task", "train_task", "end_task", "begin_eval",
                          "predict", "infer_task", "state", "load_state", "watch", "hint" }
-- The methods base.Learner leaves to the learner (its own raise).
local REQUIRED = { schedule = true, setup = true, predict = true }

-- Errors of the checks below are raised at the caller of the function that
-- calls M.prepare (hnet.run's caller): LEVEL from a check function, LEVEL + 1
-- from the hnet.util check it calls.
local LEVEL = 4

-- Arguments #1 and #2 of hnet.run: a learner that has every method the run
-- calls and a sound schedule, and a stream of at least one task; errors
-- name what is missing.
local function check_learner_stream(learner, stream)
  local level = LEVEL
  local f = "hnet.run"
  local how = "make one with hnet.learners.new(name, opts), or derive one from hnet.learners.base (base.class()): see lua/hnet/learners/plain.lua for a complete learner"
  if type(learner) ~= "table" then
    error(("bad argument #1 to '%s' (a learner expected, got %s; %s)"):format(f, type(learner), how), level)
  end
  local missing = {}
  for _, m in ipairs(LEARNER_METHODS) do
    if type(learner[m]) ~= "function" then missing[#missing + 1] = m .. "()"
    elseif REQUIRED[m] and learner[m] == base.Learner[m] then
      missing[#missing + 1] = m .. "() (hnet.learners.base's raises: define it)"
    end
  end
  if #missing > 0 then
    error(("bad argument #1 to '%s' (the learner lacks %s; %s)"):format(f, table.concat(missing, ", "), how), level)
  end
  local sched = learner:schedule()
  if type(sched) ~= "table" then
    error(("bad argument #1 to '%s' (the learner's schedule() must return { iterations =, batch =, eval_batch = }, got %s)")
      :format(f, type(sched)), level)
  end
  for _, k in ipairs { "iterations", "batch", "eval_batch" } do
    local v = sched[k]
    if math.type(v) ~= "integer" or v < (k == "iterations" and 0 or 1) then
      error(("bad argument #1 to '%s' (the learner's schedule().%s must be an integer >= %d, got %s)")
        :format(f, k, k == "iterations" and 0 or 1, tostring(v)), level)
    end
  end
  local ok_stream = type(stream) == "table" and type(stream.len) == "function" and type(stream.get) == "function"
  if not ok_stream then
    error(("bad argument #2 to '%s' (a stream expected (a table with len() and get(i)), got %s; make one with hnet.stream.from{ task, ... } or another hnet.stream constructor)")
      :format(f, type(stream)), level)
  end
  local T = stream:len()
  if math.type(T) ~= "integer" or T < 1 then
    error(("bad argument #2 to '%s' (the stream has %s tasks; at least one expected)"):format(f, tostring(T)), level)
  end
end

-- Argument #3: a copy of the options, checked against the spec (types,
-- bounds, choices, defaults), then what a spec cannot say.
local function check_opts(opts, stream, learner)
  local level = LEVEL
  local o = spec.check(SPEC, opts, "hnet.run", 3, level)
  if o.out == "" then error("bad argument #3 to 'hnet.run' (field 'out': empty directory name)", level) end
  if o.resume == "" then error("bad argument #3 to 'hnet.run' (field 'resume': empty directory name)", level) end
  local inf = o.inference
  if inf ~= nil and type(inf) ~= "function" then
    local policies = require "hnet.run.evaluate"
    if type(inf) ~= "string" or not policies.policies[inf] then
      error(("bad argument #3 to 'hnet.run' (field 'inference': a policy name (%s) or a function expected, got %s)")
        :format(table.concat(policies.policy_names(), ", "), type(inf) == "string" and ("'" .. inf .. "'") or type(inf)), level)
    end
  end
  local first = stream:get(1)
  local first_kind = first.kind or "classification"
  if first_kind == "regression" and scenario.resolve(o.scenario or "task-given") ~= "task-given" then
    error("bad argument #3 to 'hnet.run' (regression tasks support only scenario \"task-given\")", level)
  end
  -- Bits tasks (per-step bit outputs, e.g. the Copy Task) have no classes to
  -- gather into one head (CL3), and their tasks differ in the mapping, not
  -- in the inputs, so no task can be told from an input (CL2/CL3 inference).
  if first_kind == "bits" and scenario.resolve(o.scenario or "task-given") ~= "task-given" then
    error(("bad argument #3 to 'hnet.run' (bits tasks (%s) support only scenario \"task-given\" (CL1): they have no classes for one growing head, and their task cannot be inferred from inputs all tasks share)")
      :format(first.name or "?"), level)
  end
  local kinds = learner:task_kinds()
  local trains = false
  for _, k in ipairs(kinds) do if k == first_kind then trains = true end end
  if not trains then
    error(("bad argument #1 to 'hnet.run' (learner '%s' does not train tasks of kind '%s' (it trains: %s))")
      :format(learner:name(), first_kind, table.concat(kinds, ", ")), level)
  end
  if not learner:takes_lengths() then
    for i = 1, stream:len() do
      local t = stream:get(i)
      local given = rawget(t, "train")
      if t.seq_lengths or (type(given) == "table" and given.lengths ~= nil) then
        error(("bad argument #1 to 'hnet.run' (task %d (%s) has per-sample sequence lengths, and learner '%s' does not pass lengths to its networks (define takes_lengths() and predict(x, t, lengths)))")
          :format(i, t.name or "?", learner:name()), level)
      end
    end
  end
  return o
end

--- Check hnet.run's arguments (errors name the caller of the function
-- that calls this one) and make the run, not started (hnet.run.loop.start
-- starts it). For hnet.run and hnet.run.testing.
function M.prepare(learner, stream, opts)
  check_learner_stream(learner, stream)
  return loop.new(learner, stream, check_opts(opts, stream, learner))
end

--- Run `learner` over `stream`; see the file's header for the options.
function M.run(learner, stream, opts)
  return loop.start(M.prepare(learner, stream, opts))
end

--- The finished run in opts.resume read back, writing nothing: its
-- summary, results and the learner's final state (from its checkpoint), as
-- hnet.run returned it when it finished. opts: hnet.run's, with the same
-- learner, stream and options as the run had. For sweeps (hnet.sweep).
function M.load(learner, stream, opts)
  local run = M.prepare(learner, stream, opts)
  run.load_only = true
  return loop.start(run)
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.run", also = { "hnet.run.run" }, sig = "hnet.run(learner, stream, opts) -> run",
    about = "train a learner on a stream of tasks and evaluate it as it goes", spec = require "hnet.run.spec" },
  { name = "hnet.run.prepare", sig = "hnet.run.prepare(learner, stream, opts) -> run",
    about = "check hnet.run's arguments and make the run, not started (hnet.run.loop.start starts it)", spec = require "hnet.run.spec" },
  { name = "hnet.run.load", sig = "hnet.run.load(learner, stream, opts) -> run",
    about = "the finished run in opts.resume read back, writing nothing (summary, results, the learner's final state); the same learner, stream and options as it ran with", spec = require "hnet.run.spec" },
}

return setmetatable(M, { __call = function(_, ...) return M.run(...) end })
