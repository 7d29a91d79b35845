--- hnet.run.loop — the run itself: train each task of the stream, evaluate
-- every task seen after it (and the next one before it, for forward
-- transfer), checkpoint, summarise. Everything else is beside it: the
-- scenario (hnet.run.scenario), evaluation (hnet.run.evaluate), the run
-- directory (hnet.run.directory), checkpoints and interrupts
-- (hnet.run.resume) and the numerical watch (hnet.run.watch). The loop
-- calls only the learner protocol (hnet.learners.base).
--
-- After each training step the loop calls its step hooks in order, the
-- first returning true ending the task there:
--   progress      the progress line
--   chance        the chance watch (hnet.run.watch)
--   after_step    the test seam, hooks.after_step(run, task, iteration)
--                 (hnet.run.testing installs it; hnet.run has none): true
--                 checkpoints there and returns the run early (run.stopped)
--   scan          the numerical watch, every 10 s and at a task's end
--   interrupt     a SIGINT/SIGTERM: checkpoint and exit (distributed: the
--                 stop the ranks agreed on in the step's allreduce)
--   checkpoint    every `checkpoint_every` minutes
--   same          distributed with dist_check: the ranks' parameters compared
--
-- Distributed (opts.distributed, hnet.distributed): every rank runs the
-- loop alike; rank 0 alone writes the run directory, checkpoints, plots and
-- prints; the ranks compare their parameters' checksums at each task's end
-- and agree there on a stop.
local hnet = require "hnet"
local progress = require "hnet.progress"
local scenario = require "hnet.run.scenario"
local result = require "hnet.run.result"
local resume = require "hnet.run.resume"
local watch = require "hnet.run.watch"
local distributed = require "hnet.distributed"

local M = {}
local Run = {}
-- Where the ranks other than 0 of a distributed run print: nowhere.
local NULL_OUT = { write = function() end, flush = function() end }
Run.__index = Run
M.Run = Run

for _, part in ipairs { require "hnet.run.evaluate", watch, require "hnet.run.directory", resume } do
  for k, f in pairs(part.methods) do Run[k] = f end
end

--- The main result (run.R and run.b are its matrix and baseline) and the
-- scenarios judged alongside: make(a) gives the result of scenario.ALONGSIDE
-- entry a.
function Run:set_results(main, make)
  self.result, self.R, self.b = main, main.R, main.b
  self.alongside = {}
  for _, a in ipairs(scenario.ALONGSIDE) do self.alongside[a.key] = make(a) end
end

--- The result of the run's own scenario (no key) or of one judged
-- alongside ("task_given", "domain"): { R =, b = }.
function Run:result_of(key)
  if key == nil then return self.result end
  local r = self.alongside[key]
  if not r then
    error(("bad argument #1 to 'hnet.Run:result_of' (nil, \"task_given\" or \"domain\" expected, got %s)")
      :format(tostring(key)), 2)
  end
  return r
end

-- The step hooks of task i (see the file's header); `where.it` follows the
-- last iteration done.
local function step_hooks(self, i, task, where)
  local every = self.ckpt_every * 60
  local iters = self.sched.iterations
  local list = {
    function(it, loss, reg) self.progress:step(it, loss, reg, self.sched.batch) end,
    function(it, loss) self:watch_chance(i, task, it, loss) end,
  }
  local after_step = self.hooks.after_step
  if after_step then
    list[#list + 1] = function(it)
      if after_step(self, i, it) then
        self:checkpoint("in_task", i, it)
        self.stopped = { task = i, iteration = it }
        return true
      end
    end
  end
  list[#list + 1] = function(it)
    if it == iters or hnet.sys.clock() - self.scan_clock >= 10 then self:scan(i, it) end
  end
  local group = self.group
  list[#list + 1] = function(it)
    local sig
    if group then sig = group:stop_signal() else sig = hnet.sys.interrupted() end
    if sig then self:interrupted(sig, "in_task", i, it) end
  end
  list[#list + 1] = function(it)
    if every > 0 and self.can_ckpt and hnet.sys.clock() - self.ckpt_clock >= every then
      self:checkpoint("in_task", i, it)
    end
  end
  if group and group.check_every_step then
    list[#list + 1] = function(it)
      group:check_same(("at task %d, iteration %d"):format(i, it), self.learner:watch(), false)
    end
  end
  return function(it, loss, reg)
    where.it = it
    for _, h in ipairs(list) do
      if h(it, loss, reg) then return true end
    end
  end
end

-- Train task i from iteration `from`; a fault names the task and the
-- iteration, and keeps what is on disk.
function Run:train(i, task, from)
  local where = { it = from - 1 }
  local hooks = { from = from, step = step_hooks(self, i, task, where) }
  local ok, err = xpcall(self.learner.train_task, function(e)
    if e ~= self.final_error and not watch.numerical(e) then
      self.log_lines[#self.log_lines + 1] = debug.traceback(tostring(e), 2)
    end
    return e
  end, self.learner, i, task, hooks)
  if not ok then
    if err == self.final_error then error(err, 0) end
    if watch.numerical(err) then
      local last = self.last_ckpt
        and ("the last good checkpoint (%s) is intact: resume from it once the cause is fixed (bad task data), or start again with a lower learning rate"):format(self.last_ckpt)
        or "no checkpoint had been written yet: start again with a lower learning rate"
      self:fail(("hnet.run: stopped in task %d/%d ('%s') at iteration %d: %s\nhnet.run: %s.")
        :format(i, self.T, tostring(task.name), where.it + 1, tostring(err), last))
    end
    pcall(self.write_outputs, self, false)
    error(err, 0)
  end
end

-- Evaluate task j (after n_seen tasks, through task as_task's network) and
-- put each scenario's figure into its result with set(result, value);
-- returns what Run:evaluate returns.
local function evaluate_into(self, j, n_seen, as_task, set)
  local v, inferred, given, domain = self:evaluate(j, n_seen, as_task)
  local by = { task_given = given, domain = domain }
  set(self.result, v)
  for _, a in ipairs(scenario.ALONGSIDE) do
    if by[a.key] then set(self.alongside[a.key], by[a.key]) end
  end
  return v, inferred, given, domain
end

--- Run the prepared run `self` (made by M.new) to its end, or to where a
-- test seam stops it; returns self.
function M.start(self)
  local learner, stream, T, sc = self.learner, self.stream, self.T, self.scenario
  local first = stream:get(1)
  hnet.sys.catch_interrupts()
  local early = hnet.sys.interrupted()
  if early then
    io.stderr:write("interrupted before the run started: nothing to save\n")
    os.exit(128 + early, true)
  end
  local resume_path = resume.source(self.opts, self.context)
  self.out = self.opts.out
  local group = self.group
  if group and group.rank ~= 0 then
    -- It reads a checkpoint to resume (resume_path) and writes nothing.
    self.out, self.silent = nil, true
    self.progress = progress.new { quiet = true, out = NULL_OUT,
                                   sink = function(line) self.log_lines[#self.log_lines + 1] = line end }
  end
  self.fp = self:fingerprint()
  self:prepare_dir(resume_path ~= nil)
  local heads, n_outputs = self.heads, self.n_outputs
  learner:setup { n_tasks = T, n_outputs = n_outputs, input_shape = first.input_shape,
                  kind = self.task_kind, heads = heads, scenario = sc,
                  masks = function(t, n_seen) return scenario.mask(sc, heads, n_outputs, t, n_seen) end }
  if group then
    local flat = require("hnet.run.directory").flatten({ fp = self.fp, split = group.split,
                                                         check = group.check_every_step, resume = resume_path or "" }, "")
    local keys = {}
    for k, v in pairs(flat) do keys[#keys + 1] = k .. "=" .. tostring(v) end
    table.sort(keys)
    group:agree("the run's options (learner, its options, stream, scenario, seed, split, resume)", table.concat(keys, "\n"))
    learner:distribute(group)
  end
  self.can_ckpt = learner:state() ~= nil
  self.ckpt_path = self.out and self.can_ckpt and (self.out .. "/" .. resume.CKPT_FILE) or nil
  local start, first_it = 1, 1
  self.t0 = hnet.sys.clock()
  self.ckpt_clock, self.scan_clock = self.t0, self.t0
  if resume_path then
    local phase, task, it = self:restore(resume_path)
    if self.load_only then -- hnet.run.load: read back, nothing written
      if phase ~= "finished" then
        error(("hnet.run.load: the run in %s is not finished (its checkpoint is from %s)")
          :format(self.out, resume.describe(phase, task, it)), 0)
      end
      return self
    end
    self:log("hnet.run: resuming %s from %s (%s)", self.out, resume.CKPT_FILE, resume.describe(phase, task, it))
    if phase == "finished" then
      self:log("hnet.run: the run in %s is already finished; its results are loaded, nothing is trained", self.out)
      if hnet.sys.exists(self.out .. "/summary.json") then
        self:write_log()
      else -- stopped between its last checkpoint and its last files: write them
        self:plots()
        self:write_outputs(true)
      end
      return self
    end
    if phase == "in_task" then start, first_it = task, it + 1 else start = task + 1 end
  else
    self:log("hnet.run: %s on %s (%d tasks, scenario %s, %d trainable parameters)", learner:name(),
             stream.name or "stream", T, sc, learner:n_trainable())
    if self.out and not self.can_ckpt then
      self:log("hnet.run: learner '%s' has no state(): no checkpoints, the run cannot be resumed",
               learner:name())
    end
  end
  if group then group:check_same("at the start (initialised or restored)", learner:watch(), false) end
  for i = start, T do
    local task = stream:get(i)
    local from = i == start and first_it or 1
    if from == 1 then
      learner:begin_task(i, task)
      if self.want_fwt then
        learner:begin_eval(i)
        if i == 1 then -- b_j: the untrained learner on every task
          local seen = scenario.baseline_seen(sc, self.conditioned, T)
          for j = 1, T do
            evaluate_into(self, j, seen, 1, function(r, v) r:set_baseline(j, v) end)
          end
        end
        if i > 1 then
          evaluate_into(self, i, i, nil, function(r, v) r:set_in_row(i - 1, i, v) end)
        end
      end
    end
    local ts = hnet.sys.clock()
    self.progress:begin_task(i, T, self.sched.iterations, task.name, from)
    self:train(i, task, from)
    self.progress:end_task()
    if self.stopped then
      self:log("hnet.run: stopped at task %d, iteration %d (stop_after); checkpoint %s", i,
               self.stopped.iteration, tostring(self.ckpt_path))
      self:write_outputs(false)
      return self
    end
    learner:end_task(i, task)
    local train_s = hnet.sys.clock() - ts
    learner:begin_eval(i)
    local cells = {}
    for j = 1, i do
      local v, inferred, given, domain = evaluate_into(self, j, i, nil, function(r, v) r:set(i, j, v) end)
      self.evals[#self.evals + 1] = { after = i, task = j, value = v, inferred = inferred,
                                      given = given, domain = domain, time = self:elapsed() }
      cells[#cells + 1] = inferred and ("%.2f (ti %.1f, given %.2f)"):format(v, inferred, given)
                          or ("%.2f"):format(v)
    end
    self:log("after task %d/%d (%.1f s): %s", i, T, train_s, table.concat(cells, "  "))
    if i < T then self:checkpoint("task_done", i) end
    self:write_outputs(false)
    local sig = hnet.sys.interrupted()
    if group then
      group:check_same(("after task %d"):format(i), learner:watch(), sig ~= nil)
      sig = group:stop_signal()
    end
    if sig and i < T then self:interrupted(sig, "task_done", i) end
  end
  self.summary = self:summarise()
  self:plots()
  self:checkpoint("finished", T)
  self:write_outputs(true)
  return self
end

--- A run of `learner` over `stream` with checked options `opts` (see
-- hnet.run), not started: { learner, stream, opts, scenario, T, kind, ...,
-- hooks = {} } (the test seams hnet.run.testing installs).
function M.new(learner, stream, opts)
  local sc = scenario.resolve(opts.scenario or "task-given")
  local first = stream:get(1)
  local task_kind = first.kind or "classification"
  -- Bits tasks are scored by per-bit accuracy in %: their metrics are the
  -- classification ones. A shared network gets one head of n_outputs bits
  -- per step and task (multi-head, as the Copy Task reference's baselines).
  local kind = task_kind == "bits" and "classification" or task_kind
  local conditioned = learner:task_conditioned() and true or false
  local heads, n_outputs = scenario.plan_heads(stream, sc, conditioned, task_kind == "regression")
  local ctx = opts.context
  local self = setmetatable({ learner = learner, stream = stream, opts = opts, scenario = sc,
                              heads = heads, n_outputs = n_outputs, T = stream:len(),
                              evals = {}, log_lines = {}, kind = kind, task_kind = task_kind, context = ctx,
                              sched = learner:schedule(), conditioned = conditioned,
                              hooks = {}, elapsed0 = 0 }, Run)
  self:set_results(result.new(), function() return result.new() end)
  self.progress = progress.new { quiet = opts.quiet, verbose = opts.verbose,
                                 every = opts.progress_every,
                                 sink = function(line) self.log_lines[#self.log_lines + 1] = line end }
  self.want_fwt = opts.fwt ~= false and kind ~= "regression"
  local every = opts.checkpoint_every
  if every == nil then every = ctx and ctx.checkpoint_every or 10 end
  self.ckpt_every = every
  local split = opts.distributed
  if split == nil and ctx then split = ctx.distributed end
  if split then
    distributed.require_built("--distributed (one run trained over the ranks of an mpirun job)")
    local check = opts.dist_check
    if check == nil and ctx then check = ctx.dist_check end
    self.group = distributed.group { split = split, check_every_step = check }
  end
  return self
end

return M
