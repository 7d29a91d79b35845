--- hnet.run.resume — checkpoints, resuming, interrupts.
--
-- checkpoint.hnck holds the last checkpoint: at the end of each task, every
-- `checkpoint_every` minutes, on an interrupt, and the final state. The
-- first SIGINT/SIGTERM lets the current step finish, writes a checkpoint,
-- prints how to resume and exits with 128 + the signal (130/143); a second
-- one exits at once. A checkpoint resumes only the run that wrote it: the
-- same learner, learner options, stream, scenario and seed.
local hnet = require "hnet"
local checkpoint = require "hnet.checkpoint"
local directory = require "hnet.run.directory"
local result = require "hnet.run.result"
local scenario = require "hnet.run.scenario"

local M = {}
local methods = {}
M.methods = methods

local RUN_FORMAT = "hnet-run"
local CKPT_FILE = directory.CKPT_FILE
M.CKPT_FILE = CKPT_FILE
local flatten, shell_quote, norm_dir = directory.flatten, directory.shell_quote, directory.norm_dir

--- "task 2, iteration 5" (phase "in_task") or "after task 2".
function M.describe(phase, task, it)
  if phase == "in_task" then return ("task %d, iteration %d"):format(task, it) end
  return ("after task %d"):format(task)
end
local describe = M.describe

-- "at task 2, iteration 5" / "after task 2", for "the checkpoint ..." phrases.
local function when(phase, task, it)
  return (phase == "in_task" and "at " or "") .. describe(phase, task, it)
end

--- Seconds the run has trained, over every resumed part.
function methods:elapsed() return self.elapsed0 + (hnet.sys.clock() - self.t0) end

--- Write the checkpoint (phase "in_task" after iteration `it` of `task`,
-- "task_done" after `task` was evaluated, or "finished").
function methods:checkpoint(phase, task, it)
  if not self.ckpt_path then return end
  local header = { format = RUN_FORMAT, fingerprint = self.fp, threads = hnet.threads(),
                   subnormals = hnet.subnormals(), phase = phase, task = task, iteration = it or 0,
                   written = os.date("!%Y-%m-%dT%H:%M:%SZ") }
  local state = {}
  for k, v in pairs(self.learner:state()) do state["learner/" .. k] = v end
  state["run/R"], state["run/b"], state["run/evals"] = self.result.R, self.result.b, self.evals
  for _, a in ipairs(scenario.ALONGSIDE) do
    local r = self.alongside[a.key]
    state["run/R" .. a.ckpt], state["run/b" .. a.ckpt] = r.R, r.b
  end
  state["run/log"], state["run/elapsed"], state["run/summary"] = self.log_lines, self:elapsed(), self.summary
  local ok, err = pcall(checkpoint.save, self.ckpt_path, header, state)
  if not ok then
    err = tostring(err)
    local last = self.last_ckpt and (" The last good checkpoint (%s) is intact."):format(self.last_ckpt)
      or " No checkpoint was written yet."
    if err:match("^numerical fault") then
      self:fail(("hnet.run: %s (the checkpoint %s).%s Hint: lower the learning rate (lr) or the regularisation strength (beta, lambda, c).")
        :format(err, when(phase, task, it), last))
    end
    -- The process ends here: what continues the run is --resume, once
    -- the cause (a full disk, most often) is fixed.
    local next_step = self.last_ckpt and (" Fix the cause, then " .. self:resume_hint() .. ".")
      or " Fix the cause, then start the run again."
    self:fail(("hnet.run: cannot write the checkpoint %s: %s.%s%s")
      :format(when(phase, task, it), err, last, next_step))
  end
  self.last_ckpt = ("%s, %s"):format(self.ckpt_path, describe(phase, task, it))
  self.ckpt_clock = hnet.sys.clock()
end

--- The command that resumes this run, for messages.
function methods:resume_hint()
  local ctx = self.context and (self.context.root or self.context)
  if ctx and ctx.script then
    -- The program's own flags (--threads 1, --lib DIR) come back too: a
    -- resume with another thread count is no longer bit-exact.
    -- HNET_PATH too: a learner found there must be found again.
    local cmd, hp = {}, os.getenv("HNET_PATH")
    if hp and hp ~= "" then cmd[1] = "HNET_PATH=" .. shell_quote(hp) end
    if self.group and self.group.size > 1 then cmd[#cmd + 1] = ("mpirun -np %d"):format(self.group.size) end
    cmd[#cmd + 1] = shell_quote(ctx.program or "./hnet")
    for _, f in ipairs(ctx.flags or {}) do cmd[#cmd + 1] = shell_quote(f) end
    cmd[#cmd + 1] = shell_quote(ctx.script)
    local args, i = ctx.args or {}, 1
    while i <= #args do
      local a = args[i]
      if a == "--out" or a == "--resume" then i = i + 1
      elseif a == "--force" or a:match("^%-%-out=") or a:match("^%-%-resume=") then -- dropped
      else cmd[#cmd + 1] = shell_quote(a) end
      i = i + 1
    end
    cmd[#cmd + 1] = "--resume"
    cmd[#cmd + 1] = shell_quote(ctx.out or self.out)
    return "resume with " .. table.concat(cmd, " ")
  end
  local sa = directory.script_args()
  return ("resume by passing resume = %q to hnet.run%s"):format(self.out,
    sa and (" in " .. sa.script) or "")
end

--- The first SIGINT/SIGTERM: checkpoint, say how to resume, exit 128 + sig.
function methods:interrupted(sig, phase, task, it)
  if self.silent then
    -- A distributed run's other rank: rank 0 checkpoints and tells. Leave
    -- the job cleanly (MPI_Finalize waits for rank 0 to get there too).
    hnet.dist.exit(128 + sig)
  end
  local name = sig == 2 and "SIGINT" or sig == 15 and "SIGTERM" or ("signal " .. sig)
  if self.ckpt_path then
    self:checkpoint(phase, task, it)
    self:warn(("interrupted by %s at %s; checkpoint written to %s")
      :format(name, describe(phase, task, it), self.ckpt_path))
    self:warn("interrupted: " .. self:resume_hint())
  else
    self:warn(("interrupted by %s at %s (no run directory: nothing was saved)")
      :format(name, describe(phase, task, it)))
  end
  pcall(self.write_outputs, self, false)
  io.stdout:flush()
  io.stderr:flush()
  if self.group then hnet.dist.exit(128 + sig) end
  os.exit(128 + sig, true)
end

--- What must agree between a checkpoint and the run that resumes it.
function methods:fingerprint()
  local names = {}
  for i = 1, self.T do names[i] = tostring(self.stream:get(i).name) end
  return { learner = self.learner:name(), options = flatten(self.learner:options(), ""),
           scenario = self.scenario, seed = hnet.seed(), kind = self.kind,
           stream = { name = tostring(self.stream.name), tasks = self.T, names = names },
           eval_max = self.opts.eval_max or 0, fwt = self.want_fwt,
           inference = type(self.opts.inference) == "function" and "function" or self.opts.inference or "entropy" }
end

-- `implied`: the learner's options that came after its runs were first
-- checkpointed, with the value every run had before (learner:implied_options()):
-- a checkpoint that lacks one was written with that value.
local function compare_fp(old, new, implied)
  implied = implied or {}
  local diffs = {}
  local function d(fmt, ...) diffs[#diffs + 1] = fmt:format(...) end
  if type(old) ~= "table" then return { "it holds no run description" } end
  if old.learner ~= new.learner then d("learner '%s' there, '%s' here", tostring(old.learner), new.learner) end
  if old.scenario ~= new.scenario then d("scenario '%s' there, '%s' here", tostring(old.scenario), new.scenario) end
  if old.seed ~= new.seed then d("seed %s there, %s here", tostring(old.seed), tostring(new.seed)) end
  local os_, ns = old.stream or {}, new.stream
  if os_.tasks ~= ns.tasks then d("%s tasks there, %d here", tostring(os_.tasks), ns.tasks)
  elseif os_.name ~= ns.name then d("stream '%s' there, '%s' here", tostring(os_.name), ns.name)
  else
    for i = 1, ns.tasks do
      if (os_.names or {})[i] ~= ns.names[i] then
        d("task %d is '%s' there, '%s' here", i, tostring((os_.names or {})[i]), ns.names[i])
        break
      end
    end
  end
  if old.learner == new.learner then
    local keys, seen = {}, {}
    for k in pairs(old.options or {}) do keys[#keys + 1] = k; seen[k] = true end
    for k in pairs(new.options) do if not seen[k] then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local a, b = (old.options or {})[k], new.options[k]
      if a == nil and implied[k] ~= nil then a = flatten(implied[k], k)[k] end
      if a ~= b then d("learner option '%s' is %s there, %s here", k, a or "unset", b or "unset") end
    end
  end
  if old.eval_max ~= new.eval_max then d("eval_max %s there, %s here", tostring(old.eval_max), tostring(new.eval_max)) end
  if old.fwt ~= new.fwt then d("forward-transfer evaluation %s there, %s here", tostring(old.fwt), tostring(new.fwt)) end
  -- Checkpoints from before the option was recorded used the entropy policy.
  if (old.inference or "entropy") ~= new.inference then
    d("task-inference policy '%s' there, '%s' here", tostring(old.inference or "entropy"), new.inference)
  end
  return diffs
end

--- Load the checkpoint into the run and its learner; returns where to go
-- on: phase, task, iteration.
function methods:restore(path)
  local function refuse(msg)
    error(("hnet.run: cannot resume from '%s': %s"):format(path, msg), 0)
  end
  local ok, header, state = pcall(checkpoint.load, path)
  if not ok then
    local msg = tostring(header)
    -- A run keeps one checkpoint: there is no earlier one to fall back on.
    if msg:find("damaged", 1, true) then
      msg = msg .. " (a run keeps only its last checkpoint: start the run over with force = true (--force), or restore the file from a backup)"
    end
    refuse(msg)
  end
  if type(header) ~= "table" or header.format ~= RUN_FORMAT then
    refuse("it is a checkpoint, but not of an hnet.run run")
  end
  local diffs = compare_fp(header.fingerprint, self.fp, self.learner:implied_options())
  if #diffs > 0 then
    refuse(("it was written by a different run: %s. Resume with the same script, options and seed, or start a new run (another --out, or --force)")
      :format(table.concat(diffs, "; ")))
  end
  local phase, task, it = header.phase, header.task, header.iteration
  local iters = self.sched.iterations
  if not (phase == "in_task" or phase == "task_done" or phase == "finished")
     or math.type(task) ~= "integer" or task < 1 or task > self.T
     or math.type(it) ~= "integer" or it < 0 or it > iters
     or (phase == "finished" and task ~= self.T) then
    refuse(("its position (%s, task %s, iteration %s) does not fit this run of %d tasks")
      :format(tostring(phase), tostring(task), tostring(it), self.T))
  end
  local ls = {}
  for k, v in pairs(state) do
    local name = type(k) == "string" and k:match("^learner/(.*)$")
    if name then ls[name] = v end
  end
  local R, b, evals, log = state["run/R"], state["run/b"], state["run/evals"], state["run/log"]
  if type(R) ~= "table" or type(b) ~= "table" or type(evals) ~= "table" or type(log) ~= "table"
     or type(state["run/elapsed"]) ~= "number" then
    refuse("the run's own state (R, b, evals, log, elapsed) is missing")
  end
  local stream = self.stream
  local lok, lerr = pcall(self.learner.load_state, self.learner, ls,
                          { task = function(i) return stream:get(i) end })
  if not lok then refuse(tostring(lerr)) end
  self:set_results(result.new(R, b), function(a)
    return result.new(state["run/R" .. a.ckpt], state["run/b" .. a.ckpt])
  end)
  self.evals, self.log_lines = evals, log
  self.elapsed0, self.summary = state["run/elapsed"], state["run/summary"]
  if header.threads ~= hnet.threads() then
    self:log("note: the checkpoint was written with %s threads, this run uses %d: results may differ from an uninterrupted run in the last bits",
             tostring(header.threads), hnet.threads())
  end
  -- Checkpoints without the mode come from builds that kept subnormals.
  local was = header.subnormals or "keep"
  if was ~= hnet.subnormals() then
    self:log("note: the checkpoint was written with subnormals %s, this run %s them (HNET_SUBNORMALS): results may differ from an uninterrupted run",
             was, hnet.subnormals() == "flush" and "flushes" or "keeps")
  end
  self.last_ckpt = ("%s, %s"):format(path, describe(phase, task, it))
  return phase, task, it
end

--- Decide whether this run resumes: returns the checkpoint path or nil.
-- opts.resume names the run directory (and becomes opts.out); an
-- experiment's context (ctx.resume) resumes every run under its --out that
-- has a checkpoint.
function M.source(opts, ctx)
  if opts.resume then
    local dir = opts.resume
    if opts.out and norm_dir(opts.out) ~= norm_dir(dir) then
      error(("hnet.run: out '%s' and resume '%s' differ; a run resumes in its own directory (leave out 'out')")
        :format(opts.out, dir), 0)
    end
    opts.out = dir
  elseif not (ctx and ctx.resume and opts.out) then
    return nil
  end
  local dir = opts.out
  local path = dir .. "/" .. CKPT_FILE
  if hnet.sys.exists(path) then return path end
  if opts.resume or (ctx.resume_strict and norm_dir(dir) == norm_dir(ctx.resume)) then
    if hnet.sys.exists(dir) ~= "directory" then
      error(("hnet.run: cannot resume: '%s' is not a directory (give the run directory of the interrupted run)")
        :format(dir), 0)
    end
    error(("hnet.run: cannot resume from '%s': it holds no %s (was the run stopped before its first checkpoint? then start it again without --resume)")
      :format(dir, CKPT_FILE), 0)
  end
  return nil -- an experiment's run that had not started: it starts now
end

return M
