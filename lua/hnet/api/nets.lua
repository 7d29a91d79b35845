--- The network constructors and their methods with options, as hnet
-- exports them: hnet.net, hnet.hypernet, hnet.mlp, hnet.lenet, hnet.zenkenet,
-- hnet.Net:forward/backward and hnet.HyperNet:init/embeddings/forward.
--
-- Each C-bound function is wrapped once (M.install, from hnet/init.lua): the
-- wrapper checks the options against the spec below, fills its defaults and
-- calls the C function with the filled table, so the names, bounds and
-- defaults printed by `./hnet help NAME` are the ones in force. The C
-- checks stay as the binding's own guard (hnet.core is usable alone). The
-- per-step methods (forward, backward) only verify (hnet.spec.verify): they
-- pass the caller's table on untouched and allocate nothing, and an absent
-- option takes C's value, which for backward is the last forward's.
local core = require "hnet.core"
local spec = require "hnet.spec"

local M = {}

local ACTS = { "relu", "tanh", "sigmoid", "elu", "identity" }

local LAYERS = [[
layers (a list; a bare string such as "relu" is a layer without arguments):
  {"linear", n_out, bias = true}       {"conv2d", c_out, k = 3, stride = 1, pad = 0, bias = true}
  {"maxpool2d", k, stride = k}          {"avgpool2d", k, stride = k}      {"flatten"}
  {"relu"} {"tanh"} {"sigmoid"} {"identity"} {"elu", alpha = 1}          {"dropout", p}
  {"batchnorm", eps = 1e-5, momentum = 0.1}
  sequences [n, T, F] (T fixed by input = {T, F}; shorter samples through lengths):
  {"embedding", vocab = V, dim = D}     {"rnn"|"lstm"|"gru", hidden = H, output = "all"|"last"}
  an unknown key in a layer is an error naming the layer.]]

M.NET = {
  { name = "input", type = "any", required = true,
    help = "the per-sample shape: a size (784) or a table of 1 to 3 sizes ({1, 28, 28})" },
  { name = "layers", type = "table", required = true, help = "the layer specs, in order (below)" },
  { name = "max_batch", type = "integer", default = 128, min = 1,
    help = "the largest batch; the workspace is planned for it once" },
  { name = "fan", type = "string", default = "in", choices = { "in", "out" },
    help = "the fan of net:init's and net:init_var's He/Kaiming variance" },
}

M.HYPERNET = {
  { name = "outputs", type = "integer", min = 1,
    help = "the size of the generated W (give this or target)" },
  { name = "target", type = "net", help = "the target network; outputs is its n_params (give this or outputs)" },
  { name = "embedding", type = "integer", default = 8, min = 1, help = "task embedding size" },
  { name = "hidden", type = "int_list", default = {}, help = "hidden layer sizes of the hypernetwork" },
  { name = "act", type = "string", default = "elu", choices = ACTS, help = "hidden activation" },
  { name = "alpha", type = "number", default = 1, above = 0, max = 1e6, help = "ELU alpha" },
  { name = "chunk", type = "integer", default = 0, min = 0,
    help = "chunk size of a chunked hypernetwork (0: one full output)" },
  { name = "chunk_embedding", type = "integer", min = 0,
    help = "chunk embedding size (not given: 8 when chunk > 0, else 0)" },
  { name = "max_tasks", type = "integer", default = 1, min = 1,
    help = "task embeddings one forward may take (hypernet:reserve(n) raises it later)" },
}

M.HYPERNET_INIT = {
  { name = "emb_var", type = "number", default = 1, above = 0, help = "variance of the task embeddings the init assumes" },
  { name = "rng", type = "rng", help = "the generator (default: the global one, hnet.seed)" },
  { name = "scheme", type = "string", default = "hyperfan", choices = { "hyperfan", "xavier" },
    help = "hyperfan (Chang et al. 2020: W gets target_var) or xavier (ignores the target)" },
  { name = "max_h_l1", type = "number", default = 0, min = 0,
    help = "hyperfan only: cap the mean |hidden activation| (0: no cap)" },
}

M.HYPERNET_EMBEDDINGS = {
  { name = "var", type = "number", default = 1, min = 0, help = "variance of the normal draw" },
  { name = "rng", type = "rng", help = "the generator (default: the global one, hnet.seed)" },
}

M.HYPERNET_FORWARD = {
  { name = "out", type = "tensor", help = "[n_tasks, n_out] to write W into (default: a new tensor)" },
}

M.HYPERNET_OUTPUT_REG = {
  { name = "targets", type = "tensor", help = "stored targets W* [n_star, n_out] (give this or theta_star)" },
  { name = "rows", type = "any", help = "with targets: the row of targets of each embedding, a list of n 1-based rows (default: row t for embedding t)" },
  { name = "theta_star", type = "tensor", help = "θ* to recompute the targets h(E_t; θ*) from (give this or targets)" },
  { name = "beta", type = "number", min = 0, help = "the regulariser strength β (required; the loss is β/n Σ_t ‖h(E_t; θ) − W*_t‖²)" },
  { name = "dtheta", type = "tensor", help = "[n_params]: the gradient w.r.t. θ is ACCUMULATED into it (default: not computed)" },
}

M.NET_FORWARD = {
  { name = "train", type = "boolean", default = false, help = "training mode (dropout on, batchnorm batch statistics)" },
  { name = "rng", type = "rng", help = "the dropout generator (training; default: the global one)" },
  { name = "stats", type = "tensor", help = "batchnorm running statistics, net:init_stats(); required when the net has batchnorm" },
  { name = "out", type = "tensor", help = "the output tensor to write (default: a new tensor)" },
  { name = "lengths", type = "any",
    help = "a sequence net's valid steps per sample: a tensor or a list of n integers in 1..T (default: all T)" },
}

M.NET_BACKWARD = {
  { name = "dx", type = "tensor", help = "where to write the input gradient (overwritten; default: not computed)" },
  { name = "train", type = "boolean", help = "training mode (default: the last forward's)" },
  { name = "rng", type = "rng", help = "the dropout generator (default: the last forward's)" },
  { name = "stats", type = "tensor", help = "batchnorm statistics (default: the last forward's)" },
  { name = "lengths", type = "any", help = "a sequence net's lengths (default: the last forward's)" },
}

-- ---- Lua network builders ----------------------------------------------------------

local INPUT_HELP = "a size or a per-sample shape table such as {1, 28, 28}"

M.MLP = {
  { name = "inputs", type = "any", required = true, help = "input size, or " .. INPUT_HELP },
  { name = "hidden", type = "int_list", default = {}, help = "hidden layer sizes" },
  { name = "outputs", type = "integer", required = true, min = 1, help = "output size" },
  { name = "act", type = "string", default = "relu", choices = ACTS, help = "hidden activation" },
  { name = "alpha", type = "number", default = 1, min = 1e-6, help = "ELU alpha" },
  { name = "bias", type = "boolean", default = true, help = "linear layers with bias" },
  { name = "dropout", type = "number", default = 0, min = 0, max = 0.999, help = "dropout after each hidden layer (0: none)" },
  { name = "batchnorm", type = "boolean", default = false, help = "batchnorm after each hidden linear layer" },
  { name = "max_batch", type = "integer", default = 128, min = 1, help = "as hnet.net's" },
  { name = "fan", type = "string", default = "in", choices = { "in", "out" }, help = "as hnet.net's" },
}

M.LENET = {
  { name = "input", type = "any", default = { 1, 28, 28 }, help = "{channels, height, width}" },
  { name = "outputs", type = "integer", default = 10, min = 1, help = "output size" },
  { name = "arch", type = "string", choices = { "mnist", "cifar" },
    help = "mnist: channels {20, 50}, fc {500}; cifar: {6, 16}, {120, 84} (default: mnist for one input channel, else cifar)" },
  { name = "channels", type = "int_list", help = "conv channels (default: the arch's)" },
  { name = "fc", type = "int_list", help = "fully connected sizes (default: the arch's)" },
  { name = "act", type = "string", default = "relu", choices = ACTS, help = "activation" },
  { name = "max_batch", type = "integer", default = 128, min = 1, help = "as hnet.net's" },
  { name = "fan", type = "string", default = "in", choices = { "in", "out" }, help = "as hnet.net's" },
}

M.ZENKENET = {
  { name = "input", type = "any", default = { 3, 32, 32 }, help = "{channels, height, width}" },
  { name = "outputs", type = "integer", default = 10, min = 1, help = "output size" },
  { name = "dropout", type = "boolean", default = true, help = "dropout .25 after each conv block, .5 before the last layer" },
  { name = "max_batch", type = "integer", default = 128, min = 1, help = "as hnet.net's" },
  { name = "fan", type = "string", default = "in", choices = { "in", "out" }, help = "as hnet.net's" },
}

local function act_layer(act, alpha)
  if act == "elu" then return { "elu", alpha = alpha or 1 } end
  return { act }
end

local function input_shape(v, fname, key, three)
  if math.type(v) == "integer" and v >= 1 and not three then return { v } end
  if type(v) == "table" and #v >= (three and 3 or 1) and #v <= 3 then return v end
  error(("bad argument #1 to '%s' (field '%s': %s expected, got %s)")
    :format(fname, key, three and "{channels, height, width}" or INPUT_HELP, tostring(v)), 3)
end

--- A multi-layer perceptron (hnet.mlp).
function M.mlp(opts)
  local f = "hnet.mlp"
  local o = spec.check(M.MLP, opts, f)
  local input = input_shape(o.inputs, f, "inputs")
  local layers = {}
  if #input > 1 then layers[#layers + 1] = { "flatten" } end
  for _, h in ipairs(o.hidden) do
    layers[#layers + 1] = { "linear", h, bias = o.bias }
    if o.batchnorm then layers[#layers + 1] = { "batchnorm" } end
    layers[#layers + 1] = act_layer(o.act, o.alpha)
    if o.dropout > 0 then layers[#layers + 1] = { "dropout", o.dropout } end
  end
  layers[#layers + 1] = { "linear", o.outputs, bias = o.bias }
  return core.net { input = input, max_batch = o.max_batch, fan = o.fan, layers = layers }
end

--- LeNet-style convnet (hnet.lenet): conv(k5) -> act -> maxpool 2, per
-- channel count, then fully connected layers.
function M.lenet(opts)
  local f = "hnet.lenet"
  local o = spec.check(M.LENET, opts, f)
  local input = input_shape(o.input, f, "input", true)
  local arch = o.arch or (input[1] == 1 and "mnist" or "cifar")
  local channels = o.channels or (arch == "mnist" and { 20, 50 } or { 6, 16 })
  local fc = o.fc or (arch == "mnist" and { 500 } or { 120, 84 })
  local layers = {}
  for _, c in ipairs(channels) do
    layers[#layers + 1] = { "conv2d", c, k = 5 }
    layers[#layers + 1] = act_layer(o.act)
    layers[#layers + 1] = { "maxpool2d", 2 }
  end
  layers[#layers + 1] = { "flatten" }
  for _, h in ipairs(fc) do
    layers[#layers + 1] = { "linear", h }
    layers[#layers + 1] = act_layer(o.act)
  end
  layers[#layers + 1] = { "linear", o.outputs }
  return core.net { input = input, max_batch = o.max_batch, fan = o.fan, layers = layers }
end

--- The convnet of Zenke et al. (2017) for split CIFAR-10/100 (hnet.zenkenet):
-- [conv3 32 (pad 1), conv3 32, maxpool 2, dropout .25], the same with 64
-- channels, then fc 512, dropout .5, fc outputs.
function M.zenkenet(opts)
  local f = "hnet.zenkenet"
  local o = spec.check(M.ZENKENET, opts, f)
  local input = input_shape(o.input, f, "input", true)
  local layers = {}
  local function add(l) layers[#layers + 1] = l end
  for _, c in ipairs { 32, 64 } do
    add { "conv2d", c, k = 3, pad = 1 }
    add { "relu" }
    add { "conv2d", c, k = 3 }
    add { "relu" }
    add { "maxpool2d", 2 }
    if o.dropout then add { "dropout", 0.25 } end
  end
  add { "flatten" }
  add { "linear", 512 }
  add { "relu" }
  if o.dropout then add { "dropout", 0.5 } end
  add { "linear", o.outputs }
  return core.net { input = input, max_batch = o.max_batch, fan = o.fan, layers = layers }
end

-- ---- wrappers of the C functions --------------------------------------------------

--- hnet.net: checked, defaults filled, then hnet.core.net.
function M.net(opts)
  return core.net(spec.check(M.NET, opts, "hnet.net"))
end

--- hnet.hypernet: checked, defaults filled, then hnet.core.hypernet.
function M.hypernet(opts)
  return core.hypernet(spec.check(M.HYPERNET, opts, "hnet.hypernet"))
end

-- The methods table of the engine type `name` (its metatable's __index).
local function methods_of(name)
  local mt = debug.getregistry()[name]
  assert(type(mt) == "table" and type(mt.__index) == "table", name .. ": the C binding's metatable is missing")
  return mt.__index
end

--- The C functions of the wrapped methods, by help name
-- ("hnet.Net:forward"): what the wrappers call (tests compare the two).
M.C = {}

-- Replace methods[key] by make(the C function), once: a wrapper is a Lua
-- function, so a second install (hnet reloaded) leaves it alone.
local function wrap(methods, type_name, key, make)
  local c = methods[key]
  if debug.getinfo(c, "S").what == "C" then
    M.C[type_name .. ":" .. key] = c
    methods[key] = make(c)
  end
end

--- Wrap the C-bound methods with options (once; called by hnet/init.lua).
function M.install()
  local net, hyper = methods_of("hnet.Net"), methods_of("hnet.HyperNet")
  local NF, NB, HF = M.NET_FORWARD, M.NET_BACKWARD, M.HYPERNET_FORWARD
  local verify = spec.verify
  wrap(net, "hnet.Net", "forward", function(c)
    return function(self, W, x, opts)
      if opts ~= nil then verify(NF, opts, "hnet.Net:forward", 4) end
      return c(self, W, x, opts)
    end
  end)
  wrap(net, "hnet.Net", "backward", function(c)
    return function(self, W, dy, dW, opts)
      if opts ~= nil then verify(NB, opts, "hnet.Net:backward", 5) end
      return c(self, W, dy, dW, opts)
    end
  end)
  wrap(hyper, "hnet.HyperNet", "forward", function(c)
    return function(self, theta, E, opts)
      if opts ~= nil then verify(HF, opts, "hnet.HyperNet:forward", 4) end
      return c(self, theta, E, opts)
    end
  end)
  wrap(hyper, "hnet.HyperNet", "output_reg", function(c)
    local S = M.HYPERNET_OUTPUT_REG
    return function(self, theta, E, opts)
      if opts ~= nil then verify(S, opts, "hnet.HyperNet:output_reg", 4) end
      return c(self, theta, E, opts)
    end
  end)
  wrap(hyper, "hnet.HyperNet", "init", function(c)
    return function(self, theta, target_var, opts)
      return c(self, theta, target_var, spec.check(M.HYPERNET_INIT, opts, "hnet.HyperNet:init", 4))
    end
  end)
  wrap(hyper, "hnet.HyperNet", "embeddings", function(c)
    return function(self, n, opts)
      return c(self, n, spec.check(M.HYPERNET_EMBEDDINGS, opts, "hnet.HyperNet:embeddings", 3))
    end
  end)
end

M.HELP = {
  { name = "hnet.net", sig = "hnet.net(opts) -> net", spec = M.NET, notes = LAYERS,
    about = "a target network: layers over one flat weight vector W given at each call" },
  { name = "hnet.hypernet", sig = "hnet.hypernet(opts) -> hypernet", spec = M.HYPERNET,
    about = "a full or chunked hypernetwork: θ and a task embedding -> the target's W" },
  { name = "hnet.mlp", sig = "hnet.mlp(opts) -> net", spec = M.MLP, about = "a multi-layer perceptron" },
  { name = "hnet.lenet", sig = "hnet.lenet(opts) -> net", spec = M.LENET,
    about = "LeNet-style convnet: conv(k5), act, maxpool 2 per channel count, then fc layers" },
  { name = "hnet.zenkenet", sig = "hnet.zenkenet(opts) -> net", spec = M.ZENKENET,
    about = "the convnet of Zenke et al. (2017) for split CIFAR" },
  { name = "hnet.Net:forward", sig = "net:forward(W, x, opts) -> y", spec = M.NET_FORWARD,
    about = "y = net(x; W) for a batch x [n, in_shape...] (n <= max_batch)" },
  { name = "hnet.Net:backward", sig = "net:backward(W, dy, dW, opts) -> dx", spec = M.NET_BACKWARD,
    about = "back through the last forward: dW ACCUMULATED (nil: skipped), dx overwritten" },
  { name = "hnet.HyperNet:init", sig = "hypernet:init(theta, target_var, opts) -> theta", spec = M.HYPERNET_INIT,
    about = "initialise θ (target_var: n_out variances, e.g. net:init_var(); nil with target = net)" },
  { name = "hnet.HyperNet:embeddings", sig = "hypernet:embeddings(n, opts) -> E [n, embedding]",
    spec = M.HYPERNET_EMBEDDINGS, about = "n task embeddings drawn from N(0, var)" },
  { name = "hnet.HyperNet:output_reg", sig = "hypernet:output_reg(theta, E, opts) -> loss", spec = M.HYPERNET_OUTPUT_REG,
    about = "the output regulariser over the embeddings E [n, embedding], fused: no generated W materialised" },
  { name = "hnet.HyperNet:forward", sig = "hypernet:forward(theta, E, opts) -> W [n_tasks, n_out]",
    spec = M.HYPERNET_FORWARD, about = "generate the target weights of each row of E" },
}

return M
