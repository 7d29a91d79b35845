/* lua_harness.c — run Lua chunks from C tests in a state set up like ./hnet's. */
#include "lua_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lua/lhn.h"

static bool has_init(const char *dir) {
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/hnet/init.lua", dir);
  return access(p, R_OK) == 0;
}

const char *hntl_lua_dir(void) {
  static char dir[PATH_MAX + 8];
  if (dir[0]) return dir;
  if (has_init("lua")) {
    snprintf(dir, sizeof dir, "lua");
    return dir;
  }
  /* build/<blas>/tests/<binary> -> the repository is three levels up. */
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    for (int up = 0; up < 4; up++) {
      char *slash = strrchr(exe, '/');
      if (!slash) break;
      *slash = '\0';
      snprintf(dir, sizeof dir, "%s/lua", exe);
      if (has_init(dir)) return dir;
    }
  }
  snprintf(dir, sizeof dir, "lua");
  return dir;
}

static int setup(lua_State *L) {
  lua_gc(L, LUA_GCSTOP);
  luaL_openlibs(L);
  hnl_preload(L, hntl_lua_dir());
  lua_gc(L, LUA_GCRESTART);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "hnet");
  lua_call(L, 1, 1);
  lua_setglobal(L, "hnet");
  return 0;
}

lua_State *hntl_newstate(void) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "lua_harness: cannot create a Lua state\n");
    return NULL;
  }
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fprintf(stderr, "lua_harness: set-up failed: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

static void copy_msg(lua_State *L, char *msg, size_t n) {
  if (!msg || n == 0) return;
  const char *m = lua_tostring(L, -1);
  snprintf(msg, n, "%s", m ? m : "(error object is not a string)");
}

int hntl_run(lua_State *L, const char *chunk, char *msg, size_t n) {
  int top = lua_gettop(L);
  if (msg && n) msg[0] = '\0';
  int st = luaL_loadstring(L, chunk);
  if (st == LUA_OK) st = lua_pcall(L, 0, 0, 0);
  if (st != LUA_OK) copy_msg(L, msg, n);
  lua_settop(L, top);
  return st;
}

/* Push the value of `return expr`; returns the status. */
static int eval(lua_State *L, const char *expr) {
  lua_pushfstring(L, "return %s", expr);
  int st = luaL_loadstring(L, lua_tostring(L, -1));
  lua_remove(L, -2);
  if (st == LUA_OK) st = lua_pcall(L, 0, 1, 0);
  if (st != LUA_OK) fprintf(stderr, "lua_harness: '%s' failed: %s\n", expr, lua_tostring(L, -1));
  return st;
}

double hntl_number(lua_State *L, const char *expr) {
  int top = lua_gettop(L);
  double v = (double)NAN;
  if (eval(L, expr) == LUA_OK) {
    if (lua_type(L, -1) == LUA_TNUMBER)
      v = lua_tonumber(L, -1);
    else
      fprintf(stderr, "lua_harness: '%s' gave a %s, not a number\n", expr, luaL_typename(L, -1));
  }
  lua_settop(L, top);
  return v;
}

const char *hntl_string(lua_State *L, const char *expr, char *buf, size_t n) {
  int top = lua_gettop(L);
  const char *out = NULL;
  if (eval(L, expr) == LUA_OK) {
    snprintf(buf, n, "%s", luaL_tolstring(L, -1, NULL));
    out = buf;
  }
  lua_settop(L, top);
  return out;
}

void hntl_assert_ok(lua_State *L, const char *chunk) {
  char msg[4096];
  int st = hntl_run(L, chunk, msg, sizeof msg);
  lua_gc(L, LUA_GCCOLLECT);
  if (st != LUA_OK) fail_msg("Lua chunk failed: %s", msg);
}

void hntl_run_fresh(const char *chunk) {
  lua_State *L = hntl_newstate();
  if (!L) fail_msg("cannot make a Lua state with hnet loaded");
  hntl_assert_ok(L, chunk);
  lua_close(L);
}

void hntl_assert_err(lua_State *L, const char *chunk, const char *expect) {
  char msg[4096];
  int st = hntl_run(L, chunk, msg, sizeof msg);
  lua_gc(L, LUA_GCCOLLECT);
  if (st != LUA_ERRRUN)
    fail_msg("expected an error containing '%s'; the chunk succeeded:\n%s", expect, chunk);
  if (!strstr(msg, expect)) fail_msg("the error message lacks '%s': %s", expect, msg);
}

void hntl_assert_err_fresh(const char *chunk, const char *expect) {
  lua_State *L = hntl_newstate();
  assert_non_null(L);
  hntl_assert_err(L, chunk, expect);
  lua_close(L);
}
