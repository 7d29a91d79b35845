--- HNET+TIR: task inference by generative replay (von Oswald et al., ICLR
-- 2020; hypercl's mnist/train_splitMNIST.py with --infer_task_id).
--
-- Three networks:
--   the classifier  the hypernetwork learner (hnet.learners.hypernet): one
--                   generated network per task, protected by its regulariser;
--   the task-inference network  an MLP with weights of its own (Xavier
--                   init, as hypercl's) and one
--                   output per task; on task t (t > 1) it learns to tell
--                   task t's inputs (label t) from inputs of tasks 1..t-1
--                   replayed by the replay model (label j for task j's
--                   replay), the two cross-entropies weighed
--                   (1 - l_rew) : l_rew, over outputs 1..t;
--   the replay model  hnet.replay.vae, a VAE whose decoder comes from its own
--                   hypernetwork, trained on task t after the other two
--                   (not on the last task: nothing comes after it to replay for).
-- When the task is not given (domain, class), infer_task picks the output
-- of largest score among the tasks seen, and the classifier's network (and,
-- in the class scenario, head) of that task answers. With the task given
-- only the classifier trains (as the reference does).
--
-- Each task trains in three phases of `iterations` steps (classifier,
-- task inference, replay model); the run counts 3 · iterations per task.
-- Defaults: the reference's split MNIST HNET+TIR configuration
-- (train_args_default.py); M.presets.permuted_mnist holds PermutedMNIST's.
--
--   local learner = hnet.learners.new("hnet_tir", { iterations = 2000 })
local hnet = require "hnet"
local spec = require "hnet.spec"
local common = require "hnet.learners.common"
local base = require "hnet.learners.base"
local hypernet = require "hnet.learners.hypernet"
local phases = require "hnet.replay.phases"
local vae = require "hnet.replay.vae"

local FNAME = "hnet.learners.hnet_tir"

local M = {}
local Learner = base.class()

-- The classifier's hypernetwork: train_args_default.py's split MNIST
-- classifier (class_temb_size, class_hnet_arch, class_hnet_act,
-- class_hyper_chunks, class_emb_size).
local CLASS_HNET = {}
for _, e in ipairs(hypernet.HNET) do
  local c = {}
  for k, v in pairs(e) do c[k] = v end
  c.default = ({ embedding = 96, hidden = { 10, 10 }, act = "relu", chunk = 42000, chunk_embedding = 96 })[e.name]
    or e.default
  CLASS_HNET[#CLASS_HNET + 1] = c
end

-- The options the classifier (hnet.learners.hypernet) takes.
local CLASSIFIER_KEYS = {}
for _, e in ipairs(hypernet.cli) do CLASSIFIER_KEYS[e.name] = true end

M.cli = spec.extend(hypernet.cli, {
  { name = "target", type = "any", default = { "mlp", hidden = { 400, 400 } },
    help = "the classifier's target network (class_fc_arch 400,400)" },
  { name = "batch", type = "integer", default = 128, min = 1, help = "training mini-batch size" },
  { name = "iterations", type = "integer", default = 2000, min = 0,
    help = "training iterations per task of each of the three networks (n_iter)" },
  { name = "hnet", type = "table", fields = CLASS_HNET, help = "the classifier's hypernetwork" },
  { name = "lookahead", type = "boolean", default = true,
    help = "the classifier's regulariser at θ + Δθ (the reference's default)" },
  { name = "init", type = "string", default = "xavier", choices = { "hyperfan", "xavier" },
    help = "θ's initialisation (xavier: hypercl's)" },
  { name = "clip_grad_norm", type = "number", default = 0, min = 0,
    help = "the classifier's gradient-norm clipping (learners.common.CLIP_GRAD_NORM; the replay model and the task-inference network are not); 0: off" },
  { name = "tir_hidden", type = "int_list", default = { 400, 400 },
    help = "the task-inference MLP's hidden sizes (class_fc_arch)" },
  { name = "tir_lr", type = "number", default = 1e-3, min = 0, help = "the task-inference network's Adam learning rate (class_lr)" },
  { name = "l_rew", type = "number", default = 0.5, min = 0, max = 1,
    help = "weight of the replayed inputs' loss against the current task's (1 - l_rew)" },
  { name = "replay", type = "table", fields = phases.replay_fields { dec_hidden = { 50, 150 } },
    help = "the replay model (hnet.replay.vae; dec_fc_arch 50,150 for HNET+TIR)" },
})
Learner.cli = M.cli

--- The reference's configurations (train_args_default.py at hypercl's
-- 5e288bf): split MNIST is the default; PermutedMNIST's (10 tasks, inputs
-- padded to 32x32 by the stream) as an options table.
M.presets = {
  split_mnist = {},
  permuted_mnist = {
    target = { "mlp", hidden = { 1000, 1000 } }, lr = 1e-4, iterations = 5000, batch = 128, beta = 0.1,
    hnet = { embedding = 24, hidden = { 25, 25 }, act = "elu", chunk = 78000, chunk_embedding = 8 },
    tir_hidden = { 1000, 1000 }, tir_lr = 1e-4,
    replay = { enc_hidden = { 1000, 1000 }, dec_hidden = { 1000, 1000 }, lr = 1e-4, lr_dec = 1e-4, lr_emb = 1e-4,
               beta = 0.1, hnet = { embedding = 24, hidden = { 25, 25 }, act = "elu", chunk = 85000, chunk_embedding = 8 } },
  },
}

function M.new(opts)
  local o = spec.check(M.cli, opts, FNAME)
  local co = {}
  for k, v in pairs(o) do if CLASSIFIER_KEYS[k] then co[k] = v end end
  return setmetatable({ o = o, cls = hypernet.new(co) }, Learner)
end

function Learner:name() return "hnet_tir" end
function Learner:options() return self.o end
-- Runs checkpointed before clip_grad_norm existed trained unclipped.
function Learner:implied_options() return { clip_grad_norm = 0 } end
function Learner:task_conditioned() return true end
function Learner:hint(what) return self.cls:hint(what) end

function Learner:schedule()
  local o = self.o
  return { iterations = 3 * o.iterations, batch = o.batch, eval_batch = o.eval_batch }
end

function Learner:setup(info)
  local o = self.o
  self.info = info
  self.cls:setup(info)
  self.replaying = info.scenario ~= "task-given"
  self.rng = hnet.rng(o.seed, 3)
  local T = info.n_tasks
  self.tir = hnet.mlp { inputs = info.input_shape, hidden = o.tir_hidden, outputs = math.max(T, 1),
                        max_batch = math.max(o.batch + T, o.eval_batch) }
  self.n_tir = self.tir:n_params()
  self.W_tir, self.dW_tir = hnet.tensor(self.n_tir), hnet.tensor(self.n_tir)
  vae.xavier(self.tir, self.W_tir, self.rng)
  self.masks = {}
  for t = 1, T do
    local m = {}
    for j = 1, T do m[j] = j <= t and 1 or 0 end
    self.masks[t] = m
  end
  -- Replay batch: ceil(batch / (t-1)) inputs of each earlier task (hypercl's
  -- fake_data_full_range), at most batch + T - 2 rows.
  local R = o.batch + T
  local xs = { R }
  for _, s in ipairs(info.input_shape) do xs[#xs + 1] = s end
  self.xr = hnet.tensor(xs)
  self.yr, self.ycur = hnet.tensor(R), hnet.tensor(o.batch)
  self.out, self.dout = hnet.tensor(R, math.max(T, 1)), hnet.tensor(R, math.max(T, 1))
  self.eval_out = hnet.tensor(o.eval_batch, math.max(T, 1))
  self.pred = hnet.tensor(o.eval_batch)
  if self.replaying then self.rp = phases.replay_model(o, info) end
  return self
end

function Learner:n_trainable()
  local n = self.cls:n_trainable() + self.n_tir
  if self.rp then n = n + self.rp.model.n_theta + self.rp.model.E:numel() + self.rp.W_enc:numel() end
  return n
end

-- Is phase p (1 classifier, 2 task inference, 3 replay model) trained on task t?
local function active(self, t, p)
  if p == 1 then return true end
  if not self.replaying then return false end
  if p == 2 then return t > 1 end
  return t < self.info.n_tasks
end

function Learner:begin_task(t, task)
  local o = self.o
  self.t, self.in_task = t, true
  self.cls:begin_task(t, task)
  if active(self, t, 2) then
    self.opt_tir = hnet.adam { n = self.n_tir, lr = o.tir_lr, beta1 = o.beta1, beta2 = o.beta2 }
    self.tir_batcher = common.batcher(task.train, o.batch, self.rng)
  end
  if active(self, t, 3) then
    self.rp:begin_task(t)
    self.rp_batcher = common.batcher(task.train, o.batch, self.rng)
  end
end

function Learner:train_task(t, _, hooks)
  return phases.train_task(self, hooks, self.o.iterations, 3, function(p) return active(self, t, p) end)
end

-- One step of the task-inference network on task t (> 1): its current
-- batch labelled t, replayed inputs of tasks 1..t-1 labelled by their task.
function Learner:tir_step(it)
  local o, t, net = self.o, self.t, self.tir
  local x = self.tir_batcher:next()
  local n = x:size(1)
  local mask = self.masks[t]
  local out, dout = self.out:rows(1, n), self.dout:rows(1, n)
  local ycur = self.ycur:rows(1, n):fill(t - 1)
  net:forward(self.W_tir, x, { train = true, out = out })
  local l_cur = hnet.loss.xent(out, ycur, { mask = mask, grad = dout })
  dout:scale(1 - o.l_rew)
  self.dW_tir:zero()
  net:backward(self.W_tir, dout, self.dW_tir)
  local k = (o.batch + t - 2) // (t - 1)
  local m = k * (t - 1)
  for j = 1, t - 1 do
    self.rp:sample(j, k, self.xr:rows((j - 1) * k + 1, j * k))
    self.yr:rows((j - 1) * k + 1, j * k):fill(j - 1)
  end
  local xr, yr = self.xr:rows(1, m), self.yr:rows(1, m)
  out, dout = self.out:rows(1, m), self.dout:rows(1, m)
  net:forward(self.W_tir, xr, { train = true, out = out })
  local l_rep = hnet.loss.xent(out, yr, { mask = mask, grad = dout })
  dout:scale(o.l_rew)
  net:backward(self.W_tir, dout, self.dW_tir)
  local loss = (1 - o.l_rew) * l_cur + o.l_rew * l_rep
  if not common.finite(loss) then
    common.numerical_fault(FNAME, "the task-inference loss", loss, t, it,
      { { "W_tir (task-inference network)", self.W_tir }, { "replayed inputs", xr } },
      ("lower tir_lr (%g)"):format(o.tir_lr))
  end
  self.opt_tir:step(self.W_tir, self.dW_tir)
  return loss, 0
end

function Learner:rp_step(it)
  local x = self.rp_batcher:next()
  return self.rp:train_step(x, function(what, v)
    common.numerical_fault(FNAME, "the replay model's " .. what, v, self.t, it, self.rp:watch("rp"),
      "lower the replay model's learning rates or beta")
  end)
end

function Learner:train_step(it)
  local p = phases.of(it, self.o.iterations)
  if p == 1 then return self.cls:train_step(it) end
  if p == 2 then return self:tir_step(it) end
  return self:rp_step(it)
end

function Learner:end_task(t, task)
  self.cls:end_task(t, task)
  self.in_task = false
end

function Learner:begin_eval(n_seen) self.cls:begin_eval(n_seen) end
function Learner:predict(x, t) return self.cls:predict(x, t) end

--- The task of each row of x among tasks 1..n_seen: the task-inference
-- network's largest output among them.
function Learner:infer_task(x, n_seen)
  local n = x:size(1)
  if n_seen == 1 then
    local r = {}
    for i = 1, n do r[i] = 1 end
    return r
  end
  local out = self.tir:forward(self.W_tir, x, { train = false, out = self.eval_out:rows(1, n) })
  local pred = hnet.loss.argmax(out, { mask = self.masks[n_seen], out = self.pred:rows(1, n) }):flat_table()
  for i = 1, n do
    if pred[i] < 0 then
      common.numerical_fault(FNAME, "the task-inference output", "NaN or Inf", n_seen, 0,
        { { "W_tir (task-inference network)", self.W_tir }, { "x (the evaluated inputs)", x } },
        ("lower tir_lr (%g)"):format(self.o.tir_lr))
    end
    pred[i] = pred[i] + 1
  end
  return pred
end

function Learner:watch()
  local list = self.cls:watch()
  list[#list + 1] = { "W_tir (task-inference network)", self.W_tir }
  if self.rp then
    for _, e in ipairs(self.rp:watch("rp")) do list[#list + 1] = e end
  end
  return list
end

-- ---- state (checkpoints) ------------------------------------------------------------

--- The classifier's state under "cls.", the task-inference network, its
-- optimiser and batcher, the replay model under "rp." and the learner's
-- stream.
function Learner:state()
  local t = self.t or 0
  local s = { kind = "hnet_tir", t = t, in_task = self.in_task or false, W_tir = self.W_tir,
              rng = self.rng:state() }
  phases.put(s, "cls", self.cls:state())
  if self.in_task and active(self, t, 2) then
    common.save_optim(s, "opt_tir", self.opt_tir)
    self.tir_batcher:save_state(s, "tir_batcher")
  end
  if self.rp then
    self.rp:save(s, "rp", self.in_task and active(self, t, 3))
    if self.in_task and active(self, t, 3) then self.rp_batcher:save_state(s, "rp_batcher") end
  end
  return s
end

function Learner:load_state(s, ctx)
  common.check_kind(s, "hnet_tir")
  local t = common.load_int(s, "t", 0, self.info.n_tasks)
  local in_task = s.in_task or false
  if in_task and t < 1 then common.state_error("t", "a task in progress expected") end
  self.cls:load_state(phases.sub(s, "cls"), ctx)
  if in_task then
    local task = ctx.task(t)
    if active(self, t, 2) then
      self.opt_tir = hnet.adam { n = self.n_tir, lr = self.o.tir_lr, beta1 = self.o.beta1, beta2 = self.o.beta2 }
      self.tir_batcher = common.batcher(task.train, self.o.batch, self.rng)
      common.load_optim(s, "opt_tir", self.opt_tir)
      self.tir_batcher:load_state(s, "tir_batcher")
    end
    if active(self, t, 3) then
      self.rp_batcher = common.batcher(task.train, self.o.batch, self.rng)
      self.rp_batcher:load_state(s, "rp_batcher")
    end
  end
  if self.rp then self.rp:load(s, "rp", in_task and active(self, t, 3), t) end
  common.load_tensor(s, "W_tir", self.W_tir)
  common.load_rng(s, "rng", self.rng)
  self.t, self.in_task = t > 0 and t or nil, in_task
end

return M
