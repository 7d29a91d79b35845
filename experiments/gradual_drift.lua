-- gradual_drift.lua — learning from a stream whose input distribution drifts,
-- with no task boundaries given. The stream (hnet.shift.drift_stream) holds
-- stationary segments (a rotation angle, or a brightness or contrast level)
-- joined by linear ramps; segments may return to an earlier distribution.
-- Each incoming batch is first scored (prequential: before training on it),
-- then trained on for --steps Adam steps.
--
-- Learners (all one hypernetwork with a pool of task embeddings,
-- hnet.shift.pool, regularised over every other embedding in one batched pass):
--   detect   finds shifts itself: a change detector (CUSUM or windowed
--            z-test, hnet.shift) over the per-batch loss (or predictive
--            entropy) of the active embedding. On an alarm it scores the
--            batch under every known embedding and reuses the best one if the
--            batch is in control for it (statistic <= its level + reuse_z σ,
--            the level saved when it was last active); otherwise it opens a
--            new embedding (random, or with --new_init similar a copy of the
--            best-scoring one: copies stay generalists, and a later return
--            of an old distribution is then often not seen as a shift). While
--            the detector's score is above --hold of its threshold (a change
--            is building up), the active embedding is not trained: it would
--            otherwise follow a slow drift and never raise the alarm.
--   oracle   is told the boundaries: it switches at the middle of each ramp
--            to the embedding of the incoming distribution (new or reused).
--   single   one embedding, never switches (fine-tuning through a hypernetwork).
-- Reported: detection delay (batches from a ramp's start to the first alarm),
-- detected/missed changes, false alarms (outside every ramp + tolerance),
-- extra alarms inside a ramp window, online accuracy, and the final test
-- accuracy over every distribution seen — with the embedding inferred per
-- sample by lowest entropy, and with the embedding that served the
-- distribution last.
--
--   ./hnet experiments/gradual_drift.lua [--quick] [--drift rotation|brightness|contrast]
--       [--values 0,45,90,0,90,45] [--segment 300] [--ramp 40] [--detector cusum|ztest]
local hnet = require "hnet"
local E = hnet.experiment
local shift = hnet.shift

local o = E.options(arg, {
  out_default = "runs/gradual_drift",
  dataset = { "mnist", "dataset (mnist: the 10k subset; fashion_mnist; ...)" },
  drift = { "rotation", "what drifts: rotation (degrees), brightness (added), contrast (factor)",
            choices = { "rotation", "brightness", "contrast" } },
  values = { "default", "the stationary segments' values in order (default per drift kind)" },
  segment = { 300, "batches per stationary segment" },
  ramp = { 40, "batches of linear drift between segments (0: abrupt)" },
  batch = { 64, "samples per incoming batch" },
  steps = { 1, "training steps per incoming batch" },
  learners = { "detect,oracle,single", "comma-separated learners",
               choices = { "detect", "oracle", "single" }, list = true },
  detector = { "cusum", "change detector", choices = { "cusum", "ztest" } },
  statistic = { "loss", "per-batch statistic", choices = { "loss", "entropy" } },
  h = { 6.0, "CUSUM threshold (in baseline standard deviations)" },
  k = { 0.5, "CUSUM allowance (in baseline standard deviations)" },
  warmup = { 30, "batches that set the detector's baseline after a switch" },
  z = { 5.0, "z-test threshold" },
  window = { 8, "z-test window (batches)" },
  hold = { 0.2, "detect: no training while the detector's score is above this fraction of its threshold (0: off)" },
  reuse_z = { 3.0, "reuse an earlier embedding if the batch is within its level + reuse_z sigma" },
  new_init = { "random", "a new embedding starts random, or as a copy of the best-scoring one (similar)",
               choices = { "random", "similar" } },
  tolerance = { 60, "batches after a ramp's end within which an alarm still detects it" },
  beta = { 0.05, "hypernetwork regularisation strength" },
  lr = { 1e-3, "Adam learning rate" },
  max_embeddings = { 24, "most embeddings a learner may open" },
  eval_max = { 0, "test samples per distribution (0: all; else evenly spaced over each test split)" },
  subset = { 0, "use a random subset of this many training samples (and a sixth as many test samples; 0: all)" },
}, "gradual_drift.lua: boundary-free continual learning on a drifting stream")

if o.quick then
  o.segment, o.ramp, o.warmup = math.min(o.segment, 60), math.min(o.ramp, 10), math.min(o.warmup, 15)
  if o.subset == 0 then o.subset = 3000 end
end
local DEFAULT_VALUES = {
  rotation = o.quick and "0,90,0" or "0,45,90,0,90,45",
  brightness = o.quick and "0,0.6,0" or "0,0.3,0.6,0,0.6,0.3",
  contrast = o.quick and "1,0.3,1" or "1,0.6,0.3,1,0.3,0.6",
}
local values_text = o.values == "default" and DEFAULT_VALUES[o.drift] or o.values
local segments = {}
for _, v in ipairs(hnet.cli.list(values_text)) do
  local x = tonumber(v)
  if not x then error(("--values: '%s' is not a number"):format(v), 0) end
  segments[#segments + 1] = { value = x, batches = o.segment }
end
if #segments < 2 then error("--values: give at least two segments", 0) end

local ds = hnet.datasets.load(o.dataset)
if o.subset > 0 then ds = shift.subset(ds, o.subset, math.max(1, o.subset // 6), o.seed) end
local target = { "mlp", hidden = { 100, 100 } }
local hcfg = { embedding = 32, hidden = { 20, 20 }, act = "elu", chunk = 5000, chunk_embedding = 32 }

local function new_stream()
  return shift.drift_stream { source = ds, kind = o.drift, segments = segments, ramp = o.ramp,
                              batch = o.batch, seed = o.seed }
end

local function new_detector()
  if o.detector == "cusum" then
    return shift.cusum { k = o.k, h = o.h, warmup = o.warmup, transform = "log" }
  end
  return shift.ztest { window = o.window, reference = o.warmup, z = o.z, transform = "log" }
end

local function stat_of(logits, y)
  if o.statistic == "loss" then return hnet.loss.xent(logits, y) end
  return hnet.loss.entropy(logits):mean()
end

local function argmin(xs, skip)
  local best, bi = math.huge, nil
  for i, v in ipairs(xs) do
    if i ~= skip and v < best then best, bi = v, i end
  end
  return bi, best
end

-- One learner over the whole stream; returns its results.
local function run_learner(policy)
  local stream = new_stream()
  local pool = shift.pool {
    input_shape = ds.shape, n_outputs = ds.n_classes, target = target, hnet = hcfg,
    beta = o.beta, lr = o.lr, batch = o.batch, max_embeddings = o.max_embeddings, seed = o.seed,
  }
  pool:activate(pool:add())
  local det = new_detector()
  local level = {}      -- embedding -> { mean, std } (the detector's scale) when last active
  local assigned = {}   -- distribution id -> the embedding active at the end of its last segment
  local oracle_emb = {} -- (oracle) distribution id -> embedding
  local switch_at = {}
  for _, ch in ipairs(stream.changes) do switch_at[(ch.start + ch.finish) // 2] = ch.to end
  oracle_emb[stream.segments[1].id] = 1
  local alarms, rows, online, reuses, opened, holds = {}, {}, 0, 0, 0, 0
  local t0 = hnet.sys.clock()
  local function open_from(best)
    local k = pool:add(o.new_init == "similar" and best or nil)
    opened = opened + 1
    return k
  end
  for t = 1, stream:len() do
    local x, y, v = stream:batch(t)
    local active = pool.active
    if policy == "oracle" and switch_at[t] then
      local d = switch_at[t]
      if not oracle_emb[d] then oracle_emb[d] = open_from(active) else reuses = reuses + 1 end
      pool:activate(oracle_emb[d])
      active = pool.active
    end
    local logits = pool:forward(x, active)
    local acc = hnet.loss.accuracy(logits, y)
    online = online + acc
    local stat = stat_of(logits, y)
    local alarm, score = false, 0
    if policy == "detect" then
      alarm, score = det:update(stat)
      if alarm then
        alarms[#alarms + 1] = t
        local m, s = det:baseline()
        if m then level[active] = { m, s } end
        local scores = pool:scores(x, y, o.statistic)
        -- Reuse: the best embedding (other than the active one) for which
        -- this batch is in control.
        local reuse, best_score = nil, math.huge
        for j, sj in ipairs(scores) do
          local lv = level[j]
          if j ~= active and lv and sj < best_score and math.log(math.max(sj, 1e-12)) <= lv[1] + o.reuse_z * lv[2] then
            reuse, best_score = j, sj
          end
        end
        if reuse then
          reuses = reuses + 1
          pool:activate(reuse)
        elseif pool.n < o.max_embeddings then
          pool:activate(open_from(argmin(scores)))
        else
          pool:activate(argmin(scores, active) or active)
        end
        -- A reused embedding's in-control level is known: no warm-up, so a
        -- drift that goes on is caught (and held) before it overwrites it.
        local lv = level[pool.active]
        if lv then det:reset(lv[1], lv[2]) else det:reset() end
      end
    end
    local d = stream:distribution(t)
    rows[#rows + 1] = ("%d,%.4f,%s,%.5f,%.3f,%d,%d,%.4f"):format(t, v, d or "", stat, score,
      alarm and 1 or 0, pool.active, acc)
    -- While a change is suspected, the active embedding is not trained on
    -- the incoming batches: it would follow the drift and lose what it knew.
    local held = policy == "detect" and o.hold > 0 and not alarm
                 and score > o.hold * (o.detector == "cusum" and o.h or o.z)
    if held then holds = holds + 1 else
      for _ = 1, o.steps do pool:step(x, y) end
    end
    local _, si = stream:distribution(t)
    if si and t == stream.segments[si].finish then assigned[d] = pool.active end
  end
  -- Final accuracy over every distribution seen.
  local per, sum_inf, sum_asg, sum_route = {}, 0, 0, 0
  local limit = o.eval_max > 0 and o.eval_max or nil
  for _, dist in ipairs(stream.distributions) do
    local task = stream:task(dist.id)
    local acc_inf, chosen = pool:evaluate(task.test, "infer", limit)
    local acc_asg = pool:evaluate(task.test, assigned[dist.id], limit)
    local n = 0
    for _, c in ipairs(chosen) do n = n + c end
    local route = 100 * chosen[assigned[dist.id]] / n
    per[#per + 1] = { value = dist.value, inferred = acc_inf, assigned = acc_asg, routing = route,
                      embedding = assigned[dist.id] }
    sum_inf, sum_asg, sum_route = sum_inf + acc_inf, sum_asg + acc_asg, sum_route + route
  end
  local nd = #stream.distributions
  local res = {
    learner = policy, embeddings = pool.n, opened = opened, reuses = reuses, alarms = alarms, held = holds,
    online = online / stream:len() * 100, acc_inferred = sum_inf / nd, acc_assigned = sum_asg / nd,
    routing = sum_route / nd, per = per, seconds = hnet.sys.clock() - t0, rows = rows,
    changes = #stream.changes,
  }
  if policy == "detect" then
    res.score = shift.score_alarms(alarms, stream.changes, { tolerance = o.tolerance })
  end
  return res, stream
end

local results, stream = {}, nil
for _, name in ipairs(hnet.cli.list(o.learners)) do
  if not o.quiet then print(("gradual_drift: %s ..."):format(name)) end
  local r
  r, stream = run_learner(name)
  results[#results + 1] = r
end

-- ---- report ----------------------------------------------------------------------

local function f2(v) return v and ("%.2f"):format(v) or "–" end
local lines = {
  ("### Gradual drift: %s of %s, segments %s (%d batches each), ramps of %d batches, batch %d, seed %d")
    :format(o.drift, o.dataset, values_text, o.segment, o.ramp, o.batch, o.seed), "",
  ("Detector: %s on the per-batch %s (log scale); %d changes; an alarm counts as a detection within a ramp + %d batches.")
    :format(o.detector, o.statistic, stream and #stream.changes or 0, o.tolerance), "",
  "| learner | embeddings | alarms | detected | mean delay (batches) | false alarms | extra alarms in ramps | batches held | online acc % | final acc % (inferred) | final acc % (last embedding) | routing % |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
}
for _, r in ipairs(results) do
  local s = r.score
  lines[#lines + 1] = ("| %s | %d | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.1f |"):format(
    r.learner, r.embeddings, s and #r.alarms or "–", s and ("%d/%d"):format(s.detected, r.changes) or "–",
    s and f2(s.mean_delay) or "–", s and s.false_alarms or "–", s and s.extra or "–", s and r.held or "–",
    r.online, r.acc_inferred, r.acc_assigned, r.routing)
end
lines[#lines + 1] = ""
local head = { "| learner |" }
local sep = { "|---|" }
for _, d in ipairs(stream.distributions) do
  head[#head + 1] = (" %s %g |"):format(o.drift, d.value)
  sep[#sep + 1] = "---|"
end
lines[#lines + 1] = table.concat(head) .. "  (final accuracy %, inferred / last embedding)"
lines[#lines + 1] = table.concat(sep)
for _, r in ipairs(results) do
  local cells = { ("| %s |"):format(r.learner) }
  for _, p in ipairs(r.per) do cells[#cells + 1] = (" %.2f / %.2f |"):format(p.inferred, p.assigned) end
  lines[#lines + 1] = table.concat(cells)
end
if results[1] and results[1].score then
  for _, r in ipairs(results) do
    if r.score then
      local ds_ = {}
      for c = 1, r.changes do ds_[c] = r.score.delays[c] and tostring(r.score.delays[c]) or "missed" end
      lines[#lines + 1] = ""
      lines[#lines + 1] = ("%s: delays per change %s; alarms at batches %s"):format(r.learner,
        table.concat(ds_, ", "), table.concat(r.alarms, ", "))
    end
  end
end
local md = table.concat(lines, "\n") .. "\n"
print(md)

if o.out then
  assert(hnet.sys.mkdir_p(o.out))
  assert(hnet.sys.write_file(o.out .. "/results.md", md))
  local series = {}
  for _, r in ipairs(results) do
    assert(hnet.sys.write_file(("%s/%s.csv"):format(o.out, r.learner),
      "batch,value,distribution,statistic,score,alarm,embedding,online_acc\n" .. table.concat(r.rows, "\n") .. "\n"))
    local xs, ys = {}, {}
    for i, row in ipairs(r.rows) do
      xs[i] = i
      ys[i] = tonumber(row:match("^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,([^,]*)"))
    end
    -- Learners often pick the same embedding: wider lines first, so that
    -- each one stays visible where they overlap.
    series[#series + 1] = { name = r.learner, x = xs, y = ys,
                            style = ("steps lw %g"):format(1.5 + 2.5 * (#results - #series - 1)) }
  end
  local cjson = require "cjson"
  local summary = { options = o, results = {} }
  for _, r in ipairs(results) do
    local c = {}
    for k, v in pairs(r) do if k ~= "rows" then c[k] = v end end
    summary.results[#summary.results + 1] = c
  end
  assert(hnet.sys.write_file(o.out .. "/summary.json", cjson.encode(summary) .. "\n"))
  -- Every learner on embedding 1 throughout: a flat line says nothing, and
  -- gnuplot would warn (on stdout, even under --quiet) about an empty range.
  local lo, hi = math.huge, -math.huge
  for _, se in ipairs(series) do
    for _, y in ipairs(se.y) do lo, hi = math.min(lo, y), math.max(hi, y) end
  end
  if hi > lo then
    local ok, msg = hnet.plot.lines { out = o.out .. "/embeddings.png", series = series,
      title = "active embedding along the stream", xlabel = "batch", ylabel = "embedding" }
    if not ok and not o.quiet then print(msg) end
  else
    os.remove(o.out .. "/embeddings.png")
    if not o.quiet then print(("embeddings.png not drawn: every learner used embedding %g throughout"):format(lo)) end
  end
end
return results
