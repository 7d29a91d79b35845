--- hnet.shift.detectors — change detectors over per-batch statistics (the
-- decision logic only; the statistic of a batch — its mean loss or mean
-- predictive entropy — is computed in C by hnet.loss.xent / hnet.loss.entropy),
-- and the scoring of their alarms against known change points. Reached as
-- hnet.shift.cusum, hnet.shift.ztest, hnet.shift.detector and
-- hnet.shift.score_alarms:
--   local det = hnet.shift.cusum{ k = 0.5, h = 12, warmup = 50 }
--   local det = hnet.shift.ztest{ window = 8, reference = 40, z = 5 }
--   local alarm, score = det:update(v)     -- one statistic per batch
--   det:reset()                            -- after acting on an alarm
--   det:reset(mean, std)                   -- ... starting from a known level
--   det:baseline() -> mean, std            -- the in-control level
--   hnet.shift.score_alarms(alarms, changes, { tolerance = 50 })
-- Both detectors standardise the statistic by a baseline estimated after each
-- reset (the first `warmup` / `reference` values) and raise an alarm when it
-- moves up (side = "up", the default: a shift makes the loss grow), down, or
-- either way ("both"). transform = "log" works on log(v) (losses are skewed).
local spec = require "hnet.spec"

local M = {}

-- The options of each detector (hnet.spec): they check the call and
-- `./hnet help hnet.shift.NAME` prints them.
local SIDE = { name = "side", type = "string", default = "up", choices = { "up", "down", "both" },
  help = "the direction of change that raises an alarm" }
local MIN_STD = { name = "min_std", type = "number", default = 1e-3, min = 0, help = "floor of the baseline's standard deviation" }
local TRANSFORM = { name = "transform", type = "string", default = "none", choices = { "none", "log" },
  help = "log: work on log(v) (losses are skewed)" }
M.DETECTOR_OPTIONS = {
  cusum = {
    { name = "k", type = "number", default = 0.5, min = 0, help = "allowance, in units of σ" },
    { name = "h", type = "number", default = 12, min = 1e-9, help = "alarm threshold, in units of σ" },
    { name = "warmup", type = "integer", default = 50, min = 2, help = "values that estimate the baseline after a reset" },
    { name = "alpha", type = "number", default = 0.01, min = 0, max = 1, help = "rate of the baseline's exponential average" },
    SIDE, MIN_STD, TRANSFORM,
  },
  ztest = {
    { name = "window", type = "integer", default = 8, min = 1, help = "recent values whose mean is tested" },
    { name = "reference", type = "integer", default = 40, min = 2, help = "values before the window: the baseline" },
    { name = "z", type = "number", default = 5, min = 1e-9, help = "alarm threshold of the z statistic" },
    SIDE, MIN_STD, TRANSFORM,
  },
  score_alarms = {
    { name = "tolerance", type = "integer", default = 50, min = 0,
      help = "an alarm up to this many batches after a change's end still detects it" },
  },
}

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
  local o = spec.check(M.DETECTOR_OPTIONS.cusum, opts, f)
  local self = setmetatable({
    kind = "cusum", k = o.k, h = o.h, warmup = o.warmup, alpha = o.alpha, side = o.side,
    min_std = o.min_std, transform = o.transform,
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
  local o = spec.check(M.DETECTOR_OPTIONS.ztest, opts, f)
  local self = setmetatable({
    kind = "ztest", window = o.window, reference = o.reference, z = o.z, side = o.side,
    min_std = o.min_std, transform = o.transform,
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
  local tol = spec.check(M.DETECTOR_OPTIONS.score_alarms, opts, f, 3).tolerance
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

--- `./hnet help` entries (lua/hnet/help.lua reads them through hnet.shift).
M.HELP = {
  { name = "hnet.shift.cusum", sig = "hnet.shift.cusum(opts) -> detector (det:update(v) -> alarm, score; det:reset())",
    spec = M.DETECTOR_OPTIONS.cusum, about = "CUSUM change detector on the standardised per-batch statistic" },
  { name = "hnet.shift.ztest", sig = "hnet.shift.ztest(opts) -> detector", spec = M.DETECTOR_OPTIONS.ztest,
    about = "windowed z-test change detector against a sliding reference" },
  { name = "hnet.shift.detector", sig = "hnet.shift.detector(name, opts) -> detector",
    about = "a detector by name: \"cusum\" or \"ztest\"",
    notes = "opts (argument #2): those of hnet.shift.cusum or hnet.shift.ztest (./hnet help hnet.shift.cusum)" },
  { name = "hnet.shift.score_alarms", sig = "hnet.shift.score_alarms(alarms, changes, opts) -> scores",
    spec = M.DETECTOR_OPTIONS.score_alarms, about = "score alarm positions against known change points (opts: argument #3)" },
}

return M
