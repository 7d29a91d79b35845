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
-- With opts.out, the run directory receives metrics.csv, accuracy_matrix.csv,
-- summary.json, options.json and log.txt (DESIGN.md §6).
local hnet = require "hnet"
local util = require "hnet.util"
local metrics = require "hnet.metrics"
local progress = require "hnet.progress"

local M = {}
local Run = {}
Run.__index = Run

local SCENARIOS = { ["task-given"] = "task-given", cl1 = "task-given", domain = "domain",
                    cl2 = "domain", class = "class", cl3 = "class" }
local OPTS = { "scenario", "out", "force", "quiet", "verbose", "fwt", "inference", "eval_max",
               "name", "meta", "progress_every" }

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

local function limit(data, eval_max)
  if not eval_max or data.x:size(1) <= eval_max then return data end
  return { x = data.x:rows(1, eval_max), y = data.y:rows(1, eval_max) }
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

-- Evaluate task j after n_seen tasks. Returns the metric (accuracy in
-- percent, or MSE), and the task-inference accuracy (percent) when the task
-- had to be inferred.
-- `as_task` (optional) evaluates task j's data with task as_task's network
-- (used for b_j, where only the first task's network exists).
function Run:evaluate(j, n_seen, as_task)
  local learner, task, sc = self.learner, self.stream:get(j), self.scenario
  local net_t = as_task or j
  local data = limit(task.test, self.opts.eval_max)
  local n = data.x:size(1)
  local bs = learner.o.eval_batch
  if task.kind == "regression" then
    local se = 0
    slices(data, bs, function(x, y)
      local out = learner.per_task_nets and learner:task_forward(x, net_t) or learner:head_forward(x)
      se = se + hnet.loss.mse(out, y:view(x:size(1), 1)) * x:size(1)
    end)
    return se / n
  end
  local correct, inferred_ok = 0, 0
  if learner.per_task_nets then
    if sc == "task-given" then
      slices(data, bs, function(x, y)
        local _, c = hnet.loss.accuracy(learner:task_forward(x, net_t), y)
        correct = correct + c
      end)
      return 100 * correct / n
    end
    local infer = self.opts.inference or entropy_inference
    slices(data, bs, function(x, y)
      local ents, preds = {}, {}
      for t = 1, n_seen do
        local out = learner:task_forward(x, t)
        ents[t] = hnet.loss.entropy(out):flat_table()
        preds[t] = hnet.loss.argmax(out):flat_table()
      end
      local labels = y:flat_table()
      for i = 1, #labels do
        local t = infer(ents, i)
        if t == j then inferred_ok = inferred_ok + 1 end
        -- CL2: the label within the inferred task's head; CL3: the task too.
        if preds[t][i] == labels[i] and (sc == "domain" or t == j) then
          correct = correct + 1
        end
      end
    end)
    return 100 * correct / n, 100 * inferred_ok / n
  end
  -- One shared network: masks and label offsets choose the head.
  local mask = make_mask(sc, self.heads, self.n_outputs, j, n_seen)
  local offset = sc == "domain" and 0 or self.heads[j].offset
  slices(data, bs, function(x, y)
    local labels = y
    if offset ~= 0 then labels = y:clone(); labels:add(offset) end
    local _, c = hnet.loss.accuracy(learner:head_forward(x), labels, { mask = mask })
    correct = correct + c
  end)
  return 100 * correct / n
end

-- ---- the run -----------------------------------------------------------------

local function csv_row(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = v == nil and "" or tostring(v) end
  return table.concat(out, ",")
end

function Run:log(fmt, ...)
  local line = fmt:format(...)
  if not self.opts.quiet then self.progress:print(line) end
  if self.log_lines then self.log_lines[#self.log_lines + 1] = line end
end

function Run:write_outputs(final)
  local dir = self.opts.out
  if not dir then return end
  local T = self.T
  local rows = { "after_task," .. (function()
    local h = {}
    for j = 1, T do h[j] = "task" .. j end
    return table.concat(h, ",")
  end)() }
  for i = 1, #self.R do
    local r = { i }
    for j = 1, T do r[j + 1] = self.R[i][j] and ("%.4f"):format(self.R[i][j]) or "" end
    rows[#rows + 1] = csv_row(r)
  end
  assert(hnet.sys.write_file(dir .. "/accuracy_matrix.csv", table.concat(rows, "\n") .. "\n"))
  local m = { "after_task,task,metric,task_inference,seconds" }
  for _, e in ipairs(self.evals) do
    m[#m + 1] = csv_row { e.after, e.task, ("%.4f"):format(e.value),
                          e.inferred and ("%.4f"):format(e.inferred) or nil, ("%.2f"):format(e.time) }
  end
  assert(hnet.sys.write_file(dir .. "/metrics.csv", table.concat(m, "\n") .. "\n"))
  assert(hnet.sys.write_file(dir .. "/log.txt", table.concat(self.log_lines, "\n") .. "\n"))
  if final then
    local cjson = require "cjson"
    assert(hnet.sys.write_file(dir .. "/summary.json", cjson.encode(self.summary) .. "\n"))
  end
end

local function prepare_dir(opts, meta)
  local dir = opts.out
  if not dir then return end
  local kind = hnet.sys.exists(dir)
  if kind and kind ~= "directory" then
    error(("hnet.run: out '%s' exists and is not a directory"):format(dir), 3)
  end
  if hnet.sys.exists(dir .. "/summary.json") and not opts.force then
    error(("hnet.run: '%s' already holds a finished run (summary.json); choose another 'out' or pass force = true (--force) to overwrite it")
      :format(dir), 3)
  end
  local ok, err = hnet.sys.mkdir_p(dir)
  if not ok then error("hnet.run: " .. err, 3) end
  local cjson = require "cjson"
  assert(hnet.sys.write_file(dir .. "/options.json", cjson.encode(meta) .. "\n"))
end

--- Run `learner` over `stream`; see the file's header for the options.
function M.run(learner, stream, opts)
  local f = "hnet.run"
  opts = util.options(opts, OPTS, f, 3)
  local sc = SCENARIOS[opts.scenario or "task-given"]
  if not sc then
    error(("bad argument #3 to 'hnet.run' (field 'scenario': \"task-given\", \"domain\" or \"class\" expected, got %s)")
      :format(tostring(opts.scenario)), 2)
  end
  local T = stream:len()
  local first = stream:get(1)
  local kind = first.kind or "classification"
  if kind == "regression" and sc ~= "task-given" then
    error("bad argument #3 to 'hnet.run' (regression tasks support only scenario \"task-given\")", 2)
  end
  local heads, n_outputs = plan_heads(stream, sc, learner.per_task_nets, kind == "regression")
  local self = setmetatable({ learner = learner, stream = stream, opts = opts, scenario = sc,
                              heads = heads, n_outputs = n_outputs, T = T, R = {}, b = {},
                              evals = {}, log_lines = {} }, Run)
  self.progress = progress.new { quiet = opts.quiet, verbose = opts.verbose,
                                 every = opts.progress_every }
  local meta = { learner = learner.name, options = learner.o, scenario = sc, tasks = T,
                 stream = stream.name, threads = hnet.threads(), version = hnet.version,
                 meta = opts.meta }
  prepare_dir(opts, meta)
  learner:setup { n_tasks = T, n_outputs = n_outputs, input_shape = first.input_shape,
                  kind = kind, heads = heads, scenario = sc,
                  masks = function(t, n_seen) return make_mask(sc, heads, n_outputs, t, n_seen) end }
  self:log("hnet.run: %s on %s (%d tasks, scenario %s, %d trainable parameters)", learner.name,
           stream.name or "stream", T, sc, learner:n_trainable())
  local t0 = hnet.sys.clock()
  local want_fwt = opts.fwt ~= false and kind ~= "regression"
  for i = 1, T do
    local task = stream:get(i)
    learner:begin_task(i, task)
    if want_fwt then
      learner:begin_eval(i)
      if i == 1 then -- b_j: the untrained learner on every task
        local seen = (sc == "class" and not learner.per_task_nets) and T or 1
        for j = 1, T do self.b[j] = self:evaluate(j, seen, 1) end
      end
      if i > 1 then self.R[i - 1][i] = self:evaluate(i, i) end
    end
    local ts = hnet.sys.clock()
    self.progress:begin_task(i, T, learner.o.iterations, task.name)
    learner:train_task(i, task, { step = function(it, loss, reg)
      self.progress:step(it, loss, reg, learner.o.batch)
    end })
    learner:end_task(i, task)
    self.progress:end_task()
    local train_s = hnet.sys.clock() - ts
    learner:begin_eval(i)
    self.R[i] = self.R[i] or {}
    local cells = {}
    for j = 1, i do
      local v, inferred = self:evaluate(j, i)
      self.R[i][j] = v
      self.evals[#self.evals + 1] = { after = i, task = j, value = v, inferred = inferred,
                                      time = hnet.sys.clock() - t0 }
      cells[#cells + 1] = inferred and ("%.2f (ti %.1f)"):format(v, inferred) or ("%.2f"):format(v)
    end
    self:log("after task %d/%d (%.1f s): %s", i, T, train_s, table.concat(cells, "  "))
    self:write_outputs(false)
  end
  if kind == "regression" then
    local s = 0
    for j = 1, T do s = s + self.R[T][j] end
    self.summary = { mse = s / T, final_mse = self.R[T] }
  else
    self.summary = metrics.summary(self.R, want_fwt and self.b or nil)
    self.summary.final = self.R[T]
    local ti = {}
    for _, e in ipairs(self.evals) do if e.after == T and e.inferred then ti[#ti + 1] = e.inferred end end
    if #ti > 0 then self.summary.task_inference = metrics.mean_se(ti) end
  end
  self.summary.learner, self.summary.scenario, self.summary.tasks = learner.name, sc, T
  self.summary.seconds = hnet.sys.clock() - t0
  self.summary.trainable_parameters = learner:n_trainable()
  self.summary.peak_rss_mib = hnet.sys.peak_rss_mib()
  self:write_outputs(true)
  return self
end

--- Print the accuracy matrix and the metrics.
function Run:report()
  local T, R = self.T, self.R
  local lines = { ("%s, %s, %d tasks"):format(self.learner.name, self.scenario, T) }
  local head = { "after \\ task" }
  for j = 1, T do head[#head + 1] = ("%7d"):format(j) end
  lines[#lines + 1] = table.concat(head, " ")
  for i = 1, T do
    local row = { ("%12d"):format(i) }
    for j = 1, T do
      row[#row + 1] = R[i][j] and ("%7.2f"):format(R[i][j]) or ("%7s"):format("")
    end
    lines[#lines + 1] = table.concat(row, " ")
  end
  local s = self.summary
  local function f(v) return v and ("%.2f"):format(v) or "n/a" end
  if s.mse then
    lines[#lines + 1] = ("mean final MSE %.5f"):format(s.mse)
  else
    lines[#lines + 1] = ("ACC %s  BWT %s  FWT %s  forgetting %s%s"):format(f(s.acc), f(s.bwt),
      f(s.fwt), f(s.forgetting), s.task_inference and ("  task inference %.2f"):format(s.task_inference) or "")
  end
  lines[#lines + 1] = ("%.1f s, %d trainable parameters, peak memory %.0f MiB"):format(
    s.seconds, s.trainable_parameters, s.peak_rss_mib)
  local text = table.concat(lines, "\n")
  self.progress:print(text)
  return text
end

return setmetatable(M, { __call = function(_, ...) return M.run(...) end })
