--- hnet.checkpoint — a whole state (tensors, integer lists, numbers, strings,
-- nested tables) in one checkpoint file, over hnet.ckpt (engine/ckpt.h: a
-- versioned binary file of named sections, each with a CRC32, written to a
-- temporary file and renamed, so a crash never leaves a half-written file).
--
--   checkpoint.save(path, header, state)
--   local header, state = checkpoint.load(path)
--
-- `header` is a table of plain values (what the file is, for whom); `state`
-- is a flat table name -> value where a value is
--   an hnet.Tensor          stored as its own f32 section (its shape in the
--                           manifest; it must hold no NaN or Inf: see below),
--   a list of integers      stored as an i64 section (RNG states, orders),
--   a number, string, boolean or a table of those (nested)
--                           stored in one JSON text section.
-- Numbers are stored exactly: lua-cjson keeps only 14 significant digits, so
-- every number, string and key of the JSON sections is tagged — "i<integer>",
-- "f<float as %a>", "s<string>" — and nested tables become JSON objects with
-- tagged keys. Loading gives back the same Lua values, bit for bit.
--
-- Sections: "hnet/manifest" (JSON: format, version, the tensors' and lists'
-- section names and shapes), "hnet/header", "hnet/values" (tagged JSON), and
-- "t/<k>" (f32) / "i/<k>" (i64) numbered in the order of the sorted names.
--
-- A tensor holding NaN or Inf is never written: save raises an error that
-- starts with "numerical fault:" and names it, and the file at `path` (the
-- last good checkpoint) is left as it was.
local core = require "hnet.core"
local cjson = require "cjson"

local M = {}
M.FORMAT = "hnet-checkpoint"
M.VERSION = 1

local function is_tensor(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name == "hnet.Tensor" or false
end
M.is_tensor = is_tensor

local function is_int_list(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return false end
  local n = #v
  if n == 0 then return false end
  local count = 0
  for _, x in pairs(v) do
    if math.type(x) ~= "integer" then return false end
    count = count + 1
  end
  return count == n
end

-- ---- exact JSON ------------------------------------------------------------------

local function tag(v, path, seen)
  local t = type(v)
  if t == "number" then
    if math.type(v) == "integer" then return "i" .. string.format("%d", v) end
    if v ~= v then return "fnan" end
    if v == math.huge then return "f+inf" end
    if v == -math.huge then return "f-inf" end
    return "f" .. string.format("%a", v)
  elseif t == "string" then
    return "s" .. v
  elseif t == "boolean" then
    return v
  elseif t == "table" then
    if seen[v] then error(("checkpoint: value '%s' is a cyclic table"):format(path), 0) end
    seen[v] = true
    local out = {}
    for k, x in pairs(v) do
      local key
      if math.type(k) == "integer" then key = "i" .. string.format("%d", k)
      elseif type(k) == "string" then key = "s" .. k
      else error(("checkpoint: value '%s' has a key of type %s (only strings and integers)")
        :format(path, type(k)), 0) end
      out[key] = tag(x, path .. "." .. tostring(k), seen)
    end
    seen[v] = nil
    return out -- an empty table encodes as {} and decodes as an empty table
  end
  error(("checkpoint: value '%s' is a %s, which a checkpoint cannot hold"):format(path, t), 0)
end

local function untag(v, where)
  local t = type(v)
  if t == "boolean" then return v end
  if t == "string" then
    local c, rest = v:sub(1, 1), v:sub(2)
    if c == "s" then return rest end
    if c == "i" then
      local n = math.tointeger(tonumber(rest))
      if n and rest:match("^%-?%d+$") then return n end
    elseif c == "f" then
      if rest == "nan" then return 0 / 0 end
      if rest == "+inf" then return math.huge end
      if rest == "-inf" then return -math.huge end
      local n = tonumber(rest)
      if n then return math.type(n) == "integer" and n * 1.0 or n end -- n + 0.0 would turn -0.0 into 0.0
    end
    error(("bad value %q in %s"):format(v:sub(1, 40), where), 0)
  end
  if t == "table" then
    local out = {}
    for k, x in pairs(v) do
      local key
      if type(k) == "string" and k:sub(1, 1) == "s" then key = k:sub(2)
      elseif type(k) == "string" and k:sub(1, 1) == "i" then key = math.tointeger(tonumber(k:sub(2))) end
      if key == nil then error(("bad key %q in %s"):format(tostring(k):sub(1, 40), where), 0) end
      out[key] = untag(x, where)
    end
    return out
  end
  error(("bad %s value in %s"):format(t, where), 0)
end

--- Encode a value (table, number, string, boolean) as exact, tagged JSON.
function M.encode(v) return cjson.encode(tag(v, "value", {})) end

--- Decode what encode wrote; raises "bad value ..." on anything else.
function M.decode(text, where)
  local ok, v = pcall(cjson.decode, text)
  if not ok then error(("%s is not valid JSON (%s)"):format(where or "text", tostring(v)), 0) end
  return untag(v, where or "text")
end

-- ---- save / load -----------------------------------------------------------------

--- Write header and state to path atomically (see the top of this file).
function M.save(path, header, state)
  local names = {}
  for k in pairs(state) do
    if type(k) ~= "string" then
      error(("checkpoint.save: state keys must be strings, got %s"):format(type(k)), 2)
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local manifest = { format = M.FORMAT, version = M.VERSION, hnet_version = core.version,
                     tensors = {}, lists = {} }
  local values = {}
  local w = core.ckpt.writer(path)
  local nt, ni = 0, 0
  for _, name in ipairs(names) do
    local v = state[name]
    if is_tensor(v) then
      if not v:all_finite() then
        w:free()
        error(("numerical fault: tensor '%s' %s holds NaN or Inf; the checkpoint was not written (%s keeps the last good state)")
          :format(name, tostring(v), path), 0)
      end
      nt = nt + 1
      local sec = ("t/%d"):format(nt)
      w:add(sec, v)
      manifest.tensors[name] = { section = sec, shape = v:shape() }
    elseif is_int_list(v) then
      ni = ni + 1
      local sec = ("i/%d"):format(ni)
      w:add(sec, v)
      manifest.lists[name] = sec
    else
      values[name] = v
    end
  end
  w:add("hnet/manifest", M.encode(manifest))
  w:add("hnet/header", M.encode(header or {}))
  w:add("hnet/values", M.encode(values))
  local ok, err = pcall(w.commit, w)
  w:free()
  if not ok then error(err, 0) end
  return true
end

local function shape_ok(shape)
  if type(shape) ~= "table" or #shape < 1 or #shape > 4 then return false end
  for _, d in ipairs(shape) do if math.type(d) ~= "integer" or d < 0 then return false end end
  return true
end

--- Read a checkpoint: returns header, state (tensors as new hnet.Tensors).
-- Raises an error naming the file and the problem: missing, corrupt,
-- truncated, foreign, another format version, or not written by
-- checkpoint.save.
function M.load(path)
  local c = core.ckpt.open(path) -- validates every section's CRC
  local function bad(what)
    c:close()
    error(("'%s' is an hnet checkpoint file but not a run checkpoint: %s"):format(path, what), 0)
  end
  if c:kind("hnet/manifest") ~= "text" or c:kind("hnet/values") ~= "text"
     or c:kind("hnet/header") ~= "text" then
    bad("the sections hnet/manifest, hnet/header and hnet/values are missing")
  end
  local ok, manifest = pcall(M.decode, c:text("hnet/manifest"), "section 'hnet/manifest'")
  if not ok then bad(manifest) end
  if type(manifest) ~= "table" or manifest.format ~= M.FORMAT then bad("unknown format") end
  if manifest.version ~= M.VERSION then
    c:close()
    error(("'%s' is run-checkpoint version %s; this build of hnet (%s) reads version %d (resume it with the hnet version that wrote it, %s)")
      :format(path, tostring(manifest.version), core.version, M.VERSION,
              tostring(manifest.hnet_version)), 0)
  end
  local header, values
  ok, header = pcall(M.decode, c:text("hnet/header"), "section 'hnet/header'")
  if not ok then bad(header) end
  ok, values = pcall(M.decode, c:text("hnet/values"), "section 'hnet/values'")
  if not ok then bad(values) end
  if type(manifest.tensors) ~= "table" or type(manifest.lists) ~= "table" then bad("bad manifest") end
  local state = values
  for name, e in pairs(manifest.tensors) do
    if type(e) ~= "table" or type(e.section) ~= "string" or not shape_ok(e.shape) then
      bad(("bad manifest entry for tensor '%s'"):format(tostring(name)))
    end
    if c:kind(e.section) ~= "f32" then bad(("section '%s' (tensor '%s') is missing"):format(e.section, name)) end
    local okt, t = pcall(c.tensor, c, e.section, e.shape)
    if not okt then bad(t) end
    state[name] = t
  end
  for name, sec in pairs(manifest.lists) do
    if type(sec) ~= "string" or c:kind(sec) ~= "i64" then
      bad(("section '%s' (list '%s') is missing"):format(tostring(sec), tostring(name)))
    end
    state[name] = c:i64(sec)
  end
  c:close()
  return header, state
end

return M
