--- hnet.tasks — tasks built from datasets with transforms, or from Lua.
--
-- A task is a Lua table
--   { name =, kind = "classification" | "regression",
--     n_classes = (classification) | n_outputs = (regression),
--     input_shape = {c, h, w} or {d},
--     train = { x = Tensor [n, ...], y = Tensor [n] (0-based labels) or [n, n_outputs] },
--     test = { x =, y = },
--     ... provenance: source, perm, classes, degrees, seed ... }
--
-- Constructors over a dataset (or over another task: they compose):
--   tasks.permuted(ds, {seed =, stream =, pad = 32})  -- same permutation for train and test
--   tasks.class_subset(ds, {classes = {2, 3}})         -- relabelled 0..k-1 in that order
--   tasks.rotated(ds, {degrees = 45})
--   tasks.noisy(ds, {std = 0.2, seed =, lo = 0, hi = 1})
--   tasks.brightness_contrast(ds, {brightness = 0.1, contrast = 0.8})
--   tasks.k_shot(task, {k = 5, seed =})                -- exactly k per class from train
--   tasks.subsample(task, {fraction = 0.1 | n = 1000, seed =})
--   tasks.map(task, function(x, y, split) return x2, y2 end)
--   tasks.from_tensors{name =, train = {x =, y =}, test = {...}, n_classes = | n_outputs =}
--   tasks.from_generator{name =, n_train =, n_test =, sample = function(rng) return x, y end, ...}
--
-- Laziness: the transform constructors return at once; a split (train or
-- test) is computed by the C transforms on first access and then kept by the
-- task. Inside a stream (hnet.stream) a task's splits are held by the
-- stream's cache instead, which keeps only the last few built and lets the
-- collector drop the rest (they are rebuilt, identically, when asked for
-- again): a stream of 100 permuted tasks never holds 100 copies of the data.
-- Everything per sample runs in C; from_generator is the exception (one Lua
-- call per sample) and is meant for small synthetic data only.
--
-- Labels are 0-based class indices as stored in the data; the label tensors of
-- transformed tasks may be shared with their source (treat them as read-only).
local core = require "hnet.core"
local util = require "hnet.util"

local M = {}

local T = core.transform
local argerr = util.argerr

-- ---- argument checking ---------------------------------------------------------

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and mt ~= nil and mt.__name == "hnet.Tensor"
end

-- Argument #1 of a constructor over a dataset or task; level as util.argerr's.
local function check_source(src, fname, level)
  if type(src) ~= "table" or (rawget(src, "train") == nil and rawget(src, "_build") == nil) then
    argerr(fname, 1, "a dataset or task expected, got " .. type(src), level)
  end
end

-- Check a constructor's source (argument #1) and return its checked options
-- (argument #2).
local function source_options(src, opts, allowed, fname)
  check_source(src, fname, 4)
  return util.options(opts, allowed, fname, 2)
end

local function default_seed()
  return core.seed and core.seed() or 1
end

-- ---- split caches (used by streams) ------------------------------------------

--- A cache of built splits: the last `keep` stay (strongly held), older ones
-- stay only while something else references them (a weak table).
function M.split_cache(keep)
  local c = { keep = keep or 2, weak = setmetatable({}, { __mode = "v" }), recent = {} }
  function c:get(key, build)
    local v = self.weak[key]
    if v == nil then
      v = build()
      self.weak[key] = v
    end
    -- move to the front of the recent list
    for i = #self.recent, 1, -1 do
      if self.recent[i].key == key then table.remove(self.recent, i) end
    end
    table.insert(self.recent, 1, { key = key, value = v })
    while #self.recent > self.keep do table.remove(self.recent) end
    return v
  end
  function c:clear()
    self.recent = {}
    for k in pairs(self.weak) do self.weak[k] = nil end
  end
  return c
end

-- ---- the task type -------------------------------------------------------------

local Task = {}
local next_id = 0

-- Check split `split` ("train" or "test") of task t: {x = Tensor, y = Tensor}
-- with at least one sample and as many targets as inputs; with `targets`,
-- also the targets against the task's kind (labels in 0..n_classes-1, or
-- [n, n_outputs] regression targets). `fail(msg)` raises.
local function check_split(t, split, s, fail, targets)
  if type(s) ~= "table" or not is_tensor(s.x) or not is_tensor(s.y) then
    fail(split .. " = {x = Tensor, y = Tensor} expected")
  end
  local n = s.x:size(1)
  if n < 1 then
    fail(("the %s split has no samples (x is %s): a task needs at least one training and one test sample; "
      .. "check the data set and what selected the samples (classes, n, fraction)"):format(split, tostring(s.x)))
  end
  if s.y:size(1) ~= n then fail(("%s: %d inputs but %d targets"):format(split, n, s.y:size(1))) end
  if not targets then return end
  local kind = t.kind or "classification"
  if kind == "classification" then
    if s.y:ndim() ~= 1 then fail(split .. ": labels must be a 1-D tensor of class indices, got " .. tostring(s.y)) end
    local ok, err = pcall(T.class_counts, s.y, t.n_classes)
    if not ok then
      fail(("%s: %s (the task has n_classes = %s)"):format(split, tostring(err):gsub("^class_counts: ", ""),
        tostring(t.n_classes)))
    end
  elseif not (s.y:ndim() == 2 and s.y:size(2) == t.n_outputs) then
    fail(("%s: targets are %s; expected [n, %d]"):format(split, tostring(s.y), t.n_outputs))
  end
end

local function build_split(t, split)
  local s = rawget(t, "_build")(split)
  check_split(t, split, s, function(msg) error(("task '%s': %s"):format(t.name, msg), 0) end)
  return s
end

local TaskMT = {
  __index = function(t, k)
    if k == "train" or k == "test" then
      if rawget(t, "_build") == nil then return nil end
      local cache = rawget(t, "_cache")
      if cache then
        return cache:get(rawget(t, "_id") .. ":" .. k, function() return build_split(t, k) end)
      end
      local s = build_split(t, k)
      rawset(t, k, s)
      return s
    end
    return Task[k]
  end,
  __tostring = function(t) return t:describe() end,
}

--- A one-line description.
function Task:describe()
  local shape = self.input_shape and table.concat(self.input_shape, "x") or "?"
  if self.kind == "regression" then
    return ("task '%s' (regression, %d outputs, input %s)"):format(self.name, self.n_outputs or 1, shape)
  end
  return ("task '%s' (classification, %d classes, input %s)"):format(self.name, self.n_classes or 0, shape)
end

--- Drop built splits held by the task itself (they are rebuilt on access).
function Task:release()
  if rawget(self, "_build") then
    rawset(self, "train", nil)
    rawset(self, "test", nil)
  end
end

local function make_task(fields, build)
  next_id = next_id + 1
  fields._id = "t" .. next_id
  fields._build = build
  return setmetatable(fields, TaskMT)
end

-- A task whose inputs are fn(x, split) of the source's and whose targets are
-- the source's.
local function map_inputs(src, fields, fn)
  return make_task(fields, function(split)
    local s = src[split]
    return { x = fn(s.x, split), y = s.y }
  end)
end

--- Is v a task made here (or a dataset-like table with train/test)?
function M.is_task(v)
  return getmetatable(v) == TaskMT
end

local function source_fields(src, name)
  local shape = src.input_shape or src.shape
  local copy = shape and table.move(shape, 1, #shape, 1, {}) or nil
  return {
    name = name,
    kind = src.kind or "classification",
    n_classes = src.n_classes,
    n_outputs = src.n_outputs,
    input_shape = copy,
    class_names = src.class_names,
    classes = src.classes,
    source = src.name,
  }
end

-- ---- validation ------------------------------------------------------------------

--- Check a task's structure and data; raises with what is wrong.
function M.validate(t)
  local name = type(t) == "table" and t.name or "?"
  local function bad(msg) error(("task '%s': %s"):format(tostring(name), msg), 0) end
  if type(t) ~= "table" then bad("a task table expected, got " .. type(t)) end
  if type(t.name) ~= "string" then bad("field 'name' (a string) is missing") end
  local kind = t.kind or "classification"
  if kind ~= "classification" and kind ~= "regression" then bad("kind must be 'classification' or 'regression'") end
  if kind == "classification" and (math.type(t.n_classes) ~= "integer" or t.n_classes < 1) then
    bad("n_classes must be a positive integer")
  end
  if kind == "regression" and (math.type(t.n_outputs) ~= "integer" or t.n_outputs < 1) then
    bad("n_outputs must be a positive integer")
  end
  for _, split in ipairs { "train", "test" } do check_split(t, split, t[split], bad, true) end
  return t
end

-- ---- constructors over datasets/tasks -------------------------------------------

-- Option 'perm' of tasks.permuted: a permutation of 1..d, as a list or a
-- 1-D tensor. Returns it as a list.
local function check_perm(perm, d, f)
  if is_tensor(perm) then
    if perm:ndim() ~= 1 then
      argerr(f, 2, ("field 'perm': a 1-D tensor or a list expected, got the tensor %s"):format(tostring(perm)), 3)
    end
    perm = perm:flat_table()
  end
  if type(perm) ~= "table" then
    argerr(f, 2, ("field 'perm': a permutation of 1..%d (a list or a tensor) expected, got %s"):format(d, type(perm)), 3)
  end
  if #perm ~= d then argerr(f, 2, ("field 'perm' has %d entries; the input has %d values"):format(#perm, d), 3) end
  local seen, out = {}, {}
  for i = 1, d do
    local v = perm[i]
    local j = math.tointeger(v)
    if not j or j < 1 or j > d then
      argerr(f, 2, ("field 'perm': entry %d is %s, not an index in 1..%d"):format(i, tostring(v), d), 3)
    end
    if seen[j] then
      argerr(f, 2, ("field 'perm': %d appears twice (entries %d and %d): not a permutation"):format(j, seen[j], i), 3)
    end
    seen[j], out[i] = i, j
  end
  return out
end

local function pad_size(v, fname)
  if v == nil or v == false then return nil end
  if math.type(v) == "integer" and v >= 1 then return v, v end
  if type(v) == "table" and math.type(v[1]) == "integer" and math.type(v[2]) == "integer" then return v[1], v[2] end
  argerr(fname, 2, "field 'pad': a size (32) or {h, w} expected, got " .. tostring(v), 3)
end

--- Pixel-permuted task (PermutedMNIST). Optionally zero-pads the images to
-- pad x pad first (the published setup pads 28x28 to 32x32), then permutes
-- the flattened sample with one permutation drawn from hnet.rng(seed, stream)
-- — the same for train and test. task.perm holds it (1-based).
function M.permuted(src, opts)
  local f = "hnet.tasks.permuted"
  local o = source_options(src, opts, { "seed", "stream", "pad", "name", "perm" }, f)
  local seed = util.int(o, "seed", default_seed(), nil, nil, f, 2)
  local stream = util.int(o, "stream", 0, 0, nil, f, 2)
  local ph, pw = pad_size(o.pad, f)
  local shape = src.input_shape or src.shape
  if not shape then argerr(f, 1, "the source has no input shape", 2) end
  local fields = source_fields(src, o.name or ("%s/permuted-s%d-%d"):format(src.name or "data", seed, stream))
  if ph then
    if #shape ~= 3 then argerr(f, 2, "field 'pad' needs images {c, h, w}", 2) end
    fields.input_shape = { shape[1], ph, pw }
  end
  local d = 1
  for _, s in ipairs(fields.input_shape) do d = d * s end
  local perm = o.perm and check_perm(o.perm, d, f) or core.rng(seed, stream):permutation(d)
  fields.perm, fields.seed, fields.stream, fields.pad = perm, seed, stream, ph and { ph, pw } or nil
  fields.transform = "permuted"
  return map_inputs(src, fields, function(x)
    if ph then x = T.pad(x, ph, pw) end
    return T.permute(x, perm)
  end)
end

--- The samples of some classes, relabelled 0..k-1 in the order given
-- (classes are the source's 0-based labels). task.classes holds them in the
-- source's labels (through chains of subsets: the original labels).
function M.class_subset(src, opts)
  local f = "hnet.tasks.class_subset"
  local o = source_options(src, opts, { "classes", "name" }, f)
  local classes = o.classes
  if type(classes) ~= "table" or #classes < 1 then argerr(f, 2, "field 'classes': a list of class labels expected", 2) end
  local seen = {}
  for i, c in ipairs(classes) do
    if math.type(c) ~= "integer" or c < 0 or (src.n_classes and c >= src.n_classes) then
      argerr(f, 2, ("field 'classes': entry %d (%s) is not a class in 0..%d"):format(i, tostring(c), (src.n_classes or 0) - 1), 2)
    end
    if seen[c] then argerr(f, 2, ("field 'classes': class %d is listed twice"):format(c), 2) end
    seen[c] = true
  end
  local cls = table.move(classes, 1, #classes, 1, {})
  local fields = source_fields(src, o.name or ("%s/classes-%s"):format(src.name or "data", table.concat(cls, "-")))
  fields.n_classes = #cls
  -- Original labels of the new classes (follows an earlier subset's mapping).
  local orig = {}
  for i, c in ipairs(cls) do orig[i] = src.classes and src.classes[c + 1] or c end
  fields.classes = orig
  if src.class_names then
    fields.class_names = {}
    for i, c in ipairs(cls) do fields.class_names[i] = src.class_names[c + 1] end
  end
  fields.transform = "class_subset"
  return make_task(fields, function(split)
    local s = src[split]
    local x, y = T.class_subset(s.x, s.y, cls)
    return { x = x, y = y }
  end)
end

--- Every image rotated by `degrees` (counter-clockwise, bilinear, zero fill).
function M.rotated(src, opts)
  local f = "hnet.tasks.rotated"
  local o = source_options(src, opts, { "degrees", "name" }, f)
  local deg = util.finite(o, "degrees", nil, nil, nil, f, 2)
  local fields = source_fields(src, o.name or ("%s/rotated-%g"):format(src.name or "data", deg))
  fields.degrees, fields.transform = deg, "rotated"
  return map_inputs(src, fields, function(x) return T.rotate(x, deg) end)
end

--- Additive Gaussian pixel noise N(0, std^2), clamped to [lo, hi] (0..1 by
-- default; clamp = false for none). Train and test use streams 1 and 2 of
-- hnet.rng(seed), so a rebuilt split is identical.
function M.noisy(src, opts)
  local f = "hnet.tasks.noisy"
  local o = source_options(src, opts, { "std", "seed", "lo", "hi", "clamp", "name" }, f)
  local std = util.finite(o, "std", nil, 0, nil, f, 2)
  local seed = util.int(o, "seed", default_seed(), nil, nil, f, 2)
  local copt = { lo = o.lo, hi = o.hi, clamp = o.clamp }
  local fields = source_fields(src, o.name or ("%s/noise-%g"):format(src.name or "data", std))
  fields.std, fields.seed, fields.transform = std, seed, "noisy"
  return map_inputs(src, fields, function(x, split)
    return T.noise(x, std, core.rng(seed, split == "train" and 1 or 2), copt)
  end)
end

--- Brightness and contrast changed per sample: contrast * (x - mean) + mean + brightness,
-- clamped to [lo, hi] (0..1 by default; clamp = false for none).
function M.brightness_contrast(src, opts)
  local f = "hnet.tasks.brightness_contrast"
  local o = source_options(src, opts, { "brightness", "contrast", "lo", "hi", "clamp", "name" }, f)
  local b = util.finite(o, "brightness", 0, nil, nil, f, 2)
  local c = util.finite(o, "contrast", 1, nil, nil, f, 2)
  local sopt = { brightness = b, contrast = c, lo = o.lo, hi = o.hi, clamp = o.clamp }
  local fields = source_fields(src, o.name or ("%s/brightness%g-contrast%g"):format(src.name or "data", b, c))
  fields.brightness, fields.contrast, fields.transform = b, c, "brightness_contrast"
  return map_inputs(src, fields, function(x) return T.brightness_contrast(x, sopt) end)
end

--- Exactly k training samples per class (drawn with hnet.rng(seed, 3)); the
-- test split is the source's. Built at once, so that a class with fewer than
-- k samples is an error here.
function M.k_shot(src, opts)
  local f = "hnet.tasks.k_shot"
  local o = source_options(src, opts, { "k", "seed", "name" }, f)
  local k = util.int(o, "k", nil, 1, nil, f, 2)
  local seed = util.int(o, "seed", default_seed(), nil, nil, f, 2)
  if (src.kind or "classification") ~= "classification" then argerr(f, 1, "k-shot needs a classification task", 2) end
  local tr = src.train
  local counts = T.class_counts(tr.y, src.n_classes)
  for c, n in ipairs(counts) do
    if n < k then
      error(("hnet.tasks.k_shot: class %d of '%s' has only %d training samples, fewer than k = %d")
        :format(c - 1, tostring(src.name), n, k), 2)
    end
  end
  local x, y = T.k_shot(tr.x, tr.y, k, src.n_classes, core.rng(seed, 3))
  local fields = source_fields(src, o.name or ("%s/%d-shot"):format(src.name or "data", k))
  fields.k, fields.seed, fields.transform = k, seed, "k_shot"
  local train = { x = x, y = y }
  return make_task(fields, function(split)
    if split == "train" then return train end
    return src.test
  end)
end

--- A random subset of the training samples (dataset order kept): n of them,
-- or floor(fraction * n_train). Test split unchanged.
function M.subsample(src, opts)
  local f = "hnet.tasks.subsample"
  local o = source_options(src, opts, { "fraction", "n", "seed", "name" }, f)
  if (o.fraction == nil) == (o.n == nil) then argerr(f, 2, "give exactly one of 'fraction' and 'n'", 2) end
  local frac = o.fraction and util.finite(o, "fraction", nil, 0, 1, f, 2)
  local n = o.n and util.int(o, "n", nil, 1, nil, f, 2)
  local seed = util.int(o, "seed", default_seed(), nil, nil, f, 2)
  local fields = source_fields(src, o.name or ("%s/sub-%s"):format(src.name or "data", n or frac))
  fields.seed, fields.transform = seed, "subsample"
  return make_task(fields, function(split)
    local s = src[split]
    if split == "test" then return s end
    local total = s.x:size(1)
    local m = n or math.floor(frac * total)
    if m > total then
      error(("hnet.tasks.subsample: n = %d but '%s' has %d training samples"):format(m, tostring(src.name), total), 0)
    end
    local x, y = T.subsample(s.x, s.y, m, core.rng(seed, 4))
    return { x = x, y = y }
  end)
end

--- A transform written in Lua over whole tensors: fn(x, y, split) returns
-- x2 (and optionally y2; y is kept otherwise). Use tensor operations inside
-- fn — it is called once per split, not per sample.
function M.map(src, fn, opts)
  local f = "hnet.tasks.map"
  check_source(src, f, 3)
  if type(fn) ~= "function" then argerr(f, 2, "function expected, got " .. type(fn), 2) end
  local o = util.options(opts, { "name", "input_shape", "n_classes", "n_outputs" }, f, 3)
  local fields = source_fields(src, o.name or ((src.name or "data") .. "/map"))
  if o.input_shape then fields.input_shape = util.int_list(o, "input_shape", nil, f, 3) end
  if o.n_classes ~= nil then fields.n_classes = util.int(o, "n_classes", nil, 1, nil, f, 3) end
  if o.n_outputs ~= nil then fields.n_outputs = util.int(o, "n_outputs", nil, 1, nil, f, 3) end
  if o.name ~= nil and type(o.name) ~= "string" then argerr(f, 3, "field 'name': string expected, got " .. type(o.name), 2) end
  fields.transform = "map"
  local task
  task = make_task(fields, function(split)
    local s = src[split]
    local x, y = fn(s.x, s.y, split)
    y = y or s.y
    if not is_tensor(x) or not is_tensor(y) then
      error(("hnet.tasks.map: the function returned %s, %s for the %s split; tensors expected")
        :format(type(x), type(y), split), 0)
    end
    if x:size(1) ~= y:size(1) then
      error(("hnet.tasks.map: the function returned %d inputs and %d targets for the %s split")
        :format(x:size(1), y:size(1), split), 0)
    end
    -- The same checks as from_tensors: labels the task's classes hold.
    check_split(task, split, { x = x, y = y }, function(msg)
      error(("hnet.tasks.map: the function returned data that does not fit task '%s': %s%s"):format(task.name, msg,
        task.kind ~= "regression" and " (when the function changes the classes, give tasks.map the option n_classes)" or ""), 0)
    end, true)
    return { x = x, y = y }
  end)
  return task
end

-- ---- tasks from data made elsewhere ----------------------------------------------

--- A task from tensors already in hand (checked).
--   tasks.from_tensors{ name =, train = {x =, y =}, test = {x =, y =},
--                       kind = "classification" | "regression", n_classes = | n_outputs =,
--                       input_shape = (default: x's per-sample shape) }
function M.from_tensors(spec)
  local f = "hnet.tasks.from_tensors"
  if type(spec) ~= "table" then argerr(f, 1, "table expected, got " .. type(spec), 2) end
  util.options(spec, { "name", "train", "test", "kind", "n_classes", "n_outputs", "input_shape",
                       "class_names", "classes", "source", "seed" }, f)
  local t = {}
  for k, v in pairs(spec) do t[k] = v end
  t.name = t.name or "task"
  t.kind = t.kind or "classification"
  if t.kind == "regression" and t.n_outputs == nil and spec.train and is_tensor(spec.train.y) then
    t.n_outputs = spec.train.y:ndim() == 2 and spec.train.y:size(2) or 1
  end
  if not t.input_shape and spec.train and is_tensor(spec.train.x) then
    local sh = spec.train.x:shape()
    table.remove(sh, 1)
    t.input_shape = sh
  end
  next_id = next_id + 1
  t._id = "t" .. next_id
  setmetatable(t, TaskMT)
  M.validate(t)
  return t
end

--- A task whose samples come from a Lua function, one call per sample —
-- fine for small synthetic sets (thousands of samples), too slow for image
-- datasets (use the tensor transforms above for those).
--   tasks.from_generator{ name =, n_train =, n_test =, seed =,
--     sample = function(rng) return x, y end,   -- x: number or list; y: label or target(s)
--     kind = "classification" | "regression", n_classes = | n_outputs =, input_shape = }
-- Train samples use hnet.rng(seed, 1), test samples hnet.rng(seed, 2).
function M.from_generator(spec)
  local f = "hnet.tasks.from_generator"
  local o = util.options(spec, { "name", "n_train", "n_test", "seed", "sample", "kind", "n_classes",
                                 "n_outputs", "input_shape" }, f)
  if type(o.sample) ~= "function" then argerr(f, 1, "field 'sample': function(rng) expected", 2) end
  local n_train = util.int(o, "n_train", nil, 1, nil, f)
  local n_test = util.int(o, "n_test", nil, 1, nil, f)
  local seed = util.int(o, "seed", default_seed(), nil, nil, f)
  local kind = o.kind or "classification"
  local function gen(n, stream)
    local rng = core.rng(seed, stream)
    local xs, ys = {}, {}
    local d, m
    for i = 1, n do
      local x, y = o.sample(rng)
      if type(x) == "number" then x = { x } end
      if type(y) == "number" then y = { y } end
      if type(x) ~= "table" or type(y) ~= "table" then
        error(("hnet.tasks.from_generator: sample %d returned %s, %s; numbers or lists expected")
          :format(i, type(x), type(y)), 0)
      end
      d = d or #x
      m = m or #y
      if #x ~= d or #y ~= m then
        error(("hnet.tasks.from_generator: sample %d has %d inputs and %d targets; sample 1 had %d and %d")
          :format(i, #x, #y, d, m), 0)
      end
      table.move(x, 1, d, (i - 1) * d + 1, xs)
      table.move(y, 1, m, (i - 1) * m + 1, ys)
    end
    local X = core.tensor_from(xs, { n, d })
    local Y
    if kind == "classification" then
      if m ~= 1 then error("hnet.tasks.from_generator: a classification sample must return one label", 0) end
      Y = core.tensor_from(ys, { n })
    else
      Y = core.tensor_from(ys, { n, m })
    end
    return X, Y, d, m
  end
  local xtr, ytr, d, m = gen(n_train, 1)
  local xte, yte = gen(n_test, 2)
  local shape = o.input_shape or { d }
  if o.input_shape then
    local full = { n_train }
    for _, s in ipairs(shape) do full[#full + 1] = s end
    xtr = xtr:view(full):clone()
    full[1] = n_test
    xte = xte:view(full):clone()
  end
  return M.from_tensors {
    name = o.name or "generated",
    kind = kind,
    n_classes = o.n_classes,
    n_outputs = kind == "regression" and (o.n_outputs or m) or nil,
    input_shape = shape,
    train = { x = xtr, y = ytr },
    test = { x = xte, y = yte },
    seed = seed,
  }
end

return M
