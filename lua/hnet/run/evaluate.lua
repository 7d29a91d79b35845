--- hnet.run.evaluate — scoring a learner on a task's test split, and the
-- task-inference policy when the task is not given (shared with the
-- embedding pool of hnet.shift).
--
-- A task-conditioned learner (one network per task) infers the task as the
-- one whose prediction scores lowest under a policy: by default the lowest
-- predictive entropy per sample (HNET+ENT). The run's option `inference`
-- names another registered policy (M.policies: entropy, max_prob, energy,
-- entropy_noise; M.register_policy adds one) or is a function(entropies_by_task, i) ->
-- task; the learner's infer_task(x, n_seen) overrides both.
local hnet = require "hnet"
local util = require "hnet.util"
local scenario = require "hnet.run.scenario"

local M = {}
local methods = {}
M.methods = methods

--- Call fn(x, y, lengths) on consecutive row slices of data {x, y,
-- lengths} of at most `size` (lengths nil when the data have none).
function M.slices(data, size, fn)
  local n = data.x:size(1)
  local L = data.lengths
  local i = 1
  while i <= n do
    local j = math.min(n, i + size - 1)
    fn(data.x:rows(i, j), data.y:rows(i, j), L and L:rows(i, j))
    i = j + 1
  end
end

local function negated(t)
  for i = 1, #t do t[i] = -t[i] end
  return t
end

--- A policy's score_inputs from a per-output `score` and a list of input
-- augmentations (each function(x) -> a tensor of x's shape, read before the
-- next one is made): a sample's score is the mean of its scores over the
-- augmented inputs, an ensemble over the augmentations. forward(x') is the
-- output of one task's network on x'.
function M.ensemble(score, augs)
  local f = "hnet.run.evaluate.ensemble"
  if type(score) ~= "function" then
    error(("bad argument #1 to '%s' (a score function(out) -> list expected, got %s)"):format(f, type(score)), 2)
  end
  if type(augs) ~= "table" or #augs == 0 then
    error(("bad argument #2 to '%s' (a non-empty list of augmentations function(x) -> x' expected)"):format(f), 2)
  end
  for i, a in ipairs(augs) do
    if type(a) ~= "function" then
      error(("bad argument #2 to '%s' (augmentation %d: a function(x) -> x' expected, got %s)"):format(f, i, type(a)), 2)
    end
  end
  return function(forward, x)
    local sum
    for _, aug in ipairs(augs) do
      local s = score(forward(aug(x)))
      if sum then
        for i = 1, #s do sum[i] = sum[i] + s[i] end
      else
        sum = s
      end
    end
    for i = 1, #sum do sum[i] = sum[i] / #augs end
    return sum
  end
end

local function entropy_score(out) return hnet.loss.entropy(out):flat_table() end

-- entropy_noise's augmentations: the input and copies with Gaussian pixel
-- noise, each copy's noise from a fixed stream, so that every task's
-- network sees the same inputs and evaluations repeat. No clamping: the
-- inputs' range is the task's business (noise is as meaningful on permuted
-- pixels as on images, unlike rotations or shifts).
local NOISE_STD, NOISE_COPIES, NOISE_SEED = 0.1, 4, 20200
local noise_augs = { function(x) return x end }
for k = 1, NOISE_COPIES do
  noise_augs[#noise_augs + 1] = function(x)
    return hnet.transform.noise(x, NOISE_STD, hnet.rng(NOISE_SEED, k), { clamp = false })
  end
end

--- The task-inference policies by name. score(out) gives a batch's
-- per-sample scores (a list) from its outputs under one task, or
-- score_inputs(forward, x) from the batch x and forward(x') (the outputs
-- of that task's network on inputs x' of x's shape: augmented copies of
-- x); the task of the lowest score is chosen, and a NaN score (a
-- non-finite output) never is.
M.policies = {
  entropy = { about = "lowest predictive entropy of the softmax (HNET+ENT, the paper's)",
              score = entropy_score },
  -- The log-probability: a confident network's p_max rounds to 1 in
  -- float for most inputs, and the tasks would tie.
  max_prob = { about = "highest maximum softmax probability (Hendrycks & Gimpel, 2017)",
               score = function(out) return negated(hnet.loss.max_logprob(out):flat_table()) end },
  energy = { about = "lowest energy, -logsumexp of the logits (Liu et al., 2020)",
             score = function(out) return negated(hnet.loss.logsumexp(out):flat_table()) end },
  entropy_noise = { about = ("lowest predictive entropy averaged over the input and %d copies with Gaussian pixel noise (std %g)")
                      :format(NOISE_COPIES, NOISE_STD),
                    score_inputs = M.ensemble(entropy_score, noise_augs) },
}

--- Add a task-inference policy: M.register_policy(name, { score =
-- function(out) -> per-sample list (lower: more likely this task), or
-- score_inputs = function(forward, x) -> that list (M.ensemble makes one),
-- about = "one line" }); then hnet.run's option inference = name uses it.
function M.register_policy(name, p)
  local f = "hnet.run.evaluate.register_policy"
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error(("bad argument #1 to '%s' (an identifier expected, got %s)"):format(f, tostring(name)), 2)
  end
  if M.policies[name] then
    error(("bad argument #1 to '%s' (policy '%s' exists already)"):format(f, name), 2)
  end
  if type(p) ~= "table" or (type(p.score) == "function") == (type(p.score_inputs) == "function") then
    error(("bad argument #2 to '%s' ({ score = function(out) -> list or score_inputs = function(forward, x) -> list, about = string } expected: one of the two functions)")
      :format(f), 2)
  end
  M.policies[name] = { score = p.score, score_inputs = p.score_inputs,
                       about = type(p.about) == "string" and p.about or name }
end

--- The registered policy names, sorted.
function M.policy_names()
  local names = {}
  for k in pairs(M.policies) do names[#names + 1] = k end
  table.sort(names)
  return names
end

--- Per-sample scores and predicted classes of a batch under each of the
-- tasks 1..n: forward(t) gives the batch's output under task t (a buffer
-- the next call may reuse: both are read before it); score(out) the
-- per-sample list (default: the entropies). Returns scores, preds (lists by
-- task of lists by sample).
function M.scores(forward, n, score)
  score = score or M.policies.entropy.score
  local scores, preds = {}, {}
  for t = 1, n do
    local out = forward(t)
    scores[t] = score(out)
    preds[t] = hnet.loss.argmax(out):flat_table()
  end
  return scores, preds
end

--- Sample i's task: the one of lowest score (the first of equal ones; a
-- NaN score never wins).
function M.lowest(scores, i)
  local best, bt = math.huge, 1
  for t = 1, #scores do
    local e = scores[t][i]
    if e < best then best, bt = e, t end
  end
  return bt
end

--- The number of rows (samples) of t [n, ...] holding a NaN or Inf, in the
-- columns that are scored (the mask's) for a net's output [n, k]. Such an
-- output row predicts nothing (hnet.loss scores it wrong, argmax -1). Inputs
-- are checked apart: ReLU maps NaN to 0, so a NaN input can give a finite,
-- meaningless output.
function M.nonfinite_rows(t, mask)
  if t:all_finite() then return 0 end
  local n = t:size(1)
  local count = 0
  for _, p in ipairs(hnet.loss.argmax(t:view(n, t:numel() // n), { mask = mask }):flat_table()) do
    if p < 0 then count = count + 1 end
  end
  return count
end

-- Task j with the task inferred among n_seen: the metric, the
-- task-inference accuracy, the same networks with the task given and (a
-- class run) the label within the inferred task, all in percent.
local function evaluate_inferred(self, j, n_seen, data, net_t)
  local learner, sc, n = self.learner, self.scenario, data.x:size(1)
  local policy, score, score_inputs = self.opts.inference, nil, nil
  if type(policy) ~= "function" then
    local p = M.policies[policy or "entropy"]
    score, score_inputs = p.score, p.score_inputs
    policy = M.lowest
  end
  local correct, inferred_ok, given_ok, domain_ok, bad = 0, 0, 0, 0, 0
  M.slices(data, self.sched.eval_batch, function(x, y, lengths)
    local chosen = learner:infer_task(x, n_seen, lengths)
    local ents, preds = M.scores(function(t) return learner:predict(x, t, lengths) end, n_seen, score)
    if score_inputs then -- the predictions stay those of x itself
      for t = 1, n_seen do
        ents[t] = score_inputs(function(xa) return learner:predict(xa, t, lengths) end, x)
      end
    end
    local labels = y:flat_table()
    local own = preds[net_t]
    for i = 1, #labels do
      for k = 1, n_seen do
        if preds[k][i] < 0 then bad = bad + 1; break end
      end
      local got
      if chosen then got = chosen[i] else got = policy(ents, i) end
      local t = math.tointeger(got)
      if not t or t < 1 or t > n_seen then
        error(("hnet.run: %s returned %s for test sample %d of task %d; it must return a task index in 1..%d (the tasks seen so far)")
          :format(chosen and "the learner's infer_task" or "the task-inference policy (option 'inference')",
                  type(got) == "number" and tostring(got) or type(got), i, j, n_seen), 0)
      end
      if t == j then inferred_ok = inferred_ok + 1 end
      if own[i] == labels[i] then given_ok = given_ok + 1 end
      if preds[t][i] == labels[i] then
        domain_ok = domain_ok + 1
        if scenario.right_when_inferred(sc, t, j) then correct = correct + 1 end
      end
    end
  end)
  if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
  return 100 * correct / n, 100 * inferred_ok / n, 100 * given_ok / n,
         scenario.judges(sc, "domain") and 100 * domain_ok / n or nil
end

--- Evaluate task j after n_seen tasks. Returns the metric (accuracy in
-- percent, or MSE), and, when the task had to be inferred, the
-- task-inference accuracy, the accuracy with the task given and (class
-- runs) the label within the inferred task (scenario.ALONGSIDE).
-- `as_task` (optional) evaluates task j's data with task as_task's network
-- (used for b_j, where only the first task's network exists).
-- A test sample whose inputs, or outputs under any network consulted, hold
-- NaN or Inf stops the run, as a NaN in training does.
function methods:evaluate(j, n_seen, as_task)
  local learner, task, sc = self.learner, self.stream:get(j), self.scenario
  local net_t = as_task or j
  local data = util.spread_rows(task.test, self.opts.eval_max)
  local n = data.x:size(1)
  local bad_inputs = M.nonfinite_rows(data.x)
  if bad_inputs > 0 then self:evaluation_fault(j, n, bad_inputs) end
  local bs = self.sched.eval_batch
  local t_arg = self.conditioned and net_t or nil
  local bad = 0 -- test samples with a non-finite output
  if task.kind == "bits" then
    -- Per-bit accuracy in % over the scored (output) steps, on task j's head
    -- of a shared network's multi-head output.
    local correct, scored = 0, 0
    local bopt = { offset = self.conditioned and 0 or scenario.label_offset(sc, self.heads, j) }
    M.slices(data, bs, function(x, y, lengths)
      local out = learner:predict(x, t_arg, lengths)
      bad = bad + M.nonfinite_rows(out)
      local _, c, s = hnet.loss.bits(out, y, bopt)
      correct, scored = correct + c, scored + s
    end)
    if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
    if scored == 0 then
      error(("hnet.run: task %d (%s) scores no bit in its test split (every target is -1)"):format(j, task.name), 0)
    end
    return 100 * correct / scored
  end
  if task.kind == "regression" then
    local se = 0
    M.slices(data, bs, function(x, y, lengths)
      local out = learner:predict(x, t_arg, lengths)
      bad = bad + M.nonfinite_rows(out)
      se = se + hnet.loss.mse(out, y:view(x:size(1), 1)) * x:size(1)
    end)
    if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
    return se / n
  end
  local correct = 0
  if self.conditioned then
    if not scenario.task_given(sc) then return evaluate_inferred(self, j, n_seen, data, net_t) end
    M.slices(data, bs, function(x, y, lengths)
      local out = learner:predict(x, net_t, lengths)
      bad = bad + M.nonfinite_rows(out)
      local _, c = hnet.loss.accuracy(out, y)
      correct = correct + c
    end)
    if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
    return 100 * correct / n
  end
  -- One shared network: masks and label offsets choose the head.
  local mask = scenario.mask(sc, self.heads, self.n_outputs, j, n_seen)
  local offset = scenario.label_offset(sc, self.heads, j)
  M.slices(data, bs, function(x, y, lengths)
    local labels = y
    if offset ~= 0 then labels = y:clone(); labels:add(offset) end
    local out = learner:predict(x, nil, lengths)
    bad = bad + M.nonfinite_rows(out, mask)
    local _, c = hnet.loss.accuracy(out, labels, { mask = mask })
    correct = correct + c
  end)
  if bad > 0 then self:evaluation_fault(j, n, 0, bad) end
  return 100 * correct / n
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
-- only a task-conditioned learner allows that (its training does not
-- depend on the scenario; a shared network's heads do). Returns
-- { metric = {per task: accuracy in % or MSE}, mean =, inferred = {per
-- task: task-inference accuracy} or nil when the task is given, inference =
-- its mean or nil }.
function methods:evaluate_on(other, opts)
  local f = "hnet.Run:evaluate_on"
  if not require("hnet.stream").is_stream(other) then
    error(("bad argument #1 to '%s' (an hnet.stream expected, got %s)"):format(f, type(other)), 2)
  end
  local o = util.options(opts, { "scenario" }, f, 2)
  local sc = self.scenario
  if o.scenario ~= nil then
    sc = scenario.resolve(o.scenario)
    if not sc then
      error(("bad argument #2 to '%s' (field 'scenario': task-given, domain or class expected, got %s)")
        :format(f, tostring(o.scenario)), 2)
    end
    if not scenario.can_judge(self.scenario, sc, self.conditioned) then
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
    local v, inferred = methods.evaluate(view, j, T)
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

return M
