--- hnet.seq.mnist — Sequential MNIST split into two-digit tasks: each image
-- is read as a sequence, row by row (28 steps of 28 pixels: order = "rows")
-- or pixel by pixel (784 steps of 1: order = "pixels", optionally in one
-- fixed random order shared by every task: permute = true), and the ten
-- digits are split into tasks of classes_per_task classes (0/1, 2/3, ...)
-- as hnet.stream.split does. The sequences are views of the split tasks'
-- images: no copy beyond what hnet.stream.split makes.
local core = require "hnet.core"
local spec = require "hnet.spec"
local task = require "hnet.tasks.task"

local M = {}

M.OPTIONS = {
  { name = "dataset", type = "string", default = "mnist",
    help = "the dataset to read: mnist (the 10,000-image subset), mnist_full or fashion_mnist (fetched by make data)" },
  { name = "order", type = "string", default = "rows", choices = { "rows", "pixels" },
    help = "read an image as 28 steps of a row, or 784 steps of one pixel" },
  { name = "permute", type = "boolean", default = false,
    help = "order = \"pixels\": the pixels in one fixed random order (permuted sequential MNIST)" },
  { name = "classes_per_task", type = "integer", default = 2, min = 1, help = "classes per task" },
  { name = "seed", type = "integer", help = "seed of the pixel permutation (default: hnet.seed())" },
  { name = "name", type = "string", help = "the stream's name (default: seq-DATASET-ORDER)" },
}

--- The stream (see the header); `./hnet help hnet.stream.seq_mnist`.
function M.seq_mnist(opts)
  local f = "hnet.stream.seq_mnist"
  local o = spec.check(M.OPTIONS, opts or {}, f, 1, 3)
  if o.permute and o.order ~= "pixels" then
    error(("bad argument #1 to '%s' (field 'permute': a pixel permutation needs order = \"pixels\")"):format(f), 3)
  end
  local datasets = require "hnet.datasets"
  local stream = require "hnet.stream"
  local ds = datasets.load(o.dataset)
  local shape = ds.train.x:shape()
  local H, W = shape[#shape - 1], shape[#shape]
  local perm
  if o.permute then
    perm = core.rng(o.seed or task.default_seed(), 1):permutation(H * W)
  end
  local base = stream.split(ds, { classes_per_task = o.classes_per_task })
  local steps, feat = H, W
  if o.order == "pixels" then steps, feat = H * W, 1 end
  return stream.custom {
    n = base:len(), name = o.name or ("seq-%s-%s%s"):format(o.dataset, o.order, o.permute and "-permuted" or ""),
    make = function(i)
      local t = base:get(i)
      return task.make_task({
        name = ("seq-%s"):format(t.name), kind = "classification", n_classes = t.n_classes,
        classes = t.classes, input_shape = { steps, feat }, source = o.dataset,
      }, function(split)
        local s = t[split]
        local n = s.x:size(1)
        local x = s.x
        if perm then
          x = core.transform.permute(x:view { n, H * W }, perm)
        end
        return { x = x:view { n, steps, feat }, y = s.y }
      end)
    end,
  }
end

return M
