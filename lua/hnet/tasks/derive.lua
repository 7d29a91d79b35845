--- hnet.tasks.derive — tasks derived from a dataset or from another task
-- (they compose): permuted, class_subset, rotated, noisy,
-- brightness_contrast, k_shot, subsample and map (hnet.tasks gathers them;
-- its header shows each call). Each constructor returns at once; its
-- splits are computed by the C transforms on first access. M.OPTIONS holds
-- each one's options as an hnet.spec: the same table checks the call and
-- prints `./hnet help hnet.tasks.NAME`.
local core = require "hnet.core"
local util = require "hnet.util"
local spec = require "hnet.spec"
local task = require "hnet.tasks.task"

local M = {}

local T = core.transform
local argerr = util.argerr
local is_tensor, default_seed, check_split, make_task = task.is_tensor, task.default_seed, task.check_split, task.make_task

-- ---- options --------------------------------------------------------------------

local function name_entry(default)
  return { name = "name", type = "string", help = "the task's name (default " .. default .. ")" }
end
local SEED = { name = "seed", type = "integer", help = "seed of the draws (default: hnet.seed())" }
local LO = { name = "lo", type = "number", help = "clamp to [lo, hi] (default 0)" }
local HI = { name = "hi", type = "number", help = "clamp to [lo, hi] (default 1)" }
local CLAMP = { name = "clamp", type = "boolean", help = "false: no clamping (default true)" }

M.OPTIONS = {
  permuted = {
    { name = "seed", type = "integer", help = "seed of the permutation (default: hnet.seed())" },
    { name = "stream", type = "integer", default = 0, min = 0,
      help = "the permutation is drawn from hnet.rng(seed, stream)" },
    { name = "pad", type = "any",
      help = "zero-pad the images to pad x pad (an integer >= 1, or {h, w}) before permuting; the published setup pads 28x28 to 32" },
    name_entry("<source>/permuted-s<seed>-<stream>"),
    { name = "perm", type = "any",
      help = "the permutation itself: 1..d in some order, a list or a 1-D tensor (default: drawn)" },
  },
  class_subset = {
    { name = "classes", type = "table", required = true,
      help = "the source's 0-based labels to keep, each once; relabelled 0..k-1 in this order" },
    name_entry("<source>/classes-<c1>-<c2>..."),
  },
  rotated = {
    { name = "degrees", type = "number", required = true, help = "counter-clockwise rotation (bilinear, zero fill)" },
    name_entry("<source>/rotated-<degrees>"),
  },
  noisy = {
    { name = "std", type = "number", required = true, min = 0, help = "standard deviation of the Gaussian pixel noise" },
    SEED, LO, HI, CLAMP,
    name_entry("<source>/noise-<std>"),
  },
  brightness_contrast = {
    { name = "brightness", type = "number", default = 0, help = "added to every pixel" },
    { name = "contrast", type = "number", default = 1, help = "factor on each pixel's distance from its image's mean" },
    LO, HI, CLAMP,
    name_entry("<source>/brightness<b>-contrast<c>"),
  },
  k_shot = {
    { name = "k", type = "integer", required = true, min = 1, help = "training samples kept per class" },
    SEED,
    name_entry("<source>/<k>-shot"),
  },
  subsample = {
    { name = "fraction", type = "number", min = 0, max = 1,
      help = "keep floor(fraction * n_train) training samples (give fraction or n)" },
    { name = "n", type = "integer", min = 1, help = "keep n training samples (give fraction or n)" },
    SEED,
    name_entry("<source>/sub-<n or fraction>"),
  },
  map = {
    name_entry("<source>/map"),
    { name = "input_shape", type = "int_list", help = "the shape of fn's inputs (default: the source's)" },
    { name = "n_classes", type = "integer", min = 1, help = "the classes of fn's labels (default: the source's)" },
    { name = "n_outputs", type = "integer", min = 1, help = "the outputs of fn's regression targets (default: the source's)" },
  },
}

-- ---- argument checking -----------------------------------------------------------

-- Argument #1 of a constructor over a dataset or task; level as util.argerr's.
local function check_source(src, fname, level)
  if type(src) ~= "table" or (rawget(src, "train") == nil and rawget(src, "_build") == nil) then
    argerr(fname, 1, "a dataset or task expected, got " .. type(src), level)
  end
end

-- Check a constructor's source (argument #1) and its options (argument #2)
-- against spec `s`; returns the checked options (hnet.spec.check: defaults
-- filled). Errors name the constructor's caller.
local function source_options(src, opts, s, fname)
  check_source(src, fname, 4)
  return spec.check(s, opts, fname, 2, 3)
end

-- A task whose inputs are fn(x, split) of the source's and whose targets are
-- the source's.
local function map_inputs(src, fields, fn)
  return make_task(fields, function(split)
    local s = src[split]
    return { x = fn(s.x, split), y = s.y }
  end)
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

-- ---- constructors --------------------------------------------------------------

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
  local o = source_options(src, opts, M.OPTIONS.permuted, f)
  local seed = o.seed or default_seed()
  local stream = o.stream
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
  local o = source_options(src, opts, M.OPTIONS.class_subset, f)
  local classes = o.classes
  if #classes < 1 then argerr(f, 2, "field 'classes': a list of class labels expected", 2) end
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
  local o = source_options(src, opts, M.OPTIONS.rotated, f)
  local deg = o.degrees
  local fields = source_fields(src, o.name or ("%s/rotated-%g"):format(src.name or "data", deg))
  fields.degrees, fields.transform = deg, "rotated"
  return map_inputs(src, fields, function(x) return T.rotate(x, deg) end)
end

--- Additive Gaussian pixel noise N(0, std^2), clamped to [lo, hi] (0..1 by
-- default; clamp = false for none). Train and test use streams 1 and 2 of
-- hnet.rng(seed), so a rebuilt split is identical.
function M.noisy(src, opts)
  local f = "hnet.tasks.noisy"
  local o = source_options(src, opts, M.OPTIONS.noisy, f)
  local std = o.std
  local seed = o.seed or default_seed()
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
  local o = source_options(src, opts, M.OPTIONS.brightness_contrast, f)
  local b, c = o.brightness, o.contrast
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
  local o = source_options(src, opts, M.OPTIONS.k_shot, f)
  local k = o.k
  local seed = o.seed or default_seed()
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
  local o = source_options(src, opts, M.OPTIONS.subsample, f)
  if (o.fraction == nil) == (o.n == nil) then argerr(f, 2, "give exactly one of 'fraction' and 'n'", 2) end
  local frac, n = o.fraction, o.n
  local seed = o.seed or default_seed()
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
  local o = spec.check(M.OPTIONS.map, opts, f, 3)
  local fields = source_fields(src, o.name or ((src.name or "data") .. "/map"))
  if o.input_shape then fields.input_shape = o.input_shape end
  if o.n_classes ~= nil then fields.n_classes = o.n_classes end
  if o.n_outputs ~= nil then fields.n_outputs = o.n_outputs end
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

return M
