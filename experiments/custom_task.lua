-- custom_task.lua — a new kind of task defined entirely in this script, with
-- no C change: "rings" (is a 2-D point inside or outside a ring of radius r?)
-- from a Lua generator, a transform written in Lua (a rotation of the plane
-- applied to whole tensors), and a stream of such tasks learned by a
-- hypernetwork one after the other.
--
--   ./hnet experiments/custom_task.lua [--quick] [--tasks N]
--
-- The generator runs one Lua call per sample, which is fine for a few
-- thousand synthetic points; image-sized data should use the C transforms
-- (hnet.tasks.permuted, rotated, ...).
local hnet = require "hnet"

local o, context = hnet.experiment.options(arg, {
  out_default = "runs/custom_task",
  resumable = true, -- all its work is one hnet.run
  tasks = { 4, "number of ring tasks" },
  iterations = { 1500, "training iterations per task" },
}, "custom_task.lua: tasks defined in Lua, learned by a hypernetwork")
if o.quick then o.iterations = math.min(o.iterations, 400) end

-- A task type: points uniform in [-2, 2]^2, label 1 when |x| < r.
local function ring_task(i)
  local r = 0.6 + 0.25 * i
  return hnet.tasks.from_generator {
    name = ("ring r=%.2f"):format(r), n_train = 1000, n_test = 500, seed = o.seed * 100 + i,
    n_classes = 2,
    sample = function(rng)
      local x1, x2 = 4 * rng:uniform() - 2, 4 * rng:uniform() - 2
      return { x1, x2 }, (x1 * x1 + x2 * x2 < r * r) and 1 or 0
    end,
  }
end

-- A transform written in Lua over whole tensors: move the plane by a
-- task-specific offset and scale it (tensor methods run in C on the whole
-- split; there is no call per sample).
local function moved(task, offset, scale)
  return hnet.tasks.map(task, function(x, y)
    local x2 = x:clone()
    x2:scale(scale)
    x2:add(offset)
    return x2, y
  end)
end

local stream = hnet.stream.custom {
  name = "rings", n = o.tasks,
  make = function(i) return moved(ring_task(i), 0.3 * (i - 1), 1 + 0.1 * (i - 1)) end,
}

local learner = hnet.learners.hypernet {
  target = { "mlp", hidden = { 20, 20 } },
  hnet = { embedding = 8, hidden = { 32, 32 }, chunk = 0 },
  beta = 0.01, lr = 3e-3, batch = 64, iterations = o.iterations, seed = o.seed,
}
local run = hnet.run(learner, stream, { scenario = "task-given", out = o.out, force = o.force,
                                        quiet = o.quiet, verbose = o.verbose, context = context })
run:report()
return run
