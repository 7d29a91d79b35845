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

local function load(name)
  local modname = "hnet.learners." .. name
  if not package.searchpath(modname, package.path) then
    error(("hnet.learners: no learner named '%s' (expected a file lua/hnet/learners/%s.lua; built in: %s)")
      :format(name, name, table.concat(M.list(), ", ")), 3)
  end
  return require(modname)
end

--- A new learner of that name.
function M.new(name, opts)
  if type(name) ~= "string" then
    error("bad argument #1 to 'hnet.learners.new' (learner name expected, got " .. type(name) .. ")", 2)
  end
  return load(name).new(opts)
end

return setmetatable(M, { __index = function(_, name)
  if type(name) ~= "string" or name == "common" then return nil end
  return load(name).new
end })
