/*
 * test_lua_vae.c — the VAE pieces through Lua: hnet.vae.reparam and
 * reparam_backward, hnet.loss.bce_logits and kl_gauss (values, the
 * overwrite/accumulate conventions, the stream), and misuse cases with the
 * argument-error messages. The engine's gradient checks are in test_vae.c.
 */
#include "harness.h"
#include "lua_harness.h"

static lua_State *fresh(void) {
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  return L;
}

static void test_binding_behaviour(void **state) {
  (void)state;
  lua_State *L = fresh();
  hntl_assert_ok(L,
      /* h [2, 4]: d = 2. A wider out keeps its condition columns. */
      "local h = hnet.tensor_from({ 0.5, -1, 0.2, -0.4, 0, 1, 0, 0.3 }, { 2, 4 })\n"
      "local z = hnet.full({ 2, 5 }, 7)\n"
      "local z2, eps = hnet.vae.reparam(h, hnet.rng(5, 1), { out = z })\n"
      "assert(rawequal(z2, z) and eps:size(1) == 2 and eps:size(2) == 2)\n"
      "for i = 1, 2 do for j = 3, 5 do assert(z:get(i, j) == 7, 'condition column') end end\n"
      "for i = 1, 2 do for j = 1, 2 do\n"
      "  local want = h:get(i, j) + math.exp(0.5 * h:get(i, j + 2)) * eps:get(i, j)\n"
      "  assert(math.abs(z:get(i, j) - want) < 1e-5)\n"
      "end end\n"
      /* The same stream gives the same sample; another stream another one. */
      "local a = hnet.vae.reparam(h, hnet.rng(5, 1))\n"
      "local b = hnet.vae.reparam(h, hnet.rng(5, 2))\n"
      "for i = 1, 2 do for j = 1, 2 do assert(a:get(i, j) == z:get(i, j)) end end\n"
      "assert(a:sqdist(b) > 0)\n"
      /* KL overwrites, reparam_backward accumulates on top. */
      "local dh = hnet.full({ 2, 4 }, 99)\n"
      "local kl = hnet.loss.kl_gauss(h, { grad = dh })\n"
      "assert(math.abs(dh:get(1, 1) - 0.25) < 1e-7, 'mu / n overwrites')\n"
      "local dz = hnet.ones(2, 5)\n"
      "local dh2 = hnet.vae.reparam_backward(h, eps, dz, { grad = dh })\n"
      "assert(rawequal(dh2, dh) and math.abs(dh:get(1, 1) - 1.25) < 1e-6, 'dmu += dz')\n"
      "local fresh = hnet.vae.reparam_backward(h, eps, dz)\n"
      "assert(fresh:get(1, 1) == 1 and fresh:size(2) == 4)\n"
      "local want = 0\n"
      "for i = 1, 2 do for j = 1, 2 do local mu, lv = h:get(i, j), h:get(i, j + 2)\n"
      "  want = want - 0.5 * (1 + lv - mu * mu - math.exp(lv)) / 2 end end\n"
      "assert(math.abs(kl - want) < 1e-6)\n"
      /* BCE: x = 0 against any target in [0, 1] is log 2. */
      "local g = hnet.full({ 2, 3 }, 5)\n"
      "local l = hnet.loss.bce_logits(hnet.tensor(2, 3), hnet.full({ 2, 3 }, 0.3), { grad = g })\n"
      "assert(math.abs(l - math.log(2)) < 1e-6 and math.abs(g:get(1, 1) - 0.2 / 6) < 1e-7)\n"
      /* KD: equal logits over a 2-column head at T = 2 give 4 log 2, no gradient. */
      "local kg = hnet.full({ 2, 3 }, 5)\n"
      "local kd = hnet.loss.kd(hnet.tensor(2, 3), hnet.tensor(2, 3), { mask = { 1, 1, 0 }, grad = kg })\n"
      "assert(math.abs(kd - 4 * math.log(2)) < 1e-5 and kg:min() == 0 and kg:max() == 0)\n");
  lua_close(L);
}

static void test_misuse(void **state) {
  (void)state;
  lua_State *L = fresh();
  static const struct { const char *chunk, *expect; } cases[] = {
      {"hnet.vae.reparam(hnet.tensor(2, 4))", "hnet.Rng expected"},
      {"hnet.vae.reparam(hnet.tensor(2, 3), hnet.rng(1))", "expected [n, 2d]"},
      {"hnet.vae.reparam(hnet.tensor(2, 4), hnet.rng(1), { outt = hnet.tensor(2, 2) })",
       "unknown option 'outt'"},
      {"hnet.vae.reparam(hnet.tensor(2, 4), hnet.rng(1), { out = hnet.tensor(2, 1) })",
       "m >= 2"},
      {"hnet.vae.reparam(hnet.tensor(2, 4), hnet.rng(1), { eps = hnet.tensor(3, 2) })",
       "eps is [3, 2]"},
      {"hnet.vae.reparam(hnet.tensor(2, 4), hnet.rng(1), { out = 3 })", "field 'out'"},
      {"hnet.vae.reparam_backward(hnet.tensor(2, 4), hnet.tensor(2, 2))", "hnet.Tensor expected"},
      {"hnet.vae.reparam_backward(hnet.tensor(2, 4), hnet.tensor(2, 2), hnet.tensor(2, 2),"
       " { grad = hnet.tensor(2, 2) })",
       "dh is [2, 2]"},
      {"hnet.loss.kl_gauss(hnet.tensor(3, 5))", "expected [n, 2d]"},
      {"hnet.loss.kl_gauss(hnet.tensor(3, 4), { grad = hnet.tensor(4, 3) })", "dh is [4, 3]"},
      {"hnet.loss.kl_gauss(hnet.tensor(3, 4), { gard = hnet.tensor(3, 4) })",
       "unknown option 'gard'"},
      {"hnet.loss.bce_logits(hnet.tensor(2, 3), hnet.full({ 2, 3 }, 2))", "[0, 1]"},
      {"hnet.loss.bce_logits(hnet.tensor(2, 3), hnet.tensor(3, 2))", "same rows"},
      {"hnet.loss.bce_logits(hnet.tensor(2, 3), hnet.tensor(2, 3), { grad = hnet.tensor(6) })",
       "dx is [6]"},
      {"hnet.loss.kd(hnet.tensor(2, 3), hnet.tensor(3, 2))", "target is [3, 2]"},
      {"hnet.loss.kd(hnet.tensor(2, 3), hnet.tensor(2, 3), { temperature = 0 })", "temperature"},
      {"hnet.loss.kd(hnet.tensor(2, 3), hnet.tensor(2, 3), { mask = { 1, 0 } })", "field 'mask'"},
      {"hnet.loss.kd(hnet.tensor(2, 3), hnet.tensor(2, 3), { temp = 2 })", "unknown option 'temp'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    hntl_assert_err(L, cases[i].chunk, cases[i].expect);
  /* A failed call leaves its outputs untouched. */
  hntl_assert_ok(L, "local g = hnet.full({ 2, 3 }, 5)\n"
                    "assert(not pcall(hnet.loss.bce_logits, hnet.tensor(2, 3),"
                    " hnet.full({ 2, 3 }, -1), { grad = g }))\n"
                    "assert(g:min() == 5 and g:max() == 5)\n");
  lua_close(L);
}


/* Two tasks of 8 inputs, a small model; TRAIN(m, t, iters) -> first loss,
 * mean of the last 50 losses. */
static const char *REPLAY_FIXTURE =
    "vae = require 'hnet.replay.vae'\n"
    "function MODEL(recon, extra)\n"
    "  local o = { latent = 4, cond = 3, enc_hidden = { 32 }, dec_hidden = { 32 }, recon = recon,\n"
    "    hnet = { embedding = 8, hidden = { 16 }, chunk = 0, chunk_embedding = 8 }, batch = 32,\n"
    "    lr = 3e-3, lr_dec = 3e-3, lr_emb = 3e-3, seed = 4 }\n"
    "  for k, v in pairs(extra or {}) do o[k] = v end\n"
    "  return vae.new(o, { input_shape = { 8 }, n_tasks = 2 })\n"
    "end\n"
    "function TRAIN(m, data, iters, from)\n"
    "  local first, tail = nil, 0\n"
    "  for it = from or 1, iters do\n"
    "    local i = ((it - 1) * 32) % 256 + 1\n"
    "    local l = m:train_step(data:rows(i, i + 31))\n"
    "    first = first or l\n"
    "    if it > iters - 50 then tail = tail + l / 50 end\n"
    "  end\n"
    "  return first, tail\n"
    "end\n"
    /* Gaussian data: task 1 around +2, task 2 around -2. Bernoulli data:
     * task 1's pixels 1..4 mostly on and 5..8 mostly off, task 2 the reverse. */
    "GAUSS, BERN = {}, {}\n"
    "for t = 1, 2 do\n"
    "  GAUSS[t] = hnet.randn({ 256, 8 }, hnet.rng(t)):add(t == 1 and 2 or -2)\n"
    "  local u = hnet.rand({ 256, 8 }, hnet.rng(10 + t))\n"
    "  BERN[t] = hnet.tensor(256, 8)\n"
    "  for i = 1, 256 do for j = 1, 8 do\n"
    "    local on = (j <= 4) == (t == 1)\n"
    "    BERN[t]:set(i, j, (u:get(i, j) < (on and 0.9 or 0.1)) and 1 or 0)\n"
    "  end end\n"
    "end\n"
    /* Mean of the first and last four columns of n samples of task t. */
    "function HALVES(m, t)\n"
    "  local s = m:sample(t, 32)\n"
    "  local a, b = 0, 0\n"
    "  for i = 1, 32 do for j = 1, 8 do\n"
    "    if j <= 4 then a = a + s:get(i, j) / 128 else b = b + s:get(i, j) / 128 end\n"
    "  end end\n"
    "  return a, b\n"
    "end\n";

/* The ELBO falls on each task, and after both tasks the replay of task 1
 * still looks like task 1 (the hypernetwork's regulariser protects its
 * decoder) and unlike task 2, by wide margins: the data means are ±2 (the
 * test asks for > 1 and < -1), the Bernoulli halves 0.9/0.1 (asked: a gap
 * of 0.4). */
static void test_replay_model(void **state) {
  (void)state;
  lua_State *L = fresh();
  hntl_assert_ok(L, REPLAY_FIXTURE);
  hntl_assert_ok(L,
      "for _, kind in ipairs { 'gaussian', 'bernoulli' } do\n"
      "  local data = kind == 'gaussian' and GAUSS or BERN\n"
      "  local m = MODEL(kind)\n"
      "  for t = 1, 2 do\n"
      "    m:begin_task(t)\n"
      "    local first, tail = TRAIN(m, data[t], 600)\n"
      "    assert(tail < 0.6 * first, ('%s task %d: loss %g -> %g'):format(kind, t, first, tail))\n"
      "  end\n"
      "  local s1, s2 = m:sample(1, 32):mean(), m:sample(2, 32):mean()\n"
      "  if kind == 'gaussian' then\n"
      "    assert(s1 > 1 and s2 < -1, ('replayed means %g %g'):format(s1, s2))\n"
      "  else\n"
      "    local a1, b1 = HALVES(m, 1)\n"
      "    local a2, b2 = HALVES(m, 2)\n"
      "    assert(a1 - b1 > 0.4 and b2 - a2 > 0.4, ('halves %g %g / %g %g'):format(a1, b1, a2, b2))\n"
      "  end\n"
      "end\n");
  lua_close(L);
}

/* The protection is the regulariser's: task 1's generated decoder weights
 * h(e_1; θ) move while task 2 trains, ~600 times less (relative squared
 * change 1e-4 against 7e-2 here) with beta = 0.01 than with beta = 0; the
 * test asks for 10 times. */
static void test_replay_regulariser_protects(void **state) {
  (void)state;
  lua_State *L = fresh();
  hntl_assert_ok(L, REPLAY_FIXTURE);
  hntl_assert_ok(L,
      "local function drift(beta)\n"
      "  local m = MODEL('gaussian', { beta = beta })\n"
      "  local W = {}\n"
      "  for t = 1, 2 do\n"
      "    m:begin_task(t); TRAIN(m, GAUSS[t], 600)\n"
      "    W[t] = hnet.tensor(1, m.model.n_w)\n"
      "    m.model:generate(m.model.E:rows(1, 1), W[t])\n"
      "  end\n"
      "  return W[1]:sqdist(W[2]) / W[1]:sqnorm()\n"
      "end\n"
      "local free, kept = drift(0), drift(0.01)\n"
      "assert(kept < 0.1 * free, ('drift of W_1: %g with beta, %g without'):format(kept, free))\n");
  lua_close(L);
}

/* save/load within a task resumes bit for bit: the losses of steps after a
 * restore equal those of the uninterrupted run. */
static void test_replay_resume(void **state) {
  (void)state;
  lua_State *L = fresh();
  hntl_assert_ok(L, REPLAY_FIXTURE);
  hntl_assert_ok(L,
      "local checkpoint = require 'hnet.checkpoint'\n"
      "local function copy(s)\n"
      "  local c = {}\n"
      "  for k, v in pairs(s) do c[k] = checkpoint.is_tensor(v) and v:clone() or v end\n"
      "  return c\n"
      "end\n"
      "local a = MODEL('gaussian')\n"
      "a:begin_task(1); TRAIN(a, GAUSS[1], 40)\n"
      "a:begin_task(2); TRAIN(a, GAUSS[2], 20)\n"
      "local s = {}\n"
      "a:save(s, 'rp', true)\n"
      "s = copy(s)\n"
      "local want = { TRAIN(a, GAUSS[2], 80, 21) }\n"
      "local ws = a:sample(1, 8):clone()\n"
      "local b = MODEL('gaussian')\n"
      "b:load(s, 'rp', true, 2)\n"
      "local got = { TRAIN(b, GAUSS[2], 80, 21) }\n"
      "assert(got[1] == want[1] and got[2] == want[2], ('resumed %g %g, want %g %g')\n"
      "  :format(got[1], got[2], want[1], want[2]))\n"
      "assert(b:sample(1, 8):sqdist(ws) == 0)\n");
  lua_close(L);
}

/* The replay reuses each task's generated decoder weights until the model
 * trains again: a sample after more training equals one from a model
 * restored to that point (which generates afresh). */
static void test_replay_weights_regenerated(void **state) {
  (void)state;
  lua_State *L = fresh();
  hntl_assert_ok(L, REPLAY_FIXTURE);
  hntl_assert_ok(L,
      "local checkpoint = require 'hnet.checkpoint'\n"
      "local a = MODEL('gaussian')\n"
      "a:begin_task(1); TRAIN(a, GAUSS[1], 50)\n"
      "local early = a:sample(1, 8):clone()\n"
      "TRAIN(a, GAUSS[1], 100, 51)\n"
      "local s = {}\n"
      "a:save(s, 'rp', true)\n"
      "for k, v in pairs(s) do if checkpoint.is_tensor(v) then s[k] = v:clone() end end\n"
      "local b = MODEL('gaussian')\n"
      "b:load(s, 'rp', true, 1)\n"
      "local sa, sb = a:sample(1, 8), b:sample(1, 8):clone()\n"
      "assert(sa:sqdist(sb) == 0, 'stale decoder weights after training')\n"
      "assert(sa:sqdist(early) > 0)\n");
  lua_close(L);
}

/* hypercl's init: linear weights within ±sqrt(6 / (fan_in + fan_out)) and
 * spread over it (the extremes of 1200 uniform draws reach 90% of the
 * bound), biases 0, BatchNorm's parameters as net:init draws them. */
static void test_xavier_init(void **state) {
  (void)state;
  lua_State *L = fresh();
  hntl_assert_ok(L,
      "local vae = require 'hnet.replay.vae'\n"
      "local n = hnet.mlp { inputs = { 40 }, hidden = { 30 }, outputs = 20, batchnorm = true }\n"
      "local W = vae.xavier(n, hnet.full({ n:n_params() }, 7), hnet.rng(1))\n"
      "local W0 = hnet.tensor(n:n_params())\n"
      "n:init(W0, hnet.rng(1))\n"
      "for _, e in ipairs(n:layout()) do\n"
      "  local v = W:rows(e.offset + 1, e.offset + e.numel)\n"
      "  if e.name:find('linear.weight') then\n"
      "    local a = math.sqrt(6 / (e.shape[1] + e.shape[2]))\n"
      "    assert(v:max() <= a and v:min() >= -a and v:max() > 0.9 * a and v:min() < -0.9 * a, e.name)\n"
      "  elseif e.name:find('linear.bias') then\n"
      "    assert(v:min() == 0 and v:max() == 0, e.name)\n"
      "  else\n"
      "    assert(v:sqdist(W0:rows(e.offset + 1, e.offset + e.numel)) == 0, e.name)\n"
      "  end\n"
      "end\n");
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binding_behaviour),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_replay_model),
      cmocka_unit_test(test_replay_regulariser_protects),
      cmocka_unit_test(test_replay_resume),
      cmocka_unit_test(test_replay_weights_regenerated),
      cmocka_unit_test(test_xavier_init),
  };
  return cmocka_run_group_tests_name("lua_vae", tests, NULL, NULL);
}
