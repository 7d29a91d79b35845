--- Online EWC (Schwarz et al., ICML 2018): one running Fisher
-- F = γ F + F_t and one anchor W* (the weights after the last task); penalty
-- λ/2 Σ_i F_i (W_i − W*_i)².  lambda (default 5000), gamma (default 1),
-- fisher_samples (default 200), fisher_labels ("given" or "predicted").
local hnet = require "hnet"
local plain = require "hnet.learners.plain"
local common = require "hnet.learners.common"

local OnlineEWC = {}

function OnlineEWC:penalty(dW)
  if not self.F then return 0 end
  return hnet.cl.quad_penalty(self.W, self.W_star, self.F, self.o.lambda, dW)
end

function OnlineEWC:consolidate(t, task)
  local F_t = self:fisher(t, task, self.o.fisher_samples, self.o.fisher_labels)
  if self.F then hnet.cl.fisher_merge(self.F, F_t, self.o.gamma) else self.F = F_t end
  self.W_star = self.W:clone()
end

--- Checkpoints: the running Fisher and the anchor, once the first task ended.
function OnlineEWC:save_extra(s)
  s.F, s.W_star = self.F, self.W_star
end

function OnlineEWC:load_extra(s)
  if s.F == nil then self.F, self.W_star = nil, nil return end
  self.F, self.W_star = hnet.tensor(self.n_w), hnet.tensor(self.n_w)
  common.load_tensor(s, "F", self.F)
  common.load_tensor(s, "W_star", self.W_star)
end

return plain.class("online_ewc", {
  { name = "lambda", type = "number", default = 5000, min = 0, help = "penalty strength λ" },
  { name = "gamma", type = "number", default = 1.0, min = 0, max = 1, help = "decay γ of the running Fisher" },
  { name = "fisher_samples", type = "integer", default = 200, min = 1, help = "training samples the diagonal Fisher is estimated from, per task" },
  { name = "fisher_labels", type = "string", default = "given", choices = { "given", "predicted" },
    help = "the labels of the Fisher's log-likelihood: given (the samples' own, the empirical Fisher) or predicted (the network's most probable class, as van de Ven & Tolias)" },
}, OnlineEWC)
