--- hnet.run.watch — the numerical watch: NaN/Inf in the learner's tensors
-- or in evaluation outputs stops the run with a message naming the task,
-- the iteration and the tensor (the last good checkpoint is never
-- overwritten by a bad state), and a task whose training loss stays at
-- chance is warned about.
local hnet = require "hnet"

local M = {}
local methods = {}
M.methods = methods

--- Is msg a numerical fault (raised by a learner or the checkpoint code)?
function M.numerical(msg) return type(msg) == "string" and msg:find("numerical fault", 1, true) end

-- "the last good checkpoint (...) is intact" or that none was written.
local function last_good(self)
  return self.last_ckpt and ("the last good checkpoint (%s) is intact"):format(self.last_ckpt)
    or "no checkpoint had been written yet"
end

--- Of the n test samples of task j evaluated, `bad_inputs` hold NaN or Inf
-- in their inputs, or `bad_outputs` gave NaN or Inf outputs: a score over
-- them would be meaningless, so the run stops as it does for a NaN in
-- training, saying whether the data or the learner is to blame.
function methods:evaluation_fault(j, n, bad_inputs, bad_outputs)
  local what, hint
  if bad_inputs > 0 then
    what = ("%d of its %d test samples hold NaN or Inf in their inputs"):format(bad_inputs, n)
    hint = "check the task's test data (the transform or generator that made it): training checks only what it trains on"
  else
    what = ("%d of its %d test samples gave NaN or Inf outputs (finite inputs)"):format(bad_outputs, n)
    hint = self.learner:hint("nonfinite") or "lower the learning rate"
  end
  self:fail(("hnet.run: numerical fault evaluating task %d/%d ('%s'): %s. Hint: %s.\nhnet.run: %s.")
    :format(j, self.T, tostring(self.stream:get(j).name), what, hint, last_good(self)))
end

--- The tensors the learner trains (learner:watch()), checked for NaN/Inf
-- every 10 s and at the end of each task: a NaN that an activation hides
-- from the loss (ReLU maps NaN to 0) still stops the run, at most a few
-- seconds late.
function methods:scan(i, it)
  local learner = self.learner
  for _, e in ipairs(learner:watch()) do
    if not e[2]:all_finite() then
      self:fail(("hnet.run: numerical fault in task %d/%d ('%s'), found at iteration %d: the learner's tensor '%s' %s holds NaN or Inf. Hint: %s, or check the task's data.\nhnet.run: %s.")
        :format(i, self.T, tostring(self.stream:get(i).name), it, e[1], tostring(e[2]),
                learner:hint("nonfinite") or "lower the learning rate", last_good(self)))
    end
  end
  self.scan_clock = hnet.sys.clock()
end

-- The chance watch: a classification task whose training loss, averaged
-- over iterations CHANCE_FROM..CHANCE_AT, is not at least CHANCE_MARGIN
-- below chance (the entropy of its training labels: the loss of a network
-- that ignores its input, ln k for k balanced classes) is not learning; one
-- warning per task, with what to try. Normal runs are far below chance by
-- then; a task that trains fewer iterations, or resumes inside the window,
-- is not judged.
local CHANCE_FROM, CHANCE_AT, CHANCE_MARGIN = 101, 200, 0.05

local function label_entropy(y)
  local count, n = {}, 0
  for _, v in ipairs(y:flat_table()) do
    count[v] = (count[v] or 0) + 1
    n = n + 1
  end
  local h, k = 0, 0
  for _, c in pairs(count) do
    h, k = h - c / n * math.log(c / n), k + 1
  end
  return h, k
end

function methods:watch_chance(i, task, it, loss)
  local w = self.chance_watch
  if not w or w.task ~= i then
    w = { task = i, sum = 0, n = 0, done = (task.kind or "classification") ~= "classification" }
    self.chance_watch = w
  end
  if w.done or it < CHANCE_FROM or type(loss) ~= "number" then return end
  w.sum, w.n = w.sum + loss, w.n + 1
  if it < CHANCE_AT then return end
  w.done = true
  if w.n ~= CHANCE_AT - CHANCE_FROM + 1 then return end
  local chance, k = label_entropy(task.train.y)
  local mean = w.sum / w.n
  if k > 1 and mean > (1 - CHANCE_MARGIN) * chance then
    self:warn(("hnet.run: WARNING: task %d/%d ('%s') is not learning: its training loss averaged %.4f over iterations %d-%d, not %d%% below chance (%.4f, the loss of predicting the frequencies of its %d classes; ln %d = %.4f). Try: inputs normalised to mean 0 and variance 1; %s.")
      :format(i, self.T, tostring(task.name), mean, CHANCE_FROM, CHANCE_AT, math.floor(100 * CHANCE_MARGIN + 0.5),
              chance, k, k, math.log(k), self.learner:hint("chance") or "another learning rate"))
  end
end

return M
