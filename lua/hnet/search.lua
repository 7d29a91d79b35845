--- hnet.search — where learners and datasets are found by name.
--
-- One rule for both kinds. A NAME of kind K ("learners" or "datasets") is
--   1. the framework's own file (lua/hnet/learners/NAME.lua, datasets/NAME.lua),
--   2. else DIR/K/NAME.lua for each user folder DIR, in this order: the
--      folders given with `./hnet --lib DIR` (or hnet.search.add(DIR)) in the
--      order given, then the entries of HNET_PATH (colon-separated),
--   3. else a name registered from a script (hnet.learners.register,
--      hnet.datasets.register).
-- One user folder can hold both kinds: DIR/learners/*.lua, DIR/datasets/*.lua.
--
-- Names are unique: a file that exists in more than one folder is refused
-- when it is looked up (a user file cannot shadow a built-in, nor one user
-- folder another, without a word), and registering a name that a file or an
-- earlier register already gives is refused unless { replace = true } — the
-- one way to replace a learner or dataset on purpose.
local core = require "hnet.core"

local M = {}

local added = {} -- folders from --lib / add(), in order

--- Add a user folder to the search path (what `./hnet --lib DIR` does):
-- after the folders added before it, before HNET_PATH's entries.
-- `from` names where it came from in messages (default "hnet.search.add").
function M.add(dir, from)
  if type(dir) ~= "string" or dir == "" then
    error("bad argument #1 to 'hnet.search.add' (a directory name expected, got "
      .. (type(dir) == "string" and "''" or type(dir)) .. ")", 2)
  end
  from = from or "hnet.search.add"
  if core.sys.exists(dir) ~= "directory" then
    error(("%s %s: %s"):format(from, dir,
      core.sys.exists(dir) and "not a directory" or "no such directory"), 0)
  end
  added[#added + 1] = { dir = dir:gsub("(.)/+$", "%1"), from = from }
end

--- The user folders, in search order: { { dir =, from = "--lib" | "HNET_PATH" | ... }, ... }.
function M.dirs()
  local list, seen = {}, {}
  local function put(dir, from)
    dir = dir:gsub("(.)/+$", "%1")
    if dir ~= "" and not seen[dir] then
      seen[dir] = true
      list[#list + 1] = { dir = dir, from = from }
    end
  end
  for _, a in ipairs(added) do put(a.dir, a.from) end
  for entry in (os.getenv("HNET_PATH") or ""):gmatch("[^:]+") do put(entry, "HNET_PATH") end
  return list
end

-- The folders searched for `kind`, the framework's first.
local function folders(kind, builtin)
  local list = { { dir = builtin, from = "built in", builtin = true } }
  for _, d in ipairs(M.dirs()) do
    local dir = d.dir .. "/" .. kind
    if dir ~= builtin then list[#list + 1] = { dir = dir, from = d.from } end
  end
  return list
end

--- The files K/NAME.lua that exist, in search order:
-- { { path =, from =, builtin = }, ... } (more than one is a clash).
function M.files(kind, builtin, name)
  local found = {}
  for _, f in ipairs(folders(kind, builtin)) do
    local path = f.dir .. "/" .. name .. ".lua"
    if core.sys.exists(path) == "file" then
      found[#found + 1] = { path = path, from = f.from, builtin = f.builtin }
    end
  end
  return found
end

--- Every NAME.lua (NAME matching `pattern`) in the folders, in search order
-- (alphabetical within a folder), each name once:
-- { { name =, path =, from =, builtin = }, ... }.
function M.names(kind, builtin, pattern)
  local list, seen = {}, {}
  for _, f in ipairs(folders(kind, builtin)) do
    for _, file in ipairs(core.sys.list_dir(f.dir) or {}) do
      local name = file:match("^(.+)%.lua$")
      if name and name:match(pattern) and not seen[name] then
        seen[name] = true
        list[#list + 1] = { name = name, path = f.dir .. "/" .. file, from = f.from, builtin = f.builtin }
      end
    end
  end
  return list
end

--- The search path of `kind` in words, for messages:
-- "lua/hnet/learners (built in), /me/hn/learners (HNET_PATH), ...".
function M.describe(kind, builtin)
  local parts = {}
  for _, f in ipairs(folders(kind, builtin)) do
    local missing = core.sys.exists(f.dir) ~= "directory" and ", does not exist" or ""
    parts[#parts + 1] = ("%s (%s%s)"):format(f.dir, f.from, missing)
  end
  return table.concat(parts, ", ")
end

--- The error for a name found in two folders (nil when it is not).
function M.clash(kind, name, files)
  if #files < 2 then return nil end
  local where = {}
  for _, f in ipairs(files) do where[#where + 1] = ("%s (%s)"):format(f.path, f.from) end
  return ("%s name '%s' is given by more than one file: %s; names must be unique: rename or remove one (or replace it on purpose with register(name, x, { replace = true }))")
    :format(kind:sub(1, -2), name, table.concat(where, " and "))
end

--- What already gives `name` of `kind` (for register without replace): "an
-- earlier hnet.K.register" when `registered` holds it, else the first file
-- on the search path ("PATH (from)", the path through `shown` when given),
-- else nil.
function M.taken(kind, builtin, name, registered, shown)
  if registered[name] then return ("an earlier hnet.%s.register"):format(kind) end
  local file = M.files(kind, builtin, name)[1]
  return file and ("%s (%s)"):format(shown and shown(file.path) or file.path, file.from)
end

--- What to do about a name not found, for messages.
function M.how(kind, name)
  return ("add a folder holding %s/%s.lua with ./hnet --lib DIR or HNET_PATH=DIR, or call hnet.%s.register('%s', ...) in the script")
    :format(kind, name, kind, name)
end

return M
