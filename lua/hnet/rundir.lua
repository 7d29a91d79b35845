--- hnet.rundir — what a directory on disk is, as far as hnet is concerned.
--
--   local rundir = require "hnet.rundir"
--   local kind, why = rundir.kind(dir)
--
-- kind is one of
--   nil          dir does not exist (why says so)
--   "file"       dir is not a directory
--   "empty"      an empty directory
--   "run"        a run directory (what hnet.run writes with `out`): its
--                options.json names a learner and a checkpoint, or it holds
--                checkpoint.hnck, or summary.json with accuracy_matrix.csv
--   "experiment" the --out of an experiment script: results.md, or run (or
--                experiment) directories below it
--   "other"      anything else: a folder of someone's files, which hnet must
--                not write into
-- hnet.run, hnet.experiment.options and `./hnet report` share this one
-- definition, so that what one writes the others recognise.
local cjson = require "cjson"
local sys = require("hnet.core").sys

local M = {}

local DEPTH = 3 -- run directories this deep below an experiment directory count

local function has_file(dir, name) return sys.exists(dir .. "/" .. name) == "file" end

local read = require("hnet.util").read_file

--- True when dir is a run directory (finished, interrupted, or just started).
function M.is_run(dir)
  if has_file(dir, "checkpoint.hnck") then return true end
  if has_file(dir, "summary.json") and has_file(dir, "accuracy_matrix.csv") then return true end
  local text = has_file(dir, "options.json") and read(dir .. "/options.json")
  if not text then return false end
  local ok, o = pcall(cjson.decode, text)
  return ok and type(o) == "table" and type(o.learner) == "string" and type(o.checkpoint) == "string"
end

local function is_experiment(dir, depth)
  if has_file(dir, "results.md") then return true end
  if depth <= 0 then return false end
  for _, name in ipairs(sys.list_dir(dir) or {}) do
    local sub = dir .. "/" .. name
    if sys.exists(sub) == "directory" and (M.is_run(sub) or is_experiment(sub, depth - 1)) then
      return true
    end
  end
  return false
end

--- The kind of dir (see the top of this file), and a phrase for messages.
function M.kind(dir)
  local k = sys.exists(dir)
  if not k then return nil, "does not exist" end
  if k ~= "directory" then return "file", "is not a directory" end
  local names = sys.list_dir(dir)
  if not names then return "other", "cannot be listed" end
  -- What a write stopped by a kill leaves (hnet.sys.write_file's NAME.tmp,
  -- a checkpoint's NAME.tmp.PID.N) is hnet's: a run killed while it made
  -- its directory starts again there.
  local own = {}
  for _, n in ipairs(names) do
    if not (n:match("%.tmp$") or n:match("%.tmp%.%d+%.%d+$")) then own[#own + 1] = n end
  end
  names = own
  if #names == 0 then return "empty", "is empty" end
  if M.is_run(dir) then return "run", "is a run directory" end
  if is_experiment(dir, DEPTH) then return "experiment", "is an experiment's directory" end
  return "other", ("holds %d entr%s that hnet did not write (%s%s)"):format(#names,
    #names == 1 and "y" or "ies", table.concat(names, ", ", 1, math.min(#names, 3)),
    #names > 3 and ", ..." or "")
end

--- The run directories below an experiment directory (depth-first, sorted
-- by path), and the subdirectories that are neither runs nor hold runs:
-- returns runs, others (lists of paths).
function M.runs_below(dir)
  local runs, others = {}, {}
  local function walk(d, depth)
    for _, name in ipairs(sys.list_dir(d) or {}) do
      local sub = d .. "/" .. name
      if sys.exists(sub) == "directory" then
        if M.is_run(sub) then runs[#runs + 1] = sub
        elseif depth > 1 and is_experiment(sub, depth - 1) then walk(sub, depth - 1)
        else others[#others + 1] = sub end
      end
    end
  end
  walk(dir, DEPTH)
  return runs, others
end

return M
