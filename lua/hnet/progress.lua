--- Progress of long work: task k/T, iteration, loss, regulariser, examples/s
-- and ETA. On a terminal the line is redrawn in place; elsewhere (CI, files)
-- a plain line is printed every `every` seconds (default 10). quiet prints
-- nothing but results; verbose prints a plain line per `every` even on a
-- terminal. `sink` (optional), a function(line), receives a plain line every
-- `every` seconds whatever is printed (hnet.run keeps them for log.txt).
--
--   local p = progress.new { quiet =, verbose =, every = 10, sink = fn, out = io.stdout }
--   p:begin_task(k, n_tasks, n_iter, name, first_it)   -- first_it: 1, or where a resumed task goes on
--   p:step(it, loss, reg, batch)  ...  p:end_task()
--   p:print(line)   -- a whole line, clearing a redrawn progress line first
local hnet = require "hnet"

local M = {}
local P = {}
P.__index = P

function M.new(o)
  o = o or {}
  local out = o.out or io.stdout
  return setmetatable({
    quiet = o.quiet or false, verbose = o.verbose or false, every = o.every or 10,
    tty = o.tty, out = out, drawn = false, sink = o.sink,
  }, P)
end

-- Is the output a terminal? (Asked once, lazily, for stdout only.)
function P:is_tty()
  if self.tty == nil then self.tty = self.out == io.stdout and hnet.sys.isatty(1) or false end
  return self.tty
end

local function fmt_time(s)
  if s ~= s or s == math.huge then return "?" end
  if s >= 3600 then return ("%dh%02dm"):format(s // 3600, (s % 3600) // 60) end
  if s >= 60 then return ("%dm%02ds"):format(s // 60, math.floor(s % 60)) end
  return ("%.0fs"):format(s)
end
M.fmt_time = fmt_time

--- Clear a redrawn progress line, if one is shown.
function P:clear()
  if self.drawn then self.out:write("\r\27[K"); self.drawn = false; self.out:flush() end
end

--- Print a whole line (clearing a redrawn progress line first).
function P:print(line)
  self:clear()
  self.out:write(line, "\n")
  self.out:flush()
end

function P:begin_task(k, n_tasks, n_iter, name, first_it)
  self.k, self.n_tasks, self.n_iter, self.name = k, n_tasks, n_iter, name
  self.first = first_it or 1
  self.t0 = hnet.sys.clock()
  self.last, self.last_plain = self.t0, self.t0
  self.loss, self.reg, self.n_avg = 0, 0, 0
end

--- One training step done: iteration it, its loss and regulariser value.
function P:step(it, loss, reg, batch)
  if self.quiet and not self.sink then return end
  self.loss, self.reg, self.n_avg = self.loss + loss, self.reg + (reg or 0), self.n_avg + 1
  local now = hnet.sys.clock()
  local redraw = not self.quiet and self:is_tty() and not self.verbose
  local plain_due = now - self.last_plain >= self.every or it == self.n_iter
  local draw_due = redraw and (now - self.last >= 0.25 or it == self.n_iter)
  if not plain_due and not draw_due then return end
  local el = now - self.t0
  local rate = (it - self.first + 1) / math.max(el, 1e-9)
  local line = ("task %d/%d  it %d/%d  loss %.4f  reg %.3g  %.0f ex/s  ETA %s"):format(
    self.k, self.n_tasks, it, self.n_iter, self.loss / self.n_avg, self.reg / self.n_avg,
    rate * (batch or 1), fmt_time((self.n_iter - it) / rate))
  self.loss, self.reg, self.n_avg = 0, 0, 0
  self.last = now
  if plain_due then
    self.last_plain = now
    if self.sink then self.sink(line) end
  end
  if self.quiet then return end
  if redraw then
    self.out:write("\r\27[K", line)
    self.drawn = true
    self.out:flush()
  elseif plain_due then
    self.out:write(line, "\n")
    self.out:flush()
  end
end

function P:end_task()
  self:clear()
end

return M
