--- hnet.seq.copy — Copy Task streams (Graves et al., 2014; the continual
-- variants of Ehret, Henning, Cervera et al., ICLR 2021): the network reads
-- a random binary pattern of `length` steps of `bits` bits, then a
-- delimiter step, and must write the pattern during the next steps.
--
-- One sample: x [T, bits + 1], T = 2 L_max + 1 for the longest pattern of
-- the stream. Steps 1..L hold the pattern (last channel 0), step L + 1 the
-- delimiter (bits 0, last channel 1), steps L + 2 .. 2L + 1 zeros; a sample
-- of a shorter pattern is padded to T and carries its length 2L + 1 in the
-- split's `lengths`. Targets y [T, bits]: -1 (not scored) up to the
-- delimiter and on padding, the output pattern at the L output steps. The
-- task kind is "bits": loss hnet.loss.bits, metric the per-bit accuracy (%).
--
-- Variants (what tells tasks apart):
--   "permuted"  task i writes the pattern with its time steps in a fixed
--               order drawn from hnet.rng(seed, i) (the Permuted Copy Task;
--               every task permuted, the first included)
--   "length"    task i's patterns have length + (i - 1) * length_step steps
--   "xor"       task i writes pattern XOR (the pattern with its time steps
--               permuted by task i's order): the Pattern Manipulation Task
--               with one permutation (r = 1)
--
-- Generation: each split is drawn once, when first read, by one Lua loop
-- over its n·T·bits elements into a flat list and one hnet.tensor_from:
-- about 0.1 s for 10,000 samples of the default size, acceptable for this
-- small synthetic task; nothing per sample runs in training.
local core = require "hnet.core"
local spec = require "hnet.spec"
local task = require "hnet.tasks.task"

local M = {}

M.OPTIONS = {
  { name = "tasks", type = "integer", default = 5, min = 1, help = "the number of tasks" },
  { name = "bits", type = "integer", default = 7, min = 1, help = "bits per pattern step (the reference's seq_width)" },
  { name = "length", type = "integer", default = 5, min = 1, help = "pattern steps (of the first task for variant \"length\")" },
  { name = "variant", type = "string", default = "permuted", choices = { "permuted", "length", "xor" },
    help = "what differs between tasks: the order of the output steps, the pattern length, or pattern XOR its permutation" },
  { name = "length_step", type = "integer", default = 2, min = 1, help = "variant \"length\": steps added per task" },
  { name = "n_train", type = "integer", default = 2000, min = 1, help = "training samples per task" },
  { name = "n_test", type = "integer", default = 500, min = 1, help = "test samples per task" },
  { name = "seed", type = "integer", help = "seed of the patterns and permutations (default: hnet.seed())" },
  { name = "name", type = "string", help = "the stream's name (default: copy-VARIANT)" },
}

-- Task i's pattern length and output order (order[k]: the pattern step
-- written at output step k).
local function task_plan(o, i)
  local L = o.length
  if o.variant == "length" then L = o.length + (i - 1) * o.length_step end
  local order = {}
  if o.variant == "length" then
    for k = 1, L do order[k] = k end
  else
    order = core.rng(o.seed, i):permutation(L)
  end
  return L, order
end

-- One split of task i: n samples drawn from hnet.rng(seed, 1000 * i + part).
local function build(o, i, T, n, part)
  local L, order = task_plan(o, i)
  local B, F = o.bits, o.bits + 1
  local rng = core.rng(o.seed, 1000 * i + part)
  local xs, ys, ls = {}, {}, {}
  local xo, yo = 0, 0
  local pat = {}
  local xor = o.variant == "xor"
  for s = 1, n do
    for k = 1, L * B do pat[k] = rng:uniform() < 0.5 and 1 or 0 end
    for t = 1, T do
      for b = 1, F do
        local v = 0
        if t <= L and b <= B then v = pat[(t - 1) * B + b]
        elseif t == L + 1 and b == F then v = 1 end
        xs[xo + b] = v
      end
      xo = xo + F
      local k = t - L - 1 -- output step
      for b = 1, B do
        local v = -1
        if k >= 1 and k <= L then
          v = pat[(order[k] - 1) * B + b]
          if xor then v = (v + pat[(k - 1) * B + b]) % 2 end
        end
        ys[yo + b] = v
      end
      yo = yo + B
    end
    ls[s] = 2 * L + 1
  end
  local split = { x = core.tensor_from(xs, { n, T, F }), y = core.tensor_from(ys, { n, T, B }) }
  if o.variant == "length" then split.lengths = core.tensor_from(ls, { n }) end
  return split
end

--- The stream (see the header); `./hnet help hnet.stream.copy_task`.
function M.copy_task(opts)
  local f = "hnet.stream.copy_task"
  local o = spec.check(M.OPTIONS, opts or {}, f, 1, 3)
  o.seed = o.seed or task.default_seed()
  local Lmax = o.variant == "length" and o.length + (o.tasks - 1) * o.length_step or o.length
  local T = 2 * Lmax + 1
  local stream = require "hnet.stream"
  return stream.custom {
    n = o.tasks, name = o.name or ("copy-" .. o.variant),
    make = function(i)
      local L = task_plan(o, i)
      return task.make_task({
        name = ("copy-%s/%d"):format(o.variant, i), kind = "bits", n_outputs = o.bits,
        input_shape = { T, o.bits + 1 }, seq_lengths = o.variant == "length" or nil,
        pattern_length = L, source = "copy_task", seed = o.seed,
      }, function(split)
        return build(o, i, T, split == "train" and o.n_train or o.n_test, split == "train" and 1 or 2)
      end)
    end,
  }
end

return M
