-- copy_task.lua — the Permuted Copy Task (Ehret, Henning, Cervera et al.,
-- "Continual learning in recurrent neural networks", ICLR 2021): 5 tasks,
-- patterns of 5 steps of 7 bits, each task writing them back in its own
-- fixed order of the output steps; the hypernetwork and every baseline,
-- task given (CL1). Bits tasks have no CL2/CL3 here (hnet.run refuses them:
-- no classes to gather, and all tasks share their inputs).
--
-- Defaults follow the published hypernetwork run (mariacer/cl_in_rnns,
-- sequential/copy/README.rst:57): a vanilla RNN of 256 tanh units, a
-- chunked hypernetwork 50-50 (chunks of 2500, task and chunk embeddings
-- 32), beta 10, Adam lr 5e-4, batch 128 — but 2000 iterations per task
-- instead of 20,000 (--iterations 20000 for the published length), with a
-- fixed training set (n_train) instead of the reference's data handler, and
-- without its orthogonal hidden-to-hidden regulariser. Gradient-norm
-- clipping at 1 as the published runs (--clip_grad_norm=1 for the
-- hypernetwork, fine-tuning, online EWC, SI and multitask; the total loss's
-- gradient over every trained parameter), except `separate`, whose
-- published run (a network from scratch per task) clips nothing.
-- The baselines' output layer has one head of 7 bits per task (multi-head,
-- as in the reference); the hypernetwork generates one network per task.
--
--   ./hnet experiments/copy_task.lua [--quick] [--learners a,b] [--variant permuted|length|xor]
local hnet = require "hnet"
local E = hnet.experiment

local ALL = "hypernet,finetune,ewc,online_ewc,si,separate,joint"
local o, context = E.options(arg, {
  out_default = "runs/copy_task",
  resumable = true,
  learners = E.learners_option(ALL),
  scenarios = E.scenarios_option("task-given"),
  iterations = { 2000, "training iterations per task" },
  tasks = { 5, "tasks" },
  variant = { "permuted", "what differs between tasks: permuted, length or xor",
              choices = { "permuted", "length", "xor" } },
  length = { 5, "pattern steps" },
  bits = { 7, "bits per step" },
  hidden = { 256, "hidden units of the vanilla RNN" },
  n_train = { 4000, "training patterns per task" },
  beta = { 10.0, "hypernetwork regularisation strength (the published run's)" },
  lr = { 5e-4, "Adam learning rate" },
  ewc_lambda = { 100.0, "EWC / online EWC strength (the published online EWC run's)" },
  si_c = { 0.01, "SI strength (the published SI run's)" },
  clip_grad_norm = { 1.0, "gradient-norm clipping of every learner but separate (the published runs'; 0: off)" },
}, "copy_task.lua: the Permuted Copy Task, hypernetwork vs baselines, CL1")
local eval_max
if o.quick then
  -- Smoke-test size; a larger step, so that 150 iterations learn a task.
  o.iterations, o.hidden, o.n_train, o.tasks, eval_max = math.min(o.iterations, 150), math.min(o.hidden, 32), 256, 3, 200
  o.lr, o.length, o.bits = 5e-3, math.min(o.length, 3), math.min(o.bits, 4)
end

local stream = hnet.stream.copy_task { tasks = o.tasks, bits = o.bits, length = o.length, variant = o.variant,
                                       n_train = o.n_train, n_test = 500, seed = o.seed }
local target = { "rnn", cell = "rnn", hidden = { o.hidden }, output = "all" }
-- The clipped learners: all but separate (see the top).
local clipped = {}
for _, name in ipairs(hnet.cli.list(ALL)) do
  if name ~= "separate" then clipped[name] = "clip_grad_norm" end
end
local learner_options = E.learner_options(o, {
  all = { target = target, lr = o.lr, batch = o.quick and 32 or 128, eval_batch = 500 },
  learner = { hypernet = { hnet = { embedding = 32, hidden = { 50, 50 }, chunk = o.quick and 1000 or 2500,
                                    chunk_embedding = 32 } } },
  rename = { ewc_lambda = { ewc = "lambda", online_ewc = "lambda" }, si_c = { si = "c" }, clip_grad_norm = clipped },
})

local rows = E.compare {
  context = context,
  stream = stream, learners = hnet.cli.list(o.learners), scenarios = hnet.cli.list(o.scenarios),
  learner_options = learner_options, out = o.out, force = o.force, quiet = o.quiet,
  verbose = o.verbose, eval_max = eval_max,
  meta = { experiment = "copy_task", seed = o.seed },
}
E.finish(rows, o, ("Copy Task (%s), %d tasks, %d iterations per task, seed %d")
  :format(o.variant, o.tasks, o.iterations, o.seed))
return rows
