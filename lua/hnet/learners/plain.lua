--- The shared body of the baselines: a target network whose weights W are
-- trained directly (no hypernetwork). Fine-tuning is this with nothing added;
-- EWC, online EWC and SI add a penalty and its bookkeeping through hooks;
-- `separate` keeps one W per task; `joint` trains on every task seen so far.
--
-- Heads follow the scenario chosen by hnet.run: a multi-head output layer
-- (CL1: task t trains and is evaluated on its own columns), one shared head
-- (CL2), or one head over every class seen so far (CL3).
--
-- Hooks a learner may define (all optional):
--   self:penalty(dW) -> value      add the penalty's gradient to dW
--   self:after_step(g, delta)      g: the task-loss gradient, delta: W_new - W_old
--   self:consolidate(t, task)      at the end of task t
--   self:save_extra(s)             add the learner's own state to s (checkpoints)
--   self:load_extra(s, ctx)        restore it (after the common state)
--   self:restore_before_task(s, ctx)  rebuild what begin_task(t) expects of
--                                  earlier tasks, when resuming within task t
local hnet = require "hnet"
local spec = require "hnet.spec"
local common = require "hnet.learners.common"
local base = require "hnet.learners.base"

local M = {}
local Plain = base.class()
M.Plain = Plain

--- A learner class `name` whose options are common.SHARED and `extra` (a
-- list of hnet.spec entries); returns the module { new =, class =, cli = }.
-- The class's `cli` field is the spec new() checks options against.
-- `init(self)` (optional) finishes construction.
function M.class(name, extra, cls, init)
  local fname = "hnet.learners." .. name
  if extra ~= nil then spec.validate(extra, ("hnet.learners.plain.class('%s', extra)"):format(name)) end
  cls = cls or {}
  cls.__index = cls
  setmetatable(cls, { __index = Plain })
  cls.cli = spec.extend(spec.extend(common.SHARED, { common.CLIP_GRAD_NORM, common.RESET_OPTIMISER }), extra)
  cls.learner_name = name
  return {
    class = cls,
    cli = cls.cli,
    new = function(opts)
      local o = spec.check(cls.cli, opts, fname)
      local self = setmetatable({ o = o, fname = fname }, cls)
      if init then init(self) end
      return self
    end,
  }
end

-- ---- the learner protocol (hnet.learners.base) ------------------------------

function Plain:name() return self.learner_name end
function Plain:options() return self.o end
-- Options added after runs were first checkpointed, with the value every run
-- had before (hnet.run compares only those in the learner's own spec): no
-- clipping, a fresh Adam per task, and (ewc, online_ewc) the given labels.
function Plain:implied_options() return { clip_grad_norm = 0, reset_optimiser = true, fisher_labels = "given" } end
function Plain:schedule()
  local o = self.o
  return { iterations = o.iterations, batch = o.batch, eval_batch = o.eval_batch }
end

--- Advice for a numerical fault or a task that does not learn.
function Plain:hint(what)
  if what == "chance" then
    return ("another learning rate (lr = %s)"):format(tostring(self.o.lr))
  end
  return ("lower the learning rate (lr = %s)"):format(tostring(self.o.lr))
end

function Plain:setup(info)
  local o = self.o
  self.info = info
  self.rng = hnet.rng(o.seed, 2)
  self.net = common.target_net(o.target, info.input_shape, info.n_outputs,
                               math.max(o.batch, o.eval_batch), self.fname)
  self.n_w = self.net:n_params()
  self.W = self:new_weights()
  self.dW = hnet.tensor(self.n_w)
  local out = self.net:out_shape()
  self.logits, self.dlogits = common.out_buffer(o.batch, out), common.out_buffer(o.batch, out)
  self.eval_out = common.out_buffer(o.eval_batch, out)
  if self.net:n_stats() > 0 then self.stats = self.net:init_stats() end
  return self
end

--- A freshly initialised weight vector.
function Plain:new_weights()
  local W = hnet.tensor(self.n_w)
  self.net:init(W, self.rng)
  return W
end

function Plain:n_trainable() return self.n_w end

function Plain:new_optimiser()
  local o = self.o
  return hnet.adam { n = self.n_w, lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
end

--- Training view of task t: its batcher, mask and label offset.
function Plain:task_view(t, task)
  local info = self.info
  local sc = info.scenario
  return {
    batcher = common.batcher(task.train, self.o.batch, self.rng),
    mask = info.masks(t, t),
    offset = sc == "domain" and 0 or info.heads[t].offset,
  }
end

function Plain:begin_task(t, task)
  self.t, self.in_task = t, true
  self.view = self:task_view(t, task)
  if not self.opt or self.o.reset_optimiser then self.opt = self:new_optimiser() end
  if self.after_step then
    self.g = self.g or hnet.tensor(self.n_w)
    self.W_old = self.W_old or hnet.tensor(self.n_w)
    self.delta = self.delta or hnet.tensor(self.n_w)
  end
end

function Plain:train_step(it, view)
  view = view or self.view
  local o, net = self.o, self.net
  local x, y, lengths = view.batcher:next()
  local kind = self.info.kind
  -- Labels move to the task's head; bits choose their head by the loss's offset.
  if view.offset ~= 0 and kind ~= "bits" then y:add(view.offset) end
  local n = x:size(1)
  local logits = n == o.batch and self.logits or self.logits:rows(1, n)
  local dlogits = n == o.batch and self.dlogits or self.dlogits:rows(1, n)
  net:forward(self.W, x, { train = true, rng = self.rng, out = logits, stats = self.stats, lengths = lengths })
  local loss = common.task_loss(kind, logits, kind == "regression" and y:view(n, 1) or y, dlogits, view.mask,
                                view.offset)
  if not common.finite(loss) then
    common.numerical_fault(self.fname, "the task loss", loss, self.t, it,
      { { "W (network weights)", self.W }, { "logits", logits },
        { "x (the batch inputs: check the task's data)", x } },
      ("lower the learning rate (lr = %g)%s"):format(o.lr, self.penalty and " or the penalty strength" or ""))
  end
  self.dW:zero()
  net:backward(self.W, dlogits, self.dW, lengths and { lengths = lengths } or nil)
  if self.after_step then self.g:copy(self.dW) end
  local pen = self.penalty and self:penalty(self.dW) or 0
  -- the gradient of the task loss plus the penalty, as the reference clips
  if o.clip_grad_norm > 0 then common.clip_grad_norm(o.clip_grad_norm, { self.dW }) end
  if self.after_step then self.W_old:copy(self.W) end
  self.opt:step(self.W, self.dW)
  if self.after_step then
    self.delta:copy(self.W)
    self.delta:sub(self.W_old)
    self:after_step(self.g, self.delta)
  end
  return loss, pen
end

--- Train on the current task from iteration hooks.from (default 1);
-- hooks.step(it, loss, penalty) after each step, returning true to stop
-- there. Returns the last iteration done.
function Plain:train_task(t, task, hooks)
  hooks = hooks or {}
  local it = (hooks.from or 1) - 1
  while it < self.o.iterations do
    it = it + 1
    local loss, pen = self:train_step(it, self:step_view(t))
    if hooks.step and hooks.step(it, loss, pen) then break end
  end
  return it
end

--- The view a step trains on (joint overrides it: a random earlier task).
function Plain:step_view() return self.view end

function Plain:end_task(t, task)
  if self.consolidate then self:consolidate(t, task) end
  self.in_task = false
end

--- The tensors training changes, for hnet.run's NaN/Inf watch.
function Plain:watch()
  return { { "W (network weights)", self.W } }
end

-- ---- state (checkpoints) ------------------------------------------------------------

--- Everything needed to continue (see hnet.checkpoint): W, the RNG, the
-- BatchNorm statistics, within a task the optimiser and the batcher, and
-- what the subclass adds (save_extra). The tensors are the learner's own.
function Plain:state()
  local s = { kind = self:name(), t = self.t or 0, in_task = self.in_task or false,
              W = self.W, rng = self.rng:state(), stats = self.stats }
  if self.opt then common.save_optim(s, "opt", self.opt) end
  if self.in_task then self.view.batcher:save_state(s, "batcher") end
  if self.save_extra then self:save_extra(s) end
  return s
end

--- Restore a state() after setup(); ctx.task(i) gives task i.
function Plain:load_state(s, ctx)
  common.check_kind(s, self:name())
  local t = common.load_int(s, "t", 0, self.info.n_tasks)
  if s.in_task and t < 1 then common.state_error("t", "a task in progress expected") end
  if self.restore_before_task then self:restore_before_task(s, ctx, t) end
  if s.in_task then self:begin_task(t, ctx.task(t)) end
  common.load_tensor(s, "W", self.W)
  common.load_rng(s, "rng", self.rng)
  if self.stats then common.load_tensor(s, "stats", self.stats) end
  if s["opt.moments"] ~= nil then
    self.opt = self.opt or self:new_optimiser()
    common.load_optim(s, "opt", self.opt)
  end
  if s.in_task then self.view.batcher:load_state(s, "batcher") end
  if self.load_extra then self:load_extra(s, ctx, t) end
  self.t, self.in_task = t > 0 and t or nil, s.in_task or false
end

--- The whole output layer for x (eval mode); valid until the next call.
-- The masks of the run's scenario choose the head. lengths: the samples'
-- sequence lengths or nil.
function Plain:predict(x, _, lengths) return self:output(x, self.W, lengths) end

-- predict and training take per-sample sequence lengths.
function Plain:takes_lengths() return true end

-- Its losses: cross-entropy, MSE, and the per-bit loss of sequence outputs.
function Plain:task_kinds() return { "classification", "regression", "bits" } end

--- The output layer for x under the weights W (eval mode).
function Plain:output(x, W, lengths)
  local n = x:size(1)
  local out = n == self.o.eval_batch and self.eval_out or self.eval_out:rows(1, n)
  return self.net:forward(W, x, { train = false, out = out, stats = self.stats, lengths = lengths })
end

--- The diagonal Fisher information at W from `n` training samples of task t,
-- one at a time (squared per-sample gradients of the log-likelihood; n calls
-- into C per task, not per step). `labels`: "given" (the default) takes each
-- sample's own label, the empirical Fisher; "predicted" takes the network's
-- most probable class among the outputs the task trains (classification
-- only), as van de Ven & Tolias's EWC baselines do.
function Plain:fisher(t, task, n, labels)
  labels = labels or "given"
  if labels ~= "given" and labels ~= "predicted" then
    error(("%s: fisher labels '%s'; use 'given' or 'predicted'"):format(self.fname, tostring(labels)), 2)
  end
  local F = hnet.tensor(self.n_w)
  local g = hnet.tensor(self.n_w)
  local data = task.train
  local count = math.min(n, data.x:size(1))
  local order = self.rng:permutation(data.x:size(1))
  local mask = self.info.masks(t, t)
  local offset = self.info.scenario == "domain" and 0 or self.info.heads[t].offset
  local shape = self.net:out_shape()
  local out, dout = common.out_buffer(1, shape), common.out_buffer(1, shape)
  local yb = hnet.tensor(1)
  local kind = self.info.kind
  if labels == "predicted" and kind ~= "classification" then
    error(("%s: fisher_labels = 'predicted' needs a classification task (task %d is %s)")
      :format(self.fname, t, kind), 2)
  end
  local pred = labels == "predicted" and hnet.tensor(1) or nil
  local fopt, bopt = { train = false, out = out, stats = self.stats }, {}
  for s = 1, count do
    local i = order[s]
    local x = data.x:rows(i, i)
    fopt.lengths = data.lengths and data.lengths:rows(i, i) or nil
    bopt.lengths = fopt.lengths
    self.net:forward(self.W, x, fopt)
    if kind == "regression" then
      hnet.loss.mse(out, data.y:rows(i, i):view(1, 1), { grad = dout })
    elseif kind == "bits" then
      hnet.loss.bits(out, data.y:rows(i, i), { grad = dout, offset = offset })
    elseif pred then
      -- argmax is 0-based over all outputs, as xent's labels; -1: a non-finite row
      hnet.loss.argmax(out, { mask = mask, out = pred })
      if pred:get(1) < 0 then
        error(("%s: task %d, training sample %d: the network's output is not finite, no class to take as the Fisher's label")
          :format(self.fname, t, i), 2)
      end
      hnet.loss.xent(out, pred, { mask = mask, grad = dout })
    else
      yb:set(1, data.y:get(i) + offset)
      hnet.loss.xent(out, yb, { mask = mask, grad = dout })
    end
    g:zero()
    self.net:backward(self.W, dout, g, bopt)
    hnet.cl.fisher_acc(F, g, 1 / count)
  end
  return F
end

return M
