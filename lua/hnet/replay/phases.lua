--- hnet.replay.phases — what the replay learners (hnet_tir, hnet_r) share:
-- a task trains in phases of `iterations` steps each, in a fixed order
-- (hypercl trains the classifier on task t, then the task-inference
-- network, then the replay model on task t); a phase that does not apply to
-- a task (no earlier task to replay, no later task to replay for, the task
-- given) is skipped, and the run's iteration numbers stay those of the full
-- schedule so that a checkpoint's iteration says where to resume. Also the
-- replay model's options as a learner's `replay` field.
local spec = require "hnet.spec"
local vae = require "hnet.replay.vae"

local M = {}

--- The replay model's options as a learner's `replay` field: vae.OPTIONS
-- without batch and seed (the learner's), with `defaults` (name -> value)
-- in place of the model's own.
function M.replay_fields(defaults)
  local out = {}
  for _, e in ipairs(vae.OPTIONS) do
    if e.name ~= "batch" and e.name ~= "seed" then
      local c = {}
      for k, v in pairs(e) do c[k] = v end
      if defaults[e.name] ~= nil then c.default = defaults[e.name] end
      out[#out + 1] = c
    end
  end
  return spec.validate(out, "hnet.replay.phases.replay_fields")
end

--- The replay model of a learner: o.replay (checked) with the learner's
-- batch and seed.
function M.replay_model(o, info)
  local ro = { batch = o.batch, seed = o.seed }
  for k, v in pairs(o.replay) do ro[k] = v end
  return vae.new(ro, info, 7)
end

--- The phase of iteration `it` (1-based) with n iterations per phase.
function M.of(it, n) return (it - 1) // n + 1 end

--- Train the current task from hooks.from (default 1) to n_phases · n,
-- the steps of an inactive phase skipped (active(p) false); each step is
-- self:train_step(it) and hooks.step(it, loss, reg) after it (true: stop).
-- Returns the last iteration done.
function M.train_task(self, hooks, n, n_phases, active)
  hooks = hooks or {}
  local it = (hooks.from or 1) - 1
  local total = n * n_phases
  while it < total do
    it = it + 1
    local p = M.of(it, n)
    if not active(p) then
      it = p * n
    else
      local loss, reg = self:train_step(it)
      if hooks.step and hooks.step(it, loss, reg) then break end
    end
  end
  return it
end

--- Copy the entries of s under prefix .. "." into a table without it.
function M.sub(s, prefix)
  local out, p = {}, prefix .. "."
  for k, v in pairs(s) do
    if type(k) == "string" and k:sub(1, #p) == p then out[k:sub(#p + 1)] = v end
  end
  return out
end

--- Copy a table's entries into s under prefix .. ".".
function M.put(s, prefix, t)
  for k, v in pairs(t) do s[prefix .. "." .. k] = v end
end

return M
