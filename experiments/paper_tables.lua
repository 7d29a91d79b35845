-- paper_tables.lua — the whole comparison of von Oswald et al. (ICLR 2020)
-- as reproduced here, written as Markdown: toy regression, Split MNIST
-- (CL1/CL2/CL3) and PermutedMNIST-10 (Fashion-MNIST by default: CL1/CL3;
-- full MNIST, as published: CL1/CL2/CL3), the hypernetwork next to every
-- baseline, and the paper's class-incremental methods HNET+TIR (hnet_tir)
-- and HNET+R (hnet_r) in CL2/CL3, where the paper has them. With --seeds N
-- every number is a mean ± standard error over seeds 1..N (the baselines
-- over 1..--baseline_seeds).
--
-- Every CL2/CL3 result comes with two accuracies, named in each table's
-- legend: "final" (each task after the last one was learnt) and "during"
-- (each task right after it was learnt, the task inferred among the tasks
-- seen so far: the reference code's acc_during_mean).
--
--   ./hnet experiments/paper_tables.lua [--seeds 5] [--baseline_seeds 3] [--quick] [--only toy,split,permuted]
--   ./hnet experiments/paper_tables.lua --mnist mnist_full --permuted mnist_full   (the published
--                                        data; `make data` fetches full MNIST)
--
-- Each experiment writes under --out as <experiment>-seed<S> (the replay
-- learners apart, as <experiment>_replay-seed<S>); runs made there by the
-- experiment scripts themselves (docs/benchmarks.md: the same commands, one
-- at a time or two in parallel) are loaded with --resume instead of trained.
local hnet = require "hnet"
local E = hnet.experiment

local o, context = E.options(arg, {
  out_default = "runs/paper_tables",
  resumable = true, -- it runs resumable experiments under its --out
  seeds = { 1, "seeds of the hypernetwork methods (hypernet, hnet_tir, hnet_r): 1..N", min = 1 },
  baseline_seeds = { 0, "seeds of the baselines (finetune, ewc, online_ewc, si, separate, joint): 1..N; 0: --seeds",
                     min = 0 },
  only = { "toy,split,permuted", "which experiments to run", choices = { "toy", "split", "permuted" },
           list = true },
  mnist = { "mnist", "Split MNIST data: mnist (the 10k subset) or mnist_full (60k/10k, as published)",
            choices = { "mnist", "mnist_full" } },
  permuted = { "fashion_mnist", "PermutedMNIST data: fashion_mnist, or mnist_full (the published PermutedMNIST-10)",
               choices = { "fashion_mnist", "mnist_full" } },
}, "paper_tables.lua: the paper's comparison, as Markdown tables")
local baseline_seeds = o.baseline_seeds > 0 and o.baseline_seeds or o.seeds

-- The learners of each experiment: the hypernetwork methods (seeds 1..o.seeds)
-- and the baselines (1..baseline_seeds); the replay learners run apart in
-- the scenarios where the task is inferred.
local HNET_METHODS = { hypernet = true, hnet_tir = true, hnet_r = true }
local BASE = { "hypernet", "finetune", "ewc", "online_ewc", "si", "separate", "joint" }
local REPLAY = "hnet_tir,hnet_r"
-- The paper's name of each row's method.
local METHOD = { finetune = "fine-tuning", ewc = "EWC", online_ewc = "online EWC", si = "SI",
                 separate = "separate networks", joint = "joint training", hnet_tir = "HNET+TIR", hnet_r = "HNET+R" }
local function method(learner, sc)
  if learner == "hypernet" then return sc == "task-given" and "HNET" or "HNET+ENT" end
  return METHOD[learner] or learner
end

local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local function run_experiment(file, seed, extra, tag)
  local args = { "--seed", tostring(seed), "--out", ("%s/%s-seed%d"):format(o.out, tag or file, seed) }
  if o.quick then args[#args + 1] = "--quick" end
  if o.force then args[#args + 1] = "--force" end
  if o.quiet then args[#args + 1] = "--quiet" end
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  args[0] = dir .. "/" .. file .. ".lua"
  args.context = context -- its runs resume with ours and name our command
  local chunk = assert(loadfile(args[0]))
  local saved = arg
  arg = args
  local rows = hnet.sweep.nested(chunk) -- {} while hnet.sweep.batch collects its runs
  arg = saved
  return rows
end

-- The registered metrics of a kind that the paper tables show (paper ~= false).
local function paper_metrics(regression)
  local out = {}
  for _, e in ipairs(hnet.metrics.list(regression and "regression" or "classification")) do
    if e.paper then out[#out + 1] = e end
  end
  return out
end

-- Mean ± SE over seeds of each (learner, scenario) row.
local function aggregate(per_seed)
  local by, order = {}, {}
  for _, rows in ipairs(per_seed) do
    for _, r in ipairs(rows) do
      local k = r.learner .. "/" .. r.scenario
      if not by[k] then by[k] = {}; order[#order + 1] = k end
      table.insert(by[k], r)
    end
  end
  local out = {}
  for _, k in ipairs(order) do
    local rs = by[k]
    local function ms(field, fmt)
      fmt = fmt or "%.2f"
      local xs = {}
      for _, r in ipairs(rs) do if r[field] then xs[#xs + 1] = r[field] end end
      if #xs == 0 then return "–" end
      local m, se = hnet.metrics.mean_se(xs)
      if #xs == 1 then return fmt:format(m) end
      return (fmt .. " ± " .. fmt):format(m, se)
    end
    local mse
    if rs[1].regression then
      mse = {}
      for j = 1, #rs[1].final do
        local xs = {}
        for _, r in ipairs(rs) do xs[#xs + 1] = r.final[j] end
        local m, se = hnet.metrics.mean_se(xs)
        mse[j] = #xs > 1 and ("%.5f ± %.5f"):format(m, se) or ("%.5f"):format(m)
      end
    end
    local cells = {} -- a column per registered metric the paper tables show
    for _, e in ipairs(paper_metrics(rs[1].regression)) do cells[#cells + 1] = ms(e.name, e.format) end
    out[#out + 1] = { learner = rs[1].learner, scenario = rs[1].scenario, cells = cells,
                      ti = ms("task_inference"), params = rs[1].params, mse = mse, n = #rs }
  end
  return out
end

local sections = {}
local want = {}
for _, w in ipairs(hnet.cli.list(o.only)) do want[w] = true end

-- Plain headers for the two accuracies of a row (the legend says what they are).
local HEADER = { acc = "final ACC %", acc_during = "during ACC %" }
local LEGEND = "final ACC: mean over tasks of each task's test accuracy after the last task was learnt. "
  .. "during ACC: mean over tasks of each task's test accuracy right after that task was learnt "
  .. "(the task inferred among the tasks seen so far in CL2/CL3: the reference code's acc_during_mean). "
  .. "HNET+ENT is the hypernetwork with the task inferred by lowest predictive entropy; "
  .. "n: seeds in the row."

local table_of

-- An experiment's section: its base learners in its scenarios, the replay
-- learners in those of `scenarios` where the task is inferred.
local function section(title, file, extra, scenarios)
  local per_seed = {}
  for seed = 1, math.max(o.seeds, baseline_seeds) do
    local names = {}
    for _, l in ipairs(BASE) do
      if seed <= (HNET_METHODS[l] and o.seeds or baseline_seeds) then names[#names + 1] = l end
    end
    local rows = {}
    local function add(list, sc, tag)
      local args = { "--learners", list, "--scenarios", sc }
      for _, a in ipairs(extra or {}) do args[#args + 1] = a end
      for _, r in ipairs(run_experiment(file, seed, args, tag)) do rows[#rows + 1] = r end
    end
    if #names > 0 then add(table.concat(names, ","), scenarios) end
    local inferred = {}
    for _, sc in ipairs(hnet.cli.list(scenarios)) do
      if sc ~= "task-given" then inferred[#inferred + 1] = sc end
    end
    if seed <= o.seeds and #inferred > 0 then add(REPLAY, table.concat(inferred, ","), file .. "_replay") end
    per_seed[#per_seed + 1] = rows
  end
  return table_of(title, per_seed)
end

-- The Markdown table of a section from its per-seed result rows (added to
-- `sections`); returns the aggregated rows.
function table_of(title, per_seed)
  local rows = aggregate(per_seed)
  local lines = { "### " .. title, "" }
  local regression = rows[1] and rows[1].mse ~= nil
  local heads, rule = {}, {}
  for _, e in ipairs(paper_metrics(regression)) do
    heads[#heads + 1] = " " .. (HEADER[e.name] or e.header) .. " |"; rule[#rule + 1] = "---|"
  end
  local function cells(r)
    local c = {}
    for _, v in ipairs(r.cells) do c[#c + 1] = " " .. v .. " |" end
    return table.concat(c)
  end
  if regression then
    lines[#lines + 1] = "| learner | task 1 MSE | task 2 MSE | task 3 MSE |" .. table.concat(heads)
    lines[#lines + 1] = "|---|---|---|---|" .. table.concat(rule)
    for _, r in ipairs(rows) do
      lines[#lines + 1] = ("| %s | %s |%s"):format(r.learner, table.concat(r.mse, " | "), cells(r))
    end
  else
    lines[#lines + 1] = "| learner | method | scenario |" .. table.concat(heads) .. " task inference % | params | n |"
    lines[#lines + 1] = "|---|---|---|" .. table.concat(rule) .. "---|---|---|"
    for _, r in ipairs(rows) do
      lines[#lines + 1] = ("| %s | %s | %s |%s %s | %d | %d |")
        :format(r.learner, method(r.learner, r.scenario), r.scenario, cells(r), r.ti, r.params, r.n)
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = LEGEND
  end
  sections[#sections + 1] = table.concat(lines, "\n") .. "\n"
  return rows
end

local toy_seeds = o.seeds > 1 and ("mean ± SE over seeds 1..%d"):format(o.seeds) or "seed 1"
local seeds_text = toy_seeds
if baseline_seeds ~= o.seeds then seeds_text = ("%s; baselines over seeds 1..%d"):format(seeds_text, baseline_seeds) end
-- Under mpirun every run of every experiment and seed is handed out at
-- once (hnet.sweep.batch: the body runs twice, first to collect the runs);
-- alone the body runs once.
local all = hnet.sweep.batch(context, function()
  sections = {}
  local all = {}
  if want.toy then -- every learner over seeds 1..o.seeds
    local per_seed = {}
    for seed = 1, o.seeds do per_seed[#per_seed + 1] = run_experiment("toy_regression", seed) end
    all.toy = table_of("Toy regression (" .. toy_seeds .. ")", per_seed)
  end
  if want.split then
    local what = o.mnist == "mnist" and "10k subset" or "full MNIST"
    all.split = section(("Split MNIST, %s (%s)"):format(what, seeds_text), "split_mnist", { "--dataset", o.mnist },
                        "task-given,domain,class")
  end
  if want.permuted then
    local published = o.permuted == "mnist_full"
    all.permuted = section(("%s (%s)"):format(published and "PermutedMNIST-10, full MNIST" or "Permuted Fashion-MNIST-10",
                                             seeds_text),
                           "permuted_fashion", { "--dataset", o.permuted },
                           published and "task-given,domain,class" or "task-given,class")
  end
  return all
end)
local md = "## Results" .. (o.quick and " (--quick smoke run: not comparable)" or "") .. "\n\n"
  .. table.concat(sections, "\n")
if hnet.dist.rank() == 0 then -- under mpirun every rank has the tables; rank 0 writes them
  print(md)
  assert(hnet.sys.mkdir_p(o.out))
  assert(hnet.sys.write_file(o.out .. "/paper_tables.md", md))
end
return all
