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
local spec = require "hnet.spec"
local hypermodel = require "hnet.hypermodel"
local inference = require "hnet.run.evaluate" -- the run's task inference, shared

local M = {}

local Pool = {}
Pool.__index = Pool

-- hnet.shift.pool's options (hnet.spec); `hnet` is the hypernet learner's.
local hypernet_cli = require("hnet.learners.hypernet").cli
M.OPTIONS = {
  { name = "input_shape", type = "table", required = true, help = "per-sample input shape, such as {1, 28, 28}" },
  { name = "n_outputs", type = "integer", required = true, min = 1, help = "classes (outputs of the target network)" },
  spec.find(common.SHARED, "target"),
  spec.find(hypernet_cli, "hnet"),
  spec.find(hypernet_cli, "beta"),
  spec.find(common.SHARED, "lr"),
  spec.find(common.SHARED, "beta1"),
  spec.find(common.SHARED, "beta2"),
  spec.find(hypernet_cli, "emb_var"),
  spec.find(common.SHARED, "seed"),
  { name = "batch", type = "integer", default = 128, min = 1, help = "largest training batch" },
  spec.find(common.SHARED, "eval_batch"),
  { name = "max_embeddings", type = "integer", default = 32, min = 1, help = "most embeddings the pool holds" },
  { name = "train_theta", type = "boolean", default = true, help = "train θ (false: only the active embedding learns)" },
}

--- A hypernetwork with a growing set of task embeddings and no notion of
-- task boundaries: the caller opens (add), selects (activate) and trains
-- (step) embeddings. Classification only.
--   opts: input_shape, n_outputs (required); target, hnet, beta, lr, beta1,
--         beta2, batch (largest training batch), eval_batch, max_embeddings,
--         emb_var, seed, train_theta (false: only the active embedding learns)
function M.pool(opts)
  local f = "hnet.shift.pool"
  local o = spec.check(M.OPTIONS, opts, f)
  local hc = o.hnet
  local self = setmetatable({ o = o, n = 0, active = nil, valid = {} }, Pool)
  self.rng = hnet.rng(o.seed, 11)
  local K = o.max_embeddings
  -- θ is trained with Adam: bound the hidden path as the hypernet learner does.
  local m = hypermodel.build { fname = f, target = o.target, input_shape = o.input_shape, n_outputs = o.n_outputs,
                               max_batch = math.max(o.batch, o.eval_batch), hnet = hc, max_tasks = K,
                               n_embeddings = K, init = { emb_var = o.emb_var, rng = self.rng, max_h_l1 = 2 } }
  if m.net:n_stats() > 0 then
    error(("%s: target networks with batch normalisation are not supported (per-embedding statistics)"):format(f), 2)
  end
  self.model = m
  self.net, self.h, self.theta, self.E = m.net, m.h, m.theta, m.E
  self.n_w, self.n_theta, self.n_emb = m.n_w, m.n_theta, m.n_emb
  self.Wall = hnet.tensor(K, self.n_w)
  self.Ereg = hnet.tensor(K, self.n_emb)
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
    self.model:draw_embedding(row, self.o.emb_var, self.rng)
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
  local o, m = self.o, self.model
  self.active = k
  self.e = self.E:rows(k, k)
  m:begin(self.e, { lr = o.lr, beta1 = o.beta1, beta2 = o.beta2, train_theta = o.train_theta })
  local others = {}
  for j = 1, self.n do if j ~= k then others[#others + 1] = j end end
  self.n_reg = (o.beta > 0 and o.train_theta) and #others or 0
  if self.n_reg > 0 then
    local reg_E = self.Ereg:rows(1, self.n_reg)
    hnet.transform.gather(self.E, others, { out = reg_E })
    m:fix_targets(reg_E, { beta = o.beta })
  end
end

local function step_fault(what, v)
  error(("hnet.shift.pool:step: the %s is %s: lower the learning rate (lr)%s")
    :format(what == "loss" and "task loss" or what, tostring(v), what == "loss" and "" or " or beta"), 0)
end

--- One training step on a batch (x, y) for the active embedding; returns
-- the task loss and the regulariser.
function Pool:step(x, y)
  local o = self.o
  if not self.active then error("hnet.shift.pool:step: no active embedding (call add and activate first)", 2) end
  local n = x:size(1)
  if n > o.batch then
    error(("hnet.shift.pool:step: a batch of %d but the pool was built for batches up to %d"):format(n, o.batch), 2)
  end
  local logits = n == o.batch and self.logits or self.logits:rows(1, n)
  local dlogits = n == o.batch and self.dlogits or self.dlogits:rows(1, n)
  local loss, reg = self.model:step({ { x = x, y = y, out = logits, dout = dlogits } },
                                    { kind = "classification", rng = self.rng, fault = step_fault })
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
  self.model:generate(self.E:rows(1, self.n), self.Wall:rows(1, self.n))
  for k = 1, self.n do self.valid[k] = true end
end

--- The target network's logits for x under embedding k (eval mode); valid
-- until the next call.
function Pool:forward(x, k)
  check_index(self, k, "forward")
  if not self.valid[k] then
    self.model:generate(self.E:rows(k, k), self.Wall:rows(k, k))
    self.valid[k] = true
  end
  local n = x:size(1)
  if n > self.o.eval_batch then
    error(("hnet.shift.pool:forward: %d samples but eval_batch is %d"):format(n, self.o.eval_batch), 2)
  end
  local out = n == self.o.eval_batch and self.eval_out or self.eval_out:rows(1, n)
  return self.model:forward(self.Wall:rows(k, k), x, out)
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
        local be = inference.lowest(ents, s)
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

--- `./hnet help` entries (lua/hnet/help.lua reads them through hnet.shift).
M.HELP = {
  { name = "hnet.shift.pool", sig = "hnet.shift.pool(opts) -> pool", spec = M.OPTIONS,
    about = "a hypernetwork with a growing pool of task embeddings and no task boundaries" },
}

return M
