/*
 * test_lua_rnn.c — sequence nets from Lua: layer specs {"embedding", ...},
 * {"rnn", ...}, {"lstm", ...}; forward/backward with lengths (a tensor or a
 * list) giving the same bits as the C engine; padded steps 0 at a per-step
 * output; a hypernetwork training an LSTM classifier from Lua whose loss
 * falls and whose steady-state step allocates nothing; misuse errors.
 */
#include "harness.h"
#include "lua_harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lua/lhn.h"

static lua_State *L;

static int setup(void **state) {
  (void)state;
  L = hntl_newstate();
  return L ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  lua_close(L);
  return 0;
}

static hnl_tensor *global_tensor(const char *name) {
  lua_getglobal(L, name);
  hnl_tensor *u = luaL_testudata(L, -1, HNL_TENSOR);
  lua_pop(L, 1); /* the global keeps it alive */
  assert_non_null(u);
  return u;
}

/* The net built from Lua and the same net built in C give the same bits
 * (forward with lengths, backward through them). */
static void test_matches_engine(void **state) {
  (void)state;
  hntl_assert_ok(L,
      "SN = hnet.net{ input = {6}, max_batch = 4, layers = { {'embedding', vocab = 5, dim = 3},\n"
      "  {'lstm', hidden = 4, output = 'last'}, {'linear', 2} } }\n"
      "assert(SN:seq_len() == 6 and SN:n_params() == 15 + 16 * (3 + 4 + 1) + 4 * 2 + 2)\n"
      "local lay = SN:layout(); assert(lay[2].name == '1.lstm.weight_ih' and lay[3].shape[2] == 4)\n"
      "local m = SN:modules(); assert(m[1] == 'embedding' and m[2] == 'lstm' and m[3] == 'linear')\n"
      "SW = hnet.tensor(SN:n_params()); SN:init(SW, hnet.rng(1))\n"
      "SX = hnet.tensor_from{ {1, 2, 0, 4, 3, 1}, {0, 0, 1, 9, 9, 9}, {2, 2, 2, 2, 2, -1} }\n"
      "SL = hnet.tensor_from{ 6, 3, 5 }\n"
      "SY = SN:forward(SW, SX, { lengths = SL })\n"
      "assert(SY:shape()[1] == 3 and SY:shape()[2] == 2)\n"
      "SDY = hnet.randn({3, 2}, hnet.rng(2)); SDW = hnet.tensor(SN:n_params())\n"
      "SN:backward(SW, SDY, SDW, { lengths = {6, 3, 5} })\n"
      "local y2 = SN:forward(SW, SX, { lengths = {6, 3, 5} })\n"
      "for i = 1, 3 do for j = 1, 2 do assert(y2:get(i, j) == SY:get(i, j)) end end");
  hnl_tensor *w = global_tensor("SW"), *x = global_tensor("SX"), *y = global_tensor("SY"),
             *dy = global_tensor("SDY"), *dw = global_tensor("SDW");
  hn_net *net;
  assert_int_equal(hn_net_new(&net, 1, (int64_t[]){6}, 4), HN_OK);
  assert_int_equal(hn_net_add_embedding(net, 5, 3), HN_OK);
  assert_int_equal(hn_net_add_lstm(net, 4, true), HN_OK);
  assert_int_equal(hn_net_add_linear(net, 2, true), HN_OK);
  assert_int_equal(hn_net_finalize(net), HN_OK);
  int64_t lens[3] = {6, 3, 5};
  hn_run run = {.lengths = lens};
  hn_tensor yc;
  assert_int_equal(hn_tensor_init(&yc, 2, (int64_t[]){3, 2}), HN_OK);
  assert_int_equal(hn_net_forward(net, w->t.data, &x->t, &yc, &run), HN_OK);
  hnt_assert_bytes_equal(yc.data, y->t.data, 6 * sizeof(float), "Lua y vs C y");
  float *dwc = hn_calloc((size_t)hn_net_n_params(net) * sizeof(float));
  assert_int_equal(hn_net_backward(net, w->t.data, &dy->t, dwc, NULL, &run), HN_OK);
  hnt_assert_bytes_equal(dwc, dw->t.data, (size_t)hn_net_n_params(net) * sizeof(float),
                         "Lua dW vs C dW");
  hn_free(dwc);
  hn_tensor_release(&yc);
  hn_net_free(net);
}

static void test_per_step_output(void **state) {
  (void)state;
  hntl_assert_ok(L,
      "local n = hnet.net{ input = {5, 3}, max_batch = 2, layers = {\n"
      "  {'rnn', hidden = 4}, {'linear', 2}, 'tanh' } }\n"
      "local o = n:out_shape(); assert(#o == 2 and o[1] == 5 and o[2] == 2)\n"
      "local w = hnet.tensor(n:n_params()); n:init(w, hnet.rng(3))\n"
      "local x = hnet.randn({2, 5, 3}, hnet.rng(4))\n"
      "local y = n:forward(w, x, { lengths = {5, 2} })\n"
      "for t = 3, 5 do for j = 1, 2 do assert(y:get(2, t, j) == 0) end end\n"
      "assert(y:get(2, 2, 1) ~= 0 and y:get(1, 5, 1) ~= 0)\n"
      "local dw = hnet.tensor(n:n_params()); n:backward(w, hnet.ones(2, 5, 2), dw)\n"
      "local full = n:forward(w, x); assert(full:get(2, 3, 1) ~= 0)\n"
      "local g = hnet.net{ input = {5, 3}, max_batch = 2, layers = { {'gru', hidden = 4, output = 'last'} } }\n"
      "assert(#g:out_shape() == 1 and g:n_params() == 12 * 3 + 12 * 4 + 12 + 4 and g:modules()[1] == 'gru')\n"
      "local gw = hnet.tensor(g:n_params()); g:init(gw, hnet.rng(5))\n"
      "local gy = g:forward(gw, x, { lengths = {5, 2} }); assert(gy:all_finite() and gy:sqnorm() > 0)");
}

/* A chunked hypernetwork generates an LSTM classifier whose label is the
 * last valid token of a ragged sequence: the loss must fall below half its
 * first value in 150 steps, and a steady-state step allocates nothing. */
static void test_training(void **state) {
  (void)state;
  hntl_assert_ok(L,
      "local net = hnet.net{ input = {6}, max_batch = 32, layers = {\n"
      "  {'embedding', vocab = 3, dim = 4}, {'lstm', hidden = 12, output = 'last'}, {'linear', 3} } }\n"
      "local h = hnet.hypernet{ target = net, embedding = 4, hidden = {16}, chunk = 64,\n"
      "                         chunk_embedding = 4 }\n"
      "local theta = hnet.tensor(h:n_params()); h:init(theta, nil, { rng = hnet.rng(1) })\n"
      "local E = h:embeddings(1, { rng = hnet.rng(2) })\n"
      "local r = hnet.rng(3)\n"
      "local x, labels, lengths = hnet.tensor(32, 6), hnet.tensor(32), hnet.tensor(32)\n"
      "for i = 1, 32 do\n"
      "  local len = 1 + (i * 5) % 6; lengths[i] = len\n"
      "  for t = 1, 6 do x:set(i, t, t <= len and ((i * 7 + t * t) % 3) or 2) end\n"
      "  labels[i] = x:get(i, len)\n"
      "end\n"
      "local W = hnet.tensor(1, net:n_params()); local Wv = W:view{ net:n_params() }\n"
      "local y, dy = hnet.tensor(32, 3), hnet.tensor(32, 3)\n"
      "local dW = hnet.tensor(net:n_params()); local dWv = dW:view{1, net:n_params()}\n"
      "local dtheta, dE = hnet.tensor(h:n_params()), hnet.tensor(1, 4)\n"
      "local ot, oe = hnet.adam(theta, { lr = 1e-2 }), hnet.adam(E, { lr = 1e-2 })\n"
      "local fopt, nopt, lopt = { out = W }, { out = y, lengths = lengths }, { grad = dy }\n"
      "local bopt = { lengths = lengths }\n"
      "local function step()\n"
      "  h:forward(theta, E, fopt); net:forward(Wv, x, nopt)\n"
      "  local l = hnet.loss.xent(y, labels, lopt)\n"
      "  dW:zero(); net:backward(Wv, dy, dW, bopt)\n"
      "  dtheta:zero(); dE:zero(); h:backward(theta, dWv, dtheta, dE)\n"
      "  ot:step(theta, dtheta); oe:step(E, dE)\n"
      "  return l\n"
      "end\n"
      "local first = step()\n"
      "local a0 = hnet.alloc_count()\n"
      "local last\n"
      "for it = 1, 150 do last = step() end\n"
      "RNN_ALLOCS = hnet.alloc_count() - a0\n"
      "RNN_FIRST, RNN_LAST = first, last");
  double first = hntl_number(L, "RNN_FIRST"), last = hntl_number(L, "RNN_LAST");
  print_message("hypernet -> lstm training: loss %.4f -> %.4f\n", first, last);
  assert_true(isfinite(first) && isfinite(last));
  assert_true(last < 0.5 * first);
  assert_true(hntl_number(L, "RNN_ALLOCS") == 0.0);
}

static void test_misuse(void **state) {
  (void)state;
  static const struct {
    const char *chunk, *expect;
  } cases[] = {
      {"hnet.net{ input = {4}, layers = { {'embedding', dim = 3} } }", "vocab and dim"},
      {"hnet.net{ input = {4}, layers = { {'embedding', vocab = 0, dim = 3} } }",
       "option 'vocab' must be an integer >= 1"},
      {"hnet.net{ input = {4}, layers = { {'embedding', vocab = 2, dim = 3, size = 1} } }",
       "unknown option 'size'"},
      {"hnet.net{ input = {4, 2}, layers = { {'lstm'} } }", "hidden (a positive integer) is required"},
      {"hnet.net{ input = {4, 2}, layers = { {'lstm', 5} } }", "takes 0 positional value(s)"},
      {"hnet.net{ input = {4, 2}, layers = { {'rnn', hidden = 3, output = 'first'} } }",
       "must be \"all\""},
      {"hnet.net{ input = {4, 2}, layers = { {'rnn', hidden = 3, output = 1} } }", "got number"},
      {"hnet.net{ input = {4}, layers = { {'rnn', hidden = 3} } }", "needs a sequence"},
      {"hnet.net{ input = {4, 2}, layers = { 'flatten', {'embedding', vocab = 3, dim = 2} } }",
       "time axis"},
      {"local n = hnet.net{ input = {4}, layers = { {'linear', 2} } }\n"
       "n:forward(hnet.tensor(n:n_params()), hnet.tensor(1, 4), { lengths = {1} })",
       "no sequence layer"},
      {"SN:forward(SW, SX, { lengths = {6, 3} })", "2 values for a batch of 3"},
      {"SN:forward(SW, SX, { lengths = {6, 0, 5} })", "entry 2 is 0"},
      {"SN:forward(SW, SX, { lengths = {6, 3, 7} })", "entry 3 is 7; each length must be an integer in 1..6"},
      {"SN:forward(SW, SX, { lengths = hnet.tensor_from{ 2.5, 3, 5 } })", "entry 1 is 2.5"},
      {"SN:forward(SW, SX, { lengths = {'6', 3, 5} })", "entry 1 is a string"},
      {"SN:forward(SW, SX, { lengths = 'abc' })", "hnet.Tensor or list of integers expected"},
      {"SN:forward(SW, SX, { lenghts = {6, 3, 5} })", "lenghts"},
      {"SN:forward(SW, SX)", "x[1, 3] = 9 (sample 1, step 3, counted from 0) is not a token id"},
      {"SN:forward(SW, SX, { lengths = {6, 3, 5} }); SN:backward(SW, SDY, SDW, { lengths = {6, 3, 4} })",
       "but the last forward ran with 5"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hntl_assert_err(L, cases[i].chunk, cases[i].expect);
    lua_gc(L, LUA_GCCOLLECT);
  }
  /* a failed forward leaves its out tensor untouched */
  hntl_assert_ok(L,
      "local y = hnet.tensor(3, 2); y:fill(7)\n"
      "assert(not pcall(SN.forward, SN, SW, SX, { out = y, lengths = {6, 9, 5} }))\n"
      "assert(not pcall(SN.forward, SN, SW, SX, { out = y }))\n"
      "for i = 1, 3 do for j = 1, 2 do assert(y:get(i, j) == 7) end end");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_engine),
      cmocka_unit_test(test_per_step_output),
      cmocka_unit_test(test_training),
      cmocka_unit_test(test_misuse),
  };
  return cmocka_run_group_tests_name("lua_rnn", tests, setup, teardown);
}
