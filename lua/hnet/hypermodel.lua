--- hnet.hypermodel — one hypernetwork model: a target network with no
-- weights of its own, the hypernetwork h, its parameters θ and a table of
-- task embeddings E; and the one training step that every hypernetwork code
-- path calls (the continual learner hnet.learners.hypernet, the shift pool,
-- few-shot adaptation and multi-task training in hnet.fewshot, CAVIA-style
-- meta-training in hnet.maml):
--   W = h(E; θ) for a set of embeddings in one batched pass → the target
--   net's forward per embedding → the loss → the target net's backward →
--   the hypernetwork's backward → the output regulariser → the optimisers.
--
--   local hm = require "hnet.hypermodel"
--   local m = hm.build{ target = { "mlp", hidden = {100, 100} }, input_shape = {1, 28, 28},
--     n_outputs = 10, max_batch = 1000, hnet = { embedding = 8, hidden = {50, 50}, act = "relu",
--     alpha = 1, chunk = 0, chunk_embedding = 8 }, max_tasks = 5, n_embeddings = 5,
--     init = { emb_var = 1, rng = r, scheme = "hyperfan", max_h_l1 = 2 } }   -- θ initialised
--   local m = hm.wrap{ hypernet = h, theta = theta, net = net, E = E }      -- the caller's objects
--   m:generate(E, W [, theta_at])     W = h(E; θ), or h(E; theta_at)
--   m:draw_embedding(row, var, rng)   row ~ N(0, var)
--   m:pass(E, items, o)               forward and backward for the rows of E, one item per row
--   m:begin(e, o)                     train e (one row of E, or all of E): fresh Adam states
--   m:fix_targets(Eprev, o)           the regulariser's targets W*_j = h(e_j; θ), fixed now
--   m:regularise(theta_at [, lo, hi]) β/n Σ_j ‖h(e_j; theta_at) − W*_j‖², its gradient into dθ
--   m:step(items, o)                  one training step: pass, regulariser, clipping, optimisers
--   m:distribute(group)               steps over the ranks of an mpirun job (hnet.hypermodel_dist)
--   m:forward(W, x, out, stats, lengths)  the target net in eval mode under weights W
--
-- θ frozen (few-shot adaptation): pass no dtheta. Only the embeddings
-- learn (begin's train_theta = false). SGD, backtracking and second-order
-- meta-gradients are the callers' own updates around pass.
local hnet = require "hnet"
local spec = require "hnet.spec"
local common = require "hnet.learners.common"

local M = {}

local Model = {}
Model.__index = Model

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

--- Loss of out against y (mean squared error for kind = "regression", the
-- per-bit sigmoid cross-entropy for "bits", cross-entropy otherwise);
-- writes d(loss)/d(out) into dout.
function M.loss_grad(kind, out, y, dout)
  return common.task_loss(kind, out, y, dout)
end
local loss_grad = M.loss_grad

local function new_model(h, theta, net, E)
  return setmetatable({ h = h, theta = theta, net = net, E = E, n_w = net:n_params(),
                        n_theta = h:n_params(), n_emb = h:n_emb(), cap = 0 }, Model)
end

--- build's options (hnet.spec; `./hnet help hnet.hypermodel.build`).
M.BUILD_OPTIONS = {
  { name = "target", type = "any", required = true,
    help = "the target network's spec (as a learner's `target`: { \"mlp\", hidden = {...} }, ...)" },
  { name = "input_shape", type = "table", required = true, help = "the per-sample input shape, e.g. {1, 28, 28}" },
  { name = "n_outputs", type = "integer", required = true, min = 1, help = "the target network's outputs" },
  { name = "max_batch", type = "integer", required = true, min = 1, help = "the largest batch the target net runs" },
  { name = "hnet", type = "table", required = true,
    help = "the hypernetwork: embedding, hidden, act, alpha, chunk, chunk_embedding (all given; the hypernet learner's `hnet` spec checks them)" },
  { name = "n_embeddings", type = "integer", required = true, min = 0, help = "rows of the embedding table E (zeros)" },
  { name = "max_tasks", type = "integer", min = 1, help = "embeddings the hypernetwork plans one pass for (grown on demand)" },
  { name = "init", type = "table", help = "options of θ's initialisation, h:init(θ, nil, init): emb_var, rng, scheme, max_h_l1" },
  { name = "fname", type = "string", help = "the caller's name in errors about the target spec" },
}

--- A new model: the target net from its spec (see learners.common.target_net),
-- the hypernetwork from o.hnet (embedding, hidden, act, alpha, chunk,
-- chunk_embedding, already checked by the caller), θ initialised by
-- h:init(θ, nil, o.init), and E = [n_embeddings, embedding] zeros.
function M.build(o)
  local f = "hnet.hypermodel.build"
  o = spec.check(M.BUILD_OPTIONS, o, f)
  local c = o.hnet
  local net = common.target_net(o.target, o.input_shape, o.n_outputs, o.max_batch, o.fname or f)
  local h = hnet.hypernet {
    target = net, embedding = c.embedding, hidden = c.hidden, act = c.act, alpha = c.alpha,
    chunk = c.chunk, chunk_embedding = c.chunk_embedding, max_tasks = o.max_tasks,
  }
  local self = new_model(h, hnet.tensor(h:n_params()), net, hnet.tensor(o.n_embeddings, c.embedding))
  h:init(self.theta, nil, o.init)
  return self
end

--- wrap's options (`./hnet help hnet.hypermodel.wrap`).
M.WRAP_OPTIONS = {
  { name = "hypernet", type = "any", required = true, help = "an hnet.HyperNet" },
  { name = "theta", type = "any", required = true, help = "its parameters θ (an hnet.Tensor; training writes into it)" },
  { name = "net", type = "any", required = true, help = "the target network (an hnet.Net)" },
  { name = "E", type = "any", help = "the embedding table (an hnet.Tensor [n, embedding]), if the model keeps one" },
}

--- A model over the caller's hypernetwork, θ, target net and (optional)
-- embedding table: training writes into them.
function M.wrap(o)
  local f = "hnet.hypermodel.wrap"
  o = spec.check(M.WRAP_OPTIONS, o, f)
  return new_model(o.hypernet, o.theta, o.net, o.E)
end

--- Buffers for m rows of generated weights, their gradients and embedding
-- gradients (grown on demand, never shrunk); views of the first m rows.
function Model:buffers(m)
  if m > self.cap then
    self.cap = m
    self.Wb, self.dWb = hnet.tensor(m, self.n_w), hnet.tensor(m, self.n_w)
    self.Eb, self.dEb = hnet.tensor(m, self.n_emb), hnet.tensor(m, self.n_emb)
    if self.h:max_tasks() < m then self.h:reserve(m) end
  end
  return self.Wb:rows(1, m), self.dWb:rows(1, m), self.dEb:rows(1, m)
end

-- W = h(E; θ) in passes of at most the workspace's tasks (a row's bits do
-- not depend on the pass it is in), so that the workspace is sized for the
-- tasks a training step runs, not for every task generated.
local function forward_passes(h, theta, E, W)
  local cap = h:max_tasks()
  if E:ndim() == 1 or E:size(1) <= cap then return h:forward(theta, E, { out = W }) end
  for i = 1, E:size(1), cap do
    local j = math.min(E:size(1), i + cap - 1)
    h:forward(theta, E:rows(i, j), { out = W:rows(i, j) })
  end
  return W
end

--- W = h(E; θ) (theta_at instead of θ when given), in batched passes; W: [rows of E, n_w].
function Model:generate(E, W, theta_at)
  return forward_passes(self.h, theta_at or self.theta, E, W)
end

--- A fresh embedding drawn from N(0, var) into row ([1, d]).
function Model:draw_embedding(row, var, rng)
  row:copy(self.h:embeddings(1, { var = var, rng = rng }))
  return row
end

--- The target network's output for x under weights W (eval mode), into out
-- (nil: the net's own buffer); stats: BatchNorm statistics or nil;
-- lengths: per-sample sequence lengths or nil.
function Model:forward(W, x, out, stats, lengths)
  return self.net:forward(W, x, { train = false, out = out, stats = stats, lengths = lengths })
end

--- Forward and backward of one batch per embedding: W = h(E; θ) for the m
-- rows of E, then per item i (items[i] = { x =, y =, out =, dout =, stats =,
-- dx =, lengths = }, out/dout: buffers for the output and its gradient, nil: the net's
-- own output and a fresh gradient; dx: a buffer that receives the gradient
-- with respect to x, nil: none; lengths: the samples' sequence lengths or
-- nil) the target forward under row i, the loss
-- (o.loss(out, item, dout) -> value, writing dout, when given: a VAE
-- decoder's reconstruction; else by kind) and the backward into row i of dW;
-- then the hypernetwork's backward
-- into dtheta and dE (both accumulate; nil: no gradient; both nil: no
-- hypernetwork backward). o = { kind =, loss =, train =, rng =, dtheta =, dE =,
-- scale = number or per-item list (multiplies item i's output gradient;
-- 0: item i is not backpropagated), keep = fn(i, loss) (false: item i is not
-- backpropagated) }. Returns the per-item losses and W (a buffer view,
-- valid until the next pass).
function Model:pass(E, items, o)
  local m = #items
  local W, dW = self:buffers(m)
  self.W, self.dW = W, dW
  self.h:forward(self.theta, E, { out = W })
  dW:zero()
  local losses = {}
  local scale = o.scale
  for i, it in ipairs(items) do
    local Wi = W:rows(i, i)
    local out = self.net:forward(Wi, it.x, { train = o.train, rng = o.rng, out = it.out, stats = it.stats,
                                             lengths = it.lengths })
    local dout = it.dout or hnet.tensor(out:shape())
    local l
    if o.loss then l = o.loss(out, it, dout) else l = loss_grad(o.kind, out, it.y, dout) end
    losses[i] = l
    local s = type(scale) == "table" and scale[i] or scale
    if s ~= 0 and (o.keep == nil or o.keep(i, l)) then
      if s then dout:scale(s) end
      if it.dx or it.lengths then
        self.net:backward(Wi, dout, dW:rows(i, i), { dx = it.dx, lengths = it.lengths })
      else
        self.net:backward(Wi, dout, dW:rows(i, i))
      end
    end
  end
  if o.dtheta or o.dE then self.h:backward(self.theta, dW, o.dtheta, o.dE) end
  return losses, W
end

--- Train e from now on: fresh Adam states for θ (o.lr, beta1, beta2) and
-- for e (o.lr_emb, default o.lr). e is one row of E (a continual learner's
-- current task) or all of E (multi-task training: each step's gradient rows
-- are added into their tasks' rows). o.train_theta = false: θ is not
-- updated. o.clip_grad_norm = c > 0: each step scales the gradients of θ
-- (when trained) and e together to a joint L2 norm of at most c
-- (learners.common.clip_grad_norm). No regulariser until fix_targets.
function Model:begin(e, o)
  self.e, self.reg, self.multi = e, nil, rawequal(e, self.E)
  self.train_theta = o.train_theta ~= false
  self.clip = o.clip_grad_norm or 0
  self.dtheta = self.dtheta or hnet.tensor(self.n_theta)
  self.opt_theta = hnet.adam { n = self.n_theta, lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  self.opt_e = hnet.adam { n = e:numel(), lr = o.lr_emb or o.lr, beta1 = o.beta1, beta2 = o.beta2 }
end

--- Fix the output regulariser's targets W*_j = h(e_j; θ) for the p rows of
-- Eprev (a view of E, or rows the caller gathered; read again every step).
-- o = { beta =, n = (a random subset of n of the p each step, drawn from
-- rng; default p), rng =, store = (true: store W* [p, n_w]; default: keep
-- a snapshot θ* and recompute, which the engine does through Gram matrices
-- without forming W*: less memory and far fewer FLOPs), lookahead = (the
-- regulariser at θ + Δθ, Δθ the Adam step of the task loss alone) }. Returns the regulariser's state (Wstar_prev = the
-- stored targets [p, n_w], theta_star, E = the embeddings of the last step).
function Model:fix_targets(Eprev, o)
  local p, n_w = Eprev:size(1), self.n_w
  local n = o.n or p
  if o.store == true and (not self.Wstar or self.Wstar:size(1) < p) then
    -- once for every task the model has an embedding for
    self.Wstar = hnet.tensor(math.max(p, self.E and self.E:size(1) or p), n_w)
  end
  if self.h:max_tasks() < n then self.h:reserve(n) end
  local r = { beta = o.beta, p = p, n = n, store = o.store == true, lookahead = o.lookahead, rng = o.rng,
              Eprev = Eprev }
  local g = self.group
  if r.store and g and g.tasks and n == p and g.size > 1 then
    -- In the row blocks the ranks regularise (hnet.hypermodel_dist), on
    -- every rank alike: a pass's bits depend on its row count, and so
    -- h(e_j; θ*) − W*_j is exactly 0 at θ*, as in one process. Otherwise
    -- Adam's first step of the task turns that last-bit residual into
    -- steps of the learning rate's size.
    r.Wstar_prev = self.Wstar:rows(1, p)
    for rk = 0, g.size - 1 do
      local lo, hi = g:share(p, rk)
      if hi >= lo then forward_passes(self.h, self.theta, Eprev:rows(lo, hi), r.Wstar_prev:rows(lo, hi)) end
    end
  elseif r.store then
    r.Wstar_prev = self.Wstar:rows(1, p)
    forward_passes(self.h, self.theta, Eprev, r.Wstar_prev)
  else
    r.theta_star = self.theta:clone()
  end
  if r.lookahead then
    r.theta_la = hnet.tensor(self.n_theta)
  end
  r.E = Eprev
  if n < p then
    if not self.Esub or self.Esub:size(1) < n then self.Esub = hnet.tensor(n, self.n_emb) end
    r.E, r.idx, r.idx_part = self.Esub:rows(1, n), {}, {}
  end
  self.reg = r
  return r
end

--- The regulariser at theta_at: adds its gradient to dθ, returns its value.
-- One fused pass (hypernet:output_reg): the generated weights of the earlier
-- tasks are never materialised. lo, hi (default 1, n): only terms lo..hi of
-- the step's n (a rank's share in a distributed step), still weighted β/n;
-- the random subset is drawn in full either way, so that every rank's
-- generator stays in step.
function Model:regularise(theta_at, lo, hi)
  local r = self.reg
  local sub = r.n < r.p
  if sub then -- a random subset of the earlier embeddings this step
    local perm = r.rng:permutation(r.p)
    for i = 1, r.n do r.idx[i] = perm[i] end
  end
  lo, hi = lo or 1, hi or r.n
  if hi < lo then return 0 end
  local k = hi - lo + 1
  -- output_reg divides by the rows it is given: β·k/n over k rows is β/n each.
  local beta = k == r.n and r.beta or r.beta * k / r.n
  local E, rows, targets = r.E, nil, r.Wstar_prev
  if sub then
    rows = r.idx
    if k < r.n then
      rows = r.idx_part
      for i = 1, k do rows[i] = r.idx[lo + i - 1] end
      for i = #rows, k + 1, -1 do rows[i] = nil end
      E = r.E:rows(1, k)
    end
    hnet.transform.gather(r.Eprev, rows, { out = E })
  elseif k < r.n then
    E = r.Eprev:rows(lo, hi)
    if r.store then targets = r.Wstar_prev:rows(lo, hi) end
  end
  if r.store then
    return self.h:output_reg(theta_at, E, { targets = targets, rows = rows, beta = beta, dtheta = self.dtheta })
  end
  return self.h:output_reg(theta_at, E, { theta_star = r.theta_star, beta = beta, dtheta = self.dtheta })
end

--- Train over the ranks of `group` (hnet.distributed.group) from now on:
-- every step's gradients are summed over the ranks (hnet.hypermodel_dist).
-- A continual learner's model only (one embedding trained at a time).
function Model:distribute(group)
  require("hnet.hypermodel_dist").attach(self, group)
end

--- One training step of what begin chose. items: a list of
-- { x =, y =, out =, dout =, stats = } as for pass; with e one row of E, one
-- item (its loss is the step's loss); with e all of E, each item names its
-- row (task =) and the loss is the mean over the items. o = { kind =,
-- loss = (as for pass), rng =, fault = fn(what, value) for a non-finite
-- "loss" or "regulariser", share = (distributed by data: this rank's rows
-- over the global batch's) }. With clipping (begin's clip_grad_norm) the
-- gradient of the task loss plus the regulariser is clipped (in a
-- distributed step the one summed over the ranks), as in the reference; a
-- look-ahead's Δθ is the Adam step of the unclipped task gradient.
-- Returns the loss, the regulariser and (when clipping) the gradient's norm
-- before clipping.
function Model:step(items, o)
  if self.group then return require("hnet.hypermodel_dist").step(self, items, o) end
  local multi, m = self.multi, #items
  local _, _, dE = self:buffers(m)
  local E = self.e
  if multi then
    E = self.Eb:rows(1, m)
    for i, it in ipairs(items) do E:rows(i, i):copy(self.E:rows(it.task, it.task)) end
  end
  self.dtheta:zero()
  dE:zero()
  local losses = self:pass(E, items, { kind = o.kind, loss = o.loss, train = true, rng = o.rng, dtheta = self.dtheta,
                                        dE = dE, scale = multi and 1 / m or nil })
  local loss = losses[1]
  if multi then
    loss = 0
    for i = 1, m do loss = loss + losses[i] / m end
  end
  if not finite(loss) then o.fault("loss", loss) end
  local reg = 0
  local r = self.reg
  if r then
    local at = self.theta
    if r.lookahead then
      self.opt_theta:lookahead(self.theta, self.dtheta, r.theta_la)
      at = r.theta_la
    end
    reg = self:regularise(at)
    if not finite(reg) then o.fault("regulariser", reg) end
  end
  if multi then
    local dEall = self.dEall or hnet.tensor(self.E:size(1), self.n_emb)
    self.dEall = dEall
    dEall:zero()
    for i, it in ipairs(items) do dEall:rows(it.task, it.task):add(dE:rows(i, i)) end
    dE = dEall
  end
  local norm
  if self.clip > 0 then
    norm = common.clip_grad_norm(self.clip, self.train_theta and { self.dtheta, dE } or { dE })
  end
  if self.train_theta then self.opt_theta:step(self.theta, self.dtheta) end
  self.opt_e:step(self.e, dE)
  return loss, reg, norm
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.hypermodel.build", sig = "hnet.hypermodel.build(opts) -> model", spec = M.BUILD_OPTIONS,
    about = "the shared hypernetwork model: target net, hypernetwork, θ (initialised) and E" },
  { name = "hnet.hypermodel.wrap", sig = "hnet.hypermodel.wrap(opts) -> model", spec = M.WRAP_OPTIONS,
    about = "the shared hypernetwork model over the caller's hypernetwork, θ, net and E" },
}

return M
