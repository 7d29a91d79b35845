--- Synaptic intelligence (Zenke et al., ICML 2017): each weight's
-- contribution to the drop of the task loss is accumulated along the
-- training path, ω_i −= g_i Δ_i (g the task-loss gradient, Δ the step), and
-- at the end of a task turned into an importance
-- Ω_i += ω_i / ((W_i − W_i^start)² + ξ); later tasks add c Σ Ω_i (W_i − W*_i)².
--   c (default 1), xi (default 0.1).
local hnet = require "hnet"
local util = require "hnet.util"
local plain = require "hnet.learners.plain"

local SI = {}

function SI:penalty(dW)
  if not self.W_star then return 0 end
  -- c Σ Ω (W − W*)² is quad_penalty with λ = 2c.
  return hnet.cl.quad_penalty(self.W, self.W_star, self.Omega, 2 * self.o.c, dW)
end

function SI:after_step(g, delta)
  hnet.cl.si_accumulate(self.omega, g, delta)
end

local begin_task = plain.Plain.begin_task
function SI:begin_task(t, task)
  begin_task(self, t, task)
  self.omega = self.omega or hnet.tensor(self.n_w)
  self.Omega = self.Omega or hnet.tensor(self.n_w)
  self.W_start = self.W:clone()
end

function SI:consolidate()
  hnet.cl.si_consolidate(self.Omega, self.omega, self.W, self.W_start, self.o.xi)
  self.W_star = self.W:clone()
end

return plain.class("si", { c = 1.0, xi = 0.1 }, SI, function(self)
  util.number(self.o, "c", nil, 0, nil, self.fname)
  util.number(self.o, "xi", nil, 1e-12, nil, self.fname)
end)
