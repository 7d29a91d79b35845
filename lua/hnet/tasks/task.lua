--- hnet.tasks.task — the task type of hnet.tasks: a table whose train and
-- test splits are built on first access (and kept by the task, or by a
-- stream's split cache), its validation, and the split caches streams use.
-- hnet.tasks gathers the public functions (split_cache, is_task, validate);
-- the others are the building blocks of the constructors in
-- lua/hnet/tasks/derive.lua and lua/hnet/tasks/made.lua.
local core = require "hnet.core"

local M = {}

local T = core.transform

-- ---- helpers of the constructors ------------------------------------------------

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and mt ~= nil and mt.__name == "hnet.Tensor"
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
  if s.lengths ~= nil then M.check_lengths(s, split, fail) end
  local kind = t.kind or "classification"
  if kind == "bits" then
    local steps = s.x:ndim() >= 2 and s.x:size(2) or -1
    if not (s.y:ndim() == 3 and s.y:size(2) == steps and s.y:size(3) == t.n_outputs) then
      fail(("%s: bit targets are %s; expected [n, %d steps (as x), %d bits] (-1 where not scored)")
        :format(split, tostring(s.y), steps, t.n_outputs))
    end
  elseif kind == "classification" then
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

--- A split's per-sample sequence lengths (split.lengths, optional): a 1-D
-- tensor of n integers in 1..T, T = x's second dimension (the steps).
-- Checked once per split (a Lua pass over n numbers, not per step).
function M.check_lengths(s, split, fail)
  local n, L = s.x:size(1), s.lengths
  if not is_tensor(L) or L:ndim() ~= 1 or L:size(1) ~= n then
    fail(("%s: lengths must be a 1-D tensor of %d sequence lengths (one per sample), got %s")
      :format(split, n, is_tensor(L) and tostring(L) or type(L)))
  end
  local steps = s.x:ndim() >= 2 and s.x:size(2) or 0
  for i, v in ipairs(L:flat_table()) do
    if v ~= math.floor(v) or v < 1 or v > steps then
      fail(("%s: lengths[%d] is %s; a length is an integer in 1..%d (x's steps)"):format(split, i, tostring(v), steps))
    end
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
  if self.kind == "bits" then
    return ("task '%s' (bits, %d per step, input %s)"):format(self.name, self.n_outputs or 0, shape)
  end
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

--- Is v a task made here (or a dataset-like table with train/test)?
function M.is_task(v)
  return getmetatable(v) == TaskMT
end

-- ---- validation ------------------------------------------------------------------

--- Check a task's structure and data; raises with what is wrong.
function M.validate(t)
  local name = type(t) == "table" and t.name or "?"
  local function bad(msg) error(("task '%s': %s"):format(tostring(name), msg), 0) end
  if type(t) ~= "table" then bad("a task table expected, got " .. type(t)) end
  if type(t.name) ~= "string" then bad("field 'name' (a string) is missing") end
  local kind = t.kind or "classification"
  if kind ~= "classification" and kind ~= "regression" and kind ~= "bits" then
    bad("kind must be 'classification', 'regression' or 'bits'")
  end
  if kind == "classification" and (math.type(t.n_classes) ~= "integer" or t.n_classes < 1) then
    bad("n_classes must be a positive integer")
  end
  if kind ~= "classification" and (math.type(t.n_outputs) ~= "integer" or t.n_outputs < 1) then
    bad("n_outputs must be a positive integer")
  end
  for _, split in ipairs { "train", "test" } do check_split(t, split, t[split], bad, true) end
  return t
end

-- For the constructors (not part of hnet.tasks).
M.is_tensor, M.default_seed, M.check_split, M.make_task = is_tensor, default_seed, check_split, make_task

return M
