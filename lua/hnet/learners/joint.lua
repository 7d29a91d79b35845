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

function Joint:train_task(t, task, hooks)
  for it = 1, self.o.iterations do
    local view = self.views[self.rng:below(t)]
    local loss, pen = self:train_step(it, view)
    if hooks and hooks.step then hooks.step(it, loss, pen) end
  end
end

return plain.class("joint", {}, Joint)
