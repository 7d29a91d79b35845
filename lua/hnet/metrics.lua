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

--- Accuracy "during" training: (1/T) Σ_j R[j][j], each task's accuracy
-- measured right after it was trained.
function M.during(R)
  local T = check_matrix(R, "metrics.during")
  local s = 0
  for j = 1, T do s = s + R[j][j] end
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

-- The registry: every metric the run's summary, Run:report, the experiment
-- comparison, `hnet report` and paper_tables show. An entry is
--   name    the key in summary.json and in result rows (an identifier)
--   label   its name in text lines (Run:report, `hnet report DIR`); default name
--   header  its column header in tables (comparison, paper tables); default label
--   format  string.format pattern of its value; default "%.2f"
--   fn      function(R, ctx) -> number or nil [, table of extra summary fields]
--           R the result matrix, ctx = { b = the untrained baseline row (nil
--           when forward transfer is not evaluated), T = #R, kind = ... }
--   kind    "classification", "regression" or "both"; default "classification"
--   order   where it goes among the others (ascending); default after the last
--   paper   false keeps it out of paper_tables' tables; default true
-- Adding a metric is one M.register call.
-- The entry as an hnet.spec: M.register checks it and `./hnet help
-- hnet.metrics.register` prints it.
M.ENTRY = {
  { name = "name", type = "string", required = true, help = "the key in summary.json and in result rows (an identifier)" },
  { name = "fn", type = "function", required = true,
    help = "function(R, ctx) -> number or nil [, table of extra summary fields]; ctx = { b =, T =, kind = }" },
  { name = "label", type = "string", help = "its name in text lines (default: name)" },
  { name = "header", type = "string", help = "its column header in tables (default: label)" },
  { name = "format", type = "string", default = "%.2f", help = "string.format pattern of its value" },
  { name = "kind", type = "string", default = "classification", choices = { "classification", "regression", "both" },
    help = "the streams it applies to" },
  { name = "order", type = "number", help = "its place among the others, ascending (default: after the last)" },
  { name = "paper", type = "boolean", default = true, help = "false keeps it out of paper_tables' tables" },
  { name = "replace", type = "boolean", default = false, help = "replace a metric registered under the same name" },
}
-- Keys the summary or a result row already uses for something else.
local RESERVED = {}
for k in ([[learner scenario stream tasks seconds trainable_parameters peak_rss_mib threads seed
  final final_mse forgetting_per_task task_given domain task_inference metrics
  run R dir params label shared_with regression dataset]]):gmatch("%S+") do RESERVED[k] = true end

local registry, builtin = {}, {}

local function bad(msg, ...)
  error(("bad argument #1 to 'hnet.metrics.register' (" .. msg .. ")"):format(...), 3)
end

--- Register a metric (fields above). A name already registered is refused
-- unless the entry has replace = true.
function M.register(opts)
  local e = require("hnet.spec").check(M.ENTRY, opts, "hnet.metrics.register")
  if not e.name:match("^[%a_][%w_]*$") then bad("field 'name': an identifier expected, got '%s'", e.name) end
  if RESERVED[e.name] then
    bad("field 'name': '%s' is a summary or result field already; choose another name", e.name)
  end
  if registry[e.name] and not e.replace then
    bad("metric '%s' is registered already; pass replace = true to replace it", e.name)
  end
  for _, k in ipairs { "label", "header", "format" } do
    if e[k] == "" then bad("field '%s': a non-empty string expected", k) end
  end
  local fmt = e.format
  local ok, text = pcall(string.format, fmt, 1.5)
  if not ok or text == fmt then
    bad("field 'format': '%s' does not format a number (e.g. \"%%.2f\")", fmt)
  end
  local last = 0
  for _, r in pairs(registry) do if r.order > last then last = r.order end end
  local label = e.label or e.name
  registry[e.name] = { name = e.name, label = label, header = e.header or label, format = fmt, fn = e.fn,
                       kind = e.kind, order = e.order or last + 10, paper = e.paper }
  builtin[e.name] = nil
end

--- The registered metrics in order; with `kind`, only those that apply to it.
function M.list(kind)
  local out = {}
  for _, e in pairs(registry) do
    if kind == nil or e.kind == "both" or e.kind == kind then out[#out + 1] = e end
  end
  table.sort(out, function(a, b) return a.order < b.order or a.order == b.order and a.name < b.name end)
  return out
end

--- The entry of a registered metric, or nil.
function M.get(name) return registry[name] end

--- The descriptions (name, label, header, format, kind, order, paper) of the
-- registered metrics that are not built in, for a run's summary.json: a
-- report read in another process (`hnet report DIR`) shows them from there.
-- nil when there are none.
function M.descriptors(kind)
  local out = {}
  for _, e in ipairs(M.list(kind)) do
    if not builtin[e.name] then
      out[#out + 1] = { name = e.name, label = e.label, header = e.header, format = e.format, kind = e.kind,
                        order = e.order, paper = e.paper }
    end
  end
  return #out > 0 and out or nil
end

--- The metrics to show for summaries that may carry descriptors of metrics
-- registered elsewhere (summary.metrics): the registry's, then those, in order.
function M.shown(summaries, kind)
  local seen, out = {}, {}
  for _, e in ipairs(M.list(kind)) do seen[e.name] = true; out[#out + 1] = e end
  for _, s in ipairs(summaries) do
    for _, d in ipairs(type(s.metrics) == "table" and s.metrics or {}) do
      if type(d) == "table" and type(d.name) == "string" and not seen[d.name]
         and (kind == nil or d.kind == "both" or d.kind == kind) then
        seen[d.name] = true
        out[#out + 1] = { name = d.name, label = tostring(d.label or d.name), header = tostring(d.header or d.name),
                          format = type(d.format) == "string" and d.format or "%.2f", kind = d.kind,
                          order = tonumber(d.order) or math.huge, paper = d.paper ~= false }
      end
    end
  end
  table.sort(out, function(a, b) return a.order < b.order or a.order == b.order and a.name < b.name end)
  return out
end

--- A value in a metric's format; `missing` (default "n/a") when it is not a number.
function M.format(e, v, missing)
  if type(v) ~= "number" then return missing or "n/a" end
  return e.format:format(v)
end

--- The registered metrics of `kind` (default "classification") computed on
-- R: { name = value, ... } plus the extra fields their functions return.
-- b is the untrained baseline row or nil.
function M.summary(R, b, kind)
  kind = kind or "classification"
  if kind ~= "classification" and kind ~= "regression" then
    error(("bad argument #3 to 'hnet.metrics.summary' ('classification' or 'regression' expected, got %s)")
      :format(tostring(kind)), 2)
  end
  local s, ctx = {}, { b = b, T = #R, kind = kind }
  for _, e in ipairs(M.list(kind)) do
    local ok, v, extra = pcall(e.fn, R, ctx)
    if not ok then error(("metric '%s': %s"):format(e.name, tostring(v)), 2) end
    if v ~= nil and type(v) ~= "number" then
      error(("metric '%s' returned a %s (a number or nil expected)"):format(e.name, type(v)), 2)
    end
    if v ~= nil and (v ~= v or v == math.huge or v == -math.huge) then -- summary.json cannot hold it
      error(("metric '%s' returned %s (a finite number or nil expected)"):format(e.name, tostring(v)), 2)
    end
    s[e.name] = v
    if extra ~= nil then
      if type(extra) ~= "table" then
        error(("metric '%s': its second result must be a table of extra summary fields, got %s")
          :format(e.name, type(extra)), 2)
      end
      for k, x in pairs(extra) do s[k] = x end
    end
  end
  return s
end

M.register { name = "acc", label = "ACC", header = "ACC %", order = 10,
             fn = function(R) return M.acc(R) end }
-- Each task's accuracy right after it was learnt (with the task inferred
-- among the tasks seen so far when it is not given): what the reference
-- code reports as acc_during, beside the final ACC.
M.register { name = "acc_during", label = "ACC during", header = "during %", order = 15,
             fn = function(R) return M.during(R) end }
M.register { name = "bwt", label = "BWT", order = 20, fn = function(R) return M.bwt(R) end }
M.register { name = "fwt", label = "FWT", order = 30, paper = false,
             fn = function(R, ctx) return M.fwt(R, ctx.b) end }
M.register { name = "forgetting", order = 40, paper = false, fn = function(R)
  local f, per = M.forgetting(R)
  return f, { forgetting_per_task = per }
end }
M.register { name = "mse", label = "mean final MSE", header = "mean MSE", format = "%.5f", kind = "regression",
             order = 10, paper = false, fn = function(R)
  local T, s = #R, 0
  for j = 1, T do s = s + R[T][j] end
  return s / T
end }
for name in pairs(registry) do builtin[name] = true end

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

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.metrics.register", sig = "hnet.metrics.register(entry)", spec = M.ENTRY,
    about = "add a metric that the run's summary, reports and comparison tables all show" },
}

return M
