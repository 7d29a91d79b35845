--- hnet.dist — the processes of an Open MPI job (mpirun -np N ./hnet ...).
--
-- The C functions of hnet.core.dist (engine/dist.c) with their help entries.
-- In a build without MPI (make without MPI=1), or a process started without
-- mpirun, the group has one process: rank 0 of size 1, and every collective
-- is a copy. Ranks are MPI's, 0-based; job numbers are 1-based.
local core = require("hnet.core").dist

local M = {}
for k, v in pairs(core) do M[k] = v end

--- Raise, naming `what`, unless this hnet was built with MPI.
function M.require_built(what)
  if not core.built() then
    error(("%s needs hnet built with Open MPI: run `make MPI=1` (Debian packages libopenmpi-dev and "
      .. "openmpi-bin) and start it with mpirun"):format(what), 2)
  end
end

local LOCAL = "positional arguments only; this rank alone (no communication)"
local COLLECTIVE = "positional arguments only; collective: every rank calls it, in the same order, or the job waits"
local COLLECTIVES = { allreduce = true, bcast = true, allgather = true, barrier = true, jobs = true, exit = true }
local function f(name, sig, about)
  return { name = "hnet.dist." .. name, sig = sig, about = about, notes = COLLECTIVES[name] and COLLECTIVE or LOCAL }
end
M.HELP = {
  f("built", "hnet.dist.built() -> boolean", "compiled with Open MPI (make MPI=1)"),
  f("rank", "hnet.dist.rank() -> integer", "this process's rank in the job, 0 .. size()-1 (0 alone)"),
  f("size", "hnet.dist.size() -> integer", "processes in the job (1 without mpirun)"),
  f("local_size", "hnet.dist.local_size() -> integer", "processes of the job on this node; the default thread budget is the node's cores divided by it"),
  f("allreduce", "hnet.dist.allreduce(t) -> t", "t summed over every rank, in place (collective)"),
  f("bcast", "hnet.dist.bcast(s, root = 0) -> string", "rank root's string on every rank (collective)"),
  f("allgather", "hnet.dist.allgather(s) -> { s of rank 0, s of rank 1, ... }", "every rank's string, in rank order (collective)"),
  f("barrier", "hnet.dist.barrier()", "wait until every rank has come here (collective)"),
  f("jobs", "for job in hnet.dist.jobs(n) do ... end",
    "hand out jobs 1..n to ranks as they finish (rank 0 serves the queue while it works); every rank calls it with the same n; its end is a barrier"),
  f("abort", "hnet.dist.abort(message)", "print message and end every rank of the job with status 1 (alone: raise it)"),
  f("checksum", "hnet.dist.checksum(t, ...) -> integer",
    "a 64-bit hash (FNV-1a) of the tensors' bytes: equal on two ranks when their floats are equal bit for bit"),
  f("exit", "hnet.dist.exit(code)",
    "leave the job (MPI_Finalize: waits until every rank leaves) and end this process with status code"),
  f("require_built", "hnet.dist.require_built(what)", "raise unless built with MPI, naming what needs it"),
}

return M
