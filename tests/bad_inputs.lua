-- bad_inputs.lua — the Lua half of tests/test_lua_reliability.c: helpers for
-- the resume tests, the fixtures (a finished run, an interrupted run, damaged
-- checkpoints, broken dataset files) and the table of bad inputs.
--
-- Every case must fail with a message holding all of its `expect` words; after
-- each case M.intact() checks that nothing earlier was lost: every protected
-- file (finished runs' summary.json, every checkpoint) is byte-identical to
-- what it was before the cases ran, and no temporary file was left behind.
-- Cases of kind "lua" run in the test's Lua state; cases of kind "cli" are
-- command lines of ./hnet run by the C side (exit status must be non-zero and
-- stderr must hold the words). A case may have `after`, a function run after
-- the expected error that returns nil or what is wrong.
local hnet = require "hnet"
local checkpoint = require "hnet.checkpoint"

local M = {}
local D -- the temporary directory

-- ---- helpers ------------------------------------------------------------------------

M.bytes = require("hnet.util").read_file

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok == true or ok == 0, "command failed: " .. cmd)
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- A stream of n tasks of Gaussian blobs (2 classes, 4-D).
function M.stream(n, names, name)
  local ts = {}
  for i = 1, n or 3 do
    ts[i] = hnet.synthetic.blobs { n_classes = 2, dim = 4, n_per_class = 60, n_test_per_class = 40,
                                   seed = 10 + i, name = (names or "blobs") .. i }
  end
  return hnet.stream.from(ts, { name = name or "test-blobs" })
end

--- A small learner of that name; extra options override.
function M.learner(name, extra)
  local o = { target = { "mlp", hidden = { 8 } }, lr = 1e-2, batch = 16, iterations = 30, seed = 3 }
  if name == "hypernet" then
    o.hnet = { embedding = 4, hidden = { 8 } }
    o.lookahead, o.beta = true, 0.05
  end
  for k, v in pairs(extra or {}) do o[k] = v end
  return hnet.learners.new(name, o)
end

--- hnet.run with quiet, no plots, and ropts; ropts.stop_after = { task =,
-- iteration = } stops the run there (hnet.run.testing's seam).
function M.run(name, ropts, lopts, stream)
  local o = { quiet = true, plots = false }
  for k, v in pairs(ropts or {}) do o[k] = v end
  local stop = o.stop_after
  o.stop_after = nil
  if stop then
    local testing = require "hnet.run.testing"
    return testing.run(M.learner(name, lopts), stream or M.stream(3), o, testing.stop_after(stop))
  end
  return hnet.run(M.learner(name, lopts), stream or M.stream(3), o)
end

local function floats(t)
  local out = {}
  for i, v in ipairs(t:flat_table()) do out[i] = ("%a"):format(v) end
  return table.concat(out, ",")
end

--- Everything a finished run computed, exactly: R, b and the learner's
-- whole final state (every tensor's bits).
function M.signature(run)
  local parts = {}
  for i = 1, #run.R do
    for j = 1, run.T do
      if run.R[i][j] then parts[#parts + 1] = ("R%d,%d=%a"):format(i, j, run.R[i][j]) end
    end
  end
  for j = 1, run.T do
    if run.b[j] then parts[#parts + 1] = ("b%d=%a"):format(j, run.b[j]) end
  end
  local st = run.learner:state()
  local names = {}
  for k in pairs(st) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = st[k]
    if checkpoint.is_tensor(v) then parts[#parts + 1] = k .. "=" .. floats(v)
    elseif type(v) == "table" then parts[#parts + 1] = k .. "=" .. table.concat(v, ",")
    else parts[#parts + 1] = k .. "=" .. tostring(v) end
  end
  return table.concat(parts, "\n")
end

--- The same for the learner state in a checkpoint file.
function M.checkpoint_signature(path)
  local _, st = checkpoint.load(path)
  local names = {}
  for k in pairs(st) do if k:match("^learner/") or k == "run/R" then names[#names + 1] = k end end
  table.sort(names)
  local parts = {}
  for _, k in ipairs(names) do
    local v = st[k]
    if checkpoint.is_tensor(v) then parts[#parts + 1] = k .. "=" .. floats(v)
    else parts[#parts + 1] = k .. "=" .. checkpoint.encode(v) end
  end
  return table.concat(parts, "\n")
end

-- Run a script file in this state as ./hnet would (arg set).
function M.dofile_args(script, args)
  local saved = rawget(_G, "arg")
  local a = { [0] = script }
  for i, v in ipairs(args) do a[i] = v end
  arg = a
  local ok, r = pcall(dofile, script)
  arg = saved
  if not ok then error(r, 0) end
  return r
end

-- ---- the experiment script used by the command-line tests ----------------------------

M.EXP = [[
-- A small experiment for tests/test_lua_reliability.c.
local hnet = require "hnet"
local spin_marker = os.getenv("HNET_TEST_SPIN")
if spin_marker then -- ignore the first signal (say so in a second file); the second one exits
  hnet.sys.catch_interrupts()
  local f = assert(io.open(spin_marker, "w")); f:write("spinning\n"); f:close()
  local t0, noted = hnet.sys.clock(), false
  while hnet.sys.clock() - t0 < 60 do
    if not noted and hnet.sys.interrupted() then
      f = assert(io.open(spin_marker .. ".1", "w")); f:write("first signal\n"); f:close()
      noted = true
    end
  end
  os.exit(0)
end
local o, context = hnet.experiment.options(arg, {
  out_default = "runs/test_exp",
  resumable = true, -- one hnet.run
  iterations = { 60, "iterations per task" },
  learner = { "hypernet", "learner" },
  lr = { 0.01, "learning rate" },
  tasks = { 3, "tasks" },
  stop_task = { 0, "test hook: stop after this task's ..." },
  stop_iteration = { 0, "... iteration" },
}, "test_exp.lua: a test experiment")
local ts = {}
for i = 1, o.tasks do
  ts[i] = hnet.synthetic.blobs { n_classes = 2, dim = 4, n_per_class = 60, n_test_per_class = 40,
                                 seed = 10 * o.seed + i, name = "blobs" .. i }
end
local lo = { target = { "mlp", hidden = { 8 } }, lr = o.lr, batch = 16, iterations = o.iterations,
             seed = o.seed }
if o.learner == "hypernet" then
  lo.hnet = { embedding = 4, hidden = { 8 } }
  lo.lookahead, lo.beta = true, 0.05
end
local learner = hnet.learners.new(o.learner, lo)
local marker = os.getenv("HNET_TEST_MARKER")
if marker then -- at task 2, iteration 7: say so, then wait for a signal
  local train_task = learner.train_task
  function learner:train_task(t, task, hooks)
    local step = hooks.step
    hooks.step = function(it, ...)
      if t == 2 and it == 7 then
        local f = assert(io.open(marker, "w")); f:write("training\n"); f:close()
        local t0 = hnet.sys.clock()
        while not hnet.sys.interrupted() and hnet.sys.clock() - t0 < 60 do end
      end
      return step(it, ...)
    end
    return train_task(self, t, task, hooks)
  end
end
local testing = require "hnet.run.testing"
local stop = o.stop_task > 0 and testing.stop_after { task = o.stop_task, iteration = o.stop_iteration } or nil
local run = testing.run(learner, hnet.stream.from(ts, { name = "test-blobs" }), {
  out = o.out, force = o.force, quiet = o.quiet, verbose = o.verbose, plots = false,
  context = context }, stop)
if not o.quiet then run:report() end
return run
]]

-- ---- fixtures -----------------------------------------------------------------------

local protected = {} -- path -> bytes

local function protect(path)
  local b = M.bytes(path)
  assert(b, "fixture missing: " .. path)
  protected[path] = b
end

-- A copy of the interrupted run's directory whose checkpoint is `bytes`
-- (or produced by fn(path)).
local function bad_ckpt_dir(name, bytes, fn)
  local dir = D .. "/bad/" .. name
  sh(("mkdir -p %s && cp %s/interrupted/options.json %s/"):format(q(dir), q(D), q(dir)))
  if bytes then M.write(dir .. "/checkpoint.hnck", bytes) end
  if fn then fn(dir .. "/checkpoint.hnck") end
  if M.bytes(dir .. "/checkpoint.hnck") then protect(dir .. "/checkpoint.hnck") end
  return dir
end

local function with_u32(s, off, v)
  return s:sub(1, off) .. string.pack("<I4", v) .. s:sub(off + 5)
end

-- zlib's CRC32, bitwise (for forging a checkpoint header that is intact).
local function crc32(s)
  local c = 0xffffffff
  for i = 1, #s do
    c = c ~ s:byte(i)
    for _ = 1, 8 do c = (c & 1 == 1) and ((c >> 1) ~ 0xEDB88320) or (c >> 1) end
  end
  return c ~ 0xffffffff
end

-- A checkpoint of another format version whose header is intact (its own
-- CRC over bytes 0..23 at byte 24 matches).
local function with_version(s, v)
  local h = with_u32(s, 8, v)
  return with_u32(h, 24, crc32(h:sub(1, 24)))
end

local function flip(s, off)
  return s:sub(1, off) .. string.char(s:byte(off + 1) ~ 0xff) .. s:sub(off + 2)
end

-- Write a run checkpoint like the interrupted one, with its header and
-- state changed by edit(header, state).
local function edited_ckpt(edit)
  return function(path)
    local h, st = checkpoint.load(D .. "/interrupted/checkpoint.hnck")
    edit(h, st)
    checkpoint.save(path, h, st)
  end
end

-- MNIST-like IDX files under data_dir/mnist; `spoil(dir)` breaks them.
local function data_dir(name, spoil)
  local dd = D .. "/data/" .. name
  local m = dd .. "/mnist"
  sh(("mkdir -p %s"):format(q(m)))
  local x = hnet.tensor({ 20, 1, 28, 28 })
  for i = 1, 20 do x:set(i, 1, 5, 5, i) end
  local y = hnet.tensor(20)
  for i = 1, 20 do y:set(i, (i - 1) % 10) end
  hnet.idx_write(m .. "/train-images-idx3-ubyte.gz", x, { type = "u8" })
  hnet.idx_write(m .. "/train-labels-idx1-ubyte.gz", y, { type = "u8" })
  hnet.idx_write(m .. "/t10k-images-idx3-ubyte.gz", x, { type = "u8" })
  hnet.idx_write(m .. "/t10k-labels-idx1-ubyte.gz", y, { type = "u8" })
  M.write(m .. "/SHA256SUMS", "made by tests/bad_inputs.lua\n")
  if spoil then spoil(m) end
  return dd
end

function M.setup(tmp)
  D = tmp
  M.dir = tmp
  M.exp = D .. "/test_exp.lua"
  M.write(M.exp, M.EXP)
  -- A finished run and an interrupted one (task 2, iteration 5).
  M.run("hypernet", { out = D .. "/finished" })
  M.run("hypernet", { out = D .. "/interrupted", stop_after = { task = 2, iteration = 5 } })
  protect(D .. "/finished/summary.json")
  protect(D .. "/finished/checkpoint.hnck")
  protect(D .. "/interrupted/checkpoint.hnck")
  -- The same through the test experiment (for the command-line cases).
  M.dofile_args(M.exp, { "--quiet", "--threads", "1", "--out", D .. "/cli_finished" })
  M.dofile_args(M.exp, { "--quiet", "--threads", "1", "--out", D .. "/cli_interrupted",
                         "--stop_task", "2", "--stop_iteration", "5" })
  protect(D .. "/cli_finished/summary.json")
  protect(D .. "/cli_interrupted/checkpoint.hnck")
  -- Damaged and foreign checkpoints.
  local good = M.bytes(D .. "/interrupted/checkpoint.hnck")
  M.bad = {
    empty = bad_ckpt_dir("empty", ""),
    half = bad_ckpt_dir("half", good:sub(1, #good // 2)),
    tiny = bad_ckpt_dir("tiny", good:sub(1, 20)),
    payload = bad_ckpt_dir("payload", flip(good, #good - 3)),
    table = bad_ckpt_dir("table", flip(good, 40)),
    text = bad_ckpt_dir("text", "this is a text file, not a checkpoint\n"),
    png = bad_ckpt_dir("png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
    version = bad_ckpt_dir("version", with_version(good, 3)),
    version_bit = bad_ckpt_dir("version_bit", with_u32(good, 8, 2 + 65536)), -- one flipped bit
    appended = bad_ckpt_dir("appended", good .. "GARBAGE"),
    other_hnet = bad_ckpt_dir("other_hnet", nil, function(p)
      local w = hnet.ckpt.writer(p)
      w:add("weights", hnet.ones(4))
      w:commit()
    end),
    other_run = bad_ckpt_dir("other_run", nil, edited_ckpt(function(h) h.format = "something-else" end)),
    manifest_version = bad_ckpt_dir("manifest_version", nil, function(p)
      local w = hnet.ckpt.writer(p)
      w:add("hnet/manifest", checkpoint.encode { format = checkpoint.FORMAT, version = 99,
                                                  hnet_version = "9.9", tensors = {}, lists = {} })
      w:add("hnet/header", checkpoint.encode {})
      w:add("hnet/values", checkpoint.encode {})
      w:commit()
    end),
    values_json = bad_ckpt_dir("values_json", nil, function(p)
      local w = hnet.ckpt.writer(p)
      w:add("hnet/manifest", checkpoint.encode { format = checkpoint.FORMAT, version = 1,
                                                  tensors = {}, lists = {} })
      w:add("hnet/header", checkpoint.encode {})
      w:add("hnet/values", "{ not json")
      w:commit()
    end),
    theta_size = bad_ckpt_dir("theta_size", nil, edited_ckpt(function(_, st)
      st["learner/theta"] = hnet.ones(7)
    end)),
    order = bad_ckpt_dir("order", nil, edited_ckpt(function(_, st)
      local o = st["learner/batcher.order"]
      o[1] = o[2]
    end)),
    position = bad_ckpt_dir("position", nil, edited_ckpt(function(h) h.task = 9 end)),
    dir = bad_ckpt_dir("dir", nil, function(p) sh("mkdir -p " .. q(p)) end),
    none = bad_ckpt_dir("none"),
  }
  -- Dataset directories.
  M.data = {
    ok = data_dir("ok"),
    no_sums = data_dir("no_sums", function(m) os.remove(m .. "/SHA256SUMS") end),
    count = data_dir("count", function(m)
      hnet.idx_write(m .. "/t10k-labels-idx1-ubyte.gz", hnet.tensor(19), { type = "u8" })
    end),
    label = data_dir("label", function(m)
      local y = hnet.tensor(20)
      y:fill(12)
      hnet.idx_write(m .. "/t10k-labels-idx1-ubyte.gz", y, { type = "u8" })
    end),
    garbage = data_dir("garbage", function(m) M.write(m .. "/t10k-labels-idx1-ubyte.gz", "garbage") end),
    truncated = data_dir("truncated", function(m)
      sh(("gzip -dc %s/train-images-idx3-ubyte.gz | head -c 3000 | gzip > %s/t10k-images-idx3-ubyte.gz")
        :format(q(m), q(m)))
    end),
    shape = data_dir("shape", function(m)
      hnet.idx_write(m .. "/t10k-images-idx3-ubyte.gz", hnet.tensor({ 20, 1, 27, 28 }), { type = "u8" })
    end),
    signed = data_dir("signed", function(m)
      -- The test images as signed bytes (IDX type 0x09), same shape and bytes.
      local raw = { string.pack(">BBBBI4I4I4I4", 0, 0, 0x09, 4, 20, 1, 28, 28) }
      for i = 1, 20 do raw[#raw + 1] = string.rep("\x80", 28 * 28) end
      M.write(m .. "/t10k-images-idx3-ubyte.gz", table.concat(raw))
    end),
    swapped = data_dir("swapped", function(m)
      sh(("cp %s/train-labels-idx1-ubyte.gz %s/t10k-images-idx3-ubyte.gz"):format(q(m), q(m)))
    end),
  }
  M.write(D .. "/a_file", "not a directory\n")
  protect(D .. "/a_file")
  M.cases = M.make_cases()
  return true
end

--- nil when every protected file is as it was and no temporary file is
-- left in a run directory; else what is wrong.
function M.intact()
  for path, b in pairs(protected) do
    local now = M.bytes(path)
    if now ~= b then
      return ("%s changed (%s bytes, was %d)"):format(path, now and #now or "missing", #b)
    end
  end
  local p = io.popen(("find %s -name '*.tmp*' 2>/dev/null"):format(q(D)))
  local stray = p:read("a")
  p:close()
  if stray ~= "" then return "temporary files left behind: " .. stray end
  return nil
end

-- ---- the cases ----------------------------------------------------------------------

local function resume(dir, name, ropts, lopts, stream)
  local o = { resume = dir }
  for k, v in pairs(ropts or {}) do o[k] = v end
  return function() M.run(name or "hypernet", o, lopts, stream) end
end

-- hnet.experiment.compare over a small stream into D/cmp; extra[name]
-- overrides that learner's options.
local function compare(learners, scenarios, extra)
  return function()
    hnet.experiment.compare {
      stream = M.stream(2), learners = learners, scenarios = scenarios, out = D .. "/cmp", quiet = true,
      learner_options = function(name)
        local o = { target = { "mlp", hidden = { 8 } }, lr = 1e-2, batch = 16, iterations = 5, seed = 3 }
        for k, v in pairs(extra and extra[name] or {}) do o[k] = v end
        return o
      end,
    }
  end
end

-- An `after` check: nothing was written at path.
local function nothing_in(path)
  return function()
    if hnet.sys.exists(path) then return path .. " was written before the error" end
  end
end

local function load_mnist(which)
  return function() hnet.datasets.load("mnist", { data_dir = M.data[which], reload = true }) end
end

-- The checkpoint in `dir` must be byte-identical to `want` (captured during
-- the run) and no temporary file may remain.
local function same_ckpt(dir, want_ref)
  return function()
    local now = M.bytes(dir .. "/checkpoint.hnck")
    if not want_ref.bytes then return "no checkpoint was captured before the failure" end
    if now ~= want_ref.bytes then return "the last good checkpoint in " .. dir .. " changed" end
    local ok, h = pcall(checkpoint.load, dir .. "/checkpoint.hnck")
    if not ok then return "the last good checkpoint does not load: " .. tostring(h) end
    return nil
  end
end

-- A learner whose begin_task(t) keeps a copy of the checkpoint on disk and
-- calls fn (for faults injected in task t).
local function at_task(name, t, dir, ref, fn, lopts)
  local l = M.learner(name, lopts)
  local begin_task = l.begin_task
  function l:begin_task(i, task)
    if i == t then
      ref.bytes = M.bytes(dir .. "/checkpoint.hnck")
      if fn then fn(self) end
    end
    return begin_task(self, i, task)
  end
  return l
end

local disk_ref, nan_ref, inject_ref = {}, {}, {}

function M.make_cases()
  return {
  -- Checkpoints given to resume: damaged, foreign, another version.
  { name = "empty checkpoint", run = function() resume(M.bad.empty)() end, expect = { "cannot resume", "is empty" } },
  { name = "truncated checkpoint (half)", run = function() resume(M.bad.half)() end, expect = { "cannot resume", "truncated" } },
  { name = "truncated checkpoint (20 bytes)", run = function() resume(M.bad.tiny)() end, expect = { "truncated", "header" } },
  { name = "corrupt payload", run = function() resume(M.bad.payload)() end, expect = { "is corrupt", "CRC32", "keeps only its last checkpoint", "--force" } },
  { name = "corrupt section table", run = function() resume(M.bad.table)() end, expect = { "corrupt header or section table" } },
  { name = "foreign file (text)", run = function() resume(M.bad.text)() end, expect = { "not an hnet checkpoint", "magic" } },
  { name = "foreign file (PNG)", run = function() resume(M.bad.png)() end, expect = { "not an hnet checkpoint" } },
  { name = "wrong format version", run = function() resume(M.bad.version)() end, expect = { "format version 3", "header is intact", "reads versions 1 to 2" } },
  { name = "flipped bit in the format version", run = function() resume(M.bad.version_bit)() end,
    expect = { "corrupt header", "damaged", "keeps only its last checkpoint", "--force" } },
  { name = "bytes appended", run = function() resume(M.bad.appended)() end, expect = { "after the end of the checkpoint" } },
  { name = "an hnet checkpoint, not a run's", run = function() resume(M.bad.other_hnet)() end, expect = { "not a run checkpoint" } },
  { name = "a checkpoint of something else", run = function() resume(M.bad.other_run)() end, expect = { "not of an hnet.run run" } },
  { name = "run-checkpoint version 99", run = function() resume(M.bad.manifest_version)() end, expect = { "version 99", "reads version 1" } },
  { name = "values section not JSON", run = function() resume(M.bad.values_json)() end, expect = { "not valid JSON" } },
  { name = "learner state of the wrong size", run = function() resume(M.bad.theta_size)() end, expect = { "learner state 'theta'", "does not fit" } },
  { name = "batcher order not a permutation", run = function() resume(M.bad.order)() end, expect = { "not a permutation" } },
  { name = "position past the stream", run = function() resume(M.bad.position)() end, expect = { "task 9", "does not fit this run" } },
  { name = "checkpoint is a directory", run = function() resume(M.bad.dir)() end, expect = { "is a directory" } },
  { name = "no checkpoint in the directory", run = function() resume(M.bad.none)() end, expect = { "holds no checkpoint.hnck" } },
  { name = "resume a directory that does not exist", run = function() resume(D .. "/nowhere")() end, expect = { "not a directory" } },
  { name = "resume and out differ", run = function() resume(D .. "/interrupted", "hypernet", { out = D .. "/elsewhere" })() end, expect = { "differ" } },
  -- A checkpoint of another run.
  { name = "resume with another learner", run = function() resume(D .. "/interrupted", "ewc")() end, expect = { "different run", "learner 'hypernet' there, 'ewc' here" } },
  { name = "resume with another learning rate", run = function() resume(D .. "/interrupted", "hypernet", nil, { lr = 0.5 })() end, expect = { "learner option 'lr'" } },
  { name = "resume with another stream length", run = function() resume(D .. "/interrupted", "hypernet", nil, nil, M.stream(4))() end, expect = { "3 tasks there, 4 here" } },
  { name = "resume with other tasks", run = function() resume(D .. "/interrupted", "hypernet", nil, nil, M.stream(3, "other"))() end, expect = { "task 1 is 'blobs1' there, 'other1' here" } },
  { name = "resume with another seed", run = function()
      hnet.seed(7)
      local ok, err = pcall(resume(D .. "/interrupted"))
      hnet.seed(1)
      if not ok then error(err, 0) end
    end, expect = { "seed 1 there, 7 here" } },
  { name = "resume with another scenario", run = function() resume(D .. "/interrupted", "hypernet", { scenario = "class" })() end, expect = { "scenario 'task-given' there, 'class' here" } },
  { name = "resume with another eval_max", run = function() resume(D .. "/interrupted", "hypernet", { eval_max = 10 })() end, expect = { "eval_max" } },
  -- The hnet.ckpt binding misused.
  { name = "ckpt writer without a path", run = function() hnet.ckpt.writer("") end, expect = { "the path is empty" } },
  { name = "ckpt section of a bad type", run = function() hnet.ckpt.writer(D .. "/w.hnck"):add("x", 5) end,
    expect = { "hnet.Tensor, string or list of integers expected" } },
  { name = "ckpt section with a bad name", run = function() hnet.ckpt.writer(D .. "/w.hnck"):add("", hnet.ones(2)) end,
    expect = { "hn_ckpt_add" } },
  { name = "ckpt section added twice", run = function()
      local w = hnet.ckpt.writer(D .. "/w.hnck")
      w:add("a", hnet.ones(2))
      w:add("a", hnet.ones(2))
    end, expect = { "'a'" } },
  { name = "ckpt list that is not of integers", run = function() hnet.ckpt.writer(D .. "/w.hnck"):add("l", { 1, 2.5 }) end,
    expect = { "entry 2 of the list must be an integer" } },
  { name = "ckpt reader used after close", run = function()
      local c = hnet.ckpt.open(D .. "/finished/checkpoint.hnck")
      c:close()
      c:names()
    end, expect = { "has been closed" } },
  { name = "ckpt tensor of the wrong shape", run = function()
      hnet.ckpt.open(D .. "/finished/checkpoint.hnck"):tensor("t/1", { 1, 1 })
    end, expect = { "the shape asked for" } },
  { name = "ckpt section of the wrong kind", run = function()
      hnet.ckpt.open(D .. "/finished/checkpoint.hnck"):i64("hnet/header")
    end, expect = { "is text, not i64" } },
  { name = "checkpoint.save of a NaN tensor", run = function()
      local t = hnet.ones(3)
      t:set(2, 0 / 0)
      checkpoint.save(D .. "/finished/checkpoint.hnck", {}, { bad = t })
    end, expect = { "numerical fault", "tensor 'bad'", "not written" } },
  { name = "checkpoint.save of a function", run = function()
      checkpoint.save(D .. "/w.hnck", {}, { f = print })
    end, expect = { "cannot hold" } },
  -- Datasets.
  { name = "missing dataset", run = function() hnet.datasets.load("mnist", { data_dir = D .. "/no_data", reload = true }) end, expect = { "not found", "make data" } },
  { name = "dataset conversion unfinished", run = load_mnist("no_sums"), expect = { "SHA256SUMS", "make data" } },
  { name = "labels and images disagree", run = load_mnist("count"), expect = { "label-count mismatch", "20 images", "19 labels" } },
  { name = "label out of range", run = load_mnist("label"), expect = { "label 12", "not a class in 0..9" } },
  { name = "garbage instead of IDX", run = load_mnist("garbage"), expect = { "not an IDX file" } },
  { name = "truncated IDX", run = load_mnist("truncated"), expect = { "truncated" } },
  { name = "images of the wrong size", run = load_mnist("shape"), expect = { "does not hold", "27, 28" } },
  { name = "labels file where images belong", run = load_mnist("swapped"), expect = { "does not hold" } },
  { name = "images stored as signed bytes", run = load_mnist("signed"),
    expect = { "t10k-images-idx3-ubyte.gz", "stores i8 values (type code 0x09) where u8 (0x08) are expected" } },
  { name = "unknown dataset", run = function() hnet.datasets.load("no_such_set") end, expect = { "is unknown", "available" } },
  { name = "misspelt dataset option", run = function() hnet.datasets.load("mnist", { datadir = "/elsewhere" }) end,
    expect = { "hnet.datasets.load", "unknown option 'datadir'", "allowed: data_dir" } },
  { name = "negative n_train", run = function() hnet.datasets.load("mnist", { n_train = -1 }) end,
    expect = { "hnet.datasets.load", "field 'n_train'", ">= 1", "got -1" } },
  -- Options in scripts: learners, runs, streams, tasks.
  { name = "unknown learner option", run = function() M.learner("hypernet", { lrr = 1 }) end, expect = { "unknown option 'lrr'", "allowed" } },
  { name = "learner option of the wrong type", run = function() M.learner("ewc", { lr = "big" }) end, expect = { "field 'lr'", "number expected" } },
  { name = "learner option out of range", run = function() M.learner("si", { batch = 0 }) end, expect = { "field 'batch'", ">= 1" } },
  { name = "hypernetwork option out of range", run = function() M.learner("hypernet", { hnet = { embedding = 0 } }) end, expect = { "field 'embedding'" } },
  { name = "unknown hypernetwork option", run = function() M.learner("hypernet", { hnet = { chunks = 4 } }) end, expect = { "unknown option 'chunks'" } },
  { name = "unknown target network", run = function() M.run("finetune", nil, { target = { "resnet" } }) end, expect = { "unknown network kind 'resnet'" } },
  { name = "unknown learner", run = function() hnet.learners.new("nope") end, expect = { "no learner named 'nope'" } },
  { name = "unknown run option", run = function() M.run("finetune", { outt = D .. "/x" }) end, expect = { "unknown option 'outt'" } },
  { name = "run of an empty table", run = function() hnet.run({}, M.stream(2), { out = D .. "/not_a_learner" }) end,
    expect = { "bad argument #1 to 'hnet.run'", "the learner lacks name(), options()", "predict()", "hnet.learners.new", "hnet.learners.base" },
    after = nothing_in(D .. "/not_a_learner") },
  { name = "run of a learner without predict", run = function()
      local l = M.learner("hypernet")
      l.predict = false
      hnet.run(l, M.stream(2))
    end, expect = { "the learner lacks predict()" } },
  { name = "run of a base learner that defines no predict", run = function()
      local C = require("hnet.learners.base").class()
      function C:schedule() return { iterations = 1, batch = 1, eval_batch = 1 } end
      function C:setup() end
      hnet.run(setmetatable({}, C), M.stream(2))
    end, expect = { "the learner lacks predict() (hnet.learners.base's raises: define it)" } },
  { name = "run of something that is not a stream", run = function() hnet.run(M.learner("finetune"), { M.stream(2):get(1) }) end,
    expect = { "bad argument #2 to 'hnet.run'", "a stream expected", "hnet.stream.from" } },
  { name = "inference policy out of range", run = function()
      M.run("hypernet", { scenario = "class", inference = function() return 9 end }, nil, M.stream(2))
    end, expect = { "task-inference policy (option 'inference') returned 9", "task index in 1..1" } },
  { name = "inference policy returning nil", run = function()
      M.run("hypernet", { scenario = "domain", inference = function() end }, nil, M.stream(2))
    end, expect = { "task-inference policy (option 'inference') returned nil", "test sample 1 of task 1" } },
  { name = "bad scenario", run = function() M.run("finetune", { scenario = "bogus" }) end, expect = { "field 'scenario'" } },
  { name = "negative checkpoint_every", run = function() M.run("finetune", { checkpoint_every = -1 }) end, expect = { "field 'checkpoint_every'" } },
  { name = "stop_after past the stream", run = function() M.run("finetune", { stop_after = { task = 9, iteration = 1 } }) end, expect = { "field 'task'" } },
  { name = "stop_after past the iterations", run = function() M.run("finetune", { stop_after = { task = 1, iteration = 99 } }) end, expect = { "past the learner's 30 iterations" } },
  { name = "out of the wrong type", run = function() M.run("finetune", { out = 5 }) end, expect = { "field 'out'", "string expected" } },
  { name = "resume of the wrong type", run = function() M.run("finetune", { resume = true }) end, expect = { "field 'resume'", "string expected" } },
  { name = "eval_max of zero", run = function() M.run("finetune", { eval_max = 0 }) end, expect = { "field 'eval_max'" } },
  { name = "permuted stream of 0 tasks", run = function() hnet.stream.permuted({ name = "x" }, { tasks = 0 }) end, expect = { "field 'tasks'" } },
  { name = "unknown stream option", run = function() hnet.stream.permuted({ name = "x" }, { task = 3 }) end, expect = { "unknown option 'task'" } },
  { name = "split stream with 0 classes per task", run = function() hnet.stream.split({ n_classes = 10 }, { classes_per_task = 0 }) end, expect = { "classes_per_task" } },
  { name = "empty task list", run = function() hnet.stream.from({}) end, expect = { "non-empty list" } },
  { name = "custom stream of 0 tasks", run = function() hnet.stream.custom { n = 0, make = function() end } end, expect = { "field 'n'" } },
  { name = "blobs with 0 classes", run = function() hnet.synthetic.blobs { n_classes = 0 } end, expect = { "n_classes" } },
  { name = "permutation that is a number", run = function() hnet.tasks.permuted(M.stream(1):get(1), { perm = 1 }) end,
    expect = { "hnet.tasks.permuted", "field 'perm'", "a permutation of 1..4" } },
  { name = "split classes as nested lists", run = function() hnet.stream.split({ n_classes = 10, train = {} }, { classes = { { 0, 1 }, { 1, 12 } } }) end,
    expect = { "hnet.stream.split", "field 'classes'", "entry 1 is a list", "one flat list" } },
  { name = "split classes out of range", run = function() hnet.stream.split({ n_classes = 10, train = {} }, { classes = { 0, 1, 1, 12 } }) end,
    expect = { "field 'classes'", "class 1 is listed twice" } },
  { name = "tasks.map returning labels outside the classes", run = function()
      local t = hnet.tasks.map(M.stream(1):get(1), function(x, y) local z = y:clone(); z:add(3); return x, z end)
      local _ = t.train
    end, expect = { "hnet.tasks.map", "label 3.0", "not a class in 0..1", "n_classes" } },
  { name = "infinite beta", run = function() M.learner("hypernet", { beta = math.huge }) end,
    expect = { "hnet.learners.hypernet", "field 'beta'", "finite number expected, got inf" } },
  { name = "a data set of 5 images", run = function()
      hnet.datasets.register("five", function()
        local y = hnet.tensor_from { 0, 1, 2, 3, 4 }
        return { n_classes = 10, shape = { 1, 28, 28 }, train = { x = hnet.rand({ 5, 1, 28, 28 }, hnet.rng(1)), y = y },
                 test = { x = hnet.rand({ 5, 1, 28, 28 }, hnet.rng(2)), y = y:clone() } }
      end)
      local stream = hnet.stream.split(hnet.datasets.load("five"), { classes_per_task = 2 })
      hnet.run(M.learner("finetune"), stream, { quiet = true, plots = false })
    end, expect = { "task 'five/split-4(6,7)'", "split has no samples", "x is hnet.Tensor[0, 1, 28, 28]" } },
  -- hnet.experiment.compare checks every learner, scenario and learner option
  -- before the first run trains (nothing may be written).
  { name = "compare with a misspelt learner after a valid one", run = compare({ "finetune", "hypernt" }, { "task-given" }),
    expect = { "hnet.experiment.compare", "field 'learners'", "'hypernt'", "built in: hypernet" }, after = nothing_in(D .. "/cmp") },
  { name = "compare with a misspelt scenario after a valid one", run = compare({ "finetune" }, { "task-given", "clas" }),
    expect = { "field 'scenarios'", "'clas'", "allowed: task-given" }, after = nothing_in(D .. "/cmp") },
  { name = "compare with a scenario listed twice", run = compare({ "finetune" }, { "class", "class" }),
    expect = { "field 'scenarios'", "'class' is listed twice" }, after = nothing_in(D .. "/cmp") },
  { name = "compare with a misspelt option", run = function()
      hnet.experiment.compare { stream = M.stream(2), learners = { "finetune" }, scenarios = { "task-given" },
                                learner_options = function() return {} end, quite = true }
    end, expect = { "hnet.experiment.compare", "unknown option 'quite'", "allowed: context, eval_max" } },
  { name = "compare with a bad option of the last learner", run = compare({ "finetune", "ewc" }, { "task-given" }, { ewc = { lambda = -1 } }),
    expect = { "hnet.learners.ewc", "field 'lambda'" }, after = nothing_in(D .. "/cmp") },
  -- Run directories.
  { name = "out holds a finished run", run = function() M.run("hypernet", { out = D .. "/finished" }) end, expect = { "already holds a finished run", "force" } },
  { name = "out holds an interrupted run", run = function() M.run("hypernet", { out = D .. "/interrupted" }) end, expect = { "holds an interrupted run", "resume" } },
  { name = "out is a file", run = function() M.run("hypernet", { out = D .. "/a_file" }) end, expect = { "is not a directory" } },
  { name = "out is someone's folder", run = function()
      assert(hnet.sys.mkdir_p(D .. "/user_folder"))
      M.write(D .. "/user_folder/log.txt", "mine\n")
      M.run("hypernet", { out = D .. "/user_folder", force = true })
    end, expect = { "user_folder", "did not write", "log.txt", "choose another" },
    after = function()
      if M.bytes(D .. "/user_folder/log.txt") ~= "mine\n" then return "the user's log.txt was overwritten" end
      if hnet.sys.exists(D .. "/user_folder/options.json") then return "options.json was written into the user's folder" end
    end },
  { name = "out is an experiment's directory", run = function()
      assert(hnet.sys.mkdir_p(D .. "/an_experiment"))
      M.write(D .. "/an_experiment/results.md", "| a table |\n")
      M.run("hypernet", { out = D .. "/an_experiment" })
    end, expect = { "an_experiment", "experiment's directory", "choose another" } },
  -- Results that cannot be written: a full disk (/dev/full) says so and how
  -- to go on; another failure (a directory in the way) does not blame the disk.
  { name = "results file on a full disk", run = function()
      local dir = D .. "/full_results"
      local l = at_task("finetune", 2, dir, {}, function()
        assert(os.execute(("ln -sf /dev/full '%s/accuracy_matrix.csv.tmp'"):format(dir)))
      end)
      hnet.run(l, M.stream(3), { out = dir, quiet = true, plots = false })
    end, expect = { "accuracy_matrix.csv", "No space left on device", "the disk is full", "resume" } },
  { name = "results file blocked (not a full disk)", run = function()
      local dir = D .. "/blocked_results"
      local l = at_task("finetune", 2, dir, {}, function()
        assert(hnet.sys.mkdir_p(dir .. "/accuracy_matrix.csv.tmp"))
      end)
      local ok, err = pcall(hnet.run, l, M.stream(3), { out = dir, quiet = true, plots = false })
      os.remove(dir .. "/accuracy_matrix.csv.tmp")
      -- (raised without the expected words, so that the case fails)
      if not ok and tostring(err):find("disk", 1, true) then error("the message blames the disk", 0) end
      if not ok then error(err, 0) end
    end, expect = { "accuracy_matrix.csv", "Is a directory" } },
  -- A disk that fills while a checkpoint is written (the ckpt test hook).
  { name = "disk full while checkpointing", run = function()
      local dir = D .. "/diskfull"
      local l = at_task("hypernet", 2, dir, disk_ref, function() require("hnet.run.testing").fail_write_after(100) end)
      local ok, err = pcall(hnet.run, l, M.stream(3), { out = dir, quiet = true, plots = false })
      require("hnet.run.testing").fail_write_after(-1)
      -- the process ends here: "commit again" would be no use; resuming is
      if not ok and tostring(err):find("commit again", 1, true) then error("the message says commit again", 0) end
      if not ok then error(err, 0) end
    end, expect = { "cannot write the checkpoint", "No space left on device", "after task 1) is intact",
                    "free disk space", "Fix the cause, then resume" },
    after = same_ckpt(D .. "/diskfull", disk_ref) },
  -- Numerical faults.
  { name = "huge learning rate", run = function() M.run("hypernet", { out = D .. "/nan_lr" }, { lr = 1e30 }) end,
    expect = { "numerical fault", "task 1", "iteration", "lr = 1e+30", "beta" } },
  { name = "NaN in the data of task 2", run = function()
      local s = M.stream(3)
      s:get(2).train.x:set(1, 1, 0 / 0)
      local dir = D .. "/nan_data"
      local l = at_task("si", 2, dir, nan_ref)
      hnet.run(l, s, { out = dir, quiet = true, plots = false })
    end, expect = { "numerical fault in task 2/3", "'W (network weights)'", "holds NaN or Inf", "after task 1) is intact" },
    after = same_ckpt(D .. "/nan_data", nan_ref) },
  { name = "NaN in the parameters before a checkpoint", run = function()
      local dir = D .. "/nan_theta"
      local l = at_task("hypernet", 3, dir, inject_ref, function(self) self.theta:set(1, 0 / 0) end)
      -- The NaN goes in after the checkpoint of task 2: the next one must refuse it.
      function l:train_task(t, task, hooks) return t end
      hnet.run(l, M.stream(3), { out = dir, quiet = true, plots = false })
    end, expect = { "numerical fault", "tensor 'learner/theta'", "after task 2) is intact" },
    after = same_ckpt(D .. "/nan_theta", inject_ref) },
  -- Evaluation: NaN test inputs (ReLU hides them from the outputs) and NaN
  -- outputs must stop the run as loudly as a NaN in training, never be scored.
  { name = "NaN in the test inputs of task 2", run = function()
      local s = M.stream(3)
      local x = s:get(2).test.x
      for i = 1, x:size(1), 2 do x:set(i, 1, 0 / 0) end
      hnet.run(M.learner("finetune"), s, { out = D .. "/nan_test", quiet = true, plots = false })
    end, expect = { "numerical fault evaluating task 2/3 ('blobs2')", "40 of its 80 test samples hold NaN or Inf in their inputs", "test data", "no checkpoint had been written yet" },
    after = function()
      local log = M.bytes(D .. "/nan_test/log.txt") or ""
      if not log:find("numerical fault evaluating task 2/3", 1, true) then return "log.txt does not record the fault" end
      if M.bytes(D .. "/nan_test/summary.json") then return "summary.json was written" end
    end },
  { name = "NaN outputs while inferring the task", run = function()
      local l = M.learner("hypernet")
      local predict, begin_eval, evaluating = l.predict, l.begin_eval, false
      function l:begin_eval(...) evaluating = true; return begin_eval(self, ...) end
      function l:predict(x, t)
        local y = predict(self, x, t)
        if evaluating and t == 1 then y:set(3, 2, 1 / 0) end
        return y
      end
      hnet.run(l, M.stream(3), { scenario = "class", fwt = false, quiet = true, plots = false })
    end, expect = { "numerical fault evaluating task 1/3", "1 of its 80 test samples gave NaN or Inf outputs", "lr = 0.01" } },
}
end

-- Command lines (argv after ./hnet): exit status != 0 and stderr holding the words.
function M.cli_cases()
  local exp = M.exp
  -- An earlier gradual_drift result, and someone's own folder.
  assert(hnet.sys.mkdir_p(D .. "/drift_done"))
  M.write(D .. "/drift_done/results.md", "### Gradual drift\n")
  M.write(D .. "/drift_done/summary.json", "{}\n")
  assert(hnet.sys.mkdir_p(D .. "/cli_user_folder"))
  M.write(D .. "/cli_user_folder/notes.txt", "mine\n")
  protect(D .. "/drift_done/results.md")
  protect(D .. "/cli_user_folder/notes.txt")
  local drift = "experiments/gradual_drift.lua"
  return {
    -- A script that cannot resume does not offer the run options, and keeps
    -- an earlier result unless --force.
    { name = "--resume offered by a script that cannot resume", args = { drift, "--resume", D .. "/drift_done" },
      expect = { "unknown option --resume" } },
    { name = "--checkpoint_every offered by a script without checkpoints", args = { drift, "--checkpoint_every", "1" },
      expect = { "unknown option --checkpoint_every" } },
    { name = "a finished --out of a script that cannot resume", args = { drift, "--quick", "--out", D .. "/drift_done" },
      expect = { "drift_done", "already holds the results", "--force" } },
    { name = "--out is someone's folder (experiment)", args = { exp, "--force", "--out", D .. "/cli_user_folder" },
      expect = { "cli_user_folder", "did not write", "notes.txt" } },
    { name = "--out is someone's folder (no resume)", args = { drift, "--force", "--out", D .. "/cli_user_folder" },
      expect = { "cli_user_folder", "did not write", "notes.txt" } },
    { name = "--out is a run directory (no resume)", args = { drift, "--force", "--out", D .. "/cli_finished" },
      expect = { "cli_finished", "run directory of an hnet.run" } },
    { name = "unknown experiment option", args = { "experiments/quickstart.lua", "--bogus" }, expect = { "unknown option --bogus", "--resume" } },
    { name = "seed not an integer", args = { exp, "--seed", "abc" }, expect = { "--seed: integer expected" } },
    { name = "no adaptation steps", args = { "experiments/fewshot_sinusoid.lua", "--steps", "0" },
      expect = { "option --steps: an integer >= 1 expected, got 0" } },
    { name = "iterations not an integer", args = { exp, "--iterations", "1.5" }, expect = { "--iterations: integer expected" } },
    { name = "--resume without a value", args = { exp, "--resume" }, expect = { "--resume needs a value" } },
    { name = "--resume of a missing directory", args = { exp, "--resume", D .. "/nowhere" }, expect = { "does not exist" } },
    { name = "negative --checkpoint_every", args = { exp, "--checkpoint_every", "-1" }, expect = { "--checkpoint_every", ">= 0" } },
    { name = "--checkpoint_every not a number", args = { exp, "--checkpoint_every", "often" }, expect = { "--checkpoint_every: number expected" } },
    { name = "--out and --resume differ", args = { exp, "--out", D .. "/x", "--resume", D .. "/cli_interrupted" }, expect = { "different directories" } },
    { name = "a flag with a value", args = { exp, "--quick=1" }, expect = { "is a flag" } },
    { name = "an unexpected argument", args = { exp, "extra" }, expect = { "unexpected argument 'extra'" } },
    { name = "--threads out of range", args = { exp, "--threads", "-2" }, expect = { "--threads" } },
    { name = "missing dataset (HNET_DATA)", args = { "experiments/quickstart.lua", "--quick", "--out", D .. "/qs" },
      env = { "HNET_DATA=" .. D .. "/no_data" }, expect = { "not found", "make data" } },
    { name = "corrupt checkpoint on the command line", args = { exp, "--resume", M.bad.payload }, expect = { "cannot resume", "is corrupt" } },
    { name = "resume with another learning rate", args = { exp, "--threads", "1", "--lr", "0.5", "--resume", D .. "/cli_interrupted" },
      expect = { "different run", "learner option 'lr' is 0.01 there, 0.5 here" } },
    { name = "resume with another learner", args = { exp, "--threads", "1", "--learner", "ewc", "--resume", D .. "/cli_interrupted" },
      expect = { "learner 'hypernet' there, 'ewc' here" } },
    { name = "start over an interrupted run", args = { exp, "--threads", "1", "--out", D .. "/cli_interrupted" },
      expect = { "holds an interrupted run", "--resume" } },
    { name = "start over a finished run", args = { exp, "--threads", "1", "--out", D .. "/cli_finished" },
      expect = { "already holds a finished run", "--force" } },
    { name = "report of a directory that is not a run", args = { "report", D .. "/bad" }, expect = { "not a run directory" } },
    { name = "report of an interrupted run", args = { "report", D .. "/cli_interrupted" }, expect = { "interrupted run", "--resume" } },
    { name = "an option outside its choices", args = { "experiments/split_mnist.lua", "--init", "glorot" },
      expect = { "option --init: xavier or hyperfan expected, got 'glorot'" } },
    { name = "a list item outside its choices", args = { "experiments/gradual_drift.lua", "--learners", "detect,oracel" },
      expect = { "option --learners: detect, oracle or single expected, got 'oracel'" } },
    { name = "a misspelt learner after a valid one", args = { "experiments/split_mnist.lua", "--quick", "--learners", "finetune,hypernt",
      "--scenarios", "task-given,clas", "--out", D .. "/cli_lists" }, expect = { "option --learners:", "got 'hypernt'", "finetune, ewc" } },
    { name = "a misspelt scenario after a valid one", args = { "experiments/split_mnist.lua", "--quick", "--learners", "finetune",
      "--scenarios", "task-given,clas", "--out", D .. "/cli_lists" }, expect = { "option --scenarios:", "got 'clas'", "domain, class" } },
    { name = "paper_tables.lua with an unknown MNIST", args = { "experiments/paper_tables.lua", "--mnist", "mnist_ful" },
      expect = { "option --mnist: mnist or mnist_full expected, got 'mnist_ful'" } },
    { name = "--train_fraction out of range", args = { "experiments/split_mnist.lua", "--train_fraction", "0" },
      expect = { "--train_fraction: a number in (0, 1] expected" } },
    { name = "report of a file", args = { "report", D .. "/a_file" }, expect = { "is not a directory" } },
  }
end

return M
