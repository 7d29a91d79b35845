-- tests/mpi/same_runs.lua — are two experiments' run directories the same,
-- bit for bit, but for what records time, memory or the command line?
--   ./hnet tests/mpi/same_runs.lua DIR_A DIR_B
-- Prints "same: N runs" and exits 0, or names every difference and exits 1.
-- Not compared: log.txt (progress lines with timings), the PNG plots (drawn
-- by gnuplot from the compared matrices; a plot is missing when gnuplot was
-- killed, as mpirun's SIGTERM to a job's processes does); metrics.csv's seconds column;
-- summary.json's seconds and peak_rss_mib; options.json's started and
-- command_line (the --out differs); the checkpoint's header.written,
-- run/elapsed, run/log, the evaluations' times and its summary's seconds
-- and peak_rss_mib. Everything else, tensors included, must be equal.
local hnet = require "hnet"
local cjson = require "cjson"
local rundir = require "hnet.rundir"
local checkpoint = require "hnet.checkpoint"
local read = require("hnet.util").read_file

local a_root, b_root = arg[1], arg[2]
assert(a_root and b_root, "usage: same_runs.lua DIR_A DIR_B")
local diffs = {}
local function diff(fmt, ...) diffs[#diffs + 1] = fmt:format(...) end

local function names(root)
  local out, set = {}, {}
  for _, d in ipairs((rundir.runs_below(root))) do
    local n = d:sub(#root + 2)
    out[#out + 1] = n
    set[n] = true
  end
  table.sort(out)
  return out, set
end

-- Deep equality of plain values and tensors; `skip(path)` leaves one out.
local function same(x, y, path, skip)
  if skip and skip(path) then return end
  local mx = type(x) == "userdata" and getmetatable(x)
  if mx and mx.__name == "hnet.Tensor" then
    local my = type(y) == "userdata" and getmetatable(y)
    if not (my and my.__name == "hnet.Tensor") then return diff("%s: tensor vs %s", path, type(y)) end
    if x:numel() ~= y:numel() then return diff("%s: %d vs %d elements", path, x:numel(), y:numel()) end
    local tx, ty = x:flat_table(), y:flat_table()
    for i = 1, #tx do
      if tx[i] ~= ty[i] then return diff("%s[%d]: %.9g vs %.9g", path, i, tx[i], ty[i]) end
    end
    return
  end
  if type(x) ~= type(y) then return diff("%s: %s vs %s", path, type(x), type(y)) end
  if type(x) == "table" then
    local keys = {}
    for k in pairs(x) do keys[k] = true end
    for k in pairs(y) do keys[k] = true end
    for k in pairs(keys) do same(x[k], y[k], path .. "." .. tostring(k), skip) end
  elseif x ~= y then
    diff("%s: %s vs %s", path, tostring(x), tostring(y))
  end
end

local function csv_without(text, col)
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    local cells = {}
    for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    table.remove(cells, col)
    lines[#lines + 1] = table.concat(cells, ",")
  end
  return table.concat(lines, "\n")
end

local SKIP = { ["log.txt"] = true }
local function compare_run(a, b, n)
  local fa, fb = {}, {}
  for _, f in ipairs(hnet.sys.list_dir(a) or {}) do fa[f] = true end
  for _, f in ipairs(hnet.sys.list_dir(b) or {}) do fb[f] = true end
  for f in pairs(fa) do if not fb[f] and not f:match("%.png$") then diff("%s: %s only in %s", n, f, a_root) end end
  for f in pairs(fb) do if not fa[f] and not f:match("%.png$") then diff("%s: %s only in %s", n, f, b_root) end end
  for f in pairs(fa) do
    if fb[f] and not SKIP[f] and not f:match("%.png$") then
      local pa, pb = a .. "/" .. f, b .. "/" .. f
      local where = n .. "/" .. f
      if f == "metrics.csv" then
        if csv_without(read(pa), 5) ~= csv_without(read(pb), 5) then diff("%s differs (seconds aside)", where) end
      elseif f == "summary.json" then
        same(cjson.decode(read(pa)), cjson.decode(read(pb)), where,
             function(p) return p == where .. ".seconds" or p == where .. ".peak_rss_mib" end)
      elseif f == "options.json" then
        same(cjson.decode(read(pa)), cjson.decode(read(pb)), where,
             function(p) return p == where .. ".started" or p == where .. ".command_line" end)
      elseif f == "checkpoint.hnck" then
        local ha, sa = checkpoint.load(pa)
        local hb, sb = checkpoint.load(pb)
        same(ha, hb, where .. ":header", function(p) return p == where .. ":header.written" end)
        same(sa, sb, where, function(p)
          return p == where .. ".run/elapsed" or p == where .. ".run/log"
            or p:match("^" .. where:gsub("%p", "%%%0") .. "%.run/evals%.%d+%.time$") ~= nil
            or p == where .. ".run/summary.seconds" or p == where .. ".run/summary.peak_rss_mib"
        end)
      elseif read(pa) ~= read(pb) then
        diff("%s differs", where)
      end
    end
  end
end

local na, seta = names(a_root)
local nb, setb = names(b_root)
if #na == 0 then diff("%s holds no run directories", a_root) end
for _, n in ipairs(na) do if not setb[n] then diff("run %s only in %s", n, a_root) end end
for _, n in ipairs(nb) do if not seta[n] then diff("run %s only in %s", n, b_root) end end
for _, n in ipairs(na) do
  if setb[n] then compare_run(a_root .. "/" .. n, b_root .. "/" .. n, n) end
end
if #diffs > 0 then
  table.sort(diffs)
  io.stderr:write("different:\n  ", table.concat(diffs, "\n  ", 1, math.min(#diffs, 40)), "\n")
  os.exit(1)
end
print(("same: %d runs"):format(#na))
