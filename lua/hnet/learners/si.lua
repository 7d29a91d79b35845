--- Synaptic intelligence (Zenke et al., ICML 2017): each weight's
-- contribution to the drop of the task loss is accumulated along the
-- training path, ω_i −= g_i Δ_i (g the task-loss gradient, Δ the step), and
-- at the end of a task turned into an importance
-- Ω_i += ω_i / ((W_i − W_i^start)² + ξ); later tasks add c Σ Ω_i (W_i − W*_i)².
--   c (default 1), xi (default 0.1).
local hnet = require "hnet"
local plain = require "hnet.learners.plain"
local common = require "hnet.learners.common"

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

--- Checkpoints: the running path integral ω, the importance Ω, W at the
-- start of the task and the anchor W* (once a task ended).
function SI:save_extra(s)
  s.omega, s.Omega, s.W_start, s.W_star = self.omega, self.Omega, self.W_start, self.W_star
end

function SI:load_extra(s)
  if s.omega == nil then return end -- saved before the first task began
  self.omega = self.omega or hnet.tensor(self.n_w)
  self.Omega = self.Omega or hnet.tensor(self.n_w)
  self.W_start = self.W_start or hnet.tensor(self.n_w)
  common.load_tensor(s, "omega", self.omega)
  common.load_tensor(s, "Omega", self.Omega)
  common.load_tensor(s, "W_start", self.W_start)
  if s.W_star ~= nil then
    self.W_star = self.W_star or hnet.tensor(self.n_w)
    common.load_tensor(s, "W_star", self.W_star)
  else
    self.W_star = nil
  end
end

return plain.class("si", {
  { name = "c", type = "number", default = 1.0, min = 0, help = "penalty strength c" },
  { name = "xi", type = "number", default = 0.1, min = 1e-12, help = "damping ξ of the importance" },
}, SI)
