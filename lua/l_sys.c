/*
 * l_sys.c — the few operating-system services a long run needs and stock Lua
 * lacks: a monotonic clock, terminal detection, directories, atomic file
 * writes, peak memory, and interrupt handling (hnet.sys.*).
 */
#include "lhn.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* hnet.sys.clock() -> seconds on a monotonic clock (for rates and ETAs). */
static int sys_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* hnet.sys.isatty(fd) -> boolean: is fd (1 = stdout, 2 = stderr) a terminal? */
static int sys_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "file descriptor out of range");
  lua_pushboolean(L, isatty((int)fd));
  return 1;
}

/* hnet.sys.mkdir_p(path) -> true | nil, message */
static int sys_mkdir_p(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len > 0 && len < 4096, 1, "path must be 1..4095 characters");
  char buf[4096];
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      lua_pushnil(L);
      lua_pushfstring(L, "cannot create directory '%s': %s", buf, strerror(errno));
      return 2;
    }
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    lua_pushnil(L);
    lua_pushfstring(L, "'%s' exists and is not a directory", path);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* hnet.sys.exists(path) -> "file" | "directory" | "other" | nil */
static int sys_exists(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file" : "other");
  return 1;
}

/* hnet.sys.list_dir(path) -> { names, sorted } (without "." and "..") |
 * nil, message. */
static int sys_list_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (!d) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot list '%s': %s", path, strerror(errno));
    return 2;
  }
  lua_newtable(L);
  lua_Integer n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    lua_pushstring(L, e->d_name); /* cannot fail short of memory: then d leaks once */
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return 1;
}

/* hnet.sys.write_file(path, content) -> true | nil, message, errno.
 * Writes to path.tmp, flushes to disk, renames over path: the file is either
 * the old one or the whole new one, never half-written. */
static int sys_write_file(lua_State *L) {
  size_t plen, n;
  const char *path = luaL_checklstring(L, 1, &plen);
  const char *content = luaL_checklstring(L, 2, &n);
  luaL_argcheck(L, plen > 0 && plen < 4000, 1, "path must be 1..3999 characters");
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  const char *what = NULL;
  int err = 0;
  if (!f) {
    what = "open";
    err = errno;
  } else {
    if (fwrite(content, 1, n, f) != n) what = "write", err = errno;
    else if (fflush(f) != 0) what = "flush", err = errno;
    else if (fsync(fileno(f)) != 0) what = "sync", err = errno;
    if (fclose(f) != 0 && !what) what = "close", err = errno;
    if (!what && rename(tmp, path) != 0) what = "rename", err = errno;
    if (what) remove(tmp);
  }
  if (what) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot write '%s' (%s failed: %s)", path, what, strerror(err));
    lua_pushinteger(L, err);
    return 3;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* hnet.sys.disk_full(errno) -> true for ENOSPC and EDQUOT: the errors that
 * "free disk space" fixes (not EROFS, EACCES, EIO, ...). */
static int sys_disk_full(lua_State *L) {
  lua_Integer e = luaL_optinteger(L, 1, 0);
  bool full = e == ENOSPC;
#ifdef EDQUOT
  full = full || e == EDQUOT;
#endif
  lua_pushboolean(L, full);
  return 1;
}

/* hnet.sys.peak_rss_mib() -> peak resident memory of this process in MiB. */
static int sys_peak_rss(lua_State *L) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  lua_pushnumber(L, (lua_Number)ru.ru_maxrss / 1024.0);
  return 1;
}

/* Interrupts: the first SIGINT/SIGTERM sets a flag that the training loop
 * polls between steps (so it can finish the step and checkpoint); a second
 * one exits at once with 128 + signal. */
static volatile sig_atomic_t pending_signal = 0;

static void on_signal(int sig) {
  if (pending_signal) _exit(128 + sig);
  pending_signal = sig;
}

/* hnet.sys.catch_interrupts() installs the handlers (idempotent). */
static int sys_catch_interrupts(lua_State *L) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  (void)L;
  return 0;
}

/* hnet.sys.interrupted() -> signal number or nil. */
static int sys_interrupted(lua_State *L) {
  if (pending_signal) lua_pushinteger(L, pending_signal);
  else lua_pushnil(L);
  return 1;
}

/* hnet.sys.getpid() -> the process id (for unique temporary names). */
static int sys_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static const luaL_Reg sys_funcs[] = {
    {"clock", sys_clock},           {"isatty", sys_isatty},
    {"mkdir_p", sys_mkdir_p},       {"exists", sys_exists},
    {"list_dir", sys_list_dir},
    {"write_file", sys_write_file}, {"disk_full", sys_disk_full},
    {"peak_rss_mib", sys_peak_rss},
    {"catch_interrupts", sys_catch_interrupts},
    {"interrupted", sys_interrupted}, {"getpid", sys_getpid},
    {NULL, NULL}};

void hnl_open_sys(lua_State *L) {
  luaL_newlib(L, sys_funcs);
  lua_setfield(L, -2, "sys");
}
