--- hnet — task-conditioned hypernetworks for continual and transfer learning.
--
--   local hnet = require "hnet"
--
-- The module re-exports everything the C core (hnet.core) defines — tensors,
-- nets, hypernetworks, optimisers, losses, RNG, the continual-learning kernels
-- and data functions — adds a few network builders written in Lua
-- (hnet.mlp, hnet.lenet, hnet.zenkenet), and loads the Lua library lazily:
-- the first use of hnet.<name> requires "hnet.<name>" (hnet.datasets,
-- hnet.tasks, hnet.stream, hnet.learners, hnet.metrics, hnet.report, ...)
-- when such a module exists, so new files under lua/hnet/ need no edit here.
--
-- Conventions: element, row and task indices are 1-based; class labels are
-- 0-based (as stored in datasets), and so are tensor:argmax() and
-- hnet.loss.argmax(); layout offsets are 0-based float offsets.
local core = require "hnet.core"
local util = require "hnet.util"

local M = {}
for k, v in pairs(core) do M[k] = v end
M.core = core
M.util = util

-- ---- network builders ------------------------------------------------------

local ACTS = { "relu", "tanh", "sigmoid", "elu", "identity" }

local function act_layer(act, alpha)
  if act == "elu" then return { "elu", alpha = alpha or 1 } end
  return { act }
end

local function input_shape(v, fname, key)
  if math.type(v) == "integer" then return { v } end
  if type(v) == "table" and #v >= 1 and #v <= 3 then return v end
  error(("bad argument #1 to '%s' (field '%s': a size or a per-sample shape table such as {1, 28, 28} expected, got %s)")
    :format(fname, key, tostring(v)), 3)
end

--- A multi-layer perceptron:
--   hnet.mlp{ inputs = 784 (or {1, 28, 28}), hidden = {100, 100}, outputs = 10,
--             act = "relu", alpha = 1, bias = true, dropout = 0, batchnorm = false,
--             max_batch = 128, fan = "in" }
function M.mlp(o)
  local f = "hnet.mlp"
  o = util.options(o, { "inputs", "hidden", "outputs", "act", "alpha", "bias", "dropout",
                        "batchnorm", "max_batch", "fan" }, f)
  if o.inputs == nil then error("bad argument #1 to 'hnet.mlp' (field 'inputs' is required)", 2) end
  local input = input_shape(o.inputs, f, "inputs")
  local hidden = util.int_list(o, "hidden", {}, f)
  local outputs = util.int(o, "outputs", nil, 1, nil, f)
  local act = util.string(o, "act", "relu", ACTS, f)
  local alpha = util.finite(o, "alpha", 1, 1e-6, nil, f)
  local bias = util.bool(o, "bias", true, f)
  local p = util.number(o, "dropout", 0, 0, 0.999, f)
  local bn = util.bool(o, "batchnorm", false, f)
  local layers = {}
  if #input > 1 then layers[#layers + 1] = { "flatten" } end
  for _, h in ipairs(hidden) do
    layers[#layers + 1] = { "linear", h, bias = bias }
    if bn then layers[#layers + 1] = { "batchnorm" } end
    layers[#layers + 1] = act_layer(act, alpha)
    if p > 0 then layers[#layers + 1] = { "dropout", p } end
  end
  layers[#layers + 1] = { "linear", outputs, bias = bias }
  return core.net { input = input, max_batch = o.max_batch, fan = o.fan, layers = layers }
end

--- LeNet-style convnet: conv(k5) -> act -> maxpool 2, twice, then fully
-- connected layers.
--   hnet.lenet{ input = {1, 28, 28}, outputs = 10, arch = "mnist" | "cifar",
--               channels = {20, 50}, fc = {500}, act = "relu", max_batch = 128, fan = "in" }
-- arch "mnist" (the default for one input channel) is channels {20, 50}, fc {500};
-- arch "cifar" (the default otherwise) is channels {6, 16}, fc {120, 84}.
function M.lenet(o)
  local f = "hnet.lenet"
  o = util.options(o, { "input", "outputs", "arch", "channels", "fc", "act", "max_batch", "fan" }, f)
  local input = input_shape(o.input or { 1, 28, 28 }, f, "input")
  if #input ~= 3 then error("bad argument #1 to 'hnet.lenet' (field 'input': {channels, height, width} expected)", 2) end
  local outputs = util.int(o, "outputs", 10, 1, nil, f)
  local arch = util.string(o, "arch", input[1] == 1 and "mnist" or "cifar", { "mnist", "cifar" }, f)
  local channels = util.int_list(o, "channels", arch == "mnist" and { 20, 50 } or { 6, 16 }, f)
  local fc = util.int_list(o, "fc", arch == "mnist" and { 500 } or { 120, 84 }, f)
  local act = util.string(o, "act", "relu", ACTS, f)
  local layers = {}
  for _, c in ipairs(channels) do
    layers[#layers + 1] = { "conv2d", c, k = 5 }
    layers[#layers + 1] = act_layer(act)
    layers[#layers + 1] = { "maxpool2d", 2 }
  end
  layers[#layers + 1] = { "flatten" }
  for _, h in ipairs(fc) do
    layers[#layers + 1] = { "linear", h }
    layers[#layers + 1] = act_layer(act)
  end
  layers[#layers + 1] = { "linear", outputs }
  return core.net { input = input, max_batch = o.max_batch, fan = o.fan, layers = layers }
end

--- The convnet of Zenke et al. (2017) used for split CIFAR-10/100:
-- [conv3 32 (pad 1), conv3 32, maxpool 2, dropout .25] then the same with 64
-- channels, then fc 512, dropout .5, fc outputs.
--   hnet.zenkenet{ input = {3, 32, 32}, outputs = 10, dropout = true, max_batch = 128, fan = "in" }
function M.zenkenet(o)
  local f = "hnet.zenkenet"
  o = util.options(o, { "input", "outputs", "dropout", "max_batch", "fan" }, f)
  local input = input_shape(o.input or { 3, 32, 32 }, f, "input")
  if #input ~= 3 then error("bad argument #1 to 'hnet.zenkenet' (field 'input': {channels, height, width} expected)", 2) end
  local outputs = util.int(o, "outputs", 10, 1, nil, f)
  local drop = util.bool(o, "dropout", true, f)
  local layers = {}
  local function add(l) layers[#layers + 1] = l end
  for _, c in ipairs { 32, 64 } do
    add { "conv2d", c, k = 3, pad = 1 }
    add { "relu" }
    add { "conv2d", c, k = 3 }
    add { "relu" }
    add { "maxpool2d", 2 }
    if drop then add { "dropout", 0.25 } end
  end
  add { "flatten" }
  add { "linear", 512 }
  add { "relu" }
  if drop then add { "dropout", 0.5 } end
  add { "linear", outputs }
  return core.net { input = input, max_batch = o.max_batch, fan = o.fan, layers = layers }
end

-- ---- lazy submodules ---------------------------------------------------------

local function findable(name)
  if package.loaded[name] ~= nil or package.preload[name] ~= nil then return true end
  return package.searchpath(name, package.path) ~= nil
end

return setmetatable(M, {
  __index = function(t, k)
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then return nil end
    local name = "hnet." .. k
    if not findable(name) then return nil end
    local mod = require(name)
    rawset(t, k, mod)
    return mod
  end,
})
