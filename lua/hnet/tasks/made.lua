--- hnet.tasks.made — tasks from data made elsewhere: tensors already in
-- hand (from_tensors) or a Lua function called once per sample
-- (from_generator); hnet.tasks gathers them. M.OPTIONS holds their options
-- as hnet.specs (they check the call and print `./hnet help hnet.tasks.NAME`).
local core = require "hnet.core"
local util = require "hnet.util"
local spec = require "hnet.spec"
local task = require "hnet.tasks.task"

local M = {}

local argerr = util.argerr
local is_tensor, default_seed, make_task = task.is_tensor, task.default_seed, task.make_task

local KIND = { name = "kind", type = "string", default = "classification", choices = { "classification", "regression" },
               help = "what the targets are: 0-based class labels, or regression targets" }
-- Tensors in hand may also hold bits per step (sequence tasks).
local KIND_TENSORS = { name = "kind", type = "string", default = "classification",
                       choices = { "classification", "regression", "bits" },
                       help = "what the targets are: 0-based class labels, regression targets, or bits per step ([n, T, bits], -1 where not scored; scored by per-bit accuracy)" }

M.OPTIONS = {
  from_tensors = {
    { name = "name", type = "string", default = "task", help = "the task's name" },
    { name = "train", type = "table", required = true,
      help = "{ x = Tensor [n, ...], y = Tensor [n] (labels) or [n, n_outputs] (or [n, T, bits]), lengths = Tensor [n] (optional: per-sample sequence lengths) }" },
    { name = "test", type = "table", required = true, help = "{ x =, y = } as train" },
    KIND_TENSORS,
    { name = "n_classes", type = "integer", min = 1, help = "the number of classes (classification)" },
    { name = "n_outputs", type = "integer", min = 1,
      help = "the number of regression targets (default: the width of train.y)" },
    { name = "input_shape", type = "int_list", help = "one sample's shape (default: train.x's per-sample shape)" },
    { name = "class_names", type = "table", help = "the classes' names, in label order" },
    { name = "classes", type = "table", help = "provenance: the labels these classes had in their source" },
    { name = "source", type = "string", help = "provenance: the name of the data the task came from" },
    { name = "seed", type = "integer", help = "provenance: the seed the data were drawn with" },
  },
  from_generator = {
    { name = "name", type = "string", default = "generated", help = "the task's name" },
    { name = "n_train", type = "integer", required = true, min = 1, help = "training samples" },
    { name = "n_test", type = "integer", required = true, min = 1, help = "test samples" },
    { name = "seed", type = "integer",
      help = "train samples use hnet.rng(seed, 1), test samples hnet.rng(seed, 2) (default: hnet.seed())" },
    { name = "sample", type = "function", required = true,
      help = "function(rng) -> x, y: x a number or a list, y a label (classification) or target(s)" },
    KIND,
    { name = "n_classes", type = "integer", min = 1, help = "the number of classes (classification)" },
    { name = "n_outputs", type = "integer", min = 1, help = "the number of regression targets (default: #y)" },
    { name = "input_shape", type = "int_list", help = "one sample's shape (default: {#x})" },
  },
}

--- A task from tensors already in hand (checked).
--   tasks.from_tensors{ name =, train = {x =, y =}, test = {x =, y =},
--                       kind = "classification" | "regression", n_classes = | n_outputs =,
--                       input_shape = (default: x's per-sample shape) }
function M.from_tensors(def)
  local f = "hnet.tasks.from_tensors"
  if type(def) ~= "table" then argerr(f, 1, "table expected, got " .. type(def), 2) end
  local t = spec.check(M.OPTIONS.from_tensors, def, f)
  if t.kind ~= "classification" and t.n_outputs == nil and is_tensor(t.train.y) then
    local d = t.train.y:ndim()
    t.n_outputs = d >= 2 and t.train.y:size(d) or 1
  end
  if not t.input_shape and is_tensor(t.train.x) then
    local sh = t.train.x:shape()
    table.remove(sh, 1)
    t.input_shape = sh
  end
  if type(t.train) == "table" and t.train.lengths ~= nil then t.seq_lengths = true end
  make_task(t)
  task.validate(t)
  return t
end

--- A task whose samples come from a Lua function, one call per sample —
-- fine for small synthetic sets (thousands of samples), too slow for image
-- datasets (use the tensor transforms above for those).
--   tasks.from_generator{ name =, n_train =, n_test =, seed =,
--     sample = function(rng) return x, y end,   -- x: number or list; y: label or target(s)
--     kind = "classification" | "regression", n_classes = | n_outputs =, input_shape = }
-- Train samples use hnet.rng(seed, 1), test samples hnet.rng(seed, 2).
function M.from_generator(def)
  local f = "hnet.tasks.from_generator"
  local o = spec.check(M.OPTIONS.from_generator, def, f)
  local n_train, n_test = o.n_train, o.n_test
  local seed = o.seed or default_seed()
  local kind = o.kind
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
