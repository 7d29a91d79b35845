--- hnet.run.scenario — the three scenarios: their names, the output heads
-- and masks each one trains and judges with, and which scenarios one
-- training can be judged under.
--
--   "task-given"  (CL1) the task identity is given at test time; each task has
--                 its own head (a per-task network, or its columns of a
--                 multi-head output layer);
--   "domain"      (CL2) one shared head of k outputs, task not given;
--   "class"       (CL3) one head over the classes of every task seen so far,
--                 task not given.
local hnet = require "hnet"

local M = {}

local CANONICAL = { ["task-given"] = "task-given", cl1 = "task-given", domain = "domain",
                    cl2 = "domain", class = "class", cl3 = "class" }

--- The names opts.scenario accepts (the checks of experiment options use it).
function M.names() return { "task-given", "domain", "class", "cl1", "cl2", "cl3" } end

--- The scenario a name stands for ("cl3" -> "class"), or nil.
function M.resolve(name) return CANONICAL[name] end

--- Heads: for task t, the output columns it owns (offset 0-based, n
-- columns), and the width of the output layer. A task-conditioned learner
-- (one network per task), a domain run and regression tasks share one head
-- of the widest task's size (regression as in the paper's toy example).
function M.plan_heads(stream, scenario, conditioned, regression)
  local heads, total, kmax = {}, 0, 0
  for t = 1, stream:len() do
    local task = stream:get(t)
    local k = task.n_classes or task.n_outputs or 1
    heads[t] = { offset = total, n = k }
    total = total + k
    if k > kmax then kmax = k end
  end
  local n_outputs
  if conditioned or scenario == "domain" or regression then
    n_outputs = kmax
    for t = 1, #heads do heads[t].offset = 0 end
  else
    n_outputs = total
  end
  return heads, n_outputs
end

--- The mask (a tensor of n_outputs 0/1) for training task t and evaluating
-- with n_seen tasks seen: CL1 the task's head; CL3 every head seen; CL2 none
-- (nil: every column).
function M.mask(scenario, heads, n_outputs, t, n_seen)
  if scenario == "domain" or (n_outputs == heads[t].n and heads[t].offset == 0) then return nil end
  local m = hnet.tensor(n_outputs)
  if scenario == "task-given" then
    local h = heads[t]
    for c = h.offset + 1, h.offset + h.n do m:set(c, 1) end
  else
    local last = heads[n_seen]
    for c = 1, last.offset + last.n do m:set(c, 1) end
  end
  return m
end

--- What task j's labels are shifted by in the output layer.
function M.label_offset(scenario, heads, j)
  return scenario == "domain" and 0 or heads[j].offset
end

--- Judging a sample whose task was inferred as t (task j's, its prediction
-- under t's network right): CL3 needs the task too, CL2 only the label.
function M.right_when_inferred(scenario, t, j)
  return scenario == "domain" or t == j
end

--- How many tasks the untrained learner's baseline b_j is evaluated with:
-- a shared network in CL3 has every class head from the start.
function M.baseline_seen(scenario, conditioned, T)
  return (scenario == "class" and not conditioned) and T or 1
end

-- The scenarios a task-conditioned learner's run also judges, beside its
-- own: its training does not depend on the scenario, so a run that infers
-- the task also scores the same networks with the task given, and a class
-- run scores the label within the inferred task (its CL2). `key` names the
-- summary field and the result, `scenario` the scenario whose figure it is,
-- `judged_in` the trained scenarios that score it, `ckpt` the checkpoint's
-- suffix.
M.ALONGSIDE = {
  { key = "task_given", scenario = "task-given", judged_in = { domain = true, class = true },
    ckpt = "g", csv = "accuracy_matrix_task_given.csv", label = "with the task given" },
  { key = "domain", scenario = "domain", judged_in = { class = true },
    ckpt = "d", csv = "accuracy_matrix_domain.csv",
    label = "judged on the label within the inferred task (CL2)" },
}

--- Is the task identity given at test time?
function M.task_given(sc) return sc == "task-given" end

--- Does a run trained under `trained` also score ALONGSIDE's `key`?
function M.judges(trained, key)
  for _, a in ipairs(M.ALONGSIDE) do
    if a.key == key then return a.judged_in[trained] == true end
  end
  return false
end

--- Of `scenarios`, the one whose run scores the most of the others
-- alongside (a task-conditioned learner trains once, there, and the others'
-- rows are read off it), or nil when none scores another.
function M.carrier(scenarios)
  local asked, best, most = {}, nil, 0
  for _, sc in ipairs(scenarios) do asked[sc] = true end
  for _, sc in ipairs(scenarios) do
    local n = 0
    for _, a in ipairs(M.ALONGSIDE) do
      if a.judged_in[sc] and asked[a.scenario] then n = n + 1 end
    end
    if n > most then best, most = sc, n end
  end
  return best
end

--- The ALONGSIDE key under which a run trained under `carrier` scores
-- scenario sc, or nil.
function M.carried(carrier, sc)
  for _, a in ipairs(M.ALONGSIDE) do
    if a.scenario == sc and a.judged_in[carrier] then return a.key end
  end
  return nil
end

--- May a run trained under `trained` be judged under `scenario`? Only a
-- task-conditioned learner's: a shared network's heads follow its scenario.
function M.can_judge(trained, scenario, conditioned)
  return scenario == trained or conditioned
end

return M
