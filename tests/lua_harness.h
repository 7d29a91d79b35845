/*
 * lua_harness.h — a Lua runner for C tests: a state set up exactly as ./hnet
 * sets one up (standard libraries, luaopen_hnet_core in
 * package.preload["hnet.core"], <repo>/lua on package.path), and helpers to
 * run a chunk and read its status, message and results.
 */
#ifndef HNT_LUA_HARNESS_H
#define HNT_LUA_HARNESS_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* A new state with the hnet module preloaded and `hnet` required into the
 * global of that name (so chunks can use it directly). Returns NULL (and
 * prints why) if the state or require "hnet" fails. */
lua_State *hntl_newstate(void);

/* Load `chunk` with luaL_loadstring and run it with lua_pcall. Returns the
 * status (LUA_OK, LUA_ERRSYNTAX, LUA_ERRRUN, ...); on failure the message is
 * copied into msg (n bytes, may be NULL). Results are dropped; the stack is
 * left as it was. */
int hntl_run(lua_State *L, const char *chunk, char *msg, size_t n);

/* Evaluate `return <expr>` and return its number; NaN (with the message
 * printed) if it fails or is not a number. */
double hntl_number(lua_State *L, const char *expr);

/* Evaluate `return <expr>` and copy its string (tostring'd) into buf; returns
 * buf, or NULL (message printed) on failure. */
const char *hntl_string(lua_State *L, const char *expr, char *buf, size_t n);

/* Run `chunk` (then a full garbage collection, so that __gc runs on what it
 * left); fail the current cmocka test with the Lua message unless it
 * succeeded. */
void hntl_assert_ok(lua_State *L, const char *chunk);
/* hntl_assert_ok in a new state of its own, closed afterwards. */
void hntl_run_fresh(const char *chunk);
/* Run `chunk`; fail the current cmocka test unless it raised a runtime error
 * whose message contains `expect`. */
void hntl_assert_err(lua_State *L, const char *chunk, const char *expect);
/* hntl_assert_err in a new state of its own, closed afterwards. */
void hntl_assert_err_fresh(const char *chunk, const char *expect);

/* The repository's lua/ directory, found from the working directory (tests
 * run from the repository root) or from the test binary's location. */
const char *hntl_lua_dir(void);

#endif
