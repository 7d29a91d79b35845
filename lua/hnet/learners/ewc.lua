--- Elastic weight consolidation (Kirkpatrick et al., PNAS 2017): after each
-- task t, keep W*_t and the diagonal Fisher F_t; while learning later tasks
-- add  λ/2 Σ_t Σ_i F_t,i (W_i − W*_t,i)².
--   lambda (default 5000), fisher_samples (default 200), fisher_labels
-- ("given", the default, or "predicted").
local hnet = require "hnet"
local plain = require "hnet.learners.plain"
local common = require "hnet.learners.common"

local EWC = {}

function EWC:penalty(dW)
  local s = 0
  for _, c in ipairs(self.anchors) do
    s = s + hnet.cl.quad_penalty(self.W, c.W, c.F, self.o.lambda, dW)
  end
  return s
end

function EWC:consolidate(t, task)
  local F = self:fisher(t, task, self.o.fisher_samples, self.o.fisher_labels)
  self.anchors[#self.anchors + 1] = { W = self.W:clone(), F = F }
end

--- Checkpoints: every anchor's W*_t and F_t.
function EWC:save_extra(s)
  s["anchors.n"] = #self.anchors
  for k, c in ipairs(self.anchors) do
    s["anchor." .. k .. ".W"], s["anchor." .. k .. ".F"] = c.W, c.F
  end
end

function EWC:load_extra(s)
  local n = common.load_int(s, "anchors.n", 0, self.info.n_tasks)
  self.anchors = {}
  for k = 1, n do
    local c = { W = hnet.tensor(self.n_w), F = hnet.tensor(self.n_w) }
    common.load_tensor(s, "anchor." .. k .. ".W", c.W)
    common.load_tensor(s, "anchor." .. k .. ".F", c.F)
    self.anchors[k] = c
  end
end

return plain.class("ewc", {
  { name = "lambda", type = "number", default = 5000, min = 0, help = "penalty strength λ" },
  { name = "fisher_samples", type = "integer", default = 200, min = 1, help = "training samples the diagonal Fisher is estimated from, per task" },
  { name = "fisher_labels", type = "string", default = "given", choices = { "given", "predicted" },
    help = "the labels of the Fisher's log-likelihood: given (the samples' own, the empirical Fisher) or predicted (the network's most probable class, as van de Ven & Tolias)" },
}, EWC, function(self) self.anchors = {} end)
