--- hnet.fewshot.stats — the statistics of few-shot results: means with 95%
-- confidence intervals, THE definition of a diverged adaptation, cells for
-- tables, and the choice of a learning rate on validation problems. Reached
-- as hnet.fewshot.ci95, .fmt_ci, .diverged, .n_diverged, .stats,
-- .fmt_values and .choose_lr (see hnet.fewshot).

local M = {}

-- Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom.
local T975 = { 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042 }

local function t975(df)
  if df <= 30 then return T975[df] end
  if df <= 60 then return 2.042 + (2.000 - 2.042) * (df - 30) / 30 end
  if df <= 120 then return 2.000 + (1.980 - 2.000) * (df - 60) / 60 end
  return 1.960
end

--- Mean and 95% confidence interval of the mean of a list of numbers:
-- { mean =, half = (the interval is mean ± half), sd =, n = }. Student's t
-- quantile for n − 1 degrees of freedom (1.96 from 120 on); half = nil for
-- n = 1.
function M.ci95(values)
  if type(values) ~= "table" or #values == 0 then
    error("bad argument #1 to 'hnet.fewshot.ci95' (a non-empty list of numbers expected)", 2)
  end
  local n, s = #values, 0
  for i = 1, n do
    local v = values[i]
    if type(v) ~= "number" then
      error(("bad argument #1 to 'hnet.fewshot.ci95' (entry %d is %s, not a number)"):format(i, type(v)), 2)
    end
    s = s + v
  end
  local mean = s / n
  if n == 1 then return { mean = mean, n = 1 } end
  local ss = 0
  for i = 1, n do ss = ss + (values[i] - mean) ^ 2 end
  local sd = math.sqrt(ss / (n - 1))
  return { mean = mean, half = t975(n - 1) * sd / math.sqrt(n), sd = sd, n = n }
end

--- "mean ± half" with the given number format (default "%.3f").
function M.fmt_ci(c, fmt)
  fmt = fmt or "%.3f"
  if not c then return "–" end
  if not c.half then return fmt:format(c.mean) end
  return (fmt .. " ± " .. fmt):format(c.mean, c.half)
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

--- Whether one problem's adaptation diverged: THE definition, used by every
-- table, choice of learning rate and test. loss0 is the support loss before
-- the first step, loss the support loss after the last one. Diverged = not
-- finite, or the support loss ended above its start: descent on the support
-- set that ends higher than it began has failed, whatever the query metric
-- says (and that metric would only poison a mean). A run that passes
-- through a non-finite value stays non-finite (NaN propagates through the
-- updates), so the end tells. A rise on the way that is undone by the end
-- (Adam's first steps often overshoot) is not divergence.
function M.diverged(loss0, loss)
  return not (finite(loss0) and finite(loss)) or loss > loss0
end

-- Problem i counts as diverged when flags[i] (r.diverged[i] of an
-- adaptation result) is true or its value is not finite.
local function is_diverged(values, flags, i)
  return not finite(values[i]) or (flags ~= nil and flags[i] == true)
end

--- The number of problems that diverged: values (per-problem metrics) that
-- are not finite, or whose flag in the optional list `flags` (r.diverged of
-- an adaptation result: one per problem) is true. The same problems are set
-- apart at every step count of a run, so its cells stay paired.
function M.n_diverged(values, flags)
  local k = 0
  for i = 1, #values do
    if is_diverged(values, flags, i) then k = k + 1 end
  end
  return k
end

--- Statistics over the problems that converged (see n_diverged):
-- { mean =, half =, sd =, n = (converged), median =, n_diverged =, n_total = };
-- mean, half, sd and median are nil when every problem diverged. The median
-- is given beside the mean because a few tasks far from the training
-- distribution can dominate a mean over a handful of few-shot tasks.
function M.stats(values, flags)
  local ok = {}
  for i = 1, #values do
    if not is_diverged(values, flags, i) then ok[#ok + 1] = values[i] end
  end
  local st = { n = #ok, n_total = #values, n_diverged = #values - #ok }
  if #ok == 0 then return st end
  local c = M.ci95(ok)
  st.mean, st.half, st.sd = c.mean, c.half, c.sd
  table.sort(ok)
  local m = #ok
  st.median = m % 2 == 1 and ok[(m + 1) // 2] or (ok[m // 2] + ok[m // 2 + 1]) / 2
  return st
end

--- A table cell for a list of per-problem values: "mean ± half" over the
-- problems that converged, followed by "(k/N diverged)" when some did not,
-- or "diverged on N/N" when none converged. flags as for n_diverged.
function M.fmt_values(values, fmt, flags)
  local st = M.stats(values, flags)
  if st.n == 0 then return ("diverged on %d/%d"):format(st.n_total, st.n_total) end
  local cell = M.fmt_ci(st, fmt)
  if st.n_diverged > 0 then cell = cell .. (" (%d/%d diverged)"):format(st.n_diverged, st.n_total) end
  return cell
end

--- Choose a learning rate on validation problems. run(lr) returns an
-- adaptation result (adapt_embeddings / train_weights, or anything with
-- record, metric and diverged); `at` is the step count whose metric is
-- compared; run it for the step count the method is then used for. A
-- learning rate under which any validation problem diverges (M.diverged, or
-- a non-finite metric at any recorded step) is not chosen; among the
-- rest the best mean metric at `at` wins (lowest, or highest with
-- higher = true). Returns the learning rate and a line that lists every
-- one tried; raises an error naming `what` when none qualifies.
M.CHOOSE_LR_OPTIONS = {
  { name = "higher", type = "boolean", default = false, help = "a higher metric is better (accuracy; default: lower, MSE)" },
  { name = "what", type = "string", default = "hnet.fewshot.choose_lr", help = "names the caller in the error when no rate qualifies" },
}

function M.choose_lr(grid, at, run, o)
  o = require("hnet.spec").check(M.CHOOSE_LR_OPTIONS, o, "hnet.fewshot.choose_lr", 4)
  local higher, what = o.higher, o.what
  local best, best_v, tried = nil, nil, {}
  for _, lr in ipairs(grid) do
    local r = run(lr)
    local v, why
    if not r.metric[at] then
      error(("%s: the validation run did not record step %d"):format(what, at), 2)
    else
      local bad = 0
      for _, s in ipairs(r.record) do bad = math.max(bad, M.n_diverged(r.metric[s], r.diverged)) end
      if bad > 0 then
        why = ("diverged on %d/%d"):format(bad, #r.metric[at])
      else
        v = M.stats(r.metric[at]).mean
      end
    end
    tried[#tried + 1] = ("%g: %s"):format(lr, v and ("%.3f"):format(v) or why)
    if v and (best_v == nil or (higher and v > best_v) or (not higher and v < best_v)) then best, best_v = lr, v end
  end
  local list = table.concat(tried, ", ")
  if not best then
    error(("%s: every learning rate diverged on some validation problem (%s): try smaller ones"):format(what, list), 0)
  end
  return best, list
end

return M
