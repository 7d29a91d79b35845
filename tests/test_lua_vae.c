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
      "assert(math.abs(l - math.log(2)) < 1e-6 and math.abs(g:get(1, 1) - 0.2 / 6) < 1e-7)\n");
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binding_behaviour),
      cmocka_unit_test(test_misuse),
  };
  return cmocka_run_group_tests_name("lua_vae", tests, NULL, NULL);
}
