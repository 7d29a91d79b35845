/*
 * test_lua_reliability.c — runs that survive and speak (issue 6):
 *   - resume equals uninterrupted, bit for bit: every learner is stopped in
 *     the middle of task 2 (hnet.run's stop_after test hook), resumed in a
 *     NEW Lua state, and must end with the same accuracy matrix, b and final
 *     learner state (every tensor's bits) as an uninterrupted run; also with a
 *     checkpoint after every step, and after a crash at a task boundary;
 *   - interrupts of ./hnet from outside: SIGINT -> exit 130 with a checkpoint
 *     and the resume command, which then finishes with the same results;
 *     SIGTERM -> 143; SIGKILL -> resumes from the last task's checkpoint; a
 *     second SIGINT exits at once;
 *   - the bad-input table of tests/bad_inputs.lua (checkpoints, datasets,
 *     options, run directories, a full disk, numerical faults; in scripts and
 *     on the command line): each must fail with its words, and afterwards
 *     every earlier result and checkpoint is byte-identical;
 *   - run directories, `./hnet report`, --quiet / --verbose.
 * Run from the repository root after `make all` (./hnet must exist).
 */
#include "harness.h"
#include "lua_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX 8192
#define OUT_MAX 65536

static char tmpdir[64];
static lua_State *LS; /* the long-lived state holding the fixtures (global BI) */

/* ---- Lua helpers ------------------------------------------------------------ */

static void run_ok(lua_State *L, const char *chunk) {
  char msg[MSG_MAX];
  int st = hntl_run(L, chunk, msg, sizeof msg);
  if (st != LUA_OK) fail_msg("Lua chunk failed: %s\n--- chunk:\n%s", msg, chunk);
}

/* A state with BI = dofile("tests/bad_inputs.lua") and BI.dir set. */
static lua_State *new_state(void) {
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  char chunk[512];
  snprintf(chunk, sizeof chunk, "BI = dofile('tests/bad_inputs.lua'); BI.dir = '%s'", tmpdir);
  run_ok(L, chunk);
  return L;
}

static const char *eval_string(lua_State *L, const char *expr, char *buf, size_t n) {
  const char *s = hntl_string(L, expr, buf, n);
  if (!s) fail_msg("could not evaluate %s", expr);
  return s;
}

/* ---- processes ----------------------------------------------------------------- */

typedef struct proc {
  pid_t pid;
  int fo, fe;
  int status; /* exit status, or 128 + signal; -1 while running */
  char out[OUT_MAX];
  char err[OUT_MAX];
} proc;

static void slurp(int fd, char *buf, size_t n) {
  lseek(fd, 0, SEEK_SET);
  ssize_t got = read(fd, buf, n - 1);
  buf[got > 0 ? got : 0] = '\0';
  close(fd);
}

static int tmpfile_fd(const char *what) {
  char p[128];
  snprintf(p, sizeof p, "%s/%s.XXXXXX", tmpdir, what);
  int fd = mkstemp(p);
  assert_true(fd >= 0);
  unlink(p);
  return fd;
}

/* Start ./hnet with argv (NULL-terminated, without the program) and extra
 * environment entries ("K=V", NULL-terminated; may be NULL). */
static void spawn(proc *p, const char *const *argv, const char *const *env) {
  memset(p, 0, sizeof *p);
  p->status = -1;
  p->fo = tmpfile_fd("out");
  p->fe = tmpfile_fd("err");
  const char *full[64];
  int n = 0;
  full[n++] = "./hnet";
  for (int i = 0; argv[i] && n < 62; i++) full[n++] = argv[i];
  full[n] = NULL;
  fflush(NULL);
  p->pid = fork();
  assert_true(p->pid >= 0);
  if (p->pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(p->fo, 1);
    dup2(p->fe, 2);
    for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
    execv("./hnet", (char *const *)full);
    fprintf(stderr, "exec ./hnet failed\n");
    _exit(127);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap(void) {
  struct timespec ts = {0, 10 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Wait (at most `limit` seconds) for the process; on a timeout it is killed
 * and the test fails. Collects stdout and stderr. */
static void finish(proc *p, double limit) {
  double t0 = now_s();
  int ws = 0;
  for (;;) {
    pid_t r = waitpid(p->pid, &ws, WNOHANG);
    if (r == p->pid) break;
    if (now_s() - t0 > limit) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &ws, 0);
      slurp(p->fo, p->out, sizeof p->out);
      slurp(p->fe, p->err, sizeof p->err);
      fail_msg("./hnet did not finish within %.0f s; stderr:\n%s", limit, p->err);
    }
    nap();
  }
  p->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  slurp(p->fo, p->out, sizeof p->out);
  slurp(p->fe, p->err, sizeof p->err);
}

static proc *run_hnet(const char *const *argv, const char *const *env) {
  static proc p;
  spawn(&p, argv, env);
  finish(&p, 120);
  return &p;
}

/* Wait (bounded) until `path` exists; fails the test if it never does. */
static void wait_for_file(proc *p, const char *path, double limit) {
  double t0 = now_s();
  while (access(path, F_OK) != 0) {
    int ws;
    if (waitpid(p->pid, &ws, WNOHANG) == p->pid) {
      p->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      slurp(p->fo, p->out, sizeof p->out);
      slurp(p->fe, p->err, sizeof p->err);
      fail_msg("./hnet exited (%d) before writing %s; stderr:\n%s", p->status, path, p->err);
    }
    if (now_s() - t0 > limit) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &ws, 0);
      fail_msg("%s did not appear within %.0f s", path, limit);
    }
    nap();
  }
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
  fclose(f);
  if (!b) return NULL;
  b[got] = '\0';
  if (len) *len = got;
  return b;
}

static void assert_same_file(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  char *x = read_all(a, &na), *y = read_all(b, &nb);
  if (!x || !y) fail_msg("cannot read %s or %s", a, b);
  if (na != nb || memcmp(x, y, na) != 0) {
    print_error("%s:\n%s\n%s:\n%s\n", a, x, b, y);
    free(x);
    free(y);
    fail_msg("%s and %s differ", a, b);
  }
  free(x);
  free(y);
}

/* ---- resume equals uninterrupted ----------------------------------------------- */

/* Learner `name` with learner options `lopts` and run options `ropts` (Lua
 * table bodies): an uninterrupted run, the same stopped at task 2, iteration
 * 13 and resumed in a new state, a run checkpointing after every step, and a
 * run that crashes when task 3 begins and is resumed from the checkpoint of
 * task 2. All must end bit-identical. */
static void check_resume(const char *name, const char *lopts, const char *ropts) {
  char chunk[8192], sig_full[OUT_MAX], sig[OUT_MAX];
  char dir[256];
  static int serial;
  snprintf(dir, sizeof dir, "%s/resume_%s_%d", tmpdir, name, ++serial);
  lua_State *L = new_state();
  snprintf(chunk, sizeof chunk,
           "local ro = { out = '%s/full' } for k, v in pairs({%s}) do ro[k] = v end\n"
           "SIG = BI.signature(BI.run('%s', ro, {%s}))\n"
           "ro.out = '%s/every' ro.checkpoint_every = 1e-12\n"
           "SIG_EVERY = BI.signature(BI.run('%s', ro, {%s}))\n"
           "ro.out, ro.checkpoint_every = '%s/stopped', nil\n"
           "ro.stop_after = { task = 2, iteration = 13 }\n"
           "local r = BI.run('%s', ro, {%s})\n"
           "assert(r.stopped and r.stopped.task == 2 and r.stopped.iteration == 13, 'not stopped')\n"
           "assert(not r.summary, 'a stopped run has no summary')\n"
           "ro.stop_after, ro.out = nil, '%s/crashed'\n"
           "local l = BI.learner('%s', {%s})\n"
           "local bt = l.begin_task\n"
           "function l:begin_task(t, task) if t == 3 then error('simulated crash') end return bt(self, t, task) end\n"
           "ro.quiet, ro.plots = true, false\n"
           "local ok, err = pcall(hnet.run, l, BI.stream(3), ro)\n"
           "assert(not ok and tostring(err):find('simulated crash'), tostring(err))\n",
           dir, ropts, name, lopts, dir, name, lopts, dir, name, lopts, dir, name, lopts);
  run_ok(L, chunk);
  eval_string(L, "SIG", sig_full, sizeof sig_full);
  eval_string(L, "SIG_EVERY", sig, sizeof sig);
  assert_string_equal(sig, sig_full);
  lua_close(L);
  /* Resume each in a fresh state, as a new process would. */
  const char *which[] = {"stopped", "crashed"};
  for (int k = 0; k < 2; k++) {
    L = new_state();
    snprintf(chunk, sizeof chunk,
             "local ro = { resume = '%s/%s' } for k, v in pairs({%s}) do ro[k] = v end\n"
             "local r = BI.run('%s', ro, {%s})\n"
             "assert(r.summary, 'the resumed run did not finish')\n"
             "SIG = BI.signature(r)\n",
             dir, which[k], ropts, name, lopts);
    run_ok(L, chunk);
    eval_string(L, "SIG", sig, sizeof sig);
    if (strcmp(sig, sig_full) != 0) print_error("%s: the run resumed from '%s' differs\n", name, which[k]);
    assert_string_equal(sig, sig_full);
    lua_close(L);
  }
}

static void test_resume_hypernet_lookahead(void **s) {
  (void)s;
  check_resume("hypernet", "lookahead = true", "");
}
static void test_resume_hypernet_subset_recompute(void **s) {
  (void)s;
  /* A random subset of earlier tasks per step, targets recomputed from θ*. */
  check_resume("hypernet", "lookahead = false, reg_tasks = 1, store_targets = false", "");
}
static void test_resume_hypernet_batchnorm_class(void **s) {
  (void)s;
  check_resume("hypernet", "target = { 'mlp', hidden = { 8 }, batchnorm = true }",
               "scenario = 'class'");
}
/* hnet_tir's three phases per task (classifier, task inference, replay
 * model): with 8 iterations a phase, task 2 stops at iteration 13 inside the
 * task-inference phase; with 5, inside the replay model's (chunked
 * hypernetworks there). */
#define TIR_SMALL                                                                                  \
  "tir_hidden = { 8 }, hnet = { embedding = 4, hidden = { 8 }, chunk = 0, chunk_embedding = 4 }, " \
  "replay = { recon = 'gaussian', latent = 2, cond = 3, enc_hidden = { 8 }, dec_hidden = { 8 }, "  \
  "hnet = { embedding = 4, hidden = { 8 }, chunk = 50, chunk_embedding = 4 } }"
static void test_resume_hnet_tir_inference_phase(void **s) {
  (void)s;
  check_resume("hnet_tir", "iterations = 8, " TIR_SMALL, "scenario = 'class'");
}
static void test_resume_hnet_tir_replay_phase(void **s) {
  (void)s;
  check_resume("hnet_tir", "iterations = 5, " TIR_SMALL, "scenario = 'domain'");
}
/* hnet_r's two phases per task (classifier with replay, replay model):
 * with 30 iterations a phase, task 2 stops at iteration 13 while the
 * classifier learns from replayed inputs; with 10, inside the replay
 * model's phase. */
#define R_SMALL                                                                                   \
  "replay = { recon = 'gaussian', latent = 2, cond = 3, enc_hidden = { 8 }, dec_hidden = { 8 }, " \
  "hnet = { embedding = 4, hidden = { 8 }, chunk = 0, chunk_embedding = 4 } }"
static void test_resume_hnet_r_classifier_phase(void **s) {
  (void)s;
  check_resume("hnet_r", "iterations = 30, " R_SMALL, "scenario = 'class'");
}
static void test_resume_hnet_r_replay_phase(void **s) {
  (void)s;
  check_resume("hnet_r", "iterations = 10, hard_targets = true, " R_SMALL, "scenario = 'task-given'");
}
static void test_resume_ewc(void **s) {
  (void)s;
  check_resume("ewc", "lambda = 100, fisher_samples = 20", "scenario = 'class'");
}
/* Adam carried from task to task: the checkpoint between tasks holds it. */
static void test_resume_ewc_adam_carried(void **s) {
  (void)s;
  check_resume("ewc", "lambda = 100, fisher_samples = 20, fisher_labels = 'predicted', reset_optimiser = false",
               "scenario = 'class'");
}
static void test_resume_si(void **s) {
  (void)s;
  check_resume("si", "", "");
}
static void test_resume_online_ewc(void **s) {
  (void)s;
  check_resume("online_ewc", "fisher_samples = 20", "scenario = 'domain'");
}
static void test_resume_separate(void **s) {
  (void)s;
  check_resume("separate", "", "scenario = 'class'");
}
static void test_resume_joint(void **s) {
  (void)s;
  check_resume("joint", "", "scenario = 'class'");
}
static void test_resume_finetune(void **s) {
  (void)s;
  check_resume("finetune", "target = { 'mlp', hidden = { 8 }, dropout = 0.2 }", "");
}

/* A run resumed under the other subnormal mode says so in its log (its
 * results may then differ from an uninterrupted run's). */
static void test_resume_notes_subnormal_mode(void **s) {
  (void)s;
  char chunk[2048];
  lua_State *L = new_state();
  snprintf(chunk, sizeof chunk,
           "assert(hnet.subnormals() == 'flush')\n"
           "local r = BI.run('hypernet', { out = '%s/subn', stop_after = { task = 2, iteration = 5 } }, {})\n"
           "assert(r.stopped, 'not stopped')\n",
           tmpdir);
  run_ok(L, chunk);
  lua_close(L);
  L = new_state();
  snprintf(chunk, sizeof chunk,
           "hnet.subnormals('keep')\n"
           "local ok, r = pcall(BI.run, 'hypernet', { resume = '%s/subn' }, {})\n"
           "hnet.subnormals('flush')\n"
           "assert(ok, r) assert(r.summary, 'the resumed run did not finish')\n"
           "local log = BI.bytes('%s/subn/log.txt')\n"
           "assert(log:find('checkpoint was written with subnormals flush, this run keeps them', 1, true), log)\n",
           tmpdir, tmpdir);
  run_ok(L, chunk);
  lua_close(L);
}

/* A learner from the user's folder (docs/examples/replay, found through
 * HNET_PATH) resumes bit for bit like the built-in ones: its reservoir, its
 * sample count and its RNG are in its state. Task 1's 120 training samples
 * fill the 50-sample memory and draw replacements, so the run stopped in
 * task 2 replays from it and draws its batch rows from the RNG. */
static void check_resume_replay(const char *scenario) {
  setenv("HNET_PATH", "docs/examples/replay", 1);
  char ropts[64];
  snprintf(ropts, sizeof ropts, "scenario = '%s'", scenario);
  check_resume("replay", "memory = 50, replay_batch = 8", ropts);
}
/* Also after a failed check (cmocka jumps out of it): later tests run
 * without the example's folder on the path. */
static int unset_path(void **s) {
  (void)s;
  unsetenv("HNET_PATH");
  return 0;
}
static void test_resume_replay_task_given(void **s) {
  (void)s;
  check_resume_replay("task-given");
}
static void test_resume_replay_domain(void **s) {
  (void)s;
  check_resume_replay("domain");
}
static void test_resume_replay_class(void **s) {
  (void)s;
  check_resume_replay("class");
}

/* Resuming a finished run loads it and trains nothing. */
static void test_resume_finished(void **s) {
  (void)s;
  char chunk[4096];
  snprintf(chunk, sizeof chunk,
           "os.execute(\"cp -r '%s/finished' '%s/finished_copy'\")\n"
           "local l = BI.learner('hypernet')\n"
           "function l:train_task() error('a finished run was trained again') end\n"
           "local r = hnet.run(l, BI.stream(3), { resume = '%s/finished_copy', quiet = true, plots = false })\n"
           "local a = BI.checkpoint_signature('%s/finished/checkpoint.hnck')\n"
           "assert(r.summary and r.summary.acc, 'no summary')\n"
           "local want = require('cjson').decode(BI.bytes('%s/finished/summary.json'))\n"
           "assert(math.abs(r.summary.acc - want.acc) < 1e-9, 'ACC differs')\n"
           "assert(BI.bytes('%s/finished/summary.json') == BI.bytes('%s/finished_copy/summary.json'))\n",
           tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
  run_ok(LS, chunk);
}

/* A hypernetwork checkpoint written before the learner had its `init`
 * option (every run then used hyperfan) resumes under init = "hyperfan" and
 * is refused under "xavier", naming the option; one written before the run
 * recorded its task-inference policy is taken as the entropy policy's. */
static void test_resume_from_before_init(void **s) {
  (void)s;
  char chunk[4096];
  snprintf(chunk, sizeof chunk,
           "local ck = require 'hnet.checkpoint'\n"
           "local dir = '%s/before_init'\n"
           "local r = BI.run('hypernet', { out = dir, stop_after = { task = 2, iteration = 5 } })\n"
           "assert(r.stopped, 'not stopped')\n"
           "local header, state = ck.load(dir .. '/checkpoint.hnck')\n"
           "assert(header.fingerprint.options.init == '\"hyperfan\"', 'the default init')\n"
           "header.fingerprint.options.init = nil\n"
           "assert(header.fingerprint.inference == 'entropy', 'the default task-inference policy')\n"
           "header.fingerprint.inference = nil\n"
           "ck.save(dir .. '/checkpoint.hnck', header, state)\n"
           "local ok0, err0 = pcall(BI.run, 'hypernet', { resume = dir, inference = 'energy' })\n"
           "assert(not ok0 and tostring(err0):find(\"task-inference policy 'entropy' there, 'energy' here\", 1, true),\n"
           "  tostring(err0))\n"
           "local ok, err = pcall(BI.run, 'hypernet', { resume = dir }, { init = 'xavier' })\n"
           "assert(not ok and tostring(err):find('learner option \\'init\\' is \"hyperfan\" there, \"xavier\" here', 1, true),\n"
           "  tostring(err))\n"
           "local r2 = BI.run('hypernet', { resume = dir })\n"
           "assert(r2.summary and r2.summary.acc > 50, 'the resumed run did not finish')\n",
           tmpdir);
  run_ok(LS, chunk);
}

/* An EWC checkpoint written before the learner had fisher_labels (every run
 * then took the given labels) resumes under "given" and is refused under
 * "predicted", naming the option. */
static void test_resume_ewc_from_before_fisher_labels(void **s) {
  (void)s;
  char chunk[4096];
  snprintf(chunk, sizeof chunk,
           "local ck = require 'hnet.checkpoint'\n"
           "local dir = '%s/before_fisher_labels'\n"
           "local r = BI.run('ewc', { out = dir, stop_after = { task = 2, iteration = 5 } }, { lambda = 100 })\n"
           "assert(r.stopped, 'not stopped')\n"
           "local header, state = ck.load(dir .. '/checkpoint.hnck')\n"
           "assert(header.fingerprint.options.fisher_labels == '\"given\"', 'the default labels')\n"
           "header.fingerprint.options.fisher_labels = nil\n"
           "ck.save(dir .. '/checkpoint.hnck', header, state)\n"
           "local ok, err = pcall(BI.run, 'ewc', { resume = dir }, { lambda = 100, fisher_labels = 'predicted' })\n"
           "assert(not ok and tostring(err):find('learner option \\'fisher_labels\\' is \"given\" there, \"predicted\" here', 1, true),\n"
           "  tostring(err))\n"
           "local r2 = BI.run('ewc', { resume = dir }, { lambda = 100 })\n"
           "assert(r2.summary and r2.summary.acc > 50, 'the resumed run did not finish')\n",
           tmpdir);
  run_ok(LS, chunk);
}

/* hnet.checkpoint keeps every value exactly (lua-cjson alone keeps 14 digits). */
static void test_checkpoint_roundtrip(void **s) {
  (void)s;
  char chunk[4096];
  snprintf(chunk, sizeof chunk,
           "local ck = require 'hnet.checkpoint'\n"
           "local t = hnet.randn({ 3, 5 }, hnet.rng(4))\n"
           "local st = { t = t, order = { 5, 3, 1, 2, 4 }, rng = hnet.rng(9):state(),\n"
           "  R = { { 1 / 3 }, { 0.1, 2 / 7 }, [5] = { [3] = -0.0 } }, big = math.mininteger,\n"
           "  f = 2 ^ -1074, inf = math.huge, s = 'a\\0b\\n\"', yes = true, empty = {} }\n"
           "ck.save('%s/rt.hnck', { phase = 'x', n = 3 }, st)\n"
           "local h, b = ck.load('%s/rt.hnck')\n"
           "assert(h.phase == 'x' and h.n == 3 and math.type(h.n) == 'integer')\n"
           "assert(b.t:sqdist(t) == 0 and #b.t:shape() == 2 and b.t:size(2) == 5)\n"
           "assert(table.concat(b.order, ',') == '5,3,1,2,4')\n"
           "for i = 1, 4 do assert(b.rng[i] == st.rng[i]) end\n"
           "assert(('%%a %%a %%a'):format(b.R[1][1], b.R[2][1], b.R[2][2]) == ('%%a %%a %%a'):format(1 / 3, 0.1, 2 / 7))\n"
           "assert(b.R[5][3] == 0 and 1 / b.R[5][3] < 0 and b.R[3] == nil)\n"
           "assert(b.big == math.mininteger and b.f == 2 ^ -1074 and b.inf == math.huge)\n"
           "assert(b.s == st.s and b.yes == true and next(b.empty) == nil)\n",
           tmpdir, tmpdir);
  run_ok(LS, chunk);
}

/* ---- interrupts from outside ------------------------------------------------------ */

static void check_signal(int sig, int want_status) {
  char dir[256], marker[300], env_marker[320], ref[256];
  snprintf(dir, sizeof dir, "%s/sig%d", tmpdir, sig);
  snprintf(ref, sizeof ref, "%s/sig%d_ref", tmpdir, sig);
  snprintf(marker, sizeof marker, "%s/sig%d.marker", tmpdir, sig);
  snprintf(env_marker, sizeof env_marker, "HNET_TEST_MARKER=%s", marker);
  char exp[256];
  snprintf(exp, sizeof exp, "%s/test_exp.lua", tmpdir);
  proc p;
  /* --threads 1 given to the program, not the script: the resume command
   * must repeat it (another thread count is not bit-exact). */
  const char *argv[] = {"--threads", "1", exp, "--out", dir, NULL};
  const char *env[] = {env_marker, NULL};
  spawn(&p, argv, env);
  wait_for_file(&p, marker, 60);
  kill(p.pid, sig);
  finish(&p, 60);
  if (p.status != want_status) print_error("stderr:\n%s\n", p.err);
  assert_int_equal(p.status, want_status);
  hnt_expect_in(p.err, "task 2, iteration 7", "interrupt message");
  hnt_expect_in(p.err, "checkpoint written to", "interrupt message");
  char hint[700];
  snprintf(hint, sizeof hint, "interrupted: resume with ./hnet --threads 1 %s --resume %s\n", exp, dir);
  hnt_expect_in(p.err, hint, "interrupt message");
  char ck[320];
  snprintf(ck, sizeof ck, "%s/checkpoint.hnck", dir);
  assert_int_equal(access(ck, R_OK), 0);
  char sum[320];
  snprintf(sum, sizeof sum, "%s/summary.json", dir);
  assert_int_not_equal(access(sum, F_OK), 0); /* not finished */
  /* Resume, and an uninterrupted reference run. */
  const char *resume_argv[] = {"--threads", "1", exp, "--resume", dir, NULL}; /* the hint's command */
  proc *r = run_hnet(resume_argv, NULL);
  if (r->status != 0) print_error("resume failed:\n%s\n", r->err);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "resuming", "resumed run");
  const char *ref_argv[] = {exp, "--threads", "1", "--out", ref, NULL};
  r = run_hnet(ref_argv, NULL);
  assert_int_equal(r->status, 0);
  char a[320], b[320];
  snprintf(a, sizeof a, "%s/accuracy_matrix.csv", dir);
  snprintf(b, sizeof b, "%s/accuracy_matrix.csv", ref);
  assert_same_file(a, b);
  char chunk[4096], s1[OUT_MAX], s2[OUT_MAX];
  snprintf(chunk, sizeof chunk,
           "S1 = BI.checkpoint_signature('%s/checkpoint.hnck')\n"
           "S2 = BI.checkpoint_signature('%s/checkpoint.hnck')\n", dir, ref);
  run_ok(LS, chunk);
  eval_string(LS, "S1", s1, sizeof s1);
  eval_string(LS, "S2", s2, sizeof s2);
  assert_string_equal(s1, s2);
}

static void test_sigint(void **s) {
  (void)s;
  check_signal(SIGINT, 130);
}

static void test_sigterm(void **s) {
  (void)s;
  check_signal(SIGTERM, 143);
}

/* SIGKILL in task 2: the checkpoint of task 1 remains and resumes. */
static void test_sigkill_resumes(void **s) {
  (void)s;
  char dir[256], ref[256], marker[300], env_marker[320], exp[256];
  snprintf(dir, sizeof dir, "%s/kill", tmpdir);
  snprintf(ref, sizeof ref, "%s/sig%d_ref", tmpdir, SIGINT); /* made by test_sigint */
  snprintf(marker, sizeof marker, "%s/kill.marker", tmpdir);
  snprintf(env_marker, sizeof env_marker, "HNET_TEST_MARKER=%s", marker);
  snprintf(exp, sizeof exp, "%s/test_exp.lua", tmpdir);
  proc p;
  const char *argv[] = {exp, "--threads", "1", "--out", dir, NULL};
  const char *env[] = {env_marker, NULL};
  spawn(&p, argv, env);
  wait_for_file(&p, marker, 60);
  kill(p.pid, SIGKILL);
  finish(&p, 60);
  assert_int_equal(p.status, 128 + SIGKILL);
  const char *resume_argv[] = {exp, "--threads", "1", "--resume", dir, NULL};
  proc *r = run_hnet(resume_argv, NULL);
  if (r->status != 0) print_error("resume failed:\n%s\n", r->err);
  assert_int_equal(r->status, 0);
  hnt_expect_in(r->out, "resuming", "resumed after SIGKILL");
  hnt_expect_in(r->out, "after task 1", "resumed after SIGKILL");
  char a[320], b[320];
  snprintf(a, sizeof a, "%s/accuracy_matrix.csv", dir);
  snprintf(b, sizeof b, "%s/accuracy_matrix.csv", ref);
  if (access(b, R_OK) == 0) assert_same_file(a, b);
}

/* A second signal exits at once (the first only asks for a checkpoint). */
static void test_second_signal(void **s) {
  (void)s;
  char marker[300], env_marker[320], exp[256];
  snprintf(marker, sizeof marker, "%s/spin.marker", tmpdir);
  snprintf(env_marker, sizeof env_marker, "HNET_TEST_SPIN=%s", marker);
  snprintf(exp, sizeof exp, "%s/test_exp.lua", tmpdir);
  proc p;
  const char *argv[] = {exp, NULL};
  const char *env[] = {env_marker, NULL};
  spawn(&p, argv, env);
  wait_for_file(&p, marker, 60);
  kill(p.pid, SIGINT);
  /* Two signals sent back to back may merge into one: wait until the first
   * was seen (the script writes <marker>.1). */
  char seen[320];
  snprintf(seen, sizeof seen, "%s.1", marker);
  wait_for_file(&p, seen, 60);
  double t0 = now_s();
  kill(p.pid, SIGINT);
  finish(&p, 60);
  assert_int_equal(p.status, 130);
  /* "At once": well before the 60 s the script would otherwise spin. */
  assert_true(now_s() - t0 < 30);
}

/* ---- the bad-input table --------------------------------------------------------- */

static int n_cases_checked;

static void check_intact(lua_State *L, const char *after) {
  char buf[MSG_MAX];
  eval_string(L, "BI.intact() or 'ok'", buf, sizeof buf);
  if (strcmp(buf, "ok") != 0) fail_msg("after case '%s': %s", after, buf);
}

static void test_bad_inputs_lua(void **s) {
  (void)s;
  lua_State *L = LS;
  lua_Integer n = (lua_Integer)hntl_number(L, "#BI.cases");
  assert_true(n >= 40);
  for (lua_Integer i = 1; i <= n; i++) {
    char expr[128], name[256], msg[MSG_MAX], chunk[256];
    snprintf(expr, sizeof expr, "BI.cases[%lld].name", (long long)i);
    eval_string(L, expr, name, sizeof name);
    snprintf(chunk, sizeof chunk, "BI.cases[%lld].run()", (long long)i);
    int st = hntl_run(L, chunk, msg, sizeof msg);
    if (st != LUA_ERRRUN) fail_msg("case %lld '%s': expected an error, got status %d", (long long)i, name, st);
    /* Every expected word. */
    snprintf(expr, sizeof expr, "#BI.cases[%lld].expect", (long long)i);
    int k = (int)hntl_number(L, expr);
    assert_true(k >= 1);
    for (int j = 1; j <= k; j++) {
      char word[512];
      snprintf(expr, sizeof expr, "BI.cases[%lld].expect[%d]", (long long)i, j);
      eval_string(L, expr, word, sizeof word);
      if (!strstr(msg, word)) fail_msg("case %lld '%s': \"%s\" not in the message:\n%s", (long long)i, name, word, msg);
    }
    /* The case's own check, then nothing earlier lost. */
    snprintf(expr, sizeof expr, "BI.cases[%lld].after and BI.cases[%lld].after() or 'ok'", (long long)i,
             (long long)i);
    char after[MSG_MAX];
    eval_string(L, expr, after, sizeof after);
    if (strcmp(after, "ok") != 0) fail_msg("case %lld '%s': %s", (long long)i, name, after);
    check_intact(L, name);
    lua_gc(L, LUA_GCCOLLECT);
    n_cases_checked++;
  }
}

static void test_bad_inputs_cli(void **s) {
  (void)s;
  lua_State *L = LS;
  run_ok(L, "CLI = BI.cli_cases()");
  lua_Integer n = (lua_Integer)hntl_number(L, "#CLI");
  assert_true(n >= 10);
  for (lua_Integer i = 1; i <= n; i++) {
    char expr[160], name[256], args[16][512], envs[4][512];
    const char *argv[17], *env[5];
    snprintf(expr, sizeof expr, "CLI[%lld].name", (long long)i);
    eval_string(L, expr, name, sizeof name);
    snprintf(expr, sizeof expr, "#CLI[%lld].args", (long long)i);
    int na = (int)hntl_number(L, expr);
    assert_true(na >= 1 && na <= 16);
    for (int j = 0; j < na; j++) {
      snprintf(expr, sizeof expr, "CLI[%lld].args[%d]", (long long)i, j + 1);
      argv[j] = eval_string(L, expr, args[j], sizeof args[j]);
    }
    argv[na] = NULL;
    snprintf(expr, sizeof expr, "#(CLI[%lld].env or {})", (long long)i);
    int ne = (int)hntl_number(L, expr);
    assert_true(ne >= 0 && ne <= 4);
    for (int j = 0; j < ne; j++) {
      snprintf(expr, sizeof expr, "CLI[%lld].env[%d]", (long long)i, j + 1);
      env[j] = eval_string(L, expr, envs[j], sizeof envs[j]);
    }
    env[ne] = NULL;
    proc *p = run_hnet(argv, env);
    if (p->status == 0) fail_msg("cli case %lld '%s': exit status 0; stdout:\n%s", (long long)i, name, p->out);
    if (p->status >= 128) fail_msg("cli case %lld '%s': crashed (status %d):\n%s", (long long)i, name, p->status, p->err);
    snprintf(expr, sizeof expr, "#CLI[%lld].expect", (long long)i);
    int k = (int)hntl_number(L, expr);
    for (int j = 1; j <= k; j++) {
      char word[512];
      snprintf(expr, sizeof expr, "CLI[%lld].expect[%d]", (long long)i, j);
      eval_string(L, expr, word, sizeof word);
      if (!strstr(p->err, word))
        fail_msg("cli case %lld '%s': \"%s\" not in stderr:\n%s", (long long)i, name, word, p->err);
    }
    check_intact(L, name);
    n_cases_checked++;
  }
  printf("# bad inputs checked: %d (Lua and command line)\n", n_cases_checked);
}

/* ---- run directories, reports, progress ---------------------------------------------- */

static void test_run_directory(void **s) {
  (void)s;
  char chunk[4096];
  snprintf(chunk, sizeof chunk,
           "local d = '%s/cli_finished'\n"
           "for _, f in ipairs { 'options.json', 'script.lua', 'metrics.csv', 'accuracy_matrix.csv',\n"
           "                     'summary.json', 'checkpoint.hnck', 'log.txt' } do\n"
           "  assert(BI.bytes(d .. '/' .. f), 'missing ' .. f)\n"
           "end\n"
           "local o = require('cjson').decode(BI.bytes(d .. '/options.json'))\n"
           "assert(o.script == BI.exp, 'script ' .. tostring(o.script))\n"
           "assert(type(o.command_line) == 'table' and o.command_line[#o.command_line] == d, 'command line')\n"
           "assert(o.seed == 1 and o.threads == 1 and o.version == hnet.version, 'seed/threads/version')\n"
           "assert(o.subnormals == hnet.subnormals(), 'subnormal mode ' .. tostring(o.subnormals))\n"
           "assert(type(o.git_commit) == 'string' and #o.git_commit > 0, 'git commit')\n"
           "assert(o.learner == 'hypernet' and o.options.lr == 0.01, 'learner options')\n"
           "assert(BI.bytes(d .. '/script.lua') == BI.bytes(BI.exp), 'script copy')\n"
           "local log = BI.bytes(d .. '/log.txt')\n"
           "assert(log:find('after task 3/3', 1, true) and log:find('task 3/3  it 60/60', 1, true), log)\n"
           "local h = require('hnet.checkpoint').load(d .. '/checkpoint.hnck')\n"
           "assert(h.phase == 'finished' and h.task == 3 and h.subnormals == hnet.subnormals(), 'final checkpoint')\n"
           "-- Plots, with gnuplot; a message in log.txt without it.\n"
           "local r = BI.run('hypernet', { out = '%s/plots', plots = true })\n"
           "local have = os.execute('command -v gnuplot >/dev/null 2>&1')\n"
           "local plog = BI.bytes('%s/plots/log.txt')\n"
           "if have then\n"
           "  for _, f in ipairs { 'accuracy_matrix.png', 'accuracy_over_stream.png' } do\n"
           "    local png = BI.bytes('%s/plots/' .. f)\n"
           "    assert(png and png:sub(1, 4) == '\\x89PNG', f .. ' is not a PNG')\n"
           "  end\n"
           "else\n"
           "  assert(plog:find('plots skipped', 1, true), 'no skip message')\n"
           "end\n",
           tmpdir, tmpdir, tmpdir, tmpdir);
  run_ok(LS, chunk);
}

static void test_report(void **s) {
  (void)s;
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/finished", tmpdir);
  snprintf(b, sizeof b, "%s/cli_finished", tmpdir);
  const char *one[] = {"report", a, NULL};
  proc *p = run_hnet(one, NULL);
  if (p->status != 0) print_error("%s\n", p->err);
  assert_int_equal(p->status, 0);
  hnt_expect_in(p->out, "hypernet on test-blobs", "report");
  hnt_expect_in(p->out, "after \\ task", "report");
  hnt_expect_in(p->out, "ACC ", "report");
  hnt_expect_in(p->out, "BWT ", "report");
  hnt_expect_in(p->out, "FWT ", "report");
  hnt_expect_in(p->out, "forgetting ", "report");
  hnt_expect_in(p->out, "trainable parameters", "report");
  /* The matrix printed is the file's. */
  char chunk[4096], want[256];
  snprintf(chunk, sizeof chunk,
           "local R = require('hnet.report').load('%s').R\n"
           "W = ('%%9.2f'):format(R[3][2])", a);
  run_ok(LS, chunk);
  eval_string(LS, "W", want, sizeof want);
  hnt_expect_in(p->out, want, "report matrix cell");
  const char *two[] = {"report", a, b, NULL};
  p = run_hnet(two, NULL);
  assert_int_equal(p->status, 0);
  hnt_expect_in(p->out, a, "compare");
  hnt_expect_in(p->out, b, "compare");
  const char *rows[] = {"ACC %", "BWT", "FWT", "forgetting", "task inference %", "time (s)", "params"};
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) hnt_expect_in(p->out, rows[i], "compare");
  /* Not a run: exit 1 and a clear message. */
  char user[256];
  snprintf(user, sizeof user, "%s/cli_user_folder", tmpdir); /* made by the CLI cases */
  const char *bad[] = {"report", user, NULL};
  p = run_hnet(bad, NULL);
  assert_int_equal(p->status, 1);
  hnt_expect_in(p->err, "not a run directory", "report of a non-run");
  /* An experiment's directory (split_mnist.lua's --out): each run in it,
   * and what is not a run is named. */
  char exp_dir[256];
  snprintf(exp_dir, sizeof exp_dir, "%s/an_experiment_report", tmpdir);
  snprintf(chunk, sizeof chunk,
           "local e = '%s'\n"
           "assert(hnet.sys.mkdir_p(e .. '/notes'))\n"
           "assert(os.execute(\"cp -r '%s' '\" .. e .. \"/hypernet-task-given'\"))\n"
           "assert(os.execute(\"cp -r '%s' '\" .. e .. \"/hypernet-class'\"))\n"
           "BI.write(e .. '/results.md', '| learner |\\n')\n",
           exp_dir, a, b);
  run_ok(LS, chunk);
  const char *exp_args[] = {"report", exp_dir, NULL};
  p = run_hnet(exp_args, NULL);
  if (p->status != 0) print_error("%s\n", p->err);
  assert_int_equal(p->status, 0);
  hnt_expect_in(p->out, "experiment ", "report of an experiment");
  hnt_expect_in(p->out, "2 finished runs", "report of an experiment");
  hnt_expect_in(p->out, "hypernet-task-given", "report of an experiment");
  hnt_expect_in(p->out, "hypernet-class", "report of an experiment");
  hnt_expect_in(p->out, "ACC %", "report of an experiment");
  hnt_expect_in(p->err, "/notes", "report of an experiment");
  hnt_expect_in(p->err, "not a run directory", "report of an experiment");
  /* A script's results without runs (gradual_drift.lua's --out): shown. */
  char drift[256];
  snprintf(drift, sizeof drift, "%s/drift_done", tmpdir); /* made by the CLI cases */
  const char *drift_args[] = {"report", drift, NULL};
  p = run_hnet(drift_args, NULL);
  if (p->status != 0) print_error("%s\n", p->err);
  assert_int_equal(p->status, 0);
  hnt_expect_in(p->out, "### Gradual drift", "report of results without runs");
  const char *none[] = {"report", NULL};
  p = run_hnet(none, NULL);
  assert_int_equal(p->status, 1);
  hnt_expect_in(p->err, "usage: hnet report", "report without directories");
  /* A damaged summary.json. */
  snprintf(chunk, sizeof chunk,
           "os.execute(\"cp -r '%s' '%s/damaged'\")\n"
           "BI.write('%s/damaged/summary.json', '{ broken')\n"
           "local ok, err = pcall(require('hnet.report').load, '%s/damaged')\n"
           "assert(not ok and err:find('not valid JSON', 1, true), tostring(err))\n",
           a, tmpdir, tmpdir, tmpdir);
  run_ok(LS, chunk);
}

static void test_quiet_and_verbose(void **s) {
  (void)s;
  char exp[256], d1[256], d2[256];
  snprintf(exp, sizeof exp, "%s/test_exp.lua", tmpdir);
  snprintf(d1, sizeof d1, "%s/quiet", tmpdir);
  snprintf(d2, sizeof d2, "%s/verbose", tmpdir);
  const char *q[] = {exp, "--threads", "1", "--iterations", "20", "--quiet", "--out", d1, NULL};
  proc *p = run_hnet(q, NULL);
  assert_int_equal(p->status, 0);
  assert_string_equal(p->out, "");
  char log[320];
  snprintf(log, sizeof log, "%s/log.txt", d1);
  char *text = read_all(log, NULL);
  assert_non_null(text);
  hnt_expect_in(text, "after task 3/3", "log.txt of a quiet run");
  free(text);
  const char *v[] = {exp, "--threads", "1", "--iterations", "20", "--verbose", "--out", d2, NULL};
  p = run_hnet(v, NULL);
  assert_int_equal(p->status, 0);
  hnt_expect_in(p->out, "task 1/3  it 20/20  loss", "verbose progress");
  hnt_expect_in(p->out, "ex/s  ETA", "verbose progress");
  hnt_expect_in(p->out, "after task 3/3", "verbose results");
  hnt_expect_in(p->out, "ACC ", "verbose report");
}

/* A script that does not go through hnet.run (gradual_drift.lua): --quiet
 * prints its results table and nothing else (no gnuplot warning about the
 * flat embedding plot of a learner that never switches), a second run into
 * the same --out is refused unless --force, and `./hnet report` shows it. */
static void test_experiment_without_runs(void **s) {
  (void)s;
  char d[256], res[300];
  snprintf(d, sizeof d, "%s/drift_quiet", tmpdir);
  snprintf(res, sizeof res, "%s/results.md", d);
  const char *q[] = {"--threads", "1", "experiments/gradual_drift.lua", "--quick", "--quiet",
                     "--learners", "single", "--out", d, NULL};
  proc *p = run_hnet(q, NULL);
  if (p->status != 0) print_error("%s\n", p->err);
  assert_int_equal(p->status, 0);
  assert_string_equal(p->err, "");
  hnt_expect_in(p->out, "### Gradual drift", "quiet drift run");
  if (strstr(p->out, "arning") || strstr(p->out, "range")) fail_msg("--quiet printed more than results:\n%s", p->out);
  char *before = read_all(res, NULL);
  assert_non_null(before);
  p = run_hnet(q, NULL);
  assert_int_equal(p->status, 1);
  hnt_expect_in(p->err, "already holds the results", "second run into the same --out");
  hnt_expect_in(p->err, "--force", "second run into the same --out");
  char *after = read_all(res, NULL);
  assert_non_null(after);
  assert_string_equal(before, after);
  free(before);
  free(after);
  const char *rep[] = {"report", d, NULL};
  p = run_hnet(rep, NULL);
  if (p->status != 0) print_error("%s\n", p->err);
  assert_int_equal(p->status, 0);
  hnt_expect_in(p->out, "### Gradual drift", "report of gradual_drift's --out");
}

/* The run options a script offers match what it does: a script that lists
 * --resume must do its work through hnet.run (itself, through
 * hnet.experiment.compare, or by running such scripts); the others do not
 * list --resume or --checkpoint_every. */
static void test_experiments_offer_what_they_honour(void **s) {
  (void)s;
  char chunk[2048];
  snprintf(chunk, sizeof chunk,
           "local names = assert(hnet.sys.list_dir('experiments'))\n"
           "local n, bad = 0, {}\n"
           "for _, f in ipairs(names) do if f:match('%%.lua$') then\n"
           "  local path = 'experiments/' .. f\n"
           "  local p = assert(io.popen('./hnet ' .. path .. ' --help 2>&1'))\n"
           "  local help = p:read('a'); p:close()\n"
           "  assert(help:find('--out', 1, true), path .. ': no --help listing: ' .. help)\n"
           "  local src = BI.bytes(path)\n"
           "  local runs = src:find('hnet.run(', 1, true) or src:find('E.compare', 1, true)\n"
           "    or src:find('loadfile', 1, true)\n"
           "  local offers = help:find('--resume', 1, true) ~= nil\n"
           "  if offers ~= (help:find('--checkpoint_every', 1, true) ~= nil) then bad[#bad + 1] = path .. ': --resume without --checkpoint_every or the reverse' end\n"
           "  if offers and not runs then bad[#bad + 1] = path .. ': offers --resume but does not use hnet.run' end\n"
           "  n = n + 1\n"
           "end end\n"
           "assert(n >= 10, 'only ' .. n .. ' scripts')\n"
           "assert(#bad == 0, table.concat(bad, '\\n'))\n");
  run_ok(LS, chunk);
}

/* ---- main --------------------------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  LS = new_state();
  if (!LS) return -1;
  char chunk[512], msg[MSG_MAX];
  snprintf(chunk, sizeof chunk, "BI.setup('%s')", tmpdir);
  if (hntl_run(LS, chunk, msg, sizeof msg) != LUA_OK) {
    fprintf(stderr, "test_lua_reliability: fixtures failed: %s\n", msg);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (LS) lua_close(LS);
  LS = NULL;
  return 0;
}

int main(void) {
  if (access("./hnet", X_OK) != 0 || access("tests/bad_inputs.lua", R_OK) != 0) {
    fprintf(stderr, "test_lua_reliability: run from the repository root after make all\n");
    return 1;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hnet_rel.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_hypernet_lookahead),
      cmocka_unit_test(test_resume_hypernet_subset_recompute),
      cmocka_unit_test(test_resume_hypernet_batchnorm_class),
      cmocka_unit_test(test_resume_hnet_tir_inference_phase),
      cmocka_unit_test(test_resume_hnet_tir_replay_phase),
      cmocka_unit_test(test_resume_hnet_r_classifier_phase),
      cmocka_unit_test(test_resume_hnet_r_replay_phase),
      cmocka_unit_test(test_resume_ewc),
      cmocka_unit_test(test_resume_ewc_adam_carried),
      cmocka_unit_test(test_resume_si),
      cmocka_unit_test(test_resume_notes_subnormal_mode),
      cmocka_unit_test(test_resume_online_ewc),
      cmocka_unit_test(test_resume_separate),
      cmocka_unit_test(test_resume_joint),
      cmocka_unit_test(test_resume_finetune),
      cmocka_unit_test_teardown(test_resume_replay_task_given, unset_path),
      cmocka_unit_test_teardown(test_resume_replay_domain, unset_path),
      cmocka_unit_test_teardown(test_resume_replay_class, unset_path),
      cmocka_unit_test(test_resume_finished),
      cmocka_unit_test(test_checkpoint_roundtrip),
      cmocka_unit_test(test_sigint),
      cmocka_unit_test(test_sigterm),
      cmocka_unit_test(test_sigkill_resumes),
      cmocka_unit_test(test_second_signal),
      cmocka_unit_test(test_resume_from_before_init),
      cmocka_unit_test(test_resume_ewc_from_before_fisher_labels),
      cmocka_unit_test(test_bad_inputs_lua),
      cmocka_unit_test(test_bad_inputs_cli),
      cmocka_unit_test(test_run_directory),
      cmocka_unit_test(test_report),
      cmocka_unit_test(test_quiet_and_verbose),
      cmocka_unit_test(test_experiment_without_runs),
      cmocka_unit_test(test_experiments_offer_what_they_honour),
  };
  int rc = cmocka_run_group_tests_name("lua_reliability", tests, group_setup, group_teardown);
  if (rc == 0) {
    if (hnt_remove_dir(tmpdir) != 0) fprintf(stderr, "test_lua_reliability: could not remove %s\n", tmpdir);
  } else {
    fprintf(stderr, "test_lua_reliability: files kept in %s\n", tmpdir);
  }
  return rc;
}
