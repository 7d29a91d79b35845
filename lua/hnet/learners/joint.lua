--- Joint (multi-task) training on every task seen so far: the usual upper
-- bound. At task T each step draws one task uniformly from 1..T and a batch
-- from it, with that task's head and labels.
local plain = require "hnet.learners.plain"

local Joint = {}

local begin_task = plain.Plain.begin_task
function Joint:begin_task(t, task)
  begin_task(self, t, task)
  self.views = self.views or {}
  self.views[t] = self.view
  -- Every earlier task now trains against the current head set (CL3: all
  -- classes seen so far), or its own outputs never learn to lose to newer ones.
  for s = 1, t - 1 do self.views[s].mask = self.info.masks(s, t) end
end

-- Each step trains on a task drawn uniformly from 1..t.
function Joint:step_view(t)
  return self.views[self.rng:below(t)]
end

--- Checkpoints: every task's batcher (each keeps its epoch across tasks).
function Joint:save_extra(s)
  for i, v in ipairs(self.views or {}) do v.batcher:save_state(s, "views." .. i) end
end

-- Tasks before t (through t between tasks) need their views before
-- begin_task(t) sets their masks.
function Joint:restore_before_task(s, ctx, t)
  local last = s.in_task and t - 1 or t
  self.views = {}
  for i = 1, last do
    self.views[i] = self:task_view(i, ctx.task(i))
    self.views[i].mask = self.info.masks(i, math.max(t, 1))
  end
  if not s.in_task and t >= 1 then
    self.views[t].mask = self.info.masks(t, t)
    self.view = self.views[t]
  end
end

function Joint:load_extra(s, ctx, t)
  for i = 1, t do self.views[i].batcher:load_state(s, "views." .. i) end
end

return plain.class("joint", {}, Joint)
