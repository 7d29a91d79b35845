--- Helpers shared by the experiment scripts: the common command-line
-- options, running several learners under several scenarios on one stream,
-- and the results table (printed and written as Markdown).
local hnet = require "hnet"
local cli = require "hnet.cli"

local M = {}

-- The learners an experiment's command line asks for: --learners (or
-- --learners=) as given, else the option's default.
local function learners_asked(args, default)
  local value = default
  for i = 1, #args do
    local a = args[i]
    if a == "--" then break end
    if a == "--learners" then value = args[i + 1] or value
    elseif tostring(a):match("^%-%-learners=") then value = a:sub(#"--learners=" + 1) end
  end
  return cli.list(value or "")
end

-- The command-line types of learner options (a table option has none).
local CLI_TYPES = { integer = true, number = true, string = true, boolean = true }

-- The command-line options of a learner's cli spec: each option of a
-- command-line type under its name, and each such field of a table option
-- (at any depth) as <table>_<field>: --replay_beta is the option
-- replay = { beta = ... }, --replay_hnet_chunk replay = { hnet = { chunk = ... } }.
-- Entries { name =, path = { "replay", "beta" }, e = the field's spec entry }.
local function flat_options(s)
  local out = {}
  local function walk(entries, prefix, path)
    for _, e in ipairs(entries) do
      local p = { table.unpack(path) }
      p[#p + 1] = e.name
      if CLI_TYPES[e.type] then
        out[#out + 1] = { name = prefix .. e.name, path = p, e = e }
      elseif e.type == "table" and e.fields then
        walk(e.fields, prefix .. e.name .. "_", p)
      end
    end
  end
  walk(s or {}, "", {})
  return out
end

-- Every option of the asked-for learners' cli specs that the experiment
-- does not define itself becomes a command-line option, nil unless given
-- (M.learner_options passes it to the learners that take it): a learner
-- from the user's folder gets its options without an edit of the script.
local function add_learner_options(spec, args, default)
  local takers, order, names = {}, {}, learners_asked(args, default)
  for _, name in ipairs(names) do
    local s = hnet.learners.exists(name) and hnet.learners.spec(name)
    for _, f in ipairs(flat_options(s)) do
      if spec[f.name] == nil or takers[f.name] then
        if not takers[f.name] then
          takers[f.name] = {}
          order[#order + 1] = f
        end
        table.insert(takers[f.name], name)
      end
    end
  end
  local asked = #names
  for _, f in ipairs(order) do
    local e = f.e
    local who = #takers[f.name] == asked and asked > 1 and "every learner's" or (table.concat(takers[f.name], ", ") .. "'s")
    local what = #f.path > 1 and (" " .. table.concat(f.path, ".")) or ""
    local unset = e.default == nil and "the experiment's setting, if any"
      or ("the experiment's setting, else %s"):format(tostring(e.default))
    spec[f.name] = { nil, ("%s option%s: %s; not given: %s"):format(who, what, e.help or e.name, unset), type = e.type }
  end
end

--- The options every experiment takes, merged with the script's own:
-- --quick --seed --out --force --quiet --verbose --threads.
--
-- A script whose work all goes through hnet.run (directly or through
-- M.compare), and which recomputes whatever it does after its runs exactly
-- from them (own seeds, no global random state), says so with
-- `resumable = true` in `own`; it then also takes --resume DIR (continue the
-- interrupted experiment whose --out was DIR: every hnet.run it makes
-- resumes from its checkpoint, finished runs are loaded and runs not yet
-- started start) and --checkpoint_every MINUTES (checkpoints within a task;
-- 0: only at the end of each task). Other scripts are not offered them,
-- and an --out that already holds results is refused unless --force.
-- Either way an --out that holds files hnet did not write is refused.
--
-- Returns the options and the script's context, to pass to hnet.run
-- (opts.context) and M.compare (spec.context), so that every run of the
-- script sees --resume and --checkpoint_every and knows the script and its
-- command line:  local o, context = E.options(arg, {...}).  An experiment
-- run by another one gets the outer one's context as args.context (the arg
-- table it is given).
function M.options(args, own, title)
  local resumable = own.resumable == true
  local spec = {
    quick = { false, "a short smoke-test run (seconds, for tests)" },
    seed = { 1, "random seed" },
    out = { own.out_default or "runs/experiment", "run directory" },
    force = { false, resumable and "overwrite a finished or interrupted run in --out"
                     or "overwrite the results of an earlier run in --out" },
    quiet = { false, "print only results" },
    verbose = { false, "print progress as plain lines even on a terminal" },
    threads = { 0, "thread budget (0: all cores or HNET_THREADS)", min = 0, max = 1024 },
  }
  if resumable then
    spec.resume = { nil, "continue the interrupted run in this directory (its --out)", type = "string" }
    spec.checkpoint_every = { 10.0, "minutes between checkpoints within a task (0: only at task ends)", min = 0 }
    require("hnet.distributed").add_options(spec) -- --distributed, --dist_split, --dist_check
  end
  for k, v in pairs(own) do if k ~= "out_default" and k ~= "resumable" then spec[k] = v end end
  if own.learners and own.learners.accept == hnet.learners.exists then
    add_learner_options(spec, args, own.learners[1])
  end
  local o, rest = cli.parse(args, spec, title)
  local resume = resumable and o.resume or nil -- not offered: not resuming
  if #rest > 0 then error(("unexpected argument '%s' (see --help)"):format(rest[1]), 0) end
  local explicit_out = false
  for i = 1, #args do
    local a = args[i]
    if a == "--out" or tostring(a):match("^%-%-out=") then explicit_out = true end
  end
  if resume then
    local dir = resume:gsub("/+$", "")
    if dir == "" then dir = "/" end
    if explicit_out and o.out:gsub("/+$", "") ~= dir then
      error(("options --out %s and --resume %s name different directories: a run resumes in its own directory (leave out --out)")
        :format(o.out, resume), 0)
    end
    local kind = hnet.sys.exists(dir)
    if kind ~= "directory" then
      error(("option --resume: '%s' %s; give the --out directory of the interrupted run")
        :format(dir, kind and "is not a directory" or "does not exist"), 0)
    end
    o.out = dir
  end
  if o.threads > 0 then hnet.threads(o.threads) end
  hnet.seed(o.seed)
  -- An experiment run by another one (paper_tables runs toy_regression, ...)
  -- writes under the outer one's --out: it inherits the outer --resume, and
  -- interrupt messages name the outer command.
  local prev = type(args) == "table" and args.context or nil
  if prev ~= nil and type(prev) ~= "table" then
    error(("hnet.experiment.options: args.context must be the context of the outer experiment (the second result of its options()), got %s")
      :format(type(prev)), 2)
  end
  local root = prev and prev.root
  local function under(d, base)
    d, base = d:gsub("/+$", ""), base:gsub("/+$", "")
    return d:sub(1, #base + 1) == base .. "/"
  end
  local nested = root and under(o.out, root.out) or false
  local others = resumable and require("hnet.distributed").apply_options(o) -- rank 0 checks --out alone
  if not (nested and root.resume) and not others then M.check_out(o, resumable, resume ~= nil) end
  local ctx = require("hnet.run").command_of(args)
  ctx.resume, ctx.resume_strict = resume and o.out or nil, resume ~= nil
  ctx.checkpoint_every, ctx.out, ctx.seed = o.checkpoint_every, o.out, o.seed
  if resumable and o.distributed then ctx.distributed, ctx.dist_check = o.dist_split, o.dist_check end
  if nested then
    ctx.root = root
    if not ctx.resume and root.resume then ctx.resume, ctx.resume_strict = o.out, false end
  else
    ctx.root = ctx
  end
  return o, ctx
end

--- Refuse an --out that this script must not write into: a folder of
-- someone else's files (always), or, for a script that cannot resume, an
-- earlier run's results unless --force (whose stale results go first).
-- Scripts that resume leave run directories to hnet.run, which refuses a
-- finished or interrupted run without force or resume.
function M.check_out(o, resumable, resuming)
  if resuming then return end
  local rundir = require "hnet.rundir"
  local kind, why = rundir.kind(o.out)
  if kind == "file" or kind == "other" then
    error(("option --out: '%s' %s; an experiment writes only into a new or empty directory or its own earlier --out: choose another --out")
      :format(o.out, why), 0)
  end
  if resumable or (kind ~= "run" and kind ~= "experiment") then return end
  if kind == "run" then
    error(("option --out: '%s' is the run directory of an hnet.run, not this script's results: choose another --out")
      :format(o.out), 0)
  end
  if not o.force then
    error(("option --out: '%s' already holds the results of an earlier run (this script cannot resume one); choose another --out, or pass --force to overwrite them")
      :format(o.out), 0)
  end
  for _, f in ipairs { "summary.json", "results.md" } do os.remove(o.out .. "/" .. f) end
end

--- The option spec of a comma-separated list of learners (for M.options):
-- every entry must be a learner hnet.learners finds (built in, a file
-- learners/NAME.lua in a --lib or HNET_PATH folder, or a registered name),
-- checked when the command line is parsed, before anything trains.
function M.learners_option(default, help)
  return { default, help or "comma-separated learners", choices = hnet.learners.list(), list = true,
           accept = hnet.learners.exists }
end

--- function(name) -> the options table of learner `name`, built from the
-- learner's cli spec (hnet.learners.spec; a learner without one is taken
-- to have the options every learner shares, learners.common.SHARED):
--   def.all       the experiment's settings, given to every learner that
--                 has an option of that name (target, lr, batch, ...)
--   def.learner   settings of one learner: { hypernet = { hnet = ... } }
--   o             the parsed command line: each option that names an
--                 option of the learner (iterations, seed, beta, and the
--                 learner options M.options added) wins over both
--   def.rename    command-line options that feed a learner option of
--                 another name: ewc_lambda = { ewc = "lambda", online_ewc =
--                 "lambda" } (learner -> option), or a plain name for every
--                 learner that has it
M.LEARNER_OPTIONS = {
  { name = "all", type = "table", help = "the experiment's settings, given to every learner that has an option of that name" },
  { name = "learner", type = "table", help = "settings of one learner: { hypernet = { hnet = ... } }" },
  { name = "rename", type = "table",
    help = "command-line options that feed a learner option of another name: ewc_lambda = { ewc = \"lambda\" }, or a plain name" },
}

-- A field of a learner's table option comes from <table>_<field>
-- (o.replay_beta sets replay.beta) over def's table.
function M.learner_options(o, def)
  def = require("hnet.spec").check(M.LEARNER_OPTIONS, def, "hnet.experiment.learner_options", 2)
  local shared = {}
  for _, e in ipairs(require("hnet.learners.common").SHARED) do shared[e.name] = true end
  return function(name)
    local s = hnet.learners.spec(name)
    local takes = shared
    if s then
      takes = {}
      for _, e in ipairs(s) do takes[e.name] = true end
    end
    local t = {}
    for k, v in pairs(def.all or {}) do if takes[k] then t[k] = v end end
    for k, v in pairs((def.learner or {})[name] or {}) do t[k] = v end
    -- Renamed options first: an option given under the learner's own name
    -- (--lambda beside --ewc_lambda) wins.
    for k, r in pairs(def.rename or {}) do
      local key = r
      if type(r) == "table" then key = r[name] end
      if key and takes[key] and o[k] ~= nil then t[key] = o[k] end
    end
    for k, v in pairs(o) do
      if takes[k] and not (def.rename or {})[k] then t[k] = v end
    end
    -- A field of a table option (--replay_beta) over the table the settings
    -- gave, which is copied: the settings' tables (a learner's presets) stay.
    for _, f in ipairs(s and flat_options(s) or {}) do
      if #f.path > 1 and o[f.name] ~= nil then
        local node = t
        for i = 1, #f.path - 1 do
          local k = f.path[i]
          local copy = {}
          for kk, vv in pairs(type(node[k]) == "table" and node[k] or {}) do copy[kk] = vv end
          node[k], node = copy, copy
        end
        node[f.path[#f.path]] = o[f.name]
      end
    end
    return t
  end
end

--- The option spec of a comma-separated list of hnet.run scenarios.
function M.scenarios_option(default, help)
  return { default, help or "comma-separated scenarios", choices = require("hnet.run").scenarios(),
           list = true }
end

--- The option spec of --inference: the task-inference policy of the runs
-- whose task is not given (hnet.run's option inference).
function M.inference_option()
  return { "entropy", "task-inference policy when the task is not given", choices = require("hnet.run.evaluate").policy_names() }
end

--- hnet.experiment.compare: each learner under each scenario on one
-- stream, in one process or spread over the ranks of an mpirun job
-- (lua/hnet/compare.lua); hnet.experiment.grid: a learner over a grid of
-- option values (lua/hnet/sweep.lua).
local compare = require "hnet.compare"
M.COMPARE_OPTIONS, M.compare = compare.OPTIONS, compare.run
M.GRID_OPTIONS, M.grid = require("hnet.sweep").GRID_OPTIONS, require("hnet.sweep").grid

--- The results as a Markdown table: a column per registered metric of the
-- rows' kind (hnet.metrics.list).
function M.markdown(rows, title)
  local lines = {}
  if title then lines[#lines + 1] = "### " .. title; lines[#lines + 1] = "" end
  local regression = rows[1] and rows[1].regression
  local shown = hnet.metrics.list(regression and "regression" or "classification")
  local heads, rule = {}, {}
  for _, e in ipairs(shown) do heads[#heads + 1] = " " .. e.header .. " |"; rule[#rule + 1] = "---|" end
  local function cells(r)
    local c = {}
    for _, e in ipairs(shown) do c[#c + 1] = " " .. hnet.metrics.format(e, r[e.name], "–") .. " |" end
    return table.concat(c)
  end
  if regression then
    lines[#lines + 1] = "| learner | per-task test MSE |" .. table.concat(heads) .. " seconds |"
    lines[#lines + 1] = "|---|---|" .. table.concat(rule) .. "---|"
    for _, r in ipairs(rows) do
      local per = {}
      for j, v in ipairs(r.final) do per[j] = ("%.5f"):format(v) end
      lines[#lines + 1] = ("| %s | %s |%s %.1f |"):format(r.learner, table.concat(per, ", "), cells(r), r.seconds)
    end
  else
    lines[#lines + 1] = "| learner | scenario |" .. table.concat(heads) .. " task inference % | params | seconds |"
    lines[#lines + 1] = "|---|---|" .. table.concat(rule) .. "---|---|---|"
    for _, r in ipairs(rows) do
      local sc = r.shared_with and ("%s (the %s run)"):format(r.scenario, r.shared_with) or r.scenario
      local ti = r.task_inference and ("%.2f"):format(r.task_inference) or "–"
      lines[#lines + 1] = ("| %s | %s |%s %s | %d | %.1f |"):format(r.learner, sc, cells(r), ti, r.params, r.seconds)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Print the table and write it to out/results.md.
-- Under mpirun every rank has the rows; rank 0 alone prints and writes.
function M.finish(rows, o, title)
  local md = M.markdown(rows, title)
  if hnet.dist.rank() ~= 0 then return md end
  print(md)
  if o.out then
    assert(hnet.sys.mkdir_p(o.out))
    assert(hnet.sys.write_file(o.out .. "/results.md", md))
  end
  return md
end

--- `./hnet help` entries (lua/hnet/help.lua reads them).
M.HELP = {
  { name = "hnet.experiment.learner_options", sig = "hnet.experiment.learner_options(o, def) -> function(name) -> opts",
    spec = M.LEARNER_OPTIONS, about = "each learner's options from the command line and the experiment's settings (def: argument #2)" },
  { name = "hnet.experiment.compare", sig = "hnet.experiment.compare(opts) -> rows", spec = M.COMPARE_OPTIONS,
    about = "run each learner under each scenario on one stream; one result row per run; under mpirun -np N the runs are spread over the ranks (docs/distributed.md)" },
  { name = "hnet.experiment.grid", also = { "hnet.sweep.grid" }, sig = "hnet.experiment.grid(opts) -> rows", spec = M.GRID_OPTIONS,
    about = "one learner over every combination of option values (one run each, row.point its values); under mpirun -np N spread over the ranks like compare" },
}

return M
