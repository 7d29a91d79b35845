/*
 * main.c — the ./hnet program: Lua 5.4 with the hnet module built in.
 *
 *   hnet [options] script.lua [args]   run a script; `arg` as the stock lua sets it
 *   hnet [options] -e CODE             run a chunk
 *   hnet [options]                     an interactive prompt with `hnet` loaded
 *   hnet report DIR...                 summarise run directories (lua/hnet/report.lua)
 *   hnet help [NAME...]                the options of a learner or function (lua/hnet/help.lua)
 *
 * Everything runs inside one protected call (STYLE §4): the collector is
 * stopped while the libraries are opened, the module is put in
 * package.preload["hnet.core"] and the Lua library's folder (<dir of the
 * executable>/lua, or PREFIX/share/lua/5.4 once installed: lua_dir) is
 * prepended to package.path; errors get a traceback from the message handler and are
 * printed as "hnet: file:line: message" on stderr with exit status 1.
 * --lib DIR adds DIR to hnet.search's path (lua/hnet/search.lua) before
 * anything runs, as HNET_PATH does.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lhn.h"

#define PROGNAME "hnet"
/* The Lua library of an installed hnet, below PREFIX (the Makefile's LUA_LDIR). */
#define INSTALLED_LUA "share/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR

typedef struct options {
  int argc;
  char **argv;
  int script;        /* index of the script in argv; 0 = none */
  bool interactive;  /* -i, or nothing to run */
  const char *command; /* a command word at argv[script]: "report" or "help"; NULL = none */
  bool threads_set;
  int threads;
  bool seed_set;
  long long seed;
  int n_exec;        /* -e chunks, in order */
  const char **exec;
  int n_lib;         /* --lib folders, in order */
  const char **lib;
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROGNAME " [options] [script.lua [args...]]\n"
          "       " PROGNAME " report DIR...\n"
          "       " PROGNAME " help [NAME]\n"
          "Commands:\n"
          "  script.lua [args]  run a Lua script with `arg` set as the stock lua sets it\n"
          "                     ('-' reads the script from standard input)\n"
          "  report DIR...      summarise run directories (lua/hnet/report.lua)\n"
          "  help [NAME]        the signature and options (types, defaults, bounds) of a\n"
          "                     learner or function, e.g. `help hypernet`, `help hnet.run`;\n"
          "                     alone: the names that have help\n"
          "  (nothing)          an interactive prompt with `hnet` loaded\n"
          "Options:\n"
          "  -e CODE            run CODE (may be repeated; runs before the script)\n"
          "  -i                 enter the interactive prompt after running\n"
          "  --threads N        thread budget for OpenMP and OpenBLAS (0 = all cores;\n"
          "                     default: HNET_THREADS, else all cores; under mpirun each\n"
          "                     rank takes the node's cores divided by the job's ranks on\n"
          "                     that node, at most the cores it is bound to). A run's\n"
          "                     figures are repeatable for a given thread count and\n"
          "                     subnormal mode (HNET_SUBNORMALS: flush, the default, or keep)\n"
          "  --seed N           default seed (hnet.seed(), used by hnet.rng() without a seed)\n"
          "  --lib DIR          also find learners in DIR/learners/NAME.lua and datasets in\n"
          "                     DIR/datasets/NAME.lua (may be repeated; searched in order,\n"
          "                     after the built-in ones, before the folders in HNET_PATH)\n"
          "  -v, --version      print the version and exit\n"
          "  -h, --help         print this help and exit\n"
          "  --                 stop handling options\n");
}

static bool parse_ll(const char *s, long long lo, long long hi, long long *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* Returns 0 to run, 1 on a usage error, 2 for --help/--version done. */
static int parse_args(options *o) {
  int i;
  for (i = 1; i < o->argc; i++) {
    const char *a = o->argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) break; /* the script */
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    const char *val = NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 2;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      printf("%s %s (%s)\n", PROGNAME, hn_version(), LUA_RELEASE);
      return 2;
    } else if (strcmp(a, "-i") == 0) {
      o->interactive = true;
    } else if (strcmp(a, "-e") == 0) {
      if (i + 1 >= o->argc) {
        fprintf(stderr, PROGNAME ": option '-e' needs an argument\n");
        usage(stderr);
        return 1;
      }
      o->exec[o->n_exec++] = o->argv[++i];
    } else if (strncmp(a, "--threads", 9) == 0 && (a[9] == '\0' || a[9] == '=')) {
      val = a[9] == '=' ? a + 10 : (i + 1 < o->argc ? o->argv[++i] : NULL);
      long long n;
      if (!parse_ll(val, 0, 1024, &n)) {
        fprintf(stderr, PROGNAME ": --threads needs an integer in 0..1024 (0 = all cores), got '%s'\n",
                val ? val : "");
        return 1;
      }
      o->threads_set = true;
      o->threads = (int)n;
    } else if (strncmp(a, "--seed", 6) == 0 && (a[6] == '\0' || a[6] == '=')) {
      val = a[6] == '=' ? a + 7 : (i + 1 < o->argc ? o->argv[++i] : NULL);
      if (!parse_ll(val, LLONG_MIN, LLONG_MAX, &o->seed)) {
        fprintf(stderr, PROGNAME ": --seed needs an integer, got '%s'\n", val ? val : "");
        return 1;
      }
      o->seed_set = true;
    } else if (strncmp(a, "--lib", 5) == 0 && (a[5] == '\0' || a[5] == '=')) {
      val = a[5] == '=' ? a + 6 : (i + 1 < o->argc ? o->argv[++i] : NULL);
      if (!val || !*val) {
        fprintf(stderr, PROGNAME ": --lib needs a directory\n");
        return 1;
      }
      o->lib[o->n_lib++] = val;
    } else {
      fprintf(stderr, PROGNAME ": unknown option '%s'\n", a);
      usage(stderr);
      return 1;
    }
  }
  o->script = i < o->argc ? i : 0;
  if (o->script && (strcmp(o->argv[o->script], "report") == 0 || strcmp(o->argv[o->script], "help") == 0))
    o->command = o->argv[o->script];
  if (!o->script && o->n_exec == 0) o->interactive = true;
  return 0;
}

/* ---- running chunks --------------------------------------------------------- */

/* Does msg start with a "chunk:line:" position? The chunk name may hold
 * colons itself ([string "a:b"], "=odd:name"), so the first ":digits:" of
 * the first line counts, unless a ": " before it shows that it sits inside
 * the text of a message without a position. */
static bool has_position(const char *msg) {
  for (const char *c = msg; *c && *c != '\n'; c++) {
    if (*c != ':') continue;
    if (c[1] == ' ') return false;
    const char *d = c + 1;
    while (*d >= '0' && *d <= '9') d++;
    if (d > c + 1 && *d == ':') return c > msg;
  }
  return false;
}

/* A message without a position was raised with error(msg, 0): a complete
 * message for the person at the command line (a bad option, a missing
 * dataset), shown alone. Anything else (a runtime error, error(msg) in a
 * script, a bad argument to a C function) gets a traceback; HNET_TRACEBACK=1
 * gives every error one. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) { /* an error object that is not a string */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  const char *force = getenv("HNET_TRACEBACK");
  if (!has_position(msg) && !(force && strcmp(force, "1") == 0)) {
    lua_pushstring(L, msg);
    return 1;
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call the function below nargs arguments with the traceback handler. */
static int docall(lua_State *L, int nargs, int nres) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int st = lua_pcall(L, nargs, nres, base);
  lua_remove(L, base);
  return st;
}

static void report_error(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  if (hn_dist_size() > 1)
    fprintf(stderr, PROGNAME " (rank %d of %d): %s\n", hn_dist_rank(), hn_dist_size(),
            msg ? msg : "(error object is not a string)");
  else
    fprintf(stderr, PROGNAME ": %s\n", msg ? msg : "(error object is not a string)");
  fflush(stderr);
  lua_pop(L, 1);
}

/* Where the Lua library is, from the executable's path (/proc/self/exe):
 * <dir>/lua for ./hnet in the source tree; PREFIX/share/lua/5.4 for an
 * installed PREFIX/bin/hnet (where `make install` puts the library); for a
 * binary inside the build tree (build/<blas>/hnet) the nearest parent
 * holding lua/hnet/init.lua. */
static void lua_dir(char *buf, size_t n) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    snprintf(buf, n, "./lua");
    return;
  }
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0';
  snprintf(buf, n, "%s/lua", exe);
  for (int up = 0; up < 3; up++) {
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/lua/hnet/init.lua", exe);
    if (access(probe, R_OK) == 0) {
      snprintf(buf, n, "%s/lua", exe);
      return;
    }
    slash = strrchr(exe, '/');
    if (!slash || slash == exe) return;
    *slash = '\0';
    if (up == 0) { /* exe now holds PREFIX for PREFIX/bin/hnet */
      snprintf(probe, sizeof probe, "%s/" INSTALLED_LUA "/hnet/init.lua", exe);
      if (access(probe, R_OK) == 0) {
        snprintf(buf, n, "%s/" INSTALLED_LUA, exe);
        return;
      }
    }
  }
}

static void create_arg_table(lua_State *L, const options *o) {
  int script = o->script;
  int narg = o->argc - (script + 1);
  lua_createtable(L, narg > 0 ? narg : 0, script + 1);
  for (int i = 0; i < o->argc; i++) {
    lua_pushstring(L, o->argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* The script's arguments (after its name) as values on the stack. */
static int push_script_args(lua_State *L, const options *o) {
  int n = o->argc - o->script - 1;
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = o->script + 1; i < o->argc; i++) lua_pushstring(L, o->argv[i]);
  return n;
}

/* A command word (report, help): require "hnet.<command>" and call its
 * main(args) with the words after it; an integer result is the exit
 * status, false means 1. */
static int run_command(lua_State *L, const options *o) {
  const char *cmd = o->command;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchpath");
  lua_pushfstring(L, "hnet.%s", cmd);
  lua_getfield(L, -3, "path");
  lua_call(L, 2, 1);
  bool found = lua_type(L, -1) == LUA_TSTRING;
  lua_pop(L, 2);
  if (!found) {
    fprintf(stderr, PROGNAME ": the %s command is not available in this build "
                    "(lua/hnet/%s.lua is missing)\n", cmd, cmd);
    return 1;
  }
  lua_getglobal(L, "require");
  lua_pushfstring(L, "hnet.%s", cmd);
  if (docall(L, 1, 1) != LUA_OK) {
    report_error(L);
    return 1;
  }
  if (lua_type(L, -1) != LUA_TTABLE || lua_getfield(L, -1, "main") != LUA_TFUNCTION) {
    fprintf(stderr, PROGNAME ": lua/hnet/%s.lua does not define main(args)\n", cmd);
    return 1;
  }
  lua_createtable(L, o->argc, 0); /* the words after the command */
  for (int i = o->script + 1; i < o->argc; i++) {
    lua_pushstring(L, o->argv[i]);
    lua_rawseti(L, -2, i - o->script);
  }
  if (docall(L, 1, 1) != LUA_OK) {
    report_error(L);
    return 1;
  }
  int code = 0;
  if (lua_isinteger(L, -1)) code = (int)lua_tointeger(L, -1);
  else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) code = 1;
  lua_pop(L, 2);
  return code;
}

/* Put the --lib folders on hnet.search's path; false (error on the stack)
 * when one is not a directory. */
static bool add_libs(lua_State *L, const options *o) {
  if (o->n_lib == 0) return true;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "hnet.search");
  if (docall(L, 1, 1) != LUA_OK) return false;
  for (int i = 0; i < o->n_lib; i++) {
    lua_getfield(L, -1, "add");
    lua_pushstring(L, o->lib[i]);
    lua_pushliteral(L, "--lib");
    if (docall(L, 2, 0) != LUA_OK) return false;
  }
  lua_pop(L, 1);
  return true;
}

/* ---- the interactive prompt ---------------------------------------------------- */

static bool incomplete(lua_State *L, int st) {
  if (st != LUA_ERRSYNTAX) return false;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

static bool read_line(char *buf, size_t n, bool first, bool tty) {
  if (tty) {
    fputs(first ? "> " : ">> ", stdout);
    fflush(stdout);
  }
  return fgets(buf, (int)n, stdin) != NULL;
}

/* require "hnet" into the global `hnet`; false (error on the stack) if the
 * library cannot be loaded. */
static bool set_hnet_global(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "hnet");
  if (docall(L, 1, 1) != LUA_OK) return false;
  lua_setglobal(L, "hnet");
  return true;
}

static void repl(lua_State *L) {
  bool tty = isatty(0);
  if (tty) printf("%s %s (%s); `hnet` is loaded. Ctrl-D exits.\n", PROGNAME, hn_version(), LUA_RELEASE);
  char line[4096];
  for (;;) {
    if (!read_line(line, sizeof line, true, tty)) break;
    lua_settop(L, 0);
    lua_pushstring(L, line);          /* 1: the code so far */
    /* An expression first (so that `1+1` prints 2), then a statement. */
    lua_pushfstring(L, "return %s", line);
    int st = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
    lua_remove(L, -2);
    if (st != LUA_OK) {
      lua_pop(L, 1);
      for (;;) {
        st = luaL_loadbuffer(L, lua_tostring(L, 1), lua_rawlen(L, 1), "=stdin");
        if (!incomplete(L, st)) break;
        lua_pop(L, 1);
        if (!read_line(line, sizeof line, false, tty)) break;
        lua_pushvalue(L, 1);
        lua_pushstring(L, line);
        lua_concat(L, 2);
        lua_replace(L, 1);
      }
    }
    if (st == LUA_OK) st = docall(L, 0, LUA_MULTRET);
    if (st != LUA_OK) {
      report_error(L);
      continue;
    }
    int n = lua_gettop(L) - 1;
    if (n > 0) {
      luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
      lua_getglobal(L, "print");
      lua_insert(L, 2);
      if (lua_pcall(L, n, 0, 0) != LUA_OK) report_error(L);
    }
  }
  if (tty) putchar('\n');
  lua_settop(L, 0);
}

/* ---- main ------------------------------------------------------------------------ */

static int pmain(lua_State *L) {
  options *o = lua_touserdata(L, 1);
  int *status = lua_touserdata(L, 2);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTOP);
  luaL_openlibs(L);
  char dir[PATH_MAX + 32];
  lua_dir(dir, sizeof dir);
  hnl_preload(L, dir);
  hnl_check(L, hn_threads_set(o->threads_set ? o->threads : 0));
  if (o->seed_set) {
    lua_pushinteger(L, (lua_Integer)o->seed);
    lua_setfield(L, LUA_REGISTRYINDEX, HNL_SEED_KEY);
  }
  create_arg_table(L, o);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCINC, 0, 0, 0);

  *status = 1;
  if (!add_libs(L, o)) {
    report_error(L);
    return 0;
  }
  /* -e chunks and the prompt see the module as the global `hnet`, so a
   * one-liner reads the same in both; scripts require it like any module. */
  if ((o->n_exec > 0 || o->interactive) && !set_hnet_global(L)) {
    report_error(L);
    return 0;
  }
  for (int i = 0; i < o->n_exec; i++) {
    if (luaL_loadbuffer(L, o->exec[i], strlen(o->exec[i]), "=(command line)") != LUA_OK ||
        docall(L, 0, 0) != LUA_OK) {
      report_error(L);
      return 0;
    }
  }
  if (o->command) {
    *status = run_command(L, o);
    return 0;
  }
  if (o->script) {
    const char *fname = o->argv[o->script];
    if (strcmp(fname, "-") == 0 && strcmp(o->argv[o->script - 1], "--") != 0) fname = NULL;
    int st = luaL_loadfile(L, fname);
    if (st == LUA_ERRFILE) {
      fprintf(stderr, PROGNAME ": cannot run '%s': %s\n", fname ? fname : "stdin",
              lua_tostring(L, -1));
      lua_pop(L, 1);
      return 0;
    }
    if (st == LUA_OK) st = docall(L, push_script_args(L, o), 0);
    if (st != LUA_OK) {
      report_error(L);
      return 0;
    }
  }
  if (o->interactive) repl(L);
  *status = 0;
  return 0;
}

/* The OpenMP wait policy (engine/threads.h): set before libgomp is loaded,
 * so when hn_threads_set_wait_env sets it we re-execute ourselves once (the
 * variable is then set: no second re-exec); if that fails we go on with
 * libgomp's default. */
static void prefer_wait_policy(char **argv) {
  if (hn_threads_set_wait_env()) execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
  prefer_wait_policy(argv);
  options o;
  memset(&o, 0, sizeof o);
  o.argc = argc;
  o.argv = argv;
  o.exec = calloc((size_t)argc + 1, sizeof *o.exec);
  o.lib = calloc((size_t)argc + 1, sizeof *o.lib);
  if (!o.exec || !o.lib) {
    free(o.exec);
    free(o.lib);
    fprintf(stderr, PROGNAME ": out of memory\n");
    return 1;
  }
  int pa = parse_args(&o);
  if (pa != 0) {
    free(o.exec);
    free(o.lib);
    return pa == 2 ? 0 : 1;
  }
  /* Join an mpirun job before anything else runs (the thread budget reads
   * the job's layout). */
  if (hn_dist_init() != HN_OK) {
    fprintf(stderr, PROGNAME ": %s\n", hn_errmsg());
    free(o.exec);
    free(o.lib);
    return 1;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, PROGNAME ": cannot create the Lua state: not enough memory\n");
    free(o.exec);
    free(o.lib);
    return 1;
  }
  int status = 1;
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &o);
  lua_pushlightuserdata(L, &status);
  if (docall(L, 2, 0) != LUA_OK) {
    report_error(L);
    status = 1;
  }
  /* A rank that fails ends the whole job: the others would wait for it in
   * their next collective forever. */
  if (status != 0) hn_dist_abort(status);
  lua_close(L);
  hn_dist_finalize();
  free(o.exec);
  free(o.lib);
  return status;
}
