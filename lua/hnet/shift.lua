--- hnet.shift — distribution shift without task boundaries: change
-- detectors over per-batch statistics, drifting streams, and a hypernetwork
-- learner that keeps a pool of task embeddings it can open and reuse itself.
-- Each concept lives in its own file under lua/hnet/shift/; this module
-- gathers their functions into one table:
--   hnet.shift.cusum, .ztest, .detector, .score_alarms   (shift/detectors.lua)
--   hnet.shift.drift_stream, .subset                      (shift/drift.lua)
--   hnet.shift.pool                                       (shift/pool.lua)
-- The usage of each is in the header of its file.
local M = { HELP = {} } -- HELP: the parts' `./hnet help` entries, together

for _, part in ipairs { "detectors", "drift", "pool" } do
  for k, v in pairs(require("hnet.shift." .. part)) do
    if k == "HELP" then
      for _, e in ipairs(v) do M.HELP[#M.HELP + 1] = e end
    else
      assert(M[k] == nil, "hnet.shift: two parts define " .. k)
      M[k] = v
    end
  end
end

return M
