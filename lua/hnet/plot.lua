--- PNG plots through gnuplot (Debian's gnuplot-nox). When gnuplot is not
-- installed a plot is skipped: the functions return nil and a message that
-- says so, and the caller's run still succeeds.
--
--   plot.lines{ out = "curves.png", title =, xlabel =, ylabel =,
--               series = { { name = "truth" (nil: no key entry), x = {...}, y = {...},
--                            style = "lines lc 2" }, ... } }
--   plot.heatmap{ out = "accuracy.png", title =, matrix = R, xlabel =, ylabel = }
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

local function run(script, out)
  if not have_gnuplot() then
    return nil, ("gnuplot not found: plot %s skipped (apt-get install gnuplot-nox)"):format(out)
  end
  -- gnuplot that cannot open its output writes the PNG to stdout instead:
  -- make sure the file can be written first, and never let stdout through.
  local f, err = io.open(out, "ab")
  if not f then return nil, ("cannot write plot %s (%s): skipped"):format(out, err) end
  f:close()
  local p = io.popen("gnuplot 2>&1 >/dev/null", "w")
  if not p then return nil, "cannot start gnuplot: plot " .. out .. " skipped" end
  p:write(script)
  local ok = p:close()
  if not ok then return nil, "gnuplot failed: plot " .. out .. " skipped" end
  return true
end

--- Line/point series.
function M.lines(o)
  local s = { "set terminal pngcairo size 900,600 noenhanced",
              ("set output %s"):format(quote(o.out)),
              ("set title %s"):format(quote(o.title)),
              ("set xlabel %s"):format(quote(o.xlabel)),
              ("set ylabel %s"):format(quote(o.ylabel)),
              "set key outside right", "set grid" }
  if o.logy then s[#s + 1] = "set logscale y" end
  local parts = {}
  for i, se in ipairs(o.series) do
    local title = se.name and ("title " .. quote(se.name)) or "notitle"
    parts[i] = ("'-' using 1:2 with %s %s"):format(se.style or "lines", title)
  end
  s[#s + 1] = "plot " .. table.concat(parts, ", ")
  for _, se in ipairs(o.series) do
    for k = 1, #se.x do s[#s + 1] = ("%.9g %.9g"):format(se.x[k], se.y[k]) end
    s[#s + 1] = "e"
  end
  return run(table.concat(s, "\n") .. "\n", o.out)
end

--- A heatmap of a (possibly lower-triangular) matrix such as R[i][j].
function M.heatmap(o)
  local R = o.matrix
  local n, m = #R, 0
  for i = 1, n do for j in pairs(R[i]) do if j > m then m = j end end end
  local s = { "set terminal pngcairo size 800,700 noenhanced",
              ("set output %s"):format(quote(o.out)),
              ("set title %s"):format(quote(o.title)),
              ("set xlabel %s"):format(quote(o.xlabel or "task")),
              ("set ylabel %s"):format(quote(o.ylabel or "after training on task")),
              ("set xrange [0.5:%g]"):format(m + 0.5), ("set yrange [%g:0.5]"):format(n + 0.5),
              "set palette defined (0 '#440154', 0.5 '#21918c', 1 '#fde725')",
              "unset key",
              "plot '-' using 1:2:3 with image, '-' using 1:2:(sprintf('%.1f', $3)) with labels font ',9'" }
  local data = {}
  for i = 1, n do
    for j = 1, m do
      if R[i][j] then data[#data + 1] = ("%d %d %.4f"):format(j, i, R[i][j]) end
    end
  end
  local block = table.concat(data, "\n")
  s[#s + 1] = block
  s[#s + 1] = "e"
  s[#s + 1] = block
  s[#s + 1] = "e"
  return run(table.concat(s, "\n") .. "\n", o.out)
end

return M
