/* test_lua_hypermodel.c — hnet.hypermodel, the one hypernetwork step that
 * the hypernet learner, the shift pool, few-shot adaptation and CAVIA call:
 * its step against the same step written out with the engine's primitives
 * (generate, target forward, cross-entropy, both backward passes, Adam),
 * with the output regulariser and its look-ahead, the multi-task step
 * (mean loss, dense Adam over the embedding table), the frozen-θ pass,
 * gradient-norm clipping, and the errors for bad options. The comparisons are exact: the model must do
 * the same operations in the same order. */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <string.h>

static void run_err(const char *chunk, const char *want) { hntl_assert_err_fresh(chunk, want); }

/* A model, a batch, and the step written out by hand (ref_step). */
#define SETUP                                                                                          \
  "local hm = require 'hnet.hypermodel'\n"                                                             \
  "local function model()\n"                                                                           \
  "  local m = hm.build{ target = { 'mlp', hidden = { 8 } }, input_shape = { 5 }, n_outputs = 3,\n"   \
  "    max_batch = 16, hnet = { embedding = 4, hidden = { 7 }, act = 'relu', alpha = 1, chunk = 0,\n"   \
  "    chunk_embedding = 4 }, max_tasks = 3, n_embeddings = 3, init = { rng = hnet.rng(2, 1) } }\n"     \
  "  m.E:copy(hnet.randn({ 3, 4 }, hnet.rng(2, 2), 1))\n"                                              \
  "  return m\n"                                                                                       \
  "end\n"                                                                                              \
  "local x = hnet.randn({ 16, 5 }, hnet.rng(2, 3), 1)\n"                                               \
  "local y = hnet.tensor(16)\n"                                                                        \
  "for i = 1, 16 do y:set(i, i % 3) end\n"                                                             \
  "local function same(a, b, what) assert(a:sqdist(b) == 0, what .. ' differs') end\n"              \
  "-- The task loss of reference model r under embedding e and its gradients by hand.\n"               \
  "local function task_grad(r, e)\n"                                                                  \
  "  local W = r.h:forward(r.theta, e):clone()\n"                                                     \
  "  local out = r.net:forward(W, x, { train = true })\n"                                             \
  "  local dout = hnet.tensor(out:shape())\n"                                                         \
  "  local l = hnet.loss.xent(out, y, { grad = dout })\n"                                             \
  "  local dW, dth, de = hnet.tensor(1, r.n_w), hnet.tensor(r.n_theta), hnet.tensor(1, 4)\n"          \
  "  r.net:backward(W, dout, dW)\n"                                                                   \
  "  r.h:backward(r.theta, dW, dth, de)\n"                                                            \
  "  return l, dth, de\n"                                                                             \
  "end\n"

/* The targets stored and recomputed from θ* (the default), the regulariser
 * written out as hypernet:output_reg with the targets or the snapshot (its
 * agreement with forward, hnet.cl.output_reg and backward, to float
 * tolerance: test_output_reg_binding; the output layer of a one-task
 * forward is fused, the regulariser's is not, so their bits differ). */
static void test_step_is_the_written_out_step(void **state) {
  (void)state;
  hntl_run_fresh(SETUP
         "for _, store in ipairs{ true, false } do\n"
         "local m, r = model(), model()\n"
         "local beta = 0.1\n"
         "for task = 1, 2 do\n"
         "  local e, er = m.E:rows(task, task), r.E:rows(task, task)\n"
         "  m:begin(e, { lr = 1e-2 })\n"
         "  local Wstar, theta_star\n"
         "  if task > 1 then\n"
         "    m:fix_targets(m.E:rows(1, 1), { beta = beta, lookahead = true, store = store })\n"
         "    if store then Wstar = r.h:forward(r.theta, r.E:rows(1, 1)):clone()\n"
         "    else theta_star = r.theta:clone() end\n"
         "  end\n"
         "  local ot, oe = hnet.adam{ n = r.n_theta, lr = 1e-2 }, hnet.adam{ n = 4, lr = 1e-2 }\n"
         "  for it = 1, 3 do\n"
         "    local loss, reg = m:step({ { x = x, y = y } }, { kind = 'classification',\n"
         "      fault = function(what, v) error(what .. ' ' .. v) end })\n"
         /* the same step by hand */
         "    local l, dth, de = task_grad(r, er)\n"
         "    local g = 0\n"
         "    if Wstar then\n"
         "      local step = hnet.tensor(r.n_theta)\n"
         "      ot:delta(r.theta, dth, step)\n"
         "      local at = r.theta:clone():add(step)\n"
         "      g = r.h:output_reg(at, r.E:rows(1, 1), { targets = Wstar, beta = beta, dtheta = dth })\n"
         "    elseif theta_star then\n"
         "      local step = hnet.tensor(r.n_theta)\n"
         "      ot:delta(r.theta, dth, step)\n"
         "      local at = r.theta:clone():add(step)\n"
         "      g = r.h:output_reg(at, r.E:rows(1, 1), { theta_star = theta_star, beta = beta, dtheta = dth })\n"
         "    end\n"
         "    ot:step(r.theta, dth)\n"
         "    oe:step(er, de)\n"
         "    assert(loss == l, ('task %d step %d: loss %.9g, by hand %.9g'):format(task, it, loss, l))\n"
         "    assert(reg == g, ('task %d step %d: regulariser %.9g, by hand %.9g'):format(task, it, reg, g))\n"
         "    assert(task == 1 or reg > 0, 'the regulariser is not active')\n"
         "    same(m.theta, r.theta, 'theta'); same(m.E, r.E, 'E')\n"
         "  end\n"
         "end\n"
         "end\n");
}

static void test_multi_task_step(void **state) {
  (void)state;
  hntl_run_fresh(SETUP
         "local m, r = model(), model()\n"
         "m:begin(m.E, { lr = 1e-2, lr_emb = 3e-2 })\n"
         "local ot, oe = hnet.adam{ n = r.n_theta, lr = 1e-2 }, hnet.adam{ n = r.E:numel(), lr = 3e-2 }\n"
         "local x2 = hnet.randn({ 6, 5 }, hnet.rng(2, 4), 1)\n"
         "local y2 = hnet.tensor(6)\n"
         "local batch = { { task = 3, x = x, y = y }, { task = 1, x = x2, y = y2 } }\n"
         "for it = 1, 3 do\n"
         "  local loss = m:step(batch, { kind = 'classification' })\n"
         "  local Eg = hnet.tensor(2, 4)\n"
         "  Eg:rows(1, 1):copy(r.E:rows(3, 3)); Eg:rows(2, 2):copy(r.E:rows(1, 1))\n"
         "  local W = r.h:forward(r.theta, Eg):clone()\n"
         "  local dW, dth, dE = hnet.tensor(2, r.n_w), hnet.tensor(r.n_theta), hnet.tensor(2, 4)\n"
         "  local l = 0\n"
         "  for i, s in ipairs(batch) do\n"
         "    local out = r.net:forward(W:rows(i, i), s.x, { train = true })\n"
         "    local dout = hnet.tensor(out:shape())\n"
         "    l = l + hnet.loss.xent(out, s.y, { grad = dout }) / 2\n"
         "    dout:scale(1 / 2)\n"
         "    r.net:backward(W:rows(i, i), dout, dW:rows(i, i))\n"
         "  end\n"
         "  r.h:backward(r.theta, dW, dth, dE)\n"
         "  local dEall = hnet.tensor(3, 4)\n"
         "  dEall:rows(3, 3):add(dE:rows(1, 1)); dEall:rows(1, 1):add(dE:rows(2, 2))\n"
         "  ot:step(r.theta, dth); oe:step(r.E, dEall)\n"
         "  assert(loss == l, ('step %d: loss %.9g, by hand %.9g'):format(it, loss, l))\n"
         "  same(m.theta, r.theta, 'theta'); same(m.E, r.E, 'E')\n"
         "end\n"
         "local e2 = r.E:rows(2, 2):clone()\n"
         "same(m.E:rows(2, 2), e2, 'the untouched row')\n");
}

/* θ without a gradient buffer stays bit for bit; a scale of 0 or keep =
 * false leaves an item out of the backward pass. */
static void test_frozen_pass(void **state) {
  (void)state;
  hntl_run_fresh(SETUP
         "local m = model()\n"
         "local theta0 = m.theta:clone()\n"
         "local E = m.E:rows(1, 3)\n"
         "local items = { { x = x, y = y }, { x = x, y = y }, { x = x, y = y } }\n"
         "local dE = hnet.tensor(3, 4)\n"
         "local kept = {}\n"
         "local losses = m:pass(E, items, { kind = 'classification', dE = dE, scale = { 1, 0, 0.5 },\n"
         "  keep = function(i, l) kept[#kept + 1] = i; return i ~= 3 end })\n"
         "assert(#losses == 3 and losses[1] > 0, 'three losses expected')\n"
         "assert(#kept == 2 and kept[1] == 1 and kept[2] == 3, 'keep is asked for the items with a scale')\n"
         "same(m.theta, theta0, 'theta')\n"
         "assert(dE:rows(1, 1):norm() > 0, 'item 1 has a gradient')\n"
         "assert(dE:rows(2, 2):norm() == 0 and dE:rows(3, 3):norm() == 0, 'items 2 and 3 were backpropagated')\n");
}

/* Gradient-norm clipping (begin's clip_grad_norm = c): the step equals the
 * written-out step whose gradient of θ and e (task loss plus regulariser)
 * is scaled by c/‖g‖ when ‖g‖ > c, bit for bit; with c above ‖g‖ it is the
 * unclipped step, bit for bit; the norm it returns is ‖g‖ before clipping
 * and the clipped gradient's norm is c (to float rounding: 1e-5). */
static void test_clipped_step(void **state) {
  (void)state;
  hntl_run_fresh(SETUP
         "local beta = 0.1\n"
         "for _, c in ipairs{ 1e-3, 1e6 } do\n"
         "  local m, u, r = model(), model(), model()\n"
         "  for _, mm in ipairs{ m, u } do\n"
         "    mm:begin(mm.E:rows(2, 2), { lr = 1e-2, clip_grad_norm = mm == m and c or 0 })\n"
         "    mm:fix_targets(mm.E:rows(1, 1), { beta = beta, store = true })\n"
         "  end\n"
         "  local Wstar = r.h:forward(r.theta, r.E:rows(1, 1)):clone()\n"
         "  local er = r.E:rows(2, 2)\n"
         "  local ot, oe = hnet.adam{ n = r.n_theta, lr = 1e-2 }, hnet.adam{ n = 4, lr = 1e-2 }\n"
         "  local o = { kind = 'classification', fault = function(what, v) error(what .. ' ' .. v) end }\n"
         "  for it = 1, 3 do\n"
         "    local loss, reg, norm = m:step({ { x = x, y = y } }, o)\n"
         "    local _, _, unorm = u:step({ { x = x, y = y } }, o)\n"
         "    assert(unorm == nil, 'no clipping: no norm')\n"
         "    local l, dth, de = task_grad(r, er)\n"
         "    local g = r.h:output_reg(r.theta, r.E:rows(1, 1), { targets = Wstar, beta = beta, dtheta = dth })\n"
         "    local n = math.sqrt(dth:sqnorm() + de:sqnorm())\n"
         "    assert(norm == n, ('step %d: norm %.9g, by hand %.9g'):format(it, norm, n))\n"
         "    if c < 1 then\n"
         "      assert(n > c, 'the gradient is not above c: nothing was clipped')\n"
         "      dth:scale(c / n); de:scale(c / n)\n"
         "      local nc = math.sqrt(dth:sqnorm() + de:sqnorm())\n"
         "      assert(math.abs(nc - c) <= 1e-5 * c, ('clipped norm %.9g, not %g'):format(nc, c))\n"
         "    else\n"
         "      assert(n < c, 'the gradient is above c')\n"
         "    end\n"
         "    ot:step(r.theta, dth)\n"
         "    oe:step(er, de)\n"
         "    assert(loss == l and reg == g, ('step %d: loss or regulariser differs'):format(it))\n"
         "    assert(it == 1 or g > 0, 'the regulariser is not active')\n"
         "    same(m.theta, r.theta, 'theta'); same(m.E, r.E, 'E')\n"
         "    if c < 1 then\n"
         "      assert(m.theta:sqdist(u.theta) > 0, 'the clipped step is the unclipped one')\n"
         "    else\n"
         "      same(m.theta, u.theta, 'theta (unclipped)'); same(m.E, u.E, 'E (unclipped)')\n"
         "    end\n"
         "  end\n"
         "end\n");
}

static void test_bad_options(void **state) {
  (void)state;
  run_err("local hm = require 'hnet.hypermodel'\nhm.build{ bogus = 1 }", "unknown option 'bogus'");
  run_err("local hm = require 'hnet.hypermodel'\nhm.build{ target = { 'mlp' }, input_shape = { 2 }, n_outputs = 2,\n"
          "  max_batch = 4, n_embeddings = 1 }",
          "to 'hnet.hypermodel.build' (field 'hnet' is required)");
  run_err("local hm = require 'hnet.hypermodel'\nhm.build{ target = { 'mlp' }, input_shape = { 2 }, n_outputs = 2,\n"
          "  max_batch = 0, hnet = {}, n_embeddings = 1 }",
          "to 'hnet.hypermodel.build' (field 'max_batch': integer >= 1 expected, got 0)");
  run_err("local hm = require 'hnet.hypermodel'\nhm.wrap{ theta = hnet.tensor(3) }",
          "to 'hnet.hypermodel.wrap' (field 'hypernet' is required)");
}

/* hypernet:output_reg, the fused regulariser the step calls: against the
 * unfused one (generate, hnet.cl.output_reg, backward) with stored targets
 * picked by rows and with recomputed targets; a chunked network with a
 * truncated last chunk. Float sums in another order: 1e-5 relative. */
static void test_output_reg_binding(void **state) {
  (void)state;
  hntl_run_fresh(
      "local h = hnet.hypernet { outputs = 50, embedding = 3, hidden = { 6 }, act = 'elu',\n"
      "  chunk = 16, chunk_embedding = 2, max_tasks = 4 }\n"
      "local rng = hnet.rng(5, 1)\n"
      "local th, ts = hnet.rand({ h:n_params() }, rng, -0.5, 0.5), hnet.rand({ h:n_params() }, rng, -0.5, 0.5)\n"
      "local E, Ws = hnet.randn({ 4, 3 }, rng, 1), hnet.randn({ 6, 50 }, rng, 1)\n"
      "local function close(a, b, what)\n"
      "  assert(math.abs(a - b) <= 1e-5 * math.abs(b), what .. (': %.9g vs %.9g'):format(a, b))\n"
      "end\n"
      "local function unfused(targets)\n"
      "  local W, dW, d = h:forward(th, E):clone(), hnet.tensor(4, 50), hnet.tensor(h:n_params())\n"
      "  local l = hnet.cl.output_reg(W, targets, 0.3, dW)\n"
      "  h:backward(th, dW, d, nil)\n"
      "  return l, d\n"
      "end\n"
      "local rows = { 5, 2, 1, 6 }\n"
      "local l0, d0 = unfused(Ws:gather_rows(rows))\n"
      "local d = hnet.tensor(h:n_params())\n"
      "local l = h:output_reg(th, E, { targets = Ws, rows = rows, beta = 0.3, dtheta = d })\n"
      "close(l, l0, 'stored, rows: loss')\n"
      "assert(d:sqdist(d0) <= 1e-10 * d0:sqnorm(), 'stored, rows: dtheta differs')\n"
      "local l1, d1 = unfused(h:forward(ts, E):clone())\n"
      "d:zero()\n"
      "l = h:output_reg(th, E, { theta_star = ts, beta = 0.3, dtheta = d })\n"
      "close(l, l1, 'recomputed: loss')\n"
      "assert(d:sqdist(d1) <= 1e-10 * d1:sqnorm(), 'recomputed: dtheta differs')\n"
      "assert(h:output_reg(th, E, { theta_star = ts, beta = 0.3 }) == l, 'no dtheta: another value')\n");
  const char *pre =
      "local h = hnet.hypernet { outputs = 50, embedding = 3, hidden = { 6 }, chunk = 16,\n"
      "  chunk_embedding = 2, max_tasks = 2 }\n"
      "local th, E, Ws = hnet.tensor(h:n_params()), hnet.tensor(2, 3), hnet.tensor(3, 50)\n";
  char chunk[1024];
  snprintf(chunk, sizeof chunk, "%sh:output_reg(th, E, { targets = Ws, theta_star = th, beta = 1 })", pre);
  run_err(chunk, "exactly one");
  snprintf(chunk, sizeof chunk, "%sh:output_reg(th, E, { targets = Ws, rows = { 1, 4 }, beta = 1 })", pre);
  run_err(chunk, "entry 2 is not a row of targets (1 to 3)");
  snprintf(chunk, sizeof chunk, "%sh:output_reg(th, E, { theta_star = th, rows = { 1, 2 }, beta = 1 })", pre);
  run_err(chunk, "recomputed targets have none");
  snprintf(chunk, sizeof chunk, "%sh:output_reg(th, hnet.tensor(3, 3), { theta_star = th, beta = 1 })", pre);
  run_err(chunk, "call hypernet:reserve(3) first");
  snprintf(chunk, sizeof chunk, "%sh:output_reg(th, E, { targets = hnet.tensor(3, 49), beta = 1 })", pre);
  run_err(chunk, "[n, 50] expected");
  snprintf(chunk, sizeof chunk, "%sh:output_reg(th, E, { targets = Ws })", pre);
  run_err(chunk, "'beta'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_step_is_the_written_out_step),
      cmocka_unit_test(test_multi_task_step),
      cmocka_unit_test(test_frozen_pass),
      cmocka_unit_test(test_clipped_step),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_output_reg_binding),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
