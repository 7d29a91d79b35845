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
--
-- Each concept lives in its own file under lua/hnet/tasks/; this module
-- gathers their functions into one table:
--   hnet.tasks.split_cache, .is_task, .validate          (tasks/task.lua: the task type)
--   hnet.tasks.permuted, .class_subset, .rotated, .noisy, .brightness_contrast,
--     .k_shot, .subsample, .map                          (tasks/derive.lua)
--   hnet.tasks.from_tensors, .from_generator             (tasks/made.lua)
-- hnet.tasks.OPTIONS[NAME] is constructor NAME's option spec (hnet.spec):
-- it checks the call and `./hnet help hnet.tasks.NAME` prints it.
local task = require "hnet.tasks.task"

local M = { split_cache = task.split_cache, is_task = task.is_task, validate = task.validate, OPTIONS = {} }

for _, part in ipairs { "derive", "made" } do
  for k, v in pairs(require("hnet.tasks." .. part)) do
    if k == "OPTIONS" then
      for name, s in pairs(v) do M.OPTIONS[name] = s end
    else
      assert(M[k] == nil, "hnet.tasks: two parts define " .. k)
      M[k] = v
    end
  end
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
local function entry(name, sig, about)
  return { name = "hnet.tasks." .. name, sig = sig, about = about, spec = M.OPTIONS[name] }
end
M.HELP = {
  entry("permuted", "hnet.tasks.permuted(source, opts) -> task",
    "a dataset's or task's pixels permuted (one permutation for train and test)"),
  entry("class_subset", "hnet.tasks.class_subset(source, opts) -> task",
    "the samples of some classes, relabelled 0..k-1 in the order given"),
  entry("rotated", "hnet.tasks.rotated(source, opts) -> task", "every image rotated by `degrees`"),
  entry("noisy", "hnet.tasks.noisy(source, opts) -> task", "additive Gaussian pixel noise, clamped"),
  entry("brightness_contrast", "hnet.tasks.brightness_contrast(source, opts) -> task",
    "brightness and contrast changed per sample"),
  entry("k_shot", "hnet.tasks.k_shot(source, opts) -> task", "exactly k training samples per class"),
  entry("subsample", "hnet.tasks.subsample(source, opts) -> task", "a random subset of the training samples"),
  entry("map", "hnet.tasks.map(source, fn, opts) -> task",
    "fn(x, y, split) -> x2 [, y2] over whole tensors (opts: argument #3)"),
  entry("from_tensors", "hnet.tasks.from_tensors(opts) -> task", "a task from tensors already in hand"),
  entry("from_generator", "hnet.tasks.from_generator(opts) -> task",
    "a task whose samples come from a Lua function, one call each"),
}

return M
