--- hnet.datasets — find, load and cache datasets.
--
--   local fm = hnet.datasets.load "fashion_mnist"
--   fm.train.x   -- Tensor [60000, 1, 28, 28], values in 0..1
--   fm.train.y   -- Tensor [60000], class labels 0..9 (0-based, as stored)
--   fm.test.x, fm.test.y, fm.n_classes (10), fm.shape ({1, 28, 28}), fm.name
--
-- A dataset is a Lua table
--   { name =, train = { x =, y = }, test = { x =, y = }, n_classes =, shape =,
--     class_names = (optional), source = (optional: where it came from) }
-- with x [n, c, h, w] (or [n, d]) and y [n] holding 0-based class labels.
--
-- load(name, opts) finds `name` as learners are found (hnet.search): the
-- file datasets/<name>.lua of the hnet installation (the directory holding
-- lua/, found from this file's own path), else DIR/datasets/<name>.lua for
-- each folder of `./hnet --lib DIR` and of HNET_PATH, else a loader
-- registered with register(name, fn). The file returns
-- a function(ctx, opts) that returns the dataset; ctx offers the helpers
-- below (ctx.idx_dataset reads an IDX images/labels pair per split). Adding a
-- dataset is adding one file to datasets/ (or one register call in a
-- script). Loads are cached per process by (name, options).
--
-- Options: data_dir (default $HNET_DATA, else <root>/data, or for an
-- installed hnet ~/.local/share/hnet: see data_root; the dataset's own
-- files are in <data_dir>/<name>), n_train / n_test (keep only the first n
-- samples: quick runs), reload (bypass the cache). A loader that takes more
-- options names them: the file (or register) gives the table
-- { load = function(ctx, opts), options = { "name", ... } } instead of the
-- function. Any other key is an error, as everywhere in hnet.
local core = require "hnet.core"
local util = require "hnet.util"
local search = require "hnet.search"
local spec = require "hnet.spec"

local M = {}

local registered = {} -- name -> { load = function(ctx, opts), options = { extra keys }, replace = }
local cache = {}

-- The options every dataset takes (hnet.spec): load checks them through it
-- and `./hnet help hnet.datasets.load` prints it; a loader adds its own
-- names.
M.OPTIONS = {
  { name = "data_dir", type = "string",
    help = "where the datasets are (default $HNET_DATA, else <root>/data, or ~/.local/share/hnet once installed); the dataset's files are in <data_dir>/<name>" },
  { name = "n_train", type = "integer", min = 1, help = "keep only the first n training samples (quick runs)" },
  { name = "n_test", type = "integer", min = 1, help = "keep only the first n test samples" },
  { name = "reload", type = "boolean", default = false, help = "bypass the per-process cache" },
}

-- A loader as a file or register() gives it: a function, or a table
-- { load = function, options = { names } }. Returns the table form, or nil
-- and what is wrong.
local function as_loader(v)
  if type(v) == "function" then return { load = v, options = {} } end
  if type(v) ~= "table" then return nil, "a loader function(ctx, opts) or { load =, options = } expected, got " .. type(v) end
  if type(v.load) ~= "function" then return nil, "field 'load': a function(ctx, opts) expected, got " .. type(v.load) end
  local extra = v.options or {}
  if type(extra) ~= "table" then return nil, "field 'options': a list of option names expected, got " .. type(extra) end
  for i, k in ipairs(extra) do
    if type(k) ~= "string" then return nil, ("field 'options': entry %d is a %s, not a name"):format(i, type(k)) end
  end
  for k in pairs(v) do
    if k ~= "load" and k ~= "options" then return nil, ("unknown field '%s' (allowed: load, options)"):format(tostring(k)) end
  end
  return { load = v.load, options = extra }
end

-- ---- where things are ------------------------------------------------------

local function this_dir()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  return src:sub(2):match("^(.*)[/\\]") or "."
end

-- The root and whether it is an installed one (see M.root).
local function locate()
  local env = os.getenv("HNET_ROOT")
  if env and env ~= "" then return env, false end
  local d = this_dir()
  if d then
    local r = d:match("^(.*)[/\\]lua[/\\]hnet$")
    if r then return r == "" and "/" or r, false end
    if d == "lua/hnet" or d == "./lua/hnet" then return ".", false end
    local prefix = d:match("^(.*)[/\\]share[/\\]lua[/\\]5%.4[/\\]hnet$")
    if prefix then return prefix .. "/share/hnet", true end
  end
  for entry in package.path:gmatch("[^;]+") do
    local r = entry:match("^(.-)[/\\]?lua[/\\]%?%.lua$")
    if r then return r == "" and "." or r, false end
  end
  return ".", false
end

--- The hnet root: the directory that holds datasets/. $HNET_ROOT overrides;
-- else it is found from this file's path: <root>/lua/hnet/datasets.lua in
-- the source tree; PREFIX/share/lua/5.4/hnet/datasets.lua for an installed
-- hnet (`make install`), whose root is PREFIX/share/hnet; else from
-- package.path.
function M.root()
  return (locate())
end

--- True for an installed hnet (the library under PREFIX/share/lua/5.4).
function M.installed()
  local _, installed = locate()
  return installed
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function dir_exists(path)
  -- Opening a directory for reading succeeds on Linux; reading from it fails.
  local f = io.open(path, "rb")
  if not f then return false end
  local ok, _, code = f:read(0)
  f:close()
  return ok == nil and code == 21 -- EISDIR
end

M.file_exists = file_exists
M.dir_exists = dir_exists

--- The data directory and where it came from ("the data_dir option",
-- "HNET_DATA" or "the default"): opts.data_dir, else $HNET_DATA, else
-- <root>/data in the source tree, and for an installed hnet
-- $XDG_DATA_HOME/hnet (~/.local/share/hnet when XDG_DATA_HOME is unset) —
-- where the installed datasets/fetch.sh puts the datasets.
function M.data_root(opts)
  if opts and opts.data_dir then return opts.data_dir, "the data_dir option" end
  local env = os.getenv("HNET_DATA")
  if env and env ~= "" then return env, "HNET_DATA" end
  if not M.installed() then return M.root() .. "/data", "the default" end
  local xdg = os.getenv("XDG_DATA_HOME")
  if xdg and xdg:sub(1, 1) == "/" then return xdg .. "/hnet", "the default" end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.local/share/hnet", "the default" end
  error("hnet.datasets: no data directory: HNET_DATA, XDG_DATA_HOME and HOME are all unset; "
    .. "set HNET_DATA=DIR (the datasets go in DIR/NAME)", 0)
end

--- The command that fetches dataset `name` into the default data directory
-- (or $HNET_DATA): `make data` in the source tree, the installed
-- datasets/fetch.sh otherwise.
function M.fetch_command(name)
  if not M.installed() then return "make data" end
  return ("sh %s/datasets/fetch.sh %s"):format(M.root(), name)
end

-- A path as a person would type it from the repository root.
local function shown(path)
  local root = M.root()
  if path:sub(1, #root + 1) == root .. "/" then return path:sub(#root + 2) end
  return path
end

-- ---- helpers given to loaders -------------------------------------------------

local IDX_SPEC = { "train", "test", "n_classes", "shape", "scale", "class_names", "hint", "image_type",
                   "label_type" }

local function new_ctx(name, opts)
  local ctx = { name = name, root = M.root(), hnet = core }
  local data, from = M.data_root(opts)
  ctx.dir = data .. "/" .. name
  -- The command that fetches this dataset, for hints: "run '<ctx.fetch>' first".
  ctx.fetch = M.fetch_command(name)
  -- Which data directory was searched and why, after every "not found".
  local where = from == "the default"
    and (" (data directory %s, the default; HNET_DATA=DIR chooses another)"):format(shown(data))
    or (" (data directory %s, from %s)"):format(shown(data), from)

  --- Raise the standard "not found" error unless the data directory exists.
  function ctx.require_dir(hint)
    if not dir_exists(ctx.dir) then
      error(("dataset '%s' not found in %s: %s%s"):format(name, shown(ctx.dir),
        hint or ("run '%s' first"):format(ctx.fetch), where), 0)
    end
  end

  --- The first of the candidate file names present in the data directory.
  function ctx.find(candidates, hint)
    if type(candidates) == "string" then candidates = { candidates } end
    for _, c in ipairs(candidates) do
      local p = ctx.dir .. "/" .. c
      if file_exists(p) then return p end
    end
    error(("dataset '%s': %s not found in %s: %s%s"):format(name, table.concat(candidates, " or "),
      shown(ctx.dir), hint or ("run '%s' first"):format(ctx.fetch), where), 0)
  end

  --- A classification dataset from IDX pairs:
  --   ctx.idx_dataset{ train = {images, labels}, test = {images, labels},
  --                    n_classes = 10, shape = {1, 28, 28}, scale = 1/255,
  --                    image_type = "u8", label_type = "u8",
  --                    class_names = {...}, hint = "..." }
  -- Each file entry is a name or a list of alternative names. The image and
  -- label counts must agree (hn_idx_read_labeled checks, naming both files).
  -- image_type / label_type (default "u8", as MNIST stores both) declare the
  -- element type the files store: a file of another type is refused (the
  -- same bytes as signed values would load as other pixels, without a word).
  function ctx.idx_dataset(spec)
    local ok, err = pcall(util.options, spec, IDX_SPEC, "ctx.idx_dataset")
    if not ok then error(("dataset '%s': %s"):format(name, err), 2) end
    ctx.require_dir(spec.hint)
    local ds = { name = name, n_classes = spec.n_classes, shape = spec.shape,
                 class_names = spec.class_names, source = shown(ctx.dir) }
    for _, split in ipairs { "train", "test" } do
      local img = ctx.find(spec[split][1], spec.hint)
      local lab = ctx.find(spec[split][2], spec.hint)
      local x, y = core.idx_read_labeled(img, lab, { n_classes = spec.n_classes,
        scale = spec.scale or 1 / 255, shape = spec.shape, type = spec.image_type or "u8",
        label_type = spec.label_type or "u8" })
      ds[split] = { x = x, y = y }
    end
    return ds
  end
  return ctx
end

-- ---- loading -------------------------------------------------------------------

local NAME = "^[%w_%-]+$"

-- The framework's own dataset files.
local function builtin_dir() return M.root() .. "/datasets" end

--- Register a loader function(ctx, opts) -> dataset under `name`, or
-- { load = function(ctx, opts), options = { names of the options it takes
-- beyond the common ones } }. A name that a file on the search path or an
-- earlier register already gives is refused unless opts.replace = true
-- (then this loader wins over the file). Clears cached loads of that name.
M.REGISTER_OPTIONS = { { name = "replace", type = "boolean", default = false,
  help = "replace a name a file or an earlier register already gives" } }

function M.register(name, loader, opts)
  local f = "hnet.datasets.register"
  if type(name) ~= "string" or not name:match(NAME) then
    error(("bad argument #1 to '%s' (a dataset name of letters, digits, _ and - expected, got %s)")
      :format(f, type(name) == "string" and ("'" .. name .. "'") or type(name)), 2)
  end
  local l, why = as_loader(loader)
  if not l then error("bad argument #2 to '" .. f .. "' (" .. why .. ")", 2) end
  l.replace = spec.check(M.REGISTER_OPTIONS, opts, f, 3).replace
  if not l.replace then
    local where = search.taken("datasets", builtin_dir(), name, registered, shown)
    if where then
      error(("bad argument #1 to '%s' (dataset '%s' already exists: %s; choose another name, or pass { replace = true } to replace it)")
        :format(f, name, where), 2)
    end
  end
  registered[name] = l
  for k in pairs(cache) do
    if k:sub(1, #name + 1) == name .. "|" then cache[k] = nil end
  end
end

--- The path of the built-in datasets/<name>.lua (whether or not it exists).
function M.path(name)
  return builtin_dir() .. "/" .. name .. ".lua"
end

--- Names available: the files on the search path and the registered ones,
-- sorted.
function M.list()
  local names, seen = {}, {}
  for _, f in ipairs(search.names("datasets", builtin_dir(), NAME)) do
    names[#names + 1] = f.name; seen[f.name] = true
  end
  for n in pairs(registered) do if not seen[n] then names[#names + 1] = n end end
  table.sort(names)
  return names
end

local function cache_key(name, opts)
  local keys = {}
  for k, v in pairs(opts) do
    if k ~= "reload" then keys[#keys + 1] = tostring(k) .. "=" .. tostring(v) end
  end
  table.sort(keys)
  return name .. "|" .. table.concat(keys, ",")
end

local function first_rows(split, n, what, name)
  local have = split.x:size(1)
  if n > have then
    error(("dataset '%s': %s = %d but the set has %d samples"):format(name, what, n, have), 0)
  end
  if n == have then return split end
  return { x = split.x:rows(1, n):clone(), y = split.y:rows(1, n):clone() }
end

--- Check a dataset table's structure; raises with what is wrong.
function M.check(ds, name)
  name = name or ds and ds.name or "?"
  local function bad(msg) error(("dataset '%s': %s"):format(name, msg), 0) end
  if type(ds) ~= "table" then bad("the loader returned " .. type(ds) .. ", not a dataset table") end
  if math.type(ds.n_classes) ~= "integer" or ds.n_classes < 1 then bad("n_classes must be a positive integer") end
  for _, split in ipairs { "train", "test" } do
    local s = ds[split]
    if type(s) ~= "table" or s.x == nil or s.y == nil then bad(split .. " = {x =, y =} is missing") end
    local n = s.x:size(1)
    if s.y:ndim() ~= 1 or s.y:size(1) ~= n then
      bad(("%s: %d inputs but labels of shape %s"):format(split, n, tostring(s.y)))
    end
  end
  return ds
end

-- The loader of `name` (hnet.search's rule: the files, then registered);
-- errors at `level` (as error's, counted from the caller of find_loader).
local function find_loader(name, level)
  local reg = registered[name]
  if reg and reg.replace then return reg end
  local files = name:match(NAME) and search.files("datasets", builtin_dir(), name) or {}
  if reg then files[#files + 1] = { path = "hnet.datasets.register", from = "a script" } end
  local clash = search.clash("datasets", name, files)
  if clash then error(clash, level + 1) end
  if reg then return reg end
  if #files == 0 then
    error(("dataset '%s' is unknown: no loader registered and no file %s in %s; %s (available: %s)")
      :format(name, shown(M.path(name)), search.describe("datasets", builtin_dir()), search.how("datasets", name),
              table.concat(M.list(), ", ")), level + 1)
  end
  local path = files[1].path
  local chunk, err = loadfile(path)
  if not chunk then error(("dataset '%s': %s"):format(name, err), level + 1) end
  local loader, why = as_loader(chunk())
  if not loader then
    error(("dataset '%s': %s must return a loader function(ctx, opts) or { load =, options = }: %s")
      :format(name, shown(path), why), level + 1)
  end
  return loader
end

-- The spec of load's options for a loader: the common ones (M.OPTIONS),
-- then the loader's own names, whose values the loader checks (a name the
-- common ones have keeps their check). Made once per loader.
local specs = setmetatable({}, { __mode = "k" })
local function spec_of(loader)
  local s = specs[loader]
  if not s then
    local own, seen = {}, {}
    for _, k in ipairs(loader.options) do
      if not spec.find(M.OPTIONS, k) and not seen[k] then
        seen[k] = true
        own[#own + 1] = { name = k, type = "any", help = "an option of this dataset's loader (it checks the value)" }
      end
    end
    s = spec.extend(M.OPTIONS, own)
    specs[loader] = s
  end
  return s
end

-- Check load's options (argument #2) through the spec (the given table
-- stays as it is: it keys the cache and goes to the loader); errors name
-- the caller of load.
local function check_options(opts, loader)
  local f = "hnet.datasets.load"
  spec.check(spec_of(loader), opts, f, 2, 3)
  if opts.data_dir == "" then util.argerr(f, 2, "field 'data_dir': a directory name expected, got ''", 3) end
end

--- Load (or return the cached) dataset `name`.
function M.load(name, opts)
  if type(name) ~= "string" then
    error("bad argument #1 to 'hnet.datasets.load' (dataset name expected, got " .. type(name) .. ")", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #2 to 'hnet.datasets.load' (options table expected, got " .. type(opts) .. ")", 2)
  end
  local loader = find_loader(name, 2)
  check_options(opts, loader)
  local key = cache_key(name, opts)
  if cache[key] and not opts.reload then return cache[key] end
  if opts.n_train or opts.n_test then
    -- The full set comes from (or goes to) the cache; the cut is cached too.
    local base_opts = {}
    for k, v in pairs(opts) do
      if k ~= "n_train" and k ~= "n_test" then base_opts[k] = v end
    end
    local base = M.load(name, base_opts)
    local ds = {}
    for k, v in pairs(base) do ds[k] = v end
    if opts.n_train then ds.train = first_rows(base.train, opts.n_train, "n_train", name) end
    if opts.n_test then ds.test = first_rows(base.test, opts.n_test, "n_test", name) end
    cache[key] = ds
    return ds
  end
  local ds = loader.load(new_ctx(name, opts), opts)
  M.check(ds, name)
  ds.name = ds.name or name
  cache[key] = ds
  return ds
end

--- Forget cached datasets (all, or one name).
function M.clear_cache(name)
  for k in pairs(cache) do
    if not name or k:sub(1, #name + 1) == name .. "|" then cache[k] = nil end
  end
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.datasets.register", sig = "hnet.datasets.register(name, loader, opts)", spec = M.REGISTER_OPTIONS,
    about = "add a dataset loader from a script (opts: argument #3)" },
  { name = "hnet.datasets.load", sig = "hnet.datasets.load(name, opts) -> dataset", spec = M.OPTIONS,
    about = "load (or return the cached) dataset `name`; a loader may take more options" },
}

return M
