--- hnet.maml — gradient-based meta-learning over the engine: MAML (Finn et
-- al., ICML 2017) on a plain target network, and CAVIA-style context
-- adaptation (Zintgraf et al., ICML 2019) of a task embedding through a
-- hypernetwork.
--
-- MAML. Meta-parameters W (the target net's weights). For a task with
-- support set s and query set q, n inner steps W_k+1 = W_k − α ∇L_s(W_k)
-- give W_n; the meta-objective is L_q(W_n). Its gradient is
--   order 1 (first-order MAML, "FOMAML"): ∇L_q(W_n);
--   order 2 (MAML): v_n = ∇L_q(W_n), v_k = v_k+1 − α H_s(W_k) v_k+1, gradient v_0,
-- where the Hessian-vector products H_s(W) v are central finite differences
-- of gradients: ‖v‖ (∇L_s(W + εu) − ∇L_s(W − εu)) / 2ε with u = v/‖v‖ (the
-- engine has no second-order mode). The meta-gradient is the mean over the
-- meta-batch; Adam takes the meta step.
--
--   local maml = require "hnet.maml"
--   local m = maml.new{ net = net, rng = r (or init = W0), inner_lr = 0.01, inner_steps = 1,
--                       order = 2, meta_lr = 1e-3, fd_eps = 1e-3, kind = "regression" }
--   local loss = m:meta_step(batch)     -- batch: list of {x =, y =, xq =, yq =}
--   m:meta_gradient(batch, g)           -- g ACCUMULATES the mean meta-gradient; returns the loss
--   m.W                                 -- the meta-learned initial weights
--
-- Context adaptation (CAVIA-style, through a hypernetwork). θ is the
-- hypernetwork's parameters, e0 the embedding every new task starts from.
-- n inner steps on the embedding only, e_k+1 = e_k − α ∇_e L_s(θ, e_k); the
-- meta-objective is L_q(θ, e_n), differentiated w.r.t. θ (and e0 when
-- learn_init). Order 2 propagates through the inner steps with the mixed
-- and embedding Hessian-vector products, both from the same pair of
-- finite-difference passes at e_k ± εu:
--   dθ += −α ‖v‖ (∇_θ L_s(e_k + εu) − ∇_θ L_s(e_k − εu)) / 2ε
--   v  += −α ‖v‖ (∇_e L_s(e_k + εu) − ∇_e L_s(e_k − εu)) / 2ε
-- (v: the embedding adjoint, u = v/‖v‖). The hypernetwork backward is
-- linear in dW, so the per-task factors −α‖v_i‖/2ε are folded into each
-- task's output gradient and one batched pass serves the whole meta-batch.
-- Order 1 keeps only ∂L_q/∂θ at e_n.
--
--   local c = maml.context{ hypernet = h, theta = theta, net = net, e0 = e0 (default 0),
--                           inner_lr = 1, inner_steps = 1, order = 2, meta_lr = 1e-3,
--                           learn_init = false, fd_eps = 1e-3, kind = "regression" }
--   local loss = c:meta_step(batch)
--   c:meta_gradient(batch, dtheta, de0)   -- both ACCUMULATE; returns the loss
--
-- Per-task work is one target-net forward/backward per task and step; the
-- hypernetwork runs once per step for the whole meta-batch.
local hnet = require "hnet"
local spec = require "hnet.spec"
local fs = require "hnet.fewshot"
local hypermodel = require "hnet.hypermodel"

local M = {}

local KINDS = { "regression", "classification" }

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and mt and mt.__name == "hnet.Tensor"
end

local function check_batch(batch, fname)
  if type(batch) ~= "table" or #batch == 0 then
    error(("bad argument #1 to '%s' (a non-empty list of {x =, y =, xq =, yq =} expected)"):format(fname), 3)
  end
  for i, p in ipairs(batch) do
    for _, k in ipairs { "x", "y", "xq", "yq" } do
      if not is_tensor(p[k]) then
        error(("bad argument #1 to '%s' (task %d has no tensor '%s')"):format(fname, i, k), 3)
      end
    end
  end
end

-- ---- MAML ---------------------------------------------------------------------------

local Maml = {}
Maml.__index = Maml

local KIND = { name = "kind", type = "string", default = "regression", choices = KINDS, help = "the tasks' kind" }
local META_LR = { name = "meta_lr", type = "number", default = 1e-3, min = 0, help = "Adam learning rate of the meta step" }
local FD_EPS = { name = "fd_eps", type = "number", default = 1e-3, min = 1e-8, max = 1,
  help = "finite-difference step of the Hessian-vector products (order 2)" }
local INNER_STEPS = { name = "inner_steps", type = "integer", default = 1, min = 1, help = "inner adaptation steps" }

-- maml.new's options (hnet.spec): they check the call and `./hnet help` prints them.
M.NEW_OPTIONS = {
  { name = "net", type = "net", required = true, help = "the target network" },
  { name = "init", type = "tensor", help = "the initial weights (give this or rng)" },
  { name = "rng", type = "rng", help = "draws the initial weights (give this or init)" },
  { name = "inner_lr", type = "number", default = 0.01, min = 0, help = "inner step size α" },
  INNER_STEPS,
  { name = "order", type = "integer", default = 1, min = 1, max = 2, help = "1: first-order MAML; 2: MAML" },
  META_LR, FD_EPS, KIND,
}

function M.new(o)
  local f = "hnet.maml.new"
  o = spec.check(M.NEW_OPTIONS, o, f)
  local net = o.net
  local n_w = net:n_params()
  local self = setmetatable({
    net = net, n_w = n_w, inner_lr = o.inner_lr, inner_steps = o.inner_steps, order = o.order,
    fd_eps = o.fd_eps, kind = o.kind,
  }, Maml)
  local meta_lr = o.meta_lr
  self.W = hnet.tensor(n_w)
  if o.init ~= nil then
    if o.init:numel() ~= n_w then
      error(("bad argument #1 to '%s' (field 'init': a weight tensor of %d floats expected)"):format(f, n_w), 2)
    end
    self.W:copy(o.init)
  elseif o.rng ~= nil then
    net:init(self.W, o.rng)
  else
    error(("bad argument #1 to '%s' (give 'init' (initial weights) or 'rng' (a random start))"):format(f), 2)
  end
  self.opt = hnet.adam { n = n_w, lr = meta_lr }
  self.Wk = {}
  for k = 0, self.inner_steps do self.Wk[k] = hnet.tensor(n_w) end
  self.g, self.v, self.gp, self.gm = hnet.tensor(n_w), hnet.tensor(n_w), hnet.tensor(n_w), hnet.tensor(n_w)
  self.Wp, self.acc = hnet.tensor(n_w), hnet.tensor(n_w)
  return self
end

--- The gradient of the mean loss on (x, y) at weights W into g (overwritten);
-- returns the loss.
function Maml:grad(W, x, y, g)
  local out = self.net:forward(W, x, { train = false })
  local dout = hnet.tensor(out:shape())
  local loss = fs.loss_grad(self.kind, out, y, dout)
  g:zero()
  self.net:backward(W, dout, g)
  return loss
end

-- H_s(W) v into out by central differences along u = v/‖v‖.
function Maml:hvp(W, x, y, v, out)
  local nv = v:norm()
  if nv == 0 then out:zero(); return end
  local eps = self.fd_eps
  self.Wp:copy(W):axpy(eps / nv, v)
  self:grad(self.Wp, x, y, self.gp)
  self.Wp:copy(W):axpy(-eps / nv, v)
  self:grad(self.Wp, x, y, self.gm)
  out:copy(self.gp):sub(self.gm):scale(nv / (2 * eps))
end

--- The inner loop from self.W on (x, y): returns the adapted weights (a
-- buffer of this object, valid until the next call) and the last support loss.
function Maml:inner(x, y)
  local Wk, a = self.Wk, self.inner_lr
  Wk[0]:copy(self.W)
  local loss
  for k = 1, self.inner_steps do
    loss = self:grad(Wk[k - 1], x, y, self.g)
    Wk[k]:copy(Wk[k - 1]):axpy(-a, self.g)
  end
  return Wk[self.inner_steps], loss
end

--- Add the mean meta-gradient of the batch to g; returns the mean query loss
-- after adaptation.
function Maml:meta_gradient(batch, g)
  check_batch(batch, "hnet.maml:meta_gradient")
  if not is_tensor(g) or g:numel() ~= self.n_w then
    error(("bad argument #2 to 'hnet.maml:meta_gradient' (a tensor of %d floats expected)"):format(self.n_w), 2)
  end
  local m, total = #batch, 0
  for _, t in ipairs(batch) do
    local Wn = self:inner(t.x, t.y)
    total = total + self:grad(Wn, t.xq, t.yq, self.v)
    if self.order == 2 then
      for k = self.inner_steps - 1, 0, -1 do
        self:hvp(self.Wk[k], t.x, t.y, self.v, self.g)
        self.v:axpy(-self.inner_lr, self.g)
      end
    end
    g:axpy(1 / m, self.v)
  end
  return total / m
end

--- One meta step (Adam on W); returns the mean query loss after adaptation.
function Maml:meta_step(batch)
  self.acc:zero()
  local loss = self:meta_gradient(batch, self.acc)
  if loss ~= loss or loss == math.huge then
    error("hnet.maml:meta_step: the meta-loss is " .. tostring(loss) .. ": lower meta_lr or inner_lr", 0)
  end
  self.opt:step(self.W, self.acc)
  return loss
end

-- ---- context adaptation through a hypernetwork -------------------------------------------

local Ctx = {}
Ctx.__index = Ctx

-- maml.context's options (hnet.spec).
M.CONTEXT_OPTIONS = {
  { name = "hypernet", type = "hypernet", required = true, help = "the hypernetwork" },
  { name = "theta", type = "tensor", required = true, help = "its parameters θ (meta-trained in place)" },
  { name = "net", type = "net", required = true, help = "the target network" },
  { name = "e0", type = "tensor", help = "the embedding every task starts from (default: zeros)" },
  { name = "inner_lr", type = "number", default = 1.0, min = 0, help = "inner step size α on the embedding" },
  INNER_STEPS,
  { name = "order", type = "integer", default = 2, min = 1, max = 2, help = "1: only ∂L_q/∂θ at e_n; 2: through the inner steps" },
  META_LR,
  { name = "learn_init", type = "boolean", default = false, help = "meta-learn e0 too" },
  FD_EPS, KIND,
  { name = "train_theta", type = "boolean", default = true, help = "meta-train θ (false: only e0, with learn_init)" },
}

function M.context(o)
  local f = "hnet.maml.context"
  o = spec.check(M.CONTEXT_OPTIONS, o, f)
  local h, theta, net = o.hypernet, o.theta, o.net
  local d = h:n_emb()
  local self = setmetatable({
    model = hypermodel.wrap { hypernet = h, theta = theta, net = net }, theta = theta, d = d,
    inner_lr = o.inner_lr, inner_steps = o.inner_steps, order = o.order, fd_eps = o.fd_eps,
    kind = o.kind, learn_init = o.learn_init, train_theta = o.train_theta, cap = 0,
  }, Ctx)
  local meta_lr = o.meta_lr
  self.e0 = hnet.tensor(d)
  if o.e0 ~= nil then
    if o.e0:numel() ~= d then
      error(("bad argument #1 to '%s' (field 'e0': a tensor of %d floats expected)"):format(f, d), 2)
    end
    self.e0:copy(o.e0)
  end
  self.opt_t = hnet.adam { n = theta:numel(), lr = meta_lr }
  self.opt_e = hnet.adam { n = d, lr = meta_lr }
  self.dtheta, self.de0 = hnet.tensor(theta:numel()), hnet.tensor(d)
  return self
end

-- Buffers for a meta-batch of m tasks.
function Ctx:buffers(m)
  if m <= self.cap then return end
  local d = self.d
  self.cap = m
  self.Ek = {}
  for k = 0, self.inner_steps do self.Ek[k] = hnet.tensor(m, d) end
  self.model:buffers(m)
  self.Vb, self.dEb, self.Epb = hnet.tensor(m, d), hnet.tensor(m, d), hnet.tensor(m, d)
end

-- One batched pass of the model: W = h(E); per task i the loss of `which`
-- ("support" or "query") with its output gradient scaled by scale[i]; then
-- the hypernetwork backward into dtheta (may be nil) and dE (accumulated).
-- Returns the per-task losses.
function Ctx:pass(batch, E, which, scale, dtheta, dE)
  local items = {}
  for i, t in ipairs(batch) do
    items[i] = which == "query" and { x = t.xq, y = t.yq } or { x = t.x, y = t.y }
  end
  return (self.model:pass(E, items, { kind = self.kind, train = false, scale = scale, dtheta = dtheta, dE = dE }))
end

--- The inner loop for a batch from e0 (or from init rows [m, d]): returns
-- the adapted embeddings [m, d] (a buffer, valid until the next call).
function Ctx:inner(batch, init)
  local m = #batch
  self:buffers(m)
  local E0 = self.Ek[0]:rows(1, m)
  if init then
    E0:copy(init)
  else
    for i = 1, m do E0:rows(i, i):copy(self.e0) end
  end
  local ones = {}
  for i = 1, m do ones[i] = 1 end
  local dE = self.dEb:rows(1, m)
  for k = 1, self.inner_steps do
    dE:zero()
    self:pass(batch, self.Ek[k - 1]:rows(1, m), "support", ones, nil, dE)
    self.Ek[k]:rows(1, m):copy(self.Ek[k - 1]:rows(1, m)):axpy(-self.inner_lr, dE)
  end
  return self.Ek[self.inner_steps]:rows(1, m)
end

--- Add the mean meta-gradient of the batch to dtheta (and to de0, which may be
-- nil); returns the mean query loss after adaptation.
function Ctx:meta_gradient(batch, dtheta, de0)
  check_batch(batch, "hnet.maml.context:meta_gradient")
  local m = #batch
  local En = self:inner(batch)
  local V = self.Vb:rows(1, m)
  V:zero()
  local w = {}
  for i = 1, m do w[i] = 1 / m end
  local losses = self:pass(batch, En, "query", w, dtheta, V)
  if self.order == 2 then
    local eps, a = self.fd_eps, self.inner_lr
    local dE, Ep = self.dEb:rows(1, m), self.Epb:rows(1, m)
    for k = self.inner_steps - 1, 0, -1 do
      local Ek = self.Ek[k]:rows(1, m)
      local sp, sm = {}, {}
      Ep:copy(Ek)
      for i = 1, m do
        local vi = V:rows(i, i)
        local nv = vi:norm()
        if nv > 0 then
          Ep:rows(i, i):axpy(eps / nv, vi)
          sp[i], sm[i] = -a * nv / (2 * eps), a * nv / (2 * eps)
        else
          sp[i], sm[i] = 0, 0
        end
      end
      dE:zero()
      self:pass(batch, Ep, "support", sp, dtheta, dE)
      Ep:copy(Ek)
      for i = 1, m do
        local vi = V:rows(i, i)
        local nv = vi:norm()
        if nv > 0 then Ep:rows(i, i):axpy(-eps / nv, vi) end
      end
      self:pass(batch, Ep, "support", sm, dtheta, dE)
      V:add(dE) -- v_k = v_k+1 − α H_ee v_k+1
    end
  end
  if de0 then
    local v0 = de0:view({ 1, self.d })
    for i = 1, m do v0:add(V:rows(i, i)) end
  end
  local total = 0
  for i = 1, m do total = total + losses[i] end
  return total / m
end

--- One meta step: Adam on θ (and on e0 with learn_init); returns the mean
-- query loss after adaptation.
function Ctx:meta_step(batch)
  self.dtheta:zero()
  self.de0:zero()
  local loss = self:meta_gradient(batch, self.dtheta, self.learn_init and self.de0 or nil)
  if loss ~= loss or loss == math.huge then
    error("hnet.maml.context:meta_step: the meta-loss is " .. tostring(loss) .. ": lower meta_lr or inner_lr", 0)
  end
  if self.train_theta then self.opt_t:step(self.theta, self.dtheta) end
  if self.learn_init then self.opt_e:step(self.e0, self.de0) end
  return loss
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.maml.new", sig = "hnet.maml.new(opts) -> maml (m:meta_step(batch), m:meta_gradient(batch, g), m.W)",
    spec = M.NEW_OPTIONS, about = "MAML (order 2) or first-order MAML on a plain target network" },
  { name = "hnet.maml.context", sig = "hnet.maml.context(opts) -> ctx (c:meta_step(batch), c:meta_gradient(...))",
    spec = M.CONTEXT_OPTIONS, about = "CAVIA-style meta-training of θ (and e0) through task-embedding adaptation" },
}

return M
