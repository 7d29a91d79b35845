--- hnet.replay.vae — a conditional variational autoencoder for generative
-- replay whose decoder weights come from its own task-conditioned
-- hypernetwork, protected by the hypernetwork's output regulariser (von
-- Oswald et al., ICLR 2020, HNET+R and HNET+TIR; hypercl's
-- mnist/replay/train_replay.py):
--   encoder  x -> (mu, logvar) [n, 2·latent]: an MLP with weights of its own,
--            shared by all tasks and trained on each task in turn;
--   decoder  [z | c_t] -> x: an MLP whose weights are W_t = h(e_t; θ); the
--            condition c_t is the one-hot of task t in `cond` columns;
--   loss     reconstruction + KL(q(z|x) || N(0, 1)) / n_in + β/(t−1) Σ_{j<t}
--            ‖h(e_j; θ) − W*_j‖² (hnet.hypermodel's regulariser, with the
--            look-ahead of the paper's runs by default). The reconstruction is
--            the Bernoulli cross-entropy of the decoder's logits (inputs in
--            [0, 1]: MNIST) or, with recon = "gaussian", the mean squared
--            error (inputs of any range); both are means over the pixels and
--            the batch, and the KL is divided by the input size, as the
--            reference does.
-- Replay of task t: z ~ N(0, 1), x = σ(decoder_t([z | c_t])) (the mean
-- under "gaussian").
--
--   local vae = require "hnet.replay.vae"
--   local m = vae.new(opts, { input_shape = {1, 28, 28}, n_tasks = 5 })
--   m:begin_task(t)                -- e_t drawn, fresh Adam states, targets fixed
--   local loss, reg = m:train_step(x)          -- x [n, ...] of task t
--   local xs = m:sample(t, n, out)             -- [n, ...] replayed inputs of task t
--   m:save(s, "rp") / m:load(s, "rp")          -- into a learner's state table
local hnet = require "hnet"
local spec = require "hnet.spec"
local hypermodel = require "hnet.hypermodel"

local M = {}

local FNAME = "hnet.replay.vae"

-- The decoder's hypernetwork; defaults: train_args_default.py's split MNIST
-- replay hypernetwork (rp_temb_size, rp_hnet_arch, rp_hnet_act,
-- rp_hyper_chunks, rp_emb_size).
M.HNET = {
  { name = "embedding", type = "integer", default = 96, min = 1, help = "task embedding size" },
  { name = "hidden", type = "int_list", default = { 10, 10 }, help = "hidden layer sizes of the hypernetwork" },
  { name = "act", type = "string", default = "elu", choices = { "relu", "elu", "tanh", "sigmoid", "identity" },
    help = "hidden activation" },
  { name = "alpha", type = "number", default = 1, min = 1e-6, help = "ELU's alpha" },
  { name = "chunk", type = "integer", default = 50000, min = 0,
    help = "weights generated per chunk (0: the full hypernetwork)" },
  { name = "chunk_embedding", type = "integer", default = 96, min = 1, help = "chunk embedding size" },
}

--- The replay model's options (hnet.spec). Defaults: the reference's split
-- MNIST replay (train_args_default.py and train_args_replay.py).
M.OPTIONS = {
  { name = "latent", type = "integer", default = 100, min = 1, help = "latent size (latent_dim)" },
  { name = "cond", type = "integer", default = 100, min = 1,
    help = "condition columns of the decoder's input: the one-hot task (conditional_dim; at least the task count)" },
  { name = "enc_hidden", type = "int_list", default = { 400, 400 }, help = "the encoder MLP's hidden sizes" },
  { name = "dec_hidden", type = "int_list", default = { 400, 400 }, help = "the decoder MLP's hidden sizes" },
  { name = "act", type = "string", default = "relu", choices = { "relu", "elu", "tanh" },
    help = "the encoder's and decoder's activation" },
  { name = "recon", type = "string", default = "bernoulli", choices = { "bernoulli", "gaussian" },
    help = "reconstruction: Bernoulli from logits (inputs in [0, 1]) or squared error" },
  { name = "hnet", type = "table", fields = M.HNET, help = "the decoder's hypernetwork" },
  { name = "beta", type = "number", default = 0.01, min = 0, help = "strength of the decoder hypernetwork's regulariser (rp_beta)" },
  { name = "lookahead", type = "boolean", default = true, help = "the regulariser at θ + Δθ (the reference's default)" },
  { name = "lr", type = "number", default = 1e-3, min = 0, help = "the encoder's Adam learning rate (enc_lr)" },
  { name = "lr_dec", type = "number", default = 1e-3, min = 0, help = "θ's Adam learning rate (dec_lr)" },
  { name = "lr_emb", type = "number", default = 1e-3, min = 0, help = "the task embedding's Adam learning rate (dec_lr_emb)" },
  { name = "beta1", type = "number", default = 0.9, min = 0, max = 0.999999, help = "Adam's first-moment decay" },
  { name = "beta2", type = "number", default = 0.999, min = 0, max = 0.999999999, help = "Adam's second-moment decay" },
  { name = "emb_var", type = "number", default = 1, above = 0, help = "variance of a task embedding's N(0, emb_var) init" },
  { name = "batch", type = "integer", default = 128, min = 1, help = "the largest training or sampling batch" },
  { name = "seed", type = "integer", default = 1, help = "seed of the model's random numbers" },
}

local Model = {}
Model.__index = Model

--- Initialise W as hypercl does its replay networks and classifiers
-- (train_utils_replay.py, train_utils.py): weights of linear and conv
-- layers Xavier-uniform, U(±sqrt(6 / (fan_in + fan_out))), their biases 0;
-- any other parameter (BatchNorm) as net:init draws it.
function M.xavier(net, W, rng)
  net:init(W, rng)
  for _, e in ipairs(net:layout()) do
    local kind, what = e.name:match("^%d+%.(%w+)%.(%w+)$")
    if kind == "linear" or kind == "conv2d" then
      local v = W:rows(e.offset + 1, e.offset + e.numel)
      if what == "weight" then
        local field = 1
        for k = 3, #e.shape do field = field * e.shape[k] end
        local a = math.sqrt(6 / ((e.shape[1] + e.shape[2]) * field))
        v:copy(hnet.rand({ e.numel }, rng)):mul(2 * a):sub(a)
      elseif what == "bias" then
        v:zero()
      end
    end
  end
  return W
end

local function mlp_layers(hidden, act, n_out, sigmoid)
  local layers = {}
  for _, h in ipairs(hidden) do
    layers[#layers + 1] = { "linear", h }
    layers[#layers + 1] = { act }
  end
  layers[#layers + 1] = { "linear", n_out }
  if sigmoid then layers[#layers + 1] = { "sigmoid" } end
  return layers
end

-- The decoder's reconstruction loss of out against the batch (item.y),
-- writing its gradient into dout.
local function recon_loss(kind)
  if kind == "bernoulli" then
    return function(out, item, dout) return hnet.loss.bce_logits(out, item.y, { grad = dout }) end
  end
  return function(out, item, dout) return hnet.loss.mse(out, item.y, { grad = dout }) end
end

--- A new replay model for inputs of info.input_shape and info.n_tasks tasks;
-- the random numbers come from stream `stream` (default 7) of opts.seed.
function M.new(opts, info, stream)
  local o = spec.check(M.OPTIONS, opts, FNAME)
  local n_tasks = info.n_tasks
  if n_tasks > o.cond then
    error(("bad argument #1 to '%s' (field 'cond': %d condition columns cannot code %d tasks; set cond >= %d)")
      :format(FNAME, o.cond, n_tasks, n_tasks), 2)
  end
  local n_in = 1
  for _, s in ipairs(info.input_shape) do n_in = n_in * s end
  local self = setmetatable({ o = o, n_in = n_in, shape = info.input_shape, n_tasks = n_tasks,
                              rng = hnet.rng(o.seed, stream or 7) }, Model)
  local B, d = o.batch, o.latent
  self.enc = hnet.net { input = { n_in }, max_batch = B, layers = mlp_layers(o.enc_hidden, o.act, 2 * d) }
  self.W_enc, self.dW_enc = hnet.tensor(self.enc:n_params()), hnet.tensor(self.enc:n_params())
  M.xavier(self.enc, self.W_enc, self.rng)
  local dec_layers = mlp_layers(o.dec_hidden, o.act, n_in)
  self.model = hypermodel.build {
    fname = FNAME, target = { layers = dec_layers }, input_shape = { d + o.cond }, n_outputs = n_in,
    max_batch = B, hnet = o.hnet, max_tasks = math.max(1, n_tasks), n_embeddings = n_tasks,
    init = { emb_var = o.emb_var, rng = self.rng, scheme = "xavier" } }
  -- The sampler: the decoder's layers (same weight layout) with σ on top
  -- for Bernoulli pixels.
  self.sampler = hnet.net { input = { d + o.cond }, max_batch = B,
                            layers = mlp_layers(o.dec_hidden, o.act, n_in, o.recon == "bernoulli") }
  self.h = hnet.tensor(B, 2 * d)   -- encoder output (mu, logvar)
  self.dh = hnet.tensor(B, 2 * d)
  self.h0 = hnet.tensor(B, 2 * d)  -- the prior N(0, 1): mu = logvar = 0
  self.eps = hnet.tensor(B, d)
  self.zc = hnet.tensor(B, d + o.cond)   -- decoder input [z | c_t]
  self.dzc = hnet.tensor(B, d + o.cond)
  self.rec, self.drec = hnet.tensor(B, n_in), hnet.tensor(B, n_in)
  -- Generated decoder weights per task, valid until θ or E change (the
  -- replay of a step reuses them: the model does not train meanwhile).
  self.Wc, self.fresh = nil, {}
  self.cond_of = 0     -- the task whose one-hot zc's condition columns hold
  self.recon = recon_loss(o.recon)
  self.fault = function(what, v)
    error(("%s: the %s is %s at task %d; lower the learning rates or beta"):format(FNAME, what, tostring(v), self.t), 0)
  end
  return self
end

--- zc's first n rows with task t's one-hot in their condition columns
-- (all rows are kept on one task: a switch rewrites two columns).
function Model:condition(t, n)
  local d, zc, prev = self.o.latent, self.zc, self.cond_of
  if prev ~= t then
    for i = 1, self.o.batch do
      if prev > 0 then zc:set(i, d + prev, 0) end
      zc:set(i, d + t, 1)
    end
    self.cond_of = t
  end
  return zc:rows(1, n)
end

--- Begin training task t: e_t ~ N(0, emb_var), fresh Adam states for the
-- encoder, θ and e_t, and (t > 1, beta > 0) the regulariser's targets for
-- tasks 1..t-1, fixed now.
function Model:begin_task(t)
  local o, m = self.o, self.model
  if t < 1 or t > self.n_tasks then
    error(("%s: task %d is outside 1..%d"):format(FNAME, t, self.n_tasks), 2)
  end
  self.t, self.fresh = t, {}
  self.e = m:draw_embedding(m.E:rows(t, t), o.emb_var, self.rng)
  m:begin(self.e, { lr = o.lr_dec, lr_emb = o.lr_emb, beta1 = o.beta1, beta2 = o.beta2 })
  self.opt_enc = hnet.adam { n = self.W_enc:numel(), lr = o.lr, beta1 = o.beta1, beta2 = o.beta2 }
  self.n_reg = 0
  if t > 1 and o.beta > 0 then
    self.n_reg = t - 1
    self.reg = m:fix_targets(m.E:rows(1, t - 1), { beta = o.beta, lookahead = o.lookahead })
  end
end

--- One training step on a batch x [n, ...] of the current task. Returns the
-- negative ELBO as the reference weighs it (reconstruction + KL / n_in) and
-- the regulariser's value.
function Model:train_step(x, fault)
  local o, m, d = self.o, self.model, self.o.latent
  local n = x:size(1)
  if n > o.batch then error(("%s: a batch of %d rows; the model was built for %d"):format(FNAME, n, o.batch), 2) end
  local xf = x:view(n, self.n_in)
  local h, dh = self.h:rows(1, n), self.dh:rows(1, n)
  self.enc:forward(self.W_enc, xf, { train = true, out = h })
  local kl = hnet.loss.kl_gauss(h, { grad = dh }) / self.n_in
  dh:scale(1 / self.n_in)
  local zc, dzc = self:condition(self.t, n), self.dzc:rows(1, n)
  local eps = self.eps:rows(1, n)
  hnet.vae.reparam(h, self.rng, { out = zc, eps = eps })
  local item = { x = zc, y = xf, out = self.rec:rows(1, n), dout = self.drec:rows(1, n), dx = dzc }
  self.fresh = {}
  local rec, reg = m:step({ item }, { loss = self.recon, rng = self.rng, fault = fault or self.fault })
  hnet.vae.reparam_backward(h, eps, dzc, { grad = dh })
  self.dW_enc:zero()
  self.enc:backward(self.W_enc, dh, self.dW_enc)
  self.opt_enc:step(self.W_enc, self.dW_enc)
  return rec + kl, reg
end

--- n replayed inputs of task t (1 <= t; its embedding trained), into out
-- ([n, ...] of the input shape; nil: a buffer of the model's, valid until
-- the next call). z ~ N(0, 1) from the model's stream.
function Model:sample(t, n, out)
  local o, d = self.o, self.o.latent
  if n < 1 or n > o.batch then
    error(("%s: sample of %d rows; 1..%d (the model's batch) expected"):format(FNAME, n, o.batch), 2)
  end
  local m = self.model
  if not self.Wc then self.Wc = hnet.tensor(self.n_tasks, m.n_w) end
  local W = self.Wc:rows(t, t)
  if not self.fresh[t] then
    m:generate(m.E:rows(t, t), W)
    self.fresh[t] = true
  end
  local zc = self:condition(t, n)
  hnet.vae.reparam(self.h0:rows(1, n), self.rng, { out = zc, eps = self.eps:rows(1, n) })
  local flat = out and out:view(n, self.n_in) or nil
  local y = self.sampler:forward(W, zc, { train = false, out = flat })
  local shape = { n }
  for _, s in ipairs(self.shape) do shape[#shape + 1] = s end
  return out or y:view(shape)
end

--- The trainable tensors, for a numerical watch.
function Model:watch(prefix)
  return { { prefix .. ".theta (replay hypernetwork)", self.model.theta }, { prefix .. ".E", self.model.E },
           { prefix .. ".W_enc (replay encoder)", self.W_enc } }
end

--- Put what is needed to continue into the state table s under prefix:
-- θ, the embeddings, the encoder, the stream; within a task (in_task) the
-- optimisers and the regulariser's targets.
function Model:save(s, prefix, in_task)
  local m = self.model
  s[prefix .. ".theta"], s[prefix .. ".E"], s[prefix .. ".W_enc"] = m.theta, m.E, self.W_enc
  s[prefix .. ".rng"] = self.rng:state()
  if in_task then
    local common = require "hnet.learners.common"
    common.save_optim(s, prefix .. ".opt_theta", m.opt_theta)
    common.save_optim(s, prefix .. ".opt_e", m.opt_e)
    common.save_optim(s, prefix .. ".opt_enc", self.opt_enc)
    if self.n_reg > 0 then -- the regulariser's targets: stored, or the θ* they come from
      local r = self.reg
      s[prefix .. (r.store and ".Wstar" or ".theta_star")] = r.store and r.Wstar_prev or r.theta_star
    end
  end
end

--- Restore what save put under prefix; in_task: task t in progress (it is
-- begun again, then everything it drew is overwritten).
function Model:load(s, prefix, in_task, t)
  local common = require "hnet.learners.common"
  local m = self.model
  if in_task then self:begin_task(t) end
  common.load_tensor(s, prefix .. ".theta", m.theta)
  common.load_tensor(s, prefix .. ".E", m.E)
  common.load_tensor(s, prefix .. ".W_enc", self.W_enc)
  common.load_rng(s, prefix .. ".rng", self.rng)
  if in_task then
    common.load_optim(s, prefix .. ".opt_theta", m.opt_theta)
    common.load_optim(s, prefix .. ".opt_e", m.opt_e)
    common.load_optim(s, prefix .. ".opt_enc", self.opt_enc)
    if self.n_reg > 0 then
      local r = self.reg
      common.load_tensor(s, prefix .. (r.store and ".Wstar" or ".theta_star"), r.store and r.Wstar_prev or r.theta_star)
    end
  end
  self.fresh = {} -- θ and E replaced
end

return M
