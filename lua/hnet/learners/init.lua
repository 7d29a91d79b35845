--- hnet.learners — continual learners chosen by name.
--
--   local learner = hnet.learners.hypernet{ ... }       -- or
--   local learner = hnet.learners.new("ewc", { ... })
--
-- Each learner is a file lua/hnet/learners/<name>.lua returning a table with
-- new(opts); adding a learner is adding a file. Built in: hypernet,
-- finetune, ewc, online_ewc, si, separate, joint.
local M = {}

--- The names of the learners found next to this file.
function M.list()
  return { "hypernet", "finetune", "ewc", "online_ewc", "si", "separate", "joint" }
end

-- Files beside the learners that are not learners.
local NOT_LEARNERS = { init = true, common = true, plain = true }

-- The learner module of that name, or nil and why not.
local function find(name)
  local modname = "hnet.learners." .. name
  if NOT_LEARNERS[name] or not package.searchpath(modname, package.path) then
    return nil, ("no learner named '%s' (expected a file lua/hnet/learners/%s.lua; built in: %s)")
      :format(name, name, table.concat(M.list(), ", "))
  end
  local mod = require(modname)
  if type(mod) ~= "table" or type(mod.new) ~= "function" then
    return nil, ("%s.lua is not a learner: it must return { new = function(opts) ... end }"):format(modname)
  end
  return mod
end

local function load(name)
  local mod, why = find(name)
  if not mod then error("hnet.learners: " .. why, 3) end
  return mod
end

--- Is `name` a learner hnet.learners.new can make (built in, or a file
-- lua/hnet/learners/NAME.lua on package.path)?
function M.exists(name)
  return type(name) == "string" and name:match("^[%w_]+$") ~= nil and find(name) ~= nil
end

--- A new learner of that name.
function M.new(name, opts)
  if type(name) ~= "string" then
    error("bad argument #1 to 'hnet.learners.new' (learner name expected, got " .. type(name) .. ")", 2)
  end
  return load(name).new(opts)
end

return setmetatable(M, { __index = function(_, name)
  if type(name) ~= "string" or NOT_LEARNERS[name] then return nil end
  return load(name).new
end })
