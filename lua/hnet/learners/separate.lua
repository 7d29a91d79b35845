--- One separate network per task, each trained from a fresh initialisation:
-- no forgetting and no transfer, at T times the parameters. When the task is
-- not given, hnet.run infers it by entropy, as for the hypernetwork.
local hnet = require "hnet"
local plain = require "hnet.learners.plain"

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

--- Task t's network on x (eval mode).
function Separate:task_forward(x, t)
  local saved = self.stats
  if self.all_stats then self.stats = self.all_stats[t] end
  local y = self:head_forward(x, self.Ws[t])
  self.stats = saved
  return y
end

local M = plain.class("separate", { reset_optimiser = true }, Separate)
local new = M.new
M.new = function(opts)
  local self = new(opts)
  self.per_task_nets = true
  return self
end
return M
