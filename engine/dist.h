/*
 * dist.h — the process group of an Open MPI job, or a group of one.
 *
 * Built with MPI (make MPI=1, HN_MPI defined), hn_dist_init joins the job
 * when the process was started by mpirun (it reads the launcher's
 * environment) and does nothing otherwise, so the same binary runs alone.
 * Without MPI every call sees a group of one: rank 0 of size 1, collectives
 * are copies, and hn_dist_init refuses a launch by mpirun with more than one
 * rank (each process would run the whole job and write the same files).
 *
 * Ranks are MPI's, 0-based. Collectives must be called by every rank in the
 * same order; they are never called from inside an OpenMP region. A failed
 * MPI call returns HN_ERR_STATE with MPI's message; the job is then in an
 * unknown state and the caller should end it with hn_dist_abort.
 */
#ifndef HN_DIST_H
#define HN_DIST_H

#include <stdbool.h>
#include <stdint.h>

#include "base.h"

/* Compiled with MPI support. */
bool hn_dist_built(void);
/* Join the job when started by mpirun (once; later calls do nothing). */
hn_status hn_dist_init(void);
/* Leave the job (MPI_Finalize); idempotent. */
void hn_dist_finalize(void);
/* End every rank of the job now with exit status code (MPI_Abort); returns
 * only in a group of one. */
void hn_dist_abort(int code);

int hn_dist_rank(void);
int hn_dist_size(void);
/* Ranks of this job on this node (OMPI_COMM_WORLD_LOCAL_SIZE), 1 alone. */
int hn_dist_local_size(void);
/* Launched by mpirun with this many ranks (its environment), 0 if not. */
int hn_dist_launched_size(void);

/* x [n] summed over every rank, in place. */
hn_status hn_dist_allreduce_sum(float *x, int64_t n);
/* n bytes of rank root's buf copied to every rank's buf. */
hn_status hn_dist_bcast(void *buf, int64_t n, int root);
/* mine [n bytes] of each rank gathered into all [size * n bytes], rank order. */
hn_status hn_dist_allgather(const void *mine, int64_t n, void *all);
hn_status hn_dist_barrier(void);

/* A queue of n_jobs jobs (0..n_jobs-1) handed out to ranks as they ask:
 * rank 0 serves requests from a thread of its own while it takes jobs
 * itself, so every rank works and a long job delays no other rank. Start and
 * finish are collective; between them each rank calls next until it gets
 * -1. Jobs come out in order; which rank gets which depends on timing. */
hn_status hn_dist_queue_start(int64_t n_jobs);
hn_status hn_dist_queue_next(int64_t *job);
hn_status hn_dist_queue_finish(void);

#endif
