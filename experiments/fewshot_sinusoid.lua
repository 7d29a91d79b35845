-- fewshot_sinusoid.lua — few-shot regression on the sinusoid family of MAML
-- (Finn et al., ICML 2017): a task is y = A sin(x − φ), A ~ U[0.1, 5],
-- φ ~ U[0, π], x ~ U[−5, 5] (hnet.synthetic.sinusoid_task). A new task gives
-- K ∈ {5, 10, 20} points; the score is the MSE on 100 random points of that
-- task, averaged over --tasks new tasks with a 95% confidence interval. The
-- target network is an MLP 1-40-40-1 (ReLU) in every method:
--
--   hnet-mt     a hypernetwork trained multi-task on --train_tasks fixed
--               sinusoids (one embedding each, fresh x every step); a new task
--               is learned by optimising ONLY a new embedding (θ frozen),
--               started at the mean of the training embeddings, with Adam
--               (--adapt sgd: plain gradient descent) at a learning rate
--               chosen on validation tasks (below);
--   hnet-cavia  the same hypernetwork architecture meta-trained CAVIA-style
--               per K: one inner SGD step (--cavia_lr) on the embedding only
--               (from 0) through the hypernetwork; second-order through
--               finite-difference Hessian-vector products (--cavia_order 1
--               for first order); at test the same SGD on a new embedding,
--               safeguarded by backtracking (a step that raises a task's
--               support loss is undone and that task's step size halved:
--               hnet.fewshot.adapt_embeddings, backtrack). Without it the
--               test-time SGD diverges on most tasks after a few steps: the
--               meta-training rewards one large first step and leaves the
--               curvature in the embedding far above 2/lr, and it grows
--               further away from the start. The first step, where it
--               lowers the support loss, is the meta-trained step itself;
--   maml        MAML on the target network with the paper's settings
--               (meta-batch 25, 1 inner step of lr 0.01, Adam meta lr 1e-3,
--               70,000 meta-iterations, K support + K query points per task);
--               second-order through finite-difference Hessian-vector
--               products, or first-order (FOMAML) with --maml_order 1;
--   finetune    one network pre-trained on all training tasks (the mean
--               function), then fine-tuned on the K points with SGD;
--   scratch     a network trained from a random init on the K points (Adam).
--
-- Learning rates of hnet-mt, finetune and scratch are chosen per K on
-- --val_tasks validation tasks (never the test tasks), at the step count
-- they are then run for (--steps); a learning rate under which any validation task
-- diverges is not chosen (hnet.fewshot.choose_lr). A test task whose
-- adaptation diverges (hnet.fewshot.diverged: a non-finite value, or a
-- support loss above where it started) is counted apart: each cell is the
-- mean ± 95% CI over the tasks that converged, with "(k/N diverged)", and
-- the median (converged tasks) is given for the last step count, since a few
-- tasks can dominate a mean over few-shot tasks. Writes results.md,
-- results.csv and summary.json (both with n_diverged and the median) and,
-- with gnuplot, fits.png and mse_vs_steps.png. The same seed gives other
-- figures on another CPU (BLAS kernels and libm round differently), so
-- compare methods over seeds, not single figures.
--
--   ./hnet experiments/fewshot_sinusoid.lua [--quick] [--methods a,b] [--shots 5,10,20]
local hnet = require "hnet"
local E = hnet.experiment
local fs = hnet.fewshot
local maml = hnet.maml
local cli = hnet.cli

local o = E.options(arg, {
  out_default = "runs/fewshot_sinusoid",
  methods = { "hnet-mt,hnet-cavia,maml,finetune,scratch", "comma-separated methods" },
  shots = { "5,10,20", "comma-separated K (support points per new task)" },
  tasks = { 600, "new (test) tasks per K" },
  val_tasks = { 100, "validation tasks for choosing learning rates" },
  train_tasks = { 1000, "training tasks of hnet-mt and finetune (fixed sinusoids)" },
  mt_iterations = { 20000, "multi-task training iterations (hnet-mt, finetune)" },
  mt_points = { 20, "fresh points per task and iteration in multi-task training" },
  embedding = { 4, "task-embedding size" },
  hnet_hidden = { "100,100", "hypernetwork hidden layers" },
  hnet_act = { "elu", "hypernetwork activation" },
  lr = { 1e-3, "Adam learning rate of (meta-)training" },
  lr_emb = { 1e-2, "Adam learning rate of the training embeddings (hnet-mt)" },
  adapt = { "adam", "hnet-mt adaptation optimiser", choices = { "adam", "sgd" } },
  meta_batch = { 25, "tasks per (meta-)iteration" },
  maml_iterations = { 70000, "MAML meta-iterations per K" },
  maml_order = { 2, "MAML order: 2 (finite-difference Hessian-vector products) or 1 (FOMAML)", min = 1, max = 2 },
  cavia_iterations = { 20000, "hnet-cavia meta-iterations per K" },
  cavia_order = { 2, "hnet-cavia order (2 or 1)", min = 1, max = 2 },
  cavia_lr = { 0.1, "hnet-cavia inner learning rate (training and test)" },
  steps = { 1000, "adaptation steps counted as converged", min = 1 },
  plot_tasks = { 3, "example tasks in fits.png" },
}, "fewshot_sinusoid.lua: few-shot sinusoid regression (MAML protocol), hypernetwork vs MAML and baselines")

if o.quick then
  o.tasks = math.min(o.tasks, 40)
  o.val_tasks = math.min(o.val_tasks, 20)
  o.train_tasks = math.min(o.train_tasks, 200)
  o.mt_iterations = math.min(o.mt_iterations, 600)
  o.maml_iterations = math.min(o.maml_iterations, 300)
  o.cavia_iterations = math.min(o.cavia_iterations, 300)
  o.steps = math.min(o.steps, 100)
end

local methods, shots = cli.list(o.methods), {}
for _, s in ipairs(cli.list(o.shots)) do
  local k = math.tointeger(tonumber(s))
  if not k or k < 1 or k > 100 then error(("option --shots: '%s' is not a K in 1..100"):format(s), 0) end
  shots[#shots + 1] = k
end
local KNOWN = { ["hnet-mt"] = true, ["hnet-cavia"] = true, maml = true, finetune = true, scratch = true }
for _, m in ipairs(methods) do
  if not KNOWN[m] then error(("option --methods: unknown method '%s' (hnet-mt, hnet-cavia, maml, finetune, scratch)"):format(m), 0) end
end
local has = {}
for _, m in ipairs(methods) do has[m] = true end
local hidden = {}
for _, s in ipairs(cli.list(o.hnet_hidden)) do
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then error(("option --hnet_hidden: '%s' is not a positive integer"):format(s), 0) end
  hidden[#hidden + 1] = n
end

if hnet.sys.exists(o.out .. "/summary.json") and not o.force then
  error(("'%s' already holds a finished run (summary.json); choose another --out or pass --force"):format(o.out), 0)
end
local progress = hnet.progress.new { quiet = o.quiet, verbose = o.verbose }
local function say(...) if not o.quiet then progress:print(string.format(...)) end end
local t_start = hnet.sys.clock()

-- The step counts reported: 1 and 10 (the literature's) and "converged".
-- Only counts up to --steps: adaptation runs no further.
local RECORD = {}
for _, s in ipairs { 0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000 } do
  if s < o.steps then RECORD[#RECORD + 1] = s end
end
RECORD[#RECORD + 1] = o.steps
local MAXK = 0
for _, k in ipairs(shots) do MAXK = math.max(MAXK, k) end

-- ---- tasks ------------------------------------------------------------------------------

-- New tasks: hnet.synthetic.sinusoid_task with max K support points and 100
-- random test points; K-shot problems use the first K support points, so the
-- Ks share tasks (paired comparisons). Streams: 1 = test, 2 = validation.
local function new_tasks(n, stream)
  local list = {}
  for i = 1, n do
    list[i] = hnet.synthetic.sinusoid_task(hnet.rng(o.seed * 7919 + stream, i), { k = MAXK, n_test = 100 })
  end
  return list
end

local function problems(list, k)
  local P = {}
  for i, t in ipairs(list) do
    P[i] = { x = t.train.x:rows(1, k), y = t.train.y:rows(1, k), xq = t.test.x, yq = t.test.y, task = t }
  end
  return P
end

local test_tasks = new_tasks(o.tasks, 1)
local val_tasks = new_tasks(o.val_tasks, 2)

-- Training tasks of hnet-mt and finetune: fixed (A, φ) from the same family.
local train_rng = hnet.rng(o.seed, 3)
local train_A, train_phi = {}, {}
for i = 1, o.train_tasks do
  train_A[i] = train_rng:uniform(0.1, 5.0)
  train_phi[i] = train_rng:uniform(0, math.pi)
end

-- A meta-batch of fresh tasks for MAML / CAVIA: K support + K query points.
local function fresh_batch(rng, k)
  local batch = {}
  for i = 1, o.meta_batch do
    local t = hnet.synthetic.sinusoid_task(rng, { k = k, n_test = k })
    batch[i] = { x = t.train.x, y = t.train.y, xq = t.test.x, yq = t.test.y }
  end
  return batch
end

-- Multi-task batches: meta_batch training tasks, mt_points fresh x each.
local function mt_sampler(rng)
  return function()
    local batch = {}
    for i = 1, o.meta_batch do
      local t = rng:below(o.train_tasks)
      local x = hnet.rand({ o.mt_points, 1 }, rng, -5, 5)
      batch[i] = { task = t, x = x, y = hnet.gen.sinusoid(x, train_A[t], train_phi[t]) }
    end
    return batch
  end
end

-- ---- networks ------------------------------------------------------------------------------

local function target_net()
  return hnet.mlp { inputs = 1, hidden = { 40, 40 }, outputs = 1, act = "relu", max_batch = math.max(200, 2 * MAXK, o.mt_points) }
end
local net = target_net()

local function new_hypernet(stream)
  local h = hnet.hypernet { target = net, embedding = o.embedding, hidden = hidden, act = o.hnet_act,
                            chunk = 0, max_tasks = math.max(o.meta_batch, 100) }
  local theta = hnet.tensor(h:n_params())
  h:init(theta, nil, { rng = hnet.rng(o.seed, stream) })
  return h, theta
end

-- ---- learning-rate choice on validation tasks -------------------------------------------------

-- One learning rate per K, chosen by hnet.fewshot.choose_lr on the
-- validation tasks' K-shot problems, run for o.steps steps as the test tasks
-- will be (a learning rate that suits 10 steps can diverge by 100, and one
-- that suits K = 10 can overfit K = 5). run(P, lr, steps, record) adapts.
-- Returns { [K] = lr } and a line for the notes.
local function choose_lrs(grid, run)
  local lrs, parts = {}, {}
  for _, k in ipairs(shots) do
    local tried
    lrs[k], tried = fs.choose_lr(grid, o.steps, function(lr) return run(problems(val_tasks, k), lr, o.steps, RECORD) end,
                                 { what = ("fewshot_sinusoid, K = %d"):format(k) })
    parts[#parts + 1] = ("K=%d: %g (%s)"):format(k, lrs[k], tried)
  end
  return lrs, ("lr per K on validation at %d steps: %s"):format(o.steps, table.concat(parts, "; "))
end

-- Plots show K = 10 (or the middle K given).
local VAL_K = shots[math.min(2, #shots)]
for _, k in ipairs(shots) do if k == 10 then VAL_K = 10 end end

-- ---- the methods ---------------------------------------------------------------------------------

local results = {}   -- results[method][K] = { record =, metric = { [step] = list } }
local notes = {}     -- method -> text for the table
local fits = {}      -- method -> function(problem) -> adapted weights after 10 steps (plots)

-- n plain gradient steps of lr from W0 on p's support set (for the plots).
local function sgd_fit(W0, p, lr, n)
  local W, dW = W0:clone(), hnet.tensor(W0:numel())
  for _ = 1, n do
    local out = net:forward(W, p.x, { train = false })
    local dy = hnet.tensor(out:shape())
    fs.loss_grad("regression", out, p.y, dy)
    dW:zero()
    net:backward(W, dy, dW)
    W:axpy(-lr, dW)
  end
  return W
end

-- hnet-mt: multi-task hypernetwork, embedding-only adaptation.
if has["hnet-mt"] then
  local t0 = hnet.sys.clock()
  local h, theta = new_hypernet(11)
  local Emt = h:embeddings(o.train_tasks, { rng = hnet.rng(o.seed, 12) })
  local loss = fs.train_hypernet { hypernet = h, theta = theta, net = net, E = Emt,
    sample = mt_sampler(hnet.rng(o.seed, 13)), iterations = o.mt_iterations, lr = o.lr, lr_emb = o.lr_emb,
    kind = "regression", progress = not o.quiet and progress or nil, name = "hnet-mt" }
  local e_mean = fs.mean_row(Emt)
  local function adapt(P, lr, steps, rec)
    return fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = P, init = e_mean,
      steps = steps, lr = lr, optimizer = o.adapt, record = rec, kind = "regression", group = 100 }
  end
  local lrs, chosen = choose_lrs({ 0.01, 0.03, 0.1, 0.3, 1, 3 }, adapt)
  results["hnet-mt"] = {}
  for _, k in ipairs(shots) do results["hnet-mt"][k] = adapt(problems(test_tasks, k), lrs[k], o.steps, RECORD) end
  fits["hnet-mt"] = function(p)
    local r = fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = { p }, init = e_mean,
      steps = 10, lr = lrs[VAL_K], optimizer = o.adapt, record = { 10 }, kind = "regression" }
    return h:forward(theta, r.E)
  end
  notes["hnet-mt"] = ("multi-task on %d fixed training tasks (%d it., final loss %.4f); embedding %d from the mean training embedding; %s, %s; %.0f s")
    :format(o.train_tasks, o.mt_iterations, loss or 0, o.embedding, o.adapt == "adam" and "Adam" or "SGD", chosen, hnet.sys.clock() - t0)
  say("hnet-mt done: %s", notes["hnet-mt"])
end

-- hnet-cavia: meta-trained embedding adaptation through the hypernetwork.
if has["hnet-cavia"] then
  local t0 = hnet.sys.clock()
  results["hnet-cavia"] = {}
  local parts, backtracked = {}, {}
  for _, k in ipairs(shots) do
    local h, theta = new_hypernet(21)
    local c = maml.context { hypernet = h, theta = theta, net = net, inner_lr = o.cavia_lr, inner_steps = 1,
                             order = o.cavia_order, meta_lr = o.lr, kind = "regression" }
    local rng = hnet.rng(o.seed, 100 + k)
    if not o.quiet then progress:begin_task(1, 1, o.cavia_iterations, "hnet-cavia K=" .. k) end
    local recent = 0
    for it = 1, o.cavia_iterations do
      local loss = c:meta_step(fresh_batch(rng, k))
      recent = recent + loss
      if not o.quiet then progress:step(it, loss, 0, o.meta_batch) end
    end
    if not o.quiet then progress:end_task() end
    local r = fs.adapt_embeddings { hypernet = h, theta = theta, net = net,
      problems = problems(test_tasks, k), init = c.e0, steps = o.steps, lr = o.cavia_lr, optimizer = "sgd",
      record = RECORD, kind = "regression", group = 100, backtrack = true }
    results["hnet-cavia"][k] = r
    local n_bt = 0
    for _, v in ipairs(r.rejected) do if v > 0 then n_bt = n_bt + 1 end end
    backtracked[#backtracked + 1] = ("K=%d %d/%d"):format(k, n_bt, #r.rejected)
    if k == VAL_K then
      fits["hnet-cavia"] = function(p)
        local r = fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = { p }, init = c.e0,
          steps = 10, lr = o.cavia_lr, optimizer = "sgd", record = { 10 }, kind = "regression", backtrack = true }
        return h:forward(theta, r.E)
      end
    end
    parts[#parts + 1] = ("K=%d %.0f s"):format(k, hnet.sys.clock() - t0)
  end
  notes["hnet-cavia"] = ("%s-order CAVIA-style meta-training per K (%d meta-it., meta-batch %d, 1 inner step, inner lr %g, embedding %d from 0); test: SGD lr %g with backtracking (a step that raises a task's support loss is undone and its step size halved; tasks with a rejected step: %s); %s")
    :format(o.cavia_order == 2 and "second" or "first", o.cavia_iterations, o.meta_batch, o.cavia_lr,
            o.embedding, o.cavia_lr, table.concat(backtracked, ", "), table.concat(parts, ", "))
  say("hnet-cavia done: %s", notes["hnet-cavia"])
end

-- MAML on the target network (per K, the paper's settings).
if has.maml then
  local t0 = hnet.sys.clock()
  results.maml = {}
  for _, k in ipairs(shots) do
    local m = maml.new { net = net, rng = hnet.rng(o.seed, 31), inner_lr = 0.01, inner_steps = 1,
                         order = o.maml_order, meta_lr = o.lr, kind = "regression" }
    local rng = hnet.rng(o.seed, 200 + k)
    if not o.quiet then progress:begin_task(1, 1, o.maml_iterations, (o.maml_order == 2 and "MAML" or "FOMAML") .. " K=" .. k) end
    for it = 1, o.maml_iterations do
      local loss = m:meta_step(fresh_batch(rng, k))
      if not o.quiet then progress:step(it, loss, 0, o.meta_batch) end
    end
    if not o.quiet then progress:end_task() end
    results.maml[k] = fs.train_weights { net = net, init = m.W, problems = problems(test_tasks, k),
      steps = o.steps, lr = 0.01, optimizer = "sgd", record = RECORD, kind = "regression" }
    if k == VAL_K then
      local W0 = m.W:clone()
      fits.maml = function(p) return sgd_fit(W0, p, 0.01, 10) end
    end
  end
  notes.maml = ("%s, per K: %d meta-it., meta-batch %d, 1 inner step lr 0.01 (SGD lr 0.01 at test), Adam meta lr %g; %.0f s")
    :format(o.maml_order == 2 and "second-order MAML (finite-difference Hessian-vector products)" or "FOMAML (first-order)",
            o.maml_iterations, o.meta_batch, o.lr, hnet.sys.clock() - t0)
  say("maml done: %s", notes.maml)
end

-- finetune: one network pre-trained on all training tasks, then SGD on K points.
if has.finetune then
  local t0 = hnet.sys.clock()
  local W = hnet.tensor(net:n_params())
  net:init(W, hnet.rng(o.seed, 41))
  local loss = fs.train_net { net = net, W = W, sample = mt_sampler(hnet.rng(o.seed, 42)),
    iterations = o.mt_iterations, lr = o.lr, kind = "regression",
    progress = not o.quiet and progress or nil, name = "pre-training" }
  local function run(P, lr, steps, rec)
    return fs.train_weights { net = net, init = W, problems = P, steps = steps, lr = lr,
      optimizer = "sgd", record = rec, kind = "regression" }
  end
  local lrs, chosen = choose_lrs({ 0.001, 0.003, 0.01, 0.03, 0.1 }, run)
  results.finetune = {}
  for _, k in ipairs(shots) do results.finetune[k] = run(problems(test_tasks, k), lrs[k], o.steps, RECORD) end
  fits.finetune = function(p) return sgd_fit(W, p, lrs[VAL_K], 10) end
  notes.finetune = ("pre-trained on the %d training tasks (%d it., final loss %.3f), fine-tuned with SGD, %s; %.0f s")
    :format(o.train_tasks, o.mt_iterations, loss or 0, chosen, hnet.sys.clock() - t0)
  say("finetune done: %s", notes.finetune)
end

-- scratch: random init, Adam on the K points.
if has.scratch then
  local t0 = hnet.sys.clock()
  local function run(P, lr, steps, rec, seed)
    return fs.train_weights { net = net, rng = hnet.rng(o.seed, seed), problems = P, steps = steps,
      lr = lr, optimizer = "adam", record = rec, kind = "regression" }
  end
  local lrs, chosen = choose_lrs({ 0.001, 0.003, 0.01, 0.03 },
    function(P, lr, steps, rec) return run(P, lr, steps, rec, 51) end)
  results.scratch = {}
  for _, k in ipairs(shots) do results.scratch[k] = run(problems(test_tasks, k), lrs[k], o.steps, RECORD, 52) end
  notes.scratch = ("random init, Adam, %s; %.0f s"):format(chosen, hnet.sys.clock() - t0)
  say("scratch done: %s", notes.scratch)
end

-- ---- the table ----------------------------------------------------------------------------------

local LABEL = {
  ["hnet-mt"] = "hypernetwork, multi-task, embedding-only",
  ["hnet-cavia"] = "hypernetwork, CAVIA-style meta-trained, embedding-only",
  maml = o.maml_order == 2 and "MAML (2nd order, FD Hessian-vector products)" or "FOMAML (first-order MAML)",
  finetune = "pre-trained + fine-tuning",
  scratch = "from scratch",
}

local summary = { experiment = "fewshot_sinusoid", options = o, shots = shots, results = {}, notes = notes,
}
local lines = {
  ("### Few-shot sinusoid regression: test MSE ± 95%% CI over %d new tasks (seed %d)"):format(o.tasks, o.seed), "",
  ("Mean ± CI and median over the tasks whose adaptation converged; \"(k/N diverged)\": tasks whose support loss after %d steps is above its start or not finite (set apart at every step count)."):format(o.steps), "",
  ("| method | K | 0 steps | 1 step | 10 steps | %d steps (converged) | median, %d steps |"):format(o.steps, o.steps),
  "|---|---|---|---|---|---|---|",
}
local csv = { "method,K,steps,mse_mean,mse_ci95,mse_median,n,n_diverged" }
for _, m in ipairs(methods) do
  summary.results[m] = {}
  for _, k in ipairs(shots) do
    local r = results[m][k]
    local row = { LABEL[m], tostring(k) }
    summary.results[m][tostring(k)] = {}
    for _, s in ipairs { 0, 1, 10, o.steps } do
      row[#row + 1] = r.metric[s] and fs.fmt_values(r.metric[s], "%.3f", r.diverged) or "–"
    end
    local last = fs.stats(r.metric[o.steps], r.diverged)
    row[#row + 1] = last.median and ("%.3f"):format(last.median) or "–"
    for _, s in ipairs(r.record) do
      -- over the converged tasks; none converged: empty fields in the CSV, no mean in the JSON
      local st = fs.stats(r.metric[s], r.diverged)
      local function num(v, fmt) return v and fmt:format(v) or "" end
      csv[#csv + 1] = ("%s,%d,%d,%s,%s,%s,%d,%d"):format(m, k, s, num(st.mean, "%.6f"), num(st.half or (st.mean and 0), "%.6f"),
        num(st.median, "%.6f"), st.n, st.n_diverged)
      summary.results[m][tostring(k)][tostring(s)] = { mean = st.mean, ci95 = st.half, median = st.median, n = st.n,
                                                       n_diverged = st.n_diverged }
    end
    lines[#lines + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
end
-- The trivial baseline: predict zero (its MSE is the mean of y^2 on the test points).
local zero = {}
for i, t in ipairs(test_tasks) do zero[i] = t.test.y:sqnorm() / t.test.y:numel() end
summary.zero_predictor = fs.stats(zero) -- mean, ci95 (half), median, n
lines[#lines + 1] = ("| predict 0 (reference) | any | %s | | | | %.3f |"):format(fs.fmt_ci(summary.zero_predictor, "%.3f"),
  summary.zero_predictor.median)
lines[#lines + 1] = ""
lines[#lines + 1] = "Settings:"
for _, m in ipairs(methods) do lines[#lines + 1] = ("- %s: %s"):format(m, notes[m]) end
lines[#lines + 1] = ""
lines[#lines + 1] = "Published reference figures (their own implementations; not re-run here):"
lines[#lines + 1] = "- MAML (Finn et al., ICML 2017), this exact family: reported as curves (fig. 2-3), no table; see the paper."
lines[#lines + 1] = "- Meta-SGD (Li et al., 2017), table 1, 5-shot, after 1 step: MAML 1.13 ± 0.18, Meta-SGD 0.90 ± 0.16; 10- and 20-shot: see the paper. Meta-SGD's family also samples the frequency, so its figures are not for the same task distribution as here."
lines[#lines + 1] = "- CAVIA (Zintgraf et al., ICML 2019), table 1 (same family as MAML): see the paper."
local md = table.concat(lines, "\n") .. "\n"
summary.seconds = hnet.sys.clock() - t_start
print(md)

-- ---- run directory and plots ------------------------------------------------------------------------

assert(hnet.sys.mkdir_p(o.out))
assert(hnet.sys.write_file(o.out .. "/results.md", md))
assert(hnet.sys.write_file(o.out .. "/results.csv", table.concat(csv, "\n") .. "\n"))
assert(hnet.sys.write_file(o.out .. "/summary.json", require("cjson").encode(summary) .. "\n"))

if not o.quick then
  -- MSE vs adaptation steps at the validation K.
  local series = {}
  for i, m in ipairs(methods) do
    local r = results[m][VAL_K]
    if r then
      local xs, ys = {}, {}
      for _, s in ipairs(r.record) do
        if fs.n_diverged(r.metric[s], r.diverged) == 0 then -- a diverged point ends the curve
          xs[#xs + 1] = math.log(1 + s, 10)
          ys[#ys + 1] = fs.stats(r.metric[s]).mean
        else
          break
        end
      end
      series[#series + 1] = { name = m, x = xs, y = ys, style = ("linespoints lw 2 lc %d"):format(i) }
    end
  end
  local ok, why = hnet.plot.lines { out = o.out .. "/mse_vs_steps.png", series = series, logy = true,
    xlabel = "log10(1 + adaptation steps)", ylabel = "test MSE", title = ("K = %d: MSE vs adaptation steps"):format(VAL_K) }
  if not ok then say("%s", why) end
  -- Example fits after 10 steps.
  local P = problems(test_tasks, VAL_K)
  local grid = hnet.gen.linspace(-5, 5, 200):view(200, 1)
  local gx = grid:flat_table()
  series = {}
  for j = 1, math.min(o.plot_tasks, #P) do
    local p = P[j]
    local ty = {}
    for i, x in ipairs(gx) do ty[i] = p.task.f(x) end
    local off = (j - 1) * 12
    local function shift(t) local u = {} for i, v in ipairs(t) do u[i] = v + off end return u end
    series[#series + 1] = { name = j == 1 and "truth" or nil, x = gx, y = shift(ty), style = "lines lw 3 lc rgb 'black'" }
    local sx, sy = p.x:flat_table(), p.y:flat_table()
    series[#series + 1] = { name = j == 1 and ("K = %d points"):format(VAL_K) or nil, x = sx, y = shift(sy), style = "points pt 7 ps 1.5 lc rgb 'black'" }
    for i, m in ipairs(methods) do
      if fits[m] then
        local W = fits[m](p)
        local yy = net:forward(W, grid, { train = false }):flat_table()
        for i, v in ipairs(yy) do -- keep a wild fit inside its task's band
          yy[i] = (v ~= v) and 0 or math.max(-6, math.min(6, v))
        end
        series[#series + 1] = { name = j == 1 and m or nil, x = gx, y = shift(yy), style = ("lines lw 2 lc %d"):format(i) }
      end
    end
  end
  ok, why = hnet.plot.lines { out = o.out .. "/fits.png", series = series, xlabel = "x",
    ylabel = "y (tasks offset by 12)", title = ("example new tasks, K = %d, after 10 adaptation steps"):format(VAL_K) }
  if not ok then say("%s", why) end
end

say("total %.0f s; run directory %s", hnet.sys.clock() - t_start, o.out)
return { results = results, summary = summary, markdown = md }
