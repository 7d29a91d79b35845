--- hnet — task-conditioned hypernetworks for continual and transfer learning.
--
--   local hnet = require "hnet"
--
-- The module re-exports everything the C core (hnet.core) defines — tensors,
-- nets, hypernetworks, optimisers, losses, RNG, the continual-learning kernels
-- and data functions — with the functions that take options checked against
-- their specs (hnet/api/), adds a few network builders written in Lua
-- (hnet.mlp, hnet.lenet, hnet.zenkenet), and loads the Lua library lazily:
-- the first use of hnet.<name> requires "hnet.<name>" (hnet.datasets,
-- hnet.tasks, hnet.stream, hnet.learners, hnet.metrics, hnet.report, ...)
-- when such a module exists, so new files under lua/hnet/ need no edit here.
--
-- Conventions: element, row and task indices are 1-based; class labels are
-- 0-based (as stored in datasets), and so are tensor:argmax() and
-- hnet.loss.argmax(); layout offsets are 0-based float offsets.
local core = require "hnet.core"
local util = require "hnet.util"

local M = {}
for k, v in pairs(core) do M[k] = v end
M.core = core
M.util = util

-- ---- the checked public functions -------------------------------------------
-- The C-bound functions with options are replaced by wrappers that check the
-- options against the specs `./hnet help` prints (hnet/api/*.lua); the Lua
-- network builders live there too.

local nets, train, data = require "hnet.api.nets", require "hnet.api.train", require "hnet.api.data"
nets.install()
for _, k in ipairs { "net", "hypernet", "mlp", "lenet", "zenkenet" } do M[k] = nets[k] end
M.adam, M.sgd, M.loss, M.vae = train.adam, train.sgd, train.loss, train.vae
for _, k in ipairs { "idx_read", "idx_read_labeled", "idx_write", "cifar10_read", "transform" } do M[k] = data[k] end
M.dist = require "hnet.dist"
M.distributed = require "hnet.distributed"

-- ---- lazy submodules ---------------------------------------------------------

local function findable(name)
  if package.loaded[name] ~= nil or package.preload[name] ~= nil then return true end
  return package.searchpath(name, package.path) ~= nil
end

return setmetatable(M, {
  __index = function(t, k)
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then return nil end
    local name = "hnet." .. k
    if not findable(name) then return nil end
    local mod = require(name)
    rawset(t, k, mod)
    return mod
  end,
})
