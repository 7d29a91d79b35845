--- hnet.report — summaries of finished run directories (`./hnet report DIR...`).
--
--   ./hnet report runs/quickstart                 the run's accuracy matrix and metrics
--   ./hnet report runs/a runs/b runs/c            the runs side by side
--
-- A run directory is what hnet.run writes with `out`: summary.json (written
-- when the run finished), accuracy_matrix.csv and options.json. From Lua:
--   local rep = require "hnet.report"
--   local run = rep.load(dir)       -- { dir, summary, R, T, options } or raises
--   print(rep.single(run))  print(rep.compare({ run1, run2 }))
-- An experiment's directory (the --out of split_mnist.lua and the like,
-- which holds run directories) stands for every run in it; one that holds
-- only a results table (results.md, e.g. gradual_drift.lua's) shows it.
-- main(args) is the command: it prints, and returns the exit status (0, or 1
-- when a directory is neither a finished run nor an experiment with results:
-- the message says what it is).
local cjson = require "cjson"

local M = {}

local read = require("hnet.util").read_file

local function is_dir(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local ok, _, code = f:read(0)
  f:close()
  return ok == nil and code == 21 -- EISDIR
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Parse accuracy_matrix.csv: "after_task,task1,...,taskT" then one row per
-- task trained (empty cells for tasks not evaluated).
local function parse_matrix(text, path)
  local lines = {}
  for l in text:gmatch("[^\r\n]+") do lines[#lines + 1] = l end
  local head = lines[1]
  if not head or not head:match("^after_task") then
    error(("%s: not an accuracy matrix (the first line should start with 'after_task')"):format(path), 0)
  end
  local T = 0
  for _ in head:gmatch(",") do T = T + 1 end
  local R = {}
  for i = 2, #lines do
    local cells, k = {}, 0
    for c in (lines[i] .. ","):gmatch("([^,]*),") do k = k + 1; cells[k] = c end
    if k ~= T + 1 or tonumber(cells[1]) ~= i - 1 then
      error(("%s: line %d is malformed (%d cells, expected %d, starting with %d)"):format(path, i, k, T + 1, i - 1), 0)
    end
    local row = {}
    for j = 1, T do
      if cells[j + 1] ~= "" then
        row[j] = tonumber(cells[j + 1])
        if not row[j] then error(("%s: line %d, cell %d is not a number"):format(path, i, j + 1), 0) end
      end
    end
    R[i - 1] = row
  end
  return R, T
end

--- Load a finished run directory; raises a message that says what dir is
-- when it is not one.
function M.load(dir)
  local d = tostring(dir):gsub("/+$", "")
  if d == "" then d = "/" end
  if not exists(d) then error(("'%s' does not exist"):format(d), 0) end
  if not is_dir(d) then error(("'%s' is not a directory (give a run directory, the 'out' of hnet.run)"):format(d), 0) end
  local stext = read(d .. "/summary.json")
  if not stext then
    if exists(d .. "/checkpoint.hnck") then
      error(("'%s' holds an interrupted run (checkpoint.hnck, no summary.json yet): finish it with --resume %s")
        :format(d, d), 0)
    elseif exists(d .. "/results.md") then
      error(("'%s' is an experiment directory (results.md), not a run: give its run directories, e.g. %s/<learner>-<scenario>")
        :format(d, d), 0)
    end
    error(("'%s' is not a run directory (no summary.json: runs write it when they finish)"):format(d), 0)
  end
  local ok, summary = pcall(cjson.decode, stext)
  if not ok or type(summary) ~= "table" then
    error(("'%s/summary.json' is not valid JSON (%s): the file is damaged"):format(d, tostring(summary)), 0)
  end
  local mtext = read(d .. "/accuracy_matrix.csv")
  if not mtext then error(("'%s' has summary.json but no accuracy_matrix.csv: the run directory is incomplete"):format(d), 0) end
  local R, T = parse_matrix(mtext, d .. "/accuracy_matrix.csv")
  local options = {}
  local otext = read(d .. "/options.json")
  if otext then
    local ok2, o = pcall(cjson.decode, otext)
    if ok2 and type(o) == "table" then options = o end
  end
  return { dir = d, summary = summary, R = R, T = T, options = options }
end

local function num(v, fmt)
  if type(v) ~= "number" then return "–" end
  return (fmt or "%.2f"):format(v)
end

-- cjson reads every number as a float: show whole numbers without ".0".
local function show(v)
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
  return tostring(v)
end

local function regression(run) return type(run.summary.final_mse) == "table" end

-- The metrics shown for runs: the registered ones and those a run's
-- summary.json describes (registered in the process that ran it).
local metrics = require "hnet.metrics"
local function kind_of(run) return regression(run) and "regression" or "classification" end

--- The summary table of one run, as text.
function M.single(run)
  local s, o, R, T = run.summary, run.options, run.R, run.T
  local lines = {}
  lines[#lines + 1] = ("run %s: %s on %s, scenario %s, %s tasks"):format(run.dir,
    tostring(s.learner or o.learner or "?"), tostring(s.stream or o.stream or "?"),
    tostring(s.scenario or o.scenario or "?"), show(s.tasks or T))
  lines[#lines + 1] = regression(run) and "test MSE after training on each task (row) for each task (column):"
    or "test accuracy (%) after training on each task (row) for each task (column):"
  local head = { "after \\ task" }
  for j = 1, T do head[#head + 1] = ("%9d"):format(j) end
  lines[#lines + 1] = table.concat(head, " ")
  local fmt = regression(run) and "%9.5f" or "%9.2f"
  for i = 1, #R do
    local row = { ("%12d"):format(i) }
    for j = 1, T do row[#row + 1] = R[i][j] and fmt:format(R[i][j]) or ("%9s"):format("") end
    lines[#lines + 1] = table.concat(row, " ")
  end
  local parts = {}
  for _, e in ipairs(metrics.shown({ s }, kind_of(run))) do
    parts[#parts + 1] = e.label .. " " .. metrics.format(e, s[e.name], "–")
  end
  if not regression(run) then parts[#parts + 1] = "task inference " .. num(s.task_inference) end
  lines[#lines + 1] = table.concat(parts, "  ")
  lines[#lines + 1] = ("time %s s, %s trainable parameters, peak memory %s MiB, %s threads, seed %s"):format(
    num(s.seconds, "%.1f"), num(s.trainable_parameters, "%d"), num(s.peak_rss_mib, "%.0f"),
    show(s.threads or o.threads or "?"), show(s.seed or o.seed or "?"))
  if o.git_commit or o.version then
    lines[#lines + 1] = ("hnet %s, commit %s%s"):format(tostring(o.version or "?"), tostring(o.git_commit or "unknown"),
      o.script and (", script " .. tostring(o.script)) or "")
  end
  return table.concat(lines, "\n")
end

--- Runs side by side: one column per run.
function M.compare(runs)
  local rows = {
    { "learner", function(r) return tostring(r.summary.learner or r.options.learner or "?") end },
    { "scenario", function(r) return tostring(r.summary.scenario or r.options.scenario or "?") end },
    { "stream", function(r) return tostring(r.summary.stream or r.options.stream or "?") end },
    { "tasks", function(r) return show(r.summary.tasks or r.T) end },
  }
  -- A row per metric of the runs' kinds: classification's, task inference,
  -- then regression's.
  local of_kind = { classification = {}, regression = {} }
  for _, r in ipairs(runs) do table.insert(of_kind[kind_of(r)], r.summary) end
  local done = {} -- a metric of both kinds gets one row
  for _, k in ipairs { "classification", "regression" } do
    if #of_kind[k] > 0 then
      for _, e in ipairs(metrics.shown(of_kind[k], k)) do
        if not done[e.name] then
          done[e.name] = true
          rows[#rows + 1] = { e.header, function(r) return metrics.format(e, r.summary[e.name], "–") end }
        end
      end
      if k == "classification" then
        rows[#rows + 1] = { "task inference %", function(r) return num(r.summary.task_inference) end }
      end
    end
  end
  for _, row in ipairs {
    { "time (s)", function(r) return num(r.summary.seconds, "%.1f") end },
    { "params", function(r) return num(r.summary.trainable_parameters, "%d") end },
    { "peak MiB", function(r) return num(r.summary.peak_rss_mib, "%.0f") end },
    { "seed", function(r) return show(r.summary.seed or r.options.seed or "?") end },
  } do rows[#rows + 1] = row end
  local cells = { { "run" } }
  for _, r in ipairs(runs) do cells[1][#cells[1] + 1] = r.label or r.dir end
  for _, row in ipairs(rows) do
    local line = { row[1] }
    for _, r in ipairs(runs) do line[#line + 1] = row[2](r) end
    cells[#cells + 1] = line
  end
  local width = {}
  for _, line in ipairs(cells) do
    for k, c in ipairs(line) do width[k] = math.max(width[k] or 0, utf8.len(c) or #c) end
  end
  local out = {}
  for n, line in ipairs(cells) do
    local parts = {}
    for k, c in ipairs(line) do
      local pad = width[k] - (utf8.len(c) or #c)
      parts[k] = k == 1 and (c .. (" "):rep(pad)) or ((" "):rep(pad) .. c)
    end
    out[#out + 1] = table.concat(parts, "  ")
    if n == 1 then
      local rule = {}
      for k = 1, #line do rule[k] = ("-"):rep(width[k]) end
      out[#out + 1] = table.concat(rule, "  ")
    end
  end
  return table.concat(out, "\n")
end

local USAGE = [[usage: hnet report RUN_DIR [RUN_DIR...]
  one directory: the run's accuracy matrix and metrics (ACC, BWT, FWT,
  forgetting, task inference, any registered metric, time, parameters);
  several: the runs side by side. An experiment's --out stands for the runs
  in it (or shows its results.md when it holds no runs).]]

--- An experiment's directory: returns { dir, runs = loaded runs, skipped =
-- { "path: why" }, results = results.md text or nil }; raises when it holds
-- neither a run nor results.
function M.load_experiment(dir)
  local d = tostring(dir):gsub("/+$", "")
  local rundir = require "hnet.rundir"
  local paths, others = rundir.runs_below(d)
  local exp = { dir = d, runs = {}, skipped = {}, results = read(d .. "/results.md") }
  for _, p in ipairs(paths) do
    local ok, r = pcall(M.load, p)
    if ok then exp.runs[#exp.runs + 1] = r else exp.skipped[#exp.skipped + 1] = tostring(r) end
  end
  for _, p in ipairs(others) do
    exp.skipped[#exp.skipped + 1] = ("'%s' is not a run directory (no run below it either)"):format(p)
  end
  if #exp.runs == 0 and not exp.results then
    error(("'%s' is an experiment directory with no finished run in it%s"):format(d,
      #exp.skipped > 0 and (": " .. table.concat(exp.skipped, "; ")) or ""), 0)
  end
  return exp
end

--- The `./hnet report DIR...` command; returns the exit status.
function M.main(args)
  args = args or {}
  if #args == 0 or args[1] == "--help" or args[1] == "-h" then
    io.stderr:write(USAGE, "\n")
    return #args == 0 and 1 or 0
  end
  local rundir = require "hnet.rundir"
  local runs, tables, bad = {}, {}, 0
  for _, dir in ipairs(args) do
    local d = tostring(dir):gsub("/+$", "")
    if d == "" then d = "/" end
    local load = rundir.kind(d) == "experiment" and M.load_experiment or M.load
    local ok, r = pcall(load, d)
    if not ok then
      bad = bad + 1
      io.stderr:write("hnet report: ", tostring(r), "\n")
    elseif r.runs then -- an experiment: its runs, notes on the rest
      if #r.runs > 0 then tables[#tables + 1] = ("experiment %s: %d finished run%s (columns: their directories in it)")
        :format(r.dir, #r.runs, #r.runs == 1 and "" or "s") end
      for _, run in ipairs(r.runs) do
        run.label = run.dir:sub(#r.dir + 2)
        runs[#runs + 1] = run
      end
      for _, why in ipairs(r.skipped) do io.stderr:write("hnet report: skipped: ", why, "\n") end
      if #r.runs == 0 then tables[#tables + 1] = ("experiment %s (results.md):\n%s"):format(r.dir, r.results) end
    else
      runs[#runs + 1] = r
    end
  end
  if bad > 0 then return 1 end
  for _, t in ipairs(tables) do print(t) end
  if #runs == 1 then print(M.single(runs[1])) elseif #runs > 1 then print(M.compare(runs)) end
  return 0
end

return M
