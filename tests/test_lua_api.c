/*
 * test_lua_api.c — the Lua API through the embedded interpreter: a table of
 * misuse cases (each must raise a runtime error whose message contains the
 * expected words) run in one long-lived state with a full collection between
 * cases, then behaviour tests: <close>, views outliving their base, tostring,
 * arithmetic, RNG, optimisers, losses, a net forward against the C engine and
 * a naive reference, a hypernetwork training loop whose loss falls, and a
 * training step that allocates nothing.
 */
#include "harness.h"
#include "lua_harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lua/lhn.h"

static lua_State *L; /* one state for the whole group */

/* Fixtures the misuse cases share (globals of the state). */
static const char *const fixtures =
    "NET = hnet.net{ input = {4}, max_batch = 8, layers = { {'linear', 5}, 'relu', {'linear', 3} } }\n"
    "W = hnet.tensor(NET:n_params()); NET:init(W, hnet.rng(1))\n"
    "X = hnet.randn({2, 4}, hnet.rng(2))\n"
    "H = hnet.hypernet{ outputs = 10, embedding = 4, hidden = {6} }\n"
    "THETA = hnet.tensor(H:n_params())\n"
    "LOGITS = hnet.tensor_from{ {1, 2, 3}, {3, 1, 0} }\n"
    "LABELS = hnet.tensor_from{ 2, 0 }\n";

typedef struct misuse {
  const char *chunk;
  const char *expect; /* a substring of the error message */
} misuse;

static const misuse cases[] = {
    /* ---- tensors ---- */
    {"hnet.tensor(2, -3)", "negative"},
    {"hnet.tensor{2, 'a'}", "dimension 2 must be an integer"},
    {"hnet.tensor{}", "1 to 4 dimensions"},
    {"hnet.tensor(1, 2, 3, 4, 5)", "at most 4 dimensions"},
    {"hnet.tensor('x')", "shape table or integer"},
    {"hnet.tensor{2.5}", "must be an integer"},
    {"local t = hnet.tensor(2, 3); t:get(3, 1)", "out of range for dimension 1"},
    {"local t = hnet.tensor(2, 3); t:get(1)", "needs 2 indices"},
    {"local t = hnet.tensor(2, 3); t:set(1, 1, 'a')", "number expected"},
    {"local t = hnet.tensor(2, 3); t:free(); t:numel()", "hnet.Tensor has been freed"},
    {"local t = hnet.tensor(2, 3); local u = t:clone(); t:free(); u:copy(t)", "has been freed"},
    {"local t = hnet.tensor(4, 2); local v = t:rows(1, 2); t:free()", "view(s) of it are alive"},
    {"local t = hnet.tensor(4, 2); t:rows(0, 1)", "out of range"},
    {"local t = hnet.tensor(4, 2); t:rows(2, 5)", "out of range"},
    {"local t = hnet.tensor(2, 3); t:view{3, 3}", "cannot view"},
    {"local a, b = hnet.tensor(2, 3), hnet.tensor(3, 2); a:add(b)", "shapes differ"},
    {"local a, b = hnet.tensor(6), hnet.tensor(5); a:copy(b)", "differ in size"},
    {"hnet.tensor_from{ {1, 2}, {3} }", "ragged"},
    {"hnet.tensor_from{ 1, 'x' }", "expected a number"},
    {"hnet.tensor_from({1, 2, 3}, {2, 2})", "holds 4 elements but the table has 3"},
    {"local t = hnet.tensor(3, 2); t:gather_rows{1, 0}", "not a row index in 1..3"},
    {"local t = hnet.tensor(3, 2); t:gather_rows(hnet.tensor_from{1, 4})", "row indices are integers in 1..3"},
    {"hnet.cat{ hnet.tensor(2, 3), 5 }", "not a live hnet.Tensor"},
    {"hnet.cat{ hnet.tensor(2, 3), hnet.tensor(2, 4) }", "rows of [2, 3] expected"},
    {"hnet.tensor(0):max()", "empty"},
    {"local t = hnet.tensor(2, 2); return t[1]", "1-D tensors only"},
    {"hnet.tensor(3):apply(function(v) return 'x' end)", "returned a string"},
    {"hnet.tensor(3):div(0)", "division by zero"},
    {"hnet.randn({2}, 5)", "hnet.Rng expected"},
    {"hnet.tensor(2).numel(5)", "hnet.Tensor expected, got number"},
    /* ---- nets ---- */
    {"hnet.net{ input = {4}, layers = { {'linear', 3} }, bogus = 1 }", "unknown option 'bogus'"},
    {"hnet.net{ input = {4}, layers = { {'lineer', 3} } }", "unknown layer kind 'lineer'"},
    {"hnet.net{ input = {4}, layers = { {'linear', -3} } }", "must be a positive integer"},
    {"hnet.net{ input = {4}, layers = { {'linear', 3, bais = false} } }", "unknown option 'bais'"},
    {"hnet.net{ layers = { {'linear', 3} } }", "field 'input'"},
    {"hnet.net{ input = {4}, max_batch = 0, layers = { {'linear', 3} } }", "field 'max_batch': integer >= 1 expected, got 0"},
    {"hnet.net{ input = {4}, fan = 'sideways', layers = { {'linear', 3} } }", "field 'fan'"},
    {"hnet.net{ input = {4}, layers = { {'dropout', 1.5} } }", "drop probability"},
    {"hnet.net{ input = {1, 8, 8}, layers = { {'conv2d', 4, k = 9} } }", "layer 1 (conv2d)"},
    {"NET:forward(hnet.tensor(10), X)", "W must have 43 elements"},
    {"NET:forward(W, hnet.tensor(2, 5))", "expected [2, 4]"},
    {"NET:forward(W, X, { trian = true })", "unknown option 'trian'"},
    {"NET:forward(W, hnet.tensor(9, 4))", "exceeds max_batch"},
    {"NET:forward(W, X, { out = hnet.tensor(2, 4) })", "y is [2, 4], expected [2, 3]"},
    {"local n = hnet.net{ input = {4}, layers = { {'linear', 3} } }\n"
     "n:backward(hnet.tensor(n:n_params()), hnet.tensor(2, 3), hnet.tensor(n:n_params()))",
     "no forward pass"},
    {"NET:forward(W, X); NET:backward(W, hnet.tensor(2, 7), hnet.tensor(NET:n_params()))", "dy is [2, 7]"},
    {"local n = hnet.net{ input = {4}, layers = { {'linear', 3}, {'batchnorm'} } }\n"
     "n:forward(hnet.tensor(n:n_params()), hnet.tensor(2, 4))",
     "field 'stats' is required"},
    {"NET:param(W, 'nope')", "no slice named 'nope'"},
    {"local n = hnet.net{ input = {4}, layers = { {'linear', 3} } }; n:free(); n:n_params()", "hnet.Net has been freed"},
    /* ---- hypernetworks ---- */
    {"hnet.hypernet{ embedding = 4 }", "give 'outputs'"},
    {"hnet.hypernet{ outputs = 10, hidden = {5, -1} }", "field 'hidden': entry 2 must be a positive integer, got -1"},
    {"hnet.hypernet{ outputs = 10, act = 'swish' }", "field 'act': one of relu, tanh, sigmoid, elu, identity expected, got 'swish'"},
    {"hnet.hypernet{ outputs = 10, chunk = 4, chunk_embedding = 0 }", "chunk_embedding"},
    /* hnet.core's own checks (the public wrappers check first, by spec) */
    {"hnet.core.net{ input = {4}, max_batch = 0, layers = { {'linear', 3} } }", "field 'max_batch': positive integer expected, got 0"},
    {"hnet.core.hypernet{ outputs = 10, hidden = {5, -1} }", "entry 2 must be an integer"},
    {"hnet.core.hypernet{ outputs = 10, act = 'swish' }", "unknown activation 'swish'"},
    {"local h = hnet.core.hypernet{ outputs = 10, embedding = 4 }\n"
     "require('hnet.api.nets').C['hnet.HyperNet:init'](h, hnet.tensor(h:n_params()), nil, { scheme = 'kaiming' })",
     "field 'scheme': \"hyperfan\" or \"xavier\""},
    {"hnet.hypernet{ outputs = 10, target = NET }", "disagrees with the target"},
    {"H:forward(THETA, hnet.tensor(1, 5))", "E must be [n_tasks, 4]"},
    {"H:forward(THETA, hnet.tensor(3, 4))", "reserve(3)"},
    {"local h = hnet.hypernet{ outputs = 10, embedding = 4 }\n"
     "h:backward(hnet.tensor(h:n_params()), hnet.tensor(1, 10))",
     "no forward pass"},
    {"H:forward(THETA, hnet.tensor(1, 4)); H:backward(THETA, hnet.tensor(5))", "dW must have 10 elements"},
    {"H:init(THETA)", "target_var"},
    {"H:init(THETA, hnet.tensor(10), { emb_var = -1 })", "field 'emb_var'"},
    {"H:init(THETA, nil, { scheme = 'kaiming' })", "field 'scheme': one of hyperfan, xavier expected, got 'kaiming'"},
    {"H:init(THETA, hnet.tensor(10), { scheme = 'xavier' })", "target_var must be nil"},
    {"hnet.learners.hypernet{ init = 'he' }", "field 'init': one of hyperfan, xavier"},
    /* ---- learner options: finite numbers, checked when the learner is made ---- */
    {"hnet.learners.hypernet{ beta = math.huge }", "field 'beta': finite number expected, got inf"},
    {"hnet.learners.hypernet{ beta = 0 / 0 }", "field 'beta': finite number expected"},
    {"hnet.learners.hypernet{ emb_var = 0 }", "field 'emb_var': a positive number expected"},
    {"hnet.learners.hypernet{ hnet = { alpha = math.huge } }", "field 'alpha': finite number expected"},
    {"hnet.learners.hypernet{ lr = math.huge }", "field 'lr': finite number expected"},
    {"hnet.learners.hypernet{ beta1 = 1 }", "field 'beta1': finite number in [0, 0.999999] expected, got 1"},
    {"hnet.learners.hypernet{ seed = 1.5 }", "field 'seed': integer expected, got 1.5"},
    {"hnet.learners.finetune{ lr = -math.huge }", "field 'lr': finite number expected"},
    {"hnet.learners.joint{ beta2 = 2 }", "field 'beta2'"},
    {"hnet.learners.ewc{ lambda = math.huge }", "hnet.learners.ewc' (field 'lambda': finite number expected"},
    {"hnet.learners.online_ewc{ gamma = 0 / 0 }", "field 'gamma': finite number expected"},
    {"hnet.learners.si{ c = math.huge }", "hnet.learners.si' (field 'c': finite number expected"},
    {"hnet.learners.si{ xi = math.huge }", "field 'xi': finite number expected"},
    {"hnet.learners.separate{ reset_optimiser = 1 }", "field 'reset_optimiser': boolean expected"},
    {"hnet.shift.pool{ input_shape = {4}, n_outputs = 2, beta = math.huge }", "field 'beta': finite number expected"},
    {"hnet.shift.cusum{ h = math.huge }", "field 'h': finite number expected"},
    {"hnet.mlp{ inputs = 4, outputs = 2, alpha = math.huge }", "field 'alpha': finite number expected"},
    {"hnet.synthetic.blobs{ spread = math.huge }", "field 'spread': finite number expected"},
    {"hnet.synthetic.blobs{ seed = 'one' }", "field 'seed': integer expected"},
    {"hnet.synthetic.polynomial_tasks{ noise = 0 / 0 }", "field 'noise': finite number expected"},
    /* ---- option specs of scripts are checked like any options table ---- */
    {"hnet.cli.parse({}, { n = { 3, 'a count', mim = 1 } })", "option 'n': unknown key 'mim'"},
    {"hnet.cli.parse({}, { init = { 'xavier', 'init', choises = { 'xavier' } } })", "option 'init': unknown key 'choises'"},
    {"hnet.cli.parse({}, { n = { 3, 'a count', choices = { 3, 4 } } })", "choices must be a non-empty list"},
    {"hnet.cli.parse({}, { n = 3 })", "option 'n': { default, help, ... } expected"},
    {"hnet.experiment.compare{ stream = 1, learners = { 'finetune' }, scenarios = { 'task-given' },\n"
     "  learner_options = function() return {} end, quite = true }",
     "unknown option 'quite'"},
    /* ---- optimisers ---- */
    {"hnet.adam{ lr = 1e-3 }", "field 'n'"},
    {"hnet.adam{ n = 3, lr = -1 }", "field 'lr'"},
    {"hnet.sgd{ n = 3, beta1 = 0.9 }", "unknown option 'beta1'"},
    {"hnet.adam(hnet.tensor(3), { n = 3 })", "not allowed"},
    {"local o = hnet.adam{ n = 3 }; o:step(hnet.tensor(4), hnet.tensor(3))", "param must have 3 elements"},
    {"local o = hnet.adam{ n = 3 }; o:set_state(hnet.tensor(2), 1)", "state must have 6 elements"},
    {"local o = hnet.sgd{ n = 3 }; o:free(); o:lr()", "hnet.Optim has been freed"},
    /* ---- losses ---- */
    {"hnet.loss.xent(LOGITS, LABELS, { mask = {1, 1} })", "2 entries but logits [2, 3] have 3 classes"},
    {"hnet.loss.xent(LOGITS, hnet.tensor_from{ 2, 5 })", "not an integer class index"},
    {"hnet.loss.xent(LOGITS, LABELS, { grad = hnet.tensor(3, 2) })", "dlogits is [3, 2]"},
    {"hnet.loss.mse(hnet.tensor(2, 3), hnet.tensor(3, 2))", "hn_loss_mse"},
    {"hnet.loss.accuracy(LOGITS, LABELS, { mask = {0, 0, 0} })", "selects none"},
    {"hnet.loss.xent(LOGITS, LABELS, { weights = 1 })", "unknown option 'weights'"},
    {"hnet.loss.xent(LOGITS, LABELS, { mask = {1, 'a', 1} })", "entry 2 is a string"},
    {"hnet.loss.xent(LOGITS, LABELS, { mask = {1, 1, 0} })", "head mask excludes"},
    /* ---- rng, threads, cl ---- */
    {"hnet.rng(1):below(0)", "n must be >= 1"},
    {"hnet.rng(1):set_state{ 0, 0, 0, 0 }", "all-zero"},
    {"hnet.rng('x')", "number expected"},
    {"hnet.rng(1):set_state{ 1, 2, 'a', 4 }", "state word 3"},
    {"hnet.threads(-1)", "thread count"},
    {"hnet.subnormals('fast')", "bad argument #1 to 'subnormals' ('flush' or 'keep' expected, got 'fast')"},
    {"hnet.cl.quad_penalty(hnet.tensor(3), hnet.tensor(3), hnet.tensor(4), 1)", "F must have 3 elements"},
    {"hnet.cl.output_reg(hnet.tensor(2, 3), hnet.tensor(2, 3), -1)", "beta must be"},
};

static void test_misuse_table(void **state) {
  (void)state;
  size_t n = sizeof cases / sizeof cases[0];
  assert_true(n >= 45);
  char msg[1024];
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    int st = hntl_run(L, cases[i].chunk, msg, sizeof msg);
    lua_gc(L, LUA_GCCOLLECT, 0); /* __gc on whatever the case half-built */
    if (st != LUA_ERRRUN || !strstr(msg, cases[i].expect)) {
      print_error("case %zu: %s\n  status %d, message: %s\n  expected to contain: %s\n", i + 1,
                  cases[i].chunk, st, msg, cases[i].expect);
      failures++;
    }
  }
  assert_int_equal(failures, 0);
  /* The shared fixtures survived every case. */
  assert_true(hntl_number(L, "NET:n_params()") == 43.0);
}

/* Run a chunk that must succeed. */
static void ok(const char *chunk) {
  char msg[1024];
  int st = hntl_run(L, chunk, msg, sizeof msg);
  if (st != LUA_OK) print_error("chunk failed: %s\n%s\n", msg, chunk);
  assert_int_equal(st, LUA_OK);
}

static void test_close_and_views(void **state) {
  (void)state;
  /* <close> releases at the end of the scope. */
  ok("do local t <close> = hnet.tensor(3); T = t end\n"
     "assert(tostring(T) == 'hnet.Tensor (freed)', tostring(T))\n"
     "assert(not pcall(T.numel, T))");
  /* A view that escapes a <close> scope keeps its memory. */
  ok("do local t <close> = hnet.zeros(4, 2); t:fill(3); V = t:rows(2, 3) end\n"
     "collectgarbage(); collectgarbage()\n"
     "assert(V:sum() == 12, V:sum())");
  /* A view outliving its base variable. */
  ok("local t = hnet.tensor_from{ {1, 2}, {3, 4}, {5, 6} }\n"
     "V2 = t:rows(2, 3); VV = V2:view{4}; t = nil\n"
     "for i = 1, 3 do collectgarbage() end\n"
     "assert(V2:get(2, 2) == 6 and V2:get(1, 1) == 3)\n"
     "assert(VV[4] == 6 and VV:is_view())\n"
     "local junk = {} for i = 1, 100 do junk[i] = hnet.tensor(64) end\n"
     "junk = nil; collectgarbage()\n"
     "assert(V2:to_table()[2][1] == 5)");
  /* Freeing the views first makes the base freeable; freeing twice is fine. */
  ok("local t = hnet.tensor(4, 2); local v = t:rows(1, 2); local w = v:rows(1, 1)\n"
     "assert(not pcall(t.free, t))\n"
     "v:free(); assert(not pcall(t.free, t)); w:free(); t:free(); t:free()\n"
     "assert(tostring(t) == 'hnet.Tensor (freed)')");
  /* Views of a base that was dropped are counted and collected. */
  ok("local t = hnet.tensor(8, 8); for i = 1, 50 do local v = t:rows(i % 8 + 1) end\n"
     "collectgarbage(); collectgarbage(); t:free()");
  ok("V = nil; V2 = nil; VV = nil; T = nil; collectgarbage()");
}

static void test_tostring(void **state) {
  (void)state;
  char buf[256];
  assert_string_equal(hntl_string(L, "hnet.tensor(128, 784)", buf, sizeof buf),
                      "hnet.Tensor[128, 784] (392 KiB)");
  assert_string_equal(hntl_string(L, "hnet.tensor(2, 3)", buf, sizeof buf), "hnet.Tensor[2, 3] (24 B)");
  assert_string_equal(hntl_string(L, "hnet.tensor(1000, 1000)", buf, sizeof buf),
                      "hnet.Tensor[1000, 1000] (3.8 MiB)");
  assert_string_equal(hntl_string(L, "hnet.tensor(4, 3):rows(2, 3)", buf, sizeof buf),
                      "hnet.Tensor[2, 3] (24 B, view)");
  assert_string_equal(hntl_string(L, "NET", buf, sizeof buf),
                      "hnet.Net([4] -> linear, act, linear -> [3]; 43 params)");
  assert_string_equal(hntl_string(L, "hnet.hypernet{ outputs = 100, embedding = 8, hidden = {20}, "
                                     "chunk = 30, chunk_embedding = 4 }",
                                  buf, sizeof buf),
                      "hnet.HyperNet(emb 8 -> [20] -> 100 outputs in 4 chunks of 30; 906 params)");
  assert_string_equal(hntl_string(L, "hnet.adam{ n = 3, lr = 0.01 }", buf, sizeof buf),
                      "hnet.Optim(adam, n=3, lr=0.01, step 0)");
  assert_non_null(strstr(hntl_string(L, "hnet.rng(1)", buf, sizeof buf), "hnet.Rng"));
  assert_string_equal(hntl_string(L, "hnet.version", buf, sizeof buf), HN_VERSION);
}

static void test_tensor_arithmetic(void **state) {
  (void)state;
  ok("local a = hnet.tensor_from{1, 2, 3}; local b = hnet.tensor_from{4, 5, 6}\n"
     "local function eq(t, ref) local f = t:flat_table()\n"
     "  assert(#f == #ref, 'length') for i = 1, #ref do\n"
     "  assert(math.abs(f[i] - ref[i]) < 1e-6, ('%d: %g vs %g'):format(i, f[i], ref[i])) end end\n"
     "eq(a:clone():add(b), {5, 7, 9}); eq(a:clone():add(1), {2, 3, 4})\n"
     "eq(b:clone():sub(a), {3, 3, 3}); eq(a:clone():sub(1), {0, 1, 2})\n"
     "eq(a:clone():mul(b), {4, 10, 18}); eq(a:clone():mul(2), {2, 4, 6})\n"
     "eq(b:clone():div(a), {4, 2.5, 2}); eq(a:clone():div(2), {0.5, 1, 1.5})\n"
     "eq(a:clone():scale(-1), {-1, -2, -3}); eq(a:clone():axpy(2, b), {9, 12, 15})\n"
     "eq(a:clone():apply(function(v) return v * v end), {1, 4, 9})\n"
     "assert(a:sum() == 6 and a:mean() == 2 and a:dot(b) == 32 and a:sqnorm() == 14)\n"
     "local m, i = b:min(); assert(m == 4 and i == 1); m, i = b:max(); assert(m == 6 and i == 3)\n"
     "assert(a:all_finite()); local c = a:clone(); c[2] = 0/0; assert(not c:all_finite())\n"
     "local t = hnet.tensor_from{ {1, 5, 2}, {7, 0, 1} }\n"
     "eq(t:argmax(), {1, 0}); assert(b:argmax() == 2)\n"
     "assert(#t == 2 and t:numel() == 6 and t:size(2) == 3 and t:size(-1) == 3)\n"
     "local s = t:shape(); assert(s[1] == 2 and s[2] == 3 and #s == 2)\n"
     "eq(t:gather_rows{2, 2, 1}, {7, 0, 1, 7, 0, 1, 1, 5, 2})\n"
     "eq(t:gather_rows(hnet.tensor_from{2}), {7, 0, 1})\n"
     "eq(t:concat_rows(t:rows(1)), {1, 5, 2, 7, 0, 1, 1, 5, 2})\n"
     "eq(hnet.cat{ a, b, a }, {1, 2, 3, 4, 5, 6, 1, 2, 3})\n"
     "eq(hnet.tensor_from({1, 2, 3, 4}, {2, 2}):rows(2), {3, 4})\n"
     "assert(hnet.tensor_from({1, 2, 3, 4}, {2, 2}):get(2, 1) == 3)\n"
     "eq(hnet.ones(2, 2), {1, 1, 1, 1}); eq(hnet.full({3}, 2.5), {2.5, 2.5, 2.5})\n"
     "local tt = t:to_table(); assert(tt[2][1] == 7 and #tt == 2 and #tt[1] == 3)\n"
     "local z = hnet.zeros(2, 2); z:set(2, 1, 4); assert(z:get(2, 1) == 4)\n"
     "local v = z:view{4}; v[3] = 9; assert(z:get(2, 1) == 9)\n"
     "local r = z:rows(2); r:fill(1); eq(z, {0, 0, 1, 1}); z:copy(hnet.tensor_from{1, 2, 3, 4}); eq(r, {3, 4})\n"
     "local g = hnet.randn({1000}, hnet.rng(7), 2); assert(math.abs(g:mean()) < 0.3)\n"
     "assert(math.abs(math.sqrt(g:sqnorm() / 1000) - 2) < 0.2)\n"
     "local u = hnet.rand({1000}, hnet.rng(7), -1, 1); local lo, hi = u:min(), u:max()\n"
     "assert(lo >= -1 and hi < 1 and lo < -0.9 and hi > 0.9)");
}

static void test_rng(void **state) {
  (void)state;
  ok("local a, b = hnet.rng(5), hnet.rng(5)\n"
     "for i = 1, 10 do assert(a:uniform() == b:uniform()) end\n"
     "assert(hnet.rng(5, 1):uniform() ~= hnet.rng(5, 0):uniform())\n"
     "local s = a:state(); local x1 = a:normal(); a:set_state(s); assert(a:normal() == x1)\n"
     "local c = a:clone(); assert(c:uniform() == a:uniform())\n"
     "local p = a:permutation(50); local seen = {}\n"
     "for i = 1, 50 do assert(p[i] >= 1 and p[i] <= 50 and not seen[p[i]]); seen[p[i]] = true end\n"
     "local lo, hi = 100, 0 for i = 1, 2000 do local k = a:below(6); lo = math.min(lo, k); hi = math.max(hi, k) end\n"
     "assert(lo == 1 and hi == 6)\n"
     "local u = a:uniform(3, 4); assert(u >= 3 and u < 4)\n"
     "local old = hnet.seed(); hnet.seed(99); assert(hnet.seed() == 99)\n"
     "local r1 = hnet.randn({4}):flat_table(); hnet.seed(99); local r2 = hnet.randn({4}):flat_table()\n"
     "for i = 1, 4 do assert(r1[i] == r2[i]) end\n"
     "assert(hnet.rng():uniform() == hnet.rng(99):uniform())\n"
     "hnet.seed(old)\n"
     "local n = hnet.threads(); assert(n >= 1); assert(hnet.threads(1) == 1); hnet.threads(n)\n"
     /* Subnormals: flushed by default, IEEE on request (Lua's doubles are
      * computed on the same thread); the mode survives a new budget. */
     "local tiny = 1e-160\n"
     "assert(hnet.subnormals() == 'flush' and tiny * tiny == 0)\n"
     "assert(hnet.subnormals('keep') == 'keep' and tiny * tiny > 0)\n"
     "hnet.threads(1); assert(hnet.subnormals() == 'keep'); hnet.threads(n)\n"
     "assert(hnet.subnormals('flush') == 'flush' and tiny * tiny == 0)");
}

static void test_optim_and_losses(void **state) {
  (void)state;
  /* SGD: p -= lr g; momentum v = m v + g. */
  ok("local p = hnet.tensor_from{1, -2}; local g = hnet.tensor_from{0.5, 1}\n"
     "local o = hnet.sgd(p, { lr = 0.1, momentum = 0.5 })\n"
     "o:step(p, g); o:step(p, g)\n"
     "local f = p:flat_table()\n"
     "assert(math.abs(f[1] - (1 - 0.05 - 0.075)) < 1e-6, f[1])\n"
     "assert(math.abs(f[2] - (-2 - 0.1 - 0.15)) < 1e-6, f[2])\n"
     "assert(o:step_count() == 2 and o:kind() == 'sgd' and o:n() == 2)\n"
     "local st, k = o:state(); assert(k == 2 and st:numel() == 2)\n"
     "assert(math.abs(st:flat_table()[1] - 0.75) < 1e-6)\n"
     "local d = o:delta(p, g); local la = o:lookahead(p, g); local q = p:clone(); o:step(p, g)\n"
     "q:add(d); for i = 1, 2 do assert(math.abs(q:flat_table()[i] - p:flat_table()[i]) < 1e-6) end\n"
     "for i = 1, 2 do assert(la:flat_table()[i] == p:flat_table()[i]) end\n"
     "assert(not pcall(o.lookahead, o, p, hnet.tensor(3)))\n"
     "o:set_state(st, 2); o:reset(); assert(o:step_count() == 0)\n"
     "assert(math.abs(o:lr() - 0.1) < 1e-7); o:lr(0.5); assert(o:lr() == 0.5)");
  /* Adam's first step moves every coordinate by lr (times the sign). */
  ok("local p = hnet.tensor_from{1, 1, 1}; local g = hnet.tensor_from{3, -0.01, 0}\n"
     "local o = hnet.adam{ n = 3, lr = 0.01 }; o:step(p, g)\n"
     "local f = p:flat_table()\n"
     "assert(math.abs(f[1] - 0.99) < 1e-5 and math.abs(f[2] - 1.01) < 1e-5 and f[3] == 1)\n"
     "local c = o:config(); assert(c.kind == 'adam' and math.abs(c.beta2 - 0.999) < 1e-7)");
  /* Cross-entropy, its gradient, accuracy, argmax, entropy, masks. */
  ok("local lg = hnet.tensor_from{ {1, 2, 3}, {3, 1, 0} }; local y = hnet.tensor_from{2, 1}\n"
     "local function lse(a) local m = math.max(table.unpack(a)) local s = 0\n"
     "  for _, v in ipairs(a) do s = s + math.exp(v - m) end return m + math.log(s) end\n"
     "local ref = ((lse{1, 2, 3} - 3) + (lse{3, 1, 0} - 1)) / 2\n"
     "local d = hnet.tensor(2, 3)\n"
     "local l = hnet.loss.xent(lg, y, { grad = d })\n"
     "assert(math.abs(l - ref) < 1e-5, l)\n"
     "local p13 = math.exp(3 - lse{1, 2, 3}); assert(math.abs(d:get(1, 3) - (p13 - 1) / 2) < 1e-6)\n"
     "local acc, n = hnet.loss.accuracy(lg, y); assert(acc == 0.5 and n == 1)\n"
     "local am = hnet.loss.argmax(lg):flat_table(); assert(am[1] == 2 and am[2] == 0)\n"
     "local mm = hnet.loss.argmax(lg, { mask = {1, 1, 0} }):flat_table(); assert(mm[1] == 1)\n"
     "local mt = hnet.loss.argmax(lg, { mask = hnet.tensor_from{0, 1, 1} }):flat_table(); assert(mt[2] == 1)\n"
     "local lm = hnet.loss.xent(lg, hnet.tensor_from{1, 0}, { mask = {true, true, false} })\n"
     "assert(math.abs(lm - ((lse{1, 2} - 2) + (lse{3, 1} - 3)) / 2) < 1e-5)\n"
     "local e = hnet.loss.entropy(hnet.tensor_from{ {0, 0}, {100, 0} }):flat_table()\n"
     "assert(math.abs(e[1] - math.log(2)) < 1e-5 and e[2] < 1e-6)\n"
     "local out = hnet.tensor(2); assert(hnet.loss.entropy(lg, { out = out }) == out)\n"
     "local dy = hnet.tensor(1, 2)\n"
     "local m = hnet.loss.mse(hnet.tensor_from{ {1, 2} }, hnet.tensor_from{ {0, 4} }, { grad = dy })\n"
     "assert(math.abs(m - 2.5) < 1e-6 and math.abs(dy:get(1, 2) + 2) < 1e-6)\n"
     "local nll = hnet.loss.gauss_nll(hnet.tensor_from{ {0, 0} }, hnet.tensor_from{ {1} })\n"
     "assert(math.abs(nll - 0.5 * (math.log(2 * math.pi) + 1)) < 1e-5)");
  /* The continual-learning kernels. */
  ok("local W = hnet.tensor_from{ {1, 2}, {3, 4} }; local Ws = hnet.tensor_from{ {1, 1}, {1, 1} }\n"
     "local dW = hnet.tensor(2, 2)\n"
     "local r = hnet.cl.output_reg(W, Ws, 0.5, dW)\n"
     "assert(math.abs(r - 0.5 / 2 * (0 + 1 + 4 + 9)) < 1e-5, r)\n"
     "assert(math.abs(dW:get(2, 2) - 2 * 0.5 / 2 * 3) < 1e-6)\n"
     "local th, ts, F = hnet.tensor_from{2, 0}, hnet.tensor_from{1, 0}, hnet.tensor_from{4, 1}\n"
     "local dth = hnet.tensor(2)\n"
     "assert(math.abs(hnet.cl.quad_penalty(th, ts, F, 2, dth) - 4) < 1e-6)\n"
     "assert(math.abs(dth[1] - 8) < 1e-6)\n"
     "hnet.cl.fisher_acc(F, hnet.tensor_from{1, 2}, 0.5); assert(F[2] == 3)\n"
     "hnet.cl.fisher_merge(F, hnet.tensor_from{1, 1}, 0.5); assert(F[2] == 2.5)");
}

/* y = W2 relu(W1 x + b1) + b2 in double, from the flat W (layout order
 * w1 [5,4], b1 [5], w2 [3,5], b2 [3]). */
static void naive_mlp(const float *W, const float *x, int n, double *y) {
  const float *w1 = W, *b1 = W + 20, *w2 = W + 25, *b2 = W + 40;
  for (int s = 0; s < n; s++) {
    double h[5];
    for (int j = 0; j < 5; j++) {
      double a = (double)b1[j];
      for (int k = 0; k < 4; k++) a += (double)w1[j * 4 + k] * (double)x[s * 4 + k];
      h[j] = a > 0 ? a : 0;
    }
    for (int o = 0; o < 3; o++) {
      double a = (double)b2[o];
      for (int j = 0; j < 5; j++) a += (double)w2[o * 5 + j] * h[j];
      y[s * 3 + o] = a;
    }
  }
}

static hnl_tensor *global_tensor(const char *name) {
  lua_getglobal(L, name);
  hnl_tensor *u = luaL_testudata(L, -1, HNL_TENSOR);
  lua_pop(L, 1); /* the global keeps it alive */
  assert_non_null(u);
  return u;
}

static void test_net_forward_matches_engine(void **state) {
  (void)state;
  ok("FX = hnet.randn({3, 4}, hnet.rng(11)); FY = NET:forward(W, FX)\n"
     "local lay = NET:layout(); assert(#lay == 4 and lay[1].name:find('weight') and lay[1].offset == 0)\n"
     "assert(lay[2].offset == 20 and lay[3].shape[1] == 3 and lay[3].shape[2] == 5 and lay[4].numel == 3)\n"
     "assert(NET:param(W, lay[3].name):get(2, 1) == W[26 + 5])\n"
     "assert(#NET:modules() == 3 and NET:flops_per_sample() > 0)");
  hnl_tensor *w = global_tensor("W"), *x = global_tensor("FX"), *y = global_tensor("FY");
  assert_int_equal(y->t.ndim, 2);
  assert_int_equal(y->t.shape[0], 3);
  assert_int_equal(y->t.shape[1], 3);
  /* The same net built in C gives the same bits. */
  hn_net *net;
  assert_int_equal(hn_net_new(&net, 1, (int64_t[]){4}, 8), HN_OK);
  assert_int_equal(hn_net_add_linear(net, 5, true), HN_OK);
  assert_int_equal(hn_net_add_act(net, HN_ACT_RELU, 0), HN_OK);
  assert_int_equal(hn_net_add_linear(net, 3, true), HN_OK);
  assert_int_equal(hn_net_finalize(net), HN_OK);
  assert_int_equal(hn_net_n_params(net), 43);
  hn_tensor yc;
  assert_int_equal(hn_tensor_init(&yc, 2, (int64_t[]){3, 3}), HN_OK);
  hn_run run = {.train = false};
  assert_int_equal(hn_net_forward(net, w->t.data, &x->t, &yc, &run), HN_OK);
  hnt_assert_bytes_equal(yc.data, y->t.data, 9 * sizeof(float), "Lua forward vs C forward");
  /* And matches the naive reference. */
  double ref[9];
  naive_mlp(w->t.data, x->t.data, 3, ref);
  hnt_assert_close_d(y->t.data, ref, 9, 1e-5, 1e-6, "Lua forward vs naive");
  /* Backward from Lua equals backward in C. */
  ok("FDY = hnet.randn({3, 3}, hnet.rng(12)); FDW = hnet.tensor(NET:n_params())\n"
     "FDX = hnet.tensor(3, 4); NET:forward(W, FX); assert(NET:backward(W, FDY, FDW, { dx = FDX }) == FDX)");
  hnl_tensor *dy = global_tensor("FDY"), *dw = global_tensor("FDW"), *dx = global_tensor("FDX");
  float dwc[43] = {0};
  hn_tensor dxc;
  assert_int_equal(hn_tensor_init(&dxc, 2, (int64_t[]){3, 4}), HN_OK);
  assert_int_equal(hn_net_backward(net, w->t.data, &dy->t, dwc, &dxc, &run), HN_OK);
  hnt_assert_bytes_equal(dwc, dw->t.data, sizeof dwc, "Lua dW vs C dW");
  hnt_assert_bytes_equal(dxc.data, dx->t.data, 12 * sizeof(float), "Lua dx vs C dx");
  hn_tensor_release(&dxc);
  hn_tensor_release(&yc);
  hn_net_free(net);
  /* Builders and a net with BatchNorm and dropout. */
  ok("local m = hnet.mlp{ inputs = 784, hidden = {100}, outputs = 10 }\n"
     "assert(m:n_params() == 784 * 100 + 100 + 100 * 10 + 10)\n"
     "assert(hnet.lenet{}:n_params() == 431080)\n"
     "local z = hnet.zenkenet{ max_batch = 2 }; assert(z:out_shape()[1] == 10)\n"
     "local n = hnet.net{ input = {1, 6, 6}, max_batch = 4, layers = { {'conv2d', 2, k = 3}, {'batchnorm'},\n"
     "  'relu', {'maxpool2d', 2}, 'flatten', {'dropout', 0.5}, {'linear', 2} } }\n"
     "assert(n:n_stats() == 4)\n"
     "local w = hnet.tensor(n:n_params()); n:init(w, hnet.rng(3)); local s = n:init_stats()\n"
     "local x = hnet.randn({4, 1, 6, 6}, hnet.rng(4))\n"
     "local y1 = n:forward(w, x, { train = true, rng = hnet.rng(5), stats = s })\n"
     "local y2 = n:forward(w, x, { train = true, rng = hnet.rng(5), stats = n:init_stats() })\n"
     "for i = 1, 4 do for j = 1, 2 do assert(y1:get(i, j) == y2:get(i, j)) end end\n"
     "local dw = hnet.tensor(n:n_params()); n:backward(w, hnet.ones(4, 2), dw)\n"
     "assert(dw:sqnorm() > 0 and dw:all_finite())\n"
     "local ye = n:forward(w, x, { stats = s }); assert(ye:all_finite())");
}

static void test_training_loop_and_allocations(void **state) {
  (void)state;
  /* A hypernetwork generating an MLP, trained on a fixed batch: the loss
   * must fall by more than half, and a steady-state step must not allocate. */
  ok("local net = hnet.mlp{ inputs = 6, hidden = {16}, outputs = 3, max_batch = 32 }\n"
     "local h = hnet.hypernet{ target = net, embedding = 4, hidden = {16, 16}, chunk = 40,\n"
     "                         chunk_embedding = 4 }\n"
     "local theta = hnet.tensor(h:n_params()); h:init(theta, nil, { rng = hnet.rng(1) })\n"
     "local E = h:embeddings(1, { rng = hnet.rng(2) })\n"
     "local x = hnet.randn({32, 6}, hnet.rng(3))\n"
     "local labels = hnet.tensor(32)\n"
     "for i = 1, 32 do labels[i] = (x:get(i, 1) > 0 and 1 or 0) + (x:get(i, 2) > 0.5 and 1 or 0) end\n"
     "local W = hnet.tensor(1, net:n_params()); local Wv = W:view{ net:n_params() }\n"
     "local y = hnet.tensor(32, 3); local dy = hnet.tensor(32, 3)\n"
     "local dW = hnet.tensor(net:n_params()); local dWv = dW:view{1, net:n_params()}\n"
     "local dtheta = hnet.tensor(h:n_params()); local dE = hnet.tensor(1, 4)\n"
     "local ot, oe = hnet.adam(theta, { lr = 3e-3 }), hnet.adam(E, { lr = 3e-3 })\n"
     "local fopt = { out = W }; local nopt = { out = y }; local lopt = { grad = dy }\n"
     "local function step()\n"
     "  h:forward(theta, E, fopt); net:forward(Wv, x, nopt)\n"
     "  local l = hnet.loss.xent(y, labels, lopt)\n"
     "  dW:zero(); net:backward(Wv, dy, dW)\n"
     "  dtheta:zero(); dE:zero(); h:backward(theta, dWv, dtheta, dE)\n"
     "  ot:step(theta, dtheta); oe:step(E, dE)\n"
     "  return l\n"
     "end\n"
     "local first = step()\n"
     "local a0 = hnet.alloc_count()\n"
     "local last\n"
     "for it = 1, 300 do last = step() end\n"
     "ALLOCS = hnet.alloc_count() - a0\n"
     "FIRST, LAST = first, last\n"
     "assert(hnet.loss.accuracy(y, labels) > 0.8)");
  double first = hntl_number(L, "FIRST"), last = hntl_number(L, "LAST");
  print_message("hypernet -> mlp training: loss %.4f -> %.4f\n", first, last);
  assert_true(isfinite(first) && isfinite(last));
  assert_true(last < 0.5 * first);
  assert_true(hntl_number(L, "ALLOCS") == 0.0);
}

static void test_lazy_modules(void **state) {
  (void)state;
  ok("local h = require 'hnet'; assert(h == hnet and h.core == require 'hnet.core')\n"
     "assert(h.nonexistent_module == nil and h[1] == nil)\n"
     "assert(type(h.util) == 'table' and type(h.util.options) == 'function')\n"
     "assert(h.tensor == h.core.tensor and type(h.loss.xent) == 'function')");
}

int main(void) {
  L = hntl_newstate();
  if (!L) return 1;
  char msg[1024];
  if (hntl_run(L, fixtures, msg, sizeof msg) != LUA_OK) {
    fprintf(stderr, "fixtures failed: %s\n", msg);
    lua_close(L);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_misuse_table),
      cmocka_unit_test(test_close_and_views),
      cmocka_unit_test(test_tostring),
      cmocka_unit_test(test_tensor_arithmetic),
      cmocka_unit_test(test_rng),
      cmocka_unit_test(test_optim_and_losses),
      cmocka_unit_test(test_net_forward_matches_engine),
      cmocka_unit_test(test_training_loop_and_allocations),
      cmocka_unit_test(test_lazy_modules),
  };
  int rc = cmocka_run_group_tests_name("lua_api", tests, NULL, NULL);
  lua_close(L);
  return rc;
}
