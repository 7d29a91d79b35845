--- The options of hnet.run(learner, stream, opts) as an hnet.spec: hnet.run
-- checks its options through it (hnet.spec.check) and `./hnet help hnet.run`
-- prints it.
return {
  { name = "scenario", type = "string", default = "task-given",
    choices = require("hnet.run.scenario").names(),
    help = "task-given (CL1: the task is given at test time), domain (CL2: one shared head, task not given) or class (CL3: one head over every class seen so far)" },
  { name = "out", type = "string",
    help = "run directory (none: nothing is written, no checkpoints); new, empty, or an earlier run's" },
  { name = "force", type = "boolean", default = false, help = "overwrite a finished or interrupted run in out" },
  { name = "resume", type = "string",
    help = "a run directory: continue its interrupted run from its checkpoint (out defaults to it)" },
  { name = "checkpoint_every", type = "number", min = 0,
    help = "minutes between checkpoints within a task (default: the experiment's, else 10; 0: only at task ends)" },
  { name = "quiet", type = "boolean", default = false, help = "print only results" },
  { name = "verbose", type = "boolean", default = false, help = "progress as plain lines even on a terminal" },
  { name = "progress_every", type = "number", default = 10, above = 0, help = "seconds between plain progress lines" },
  { name = "fwt", type = "boolean", default = true, help = "evaluate forward transfer (off for regression)" },
  { name = "inference", type = "any",
    help = "the task-inference policy: entropy (default: lowest predictive entropy, HNET+ENT), max_prob, energy, another name given to hnet.run.evaluate.register_policy, or a function(entropies_by_task, i) -> task" },
  { name = "eval_max", type = "integer", min = 1,
    help = "evaluate on at most this many test samples per task, evenly spaced over its test split" },
  { name = "plots", type = "boolean", default = true, help = "write PNG plots through gnuplot" },
  { name = "name", type = "string", help = "a label stored in options.json" },
  { name = "meta", type = "table", help = "a table stored in options.json" },
  { name = "context", type = "table",
    help = "the script's context (hnet.experiment.options's second result): its command line, for the run directory and the resume hint" },
}
