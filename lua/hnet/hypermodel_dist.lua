--- hnet.hypermodel_dist — the hypernetwork training step (hnet.hypermodel's
-- Model:step) over the ranks of a group (hnet.distributed.group): the same
-- step as in one process, its work divided, its gradients summed.
--
-- Every rank holds θ, E, the optimisers and the generator in the same state
-- and draws the same batch order and the same subset of earlier tasks. Its
-- share of the work:
--   split by data    the rows of the global batch (the learner gathers only
--                    them); the local mean loss's gradient is scaled by
--                    rows/global rows, so the sum over ranks is the gradient
--                    of the global batch's mean loss.
--   split by tasks   terms lo..hi of the regulariser's n (hypermodel's
--                    regularise), each weighted β/n with the global n.
-- A term that is not split is contributed once: the task loss by rank 0
-- (tasks split alone: every rank still runs the forward, which keeps the
-- generator and BatchNorm statistics in step), the regulariser by rank 0
-- (data split alone, no look-ahead).
--
-- One fused buffer, allocated once: [ de | loss | stop | dθ | reg ]. Its
-- allreduces per step (hnet.dist.allreduce, the minimum the method needs):
--   no look-ahead                    1: everything at once
--   look-ahead, tasks split alone    1: every rank has the whole task
--                                       gradient, hence Δθ, before it
--   look-ahead, data split alone     1: [de | loss | stop | dθ] gives Δθ;
--                                       every rank then adds the whole
--                                       regulariser at θ + Δθ itself
--   look-ahead, both                 2: [de | loss | stop | dθ] gives Δθ,
--                                       then [dθ | reg] sums the shares of
--                                       the regulariser at θ + Δθ
-- The stop flag (a rank caught SIGINT/SIGTERM) rides in the first, so that
-- every rank sees the same agreed stop after the same step (group.stopped).
local M = {}

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

--- Make `model` step over `group`: the fused buffer and its views; dθ is a
-- view of it, so the task pass and the regulariser write into it directly.
function M.attach(model, group)
  local hnet = require "hnet"
  local ne, nt = model.n_emb, model.n_theta
  local buf = hnet.tensor(ne + 3 + nt)
  model.group, model.fused = group, buf
  model.f_de = buf:rows(1, ne):view(1, ne)
  model.f_sc = buf:rows(ne + 1, ne + 2)          -- loss, stop
  model.f_first = buf:rows(1, ne + 2 + nt)       -- all but reg
  model.f_theta = buf:rows(ne + 3, ne + 2 + nt)
  model.f_reg = buf:rows(ne + 3 + nt, ne + 3 + nt)
  model.f_second = buf:rows(ne + 3, ne + 3 + nt) -- dθ and reg
  model.dtheta = model.f_theta
end

-- θ + Δθ, Δθ the Adam step of the (summed) task gradient alone.
local function lookahead_at(self, r)
  self.opt_theta:lookahead(self.theta, self.dtheta, r.theta_la)
  return r.theta_la
end

--- One training step over the group (see the file's header); the model's
-- Model:step with o.share = this rank's rows / the global batch's (data
-- split). Returns the global loss and regulariser (and, when clipping,
-- the summed gradient's norm); sets group.stopped.
function M.step(self, items, o)
  local g = self.group
  if self.multi or #items ~= 1 then
    error("hnet.hypermodel: a distributed step trains one task's embedding (a continual learner's); multi-task training is not distributed", 2)
  end
  if self.dtheta ~= self.f_theta then self.dtheta = self.f_theta end
  local buf, dth, de, sc, r = self.fused, self.f_theta, self.f_de, self.f_sc, self.reg
  local la = r and r.lookahead
  buf:zero()
  local own_task = g.data or g.rank == 0
  if g.data and type(o.share) ~= "number" then
    error("hnet.hypermodel: a step split by data needs o.share (this rank's rows / the global batch's)", 2)
  end
  local frac = g.data and o.share or 1
  -- A rank that contributes no task term needs the task gradient only for Δθ.
  local grad = own_task or la
  local losses = self:pass(self.e, items, { kind = o.kind, loss = o.loss, train = true, rng = o.rng,
                                            dtheta = grad and dth or nil, dE = grad and de or nil,
                                            scale = (not grad) and 0 or (frac ~= 1 and frac or nil) })
  if own_task then sc:set(1, losses[1] * frac) end
  sc:set(2, g:stop_wanted() and 1 or 0)
  local lo, hi = 1, 0 -- this rank's terms of the regulariser
  if r then
    if g.tasks then lo, hi = g:share(r.n)
    elseif g.rank == 0 or (la and g.data) then lo, hi = 1, r.n end
  end
  local count, reg = 0, 0
  if la and g.data then
    g:allreduce(self.f_first)
    count = 1
    local at = lookahead_at(self, r)
    if g.tasks then
      if g.rank ~= 0 then dth:zero() end -- the summed task gradient, once
      self.f_reg:set(1, self:regularise(at, lo, hi))
      g:allreduce(self.f_second)
      count = 2
      reg = self.f_reg:get(1)
    else
      reg = self:regularise(at, lo, hi) -- the whole regulariser, on every rank alike
    end
  else
    if r then
      local at = self.theta
      if la then
        at = lookahead_at(self, r)
        if not own_task then dth:zero() end
      end
      self.f_reg:set(1, self:regularise(at, lo, hi))
    end
    g:allreduce(buf)
    count = 1
    reg = self.f_reg:get(1)
  end
  g.step_allreduces = count
  local loss = sc:get(1)
  g.stopped = sc:get(2) > 0
  if not finite(loss) then o.fault("loss", loss) end
  if r and not finite(reg) then o.fault("regulariser", reg) end
  -- the summed gradient, the same on every rank: every rank clips alike
  local norm
  if self.clip > 0 then
    norm = require("hnet.learners.common").clip_grad_norm(self.clip, self.train_theta and { dth, de } or { de })
  end
  if self.train_theta then self.opt_theta:step(self.theta, dth) end
  self.opt_e:step(self.e, de)
  return loss, reg, norm
end

return M
