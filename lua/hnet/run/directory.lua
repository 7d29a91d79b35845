--- hnet.run.directory — what a run writes (DESIGN.md §6): options.json
-- (learner, options, scenario, stream, seed, threads, hnet version, git
-- commit, script and command line), script.lua (a copy of the script),
-- metrics.csv, accuracy_matrix.csv (and one per scenario judged alongside:
-- accuracy_matrix_task_given.csv, accuracy_matrix_domain.csv),
-- summary.json (finished runs only), accuracy_matrix.png and
-- accuracy_over_stream.png (with gnuplot), and log.txt (everything the run
-- printed); also the log itself, the summary and the report.
local hnet = require "hnet"
local util = require "hnet.util"
local metrics = require "hnet.metrics"
local scenario = require "hnet.run.scenario"

local M = {}
local methods = {}
M.methods = methods

M.CKPT_FILE = "checkpoint.hnck"

local function csv_row(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = v == nil and "" or tostring(v) end
  return table.concat(out, ",")
end

--- s quoted for a POSIX shell (as it is when it needs no quotes).
function M.shell_quote(s)
  s = tostring(s)
  if s:match("^[%w%./_,:=+%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- A directory name without its trailing slashes.
function M.norm_dir(d) return (tostring(d):gsub("/+$", "")) end

--- What an arg table (as ./hnet and lua set it: a[0] the script, negative
-- indices the program and its own flags) says about the command: { script,
-- args (after the script), program, flags (the program's own, before the
-- script: --threads 1, --lib DIR), command (the whole line) }.
function M.command_of(a)
  local lo = 0
  while a[lo - 1] ~= nil do lo = lo - 1 end
  local cmd = {}
  for i = lo, #a do cmd[#cmd + 1] = tostring(a[i]) end
  local args = {}
  for i = 1, #a do args[i] = tostring(a[i]) end
  local flags = {}
  for i = lo + 1, -1 do flags[#flags + 1] = tostring(a[i]) end
  return { script = a[0] and tostring(a[0]), args = args, program = lo < 0 and tostring(a[lo]) or "./hnet",
           flags = flags, command = cmd }
end

--- The global `arg` of the script (./hnet sets it as lua does) as
-- command_of reads it, or nil.
function M.script_args()
  local a = rawget(_G, "arg")
  if type(a) ~= "table" or type(a[0]) ~= "string" then return nil end
  return M.command_of(a)
end

local git_commit_cache
local function git_commit()
  if git_commit_cache then return git_commit_cache end
  git_commit_cache = "unknown"
  local ok, root = pcall(function() return require("hnet.datasets").root() end)
  if not ok then return git_commit_cache end
  local p = io.popen(("git -C %s rev-parse --short HEAD 2>/dev/null"):format(M.shell_quote(root)))
  if p then
    local c = p:read("l")
    p:close()
    if c and c:match("^%x+$") then git_commit_cache = c end
  end
  return git_commit_cache
end

--- Options flattened to "path" -> printable value, for comparing runs.
function M.flatten(v, prefix, out)
  out = out or {}
  if type(v) == "table" and getmetatable(v) == nil then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      M.flatten(v[k], prefix == "" and tostring(k) or (prefix .. "." .. tostring(k)), out)
    end
    if #keys == 0 and prefix ~= "" then out[prefix] = "{}" end
  elseif type(v) == "number" then
    out[prefix] = math.type(v) == "integer" and ("%d"):format(v) or ("%.17g"):format(v)
  elseif type(v) == "string" then
    out[prefix] = ("%q"):format(v)
  else
    out[prefix] = type(v) == "boolean" and tostring(v) or ("<" .. type(v) .. ">")
  end
  return out
end

--- Print a line (unless quiet) and keep it for log.txt.
function methods:log(fmt, ...)
  local line = select("#", ...) > 0 and fmt:format(...) or fmt
  if not self.opts.quiet then self.progress:print(line) end
  self.log_lines[#self.log_lines + 1] = line
end

--- A message that must be seen (errors, interrupts): stderr, and log.txt.
function methods:warn(msg)
  self.progress:clear()
  io.stdout:flush()
  io.stderr:write(msg, "\n")
  io.stderr:flush()
  self.log_lines[#self.log_lines + 1] = msg
end

--- Stop the run: log msg (the caller of hnet.run prints the error), keep
-- what is on disk, raise.
function methods:fail(msg)
  self.final_error = msg -- raised as it is through the training loop's handler
  self.progress:clear()
  self.log_lines[#self.log_lines + 1] = msg
  pcall(self.write_outputs, self, false)
  error(msg, 0)
end

function methods:write(name, content)
  local ok, err, errno = hnet.sys.write_file(self.out .. "/" .. name, content)
  if not ok then
    local hint = ""
    if hnet.sys.disk_full(errno) then
      hint = (" (the disk is full: free space, then %s)")
        :format(self.last_ckpt and self:resume_hint() or "start the run again")
    end
    error("hnet.run: " .. err .. hint, 0)
  end
end

function methods:write_outputs(final)
  if not self.out then return end
  self:write("accuracy_matrix.csv", self.result:csv(self.T))
  for _, a in ipairs(scenario.ALONGSIDE) do
    local r = self.alongside[a.key]
    if not r:empty() then self:write(a.csv, r:csv(self.T)) end
  end
  local m = { "after_task,task,metric,task_inference,seconds,task_given,domain" }
  local function f4(v) return v and ("%.4f"):format(v) or "" end
  for _, e in ipairs(self.evals) do
    m[#m + 1] = csv_row { e.after, e.task, f4(e.value), f4(e.inferred), ("%.2f"):format(e.time),
                          f4(e.given), f4(e.domain) }
  end
  self:write("metrics.csv", table.concat(m, "\n") .. "\n")
  self:write_log()
  if final then
    local cjson = require "cjson"
    self:write("summary.json", cjson.encode(self.summary) .. "\n")
  end
end

function methods:write_log()
  if not self.out then return end
  self:write("log.txt", table.concat(self.log_lines, "\n") .. "\n")
end

function methods:plots()
  if not self.out or self.opts.plots == false then return end
  local plot = require "hnet.plot"
  local R = self.result.R
  local regression = self.kind == "regression"
  local what = regression and "test MSE" or "test accuracy (%)"
  local title = ("%s on %s"):format(self.learner:name(), self.stream.name or "stream")
  local ok, why = plot.heatmap { out = self.out .. "/accuracy_matrix.png", matrix = R,
    title = title .. ": " .. what .. " after each task", xlabel = "task evaluated",
    ylabel = "after training on task", zlabel = what,
    zrange = regression and "auto" or { 0, 100 }, zlog = regression, format = regression and "%.3g" or "%.1f" }
  if not ok then self:log("plots skipped: %s", why) return end
  local series = {}
  for j = 1, self.T do
    local xs, ys = {}, {}
    for i = 1, #R do
      if R[i][j] then xs[#xs + 1] = i; ys[#ys + 1] = R[i][j] end
    end
    if #xs > 0 then
      series[#series + 1] = { name = ("task %d"):format(j), x = xs, y = ys, style = "linespoints" }
    end
  end
  ok, why = plot.lines { out = self.out .. "/accuracy_over_stream.png", series = series,
    title = title .. ": each task's " .. what .. " over the stream",
    xlabel = "after training on task", ylabel = what, logy = regression }
  if not ok then self:log("plots skipped: %s", why) end
end

local function has_file(dir, name) return hnet.sys.exists(dir .. "/" .. name) == "file" end

--- Make the run directory (refusing a folder of other files, and a
-- finished or interrupted run unless force), clear a fresh run's stale
-- results, and write options.json and script.lua.
function methods:prepare_dir(resuming)
  local dir = self.out
  if not dir then return end
  local kind = hnet.sys.exists(dir)
  if kind and kind ~= "directory" then
    error(("hnet.run: out '%s' exists and is not a directory"):format(dir), 0)
  end
  if kind and not resuming then
    -- A folder of someone's files is never written into, --force or not:
    -- log.txt, options.json, ... would overwrite theirs.
    local what, why = require("hnet.rundir").kind(dir)
    if what == "other" or what == "experiment" then
      error(("hnet.run: out '%s' %s; a run writes its files (log.txt, options.json, ...) only into a new or empty directory or its own run directory: choose another 'out' (--out)")
        :format(dir, what == "experiment" and "is an experiment's directory (results.md, run directories), not a run directory" or why), 0)
    end
  end
  if not resuming and not self.opts.force then
    if has_file(dir, "summary.json") then
      error(("hnet.run: '%s' already holds a finished run (summary.json); choose another 'out' (--out) or pass force = true (--force) to overwrite it")
        :format(dir), 0)
    end
    if has_file(dir, M.CKPT_FILE) then
      error(("hnet.run: '%s' holds an interrupted run (%s, no summary.json); continue it with resume = %q (--resume %s), or pass force = true (--force) to start over")
        :format(dir, M.CKPT_FILE, dir, dir), 0)
    end
  end
  local ok, err = hnet.sys.mkdir_p(dir)
  if not ok then error("hnet.run: " .. err, 0) end
  -- A write stopped by a kill leaves its temporary file (hnet.sys.write_file's
  -- NAME.tmp, a checkpoint's NAME.tmp.PID.N): the run that goes on here
  -- removes it (hnet.run.load, which writes nothing, leaves it).
  if not self.load_only then
    for _, f in ipairs(hnet.sys.list_dir(dir) or {}) do
      if f:match("%.tmp$") or f:match("%.tmp%.%d+%.%d+$") then os.remove(dir .. "/" .. f) end
    end
  end
  if resuming then return end
  -- A fresh run (perhaps forced over an old one): no stale results stay behind.
  for _, f in ipairs { "summary.json", M.CKPT_FILE, "accuracy_matrix.png", "accuracy_over_stream.png" } do
    os.remove(dir .. "/" .. f)
  end
  local sa = self.context or M.script_args()
  local options = self.learner:options()
  local meta = { learner = self.learner:name(), options = options, scenario = self.scenario,
                 tasks = self.T, stream = self.stream.name, task_names = self.fp.stream.names,
                 threads = hnet.threads(), subnormals = hnet.subnormals(), seed = self.fp.seed, version = hnet.version,
                 git_commit = git_commit(), checkpoint = M.CKPT_FILE, name = self.opts.name,
                 meta = self.opts.meta, checkpoint_every_minutes = self.ckpt_every,
                 inference = self.fp.inference, eval_max = self.opts.eval_max,
                 script = sa and sa.script, command_line = sa and sa.command,
                 started = os.date("!%Y-%m-%dT%H:%M:%SZ") }
  local cjson = require "cjson"
  local ok2, text = pcall(cjson.encode, meta)
  if not ok2 then -- options holding functions or cycles: keep what encodes
    meta.options = M.flatten(options, "")
    text = cjson.encode(meta)
  end
  self:write("options.json", text .. "\n")
  if sa and sa.script and sa.script ~= "-" then
    local src = util.read_file(sa.script)
    if src then self:write("script.lua", src) end
  end
end

--- The summary of a finished run: the registered metrics of its kind, the
-- last row, task inference, the scenarios judged alongside, and what the
-- run cost.
function methods:summarise()
  local T, kind, want_b = self.T, self.kind, self.want_fwt
  local s = self.result:summary(kind, want_b)
  s.metrics = metrics.descriptors(kind)
  if kind == "regression" then
    s.final_mse = self.result.R[T]
  else
    s.final = self.result.R[T]
    local ti = {}
    for _, e in ipairs(self.evals) do if e.after == T and e.inferred then ti[#ti + 1] = e.inferred end end
    if #ti > 0 then s.task_inference = metrics.mean_se(ti) end
    -- A run resumed from an older checkpoint may lack early rows.
    for _, a in ipairs(scenario.ALONGSIDE) do
      local r = self.alongside[a.key]
      if r:complete(T) then
        local g = r:summary(kind, want_b)
        g.final = r.R[T]
        s[a.key] = g
      end
    end
    if s.domain then s.domain.task_inference = s.task_inference end
  end
  s.learner, s.scenario, s.tasks = self.learner:name(), self.scenario, T
  s.stream = self.stream.name
  s.seconds = self:elapsed()
  s.trainable_parameters = self.learner:n_trainable()
  s.peak_rss_mib = hnet.sys.peak_rss_mib()
  s.threads = hnet.threads()
  s.subnormals = hnet.subnormals()
  s.seed = self.fp.seed
  return s
end

--- The accuracy matrix and the metrics as text (also printed and logged).
function methods:report()
  local T, R = self.T, self.result.R
  local lines = { ("%s, %s, %d tasks"):format(self.learner:name(), self.scenario, T) }
  local head = { "after \\ task" }
  for j = 1, T do head[#head + 1] = ("%7d"):format(j) end
  lines[#lines + 1] = table.concat(head, " ")
  for i = 1, #R do
    local row = { ("%12d"):format(i) }
    for j = 1, T do
      row[#row + 1] = R[i][j] and ("%7.2f"):format(R[i][j]) or ("%7s"):format("")
    end
    lines[#lines + 1] = table.concat(row, " ")
  end
  local s = self.summary
  -- One line of the registered metrics of the run's kind, from summary g.
  local shown = metrics.list(s and s.final_mse and "regression" or "classification")
  local function line(g)
    local parts = {}
    for _, e in ipairs(shown) do parts[#parts + 1] = e.label .. " " .. metrics.format(e, g[e.name]) end
    return table.concat(parts, "  ")
  end
  if not s then
    lines[#lines + 1] = self.stopped and ("stopped at task %d, iteration %d: no summary")
      :format(self.stopped.task, self.stopped.iteration) or "no summary"
  else
    if s.final_mse then
      lines[#lines + 1] = line(s)
    else
      lines[#lines + 1] = line(s) .. (s.task_inference and ("  task inference %.2f"):format(s.task_inference) or "")
      for _, a in ipairs(scenario.ALONGSIDE) do
        local g = s[a.key]
        if g then lines[#lines + 1] = ("the same networks %s: %s"):format(a.label, line(g)) end
      end
    end
    lines[#lines + 1] = ("%.1f s, %d trainable parameters, peak memory %.0f MiB"):format(
      s.seconds, s.trainable_parameters, s.peak_rss_mib)
  end
  local text = table.concat(lines, "\n")
  self.progress:print(text)
  self.log_lines[#self.log_lines + 1] = text
  pcall(self.write_log, self)
  return text
end

return M
