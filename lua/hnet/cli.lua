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
--
-- A string option may name its allowed values, and is then checked here:
--
--     init = { "xavier", "hypernetwork init", choices = { "xavier", "hyperfan" } },
--     learners = { "detect,single", "comma-separated learners",
--                  choices = { "detect", "oracle", "single" }, list = true },
--
-- (list = true: the value is a comma-separated list, each item checked).
-- `accept = function(item) -> bool` also lets through items that are not in
-- `choices` (names a registry finds, such as learners from the user's own
-- folder); the error still lists `choices`, and adds the second value
-- accept returns (why not) when it gives one.
-- An option with no default names its type instead and is nil unless given
-- (so `if o.resume then` means "given"; an empty-string default would be
-- true in Lua):
--
--     resume = { nil, "continue the run in this directory", type = "string" },
--
-- (type = "boolean": a flag that is nil unless --name or --no-name is given.)
--
-- A number option may bound its value: `min` and `max` (inclusive), `above`
-- (exclusive lower bound); the value must then also be finite:
--
--     train_fraction = { 1.0, "fraction of the training images", above = 0, max = 1 },
--     threads = { 0, "thread budget", min = 0, max = 1024 },
local M = {}

-- The type of an option's value: "boolean" (a flag), "integer", "number"
-- or "string", from its default or, without one, its `type` field.
local function value_type(s)
  local def = s[1]
  if def == nil then return s.type end
  if math.type(def) == "integer" then return "integer" end
  return type(def)
end

-- "an integer in 0..1024", "a number in (0, 1]", "a number >= 0", ...
local function range_text(s)
  local int = value_type(s) == "integer"
  local what = int and "an integer" or "a number"
  local lo = s.above or s.min
  if lo and s.max then
    if int and not s.above then return ("%s in %d..%d"):format(what, lo, s.max) end
    return ("%s in %s%g, %g]"):format(what, s.above and "(" or "[", lo, s.max)
  elseif lo then
    return ("%s %s %g"):format(what, s.above and ">" or ">=", lo)
  elseif s.max then
    return ("%s <= %g"):format(what, s.max)
  end
end

local function has_range(s) return s.min ~= nil or s.max ~= nil or s.above ~= nil end

local function choices_text(c)
  if #c == 1 then return c[1] end
  return table.concat(c, ", ", 1, #c - 1) .. " or " .. c[#c]
end

local function usage(spec, title)
  local names = {}
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names)
  local lines = { title or "options:", "" }
  for _, k in ipairs(names) do
    local def, help = spec[k][1], spec[k][2] or ""
    local vt = value_type(spec[k])
    local flag = vt == "boolean" and ("--" .. k) or ("--%s %s"):format(k, vt)
    local allowed = spec[k].choices and ("%s: %s; "):format(spec[k].list and "each one of" or "one of",
                                                              table.concat(spec[k].choices, ", "))
      or has_range(spec[k]) and range_text(spec[k]) .. "; " or ""
    local default = def == nil and "none" or tostring(def)
    lines[#lines + 1] = ("  %-28s %s (%sdefault %s)"):format(flag, help, allowed, default)
  end
  return table.concat(lines, "\n")
end
M.usage = usage

local function convert(name, vt, v)
  if vt == "integer" then
    local n = math.tointeger(tonumber(v))
    if not n then error(("option --%s: integer expected, got '%s'"):format(name, v), 0) end
    return n
  elseif vt == "number" then
    local n = tonumber(v)
    if not n then error(("option --%s: number expected, got '%s'"):format(name, v), 0) end
    return n
  end
  return v
end

-- Check the value of a `choices` option: an error names the allowed values.
local function check_choices(name, s, v)
  local allowed = {}
  for _, c in ipairs(s.choices) do allowed[c] = true end
  local items = s.list and M.list(v) or { v }
  if s.list and #items == 0 then
    error(("option --%s: give at least one of %s"):format(name, choices_text(s.choices)), 0)
  end
  for _, item in ipairs(items) do
    local ok, why = allowed[item], nil
    if not ok and s.accept then ok, why = s.accept(item) end
    if not ok then
      error(("option --%s: %s expected, got '%s'%s"):format(name, choices_text(s.choices), item,
        why and (" (" .. why .. ")") or ""), 0)
    end
  end
end

-- Check the value of a bounded number option.
local function check_range(name, s, v)
  local ok = v == v and v ~= math.huge and v ~= -math.huge
    and (s.min == nil or v >= s.min) and (s.above == nil or v > s.above)
    and (s.max == nil or v <= s.max)
  if not ok then
    error(("option --%s: %s expected, got %s"):format(name, range_text(s), tostring(v)), 0)
  end
end

local SPEC_KEYS = { choices = true, list = true, accept = true, min = true, max = true, above = true,
                    type = true }
local TYPES = { integer = true, number = true, string = true, boolean = true }

-- A script's option spec is an options table too: a misspelt key (choises,
-- mim) would leave its value unchecked.
local function check_spec(spec)
  if type(spec) ~= "table" then error("bad argument #2 to 'hnet.cli.parse' (option spec table expected, got " .. type(spec) .. ")", 3) end
  for name, s in pairs(spec) do
    local function bad(msg)
      error(("bad argument #2 to 'hnet.cli.parse' (option '%s': %s)"):format(tostring(name), msg), 4)
    end
    if type(s) ~= "table" then bad("{ default, help, ... } expected, got " .. type(s)) end
    local t = type(s[1])
    if t == "nil" then
      if not TYPES[s.type] then bad('no default: give type = "string", "integer", "number" or "boolean"') end
      t = (s.type == "string" or s.type == "boolean") and s.type or "number"
    elseif t ~= "boolean" and t ~= "number" and t ~= "string" then
      bad("the default must be a boolean, number or string, got " .. t)
    elseif s.type ~= nil then
      bad("type is for an option without a default (the default's type is the option's)")
    end
    for k in pairs(s) do
      if k ~= 1 and k ~= 2 and not SPEC_KEYS[k] then
        bad(("unknown key '%s' (allowed: [1] default, [2] help, above, accept, choices, list, max, min, type)"):format(tostring(k)))
      end
    end
    if s.choices ~= nil and (type(s.choices) ~= "table" or #s.choices == 0 or t ~= "string") then
      bad("choices must be a non-empty list of the values a string option may take")
    end
    if s.accept ~= nil and type(s.accept) ~= "function" then bad("accept must be a function(item) -> boolean") end
  end
end

--- Parse `args` (the script's arg table) against `spec`; returns a table of
-- option values (defaults filled in) and the list of positional arguments.
function M.parse(args, spec, title)
  check_spec(spec)
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
      if value_type(s) == "boolean" then
        if value then error(("option --%s is a flag and takes no value"):format(name), 0) end
        if spec[name] then o[name] = true else o[neg] = false end
      else
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then error(("option --%s needs a value"):format(name), 0) end
        end
        o[name] = convert(name, value_type(s), value)
        if s.choices then check_choices(name, s, o[name]) end
        if has_range(s) then check_range(name, s, o[name]) end
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
