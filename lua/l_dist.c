/*
 * l_dist.c — the MPI process group (engine/dist.h) as hnet.core.dist: rank
 * and size, the collectives a sweep and a distributed run need, and the job
 * queue. Ranks are MPI's, 0-based (a rank is a name, not an index); job
 * numbers are 1-based like every Lua index. In a build without MPI the same
 * functions see a group of one.
 */
#include "lhn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hnet.dist.built() -> boolean: compiled with Open MPI (make MPI=1) */
static int dist_built(lua_State *L) {
  lua_pushboolean(L, hn_dist_built());
  return 1;
}

/* hnet.dist.rank() -> this process's rank, 0 .. size-1 */
static int dist_rank(lua_State *L) {
  lua_pushinteger(L, hn_dist_rank());
  return 1;
}

/* hnet.dist.size() -> ranks in the job (1 alone) */
static int dist_size(lua_State *L) {
  lua_pushinteger(L, hn_dist_size());
  return 1;
}

/* hnet.dist.local_size() -> ranks of this job on this node */
static int dist_local_size(lua_State *L) {
  lua_pushinteger(L, hn_dist_local_size());
  return 1;
}

/* hnet.dist.allreduce(t) -> t: t summed over every rank, in place */
static int dist_allreduce(lua_State *L) {
  hnl_tensor *u = hnl_tensor_check(L, 1);
  hnl_check(L, hn_dist_allreduce_sum(u->t.data, u->t.numel));
  lua_settop(L, 1);
  return 1;
}

/* hnet.dist.bcast(s, root = 0) -> rank root's string s on every rank (the
 * other ranks' s is ignored and may be nil) */
static int dist_bcast(lua_State *L) {
  lua_Integer root = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, root >= 0 && root < hn_dist_size(), 2, "rank out of range");
  size_t len = 0;
  const char *s = NULL;
  if (hn_dist_rank() == root) s = luaL_checklstring(L, 1, &len);
  int64_t n = (int64_t)len;
  hnl_check(L, hn_dist_bcast(&n, sizeof n, (int)root));
  if (hn_dist_rank() == root) {
    hnl_check(L, hn_dist_bcast((void *)s, n, (int)root));
    lua_pushvalue(L, 1);
    return 1;
  }
  luaL_Buffer b;
  char *buf = luaL_buffinitsize(L, &b, (size_t)n);
  hnl_check(L, hn_dist_bcast(buf, n, (int)root));
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* hnet.dist.allgather(s) -> { s of rank 0, s of rank 1, ... } */
static int dist_allgather(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int size = hn_dist_size();
  int64_t n = (int64_t)len;
  int64_t *lens = lua_newuserdatauv(L, sizeof *lens * (size_t)size, 0);
  hnl_check(L, hn_dist_allgather(&n, sizeof n, lens));
  int64_t most = 0;
  for (int r = 0; r < size; r++) most = lens[r] > most ? lens[r] : most;
  char *mine = lua_newuserdatauv(L, (size_t)most + 1, 0);
  memset(mine, 0, (size_t)most + 1);
  memcpy(mine, s, len);
  char *all = lua_newuserdatauv(L, (size_t)(most + 1) * (size_t)size, 0);
  hnl_check(L, hn_dist_allgather(mine, most + 1, all));
  lua_createtable(L, size, 0);
  for (int r = 0; r < size; r++) {
    lua_pushlstring(L, all + (size_t)r * (size_t)(most + 1), (size_t)lens[r]);
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

/* hnet.dist.barrier() */
static int dist_barrier(lua_State *L) {
  hnl_check(L, hn_dist_barrier());
  return 0;
}

/* The job queue as an iterator: for job in hnet.dist.jobs(n) do ... end.
 * Every rank calls it with the same n; each job number 1..n comes out on
 * exactly one rank; the loop's end is a barrier. */
static int jobs_next(lua_State *L) {
  int64_t job = -1;
  hnl_check(L, hn_dist_queue_next(&job));
  if (job < 0) {
    hnl_check(L, hn_dist_queue_finish());
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)job + 1);
  return 1;
}

/* hnet.dist.jobs(n) -> iterator over the job numbers this rank runs */
static int dist_jobs(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0, 1, "job count must be >= 0");
  hnl_check(L, hn_dist_queue_start((int64_t)n));
  lua_pushcfunction(L, jobs_next);
  return 1;
}

/* hnet.dist.abort(message): print "hnet (rank r of n): message" and end
 * every rank of the job with status 1; alone, raises the message instead. */
static int dist_abort(lua_State *L) {
  const char *msg = luaL_checkstring(L, 1);
  if (hn_dist_size() > 1) {
    fprintf(stderr, "hnet (rank %d of %d): %s\n", hn_dist_rank(), hn_dist_size(), msg);
    fflush(stderr);
    hn_dist_abort(1);
  }
  return luaL_error(L, "%s", msg);
}

/* hnet.dist.checksum(t, ...) -> integer: 64-bit FNV-1a over the bytes of
 * every tensor given, in order. Equal on two ranks exactly when their floats
 * are equal bit for bit (up to a 2^-64 collision): what a distributed run
 * compares across ranks to see that they hold the same parameters. Local. */
static int dist_checksum(lua_State *L) {
  int n = lua_gettop(L);
  luaL_argcheck(L, n >= 1, 1, "at least one tensor expected");
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 1; i <= n; i++) {
    hnl_tensor *u = hnl_tensor_check(L, i);
    const unsigned char *p = (const unsigned char *)u->t.data;
    size_t bytes = (size_t)u->t.numel * sizeof(float);
    for (size_t k = 0; k < bytes; k++) {
      h ^= p[k];
      h *= 0x100000001b3ull;
    }
  }
  lua_pushinteger(L, (lua_Integer)h);
  return 1;
}

/* hnet.dist.exit(code): leave the job (MPI_Finalize, which waits for every
 * rank to leave too) and end the process with status code, flushing stdio;
 * what os.exit does for a process of its own (os.exit would leave without
 * MPI_Finalize, and mpirun would kill the ranks still at work). */
static int dist_exit(lua_State *L) {
  lua_Integer code = luaL_checkinteger(L, 1);
  fflush(NULL);
  hn_dist_finalize();
  exit((int)code);
  return 0;
}

static const luaL_Reg dist_funcs[] = {
  { "built", dist_built },         { "rank", dist_rank },     { "size", dist_size },
  { "local_size", dist_local_size }, { "allreduce", dist_allreduce }, { "bcast", dist_bcast },
  { "allgather", dist_allgather }, { "barrier", dist_barrier }, { "jobs", dist_jobs },
  { "abort", dist_abort },         { "checksum", dist_checksum }, { "exit", dist_exit },
  { NULL, NULL },
};

void hnl_open_dist(lua_State *L) {
  luaL_newlib(L, dist_funcs);
  lua_setfield(L, -2, "dist");
}
