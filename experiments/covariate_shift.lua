-- covariate_shift.lua — test-time covariate shift: learners trained on a
-- clean Split or Permuted stream are evaluated, without any training on the
-- shift, on test sets corrupted at increasing severities:
--   noise      additive Gaussian pixel noise, std 0 .. 0.8 (clamped to 0..1)
--   contrast   contrast reduced about each image's mean, factor 1 .. 0.1
-- (hnet.tasks.noisy / hnet.tasks.brightness_contrast: hnet.transform.noise / .brightness_contrast in C).
-- Reported per severity: the mean test accuracy over all tasks after the
-- whole stream, for the hypernetwork and the baselines in each scenario, and
-- for the hypernetwork the task-inference accuracy (lowest predictive
-- entropy over the embeddings) in CL2/CL3. The hypernetwork is trained once
-- and evaluated in every scenario (its training does not depend on it); each
-- baseline is trained once per scenario. Plots: <out>/noise.png,
-- <out>/contrast.png (accuracy vs severity) and <out>/task_inference.png.
--
--   ./hnet experiments/covariate_shift.lua [--quick] [--stream split|permuted]
--       [--dataset mnist] [--learners a,b] [--scenarios task-given,domain,class]
local hnet = require "hnet"
local E = hnet.experiment

local o, context = E.options(arg, {
  out_default = "runs/covariate_shift",
  resumable = true, -- hnet.run, then seeded shifted copies evaluated on the runs' learners
  stream = { "split", "split (5 tasks of 2 classes) or permuted (--tasks permutations)",
             choices = { "split", "permuted" } },
  dataset = { "mnist", "dataset (mnist: the 10k subset; fashion_mnist; ...)" },
  tasks = { 5, "number of tasks for --stream permuted" },
  learners = E.learners_option("hypernet,finetune,ewc,si,joint"),
  scenarios = E.scenarios_option("task-given,domain,class"),
  iterations = { 1000, "training iterations per task" },
  beta = { 0.05, "hypernetwork regularisation strength" },
  ewc_lambda = { 5000.0, "EWC strength" },
  si_c = { 1.0, "SI strength" },
  noise = { "0,0.1,0.2,0.3,0.5,0.8", "noise standard deviations (severity levels)" },
  contrast = { "1,0.8,0.6,0.4,0.2,0.1", "contrast factors (severity levels)" },
  subset = { 0, "use a random subset of this many training samples (and a sixth as many test samples; 0: all)" },
  eval_max = { 0, "test samples per task (0: all; else evenly spaced over each test split)" },
}, "covariate_shift.lua: accuracy and task inference under test-time noise and contrast shift")
if o.quick then
  o.iterations = math.min(o.iterations, 150)
  if o.subset == 0 then o.subset = 2000 end
  if o.stream == "permuted" and o.tasks == 5 then o.tasks = 2 end
  o.noise, o.contrast = "0,0.3,0.8", "1,0.4,0.1"
end
local function numbers(text, what)
  local out = {}
  for _, v in ipairs(hnet.cli.list(text)) do
    local x = tonumber(v)
    if not x or x < 0 then error(("--%s: '%s' is not a number >= 0"):format(what, v), 0) end
    out[#out + 1] = x
  end
  if #out == 0 then error(("--%s: give at least one level"):format(what), 0) end
  return out
end
local KINDS = {
  { name = "noise", levels = numbers(o.noise, "noise"), label = "noise std",
    severity = function(v) return v end, axis = "noise std",
    make = function(task, v) return hnet.tasks.noisy(task, { std = v, seed = o.seed }) end },
  { name = "contrast", levels = numbers(o.contrast, "contrast"), label = "contrast factor",
    severity = function(v) return 1 - v end, axis = "contrast reduction (1 - factor)",
    make = function(task, v) return hnet.tasks.brightness_contrast(task, { contrast = v }) end },
}

local ds = hnet.datasets.load(o.dataset)
if o.subset > 0 then ds = hnet.shift.subset(ds, o.subset, math.max(1, o.subset // 6), o.seed) end
local stream
if o.stream == "split" then
  stream = hnet.stream.split(ds, { classes_per_task = 2 })
else
  stream = hnet.stream.permuted(ds, { tasks = o.tasks, seed = o.seed })
end
local T = stream:len()
local eval_max = o.eval_max > 0 and o.eval_max or nil

-- Each learner gets the options of its cli spec that the command line names
-- (iterations, seed, beta, ...) over these settings.
local learner_options = E.learner_options(o, {
  all = { target = { "mlp", hidden = { 100, 100 } }, lr = 1e-3, batch = 128 },
  learner = { hypernet = { hnet = { embedding = 32, hidden = { 20, 20 }, act = "elu", chunk = 5000,
                                    chunk_embedding = 32 } } },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" } },
})

-- Train: every (learner, scenario) run; learners with one network per task
-- (the hypernetwork) once, under the first scenario.
local scenarios = hnet.cli.list(o.scenarios)
local trained = {} -- { learner =, scenario = (evaluated in), run = }
for _, name in ipairs(hnet.cli.list(o.learners)) do
  local probe = hnet.learners.new(name, learner_options(name))
  local scs = probe:task_conditioned() and { scenarios[1] } or scenarios
  local rows = E.compare {
    context = context,
    stream = stream, learners = { name }, scenarios = scs, learner_options = learner_options,
    out = o.out, force = o.force, quiet = true, verbose = o.verbose, eval_max = eval_max,
    meta = { experiment = "covariate_shift", seed = o.seed },
  }
  for _, r in ipairs(rows) do
    if probe:task_conditioned() then
      for _, sc in ipairs(scenarios) do trained[#trained + 1] = { learner = name, scenario = sc, run = r.run } end
    else
      trained[#trained + 1] = { learner = name, scenario = r.scenario, run = r.run }
    end
  end
  if not o.quiet then print(("covariate_shift: trained %s"):format(name)) end
end

-- Evaluate a finished run on a shifted copy of the stream.
local function evaluate_shifted(entry, shifted)
  local r = entry.run:evaluate_on(shifted, { scenario = entry.scenario })
  return r.mean, r.inference
end

local results = {} -- results[kind][i] = { learner, scenario, acc = {}, inf = {} }
local csv = { "shift,level,value,learner,scenario,accuracy,task_inference" }
for _, kind in ipairs(KINDS) do
  local rows = {}
  for i, e in ipairs(trained) do rows[i] = { learner = e.learner, scenario = e.scenario, acc = {}, inf = {} } end
  for li, v in ipairs(kind.levels) do
    local list = {}
    for j = 1, T do list[j] = kind.make(stream:get(j), v) end
    local shifted = hnet.stream.from(list, { name = ("%s-%s-%g"):format(stream.name, kind.name, v) })
    for i, e in ipairs(trained) do
      local acc, inf = evaluate_shifted(e, shifted)
      rows[i].acc[li], rows[i].inf[li] = acc, inf
      csv[#csv + 1] = ("%s,%d,%g,%s,%s,%.4f,%s"):format(kind.name, li - 1, v, e.learner, e.scenario, acc,
                                                        inf and ("%.4f"):format(inf) or "")
    end
  end
  results[kind.name] = rows
end

-- ---- report ------------------------------------------------------------------------

local md = { ("### Covariate shift at test time: %s %s (%d tasks), seed %d, %d iterations per task")
  :format(o.stream, o.dataset, T, o.seed, o.iterations), "" }
for _, kind in ipairs(KINDS) do
  local head = { ("| learner | scenario |") }
  local sep = { "|---|---|" }
  for _, v in ipairs(kind.levels) do head[#head + 1] = (" %s %g |"):format(kind.name, v); sep[#sep + 1] = "---|" end
  md[#md + 1] = ("Mean test accuracy %% over the %d tasks (task-inference accuracy %% in brackets), %s:"):format(T, kind.label)
  md[#md + 1] = ""
  md[#md + 1] = table.concat(head)
  md[#md + 1] = table.concat(sep)
  for _, r in ipairs(results[kind.name]) do
    local cells = { ("| %s | %s |"):format(r.learner, r.scenario) }
    for li = 1, #kind.levels do
      cells[#cells + 1] = r.inf[li] and (" %.2f (%.1f) |"):format(r.acc[li], r.inf[li])
                          or (" %.2f |"):format(r.acc[li])
    end
    md[#md + 1] = table.concat(cells)
  end
  md[#md + 1] = ""
end
local text = table.concat(md, "\n")
local lead = hnet.dist.rank() == 0 -- under mpirun, rank 0 prints and writes
if lead then print(text) end

if o.out and lead then
  assert(hnet.sys.mkdir_p(o.out))
  assert(hnet.sys.write_file(o.out .. "/results.md", text))
  assert(hnet.sys.write_file(o.out .. "/covariate.csv", table.concat(csv, "\n") .. "\n"))
  local inf_series = {}
  for _, kind in ipairs(KINDS) do
    local series, xs = {}, {}
    for i, v in ipairs(kind.levels) do xs[i] = kind.severity(v) end
    for _, r in ipairs(results[kind.name]) do
      series[#series + 1] = { name = r.learner .. " " .. r.scenario, x = xs, y = r.acc, style = "linespoints" }
      if r.inf[1] then
        inf_series[#inf_series + 1] = { name = ("%s %s (%s)"):format(r.learner, r.scenario, kind.name),
          x = xs, y = r.inf, style = "linespoints" }
      end
    end
    local ok, msg = hnet.plot.lines { out = ("%s/%s.png"):format(o.out, kind.name), series = series,
      title = ("test accuracy under %s (no training on it)"):format(kind.label),
      xlabel = kind.axis, ylabel = "mean test accuracy %" }
    if not ok and not o.quiet then print(msg) end
  end
  if #inf_series > 0 then
    local ok, msg = hnet.plot.lines { out = o.out .. "/task_inference.png", series = inf_series,
      title = "task inference (lowest entropy) under shift", xlabel = "severity (noise std, or contrast reduction)",
      ylabel = "task-inference accuracy %" }
    if not ok and not o.quiet then print(msg) end
  end
end
return results
