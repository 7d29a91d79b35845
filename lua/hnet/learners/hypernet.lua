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
local util = require "hnet.util"
local common = require "hnet.learners.common"
local base = require "hnet.learners.base"

local Learner = base.class()

local FNAME = "hnet.learners.hypernet"
local DEFAULTS = {
  target = { "mlp", hidden = { 100, 100 } },
  hnet = {},
  beta = 0.01, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, batch = 32, iterations = 1000,
  lookahead = false, reg_tasks = 0, store_targets = true, emb_var = 1.0, init = "hyperfan",
  eval_batch = 1000, seed = 1, train_theta = true,
}
local ALLOWED = {}
for k in pairs(DEFAULTS) do ALLOWED[#ALLOWED + 1] = k end
local HNET_KEYS = { "embedding", "hidden", "act", "alpha", "chunk", "chunk_embedding" }
-- hyperfan's bound on the mean L1 norm of the hypernetwork's last hidden
-- activation (θ is trained with Adam). Unbounded (~30 for 50 ReLU units),
-- brightness-shifted Fashion-MNIST lost every first-layer ReLU in two of
-- three seeds; bounded at 1, short runs learned more slowly (gradual_drift
-- --quick: online accuracy 71% against 80%); at 2 neither.
local HYPERFAN_MAX_H_L1 = 2

local M = {}

function M.new(opts)
  local o = common.options(opts, DEFAULTS, ALLOWED, FNAME)
  local h = util.options(o.hnet, HNET_KEYS, FNAME .. " (field 'hnet')")
  o.hnet = {
    embedding = util.int(h, "embedding", 8, 1, nil, FNAME),
    hidden = util.int_list(h, "hidden", { 50, 50 }, FNAME),
    act = util.string(h, "act", "relu", { "relu", "elu", "tanh", "sigmoid", "identity" }, FNAME),
    alpha = util.finite(h, "alpha", 1, 1e-6, nil, FNAME),
    chunk = util.int(h, "chunk", 0, 0, nil, FNAME),
    chunk_embedding = util.int(h, "chunk_embedding", 8, 1, nil, FNAME),
  }
  common.check_shared(o, FNAME)
  util.finite(o, "beta", nil, 0, nil, FNAME)
  if not (util.finite(o, "emb_var", nil, 0, nil, FNAME) > 0) then
    util.argerr(FNAME, 1, "field 'emb_var': a positive number expected, got 0")
  end
  util.int(o, "reg_tasks", nil, 0, nil, FNAME)
  util.bool(o, "lookahead", nil, FNAME)
  util.bool(o, "store_targets", nil, FNAME)
  util.bool(o, "train_theta", nil, FNAME)
  util.string(o, "init", nil, { "hyperfan", "xavier" }, FNAME)
  return setmetatable({ o = o }, Learner)
end

-- ---- the learner protocol (hnet.learners.base) ------------------------------

function Learner:name() return "hypernet" end
function Learner:options() return self.o end

-- Options that came after hypernetwork runs were first checkpointed, with
-- the value those runs used: a checkpoint without one resumes under it.
function Learner:implied_options() return { init = "hyperfan" } end

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
  self.net = common.target_net(o.target, info.input_shape, info.n_outputs,
                               math.max(o.batch, o.eval_batch), FNAME)
  local n_tasks = info.n_tasks
  self.h = hnet.hypernet {
    target = self.net, embedding = o.hnet.embedding, hidden = o.hnet.hidden,
    act = o.hnet.act, alpha = o.hnet.alpha, chunk = o.hnet.chunk,
    chunk_embedding = o.hnet.chunk_embedding, max_tasks = math.max(1, n_tasks),
  }
  local n_w, n_theta, n_emb = self.net:n_params(), self.h:n_params(), o.hnet.embedding
  self.n_w, self.n_theta = n_w, n_theta
  self.theta = hnet.tensor(n_theta)
  self.h:init(self.theta, nil, { emb_var = o.emb_var, rng = self.rng, scheme = o.init,
                                 max_h_l1 = o.init == "hyperfan" and HYPERFAN_MAX_H_L1 or nil })
  self.dtheta = hnet.tensor(n_theta)
  self.E = hnet.tensor(n_tasks, n_emb)
  self.dE = hnet.tensor(1, n_emb)
  self.W = hnet.tensor(1, n_w)
  self.dW = hnet.tensor(1, n_w)
  local out = self.net:out_shape()
  self.logits = hnet.tensor(o.batch, out[1])
  self.dlogits = hnet.tensor(o.batch, out[1])
  self.eval_out = hnet.tensor(o.eval_batch, out[1])
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
  local p = t - 1
  -- The new task's embedding, e_t ~ N(0, emb_var).
  self.e = self.E:rows(t, t)
  self.e:copy(self.h:embeddings(1, { var = o.emb_var, rng = self.rng }))
  if self.stats then self.stats[t] = self.net:init_stats() end
  -- Fresh optimisers per task, as in the paper's code.
  self.opt_theta = hnet.adam { n = self.n_theta, lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  self.opt_e = hnet.adam { n = o.hnet.embedding, lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  -- Regulariser targets for the p earlier tasks: one batched pass.
  self.n_reg = 0
  if p > 0 and o.beta > 0 then
    local n_reg = (o.reg_tasks > 0 and o.reg_tasks < p) and o.reg_tasks or p
    self.n_reg = n_reg
    local n_w, n_emb = self.n_w, o.hnet.embedding
    if not self.Wstar or self.Wstar:size(1) < p then
      self.Wstar = hnet.tensor(self.info.n_tasks, n_w)
      self.Wprev = hnet.tensor(self.info.n_tasks, n_w)
      self.dWprev = hnet.tensor(self.info.n_tasks, n_w)
      self.Esub = hnet.tensor(self.info.n_tasks, n_emb)
    end
    local Eprev = head_rows(self.E, p)
    if o.store_targets then
      self.h:forward(self.theta, Eprev, { out = head_rows(self.Wstar, p) })
    else
      self.theta_star = self.theta:clone()
    end
    if o.lookahead then
      self.theta_la = hnet.tensor(self.n_theta)
      self.dtheta_la = hnet.tensor(self.n_theta)
    end
    -- Views used every step (made once here: no allocation per step).
    self.Eprev, self.Wstar_prev = Eprev, head_rows(self.Wstar, p)
    self.reg_E = n_reg == p and Eprev or head_rows(self.Esub, n_reg)
    self.reg_W = head_rows(self.Wprev, n_reg)
    self.reg_dW = head_rows(self.dWprev, n_reg)
    self.reg_Wstar = self.Wstar_prev
    if n_reg < p then
      self.reg_Wsel = hnet.tensor(n_reg, n_w)
      self.reg_idx = {}
    end
  end
  self.batcher = common.batcher(task.train, o.batch, self.rng)
end

-- The regulariser term: adds its gradient to dtheta, returns its value.
function Learner:regularise(theta_at)
  local o, p, n_reg = self.o, self.t - 1, self.n_reg
  local E, Wstar = self.reg_E, self.reg_Wstar
  if n_reg < p then -- a random subset of the earlier tasks this step
    local perm = self.rng:permutation(p)
    for i = 1, n_reg do self.reg_idx[i] = perm[i] end
    hnet.transform.gather(self.Eprev, self.reg_idx, { out = self.reg_E })
    if o.store_targets then
      hnet.transform.gather(self.Wstar_prev, self.reg_idx, { out = self.reg_Wsel })
      Wstar = self.reg_Wsel
    end
  end
  if not o.store_targets then -- recompute the targets from θ*
    Wstar = n_reg < p and self.reg_Wsel or self.Wstar_prev
    self.h:forward(self.theta_star, E, { out = Wstar })
  end
  self.h:forward(theta_at, E, { out = self.reg_W })
  self.reg_dW:zero()
  local reg = hnet.cl.output_reg(self.reg_W, Wstar, o.beta, self.reg_dW)
  self.h:backward(theta_at, self.reg_dW, self.dtheta, nil)
  return reg
end

-- A non-finite loss or regulariser: stop with the task, the iteration, the
-- tensors that hold NaN/Inf and a hint.
function Learner:fault(what, v, it, tensors)
  common.numerical_fault(FNAME, what, v, self.t, it, tensors,
    ("lower the learning rate (lr = %g) or beta (%g)"):format(self.o.lr, self.o.beta))
end

function Learner:train_step(it)
  local o, h, net = self.o, self.h, self.net
  local x, y = self.batcher:next()
  local n = x:size(1)
  local logits = n == o.batch and self.logits or self.logits:rows(1, n)
  local dlogits = n == o.batch and self.dlogits or self.dlogits:rows(1, n)
  h:forward(self.theta, self.e, { out = self.W })
  net:forward(self.W, x, { train = true, rng = self.rng, out = logits,
                           stats = self.stats and self.stats[self.t] })
  local loss
  if self.info.kind == "regression" then
    loss = hnet.loss.mse(logits, y:view(n, 1), { grad = dlogits })
  else
    loss = hnet.loss.xent(logits, y, { grad = dlogits })
  end
  if not common.finite(loss) then
    self:fault("the task loss", loss, it, { { "theta (hypernetwork parameters)", self.theta },
      { "e (task embedding)", self.e }, { "W (generated weights)", self.W },
      { "logits", logits }, { "x (the batch inputs: check the task's data)", x } })
  end
  self.dW:zero()
  net:backward(self.W, dlogits, self.dW)
  self.dtheta:zero()
  self.dE:zero()
  h:backward(self.theta, self.dW, self.dtheta, self.dE)
  local reg = 0
  if self.n_reg > 0 then
    local at = self.theta
    if o.lookahead then
      self.opt_theta:delta(self.theta, self.dtheta, self.dtheta_la)
      self.theta_la:copy(self.theta)
      self.theta_la:add(self.dtheta_la)
      at = self.theta_la
    end
    reg = self:regularise(at)
    if not common.finite(reg) then
      self:fault("the regulariser", reg, it, { { "theta (hypernetwork parameters)", self.theta },
        { "theta + look-ahead step", o.lookahead and self.theta_la or nil },
        { "W*_t (regulariser targets)", o.store_targets and self.Wstar_prev or nil },
        { "h(e_t; theta) for earlier tasks", self.reg_W } })
    end
  end
  if o.train_theta then self.opt_theta:step(self.theta, self.dtheta) end
  self.opt_e:step(self.e, self.dE)
  return loss, reg
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
  self.h:forward(self.theta, head_rows(self.E, n_seen), { out = head_rows(self.Weval, n_seen) })
  self.eval_rows = {}
  for t = 1, n_seen do self.eval_rows[t] = self.Weval:rows(t, t) end
end

--- The target network's output for x under task t's weights (eval mode).
-- Returns a tensor valid until the next call.
function Learner:predict(x, t)
  local n = x:size(1)
  local out = n == self.o.eval_batch and self.eval_out or self.eval_out:rows(1, n)
  return self.net:forward(self.eval_rows[t], x, { train = false, out = out,
                                                   stats = self.stats and self.stats[t] })
end

--- Task embeddings (a copy) and the hypernetwork parameters (the tensor).
function Learner:embeddings() return self.E:clone() end
function Learner:parameters() return self.theta end

return M
