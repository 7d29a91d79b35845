--- Continual-learning metrics over an accuracy matrix (DESIGN.md §7).
--
-- R[i][j] is the test accuracy on task j after training on tasks 1..i
-- (defined for j <= i; entries for j > i, when present, are the accuracy on a
-- task not yet trained, used for forward transfer). b[j] is the accuracy of an
-- untrained network on task j. Accuracies may be fractions or percentages;
-- the metrics come out in the same unit.
local M = {}

local function check_matrix(R, fname)
  if type(R) ~= "table" or #R == 0 then
    error(("bad argument #1 to '%s' (non-empty accuracy matrix expected)"):format(fname), 3)
  end
  for i = 1, #R do
    if type(R[i]) ~= "table" then
      error(("bad argument #1 to '%s' (row %d of the accuracy matrix is not a table)"):format(fname, i), 3)
    end
    for j = 1, i do
      if type(R[i][j]) ~= "number" then
        error(("bad argument #1 to '%s' (R[%d][%d] missing: row i needs tasks 1..i)"):format(fname, i, j), 3)
      end
    end
  end
  return #R
end

--- Average accuracy after the last task: (1/T) Σ_j R[T][j].
function M.acc(R)
  local T = check_matrix(R, "metrics.acc")
  local s = 0
  for j = 1, T do s = s + R[T][j] end
  return s / T
end

--- Backward transfer: 1/(T−1) Σ_{j<T} (R[T][j] − R[j][j]); nil when T = 1.
function M.bwt(R)
  local T = check_matrix(R, "metrics.bwt")
  if T < 2 then return nil end
  local s = 0
  for j = 1, T - 1 do s = s + (R[T][j] - R[j][j]) end
  return s / (T - 1)
end

--- Forward transfer: 1/(T−1) Σ_{j>1} (R[j−1][j] − b[j]); nil when T = 1 or
-- when the matrix has no entries above the diagonal or b is missing.
function M.fwt(R, b)
  local T = check_matrix(R, "metrics.fwt")
  if T < 2 or type(b) ~= "table" then return nil end
  local s = 0
  for j = 2, T do
    local r, bj = R[j - 1][j], b[j]
    if type(r) ~= "number" or type(bj) ~= "number" then return nil end
    s = s + (r - bj)
  end
  return s / (T - 1)
end

--- Forgetting of task j: max_{l<T} R[l][j] − R[T][j]; returns the mean over
-- j < T and the per-task list. nil when T = 1.
function M.forgetting(R)
  local T = check_matrix(R, "metrics.forgetting")
  if T < 2 then return nil, {} end
  local per, s = {}, 0
  for j = 1, T - 1 do
    local best = -math.huge
    for l = j, T - 1 do
      if R[l][j] > best then best = R[l][j] end
    end
    per[j] = best - R[T][j]
    s = s + per[j]
  end
  return s / (T - 1), per
end

--- All of them in one table: { acc=, bwt=, fwt=, forgetting=, forgetting_per_task= }.
function M.summary(R, b)
  local f, per = M.forgetting(R)
  return { acc = M.acc(R), bwt = M.bwt(R), fwt = M.fwt(R, b), forgetting = f,
           forgetting_per_task = per }
end

--- Mean and standard error of a list of numbers (for results over seeds).
function M.mean_se(xs)
  local n = #xs
  if n == 0 then return nil, nil end
  local s = 0
  for i = 1, n do s = s + xs[i] end
  local m = s / n
  if n == 1 then return m, 0 end
  local v = 0
  for i = 1, n do v = v + (xs[i] - m) ^ 2 end
  return m, math.sqrt(v / (n - 1) / n)
end

return M
