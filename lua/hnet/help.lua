--- `./hnet help NAME`: the signature and options of a learner or of a
-- public function that takes an options table, printed from the same
-- hnet.spec that checks the call. `./hnet help` lists the names.
--
--   ./hnet help hypernet           a learner (built in, or found through
--                                  --lib / HNET_PATH: its module's cli spec)
--   ./hnet help hnet.run           a function
local spec = require "hnet.spec"

local M = {}

-- The modules that declare help entries, in the index's order. Each has
-- M.HELP, a list of
--   { name = "hnet.x.f" (a method: "hnet.Net:forward"), sig = the call,
--     about = one line, spec = its hnet.spec (or a function returning it;
--     nil when it takes none of its own), notes = more text (optional),
--     also = { other names of the same function } (optional) }
-- A new module with options adds itself here; tests/test_lua_help.c walks
-- the public tables and fails on a function with neither help nor a reason.
M.MODULES = {
  "hnet.api.nets", "hnet.api.train", "hnet.api.data", "hnet.run", "hnet.stream", "hnet.tasks",
  "hnet.datasets", "hnet.experiment", "hnet.hypermodel", "hnet.fewshot", "hnet.maml", "hnet.synthetic",
  "hnet.shift", "hnet.metrics", "hnet.plot", "hnet.learners", "hnet.dist", "hnet.distributed", "hnet.sweep",
}

-- Every help entry of every module in M.MODULES, in order (read each time:
-- a module's HELP is the truth).
local function functions()
  local list = {}
  for _, mod in ipairs(M.MODULES) do
    local help = require(mod).HELP
    assert(type(help) == "table", mod .. ": no HELP list (lua/hnet/help.lua lists it in MODULES)")
    for _, e in ipairs(help) do list[#list + 1] = e end
  end
  return list
end

--- The help entry of function `name` (its name or one in its `also`), or nil.
function M.entry(name)
  for _, f in ipairs(functions()) do
    if f.name == name then return f end
    for _, a in ipairs(f.also or {}) do if a == name then return f end end
  end
  return nil
end

-- The first sentence of the "---" comment that opens a file, as its lines
-- (nil: none).
local function summary_of(path)
  local text = path and require("hnet.util").read_file(path)
  if not (text and text:match("^%-%-%-")) then return nil end
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local body = line:match("^%-%-%-?%s?(.*)$")
    if not body or body == "" then break end
    out[#out + 1] = "  " .. body
    if body:match("%.$") or body:match("%.%s") or #out == 4 then break end
  end
  return table.concat(out, "\n")
end

local function learner_help(name)
  local learners = require "hnet.learners"
  local s, why = learners.spec(name)
  local source = learners.source(name)
  local lines = {
    ("hnet.learners.%s(opts) -> learner   (or hnet.learners.new(\"%s\", opts))"):format(name, name),
  }
  local about = summary_of(source)
  if about then lines[#lines + 1] = about end
  lines[#lines + 1] = "  from " .. source
  lines[#lines + 1] = ""
  if s then
    lines[#lines + 1] = "options (opts; any other key is an error):"
    lines[#lines + 1] = spec.format(s)
  else
    lines[#lines + 1] = why .. " (give the module a cli field: a list of { name, type, default, help })"
  end
  return table.concat(lines, "\n")
end

local function function_help(f)
  local lines = { f.sig, "  " .. f.about }
  local s = f.spec
  if type(s) == "function" then s = s() end
  if s then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "options (opts; any other key is an error):"
    lines[#lines + 1] = spec.format(s)
  end
  if f.notes then
    lines[#lines + 1] = ""
    lines[#lines + 1] = f.notes
  end
  return table.concat(lines, "\n")
end

-- Levenshtein distance (names are short).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- Every name with help: learners (in hnet.learners.list order), then
-- the functions.
function M.names()
  local names = {}
  for _, n in ipairs(require("hnet.learners").list()) do names[#names + 1] = n end
  for _, f in ipairs(functions()) do names[#names + 1] = f.name end
  return names
end

--- The help text of `name`, or nil and an error message that lists close names.
function M.text(name)
  local f = M.entry(name)
  if f then return function_help(f) end
  local learner = name:match("^hnet%.learners%.([%w_]+)$") or name
  if require("hnet.learners").exists(learner) then return learner_help(learner) end
  local close = {}
  for _, n in ipairs(M.names()) do
    local short = n:match("([^.]+)$")
    if distance(name, n) <= 3 or distance(name, short) <= 2 or n:find(name, 1, true) then close[#close + 1] = n end
  end
  return nil, ("no help for '%s'%s; `hnet help` lists every name"):format(name,
    #close > 0 and (" (close: " .. table.concat(close, ", ") .. ")") or "")
end

--- The list `hnet help` prints.
function M.index()
  local lines = { "hnet help NAME: the signature and options of a learner or a function.", "", "learners:" }
  for _, n in ipairs(require("hnet.learners").list()) do lines[#lines + 1] = "  " .. n end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "functions:"
  for _, f in ipairs(functions()) do lines[#lines + 1] = ("  %-36s %s"):format(f.name, f.about) end
  return table.concat(lines, "\n")
end

--- The `help` command of ./hnet (lua/main.c): args = { NAME } or {}.
-- Prints the help (stdout) and returns 0, or the error (stderr) and 1.
function M.main(args)
  if #args == 0 then
    print(M.index())
    return 0
  end
  local status = 0
  for i, name in ipairs(args) do
    local text, err = M.text(name)
    if text then
      if i > 1 then print() end
      print(text)
    else
      io.stderr:write("hnet help: ", err, "\n")
      status = 1
    end
  end
  return status
end

return M
