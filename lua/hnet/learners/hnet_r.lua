--- HNET+R: generative replay protected by a hypernetwork (von Oswald et
-- al., ICLR 2020; hypercl's mnist/train_splitMNIST.py without
-- --infer_task_id).
--
-- One classifier with weights of its own (the plain learners' network and
-- heads; Xavier init, as hypercl's) trained on task t's data plus inputs of tasks 1..t-1 replayed by
-- hnet.replay.vae (a VAE whose decoder comes from its own hypernetwork,
-- protected by that hypernetwork's regulariser). The replayed inputs are
-- labelled by the classifier as it was when task t began:
--   soft targets (default)  knowledge distillation at temperature 2 against
--                           its logits (in the class scenario over the
--                           classes of tasks 1..t, the current task's
--                           columns of the target 0, as the reference);
--   hard_targets            cross-entropy with its argmax (in the class
--                           scenario, over the classes of tasks 1..t-1).
-- The gradient is (1 - l_rew) · current + l_rew · replayed (each replayed
-- task's inputs weigh 1/(t-1) of the replayed loss). After the classifier
-- the replay model trains on task t (not on the last task).
--
-- Each task trains in two phases of `iterations` steps (classifier, replay
-- model); the run counts 2 · iterations per task. Defaults: the reference's
-- split MNIST HNET+R configuration (train_args_default.py); mod.presets.permuted_mnist
-- holds PermutedMNIST's.
--
--   local learner = hnet.learners.new("hnet_r", { iterations = 2000 })
local hnet = require "hnet"
local common = require "hnet.learners.common"
local plain = require "hnet.learners.plain"
local phases = require "hnet.replay.phases"
local vae = require "hnet.replay.vae"

local FNAME = "hnet.learners.hnet_r"
local KD_TEMPERATURE = 2 -- hypercl's Classifier.knowledge_distillation_loss

local R = {}

local mod = plain.class("hnet_r", {
  { name = "target", type = "any", default = { "mlp", hidden = { 400, 400 } },
    help = "the classifier (class_fc_arch 400,400)" },
  { name = "batch", type = "integer", default = 128, min = 1, help = "training mini-batch size" },
  { name = "iterations", type = "integer", default = 2000, min = 0,
    help = "training iterations per task of the classifier and of the replay model (n_iter)" },
  { name = "clip_grad_norm", type = "number", default = 0, min = 0,
    help = "the classifier's gradient-norm clipping (learners.common.CLIP_GRAD_NORM; the replay model is not); 0: off" },
  { name = "l_rew", type = "number", default = 0.5, min = 0, max = 1,
    help = "weight of the replayed inputs' loss against the current task's (1 - l_rew)" },
  { name = "hard_targets", type = "boolean", default = false,
    help = "label replayed inputs by the earlier classifier's argmax (default: its soft outputs, distillation at T = 2)" },
  { name = "replay", type = "table", fields = phases.replay_fields { dec_hidden = { 250, 350 } },
    help = "the replay model (hnet.replay.vae; dec_fc_arch 250,350 and rp_beta 0.01 for HNET+R)" },
}, R)

--- The reference's configurations (train_args_default.py at hypercl's
-- 5e288bf): split MNIST is the default; PermutedMNIST's (10 tasks, inputs
-- padded to 32x32 by the stream) as an options table.
mod.presets = {
  split_mnist = {},
  permuted_mnist = {
    target = { "mlp", hidden = { 1000, 1000 } }, lr = 1e-4, iterations = 5000, batch = 128, hard_targets = false,
    replay = { enc_hidden = { 1000, 1000 }, dec_hidden = { 400, 400 }, lr = 1e-4, lr_dec = 1e-4, lr_emb = 1e-4,
               beta = 0.1, hnet = { embedding = 24, hidden = { 25, 25 }, act = "elu", chunk = 85000, chunk_embedding = 8 } },
  },
}

-- Its replay model generates fixed-size inputs: no sequences (no lengths,
-- no per-step bits), unlike the plain learners it is built on.
function R:task_kinds() return { "classification" } end
function R:takes_lengths() return false end

--- The classifier's weights initialised as hypercl's (Xavier, zero biases).
function R:new_weights()
  return vae.xavier(self.net, hnet.tensor(self.n_w), self.rng)
end

function R:schedule()
  local o = self.o
  return { iterations = 2 * o.iterations, batch = o.batch, eval_batch = o.eval_batch }
end

function R:setup(info)
  plain.Plain.setup(self, info)
  local o = self.o
  if info.kind == "regression" then
    error(("%s: replay of regression tasks is not supported (classification tasks only)"):format(FNAME), 2)
  end
  self.rp = phases.replay_model(o, info)
  self.W_old = hnet.tensor(self.n_w)
  local k = self.net:out_shape()[1]
  local xs = { o.batch }
  for _, s in ipairs(info.input_shape) do xs[#xs + 1] = s end
  self.xr = hnet.tensor(xs)
  self.tgt, self.out_r, self.dout_r = hnet.tensor(o.batch, k), hnet.tensor(o.batch, k), hnet.tensor(o.batch, k)
  self.yr = hnet.tensor(o.batch)
  return self
end

function R:n_trainable()
  local m = self.rp.model
  return self.n_w + m.n_theta + m.E:numel() + self.rp.W_enc:numel()
end

-- Phase 1 (the classifier) always; phase 2 (the replay model) but on the last task.
local function active(self, t, p) return p == 1 or t < self.info.n_tasks end

function R:begin_task(t, task)
  plain.Plain.begin_task(self, t, task)
  if t > 1 then self.W_old:copy(self.W) end
  if active(self, t, 2) then
    self.rp:begin_task(t)
    self.rp_batcher = common.batcher(task.train, self.o.batch, self.rng)
  end
end

function R:train_task(t, _, hooks)
  return phases.train_task(self, hooks, self.o.iterations, 2, function(p) return active(self, t, p) end)
end

function R:train_step(it)
  if phases.of(it, self.o.iterations) == 1 then return plain.Plain.train_step(self, it, self.view) end
  local x = self.rp_batcher:next()
  return self.rp:train_step(x, function(what, v)
    common.numerical_fault(FNAME, "the replay model's " .. what, v, self.t, it, self.rp:watch("rp"),
      "lower the replay model's learning rates or beta")
  end)
end

-- The head replayed task j is judged on, and (class scenario) the columns
-- of the current task t, whose soft target is 0.
local function replay_mask(self, j)
  local info, t = self.info, self.t
  if info.scenario == "class" then return info.masks(t, t), info.heads[t] end
  return info.masks(j, j), nil
end

--- The replayed inputs' loss (Plain's penalty hook): dW holds the current
-- batch's gradient; it becomes (1 - l_rew) · dW + l_rew · the replayed
-- loss's gradient. Returns the replayed loss.
function R:penalty(dW)
  local o, t, net, info = self.o, self.t, self.net, self.info
  if t == 1 then return 0 end
  dW:scale(1 - o.l_rew)
  local k = (o.batch + t - 2) // (t - 1)
  local total = 0
  for j = 1, t - 1 do
    local x = self.rp:sample(j, k, self.xr:rows(1, k))
    local tgt, out, dout = self.tgt:rows(1, k), self.out_r:rows(1, k), self.dout_r:rows(1, k)
    net:forward(self.W_old, x, { train = false, out = tgt, stats = self.stats })
    local mask, cur = replay_mask(self, j)
    net:forward(self.W, x, { train = true, rng = self.rng, out = out, stats = self.stats })
    local l
    if o.hard_targets then
      local earlier = info.scenario == "class" and info.masks(t - 1, t - 1) or mask
      local y = hnet.loss.argmax(tgt, { mask = earlier, out = self.yr:rows(1, k) })
      l = hnet.loss.xent(out, y, { mask = mask, grad = dout })
    else
      if cur then
        for i = 1, k do
          for c = cur.offset + 1, cur.offset + cur.n do tgt:set(i, c, 0) end
        end
      end
      l = hnet.loss.kd(out, tgt, { mask = mask, temperature = KD_TEMPERATURE, grad = dout })
    end
    dout:scale(o.l_rew / (t - 1))
    net:backward(self.W, dout, dW)
    total = total + l / (t - 1)
  end
  if not common.finite(total) then
    common.numerical_fault(FNAME, "the replayed inputs' loss", total, t, 0,
      { { "W (network weights)", self.W }, { "replayed inputs", self.xr } },
      ("lower the learning rate (lr = %g)"):format(o.lr))
  end
  return total
end

function R:watch()
  local list = { { "W (network weights)", self.W } }
  for _, e in ipairs(self.rp:watch("rp")) do list[#list + 1] = e end
  return list
end

-- Plain's state hooks: the classifier copy, the replay model and its batcher.
function R:save_extra(s)
  local t = self.t or 0
  local in_task = self.in_task or false
  if in_task and t > 1 then s.W_old = self.W_old end
  self.rp:save(s, "rp", in_task and active(self, t, 2))
  if in_task and active(self, t, 2) then self.rp_batcher:save_state(s, "rp_batcher") end
end

function R:load_extra(s, _, t)
  local in_task = s.in_task or false
  if in_task and t > 1 then common.load_tensor(s, "W_old", self.W_old) end
  self.rp:load(s, "rp", in_task and active(self, t, 2), t)
  if in_task and active(self, t, 2) then self.rp_batcher:load_state(s, "rp_batcher") end
end

return mod
