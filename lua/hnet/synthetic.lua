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

local M = {}

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
  local o = util.options(opts, { "seed", "n_train", "n_test", "noise" }, fname)
  local n_train = util.int(o, "n_train", 100, 1, nil, fname)
  local n_test = util.int(o, "n_test", 50, 1, nil, fname)
  local noise = util.finite(o, "noise", 0.05, 0, nil, fname)
  local seed = util.int(o, "seed", core.seed(), nil, nil, fname)
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
  return require("hnet.stream").from(M.polynomial_tasks(opts), { name = "polynomials" })
end

-- ---- sinusoids (MAML) ----------------------------------------------------------------

function M.sinusoid_task(rng, opts)
  local fname = "hnet.synthetic.sinusoid_task"
  rng = as_rng(rng, fname)
  local o = util.options(opts, { "k", "n_test", "grid", "name" }, fname, 2)
  local k = util.int(o, "k", 10, 1, nil, fname, 2)
  local n_test = util.int(o, "n_test", 100, 1, nil, fname, 2)
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
  local o = util.options(opts, { "tasks", "seed", "k", "n_test", "grid" }, fname)
  local n = util.int(o, "tasks", 10, 1, nil, fname)
  local seed = util.int(o, "seed", core.seed(), nil, nil, fname)
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
  local o = util.options(opts, { "n_classes", "dim", "n_per_class", "n_test_per_class", "spread",
                                 "separation", "seed", "name" }, fname)
  local k = util.int(o, "n_classes", 2, 1, nil, fname)
  local dim = util.int(o, "dim", 2, 1, nil, fname)
  local n_per = util.int(o, "n_per_class", 100, 1, nil, fname)
  local n_test = util.int(o, "n_test_per_class", n_per, 1, nil, fname)
  local spread = util.finite(o, "spread", 1, 0, nil, fname)
  local sep = util.finite(o, "separation", 3, 0, nil, fname)
  local seed = util.int(o, "seed", core.seed(), nil, nil, fname)
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

return M
