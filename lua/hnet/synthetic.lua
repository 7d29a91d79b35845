--- hnet.synthetic — synthetic tasks generated in bulk (tensor operations).
--
--   synthetic.polynomial_tasks{seed =, n_train = 100, n_test = 50, noise = 0.05}
--       the three 1-D regression tasks of the hypernetwork paper (von Oswald et
--       al. 2020, fig. 2): x+3 on [-4,-2], 2x^2-1 on [-1,1], (x-3)^3 on [2,4];
--       n_train points drawn uniformly on the domain with N(0, noise^2) target
--       noise, n_test noise-free points on an even grid (ends included)
--   synthetic.polynomial_stream(opts)          the same as an hnet.stream
--   synthetic.sinusoid_task(rng, {k = 10, n_test = 100, grid = false})
--       one task of the MAML sinusoid family (Finn et al. 2017):
--       y = A sin(x - phi), A ~ U[0.1, 5], phi ~ U[0, pi], x ~ U[-5, 5];
--       k training points, n_test test points (random, or a grid if grid)
--   synthetic.sinusoid_stream{tasks =, seed =, k =, n_test =}
--   synthetic.blobs{n_classes =, dim =, n_per_class =, n_test_per_class =,
--                   spread = 1, separation = 3, seed =}
--       Gaussian blobs: class centres ~ N(0, separation^2 I), samples
--       centre + N(0, spread^2 I)
--
-- Regression tasks have x [n, 1] and y [n, 1] (kind = "regression",
-- n_outputs = 1); each also carries f (the noise-free function, for plots)
-- and domain = {lo, hi}.
local core = require "hnet.core"
local tasks = require "hnet.tasks"
local util = require "hnet.util"
local spec = require "hnet.spec"

local M = {}

-- The options of each function (hnet.spec): they check the call and
-- `./hnet help hnet.synthetic.NAME` prints them.
local SEED = { name = "seed", type = "integer", help = "the seed of the draws (default: hnet.seed())" }
local K = { name = "k", type = "integer", default = 10, min = 1, help = "training points per task" }
local N_TEST = { name = "n_test", type = "integer", default = 100, min = 1, help = "test points per task" }
local GRID = { name = "grid", type = "boolean", default = false, help = "test points on an even grid (else random)" }
M.OPTIONS = {
  polynomial_tasks = {
    SEED,
    { name = "n_train", type = "integer", default = 100, min = 1, help = "training points per task, uniform on the domain" },
    { name = "n_test", type = "integer", default = 50, min = 1, help = "noise-free test points on an even grid" },
    { name = "noise", type = "number", default = 0.05, min = 0, help = "standard deviation of the target noise" },
  },
  sinusoid_task = { K, N_TEST, GRID, { name = "name", type = "string", help = "the task's name (default: from A and phi)" } },
  sinusoid_stream = {
    { name = "tasks", type = "integer", default = 10, min = 1, help = "number of tasks" },
    SEED, K, N_TEST, GRID,
  },
  blobs = {
    { name = "n_classes", type = "integer", default = 2, min = 1, help = "number of classes (blobs)" },
    { name = "dim", type = "integer", default = 2, min = 1, help = "input dimension" },
    { name = "n_per_class", type = "integer", default = 100, min = 1, help = "training samples per class" },
    { name = "n_test_per_class", type = "integer", min = 1, help = "test samples per class (default: n_per_class)" },
    { name = "spread", type = "number", default = 1, min = 0, help = "standard deviation of a blob" },
    { name = "separation", type = "number", default = 3, min = 0, help = "standard deviation of the class centres" },
    SEED,
    { name = "name", type = "string", help = "the task's name (default: blobs-KxDIM)" },
  },
}
M.OPTIONS.polynomial_stream = M.OPTIONS.polynomial_tasks

-- Argument #1 of sinusoid_task: an hnet.Rng, an integer seed or nil.
local function as_rng(r, fname)
  if r == nil then return core.rng() end
  if math.type(r) == "integer" then return core.rng(r) end
  local mt = getmetatable(r)
  if type(r) == "userdata" and mt and mt.__name == "hnet.Rng" then return r end
  util.argerr(fname, 1, "an hnet.Rng or an integer seed expected, got " .. type(r), 3)
end

local function column(t) return t:view({ t:size(1), 1 }):clone() end

-- ---- polynomial regression (hypernetwork paper) -----------------------------------

-- Each: name, domain, f on a tensor (in bulk), f on a number (for plots).
local POLYS = {
  { name = "x+3", lo = -4, hi = -2,
    bulk = function(x) return x:clone():add(3) end,
    f = function(x) return x + 3 end },
  { name = "2x^2-1", lo = -1, hi = 1,
    bulk = function(x) return x:clone():mul(x):scale(2):add(-1) end,
    f = function(x) return 2 * x * x - 1 end },
  { name = "(x-3)^3", lo = 2, hi = 4,
    bulk = function(x) local d = x:clone():add(-3); return d:clone():mul(d):mul(d) end,
    f = function(x) return (x - 3) ^ 3 end },
}

function M.polynomial_tasks(opts)
  local fname = "hnet.synthetic.polynomial_tasks"
  local o = spec.check(M.OPTIONS.polynomial_tasks, opts, fname)
  local n_train, n_test, noise = o.n_train, o.n_test, o.noise
  local seed = o.seed or core.seed()
  local out = {}
  for i, p in ipairs(POLYS) do
    local rng = core.rng(seed, i)
    local xtr = core.rand({ n_train, 1 }, rng, p.lo, p.hi)
    local ytr = p.bulk(xtr)
    if noise > 0 then ytr:add(core.randn({ n_train, 1 }, rng, noise)) end
    local xte = column(core.gen.linspace(p.lo, p.hi, n_test))
    local yte = p.bulk(xte)
    local t = tasks.from_tensors {
      name = "poly-" .. p.name, kind = "regression", n_outputs = 1, input_shape = { 1 },
      train = { x = xtr, y = ytr }, test = { x = xte, y = yte },
    }
    t.f, t.domain, t.noise, t.seed = p.f, { p.lo, p.hi }, noise, seed
    out[i] = t
  end
  return out
end

function M.polynomial_stream(opts)
  spec.check(M.OPTIONS.polynomial_stream, opts, "hnet.synthetic.polynomial_stream")
  return require("hnet.stream").from(M.polynomial_tasks(opts), { name = "polynomials" })
end

-- ---- sinusoids (MAML) ----------------------------------------------------------------

function M.sinusoid_task(rng, opts)
  local fname = "hnet.synthetic.sinusoid_task"
  rng = as_rng(rng, fname)
  local o = spec.check(M.OPTIONS.sinusoid_task, opts, fname, 2)
  local k, n_test = o.k, o.n_test
  local amp = rng:uniform(0.1, 5.0)
  local phase = rng:uniform(0, math.pi)
  local xtr = core.rand({ k, 1 }, rng, -5, 5)
  local xte = o.grid and column(core.gen.linspace(-5, 5, n_test)) or core.rand({ n_test, 1 }, rng, -5, 5)
  local t = tasks.from_tensors {
    name = o.name or ("sinusoid-A%.2f-p%.2f"):format(amp, phase),
    kind = "regression", n_outputs = 1, input_shape = { 1 },
    train = { x = xtr, y = core.gen.sinusoid(xtr, amp, phase) },
    test = { x = xte, y = core.gen.sinusoid(xte, amp, phase) },
  }
  t.amplitude, t.phase, t.domain = amp, phase, { -5, 5 }
  t.f = function(x) return amp * math.sin(x - phase) end
  return t
end

function M.sinusoid_stream(opts)
  local fname = "hnet.synthetic.sinusoid_stream"
  local o = spec.check(M.OPTIONS.sinusoid_stream, opts, fname)
  local n, seed = o.tasks, o.seed or core.seed()
  return require("hnet.stream").custom {
    n = n, name = "sinusoids",
    make = function(i)
      return M.sinusoid_task(core.rng(seed, i), { k = o.k, n_test = o.n_test, grid = o.grid,
                                                  name = "sinusoid-" .. i })
    end,
  }
end

-- ---- Gaussian blobs ---------------------------------------------------------------------

function M.blobs(opts)
  local fname = "hnet.synthetic.blobs"
  local o = spec.check(M.OPTIONS.blobs, opts, fname)
  local k, dim, n_per, spread, sep = o.n_classes, o.dim, o.n_per_class, o.spread, o.separation
  local n_test = o.n_test_per_class or n_per
  local seed = o.seed or core.seed()
  local centres = core.randn({ k, dim }, core.rng(seed, 0), sep)
  local xtr, ytr = core.gen.blobs(centres, n_per, spread, core.rng(seed, 1))
  local xte, yte = core.gen.blobs(centres, n_test, spread, core.rng(seed, 2))
  local t = tasks.from_tensors {
    name = o.name or ("blobs-%dx%d"):format(k, dim), kind = "classification", n_classes = k,
    input_shape = { dim }, train = { x = xtr, y = ytr }, test = { x = xte, y = yte },
  }
  t.centres, t.spread, t.seed = centres, spread, seed
  return t
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.synthetic.polynomial_tasks", sig = "hnet.synthetic.polynomial_tasks(opts) -> { task, task, task }",
    spec = M.OPTIONS.polynomial_tasks, about = "the three 1-D polynomial regression tasks of von Oswald et al. (2020)" },
  { name = "hnet.synthetic.polynomial_stream", sig = "hnet.synthetic.polynomial_stream(opts) -> stream",
    spec = M.OPTIONS.polynomial_stream, about = "the polynomial tasks as a stream" },
  { name = "hnet.synthetic.sinusoid_task", sig = "hnet.synthetic.sinusoid_task(rng or seed, opts) -> task",
    spec = M.OPTIONS.sinusoid_task, about = "one task of the MAML sinusoid family (opts: argument #2)" },
  { name = "hnet.synthetic.sinusoid_stream", sig = "hnet.synthetic.sinusoid_stream(opts) -> stream",
    spec = M.OPTIONS.sinusoid_stream, about = "a stream of sinusoid tasks" },
  { name = "hnet.synthetic.blobs", sig = "hnet.synthetic.blobs(opts) -> task", spec = M.OPTIONS.blobs,
    about = "Gaussian blobs: a classification task" },
}

return M
