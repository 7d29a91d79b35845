--- The hypernetwork learner (von Oswald et al., ICLR 2020).
--
-- A target network with no weights of its own; its weights W_t = h(e_t; θ)
-- come from a hypernetwork (full or chunked) and a learned embedding e_t per
-- task. When task T starts, the outputs for all earlier tasks are fixed as
-- targets W*_t = h(e_t; θ*) (stored, or recomputed from a snapshot of θ*),
-- and while T is learned the loss is
--     L_task(T) + β/(T−1) · Σ_{t<T} ‖h(e_t; θ) − W*_t‖²
-- minimised over θ and e_T (earlier embeddings stay fixed). The regulariser
-- for every earlier task is ONE batched hypernetwork pass (all their chunk
-- rows in one GEMM per layer), optionally over a random subset of `reg_tasks`
-- earlier tasks per step (the sum is then divided by that number). With
-- `lookahead`, the regulariser is evaluated at θ + Δθ, Δθ being the Adam step
-- the task loss alone would take (held constant), as in the paper's runs.
-- With `clip_grad_norm` c > 0, the gradient of θ and e_T (the task loss's
-- plus the regulariser's) is scaled to a joint L2 norm of at most c before
-- the Adam steps, as the recurrent reference runs do (c = 1).
-- θ is initialised by `init`: "hyperfan" (default: the generated weights get
-- the target network's own init variance, and the hypernetwork's hidden path
-- is scaled down (max_h_l1 = 2, hn_hnet_init_capped in hnet.h) so that an
-- Adam step does not move them tens of times as far as a directly trained
-- weight) or "xavier" (Xavier-uniform weights,
-- zero biases: what hypercl's MNIST runs, the published numbers, use).
--
--   local learner = hnet.learners.hypernet {
--     target = { "mlp", hidden = {100, 100} },
--     hnet = { embedding = 8, hidden = {50, 50}, chunk = 0, chunk_embedding = 8 },
--     beta = 0.01, lr = 1e-3, batch = 32, iterations = 1000, lookahead = false }
local hnet = require "hnet"
local spec = require "hnet.spec"
local common = require "hnet.learners.common"
local hypermodel = require "hnet.hypermodel"
local base = require "hnet.learners.base"

local Learner = base.class()

local FNAME = "hnet.learners.hypernet"

local M = {}

-- The hypernetwork's shape (the `hnet` option); the shift pool takes the same.
M.HNET = {
  { name = "embedding", type = "integer", default = 8, min = 1, help = "task embedding size" },
  { name = "hidden", type = "int_list", default = { 50, 50 }, help = "hidden layer sizes of the hypernetwork" },
  { name = "act", type = "string", default = "relu", choices = { "relu", "elu", "tanh", "sigmoid", "identity" },
    help = "hidden activation" },
  { name = "alpha", type = "number", default = 1, min = 1e-6, help = "ELU's alpha" },
  { name = "chunk", type = "integer", default = 0, min = 0,
    help = "weights generated per chunk (0: the full hypernetwork, all weights at once)" },
  { name = "chunk_embedding", type = "integer", default = 8, min = 1, help = "chunk embedding size (chunked only)" },
}

--- The learner's options (hnet.spec): checked by new(), printed by
-- `./hnet help hypernet`.
M.cli = spec.extend(common.SHARED, {
  { name = "hnet", type = "table", fields = M.HNET, help = "the hypernetwork" },
  { name = "beta", type = "number", default = 0.01, min = 0,
    help = "strength of the regulariser that keeps earlier tasks' generated weights" },
  { name = "emb_var", type = "number", default = 1.0, above = 0, help = "variance of a new task embedding's N(0, emb_var) init" },
  { name = "reg_tasks", type = "integer", default = 0, min = 0,
    help = "regularise a random subset of this many earlier tasks per step (0: all)" },
  { name = "lookahead", type = "boolean", default = false,
    help = "evaluate the regulariser at θ + Δθ (the task loss's Adam step), as in the paper's runs" },
  { name = "store_targets", type = "boolean", default = false,
    help = "store the targets W*_t (earlier tasks × |W| floats) instead of recomputing them from a snapshot of θ* (|θ| floats; through Gram matrices, far fewer FLOPs)" },
  { name = "train_theta", type = "boolean", default = true, help = "train θ (false: only the task embeddings learn)" },
  common.CLIP_GRAD_NORM,
  { name = "init", type = "string", default = "hyperfan", choices = { "hyperfan", "xavier" },
    help = "θ's initialisation (hyperfan: the target net's init variance; xavier: hypercl's)" },
})
Learner.cli = M.cli

-- hyperfan's bound on the mean L1 norm of the hypernetwork's last hidden
-- activation (θ is trained with Adam). Unbounded (~30 for 50 ReLU units),
-- brightness-shifted Fashion-MNIST lost every first-layer ReLU in two of
-- three seeds; bounded at 1, short runs learned more slowly (gradual_drift
-- --quick: online accuracy 71% against 80%); at 2 neither.
local HYPERFAN_MAX_H_L1 = 2

function M.new(opts)
  local o = spec.check(M.cli, opts, FNAME)
  return setmetatable({ o = o }, Learner)
end

-- ---- the learner protocol (hnet.learners.base) ------------------------------

function Learner:name() return "hypernet" end
function Learner:options() return self.o end

-- Options that came after hypernetwork runs were first checkpointed, with
-- the value those runs used: a checkpoint without one resumes under it.
function Learner:implied_options() return { init = "hyperfan", clip_grad_norm = 0 } end

function Learner:schedule()
  local o = self.o
  return { iterations = o.iterations, batch = o.batch, eval_batch = o.eval_batch }
end

-- One generated network per task: predict needs the task.
function Learner:task_conditioned() return true end

--- Advice for a numerical fault or a task that does not learn.
function Learner:hint(what)
  local o = self.o
  if what == "chance" then
    return ("another learning rate (lr = %s); another init (init = \"hyperfan\" or \"xavier\", now \"%s\")")
      :format(tostring(o.lr), tostring(o.init))
  end
  return ("lower the learning rate (lr = %s) or beta (%s)"):format(tostring(o.lr), tostring(o.beta))
end

--- info: { n_tasks, n_outputs, input_shape, kind = "classification"|"regression" }
function Learner:setup(info)
  local o = self.o
  self.info = info
  self.rng = hnet.rng(o.seed, 1)
  local n_tasks = info.n_tasks
  local m = hypermodel.build {
    fname = FNAME, target = o.target, input_shape = info.input_shape, n_outputs = info.n_outputs,
    max_batch = math.max(o.batch, o.eval_batch), hnet = o.hnet, max_tasks = 1,
    n_embeddings = n_tasks, init = { emb_var = o.emb_var, rng = self.rng, scheme = o.init,
                                     max_h_l1 = o.init == "hyperfan" and HYPERFAN_MAX_H_L1 or nil } }
  self.model = m
  -- The model's objects, under the names state(), begin_eval and tests read.
  self.net, self.h, self.theta, self.E = m.net, m.h, m.theta, m.E
  self.n_w, self.n_theta = m.n_w, m.n_theta
  local out = self.net:out_shape()
  self.logits = common.out_buffer(o.batch, out)
  self.dlogits = common.out_buffer(o.batch, out)
  self.eval_out = common.out_buffer(o.eval_batch, out)
  if self.net:n_stats() > 0 then self.stats = {} end
  return self
end

function Learner:n_trainable()
  return self.n_theta + self.o.hnet.embedding * self.info.n_tasks
end

--- Rows 1..p of a [n, ...] tensor as a view (nil for p = 0).
local function head_rows(t, p)
  if p == 0 then return nil end
  return t:rows(1, p)
end

function Learner:begin_task(t, task)
  local o = self.o
  if t > self.E:size(1) then
    error(("%s: task %d but the learner was set up for %d tasks"):format(FNAME, t, self.E:size(1)), 2)
  end
  self.t, self.in_task = t, true
  local p, m = t - 1, self.model
  -- The new task's embedding, e_t ~ N(0, emb_var).
  self.e = m:draw_embedding(self.E:rows(t, t), o.emb_var, self.rng)
  if self.stats then self.stats[t] = self.net:init_stats() end
  -- Fresh optimisers per task, as in the paper's code.
  m:begin(self.e, { lr = o.lr, beta1 = o.beta1, beta2 = o.beta2, train_theta = o.train_theta,
                    clip_grad_norm = o.clip_grad_norm })
  self.opt_theta, self.opt_e = m.opt_theta, m.opt_e
  -- Regulariser targets for the p earlier tasks: one batched pass.
  self.n_reg = 0
  if p > 0 and o.beta > 0 then
    self.n_reg = (o.reg_tasks > 0 and o.reg_tasks < p) and o.reg_tasks or p
    local r = m:fix_targets(self.E:rows(1, p), { beta = o.beta, n = self.n_reg, rng = self.rng,
                                                store = o.store_targets, lookahead = o.lookahead })
    self.Wstar, self.Wstar_prev, self.theta_star = m.Wstar, r.Wstar_prev, r.theta_star
  end
  local b = math.min(o.batch, task.train.x:size(1))
  local group = self.group
  if group and group.data then
    local lo, hi = group:share(b)
    if hi < lo then
      error(("%s: distributed by data over %d ranks, but task %d's batch has %d rows: give every rank one (batch >= %d, or distributed = \"tasks\")")
        :format(FNAME, group.size, t, b, group.size), 0)
    end
    self.batcher = common.batcher(task.train, o.batch, self.rng, { lo = lo, hi = hi })
    self.share = (hi - lo + 1) / b
  else
    self.batcher = common.batcher(task.train, o.batch, self.rng)
    self.share = 1
  end
end

-- Does the target spec drop units at random in training (a dropout layer
-- or option > 0)? Dropout draws per row from the learner's generator.
local function has_dropout(v, seen)
  if type(v) ~= "table" then return false end
  seen = seen or {}
  if seen[v] then return false end
  seen[v] = true
  if v[1] == "dropout" and (tonumber(v[2]) or 0) > 0 then return true end
  if (tonumber(v.dropout) or 0) > 0 then return true end
  for _, x in pairs(v) do if has_dropout(x, seen) then return true end end
  return false
end

--- Train over the ranks of `group` (hnet.distributed.group), after setup
-- and before the first task: the model's steps sum their shares'
-- gradients over the ranks (hnet.hypermodel_dist). Split by data, each
-- rank draws the whole batch order and gathers only its rows; BatchNorm
-- (statistics of the whole batch) and dropout (masks drawn row by row from
-- the one generator) would then differ from one process and are refused.
function Learner:distribute(group)
  if not self.model then error(FNAME .. ": distribute after setup, before the first task", 2) end
  if group.data then
    local why = self.net:n_stats() > 0 and "BatchNorm (its statistics are the whole batch's)"
      or has_dropout(self.o.target) and "dropout (its masks are drawn row by row from one generator)"
    if why then
      error(("%s: distributed = \"%s\" splits each batch's rows over the ranks, and the target network has %s: use distributed = \"tasks\", or a target without it")
        :format(FNAME, group.split, why), 0)
    end
  end
  self.group = group
  self.model:distribute(group)
end

-- The regulariser term: adds its gradient to dtheta, returns its value.
function Learner:regularise(theta_at)
  return self.model:regularise(theta_at)
end

-- A non-finite loss or regulariser: stop with the task, the iteration, the
-- tensors that hold NaN/Inf and a hint.
function Learner:fault(what, v, it, tensors)
  common.numerical_fault(FNAME, what, v, self.t, it, tensors,
    ("lower the learning rate (lr = %g) or beta (%g)"):format(self.o.lr, self.o.beta))
end

function Learner:train_step(it)
  local o, m = self.o, self.model
  local x, y, lengths = self.batcher:next()
  local n = x:size(1)
  local logits = n == o.batch and self.logits or self.logits:rows(1, n)
  local dlogits = n == o.batch and self.dlogits or self.dlogits:rows(1, n)
  local kind = self.info.kind
  local item = { x = x, y = kind == "regression" and y:view(n, 1) or y, out = logits, dout = dlogits,
                 stats = self.stats and self.stats[self.t], lengths = lengths }
  return m:step({ item }, { kind = kind, rng = self.rng, share = self.share, fault = function(what, v)
    if what == "loss" then
      self:fault("the task loss", v, it, { { "theta (hypernetwork parameters)", self.theta },
        { "e (task embedding)", self.e }, { "W (generated weights)", m.W },
        { "logits", logits }, { "x (the batch inputs: check the task's data)", x } })
    end
    local r = m.reg
    self:fault("the regulariser", v, it, { { "theta (hypernetwork parameters)", self.theta },
      { "theta + look-ahead step", o.lookahead and r.theta_la or nil },
      { "W*_t (regulariser targets)", o.store_targets and r.Wstar_prev or nil },
      { "e_t (the earlier embeddings of the step)", r.E } })
  end })
end

function Learner:end_task() self.in_task = false end

--- The tensors training changes, for hnet.run's NaN/Inf watch.
function Learner:watch()
  return { { "theta (hypernetwork parameters)", self.theta }, { "E (task embeddings)", self.E } }
end

-- ---- state (checkpoints) ------------------------------------------------------------

--- Everything needed to continue, as a flat table name -> tensor, integer
-- list or number (see hnet.checkpoint). Between tasks: θ, the embeddings,
-- the RNG and the BatchNorm statistics; within a task also both optimisers,
-- the batcher's order and position and the regulariser targets W*_t (or θ*).
-- The tensors are the learner's own (or views): save them before training on.
function Learner:state()
  local s = { kind = "hypernet", t = self.t or 0, in_task = self.in_task or false,
              theta = self.theta, E = self.E, rng = self.rng:state() }
  for t, st in pairs(self.stats or {}) do s["stats." .. t] = st end
  if self.in_task then
    common.save_optim(s, "opt_theta", self.opt_theta)
    common.save_optim(s, "opt_e", self.opt_e)
    self.batcher:save_state(s, "batcher")
    if self.n_reg > 0 then
      if self.o.store_targets then s.Wstar = self.Wstar_prev else s.theta_star = self.theta_star end
    end
  end
  return s
end

--- Restore a state() after setup(); ctx.task(i) gives task i. A state taken
-- within a task begins that task again (allocating what it needs) and then
-- overwrites everything it drew or computed.
function Learner:load_state(s, ctx)
  common.check_kind(s, "hypernet")
  local t = common.load_int(s, "t", 0, self.E:size(1))
  if s.in_task then
    if t < 1 then common.state_error("t", "a task in progress expected") end
    self:begin_task(t, ctx.task(t))
  end
  common.load_tensor(s, "theta", self.theta)
  common.load_tensor(s, "E", self.E)
  common.load_rng(s, "rng", self.rng)
  if self.stats then
    for i = 1, t do
      self.stats[i] = self.stats[i] or self.net:init_stats()
      common.load_tensor(s, "stats." .. i, self.stats[i])
    end
  end
  if s.in_task then
    common.load_optim(s, "opt_theta", self.opt_theta)
    common.load_optim(s, "opt_e", self.opt_e)
    self.batcher:load_state(s, "batcher")
    if self.n_reg > 0 then
      if self.o.store_targets then common.load_tensor(s, "Wstar", self.Wstar_prev)
      else common.load_tensor(s, "theta_star", self.theta_star) end
    end
  end
  self.t, self.in_task = t > 0 and t or nil, s.in_task or false
end

--- Before an evaluation: generate the weights of tasks 1..n_seen in one pass.
function Learner:begin_eval(n_seen)
  if not self.Weval or self.Weval:size(1) < n_seen then
    self.Weval = hnet.tensor(self.info.n_tasks, self.n_w)
  end
  self.model:generate(head_rows(self.E, n_seen), head_rows(self.Weval, n_seen))
  self.eval_rows = {}
  for t = 1, n_seen do self.eval_rows[t] = self.Weval:rows(t, t) end
end

--- The target network's output for x under task t's weights (eval mode);
-- lengths: the samples' sequence lengths or nil. Returns a tensor valid
-- until the next call.
function Learner:predict(x, t, lengths)
  local n = x:size(1)
  local out = n == self.o.eval_batch and self.eval_out or self.eval_out:rows(1, n)
  return self.model:forward(self.eval_rows[t], x, out, self.stats and self.stats[t], lengths)
end

-- predict and training take per-sample sequence lengths.
function Learner:takes_lengths() return true end

-- Its losses: cross-entropy, MSE, and the per-bit loss of sequence outputs.
function Learner:task_kinds() return { "classification", "regression", "bits" } end

--- Task embeddings (a copy) and the hypernetwork parameters (the tensor).
function Learner:embeddings() return self.E:clone() end
function Learner:parameters() return self.theta end

return M
