/* dist.c — the process group: Open MPI when built with HN_MPI, else one process. */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The launcher's environment: Open MPI's mpirun, or a PMIx/PMI launcher. */
static int env_int(const char *name) {
  const char *s = getenv(name);
  if (!s || !*s) return 0;
  char *end;
  long v = strtol(s, &end, 10);
  return (*end == '\0' && v > 0 && v < INT_MAX) ? (int)v : 0;
}

int hn_dist_launched_size(void) {
  int n = env_int("OMPI_COMM_WORLD_SIZE");
  if (!n) n = env_int("PMIX_SIZE");
  if (!n) n = env_int("PMI_SIZE");
  return n;
}

#ifdef HN_MPI

#include <mpi.h>
#include <pthread.h>
#include <time.h>

static bool joined = false, finalized = false;
static int rank = 0, size = 1;
static MPI_Comm queue_comm = MPI_COMM_NULL;

bool hn_dist_built(void) { return true; }

static hn_status mpi_fail(int err, const char *where) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", err);
  return hn_fail(HN_ERR_STATE, "%s: MPI failed on rank %d of %d: %s", where, rank, size, msg);
}
#define MPI_TRY(call, where)                          \
  do {                                                \
    int e_ = (call);                                  \
    if (e_ != MPI_SUCCESS) return mpi_fail(e_, where); \
  } while (0)

hn_status hn_dist_init(void) {
  if (joined || finalized || hn_dist_launched_size() == 0) return HN_OK;
  int provided = 0;
  /* rank 0's queue server is a second thread that calls MPI. */
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
    return hn_fail(HN_ERR_STATE, "hn_dist_init: MPI_Init_thread failed (is this an Open MPI job?)");
  joined = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (provided < MPI_THREAD_MULTIPLE && size > 1)
    return hn_fail(HN_ERR_STATE,
                   "hn_dist_init: this MPI library gives thread level %d, hnet needs "
                   "MPI_THREAD_MULTIPLE (%d) for its job queue",
                   provided, MPI_THREAD_MULTIPLE);
  MPI_TRY(MPI_Comm_dup(MPI_COMM_WORLD, &queue_comm), "hn_dist_init");
  return HN_OK;
}

void hn_dist_finalize(void) {
  if (!joined || finalized) return;
  if (queue_comm != MPI_COMM_NULL) MPI_Comm_free(&queue_comm);
  MPI_Finalize();
  finalized = true;
}

void hn_dist_abort(int code) {
  if (joined && !finalized && size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int hn_dist_rank(void) { return rank; }
int hn_dist_size(void) { return size; }

hn_status hn_dist_allreduce_sum(float *x, int64_t n) {
  if (n < 0) return hn_fail(HN_ERR_ARG, "hn_dist_allreduce_sum: n = %lld; expected >= 0", (long long)n);
  if (size == 1) return HN_OK;
  for (int64_t at = 0; at < n; at += INT_MAX) {
    int len = (int)(n - at < INT_MAX ? n - at : INT_MAX);
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, x + at, len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
            "hn_dist_allreduce_sum");
  }
  return HN_OK;
}

hn_status hn_dist_bcast(void *buf, int64_t n, int root) {
  if (n < 0 || root < 0 || root >= size)
    return hn_fail(HN_ERR_ARG, "hn_dist_bcast: %lld bytes from rank %d of %d; expected n >= 0 and a rank below %d",
                   (long long)n, root, size, size);
  if (size == 1) return HN_OK;
  for (int64_t at = 0; at < n; at += INT_MAX) {
    int len = (int)(n - at < INT_MAX ? n - at : INT_MAX);
    MPI_TRY(MPI_Bcast((char *)buf + at, len, MPI_BYTE, root, MPI_COMM_WORLD), "hn_dist_bcast");
  }
  return HN_OK;
}

hn_status hn_dist_allgather(const void *mine, int64_t n, void *all) {
  if (n < 0 || n > INT_MAX)
    return hn_fail(HN_ERR_ARG, "hn_dist_allgather: %lld bytes per rank; expected 0..%d", (long long)n, INT_MAX);
  if (size == 1) {
    memcpy(all, mine, (size_t)n);
    return HN_OK;
  }
  MPI_TRY(MPI_Allgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, MPI_COMM_WORLD), "hn_dist_allgather");
  return HN_OK;
}

hn_status hn_dist_barrier(void) {
  if (size == 1) return HN_OK;
  MPI_TRY(MPI_Barrier(MPI_COMM_WORLD), "hn_dist_barrier");
  return HN_OK;
}

/* ---- the job queue ------------------------------------------------------------------ */

enum { TAG_ASK = 1, TAG_JOB = 2 };

static struct {
  pthread_mutex_t lock;
  pthread_t server;
  bool open, serving;
  int64_t next, n_jobs;
  hn_status server_status;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int64_t take_job(void) {
  pthread_mutex_lock(&q.lock);
  int64_t job = q.next < q.n_jobs ? q.next++ : -1;
  pthread_mutex_unlock(&q.lock);
  return job;
}

/* Rank 0's server: answers each request with the next job, until every
 * other rank has been told -1. It polls with a short sleep instead of a
 * blocking receive, which would spin a core that rank 0's own jobs need. */
static void *serve(void *arg) {
  (void)arg;
  int done = 0;
  const struct timespec nap = { 0, 2000000 }; /* 2 ms: negligible beside a job */
  while (done < size - 1) {
    int flag = 0;
    MPI_Status st;
    int e = MPI_Iprobe(MPI_ANY_SOURCE, TAG_ASK, queue_comm, &flag, &st);
    if (e != MPI_SUCCESS) {
      q.server_status = mpi_fail(e, "hn_dist_queue (rank 0's server)");
      return NULL;
    }
    if (!flag) {
      nanosleep(&nap, NULL);
      continue;
    }
    char ask;
    e = MPI_Recv(&ask, 1, MPI_CHAR, st.MPI_SOURCE, TAG_ASK, queue_comm, MPI_STATUS_IGNORE);
    int64_t job = take_job();
    if (e == MPI_SUCCESS) e = MPI_Send(&job, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_JOB, queue_comm);
    if (e != MPI_SUCCESS) {
      q.server_status = mpi_fail(e, "hn_dist_queue (rank 0's server)");
      return NULL;
    }
    if (job < 0) done++;
  }
  return NULL;
}

hn_status hn_dist_queue_start(int64_t n_jobs) {
  if (n_jobs < 0) return hn_fail(HN_ERR_ARG, "hn_dist_queue_start: %lld jobs; expected >= 0", (long long)n_jobs);
  if (q.open) return hn_fail(HN_ERR_STATE, "hn_dist_queue_start: a queue is open; finish it first");
  int64_t agreed = n_jobs;
  HN_TRY(hn_dist_bcast(&agreed, sizeof agreed, 0));
  if (agreed != n_jobs)
    return hn_fail(HN_ERR_STATE, "hn_dist_queue_start: rank %d has %lld jobs, rank 0 has %lld; every rank "
                   "must make the same list (same options and files)", rank, (long long)n_jobs, (long long)agreed);
  q.next = 0;
  q.n_jobs = n_jobs;
  q.server_status = HN_OK;
  q.serving = false;
  if (rank == 0 && size > 1) {
    if (pthread_create(&q.server, NULL, serve, NULL) != 0)
      return hn_fail(HN_ERR_STATE, "hn_dist_queue_start: cannot start rank 0's server thread");
    q.serving = true;
  }
  q.open = true;
  return HN_OK;
}

hn_status hn_dist_queue_next(int64_t *job) {
  if (!q.open) return hn_fail(HN_ERR_STATE, "hn_dist_queue_next: no queue is open (hn_dist_queue_start)");
  if (rank == 0 || size == 1) {
    *job = take_job();
    return HN_OK;
  }
  char ask = 1;
  MPI_TRY(MPI_Send(&ask, 1, MPI_CHAR, 0, TAG_ASK, queue_comm), "hn_dist_queue_next");
  MPI_TRY(MPI_Recv(job, 1, MPI_INT64_T, 0, TAG_JOB, queue_comm, MPI_STATUS_IGNORE), "hn_dist_queue_next");
  return HN_OK;
}

hn_status hn_dist_queue_finish(void) {
  if (!q.open) return HN_OK;
  q.open = false;
  if (q.serving) {
    pthread_join(q.server, NULL);
    q.serving = false;
    HN_TRY(q.server_status);
  }
  return hn_dist_barrier();
}

#else /* one process */

bool hn_dist_built(void) { return false; }

hn_status hn_dist_init(void) {
  int n = hn_dist_launched_size();
  if (n > 1)
    return hn_fail(HN_ERR_STATE,
                   "hn_dist_init: started by mpirun with %d ranks, but this hnet was built without MPI: "
                   "each rank would run the whole job and write the same files. Rebuild with "
                   "`make MPI=1` (Debian: libopenmpi-dev), or run without mpirun",
                   n);
  return HN_OK;
}
void hn_dist_finalize(void) {}
void hn_dist_abort(int code) { (void)code; }
int hn_dist_rank(void) { return 0; }
int hn_dist_size(void) { return 1; }

hn_status hn_dist_allreduce_sum(float *x, int64_t n) {
  (void)x;
  if (n < 0) return hn_fail(HN_ERR_ARG, "hn_dist_allreduce_sum: n = %lld; expected >= 0", (long long)n);
  return HN_OK;
}
hn_status hn_dist_bcast(void *buf, int64_t n, int root) {
  (void)buf;
  if (n < 0 || root != 0)
    return hn_fail(HN_ERR_ARG, "hn_dist_bcast: %lld bytes from rank %d of 1; expected n >= 0 and rank 0",
                   (long long)n, root);
  return HN_OK;
}
hn_status hn_dist_allgather(const void *mine, int64_t n, void *all) {
  if (n < 0) return hn_fail(HN_ERR_ARG, "hn_dist_allgather: %lld bytes; expected >= 0", (long long)n);
  memcpy(all, mine, (size_t)n);
  return HN_OK;
}
hn_status hn_dist_barrier(void) { return HN_OK; }

static struct {
  bool open;
  int64_t next, n_jobs;
} q;

hn_status hn_dist_queue_start(int64_t n_jobs) {
  if (n_jobs < 0) return hn_fail(HN_ERR_ARG, "hn_dist_queue_start: %lld jobs; expected >= 0", (long long)n_jobs);
  if (q.open) return hn_fail(HN_ERR_STATE, "hn_dist_queue_start: a queue is open; finish it first");
  q.open = true;
  q.next = 0;
  q.n_jobs = n_jobs;
  return HN_OK;
}
hn_status hn_dist_queue_next(int64_t *job) {
  if (!q.open) return hn_fail(HN_ERR_STATE, "hn_dist_queue_next: no queue is open (hn_dist_queue_start)");
  *job = q.next < q.n_jobs ? q.next++ : -1;
  return HN_OK;
}
hn_status hn_dist_queue_finish(void) {
  q.open = false;
  return HN_OK;
}

#endif

int hn_dist_local_size(void) {
  int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!n) n = env_int("MPI_LOCALNRANKS");
  return n > 0 ? n : 1;
}
