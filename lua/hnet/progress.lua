--- Progress of long work: task k/T, iteration, loss, regulariser, examples/s
-- and ETA. On a terminal the line is redrawn in place; elsewhere (CI, files)
-- a plain line is printed every `every` seconds (default 10). quiet prints
-- nothing but results; verbose prints a plain line per `every` even on a
-- terminal.
local hnet = require "hnet"

local M = {}
local P = {}
P.__index = P

function M.new(o)
  o = o or {}
  return setmetatable({
    quiet = o.quiet or false, verbose = o.verbose or false, every = o.every or 10,
    tty = hnet.sys.isatty(1), out = io.stdout, drawn = false,
  }, P)
end

local function fmt_time(s)
  if s ~= s or s == math.huge then return "?" end
  if s >= 3600 then return ("%dh%02dm"):format(s // 3600, (s % 3600) // 60) end
  if s >= 60 then return ("%dm%02ds"):format(s // 60, math.floor(s % 60)) end
  return ("%.0fs"):format(s)
end

--- Print a whole line (clearing a redrawn progress line first).
function P:print(line)
  if self.drawn then self.out:write("\r\27[K"); self.drawn = false end
  self.out:write(line, "\n")
  self.out:flush()
end

function P:begin_task(k, n_tasks, n_iter, name)
  self.k, self.n_tasks, self.n_iter, self.name = k, n_tasks, n_iter, name
  self.t0 = hnet.sys.clock()
  self.last = self.t0
  self.loss, self.reg, self.n_avg = 0, 0, 0
end

--- One training step done: iteration it, its loss and regulariser value.
function P:step(it, loss, reg, batch)
  if self.quiet then return end
  self.loss, self.reg, self.n_avg = self.loss + loss, self.reg + (reg or 0), self.n_avg + 1
  local now = hnet.sys.clock()
  local interval = (self.tty and not self.verbose) and 0.25 or self.every
  if now - self.last < interval and it ~= self.n_iter then return end
  local el = now - self.t0
  local rate = it / math.max(el, 1e-9)
  local line = ("task %d/%d  it %d/%d  loss %.4f  reg %.3g  %.0f ex/s  ETA %s"):format(
    self.k, self.n_tasks, it, self.n_iter, self.loss / self.n_avg, self.reg / self.n_avg,
    rate * (batch or 1), fmt_time((self.n_iter - it) / rate))
  self.loss, self.reg, self.n_avg = 0, 0, 0
  self.last = now
  if self.tty and not self.verbose then
    self.out:write("\r\27[K", line)
    self.drawn = true
  else
    self.out:write(line, "\n")
  end
  self.out:flush()
end

function P:end_task()
  if self.drawn then self.out:write("\r\27[K"); self.drawn = false end
end

return M
