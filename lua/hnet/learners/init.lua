--- hnet.learners — continual learners chosen by name.
--
--   local learner = hnet.learners.hypernet{ ... }       -- or
--   local learner = hnet.learners.new("ewc", { ... })
--
-- A learner is a file NAME.lua returning a table with new(opts), found
-- through hnet.search's path: this folder (built in: hypernet, finetune,
-- ewc, online_ewc, si, separate, joint, hnet_tir, hnet_r), then DIR/learners/NAME.lua for each
-- folder given with `./hnet --lib DIR` and each entry of HNET_PATH, then the
-- names registered from a script:
--
--   hnet.learners.register("mine", function(opts) ... end)  -- or { new = ... }
--
-- A file that returns no new() is a helper, not a learner (common.lua,
-- plain.lua here); init.lua is this module.
--
-- A learner declares its options as an hnet.spec list in the field `cli`
-- of its module (or of its class, mod.class.cli): new() checks through it
-- (spec.check), `./hnet help NAME` prints it, and the experiments take its
-- options on their command line (hnet.experiment.learner_options).
local search = require "hnet.search"

local M = {}

-- The order the built-in learners are listed in (experiments' defaults).
local BUILT_IN = { "hypernet", "finetune", "ewc", "online_ewc", "si", "separate", "joint", "hnet_tir", "hnet_r" }

local NAME = "^[%w_]+$"

local HERE = (function()
  local src = debug.getinfo(1, "S").source
  return src:sub(1, 1) == "@" and (src:sub(2):match("^(.*)[/\\]") or ".") or "lua/hnet/learners"
end)()

local registered = {} -- name -> { mod =, replace = }
local reg_order = {}
local loaded = {}     -- path of a user file -> what it returned

local function is_learner(mod) return type(mod) == "table" and type(mod.new) == "function" end

-- What the file returns (built-in files through require, so that
-- require "hnet.learners.NAME" gives the same table).
local function load_file(f, name)
  if f.builtin then return require("hnet.learners." .. name) end
  if loaded[f.path] == nil then
    local chunk, err = loadfile(f.path)
    if not chunk then error("hnet.learners: " .. err, 0) end
    loaded[f.path] = chunk(name, f.path)
    if loaded[f.path] == nil then loaded[f.path] = false end
  end
  return loaded[f.path]
end

-- The learner module of that name, or nil and why not.
local function find(name)
  if type(name) ~= "string" or not name:match(NAME) or name == "init" then
    return nil, ("'%s' is not a learner name (letters, digits and _)"):format(tostring(name))
  end
  local reg = registered[name]
  if reg and reg.replace then return reg.mod end
  local files = search.files("learners", HERE, name)
  if reg then files[#files + 1] = { path = "hnet.learners.register", from = "a script" } end
  local clash = search.clash("learners", name, files)
  if clash then return nil, clash end
  if reg then return reg.mod end
  if #files == 0 then
    return nil, ("no learner named '%s': no file learners/%s.lua in %s, and none registered; %s (built in: %s)")
      :format(name, name, search.describe("learners", HERE), search.how("learners", name), table.concat(BUILT_IN, ", "))
  end
  local mod = load_file(files[1], name)
  if not is_learner(mod) then
    return nil, ("%s is not a learner: it must return { new = function(opts) ... end }"):format(files[1].path)
  end
  return mod
end

local function load(name)
  local mod, why = find(name)
  if not mod then error("hnet.learners: " .. why, 3) end
  return mod
end

--- The learners there are: the built-in ones (in their usual order), the
-- other learner files of the search path (in search order, alphabetical
-- within a folder), then the registered names (in the order registered).
function M.list()
  local names, seen = {}, {}
  local function put(n) if not seen[n] then seen[n] = true; names[#names + 1] = n end end
  local files = search.names("learners", HERE, NAME)
  local builtin = {}
  for _, f in ipairs(files) do if f.builtin then builtin[f.name] = true end end
  for _, n in ipairs(BUILT_IN) do if builtin[n] then put(n) end end
  for _, f in ipairs(files) do
    if not seen[f.name] and f.name ~= "init" and is_learner(load_file(f, f.name)) then put(f.name) end
  end
  for _, n in ipairs(reg_order) do if registered[n] then put(n) end end
  return names
end

--- Is `name` a learner hnet.learners.new can make? When not: false and why
-- (the search path it looked in, or the clash it found).
function M.exists(name)
  local mod, why = find(name)
  if mod then return true end
  return false, why
end

--- Register a learner under `name` from a script: a constructor
-- function(opts) -> learner, or a module { new = function(opts) ... end }.
-- A name that a file or an earlier register already gives is refused unless
-- opts.replace = true (then this one wins over any file of that name).
M.REGISTER_OPTIONS = { { name = "replace", type = "boolean", default = false,
  help = "replace a name a file or an earlier register already gives" } }

function M.register(name, learner, opts)
  local f = "hnet.learners.register"
  if type(name) ~= "string" or not name:match(NAME) or name == "init" then
    error(("bad argument #1 to '%s' (a learner name of letters, digits and _ expected, got %s)")
      :format(f, type(name) == "string" and ("'" .. name .. "'") or type(name)), 2)
  end
  local mod = type(learner) == "function" and { new = learner } or learner
  if not is_learner(mod) then
    error(("bad argument #2 to '%s' (a constructor function(opts) or a module { new = function(opts) } expected, got %s)")
      :format(f, type(learner) == "table" and "a table without new()" or type(learner)), 2)
  end
  local replace = require("hnet.spec").check(M.REGISTER_OPTIONS, opts, f, 3).replace
  if not replace then
    local where = search.taken("learners", HERE, name, registered)
    if where then
      error(("bad argument #1 to '%s' (learner '%s' already exists: %s; choose another name, or pass { replace = true } to replace it)")
        :format(f, name, where), 2)
    end
  end
  if not registered[name] then reg_order[#reg_order + 1] = name end
  registered[name] = { mod = mod, replace = replace }
end

--- The option spec (hnet.spec) of the learner of that name: its module's
-- `cli` field, or its class's (`mod.class.cli`, as hnet.learners.plain
-- builds them); nil and why when it declares none. A learner that takes
-- options declares them so for `./hnet help NAME` and the experiments'
-- command lines:
--   return { new = function(opts) ... end, cli = { { name = "buffer", type = "integer", default = 500 } } }
function M.spec(name)
  local mod = load(name)
  local s = mod.cli
  if s == nil and type(mod.class) == "table" then s = mod.class.cli end
  if s == nil then
    return nil, ("learner '%s' declares no options: its module has no cli spec"):format(name)
  end
  require("hnet.spec").validate(s, ("learner '%s' (its cli spec)"):format(name))
  return s
end

--- Where the learner of that name comes from: the path of its file, or
-- "hnet.learners.register" for a registered one (nil and why when none).
function M.source(name)
  local mod, why = find(name)
  if not mod then return nil, why end
  local reg = registered[name]
  if reg and (reg.replace or reg.mod == mod) then return "hnet.learners.register" end
  return search.files("learners", HERE, name)[1].path
end

--- A new learner of that name.
function M.new(name, opts)
  if type(name) ~= "string" then
    error("bad argument #1 to 'hnet.learners.new' (learner name expected, got " .. type(name) .. ")", 2)
  end
  return load(name).new(opts)
end

-- hnet.learners.NAME is NAME's constructor; hnet.learners.NAME = ctor registers.
--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.learners.register", sig = "hnet.learners.register(name, ctor or module, opts)",
    spec = M.REGISTER_OPTIONS, about = "add a learner from a script (opts: argument #3)" },
  { name = "hnet.learners.new", sig = "hnet.learners.new(name, opts) -> learner",
    about = "the learner `name` (built in, found through --lib / HNET_PATH, or registered)",
    notes = "opts: the learner's own options; ./hnet help NAME prints them (./hnet help lists the learners)" },
  { name = "target.rnn", sig = 'target = { "rnn", cell =, hidden =, vocab =, embedding =, output = }',
    about = "a recurrent target network for every learner (sequence tasks)",
    spec = function() return require("hnet.learners.common").RNN_TARGET end },
}

return setmetatable(M, {
  __index = function(_, name)
    if type(name) ~= "string" or name == "init" then return nil end
    return load(name).new
  end,
  __newindex = function(_, name, learner) M.register(name, learner) end,
})
