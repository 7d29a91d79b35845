-- seq_mnist.lua — Sequential Split MNIST: each image read as 28 rows of 28
-- pixels by an LSTM (or pixel by pixel: --order pixels), five two-digit
-- tasks (0/1, 2/3, ...); the hypernetwork and every baseline, task given
-- (CL1) and class-incremental (CL3: the hypernetwork and separate networks
-- infer the task by the lowest predictive entropy).
--
-- Not a published configuration: an LSTM of 64 units read out after the
-- last row, a chunked hypernetwork 50-50 (chunks of 2000, embeddings 32),
-- beta 0.1, Adam lr 1e-3, batch 64, 1000 iterations per task, on the
-- 10,000-image MNIST subset (--dataset mnist_full for the full set).
--
--   ./hnet experiments/seq_mnist.lua [--quick] [--learners a,b] [--scenarios cl1,cl3]
local hnet = require "hnet"
local E = hnet.experiment

local ALL = "hypernet,finetune,ewc,online_ewc,si,separate,joint"
local o, context = E.options(arg, {
  out_default = "runs/seq_mnist",
  resumable = true,
  learners = E.learners_option(ALL),
  scenarios = E.scenarios_option("task-given,class"),
  iterations = { 1000, "training iterations per task" },
  dataset = { "mnist", "dataset: mnist (the subset) or mnist_full" },
  order = { "rows", "read an image by rows (28 steps) or pixels (784 steps)", choices = { "rows", "pixels" } },
  cell = { "lstm", "recurrent layer: rnn, lstm or gru", choices = { "rnn", "lstm", "gru" } },
  hidden = { 64, "hidden units" },
  beta = { 0.1, "hypernetwork regularisation strength" },
  ewc_lambda = { 5000.0, "EWC / online EWC strength" },
  si_c = { 1.0, "SI strength" },
}, "seq_mnist.lua: Sequential Split MNIST, hypernetwork vs baselines, CL1/CL3")
local eval_max
if o.quick then o.iterations, o.hidden, eval_max = math.min(o.iterations, 60), math.min(o.hidden, 32), 300 end

local stream = hnet.stream.seq_mnist { dataset = o.dataset, order = o.order }
local target = { "rnn", cell = o.cell, hidden = { o.hidden }, output = "last" }
local learner_options = E.learner_options(o, {
  all = { target = target, lr = o.quick and 5e-3 or 1e-3, batch = 64, eval_batch = 500 },
  learner = { hypernet = { hnet = { embedding = 32, hidden = { 50, 50 }, chunk = 2000, chunk_embedding = 32 } } },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" } },
})

local rows = E.compare {
  context = context,
  stream = stream, learners = hnet.cli.list(o.learners), scenarios = hnet.cli.list(o.scenarios),
  learner_options = learner_options, out = o.out, force = o.force, quiet = o.quiet,
  verbose = o.verbose, eval_max = eval_max,
  meta = { experiment = "seq_mnist", seed = o.seed },
}
E.finish(rows, o, ("Sequential Split %s (%s, %s %d), seed %d, %d iterations per task")
  :format(o.dataset, o.order, o.cell, o.hidden, o.seed, o.iterations))
return rows
