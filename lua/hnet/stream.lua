--- hnet.stream — sequences of tasks for continual learning.
--
--   local s = hnet.stream.permuted(fm, { tasks = 10, seed = 1, pad = 32 })
--   s:len()                 -- 10
--   s:get(3)                -- task 3 (built on first use)
--   for i, task in ipairs(s.tasks) do ... end      -- #s.tasks == s:len()
--
-- Constructors:
--   stream.permuted(ds, {tasks = 10, seed =, pad = 32})   every task permuted, the
--       first included (hypercl's MNIST code leaves the first one as it is;
--       to a fully connected net a fixed input permutation is no change);
--       task i draws its permutation from hnet.rng(seed, i)
--   stream.split(ds, {classes_per_task = 2, classes = {...}, tasks =})
--       task i holds classes classes[(i-1)*k+1 .. i*k] relabelled 0..k-1
--       (SplitMNIST: 0/1, 2/3, ...); task.classes has the original labels
--   stream.rotated(ds, {angles = {0, 45, 90}})             or {tasks =, step =}
--   stream.from(list_of_tasks)
--   stream.custom{n =, make = function(i) return task end, name =}
--   stream.copy_task{...}  stream.seq_mnist{...}  stream.languages{...}
--       sequence streams (lua/hnet/seq/: copy.lua, mnist.lua, languages.lua)
--
-- Memory: a stream builds task i on first access (make(i), cheap: for a
-- permuted task it only draws the permutation) and keeps that task table,
-- which holds no data. The data of a task (its train and test splits) are
-- computed by the C transforms when task.train / task.test is first read and
-- are held by the stream's split cache: the `keep` (default 4) most recently
-- used splits are kept, older ones only while the caller still references
-- them, after which the collector frees them and a later access rebuilds
-- them (identically: every transform is seeded). Evaluating all earlier
-- tasks thus touches only their test splits; 100 permuted tasks never hold
-- 100 training sets at once. Tasks passed to stream.from are used as given.
local core = require "hnet.core"
local tasks = require "hnet.tasks"
local util = require "hnet.util"
local spec = require "hnet.spec"

local M = {}

local Stream = {}
Stream.__index = Stream

local argerr = util.argerr

local function new_stream(name, n, make, keep, as_given)
  local s = setmetatable({ name = name, n = n, _make = make, _tasks = {}, _as_given = as_given,
                           _cache = tasks.split_cache(keep or 4) }, Stream)
  s.tasks = setmetatable({}, {
    __index = function(_, i)
      if math.type(i) == "integer" and i >= 1 and i <= n then return s:get(i) end
      return nil
    end,
    __len = function() return n end,
    __newindex = function() error("stream.tasks is read-only; build a new stream with hnet.stream.from", 2) end,
  })
  return s
end

--- Number of tasks.
function Stream:len() return self.n end

--- Task i (1-based), built on first use.
function Stream:get(i)
  if math.type(i) ~= "integer" or i < 1 or i > self.n then
    error(("stream '%s': task index %s out of range 1..%d"):format(self.name, tostring(i), self.n), 2)
  end
  local t = self._tasks[i]
  if t == nil then
    t = self._make(i)
    if type(t) ~= "table" then
      error(("stream '%s': make(%d) returned %s, not a task"):format(self.name, i, type(t)), 2)
    end
    -- Lazy tasks made here keep their splits in the stream's cache.
    if not self._as_given and tasks.is_task(t) and rawget(t, "_build")
       and rawget(t, "_cache") == nil and rawget(t, "train") == nil and rawget(t, "test") == nil then
      rawset(t, "_cache", self._cache)
    end
    if not self._as_given then t.stream_index = i end
    self._tasks[i] = t
  end
  return t
end

--- Iterate: for i, task in s:iter() do ... end
function Stream:iter()
  local i = 0
  return function()
    i = i + 1
    if i <= self.n then return i, self:get(i) end
  end
end

--- Task names, in order.
function Stream:names()
  local out = {}
  for i = 1, self.n do out[i] = self:get(i).name end
  return out
end

--- Drop every cached split (they are rebuilt on access).
function Stream:release()
  self._cache:clear()
end

Stream.__len = function(s) return s.n end
Stream.__tostring = function(s) return ("stream '%s' (%d tasks)"):format(s.name, s.n) end

-- ---- constructors ---------------------------------------------------------------

-- The constructors' options (hnet.spec): each constructor checks its
-- options through its spec (hnet.spec.check: unknown keys, types, bounds,
-- defaults) and `./hnet help hnet.stream.NAME` prints it. What a spec
-- cannot say (the classes against the dataset's, angles or tasks and
-- step) is checked in code after it.
M.OPTIONS = {
  permuted = {
    { name = "tasks", type = "integer", default = 10, min = 1, help = "number of tasks" },
    { name = "seed", type = "integer", help = "seed of the permutations (default: hnet.seed())" },
    { name = "pad", type = "any", help = "zero-pad the images to pad x pad (or {h, w}) first; the published setup pads 28x28 to 32" },
    { name = "keep", type = "integer", default = 4, min = 1, help = "task splits the stream's cache holds" },
    { name = "name", type = "string", help = "the stream's label (default permuted-<dataset>)" },
  },
  split = {
    { name = "classes_per_task", type = "integer", default = 2, min = 1, help = "classes per task" },
    { name = "classes", type = "table", help = "the class order: one flat list, task i takes entries (i-1)*k+1 .. i*k (default 0..n_classes-1)" },
    { name = "tasks", type = "integer", min = 1, help = "number of tasks (default: as many as the classes give)" },
    { name = "keep", type = "integer", default = 4, min = 1, help = "task splits the stream's cache holds" },
    { name = "name", type = "string", help = "the stream's label (default split-<dataset>)" },
  },
  rotated = {
    { name = "angles", type = "table", help = "a list of degrees, one task each (or give tasks and step)" },
    { name = "tasks", type = "integer", min = 1, help = "number of tasks (with step)" },
    { name = "step", type = "number", help = "degrees between consecutive tasks: task i is rotated by (i-1)*step" },
    { name = "keep", type = "integer", default = 4, min = 1, help = "task splits the stream's cache holds" },
    { name = "name", type = "string", help = "the stream's label (default rotated-<dataset>)" },
  },
  from = {
    { name = "name", type = "string", default = "stream", help = "the stream's label" },
    { name = "keep", type = "integer", default = 4, min = 1, help = "task splits the stream's cache holds" },
  },
  custom = {
    { name = "n", type = "integer", required = true, min = 1, help = "number of tasks" },
    { name = "make", type = "function", required = true, help = "function(i) returning task i" },
    { name = "name", type = "string", default = "custom", help = "the stream's label" },
    { name = "keep", type = "integer", default = 4, min = 1, help = "task splits the stream's cache holds" },
  },
}

function M.permuted(ds, opts)
  local f = "hnet.stream.permuted"
  local o = spec.check(M.OPTIONS.permuted, opts, f, 2)
  local n = o.tasks
  local seed = o.seed or (core.seed and core.seed() or 1)
  local base = ds.name or "data"
  local keep, name = o.keep, o.name or ("permuted-" .. base)
  -- Task 1 now: a bad source or pad is an error here, not at first use.
  local first = tasks.permuted(ds, { seed = seed, stream = 1, pad = o.pad, name = ("%s/permuted-1"):format(base) })
  return new_stream(name, n, function(i)
    if i == 1 then return first end
    return tasks.permuted(ds, { seed = seed, stream = i, pad = o.pad,
                                name = ("%s/permuted-%d"):format(base, i) })
  end, keep)
end

-- Argument #1 of a constructor: a dataset or task (a table with train, or a
-- lazy task).
local function check_source(ds, f)
  if type(ds) ~= "table" or (rawget(ds, "train") == nil and not tasks.is_task(ds)) then
    argerr(f, 1, "a dataset or task expected, got " .. type(ds), 3)
  end
end

function M.split(ds, opts)
  local f = "hnet.stream.split"
  local o = spec.check(M.OPTIONS.split, opts, f, 2)
  local k = o.classes_per_task
  check_source(ds, f)
  local n_classes = ds.n_classes
  if math.type(n_classes) ~= "integer" or n_classes < 1 then
    argerr(f, 1, "the source has no n_classes (a classification dataset or task expected)", 2)
  end
  local order = o.classes
  if order == nil then
    order = {}
    for c = 0, n_classes - 1 do order[#order + 1] = c end
  end
  -- One flat list of the source's labels, each once: task i takes entries
  -- (i-1)*k+1 .. i*k.
  if #order < 1 then argerr(f, 2, "field 'classes': a list of class labels expected, got an empty table", 2) end
  local seen = {}
  for i, c in ipairs(order) do
    if type(c) == "table" then
      argerr(f, 2, ("field 'classes': entry %d is a list; give one flat list of labels (task i takes entries "
        .. "(i-1)*k+1 .. i*k, k = classes_per_task), e.g. { 0, 1, 2, 3 }"):format(i), 2)
    end
    if math.type(c) ~= "integer" or c < 0 or c >= n_classes then
      argerr(f, 2, ("field 'classes': entry %d (%s) is not a class label in 0..%d"):format(i, tostring(c), n_classes - 1), 2)
    end
    if seen[c] then
      argerr(f, 2, ("field 'classes': class %d is listed twice (entries %d and %d); each task's classes must be distinct from the others'")
        :format(c, seen[c], i), 2)
    end
    seen[c] = i
  end
  local n = o.tasks or #order // k
  if n < 1 or n * k > #order then
    argerr(f, 2, ("%d tasks of %d classes need %d classes; %d available"):format(n, k, n * k, #order), 2)
  end
  local base = ds.name or "data"
  local keep, name = o.keep, o.name or ("split-" .. base)
  return new_stream(name, n, function(i)
    local cls = table.move(order, (i - 1) * k + 1, i * k, 1, {})
    return tasks.class_subset(ds, { classes = cls,
                                    name = ("%s/split-%d(%s)"):format(base, i, table.concat(cls, ",")) })
  end, keep)
end

function M.rotated(ds, opts)
  local f = "hnet.stream.rotated"
  local o = spec.check(M.OPTIONS.rotated, opts, f, 2)
  local angles = o.angles
  if angles == nil then
    local n, step = o.tasks, o.step
    if n == nil or step == nil then argerr(f, 2, "give 'angles' (a list of degrees) or 'tasks' and 'step'", 2) end
    angles = {}
    for i = 1, n do angles[i] = (i - 1) * step end
  end
  if #angles < 1 then argerr(f, 2, "field 'angles': a list of degrees expected", 2) end
  for i, a in ipairs(angles) do
    if type(a) ~= "number" or a ~= a or a == math.huge or a == -math.huge then
      argerr(f, 2, ("field 'angles': entry %d is not a finite number"):format(i), 2)
    end
  end
  local base = ds.name or "data"
  local keep, name = o.keep, o.name or ("rotated-" .. base)
  return new_stream(name, #angles, function(i)
    return tasks.rotated(ds, { degrees = angles[i], name = ("%s/rotated-%g"):format(base, angles[i]) })
  end, keep)
end

function M.from(list, opts)
  local f = "hnet.stream.from"
  if type(list) ~= "table" or #list < 1 then argerr(f, 1, "a non-empty list of tasks expected", 2) end
  local o = spec.check(M.OPTIONS.from, opts, f, 2)
  for i, t in ipairs(list) do
    if type(t) ~= "table" then argerr(f, 1, ("entry %d is a %s, not a task"):format(i, type(t)), 2) end
    -- Tasks made by hnet.tasks were checked when made (or are when their
    -- splits are built); a plain table is checked here.
    if not tasks.is_task(t) then
      local ok, err = pcall(tasks.validate, t)
      if not ok then argerr(f, 1, ("entry %d: %s"):format(i, tostring(err)), 2) end
    end
  end
  local items = table.move(list, 1, #list, 1, {})
  return new_stream(o.name, #items, function(i) return items[i] end, o.keep, true)
end

function M.custom(def)
  local o = spec.check(M.OPTIONS.custom, def, "hnet.stream.custom")
  return new_stream(o.name, o.n, o.make, o.keep)
end

--- Is v a stream?
function M.is_stream(v) return getmetatable(v) == Stream end

-- Sequence streams (lua/hnet/seq/): loaded when first called.
function M.copy_task(opts) return require("hnet.seq.copy").copy_task(opts) end
function M.seq_mnist(opts) return require("hnet.seq.mnist").seq_mnist(opts) end
function M.languages(opts) return require("hnet.seq.languages").languages(opts) end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.stream.permuted", sig = "hnet.stream.permuted(dataset, opts) -> stream",
    about = "pixel-permuted copies of a dataset, one task each", spec = M.OPTIONS.permuted },
  { name = "hnet.stream.split", sig = "hnet.stream.split(dataset, opts) -> stream",
    about = "a dataset's classes split into tasks of classes_per_task classes", spec = M.OPTIONS.split },
  { name = "hnet.stream.rotated", sig = "hnet.stream.rotated(dataset, opts) -> stream",
    about = "rotated copies of a dataset, one angle per task", spec = M.OPTIONS.rotated },
  { name = "hnet.stream.from", sig = "hnet.stream.from({ task, ... }, opts) -> stream",
    about = "a stream of the given tasks", spec = M.OPTIONS.from },
  { name = "hnet.stream.custom", sig = "hnet.stream.custom(opts) -> stream",
    about = "a stream whose task i is make(i), made when first used", spec = M.OPTIONS.custom },
  { name = "hnet.stream.copy_task", sig = "hnet.stream.copy_task(opts) -> stream",
    about = "Copy Task streams: tasks differ by output order, pattern length or a permuted XOR",
    spec = function() return require("hnet.seq.copy").OPTIONS end },
  { name = "hnet.stream.seq_mnist", sig = "hnet.stream.seq_mnist(opts) -> stream",
    about = "MNIST read as a sequence of rows (or pixels), split into two-digit tasks",
    spec = function() return require("hnet.seq.mnist").OPTIONS end },
  { name = "hnet.stream.languages", sig = "hnet.stream.languages(opts) -> stream",
    about = "tell apart the words of two languages (Debian's word lists), one pair per task",
    spec = function() return require("hnet.seq.languages").OPTIONS end },
}

return M
