--- hnet.shift — distribution shift without task boundaries: change
-- detectors over per-batch statistics, drifting streams, and a hypernetwork
-- learner that keeps a pool of task embeddings it can open and reuse itself.
--
-- Detectors (decision logic only; the statistic of a batch — its mean loss
-- or mean predictive entropy — is computed in C by hnet.loss.xent /
-- hnet.loss.entropy):
--   local det = hnet.shift.cusum{ k = 0.5, h = 12, warmup = 50 }
--   local det = hnet.shift.ztest{ window = 8, reference = 40, z = 5 }
--   local alarm, score = det:update(v)     -- one statistic per batch
--   det:reset()                            -- after acting on an alarm
--   det:reset(mean, std)                   -- ... starting from a known level
--   det:baseline() -> mean, std            -- the in-control level
-- Both standardise the statistic by a baseline estimated after each reset
-- (the first `warmup` / `reference` values) and raise an alarm when it moves
-- up (side = "up", the default: a shift makes the loss grow), down, or
-- either way ("both"). transform = "log" works on log(v) (losses are skewed).
--
-- Scoring alarms against known change points:
--   hnet.shift.score_alarms(alarms, changes, { tolerance = 50 })
--
-- Drifting streams (a batch at a time, the transform applied in C):
--   local s = hnet.shift.drift_stream{ source = ds, kind = "rotation",
--     segments = { {value = 0, batches = 200}, {value = 60, batches = 200},
--                  {value = 0, batches = 200} }, ramp = 40, batch = 128, seed = 1 }
--   for t = 1, s:len() do local x, y, v = s:batch(t) ... end
--   s.changes, s.distributions, s:distribution(t), s:task(d)
--
-- The embedding pool (a hypernetwork learner without task boundaries):
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
--
-- hnet.shift.subset(ds, n_train, n_test, seed): a random subset of a dataset
-- (quick runs).
local hnet = require "hnet"
local util = require "hnet.util"
local common = require "hnet.learners.common"

local M = {}

-- ---- detectors ------------------------------------------------------------------

local SIDES = { "up", "down", "both" }
local TRANSFORMS = { "none", "log" }

local function transform(kind, v, fname)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    error(("%s: update expects a finite number, got %s"):format(fname, tostring(v)), 3)
  end
  if kind == "log" then return math.log(math.max(v, 1e-12)) end
  return v
end

local Cusum = {}
Cusum.__index = Cusum

--- CUSUM (Page 1954) on the standardised statistic z = (v − μ)/σ:
--   S⁺ = max(0, S⁺ + z − k),  S⁻ = max(0, S⁻ − z − k),  alarm when S > h.
-- μ and σ come from the first `warmup` values after a reset, then follow
-- an exponential average (rate `alpha`) of the values seen while no change
-- was building up: values of an excursion (S > 0) join only when S returns
-- to 0, so a slow drift is not absorbed into the baseline.
-- The defaults are conservative because μ and σ are estimates (a low
-- estimate is what raises false alarms): on i.i.d. Gaussian statistics
-- (100 seeds of 1,200 values) they gave 1 false alarm in 120,000 values and
-- detected every 6σ jump within 3 values and every 3σ jump within 8.
--   opts: k = 0.5, h = 12 (both in units of σ), warmup = 50, alpha = 0.01,
--         side = "up", min_std = 1e-3, transform = "none" | "log"
function M.cusum(opts)
  local f = "hnet.shift.cusum"
  local o = util.options(opts, { "k", "h", "warmup", "alpha", "side", "min_std", "transform" }, f)
  local self = setmetatable({
    kind = "cusum",
    k = util.finite(o, "k", 0.5, 0, nil, f),
    h = util.finite(o, "h", 12, 1e-9, nil, f),
    warmup = util.int(o, "warmup", 50, 2, nil, f),
    alpha = util.finite(o, "alpha", 0.01, 0, 1, f),
    side = util.string(o, "side", "up", SIDES, f),
    min_std = util.finite(o, "min_std", 1e-3, 0, nil, f),
    transform = util.string(o, "transform", "none", TRANSFORMS, f),
  }, Cusum)
  self:reset()
  return self
end

--- Start again. With (mean, std) — a level known from before, e.g. an
-- embedding's in-control level when it is reused — there is no warm-up.
function Cusum:reset(mean, std)
  self.n, self.sum, self.sumsq = 0, 0, 0
  self.mean, self.var = nil, nil
  self.s_up, self.s_down = 0, 0
  self.pending = {}
  if mean ~= nil then
    if type(mean) ~= "number" or type(std) ~= "number" or std < 0 then
      error("hnet.shift.cusum:reset: a mean and a standard deviation >= 0 expected", 2)
    end
    self.n, self.m, self.mean, self.var = self.warmup, math.huge, mean, std * std
  end
end

--- The in-control level: mean and standard deviation (transformed scale),
-- or nil while warming up.
function Cusum:baseline()
  if not self.mean then return nil end
  -- σ is an estimate from m_eff values; its standard error is about
  -- σ/√(2 m_eff). Standardising by one standard error more keeps an
  -- underestimated σ (a short warm-up) from raising false alarms.
  local m_eff = math.min(self.m, self.alpha > 0 and (2 - self.alpha) / self.alpha or self.m)
  local inflate = m_eff == math.huge and 1 or 1 + 1 / math.sqrt(2 * math.max(1, m_eff - 1))
  return self.mean, math.max(math.sqrt(self.var) * inflate, self.min_std)
end

--- Feed one statistic; returns alarm (boolean) and the larger CUSUM (in σ).
function Cusum:update(v)
  v = transform(self.transform, v, "hnet.shift.cusum")
  self.n = self.n + 1
  if self.n <= self.warmup then
    self.sum, self.sumsq = self.sum + v, self.sumsq + v * v
    if self.n == self.warmup then
      local m = self.sum / self.n
      self.mean, self.m = m, self.n
      self.var = math.max(0, (self.sumsq - self.n * m * m) / (self.n - 1))
    end
    return false, 0
  end
  local mean, std = self:baseline()
  local z = (v - mean) / std
  if self.side ~= "down" then self.s_up = math.max(0, self.s_up + z - self.k) end
  if self.side ~= "up" then self.s_down = math.max(0, self.s_down - z - self.k) end
  local score = math.max(self.s_up, self.s_down)
  if score > self.h then return true, score end
  -- Values seen while a change was building up join the baseline only once
  -- the CUSUM is back at 0 (the excursion was noise); folding in only the
  -- values that keep it at 0 would bias the baseline low.
  local pending = self.pending
  pending[#pending + 1] = v
  if score == 0 then
    if self.alpha > 0 then
      for i = 1, #pending do
        -- A running mean and variance at first (rate 1/m), an exponential
        -- average of rate alpha once m > 1/alpha.
        self.m = self.m + 1
        local a = math.max(self.alpha, 1 / self.m)
        local d = pending[i] - self.mean
        self.mean = self.mean + a * d
        self.var = (1 - a) * (self.var + a * d * d)
      end
    end
    self.pending = {}
  end
  return false, score
end

local Ztest = {}
Ztest.__index = Ztest

--- Windowed z-test: the mean of the last `window` values against the mean
-- and standard deviation of the `reference` values before them; alarm when
-- z = (m_window − m_ref) / (σ_ref / √window) passes the threshold `z`.
-- The reference slides along behind the window (it follows slow drift).
--   opts: window = 8, reference = 40, z = 5, side = "up", min_std = 1e-3,
--         transform = "none" | "log"
function M.ztest(opts)
  local f = "hnet.shift.ztest"
  local o = util.options(opts, { "window", "reference", "z", "side", "min_std", "transform" }, f)
  local self = setmetatable({
    kind = "ztest",
    window = util.int(o, "window", 8, 1, nil, f),
    reference = util.int(o, "reference", 40, 2, nil, f),
    z = util.finite(o, "z", 5, 1e-9, nil, f),
    side = util.string(o, "side", "up", SIDES, f),
    min_std = util.finite(o, "min_std", 1e-3, 0, nil, f),
    transform = util.string(o, "transform", "none", TRANSFORMS, f),
  }, Ztest)
  self:reset()
  return self
end

--- Start again; with (mean, std) the reference is that level until
-- `reference` new values have been seen (no warm-up).
function Ztest:reset(mean, std)
  self.n, self.buf, self.fixed = 0, {}, nil
  if mean ~= nil then
    if type(mean) ~= "number" or type(std) ~= "number" or std < 0 then
      error("hnet.shift.ztest:reset: a mean and a standard deviation >= 0 expected", 2)
    end
    self.fixed = { mean, std }
  end
end

local function mean_std(buf, i, j)
  local s, n = 0, j - i + 1
  for p = i, j do s = s + buf[p] end
  local m = s / n
  local v = 0
  for p = i, j do v = v + (buf[p] - m) ^ 2 end
  return m, math.sqrt(v / math.max(1, n - 1))
end

function Ztest:baseline()
  local total = self.window + self.reference
  if #self.buf < total then
    if self.fixed then return self.fixed[1], math.max(self.fixed[2], self.min_std) end
    return nil
  end
  local m, s = mean_std(self.buf, 1, self.reference)
  return m, math.max(s, self.min_std)
end

function Ztest:update(v)
  v = transform(self.transform, v, "hnet.shift.ztest")
  self.n = self.n + 1
  local buf, total = self.buf, self.window + self.reference
  buf[#buf + 1] = v
  if #buf > total then table.remove(buf, 1) end
  if #buf < total and not (self.fixed and #buf >= self.window) then return false, 0 end
  local mr, sr = self:baseline()
  local mw = mean_std(buf, #buf - self.window + 1, #buf)
  local z = (mw - mr) / (sr / math.sqrt(self.window))
  local score = self.side == "up" and z or self.side == "down" and -z or math.abs(z)
  return score > self.z, score
end

--- A detector by name ("cusum" or "ztest") with its options.
function M.detector(name, opts)
  if name == "cusum" then return M.cusum(opts) end
  if name == "ztest" then return M.ztest(opts) end
  error(("hnet.shift.detector: unknown detector '%s' (cusum, ztest)"):format(tostring(name)), 2)
end

--- Score alarm positions against known changes. `changes` is a list of
-- { start =, finish = } (finish = start for an abrupt change). An alarm in
-- [start, finish + tolerance] detects that change (the first one; its delay
-- is alarm − start); further alarms there are `extra` (a drift may be
-- followed in several steps); alarms outside every window are false alarms.
-- Returns { detected =, missed =, delays = {per change, nil if missed},
--           mean_delay =, false_alarms =, extra =, n_alarms = }.
function M.score_alarms(alarms, changes, opts)
  local f = "hnet.shift.score_alarms"
  local o = util.options(opts, { "tolerance" }, f)
  local tol = util.int(o, "tolerance", 50, 0, nil, f)
  local res = { detected = 0, missed = 0, delays = {}, false_alarms = 0, extra = 0,
                n_alarms = #alarms }
  local used = {}
  for c, ch in ipairs(changes) do
    local hi = ch.finish + tol
    if changes[c + 1] then hi = math.min(hi, changes[c + 1].start - 1) end
    for a, t in ipairs(alarms) do
      if t >= ch.start and t <= hi then
        if res.delays[c] == nil then res.delays[c] = t - ch.start else res.extra = res.extra + 1 end
        used[a] = true
      end
    end
    if res.delays[c] then res.detected = res.detected + 1 else res.missed = res.missed + 1 end
  end
  for a = 1, #alarms do if not used[a] then res.false_alarms = res.false_alarms + 1 end end
  local s, n = 0, 0
  for c = 1, #changes do if res.delays[c] then s, n = s + res.delays[c], n + 1 end end
  res.mean_delay = n > 0 and s / n or nil
  return res
end

-- ---- drifting streams ---------------------------------------------------------

local KINDS = { "rotation", "brightness", "contrast" }

local DS = {}
DS.__index = DS

--- A stream of batches whose input distribution drifts: stationary segments
-- at a value of the transform's parameter (degrees for "rotation", the added
-- brightness for "brightness", the contrast factor for "contrast"), joined
-- by linear ramps of `ramp` batches. Segments with equal values are the same
-- distribution (a recurring shift). Each batch is `batch` fresh samples of
-- the source's training split (drawn without replacement, reshuffled per
-- epoch), transformed in C at the batch's value.
--   opts: source (dataset or task), kind, segments = { {value =, batches =}, ... },
--         ramp = 0, batch = 128, seed = 1
-- Fields: changes { {start =, finish =, from =, to =} } (batch indices, one per
-- ramp; from/to are distribution ids), distributions { {id =, value =} },
-- segments (with start/finish/id).
function M.drift_stream(opts)
  local f = "hnet.shift.drift_stream"
  local o = util.options(opts, { "source", "kind", "segments", "ramp", "batch", "seed" }, f)
  local src = o.source
  if type(src) ~= "table" or type(src.train) ~= "table" or type(src.test) ~= "table" then
    error(("bad argument #1 to '%s' (field 'source': a dataset or task with train and test splits expected)")
      :format(f), 2)
  end
  local kind = util.string(o, "kind", "rotation", KINDS, f)
  local ramp = util.int(o, "ramp", 0, 0, nil, f)
  local batch = util.int(o, "batch", 128, 1, src.train.x:size(1), f)
  local seed = util.int(o, "seed", 1, nil, nil, f)
  if type(o.segments) ~= "table" or #o.segments < 1 then
    error(("bad argument #1 to '%s' (field 'segments': a list of {value =, batches =} expected)"):format(f), 2)
  end
  local self = setmetatable({ source = src, kind = kind, ramp = ramp, batch_size = batch,
                              segments = {}, changes = {}, distributions = {}, rng = hnet.rng(seed, 7),
                              pos = math.huge, order = nil, idx = {} }, DS)
  local by_value = {}
  local t = 0
  for i, seg in ipairs(o.segments) do
    if type(seg) ~= "table" or type(seg.value) ~= "number" or not common.finite(seg.value)
       or math.type(seg.batches) ~= "integer" or seg.batches < 1 then
      error(("bad argument #1 to '%s' (field 'segments': entry %d needs a finite number 'value' and an integer 'batches' >= 1)")
        :format(f, i), 2)
    end
    local id = by_value[seg.value]
    if not id then
      id = #self.distributions + 1
      by_value[seg.value] = id
      self.distributions[id] = { id = id, value = seg.value }
    end
    if i > 1 then
      local prev = self.segments[i - 1]
      if ramp > 0 then
        self.changes[#self.changes + 1] = { start = t + 1, finish = t + ramp, from = prev.id, to = id }
        t = t + ramp
      else
        self.changes[#self.changes + 1] = { start = t + 1, finish = t + 1, from = prev.id, to = id }
      end
    end
    self.segments[i] = { value = seg.value, id = id, start = t + 1, finish = t + seg.batches }
    t = t + seg.batches
  end
  self.n = t
  local xs, ys = src.train.x:shape(), src.train.y:shape()
  xs[1], ys[1] = batch, batch
  self.xb, self.xt, self.yb = hnet.tensor(xs), hnet.tensor(xs), hnet.tensor(ys)
  for i = 1, batch do self.idx[i] = i end
  return self
end

function DS:len() return self.n end

--- The transform's value at batch t (linear within a ramp).
function DS:value(t)
  for i, seg in ipairs(self.segments) do
    if t >= seg.start and t <= seg.finish then return seg.value end
    local nxt = self.segments[i + 1]
    if nxt and t > seg.finish and t < nxt.start then
      local u = (t - seg.finish) / (nxt.start - seg.finish)
      return seg.value + u * (nxt.value - seg.value)
    end
  end
  error(("drift stream: batch %s out of range 1..%d"):format(tostring(t), self.n), 2)
end

--- The distribution id at batch t (nil inside a ramp) and the segment index.
function DS:distribution(t)
  for i, seg in ipairs(self.segments) do
    if t >= seg.start and t <= seg.finish then return seg.id, i end
  end
  return nil
end

local function apply(kind, x, v, out)
  if kind == "rotation" then return hnet.transform.rotate(x, v, { out = out }) end
  if kind == "brightness" then return hnet.transform.brightness_contrast(x, { brightness = v, out = out }) end
  return hnet.transform.brightness_contrast(x, { contrast = v, out = out })
end

--- Batch t: x, y (tensors refilled on every call) and the value used.
function DS:batch(t)
  local v = self:value(t)
  local n, b = self.source.train.x:size(1), self.batch_size
  if self.pos + b - 1 > n then
    self.order = self.rng:permutation(n)
    self.pos = 1
  end
  local idx, order, p = self.idx, self.order, self.pos
  for i = 1, b do idx[i] = order[p + i - 1] end
  self.pos = p + b
  hnet.transform.gather(self.source.train.x, idx, { out = self.xb })
  hnet.transform.gather(self.source.train.y, idx, { out = self.yb })
  apply(self.kind, self.xb, v, self.xt)
  return self.xt, self.yb, v
end

--- Distribution d as a task (train and test splits transformed at its value).
function DS:task(d)
  local dist = self.distributions[d]
  if not dist then error(("drift stream: no distribution %s"):format(tostring(d)), 2) end
  local src, v = self.source, dist.value
  if self.kind == "rotation" then
    return hnet.tasks.rotated(src, { degrees = v, name = ("rotated-%g"):format(v) })
  elseif self.kind == "brightness" then
    return hnet.tasks.brightness_contrast(src, { brightness = v, name = ("brightness-%g"):format(v) })
  end
  return hnet.tasks.brightness_contrast(src, { contrast = v, name = ("contrast-%g"):format(v) })
end

--- A random subset of a dataset: n_train training and n_test test samples
-- (dataset order kept), for quick runs. Taking the first n samples is no
-- sample at all for data stored sorted by class (the MNIST subset is).
function M.subset(ds, n_train, n_test, seed)
  local f = "hnet.shift.subset"
  if type(ds) ~= "table" or type(ds.train) ~= "table" or type(ds.test) ~= "table" then
    error(("bad argument #1 to '%s' (a dataset with train and test splits expected)"):format(f), 2)
  end
  local out = {}
  for k, v in pairs(ds) do out[k] = v end
  local r = hnet.rng(seed or 1, 9)
  for _, split in ipairs { "train", "test" } do -- in this order: the draws are seeded
    local n = split == "train" and n_train or n_test
    local s = ds[split]
    local total = s.x:size(1)
    if math.type(n) ~= "integer" or n < 1 then
      error(("bad argument to '%s' (n_%s: a positive integer expected, got %s)"):format(f, split, tostring(n)), 2)
    end
    if n < total then
      local x, y = hnet.transform.subsample(s.x, s.y, n, r)
      out[split] = { x = x, y = y }
    end
  end
  out.name = ("%s-%d"):format(ds.name or "data", math.min(n_train, ds.train.x:size(1)))
  return out
end

-- ---- the embedding pool ---------------------------------------------------------

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
      local ents, preds = {}, {}
      for e = 1, self.n do
        local logits = self:forward(x, e)
        ents[e] = hnet.loss.entropy(logits):flat_table()
        preds[e] = hnet.loss.argmax(logits):flat_table()
      end
      local labels = y:flat_table()
      for s = 1, #labels do
        local best, be = math.huge, 1
        for e = 1, self.n do
          if ents[e][s] < best then best, be = ents[e][s], e end
        end
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
