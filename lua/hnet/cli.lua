--- Command-line options for experiment scripts.
--
--   local o = hnet.cli.parse(arg, {
--     quick = { false, "a short smoke-test run" },
--     seed = { 1, "random seed" },
--     out = { "runs/split_mnist", "run directory" },
--     learners = { "hypernet,finetune", "comma-separated learners" },
--   }, "split_mnist.lua: Split MNIST, hypernetwork and baselines")
--
-- Each option is --name VALUE (or --name=VALUE); a boolean default makes a
-- flag (--quick, --no-quick). The value's type follows the default's: an
-- integer, a number or a string. Unknown options, missing values and values
-- of the wrong type raise an error that says which and lists the options;
-- --help prints the usage and exits 0.
local M = {}

local function usage(spec, title)
  local names = {}
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names)
  local lines = { title or "options:", "" }
  for _, k in ipairs(names) do
    local def, help = spec[k][1], spec[k][2] or ""
    local flag = type(def) == "boolean" and ("--" .. k) or ("--%s %s"):format(k, math.type(def) or type(def))
    lines[#lines + 1] = ("  %-28s %s (default %s)"):format(flag, help, tostring(def))
  end
  return table.concat(lines, "\n")
end
M.usage = usage

local function convert(name, def, v)
  if math.type(def) == "integer" then
    local n = math.tointeger(tonumber(v))
    if not n then error(("option --%s: integer expected, got '%s'"):format(name, v), 0) end
    return n
  elseif type(def) == "number" then
    local n = tonumber(v)
    if not n then error(("option --%s: number expected, got '%s'"):format(name, v), 0) end
    return n
  end
  return v
end

--- Parse `args` (the script's arg table) against `spec`; returns a table of
-- option values (defaults filled in) and the list of positional arguments.
function M.parse(args, spec, title)
  local o, rest = {}, {}
  for k, v in pairs(spec) do o[k] = v[1] end
  local i = 1
  local n = args and #args or 0
  while i <= n do
    local a = args[i]
    if a == "--help" or a == "-h" then
      print(usage(spec, title))
      os.exit(0)
    end
    local name, value = a:match("^%-%-([%w_%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w_%-]+)$") end
    if name then
      name = name:gsub("-", "_")
      local neg = name:match("^no_(.+)$")
      local s = spec[name] or (neg and spec[neg])
      if not s then
        error(("unknown option --%s\n%s"):format(name, usage(spec, title)), 0)
      end
      if type(s[1]) == "boolean" then
        if value then error(("option --%s is a flag and takes no value"):format(name), 0) end
        if spec[name] then o[name] = true else o[neg] = false end
      else
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then error(("option --%s needs a value"):format(name), 0) end
        end
        o[name] = convert(name, s[1], value)
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return o, rest
end

--- Split "a,b,c" into {"a", "b", "c"}.
function M.list(s)
  local t = {}
  for item in tostring(s):gmatch("[^,%s]+") do t[#t + 1] = item end
  return t
end

return M
