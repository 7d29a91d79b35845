/* test_lua_fewshot.c — few-shot transfer from Lua (hnet.fewshot, hnet.maml):
 * the sinusoid generator's ranges, embedding-only adaptation leaving the
 * hypernetwork's bytes untouched, weight adaptation, confidence intervals,
 * MAML's and CAVIA-style meta-gradients against finite differences of the
 * meta-objective, misuse messages, and --quick smoke runs of
 * experiments/fewshot_sinusoid.lua and experiments/fewshot_fashion.lua
 * (the latter needs the data of `make data`). */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *L;
static char tmpdir[256];

/* Helpers shared by the chunks: tiny problems, byte images of tensors, a
 * symmetric relative error and a central-difference gradient checker. */
static const char prelude[] =
    "fs, maml = hnet.fewshot, hnet.maml\n"
    "function sinus(seed, k, nq)\n"
    "  local t = hnet.synthetic.sinusoid_task(hnet.rng(seed), { k = k, n_test = nq or k })\n"
    "  return { x = t.train.x, y = t.train.y, xq = t.test.x, yq = t.test.y }\n"
    "end\n"
    "function bytes(t)\n"
    "  local parts = {}\n"
    "  for i, v in ipairs(t:flat_table()) do parts[i] = string.pack('<f', v) end\n"
    "  return table.concat(parts)\n"
    "end\n"
    "function relerr(a, b, floor) return math.abs(a - b) / math.max(math.abs(a) + math.abs(b), floor or 1e-3) end\n"
    /* worst error of analytic g against central differences of f over the
     * coordinates of p (a 1-D tensor), step eps. The floor of the relative
     * error is 1% of the largest gradient component: a coordinate whose
     * gradient is 1000x smaller than the rest is checked in absolute terms. */
    "function fdcheck(p, g, f, eps)\n"
    "  local worst, at = 0, 0\n"
    "  local floor = math.max(1e-3, 1e-2 * math.max(math.abs(g:max()), math.abs(g:min())))\n"
    "  for i = 1, p:numel() do\n"
    "    local v = p:get(i)\n"
    "    p:set(i, v + eps); local fp = f(); p:set(i, v - eps); local fm = f(); p:set(i, v)\n"
    "    local e = relerr(g:get(i), (fp - fm) / (2 * eps), floor)\n"
    "    if e > worst then worst, at = e, i end\n"
    "  end\n"
    "  return worst, at\n"
    "end\n"
    /* a smooth (tanh) target net, so that finite differences see no kinks */
    "function smooth_net() return hnet.net { input = { 1 }, max_batch = 32,\n"
    "  layers = { { 'linear', 5 }, { 'tanh' }, { 'linear', 1 } } } end\n"
    /* gradient of the mean MSE of net(W) on (x, y), into a new tensor */
    "function grad(net, W, x, y)\n"
    "  local out = net:forward(W, x)\n"
    "  local dy = hnet.tensor(out:shape())\n"
    "  local l = hnet.loss.mse(out, y, { grad = dy })\n"
    "  local g = hnet.tensor(net:n_params())\n"
    "  net:backward(W, dy, g)\n"
    "  return g, l\n"
    "end\n";

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hnet_test_fewshot_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  L = hntl_newstate();
  if (!L) return -1;
  lua_pushstring(L, tmpdir);
  lua_setglobal(L, "TMP");
  char msg[2048];
  if (hntl_run(L, prelude, msg, sizeof msg) != LUA_OK) {
    fprintf(stderr, "prelude failed: %s\n", msg);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (L) lua_close(L);
  return hnt_remove_dir(tmpdir);
}

static void run_ok(const char *chunk) { hntl_assert_ok(L, chunk); }

static void run_err(const char *chunk, const char *expect) { hntl_assert_err(L, chunk, expect); }

/* A ~ U[0.1, 5], φ ~ U[0, π], x ~ U[−5, 5] for train and test points, y =
 * A sin(x − φ); over many draws the ranges are also nearly covered (a
 * generator that narrowed them would fail). */
static void test_sinusoid_ranges(void **state) {
  (void)state;
  run_ok("local amin, amax, pmin, pmax, xmin, xmax = 1e9, -1e9, 1e9, -1e9, 1e9, -1e9\n"
         "local r = hnet.rng(123)\n"
         "for i = 1, 3000 do\n"
         "  local t = hnet.synthetic.sinusoid_task(r, { k = 4, n_test = 3 })\n"
         "  local A, p = t.amplitude, t.phase\n"
         "  assert(A >= 0.1 and A <= 5.0, 'amplitude out of range: ' .. A)\n"
         "  assert(p >= 0 and p <= math.pi, 'phase out of range: ' .. p)\n"
         "  amin, amax = math.min(amin, A), math.max(amax, A)\n"
         "  pmin, pmax = math.min(pmin, p), math.max(pmax, p)\n"
         "  for _, s in ipairs { t.train, t.test } do\n"
         "    local xs, ys = s.x:flat_table(), s.y:flat_table()\n"
         "    for j, x in ipairs(xs) do\n"
         "      assert(x >= -5 and x <= 5, 'x out of range: ' .. x)\n"
         "      xmin, xmax = math.min(xmin, x), math.max(xmax, x)\n"
         "      assert(math.abs(ys[j] - A * math.sin(x - p)) < 1e-5, 'y is not A sin(x - phase)')\n"
         "    end\n"
         "  end\n"
         "  assert(t.train.x:size(1) == 4 and t.test.x:size(1) == 3)\n"
         "end\n"
         "assert(amin < 0.15 and amax > 4.95, ('amplitudes cover [%g, %g] only'):format(amin, amax))\n"
         "assert(pmin < 0.01 and pmax > math.pi - 0.01, ('phases cover [%g, %g] only'):format(pmin, pmax))\n"
         "assert(xmin < -4.99 and xmax > 4.99, ('inputs cover [%g, %g] only'):format(xmin, xmax))\n"
         /* the grid option gives evenly spaced test points, ends included */
         "local g = hnet.synthetic.sinusoid_task(hnet.rng(1), { k = 2, n_test = 11, grid = true })\n"
         "local gx = g.test.x:flat_table()\n"
         "for j = 1, 11 do assert(math.abs(gx[j] - (-5 + (j - 1))) < 1e-6) end\n");
}

static void test_ci95(void **state) {
  (void)state;
  /* {1..5}: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776 */
  run_ok("local c = fs.ci95 { 1, 2, 3, 4, 5 }\n"
         "assert(c.mean == 3 and c.n == 5)\n"
         "assert(math.abs(c.sd - math.sqrt(2.5)) < 1e-12)\n"
         "assert(math.abs(c.half - 2.776 * math.sqrt(2.5) / math.sqrt(5)) < 1e-9, c.half)\n"
         /* large n: the normal quantile */
         "local v = {} for i = 1, 1000 do v[i] = i % 2 end\n"
         "local d = fs.ci95(v)\n"
         "assert(math.abs(d.half - 1.96 * d.sd / math.sqrt(1000)) < 1e-12)\n"
         "assert(fs.ci95({ 7 }).half == nil and fs.fmt_ci(fs.ci95({ 7 })) == '7.000')\n"
         "assert(fs.fmt_values({ 1, 2, 3 }, '%.1f') == '2.0 ± 2.5')\n"
         /* a diverged problem is set apart, never averaged: a non-finite
          * value, or a flag from the adaptation result */
         "assert(fs.fmt_values({ 1, 0 / 0, 3 }, '%.1f') == '2.0 ± 12.7 (1/3 diverged)', fs.fmt_values({ 1, 0 / 0, 3 }, '%.1f'))\n"
         "assert(fs.fmt_values({ 1, 1e30, 3, 5 }, '%.1f', { false, true, false, false }) == '3.0 ± 5.0 (1/4 diverged)')\n"
         "assert(fs.fmt_values({ 0 / 0, math.huge }) == 'diverged on 2/2')\n"
         "assert(fs.n_diverged({ 1, -math.huge, 2 }, { true, false, false }) == 2)\n"
         "local st = fs.stats({ 4, 1, 1e30, 2, 0 / 0 }, { false, false, true, false, false })\n"
         "assert(st.n == 3 and st.n_total == 5 and st.n_diverged == 2 and st.median == 2, 'stats')\n"
         "assert(math.abs(st.mean - 7 / 3) < 1e-12)\n"
         "assert(fs.stats({ 4, 1, 3, 2 }).median == 2.5)\n"
         "assert(fs.stats({ 0 / 0 }).mean == nil and fs.stats({ 0 / 0 }).n == 0)\n"
         /* the one definition: non-finite, or the support loss ended above its start */
         "assert(fs.diverged(2, 2.5) and not fs.diverged(2, 2) and not fs.diverged(2, 0.1))\n"
         "assert(fs.diverged(2, 0 / 0) and fs.diverged(2, math.huge) and fs.diverged(0 / 0, 1))\n");
  run_err("fs.ci95 {}", "non-empty list");
  run_err("fs.ci95 { 1, 'a' }", "entry 2");
}

/* choose_lr: the best mean metric at the given step among the learning
 * rates under which no validation problem diverged; none left is an error. */
static void test_choose_lr(void **state) {
  (void)state;
  run_ok("local function fake(vals, flags)\n"
         "  return { record = { 0, 10 }, metric = { [0] = { 5, 5, 5 }, [10] = vals }, diverged = flags or { false, false, false } }\n"
         "end\n"
         "local runs = {\n"
         /* the best mean, but one problem's support loss ended above its start */
         "  [1] = fake({ 0.1, 0.1, 0.2 }, { false, true, false }),\n"
         "  [0.3] = fake({ 0.5, 0.5, 0.5 }),\n"
         "  [0.1] = fake({ 0.9, 0.8, 0.7 }),\n"
         /* a non-finite metric at a recorded step also rules a rate out */
         "  [3] = { record = { 0, 10 }, metric = { [0] = { 5, 0 / 0, 5 }, [10] = { 0, 0, 0 } }, diverged = { false, false, false } },\n"
         "}\n"
         "local lr, tried = fs.choose_lr({ 0.1, 0.3, 1, 3 }, 10, function(lr) return runs[lr] end)\n"
         "assert(lr == 0.3, 'chose ' .. lr .. ': ' .. tried)\n"
         "assert(tried:find('1: diverged on 1/3', 1, true) and tried:find('3: diverged on 1/3', 1, true), tried)\n"
         "assert(fs.choose_lr({ 0.1, 0.3 }, 10, function(lr) return runs[lr] end, { higher = true }) == 0.1)\n");
  run_err("fs.choose_lr({ 1 }, 10, function() return { record = { 10 }, metric = { [10] = { 1 } }, diverged = { true } } end,"
          " { what = 'my experiment' })",
          "my experiment: every learning rate diverged on some validation problem (1: diverged on 1/1)");
  run_err("fs.choose_lr({ 1 }, 5, function() return { record = { 10 }, metric = { [10] = { 1 } }, diverged = { false } } end)",
          "did not record step 5");
}

/* Embedding-only SGD with backtracking: at a step size where plain SGD
 * diverges on these problems, every support loss is monotone and no problem
 * diverges; a step that lowers the loss is the plain SGD step itself, so
 * where plain SGD's first step helps, both give the same embedding. */
static void test_adapt_backtrack(void **state) {
  (void)state;
  run_ok("local net = hnet.mlp { inputs = 1, hidden = { 16, 16 }, outputs = 1, max_batch = 32 }\n"
         "local h = hnet.hypernet { target = net, embedding = 3, hidden = { 12 }, act = 'elu', chunk = 0, max_tasks = 4 }\n"
         "local theta = hnet.tensor(h:n_params())\n"
         "h:init(theta, nil, { rng = hnet.rng(4) })\n"
         "local init = hnet.randn({ 3 }, hnet.rng(5), 0.5)\n"
         "local P = {}\n"
         "for i = 1, 6 do P[i] = sinus(30 + i, 8, 20) end\n"
         "local rec = { 0, 1, 2, 5, 10, 20, 40 }\n"
         "local function adapt(lr, bt, steps, record)\n"
         "  return fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = P, init = init,\n"
         "    steps = steps or 40, lr = lr, optimizer = 'sgd', record = record or rec, kind = 'regression', group = 4, backtrack = bt }\n"
         "end\n"
         /* plain SGD at lr 50 blows up on most problems (the loss grows like a
          * power of the embedding's norm: 1e3 steps of overshoot); the checks
          * below only need one diverged problem */
         "local plain = adapt(50, false)\n"
         "local nd = 0\n"
         "for i = 1, #P do if plain.diverged[i] then nd = nd + 1 end end\n"
         "assert(nd >= 1, 'plain SGD at lr 50 diverged on no problem: the test needs a harder case')\n"
         "local bt = adapt(50, true)\n"
         "for i = 1, #P do\n"
         "  assert(not bt.diverged[i], 'backtracking diverged on problem ' .. i)\n"
         "  for j = 2, #rec do\n"
         "    local a, b = bt.loss[rec[j - 1]][i], bt.loss[rec[j]][i]\n"
         "    assert(b <= a, ('problem %d: support loss rose from %g (step %d) to %g (step %d)'):format(i, a, rec[j - 1], b, rec[j]))\n"
         "  end\n"
         "  assert(bt.metric[40][i] == bt.metric[40][i], 'query metric not finite')\n"
         "  assert(bt.rejected[i] >= 0 and bt.lr[i] == 50 / 2 ^ bt.rejected[i], 'step size is not halved per rejection')\n"
         /* the final embedding is the accepted one: its loss is the recorded one */
         "  local W = h:forward(theta, bt.E:rows(i, i))\n"
         "  assert(relerr(hnet.loss.mse(net:forward(W, P[i].x), P[i].y), bt.loss[40][i], 1e-9) < 1e-5, 'E is not the accepted embedding')\n"
         "end\n"
         /* at a small step size nothing is rejected and backtracking is plain SGD, bit for bit */
         "local a, b = adapt(0.01, false, 5, { 5 }), adapt(0.01, true, 5, { 5 })\n"
         "local rej = 0\n"
         "for i = 1, #P do rej = rej + b.rejected[i] end\n"
         "if rej == 0 then assert(bytes(a.E) == bytes(b.E), 'an accepted step differs from the SGD step') end\n"
         "assert(rej == 0, 'lr 0.01 rejected a step')\n");
  run_err("fs.adapt_embeddings { hypernet = hnet.hypernet { target = hnet.mlp { inputs = 1, hidden = { 2 }, outputs = 1 },"
          " embedding = 2, hidden = { 3 } }, theta = hnet.tensor(1), net = hnet.mlp { inputs = 1, hidden = { 2 }, outputs = 1 },"
          " problems = { sinus(1, 4) }, init = hnet.tensor(2), steps = 1, lr = 0.1, optimizer = 'adam', backtrack = true }",
          "field 'backtrack': needs optimizer = 'sgd'");
}

/* Embedding-only adaptation: θ (and the start embedding) are byte-identical
 * afterwards, the embeddings moved and the support loss fell; batching
 * problems does not change the result. Full and chunked hypernetworks. */
static void test_adapt_embeddings_frozen(void **state) {
  (void)state;
  run_ok("for _, chunk in ipairs { 0, 7 } do\n"
         "  local net = hnet.mlp { inputs = 1, hidden = { 8 }, outputs = 1, max_batch = 32 }\n"
         "  local h = hnet.hypernet { target = net, embedding = 3, hidden = { 6 }, chunk = chunk,\n"
         "                            chunk_embedding = 2, max_tasks = 1 }\n"
         "  local theta = hnet.tensor(h:n_params())\n"
         "  h:init(theta, nil, { rng = hnet.rng(4) })\n"
         "  local before, copy = bytes(theta), theta:clone()\n"
         "  local init = hnet.randn({ 3 }, hnet.rng(5), 0.5)\n"
         "  local init_bytes = bytes(init)\n"
         "  local P = { sinus(1, 5, 20), sinus(2, 5, 20), sinus(3, 5, 20) }\n"
         "  for _, opt in ipairs { 'sgd', 'adam' } do\n"
         "    local r = fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = P,\n"
         "      init = init, steps = 25, lr = opt == 'sgd' and 0.02 or 0.05, optimizer = opt,\n"
         "      record = { 0, 25, 5 }, kind = 'regression', group = 2 }\n"
         "    assert(bytes(theta) == before, 'adaptation changed theta')\n"
         "    assert(theta:sqdist(copy) == 0)\n"
         "    assert(bytes(init) == init_bytes, 'adaptation changed the start embedding')\n"
         "    assert(#r.record == 3 and r.record[1] == 0 and r.record[3] == 25, 'record not sorted')\n"
         "    for i = 1, #P do\n"
         "      assert(r.loss[25][i] < r.loss[0][i], ('%s: support loss %g -> %g'):format(opt, r.loss[0][i], r.loss[25][i]))\n"
         "      local e = r.E:rows(i, i)\n"
         "      assert(e:sqdist(init:view({ 1, 3 })) > 1e-6, 'embedding did not move')\n"
         /* the recorded query metric is the MSE of the final embedding's network */
         "      local W = h:forward(theta, e)\n"
         "      local q = fs.evaluate(net, W, P[i].xq, P[i].yq, 'regression')\n"
         "      assert(relerr(q, r.metric[25][i], 1e-6) < 1e-5, 'metric mismatch')\n"
         "    end\n"
         /* one problem per pass gives the same embeddings (up to GEMM rounding) */
         "    local r1 = fs.adapt_embeddings { hypernet = h, theta = theta, net = net, problems = P,\n"
         "      init = init, steps = 25, lr = opt == 'sgd' and 0.02 or 0.05, optimizer = opt,\n"
         "      record = { 25 }, kind = 'regression', group = 1 }\n"
         "    assert(r1.E:sqdist(r.E) <= 1e-8 * r.E:sqnorm(), 'grouping changed the result')\n"
         "  end\n"
         "end\n");
}

/* Fine-tuning copies its start; from-scratch draws from the generator
 * (same seed, same result); both learn the support set. */
static void test_train_weights(void **state) {
  (void)state;
  run_ok("local net = hnet.mlp { inputs = 1, hidden = { 16 }, outputs = 1, max_batch = 32 }\n"
         "local W0 = hnet.tensor(net:n_params()); net:init(W0, hnet.rng(1))\n"
         "local b0 = bytes(W0)\n"
         "local P = { sinus(7, 10, 20), sinus(8, 10, 20) }\n"
         "local r = fs.train_weights { net = net, init = W0, problems = P, steps = 50, lr = 0.01,\n"
         "  optimizer = 'adam', record = { 0, 50 } }\n"
         "assert(bytes(W0) == b0, 'fine-tuning changed its start weights')\n"
         "for i = 1, 2 do assert(r.loss[50][i] < 0.7 * r.loss[0][i], 'no learning') end\n"
         "local a = fs.train_weights { net = net, rng = hnet.rng(9), problems = P, steps = 5, lr = 0.01, record = { 5 } }\n"
         "local b = fs.train_weights { net = net, rng = hnet.rng(9), problems = P, steps = 5, lr = 0.01, record = { 5 } }\n"
         "assert(a.metric[5][1] == b.metric[5][1] and a.metric[5][2] == b.metric[5][2])\n"
         /* classification: accuracy in % */
         "local cnet = hnet.mlp { inputs = 2, hidden = { 8 }, outputs = 2, max_batch = 64 }\n"
         /* two unit-variance clouds around (-3, -3) and (3, 3) */
         "local function cloud(n, seed)\n"
         "  local x, lab = hnet.randn({ 2 * n, 2 }, hnet.rng(seed)), {}\n"
         "  x:rows(1, n):add(-3)\n"
         "  x:rows(n + 1, 2 * n):add(3)\n"
         "  for i = 1, 2 * n do lab[i] = i <= n and 0 or 1 end\n"
         "  return x, hnet.tensor_from(lab)\n"
         "end\n"
         "local x, y = cloud(10, 3)\n"
         "local xq, yq = cloud(50, 4)\n"
         "local c = fs.train_weights { net = cnet, rng = hnet.rng(2), problems = { { x = x, y = y, xq = xq, yq = yq } },\n"
         "  steps = 100, lr = 0.03, optimizer = 'adam', kind = 'classification', record = { 0, 100 } }\n"
         "assert(c.metric[100][1] > 95, 'cloud accuracy ' .. c.metric[100][1])\n"
         "assert(c.loss[100][1] < 0.5 * c.loss[0][1])\n");
}

/* MAML: the inner step is a gradient step on the support loss (that gradient
 * checked by central differences); the second-order meta-gradient matches
 * central differences of the meta-objective F(W) = mean L_q(W − α∇L_s(W));
 * the first-order one is ∇L_q at the adapted weights and differs from ∇F
 * (so the check can tell the two apart). */
static void test_maml_gradients(void **state) {
  (void)state;
  run_ok("local net = smooth_net()\n"
         "local batch = { sinus(11, 6), sinus(12, 6) }\n"
         "local alpha = 0.3\n"
         "local m1 = maml.new { net = net, rng = hnet.rng(5), inner_lr = alpha, order = 1 }\n"
         "local W = m1.W:clone()\n"
         /* inner step */
         "local t = batch[1]\n"
         "local Wn = m1:inner(t.x, t.y)\n"
         "local gs = grad(net, W, t.x, t.y)\n"
         "assert(Wn:sqdist(W:clone():axpy(-alpha, gs)) == 0, 'inner step is not W - alpha grad')\n"
         "local e = fdcheck(W, gs, function() return hnet.loss.mse(net:forward(W, t.x), t.y) end, 1e-2)\n"
         "assert(e < 1e-2, 'support gradient vs finite differences: ' .. e)\n"
         /* the meta-objective, evaluated directly */
         "local function F()\n"
         "  local s = 0\n"
         "  for _, b in ipairs(batch) do\n"
         "    local g = grad(net, W, b.x, b.y)\n"
         "    s = s + hnet.loss.mse(net:forward(W:clone():axpy(-alpha, g), b.xq), b.yq)\n"
         "  end\n"
         "  return s / #batch\n"
         "end\n"
         "local g1 = hnet.tensor(W:numel())\n"
         "local loss = m1:meta_gradient(batch, g1)\n"
         "assert(relerr(loss, F(), 1e-9) < 1e-6, 'meta-loss mismatch')\n"
         /* first order = mean of ∇L_q at the adapted weights */
         "local ref = hnet.tensor(W:numel())\n"
         "for _, b in ipairs(batch) do\n"
         "  local g = grad(net, W, b.x, b.y)\n"
         "  ref:axpy(0.5, (grad(net, W:clone():axpy(-alpha, g), b.xq, b.yq)))\n"
         "end\n"
         "assert(g1:sqdist(ref) <= 1e-12 * ref:sqnorm(), 'FOMAML gradient is not grad L_q(W_n)')\n"
         "local m2 = maml.new { net = net, init = W, inner_lr = alpha, order = 2, fd_eps = 1e-3 }\n"
         "local g2 = hnet.tensor(W:numel())\n"
         "m2:meta_gradient(batch, g2)\n"
         /* float32 finite differences of both sides: a few 1e-3 relative */
         "local e2 = fdcheck(W, g2, F, 1e-2)\n"
         "assert(e2 < 2e-2, 'second-order meta-gradient vs finite differences: ' .. e2)\n"
         "local e1 = fdcheck(W, g1, F, 1e-2)\n"
         "assert(e1 > 0.1, 'the check cannot tell first from second order: ' .. e1)\n"
         /* two inner steps, second order */
         "local m3 = maml.new { net = net, init = W, inner_lr = 0.2, inner_steps = 2, order = 2 }\n"
         "local g3 = hnet.tensor(W:numel())\n"
         "m3:meta_gradient(batch, g3)\n"
         "local function F2()\n"
         "  local s = 0\n"
         "  for _, b in ipairs(batch) do\n"
         "    local V = W:clone()\n"
         "    for _ = 1, 2 do V:axpy(-0.2, (grad(net, V, b.x, b.y))) end\n"
         "    s = s + hnet.loss.mse(net:forward(V, b.xq), b.yq)\n"
         "  end\n"
         "  return s / #batch\n"
         "end\n"
         "local e3 = fdcheck(W, g3, F2, 1e-2)\n"
         "assert(e3 < 2e-2, 'two-step meta-gradient vs finite differences: ' .. e3)\n"
         /* a meta step moves W by Adam's step and leaves the batch alone */
         "local before = bytes(m2.W)\n"
         "m2:meta_step(batch)\n"
         "assert(bytes(m2.W) ~= before)\n");
}

/* CAVIA-style context adaptation through a hypernetwork: the second-order
 * meta-gradient w.r.t. θ and e0 matches central differences of
 * G(θ, e0) = mean L_q(θ, e0 − α∇_e L_s(θ, e0)); first order does not. */
static void test_context_gradients(void **state) {
  (void)state;
  run_ok("local net = smooth_net()\n"
         "local n = net:n_params()\n"
         "local h = hnet.hypernet { target = net, embedding = 3, hidden = { 5 }, act = 'tanh', chunk = 0, max_tasks = 1 }\n"
         "local th = hnet.tensor(h:n_params()); h:init(th, nil, { rng = hnet.rng(7) })\n"
         "local e0 = hnet.randn({ 3 }, hnet.rng(8), 0.5)\n"
         "local batch = { sinus(21, 6), sinus(22, 6), sinus(23, 6) }\n"
         "local alpha = 0.3\n"
         "local function G()\n"
         "  local s = 0\n"
         "  for _, b in ipairs(batch) do\n"
         "    local E = e0:clone():view({ 1, 3 })\n"
         "    local W = h:forward(th, E)\n"
         "    local out = net:forward(W, b.x); local dy = hnet.tensor(out:shape())\n"
         "    hnet.loss.mse(out, b.y, { grad = dy })\n"
         "    local dW = hnet.tensor(1, n); net:backward(W, dy, dW)\n"
         "    local dE = hnet.tensor(1, 3); h:backward(th, dW, nil, dE)\n"
         "    E:axpy(-alpha, dE)\n"
         "    s = s + hnet.loss.mse(net:forward(h:forward(th, E), b.xq), b.yq)\n"
         "  end\n"
         "  return s / #batch\n"
         "end\n"
         "local res = {}\n"
         "for _, order in ipairs { 1, 2 } do\n"
         "  local c = maml.context { hypernet = h, theta = th, net = net, e0 = e0, inner_lr = alpha,\n"
         "                           order = order, learn_init = true }\n"
         "  local dth, de0 = hnet.tensor(th:numel()), hnet.tensor(3)\n"
         "  local loss = c:meta_gradient(batch, dth, de0)\n"
         "  assert(relerr(loss, G(), 1e-9) < 1e-5, 'meta-loss mismatch')\n"
         "  res[order] = { fdcheck(th, dth, G, 1e-2), fdcheck(e0, de0, G, 1e-2) }\n"
         "end\n"
         "assert(res[2][1] < 2e-2, 'theta meta-gradient vs finite differences: ' .. res[2][1])\n"
         "assert(res[2][2] < 2e-2, 'e0 meta-gradient vs finite differences: ' .. res[2][2])\n"
         "assert(res[1][1] > 0.1 and res[1][2] > 0.1, 'the check cannot tell first from second order')\n"
         /* meta_step: θ moves, e0 only with learn_init */
         "local th2 = th:clone()\n"
         "local c = maml.context { hypernet = h, theta = th2, net = net, inner_lr = alpha }\n"
         "local b0 = bytes(c.e0)\n"
         "c:meta_step(batch)\n"
         "assert(th2:sqdist(th) > 0 and bytes(c.e0) == b0)\n");
}

static void test_misuse(void **state) {
  (void)state;
  run_ok("net = hnet.mlp { inputs = 1, hidden = { 4 }, outputs = 1, max_batch = 8 }\n"
         "h = hnet.hypernet { target = net, embedding = 2, hidden = { 3 }, max_tasks = 1 }\n"
         "th = hnet.tensor(h:n_params()); h:init(th, nil, { rng = hnet.rng(1) })\n"
         "P = { sinus(1, 4) }\n");
  run_err("fs.adapt_embeddings { hypernet = h, theta = th, net = net, problems = P, steps = 1, lr = 0.1 }",
          "field 'init'");
  run_err("fs.adapt_embeddings { hypernet = h, theta = th, net = net, problems = P, init = hnet.tensor(2),"
          " steps = 3, lr = 0.1, record = { 4 } }",
          "field 'record'");
  run_err("fs.adapt_embeddings { hypernet = h, theta = th, net = net, problems = {}, init = hnet.tensor(2),"
          " steps = 1, lr = 0.1 }",
          "field 'problems'");
  run_err("fs.adapt_embeddings { hypernet = h, theta = th, net = net, problems = { { x = 1 } },"
          " init = hnet.tensor(2), steps = 1, lr = 0.1 }",
          "problem 1 has no tensor 'x'");
  run_err("fs.adapt_embeddings { hypernet = h, theta = th, net = net, problems = P, init = hnet.tensor(2),"
          " steps = 1, lr = 0.1, optimiser = 'sgd' }",
          "unknown option 'optimiser'");
  run_err("fs.train_weights { net = net, problems = P, steps = 1, lr = 0.1 }", "give 'init'");
  run_err("fs.train_weights { net = net, init = hnet.tensor(3), problems = P, steps = 1, lr = 0.1 }",
          "weight tensor of");
  run_err("fs.train_weights { net = net, rng = hnet.rng(1), problems = { sinus(1, 9) }, steps = 1, lr = 0.1 }",
          "exceeds the target net's max batch");
  run_err("maml.new { rng = hnet.rng(1) }", "field 'net' is required");
  run_err("maml.new { net = net, rng = hnet.rng(1), order = 3 }", "field 'order'");
  run_err("maml.new { net = net, rng = hnet.rng(1) }:meta_gradient({}, hnet.tensor(1))", "non-empty list");
  run_err("maml.context { hypernet = h, net = net }", "'theta'");
  run_err("maml.context { hypernet = h, theta = th, net = net, e0 = hnet.tensor(5) }", "field 'e0'");
}

/* Run an experiment's --quick form in a fresh state, as ./hnet would, then
 * `check` with the result as the global `result`. */
static void run_experiment_args(const char *name, const char *extra, const char *check) {
  lua_State *S = hntl_newstate();
  assert_non_null(S);
  char chunk[1024], msg[4096];
  snprintf(chunk, sizeof chunk,
           "arg = { [0] = 'experiments/%s.lua', '--quick', '--quiet', '--force', '--out', '%s/%s'%s }\n"
           "result = dofile(arg[0])\n",
           name, tmpdir, name, extra);
  if (hntl_run(S, chunk, msg, sizeof msg) != LUA_OK)
    fail_msg("experiments/%s.lua --quick failed: %s", name, msg);
  if (hntl_run(S, check, msg, sizeof msg) != LUA_OK)
    fail_msg("experiments/%s.lua --quick: %s", name, msg);
  lua_close(S);
}

static void run_experiment(const char *name, const char *check) { run_experiment_args(name, "", check); }

/* --steps below the usual record points (50, 100) records only the counts
 * up to it: the run used to stop with a bad 'record' entry. */
static void test_sinusoid_few_steps(void **state) {
  (void)state;
  run_experiment_args("fewshot_sinusoid",
                      ", '--steps', '30', '--methods', 'scratch,hnet-cavia', '--shots', '5', '--tasks', '4',"
                      " '--val_tasks', '3', '--cavia_iterations', '20'",
                      "local r = result.results.scratch[5]\n"
                      "assert(r.record[#r.record] == 30, 'last record ' .. tostring(r.record[#r.record]))\n"
                      "for _, s in ipairs(r.record) do assert(s <= 30, 'recorded step ' .. s) end\n"
                      "assert(#r.metric[30] == 4 and r.metric[50] == nil)\n");
}

/* The quick run's claims, in forms that hold under last-bit perturbation
 * (other BLAS kernels, libm): medians over the 40 test tasks, not means (a
 * mean over 40 few-shot tasks is decided by its two or three worst tasks,
 * which move by 10x between kernels), compared with the median MSE of
 * predicting zero (about 4.2). Measured medians under the Haswell, Zen,
 * Sandybridge, Nehalem and Prescott kernels: hnet-mt converged 0.12-0.48
 * (bound 0.3 x 4.2 = 1.26: >= 2.6x margin); MAML after 10 steps 1.4-2.4;
 * fine-tuning and scratch at K >= 10 (100 steps) 0.2-0.9; CAVIA-style after
 * its one meta-trained step at K = 20 1.2-1.9 (at K = 10 it is 1.4-3.9: too
 * close to 4.2 to assert after 300 meta-iterations). CAVIA-style test-time
 * SGD backtracks, so no test task diverges and every support loss is
 * monotone: exact properties, whatever the rounding. */
static void test_quick_sinusoid(void **state) {
  (void)state;
  run_experiment("fewshot_sinusoid",
                 "local fs = hnet.fewshot\n"
                 "local r, s = result.results, result.summary\n"
                 "local zero = s.zero_predictor.median\n"
                 "assert(zero > 2, 'predict-zero median MSE ' .. zero)\n"
                 "local last = s.options.steps\n"
                 "local function med(m, k, st) return fs.stats(r[m][k].metric[st], r[m][k].diverged).median or math.huge end\n"
                 "for _, k in ipairs { 5, 10, 20 } do\n"
                 "  local v = med('hnet-mt', k, last)\n"
                 "  assert(v < 0.3 * zero, ('hnet-mt K=%d: median MSE %.3f vs predict-zero %.3f'):format(k, v, zero))\n"
                 /* its lr diverged on no validation task; allow a few test tasks */
                 "  local nd = fs.n_diverged(r['hnet-mt'][k].metric[last], r['hnet-mt'][k].diverged)\n"
                 "  assert(nd <= 4, ('hnet-mt K=%d: diverged on %d/40 test tasks'):format(k, nd))\n"
                 "  assert(med('maml', k, 10) < zero, 'maml K=' .. k)\n"
                 "  local c = r['hnet-cavia'][k]\n"
                 "  assert(fs.n_diverged(c.metric[last], c.diverged) == 0, 'hnet-cavia diverged at K=' .. k)\n"
                 "  for i = 1, #c.diverged do\n"
                 "    for j = 2, #c.record do\n"
                 "      local a, b = c.loss[c.record[j - 1]][i], c.loss[c.record[j]][i]\n"
                 "      assert(b <= a, ('hnet-cavia K=%d task %d: support loss %g -> %g at step %d'):format(k, i, a, b, c.record[j]))\n"
                 "    end\n"
                 "  end\n"
                 "end\n"
                 "for _, k in ipairs { 10, 20 } do\n"
                 "  assert(med('finetune', k, last) < zero, 'finetune K=' .. k)\n"
                 "  assert(med('scratch', k, last) < zero, 'scratch K=' .. k)\n"
                 "end\n"
                 "assert(med('hnet-cavia', 20, 1) < zero, 'hnet-cavia K=20 after its meta-trained step')\n"
                 /* learning rates are chosen at the step count they are used for */
                 "for _, m in ipairs { 'hnet-mt', 'finetune', 'scratch' } do\n"
                 "  assert(s.notes[m]:find(('lr per K on validation at %d steps'):format(last), 1, true), m .. ': ' .. s.notes[m])\n"
                 "end\n"
                 /* the files carry the diverged counts and medians */
                 "local f = assert(io.open(arg[5] .. '/results.csv'))\n"
                 "local head = f:read('l') f:close()\n"
                 "assert(head:find('mse_median', 1, true) and head:find('n_diverged', 1, true), head)\n"
                 "local f = assert(io.open(arg[5] .. '/results.md'))\n"
                 "local md = f:read('a') f:close()\n"
                 "assert(md:find('embedding-only', 1, true) and md:find('MAML', 1, true))\n"
                 "assert(io.open(arg[5] .. '/summary.json')):close()\n");
}

/* 2-way tasks: chance is 50%. After pre-training on the most tasks, every
 * method is above chance at k = 5; the hypernetwork clearly so. Margins:
 * measured under the Haswell, Zen, Sandybridge, Nehalem and Prescott
 * kernels, the means over the 20 tasks are 76.8 (hnet k=1), 87.3-87.4
 * (hnet k=5), 94.6 (finetune k=5), 94.1 (scratch k=5): every bound is at
 * least 20 points below, where one task of 20 moves a mean by at most 5. */
static void test_quick_fashion(void **state) {
  (void)state;
  run_experiment("fewshot_fashion",
                 "local fs = hnet.fewshot\n"
                 "local r, o = result.results, result.summary.options\n"
                 "local N = 10\n"
                 "local function acc(m, k)\n"
                 "  local st = fs.stats(r[m][N][k].metric[o.steps], r[m][N][k].diverged)\n"
                 "  assert(st.n_diverged <= 2, ('%s k=%d: diverged on %d/%d tasks'):format(m, k, st.n_diverged, st.n_total))\n"
                 "  return st.mean\n"
                 "end\n"
                 "assert(acc('hnet', 5) > 65, 'hnet k=5: ' .. acc('hnet', 5))\n"
                 "assert(acc('finetune', 5) > 55, 'finetune k=5: ' .. acc('finetune', 5))\n"
                 "assert(acc('scratch', 5) > 70, 'scratch k=5: ' .. acc('scratch', 5))\n"
                 "assert(acc('hnet', 1) > 55, 'hnet k=1: ' .. acc('hnet', 1))\n"
                 "assert(io.open(arg[5] .. '/results.csv')):close()\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sinusoid_ranges),   cmocka_unit_test(test_ci95),
      cmocka_unit_test(test_choose_lr),         cmocka_unit_test(test_adapt_backtrack),
      cmocka_unit_test(test_adapt_embeddings_frozen), cmocka_unit_test(test_train_weights),
      cmocka_unit_test(test_maml_gradients),    cmocka_unit_test(test_context_gradients),
      cmocka_unit_test(test_misuse),            cmocka_unit_test(test_quick_sinusoid),
      cmocka_unit_test(test_quick_fashion),      cmocka_unit_test(test_sinusoid_few_steps),
  };
  return cmocka_run_group_tests_name("few-shot transfer (Lua)", tests, group_setup, group_teardown);
}
