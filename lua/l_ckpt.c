/*
 * l_ckpt.c — hnet.ckpt: the engine's checkpoint files (engine/ckpt.h) for Lua.
 *
 *   local w = hnet.ckpt.writer(path)      -- nothing touches the disk yet
 *   w:add(name, tensor)                   -- an F32 section (a copy of the data)
 *   w:add(name, "text")                   -- a TEXT section (UTF-8, no NUL)
 *   w:add(name, { 1, 2, 3 })              -- an I64 section (a list of integers)
 *   w:add(name, bytes, "raw")             -- a RAW section
 *   w:commit()                            -- temp file + fsync + rename: atomic
 *   w:free()                              -- also __gc / __close (idempotent)
 *
 *   local c = hnet.ckpt.open(path)        -- reads and validates EVERYTHING
 *   c:path() c:names() c:has(name) c:kind(name) ("f32"|"i64"|"text"|"raw"|nil)
 *   c:bytes(name)                         -- payload size in bytes
 *   c:tensor(name, shape?)                -- a new tensor holding an F32 section
 *   c:read(name, tensor)                  -- fill an existing tensor (same numel)
 *   c:text(name)  c:raw(name)  c:i64(name) (-> list of integers)
 *   c:close()                             -- also __gc / __close
 *   hnet.ckpt.from_string(bytes, name)    -- a reader over an image in memory
 *   hnet.ckpt.version                     -- the format version this build writes
 *
 * Errors (a missing file, a corrupt, truncated, foreign or wrong-version file,
 * a missing section, a size mismatch) raise the engine's message, which names
 * the file and the problem. Section names are 1..47 printable characters.
 *
 * Test seam, not on hnet.ckpt: require("hnet.ckpt.testing").fail_write_after(bytes)
 * (or hnet.run.testing's) makes the next commits fail with ENOSPC ("No
 * space left on device") after that many more bytes, as a full disk would;
 * nil or a negative value disarms it.
 */
#include "lhn.h"

#include <string.h>

#include "../engine/internal.h"

#define HNL_CKPT_WRITER "hnet.CkptWriter"
#define HNL_CKPT_READER "hnet.Ckpt"

typedef struct hnl_ckpt_writer {
  hn_ckpt_writer *w;
  bool committed;
} hnl_ckpt_writer;

typedef struct hnl_ckpt {
  hn_ckpt *c;
} hnl_ckpt;

/* ---- writer ------------------------------------------------------------------ */

static hnl_ckpt_writer *check_writer(lua_State *L, int arg) {
  hnl_ckpt_writer *u = luaL_checkudata(L, arg, HNL_CKPT_WRITER);
  if (!u->w) luaL_argerror(L, arg, "hnet.CkptWriter has been freed");
  return u;
}

static int writer_release(lua_State *L) {
  hnl_ckpt_writer *u = luaL_checkudata(L, 1, HNL_CKPT_WRITER);
  hn_ckpt_writer_free(u->w);
  u->w = NULL;
  return 0;
}

static int l_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_argcheck(L, path[0] != '\0', 1, "the path is empty; give a file name");
  hnl_ckpt_writer *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, HNL_CKPT_WRITER);
  hnl_check(L, hn_ckpt_writer_new(&u->w, path));
  return 1;
}

/* The integers of the list at arg, into a new userdata buffer (so that an
 * error while reading leaves nothing to free). Returns the count. */
static int64_t read_i64_list(lua_State *L, int arg, int64_t **out) {
  lua_Integer n = luaL_len(L, arg);
  int64_t *buf = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *buf, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, arg, i);
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "entry %I of the list must be an integer, got %s",
                                    (lua_Integer)i, luaL_typename(L, -1)));
    buf[i - 1] = (int64_t)v;
    lua_pop(L, 1);
  }
  *out = buf;
  return (int64_t)n;
}

static int writer_add(lua_State *L) {
  hnl_ckpt_writer *u = check_writer(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const char *kind = luaL_optstring(L, 4, NULL);
  hn_status st;
  if (luaL_testudata(L, 3, HNL_TENSOR)) {
    luaL_argcheck(L, !kind || strcmp(kind, "f32") == 0, 4, "a tensor is stored as \"f32\"");
    hnl_tensor *t = hnl_tensor_check(L, 3);
    st = hn_ckpt_add_f32(u->w, name, t->t.data, t->t.numel);
  } else if (lua_type(L, 3) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 3, &len);
    if (kind && strcmp(kind, "raw") == 0) {
      st = hn_ckpt_add(u->w, name, HN_CKPT_RAW, s, (int64_t)len);
    } else {
      luaL_argcheck(L, !kind || strcmp(kind, "text") == 0, 4, "\"text\" or \"raw\" expected");
      luaL_argcheck(L, strlen(s) == len, 3, "text holds a NUL byte; store it as \"raw\"");
      st = hn_ckpt_add_text(u->w, name, s);
    }
  } else if (lua_type(L, 3) == LUA_TTABLE) {
    luaL_argcheck(L, !kind || strcmp(kind, "i64") == 0, 4, "a list of integers is stored as \"i64\"");
    int64_t *buf = NULL;
    int64_t n = read_i64_list(L, 3, &buf);
    st = hn_ckpt_add_i64(u->w, name, buf, n);
  } else {
    return luaL_typeerror(L, 3, "hnet.Tensor, string or list of integers");
  }
  hnl_check(L, st);
  lua_settop(L, 1);
  return 1;
}

static int writer_commit(lua_State *L) {
  hnl_ckpt_writer *u = check_writer(L, 1);
  hnl_check(L, hn_ckpt_commit(u->w));
  u->committed = true;
  lua_pushboolean(L, 1);
  return 1;
}

static int writer_tostring(lua_State *L) {
  hnl_ckpt_writer *u = luaL_checkudata(L, 1, HNL_CKPT_WRITER);
  lua_pushfstring(L, "hnet.CkptWriter (%s)", !u->w ? "freed" : u->committed ? "committed" : "open");
  return 1;
}

/* ---- reader ------------------------------------------------------------------ */

static hnl_ckpt *check_reader(lua_State *L, int arg) {
  hnl_ckpt *u = luaL_checkudata(L, arg, HNL_CKPT_READER);
  if (!u->c) luaL_argerror(L, arg, "hnet.Ckpt has been closed");
  return u;
}

static int reader_release(lua_State *L) {
  hnl_ckpt *u = luaL_checkudata(L, 1, HNL_CKPT_READER);
  hn_ckpt_free(u->c);
  u->c = NULL;
  return 0;
}

static hnl_ckpt *push_reader(lua_State *L) {
  hnl_ckpt *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, HNL_CKPT_READER);
  return u;
}

static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  hnl_ckpt *u = push_reader(L);
  hnl_check(L, hn_ckpt_open(&u->c, path));
  return 1;
}

static int l_from_string(lua_State *L) {
  size_t n;
  const char *data = luaL_checklstring(L, 1, &n);
  const char *name = luaL_optstring(L, 2, "(string)");
  hnl_ckpt *u = push_reader(L);
  hnl_check(L, hn_ckpt_open_mem(&u->c, data, n, name));
  return 1;
}

static int reader_path(lua_State *L) {
  lua_pushstring(L, hn_ckpt_path(check_reader(L, 1)->c));
  return 1;
}

static int reader_names(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  int n = hn_ckpt_n_sections(c);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, hn_ckpt_section_name(c, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int reader_has(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  lua_pushboolean(L, hn_ckpt_has(c, luaL_checkstring(L, 2)));
  return 1;
}

static int reader_kind(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  const char *name = luaL_checkstring(L, 2);
  hn_ckpt_kind kind;
  if (!hn_ckpt_has(c, name)) {
    lua_pushnil(L);
    return 1;
  }
  hnl_check(L, hn_ckpt_find(c, name, &kind, NULL, NULL));
  lua_pushstring(L, hn_ckpt_kind_name((int)kind));
  return 1;
}

static int reader_bytes(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  int64_t bytes = 0;
  hnl_check(L, hn_ckpt_find(c, luaL_checkstring(L, 2), NULL, NULL, &bytes));
  lua_pushinteger(L, (lua_Integer)bytes);
  return 1;
}

/* An F32 section's element count (raises if missing or of another kind). */
static int64_t f32_count(lua_State *L, hn_ckpt *c, const char *name) {
  hn_ckpt_kind kind;
  int64_t bytes = 0;
  hnl_check(L, hn_ckpt_find(c, name, &kind, NULL, &bytes));
  if (kind != HN_CKPT_F32)
    luaL_error(L, "checkpoint '%s': section '%s' is %s, not f32", hn_ckpt_path(c), name,
               hn_ckpt_kind_name((int)kind));
  return bytes / 4;
}

static int reader_tensor(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  const char *name = luaL_checkstring(L, 2);
  int64_t shape[HN_MAX_DIMS];
  int nd = 1;
  if (!lua_isnoneornil(L, 3)) nd = hnl_check_shape(L, 3, shape);
  int64_t n = f32_count(L, c, name);
  if (lua_isnoneornil(L, 3)) shape[0] = n;
  int64_t want = 1;
  for (int i = 0; i < nd; i++) want *= shape[i];
  if (want != n)
    return luaL_error(L, "checkpoint '%s': section '%s' holds %I floats, the shape asked for %I",
                      hn_ckpt_path(c), name, (lua_Integer)n, (lua_Integer)want);
  lua_settop(L, 2);
  hnl_tensor *t = hnl_tensor_push_new(L, nd, shape);
  hnl_check(L, hn_ckpt_read_f32(c, name, t->t.data, n));
  return 1;
}

static int reader_read(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  const char *name = luaL_checkstring(L, 2);
  hnl_tensor *t = hnl_tensor_check(L, 3);
  hnl_check(L, hn_ckpt_read_f32(c, name, t->t.data, t->t.numel));
  lua_settop(L, 3);
  return 1;
}

static int reader_text(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  const char *text;
  size_t len;
  hnl_check(L, hn_ckpt_read_text(c, luaL_checkstring(L, 2), &text, &len));
  lua_pushlstring(L, text, len);
  return 1;
}

static int reader_raw(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  const void *data;
  int64_t bytes;
  hnl_check(L, hn_ckpt_find(c, luaL_checkstring(L, 2), NULL, &data, &bytes));
  lua_pushlstring(L, data, (size_t)bytes);
  return 1;
}

static int reader_i64(lua_State *L) {
  hn_ckpt *c = check_reader(L, 1)->c;
  const char *name = luaL_checkstring(L, 2);
  hn_ckpt_kind kind;
  const void *data;
  int64_t bytes;
  hnl_check(L, hn_ckpt_find(c, name, &kind, &data, &bytes));
  if (kind != HN_CKPT_I64)
    return luaL_error(L, "checkpoint '%s': section '%s' is %s, not i64", hn_ckpt_path(c), name,
                      hn_ckpt_kind_name((int)kind));
  int64_t n = bytes / 8;
  luaL_argcheck(L, n <= INT32_MAX, 2, "section too long for a Lua list");
  lua_createtable(L, (int)n, 0);
  const unsigned char *p = data;
  for (int64_t i = 0; i < n; i++) {
    int64_t v;
    memcpy(&v, p + 8 * i, sizeof v); /* the host is little-endian, as the file */
    lua_pushinteger(L, (lua_Integer)v);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int reader_tostring(lua_State *L) {
  hnl_ckpt *u = luaL_checkudata(L, 1, HNL_CKPT_READER);
  if (!u->c) lua_pushliteral(L, "hnet.Ckpt (closed)");
  else
    lua_pushfstring(L, "hnet.Ckpt('%s', %d sections)", hn_ckpt_path(u->c),
                    hn_ckpt_n_sections(u->c));
  return 1;
}

/* ---- module ------------------------------------------------------------------ */

static int l_fail_write_after(lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, -1);
  hn_ckpt_fail_write_after(n < 0 ? -1 : (int64_t)n);
  return 0;
}

static const luaL_Reg writer_methods[] = {
    {"add", writer_add}, {"commit", writer_commit}, {"free", writer_release}, {NULL, NULL}};

static const luaL_Reg reader_methods[] = {
    {"path", reader_path},     {"names", reader_names}, {"has", reader_has},
    {"kind", reader_kind},     {"bytes", reader_bytes}, {"tensor", reader_tensor},
    {"read", reader_read},     {"text", reader_text},   {"raw", reader_raw},
    {"i64", reader_i64},       {"close", reader_release}, {NULL, NULL}};

static const luaL_Reg funcs[] = {{"writer", l_writer},
                                 {"open", l_open},
                                 {"from_string", l_from_string},
                                 {NULL, NULL}};

static const luaL_Reg testing_funcs[] = {{"fail_write_after", l_fail_write_after}, {NULL, NULL}};

static void make_meta(lua_State *L, const char *name, lua_CFunction release,
                      lua_CFunction tostring, const luaL_Reg *methods) {
  if (luaL_newmetatable(L, name)) {
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

void hnl_open_ckpt(lua_State *L) {
  make_meta(L, HNL_CKPT_WRITER, writer_release, writer_tostring, writer_methods);
  make_meta(L, HNL_CKPT_READER, reader_release, reader_tostring, reader_methods);
  luaL_newlib(L, funcs);
  lua_pushinteger(L, (lua_Integer)HN_CKPT_VERSION);
  lua_setfield(L, -2, "version");
  lua_setfield(L, -2, "ckpt");
  /* the test seam: a module of its own (package.loaded), for tests only */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  luaL_newlib(L, testing_funcs);
  lua_setfield(L, -2, "hnet.ckpt.testing");
  lua_pop(L, 1);
}
