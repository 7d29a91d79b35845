-- transfer_stream.lua — transfer along the stream, on Permuted and Split
-- Fashion-MNIST.
--
-- 1. Forward transfer: the hypernetwork and the baselines are trained on the
--    first T−1 tasks of the stream (CL1); FWT and ACC come from hnet.run's
--    summary (FWT = mean over tasks of R[j−1][j] − b_j: the accuracy on a task
--    before training on it, minus that of the untrained learner).
-- 2. Learning a new task (task T) from 1%, 10% and 100% of its training data
--    (hnet.tasks.subsample), starting from the trained hypernetwork:
--      random    a new embedding drawn at random; θ and the embedding trained,
--                θ regularised to keep every earlier task's weights (the CL step)
--      similar   the same, the embedding initialised as a copy of the earlier
--                embedding with the lowest loss on the new task's training data
--      similar-frozen  θ frozen, only that embedding trained (embedding-only
--                adaptation)
--      fresh     a freshly initialised target network of the same shape
--    with the test accuracy of the new task along training (learning curves),
--    and, for the hypernetwork, the mean accuracy on the earlier tasks after it.
--
--   ./hnet experiments/transfer_stream.lua [--quick] [--streams permuted,split]
--       [--tasks 10] [--iterations 1000] [--fractions 0.01,0.1,1]
local hnet = require "hnet"
local E = hnet.experiment
local shift = hnet.shift
local common = require "hnet.learners.common"

local o, context = E.options(arg, {
  out_default = "runs/transfer_stream",
  resumable = true, -- hnet.run, then new-task curves from the runs' parameters with their own seeds
  streams = { "permuted,split", "comma-separated streams", choices = { "permuted", "split" }, list = true },
  dataset = { "fashion_mnist", "dataset" },
  tasks = { 10, "tasks of the permuted stream (the last one is the new task)" },
  learners = E.learners_option("hypernet,finetune,ewc,si,separate,joint", "learners for the forward-transfer table"),
  iterations = { 1000, "training iterations per task (stream and new task)" },
  fractions = { "0.01,0.1,1", "fractions of the new task's training data" },
  conditions = { "random,similar,similar-frozen,fresh", "how the new task starts",
                 choices = { "random", "similar", "similar-frozen", "fresh" }, list = true },
  hidden = { "100,100", "target MLP hidden layers" },
  beta = { 0.05, "hypernetwork regularisation strength" },
  lr = { 1e-3, "Adam learning rate" },
  ewc_lambda = { 5000.0, "EWC strength" },
  si_c = { 1.0, "SI strength" },
  subset = { 0, "use a random subset of this many training samples (and a sixth as many test samples; 0: all)" },
  eval_max = { 2000, "test samples per evaluation along the learning curves (0: all)" },
}, "transfer_stream.lua: forward transfer and new-task learning curves along a stream")
if o.quick then
  o.iterations = math.min(o.iterations, 120)
  if o.tasks == 10 then o.tasks = 3 end
  if o.subset == 0 then o.subset = 2000 end
  o.eval_max = math.min(o.eval_max > 0 and o.eval_max or 300, 300)
end
local hidden = {}
for _, h in ipairs(hnet.cli.list(o.hidden)) do
  local n = math.tointeger(tonumber(h))
  if not n or n < 1 then error(("--hidden: '%s' is not a positive integer"):format(h), 0) end
  hidden[#hidden + 1] = n
end
local fractions = {}
for _, v in ipairs(hnet.cli.list(o.fractions)) do
  local x = tonumber(v)
  if not x or x <= 0 or x > 1 then error(("--fractions: '%s' is not in (0, 1]"):format(v), 0) end
  fractions[#fractions + 1] = x
end
local conditions = hnet.cli.list(o.conditions)
if o.tasks < 2 and o.streams:match("permuted") then
  error("--tasks: at least 2 for the permuted stream (earlier tasks and the new one)", 0)
end
local HCFG = { embedding = 32, hidden = { 20, 20 }, act = "elu", chunk = 5000, chunk_embedding = 32 }
local BATCH = 128
local eval_max = o.eval_max > 0 and o.eval_max or nil

-- Each learner gets the options of its cli spec that the command line names
-- (lr, iterations, seed, beta, ...) over these settings.
local learner_options = E.learner_options(o, {
  all = { target = { "mlp", hidden = hidden }, batch = BATCH },
  learner = { hypernet = { hnet = HCFG } },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" } },
})

-- Checkpoints of a learning curve: 0 and a roughly logarithmic grid.
local function checkpoints(n)
  local out, seen = { 0 }, { [0] = true }
  for _, base in ipairs { 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000 } do
    if base < n and not seen[base] then out[#out + 1] = base; seen[base] = true end
  end
  if not seen[n] then out[#out + 1] = n end
  return out
end

local function limit(data)
  if not eval_max or data.x:size(1) <= eval_max then return data end
  return { x = data.x:rows(1, eval_max), y = data.y:rows(1, eval_max) }
end

-- The first rows of a training split (at most n), for scoring embeddings.
local function head(data, n)
  local m = math.min(n, data.x:size(1))
  return data.x:rows(1, m), data.y:rows(1, m)
end

-- A hypernetwork condition: returns the curve and the earlier tasks' mean accuracy after.
local function run_hnet(cond, state, n_prev, task, sub, prev_tasks)
  local pool = shift.pool { input_shape = task.input_shape, n_outputs = task.n_classes,
    target = { "mlp", hidden = hidden }, hnet = HCFG, beta = o.beta, lr = o.lr, batch = BATCH,
    max_embeddings = n_prev + 1, seed = o.seed, train_theta = cond ~= "similar-frozen" }
  pool:import(state.theta, state.E, n_prev)
  local from, scores = nil, nil
  if cond ~= "random" then
    local x, y = head(sub.train, pool.o.eval_batch)
    scores = pool:scores(x, y, "loss")
    local best = math.huge
    for j, s in ipairs(scores) do if s < best then best, from = s, j end end
  end
  local k = pool:add(from)
  pool:activate(k)
  local batcher = common.batcher(sub.train, BATCH, hnet.rng(o.seed, 21))
  local test = limit(task.test)
  local curve, marks, it = {}, checkpoints(o.iterations), 0
  for _, m in ipairs(marks) do
    while it < m do
      local x, y = batcher:next()
      pool:step(x, y)
      it = it + 1
    end
    curve[#curve + 1] = { it = m, acc = pool:evaluate(test, k) }
  end
  local old = 0
  for j, t in ipairs(prev_tasks) do old = old + pool:evaluate(limit(t.test), j) end
  return curve, old / #prev_tasks, from
end

-- A fresh target network trained on the subsample.
local function run_fresh(task, sub)
  local net = common.target_net({ "mlp", hidden = hidden }, task.input_shape, task.n_classes, 1000,
                                "transfer_stream")
  local rng = hnet.rng(o.seed, 22)
  local W, dW = hnet.tensor(net:n_params()), hnet.tensor(net:n_params())
  net:init(W, rng)
  local opt = hnet.adam { n = net:n_params(), lr = o.lr }
  local batcher = common.batcher(sub.train, BATCH, hnet.rng(o.seed, 21))
  local b = batcher.batch
  local logits, dlogits = hnet.tensor(b, task.n_classes), hnet.tensor(b, task.n_classes)
  local test = limit(task.test)
  local function accuracy()
    local correct, n, i = 0, test.x:size(1), 1
    while i <= n do
      local j = math.min(n, i + 999)
      local _, c = hnet.loss.accuracy(net:forward(W, test.x:rows(i, j), { train = false }), test.y:rows(i, j))
      correct, i = correct + c, j + 1
    end
    return 100 * correct / n
  end
  local curve, it = {}, 0
  for _, m in ipairs(checkpoints(o.iterations)) do
    while it < m do
      local x, y = batcher:next()
      net:forward(W, x, { train = true, rng = rng, out = logits })
      hnet.loss.xent(logits, y, { grad = dlogits })
      dW:zero()
      net:backward(W, dlogits, dW)
      opt:step(W, dW)
      it = it + 1
    end
    curve[#curve + 1] = { it = m, acc = accuracy() }
  end
  return curve
end

local ds = hnet.datasets.load(o.dataset)
if o.subset > 0 then ds = shift.subset(ds, o.subset, math.max(1, o.subset // 6), o.seed) end

local md, csv = {}, { "stream,fraction,condition,iteration,accuracy" }
local fwt_rows, curve_rows = {}, {}
for _, sname in ipairs(hnet.cli.list(o.streams)) do
  local pre, new_task
  if sname == "permuted" then
    pre = hnet.stream.permuted(ds, { tasks = o.tasks - 1, seed = o.seed, pad = 32 })
    new_task = hnet.tasks.permuted(ds, { seed = o.seed, stream = o.tasks, pad = 32,
                                         name = ("%s/permuted-%d"):format(ds.name, o.tasks) })
  elseif sname == "split" then
    local k, n = 2, ds.n_classes // 2
    pre = hnet.stream.split(ds, { classes_per_task = k, tasks = n - 1 })
    local cls = { (n - 1) * k, (n - 1) * k + 1 }
    new_task = hnet.tasks.class_subset(ds, { classes = cls,
      name = ("%s/split-%d(%s)"):format(ds.name, n, table.concat(cls, ",")) })
  else
    error(("--streams: permuted or split expected, got '%s'"):format(sname), 0)
  end
  local n_prev = pre:len()
  -- 1. Forward transfer over the earlier tasks.
  local learners = hnet.cli.list(o.learners)
  local has_hnet = false
  for _, l in ipairs(learners) do if l == "hypernet" then has_hnet = true end end
  if not has_hnet then table.insert(learners, 1, "hypernet") end
  local rows = E.compare {
    context = context,
    stream = pre, learners = learners, scenarios = { "task-given" }, learner_options = learner_options,
    out = o.out and (o.out .. "/" .. sname), force = o.force, quiet = o.quiet, verbose = o.verbose,
    eval_max = eval_max, meta = { experiment = "transfer_stream", stream = sname, seed = o.seed },
  }
  local state
  for _, r in ipairs(rows) do
    r.stream = sname
    fwt_rows[#fwt_rows + 1] = r
    if r.learner == "hypernet" then
      state = { theta = r.run.learner:parameters(), E = r.run.learner:embeddings() }
    end
  end
  md[#md + 1] = E.markdown(rows, ("Forward transfer: %s %s, the first %d tasks, seed %d, %d iterations per task")
    :format(sname, o.dataset, n_prev, o.seed, o.iterations))
  -- 2. Learning curves of the new task.
  local prev_tasks = {}
  for j = 1, n_prev do prev_tasks[j] = pre:get(j) end
  for _, f in ipairs(fractions) do
    local sub = f < 1 and hnet.tasks.subsample(new_task, { fraction = f, seed = o.seed }) or new_task
    local n_train = sub.train.x:size(1)
    if n_train < 1 then error(("--fractions: %g of the new task's training data is no sample at all"):format(f), 0) end
    local series = {}
    for _, cond in ipairs(conditions) do
      local curve, old, from
      if cond == "fresh" then curve = run_fresh(new_task, sub)
      else curve, old, from = run_hnet(cond, state, n_prev, new_task, sub, prev_tasks) end
      local xs, ys, s = {}, {}, 0
      for i, p in ipairs(curve) do
        xs[i], ys[i] = p.it, p.acc
        s = s + p.acc
        csv[#csv + 1] = ("%s,%g,%s,%d,%.4f"):format(sname, f, cond, p.it, p.acc)
      end
      curve_rows[#curve_rows + 1] = { stream = sname, fraction = f, n_train = n_train, condition = cond,
        curve = curve, mean = s / #curve, final = curve[#curve].acc, old = old, from = from }
      series[#series + 1] = { name = cond, x = xs, y = ys, style = "linespoints" }
      if not o.quiet and hnet.dist.rank() == 0 then
        print(("transfer_stream: %s, %g of the new task (%d samples), %s: final %.2f%%")
          :format(sname, f, n_train, cond, curve[#curve].acc))
      end
    end
    if o.out and hnet.dist.rank() == 0 then -- under mpirun, rank 0 writes
      assert(hnet.sys.mkdir_p(o.out))
      local ok, msg = hnet.plot.lines { out = ("%s/curve-%s-%g.png"):format(o.out, sname, f), series = series,
        title = ("new task (%s, %g of its training data): test accuracy"):format(sname, f),
        xlabel = "iteration", ylabel = "test accuracy %" }
      if not ok and not o.quiet then print(msg) end
    end
  end
end

-- ---- report --------------------------------------------------------------------------
local marks = checkpoints(o.iterations)
local show = {}
for _, m in ipairs(marks) do
  if m == 0 or m == 50 or m == 200 or m == marks[#marks] then show[#show + 1] = m end
end
local lines = { ("### New-task learning curves (%d iterations, batch %d, seed %d)"):format(o.iterations, BATCH, o.seed), "",
  "Test accuracy % of the new task after the given number of iterations; mean over the curve's checkpoints ("
  .. table.concat(marks, ", ") .. "); for the hypernetwork, the mean accuracy on the earlier tasks afterwards.", "" }
local head = { "| stream | data | start |" }
local sep = { "|---|---|---|" }
for _, m in ipairs(show) do head[#head + 1] = (" it %d |"):format(m); sep[#sep + 1] = "---|" end
head[#head + 1] = " curve mean | earlier tasks after |"
sep[#sep + 1] = "---|---|"
lines[#lines + 1] = table.concat(head)
lines[#lines + 1] = table.concat(sep)
for _, r in ipairs(curve_rows) do
  local by = {}
  for _, p in ipairs(r.curve) do by[p.it] = p.acc end
  local cells = { ("| %s | %g%% (%d) | %s%s |"):format(r.stream, 100 * r.fraction, r.n_train, r.condition,
    r.from and (" (from %d)"):format(r.from) or "") }
  for _, m in ipairs(show) do cells[#cells + 1] = (" %.2f |"):format(by[m]) end
  cells[#cells + 1] = (" %.2f | %s |"):format(r.mean, r.old and ("%.2f"):format(r.old) or "–")
  lines[#lines + 1] = table.concat(cells)
end
md[#md + 1] = table.concat(lines, "\n") .. "\n"
local text = table.concat(md, "\n")
if hnet.dist.rank() == 0 then print(text) end
if o.out and hnet.dist.rank() == 0 then
  assert(hnet.sys.mkdir_p(o.out))
  assert(hnet.sys.write_file(o.out .. "/results.md", text))
  assert(hnet.sys.write_file(o.out .. "/curves.csv", table.concat(csv, "\n") .. "\n"))
end
return { fwt = fwt_rows, curves = curve_rows }
