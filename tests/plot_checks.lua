-- plot_checks.lua — the Lua half of test_plots (tests/test_lua_experiments.c):
-- what gnuplot is given for every kind of plot the project writes (through
-- hnet.plot's test hook, so it holds without gnuplot too), and, when gnuplot
-- is installed, that each one renders to a PNG.
--
-- return function(dir) -> a note on what was rendered; raises on a failure.
local hnet = require "hnet"
local plot = require "hnet.plot"

local function fail(fmt, ...) error(fmt:format(...), 2) end

-- The lines of the datablock `name` ($name << EOD ... EOD) of a script.
local function datablock(script, name)
  local body = script:match("\n%$" .. name .. " << EOD\n(.-)\nEOD\n")
  if not body then fail("no datablock $%s in the script:\n%s", name, script) end
  local rows = {}
  for line in body:gmatch("[^\n]+") do rows[#rows + 1] = line end
  return rows
end

local function setting(script, pattern, what)
  local v = { script:match("\n" .. pattern .. "\n") }
  if #v == 0 then fail("%s: no line matching '%s' in the script:\n%s", what, pattern, script) end
  return table.unpack(v)
end

-- A heatmap's script for the matrix R (n rows, m columns): every cell of the
-- n x m grid exactly once, NaN where R has none, the value where it has one.
local function check_grid(script, R, n, m, what)
  local seen, count = {}, 0
  for _, line in ipairs(datablock(script, "grid")) do
    local j, i, v = line:match("^(%d+) (%d+) (%S+)$")
    if not j then fail("%s: grid line '%s' is not 'column row value'", what, line) end
    j, i = tonumber(j), tonumber(i)
    local key = i .. "," .. j
    if seen[key] then fail("%s: cell (%d, %d) given twice", what, i, j) end
    seen[key] = true
    count = count + 1
    local want = R[i] and R[i][j]
    if want == nil then
      if v ~= "NaN" then fail("%s: cell (%d, %d) has no value but is given as %s, not NaN", what, i, j, v) end
    elseif math.abs(tonumber(v) - want) > 1e-6 * math.max(1, math.abs(want)) then
      fail("%s: cell (%d, %d) is %s, the matrix holds %s", what, i, j, v, want)
    end
  end
  if count ~= n * m then fail("%s: %d cells given, the full %d x %d grid has %d", what, count, n, m, n * m) end
  if not script:find("\nplot $grid using 1:2:3 with image", 1, true) then
    fail("%s: the image is not drawn from the full grid:\n%s", what, script)
  end
  if setting(script, "set xtics (%d+)", what) ~= "1" or setting(script, "set ytics (%d+)", what) ~= "1" then
    fail("%s: task axes need integer ticks 1, 2, ...", what)
  end
  if not script:find("\nset colorbox\n", 1, true) then fail("%s: no colour box", what) end
end

-- A lines plot over integer x (tasks): integer x ticks and a y range padded
-- beyond the data on both sides.
local function check_lines(script, ylo, yhi, what, logy)
  local step = tonumber(setting(script, "set xtics (%S+)", what))
  if not step or step < 1 or step ~= math.floor(step) then
    fail("%s: an integer x axis needs an integer tick step, got %s", what, tostring(step))
  end
  local lo, hi = setting(script, "set yrange %[(%S+):(%S+)%]", what)
  lo, hi = tonumber(lo), tonumber(hi)
  if not (lo < ylo and hi > yhi) then
    fail("%s: y range [%s:%s] is not padded beyond the data's [%g, %g]: a line at the extreme is drawn on the frame",
         what, lo, hi, ylo, yhi)
  end
  if logy and not script:find("\nset logscale y\n", 1, true) then fail("%s: no log scale", what) end
end

local function is_png(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local head = f:read(8)
  f:close()
  return head == "\137PNG\r\n\26\n"
end

return function(dir)
  local scripts = {}
  plot._on_script = function(script, out) scripts[out] = script end
  local rendered, expected = {}, {}
  local ok, err = pcall(function()
    -- 1. A run's accuracy matrix: lower triangle plus the next task before
    -- its training (forward transfer), i.e. rows of different lengths.
    local R = { { 100, 48 }, { 100, 96.7, 46.7 }, { 100, 95.3, 99.7, 43.3 }, { 100, 95, 99.7, 100, 12 },
                { 100, 95.7, 98.7, 100, 98.3 } }
    local out = dir .. "/heatmap.png"
    local done, why = plot.heatmap { out = out, matrix = R, title = "t" }
    expected[#expected + 1] = { out, done, why }
    check_grid(scripts[out], R, 5, 5, "heatmap")
    if setting(scripts[out], "set cbrange %[(%S+)%]", "heatmap") ~= "0:100" then
      fail("heatmap: accuracies need the fixed colour range 0..100")
    end
    -- Labels: white on the dark low end of the palette, black on the light
    -- high end; none for missing cells.
    local colour = {}
    for _, line in ipairs(datablock(scripts[out], "labels")) do
      local j, i, c = line:match('^(%d+) (%d+) "[^"]*" (%d+)$')
      if not j then fail("heatmap: label line '%s' is not 'column row \"text\" colour'", line) end
      colour[i .. "," .. j] = tonumber(c)
    end
    if colour["1,3"] then fail("heatmap: a label on a missing cell") end
    if colour["4,5"] ~= 0xffffff or colour["5,1"] ~= 0x000000 then
      fail("heatmap: labels must be white on dark cells (12%%) and black on light ones (100%%), got %s and %s",
           tostring(colour["4,5"]), tostring(colour["5,1"]))
    end

    -- 2. The plots a run writes, from an actual run (classification): the
    -- quickstart's faults were a task axis ticked at 1.5 and task 1 at 100%
    -- on the frame.
    local stream = hnet.stream.from((function()
      local ts = {}
      for i = 1, 3 do
        ts[i] = hnet.synthetic.blobs { n_classes = 2, dim = 4, n_per_class = 40, n_test_per_class = 20,
                                       seed = 20 + i, name = "blobs" .. i }
      end
      return ts
    end)(), { name = "plot-blobs" })
    local learner = hnet.learners.new("finetune", { target = { "mlp", hidden = { 8 } }, lr = 1e-2, batch = 16,
                                                    iterations = 30, seed = 3 })
    local run = hnet.run(learner, stream, { out = dir .. "/run", quiet = true })
    out = dir .. "/run/accuracy_matrix.png"
    expected[#expected + 1] = { out, scripts[out] and is_png(out) or nil, "not written by the run" }
    if not scripts[out] then fail("the run wrote no accuracy_matrix.png script") end
    check_grid(scripts[out], run.R, 3, 3, "run accuracy_matrix.png")
    local ylo, yhi = math.huge, -math.huge
    for i = 1, #run.R do
      for _, v in pairs(run.R[i]) do ylo, yhi = math.min(ylo, v), math.max(yhi, v) end
    end
    out = dir .. "/run/accuracy_over_stream.png"
    expected[#expected + 1] = { out, scripts[out] and is_png(out) or nil, "not written by the run" }
    if not scripts[out] then fail("the run wrote no accuracy_over_stream.png script") end
    check_lines(scripts[out], ylo, yhi, "run accuracy_over_stream.png")

    -- 3. A regression run: MSE over decades, on log scales.
    local reg = hnet.run(hnet.learners.new("finetune", { target = { "mlp", hidden = { 8 } }, lr = 1e-2,
                                                          batch = 16, iterations = 20, seed = 3 }),
                         hnet.synthetic.polynomial_stream { seed = 1, n_train = 40, n_test = 20 },
                         { out = dir .. "/reg", quiet = true })
    out = dir .. "/reg/accuracy_matrix.png"
    if not scripts[out] then fail("the regression run wrote no accuracy_matrix.png script") end
    check_grid(scripts[out], reg.R, 3, 3, "regression accuracy_matrix.png")
    if not scripts[out]:find("\nset logscale cb\n", 1, true) then fail("regression heatmap: MSE needs a log colour scale") end
    expected[#expected + 1] = { out, is_png(out) or nil, "not rendered" }
    ylo, yhi = math.huge, -math.huge
    for i = 1, #reg.R do
      for _, v in pairs(reg.R[i]) do ylo, yhi = math.min(ylo, v), math.max(yhi, v) end
    end
    out = dir .. "/reg/accuracy_over_stream.png"
    if not scripts[out] then fail("the regression run wrote no accuracy_over_stream.png script") end
    check_lines(scripts[out], ylo, yhi, "regression accuracy_over_stream.png", true)
    expected[#expected + 1] = { out, is_png(out) or nil, "not rendered" }

    -- 4. Lines over real-valued x with a NaN: x ticks left to gnuplot, the
    -- NaN not drawn, a flat series still gets a y range.
    out = dir .. "/flat.png"
    done, why = plot.lines { out = out, series = { { name = "a", x = { 0.5, 1.25, 2 }, y = { 3, 0 / 0, 3 } } } }
    expected[#expected + 1] = { out, done, why }
    local s = scripts[out]
    if s:find("\nset xtics", 1, true) then fail("real-valued x axis given integer ticks") end
    if not s:find("\n1.25 NaN\n", 1, true) then fail("a NaN y is not written as NaN:\n%s", s) end
    local lo, hi = setting(s, "set yrange %[(%S+):(%S+)%]", "flat")
    if not (tonumber(lo) < 3 and tonumber(hi) > 3) then fail("a flat series at 3 got the y range [%s:%s]", lo, hi) end

    -- 5. Bad arguments: a clear error naming the function and the field.
    for _, c in ipairs {
      { function() plot.heatmap { out = dir .. "/x.png", matrix = { { 1, "a" } } } end, "matrix[1][2]: number expected" },
      { function() plot.heatmap { out = dir .. "/x.png", matrix = { { 1 } }, zrange = { 5, 1 } } end, "field 'zrange'" },
      { function() plot.heatmap { out = dir .. "/x.png", matrix = { { 1 } }, colour = 1 } end, "unknown option 'colour'" },
      { function() plot.lines { out = dir .. "/x.png", series = { { x = { 1, 2 }, y = { 1 } } } } end, "series[1]: x has 2 values, y has 1" },
      { function() plot.lines { series = {} } end, "field 'out' is required" },
    } do
      local okc, e = pcall(c[1])
      if okc or not tostring(e):find(c[2], 1, true) then
        fail("bad plot arguments: expected an error with \"%s\", got %s", c[2], tostring(e))
      end
    end
  end)
  plot._on_script = nil
  if not ok then error(err, 0) end
  -- Rendering: every PNG must exist when gnuplot is installed.
  local have = os.execute("command -v gnuplot >/dev/null 2>&1")
  have = have == true or have == 0
  if not have then return "gnuplot not installed: scripts checked, no PNG rendered" end
  for _, e in ipairs(expected) do
    if not e[2] then fail("%s was not rendered: %s", e[1], tostring(e[3])) end
    if not is_png(e[1]) then fail("%s is not a PNG", e[1]) end
    rendered[#rendered + 1] = e[1]
  end
  return ("%d PNGs rendered"):format(#rendered)
end
