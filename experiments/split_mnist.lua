-- split_mnist.lua — Split MNIST (5 tasks: digits 0/1, 2/3, 4/5, 6/7, 8/9) on
-- the 10,000-digit MNIST subset; the hypernetwork and every baseline under
-- CL1 (task given), CL2 (domain-incremental) and CL3 (class-incremental).
--
-- Defaults are the published configuration (hypercl, "reproduces the paper"):
-- target MLP 784-400-400 with 2 outputs per task; chunked hypernetwork 10-10,
-- task and chunk embeddings 96, chunk size 42,000; beta 0.01; Adam lr 0.001;
-- batch 128; 2000 iterations per task; look-ahead on; the hypernetwork
-- initialised as hypercl does (Xavier-uniform weights, zero biases, N(0, 1)
-- embeddings: --init xavier; --init hyperfan for the library's default).
-- HNET+TIR (hnet_tir) and HNET+R (hnet_r) run with the reference's split
-- MNIST configuration (their learners' defaults: train_args_default.py);
-- they are in the default list because the paper's Split MNIST table has
-- them beside HNET+ENT (the hypernet rows of the domain and class
-- scenarios). hnet_tir with the task given is the hypernetwork alone, read
-- off its class run. The replay model's options are --replay_<field>
-- (--replay_beta: hypercl's rp_beta, --replay_latent, --replay_lr, ...).
--
--   ./hnet experiments/split_mnist.lua [--quick] [--learners a,b] [--scenarios cl1,cl3]
--   ./hnet experiments/split_mnist.lua --dataset mnist_full    (full MNIST, as published;
--                                                               `make data` fetches it)
--   ./hnet experiments/split_mnist.lua --train_fraction 0.25   (a quarter of each task's
--                                                               training images; tests whole)
local hnet = require "hnet"
local E = hnet.experiment

local ALL = "hypernet,finetune,ewc,online_ewc,si,separate,joint,hnet_tir,hnet_r"
local o, context = E.options(arg, {
  out_default = "runs/split_mnist",
  resumable = true, -- all its work is hnet.run (E.compare)
  learners = E.learners_option(ALL),
  scenarios = E.scenarios_option("task-given,domain,class"),
  iterations = { 2000, "training iterations per task" },
  dataset = { "mnist", "dataset: mnist (the subset), mnist_full, fashion_mnist, ..." },
  inference = E.inference_option(),
  beta = { 0.01, "hypernetwork regularisation strength" },
  lookahead = { true, "look-ahead regulariser (the paper's runs)" },
  init = { "xavier", "hypernetwork init: xavier (hypercl's, the published runs) or hyperfan",
           choices = { "xavier", "hyperfan" } },
  train_fraction = { 1.0, "fraction of each task's training images used (1: all); test splits stay whole",
                     above = 0, max = 1 },
  ewc_lambda = { 5000.0, "EWC / online EWC strength" },
  si_c = { 1.0, "SI strength" },
}, "split_mnist.lua: Split MNIST, hypernetwork vs baselines, CL1/CL2/CL3")
local eval_max
if o.quick then o.iterations, eval_max = math.min(o.iterations, 40), 300 end

local ds = hnet.datasets.load(o.dataset)
local stream = hnet.stream.split(ds, { classes_per_task = 2 })
if o.train_fraction < 1 then
  -- How much CL3's entropy task inference owes to the amount of data: the
  -- subset has 1,600 training images per task, full MNIST ~12,000.
  local whole = stream
  stream = hnet.stream.custom {
    n = #whole, name = ("%s-train%g"):format(whole.name, o.train_fraction),
    make = function(i)
      return hnet.tasks.subsample(whole:get(i), { fraction = o.train_fraction, seed = o.seed * 100 + i })
    end,
  }
end
local target = { "mlp", hidden = { 400, 400 } }

-- Each learner gets the options of its cli spec that the command line names
-- (iterations, seed, beta, lookahead, init, ...) over these settings.
-- hnet_tir's classifier is the hypernet learner's configuration, and both
-- replay learners start from their split MNIST preset (their defaults).
local HN = { embedding = 96, hidden = { 10, 10 }, act = "relu", chunk = 42000, chunk_embedding = 96 }
local function preset(name)
  local t = {}
  for k, v in pairs(require("hnet.learners." .. name).presets.split_mnist) do t[k] = v end
  return t
end
local tir = preset("hnet_tir")
tir.hnet = HN
local learner_options = E.learner_options(o, {
  all = { target = target, lr = 1e-3, batch = 128 },
  learner = { hypernet = { hnet = HN }, hnet_tir = tir, hnet_r = preset("hnet_r") },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" } },
})

local rows = E.compare {
  context = context,
  stream = stream, learners = hnet.cli.list(o.learners), scenarios = hnet.cli.list(o.scenarios),
  learner_options = learner_options, out = o.out, force = o.force, quiet = o.quiet,
  verbose = o.verbose, eval_max = eval_max, inference = o.inference,
  meta = { experiment = "split_mnist", seed = o.seed },
}
E.finish(rows, o, ("Split %s, seed %d, %d iterations per task"):format(o.dataset, o.seed, o.iterations))
return rows
