/*
 * test_lua_cli.c — the ./hnet program from the outside: exit statuses, error
 * messages with file:line and a traceback, `arg` as the stock lua sets it,
 * -e, --version, --help, --threads/--seed, the prompt on a pipe, the report
 * command, hnet.so under the stock lua5.4, and make install / uninstall
 * (tests/install-check.sh). Run from the repository root
 * after `make all` (./hnet and ./hnet.so must exist).
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef hnt_proc result;

static char tmpdir[64];

/* Run argv (argv[0] searched on PATH) with extra environment entries
 * ("K=V", NULL-terminated; may be NULL) and `input` on stdin (NULL: empty). */
static result *run(const char *const *argv, const char *const *env, const char *input) {
  return hnt_spawn(tmpdir, argv, env, input);
}

static const char *write_script(const char *name, const char *text) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_version_and_help(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", "--version", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_true(strncmp(r->out, "hnet " HN_VERSION, strlen("hnet " HN_VERSION)) == 0);
  hnt_expect_in(r->out, "Lua 5.4", "--version");
  r = run((const char *[]){"./hnet", "--help", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "usage:", "--help");
  hnt_expect_in(r->out, "--threads", "--help");
  hnt_expect_in(r->out, "--seed", "--help");
  hnt_expect_in(r->out, "report DIR", "--help");
  hnt_expect_in(r->out, "-e CODE", "--help");
}

static void test_exec_option(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", "-e", "print(1+1)", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "2\n");
  r = run((const char *[]){"./hnet", "-e", "x = 1", "-e", "print(x + 1)", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "2\n");
  /* -e chunks see the global hnet, as the prompt does: the same module as
   * require returns; a script run alone does not (it requires it). */
  r = run((const char *[]){"./hnet", "-e", "print(hnet == require('hnet'), hnet.version)", NULL},
          NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "true\t" HN_VERSION "\n");
  const char *p = write_script("noglobal.lua", "print(hnet, require('hnet').version)\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "nil\t" HN_VERSION "\n");
  r = run((const char *[]){"./hnet", "-e", "error('bad')", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "hnet: (command line):1: bad", "-e error");
}

static void test_script_errors(void **state) {
  (void)state;
  const char *p = write_script("err.lua", "local x = 1\n\nerror('boom')\n");
  result *r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "hnet: ", "script error");
  hnt_expect_in(r->err, "err.lua:3: boom", "script error");
  hnt_expect_in(r->err, "stack traceback:", "script error");
  assert_string_equal(r->out, "");
  /* An argument error raised in C names the script line and the function. */
  p = write_script("bad.lua", "local hnet = require 'hnet'\nlocal t = hnet.tensor(2, -1)\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "bad.lua:2: bad argument #2 to 'tensor'", "C argument error");
  hnt_expect_in(r->err, "negative", "C argument error");
  /* error(msg, 0) is a complete message for the command line: shown alone,
   * with a traceback only under HNET_TRACEBACK=1. */
  p = write_script("plain.lua", "local x = 1\nerror('option --n: a number expected', 0)\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  assert_string_equal(r->err, "hnet: option --n: a number expected\n");
  r = run((const char *[]){"./hnet", p, NULL}, (const char *[]){"HNET_TRACEBACK=1", NULL}, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "hnet: option --n: a number expected\nstack traceback:", "HNET_TRACEBACK=1");
  hnt_expect_in(r->err, "plain.lua:2: in main chunk", "HNET_TRACEBACK=1");
  /* A chunk name with a colon in it still makes a position. */
  p = write_script("odd.lua", "load(\"local x = 1\\nerror('boom')\", '=odd:name')()\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "hnet: odd:name:2: boom\nstack traceback:", "chunk name with a colon");
  /* A message that merely contains a colon and digits later is not a position. */
  p = write_script("colon.lua", "error('bad value: 3: see --help', 0)\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_string_equal(r->err, "hnet: bad value: 3: see --help\n");
  /* A syntax error. */
  p = write_script("syn.lua", "print('a'\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "syn.lua:", "syntax error");
  /* A missing script. */
  char missing[128];
  snprintf(missing, sizeof missing, "%s/does_not_exist.lua", tmpdir);
  r = run((const char *[]){"./hnet", missing, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "cannot", "missing script");
  hnt_expect_in(r->err, "does_not_exist.lua", "missing script");
  /* A successful script exits 0; os.exit codes pass through. */
  p = write_script("ok.lua", "print('fine')\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "fine\n");
  p = write_script("exit.lua", "os.exit(3)\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 3);
}

static void test_arg_table(void **state) {
  (void)state;
  const char *p = write_script("args.lua",
                               "print(#arg, arg[1], arg[2], arg[3], select('#', ...), ...)\n"
                               "print(arg[-1], arg[-2], arg[-3], arg[-4])\n"
                               "print(arg[0] == debug.getinfo(1, 'S').short_src)\n");
  result *r = run((const char *[]){"./hnet", "--seed", "7", p, "a", "b c", "-x", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  char want[512];
  snprintf(want, sizeof want, "3\ta\tb c\t-x\t3\ta\tb c\t-x\n7\t--seed\t./hnet\tnil\ntrue\n");
  assert_string_equal(r->out, want);
  /* The same script under the stock interpreter gives the same table. */
  if (system("command -v lua5.4 >/dev/null 2>&1") == 0) {
    result *s = run((const char *[]){"lua5.4", "-W", p, "a", "b c", "-x", NULL}, NULL, NULL);
    assert_int_equal(s->status, 0);
    /* lua5.4's negative indices hold its own options: compare the rest. */
    const char *prefix = "3\ta\tb c\t-x\t3\ta\tb c\t-x\n-W\tlua5.4\tnil";
    if (strncmp(s->out, prefix, strlen(prefix)) != 0) print_error("lua5.4 printed:\n%s\n", s->out);
    assert_true(strncmp(s->out, prefix, strlen(prefix)) == 0);
  }
  /* Options after the script belong to the script. */
  r = run((const char *[]){"./hnet", p, "--version", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "1\t--version\tnil\tnil\t1\t--version", "options after the script");
}

static void test_bad_options(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", "--bogus", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "unknown option '--bogus'", "unknown option");
  hnt_expect_in(r->err, "usage:", "unknown option");
  r = run((const char *[]){"./hnet", "-e", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "'-e' needs an argument", "-e without code");
  r = run((const char *[]){"./hnet", "--threads", "lots", "-e", "", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "--threads needs an integer", "bad --threads");
  r = run((const char *[]){"./hnet", "--seed", "1.5", "-e", "", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "--seed needs an integer", "bad --seed");
}

/* hnet.cli.parse checks a string option against its `choices` (each item of
 * a comma-separated one with list = true) and names them in --help. */
static void test_option_choices(void **state) {
  (void)state;
  const char *p = write_script("choices.lua",
                               "local o = require('hnet.cli').parse(arg, {\n"
                               "  init = { 'xavier', 'the init', choices = { 'xavier', 'hyperfan' } },\n"
                               "  use = { 'a,b', 'parts', choices = { 'a', 'b', 'c' }, list = true },\n"
                               "}, 'choices.lua')\n"
                               "print(o.init, o.use)\n");
  result *r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "xavier\ta,b\n");
  r = run((const char *[]){"./hnet", p, "--init", "hyperfan", "--use=c,a", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "hyperfan\tc,a\n");
  r = run((const char *[]){"./hnet", p, "--init", "Xavier", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "option --init: xavier or hyperfan expected, got 'Xavier'", "bad choice");
  r = run((const char *[]){"./hnet", p, "--use", "a,d,b", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "option --use: a, b or c expected, got 'd'", "bad list item");
  r = run((const char *[]){"./hnet", p, "--use", ",", NULL}, NULL, NULL);
  assert_true(r->status != 0);
  hnt_expect_in(r->err, "option --use: give at least one of a, b or c", "empty list");
  r = run((const char *[]){"./hnet", p, "--help", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "the init (one of: xavier, hyperfan; default xavier)", "help of a choice");
  hnt_expect_in(r->out, "parts (each one of: a, b, c; default a,b)", "help of a list");
}

/* Bounded number options: min/max inclusive, above exclusive, finite. */
static void test_option_ranges(void **state) {
  (void)state;
  const char *p = write_script("ranges.lua",
                               "local o = require('hnet.cli').parse(arg, {\n"
                               "  frac = { 1.0, 'a fraction', above = 0, max = 1 },\n"
                               "  n = { 3, 'a count', min = 1, max = 5 },\n"
                               "  t = { 0.5, 'minutes', min = 0 },\n"
                               "}, 'ranges.lua')\n"
                               "print(o.frac, o.n, o.t)\n");
  result *r = run((const char *[]){"./hnet", p, "--frac", "1", "--n", "5", "--t", "0", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "1\t5\t0\n");
  r = run((const char *[]){"./hnet", p, "--frac", "1e-9", "--n=1", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "1e-09\t1\t0.5\n");
  r = run((const char *[]){"./hnet", p, "--frac", "0", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  assert_string_equal(r->err, "hnet: option --frac: a number in (0, 1] expected, got 0\n");
  r = run((const char *[]){"./hnet", p, "--frac", "1.5", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --frac: a number in (0, 1] expected, got 1.5", "above max");
  r = run((const char *[]){"./hnet", p, "--n", "0", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --n: an integer in 1..5 expected, got 0", "below min");
  r = run((const char *[]){"./hnet", p, "--n", "6", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --n: an integer in 1..5 expected, got 6", "above max");
  r = run((const char *[]){"./hnet", p, "--t", "-0.1", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --t: a number >= 0 expected, got -0.1", "below min");
  r = run((const char *[]){"./hnet", p, "--t", "1e999", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "option --t: a number >= 0 expected, got inf", "not finite");
  r = run((const char *[]){"./hnet", p, "--help", NULL}, NULL, NULL);
  hnt_expect_in(r->out, "a fraction (a number in (0, 1]; default 1.0)", "help of a range");
  hnt_expect_in(r->out, "a count (an integer in 1..5; default 3)", "help of an integer range");
}

/* An option without a default names its type and is nil unless given: an
 * empty-string default would be true in Lua (`if o.resume then` misfired).
 * Every experiment's --resume is such an option. */
static void test_option_without_default(void **state) {
  (void)state;
  const char *p = write_script("nodefault.lua",
                               "local o = require('hnet.cli').parse(arg, {\n"
                               "  resume = { nil, 'a directory', type = 'string' },\n"
                               "  n = { nil, 'a count', type = 'integer', min = 1 },\n"
                               "}, 'nodefault.lua')\n"
                               "print(o.resume, o.n, math.type(o.n))\n");
  result *r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "nil\tnil\tnil\n");
  r = run((const char *[]){"./hnet", p, "--resume", "runs/x", "--n=4", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "runs/x\t4\tinteger\n");
  r = run((const char *[]){"./hnet", p, "--n", "0", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --n: an integer >= 1 expected, got 0", "range without a default");
  r = run((const char *[]){"./hnet", p, "--n", "x", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --n: integer expected, got 'x'", "type without a default");
  r = run((const char *[]){"./hnet", p, "--help", NULL}, NULL, NULL);
  hnt_expect_in(r->out, "--resume string", "help names the type");
  hnt_expect_in(r->out, "a directory (default none)", "help of an option without a default");
  p = write_script("badspec.lua", "require('hnet.cli').parse(arg, { x = { nil, 'no type' } })\n");
  r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "option 'x': no default: give type = ", "a spec without default or type");
  /* An experiment run without --resume starts fresh, with it resumes. */
  r = run((const char *[]){"./hnet", "-e",
                           "arg = { [0] = 'x.lua', '--quiet' }\n"
                           "local o, context = hnet.experiment.options(arg, {})\n"
                           "print(o.resume, context.resume, o.context)",
                           NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "nil\tnil\tnil\n");
}

/* A field of a learner's table option is an experiment option
 * <table>_<field> (--replay_beta: hnet_r's replay = { beta = ... }), listed
 * in --help with the option's path; given, it lands in that field over the
 * experiment's settings for the table, whose other fields and whose own
 * table (a learner's preset) stay as they were. */
static void test_nested_learner_options(void **state) {
  (void)state;
  const char *p = write_script("nested.lua",
                               "local hnet = require 'hnet'\n"
                               "local E = hnet.experiment\n"
                               "local o = E.options(arg, { learners = E.learners_option('hnet_r') }, 'nested.lua')\n"
                               "local preset = { replay = { beta = 0.1, dec_hidden = { 400, 400 }, hnet = { chunk = 85000 } } }\n"
                               "local t = E.learner_options(o, { learner = { hnet_r = preset } })('hnet_r')\n"
                               "print(t.replay.beta, t.replay.hnet.chunk, t.replay.dec_hidden[1], preset.replay.beta,\n"
                               "      preset.replay.hnet.chunk, t.l_rew, t.replay.lookahead)\n"
                               "local l = hnet.learners.new('hnet_r', t)\n"
                               "print(l:options().replay.beta, l:options().replay.latent)\n");
  result *r = run((const char *[]){"./hnet", p, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "0.1\t85000\t400\t0.1\t85000\tnil\tnil\n0.1\t100\n");
  r = run((const char *[]){"./hnet", p, "--replay_beta", "0.05", "--replay_hnet_chunk=20000", "--l_rew", "0.3",
                           "--no_replay_lookahead", NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "0.05\t20000\t400\t0.1\t85000\t0.3\tfalse\n0.05\t100\n");
  r = run((const char *[]){"./hnet", p, "--help", NULL}, NULL, NULL);
  hnt_expect_in(r->out, "--replay_beta number", "nested option in --help");
  hnt_expect_in(r->out, "hnet_r's option replay.beta: strength of the decoder hypernetwork's regulariser",
                "nested option's path and help");
  hnt_expect_in(r->out, "--replay_hnet_chunk integer", "option two tables deep");
  r = run((const char *[]){"./hnet", p, "--replay_latent", "x", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "option --replay_latent: integer expected, got 'x'", "nested option's type");
  r = run((const char *[]){"./hnet", p, "--replay_recon", "poisson", NULL}, NULL, NULL);
  hnt_expect_in(r->err, "field 'recon': one of bernoulli, gaussian expected, got 'poisson'",
                "a bad value of a nested field is refused by the learner's spec");
}

/* Every entry of an experiment's list options (learners, scenarios, streams,
 * datasets, parts) is checked when the command line is parsed: a misspelt
 * entry after valid ones fails at once, before anything trains or writes. */
static void test_experiment_lists(void **state) {
  (void)state;
  char out[128];
  snprintf(out, sizeof out, "%s/lists_out", tmpdir);
  const char *learners = "hypernet, finetune, ewc, online_ewc, si, separate, joint, hnet_tir or hnet_r expected";
  const char *scenarios = "task-given, domain, class, cl1, cl2 or cl3 expected";
  const struct {
    const char *script, *option, *value, *expect, *expect2;
  } cases[] = {
      {"split_mnist", "--learners", "finetune,hypernt", learners, "got 'hypernt'"},
      {"split_mnist", "--scenarios", "task-given,clas", scenarios, "got 'clas'"},
      {"split_fashion", "--learners", "finetune,plain", learners, "got 'plain'"},
      {"permuted_fashion", "--scenarios", "task-given,cl4", scenarios, "got 'cl4'"},
      {"permuted_fashion", "--learners", "joint,ewk", learners, "got 'ewk'"},
      {"rotated_stream", "--learners", "finetune,sii", learners, "got 'sii'"},
      {"rotated_stream", "--scenarios", "task-given,domian", scenarios, "got 'domian'"},
      {"rotated_stream", "--datasets", "mnist,fashion", "option --datasets:", "got 'fashion'"},
      {"toy_regression", "--learners", "hypernet,separat", learners, "got 'separat'"},
      {"covariate_shift", "--learners", "hypernet,fintune", learners, "got 'fintune'"},
      {"covariate_shift", "--scenarios", "task-given,class,domainn", scenarios, "got 'domainn'"},
      {"transfer_stream", "--streams", "permuted,splt", "option --streams: permuted or split expected", "got 'splt'"},
      {"transfer_stream", "--learners", "hypernet,joint,separte", learners, "got 'separte'"},
      {"paper_tables", "--only", "toy,splt", "option --only: toy, split or permuted expected", "got 'splt'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char script[96], what[160];
    snprintf(script, sizeof script, "experiments/%s.lua", cases[i].script);
    snprintf(what, sizeof what, "%s %s %s", cases[i].script, cases[i].option, cases[i].value);
    result *r = run((const char *[]){"./hnet", "--threads", "1", script, "--quick", cases[i].option,
                                     cases[i].value, "--out", out, NULL},
                    NULL, NULL);
    if (r->status != 1) print_error("%s: exit status %d\n%s\n", what, r->status, r->err);
    assert_int_equal(r->status, 1);
    hnt_expect_in(r->err, cases[i].option, what);
    hnt_expect_in(r->err, cases[i].expect, what);
    hnt_expect_in(r->err, cases[i].expect2, what);
    if (access(out, F_OK) == 0) {
      print_error("%s: %s was written before the bad entry was refused\n", what, out);
      fail();
    }
  }
  /* A learner file in an HNET_PATH folder (not built in) is a valid entry. */
  char dir[128], path[192], lua_path[256];
  snprintf(dir, sizeof dir, "%s/lib/learners", tmpdir);
  char mk[256];
  snprintf(mk, sizeof mk, "mkdir -p '%s'", dir);
  assert_int_equal(system(mk), 0);
  snprintf(path, sizeof path, "%s/mine.lua", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("return { new = function(o) return require('hnet.learners').new('finetune', o) end }\n", f);
  fclose(f);
  const char *p = write_script("lists.lua",
                               "local E = require('hnet').experiment\n"
                               "local o = E.options(arg, { learners = E.learners_option('finetune') }, 'lists.lua')\n"
                               "print(o.learners)\n");
  snprintf(lua_path, sizeof lua_path, "HNET_PATH=%s/lib", tmpdir);
  const char *const env[] = {lua_path, NULL};
  result *r = run((const char *[]){"./hnet", p, "--learners", "mine,finetune", NULL}, env, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "mine,finetune\n");
  r = run((const char *[]){"./hnet", p, "--learners", "mine,common", NULL}, env, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "got 'common'", "a helper file is not a learner");
}

/* ---- learners and datasets found by name ------------------------------------ */

/* A user folder: learners/wrapped.lua (the built-in finetune under another
 * name), learners/helper.lua (no new(): not a learner), datasets/tiny.lua.
 * Another folder gives a learner and a dataset named as built-in ones. */
static void make_user_folders(char *lib, size_t n, char *clash, size_t m) {
  char d[400];
  snprintf(lib, n, "%s/userlib", tmpdir);
  snprintf(clash, m, "%s/clashlib", tmpdir);
  snprintf(d, sizeof d, "%s/learners", lib);
  hnt_write_file(d, "wrapped.lua",
             "local hnet = require 'hnet'\n"
             "return { new = function(o)\n"
             "  local l = hnet.learners.new('finetune', o); function l:name() return 'wrapped' end; return l\n"
             "end }\n");
  hnt_write_file(d, "helper.lua", "return { double = function(x) return 2 * x end }\n");
  snprintf(d, sizeof d, "%s/datasets", lib);
  hnt_write_file(d, "tiny.lua",
             "return function(ctx)\n"
             "  local function split(n) return { x = ctx.hnet.zeros({ n, 3 }), y = ctx.hnet.zeros({ n }) } end\n"
             "  return { n_classes = 2, shape = { 3 }, train = split(4), test = split(2) }\n"
             "end\n");
  snprintf(d, sizeof d, "%s/learners", clash);
  hnt_write_file(d, "ewc.lua", "return { new = function() error('the shadowing ewc ran') end }\n");
  snprintf(d, sizeof d, "%s/datasets", clash);
  hnt_write_file(d, "mnist.lua", "return function() error('the shadowing mnist ran') end\n");
}

static const char *BUILT_IN_LIST = "hypernet,finetune,ewc,online_ewc,si,separate,joint,hnet_tir,hnet_r";

static void test_learner_search_path(void **state) {
  (void)state;
  char lib[256], clash[256], env_path[300], code[1200], want[256];
  make_user_folders(lib, sizeof lib, clash, sizeof clash);
  snprintf(env_path, sizeof env_path, "HNET_PATH=%s", lib);
  const char *const env[] = {env_path, NULL};
  const char *show = "local L = hnet.learners\n"
                     "print(table.concat(L.list(), ','), L.exists('wrapped'), L.exists('helper'),\n"
                     "      L.new('wrapped', { target = { 'mlp', hidden = { 4 } } }):name(), L.wrapped ~= nil)";
  snprintf(want, sizeof want, "%s,wrapped\ttrue\tfalse\twrapped\ttrue\n", BUILT_IN_LIST);
  /* Through HNET_PATH, and through --lib. */
  result *r = run((const char *[]){"./hnet", "-e", show, NULL}, env, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, want);
  r = run((const char *[]){"./hnet", "--lib", lib, "-e", show, NULL}, NULL, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, want);
  /* A helper file is found but refused, saying why. */
  r = run((const char *[]){"./hnet", "--lib", lib, "-e", "hnet.learners.new('helper')", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "helper.lua is not a learner", "a helper file");
  /* Not on the path: the message names the folders searched and the ways to add one. */
  r = run((const char *[]){"./hnet", "-e", "hnet.learners.new('wrapped')", NULL},
          (const char *[]){"HNET_PATH=/nonexistent-hnet-lib", NULL}, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "no learner named 'wrapped'", "missing learner");
  hnt_expect_in(r->err, "/nonexistent-hnet-lib/learners (HNET_PATH, does not exist)", "missing learner");
  hnt_expect_in(r->err, "lua/hnet/learners (built in)", "missing learner");
  hnt_expect_in(r->err, "--lib DIR or HNET_PATH=DIR", "missing learner");
  hnt_expect_in(r->err, "hnet.learners.register('wrapped'", "missing learner");
  /* Bad --lib values. */
  r = run((const char *[]){"./hnet", "--lib", "/nonexistent-hnet-lib", "-e", "print(1)", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "--lib /nonexistent-hnet-lib: no such directory", "--lib missing folder");
  assert_string_equal(r->out, "");
  r = run((const char *[]){"./hnet", "--lib", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "--lib needs a directory", "--lib without a value");
  r = run((const char *[]){"./hnet", "--help", NULL}, NULL, NULL);
  hnt_expect_in(r->out, "--lib DIR", "--help");
  /* A file named as a built-in learner is a clash, not a silent shadow. */
  r = run((const char *[]){"./hnet", "--lib", clash, "-e", "print(hnet.learners.exists('ewc'))\nhnet.learners.new('ewc')", NULL},
          NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->out, "false\tlearner name 'ewc' is given by more than one file", "clash: exists");
  hnt_expect_in(r->err, "learner name 'ewc' is given by more than one file", "clash");
  hnt_expect_in(r->err, "clashlib/learners/ewc.lua (--lib)", "clash");
  if (strstr(r->err, "the shadowing ewc ran")) fail_msg("the user's ewc.lua shadowed the built-in one");
  /* A folder on the path that is the framework's own is not a second copy. */
  char cwd[200], self_path[260];
  assert_non_null(getcwd(cwd, sizeof cwd));
  snprintf(self_path, sizeof self_path, "HNET_PATH=%s/lua/hnet", cwd);
  r = run((const char *[]){"./hnet", "-e", "print(hnet.learners.exists('ewc'))", NULL},
          (const char *[]){self_path, NULL}, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "true\n");
  /* Datasets follow the same path. */
  r = run((const char *[]){"./hnet", "-e",
                           "local d = hnet.datasets\n"
                           "local t = d.load('tiny')\n"
                           "local has = false\n"
                           "for _, n in ipairs(d.list()) do has = has or n == 'tiny' end\n"
                           "print(t.n_classes, t.train.x:size(1), has)",
                           NULL},
          env, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "2\t4\ttrue\n");
  r = run((const char *[]){"./hnet", "-e", "hnet.datasets.load('tiny')", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "dataset 'tiny' is unknown", "missing dataset");
  hnt_expect_in(r->err, "--lib DIR or HNET_PATH=DIR", "missing dataset");
  r = run((const char *[]){"./hnet", "--lib", clash, "-e", "hnet.datasets.load('mnist')", NULL}, NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "dataset name 'mnist' is given by more than one file", "dataset clash");
  /* An experiment's --learners list takes the learner, and it trains. */
  char out[256];
  snprintf(out, sizeof out, "%s/wrapped_run", tmpdir);
  r = run((const char *[]){"./hnet", "--threads", "1", "--lib", lib, "experiments/split_mnist.lua", "--quick",
                           "--learners", "wrapped", "--scenarios", "task-given", "--quiet", "--out", out, NULL},
          NULL, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "| wrapped | task-given |", "experiment with a --lib learner");
  /* Without the folder, the same command is refused naming the search path. */
  r = run((const char *[]){"./hnet", "--threads", "1", "experiments/split_mnist.lua", "--quick", "--learners",
                           "wrapped", "--scenarios", "task-given", "--quiet", "--out", out, "--force", NULL},
          NULL, NULL);
  assert_int_equal(r->status, 1);
  hnt_expect_in(r->err, "option --learners:", "experiment without the folder");
  hnt_expect_in(r->err, "got 'wrapped' (no learner named 'wrapped'", "experiment without the folder");
  hnt_expect_in(r->err, "HNET_PATH=DIR", "experiment without the folder");
  /* A resume command repeats --lib and HNET_PATH: the learner is found again. */
  const char *p = write_script("hint.lua",
                               "local hnet = require 'hnet'\n"
                               "local E = hnet.experiment\n"
                               "local o, context = E.options(arg, { resumable = true, learners = E.learners_option('wrapped') }, 'hint.lua')\n"
                               "local ts = {}\n"
                               "for i = 1, 2 do ts[i] = hnet.synthetic.blobs { n_classes = 2, dim = 4, n_per_class = 8,\n"
                               "  n_test_per_class = 4, seed = i, name = 'b' .. i } end\n"
                               "local l = hnet.learners.new(o.learners, { target = { 'mlp', hidden = { 4 } }, iterations = 2, batch = 4 })\n"
                               "local run = hnet.run(l, hnet.stream.from(ts), { out = o.out, quiet = true, plots = false,\n"
                               "  context = context })\n"
                               "print(run:resume_hint())\n");
  snprintf(out, sizeof out, "%s/hint_run", tmpdir);
  char other[300];
  snprintf(other, sizeof other, "HNET_PATH=%s", clash);
  r = run((const char *[]){"./hnet", "--lib", lib, p, "--out", out, NULL}, (const char *[]){other, NULL}, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  snprintf(code, sizeof code, "resume with HNET_PATH=%s ./hnet --lib %s %s --resume %s\n", clash, lib, p, out);
  hnt_expect_in(r->out, code, "resume hint");
}

/* hnet.learners.register from a script: new, NAME{...}, exists, list and an
 * experiment's --learners see the name; clashes and bad names are refused. */
static void test_learner_register(void **state) {
  (void)state;
  char lib[256], clash[256], want[256];
  make_user_folders(lib, sizeof lib, clash, sizeof clash);
  const char *reg = "local L = hnet.learners\n"
                    "L.register('reg1', function(o) local l = L.new('finetune', o); function l:name() return 'reg1' end; return l end)\n"
                    "L.reg2 = function(o) return L.new('finetune', o) end\n"
                    "local o = { target = { 'mlp', hidden = { 4 } } }\n"
                    "print(table.concat(L.list(), ','), L.exists('reg1'), L.new('reg1', o):name(), L.reg1(o):name(),\n"
                    "      L.exists('reg2'))\n";
  snprintf(want, sizeof want, "%s,reg1,reg2\ttrue\treg1\treg1\ttrue\n", BUILT_IN_LIST);
  result *r = run((const char *[]){"./hnet", "-e", reg, NULL}, NULL, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, want);
  /* An experiment's learner list accepts a registered name. */
  const char *p = write_script("reglist.lua",
                               "local hnet = require 'hnet'\n"
                               "hnet.learners.register('reg1', function(o) return hnet.learners.new('finetune', o) end)\n"
                               "local E = hnet.experiment\n"
                               "local o = E.options(arg, { learners = E.learners_option('finetune') }, 'reglist.lua')\n"
                               "print(o.learners)\n");
  r = run((const char *[]){"./hnet", p, "--learners", "reg1,finetune", NULL}, NULL, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "reg1,finetune\n");
  /* Replacing on purpose. */
  r = run((const char *[]){"./hnet", "-e",
                           "hnet.learners.register('ewc', { new = function() return 'mine' end }, { replace = true })\n"
                           "print(hnet.learners.new('ewc'), hnet.learners.exists('ewc'))",
                           NULL},
          NULL, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "mine\ttrue\n");
  const struct {
    const char *code, *expect;
  } bad[] = {
      {"hnet.learners.register('ewc', print)", "learner 'ewc' already exists: "},
      {"hnet.learners.register('ewc', print)", "lua/hnet/learners/ewc.lua (built in); choose another name, or pass { replace = true }"},
      {"hnet.learners.ewc = print", "learner 'ewc' already exists"},
      {"hnet.learners.register('wrapped', print)", "userlib/learners/wrapped.lua (--lib)"},
      {"hnet.learners.register('r', print); hnet.learners.register('r', print)", "an earlier hnet.learners.register"},
      {"hnet.learners.register('my-learner', print)", "a learner name of letters, digits and _ expected, got 'my-learner'"},
      {"hnet.learners.register('', print)", "got ''"},
      {"hnet.learners.register(7, print)", "got number"},
      {"hnet.learners.register('r', 5)", "a constructor function(opts) or a module { new = function(opts) } expected, got number"},
      {"hnet.learners.register('r', {})", "got a table without new()"},
      {"hnet.learners.register('r', print, { replce = true })", "unknown option 'replce'"},
      {"hnet.learners.register('r', print, { replace = 1 })", "field 'replace': boolean expected"},
      {"hnet.learners.new('no-such')", "'no-such' is not a learner name"},
      {"hnet.datasets.register('mnist', print)", "dataset 'mnist' already exists: datasets/mnist.lua (built in)"},
      {"hnet.datasets.register('tiny', print)", "userlib/datasets/tiny.lua (--lib)"},
      {"hnet.datasets.register('a/b', print)", "a dataset name of letters, digits, _ and - expected, got 'a/b'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = run((const char *[]){"./hnet", "--lib", lib, "-e", bad[i].code, NULL}, NULL, NULL);
    if (r->status != 1) print_error("%s: exit status %d\n%s\n", bad[i].code, r->status, r->err);
    assert_int_equal(r->status, 1);
    hnt_expect_in(r->err, bad[i].expect, bad[i].code);
  }
  /* A dataset replaced on purpose wins over the built-in file. */
  r = run((const char *[]){"./hnet", "-e",
                           "hnet.datasets.register('mnist', function(ctx)\n"
                           "  local function s(n) return { x = ctx.hnet.zeros({ n, 2 }), y = ctx.hnet.zeros({ n }) } end\n"
                           "  return { n_classes = 3, shape = { 2 }, train = s(5), test = s(1) } end, { replace = true })\n"
                           "print(hnet.datasets.load('mnist').n_classes)",
                           NULL},
          NULL, NULL);
  if (r->status != 0) print_error("%s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "3\n");
}

static void test_threads_and_seed(void **state) {
  (void)state;
  const char *code = "local h = require 'hnet'; print(h.threads(), h.seed())";
  result *r = run((const char *[]){"./hnet", "--threads", "1", "--seed", "42", "-e", code, NULL},
                  NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "1\t42\n");
  r = run((const char *[]){"./hnet", "--threads=2", "--seed=-5", "-e", code, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "2\t-5\n");
  r = run((const char *[]){"./hnet", "-e", code, NULL}, (const char *[]){"HNET_THREADS=1", NULL},
          NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "1\t1\n");
  /* HNET_SUBNORMALS chooses the subnormal mode; a bad value stops the
   * program before the script, naming the variable and both modes. */
  const char *mode = "local h = require 'hnet'; local t = 1e-160; print(h.subnormals(), t * t > 0)";
  r = run((const char *[]){"./hnet", "-e", mode, NULL}, NULL, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "flush\tfalse\n");
  r = run((const char *[]){"./hnet", "-e", mode, NULL}, (const char *[]){"HNET_SUBNORMALS=keep", NULL}, NULL);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "keep\ttrue\n");
  r = run((const char *[]){"./hnet", "-e", mode, NULL}, (const char *[]){"HNET_SUBNORMALS=fast", NULL}, NULL);
  assert_int_equal(r->status, 1);
  assert_string_equal(r->out, "");
  hnt_expect_in(r->err, "HNET_SUBNORMALS: subnormal mode 'fast'; use 'flush' (to zero, the default) or 'keep' (IEEE)",
                "bad HNET_SUBNORMALS");
  /* --seed decides the default generator's numbers. */
  const char *draw = "print(require('hnet').randn({3}):sum())";
  result a = *run((const char *[]){"./hnet", "--seed", "9", "-e", draw, NULL}, NULL, NULL);
  result *b = run((const char *[]){"./hnet", "--seed", "9", "-e", draw, NULL}, NULL, NULL);
  assert_string_equal(a.out, b->out);
  b = run((const char *[]){"./hnet", "--seed", "10", "-e", draw, NULL}, NULL, NULL);
  assert_string_not_equal(a.out, b->out);
}

static void test_prompt_and_stdin(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", NULL}, NULL, "print(hnet.version)\n1 + 1\nfor i = 1, 2 do\nprint(i)\nend\n");
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, HN_VERSION "\n2\n1\n2\n");
  /* An error at the prompt is reported and the prompt goes on. */
  r = run((const char *[]){"./hnet", "-i", NULL}, NULL, "error('oops')\nprint('after')\n");
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->err, "oops", "prompt error");
  assert_string_equal(r->out, "after\n");
  /* '-' reads the script from stdin. */
  r = run((const char *[]){"./hnet", "-", "z", NULL}, NULL, "print(arg[1], ...)\n");
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, "z\tz\n");
}

static void test_report_command(void **state) {
  (void)state;
  result *r = run((const char *[]){"./hnet", "report", tmpdir, NULL}, NULL, NULL);
  if (access("lua/hnet/report.lua", R_OK) == 0) {
    /* Another part of hnet implements it; here only that it is reached. */
    assert_true(strstr(r->err, "unknown option") == NULL);
    assert_true(strstr(r->err, "not available") == NULL);
  } else {
    assert_int_equal(r->status, 1);
    hnt_expect_in(r->err, "report command is not available", "report without report.lua");
  }
}

static void test_stock_lua_require(void **state) {
  (void)state;
  if (system("command -v lua5.4 >/dev/null 2>&1") != 0) {
    skip();
    return;
  }
  assert_int_equal(access("hnet.so", R_OK), 0);
  const char *const env[] = {"LUA_CPATH=./?.so", "LUA_PATH=lua/?.lua;lua/?/init.lua",
#ifdef HNT_LIBASAN
                             "LD_PRELOAD=" HNT_LIBASAN, /* a sanitized hnet.so (make SAN=1) */
#endif
                             NULL};
  result *r = run((const char *[]){"lua5.4", "-e",
                                   "local hnet = require 'hnet'; local t = hnet.ones(2, 3); "
                                   "print(hnet.version, t:sum(), tostring(t))",
                                   NULL},
                  env, NULL);
  if (r->status != 0) print_error("lua5.4 said: %s\n", r->err);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->out, HN_VERSION "\t6.0\thnet.Tensor[2, 3] (24 B)\n");
  /* OpenMP and OpenBLAS worker threads alive at lua_close: the module must
   * stay loaded (hnet.so is linked -z nodelete), or the exit crashes (every
   * time under ASan, now and then without). */
  const char *const env2[] = {"LUA_CPATH=./?.so", "LUA_PATH=lua/?.lua;lua/?/init.lua", "HNET_THREADS=2",
#ifdef HNT_LIBASAN
                              "LD_PRELOAD=" HNT_LIBASAN,
#endif
                              NULL};
  for (int i = 0; i < 3; i++) {
    r = run((const char *[]){"lua5.4", "-e",
                             "local hnet = require 'hnet'\n"
                             "local net = hnet.net{ input = {400}, max_batch = 300, layers = { {'linear', 300, bias = false} } }\n"
                             "local y = net:forward(hnet.ones(net:n_params()), hnet.ones(300, 400))\n"
                             "print(hnet.threads(), y:sum(), hnet.ones(1000000):sum())",
                             NULL},
            env2, NULL);
    if (r->status != 0) print_error("lua5.4 (2 threads) said: %s\n", r->err);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "2\t36000000.0\t1000000.0\n");
  }
}

/* make install into temporary prefixes (PREFIX, and DESTDIR), the installed
 * hnet and hnet.so used from another directory, make uninstall: the steps are
 * in tests/install-check.sh. */
static void test_install(void **state) {
  (void)state;
  result *r = run((const char *[]){"sh", "tests/install-check.sh", NULL}, NULL, NULL);
  if (r->status != 0) print_error("tests/install-check.sh: exit status %d\n%s%s\n", r->status, r->out, r->err);
  assert_int_equal(r->status, 0);
}

int main(void) {
  if (access("./hnet", X_OK) != 0) {
    fprintf(stderr, "test_lua_cli: ./hnet not found; run from the repository root after make all\n");
    return 1;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hnet_cli.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_and_help), cmocka_unit_test(test_exec_option),
      cmocka_unit_test(test_script_errors),    cmocka_unit_test(test_arg_table),
      cmocka_unit_test(test_bad_options),      cmocka_unit_test(test_threads_and_seed),
      cmocka_unit_test(test_prompt_and_stdin), cmocka_unit_test(test_report_command),
      cmocka_unit_test(test_stock_lua_require), cmocka_unit_test(test_option_choices),
      cmocka_unit_test(test_option_ranges),    cmocka_unit_test(test_option_without_default),
      cmocka_unit_test(test_nested_learner_options),
      cmocka_unit_test(test_experiment_lists), cmocka_unit_test(test_learner_search_path),
      cmocka_unit_test(test_learner_register), cmocka_unit_test(test_install),
  };
  int rc = cmocka_run_group_tests_name("lua_cli", tests, NULL, NULL);
  if (hnt_remove_dir(tmpdir) != 0) fprintf(stderr, "test_lua_cli: could not remove %s\n", tmpdir);
  return rc;
}
