--- hnet.run — train a learner on a stream of tasks and evaluate it as it goes.
--
--   local run = hnet.run(learner, stream, { scenario = "task-given", out = "runs/x" })
--   run:report()
--
-- Scenarios (von Oswald et al.; van de Ven & Tolias):
--   "task-given"  (CL1) the task identity is given at test time; each task has
--                 its own head (a per-task network, or its columns of a
--                 multi-head output layer);
--   "domain"      (CL2) one shared head of k outputs, task not given;
--   "class"       (CL3) one head over the classes of every task seen so far,
--                 task not given.
-- Learners that keep one network per task (the hypernetwork, separate
-- networks) infer the task when it is not given: by default the task whose
-- prediction has the lowest mean entropy per sample (HNET+ENT);
-- opts.inference may be a function(entropies_by_task, i) -> task to change
-- the policy.
--
-- After task i, every task j <= i is evaluated on its test split: R[i][j]
-- (accuracy, or MSE for regression tasks). R[i][i+1] (the next task before
-- its training) and b[j] (an untrained learner) give forward transfer.
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
--   stop_after        TEST HOOK: { task = i, iteration = k } checkpoints after
--                     iteration k of task i and returns early (run.stopped set),
--                     as an interrupt would, without exiting: tests use it to
--                     interrupt a run at an exact point and resume it.
--
-- Run directory (DESIGN.md §6): options.json (learner, options, scenario,
-- stream, seed, threads, hnet version, git commit, script and command line),
-- script.lua (a copy of the script), metrics.csv, accuracy_matrix.csv,
-- summary.json (finished runs only), accuracy_matrix_task_given.csv (runs that
-- infer the task with one network per task: the same networks, task given),
-- accuracy_matrix_domain.csv (class runs of such learners: the same
-- predictions judged on the label within the inferred task, i.e. their CL2),
-- checkpoint.hnck (the last checkpoint: at
-- the end of each task, every `checkpoint_every` minutes, on an interrupt,
-- and the final state), accuracy_matrix.png and accuracy_over_stream.png
-- (with gnuplot), and log.txt (everything the run printed).
--
-- Interrupts: the first SIGINT/SIGTERM lets the current step finish, writes a
-- checkpoint, prints how to resume and exits with 128 + the signal (130/143);
-- a second one exits at once. Numerical faults (NaN/Inf in a loss, a
-- regulariser or a tensor about to be saved) stop the run with a message
-- naming the task, the iteration and the tensor; the last good checkpoint is
-- never overwritten by a bad state.
--
-- Experiment scripts (hnet.experiment.options) set M.context: their --resume,
-- --checkpoint_every, script and command line apply to every hnet.run they
-- make; explicit options win.
local hnet = require "hnet"
local util = require "hnet.util"
local metrics = require "hnet.metrics"
local progress = require "hnet.progress"
local checkpoint = require "hnet.checkpoint"
local base = require "hnet.learners.base"

local M = {}
local Run = {}
Run.__index = Run

local SCENARIOS = { ["task-given"] = "task-given", cl1 = "task-given", domain = "domain",
                    cl2 = "domain", class = "class", cl3 = "class" }

--- The names opts.scenario accepts (the checks of experiment options use it).
function M.scenarios() return { "task-given", "domain", "class", "cl1", "cl2", "cl3" } end
local OPTS = { "scenario", "out", "force", "quiet", "verbose", "fwt", "inference", "eval_max",
               "name", "meta", "progress_every", "resume", "checkpoint_every", "stop_after",
               "plots" }
local CKPT_FILE = "checkpoint.hnck"
local RUN_FORMAT = "hnet-run"

-- ---- scenario bookkeeping ----------------------------------------------------

-- Heads: for task t, the output columns it owns (offset 0-based, n columns).
local function plan_heads(stream, scenario, per_task_nets, regression)
  local heads, total, kmax = {}, 0, 0
  for t = 1, stream:len() do
    local task = stream:get(t)
    local k = task.n_classes or task.n_outputs or 1
    heads[t] = { offset = total, n = k }
    total = total + k
    if k > kmax then kmax = k end
  end
  local n_outputs
  -- Regression tasks share one output head (as in the paper's toy example).
  if per_task_nets or scenario == "domain" or regression then
    n_outputs = kmax
    for t = 1, #heads do heads[t].offset = 0 end
  else
    n_outputs = total
  end
  return heads, n_outputs
end

-- The mask (a tensor of n_outputs 0/1) for training task t and evaluating
-- with n_seen tasks seen: CL1 the task's head; CL3 every head seen; CL2 none.
local function make_mask(scenario, heads, n_outputs, t, n_seen)
  if scenario == "domain" or (n_outputs == heads[t].n and heads[t].offset == 0) then return nil end
  local m = hnet.tensor(n_outputs)
  if scenario == "task-given" then
    local h = heads[t]
    for c = h.offset + 1, h.offset + h.n do m:set(c, 1) end
  else
    local last = heads[n_seen]
    for c = 1, last.offset + last.n do m:set(c, 1) end
  end
  return m
end

-- ---- evaluation ----------------------------------------------------------------

local function slices(data, size, fn)
  local n = data.x:size(1)
  local i = 1
  while i <= n do
    local j = math.min(n, i + size - 1)
    fn(data.x:rows(i, j), data.y:rows(i, j))
    i = j + 1
  end
end

-- Mean entropy task inference: pick, per sample, the task with the lowest
-- predictive entropy.
local function entropy_inference(ents, i)
  local best, bt = math.huge, 1
  for t = 1, #ents do
    local e = ents[t][i]
    if e < best then best, bt = e, t end
  end
  return bt
end

-- The number of rows (samples) of t [n, ...] holding a NaN or Inf, in the
-- columns that are scored (the mask's) for a net's output [n, k]. Such an
-- output row predicts nothing (hnet.loss scores it wrong, argmax -1). Inputs
-- are checked apart: ReLU maps NaN to 0, so a NaN input can give a finite,
-- meaningless output.
local function nonfinite_rows(t, mask)
  if t:all_finite() then return 0 end
  local n = t:size(1)
  local count = 0
  for _, p in ipairs(hnet.loss.argmax(t:view(n, t:numel() // n), { mask = mask }):flat_table()) do
    if p < 0 then count = count + 1 end
  end
  return count
end

-- Evaluate task j after n_seen tasks. Returns the metric (accuracy in
-- percent, or MSE), and, when the task had to be inferred, the
-- task-inference accuracy and the accuracy the same networks reach when the
-- task is given (percent): for learners with one network per task the
-- training does not depend on the scenario, so this is the CL1 figure of the
-- very model whose CL2/CL3 figure is the first value. A class run of such a
-- learner returns, fourth, its CL2 figure: the label within the inferred
-- task's head, whichever task that is.
-- `as_task` (optional) evaluates task j's data with task as_task's network
-- (used for b_j, where only the first task's network exists).
-- A test sample whose inputs, or outputs under any network consulted, hold
-- NaN or Inf stops the run, as a NaN in training does (Run:evaluation_fault).
function Run:evaluate(j, n_seen, as_task)
  local learner, task, sc = self.learner, self.stream:get(j), self.scenario
  local net_t = as_task or j
  local data = util.spread_rows(task.test, self.opts.eval_max)
  local n = data.x:size(1)
  local bad_inputs = nonfinite_rows(data.x)
  if bad_inputs > 0 then self:evaluation_fault(j, n, bad_inputs) end
  local bs = self.sched.eval_batch
  local bad = 0 -- test samples with a non-finite output
  if task.kind == "regression" then
    local se = 0
    slices(data, bs, function(x, y)
      local out = learner:predict(x, self.conditioned and net_t or nil)
      bad = bad + nonfinite_rows(out)
      se = se + hnet.loss.mse(out, y:view(x:size(1), 1)) * x:size(1)
    end)
    if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
    return se / n
  end
  local correct, inferred_ok, given_ok, domain_ok = 0, 0, 0, 0
  if self.conditioned then
    if sc == "task-given" then
      slices(data, bs, function(x, y)
        local out = learner:predict(x, net_t)
        bad = bad + nonfinite_rows(out)
        local _, c = hnet.loss.accuracy(out, y)
        correct = correct + c
      end)
      if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
      return 100 * correct / n
    end
    local infer = self.opts.inference or entropy_inference
    slices(data, bs, function(x, y)
      local ents, preds = {}, {}
      for t = 1, n_seen do
        local out = learner:predict(x, t)
        ents[t] = hnet.loss.entropy(out):flat_table()
        preds[t] = hnet.loss.argmax(out):flat_table()
      end
      local labels = y:flat_table()
      local own = preds[net_t]
      for i = 1, #labels do
        for k = 1, n_seen do
          if preds[k][i] < 0 then bad = bad + 1; break end
        end
        local got = infer(ents, i)
        local t = math.tointeger(got)
        if not t or t < 1 or t > n_seen then
          error(("hnet.run: the task-inference policy (option 'inference') returned %s for test sample %d of task %d; it must return a task index in 1..%d (the tasks seen so far)")
            :format(type(got) == "number" and tostring(got) or type(got), i, j, n_seen), 0)
        end
        if t == j then inferred_ok = inferred_ok + 1 end
        if own[i] == labels[i] then given_ok = given_ok + 1 end
        -- CL2: the label within the inferred task's head; CL3: the task too.
        if preds[t][i] == labels[i] then
          domain_ok = domain_ok + 1
          if sc == "domain" or t == j then correct = correct + 1 end
        end
      end
    end)
    if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
    return 100 * correct / n, 100 * inferred_ok / n, 100 * given_ok / n,
           sc == "class" and 100 * domain_ok / n or nil
  end
  -- One shared network: masks and label offsets choose the head.
  local mask = make_mask(sc, self.heads, self.n_outputs, j, n_seen)
  local offset = sc == "domain" and 0 or self.heads[j].offset
  slices(data, bs, function(x, y)
    local labels = y
    if offset ~= 0 then labels = y:clone(); labels:add(offset) end
    local out = learner:predict(x)
    bad = bad + nonfinite_rows(out, mask)
    local _, c = hnet.loss.accuracy(out, labels, { mask = mask })
    correct = correct + c
  end)
  if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
  return 100 * correct / n
end

-- Of the n test samples of task j evaluated, `bad_inputs` hold NaN or Inf
-- in their inputs, or `bad_outputs` gave NaN or Inf outputs: a score over
-- them would be meaningless, so the run stops as it does for a NaN in
-- training (Run:scan), saying whether the data or the learner is to blame.
function Run:evaluation_fault(j, n, bad_inputs, bad_outputs)
  local last = self.last_ckpt and ("the last good checkpoint (%s) is intact"):format(self.last_ckpt)
    or "no checkpoint had been written yet"
  local what, hint
  if bad_inputs > 0 then
    what = ("%d of its %d test samples hold NaN or Inf in their inputs"):format(bad_inputs, n)
    hint = "check the task's test data (the transform or generator that made it): training checks only what it trains on"
  else
    what = ("%d of its %d test samples gave NaN or Inf outputs (finite inputs)"):format(bad_outputs, n)
    hint = self.learner:hint("nonfinite") or "lower the learning rate"
  end
  self:fail(("hnet.run: numerical fault evaluating task %d/%d ('%s'): %s. Hint: %s.\nhnet.run: %s.")
    :format(j, self.T, tostring(self.stream:get(j).name), what, hint, last))
end

-- ---- small helpers ---------------------------------------------------------------

local function csv_row(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = v == nil and "" or tostring(v) end
  return table.concat(out, ",")
end

local function shell_quote(s)
  s = tostring(s)
  if s:match("^[%w%./_,:=+%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function norm_dir(d) return (tostring(d):gsub("/+$", "")) end

local read_file = util.read_file

--- What an arg table (as ./hnet and lua set it: a[0] the script, negative
-- indices the program and its own flags) says about the command: { script,
-- args (after the script), program, flags (the program's own, before the
-- script: --threads 1, --lib DIR), command (the whole line) }.
function M.command_of(a)
  local lo = 0
  while a[lo - 1] ~= nil do lo = lo - 1 end
  local cmd = {}
  for i = lo, #a do cmd[#cmd + 1] = tostring(a[i]) end
  local args = {}
  for i = 1, #a do args[i] = tostring(a[i]) end
  local flags = {}
  for i = lo + 1, -1 do flags[#flags + 1] = tostring(a[i]) end
  return { script = a[0] and tostring(a[0]), args = args, program = lo < 0 and tostring(a[lo]) or "./hnet",
           flags = flags, command = cmd }
end

-- The global `arg` of the script (./hnet sets it as lua does), or nil.
local function script_args()
  local a = rawget(_G, "arg")
  if type(a) ~= "table" or type(a[0]) ~= "string" then return nil end
  return M.command_of(a)
end

local git_commit_cache
local function git_commit()
  if git_commit_cache then return git_commit_cache end
  git_commit_cache = "unknown"
  local ok, root = pcall(function() return require("hnet.datasets").root() end)
  if not ok then return git_commit_cache end
  local p = io.popen(("git -C %s rev-parse --short HEAD 2>/dev/null"):format(shell_quote(root)))
  if p then
    local c = p:read("l")
    p:close()
    if c and c:match("^%x+$") then git_commit_cache = c end
  end
  return git_commit_cache
end

-- Options flattened to "path" -> printable value, for comparing runs.
local function flatten(v, prefix, out)
  out = out or {}
  if type(v) == "table" and getmetatable(v) == nil then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      flatten(v[k], prefix == "" and tostring(k) or (prefix .. "." .. tostring(k)), out)
    end
    if #keys == 0 and prefix ~= "" then out[prefix] = "{}" end
  elseif type(v) == "number" then
    out[prefix] = math.type(v) == "integer" and ("%d"):format(v) or ("%.17g"):format(v)
  elseif type(v) == "string" then
    out[prefix] = ("%q"):format(v)
  else
    out[prefix] = type(v) == "boolean" and tostring(v) or ("<" .. type(v) .. ">")
  end
  return out
end

-- ---- validation -------------------------------------------------------------------

local function check_opts(opts, T)
  local f = "hnet.run"
  for _, k in ipairs { "force", "quiet", "verbose", "fwt", "plots" } do util.bool(opts, k, nil, f, 3) end
  for _, k in ipairs { "out", "resume", "name" } do
    if opts[k] ~= nil then util.string(opts, k, "", nil, f, 3) end
  end
  util.int(opts, "eval_max", 1, 1, nil, f, 3)
  util.number(opts, "progress_every", 1, 1e-9, nil, f, 3)
  util.number(opts, "checkpoint_every", 0, 0, nil, f, 3)
  if opts.inference ~= nil and type(opts.inference) ~= "function" then
    error(("bad argument #3 to 'hnet.run' (field 'inference': function expected, got %s)")
      :format(type(opts.inference)), 3)
  end
  if opts.meta ~= nil and type(opts.meta) ~= "table" then
    error(("bad argument #3 to 'hnet.run' (field 'meta': table expected, got %s)")
      :format(type(opts.meta)), 3)
  end
  if opts.out == "" then error("bad argument #3 to 'hnet.run' (field 'out': empty directory name)", 3) end
  if opts.resume == "" then error("bad argument #3 to 'hnet.run' (field 'resume': empty directory name)", 3) end
  if opts.stop_after ~= nil then
    local s = opts.stop_after
    if type(s) ~= "table" then
      error(("bad argument #3 to 'hnet.run' (field 'stop_after': { task =, iteration = } expected, got %s)")
        :format(type(s)), 3)
    end
    util.options(s, { "task", "iteration" }, "hnet.run (field 'stop_after')", 3)
    util.int(s, "task", nil, 1, T, "hnet.run (field 'stop_after')", 3)
    util.int(s, "iteration", nil, 1, nil, "hnet.run (field 'stop_after')", 3)
  end
end

-- ---- logging and outputs ---------------------------------------------------------------

--- Print a line (unless quiet) and keep it for log.txt.
function Run:log(fmt, ...)
  local line = select("#", ...) > 0 and fmt:format(...) or fmt
  if not self.opts.quiet then self.progress:print(line) end
  self.log_lines[#self.log_lines + 1] = line
end

--- A message that must be seen (errors, interrupts): stderr, and log.txt.
function Run:warn(msg)
  self.progress:clear()
  io.stdout:flush()
  io.stderr:write(msg, "\n")
  io.stderr:flush()
  self.log_lines[#self.log_lines + 1] = msg
end

function Run:write(name, content)
  local ok, err, errno = hnet.sys.write_file(self.out .. "/" .. name, content)
  if not ok then
    local hint = ""
    if hnet.sys.disk_full(errno) then
      hint = (" (the disk is full: free space, then %s)")
        :format(self.last_ckpt and self:resume_hint() or "start the run again")
    end
    error("hnet.run: " .. err .. hint, 0)
  end
end

local function matrix_csv(M, T)
  local h = { "after_task" }
  for j = 1, T do h[j + 1] = "task" .. j end
  local rows = { table.concat(h, ",") }
  local n = 0 -- the last row; a run resumed from an older checkpoint lacks the first rows of Rg
  for i in pairs(M) do if i > n then n = i end end
  for i = 1, n do
    local r, Mi = { i }, M[i] or {}
    for j = 1, T do r[j + 1] = Mi[j] and ("%.4f"):format(Mi[j]) or "" end
    rows[#rows + 1] = csv_row(r)
  end
  return table.concat(rows, "\n") .. "\n"
end

function Run:write_outputs(final)
  if not self.out then return end
  self:write("accuracy_matrix.csv", matrix_csv(self.R, self.T))
  if next(self.Rg) then self:write("accuracy_matrix_task_given.csv", matrix_csv(self.Rg, self.T)) end
  if next(self.Rd) then self:write("accuracy_matrix_domain.csv", matrix_csv(self.Rd, self.T)) end
  local m = { "after_task,task,metric,task_inference,seconds,task_given,domain" }
  local function f4(v) return v and ("%.4f"):format(v) or "" end
  for _, e in ipairs(self.evals) do
    m[#m + 1] = csv_row { e.after, e.task, f4(e.value), f4(e.inferred), ("%.2f"):format(e.time),
                          f4(e.given), f4(e.domain) }
  end
  self:write("metrics.csv", table.concat(m, "\n") .. "\n")
  self:write_log()
  if final then
    local cjson = require "cjson"
    self:write("summary.json", cjson.encode(self.summary) .. "\n")
  end
end

function Run:write_log()
  if not self.out then return end
  self:write("log.txt", table.concat(self.log_lines, "\n") .. "\n")
end

function Run:plots()
  if not self.out or self.opts.plots == false then return end
  local plot = require "hnet.plot"
  local regression = self.kind == "regression"
  local what = regression and "test MSE" or "test accuracy (%)"
  local title = ("%s on %s"):format(self.learner:name(), self.stream.name or "stream")
  local ok, why = plot.heatmap { out = self.out .. "/accuracy_matrix.png", matrix = self.R,
    title = title .. ": " .. what .. " after each task", xlabel = "task evaluated",
    ylabel = "after training on task", zlabel = what,
    zrange = regression and "auto" or { 0, 100 }, zlog = regression, format = regression and "%.3g" or "%.1f" }
  if not ok then self:log("plots skipped: %s", why) return end
  local series = {}
  for j = 1, self.T do
    local xs, ys = {}, {}
    for i = 1, #self.R do
      if self.R[i][j] then xs[#xs + 1] = i; ys[#ys + 1] = self.R[i][j] end
    end
    if #xs > 0 then
      series[#series + 1] = { name = ("task %d"):format(j), x = xs, y = ys, style = "linespoints" }
    end
  end
  ok, why = plot.lines { out = self.out .. "/accuracy_over_stream.png", series = series,
    title = title .. ": each task's " .. what .. " over the stream",
    xlabel = "after training on task", ylabel = what, logy = regression }
  if not ok then self:log("plots skipped: %s", why) end
end

-- ---- checkpoints ----------------------------------------------------------------------

function Run:elapsed() return self.elapsed0 + (hnet.sys.clock() - self.t0) end

--- Stop the run: log msg (the caller of hnet.run prints the error), keep
-- what is on disk, raise.
function Run:fail(msg)
  self.final_error = msg -- raised as it is through the training loop's handler
  self.progress:clear()
  self.log_lines[#self.log_lines + 1] = msg
  pcall(self.write_outputs, self, false)
  error(msg, 0)
end

local function describe(phase, task, it)
  if phase == "in_task" then return ("task %d, iteration %d"):format(task, it) end
  return ("after task %d"):format(task)
end

-- "at task 2, iteration 5" / "after task 2", for "the checkpoint ..." phrases.
local function when(phase, task, it)
  return (phase == "in_task" and "at " or "") .. describe(phase, task, it)
end

--- Write the checkpoint (phase "in_task" after iteration `it` of `task`,
-- "task_done" after `task` was evaluated, or "finished").
function Run:checkpoint(phase, task, it)
  if not self.ckpt_path then return end
  local header = { format = RUN_FORMAT, fingerprint = self.fp, threads = hnet.threads(),
                   phase = phase, task = task, iteration = it or 0,
                   written = os.date("!%Y-%m-%dT%H:%M:%SZ") }
  local state = {}
  for k, v in pairs(self.learner:state()) do state["learner/" .. k] = v end
  state["run/R"], state["run/b"], state["run/evals"] = self.R, self.b, self.evals
  state["run/Rg"], state["run/bg"] = self.Rg, self.bg
  state["run/Rd"], state["run/bd"] = self.Rd, self.bd
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

-- The command that resumes this run, for messages.
function Run:resume_hint()
  local ctx = self.context and (self.context.root or self.context)
  if ctx and ctx.script then
    -- The program's own flags (--threads 1, --lib DIR) come back too: a
    -- resume with another thread count is no longer bit-exact.
    -- HNET_PATH too: a learner found there must be found again.
    local cmd, hp = {}, os.getenv("HNET_PATH")
    if hp and hp ~= "" then cmd[1] = "HNET_PATH=" .. shell_quote(hp) end
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
  local sa = script_args()
  return ("resume by passing resume = %q to hnet.run%s"):format(self.out,
    sa and (" in " .. sa.script) or "")
end

-- The first SIGINT/SIGTERM: checkpoint, say how to resume, exit 128 + sig.
function Run:interrupted(sig, phase, task, it)
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
  os.exit(128 + sig, true)
end

-- The tensors a learner trains (learner:watch() -> { {name, tensor}, ... },
-- else every tensor of its state), checked for NaN/Inf every 10 s and at the
-- end of each task: a NaN that an activation hides from the loss (ReLU maps
-- NaN to 0) still stops the run, at most a few seconds late.
function Run:scan(i, it)
  local learner = self.learner
  local list = learner:watch()
  for _, e in ipairs(list) do
    if not e[2]:all_finite() then
      local last = self.last_ckpt and ("the last good checkpoint (%s) is intact"):format(self.last_ckpt)
        or "no checkpoint had been written yet"
      self:fail(("hnet.run: numerical fault in task %d/%d ('%s'), found at iteration %d: the learner's tensor '%s' %s holds NaN or Inf. Hint: %s, or check the task's data.\nhnet.run: %s.")
        :format(i, self.T, tostring(self.stream:get(i).name), it, e[1], tostring(e[2]),
                learner:hint("nonfinite") or "lower the learning rate", last))
    end
  end
  self.scan_clock = hnet.sys.clock()
end

-- The chance watch: a classification task whose training loss, averaged
-- over iterations CHANCE_FROM..CHANCE_AT, is not at least CHANCE_MARGIN
-- below chance (the entropy of its training labels: the loss of a network
-- that ignores its input, ln k for k balanced classes) is not learning; one
-- warning per task, with what to try. Normal runs are far below chance by
-- then; a task that trains fewer iterations, or resumes inside the window,
-- is not judged.
local CHANCE_FROM, CHANCE_AT, CHANCE_MARGIN = 101, 200, 0.05

local function label_entropy(y)
  local count, n = {}, 0
  for _, v in ipairs(y:flat_table()) do
    count[v] = (count[v] or 0) + 1
    n = n + 1
  end
  local h, k = 0, 0
  for _, c in pairs(count) do
    h, k = h - c / n * math.log(c / n), k + 1
  end
  return h, k
end

function Run:watch_chance(i, task, it, loss)
  local w = self.chance_watch
  if not w or w.task ~= i then
    w = { task = i, sum = 0, n = 0, done = (task.kind or "classification") ~= "classification" }
    self.chance_watch = w
  end
  if w.done or it < CHANCE_FROM or type(loss) ~= "number" then return end
  w.sum, w.n = w.sum + loss, w.n + 1
  if it < CHANCE_AT then return end
  w.done = true
  if w.n ~= CHANCE_AT - CHANCE_FROM + 1 then return end
  local chance, k = label_entropy(task.train.y)
  local mean = w.sum / w.n
  if k > 1 and mean > (1 - CHANCE_MARGIN) * chance then
    self:warn(("hnet.run: WARNING: task %d/%d ('%s') is not learning: its training loss averaged %.4f over iterations %d-%d, not %d%% below chance (%.4f, the loss of predicting the frequencies of its %d classes; ln %d = %.4f). Try: inputs normalised to mean 0 and variance 1; %s.")
      :format(i, self.T, tostring(task.name), mean, CHANCE_FROM, CHANCE_AT, math.floor(100 * CHANCE_MARGIN + 0.5),
              chance, k, k, math.log(k), self.learner:hint("chance") or "another learning rate"))
  end
end

-- ---- run directory --------------------------------------------------------------------

local function has_file(dir, name) return hnet.sys.exists(dir .. "/" .. name) == "file" end

function Run:prepare_dir(resuming)
  local dir = self.out
  if not dir then return end
  local kind = hnet.sys.exists(dir)
  if kind and kind ~= "directory" then
    error(("hnet.run: out '%s' exists and is not a directory"):format(dir), 0)
  end
  if kind and not resuming then
    -- A folder of someone's files is never written into, --force or not:
    -- log.txt, options.json, ... would overwrite theirs.
    local what, why = require("hnet.rundir").kind(dir)
    if what == "other" or what == "experiment" then
      error(("hnet.run: out '%s' %s; a run writes its files (log.txt, options.json, ...) only into a new or empty directory or its own run directory: choose another 'out' (--out)")
        :format(dir, what == "experiment" and "is an experiment's directory (results.md, run directories), not a run directory" or why), 0)
    end
  end
  if not resuming and not self.opts.force then
    if has_file(dir, "summary.json") then
      error(("hnet.run: '%s' already holds a finished run (summary.json); choose another 'out' (--out) or pass force = true (--force) to overwrite it")
        :format(dir), 0)
    end
    if has_file(dir, CKPT_FILE) then
      error(("hnet.run: '%s' holds an interrupted run (%s, no summary.json); continue it with resume = %q (--resume %s), or pass force = true (--force) to start over")
        :format(dir, CKPT_FILE, dir, dir), 0)
    end
  end
  local ok, err = hnet.sys.mkdir_p(dir)
  if not ok then error("hnet.run: " .. err, 0) end
  if resuming then return end
  -- A fresh run (perhaps forced over an old one): no stale results stay behind.
  for _, f in ipairs { "summary.json", CKPT_FILE, "accuracy_matrix.png", "accuracy_over_stream.png" } do
    os.remove(dir .. "/" .. f)
  end
  local sa = self.context or script_args()
  local meta = { learner = self.learner:name(), options = self.learner:options(), scenario = self.scenario,
                 tasks = self.T, stream = self.stream.name, task_names = self.fp.stream.names,
                 threads = hnet.threads(), seed = self.fp.seed, version = hnet.version,
                 git_commit = git_commit(), checkpoint = CKPT_FILE, name = self.opts.name,
                 meta = self.opts.meta, checkpoint_every_minutes = self.ckpt_every,
                 script = sa and sa.script, command_line = sa and sa.command,
                 started = os.date("!%Y-%m-%dT%H:%M:%SZ") }
  local cjson = require "cjson"
  local ok2, text = pcall(cjson.encode, meta)
  if not ok2 then -- options holding functions or cycles: keep what encodes
    meta.options = flatten(self.learner:options(), "")
    text = cjson.encode(meta)
  end
  self:write("options.json", text .. "\n")
  if sa and sa.script and sa.script ~= "-" then
    local src = read_file(sa.script)
    if src then self:write("script.lua", src) end
  end
end

-- ---- resuming -------------------------------------------------------------------------

-- What must agree between a checkpoint and the run that resumes it.
local function fingerprint(self)
  local names = {}
  for i = 1, self.T do names[i] = tostring(self.stream:get(i).name) end
  return { learner = self.learner:name(), options = flatten(self.learner:options(), ""),
           scenario = self.scenario, seed = hnet.seed(), kind = self.kind,
           stream = { name = tostring(self.stream.name), tasks = self.T, names = names },
           eval_max = self.opts.eval_max or 0, fwt = self.want_fwt }
end

-- `implied`: the learner's options that came after its runs were first
-- checkpointed, with the value every run had before (learner.implied_options):
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
  return diffs
end

-- Load the checkpoint into self and the learner; returns where to go on.
function Run:restore(path)
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
     or math.type(it) ~= "integer" or it < 0 or (iters and it > iters)
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
  self.R, self.b, self.evals, self.log_lines = R, b, evals, log
  self.Rg, self.bg = state["run/Rg"] or {}, state["run/bg"] or {}
  self.Rd, self.bd = state["run/Rd"] or {}, state["run/bd"] or {}
  self.elapsed0, self.summary = state["run/elapsed"], state["run/summary"]
  if header.threads ~= hnet.threads() then
    self:log("note: the checkpoint was written with %s threads, this run uses %d: results may differ from an uninterrupted run in the last bits",
             tostring(header.threads), hnet.threads())
  end
  self.last_ckpt = ("%s, %s"):format(path, describe(phase, task, it))
  return phase, task, it
end

-- Decide whether this run resumes: returns the checkpoint path or nil.
local function resume_source(opts, ctx)
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

-- ---- the run --------------------------------------------------------------------------

local function numerical(msg) return type(msg) == "string" and msg:find("numerical fault", 1, true) end

-- Train task i from iteration `first`; returns false, it when stopped by
-- stop_after.
function Run:train(i, task, first)
  local learner, opts = self.learner, self.opts
  local stop = opts.stop_after
  local every = self.ckpt_every * 60
  local where = { it = first - 1 }
  local stopped = false
  local iters = self.sched.iterations
  local hooks = { from = first, step = function(it, loss, reg)
    where.it = it
    self.progress:step(it, loss, reg, self.sched.batch)
    self:watch_chance(i, task, it, loss)
    if stop and stop.task == i and stop.iteration == it then
      self:checkpoint("in_task", i, it)
      stopped = true
      return true
    end
    if it == iters or hnet.sys.clock() - self.scan_clock >= 10 then self:scan(i, it) end
    local sig = hnet.sys.interrupted()
    if sig then self:interrupted(sig, "in_task", i, it) end
    if every > 0 and self.can_ckpt and hnet.sys.clock() - self.ckpt_clock >= every then
      self:checkpoint("in_task", i, it)
    end
  end }
  local ok, err = xpcall(learner.train_task, function(e)
    if e ~= self.final_error and not numerical(e) then
      self.log_lines[#self.log_lines + 1] = debug.traceback(tostring(e), 2)
    end
    return e
  end, learner, i, task, hooks)
  if not ok then
    if err == self.final_error then error(err, 0) end
    if numerical(err) then
      local last = self.last_ckpt
        and ("the last good checkpoint (%s) is intact: resume from it once the cause is fixed (bad task data), or start again with a lower learning rate"):format(self.last_ckpt)
        or "no checkpoint had been written yet: start again with a lower learning rate"
      self:fail(("hnet.run: stopped in task %d/%d ('%s') at iteration %d: %s\nhnet.run: %s.")
        :format(i, self.T, tostring(task.name), where.it + 1, tostring(err), last))
    end
    pcall(self.write_outputs, self, false)
    error(err, 0)
  end
  if stopped then return false, where.it end
  return true
end

-- The learner protocol hnet.run calls (hnet.learners.base defines each).
local LEARNER_METHODS = { "name", "options", "implied_options", "schedule", "setup", "n_trainable",
                          "task_conditioned", "begin_task", "train_task", "end_task", "begin_eval",
                          "predict", "state", "load_state", "watch", "hint" }
-- The methods base.Learner leaves to the learner (its own raise).
local REQUIRED = { schedule = true, setup = true, predict = true }

-- Arguments #1 and #2 of hnet.run: a learner that has every method the run
-- calls and a stream of at least one task; errors name what is missing.
local function check_learner_stream(learner, stream)
  local f = "hnet.run"
  local how = "make one with hnet.learners.new(name, opts), or derive one from hnet.learners.base (base.class()): see lua/hnet/learners/plain.lua for a complete learner"
  if type(learner) ~= "table" then
    error(("bad argument #1 to '%s' (a learner expected, got %s; %s)"):format(f, type(learner), how), 3)
  end
  local missing = {}
  for _, m in ipairs(LEARNER_METHODS) do
    if type(learner[m]) ~= "function" then missing[#missing + 1] = m .. "()"
    elseif REQUIRED[m] and learner[m] == base.Learner[m] then
      missing[#missing + 1] = m .. "() (hnet.learners.base's raises: define it)"
    end
  end
  if #missing > 0 then
    error(("bad argument #1 to '%s' (the learner lacks %s; %s)"):format(f, table.concat(missing, ", "), how), 3)
  end
  local sched = learner:schedule()
  if type(sched) ~= "table" then
    error(("bad argument #1 to '%s' (the learner's schedule() must return { iterations =, batch =, eval_batch = }, got %s)")
      :format(f, type(sched)), 3)
  end
  for _, k in ipairs { "iterations", "batch", "eval_batch" } do
    local v = sched[k]
    if math.type(v) ~= "integer" or v < (k == "iterations" and 0 or 1) then
      error(("bad argument #1 to '%s' (the learner's schedule().%s must be an integer >= %d, got %s)")
        :format(f, k, k == "iterations" and 0 or 1, tostring(v)), 3)
    end
  end
  local ok_stream = type(stream) == "table" and type(stream.len) == "function" and type(stream.get) == "function"
  if not ok_stream then
    error(("bad argument #2 to '%s' (a stream expected (a table with len() and get(i)), got %s; make one with hnet.stream.from{ task, ... } or another hnet.stream constructor)")
      :format(f, type(stream)), 3)
  end
  local T = stream:len()
  if math.type(T) ~= "integer" or T < 1 then
    error(("bad argument #2 to '%s' (the stream has %s tasks; at least one expected)"):format(f, tostring(T)), 3)
  end
end

--- Run `learner` over `stream`; see the file's header for the options.
function M.run(learner, stream, opts)
  local f = "hnet.run"
  check_learner_stream(learner, stream)
  opts = util.options(opts, OPTS, f, 3)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  opts = o
  local sc = SCENARIOS[opts.scenario or "task-given"]
  if not sc then
    error(("bad argument #3 to 'hnet.run' (field 'scenario': \"task-given\", \"domain\" or \"class\" expected, got %s)")
      :format(tostring(opts.scenario)), 2)
  end
  local T = stream:len()
  check_opts(opts, T)
  local ctx = M.context
  local first = stream:get(1)
  local kind = first.kind or "classification"
  if kind == "regression" and sc ~= "task-given" then
    error("bad argument #3 to 'hnet.run' (regression tasks support only scenario \"task-given\")", 2)
  end
  local sched = learner:schedule()
  if opts.stop_after and opts.stop_after.iteration > sched.iterations then
    error(("bad argument #3 to 'hnet.run' (field 'stop_after': iteration %d is past the learner's %d iterations)")
      :format(opts.stop_after.iteration, sched.iterations), 2)
  end
  local conditioned = learner:task_conditioned() and true or false
  local heads, n_outputs = plan_heads(stream, sc, conditioned, kind == "regression")
  local self = setmetatable({ learner = learner, stream = stream, opts = opts, scenario = sc,
                              heads = heads, n_outputs = n_outputs, T = T, R = {}, b = {},
                              Rg = {}, bg = {}, Rd = {}, bd = {},
                              evals = {}, log_lines = {}, kind = kind, context = ctx,
                              sched = sched, conditioned = conditioned,
                              elapsed0 = 0 }, Run)
  self.progress = progress.new { quiet = opts.quiet, verbose = opts.verbose,
                                 every = opts.progress_every,
                                 sink = function(line) self.log_lines[#self.log_lines + 1] = line end }
  self.want_fwt = opts.fwt ~= false and kind ~= "regression"
  local every = opts.checkpoint_every
  if every == nil then every = ctx and ctx.checkpoint_every or 10 end
  self.ckpt_every = every
  hnet.sys.catch_interrupts()
  local early = hnet.sys.interrupted()
  if early then
    io.stderr:write("interrupted before the run started: nothing to save\n")
    os.exit(128 + early, true)
  end

  local resume_path = resume_source(opts, ctx)
  self.out = opts.out
  self.fp = fingerprint(self)
  self:prepare_dir(resume_path ~= nil)
  learner:setup { n_tasks = T, n_outputs = n_outputs, input_shape = first.input_shape,
                  kind = kind, heads = heads, scenario = sc,
                  masks = function(t, n_seen) return make_mask(sc, heads, n_outputs, t, n_seen) end }
  self.can_ckpt = learner:state() ~= nil
  self.ckpt_path = self.out and self.can_ckpt and (self.out .. "/" .. CKPT_FILE) or nil
  local start, first_it = 1, 1
  self.t0 = hnet.sys.clock()
  self.ckpt_clock, self.scan_clock = self.t0, self.t0
  if resume_path then
    local phase, task, it = self:restore(resume_path)
    self:log("hnet.run: resuming %s from %s (%s)", self.out, CKPT_FILE, describe(phase, task, it))
    if phase == "finished" then
      self:log("hnet.run: the run in %s is already finished; its results are loaded, nothing is trained", self.out)
      self:write_log()
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
  for i = start, T do
    local task = stream:get(i)
    local from = i == start and first_it or 1
    if from == 1 then
      learner:begin_task(i, task)
      if self.want_fwt then
        learner:begin_eval(i)
        if i == 1 then -- b_j: the untrained learner on every task
          local seen = (sc == "class" and not self.conditioned) and T or 1
          for j = 1, T do
            local v, _, given, domain = self:evaluate(j, seen, 1)
            self.b[j], self.bg[j], self.bd[j] = v, given, domain
          end
        end
        if i > 1 then
          local v, _, given, domain = self:evaluate(i, i)
          self.R[i - 1][i] = v
          if given and self.Rg[i - 1] then self.Rg[i - 1][i] = given end
          if domain and self.Rd[i - 1] then self.Rd[i - 1][i] = domain end
        end
      end
    end
    local ts = hnet.sys.clock()
    self.progress:begin_task(i, T, sched.iterations, task.name, from)
    local done, at = self:train(i, task, from)
    self.progress:end_task()
    if not done then
      self.stopped = { task = i, iteration = at }
      self:log("hnet.run: stopped at task %d, iteration %d (stop_after); checkpoint %s", i, at,
               tostring(self.ckpt_path))
      self:write_outputs(false)
      return self
    end
    learner:end_task(i, task)
    local train_s = hnet.sys.clock() - ts
    learner:begin_eval(i)
    self.R[i] = self.R[i] or {}
    local cells = {}
    for j = 1, i do
      local v, inferred, given, domain = self:evaluate(j, i)
      self.R[i][j] = v
      if given then
        self.Rg[i] = self.Rg[i] or {}
        self.Rg[i][j] = given
      end
      if domain then
        self.Rd[i] = self.Rd[i] or {}
        self.Rd[i][j] = domain
      end
      self.evals[#self.evals + 1] = { after = i, task = j, value = v, inferred = inferred,
                                      given = given, domain = domain, time = self:elapsed() }
      cells[#cells + 1] = inferred and ("%.2f (ti %.1f, given %.2f)"):format(v, inferred, given)
                          or ("%.2f"):format(v)
    end
    self:log("after task %d/%d (%.1f s): %s", i, T, train_s, table.concat(cells, "  "))
    if i < T then self:checkpoint("task_done", i) end
    self:write_outputs(false)
    local sig = hnet.sys.interrupted()
    if sig and i < T then self:interrupted(sig, "task_done", i) end
  end
  -- The registered metrics of this kind (hnet.metrics.register adds one).
  self.summary = metrics.summary(self.R, self.want_fwt and self.b or nil, kind)
  self.summary.metrics = metrics.descriptors(kind)
  if kind == "regression" then
    self.summary.final_mse = self.R[T]
  else
    self.summary.final = self.R[T]
    local ti = {}
    for _, e in ipairs(self.evals) do if e.after == T and e.inferred then ti[#ti + 1] = e.inferred end end
    if #ti > 0 then self.summary.task_inference = metrics.mean_se(ti) end
    -- The same networks with the task given (CL1 of this very model) and,
    -- after a class run, judged on the label within the inferred task (its
    -- CL2). A run resumed from an older checkpoint may lack early rows.
    local function alongside(M, b)
      for i = 1, T do if M[i] == nil then return nil end end
      local g = metrics.summary(M, self.want_fwt and b or nil, kind)
      g.final = M[T]
      return g
    end
    self.summary.task_given = alongside(self.Rg, self.bg)
    self.summary.domain = alongside(self.Rd, self.bd)
    if self.summary.domain then self.summary.domain.task_inference = self.summary.task_inference end
  end
  self.summary.learner, self.summary.scenario, self.summary.tasks = learner:name(), sc, T
  self.summary.stream = stream.name
  self.summary.seconds = self:elapsed()
  self.summary.trainable_parameters = learner:n_trainable()
  self.summary.peak_rss_mib = hnet.sys.peak_rss_mib()
  self.summary.threads = hnet.threads()
  self.summary.seed = self.fp.seed
  self:plots()
  self:checkpoint("finished", T)
  self:write_outputs(true)
  return self
end

--- The accuracy matrix and the metrics as text (also printed and logged).
function Run:report()
  local T, R = self.T, self.R
  local lines = { ("%s, %s, %d tasks"):format(self.learner:name(), self.scenario, T) }
  local head = { "after \\ task" }
  for j = 1, T do head[#head + 1] = ("%7d"):format(j) end
  lines[#lines + 1] = table.concat(head, " ")
  for i = 1, #R do
    local row = { ("%12d"):format(i) }
    for j = 1, T do
      row[#row + 1] = R[i][j] and ("%7.2f"):format(R[i][j]) or ("%7s"):format("")
    end
    lines[#lines + 1] = table.concat(row, " ")
  end
  local s = self.summary
  -- One line of the registered metrics of the run's kind, from summary g.
  local shown = metrics.list(s and s.final_mse and "regression" or "classification")
  local function line(g)
    local parts = {}
    for _, e in ipairs(shown) do parts[#parts + 1] = e.label .. " " .. metrics.format(e, g[e.name]) end
    return table.concat(parts, "  ")
  end
  if not s then
    lines[#lines + 1] = self.stopped and ("stopped at task %d, iteration %d: no summary")
      :format(self.stopped.task, self.stopped.iteration) or "no summary"
  else
    if s.final_mse then
      lines[#lines + 1] = line(s)
    else
      lines[#lines + 1] = line(s) .. (s.task_inference and ("  task inference %.2f"):format(s.task_inference) or "")
      for _, alt in ipairs { { s.task_given, "with the task given" },
                             { s.domain, "judged on the label within the inferred task (CL2)" } } do
        local g = alt[1]
        if g then
          lines[#lines + 1] = ("the same networks %s: %s"):format(alt[2], line(g))
        end
      end
    end
    lines[#lines + 1] = ("%.1f s, %d trainable parameters, peak memory %.0f MiB"):format(
      s.seconds, s.trainable_parameters, s.peak_rss_mib)
  end
  local text = table.concat(lines, "\n")
  self.progress:print(text)
  self.log_lines[#self.log_lines + 1] = text
  pcall(self.write_log, self)
  return text
end

-- The fields a task of another stream must share with the trained task it
-- stands in for: the network and the heads were built for them.
local function same_shape(a, b)
  if a.kind ~= b.kind or a.n_classes ~= b.n_classes or a.n_outputs ~= b.n_outputs then return false end
  local sa, sb = a.input_shape or {}, b.input_shape or {}
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

--- Evaluate the finished run's learner on another stream of the same tasks
-- (a shifted or corrupted copy of the test data, say), in the run's
-- scenario, with every task seen: task j of `other` is judged as task j.
-- Nothing is trained or written. opts.scenario judges in another scenario;
-- only a learner with one network per task allows that (its training does
-- not depend on the scenario; a shared network's heads do). Returns
-- { metric = {per task: accuracy in % or MSE}, mean =, inferred = {per
-- task: task-inference accuracy} or nil when the task is given, inference =
-- its mean or nil }.
function Run:evaluate_on(other, opts)
  local f = "hnet.Run:evaluate_on"
  if not require("hnet.stream").is_stream(other) then
    error(("bad argument #1 to '%s' (an hnet.stream expected, got %s)"):format(f, type(other)), 2)
  end
  local o = util.options(opts, { "scenario" }, f, 2)
  local sc = self.scenario
  if o.scenario ~= nil then
    sc = SCENARIOS[o.scenario]
    if not sc then
      error(("bad argument #2 to '%s' (field 'scenario': task-given, domain or class expected, got %s)")
        :format(f, tostring(o.scenario)), 2)
    end
    if sc ~= self.scenario and not self.conditioned then
      error(("bad argument #2 to '%s' (field 'scenario': %s trained one network for the %s scenario; it cannot be judged in %s)")
        :format(f, self.learner:name(), self.scenario, sc), 2)
    end
  end
  if not self.summary then
    error(("%s: the run has not finished (no summary): evaluate a finished run"):format(f), 2)
  end
  local T = self.T
  if other:len() ~= T then
    error(("bad argument #1 to '%s' (the stream has %d tasks; the run was trained on %d)")
      :format(f, other:len(), T), 2)
  end
  for j = 1, T do
    if not same_shape(other:get(j), self.stream:get(j)) then
      error(("bad argument #1 to '%s' (task %d differs from the trained task %d in kind, inputs or classes)")
        :format(f, j, j), 2)
    end
  end
  -- A fault on the other stream is raised as it is: the finished run's
  -- directory is not touched (Run:fail would rewrite its outputs).
  local view = setmetatable({ stream = other, scenario = sc, fail = function(_, msg) error(msg, 0) end },
                            { __index = self })
  self.learner:begin_eval(T)
  local out = { metric = {} }
  local sum, inf, n_inf = 0, 0, 0
  for j = 1, T do
    local v, inferred = Run.evaluate(view, j, T)
    out.metric[j], sum = v, sum + v
    if inferred then
      out.inferred = out.inferred or {}
      out.inferred[j], inf, n_inf = inferred, inf + inferred, n_inf + 1
    end
  end
  out.mean = sum / T
  if n_inf > 0 then out.inference = inf / n_inf end
  return out
end

return setmetatable(M, { __call = function(_, ...) return M.run(...) end })
