--- hnet.shift.drift — drifting streams (a batch at a time, the transform
-- applied in C) and random subsets of datasets for quick runs. Reached as
-- hnet.shift.drift_stream and hnet.shift.subset:
--   local s = hnet.shift.drift_stream{ source = ds, kind = "rotation",
--     segments = { {value = 0, batches = 200}, {value = 60, batches = 200},
--                  {value = 0, batches = 200} }, ramp = 40, batch = 128, seed = 1 }
--   for t = 1, s:len() do local x, y, v = s:batch(t) ... end
--   s.changes, s.distributions, s:distribution(t), s:task(d)
--   hnet.shift.subset(ds, n_train, n_test, seed)
local hnet = require "hnet"
local spec = require "hnet.spec"
local common = require "hnet.learners.common"

local M = {}

-- drift_stream's options (hnet.spec): they check the call and `./hnet help` prints them.
M.DRIFT_OPTIONS = {
  { name = "source", type = "table", required = true, help = "a dataset or task with train and test splits" },
  { name = "kind", type = "string", default = "rotation", choices = { "rotation", "brightness", "contrast" },
    help = "the drifting transform: degrees, added brightness or contrast factor" },
  { name = "segments", type = "table", required = true,
    help = "stationary segments { {value =, batches =}, ... } (equal values: the same distribution)" },
  { name = "ramp", type = "integer", default = 0, min = 0, help = "batches of linear ramp between segments" },
  { name = "batch", type = "integer", default = 128, min = 1, help = "samples per batch (at most the training split's)" },
  { name = "seed", type = "integer", default = 1, help = "the seed of the sampling" },
}

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
  local o = spec.check(M.DRIFT_OPTIONS, opts, f)
  local src = o.source
  if type(src.train) ~= "table" or type(src.test) ~= "table" then
    error(("bad argument #1 to '%s' (field 'source': a dataset or task with train and test splits expected)")
      :format(f), 2)
  end
  local kind, ramp, batch, seed = o.kind, o.ramp, o.batch, o.seed
  if opts.batch ~= nil and batch > src.train.x:size(1) then
    error(("bad argument #1 to '%s' (field 'batch': integer in [1, %d] expected (the training split's size), got %d)")
      :format(f, src.train.x:size(1), batch), 2)
  end
  if #o.segments < 1 then
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

--- `./hnet help` entries (lua/hnet/help.lua reads them through hnet.shift).
M.HELP = {
  { name = "hnet.shift.drift_stream", sig = "hnet.shift.drift_stream(opts) -> stream (s:batch(t) -> x, y, value)",
    spec = M.DRIFT_OPTIONS, about = "batches whose input distribution drifts between stationary segments" },
}

return M
