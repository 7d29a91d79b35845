--- Shared pieces of the learners: target-network specs, mini-batch sampling,
-- option defaults. Per-sample and per-weight work stays in C; this file only
-- decides what to call.
local hnet = require "hnet"
local util = require "hnet.util"

local M = {}

--- Merge user options over defaults after rejecting unknown keys.
-- `allowed` is the list of keys; `defaults` a table of default values.
function M.options(opts, defaults, allowed, fname)
  opts = util.options(opts, allowed, fname)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  return o
end

--- Build a target network for `input` (per-sample shape) with n_out outputs.
-- spec: { "mlp", hidden = {100, 100}, act = "relu", dropout = 0, batchnorm = false }
--       { "lenet", ... } | { "zenkenet", ... }  (hnet.lenet / hnet.zenkenet options)
--       { layers = {...} }  (a full hnet.net layer list whose output must be n_out)
function M.target_net(spec, input, n_out, max_batch, fname)
  fname = fname or "learner"
  if type(spec) ~= "table" then
    error(("bad argument #1 to '%s' (field 'target': a network spec table expected, got %s)")
      :format(fname, type(spec)), 3)
  end
  local kind = spec[1] or (spec.layers and "layers")
  local o = {}
  for k, v in pairs(spec) do if k ~= 1 then o[k] = v end end
  if kind == "mlp" then
    o.inputs, o.outputs, o.max_batch = input, n_out, max_batch
    return hnet.mlp(o)
  elseif kind == "lenet" or kind == "zenkenet" then
    o.input, o.outputs, o.max_batch = input, n_out, max_batch
    return hnet[kind](o)
  elseif kind == "layers" then
    local net = hnet.net { input = input, max_batch = max_batch, layers = spec.layers, fan = spec.fan }
    local out = net:out_shape()
    if #out ~= 1 or out[1] ~= n_out then
      error(("bad argument #1 to '%s' (field 'target': the layers give %d outputs, the tasks need %d)")
        :format(fname, out[1] or -1, n_out), 3)
    end
    return net
  end
  error(("bad argument #1 to '%s' (field 'target': unknown network kind '%s'; use \"mlp\", \"lenet\", \"zenkenet\" or layers = {...})")
    :format(fname, tostring(kind)), 3)
end

--- Mini-batches drawn without replacement, reshuffled each epoch.
-- The batch tensors are allocated once and refilled in C (gather) each step.
local Batcher = {}
Batcher.__index = Batcher

function M.batcher(data, batch, rng)
  local n = data.x:size(1)
  local b = math.min(batch, n)
  local xs, ys = data.x:shape(), data.y:shape()
  xs[1], ys[1] = b, b
  local self = setmetatable({
    data = data, n = n, batch = b, rng = rng, pos = n + 1, order = nil,
    idx = {}, x = hnet.tensor(xs), y = hnet.tensor(ys),
  }, Batcher)
  for i = 1, b do self.idx[i] = i end
  return self
end

--- The next batch: x, y (the same tensors every call, refilled).
function Batcher:next()
  if self.pos + self.batch - 1 > self.n then
    self.order = self.rng:permutation(self.n)
    self.pos = 1
  end
  local idx, order, p = self.idx, self.order, self.pos
  for i = 1, self.batch do idx[i] = order[p + i - 1] end
  self.pos = p + self.batch
  hnet.transform.gather(self.data.x, idx, { out = self.x })
  hnet.transform.gather(self.data.y, idx, { out = self.y })
  return self.x, self.y
end

--- Call fn(x_view, y_view, first_row) over the rows of data in slices of at
-- most `size` rows (views: no copies).
function M.each_slice(data, size, fn)
  local n = data.x:size(1)
  local i = 1
  while i <= n do
    local j = math.min(n, i + size - 1)
    fn(data.x:rows(i, j), data.y:rows(i, j), i)
    i = j + 1
  end
end

return M
