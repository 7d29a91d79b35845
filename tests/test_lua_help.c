/*
 * test_lua_help.c — option specs (lua/hnet/spec.lua) and `./hnet help NAME`:
 * the spec checker's errors, defaults and conversions in-process; the
 * learners' checks through their cli specs; experiment option tables built
 * from the specs; and ./hnet help for a learner, a function, a user learner
 * found through --lib and HNET_PATH, the index, and unknown names (exit
 * status 1, close names listed). Run from the repository root after
 * `make all` (./hnet must exist).
 */
#include "harness.h"
#include "lua_harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef hnt_proc result;

static char tmpdir[64];
static lua_State *L;

/* Run argv with extra environment entries ("K=V", NULL-terminated; may be
 * NULL) and an empty stdin. */
static result *run(const char *const *argv, const char *const *env) {
  return hnt_spawn(tmpdir, argv, env, NULL);
}

/* ---- the spec checker ------------------------------------------------------------ */

static const char *const spec_fixture =
    "S = require 'hnet.spec'\n"
    "SPEC = {\n"
    "  { name = 'n', type = 'integer', default = 3, min = 1, max = 9, help = 'a count' },\n"
    "  { name = 'x', type = 'number', default = 0.5, above = 0, help = 'a positive number' },\n"
    "  { name = 'y', type = 'number', default = 1, min = -1, max = 1 },\n"
    "  { name = 'act', type = 'string', default = 'relu', choices = { 'relu', 'elu' } },\n"
    "  { name = 'flag', type = 'boolean', default = false },\n"
    "  { name = 'sizes', type = 'int_list', default = { 4 } },\n"
    "  { name = 'fn', type = 'function' },\n"
    "  { name = 'need', type = 'string', required = true },\n"
    "  { name = 'sub', type = 'table', fields = {\n"
    "      { name = 'k', type = 'integer', default = 2, min = 0 },\n"
    "      { name = 'w', type = 'string', default = 'a' } } },\n"
    "}\n";

typedef struct misuse {
  const char *chunk;
  const char *expect;
} misuse;

static void test_spec_errors(void **state) {
  (void)state;
  hntl_assert_ok(L, spec_fixture);
  static const misuse cases[] = {
      {"S.check(SPEC, 5, 'f')", "bad argument #1 to 'f' (options table expected, got number)"},
      {"S.check(SPEC, { need = 'a', nn = 1 }, 'f')",
       "bad argument #1 to 'f' (unknown option 'nn' (allowed: act, flag, fn, n, need, sizes, sub, x, y))"},
      {"S.check(SPEC, {}, 'f')", "bad argument #1 to 'f' (field 'need' is required)"},
      {"S.check(SPEC, { need = 'a', n = 1.5 }, 'f')", "(field 'n': integer expected, got 1.5)"},
      {"S.check(SPEC, { need = 'a', n = 0 }, 'f')", "(field 'n': integer in [1, 9] expected, got 0)"},
      {"S.check(SPEC, { need = 'a', x = 0 }, 'f')", "(field 'x': a positive number expected, got 0)"},
      {"S.check(SPEC, { need = 'a', x = math.huge }, 'f')", "(field 'x': finite number expected, got inf)"},
      {"S.check(SPEC, { need = 'a', y = 2 }, 'f')", "(field 'y': finite number in [-1, 1] expected, got 2)"},
      {"S.check(SPEC, { need = 'a', act = 'tanh' }, 'f')", "(field 'act': one of relu, elu expected, got 'tanh')"},
      {"S.check(SPEC, { need = 'a', act = 1 }, 'f')", "(field 'act': string expected, got number)"},
      {"S.check(SPEC, { need = 'a', flag = 1 }, 'f')", "(field 'flag': boolean expected, got number)"},
      {"S.check(SPEC, { need = 'a', sizes = { 3, 0 } }, 'f')",
       "(field 'sizes': entry 2 must be a positive integer, got 0)"},
      {"S.check(SPEC, { need = 'a', sizes = 'x' }, 'f')", "(field 'sizes': list of integers expected, got string)"},
      {"S.check(SPEC, { need = 'a', fn = 1 }, 'f')", "(field 'fn': function expected, got number)"},
      {"S.check(SPEC, { need = 'a', sub = 1 }, 'f')",
       "bad argument #1 to 'f (field 'sub')' (options table expected, got number)"},
      {"S.check(SPEC, { need = 'a', sub = { kk = 1 } }, 'f')",
       "bad argument #1 to 'f (field 'sub')' (unknown option 'kk' (allowed: k, w))"},
      {"S.check(SPEC, { need = 'a', sub = { k = -1 } }, 'f')",
       "bad argument #1 to 'f' (field 'k': integer >= 0 expected, got -1)"},
      {"S.check(SPEC, { need = 'a', n = 0 }, 'f', 3)", "bad argument #3 to 'f' (field 'n'"},
      /* A spec is checked too: a misspelt key would leave a value unchecked. */
      {"S.check({ { name = 'a', type = 'integer', mim = 1 } }, {}, 'f')", "unknown key 'mim'"},
      {"S.check({ { name = 'a', type = 'int' } }, {}, 'f')", "type must be one of"},
      {"S.check({ { name = 'a', type = 'integer' }, { name = 'a', type = 'number' } }, {}, 'f')",
       "the name is given twice"},
      {"S.check({ { name = 'a', type = 'integer', choices = { 'x' } } }, {}, 'f')", "choices must be"},
      {"S.check({ { name = 'a', type = 'string', min = 1 } }, {}, 'f')", "min is a number bound"},
      {"S.check({ { name = 'a', type = 'string', required = true, default = 'x' } }, {}, 'f')",
       "a required option has no default"},
      /* A table of defaults in place of a list: an empty spec otherwise. */
      {"S.check({ lambda = 0.05 }, {}, 'f')", "got the key 'lambda'"},
      {"S.extend({}, { lambda = 0.05 })", "got the key 'lambda'"},
      {"require('hnet.learners.plain').class('l2', { lambda = 0.05 }, {})",
       "hnet.learners.plain.class('l2', extra): a list of option entries"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) hntl_assert_err(L, cases[i].chunk, cases[i].expect);
}

static void test_spec_defaults(void **state) {
  (void)state;
  hntl_assert_ok(L, spec_fixture);
  hntl_assert_ok(L,
                 "local o = S.check(SPEC, { need = 'q', n = 4.0, sizes = 7, sub = { w = 'b' } }, 'f')\n"
                 "assert(math.type(o.n) == 'integer' and o.n == 4, 'integer conversion')\n"
                 "assert(o.x == 0.5 and o.y == 1 and o.act == 'relu' and o.flag == false, 'defaults')\n"
                 "assert(#o.sizes == 1 and o.sizes[1] == 7, 'one integer is a list of one')\n"
                 "assert(o.sub.k == 2 and o.sub.w == 'b', 'nested defaults filled')\n"
                 "assert(o.fn == nil and o.need == 'q')\n"
                 "local d = S.check(SPEC, { need = 'q' }, 'f')\n"
                 "assert(d.sub.k == 2 and d.sub.w == 'a', 'an absent nested table gets its defaults')\n"
                 "local names = table.concat(S.names(SPEC), ',')\n"
                 "assert(names == 'n,x,y,act,flag,sizes,fn,need,sub', names)\n"
                 "local e = S.extend(SPEC, { { name = 'x', type = 'number', default = 2 }, { name = 'z', type = 'any' } })\n"
                 "assert(#e == 10 and S.find(e, 'x').default == 2 and e[2].name == 'x' and e[10].name == 'z')\n"
                 "local text = S.format(SPEC)\n"
                 "for _, want in ipairs { 'n                  integer   in [1, 9]; default 3', 'a count',\n"
                 "    'x                  number    > 0; default 0.5', 'one of relu, elu; default \"relu\"',\n"
                 "    'need               string    required', '      k                  integer   >= 0; default 2' } do\n"
                 "  assert(text:find(want, 1, true), 'help lacks: ' .. want .. '\\n' .. text)\n"
                 "end\n");
}

/* The learners check their options through their cli specs: the errors
 * name the learner and the field, as before. */
static void test_learner_specs(void **state) {
  (void)state;
  static const misuse cases[] = {
      {"hnet.learners.hypernet{ hnet = { chunk = -1 } }",
       "bad argument #1 to 'hnet.learners.hypernet' (field 'chunk': integer >= 0 expected, got -1)"},
      {"hnet.learners.hypernet{ hnet = { chnk = 1 } }",
       "bad argument #1 to 'hnet.learners.hypernet (field 'hnet')' (unknown option 'chnk' (allowed: act, alpha, chunk, "
       "chunk_embedding, embedding, hidden))"},
      {"hnet.learners.hypernet{ hnet = { act = 'gelu' } }", "(field 'act': one of relu, elu, tanh, sigmoid, identity expected"},
      {"hnet.learners.hypernet{ emb_var = 0 }", "(field 'emb_var': a positive number expected, got 0)"},
      {"hnet.learners.hypernet{ init = 'he' }", "(field 'init': one of hyperfan, xavier expected, got 'he')"},
      {"hnet.learners.hypernet{ lookahead = 1 }", "(field 'lookahead': boolean expected, got number)"},
      {"hnet.learners.hypernet{ betta = 1 }", "unknown option 'betta'"},
      {"hnet.learners.ewc{ fisher_samples = 0 }",
       "bad argument #1 to 'hnet.learners.ewc' (field 'fisher_samples': integer >= 1 expected, got 0)"},
      {"hnet.learners.online_ewc{ gamma = 2 }", "(field 'gamma': finite number in [0, 1] expected, got 2)"},
      {"hnet.learners.si{ xi = 0 }", "(field 'xi': finite number >= 1e-12 expected, got 0)"},
      {"hnet.learners.joint{ lambda = 1 }", "bad argument #1 to 'hnet.learners.joint' (unknown option 'lambda'"},
      {"hnet.learners.finetune{ batch = 0 }", "(field 'batch': integer >= 1 expected, got 0)"},
      {"hnet.shift.pool{ input_shape = {4}, n_outputs = 2, hnet = { chunk = -2 } }",
       "bad argument #1 to 'hnet.shift.pool' (field 'chunk': integer >= 0 expected, got -2)"},
      {"hnet.shift.pool{ n_outputs = 2 }", "(field 'input_shape' is required)"},
      {"hnet.learners.spec('nope')", "no learner named 'nope'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) hntl_assert_err(L, cases[i].chunk, cases[i].expect);
  hntl_assert_ok(L,
                 "local S = require 'hnet.spec'\n"
                 "local h = hnet.learners.hypernet{ hnet = { chunk = 4000 } }\n"
                 "assert(h.o.hnet.chunk == 4000 and h.o.hnet.embedding == 8 and h.o.hnet.act == 'relu')\n"
                 "assert(h.o.beta == 0.01 and h.o.init == 'hyperfan' and h.o.iterations == 1000)\n"
                 "assert(hnet.learners.spec('hypernet') == require('hnet.learners.hypernet').cli)\n"
                 "assert(S.find(hnet.learners.spec('ewc'), 'lambda').default == 5000)\n"
                 "assert(S.find(hnet.learners.spec('separate'), 'reset_optimiser').default == true)\n"
                 "assert(#hnet.learners.spec('finetune') == #require('hnet.learners.common').SHARED)\n"
                 "-- the pool's hnet option is the hypernet learner's, not a copy\n"
                 "assert(S.find(require('hnet.shift.pool').OPTIONS, 'hnet') == S.find(hnet.learners.spec('hypernet'), 'hnet'))\n"
                 "hnet.learners.register('plainfn', function(o) return hnet.learners.finetune(o) end)\n"
                 "local s, why = hnet.learners.spec('plainfn')\n"
                 "assert(s == nil and why:find('declares no options'), tostring(why))\n"
                 "hnet.learners.register('withcli', { new = function(o) return o end,\n"
                 "  cli = { { name = 'buffer', type = 'integer', default = 5 } } })\n"
                 "assert(hnet.learners.spec('withcli')[1].name == 'buffer')\n");
}

/* hnet.experiment.learner_options: the experiment's settings, per-learner
 * settings and command-line options, each given to the learners whose spec
 * has the option: the tables the experiments built by hand before. */
static void test_experiment_learner_options(void **state) {
  (void)state;
  hntl_assert_ok(
      L,
      "local E = hnet.experiment\n"
      "local function same(a, b, path)\n"
      "  if type(a) ~= 'table' or type(b) ~= 'table' then\n"
      "    assert(a == b and math.type(a) == math.type(b), path .. ': ' .. tostring(a) .. ' vs ' .. tostring(b))\n"
      "    return\n"
      "  end\n"
      "  for k, v in pairs(a) do same(v, b[k], path .. '.' .. tostring(k)) end\n"
      "  for k in pairs(b) do assert(a[k] ~= nil, path .. '.' .. tostring(k) .. ' unexpected') end\n"
      "end\n"
      "local target, H = { 'mlp', hidden = { 400, 400 } }, { embedding = 96, chunk = 42000 }\n"
      "local o = { quick = true, seed = 3, out = 'x', iterations = 40, beta = 0.01, lookahead = true,\n"
      "            init = 'xavier', ewc_lambda = 5000.0, si_c = 1.0, dataset = 'mnist', learners = 'a' }\n"
      "local f = E.learner_options(o, { all = { target = target, lr = 1e-3, batch = 128 },\n"
      "  learner = { hypernet = { hnet = H } },\n"
      "  rename = { ewc_lambda = { ewc = 'lambda', online_ewc = 'lambda' }, si_c = { si = 'c' } } })\n"
      "local base = { target = target, lr = 1e-3, batch = 128, iterations = 40, seed = 3 }\n"
      "local function with(t) local c = {} for k, v in pairs(base) do c[k] = v end\n"
      "  for k, v in pairs(t) do c[k] = v end return c end\n"
      "same(f('hypernet'), with { hnet = H, beta = 0.01, lookahead = true, init = 'xavier' }, 'hypernet')\n"
      "same(f('ewc'), with { lambda = 5000.0 }, 'ewc')\n"
      "same(f('online_ewc'), with { lambda = 5000.0 }, 'online_ewc')\n"
      "same(f('si'), with { c = 1.0 }, 'si')\n"
      "for _, n in ipairs { 'finetune', 'separate', 'joint' } do same(f(n), base, n) end\n"
      "-- an option given under the learner's own name wins over a renamed one\n"
      "o.lambda = 7\n"
      "same(f('ewc'), with { lambda = 7 }, 'ewc with lambda')\n"
      "same(f('si'), with { c = 1.0 }, 'si with lambda')\n"
      "o.lambda = nil\n"
      "-- a learner without a spec gets the options every learner shares\n"
      "hnet.learners.register('nospec', function(x) return hnet.learners.finetune(x) end)\n"
      "same(f('nospec'), base, 'nospec')\n");
  hntl_assert_err(L, "hnet.experiment.learner_options({}, { commons = {} })",
                  "bad argument #2 to 'hnet.experiment.learner_options' (unknown option 'commons'");
}

/* ---- ./hnet help ---------------------------------------------------------------------- */

static void test_help_learner(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", "help", "hypernet", NULL}, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  const char *want[] = {
      "hnet.learners.hypernet(opts) -> learner",
      "The hypernetwork learner (von Oswald et al., ICLR 2020).",
      "  beta               number    >= 0; default 0.01",
      "  hnet               table",
      "      chunk              integer   >= 0; default 0",
      "      act                string    one of relu, elu, tanh, sigmoid, identity; default \"relu\"",
      "  emb_var            number    > 0; default 1.0",
      "  init               string    one of hyperfan, xavier; default \"hyperfan\"",
      "  iterations         integer   >= 0; default 1000",
      "training iterations per task",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) hnt_expect_in(r->out, want[i], "help hypernet");
  r = run((const char *[]){"./hnet", "help", "online_ewc", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "  gamma              number    in [0, 1]; default 1.0", "help online_ewc");
  hnt_expect_in(r->out, "  lambda             number    >= 0; default 5000", "help online_ewc");
  /* hnet.learners.NAME works too */
  r = run((const char *[]){"./hnet", "help", "hnet.learners.si", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "  xi                 number    >= 1e-12; default 0.1", "help hnet.learners.si");
}

static void test_help_function(void **state) {
  (void)state;
  const struct {
    const char *name, *sig, *option;
  } cases[] = {
      {"hnet.run", "hnet.run(learner, stream, opts) -> run",
       "  scenario           string    one of task-given, domain, class, cl1, cl2, cl3; default \"task-given\""},
      {"hnet.stream.split", "hnet.stream.split(dataset, opts) -> stream",
       "  classes_per_task   integer   >= 1; default 2"},
      {"hnet.stream.permuted", "hnet.stream.permuted(dataset, opts) -> stream", "  tasks              integer   >= 1; default 10"},
      {"hnet.stream.rotated", "hnet.stream.rotated(dataset, opts) -> stream", "  step               number"},
      {"hnet.stream.custom", "hnet.stream.custom(opts) -> stream", "  make               function  required"},
      {"hnet.datasets.load", "hnet.datasets.load(name, opts) -> dataset", "  n_train            integer   >= 1"},
      {"hnet.experiment.compare", "hnet.experiment.compare(opts) -> rows", "  learner_options    function  required"},
      {"hnet.fewshot.adapt_embeddings", "hnet.fewshot.adapt_embeddings(opts) -> result",
       "  optimizer          string    one of sgd, adam; default \"sgd\""},
      {"hnet.shift.pool", "hnet.shift.pool(opts) -> pool", "      chunk_embedding    integer   >= 1; default 8"},
      {"hnet.tasks.permuted", "hnet.tasks.permuted(source, opts) -> task", "  stream             integer   >= 0; default 0"},
      {"hnet.tasks.class_subset", "hnet.tasks.class_subset(source, opts) -> task", "  classes            table     required"},
      {"hnet.tasks.rotated", "hnet.tasks.rotated(source, opts) -> task", "  degrees            number    required"},
      {"hnet.tasks.noisy", "hnet.tasks.noisy(source, opts) -> task", "  std                number    >= 0; required"},
      {"hnet.tasks.brightness_contrast", "hnet.tasks.brightness_contrast(source, opts) -> task",
       "  contrast           number    default 1"},
      {"hnet.tasks.k_shot", "hnet.tasks.k_shot(source, opts) -> task", "  k                  integer   >= 1; required"},
      {"hnet.tasks.subsample", "hnet.tasks.subsample(source, opts) -> task", "  fraction           number    in [0, 1]"},
      {"hnet.tasks.map", "hnet.tasks.map(source, fn, opts) -> task", "  input_shape        int_list"},
      {"hnet.tasks.from_tensors", "hnet.tasks.from_tensors(opts) -> task",
       "  kind               string    one of classification, regression, bits; default \"classification\""},
      {"hnet.stream.copy_task", "hnet.stream.copy_task(opts) -> stream",
       "  variant            string    one of permuted, length, xor; default \"permuted\""},
      {"hnet.stream.languages", "hnet.stream.languages(opts) -> stream",
       "  max_len            integer   >= 2; default 20"},
      {"hnet.learners.common.RNN_TARGET", "target = { \"rnn\", cell =, hidden =, vocab =, embedding =, output = }",
       "  cell               string    one of rnn, lstm, gru; default \"rnn\""},
      {"hnet.tasks.from_generator", "hnet.tasks.from_generator(opts) -> task",
       "  n_train            integer   >= 1; required"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    result *r = run((const char *[]){"./hnet", "help", cases[i].name, NULL}, NULL);
    if (r->status != 0) print_error("%s: %s\n", cases[i].name, r->err);
    assert_int_equal(r->status, 0);
    hnt_expect_in(r->out, cases[i].sig, cases[i].name);
    hnt_expect_in(r->out, cases[i].option, cases[i].name);
  }
}

/* The specs that help prints are the ones that check: the names the
 * functions refuse others than are the names help lists. */
static void test_help_names_are_checked(void **state) {
  (void)state;
  static const misuse cases[] = {
      {"hnet.stream.permuted(hnet.synthetic.blobs{ n_classes = 2, dim = 2, n_per_class = 4, n_test_per_class = 2 }, "
       "{ taks = 2 })",
       "unknown option 'taks' (allowed: keep, name, pad, seed, tasks)"},
      {"hnet.experiment.compare{ stream = 1, learners = {}, scenarios = {}, learner_options = print, bogus = 1 }",
       "unknown option 'bogus'"},
      {"hnet.datasets.load('mnist', { ntrain = 1 })", "(allowed: data_dir, n_test, n_train, reload)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) hntl_assert_err(L, cases[i].chunk, cases[i].expect);
}

/* The functions check values, not only names, through the specs help
 * prints: a bad value is refused naming the function, the argument and the
 * field, before anything is made or trained. */
static const char *const call_fixture =
    "BL = hnet.synthetic.blobs{ n_classes = 2, dim = 2, n_per_class = 4, n_test_per_class = 2 }\n"
    "ST = hnet.stream.from{ BL }\n"
    "LR = hnet.learners.finetune{ target = { 'mlp', hidden = { 4 } }, iterations = 1, batch = 4 }\n"
    "OPTS = { stream = ST, learners = { 'finetune' }, scenarios = { 'task-given' },\n"
    "         learner_options = function() return {} end }\n"
    "function WITH(t, k, v) local c = {} for a, b in pairs(t) do c[a] = b end c[k] = v return c end\n"
    "ADAPT = { hypernet = 1, theta = 1, net = 1, problems = {}, init = 1, steps = 1, lr = 0.1 }\n";

static void test_specs_check_values(void **state) {
  (void)state;
  hntl_assert_ok(L, call_fixture);
  static const misuse cases[] = {
      {"hnet.run(LR, ST, { progress_every = 0 })",
       "bad argument #3 to 'hnet.run' (field 'progress_every': a positive number expected, got 0)"},
      {"hnet.run(LR, ST, { plots = 1 })", "bad argument #3 to 'hnet.run' (field 'plots': boolean expected, got number)"},
      {"hnet.run(LR, ST, { checkpoint_every = math.huge })",
       "bad argument #3 to 'hnet.run' (field 'checkpoint_every': finite number expected, got inf)"},
      {"hnet.run(LR, ST, { scenario = 'cl4' })",
       "bad argument #3 to 'hnet.run' (field 'scenario': one of task-given, domain, class, cl1, cl2, cl3 expected, got 'cl4')"},
      {"hnet.stream.permuted(BL, { tasks = 0 })",
       "bad argument #2 to 'hnet.stream.permuted' (field 'tasks': integer >= 1 expected, got 0)"},
      {"hnet.stream.split(BL, { tasks = 0 })",
       "bad argument #2 to 'hnet.stream.split' (field 'tasks': integer >= 1 expected, got 0)"},
      {"hnet.stream.rotated(BL, { tasks = 2, step = math.huge })",
       "bad argument #2 to 'hnet.stream.rotated' (field 'step': finite number expected, got inf)"},
      {"hnet.stream.from({ BL }, { keep = 0 })",
       "bad argument #2 to 'hnet.stream.from' (field 'keep': integer >= 1 expected, got 0)"},
      {"hnet.stream.custom{ n = 2, make = print, name = 3 }",
       "bad argument #1 to 'hnet.stream.custom' (field 'name': string expected, got number)"},
      {"hnet.datasets.load('mnist', { reload = 1 })",
       "bad argument #2 to 'hnet.datasets.load' (field 'reload': boolean expected, got number)"},
      {"hnet.experiment.compare(WITH(OPTS, 'eval_max', 0))",
       "bad argument #1 to 'hnet.experiment.compare' (field 'eval_max': integer >= 1 expected, got 0)"},
      {"hnet.experiment.compare(WITH(OPTS, 'quiet', 'yes'))",
       "bad argument #1 to 'hnet.experiment.compare' (field 'quiet': boolean expected, got string)"},
      {"hnet.fewshot.adapt_embeddings(WITH(ADAPT, 'momentum', 1))",
       "bad argument #1 to 'hnet.fewshot.adapt_embeddings' (field 'momentum': finite number in [0, 0.999] expected, got 1)"},
      {"hnet.fewshot.adapt_embeddings(WITH(ADAPT, 'steps', -1))",
       "bad argument #1 to 'hnet.fewshot.adapt_embeddings' (field 'steps': integer >= 0 expected, got -1)"},
      {"hnet.tasks.permuted(BL, { stream = -1 })",
       "bad argument #2 to 'hnet.tasks.permuted' (field 'stream': integer >= 0 expected, got -1)"},
      {"hnet.tasks.permuted(BL, { name = 5 })", "bad argument #2 to 'hnet.tasks.permuted' (field 'name': string expected, got number)"},
      {"hnet.tasks.class_subset(BL, { classes = 3 })",
       "bad argument #2 to 'hnet.tasks.class_subset' (field 'classes': table expected, got number)"},
      {"hnet.tasks.rotated(BL, { degrees = 0 / 0 })", "bad argument #2 to 'hnet.tasks.rotated' (field 'degrees': finite number expected"},
      {"hnet.tasks.noisy(BL, { std = 0.1, clamp = 'no' })",
       "bad argument #2 to 'hnet.tasks.noisy' (field 'clamp': boolean expected, got string)"},
      {"hnet.tasks.brightness_contrast(BL, { hi = math.huge })",
       "bad argument #2 to 'hnet.tasks.brightness_contrast' (field 'hi': finite number expected, got inf)"},
      {"hnet.tasks.k_shot(BL, { k = 0 })", "bad argument #2 to 'hnet.tasks.k_shot' (field 'k': integer >= 1 expected, got 0)"},
      {"hnet.tasks.subsample(BL, { fraction = 2 })",
       "bad argument #2 to 'hnet.tasks.subsample' (field 'fraction': finite number in [0, 1] expected, got 2)"},
      {"hnet.tasks.map(BL, function(x) return x end, { input_shape = { 0 } })",
       "bad argument #3 to 'hnet.tasks.map' (field 'input_shape': entry 1 must be a positive integer, got 0)"},
      {"hnet.tasks.from_tensors{ train = BL.train, test = BL.test, n_classes = 2, kind = 'ranking' }",
       "bad argument #1 to 'hnet.tasks.from_tensors' (field 'kind': one of classification, regression, bits expected, got 'ranking')"},
      {"hnet.tasks.from_tensors{ test = BL.test, n_classes = 2 }",
       "bad argument #1 to 'hnet.tasks.from_tensors' (field 'train' is required)"},
      {"hnet.tasks.from_generator{ n_train = 0, n_test = 1, sample = print }",
       "bad argument #1 to 'hnet.tasks.from_generator' (field 'n_train': integer >= 1 expected, got 0)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) hntl_assert_err(L, cases[i].chunk, cases[i].expect);
  /* A good call still goes through, with the spec's defaults. */
  hntl_assert_ok(L,
                 "local t = hnet.tasks.from_tensors{ train = BL.train, test = BL.test, n_classes = 2.0 }\n"
                 "assert(t.name == 'task' and t.kind == 'classification' and math.type(t.n_classes) == 'integer')\n"
                 "local s = hnet.stream.custom{ n = 2, make = function() return BL end }\n"
                 "assert(s.name == 'custom' and s:len() == 2)\n");
}

/* The bound is the spec's: change one in a spec, and the function's check
 * and its help text both follow it (nothing else holds the bound). */
static void test_specs_bound_drives_check(void **state) {
  (void)state;
  hntl_assert_ok(L, call_fixture);
  hntl_assert_ok(
      L,
      "local S = require 'hnet.spec'\n"
      "local function follows(what, s, field, key, value, call, want)\n"
      "  local e = S.find(s, field)\n"
      "  assert(e, what .. ': no field ' .. field)\n"
      "  local old = e[key]\n"
      "  e[key] = value\n"
      "  local ok, err = pcall(call)\n"
      "  local text = S.format(s)\n"
      "  e[key] = old\n"
      "  assert(not ok, what .. ': the call passed with ' .. key .. ' = ' .. tostring(value))\n"
      "  assert(tostring(err):find(want, 1, true), what .. ': ' .. tostring(err))\n"
      "  assert(tostring(err):find(\"'\" .. what .. \"'\", 1, true), what .. ' not named: ' .. tostring(err))\n"
      "  local b = S.bounds(setmetatable({ [key] = value }, { __index = e }))\n"
      "  assert(text:find(b, 1, true), what .. ': help lacks ' .. b .. '\\n' .. text)\n"
      "end\n"
      "follows('hnet.run', require 'hnet.run.spec', 'eval_max', 'min', 5,\n"
      "  function() hnet.run(LR, ST, { eval_max = 4 }) end, \"(field 'eval_max': integer >= 5 expected, got 4)\")\n"
      "follows('hnet.stream.permuted', hnet.stream.OPTIONS.permuted, 'tasks', 'max', 3,\n"
      "  function() hnet.stream.permuted(BL, { tasks = 4 }) end, \"(field 'tasks': integer in [1, 3] expected, got 4)\")\n"
      "follows('hnet.stream.custom', hnet.stream.OPTIONS.custom, 'keep', 'min', 2,\n"
      "  function() hnet.stream.custom{ n = 1, make = print, keep = 1 } end, \"(field 'keep': integer >= 2 expected, got 1)\")\n"
      "follows('hnet.datasets.load', hnet.datasets.OPTIONS, 'n_train', 'min', 10,\n"
      "  function() hnet.datasets.load('mnist', { n_train = 9 }) end, \"(field 'n_train': integer >= 10 expected, got 9)\")\n"
      "follows('hnet.experiment.compare', hnet.experiment.COMPARE_OPTIONS, 'eval_max', 'min', 7,\n"
      "  function() hnet.experiment.compare(WITH(OPTS, 'eval_max', 6)) end,\n"
      "  \"(field 'eval_max': integer >= 7 expected, got 6)\")\n"
      "follows('hnet.fewshot.adapt_embeddings', hnet.fewshot.ADAPT_OPTIONS, 'momentum', 'max', 0.5,\n"
      "  function() hnet.fewshot.adapt_embeddings(WITH(ADAPT, 'momentum', 0.6)) end,\n"
      "  \"(field 'momentum': finite number in [0, 0.5] expected, got 0.6)\")\n"
      "follows('hnet.tasks.k_shot', hnet.tasks.OPTIONS.k_shot, 'k', 'max', 2,\n"
      "  function() hnet.tasks.k_shot(BL, { k = 3 }) end, \"(field 'k': integer in [1, 2] expected, got 3)\")\n"
      "follows('hnet.tasks.noisy', hnet.tasks.OPTIONS.noisy, 'std', 'max', 1,\n"
      "  function() hnet.tasks.noisy(BL, { std = 2 }) end, \"(field 'std': finite number in [0, 1] expected, got 2)\")\n"
      "follows('hnet.tasks.from_generator', hnet.tasks.OPTIONS.from_generator, 'n_test', 'min', 3,\n"
      "  function() hnet.tasks.from_generator{ n_train = 1, n_test = 2, sample = print } end,\n"
      "  \"(field 'n_test': integer >= 3 expected, got 2)\")\n"
      "-- with the bound back, the same calls pass the check\n"
      "assert(hnet.tasks.k_shot(BL, { k = 3 }).k == 3)\n"
      "assert(hnet.stream.permuted(BL, { tasks = 4 }):len() == 4)\n");
}

static void test_help_index_and_unknown(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", "help", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "learners:\n  hypernet\n  finetune\n", "help");
  hnt_expect_in(r->out, "  hnet.run ", "help");
  hnt_expect_in(r->out, "  hnet.fewshot.adapt_embeddings ", "help");
  hnt_expect_in(r->out, "  hnet.tasks.permuted ", "help");
  hnt_expect_in(r->out, "  hnet.tasks.from_generator ", "help");
  r = run((const char *[]){"./hnet", "--help", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "help [NAME]", "--help");
  r = run((const char *[]){"./hnet", "help", "hypernt", NULL}, NULL);
  assert_int_equal(r->status, 1);
  assert_string_equal(r->out, "");
  hnt_expect_in(r->err, "hnet help: no help for 'hypernt' (close: hypernet)", "unknown name");
  r = run((const char *[]){"./hnet", "help", "hnet.stream.splitt", NULL}, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "close: hnet.stream.split", "unknown function");
  r = run((const char *[]){"./hnet", "help", "qqqqqqqqqq", NULL}, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "no help for 'qqqqqqqqqq'; `hnet help` lists every name", "nothing close");
}

/* A learner in the user's folder that declares cli: help prints it (found
 * through --lib and HNET_PATH), and an experiment's command line takes its
 * options without an edit of the experiment. */
static void test_user_learner(void **state) {
  (void)state;
  char lib[128], dir[192], env_path[256];
  snprintf(lib, sizeof lib, "%s/userlib", tmpdir);
  snprintf(dir, sizeof dir, "%s/learners", lib);
  hnt_write_file(dir, "reservoir.lua",
             "--- A reservoir learner (a test double): fine-tuning with a buffer option.\n"
             "local hnet = require 'hnet'\n"
             "local spec = require 'hnet.spec'\n"
             "local common = require 'hnet.learners.common'\n"
             "local M = {}\n"
             "M.cli = spec.extend(common.SHARED, {\n"
             "  { name = 'buffer', type = 'integer', default = 500, min = 1, help = 'samples the reservoir keeps' },\n"
             "  { name = 'greedy', type = 'boolean', default = false, help = 'replace the oldest, not at random' } })\n"
             "function M.new(opts)\n"
             "  local o = spec.check(M.cli, opts, 'reservoir')\n"
             "  local base = {}\n"
             "  for k, v in pairs(o) do if k ~= 'buffer' and k ~= 'greedy' then base[k] = v end end\n"
             "  local l = hnet.learners.finetune(base); l.o = o; return l\n"
             "end\n"
             "return M\n");
  hnt_write_file(dir, "bare.lua", "return { new = function(o) return require('hnet').learners.finetune(o) end }\n");
  result *r = run((const char *[]){"./hnet", "--lib", lib, "help", "reservoir", NULL}, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "hnet.learners.reservoir(opts) -> learner", "help reservoir");
  hnt_expect_in(r->out, "A reservoir learner (a test double)", "help reservoir");
  hnt_expect_in(r->out, "  buffer             integer   >= 1; default 500", "help reservoir");
  hnt_expect_in(r->out, "samples the reservoir keeps", "help reservoir");
  r = run((const char *[]){"./hnet", "--lib", lib, "help", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "  reservoir\n", "help index with --lib");
  snprintf(env_path, sizeof env_path, "HNET_PATH=%s", lib);
  const char *const env[] = {env_path, NULL};
  r = run((const char *[]){"./hnet", "help", "reservoir", NULL}, env);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "  greedy             boolean   default false", "help reservoir through HNET_PATH");
  r = run((const char *[]){"./hnet", "help", "bare", NULL}, env);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "learner 'bare' declares no options", "a learner without cli");
  /* Without the folder the name is unknown. */
  r = run((const char *[]){"./hnet", "help", "reservoir", NULL}, NULL);
  assert_int_equal(r->status, 1);

  /* An experiment-like script: learner options from the specs. */
  char script[160];
  snprintf(script, sizeof script, "%s/exp.lua", tmpdir);
  hnt_write_file(tmpdir, "exp.lua",
             "local hnet = require 'hnet'\n"
             "local E = hnet.experiment\n"
             "local o = E.options(arg, { learners = E.learners_option('finetune'),\n"
             "  iterations = { 7, 'iterations' } }, 'exp.lua')\n"
             "local f = E.learner_options(o, { all = { batch = 16 } })\n"
             "for _, name in ipairs(hnet.cli.list(o.learners)) do\n"
             "  local t = f(name)\n"
             "  local l = hnet.learners.new(name, t)\n"
             "  local keys = {}\n"
             "  for k, v in pairs(t) do keys[#keys + 1] = k .. '=' .. tostring(v) end\n"
             "  table.sort(keys)\n"
             "  print(name, table.concat(keys, ' '), l.o.buffer)\n"
             "end\n");
  char out_dir[160];
  snprintf(out_dir, sizeof out_dir, "%s/exp_out", tmpdir);
  r = run((const char *[]){"./hnet", "--lib", lib, script, "--out", out_dir, "--learners", "reservoir,finetune",
                           "--buffer", "64", "--greedy", NULL},
          NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "reservoir\tbatch=16 buffer=64 greedy=true iterations=7 seed=1\t64\n", "experiment with --buffer");
  hnt_expect_in(r->out, "finetune\tbatch=16 iterations=7 seed=1\tnil\n", "finetune does not get --buffer");
  /* Not given: the learner's default. */
  r = run((const char *[]){"./hnet", "--lib", lib, script, "--out", out_dir, "--learners=reservoir", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "reservoir\tbatch=16 iterations=7 seed=1\t500\n", "experiment without --buffer");
  /* --help lists the learner's options. */
  r = run((const char *[]){"./hnet", "--lib", lib, script, "--learners", "reservoir", "--help", NULL}, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "--buffer integer", "experiment --help");
  hnt_expect_in(r->out, "reservoir's option: samples the reservoir keeps; not given: the experiment's setting, else 500",
            "experiment --help");
  /* A bad value is refused by the learner's spec, naming it. */
  r = run((const char *[]){"./hnet", "--lib", lib, script, "--out", out_dir, "--learners", "reservoir", "--buffer",
                           "0", NULL},
          NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "bad argument #1 to 'reservoir' (field 'buffer': integer >= 1 expected, got 0)", "--buffer 0");
  /* Without that learner asked for, --buffer is no option. */
  r = run((const char *[]){"./hnet", "--lib", lib, script, "--out", out_dir, "--buffer", "3", NULL}, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "unknown option --buffer", "--buffer without reservoir");
  hnt_expect_not_in(r->err, "reservoir option", "--buffer without reservoir");
}

int main(void) {
  if (access("./hnet", X_OK) != 0) {
    fprintf(stderr, "test_lua_help: ./hnet not found; run from the repository root after make all\n");
    return 1;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hnet_help.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  L = hntl_newstate();
  if (!L) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_errors),
      cmocka_unit_test(test_spec_defaults),
      cmocka_unit_test(test_learner_specs),
      cmocka_unit_test(test_experiment_learner_options),
      cmocka_unit_test(test_help_learner),
      cmocka_unit_test(test_help_function),
      cmocka_unit_test(test_help_names_are_checked),
      cmocka_unit_test(test_specs_check_values),
      cmocka_unit_test(test_specs_bound_drives_check),
      cmocka_unit_test(test_help_index_and_unknown),
      cmocka_unit_test(test_user_learner),
  };
  int rc = cmocka_run_group_tests_name("lua_help", tests, NULL, NULL);
  lua_close(L);
  if (hnt_remove_dir(tmpdir) != 0) fprintf(stderr, "test_lua_help: could not remove %s\n", tmpdir);
  return rc;
}
