--- hnet.fewshot — learning a new task from a few examples: by optimising
-- only a new task embedding of a frozen hypernetwork, by fine-tuning a
-- network's weights, or by training a network from scratch; multi-task
-- training of a hypernetwork (one embedding per training task) and of a
-- plain network; means with 95% confidence intervals.
--
-- A few-shot *problem* is a Lua table
--   { x = support inputs [k, ...], y = support targets, xq = query inputs, yq = query targets }
-- with targets [n, n_out] for kind = "regression" (mean squared error; the
-- metric is the query MSE) or 0-based labels [n] for kind = "classification"
-- (cross-entropy; the metric is the query accuracy in %).
--
--   local fs = require "hnet.fewshot"
--   local r = fs.adapt_embeddings{ hypernet = h, theta = theta, net = net, problems = P,
--     init = e_mean, steps = 100, lr = 0.1, optimizer = "sgd", record = {0, 1, 10, 100},
--     kind = "regression", group = 100, backtrack = false }  -- backtrack: see adapt_embeddings
--   -- r.metric[10][i]: problem i's query metric after 10 steps; r.E: final embeddings
--   local s = fs.train_weights{ net = net, init = W0 (nil: random init), rng = r,
--     problems = P, steps = 1000, lr = 1e-3, optimizer = "adam", record = {1, 10, 1000},
--     kind = "regression" }
--   fs.train_hypernet{ hypernet =, theta =, net =, E =, sample = fn(it) -> batch,
--     iterations =, lr =, lr_emb =, kind =, progress = }      -- multi-task, in place
--   fs.train_net{ net =, W =, sample = fn(it) -> batch, iterations =, lr =, kind = }
--   -- r.diverged[i]: whether problem i's adaptation diverged (fs.diverged)
--   local c = fs.ci95(values)  -- { mean =, half =, sd =, n = }; fs.fmt_ci(c, "%.3f")
--   local st = fs.stats(r.metric[10], r.diverged) -- over the converged problems:
--                              -- { mean, half, sd, n, median, n_diverged, n_total }
--   fs.fmt_values(r.metric[10], "%.3f", r.diverged) -- "mean ± half (k/N diverged)"
--   local lr, tried = fs.choose_lr({ 0.01, 0.1 }, 100, function(lr) return ... end)
--                              -- the best lr on validation problems that none diverges at
--
-- adapt_embeddings never writes θ: it passes no θ-gradient buffer to the
-- hypernetwork's backward pass and updates only the new embeddings, so the
-- hypernetwork is bit-for-bit the same afterwards (tests/test_lua_fewshot.c
-- checks this). Problems are adapted in groups of `group`: one batched
-- hypernetwork pass per step generates every problem's weights (θ frozen, so
-- each row's gradient depends on its own embedding only and batching changes
-- nothing but speed); the target network then runs once per problem, which
-- is per task, not per sample. Adam is elementwise, so one Adam over the
-- [group, d] embedding block is an independent Adam per problem.
local hnet = require "hnet"
local spec = require "hnet.spec"
local metrics = require "hnet.metrics"
local hypermodel = require "hnet.hypermodel"

local M = {}

-- ---- statistics (hnet.fewshot.stats) ----------------------------------------------------

local stats = require "hnet.fewshot.stats"
for _, k in ipairs { "ci95", "fmt_ci", "diverged", "n_diverged", "stats", "fmt_values", "choose_lr" } do
  M[k] = stats[k]
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- ---- losses and metrics -------------------------------------------------------------

local KINDS = { "regression", "classification" }

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and mt and mt.__name == "hnet.Tensor"
end

-- Loss of out against y; writes d(loss)/d(out) into dout.
local loss_grad = hypermodel.loss_grad
M.loss_grad = loss_grad

--- The query metric of weights W on (x, y): MSE for regression, accuracy in %
-- for classification; evaluated in slices of the net's max batch.
function M.evaluate(net, W, x, y, kind)
  local n, mb = x:size(1), net:max_batch()
  local n_out = net:out_shape()[1]
  local sum = 0
  for a = 1, n, mb do
    local b = math.min(n, a + mb - 1)
    local xs, ys = x:rows(a, b), y:rows(a, b)
    local out = net:forward(W, xs, { train = false })
    if kind == "regression" then
      sum = sum + hnet.loss.mse(out, ys) * (b - a + 1) * n_out
    else
      local _, correct = hnet.loss.accuracy(out, ys)
      sum = sum + correct
    end
  end
  if kind == "regression" then return sum / (n * n_out) end
  return 100 * sum / n
end

-- ---- option checks --------------------------------------------------------------------

local function check_problems(P, fname)
  if type(P) ~= "table" or #P == 0 then
    error(("bad argument #1 to '%s' (field 'problems': a non-empty list of {x =, y =, xq =, yq =} expected)")
      :format(fname), 3)
  end
  for i, p in ipairs(P) do
    for _, k in ipairs { "x", "y", "xq", "yq" } do
      if not is_tensor(p[k]) then
        error(("bad argument #1 to '%s' (field 'problems': problem %d has no tensor '%s')"):format(fname, i, k), 3)
      end
    end
  end
end

-- The sorted list of step counts to record at (all within 0..steps).
local function check_record(rec, steps, fname)
  rec = rec or { steps }
  local out, seen = {}, {}
  for i, s in ipairs(rec) do
    if math.type(s) ~= "integer" or s < 0 or s > steps then
      error(("bad argument #1 to '%s' (field 'record': entry %d must be an integer step count in 0..%d, got %s)")
        :format(fname, i, steps, tostring(s)), 3)
    end
    if not seen[s] then out[#out + 1] = s; seen[s] = true end
  end
  table.sort(out)
  return out
end

local function new_optimizer(kind, n, lr, momentum)
  if kind == "adam" then return hnet.adam { n = n, lr = lr } end
  return hnet.sgd { n = n, lr = lr, momentum = momentum or 0 }
end

-- Per-problem output/gradient buffers for the support set.
local function support_buffers(net, p)
  local n_out = net:out_shape()[1]
  local k = p.x:size(1)
  if k > net:max_batch() then
    error(("hnet.fewshot: a support set of %d samples exceeds the target net's max batch %d"):format(k, net:max_batch()), 3)
  end
  return hnet.tensor(k, n_out), hnet.tensor(k, n_out)
end

-- ---- embedding-only adaptation ----------------------------------------------------------

-- adapt_embeddings' options (hnet.spec): adapt_embeddings checks its options
-- through it and `./hnet help hnet.fewshot.adapt_embeddings` prints it.
M.ADAPT_OPTIONS = {
  { name = "hypernet", type = "any", required = true, help = "the hypernetwork (hnet.hypernet)" },
  { name = "theta", type = "any", required = true, help = "its parameters θ (a tensor), kept frozen" },
  { name = "net", type = "any", required = true, help = "the target network" },
  { name = "problems", type = "table", required = true, help = "a list of problems { x =, y =, xq =, yq = } (support and query sets)" },
  { name = "init", type = "any", required = true, help = "a [d] tensor (every problem starts there) or [#problems, d] (one start each)" },
  { name = "steps", type = "integer", required = true, min = 0, help = "adaptation steps" },
  { name = "lr", type = "number", required = true, min = 0, help = "step size" },
  { name = "optimizer", type = "string", default = "sgd", choices = { "sgd", "adam" }, help = "the optimiser" },
  { name = "record", type = "table", help = "the steps at which to record the query metric (default: the last)" },
  { name = "kind", type = "string", default = "regression", choices = KINDS, help = "the problems' kind" },
  { name = "group", type = "integer", default = 100, min = 1, help = "problems adapted together in one batched pass" },
  { name = "momentum", type = "number", default = 0, min = 0, max = 0.999, help = "SGD momentum" },
  { name = "backtrack", type = "boolean", default = false,
    help = "undo a step that raised a problem's support loss and halve its step size (SGD without momentum)" },
}

--- Learn each problem's task embedding from its support set with the
-- hypernetwork frozen. init: a [d] tensor (every problem starts there) or
-- [#problems, d] (one start each). Returns { record = {steps...},
-- metric = { [step] = {per-problem query metric} }, loss = { [step] =
-- {per-problem support loss} }, diverged = {per-problem M.diverged of the
-- whole run}, E = [#problems, d] final embeddings, lr = {per-problem step
-- size at the end}, rejected = {per-problem number of rejected steps} }.
--
-- backtrack = true (SGD without momentum only): a step after which a
-- problem's support loss rose or is not finite is undone and that
-- problem's step size halved for the rest of the run, so each support loss
-- is monotone and no problem diverges. Every try counts as a step; records
-- show the accepted embedding. Why this is needed: the support loss of an
-- embedding is not quadratic. Through an ELU hypernetwork and a ReLU target
-- net the output grows like a power of ‖e‖, so the curvature grows with ‖e‖
-- without bound; a step that overshoots lands where the curvature is larger
-- still and fixed-step SGD then blows up geometrically. CAVIA-style
-- meta-training makes this the rule rather than the exception: it rewards
-- one large first step, and drives the largest curvature at the start
-- embedding far above 2/lr (sinusoids, --quick: from about 0.3 at
-- initialisation to 10..200 after 300 meta-iterations, with lr 0.1 stable
-- only below 20). A step that lowers the support loss is taken exactly as
-- given, so the meta-trained first step is kept wherever it helps.
function M.adapt_embeddings(o)
  local f = "hnet.fewshot.adapt_embeddings"
  o = spec.check(M.ADAPT_OPTIONS, o, f)
  local h, theta, net = o.hypernet, o.theta, o.net
  local P = o.problems
  check_problems(P, f)
  local steps, lr, optim, kind = o.steps, o.lr, o.optimizer, o.kind
  local group, momentum, backtrack = o.group, o.momentum, o.backtrack
  if backtrack and (optim ~= "sgd" or momentum ~= 0) then
    error(("bad argument #1 to '%s' (field 'backtrack': needs optimizer = 'sgd' with momentum 0, got '%s' with momentum %g)")
      :format(f, optim, momentum), 2)
  end
  local rec = check_record(o.record, steps, f)
  local d, n = h:n_emb(), #P
  local init = o.init
  if not is_tensor(init) or not (init:numel() == d or init:numel() == n * d) then
    error(("bad argument #1 to '%s' (field 'init': a tensor of %d (one start) or %d x %d floats expected)")
      :format(f, d, n, d), 2)
  end
  local E = hnet.tensor(n, d)
  if init:numel() == d then
    for i = 1, n do E:rows(i, i):copy(init) end
  else
    E:copy(init)
  end
  local out = { record = rec, metric = {}, loss = {}, diverged = {}, E = E, lr = {}, rejected = {} }
  for _, s in ipairs(rec) do out.metric[s], out.loss[s] = {}, {} end
  group = math.min(group, n)
  local model = hypermodel.wrap { hypernet = h, theta = theta, net = net }
  model:buffers(group)
  -- backtracking: the accepted embeddings and the support gradients there
  local Ab, Gb
  if backtrack then Ab, Gb = hnet.tensor(group, d), hnet.tensor(group, d) end
  for a = 1, n, group do
    local b = math.min(n, a + group - 1)
    local m = b - a + 1
    local Eg = E:rows(a, b)
    local W, _, dE = model:buffers(m)
    local A, G = backtrack and Ab:rows(1, m), backtrack and Gb:rows(1, m)
    local Wr, items = {}, {}
    local loss0, cur, accepted, step_lr = {}, {}, {}, {}
    for i = 1, m do
      local p = P[a + i - 1]
      local y, dy = support_buffers(net, p)
      Wr[i], items[i] = W:rows(i, i), { x = p.x, y = p.y, out = y, dout = dy }
      step_lr[i], out.rejected[a + i - 1] = lr, 0
    end
    local opt = not backtrack and new_optimizer(optim, m * d, lr, momentum)
    local ri = 1
    local step, last, n_rejected
    -- Whether problem i's support loss l is kept (and backpropagated).
    local function keep(i, l)
      if step == 0 then loss0[i] = l end
      accepted[i] = not backtrack or step == 0 or (finite(l) and l <= cur[i])
      if not accepted[i] then
        n_rejected = n_rejected + 1
        return false -- a rejected row keeps dW = 0
      end
      cur[i] = l
      return not last
    end
    for s = 0, steps do
      step, last, n_rejected = s, s == steps, 0
      -- θ gets no gradient buffer: only the embeddings learn.
      if not last then dE:zero() end
      model:pass(Eg, items, { kind = kind, train = false, dE = not last and dE or nil, keep = keep })
      if backtrack then
        for i = 1, m do
          if accepted[i] then
            A:rows(i, i):copy(Eg:rows(i, i))
            if not last then G:rows(i, i):copy(dE:rows(i, i)) end
          else
            step_lr[i] = step_lr[i] / 2
            out.rejected[a + i - 1] = out.rejected[a + i - 1] + 1
          end
        end
        -- W holds the tries; a rejected row is recorded at its accepted embedding
        if n_rejected > 0 and (last or rec[ri] == step) then
          Eg:copy(A)
          model:generate(Eg, W)
        end
      end
      if rec[ri] == step then
        for i = 1, m do
          local p, j = P[a + i - 1], a + i - 1
          out.metric[step][j], out.loss[step][j] = M.evaluate(net, Wr[i], p.xq, p.yq, kind), cur[i]
        end
        ri = ri + 1
      end
      if last then break end
      if backtrack then
        for i = 1, m do Eg:rows(i, i):copy(A:rows(i, i)):axpy(-step_lr[i], G:rows(i, i)) end
      else
        opt:step(Eg, dE)
      end
    end
    for i = 1, m do
      out.lr[a + i - 1], out.diverged[a + i - 1] = step_lr[i], M.diverged(loss0[i], cur[i])
    end
  end
  return out
end

-- ---- weight adaptation (fine-tuning, from scratch) ----------------------------------------

-- train_weights' options (hnet.spec): they check the call and `./hnet help` prints them.
M.WEIGHT_OPTIONS = {
  { name = "net", type = "net", required = true, help = "the network" },
  { name = "init", type = "tensor", help = "the weights every problem starts from (fine-tuning; give this or rng)" },
  { name = "rng", type = "rng", help = "draws a fresh initialisation per problem (from scratch; give this or init)" },
  { name = "problems", type = "table", required = true, help = "a list of problems { x =, y =, xq =, yq = }" },
  { name = "steps", type = "integer", required = true, min = 0, help = "training steps per problem" },
  { name = "lr", type = "number", required = true, min = 0, help = "step size" },
  { name = "optimizer", type = "string", default = "sgd", choices = { "sgd", "adam" }, help = "the optimiser" },
  { name = "record", type = "table", help = "the steps at which to record the query metric (default: the last)" },
  { name = "kind", type = "string", default = "regression", choices = KINDS, help = "the problems' kind" },
  { name = "momentum", type = "number", default = 0, min = 0, max = 0.999, help = "SGD momentum" },
}

--- Train a network's weights on each problem's support set: from a copy of
-- `init` (fine-tuning) or, without init, from a fresh random initialisation
-- drawn from `rng` (training from scratch). Returns { record =, metric =,
-- loss =, diverged = } as adapt_embeddings does (no E).
function M.train_weights(o)
  local f = "hnet.fewshot.train_weights"
  o = spec.check(M.WEIGHT_OPTIONS, o, f)
  local net = o.net
  local P = o.problems
  check_problems(P, f)
  local steps, lr, optim, kind, momentum = o.steps, o.lr, o.optimizer, o.kind, o.momentum
  local rec = check_record(o.record, steps, f)
  local n_w = net:n_params()
  if o.init ~= nil and o.init:numel() ~= n_w then
    error(("bad argument #1 to '%s' (field 'init': a weight tensor of %d floats expected)"):format(f, n_w), 2)
  end
  local rng = o.rng
  if o.init == nil and rng == nil then
    error(("bad argument #1 to '%s' (give 'init' (fine-tuning) or 'rng' (a random start))"):format(f), 2)
  end
  local out = { record = rec, metric = {}, loss = {}, diverged = {} }
  for _, s in ipairs(rec) do out.metric[s], out.loss[s] = {}, {} end
  local W, dW = hnet.tensor(n_w), hnet.tensor(n_w)
  for i, p in ipairs(P) do
    if o.init then W:copy(o.init) else net:init(W, rng) end
    local y, dy = support_buffers(net, p)
    local opt = new_optimizer(optim, n_w, lr, momentum)
    local ri, loss0 = 1, nil
    for step = 0, steps do
      net:forward(W, p.x, { train = false, out = y })
      local loss = loss_grad(kind, y, p.y, dy)
      if step == 0 then loss0 = loss end
      if rec[ri] == step then
        out.loss[step][i], out.metric[step][i] = loss, M.evaluate(net, W, p.xq, p.yq, kind)
        ri = ri + 1
        -- evaluate ran the net on the query set: redo the support forward
        if step < steps then net:forward(W, p.x, { train = false, out = y }) end
      end
      if step == steps then
        out.diverged[i] = M.diverged(loss0, loss)
        break
      end
      dW:zero()
      net:backward(W, dy, dW)
      opt:step(W, dW)
    end
  end
  return out
end

-- ---- multi-task training --------------------------------------------------------------------

local function check_finite(v, what, it, fname)
  if v ~= v or v == math.huge or v == -math.huge then
    error(("%s: %s is %s at iteration %d: lower the learning rate"):format(fname, what, tostring(v), it), 0)
  end
end

local KIND = { name = "kind", type = "string", default = "regression", choices = KINDS, help = "the tasks' kind" }
local SAMPLE = { name = "sample", type = "function", required = true, help = "sample(it) -> a list of { task =, x =, y = } (a meta-batch)" }
local PROGRESS = { name = "progress", type = "table", help = "an hnet.progress meter (begin_task, step, end_task)" }

-- train_hypernet's and train_net's options (hnet.spec).
M.MT_OPTIONS = {
  { name = "hypernet", type = "hypernet", required = true, help = "the hypernetwork" },
  { name = "theta", type = "tensor", required = true, help = "its parameters θ, trained in place" },
  { name = "net", type = "net", required = true, help = "the target network" },
  { name = "E", type = "tensor", required = true, help = "[n_tasks, d] task embeddings, trained in place" },
  SAMPLE,
  { name = "iterations", type = "integer", required = true, min = 0, help = "training iterations" },
  { name = "lr", type = "number", required = true, min = 0, help = "Adam learning rate of θ" },
  { name = "lr_emb", type = "number", min = 0, help = "Adam learning rate of E (default: lr)" },
  KIND, PROGRESS,
  { name = "train_theta", type = "boolean", default = true, help = "train θ (false: only E)" },
  { name = "name", type = "string", help = "the progress meter's label (default: multi-task)" },
}
M.NET_OPTIONS = {
  { name = "net", type = "net", required = true, help = "the network" },
  { name = "W", type = "tensor", required = true, help = "its weights, trained in place" },
  { name = "sample", type = "function", required = true, help = "sample(it) -> a list of { x =, y = }" },
  { name = "iterations", type = "integer", required = true, min = 0, help = "training iterations" },
  { name = "lr", type = "number", required = true, min = 0, help = "Adam learning rate" },
  KIND, PROGRESS,
  { name = "name", type = "string", help = "the progress meter's label (default: pre-training)" },
}

--- Multi-task training of a hypernetwork and one embedding per training
-- task (rows of E, [n_tasks, d], updated in place; θ in place). Each
-- iteration calls sample(it), which returns a list of
-- { task = row of E, x =, y = } (a meta-batch); the loss is the mean over
-- the batch. Adam on θ (lr) and on E (lr_emb, default lr; one dense Adam over
-- all rows, as a dense embedding table has in other frameworks). Returns the
-- mean loss of the last 100 iterations.
function M.train_hypernet(o)
  local f = "hnet.fewshot.train_hypernet"
  o = spec.check(M.MT_OPTIONS, o, f)
  local h, theta, net, E = o.hypernet, o.theta, o.net, o.E
  local iters, lr, kind, train_theta = o.iterations, o.lr, o.kind, o.train_theta
  local lr_emb = o.lr_emb or lr
  local model = hypermodel.wrap { hypernet = h, theta = theta, net = net, E = E }
  model:begin(E, { lr = lr, lr_emb = lr_emb, train_theta = train_theta })
  local recent, P = {}, o.progress
  if P then P:begin_task(1, 1, iters, o.name or "multi-task") end
  for it = 1, iters do
    local batch = o.sample(it)
    local loss = model:step(batch, { kind = kind, fault = function(_, v) check_finite(v, "the multi-task loss", it, f) end })
    recent[(it - 1) % 100 + 1] = loss
    if P then P:step(it, loss, 0, #batch) end
  end
  if P then P:end_task() end
  return (metrics.mean_se(recent)) -- nil when no iteration ran
end

--- Train one plain network (weights W, in place) on batches from several
-- tasks: sample(it) returns a list of { x =, y = }; the loss is the mean over
-- the list; Adam with lr. Returns the mean loss of the last 100 iterations.
function M.train_net(o)
  local f = "hnet.fewshot.train_net"
  o = spec.check(M.NET_OPTIONS, o, f)
  local net, W, iters, lr, kind = o.net, o.W, o.iterations, o.lr, o.kind
  local opt = hnet.adam { n = W:numel(), lr = lr }
  local dW = hnet.tensor(W:numel())
  local recent, P = {}, o.progress
  if P then P:begin_task(1, 1, iters, o.name or "pre-training") end
  for it = 1, iters do
    local batch = o.sample(it)
    local m = #batch
    dW:zero()
    local loss = 0
    for _, s in ipairs(batch) do
      local y = net:forward(W, s.x, { train = true })
      local dy = hnet.tensor(y:shape())
      loss = loss + loss_grad(kind, y, s.y, dy) / m
      dy:scale(1 / m)
      net:backward(W, dy, dW)
    end
    check_finite(loss, "the pre-training loss", it, f)
    opt:step(W, dW)
    recent[(it - 1) % 100 + 1] = loss
    if P then P:step(it, loss, 0, m) end
  end
  if P then P:end_task() end
  return (metrics.mean_se(recent)) -- nil when no iteration ran
end

--- The mean of the rows of E ([n, d]) as a [d] tensor.
function M.mean_row(E)
  local n, d = E:size(1), E:size(2)
  local m = hnet.tensor(d)
  local v = m:view({ 1, d })
  for i = 1, n do v:add(E:rows(i, i)) end
  return m:scale(1 / n)
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.fewshot.choose_lr", sig = "hnet.fewshot.choose_lr(grid, at, run, opts) -> lr, tried",
    spec = stats.CHOOSE_LR_OPTIONS, about = "the best learning rate on validation problems that none diverges at (opts: argument #4)" },
  { name = "hnet.fewshot.adapt_embeddings", sig = "hnet.fewshot.adapt_embeddings(opts) -> result", spec = M.ADAPT_OPTIONS,
    about = "learn each problem's task embedding from its support set, the hypernetwork frozen" },
  { name = "hnet.fewshot.train_weights", sig = "hnet.fewshot.train_weights(opts) -> result", spec = M.WEIGHT_OPTIONS,
    about = "train a network's weights on each problem's support set (fine-tuning or from scratch)" },
  { name = "hnet.fewshot.train_hypernet", sig = "hnet.fewshot.train_hypernet(opts) -> mean recent loss",
    spec = M.MT_OPTIONS, about = "multi-task training of a hypernetwork and one embedding per task (in place)" },
  { name = "hnet.fewshot.train_net", sig = "hnet.fewshot.train_net(opts) -> mean recent loss", spec = M.NET_OPTIONS,
    about = "multi-task training of one plain network (in place)" },
}

return M
