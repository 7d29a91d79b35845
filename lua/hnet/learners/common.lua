--- Shared pieces of the learners: target-network specs, mini-batch sampling,
-- option defaults. Per-sample and per-weight work stays in C; this file only
-- decides what to call.
local hnet = require "hnet"
local spec = require "hnet.spec"

local M = {}

--- The options every learner shares (hnet.spec entries), checked when the
-- learner is made (a bad value must not surface later, inside a kernel):
-- Adam's beta1 and beta2 take the ranges hnet.adam takes. A learner's spec
-- is spec.extend(common.SHARED, { its own entries }).
M.SHARED = {
  { name = "target", type = "any", default = { "mlp", hidden = { 100, 100 } },
    help = 'the target network: { "mlp", hidden = {...}, act =, dropout =, batchnorm = }, { "lenet", ... }, { "zenkenet", ... }, { "rnn", cell =, hidden = {...}, vocab =, embedding =, output = } (sequences; `./hnet help target.rnn`) or { layers = {...} } (checked at setup)' },
  { name = "lr", type = "number", default = 1e-3, min = 0, help = "Adam learning rate" },
  { name = "beta1", type = "number", default = 0.9, min = 0, max = 0.999999, help = "Adam's first-moment decay" },
  { name = "beta2", type = "number", default = 0.999, min = 0, max = 0.999999999, help = "Adam's second-moment decay" },
  { name = "batch", type = "integer", default = 32, min = 1, help = "training mini-batch size" },
  { name = "iterations", type = "integer", default = 1000, min = 0, help = "training iterations per task" },
  { name = "eval_batch", type = "integer", default = 1000, min = 1, help = "largest evaluation batch" },
  { name = "seed", type = "integer", default = 1, help = "seed of the learner's random numbers (init, batches)" },
}

--- Gradient-norm clipping, an option of the hypernetwork learner and the
-- baselines: the reference runs (Ehret et al., ICLR 2021, mariacer/cl_in_rnns)
-- apply torch.nn.utils.clip_grad_norm_ to the gradient of the total loss
-- over every parameter their one optimiser trains, just before its step.
M.RESET_OPTIMISER = { name = "reset_optimiser", type = "boolean", default = true,
  help = "a fresh Adam state at the start of each task; false: the moments and step count carry over, as in van de Ven & Tolias's baselines (their default optimiser)" }

M.CLIP_GRAD_NORM = { name = "clip_grad_norm", type = "number", default = 0, min = 0,
  help = "before each optimiser step, scale the gradients of all trained parameters together (task loss plus regulariser or penalty) so that their joint L2 norm is at most this, as the reference's --clip_grad_norm; 0: off" }

--- The options of a recurrent target, { "rnn", ... } (hnet.spec): an
-- optional token embedding, stacked recurrent layers (every one but the
-- last returns all its steps), and a linear read-out applied at the last
-- valid step (output = "last": sequence classification) or at every step
-- (output = "all": per-step outputs such as the Copy Task's bits).
M.RNN_TARGET = {
  { name = "cell", type = "string", default = "rnn", choices = { "rnn", "lstm", "gru" },
    help = "the recurrent layer: Elman (tanh), LSTM or GRU" },
  { name = "hidden", type = "int_list", default = { 256 }, help = "hidden units of each stacked recurrent layer" },
  { name = "vocab", type = "integer", min = 1,
    help = "token inputs: the vocabulary size (inputs [T] of ids 0..vocab-1); nil for feature inputs [T, F]" },
  { name = "embedding", type = "integer", default = 32, min = 1, help = "the token embedding's size (with vocab)" },
  { name = "output", type = "string", default = "last", choices = { "last", "all" },
    help = "read out the state after each sample's last valid step, or every step" },
}

-- A recurrent target's layer list for per-sample input `input` ({T} token
-- ids or {T, F} features) and n_out outputs (per step with output = "all").
local function rnn_layers(spec_in, input, n_out, fname)
  local o = {}
  for k, v in pairs(spec_in) do if k ~= 1 then o[k] = v end end
  o = spec.check(M.RNN_TARGET, o, fname .. " (field 'target')", 1, 4)
  local tokens = o.vocab ~= nil
  if tokens and #input ~= 1 then
    error(("bad argument #1 to '%s' (field 'target': vocab = %d needs token inputs of shape {T}, the tasks give {%s}; drop vocab for feature inputs)")
      :format(fname, o.vocab, table.concat(input, ", ")), 4)
  elseif not tokens and #input ~= 2 then
    error(("bad argument #1 to '%s' (field 'target': a recurrent target reads inputs {T, F}, the tasks give {%s}; token ids {T} need vocab =)")
      :format(fname, table.concat(input, ", ")), 4)
  end
  local layers = {}
  if tokens then layers[1] = { "embedding", vocab = o.vocab, dim = o.embedding } end
  for i, h in ipairs(o.hidden) do
    layers[#layers + 1] = { o.cell, hidden = h, output = i == #o.hidden and o.output or "all" }
  end
  layers[#layers + 1] = { "linear", n_out }
  return layers
end

--- Build a target network for `input` (per-sample shape) with n_out outputs.
-- spec: { "mlp", hidden = {100, 100}, act = "relu", dropout = 0, batchnorm = false }
--       { "lenet", ... } | { "zenkenet", ... }  (hnet.lenet / hnet.zenkenet options)
--       { "rnn", cell =, hidden =, vocab =, embedding =, output = }  (M.RNN_TARGET)
--       { layers = {...} }  (a full hnet.net layer list whose output must be
--                            n_out, or [T, n_out] per step)
function M.target_net(spec, input, n_out, max_batch, fname)
  fname = fname or "learner"
  if type(spec) ~= "table" then
    error(("bad argument #1 to '%s' (field 'target': a network spec table expected, got %s)")
      :format(fname, type(spec)), 3)
  end
  local kind = spec[1] or (spec.layers and "layers")
  local o = {}
  for k, v in pairs(spec) do if k ~= 1 then o[k] = v end end
  if kind == "mlp" then
    o.inputs, o.outputs, o.max_batch = input, n_out, max_batch
    return hnet.mlp(o)
  elseif kind == "lenet" or kind == "zenkenet" then
    o.input, o.outputs, o.max_batch = input, n_out, max_batch
    return hnet[kind](o)
  elseif kind == "layers" or kind == "rnn" then
    local layers = kind == "rnn" and rnn_layers(spec, input, n_out, fname) or spec.layers
    local net = hnet.net { input = input, max_batch = max_batch, layers = layers, fan = spec.fan }
    local out = net:out_shape()
    if out[#out] ~= n_out or #out > 2 or (#out == 2 and out[1] ~= net:seq_len()) then
      error(("bad argument #1 to '%s' (field 'target': the network gives outputs {%s}, the tasks need %d (or %d per step))")
        :format(fname, table.concat(out, ", "), n_out, n_out), 3)
    end
    return net
  end
  error(("bad argument #1 to '%s' (field 'target': unknown network kind '%s'; use \"mlp\", \"lenet\", \"zenkenet\", \"rnn\" or layers = {...})")
    :format(fname, tostring(kind)), 3)
end

--- Mini-batches drawn without replacement, reshuffled each epoch.
-- The batch tensors are allocated once and refilled in C (gather) each step.
local Batcher = {}
Batcher.__index = Batcher

function M.batcher(data, batch, rng, part)
  local n = data.x:size(1)
  local b = math.min(batch, n)
  -- part = { lo =, hi = }: only rows lo..hi of each batch are gathered (a
  -- rank's share in a run distributed by data); the order is drawn whole.
  local lo, hi = part and part.lo or 1, part and part.hi or b
  local k = hi - lo + 1
  local xs, ys = data.x:shape(), data.y:shape()
  xs[1], ys[1] = k, k
  local self = setmetatable({
    data = data, n = n, batch = b, rng = rng, pos = n + 1, order = nil, lo = lo, k = k,
    idx = {}, x = hnet.tensor(xs), y = hnet.tensor(ys),
    lengths = data.lengths and hnet.tensor(k) or nil,
  }, Batcher)
  for i = 1, k do self.idx[i] = i end
  return self
end

--- The next batch: x, y and the per-sample sequence lengths (nil when the
-- data have none); the same tensors every call, refilled.
function Batcher:next()
  if self.pos + self.batch - 1 > self.n then
    self.order = self.rng:permutation(self.n)
    self.pos = 1
  end
  local idx, order, p = self.idx, self.order, self.pos
  for i = 1, self.k do idx[i] = order[p + self.lo + i - 2] end
  self.pos = p + self.batch
  hnet.transform.gather(self.data.x, idx, { out = self.x })
  hnet.transform.gather(self.data.y, idx, { out = self.y })
  if self.lengths then hnet.transform.gather(self.data.lengths, idx, { out = self.lengths }) end
  return self.x, self.y, self.lengths
end

--- The batcher's position for a checkpoint: s[prefix .. ".order"] (the
-- epoch's order, absent before the first batch) and s[prefix .. ".pos"].
function Batcher:save_state(s, prefix)
  s[prefix .. ".order"] = self.order
  s[prefix .. ".pos"] = self.pos
end

--- Restore what save_state stored (the data must be the same task's).
function Batcher:load_state(s, prefix)
  local order, pos = s[prefix .. ".order"], s[prefix .. ".pos"]
  if math.type(pos) ~= "integer" or pos < 1 or pos > self.n + 1 then
    M.state_error(prefix .. ".pos", "a position in 1..%d expected, got %s", self.n + 1, tostring(pos))
  end
  if order ~= nil then
    if type(order) ~= "table" or #order ~= self.n then
      M.state_error(prefix .. ".order", "an order of the task's %d training samples expected, got %s entries",
                    self.n, type(order) == "table" and #order or type(order))
    end
    local seen = {}
    for i = 1, self.n do
      local v = order[i]
      if math.type(v) ~= "integer" or v < 1 or v > self.n or seen[v] then
        M.state_error(prefix .. ".order", "not a permutation of 1..%d (entry %d is %s)", self.n, i, tostring(v))
      end
      seen[v] = true
    end
  elseif pos ~= self.n + 1 then
    M.state_error(prefix .. ".order", "missing although the position is %d", pos)
  end
  self.order, self.pos = order, pos
end

-- ---- learner state (checkpoints) ---------------------------------------------------

--- Raise an error about a learner state entry that does not fit this learner.
function M.state_error(name, fmt, ...)
  error(("learner state '%s' does not fit this learner: %s (was the checkpoint written with other options?)")
    :format(name, fmt:format(...)), 0)
end

--- Copy the state's tensor `name` into dst (same number of elements).
function M.load_tensor(s, name, dst)
  local src = s[name]
  local mt = type(src) == "userdata" and getmetatable(src)
  if not (mt and mt.__name == "hnet.Tensor") then
    M.state_error(name, "a tensor expected, got %s", type(src))
  end
  if src:numel() ~= dst:numel() then
    M.state_error(name, "%s expected, got %s", tostring(dst), tostring(src))
  end
  dst:copy(src:view(dst:shape()))
end

--- The state's integer `name` (lo <= value <= hi).
function M.load_int(s, name, lo, hi)
  local v = s[name]
  if math.type(v) ~= "integer" or (lo and v < lo) or (hi and v > hi) then
    M.state_error(name, "an integer in [%s, %s] expected, got %s", tostring(lo), tostring(hi), tostring(v))
  end
  return v
end

--- Optimiser state: s[name .. ".moments"], s[name .. ".step"].
function M.save_optim(s, name, opt)
  s[name .. ".moments"], s[name .. ".step"] = opt:state()
end

function M.load_optim(s, name, opt)
  local t = s[name .. ".moments"]
  local mt = type(t) == "userdata" and getmetatable(t)
  if not (mt and mt.__name == "hnet.Tensor") then
    M.state_error(name .. ".moments", "a tensor of optimiser moments expected, got %s", type(t))
  end
  local step = M.load_int(s, name .. ".step", 0)
  local ok, err = pcall(opt.set_state, opt, t, step)
  if not ok then M.state_error(name .. ".moments", "%s", tostring(err)) end
end

--- RNG state (four 64-bit words).
function M.load_rng(s, name, rng)
  local st = s[name]
  if type(st) ~= "table" or #st ~= 4 then M.state_error(name, "4 words of RNG state expected") end
  rng:set_state(st)
end

--- Check the state was written by a learner of this name.
function M.check_kind(s, name)
  if s.kind ~= name then
    error(("the checkpoint holds the state of a '%s' learner, not of '%s'"):format(tostring(s.kind), name), 0)
  end
end

-- ---- numerical faults ----------------------------------------------------------------

--- Raise the error for a non-finite value: `what` ("the task loss") is v at
-- task t, iteration it; `tensors` is a list of { name, tensor } checked for
-- NaN/Inf to say where it came from; `hint` says what to change. The message
-- starts with "numerical fault:" (hnet.run recognises it).
function M.numerical_fault(fname, what, v, t, it, tensors, hint)
  local bad = {}
  for _, e in ipairs(tensors or {}) do
    if e[2] and not e[2]:all_finite() then bad[#bad + 1] = e[1] end
  end
  local where = #bad > 0 and ("; tensors holding NaN or Inf: " .. table.concat(bad, ", "))
    or "; every parameter tensor is finite"
  error(("numerical fault: %s: %s is %s at task %d, iteration %d%s. Hint: %s")
    :format(fname, what, tostring(v), t, it, where, hint), 0)
end

--- Is v a finite number?
function M.finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

--- Clip a gradient by its norm: when the joint L2 norm ‖g‖ of the tensors
-- in grads (a list) exceeds c > 0, scale each by c/‖g‖ (torch's
-- clip_grad_norm_ divides by ‖g‖ + 1e-6; the difference is below float
-- rounding for any ‖g‖ > c). Each squared norm is a fixed-block reduction in
-- double (t:sqnorm, hn_ops_sqnorm), summed in list order: the same bits at
-- any thread count. Returns ‖g‖ before clipping. A non-finite norm leaves
-- the gradients as they are, so that the optimiser step carries the NaN or
-- Inf to the run's watch, which names the tensor (scaling by c/Inf = 0
-- would hide it).
function M.clip_grad_norm(c, grads)
  local s = 0
  for _, g in ipairs(grads) do s = s + g:sqnorm() end
  local norm = math.sqrt(s)
  if norm > c and norm < math.huge then
    local k = c / norm
    for _, g in ipairs(grads) do g:scale(k) end
  end
  return norm
end

--- Call fn(x_view, y_view, first_row, lengths_view) over the rows of data
-- in slices of at most `size` rows (views: no copies; lengths_view nil when
-- the data have no lengths).
function M.each_slice(data, size, fn)
  local n = data.x:size(1)
  local L = data.lengths
  local i = 1
  while i <= n do
    local j = math.min(n, i + size - 1)
    fn(data.x:rows(i, j), data.y:rows(i, j), i, L and L:rows(i, j))
    i = j + 1
  end
end

--- Output buffers [rows, out...] for a net whose per-sample output shape is
-- `out` ({k}, or {T, k} per step).
function M.out_buffer(rows, out)
  local shape = { rows }
  for i = 1, #out do shape[i + 1] = out[i] end
  return hnet.tensor(shape)
end

--- The task loss of a batch: cross-entropy (classification, with the head
-- mask), MSE (regression) or the per-bit sigmoid cross-entropy over scored
-- steps (bits, on the head whose first column is `offset`, 0-based); writes
-- its gradient into dout.
function M.task_loss(kind, out, y, dout, mask, offset)
  if kind == "regression" then return hnet.loss.mse(out, y, { grad = dout }) end
  if kind == "bits" then return (hnet.loss.bits(out, y, { grad = dout, offset = offset or 0 })) end
  return hnet.loss.xent(out, y, { mask = mask, grad = dout })
end

return M
