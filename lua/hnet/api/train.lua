--- The optimisers and losses as hnet exports them: hnet.adam, hnet.sgd and
-- hnet.loss.* are thin wrappers of hnet.core's that check the options
-- against the specs below (the ones `./hnet help NAME` prints) before the C
-- function runs. The optimisers fill their defaults (the engine's,
-- hn_optim_defaults; tests/test_lua_help.c fails if they drift apart). The
-- losses run every step: they only verify (hnet.spec.verify), allocate
-- nothing, and pass the caller's table on.
local core = require "hnet.core"
local spec = require "hnet.spec"

local M = {}

local N_HELP = "the number of parameters (required unless a parameter tensor is the first argument, then not allowed)"

M.ADAM = {
  { name = "n", type = "integer", min = 1, help = N_HELP },
  { name = "lr", type = "number", default = 1e-3, min = 0, help = "learning rate" },
  { name = "beta1", type = "number", default = 0.9, min = 0, max = 0.999999, help = "first-moment decay" },
  { name = "beta2", type = "number", default = 0.999, min = 0, max = 0.999999999, help = "second-moment decay" },
  { name = "eps", type = "number", default = 1e-8, above = 0, help = "added to the root of the second moment" },
  { name = "weight_decay", type = "number", default = 0, min = 0, help = "L2 decay added to the gradient" },
}

M.SGD = {
  { name = "n", type = "integer", min = 1, help = N_HELP },
  { name = "lr", type = "number", default = 1e-2, min = 0, help = "learning rate" },
  { name = "momentum", type = "number", default = 0, min = 0, max = 0.999999, help = "heavy-ball momentum" },
  { name = "weight_decay", type = "number", default = 0, min = 0, help = "L2 decay added to the gradient" },
}

-- hnet.adam{ n = ... } or hnet.adam(tensor, opts): the options are
-- argument #1 or #2; n is given by exactly one of them.
local function optimiser(c, s, fname)
  return function(a, b)
    if type(a) == "table" then
      if a.n == nil then error(("bad argument #1 to '%s' (field 'n' (the number of parameters) is required)"):format(fname), 2) end
      return c(spec.check(s, a, fname))
    end
    if type(b) == "table" and b.n ~= nil then
      error(("bad argument #2 to '%s' (field 'n': not allowed when a parameter tensor gives the size)"):format(fname), 2)
    end
    return c(a, spec.check(s, b, fname, 2))
  end
end

M.adam = optimiser(core.adam, M.ADAM, "hnet.adam")
M.sgd = optimiser(core.sgd, M.SGD, "hnet.sgd")

local MASK_HELP = "the head in use: a list of n_classes 0/1 values (or booleans) or a tensor of n_classes values (nonzero: in the head)"

M.LOSS = {
  xent = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "grad", type = "tensor", help = "written with the gradient of the mean loss w.r.t. logits (overwritten)" },
  },
  mse = { { name = "grad", type = "tensor", help = "written with the gradient of the mean loss w.r.t. y (overwritten)" } },
  gauss_nll = { { name = "grad", type = "tensor", help = "written with the gradient of the mean loss w.r.t. y (overwritten)" } },
  accuracy = { { name = "mask", type = "any", help = MASK_HELP } },
  argmax = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "out", type = "tensor", help = "[n] to write the 0-based classes into (default: a new tensor)" },
  },
  entropy = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "out", type = "tensor", help = "[n] to write the entropies into (default: a new tensor)" },
  },
  max_prob = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "out", type = "tensor", help = "[n] to write the probabilities into (default: a new tensor)" },
  },
  max_logprob = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "out", type = "tensor", help = "[n] to write the log-probabilities into (default: a new tensor)" },
  },
  logsumexp = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "out", type = "tensor", help = "[n] to write the values into (default: a new tensor)" },
  },
  bce_logits = { { name = "grad", type = "tensor", help = "written with the gradient of the mean loss w.r.t. the logits (overwritten)" } },
  kl_gauss = { { name = "grad", type = "tensor", help = "[n, 2d] written with the gradient w.r.t. (mu, logvar) (overwritten)" } },
  bits = { { name = "grad", type = "tensor",
             help = "written with the gradient w.r.t. y, 0 where not scored and outside the head (overwritten)" },
           { name = "offset", type = "integer", default = 0, min = 0,
             help = "the head's first column in y's last dimension (0-based): target's column j is y's offset + j" } },
  kd = {
    { name = "mask", type = "any", help = MASK_HELP },
    { name = "temperature", type = "number", default = 2, above = 0, help = "the softmax temperature T (the loss is scaled by T^2)" },
    { name = "grad", type = "tensor", help = "written with the gradient w.r.t. the logits (overwritten)" },
  },
}

M.VAE = {
  reparam = {
    { name = "eps", type = "tensor", help = "[n, d] to write the normal draws into (default: a new tensor)" },
    { name = "out", type = "tensor", help = "[n, >= d] whose first d columns get the sample (default: a new [n, d])" },
  },
  reparam_backward = {
    { name = "grad", type = "tensor", help = "[n, 2d] the gradient is ACCUMULATED into (default: a new zero tensor)" },
  },
}

local verify = spec.verify
local function two_args(c, s, fname)
  return function(x, y, opts)
    if opts ~= nil then verify(s, opts, fname, 3) end
    return c(x, y, opts)
  end
end
local function one_arg(c, s, fname)
  return function(x, opts)
    if opts ~= nil then verify(s, opts, fname, 2) end
    return c(x, opts)
  end
end

--- hnet.loss: hnet.core.loss's functions, those with options wrapped (a
-- function without a spec here is passed on as it is, so that it still
-- exists; tests/test_lua_help.c's coverage test then asks for its help).
M.loss = {}
for k, f in pairs(core.loss) do M.loss[k] = f end
for _, k in ipairs { "xent", "mse", "gauss_nll", "accuracy", "bce_logits", "kd", "bits" } do
  M.loss[k] = two_args(core.loss[k], M.LOSS[k], "hnet.loss." .. k)
end
for _, k in ipairs { "argmax", "entropy", "max_prob", "max_logprob", "logsumexp", "kl_gauss" } do
  M.loss[k] = one_arg(core.loss[k], M.LOSS[k], "hnet.loss." .. k)
end

--- hnet.vae: the reparameterised sample, wrapped the same way.
M.vae = {}
for k, f in pairs(core.vae) do M.vae[k] = f end
M.vae.reparam = two_args(core.vae.reparam, M.VAE.reparam, "hnet.vae.reparam")
M.vae.reparam_backward = function(h, eps, dz, opts)
  if opts ~= nil then verify(M.VAE.reparam_backward, opts, "hnet.vae.reparam_backward", 4) end
  return core.vae.reparam_backward(h, eps, dz, opts)
end

M.HELP = {
  { name = "hnet.adam", sig = "hnet.adam(opts) or hnet.adam(param, opts) -> optim", spec = M.ADAM,
    about = "Adam over one flat vector (hnet.Optim: step, delta, lookahead, reset, lr, state, set_state)" },
  { name = "hnet.sgd", sig = "hnet.sgd(opts) or hnet.sgd(param, opts) -> optim", spec = M.SGD,
    about = "SGD with momentum over one flat vector" },
  { name = "hnet.loss.xent", sig = "hnet.loss.xent(logits, labels, opts) -> loss", spec = M.LOSS.xent,
    about = "mean softmax cross-entropy; labels [n] hold 0-based classes" },
  { name = "hnet.loss.mse", sig = "hnet.loss.mse(y, target, opts) -> loss", spec = M.LOSS.mse,
    about = "mean squared error" },
  { name = "hnet.loss.gauss_nll", sig = "hnet.loss.gauss_nll(y, target, opts) -> loss", spec = M.LOSS.gauss_nll,
    about = "Gaussian negative log-likelihood; y holds means then log-variances" },
  { name = "hnet.loss.accuracy", sig = "hnet.loss.accuracy(logits, labels, opts) -> fraction, count",
    spec = M.LOSS.accuracy, about = "the fraction (and count) of rows whose argmax is the label" },
  { name = "hnet.loss.argmax", sig = "hnet.loss.argmax(logits, opts) -> tensor [n]", spec = M.LOSS.argmax,
    about = "the 0-based predicted class of each row (-1 for a row with NaN or Inf)" },
  { name = "hnet.loss.entropy", sig = "hnet.loss.entropy(logits, opts) -> tensor [n]", spec = M.LOSS.entropy,
    about = "the softmax entropy of each row" },
  { name = "hnet.loss.max_prob", sig = "hnet.loss.max_prob(logits, opts) -> tensor [n]", spec = M.LOSS.max_prob,
    about = "the largest softmax probability of each row (NaN for a row with NaN or Inf)" },
  { name = "hnet.loss.max_logprob", sig = "hnet.loss.max_logprob(logits, opts) -> tensor [n]", spec = M.LOSS.max_logprob,
    about = "the log of the largest softmax probability of each row, exact where that probability rounds to 1 in float (NaN for a row with NaN or Inf)" },
  { name = "hnet.loss.logsumexp", sig = "hnet.loss.logsumexp(logits, opts) -> tensor [n]", spec = M.LOSS.logsumexp,
    about = "log Σ exp of each row's logits (its negative: the energy score)" },
  { name = "hnet.loss.bce_logits", sig = "hnet.loss.bce_logits(x, target, opts) -> loss", spec = M.LOSS.bce_logits,
    about = "mean Bernoulli cross-entropy of logits x against targets in [0, 1]" },
  { name = "hnet.loss.kl_gauss", sig = "hnet.loss.kl_gauss(h, opts) -> loss", spec = M.LOSS.kl_gauss,
    about = "mean over rows of KL(N(mu, e^logvar) || N(0, 1)) summed over latents; h [n, 2d] = (mu, logvar)" },
  { name = "hnet.loss.kd", sig = "hnet.loss.kd(logits, target_logits, opts) -> loss", spec = M.LOSS.kd,
    about = "knowledge distillation: T^2 · cross-entropy of the softened softmaxes" },
  { name = "hnet.loss.bits", sig = "hnet.loss.bits(y, target, opts) -> loss, n_correct, n_scored", spec = M.LOSS.bits,
    about = "per-bit sigmoid cross-entropy of sequence outputs (a target < 0 is not scored), summed per sample, averaged over samples; the per-bit counts" },
  { name = "hnet.vae.reparam", sig = "hnet.vae.reparam(h, rng, opts) -> z, eps", spec = M.VAE.reparam,
    about = "z = mu + exp(logvar / 2) · eps with eps drawn from rng; h [n, 2d] = (mu, logvar)" },
  { name = "hnet.vae.reparam_backward", sig = "hnet.vae.reparam_backward(h, eps, dz, opts) -> dh",
    spec = M.VAE.reparam_backward, about = "the sample's gradient w.r.t. (mu, logvar), accumulated" },
}

return M
