--- Experience replay with a reservoir buffer: the worked example of a
-- learner written outside hnet's tree (docs/learners.md).
--
-- One target network trained directly (as fine-tuning), plus a memory of
-- `memory` training samples kept by reservoir sampling over every sample of
-- every task seen (each has the same chance to be in it). Each step adds a
-- replay batch of `replay_batch` samples drawn from the memory to the
-- current task's batch; both losses' gradients are summed before one Adam
-- step. A replayed sample keeps its task's head: its label is stored in the
-- output space of the run's scenario, and its loss uses its task's mask.
--
-- Found by name like a built-in learner, with nothing in hnet edited:
--   HNET_PATH=docs/examples/replay ./hnet script.lua    -- or
--   ./hnet --lib docs/examples/replay script.lua        -- or, from a script:
--   hnet.learners.register("replay", dofile "docs/examples/replay/learners/replay.lua")
local hnet = require "hnet"
local base = require "hnet.learners.base"
local common = require "hnet.learners.common"
local spec = require "hnet.spec"

local Replay = base.class()

-- The options: the ones every learner shares (target, lr, beta1, beta2,
-- batch, iterations, eval_batch, seed) and its own. The same list checks
-- new()'s options, makes experiments' command-line options (--memory 200)
-- and prints `./hnet help replay`.
Replay.cli = spec.extend(common.SHARED, {
  { name = "memory", type = "integer", default = 500, min = 1,
    help = "samples the reservoir keeps, all tasks together" },
  { name = "replay_batch", type = "integer", default = 32, min = 0,
    help = "replayed samples per step (0: no replay)" },
})

function Replay:name() return "replay" end
function Replay:options() return self.o end
function Replay:schedule()
  return { iterations = self.o.iterations, batch = self.o.batch, eval_batch = self.o.eval_batch }
end
function Replay:n_trainable() return self.W:numel() end

function Replay:setup(info)
  local o = self.o
  self.info, self.rng = info, hnet.rng(o.seed, 2)
  self.net = common.target_net(o.target, info.input_shape, info.n_outputs,
                               math.max(o.batch, o.replay_batch, o.eval_batch), "replay")
  self.W, self.dW = hnet.tensor(self.net:n_params()), hnet.tensor(self.net:n_params())
  self.net:init(self.W, self.rng)
  self.opt = hnet.adam { n = self.W:numel(), lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  local k, rows = self.net:out_shape()[1], math.max(o.batch, o.replay_batch)
  self.out, self.dout = hnet.tensor(rows, k), hnet.tensor(rows, k)
  self.eval_out = hnet.tensor(o.eval_batch, k)
  if self.net:n_stats() > 0 then self.stats = self.net:init_stats() end -- BatchNorm's running statistics
  self.seen, self.slots = 0, {} -- samples offered to the reservoir; slot -> task of the sample in it
end

-- y as the run's scenario labels it: task t's classes at its head's offset.
function Replay:offset(t)
  return self.info.scenario == "domain" and 0 or self.info.heads[t].offset
end

function Replay:begin_task(t, task)
  self.t, self.in_task = t, true
  self.batcher = common.batcher(task.train, self.o.batch, self.rng)
end

-- Loss of the batch x, y under task t's head; its gradient, times
-- `weight`, is added to dW.
function Replay:loss(x, y, t, weight)
  local n = x:size(1)
  local out, dout = self.out:rows(1, n), self.dout:rows(1, n)
  self.net:forward(self.W, x, { train = true, rng = self.rng, out = out, stats = self.stats })
  local loss
  if self.info.kind == "regression" then
    loss = hnet.loss.mse(out, y:view(n, 1), { grad = dout })
  else
    loss = hnet.loss.xent(out, y, { mask = self.info.masks(t, self.t), grad = dout })
  end
  if weight then dout:scale(weight) end
  self.net:backward(self.W, dout, self.dW)
  return loss
end

function Replay:train_step(it)
  local x, y = self.batcher:next()
  if self:offset(self.t) ~= 0 then y:add(self:offset(self.t)) end
  self.dW:zero()
  local loss, replayed = self:loss(x, y, self.t), 0
  if self.mem_x and self.o.replay_batch > 0 then
    -- Draw from the memory, then one pass per task present in the draw
    -- (its head's mask), each weighted by its share of the draw.
    local by_task, n = {}, self.mem_x:size(1)
    for _ = 1, self.o.replay_batch do
      local i = self.rng:below(n)
      local s = self.slots[i]
      by_task[s] = by_task[s] or {}
      table.insert(by_task[s], i)
    end
    for s = 1, self.t - 1 do
      local rows = by_task[s]
      if rows then
        local rx = hnet.transform.gather(self.mem_x, rows, { out = self.rx:rows(1, #rows) })
        local ry = hnet.transform.gather(self.mem_y, rows, { out = self.ry:rows(1, #rows) })
        local share = #rows / self.o.replay_batch
        replayed = replayed + self:loss(rx, ry, s, share) * share
      end
    end
  end
  self.opt:step(self.W, self.dW)
  return loss, replayed
end

-- Task t's training samples are offered to the reservoir when it ends
-- (Vitter's algorithm R over the whole stream of samples: each of the
-- `seen` samples is in the memory with probability memory/seen). The
-- decisions are Lua arithmetic, the copies three calls into C.
function Replay:end_task(t, task)
  self.in_task = false
  local data, M = task.train, self.o.memory
  local n_old = self.mem_x and self.mem_x:size(1) or 0
  local take, src = {}, {}           -- new task rows entering, and what each slot holds
  for i = 1, n_old do src[i] = i end
  for i = 1, data.x:size(1) do
    self.seen = self.seen + 1
    local slot = self.seen <= M and self.seen or self.rng:below(self.seen)
    if slot <= M then
      take[#take + 1] = i
      src[slot], self.slots[slot] = n_old + #take, t
    end
  end
  if #take == 0 then return end
  local y = data.y:gather_rows(take)
  if self:offset(t) ~= 0 then y:add(self:offset(t)) end
  local x = data.x:gather_rows(take)
  if n_old > 0 then x, y = self.mem_x:concat_rows(x), self.mem_y:concat_rows(y) end
  self.mem_x, self.mem_y = x:gather_rows(src), y:gather_rows(src)
  self:replay_buffers()
end

-- The tensors a replay draw is gathered into (allocated when the memory changes).
function Replay:replay_buffers()
  if self.o.replay_batch == 0 then return end
  local xs, ys = self.mem_x:shape(), self.mem_y:shape()
  xs[1], ys[1] = self.o.replay_batch, self.o.replay_batch
  self.rx, self.ry = hnet.tensor(xs), hnet.tensor(ys)
end

function Replay:predict(x)
  local n = x:size(1)
  local out = n == self.o.eval_batch and self.eval_out or self.eval_out:rows(1, n)
  return self.net:forward(self.W, x, { train = false, out = out, stats = self.stats })
end

function Replay:watch() return { { "W (network weights)", self.W } } end

function Replay:state()
  local s = { W = self.W, stats = self.stats, rng = self.rng:state(), t = self.t or 0,
              in_task = self.in_task or false, seen = self.seen, slots = self.slots,
              mem_x = self.mem_x, mem_y = self.mem_y }
  common.save_optim(s, "opt", self.opt)
  if self.in_task then self.batcher:save_state(s, "batcher") end
  return s
end

function Replay:load_state(s, ctx)
  common.load_tensor(s, "W", self.W)
  if self.stats then common.load_tensor(s, "stats", self.stats) end
  common.load_rng(s, "rng", self.rng)
  common.load_optim(s, "opt", self.opt)
  self.seen, self.slots, self.mem_x, self.mem_y = s.seen, s.slots or {}, s.mem_x, s.mem_y
  if self.mem_x then self:replay_buffers() end
  self.t = common.load_int(s, "t", 0, self.info.n_tasks)
  if s.in_task then
    self:begin_task(self.t, ctx.task(self.t))
    self.batcher:load_state(s, "batcher")
  end
end

return {
  cli = Replay.cli,
  new = function(opts)
    return setmetatable({ o = spec.check(Replay.cli, opts, "hnet.learners.replay") }, Replay)
  end,
}
