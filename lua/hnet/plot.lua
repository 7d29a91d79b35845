--- PNG plots through gnuplot (Debian's gnuplot-nox). When gnuplot is not
-- installed a plot is skipped: the functions return nil and a message that
-- says so, and the caller's run still succeeds.
--
--   plot.lines{ out = "curves.png", title =, xlabel =, ylabel =, logy = false,
--               series = { { name = "truth" (nil: no key entry), x = {...}, y = {...},
--                            style = "lines lc 2" }, ... } }
--   plot.heatmap{ out = "accuracy.png", title =, matrix = R, xlabel =, ylabel =,
--                 zlabel = (the colour box's label), zrange = { 0, 100 } (default;
--                 "auto": the data's own range), zlog = false (a log colour scale),
--                 format = "%.1f" (cell labels) }
--
-- What the pictures must get right, and how:
-- - heatmap: gnuplot's `with image` needs the full rectangular grid (rows of
--   different lengths make it guess the grid: sheared cells, wrong colours),
--   so every cell of the n x m grid is written, NaN where the matrix has no
--   value (drawn transparent over a grey background). The colour range is
--   fixed (0..100 for accuracies) so that colours compare across plots, and
--   each cell's label is black or white, whichever contrasts more with the
--   cell's colour.
-- - an axis whose values are all integers (tasks, iterations, counts) gets
--   integer tick steps, never 1.5;
-- - the y range is padded, so that a line at the data's extreme (a task at
--   100%) is not drawn on the frame, where it cannot be seen.
-- - NaN and +-Inf values are not drawn (written as NaN: gnuplot skips them);
-- - line colours stay visible on white.
--
-- M._on_script (TEST HOOK, not an option): when set, a function(script, out)
-- that receives every gnuplot script before it is run (even without gnuplot),
-- so that tests can check what gnuplot is given.
local util = require "hnet.util"
local spec = require "hnet.spec"

local M = {}

local function have_gnuplot()
  if M._have == nil then
    local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
    M._have = ok == true or ok == 0
  end
  return M._have
end

local function quote(s)
  return '"' .. tostring(s or ""):gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function num(v) return finite(v) and ("%.9g"):format(v) or "NaN" end

local function run(script, out)
  if M._on_script then M._on_script(script, out) end
  if not have_gnuplot() then
    return nil, ("gnuplot not found: plot %s skipped (apt-get install gnuplot-nox)"):format(out)
  end
  -- gnuplot that cannot open its output writes the PNG to stdout instead:
  -- make sure the file can be written first, and never let stdout through.
  local f, err = io.open(out, "ab")
  if not f then return nil, ("cannot write plot %s (%s): skipped"):format(out, err) end
  f:close()
  -- gnuplot's messages go to a file, not to the terminal (a --quiet run
  -- prints nothing); they are part of the message when it fails.
  local log = os.tmpname()
  local p = io.popen(("gnuplot >/dev/null 2>'%s'"):format(log:gsub("'", "'\\''")), "w")
  if not p then
    os.remove(log)
    return nil, "cannot start gnuplot: plot " .. out .. " skipped"
  end
  p:write(script)
  local ok = p:close()
  local lf = io.open(log, "rb")
  local said = lf and lf:read("a") or ""
  if lf then lf:close() end
  os.remove(log)
  if not ok then
    said = said:gsub("%s+$", ""):match("[^\n]*$")
    return nil, ("gnuplot failed%s: plot %s skipped"):format(said ~= "" and (" (" .. said .. ")") or "", out)
  end
  return true
end

-- The smallest step of 1, 2, 5 x 10^k (an integer) that puts at most `most`
-- ticks on [lo, hi].
local function integer_step(lo, hi, most)
  local step, k = 1, 1
  while (hi - lo) / step > most do
    local m = ({ 1, 2, 5 })[(k % 3) + 1] * 10 ^ (k // 3)
    step = math.tointeger(m) or m
    k = k + 1
  end
  return step
end

-- Range of the finite values of the lists in `lists` (positive ones only
-- for a log axis); nil when there are none.
local function extent(lists, key, positive)
  local lo, hi, all_int = math.huge, -math.huge, true
  for _, l in ipairs(lists) do
    for _, v in ipairs(l[key]) do
      if finite(v) and (not positive or v > 0) then
        if v < lo then lo = v end
        if v > hi then hi = v end
        if v ~= math.floor(v) then all_int = false end
      end
    end
  end
  if lo > hi then return nil end
  return lo, hi, all_int
end

-- `lo`, `hi` widened by `frac` of the span on each side (a span of zero by
-- `frac` of the value, or of 1 for zero); multiplicatively for a log axis.
local function padded(lo, hi, frac, log)
  if log then
    local r = hi > lo and (hi / lo) ^ frac or 1 + 4 * frac
    return lo / r, hi * r
  end
  local d = (hi - lo) * frac
  if d == 0 then d = math.max(math.abs(hi), 1) * frac end
  return lo - d, hi + d
end

-- The options of each plot (hnet.spec): they check the call and `./hnet
-- help hnet.plot.NAME` prints them.
local OUT = { name = "out", type = "string", required = true, help = "the PNG file to write" }
local TITLE = { name = "title", type = "string", help = "the plot's title" }
local XLABEL = { name = "xlabel", type = "string", help = "the x axis label" }
local YLABEL = { name = "ylabel", type = "string", help = "the y axis label" }
M.OPTIONS = {
  lines = {
    OUT, TITLE, XLABEL, YLABEL,
    { name = "logy", type = "boolean", default = false, help = "a log y axis" },
    { name = "series", type = "table", required = true,
      help = "a list of { name = (nil: no key entry), x = {...}, y = {...}, style = (a gnuplot style, e.g. \"lines lc 2\") }" },
  },
  heatmap = {
    OUT, TITLE, XLABEL, YLABEL,
    { name = "zlabel", type = "string", help = "the colour box's label" },
    { name = "matrix", type = "table", required = true, help = "rows of numbers, e.g. R[i][j] (missing cells drawn grey)" },
    { name = "zrange", type = "any", help = "{ lo, hi } colour range (default { 0, 100 }), or \"auto\": the data's own" },
    { name = "zlog", type = "boolean", default = false, help = "a log colour scale" },
    { name = "format", type = "string", help = "the cell labels' format (default \"%.1f\")" },
  },
}

local function check_numbers(t, what, fname)
  if type(t) ~= "table" then util.argerr(fname, 1, ("%s: list of numbers expected, got %s"):format(what, type(t)), 3) end
  for k, v in ipairs(t) do
    if type(v) ~= "number" then
      util.argerr(fname, 1, ("%s[%d]: number expected, got %s"):format(what, k, type(v)), 3)
    end
  end
end

local LINE_COLOURS = { "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
                       "#000000", "#999999" }

--- Line/point series.
function M.lines(o)
  local fname = "hnet.plot.lines"
  o = spec.check(M.OPTIONS.lines, o, fname)
  for i, se in ipairs(o.series) do
    local what = ("series[%d]"):format(i)
    if type(se) ~= "table" then util.argerr(fname, 1, ("%s: table expected, got %s"):format(what, type(se)), 2) end
    util.options(se, { "name", "x", "y", "style" }, fname .. " (" .. what .. ")")
    check_numbers(se.x, what .. ".x", fname)
    check_numbers(se.y, what .. ".y", fname)
    if #se.x ~= #se.y then
      util.argerr(fname, 1, ("%s: x has %d values, y has %d"):format(what, #se.x, #se.y), 2)
    end
    if se.style ~= nil then util.string(se, "style", nil, nil, fname .. " (" .. what .. ")") end
  end
  local s = { "set terminal pngcairo size 900,600 noenhanced",
              ("set output %s"):format(quote(o.out)),
              ("set title %s"):format(quote(o.title)),
              ("set xlabel %s"):format(quote(o.xlabel)),
              ("set ylabel %s"):format(quote(o.ylabel)),
              "set key outside right", "set grid" }
  -- Line colours that stay visible on white (gnuplot's 5th is a pale
  -- yellow): Okabe-Ito's colour-blind-safe set without its yellow.
  for k, c in ipairs(LINE_COLOURS) do
    s[#s + 1] = ("set linetype %d lc rgb '%s' lw 1.5"):format(k, c)
  end
  s[#s + 1] = ("set linetype cycle %d"):format(#LINE_COLOURS)
  local x0, x1, xint = extent(o.series, "x")
  local y0, y1, yint = extent(o.series, "y", o.logy)
  if not x0 or not y0 then
    return nil, ("no finite data to draw: plot %s skipped"):format(o.out)
  end
  local points = false
  for _, se in ipairs(o.series) do
    if (se.style or "lines"):find("points") then points = true end
  end
  if xint then
    -- Integer axes: integer steps, and half a step of room (at least 0.25)
    -- so that the first and last points are not on the frame.
    local step = integer_step(x0, x1, 10)
    s[#s + 1] = ("set xtics %s"):format(num(step))
    local d = math.max(0.25, (x1 - x0) * 0.03)
    s[#s + 1] = ("set xrange [%s:%s]"):format(num(x0 - d), num(x1 + d))
  elseif points then
    local a, b = padded(x0, x1, 0.03)
    s[#s + 1] = ("set xrange [%s:%s]"):format(num(a), num(b))
  else
    s[#s + 1] = ("set xrange [%s:%s]"):format(num(x0), num(x1))
  end
  if o.logy then
    s[#s + 1] = "set logscale y"
  elseif yint then
    s[#s + 1] = ("set ytics %s"):format(num(integer_step(y0, y1, 10)))
  end
  local lo, hi = padded(y0, y1, 0.05, o.logy)
  s[#s + 1] = ("set yrange [%s:%s]"):format(num(lo), num(hi))
  local parts = {}
  for i, se in ipairs(o.series) do
    local title = se.name and ("title " .. quote(se.name)) or "notitle"
    local style = se.style or "lines"
    -- Series past the 8th, in the colours of the first ones, are dashed
    -- (unless their style chooses colour or dashes itself).
    if i > #LINE_COLOURS and not style:find("%f[%w]lc%f[%W]") and not style:find("%f[%w]dt%f[%W]")
       and not style:find("linecolor") then
      style = style .. " dt 2"
    end
    parts[i] = ("'-' using 1:2 with %s %s"):format(style, title)
  end
  s[#s + 1] = "plot " .. table.concat(parts, ", ")
  for _, se in ipairs(o.series) do
    for k = 1, #se.x do s[#s + 1] = ("%s %s"):format(num(se.x[k]), num(se.y[k])) end
    s[#s + 1] = "e"
  end
  return run(table.concat(s, "\n") .. "\n", o.out)
end

-- The heatmap's palette (an approximation of viridis): stops at 0, 0.5, 1.
local PALETTE = { { 0, 0x44, 0x01, 0x54 }, { 0.5, 0x21, 0x91, 0x8c }, { 1, 0xfd, 0xe7, 0x25 } }

-- Black or white, whichever contrasts more with the palette's colour at
-- fraction f (WCAG relative luminance).
local function label_colour(f)
  f = math.max(0, math.min(1, f))
  local a, b = PALETTE[1], PALETTE[2]
  if f > 0.5 then a, b = PALETTE[2], PALETTE[3] end
  local t = (f - a[1]) / (b[1] - a[1])
  local L = 0
  for c, w in ipairs { 0.2126, 0.7152, 0.0722 } do
    local v = (a[c + 1] + t * (b[c + 1] - a[c + 1])) / 255
    v = v <= 0.03928 and v / 12.92 or ((v + 0.055) / 1.055) ^ 2.4
    L = L + w * v
  end
  return (L + 0.05) / 0.05 > 1.05 / (L + 0.05) and 0x000000 or 0xffffff
end

--- A heatmap of a (possibly lower-triangular) matrix such as R[i][j].
function M.heatmap(o)
  local fname = "hnet.plot.heatmap"
  o = spec.check(M.OPTIONS.heatmap, o, fname)
  local R = o.matrix
  for i, row in pairs(R) do
    if type(row) ~= "table" then
      util.argerr(fname, 1, ("matrix[%s]: a row (table) expected, got %s"):format(tostring(i), type(row)), 2)
    end
    for j, v in pairs(row) do
      if type(v) ~= "number" then
        util.argerr(fname, 1, ("matrix[%s][%s]: number expected, got %s"):format(tostring(i), tostring(j), type(v)), 2)
      end
    end
  end
  local zr = o.zrange
  if zr ~= nil and zr ~= "auto" and not (type(zr) == "table" and finite(zr[1]) and finite(zr[2]) and zr[1] < zr[2]
                                         and (not o.zlog or zr[1] > 0)) then
    util.argerr(fname, 1, "field 'zrange': { lo, hi } with finite lo < hi (lo > 0 with zlog), or \"auto\", expected", 2)
  end
  local n, m = 0, 0
  for i in pairs(R) do
    if math.type(i) == "integer" and i > n then n = i end
  end
  for i = 1, n do
    for j in pairs(R[i] or {}) do
      if math.type(j) == "integer" and j > m then m = j end
    end
  end
  if n == 0 or m == 0 then return nil, ("empty matrix: plot %s skipped"):format(o.out) end
  local zlo, zhi
  local zlog = o.zlog
  -- A value the colour scale cannot show (not finite, or <= 0 on a log
  -- scale) is drawn as a missing cell.
  local function shown(v) return finite(v) and (not zlog or v > 0) end
  if o.zrange == "auto" then
    zlo, zhi = math.huge, -math.huge
    for i = 1, n do
      for j = 1, m do
        local v = (R[i] or {})[j]
        if shown(v) then zlo, zhi = math.min(zlo, v), math.max(zhi, v) end
      end
    end
    if zlo > zhi then return nil, ("no value to show: plot %s skipped"):format(o.out) end
    if zlo == zhi then zlo, zhi = padded(zlo, zhi, 0.05, zlog) end
  else
    local zr = o.zrange or { 0, 100 }
    zlo, zhi = zr[1], zr[2]
  end
  -- Cells of about 560 / max(n, m) pixels: labels while they fit.
  local side = math.max(n, m)
  local font = math.max(6, math.min(12, math.floor(560 / side / 6)))
  local s = { "set terminal pngcairo size 800,700 noenhanced",
              ("set output %s"):format(quote(o.out)),
              ("set title %s"):format(quote(o.title)),
              ("set xlabel %s"):format(quote(o.xlabel or "task")),
              ("set ylabel %s"):format(quote(o.ylabel or "after training on task")),
              ("set cblabel %s"):format(quote(o.zlabel)),
              ("set xrange [0.5:%d.5]"):format(m), ("set yrange [%d.5:0.5]"):format(n),
              ("set xtics %d"):format(integer_step(1, m, 20)),
              ("set ytics %d"):format(integer_step(1, n, 20)),
              "set tics out nomirror", "set size ratio -1",
              ("set cbrange [%s:%s]"):format(num(zlo), num(zhi)), "set colorbox",
              zlog and "set logscale cb" or "unset logscale cb",
              ("set palette defined (%s)"):format(table.concat((function()
                local p = {}
                for k, c in ipairs(PALETTE) do p[k] = ("%g '#%02x%02x%02x'"):format(c[1], c[2], c[3], c[4]) end
                return p
              end)(), ", ")),
              -- Cells without a value are NaN, drawn transparent: grey shows.
              "set object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor rgb '#c8c8c8' fillstyle solid 1.0 noborder",
              "unset key",
              "$grid << EOD" }
  local labels = {}
  local fmt = o.format or "%.1f"
  for i = 1, n do
    for j = 1, m do
      local v = (R[i] or {})[j]
      s[#s + 1] = ("%d %d %s"):format(j, i, shown(v) and num(v) or "NaN")
      if shown(v) and side <= 20 then
        local f = zlog and math.log(v / zlo) / math.log(zhi / zlo) or (v - zlo) / (zhi - zlo)
        labels[#labels + 1] = ("%d %d %s %d"):format(j, i, quote(fmt:format(v)), label_colour(f))
      end
    end
  end
  s[#s + 1] = "EOD"
  local plot = "plot $grid using 1:2:3 with image"
  if #labels > 0 then
    s[#s + 1] = "$labels << EOD"
    for _, l in ipairs(labels) do s[#s + 1] = l end
    s[#s + 1] = "EOD"
    plot = plot .. (", $labels using 1:2:3:4 with labels tc rgb variable font ',%d'"):format(font)
  end
  s[#s + 1] = plot
  return run(table.concat(s, "\n") .. "\n", o.out)
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.plot.lines", sig = "hnet.plot.lines(opts) -> true, or nil and why", spec = M.OPTIONS.lines,
    about = "line/point series as a PNG (gnuplot; skipped with a message when it is missing)" },
  { name = "hnet.plot.heatmap", sig = "hnet.plot.heatmap(opts) -> true, or nil and why", spec = M.OPTIONS.heatmap,
    about = "a heatmap of a (possibly lower-triangular) matrix as a PNG, each cell labelled" },
}

return M
