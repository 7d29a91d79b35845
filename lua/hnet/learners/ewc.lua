--- Elastic weight consolidation (Kirkpatrick et al., PNAS 2017): after each
-- task t, keep W*_t and the diagonal Fisher F_t; while learning later tasks
-- add  λ/2 Σ_t Σ_i F_t,i (W_i − W*_t,i)².
--   lambda (default 5000), fisher_samples (default 200).
local hnet = require "hnet"
local util = require "hnet.util"
local plain = require "hnet.learners.plain"

local EWC = {}

function EWC:penalty(dW)
  local s = 0
  for _, c in ipairs(self.anchors) do
    s = s + hnet.cl.quad_penalty(self.W, c.W, c.F, self.o.lambda, dW)
  end
  return s
end

function EWC:consolidate(t, task)
  local F = self:fisher(t, task, self.o.fisher_samples)
  self.anchors[#self.anchors + 1] = { W = self.W:clone(), F = F }
end

return plain.class("ewc", { lambda = 5000, fisher_samples = 200 }, EWC, function(self)
  util.number(self.o, "lambda", nil, 0, nil, self.fname)
  util.int(self.o, "fisher_samples", nil, 1, nil, self.fname)
  self.anchors = {}
end)
