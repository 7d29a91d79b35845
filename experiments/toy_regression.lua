-- toy_regression.lua — the 1-D regression example of von Oswald et al. (ICLR
-- 2020, fig. 2): three tasks learned one after the other,
--   x + 3 on [-4, -2],   2x^2 - 1 on [-1, 1],   (x - 3)^3 on [2, 4],
-- 100 training points each with N(0, 0.05^2) target noise and 50 noise-free
-- test points on a grid. Target MLP 1-10-10-1 (sigmoid); hypernetwork 10-10,
-- not chunked, task embedding 2; Adam lr 0.01, batch 32, 4001 iterations per
-- task, beta 0.005. Hypernetwork vs fine-tuning vs EWC vs training from
-- scratch (a separate network per task). Writes the fitted curves (CSV and,
-- with gnuplot, PNG).
--
--   ./hnet experiments/toy_regression.lua [--quick] [--learners a,b]
local hnet = require "hnet"
local E = hnet.experiment

local o, context = E.options(arg, {
  out_default = "runs/toy_regression",
  resumable = true, -- hnet.run, then curves from the runs' learners
  learners = E.learners_option("hypernet,finetune,ewc,separate"),
  iterations = { 4001, "training iterations per task" },
  beta = { 0.005, "hypernetwork regularisation strength" },
  ewc_lambda = { 100.0, "EWC strength" },
}, "toy_regression.lua: the hypernetwork paper's 1-D regression tasks")
if o.quick then o.iterations = math.min(o.iterations, 300) end

local stream = hnet.synthetic.polynomial_stream { seed = o.seed }
local target = { "mlp", hidden = { 10, 10 }, act = "sigmoid" }

-- Each learner gets the options of its cli spec that the command line names
-- (iterations, seed, beta, ...) over these settings.
local learner_options = E.learner_options(o, {
  all = { target = target, lr = 0.01, batch = 32, eval_batch = 100 },
  learner = { hypernet = { hnet = { embedding = 2, hidden = { 10, 10 }, act = "relu", chunk = 0 } },
              ewc = { fisher_samples = 100 } },
  rename = { ewc_lambda = { ewc = "lambda" } },
})

local rows = E.compare {
  context = context,
  stream = stream, learners = hnet.cli.list(o.learners), scenarios = { "task-given" },
  learner_options = learner_options, out = o.out, force = o.force, quiet = o.quiet,
  verbose = o.verbose, meta = { experiment = "toy_regression", seed = o.seed },
}

-- The fitted curves on a dense grid over each task's domain.
local series, csv = {}, { "learner,task,x,y_true,y_pred" }
for t = 1, stream:len() do
  local task = stream:get(t)
  local lo, hi = task.domain[1], task.domain[2]
  local x = hnet.gen.linspace(lo, hi, 100):view(100, 1)
  local xs = x:flat_table()
  local truth = {}
  for k, v in ipairs(xs) do truth[k] = task.f(v) end
  series[#series + 1] = { name = t == 1 and "truth" or nil, x = xs, y = truth,
                          style = "lines lw 4 lc rgb 'black'" }
  for k, r in ipairs(rows) do
    local learner = r.run.learner
    learner:begin_eval(stream:len())
    local y = learner:predict(x, learner:task_conditioned() and t or nil)
    local ys = y:flat_table()
    series[#series + 1] = { name = t == 1 and r.learner or nil, x = xs, y = ys,
                            style = ("lines lw 2 lc %d"):format(k) }
    for i = 1, #xs do
      csv[#csv + 1] = ("%s,%d,%.6f,%.6f,%.6f"):format(r.learner, t, xs[i], truth[i], ys[i])
    end
  end
end
if hnet.dist.rank() == 0 then -- under mpirun, rank 0 writes the experiment's files
  assert(hnet.sys.mkdir_p(o.out))
  assert(hnet.sys.write_file(o.out .. "/curves.csv", table.concat(csv, "\n") .. "\n"))
  local ok, why = hnet.plot.lines { out = o.out .. "/curves.png", series = series, xlabel = "x",
    ylabel = "y", title = "toy regression: fits after the last task" }
  if not ok then print(why) end
end

E.finish(rows, o, ("Toy regression, seed %d, %d iterations per task (published hypernetwork MSE: 0.00419, 0.00239, 0.00607)")
  :format(o.seed, o.iterations))
return rows
