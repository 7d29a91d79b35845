--- Helpers shared by the experiment scripts: the common command-line
-- options, running several learners under several scenarios on one stream,
-- and the results table (printed and written as Markdown).
local hnet = require "hnet"
local cli = require "hnet.cli"

local M = {}

--- The options every experiment takes, merged with the script's own.
function M.options(args, own, title)
  local spec = {
    quick = { false, "a short smoke-test run (seconds, for tests)" },
    seed = { 1, "random seed" },
    out = { own.out_default or "runs/experiment", "run directory" },
    force = { false, "overwrite a finished run in --out" },
    quiet = { false, "print only results" },
    verbose = { false, "print progress as plain lines even on a terminal" },
    threads = { 0, "thread budget (0: all cores or HNET_THREADS)" },
  }
  for k, v in pairs(own) do if k ~= "out_default" then spec[k] = v end end
  local o, rest = cli.parse(args, spec, title)
  if #rest > 0 then error(("unexpected argument '%s' (see --help)"):format(rest[1]), 0) end
  if o.threads > 0 then hnet.threads(o.threads) end
  hnet.seed(o.seed)
  return o
end

--- Run each learner (name -> options) under each scenario on `stream`.
-- Every run gets its own directory out/<learner>-<scenario>. Returns the
-- list of result rows.
function M.compare(spec)
  local rows = {}
  for _, name in ipairs(spec.learners) do
    for _, sc in ipairs(spec.scenarios) do
      local lopts = spec.learner_options(name, sc)
      local learner = hnet.learners.new(name, lopts)
      local run = hnet.run(learner, spec.stream, {
        scenario = sc, out = spec.out and (spec.out .. "/" .. name .. "-" .. sc),
        force = spec.force, quiet = spec.quiet, verbose = spec.verbose, eval_max = spec.eval_max,
        meta = spec.meta,
      })
      if not spec.quiet then run:report() end
      local s = run.summary
      rows[#rows + 1] = { learner = name, scenario = sc, acc = s.acc, bwt = s.bwt, fwt = s.fwt,
                          forgetting = s.forgetting, task_inference = s.task_inference,
                          mse = s.mse, final = s.final or s.final_mse, seconds = s.seconds,
                          params = s.trainable_parameters, run = run }
    end
  end
  return rows
end

local function f2(v) return v and ("%.2f"):format(v) or "–" end

--- The results as a Markdown table.
function M.markdown(rows, title)
  local lines = {}
  if title then lines[#lines + 1] = "### " .. title; lines[#lines + 1] = "" end
  local regression = rows[1] and rows[1].mse ~= nil
  if regression then
    lines[#lines + 1] = "| learner | per-task test MSE | mean MSE | seconds |"
    lines[#lines + 1] = "|---|---|---|---|"
    for _, r in ipairs(rows) do
      local per = {}
      for j, v in ipairs(r.final) do per[j] = ("%.5f"):format(v) end
      lines[#lines + 1] = ("| %s | %s | %.5f | %.1f |"):format(r.learner, table.concat(per, ", "),
                                                            r.mse, r.seconds)
    end
  else
    lines[#lines + 1] = "| learner | scenario | ACC % | BWT | FWT | forgetting | task inference % | params | seconds |"
    lines[#lines + 1] = "|---|---|---|---|---|---|---|---|---|"
    for _, r in ipairs(rows) do
      lines[#lines + 1] = ("| %s | %s | %s | %s | %s | %s | %s | %d | %.1f |"):format(
        r.learner, r.scenario, f2(r.acc), f2(r.bwt), f2(r.fwt), f2(r.forgetting),
        f2(r.task_inference), r.params, r.seconds)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Print the table and write it to out/results.md.
function M.finish(rows, o, title)
  local md = M.markdown(rows, title)
  print(md)
  if o.out then
    assert(hnet.sys.mkdir_p(o.out))
    assert(hnet.sys.write_file(o.out .. "/results.md", md))
  end
  return md
end

return M
