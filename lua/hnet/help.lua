--- `./hnet help NAME`: the signature and options of a learner or of a
-- public function that takes an options table, printed from the same
-- hnet.spec that checks the call. `./hnet help` lists the names.
--
--   ./hnet help hypernet           a learner (built in, or found through
--                                  --lib / HNET_PATH: its module's cli spec)
--   ./hnet help hnet.run           a function
local spec = require "hnet.spec"

local M = {}

-- The functions with help: signature, one line about it, and where its spec
-- is (a function, so that only the asked-for module is loaded).
local FUNCTIONS = {
  { name = "hnet.run", sig = "hnet.run(learner, stream, opts) -> run",
    about = "train a learner on a stream of tasks and evaluate it as it goes",
    spec = function() return require "hnet.run.spec" end },
  { name = "hnet.stream.permuted", sig = "hnet.stream.permuted(dataset, opts) -> stream",
    about = "pixel-permuted copies of a dataset, one task each",
    spec = function() return require("hnet.stream").OPTIONS.permuted end },
  { name = "hnet.stream.split", sig = "hnet.stream.split(dataset, opts) -> stream",
    about = "a dataset's classes split into tasks of classes_per_task classes",
    spec = function() return require("hnet.stream").OPTIONS.split end },
  { name = "hnet.stream.rotated", sig = "hnet.stream.rotated(dataset, opts) -> stream",
    about = "rotated copies of a dataset, one angle per task",
    spec = function() return require("hnet.stream").OPTIONS.rotated end },
  { name = "hnet.stream.from", sig = "hnet.stream.from({ task, ... }, opts) -> stream",
    about = "a stream of the given tasks",
    spec = function() return require("hnet.stream").OPTIONS.from end },
  { name = "hnet.stream.custom", sig = "hnet.stream.custom(opts) -> stream",
    about = "a stream whose task i is make(i), made when first used",
    spec = function() return require("hnet.stream").OPTIONS.custom end },
  { name = "hnet.stream.copy_task", sig = "hnet.stream.copy_task(opts) -> stream",
    about = "Copy Task streams: tasks differ by output order, pattern length or a permuted XOR",
    spec = function() return require("hnet.seq.copy").OPTIONS end },
  { name = "hnet.stream.seq_mnist", sig = "hnet.stream.seq_mnist(opts) -> stream",
    about = "MNIST read as a sequence of rows (or pixels), split into two-digit tasks",
    spec = function() return require("hnet.seq.mnist").OPTIONS end },
  { name = "hnet.stream.languages", sig = "hnet.stream.languages(opts) -> stream",
    about = "tell apart the words of two languages (Debian's word lists), one pair per task",
    spec = function() return require("hnet.seq.languages").OPTIONS end },
  { name = "hnet.learners.common.RNN_TARGET", sig = 'target = { "rnn", cell =, hidden =, vocab =, embedding =, output = }',
    about = "a recurrent target network for every learner (sequence tasks)",
    spec = function() return require("hnet.learners.common").RNN_TARGET end },
  { name = "hnet.tasks.permuted", sig = "hnet.tasks.permuted(source, opts) -> task",
    about = "a dataset's or task's pixels permuted (one permutation for train and test)",
    spec = function() return require("hnet.tasks").OPTIONS.permuted end },
  { name = "hnet.tasks.class_subset", sig = "hnet.tasks.class_subset(source, opts) -> task",
    about = "the samples of some classes, relabelled 0..k-1 in the order given",
    spec = function() return require("hnet.tasks").OPTIONS.class_subset end },
  { name = "hnet.tasks.rotated", sig = "hnet.tasks.rotated(source, opts) -> task",
    about = "every image rotated by `degrees`",
    spec = function() return require("hnet.tasks").OPTIONS.rotated end },
  { name = "hnet.tasks.noisy", sig = "hnet.tasks.noisy(source, opts) -> task",
    about = "additive Gaussian pixel noise, clamped",
    spec = function() return require("hnet.tasks").OPTIONS.noisy end },
  { name = "hnet.tasks.brightness_contrast", sig = "hnet.tasks.brightness_contrast(source, opts) -> task",
    about = "brightness and contrast changed per sample",
    spec = function() return require("hnet.tasks").OPTIONS.brightness_contrast end },
  { name = "hnet.tasks.k_shot", sig = "hnet.tasks.k_shot(source, opts) -> task",
    about = "exactly k training samples per class",
    spec = function() return require("hnet.tasks").OPTIONS.k_shot end },
  { name = "hnet.tasks.subsample", sig = "hnet.tasks.subsample(source, opts) -> task",
    about = "a random subset of the training samples",
    spec = function() return require("hnet.tasks").OPTIONS.subsample end },
  { name = "hnet.tasks.map", sig = "hnet.tasks.map(source, fn, opts) -> task",
    about = "fn(x, y, split) -> x2 [, y2] over whole tensors (opts: argument #3)",
    spec = function() return require("hnet.tasks").OPTIONS.map end },
  { name = "hnet.tasks.from_tensors", sig = "hnet.tasks.from_tensors(opts) -> task",
    about = "a task from tensors already in hand",
    spec = function() return require("hnet.tasks").OPTIONS.from_tensors end },
  { name = "hnet.tasks.from_generator", sig = "hnet.tasks.from_generator(opts) -> task",
    about = "a task whose samples come from a Lua function, one call each",
    spec = function() return require("hnet.tasks").OPTIONS.from_generator end },
  { name = "hnet.datasets.load", sig = "hnet.datasets.load(name, opts) -> dataset",
    about = "load (or return the cached) dataset `name`; a loader may take more options",
    spec = function() return require("hnet.datasets").OPTIONS end },
  { name = "hnet.experiment.compare", sig = "hnet.experiment.compare(opts) -> rows",
    about = "run each learner under each scenario on one stream; one result row per run",
    spec = function() return require("hnet.experiment").COMPARE_OPTIONS end },
  { name = "hnet.fewshot.adapt_embeddings", sig = "hnet.fewshot.adapt_embeddings(opts) -> result",
    about = "learn each problem's task embedding from its support set, the hypernetwork frozen",
    spec = function() return require("hnet.fewshot").ADAPT_OPTIONS end },
  { name = "hnet.hypermodel.build", sig = "hnet.hypermodel.build(opts) -> model",
    about = "the shared hypernetwork model: target net, hypernetwork, θ (initialised) and E",
    spec = function() return require("hnet.hypermodel").BUILD_OPTIONS end },
  { name = "hnet.hypermodel.wrap", sig = "hnet.hypermodel.wrap(opts) -> model",
    about = "the shared hypernetwork model over the caller's hypernetwork, θ, net and E",
    spec = function() return require("hnet.hypermodel").WRAP_OPTIONS end },
  { name = "hnet.shift.pool", sig = "hnet.shift.pool(opts) -> pool",
    about = "a hypernetwork with a growing pool of task embeddings and no task boundaries",
    spec = function() return require("hnet.shift.pool").OPTIONS end },
}

-- The first sentence of the "---" comment that opens a file, as its lines
-- (nil: none).
local function summary_of(path)
  local text = path and require("hnet.util").read_file(path)
  if not (text and text:match("^%-%-%-")) then return nil end
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local body = line:match("^%-%-%-?%s?(.*)$")
    if not body or body == "" then break end
    out[#out + 1] = "  " .. body
    if body:match("%.$") or body:match("%.%s") or #out == 4 then break end
  end
  return table.concat(out, "\n")
end

local function learner_help(name)
  local learners = require "hnet.learners"
  local s, why = learners.spec(name)
  local source = learners.source(name)
  local lines = {
    ("hnet.learners.%s(opts) -> learner   (or hnet.learners.new(\"%s\", opts))"):format(name, name),
  }
  local about = summary_of(source)
  if about then lines[#lines + 1] = about end
  lines[#lines + 1] = "  from " .. source
  lines[#lines + 1] = ""
  if s then
    lines[#lines + 1] = "options (opts; any other key is an error):"
    lines[#lines + 1] = spec.format(s)
  else
    lines[#lines + 1] = why .. " (give the module a cli field: a list of { name, type, default, help })"
  end
  return table.concat(lines, "\n")
end

local function function_help(f)
  local lines = { f.sig, "  " .. f.about, "", "options (opts; any other key is an error):", spec.format((f.spec())) }
  return table.concat(lines, "\n")
end

-- Levenshtein distance (names are short).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- Every name with help: learners (in hnet.learners.list order), then
-- the functions.
function M.names()
  local names = {}
  for _, n in ipairs(require("hnet.learners").list()) do names[#names + 1] = n end
  for _, f in ipairs(FUNCTIONS) do names[#names + 1] = f.name end
  return names
end

--- The help text of `name`, or nil and an error message that lists close names.
function M.text(name)
  for _, f in ipairs(FUNCTIONS) do if f.name == name then return function_help(f) end end
  local learner = name:match("^hnet%.learners%.([%w_]+)$") or name
  if require("hnet.learners").exists(learner) then return learner_help(learner) end
  local close = {}
  for _, n in ipairs(M.names()) do
    local short = n:match("([^.]+)$")
    if distance(name, n) <= 3 or distance(name, short) <= 2 or n:find(name, 1, true) then close[#close + 1] = n end
  end
  return nil, ("no help for '%s'%s; `hnet help` lists every name"):format(name,
    #close > 0 and (" (close: " .. table.concat(close, ", ") .. ")") or "")
end

--- The list `hnet help` prints.
function M.index()
  local lines = { "hnet help NAME: the signature and options of a learner or a function.", "", "learners:" }
  for _, n in ipairs(require("hnet.learners").list()) do lines[#lines + 1] = "  " .. n end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "functions:"
  for _, f in ipairs(FUNCTIONS) do lines[#lines + 1] = ("  %-32s %s"):format(f.name, f.about) end
  return table.concat(lines, "\n")
end

--- The `help` command of ./hnet (lua/main.c): args = { NAME } or {}.
-- Prints the help (stdout) and returns 0, or the error (stderr) and 1.
function M.main(args)
  if #args == 0 then
    print(M.index())
    return 0
  end
  local status = 0
  for i, name in ipairs(args) do
    local text, err = M.text(name)
    if text then
      if i > 1 then print() end
      print(text)
    else
      io.stderr:write("hnet help: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
