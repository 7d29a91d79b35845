--- hnet.shift.pool — the embedding pool: a hypernetwork learner without task
-- boundaries that keeps a pool of task embeddings its caller opens, selects
-- and trains. Reached as hnet.shift.pool:
--   local pool = hnet.shift.pool{ input_shape = {1, 28, 28}, n_outputs = 10,
--     target = { "mlp", hidden = {100, 100} }, hnet = { embedding = 16, ... },
--     beta = 0.01, lr = 1e-3, max_embeddings = 32 }
--   local k = pool:add()          -- a new embedding (random), or pool:add(j) (a copy of j)
--   pool:activate(k)              -- train k from now on; fix W*_j = h(e_j; θ) of all others
--   pool:step(x, y)               -- one Adam step: xent + β/(K−1) Σ_{j≠k} ‖h(e_j; θ) − W*_j‖²
--   pool:scores(x, y, "loss")     -- mean loss (or "entropy") of a batch under every embedding
--   pool:evaluate(data, k)        -- accuracy % under embedding k, or k = "infer" (lowest entropy)
--   pool:state() / pool:set_state(s)   -- a copy of θ and the embeddings / back to it
--   pool:import(theta, E, n)      -- θ and n embeddings from a trained hnet.learners.hypernet
local hnet = require "hnet"
local util = require "hnet.util"
local common = require "hnet.learners.common"
local inference = require "hnet.run.evaluate" -- the run's task inference, shared

local M = {}

local Pool = {}
Pool.__index = Pool

local POOL_DEFAULTS = {
  target = { "mlp", hidden = { 100, 100 } }, hnet = {},
  beta = 0.01, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, batch = 128, eval_batch = 1000,
  max_embeddings = 32, emb_var = 1.0, seed = 1, train_theta = true,
}
local HNET_KEYS = { "embedding", "hidden", "act", "alpha", "chunk", "chunk_embedding" }

--- A hypernetwork with a growing set of task embeddings and no notion of
-- task boundaries: the caller opens (add), selects (activate) and trains
-- (step) embeddings. Classification only.
--   opts: input_shape, n_outputs (required); target, hnet, beta, lr, beta1,
--         beta2, batch (largest training batch), eval_batch, max_embeddings,
--         emb_var, seed, train_theta (false: only the active embedding learns)
function M.pool(opts)
  local f = "hnet.shift.pool"
  local allowed = { "input_shape", "n_outputs" }
  for k in pairs(POOL_DEFAULTS) do allowed[#allowed + 1] = k end
  local o = common.options(opts, POOL_DEFAULTS, allowed, f)
  if type(o.input_shape) ~= "table" then
    error(("bad argument #1 to '%s' (field 'input_shape': a per-sample shape such as {1, 28, 28} expected)"):format(f), 2)
  end
  util.int(o, "n_outputs", nil, 1, nil, f)
  util.finite(o, "beta", nil, 0, nil, f)
  util.finite(o, "lr", nil, 0, nil, f)
  util.finite(o, "beta1", nil, 0, 0.999999, f)
  util.finite(o, "beta2", nil, 0, 0.999999999, f)
  if not (util.finite(o, "emb_var", nil, 0, nil, f) > 0) then
    util.argerr(f, 1, "field 'emb_var': a positive number expected, got 0")
  end
  util.int(o, "seed", nil, nil, nil, f)
  util.int(o, "batch", nil, 1, nil, f)
  util.int(o, "eval_batch", nil, 1, nil, f)
  util.int(o, "max_embeddings", nil, 1, nil, f)
  util.bool(o, "train_theta", nil, f)
  local h = util.options(o.hnet, HNET_KEYS, f .. " (field 'hnet')")
  local hc = {
    embedding = util.int(h, "embedding", 8, 1, nil, f),
    hidden = util.int_list(h, "hidden", { 50, 50 }, f),
    act = util.string(h, "act", "relu", { "relu", "elu", "tanh", "sigmoid", "identity" }, f),
    alpha = util.finite(h, "alpha", 1, 1e-6, nil, f),
    chunk = util.int(h, "chunk", 0, 0, nil, f),
    chunk_embedding = util.int(h, "chunk_embedding", 8, 1, nil, f),
  }
  o.hnet = hc
  local self = setmetatable({ o = o, n = 0, active = nil, valid = {} }, Pool)
  self.rng = hnet.rng(o.seed, 11)
  self.net = common.target_net(o.target, o.input_shape, o.n_outputs, math.max(o.batch, o.eval_batch), f)
  if self.net:n_stats() > 0 then
    error(("%s: target networks with batch normalisation are not supported (per-embedding statistics)"):format(f), 2)
  end
  local K = o.max_embeddings
  self.h = hnet.hypernet { target = self.net, embedding = hc.embedding, hidden = hc.hidden, act = hc.act,
                           alpha = hc.alpha, chunk = hc.chunk, chunk_embedding = hc.chunk_embedding,
                           max_tasks = K }
  self.n_w, self.n_theta, self.n_emb = self.net:n_params(), self.h:n_params(), hc.embedding
  self.theta = hnet.tensor(self.n_theta)
  -- θ is trained with Adam: bound the hidden path as the hypernet learner does.
  self.h:init(self.theta, nil, { emb_var = o.emb_var, rng = self.rng, max_h_l1 = 2 })
  self.dtheta = hnet.tensor(self.n_theta)
  self.E = hnet.tensor(K, self.n_emb)
  self.dE = hnet.tensor(1, self.n_emb)
  self.W, self.dW = hnet.tensor(1, self.n_w), hnet.tensor(1, self.n_w)
  self.Wall = hnet.tensor(K, self.n_w)
  self.Ereg, self.Wstar = hnet.tensor(K, self.n_emb), hnet.tensor(K, self.n_w)
  self.Wreg, self.dWreg = hnet.tensor(K, self.n_w), hnet.tensor(K, self.n_w)
  local k = o.n_outputs
  self.logits, self.dlogits = hnet.tensor(o.batch, k), hnet.tensor(o.batch, k)
  self.eval_out = hnet.tensor(o.eval_batch, k)
  return self
end

function Pool:n_trainable() return self.n_theta + self.n * self.n_emb end

--- Open a new embedding: a copy of embedding `from`, or (nil) drawn from
-- N(0, emb_var). Returns its index. Does not activate it.
function Pool:add(from)
  if self.n >= self.o.max_embeddings then
    error(("hnet.shift.pool: all %d embeddings are in use (raise max_embeddings)"):format(self.o.max_embeddings), 2)
  end
  self.n = self.n + 1
  local row = self.E:rows(self.n, self.n)
  if from then
    if math.type(from) ~= "integer" or from < 1 or from >= self.n then
      error(("hnet.shift.pool: add(from): from must be an existing embedding 1..%d, got %s")
        :format(self.n - 1, tostring(from)), 2)
    end
    row:copy(self.E:rows(from, from))
  else
    row:copy(self.h:embeddings(1, { var = self.o.emb_var, rng = self.rng }))
  end
  self.valid = {}
  return self.n
end

local function check_index(self, k, fname)
  if math.type(k) ~= "integer" or k < 1 or k > self.n then
    error(("hnet.shift.pool:%s: embedding index 1..%d expected, got %s"):format(fname, self.n, tostring(k)), 3)
  end
end

--- Train embedding k from now on: fresh Adam states, and the regulariser's
-- targets W*_j = h(e_j; θ) for every other embedding, in one batched pass.
function Pool:activate(k)
  check_index(self, k, "activate")
  local o = self.o
  self.active = k
  self.e = self.E:rows(k, k)
  self.opt_theta = hnet.adam { n = self.n_theta, lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  self.opt_e = hnet.adam { n = self.n_emb, lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  local others = {}
  for j = 1, self.n do if j ~= k then others[#others + 1] = j end end
  self.n_reg = (o.beta > 0 and o.train_theta) and #others or 0
  if self.n_reg > 0 then
    local p = self.n_reg
    self.reg_E = self.Ereg:rows(1, p)
    hnet.transform.gather(self.E, others, { out = self.reg_E })
    self.reg_Wstar = self.Wstar:rows(1, p)
    self.h:forward(self.theta, self.reg_E, { out = self.reg_Wstar })
    self.reg_W, self.reg_dW = self.Wreg:rows(1, p), self.dWreg:rows(1, p)
  end
end

--- One training step on a batch (x, y) for the active embedding; returns
-- the task loss and the regulariser.
function Pool:step(x, y)
  local o, h, net = self.o, self.h, self.net
  if not self.active then error("hnet.shift.pool:step: no active embedding (call add and activate first)", 2) end
  local n = x:size(1)
  if n > o.batch then
    error(("hnet.shift.pool:step: a batch of %d but the pool was built for batches up to %d"):format(n, o.batch), 2)
  end
  local logits = n == o.batch and self.logits or self.logits:rows(1, n)
  local dlogits = n == o.batch and self.dlogits or self.dlogits:rows(1, n)
  h:forward(self.theta, self.e, { out = self.W })
  net:forward(self.W, x, { train = true, rng = self.rng, out = logits })
  local loss = hnet.loss.xent(logits, y, { grad = dlogits })
  if loss ~= loss or loss == math.huge then
    error(("hnet.shift.pool:step: the task loss is %s: lower the learning rate (lr)"):format(tostring(loss)), 2)
  end
  self.dW:zero()
  net:backward(self.W, dlogits, self.dW)
  self.dtheta:zero()
  self.dE:zero()
  h:backward(self.theta, self.dW, self.dtheta, self.dE)
  local reg = 0
  if self.n_reg > 0 then
    h:forward(self.theta, self.reg_E, { out = self.reg_W })
    self.reg_dW:zero()
    reg = hnet.cl.output_reg(self.reg_W, self.reg_Wstar, o.beta, self.reg_dW)
    h:backward(self.theta, self.reg_dW, self.dtheta, nil)
  end
  if o.train_theta then self.opt_theta:step(self.theta, self.dtheta) end
  self.opt_e:step(self.e, self.dE)
  self.valid = {}
  return loss, reg
end

--- Generate the weights of every embedding (one batched pass); done lazily
-- by the evaluation calls below after training changed θ or E. Pool:forward
-- alone generates only the embedding it needs.
function Pool:prepare_eval()
  if self.n == 0 then error("hnet.shift.pool: no embeddings yet", 3) end
  local all = true
  for k = 1, self.n do if not self.valid[k] then all = false break end end
  if all then return end
  self.h:forward(self.theta, self.E:rows(1, self.n), { out = self.Wall:rows(1, self.n) })
  for k = 1, self.n do self.valid[k] = true end
end

--- The target network's logits for x under embedding k (eval mode); valid
-- until the next call.
function Pool:forward(x, k)
  check_index(self, k, "forward")
  if not self.valid[k] then
    self.h:forward(self.theta, self.E:rows(k, k), { out = self.Wall:rows(k, k) })
    self.valid[k] = true
  end
  local n = x:size(1)
  if n > self.o.eval_batch then
    error(("hnet.shift.pool:forward: %d samples but eval_batch is %d"):format(n, self.o.eval_batch), 2)
  end
  local out = n == self.o.eval_batch and self.eval_out or self.eval_out:rows(1, n)
  return self.net:forward(self.Wall:rows(k, k), x, { train = false, out = out })
end

--- The mean loss ("loss", needs y) or mean predictive entropy ("entropy")
-- of a batch under each embedding 1..n (or the list `which`): a list.
function Pool:scores(x, y, what, which)
  what = what or "loss"
  local out = {}
  self:prepare_eval()
  local ks = which
  if not ks then
    ks = {}
    for k = 1, self.n do ks[k] = k end
  end
  for i, k in ipairs(ks) do
    local logits = self:forward(x, k)
    if what == "loss" then
      out[i] = hnet.loss.xent(logits, y)
    elseif what == "entropy" then
      out[i] = hnet.loss.entropy(logits):mean()
    else
      error(("hnet.shift.pool:scores: 'loss' or 'entropy' expected, got %s"):format(tostring(what)), 2)
    end
  end
  return out
end

--- Accuracy (percent) on data {x, y} under embedding k, or with k = "infer":
-- per sample, the embedding whose prediction has the lowest entropy. Also
-- returns, for "infer", how often each embedding was chosen (a list).
-- `limit` evaluates at most `limit` samples, evenly spaced over the split.
function Pool:evaluate(data, k, limit)
  data = util.spread_rows(data, limit)
  local n = data.x:size(1)
  local bs, correct = self.o.eval_batch, 0
  local chosen = {}
  for j = 1, self.n do chosen[j] = 0 end
  if k == "infer" then self:prepare_eval() end
  local i = 1
  while i <= n do
    local j = math.min(n, i + bs - 1)
    local x, y = data.x:rows(i, j), data.y:rows(i, j)
    if k ~= "infer" then
      local _, c = hnet.loss.accuracy(self:forward(x, k), y)
      correct = correct + c
    else
      local ents, preds = inference.scores(function(e) return self:forward(x, e) end, self.n)
      local labels = y:flat_table()
      for s = 1, #labels do
        local be = inference.lowest_entropy(ents, s)
        chosen[be] = chosen[be] + 1
        if preds[be][s] == labels[s] then correct = correct + 1 end
      end
    end
    i = j + 1
  end
  return 100 * correct / n, k == "infer" and chosen or nil
end

--- A copy of the learned state (θ, the embeddings and their count).
function Pool:state()
  return { theta = self.theta:clone(), E = self.E:clone(), n = self.n }
end

--- Restore a state from Pool:state(); no embedding is active afterwards.
function Pool:set_state(s)
  if type(s) ~= "table" or s.theta == nil or s.E == nil or math.type(s.n) ~= "integer" then
    error("hnet.shift.pool:set_state: a table from pool:state() expected", 2)
  end
  self:import(s.theta, s.E, s.n)
end

--- Take θ and the first n rows of E from elsewhere (e.g. a trained
-- hnet.learners.hypernet: learner:parameters(), learner:embeddings()); the
-- hypernetwork must have the same configuration. No embedding is active.
function Pool:import(theta, E, n)
  if theta:numel() ~= self.n_theta then
    error(("hnet.shift.pool:import: theta has %d values; this hypernetwork has %d (same target and hnet options needed)")
      :format(theta:numel(), self.n_theta), 2)
  end
  if E:ndim() ~= 2 or E:size(2) ~= self.n_emb or n < 0 or n > E:size(1) or n > self.o.max_embeddings then
    error(("hnet.shift.pool:import: E must be [>= %d, %d] with n <= max_embeddings (%d), got %s")
      :format(n, self.n_emb, self.o.max_embeddings, tostring(E)), 2)
  end
  self.theta:copy(theta)
  if n > 0 then self.E:rows(1, n):copy(E:rows(1, n)) end
  self.n, self.active, self.e, self.valid = n, nil, nil, {}
end

return M
