-- permuted_fashion.lua — Permuted Fashion-MNIST (--dataset mnist_full: the
-- published PermutedMNIST): every task is the dataset
-- zero-padded to 32x32 and then permuted pixel-wise with its own fixed
-- permutation (the first task too: hypercl leaves it unpermuted, which makes
-- no difference to an MLP). CL1 and CL3, the hypernetwork and every baseline.
--
-- Defaults are the published PermutedMNIST-10 configuration (von Oswald et
-- al. 2020 / hypercl): target MLP 1024-1000-1000-10 (ReLU); chunked
-- hypernetwork 25-25 (ELU), task embedding 24, chunk embedding 8, chunk size
-- 78,000; beta 0.1; Adam lr 0.0001; batch 128; 5000 iterations per task;
-- look-ahead on; hypercl's Xavier init of the hypernetwork (--init xavier;
-- --init hyperfan for the library's default). With --tasks 100 (--config
-- pm100), the PermutedMNIST-100 configuration: hypernetwork 200-250-350
-- (ReLU, as hypercl sets it for 100 tasks), task embedding 128, chunk
-- embedding 12, chunk size 7,500, beta 0.01.
--
-- HNET+TIR (hnet_tir) and HNET+R (hnet_r) run with the reference's
-- PermutedMNIST configuration (their learners' presets.permuted_mnist,
-- train_args_default.py); they are in the default list because the paper's
-- PermutedMNIST-10 table has them beside HNET+ENT. With pm100, hnet_tir's
-- classifier takes the pm100 hypernetwork above and its replay model the
-- reference's 100-task one (decoder 400-600, replay hypernetwork 100 (ELU),
-- task embedding 128, chunk embedding 12, chunk size 20,000); hnet_r keeps
-- the pm10 preset (the reference changes nothing of HNET+R for 100 tasks).
-- The reference also regularises a random 20 of the earlier tasks per step
-- for HNET+TIR in CL2 with 100 tasks (hnet_reg_batch_size): --reg_tasks 20.
-- The replay model's options are --replay_<field> (--replay_beta, ...).
--
--   ./hnet experiments/permuted_fashion.lua [--quick] [--tasks N] [--learners a,b]
local hnet = require "hnet"
local E = hnet.experiment

local ALL = "hypernet,finetune,ewc,online_ewc,si,separate,joint,hnet_tir,hnet_r"
local o, context = E.options(arg, {
  out_default = "runs/permuted_fashion",
  resumable = true, -- all its work is hnet.run (E.compare)
  learners = E.learners_option(ALL),
  scenarios = E.scenarios_option("task-given,class"),
  dataset = { "fashion_mnist", "dataset: fashion_mnist, or mnist_full for the published PermutedMNIST" },
  tasks = { 10, "number of permuted tasks" },
  iterations = { 5000, "training iterations per task" },
  config = { "auto", "hypernetwork configuration: pm10, pm100 or auto (pm100 when --tasks > 10)",
             choices = { "auto", "pm10", "pm100" } },
  beta = { -1.0, "regularisation strength (default: 0.1 for pm10, 0.01 for pm100)" },
  lookahead = { true, "look-ahead regulariser (the paper's runs)" },
  init = { "xavier", "hypernetwork init: xavier (hypercl's, the published runs) or hyperfan",
           choices = { "xavier", "hyperfan" } },
  reg_tasks = { 0, "regularise a random subset of this many earlier tasks per step (0: all)" },
  store_targets = { false, "store W*_t (default: recompute them from a snapshot of theta, through Gram matrices)" },
  ewc_lambda = { 5000.0, "EWC / online EWC strength" },
  si_c = { 0.1, "SI strength" },
  inference = E.inference_option(),
}, "permuted_fashion.lua: Permuted Fashion-MNIST, hypernetwork vs baselines")
local eval_max
if o.quick then
  o.iterations, eval_max = math.min(o.iterations, 40), 300
  if o.tasks == 10 then o.tasks = 3 end
end
local cfg = o.config
if cfg == "auto" then cfg = o.tasks > 10 and "pm100" or "pm10" end
local HN = {
  pm10 = { hnet = { embedding = 24, hidden = { 25, 25 }, act = "elu", chunk = 78000,
                    chunk_embedding = 8 }, beta = 0.1 },
  pm100 = { hnet = { embedding = 128, hidden = { 200, 250, 350 }, act = "relu", chunk = 7500,
                     chunk_embedding = 12 }, beta = 0.01 },
}
if o.beta < 0 then o.beta = HN[cfg].beta end

local ds = hnet.datasets.load(o.dataset)
local stream = hnet.stream.permuted(ds, { tasks = o.tasks, seed = o.seed, pad = 32 })
local target = { "mlp", hidden = { 1000, 1000 } }

-- Each learner gets the options of its cli spec that the command line names
-- (iterations, seed, beta, lookahead, init, reg_tasks, ...) over these settings.
-- The replay learners' presets, copied (a table put in is not the preset's own).
local function preset(name)
  local t = {}
  for k, v in pairs(require("hnet.learners." .. name).presets.permuted_mnist) do t[k] = v end
  return t
end
local tir = preset("hnet_tir")
tir.hnet, tir.beta = HN[cfg].hnet, nil -- beta: --beta (o.beta, the configuration's)
if cfg == "pm100" then
  local rp = {}
  for k, v in pairs(tir.replay) do rp[k] = v end
  rp.dec_hidden = { 400, 600 }
  rp.hnet = { embedding = 128, hidden = { 100 }, act = "elu", chunk = 20000, chunk_embedding = 12 }
  tir.replay = rp
end
local learner_options = E.learner_options(o, {
  all = { target = target, lr = 1e-4, batch = 128 },
  learner = { hypernet = { hnet = HN[cfg].hnet }, hnet_tir = tir, hnet_r = preset("hnet_r") },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" } },
})

local rows = E.compare {
  context = context,
  stream = stream, learners = hnet.cli.list(o.learners), scenarios = hnet.cli.list(o.scenarios),
  learner_options = learner_options, out = o.out, force = o.force, quiet = o.quiet,
  verbose = o.verbose, eval_max = eval_max, inference = o.inference,
  meta = { experiment = "permuted_fashion", seed = o.seed, config = cfg, dataset = o.dataset },
}
E.finish(rows, o, ("Permuted %s-%d (%s), seed %d, %d iterations per task")
  :format(o.dataset, o.tasks, cfg, o.seed, o.iterations))
return rows
