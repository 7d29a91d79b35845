-- allreduce_cost.lua — the measured cost of hnet.dist.allreduce (one
-- MPI_Allreduce, sum, in place) against the buffer's size: the
-- communication of one distributed training step (docs/distributed_training.md).
-- Sizes double from --min_kb up to --max_floats (default: the fused buffer
-- of a PermutedMNIST-100 hypernetwork step: |θ| + embedding + 3 floats, as
-- experiments/step_timing.lua --config pm100 builds it). One line per size
-- on rank 0: RESULT allreduce ranks=N bytes=B median_ms=T GBps=G.
--   mpirun -np 2 --mca btl tcp,self ./hnet tests/bench/allreduce_cost.lua [--repeats 20]
local hnet = require "hnet"
local cli = require "hnet.cli"

local o = cli.parse(arg, {
  min_kb = { 1, "smallest buffer in KiB", min = 1 },
  max_floats = { 0, "largest buffer in floats (0: the PermutedMNIST-100 step's fused buffer)", min = 0 },
  repeats = { 20, "timed allreduces per size (after 3 warm-up ones)", min = 1 },
}, "allreduce_cost.lua: the allreduce's time against its size")

local max = o.max_floats
if max == 0 then
  -- The PermutedMNIST-100 configuration of experiments/step_timing.lua.
  local net = hnet.net { input = { 1024 }, layers = { { "linear", 1000 }, { "relu" }, { "linear", 1000 }, { "relu" },
                                                       { "linear", 10 } } }
  local h = hnet.hypernet { target = net, embedding = 128, hidden = { 200, 250, 350 }, act = "relu",
                            chunk = 7500, chunk_embedding = 12 }
  max = h:n_params() + 128 + 3
end
local rank, size = hnet.dist.rank(), hnet.dist.size()
local sizes = {}
local n = o.min_kb * 256
while n < max do sizes[#sizes + 1] = n; n = n * 2 end
sizes[#sizes + 1] = max
local buf = hnet.tensor(max)
for _, k in ipairs(sizes) do
  local v = buf:rows(1, k)
  local times = {}
  for r = 1, o.repeats + 3 do
    v:fill(1)
    hnet.dist.barrier()
    local t0 = hnet.sys.clock()
    hnet.dist.allreduce(v)
    local dt = hnet.sys.clock() - t0
    if r > 3 then times[#times + 1] = dt end
  end
  assert(v:get(1) == size, "the allreduce did not sum") -- every rank added its ones
  -- The slowest rank's time is the collective's: gather every rank's median.
  table.sort(times)
  local med = times[(#times + 1) // 2]
  local all = hnet.dist.allgather(("%.9f"):format(med))
  local worst = 0
  for _, s in ipairs(all) do worst = math.max(worst, tonumber(s)) end
  if rank == 0 then
    print(("RESULT allreduce ranks=%d bytes=%d median_ms=%.4f GBps=%.3f"):format(size, k * 4, worst * 1e3,
      k * 4 / worst / 1e9))
  end
end
