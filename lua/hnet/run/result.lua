--- hnet.run.result — the figures of one scenario: the matrix R (R[i][j]:
-- task j's accuracy in percent, or MSE, after training task i; R[i][i+1]
-- the next task before its training) and the baseline b (b[j]: task j under
-- the untrained learner), which give forward transfer.
local metrics = require "hnet.metrics"

local M = {}
local Result = {}
Result.__index = Result

--- A result over R and b (new empty tables when nil: a checkpoint gives
-- them back as they were).
function M.new(R, b)
  return setmetatable({ R = R or {}, b = b or {} }, Result)
end

--- R[i][j] = v, making row i.
function Result:set(i, j, v)
  local row = self.R[i]
  if not row then
    row = {}
    self.R[i] = row
  end
  row[j] = v
end

--- R[i][j] = v when row i exists (a run resumed from an older checkpoint
-- may lack the early rows of a matrix).
function Result:set_in_row(i, j, v)
  if self.R[i] then self.R[i][j] = v end
end

function Result:set_baseline(j, v) self.b[j] = v end

function Result:empty() return next(self.R) == nil end

--- Every row 1..T is there.
function Result:complete(T)
  for i = 1, T do if self.R[i] == nil then return false end end
  return true
end

--- The registered metrics of this kind over R (and b, with forward
-- transfer).
function Result:summary(kind, with_b)
  return metrics.summary(self.R, with_b and self.b or nil, kind)
end

--- The matrix as CSV: after_task, task1..taskT (blank where not evaluated).
function Result:csv(T)
  local h = { "after_task" }
  for j = 1, T do h[j + 1] = "task" .. j end
  local rows = { table.concat(h, ",") }
  local n = 0 -- the last row; a run resumed from an older checkpoint may lack the first ones
  for i in pairs(self.R) do if i > n then n = i end end
  for i = 1, n do
    local r, Ri = { tostring(i) }, self.R[i] or {}
    for j = 1, T do r[j + 1] = Ri[j] and ("%.4f"):format(Ri[j]) or "" end
    rows[#rows + 1] = table.concat(r, ",")
  end
  return table.concat(rows, "\n") .. "\n"
end

return M
