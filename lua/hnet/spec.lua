--- hnet.spec — option specs: one description of a function's options table
-- that both checks a call and prints `./hnet help NAME`.
--
--   local spec = require "hnet.spec"
--   local OPTS = {
--     { name = "lr", type = "number", default = 1e-3, min = 0, help = "Adam learning rate" },
--     { name = "act", type = "string", default = "relu", choices = { "relu", "elu" } },
--     { name = "hnet", type = "table", help = "the hypernetwork", fields = {
--         { name = "chunk", type = "integer", default = 0, min = 0 } } },
--   }
--   local o = spec.check(OPTS, opts, "hnet.learners.mine")   -- checked, defaults filled
--   print(spec.format(OPTS))                                 -- the help text
--
-- An entry: name, type, default, help, and optionally min / max (inclusive
-- bounds), above (exclusive lower bound), choices (the strings a string
-- option may take), required (no default: the caller must give it), fields
-- (a table option that is itself an options table, checked the same way).
-- Types:
--   integer    an integer (a float with an integral value is taken as one)
--   number     a finite number (NaN and ±inf refused)
--   boolean, string, function, table
--   int_list   a list of positive integers (one integer stands for a list of one)
--   tensor, rng, net, hypernet   an hnet.Tensor, hnet.Rng, hnet.Net, hnet.HyperNet
--   any        anything; the function checks it itself (say how in help)
-- An option without a default and not required is nil unless given.
--
-- Errors read as the C binding's: "bad argument #1 to 'FNAME' (field 'x':
-- integer >= 1 expected, got 0)"; unknown keys: "(unknown option 'x'
-- (allowed: a, b, c))"; a nested table's unknown keys name the field:
-- "bad argument #1 to 'FNAME (field 'hnet')' (unknown option ...)".
local M = {}

local TYPES = { integer = true, number = true, boolean = true, string = true, ["function"] = true,
                table = true, int_list = true, any = true, tensor = true, rng = true, net = true,
                hypernet = true }
-- The engine objects, by their metatables' __name (set by the C binding).
local UDATA = { tensor = "hnet.Tensor", rng = "hnet.Rng", net = "hnet.Net", hypernet = "hnet.HyperNet" }

-- The engine type of v ("hnet.Tensor", ...), or its Lua type.
local function type_name(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and type(mt) == "table" and mt.__name or type(v)
end
local ENTRY_KEYS = { name = true, type = true, default = true, help = true, min = true, max = true,
                     above = true, choices = true, required = true, fields = true }

local function argerr(fname, argn, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(argn or 1, fname or "?", msg), level + 1)
end

-- ---- the spec itself ----------------------------------------------------------------

local valid = setmetatable({}, { __mode = "k" }) -- specs already checked

--- Check that `s` is a well-formed spec (a misspelt key such as `mim` would
-- leave a value unchecked); `where` names it in the error. Returns s.
function M.validate(s, where)
  if valid[s] then return s end
  where = where or "option spec"
  if type(s) ~= "table" then error(("%s: a list of option entries expected, got %s"):format(where, type(s)), 2) end
  -- A table of defaults ({ lambda = 0.05 }) in place of a list of entries
  -- would otherwise be an empty spec that takes nothing and checks nothing.
  for k in pairs(s) do
    if math.type(k) ~= "integer" or k < 1 or k > #s then
      error(("%s: a list of option entries { name =, type =, default =, help = } expected, got the key %s (write { name = %q, type = ..., default = ... })")
        :format(where, type(k) == "string" and ("'" .. k .. "'") or tostring(k), tostring(k)), 2)
    end
  end
  local seen = {}
  for i, e in ipairs(s) do
    local function bad(msg)
      error(("%s: entry %d (%s): %s"):format(where, i, type(e) == "table" and tostring(e.name) or "?", msg), 3)
    end
    if type(e) ~= "table" then bad("a table { name =, type =, default =, help = } expected, got " .. type(e)) end
    for k in pairs(e) do
      if not ENTRY_KEYS[k] then
        bad(("unknown key '%s' (allowed: above, choices, default, fields, help, max, min, name, required, type)")
          :format(tostring(k)))
      end
    end
    if type(e.name) ~= "string" or e.name == "" then bad("name must be a non-empty string") end
    if seen[e.name] then bad("the name is given twice") end
    seen[e.name] = true
    if not TYPES[e.type] then
      bad(("type must be one of any, boolean, function, int_list, integer, number, string, table; got %s")
        :format(tostring(e.type)))
    end
    if e.help ~= nil and type(e.help) ~= "string" then bad("help must be a string") end
    for _, k in ipairs { "min", "max", "above" } do
      if e[k] ~= nil and (type(e[k]) ~= "number" or (e.type ~= "integer" and e.type ~= "number")) then
        bad(k .. " is a number bound of an integer or number option")
      end
    end
    if e.choices ~= nil and (e.type ~= "string" or type(e.choices) ~= "table" or #e.choices == 0) then
      bad("choices must be a non-empty list of the values a string option may take")
    end
    if e.fields ~= nil then
      if e.type ~= "table" then bad("fields are for a table option") end
      M.validate(e.fields, ("%s (field '%s')"):format(where, e.name))
    end
    if e.required and e.default ~= nil then bad("a required option has no default") end
  end
  valid[s] = true
  return s
end

--- The option names of a spec, in its order.
function M.names(s)
  local names = {}
  for i, e in ipairs(s) do names[i] = e.name end
  return names
end

--- The entry of option `name`, or nil.
function M.find(s, name)
  for _, e in ipairs(s) do if e.name == name then return e end end
  return nil
end

--- A new spec: `base`'s entries, then `extra`'s (an extra entry of a name
-- that base has replaces it, in base's place).
function M.extend(base, extra)
  M.validate(base, "hnet.spec.extend (base)")
  if extra ~= nil then M.validate(extra, "hnet.spec.extend (extra)") end
  local out, at = {}, {}
  for _, e in ipairs(base) do out[#out + 1] = e; at[e.name] = #out end
  for _, e in ipairs(extra or {}) do
    if at[e.name] then out[at[e.name]] = e else out[#out + 1] = e; at[e.name] = #out end
  end
  return out
end

-- ---- checking a call ------------------------------------------------------------------

local range_text = require("hnet.util").range_text

-- Check one value v (not nil) of entry e; returns the value to keep.
local function check_value(e, v, fname, argn, level)
  local key, t = e.name, e.type
  local function err(msg) argerr(fname, argn, ("field '%s': %s"):format(key, msg), level + 2) end
  if t == "integer" then
    if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
      err(("integer expected, got %s"):format(tostring(v)))
    end
    v = math.tointeger(v)
    local lo = e.min or (e.above and e.above + 1)
    if (lo and v < lo) or (e.max and v > e.max) then
      err(("integer %s expected, got %d"):format(range_text(lo, e.max), v))
    end
  elseif t == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      err(("finite number expected, got %s"):format(tostring(v)))
    end
    if e.above and not (v > e.above) then
      if e.above == 0 then err(("a positive number expected, got %s"):format(v)) end
      err(("finite number > %s expected, got %s"):format(e.above, v))
    end
    if (e.min and v < e.min) or (e.max and v > e.max) then
      err(("finite number %s expected, got %s"):format(range_text(e.min, e.max), v))
    end
  elseif t == "string" then
    if type(v) ~= "string" then err(("string expected, got %s"):format(type(v))) end
    if e.choices then
      local ok = false
      for _, c in ipairs(e.choices) do if c == v then ok = true break end end
      if not ok then err(("one of %s expected, got '%s'"):format(table.concat(e.choices, ", "), v)) end
    end
  elseif t == "boolean" or t == "function" then
    if type(v) ~= t then err(("%s expected, got %s"):format(t, type(v))) end
  elseif t == "int_list" then
    if type(v) == "number" then v = { v } end
    if type(v) ~= "table" then err(("list of integers expected, got %s"):format(type(v))) end
    local out = {}
    for i = 1, #v do
      local x = v[i]
      if math.type(x) ~= "integer" or x < 1 then
        err(("entry %d must be a positive integer, got %s"):format(i, tostring(x)))
      end
      out[i] = x
    end
    v = out
  elseif UDATA[t] then
    if type_name(v) ~= UDATA[t] then err(("%s expected, got %s"):format(UDATA[t], type_name(v))) end
  elseif t == "table" then
    if e.fields then
      v = M.check(e.fields, v, ("%s (field '%s')"):format(fname, key), argn, level + 1, fname)
    elseif type(v) ~= "table" then
      err(("table expected, got %s"):format(type(v)))
    end
  end
  return v
end

--- Check the options table `opts` (nil: none given) of function `fname`
-- (argument #argn, default 1) against spec `s`: unknown keys, types, bounds,
-- choices and required options. Returns a new table of every option: the
-- given values (integers as integers, int_lists copied, nested tables
-- checked and filled) and the defaults of the others. `level` places the
-- error as error() does, counted from the function calling check (default 2:
-- that function's caller). `value_fname` (used for nested tables) names the
-- function in errors about values.
function M.check(s, opts, fname, argn, level, value_fname)
  M.validate(s, fname)
  level = (level or 2) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerr(fname, argn, "options table expected, got " .. type(opts), level) end
  for k in pairs(opts) do
    if type(k) ~= "string" or not M.find(s, k) then
      local names = M.names(s)
      table.sort(names)
      argerr(fname, argn, ("unknown option '%s' (allowed: %s)"):format(tostring(k), table.concat(names, ", ")), level)
    end
  end
  local o = {}
  for _, e in ipairs(s) do
    local v = opts[e.name]
    if v == nil then
      if e.required then argerr(value_fname or fname, argn, ("field '%s' is required"):format(e.name), level) end
      v = e.default
      if v == nil and e.fields then v = M.check(e.fields, {}, fname, argn, level, value_fname or fname) end
    else
      v = check_value(e, v, value_fname or fname, argn, level)
    end
    o[e.name] = v
  end
  return o
end

-- Why v (not nil) does not fit entry e, or nil; for M.verify, so it makes
-- no closure and no table (a per-step call must not allocate).
local function misfit(e, v)
  local t = e.type
  if t == "integer" then
    if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
      return ("integer expected, got %s"):format(tostring(v))
    end
    local lo = e.min or (e.above and e.above + 1)
    if (lo and v < lo) or (e.max and v > e.max) then
      return ("integer %s expected, got %d"):format(range_text(lo, e.max), math.tointeger(v))
    end
  elseif t == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      return ("finite number expected, got %s"):format(tostring(v))
    end
    if (e.above and not (v > e.above)) or (e.min and v < e.min) or (e.max and v > e.max) then
      return ("finite number %s expected, got %s"):format(M.bounds(e), v)
    end
  elseif t == "string" then
    if type(v) ~= "string" then return ("string expected, got %s"):format(type(v)) end
    if e.choices then
      for _, c in ipairs(e.choices) do if c == v then return nil end end
      return ("one of %s expected, got '%s'"):format(table.concat(e.choices, ", "), v)
    end
  elseif t == "boolean" or t == "function" or t == "table" then
    if type(v) ~= t then return ("%s expected, got %s"):format(t, type(v)) end
  elseif UDATA[t] then
    if type_name(v) ~= UDATA[t] then return ("%s expected, got %s"):format(UDATA[t], type_name(v)) end
  end
  return nil
end

--- Check `opts` (nil: none) against spec `s` as M.check does, but fill
-- nothing and build nothing: for the per-step methods (net:forward,
-- hypernet:forward, hnet.loss.*), whose options go to C as given and whose
-- absent options take C's values (some of which the last forward set).
-- Allocates nothing unless it raises. The spec may not hold int_list or
-- nested fields (they would need a converted copy). Returns opts.
local verifiable = setmetatable({}, { __mode = "k" }) -- specs M.verify has accepted

function M.verify(s, opts, fname, argn, level)
  if not verifiable[s] then
    M.validate(s, fname)
    for _, e in ipairs(s) do
      if e.type == "int_list" or e.fields or e.required then
        error(("%s: hnet.spec.verify takes no int_list, fields or required entries (%s)"):format(fname, e.name), 2)
      end
    end
    verifiable[s] = true
  end
  if opts == nil then return nil end
  level = (level or 2) + 1
  if type(opts) ~= "table" then argerr(fname, argn, "options table expected, got " .. type(opts), level) end
  for k, v in pairs(opts) do
    local e = type(k) == "string" and M.find(s, k)
    if not e then
      local names = M.names(s)
      table.sort(names)
      argerr(fname, argn, ("unknown option '%s' (allowed: %s)"):format(tostring(k), table.concat(names, ", ")), level)
    end
    local why = misfit(e, v)
    if why then argerr(fname, argn, ("field '%s': %s"):format(k, why), level) end
  end
  return opts
end

-- ---- help -------------------------------------------------------------------------------

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for _, x in ipairs(v) do parts[#parts + 1] = show(x) end
  local keys = {}
  for k in pairs(v) do if math.type(k) ~= "integer" or k < 1 or k > #v then keys[#keys + 1] = k end end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s = %s"):format(tostring(k), show(v[k])) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
M.show = show

--- "integer >= 1", "number in (0, 1]", "one of relu, elu", ... (empty: none).
function M.bounds(e)
  if e.choices then return "one of " .. table.concat(e.choices, ", ") end
  local lo = e.above or e.min
  if lo and e.max then return ("in %s%s, %s]"):format(e.above and "(" or "[", lo, e.max) end
  if e.above then return ("> %s"):format(e.above) end
  if e.min then return (">= %s"):format(e.min) end
  if e.max then return ("<= %s"):format(e.max) end
  return ""
end

--- The help text of a spec: one line per option (name, type, bounds,
-- default, help), nested fields indented under their table.
function M.format(s, indent)
  M.validate(s)
  indent = indent or "  "
  local lines = {}
  for _, e in ipairs(s) do
    local b = M.bounds(e)
    local default = e.required and "required" or e.default ~= nil and ("default " .. show(e.default)) or nil
    local parts = {}
    if b ~= "" then parts[#parts + 1] = b end
    parts[#parts + 1] = default
    lines[#lines + 1] = (("%s%-18s %-9s %s"):format(indent, e.name, e.type, table.concat(parts, "; "))):gsub("%s+$", "")
    if e.help then lines[#lines + 1] = ("%s    %s"):format(indent, e.help) end
    if e.fields then lines[#lines + 1] = M.format(e.fields, indent .. "    ") end
  end
  return table.concat(lines, "\n")
end

return M
