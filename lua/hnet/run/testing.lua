--- hnet.run.testing — test seams, for tests only: what a test needs to
-- interrupt a run at an exact point or make a disk fill, which hnet.run
-- does not offer as options.
--
--   local testing = require "hnet.run.testing"
--   local run = testing.run(learner, stream, opts, testing.stop_after { task = 2, iteration = 10 })
--   testing.fail_write_after(100)   -- the next checkpoint commits fail, as on a full disk
require "hnet" -- it registers hnet.ckpt.testing
local util = require "hnet.util"
local run_mod = require "hnet.run"
local loop = require "hnet.run.loop"

local M = {}

--- hnet.run(learner, stream, opts) with the test hooks `hooks`
-- (hnet.run.loop: after_step(run, task, iteration) -> true stops there),
-- each checked against the stream and the learner's schedule by its
-- hooks.check(T, schedule) when it has one.
function M.run(learner, stream, opts, hooks)
  local run = run_mod.prepare(learner, stream, opts)
  hooks = util.options(hooks, { "check", "after_step" }, "hnet.run.testing.run", 4)
  if hooks.check then hooks.check(run.T, run.sched) end
  run.hooks = hooks
  return loop.start(run)
end

--- Hooks that checkpoint after iteration `iteration` of task `task` and
-- return the run early (run.stopped = { task =, iteration = }), as an
-- interrupt would, without exiting: a run stopped at an exact point, to
-- resume.
function M.stop_after(at)
  local f = "hnet.run.testing.stop_after"
  if type(at) ~= "table" then
    error(("bad argument #1 to '%s' ({ task =, iteration = } expected, got %s)"):format(f, type(at)), 2)
  end
  util.options(at, { "task", "iteration" }, f, 1)
  util.int(at, "task", nil, 1, nil, f, 1)
  util.int(at, "iteration", nil, 1, nil, f, 1)
  return {
    check = function(T, sched)
      util.int(at, "task", nil, 1, T, f, 1)
      if at.iteration > sched.iterations then
        error(("bad argument #1 to '%s' (field 'iteration': %d is past the learner's %d iterations)")
          :format(f, at.iteration, sched.iterations), 3)
      end
    end,
    after_step = function(_, t, it) return t == at.task and it == at.iteration end,
  }
end

--- Make the next checkpoint commits fail with ENOSPC ("No space left on
-- device") after that many more bytes, as a full disk would; a negative
-- value or nil disarms it.
function M.fail_write_after(bytes)
  require("hnet.ckpt.testing").fail_write_after(bytes)
end

return M
