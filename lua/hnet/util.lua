--- Option checking for the Lua side of hnet: the same rules as the C binding
-- (unknown keys are errors that name the function, the argument and the key;
-- values are checked for type and range).
--
--   local util = require "hnet.util"
--   local o = util.options(opts, { "inputs", "hidden", "outputs" }, "hnet.mlp")
--   local n = util.int(o, "inputs", nil, 1, nil, "hnet.mlp")    -- required
--   local p = util.number(o, "dropout", 0, 0, 0.999, "hnet.mlp")
--
-- Every checker takes the checked function's name and the argument's position
-- (argn, default 1) for its message; the error's position is the line that
-- called the checker.
local M = {}

--- Raise "bad argument #argn to 'fname' (msg)". The error's position: with
-- level 1 the line that called argerr, with 2 (the default) the line that
-- called the function calling argerr, and so on.
local function argerr(fname, argn, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argn or 1, fname or "?", msg), (level or 2) + 1)
end
M.argerr = argerr

--- Check that opts is nil or a table whose keys are all in `allowed`.
-- Returns opts (or an empty table for nil).
function M.options(opts, allowed, fname, argn)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    argerr(fname, argn, "options table expected, got " .. type(opts), 2)
  end
  local set = {}
  for _, k in ipairs(allowed) do set[k] = true end
  for k in pairs(opts) do
    if not set[k] then
      local names = {}
      for _, a in ipairs(allowed) do names[#names + 1] = a end
      table.sort(names)
      argerr(fname, argn, ("unknown option '%s' (allowed: %s)"):format(tostring(k), table.concat(names, ", ")), 2)
    end
  end
  return opts
end

--- "in [lo, hi]", ">= lo", "<= hi" or "": how errors (here and in
-- hnet.spec) write a bound.
function M.range_text(lo, hi)
  if lo and hi then return ("in [%s, %s]"):format(lo, hi) end
  if lo then return (">= %s"):format(lo) end
  if hi then return ("<= %s"):format(hi) end
  return ""
end

--- An integer field; `default` nil makes it required.
function M.int(o, key, default, lo, hi, fname, argn)
  local v = o[key]
  if v == nil then
    if default == nil then argerr(fname, argn, ("field '%s' is required"):format(key), 2) end
    return default
  end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
    argerr(fname, argn, ("field '%s': integer expected, got %s"):format(key, tostring(v)), 2)
  end
  v = math.tointeger(v)
  if (lo and v < lo) or (hi and v > hi) then
    argerr(fname, argn, ("field '%s': integer %s expected, got %d"):format(key, M.range_text(lo, hi), v), 2)
  end
  return v
end

-- A number-field checker; `finite` also rejects +-inf.
local function number_field(finite)
  local what = finite and "finite number" or "number"
  return function(o, key, default, lo, hi, fname, argn)
    local v = o[key]
    if v == nil then
      if default == nil then argerr(fname, argn, ("field '%s' is required"):format(key), 2) end
      return default
    end
    if type(v) ~= "number" or v ~= v or (finite and (v == math.huge or v == -math.huge)) then
      argerr(fname, argn, ("field '%s': %s expected, got %s"):format(key, what, tostring(v)), 2)
    end
    if (lo and v < lo) or (hi and v > hi) then
      argerr(fname, argn, ("field '%s': %s %s expected, got %s"):format(key, what, M.range_text(lo, hi), v), 2)
    end
    return v
  end
end

--- A number field (NaN rejected); `default` nil makes it required.
--   util.number(o, key, default, lo, hi, fname, argn)
M.number = number_field(false)

--- A finite number field (NaN and +-inf rejected); arguments as util.number.
M.finite = number_field(true)

--- A string field, optionally one of `choices`.
function M.string(o, key, default, choices, fname, argn)
  local v = o[key]
  if v == nil then
    if default == nil then argerr(fname, argn, ("field '%s' is required"):format(key), 2) end
    return default
  end
  if type(v) ~= "string" then
    argerr(fname, argn, ("field '%s': string expected, got %s"):format(key, type(v)), 2)
  end
  if choices then
    for _, c in ipairs(choices) do if c == v then return v end end
    argerr(fname, argn, ("field '%s': one of %s expected, got '%s'"):format(key, table.concat(choices, ", "), v), 2)
  end
  return v
end

--- A boolean field.
function M.bool(o, key, default, fname, argn)
  local v = o[key]
  if v == nil then return default end
  if type(v) ~= "boolean" then
    argerr(fname, argn, ("field '%s': boolean expected, got %s"):format(key, type(v)), 2)
  end
  return v
end

--- A list of positive integers (a single integer stands for a list of one).
function M.int_list(o, key, default, fname, argn)
  local v = o[key]
  if v == nil then return default end
  if type(v) == "number" then v = { v } end
  if type(v) ~= "table" then
    argerr(fname, argn, ("field '%s': list of integers expected, got %s"):format(key, type(v)), 2)
  end
  local out = {}
  for i = 1, #v do
    local x = v[i]
    if math.type(x) ~= "integer" or x < 1 then
      argerr(fname, argn, ("field '%s': entry %d must be a positive integer, got %s"):format(key, i, tostring(x)), 2)
    end
    out[i] = x
  end
  return out
end

--- At most n samples of a split {x, y}, evenly spaced over it (rows 1,
-- 1 + N/n, 1 + 2N/n, ...): the first n would be no sample at all of data
-- stored sorted by class, as the MNIST subset is. Returns the split itself
-- when n is nil or not smaller. The copy is made once per split and n and
-- kept while the split lives (weak keys): evaluation asks after every task.
local spread = setmetatable({}, { __mode = "k" })
function M.spread_rows(data, n)
  local total = data.x:size(1)
  if not n or total <= n then return data end
  local per = spread[data]
  if per and per[n] then return per[n] end
  local rows = {}
  for k = 1, n do rows[k] = (k - 1) * total // n + 1 end
  per = per or {}
  per[n] = { x = data.x:gather_rows(rows), y = data.y:gather_rows(rows),
             lengths = data.lengths and data.lengths:gather_rows(rows) or nil }
  spread[data] = per
  return per[n]
end

--- The whole content of a file, or nil when it cannot be opened.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

return M
