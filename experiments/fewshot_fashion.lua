-- fewshot_fashion.lua — few-shot classification transfer on Fashion-MNIST.
--
-- Pre-training: a hypernetwork (chunked) with one embedding per task is
-- trained multi-task (jointly, all pre-training tasks in every step's
-- meta-batch) on N `ways`-way tasks over classes 0–5 (T-shirt, trouser,
-- pullover, dress, coat, sandal): a task is an ordered tuple of distinct
-- classes, labelled 0..ways−1 in that order (2-way: 30 possible tasks; the
-- first N of a seeded shuffle are used). Transfer: new tasks over the
-- held-out classes 6–9 (shirt, sneaker, bag, ankle boot), k ∈ {1, 5, 10, 20}
-- examples per class from the training split; query = every test image of
-- those classes. Methods, all with the same target MLP:
--
--   hnet       optimise ONLY a new embedding (θ frozen), started at the mean
--              of the pre-training embeddings (Adam);
--   finetune   fine-tune all weights of the pre-trained network generated at
--              that mean embedding (Adam);
--   scratch    train the MLP from a random init on the k-shot set (Adam).
--
-- Learning rates are chosen per method and N on validation tasks whose
-- query images come from the training split (never the test images), at
-- the step count the method then runs for; a learning rate under which any
-- validation task diverges is not chosen (hnet.fewshot.choose_lr). A test
-- task whose adaptation diverged (hnet.fewshot.diverged: its support loss
-- ended above its start, or is not finite) is counted apart, "(k/N
-- diverged)", never averaged. Accuracy ± 95% CI over --tasks new tasks, for
-- each N in --pretrain (how transfer grows with the number of pre-training
-- tasks). Writes results.md, results.csv and summary.json (with the median
-- and n_diverged) and, with gnuplot, accuracy_vs_tasks.png.
--
--   ./hnet experiments/fewshot_fashion.lua [--quick] [--pretrain 2,5,10,20,30] [--shots 1,5,10,20]
local hnet = require "hnet"
local E = hnet.experiment
local fs = hnet.fewshot
local cli = hnet.cli

local o = E.options(arg, {
  out_default = "runs/fewshot_fashion",
  methods = { "hnet,finetune,scratch", "comma-separated methods" },
  ways = { 2, "classes per task (the held-out classes 6-9 are four)", min = 2, max = 4 },
  shots = { "1,5,10,20", "comma-separated k (examples per class of a new task)" },
  pretrain = { "2,5,10,20,30", "comma-separated numbers of pre-training tasks" },
  tasks = { 100, "new (test) tasks per k" },
  val_tasks = { 20, "validation tasks for choosing learning rates" },
  iterations = { 2000, "pre-training iterations" },
  meta_batch = { 10, "pre-training tasks per iteration" },
  batch = { 32, "images per task and iteration in pre-training" },
  hidden = { 100, "target MLP hidden units (784-hidden-ways)" },
  embedding = { 32, "task-embedding size" },
  hnet_hidden = { "100,100", "hypernetwork hidden layers" },
  chunk = { 4000, "hypernetwork chunk size (0: full)" },
  chunk_embedding = { 16, "chunk-embedding size" },
  lr = { 1e-3, "pre-training Adam learning rate" },
  lr_emb = { 1e-2, "pre-training Adam learning rate of the embeddings" },
  steps = { 100, "adaptation steps counted as converged" },
  query = { 0, "query images per new task (0: every test image of its classes)" },
  n_train = { 0, "use only the first n training images (0: all)" },
}, "fewshot_fashion.lua: few-shot transfer to held-out Fashion-MNIST classes by a new task embedding")

if o.quick then
  o.tasks = math.min(o.tasks, 20)
  o.val_tasks = math.min(o.val_tasks, 6)
  o.iterations = math.min(o.iterations, 150)
  o.steps = math.min(o.steps, 30)
  o.query = o.query > 0 and math.min(o.query, 400) or 400
  o.n_train = o.n_train > 0 and math.min(o.n_train, 12000) or 12000
  if o.pretrain == "2,5,10,20,30" then o.pretrain = "2,10" end
  if o.shots == "1,5,10,20" then o.shots = "1,5" end
end

local function int_list(s, what, lo, hi)
  local out = {}
  for _, v in ipairs(cli.list(s)) do
    local k = math.tointeger(tonumber(v))
    if not k or k < lo or k > hi then error(("option --%s: '%s' is not an integer in %d..%d"):format(what, v, lo, hi), 0) end
    out[#out + 1] = k
  end
  if #out == 0 then error(("option --%s: empty list"):format(what), 0) end
  return out
end

local BASE, NEW = { 0, 1, 2, 3, 4, 5 }, { 6, 7, 8, 9 }
-- Ordered tuples of `ways` distinct classes from a set.
local function tuples(set, ways)
  local out = {}
  local function rec(prefix, used)
    if #prefix == ways then out[#out + 1] = table.move(prefix, 1, #prefix, 1, {}); return end
    for _, c in ipairs(set) do
      if not used[c] then
        used[c] = true; prefix[#prefix + 1] = c
        rec(prefix, used)
        prefix[#prefix] = nil; used[c] = false
      end
    end
  end
  rec({}, {})
  return out
end
local base_tuples, new_tuples = tuples(BASE, o.ways), tuples(NEW, o.ways)

local shots = int_list(o.shots, "shots", 1, 500)
local pretrain = int_list(o.pretrain, "pretrain", 1, #base_tuples)
local methods = cli.list(o.methods)
local has = {}
for _, m in ipairs(methods) do
  if m ~= "hnet" and m ~= "finetune" and m ~= "scratch" then
    error(("option --methods: unknown method '%s' (hnet, finetune, scratch)"):format(m), 0)
  end
  has[m] = true
end
local hhidden = int_list(o.hnet_hidden, "hnet_hidden", 1, 100000)

if hnet.sys.exists(o.out .. "/summary.json") and not o.force then
  error(("'%s' already holds a finished run (summary.json); choose another --out or pass --force"):format(o.out), 0)
end
local progress = hnet.progress.new { quiet = o.quiet, verbose = o.verbose }
local function say(...) if not o.quiet then progress:print(string.format(...)) end end
local t_start = hnet.sys.clock()

-- ---- data -------------------------------------------------------------------------------------

local ds = hnet.datasets.load("fashion_mnist", o.n_train > 0 and { n_train = o.n_train } or nil)
local X, Xt = ds.train.x, ds.test.x

-- Row indices (1-based) of each class, train and test.
local function pools(y)
  local p = {}
  for c = 0, 9 do p[c] = {} end
  for i, v in ipairs(y:flat_table()) do local c = math.tointeger(v); local t = p[c]; t[#t + 1] = i end
  return p
end
local train_pool, test_pool = pools(ds.train.y), pools(ds.test.y)

-- x, y for rows idx[j] with labels lab[j].
local function gather(src, idx, lab)
  return hnet.transform.gather(src, idx), hnet.tensor_from(lab)
end

-- n random rows of each class of the tuple (distinct within a class), labels by position.
local function draw(pool, tuple, n, rng, exclude)
  local idx, lab = {}, {}
  for j, c in ipairs(tuple) do
    local p, got, seen = pool[c], 0, {}
    if n > #p then error(("class %d has %d images, fewer than the %d asked for"):format(c, #p, n), 0) end
    while got < n do
      local r = p[rng:below(#p)]
      if not seen[r] and not (exclude and exclude[r]) then
        seen[r] = true; got = got + 1
        idx[#idx + 1], lab[#lab + 1] = r, j - 1
      end
    end
  end
  return idx, lab
end

-- Query sets of the test split, one per tuple (every test image of its
-- classes, or o.query random ones).
local query_cache = {}
local function test_query(tuple)
  local key = table.concat(tuple, "-")
  if not query_cache[key] then
    local idx, lab = {}, {}
    if o.query > 0 then
      idx, lab = draw(test_pool, tuple, o.query // #tuple, hnet.rng(o.seed, 900 + tuple[1] * 10 + tuple[2]))
    else
      for j, c in ipairs(tuple) do
        for _, r in ipairs(test_pool[c]) do idx[#idx + 1], lab[#lab + 1] = r, j - 1 end
      end
    end
    local x, y = gather(Xt, idx, lab)
    query_cache[key] = { x = x, y = y }
  end
  return query_cache[key]
end

-- New few-shot problems over the held-out classes: the tuple and the support
-- set drawn from hnet.rng(seed, stream); test problems query the test split,
-- validation problems query other training images of the same classes.
local function new_problems(n, k, stream, validation)
  local P = {}
  for i = 1, n do
    local rng = hnet.rng(o.seed * 1000003 + stream * 1009 + k, i)
    local tuple = new_tuples[rng:below(#new_tuples)]
    local idx, lab = draw(train_pool, tuple, k, rng)
    local x, y = gather(X, idx, lab)
    local q
    if validation then
      local used = {}
      for _, r in ipairs(idx) do used[r] = true end
      local qi, ql = draw(train_pool, tuple, 200, rng, used)
      local qx, qy = gather(X, qi, ql)
      q = { x = qx, y = qy }
    else
      q = test_query(tuple)
    end
    P[i] = { x = x, y = y, xq = q.x, yq = q.y, tuple = tuple }
  end
  return P
end

-- ---- networks ------------------------------------------------------------------------------------

local MAXK = 0
for _, k in ipairs(shots) do MAXK = math.max(MAXK, k) end
local net = hnet.mlp { inputs = { 1, 28, 28 }, hidden = { o.hidden }, outputs = o.ways, act = "relu",
                       max_batch = math.max(500, o.batch, MAXK * o.ways) }

local function new_hypernet(n_tasks, seed)
  local h = hnet.hypernet { target = net, embedding = o.embedding, hidden = hhidden, act = "relu",
                            chunk = o.chunk, chunk_embedding = o.chunk_embedding,
                            max_tasks = math.max(o.meta_batch, n_tasks) }
  local theta = hnet.tensor(h:n_params())
  h:init(theta, nil, { rng = hnet.rng(o.seed, seed) })
  return h, theta
end

-- ---- pre-training -----------------------------------------------------------------------------------

local order = hnet.rng(o.seed, 1):permutation(#base_tuples)
local function pretrain_tasks(n)
  local list = {}
  for i = 1, n do list[i] = base_tuples[order[i]] end
  return list
end

local function pretrain_hypernet(n)
  local list = pretrain_tasks(n)
  local h, theta = new_hypernet(n, 10 + n)
  local Emb = h:embeddings(n, { rng = hnet.rng(o.seed, 20 + n) })
  local rng = hnet.rng(o.seed, 30 + n)
  local per = math.max(1, o.batch // o.ways)
  local function sample()
    local batch = {}
    local perm = rng:permutation(n)
    for i = 1, math.min(n, o.meta_batch) do
      local t = perm[i]
      local idx, lab = draw(train_pool, list[t], per, rng)
      local x, y = gather(X, idx, lab)
      batch[i] = { task = t, x = x, y = y }
    end
    return batch
  end
  local loss = fs.train_hypernet { hypernet = h, theta = theta, net = net, E = Emb, sample = sample,
    iterations = o.iterations, lr = o.lr, lr_emb = o.lr_emb, kind = "classification",
    progress = not o.quiet and progress or nil, name = ("pre-training on %d tasks"):format(n) }
  -- Training accuracy on the pre-training tasks' test images (sanity check).
  local W = h:forward(theta, Emb)
  local accs = {}
  for t = 1, n do accs[t] = fs.evaluate(net, W:rows(t, t), test_query(list[t]).x, test_query(list[t]).y, "classification") end
  return h, theta, Emb, loss, fs.ci95(accs).mean
end

-- ---- adaptation -----------------------------------------------------------------------------------

local RECORD = { 0, 1, 10 }
if o.steps > 10 then RECORD[#RECORD + 1] = o.steps end

-- The highest mean validation accuracy after o.steps steps among the
-- learning rates that diverge on no validation task.
local function choose_lr(grid, run)
  return fs.choose_lr(grid, o.steps, run, { higher = true, what = "fewshot_fashion" })
end

local VAL_K = shots[1]
for _, k in ipairs(shots) do if k == 5 then VAL_K = 5 end end

local results = {}  -- results[method][N][k] = { record =, metric = }
local notes = {}
for _, m in ipairs(methods) do results[m], notes[m] = {}, {} end

-- Problems are the same for every N and method (paired comparisons).
local test_P, val_P = {}, new_problems(o.val_tasks, VAL_K, 2, true)
for _, k in ipairs(shots) do test_P[k] = new_problems(o.tasks, k, 1, false) end

local pre_info = {}
for _, n in ipairs(pretrain) do
  local t0 = hnet.sys.clock()
  local h, theta, Emb, loss, acc = pretrain_hypernet(n)
  local e_mean = fs.mean_row(Emb)
  pre_info[n] = { loss = loss, acc = acc, seconds = hnet.sys.clock() - t0 }
  say("pre-trained on %d tasks: loss %.4f, test accuracy on those tasks %.1f%% (%.0f s)", n, loss or 0, acc,
      pre_info[n].seconds)
  if acc < 100 / o.ways + 5 then
    -- Say so in the results rather than report transfer from a network that learned nothing.
    pre_info[n].failed = true
    say("WARNING: pre-training on %d tasks stayed at chance (%.1f%%); lower --lr / --lr_emb or change --embedding", n, acc)
  end
  if has.hnet then
    local function run(P, lr, rec)
      return fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = P, init = e_mean,
        steps = o.steps, lr = lr, optimizer = "adam", record = rec, kind = "classification", group = 50 }
    end
    local lr, tried = choose_lr({ 0.01, 0.03, 0.1, 0.3, 1 }, function(lr) return run(val_P, lr, { o.steps }) end)
    results.hnet[n] = {}
    for _, k in ipairs(shots) do results.hnet[n][k] = run(test_P[k], lr, RECORD) end
    notes.hnet[n] = ("Adam lr %g (validation: %s)"):format(lr, tried)
  end
  if has.finetune then
    local W0 = h:forward(theta, e_mean)
    local function run(P, lr, rec)
      return fs.train_weights { net = net, init = W0, problems = P, steps = o.steps, lr = lr,
        optimizer = "adam", record = rec, kind = "classification" }
    end
    local lr, tried = choose_lr({ 3e-4, 1e-3, 3e-3, 1e-2, 3e-2 }, function(lr) return run(val_P, lr, { o.steps }) end)
    results.finetune[n] = {}
    for _, k in ipairs(shots) do results.finetune[n][k] = run(test_P[k], lr, RECORD) end
    notes.finetune[n] = ("Adam lr %g (validation: %s)"):format(lr, tried)
  end
  say("N = %d done (%.0f s)", n, hnet.sys.clock() - t0)
end
if has.scratch then
  local function run(P, lr, rec, seed)
    return fs.train_weights { net = net, rng = hnet.rng(o.seed, seed), problems = P, steps = o.steps, lr = lr,
      optimizer = "adam", record = rec, kind = "classification" }
  end
  local lr, tried = choose_lr({ 3e-4, 1e-3, 3e-3, 1e-2 }, function(lr) return run(val_P, lr, { o.steps }, 61) end)
  local r = {}
  for _, k in ipairs(shots) do r[k] = run(test_P[k], lr, RECORD, 62) end
  for _, n in ipairs(pretrain) do results.scratch[n] = r; notes.scratch[n] = ("Adam lr %g (validation: %s)"):format(lr, tried) end
end

-- ---- tables ---------------------------------------------------------------------------------------

local LABEL = { hnet = "hypernetwork, new embedding only", finetune = "pre-trained + fine-tuning (all weights)",
                scratch = "from scratch" }
local NMAX = pretrain[#pretrain]
local summary = { experiment = "fewshot_fashion", options = o, pretrain = {}, results = {} }
local lines = {
  ("### Few-shot Fashion-MNIST transfer (%d-way, classes 0-5 -> 6-9): test accuracy %% ± 95%% CI over %d new tasks, seed %d")
    :format(o.ways, o.tasks, o.seed), "",
  ("After pre-training on N = %d tasks:"):format(NMAX), "",
  ("| method | k | 0 steps | 1 step | 10 steps | %d steps |"):format(o.steps),
  "|---|---|---|---|---|---|",
}
local csv = { "method,N,k,steps,acc_mean,acc_ci95,acc_median,n,n_diverged" }
for _, m in ipairs(methods) do
  for _, k in ipairs(shots) do
    local r = results[m][NMAX][k]
    local row = { LABEL[m], tostring(k) }
    for _, s in ipairs { 0, 1, 10, o.steps } do row[#row + 1] = r.metric[s] and fs.fmt_values(r.metric[s], "%.1f", r.diverged) or "–" end
    lines[#lines + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
end
lines[#lines + 1] = ""
lines[#lines + 1] = ("Accuracy %% after %d steps vs the number N of pre-training tasks:"):format(o.steps)
lines[#lines + 1] = ""
local head = { "| method | k |" }
for _, n in ipairs(pretrain) do head[#head + 1] = (" N = %d |"):format(n) end
lines[#lines + 1] = table.concat(head)
lines[#lines + 1] = "|---|---|" .. string.rep("---|", #pretrain)
for _, m in ipairs(methods) do
  summary.results[m] = {}
  for _, k in ipairs(shots) do
    local row = { LABEL[m], tostring(k) }
    for _, n in ipairs(pretrain) do
      local r = results[m][n][k]
      row[#row + 1] = fs.fmt_values(r.metric[o.steps], "%.1f", r.diverged)
      summary.results[m][tostring(n)] = summary.results[m][tostring(n)] or {}
      local per = {}
      for _, s in ipairs(r.record) do
        -- over the converged tasks; none converged: empty fields in the CSV, no mean in the JSON
        local st = fs.stats(r.metric[s], r.diverged)
        per[tostring(s)] = { mean = st.mean, ci95 = st.half, median = st.median, n = st.n, n_diverged = st.n_diverged }
        local function num(v) return v and ("%.4f"):format(v) or "" end
        csv[#csv + 1] = ("%s,%d,%d,%d,%s,%s,%s,%d,%d"):format(m, n, k, s, num(st.mean), num(st.half or (st.mean and 0)),
          num(st.median), st.n, st.n_diverged)
      end
      summary.results[m][tostring(n)][tostring(k)] = per
    end
    lines[#lines + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
end
lines[#lines + 1] = ""
lines[#lines + 1] = ("Chance: %.1f%%. Settings: target MLP 784-%d-%d (ReLU); hypernetwork %s hidden, chunk %d, chunk embedding %d, task embedding %d; pre-training multi-task (joint) over the N tasks, %d iterations, %d tasks x %d images per iteration, Adam lr %g (embeddings %g); new-task embedding starts at the mean pre-training embedding."):format(
  100 / o.ways, o.hidden, o.ways, o.hnet_hidden, o.chunk, o.chunk_embedding, o.embedding, o.iterations,
  o.meta_batch, o.batch, o.lr, o.lr_emb)
lines[#lines + 1] = ""
for _, n in ipairs(pretrain) do
  local parts = { ("- N = %d: pre-training loss %.4f, accuracy on the pre-training tasks' test images %.1f%%%s (%.0f s)")
    :format(n, pre_info[n].loss or 0, pre_info[n].acc, pre_info[n].failed and " (PRE-TRAINING FAILED: at chance)" or "",
            pre_info[n].seconds) }
  for _, m in ipairs(methods) do parts[#parts + 1] = ("%s %s"):format(m, notes[m][n]) end
  lines[#lines + 1] = table.concat(parts, "; ")
  summary.pretrain[tostring(n)] = pre_info[n]
end
local md = table.concat(lines, "\n") .. "\n"
summary.seconds = hnet.sys.clock() - t_start
print(md)

assert(hnet.sys.mkdir_p(o.out))
assert(hnet.sys.write_file(o.out .. "/results.md", md))
assert(hnet.sys.write_file(o.out .. "/results.csv", table.concat(csv, "\n") .. "\n"))
assert(hnet.sys.write_file(o.out .. "/summary.json", require("cjson").encode(summary) .. "\n"))
if not o.quick and #pretrain > 1 then
  local series = {}
  for i, m in ipairs(methods) do
    for j, k in ipairs(shots) do
      local xs, ys = {}, {}
      for _, n in ipairs(pretrain) do
        local r = results[m][n][k]
        local st = fs.stats(r.metric[o.steps], r.diverged)
        if st.n_diverged == 0 then xs[#xs + 1] = n; ys[#ys + 1] = st.mean end
      end
      series[#series + 1] = { name = ("%s k=%d"):format(m, k), x = xs, y = ys,
                              style = ("linespoints lw 2 lc %d dt %d"):format(i, j) }
    end
  end
  local ok, why = hnet.plot.lines { out = o.out .. "/accuracy_vs_tasks.png", series = series,
    xlabel = "pre-training tasks N", ylabel = "test accuracy %",
    title = ("%d-way few-shot transfer to classes 6-9 after %d steps"):format(o.ways, o.steps) }
  if not ok then say("%s", why) end
end
say("total %.0f s; run directory %s", hnet.sys.clock() - t_start, o.out)
return { results = results, summary = summary, markdown = md }
