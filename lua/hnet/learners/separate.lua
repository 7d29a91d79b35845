--- One separate network per task, each trained from a fresh initialisation:
-- no forgetting and no transfer, at T times the parameters. When the task is
-- not given, hnet.run infers it by entropy, as for the hypernetwork.
local hnet = require "hnet"
local plain = require "hnet.learners.plain"
local common = require "hnet.learners.common"

local Separate = {}

local begin_task = plain.Plain.begin_task
function Separate:begin_task(t, task)
  self.Ws = self.Ws or { self.W }
  if t > 1 then self.Ws[t] = self:new_weights() end
  self.W = self.Ws[t]
  if self.stats then
    self.all_stats = self.all_stats or {}
    self.all_stats[t] = self.net:init_stats()
    self.stats = self.all_stats[t]
  end
  begin_task(self, t, task)
end

function Separate:n_trainable() return self.n_w * self.info.n_tasks end

-- One network per task: predict needs the task.
function Separate:task_conditioned() return true end

--- Task t's network on x (eval mode).
function Separate:predict(x, t, lengths)
  local saved = self.stats
  if self.all_stats then self.stats = self.all_stats[t] end
  local y = self:output(x, self.Ws[t], lengths)
  self.stats = saved
  return y
end

--- Checkpoints: every task's weights and statistics so far (the current
-- ones are also the common state's W and stats).
function Separate:save_extra(s)
  for t, W in ipairs(self.Ws or {}) do s["Ws." .. t] = W end
  for t, st in pairs(self.all_stats or {}) do s["all_stats." .. t] = st end
end

-- Tasks before t (through t between tasks) need their networks before
-- begin_task(t) makes task t's.
function Separate:restore_before_task(s, ctx, t)
  local last = s.in_task and t - 1 or t
  self.Ws = { self.W }
  for i = 1, last do
    self.Ws[i] = self.Ws[i] or hnet.tensor(self.n_w)
    common.load_tensor(s, "Ws." .. i, self.Ws[i])
  end
  if self.stats then
    self.all_stats = {}
    for i = 1, last do
      self.all_stats[i] = self.net:init_stats()
      common.load_tensor(s, "all_stats." .. i, self.all_stats[i])
    end
  end
  if not s.in_task and t >= 1 then
    self.W = self.Ws[t]
    if self.stats then self.stats = self.all_stats[t] end
  end
end

function Separate:load_extra(s, ctx, t)
  if s.in_task then common.load_tensor(s, "Ws." .. t, self.Ws[t]) end
end

return plain.class("separate", {}, Separate)
