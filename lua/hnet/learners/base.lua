--- hnet.learners.base — the learner protocol, in code.
--
--   local base = require "hnet.learners.base"
--   local Mine = base.class()            -- or base.class(SomeParent)
--   function Mine:schedule() return { iterations = 100, batch = 32, eval_batch = 1000 } end
--   function Mine:setup(info) ... end
--   function Mine:train_step(it) ... return loss, reg end
--   function Mine:predict(x, t) ... return out end
--   local learner = setmetatable({ ... }, Mine)
--
-- hnet.run calls only the methods below; it never reads a learner's
-- fields. base.Learner defines every one: a method marked "required"
-- raises until a subclass defines it, the others do the obvious thing.
local M = {}

local Learner = {}
Learner.__index = Learner
M.Learner = Learner

--- A subclass of `parent` (default base.Learner): a table to be used as the
-- metatable of instances (its __index is itself); a method it lacks comes
-- from `parent`.
function M.class(parent)
  parent = parent or Learner
  if type(parent) ~= "table" then
    error(("bad argument #1 to 'hnet.learners.base.class' (a learner class expected, got %s)")
      :format(type(parent)), 2)
  end
  local cls = {}
  cls.__index = cls
  return setmetatable(cls, { __index = parent })
end

--- Is `x` an instance of base.Learner (directly or through subclasses)?
function M.is_learner(x)
  if type(x) ~= "table" then return false end
  local mt, seen = getmetatable(x), 0
  while type(mt) == "table" and seen < 64 do
    if mt == Learner then return true end
    local up = getmetatable(mt)
    mt, seen = up and up.__index, seen + 1
  end
  return false
end

-- A required method that the subclass did not define.
local function missing(self, method)
  error(("hnet.learners: learner '%s' does not define %s() (hnet.learners.base: a learner must)")
    :format(tostring(self:name()), method), 3)
end

--- The learner's name as runs and checkpoints record it.
function Learner:name() return "learner" end

--- The learner's options as resolved (written to options.json and
-- compared when a checkpoint resumes): a plain table.
function Learner:options() return {} end

--- Options added after runs of this learner were first checkpointed, with
-- the value those runs had: a checkpoint lacking one ran under it.
function Learner:implied_options() return {} end

--- { iterations =, batch =, eval_batch = }: how many steps a task trains,
-- the training batch (for the progress line) and the largest batch the run
-- may pass to predict. Required.
function Learner:schedule() missing(self, "schedule") end

--- Build the networks for the run: info = { n_tasks, n_outputs,
-- input_shape, scenario, kind, heads, masks(t, n_seen) }. Required.
function Learner:setup() missing(self, "setup") end

--- The number of floats training changes (for the run's log and summary).
function Learner:n_trainable() return 0 end

--- True when predict needs the task index (one network or embedding per
-- task); false for one shared network whose heads the masks choose.
function Learner:task_conditioned() return false end

--- Before task t (a task of the stream) trains.
function Learner:begin_task() end

--- One optimisation step, iteration `it` of the current task; returns the
-- task loss and the regulariser's value (0 when none).
function Learner:train_step() error("hnet.learners: define train_step or train_task", 2) end

--- Train task t from iteration hooks.from (default 1) to
-- schedule().iterations; hooks.step(it, loss, reg) after each step, a true
-- result stopping there. Returns the last iteration done.
function Learner:train_task(_, _, hooks)
  hooks = hooks or {}
  local it = (hooks.from or 1) - 1
  local iters = self:schedule().iterations
  while it < iters do
    it = it + 1
    local loss, reg = self:train_step(it)
    if hooks.step and hooks.step(it, loss, reg) then break end
  end
  return it
end

--- Train one run over the ranks of an mpirun job (hnet.distributed.group;
-- hnet.run's `distributed` option), after setup: only a learner that
-- divides its step over ranks defines it.
function Learner:distribute()
  error(("learner '%s' cannot train one run over several processes (--distributed): only the hypernetwork learner (hypernet) divides its training step over ranks; run it without --distributed"):format(self:name()), 0)
end

--- After task t trained (consolidation: Fisher, anchors, ...).
function Learner:end_task() end

--- Before evaluating with n_seen tasks known (e.g. generate their weights).
function Learner:begin_eval() end

--- The output [n, k] (or [n, T, k] per step) for the batch x (eval mode;
-- valid until the next call); t is the task index when
-- task_conditioned(), nil otherwise; lengths (the third argument): the
-- per-sample sequence lengths [n] when the task's data carry them, else
-- nil. Required.
function Learner:predict() missing(self, "predict") end

--- The task kinds the learner trains (hnet.run refuses a stream of another
-- kind): a list of "classification", "regression", "bits".
function Learner:task_kinds() return { "classification", "regression" } end

--- Does the learner pass per-sample sequence lengths (a split's `lengths`,
-- predict's third argument) to its networks, in training and in predict?
-- hnet.run refuses tasks with lengths for a learner that does not.
function Learner:takes_lengths() return false end

--- The task of each row of x (given the samples' lengths, or nil) when the
-- task is not given, or nil for the run's policy (lowest entropy over
-- predict(x, t, lengths), t = 1..n_seen): infer_task(x, n_seen, lengths).
function Learner:infer_task() return nil end

--- Everything needed to continue, as name -> tensor|number|string|integer
-- list (see hnet.checkpoint), or nil when the learner cannot be
-- checkpointed.
function Learner:state() return nil end

--- Restore a state() after setup(); ctx.task(i) gives task i.
function Learner:load_state() error("hnet.learners: this learner cannot resume (it defines no load_state)", 2) end

--- The tensors the run's numerical watch scans: { {name, tensor}, ... }.
-- By default every tensor of state(), by name.
function Learner:watch()
  local list = {}
  local s = self:state()
  if s == nil then return list end
  -- Loaded here: hnet.checkpoint needs cjson, which a learner alone does not.
  local checkpoint = require "hnet.checkpoint"
  for k, v in pairs(s) do
    if checkpoint.is_tensor(v) then list[#list + 1] = { k, v } end
  end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

--- A phrase of advice for a fault (what: "nonfinite" for NaN/Inf in
-- training or evaluation, "chance" for a task that does not learn), or nil.
function Learner:hint() return nil end

--- The option spec of the learner's own options (a class field, not a
-- method: a subclass sets its own list): none here.
Learner.cli = {}

return M
