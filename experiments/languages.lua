-- languages.lua — a language stream from Debian's word lists: each task
-- tells apart the words of a pair of languages from their UTF-8 bytes (a
-- byte embedding and an LSTM read out after each word's last byte); the
-- hypernetwork and every baseline, task given (CL1) and class-incremental
-- (CL3: name the language among all seen so far).
--
-- Not a published configuration: pairs en/de, fr/es, it/pt, nl/sv, da/pl,
-- 5000 words per language and task, words of at most 20 bytes; embedding
-- 16, LSTM 64; a chunked hypernetwork 50-50 (chunks of 2000, embeddings
-- 32), beta 0.1, Adam lr 1e-3, batch 64, 1000 iterations per task. Needs
-- the word-list packages (make data installs them).
--
--   ./hnet experiments/languages.lua [--quick] [--learners a,b] [--scenarios cl1,cl3]
local hnet = require "hnet"
local E = hnet.experiment

local ALL = "hypernet,finetune,ewc,online_ewc,si,separate,joint"
local o, context = E.options(arg, {
  out_default = "runs/languages",
  resumable = true,
  learners = E.learners_option(ALL),
  scenarios = E.scenarios_option("task-given,class"),
  iterations = { 1000, "training iterations per task" },
  pairs = { "en/de,fr/es,it/pt,nl/sv,da/pl", "language pairs, one task each (codes: en de fr es it pt nl pl sv da)" },
  words = { 5000, "words per language and task" },
  hidden = { 64, "LSTM units" },
  beta = { 0.1, "hypernetwork regularisation strength" },
  ewc_lambda = { 5000.0, "EWC / online EWC strength" },
  si_c = { 1.0, "SI strength" },
}, "languages.lua: which language is a word? hypernetwork vs baselines, CL1/CL3")
local eval_max
if o.quick then
  o.iterations, o.hidden, o.words, eval_max = math.min(o.iterations, 150), math.min(o.hidden, 32), 800, 300
  if o.pairs == "en/de,fr/es,it/pt,nl/sv,da/pl" then o.pairs = "en/de,fr/es" end
end
local pairs_list = {}
for p in o.pairs:gmatch("[^,]+") do
  local a, b = p:match("^%s*(%a+)/(%a+)%s*$")
  if not a then error(("languages.lua: --pairs: '%s' is not two codes like en/de"):format(p), 0) end
  pairs_list[#pairs_list + 1] = { a, b }
end

local stream = hnet.stream.languages { pairs = pairs_list, words = o.words }
local target = { "rnn", cell = "lstm", hidden = { o.hidden }, vocab = 256, embedding = 16, output = "last" }
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
  meta = { experiment = "languages", seed = o.seed },
}
E.finish(rows, o, ("Languages (%s), %d words per language, seed %d, %d iterations per task")
  :format(o.pairs, o.words, o.seed, o.iterations))
return rows
