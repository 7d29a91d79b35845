-- paper_tables.lua — the whole comparison of von Oswald et al. (ICLR 2020)
-- as reproduced here, written as Markdown: toy regression, Split MNIST
-- (CL1/CL2/CL3) and Permuted Fashion-MNIST-10 (CL1/CL3), the hypernetwork
-- next to every baseline. With --seeds N every number is a mean ± standard
-- error over seeds 1..N.
--
--   ./hnet experiments/paper_tables.lua [--seeds 3] [--quick] [--only toy,split,permuted]
--   ./hnet experiments/paper_tables.lua --mnist mnist_full   (Split MNIST on full MNIST,
--                                                             as published; `make data` fetches it)
local hnet = require "hnet"
local E = hnet.experiment

local o, context = E.options(arg, {
  out_default = "runs/paper_tables",
  resumable = true, -- it runs resumable experiments under its --out
  seeds = { 1, "number of seeds (1..N)", min = 1 },
  only = { "toy,split,permuted", "which experiments to run", choices = { "toy", "split", "permuted" },
           list = true },
  mnist = { "mnist", "Split MNIST data: mnist (the 10k subset) or mnist_full (60k/10k, as published)",
            choices = { "mnist", "mnist_full" } },
}, "paper_tables.lua: the paper's comparison, as Markdown tables")

local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local function run_experiment(file, seed, extra)
  local args = { "--seed", tostring(seed), "--out", ("%s/%s-seed%d"):format(o.out, file, seed) }
  if o.quick then args[#args + 1] = "--quick" end
  if o.force then args[#args + 1] = "--force" end
  if o.quiet then args[#args + 1] = "--quiet" end
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  args[0] = dir .. "/" .. file .. ".lua"
  args.context = context -- its runs resume with ours and name our command
  local chunk = assert(loadfile(args[0]))
  local saved = arg
  arg = args
  local rows = chunk()
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
                      ti = ms("task_inference"), params = rs[1].params, mse = mse }
  end
  return out
end

local sections = {}
local want = {}
for _, w in ipairs(hnet.cli.list(o.only)) do want[w] = true end

local function section(title, file, extra)
  local per_seed = {}
  for seed = 1, o.seeds do per_seed[#per_seed + 1] = run_experiment(file, seed, extra) end
  local rows = aggregate(per_seed)
  local lines = { "### " .. title, "" }
  local regression = rows[1] and rows[1].mse ~= nil
  local heads, rule = {}, {}
  for _, e in ipairs(paper_metrics(regression)) do heads[#heads + 1] = " " .. e.header .. " |"; rule[#rule + 1] = "---|" end
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
    lines[#lines + 1] = "| learner | scenario |" .. table.concat(heads) .. " task inference % | params |"
    lines[#lines + 1] = "|---|---|" .. table.concat(rule) .. "---|---|"
    for _, r in ipairs(rows) do
      lines[#lines + 1] = ("| %s | %s |%s %s | %d |"):format(r.learner, r.scenario, cells(r), r.ti, r.params)
    end
  end
  sections[#sections + 1] = table.concat(lines, "\n") .. "\n"
  return rows
end

local seeds_text = o.seeds > 1 and ("mean ± SE over seeds 1..%d"):format(o.seeds) or "seed 1"
local all = {}
if want.toy then all.toy = section("Toy regression (" .. seeds_text .. ")", "toy_regression") end
if want.split then
  local what = o.mnist == "mnist" and "10k subset" or "full MNIST"
  all.split = section(("Split MNIST, %s (%s)"):format(what, seeds_text), "split_mnist", { "--dataset", o.mnist })
end
if want.permuted then
  all.permuted = section("Permuted Fashion-MNIST-10 (" .. seeds_text .. ")", "permuted_fashion")
end
local md = "## Results" .. (o.quick and " (--quick smoke run: not comparable)" or "") .. "\n\n"
  .. table.concat(sections, "\n")
print(md)
assert(hnet.sys.mkdir_p(o.out))
assert(hnet.sys.write_file(o.out .. "/paper_tables.md", md))
return all
