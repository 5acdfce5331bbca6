/* core/dist.h — training across processes (Open MPI), behind a small API.
 *
 * A build with MPI (the Makefile finds it with pkg-config ompi-c) makes
 * these calls over MPI_COMM_WORLD; a build without it, or a process not
 * started by mpirun, is rank 0 of 1 and every call is a no-op or a copy.
 * So one binary serves both: `s2s train RUN.yaml` alone, or under
 * `mpirun -np N`. Only the main thread calls in here (never from inside
 * an OpenMP region).
 *
 * The ranks of a node are those that share memory (MPI_COMM_TYPE_SHARED);
 * S2S_MPI_NODES=k splits one machine's ranks into k pretend nodes of
 * consecutive ranks instead (for tests of what passes between nodes).
 *
 * MPI is initialised only when a launcher started the process (Open MPI's
 * OMPI_COMM_WORLD_SIZE, or PMIX_RANK / PMI_RANK of other launchers): a
 * plain run never touches libmpi, and pays nothing for it. Errors inside
 * MPI (a peer that died, a broken link) abort the whole job with MPI's
 * message: no rank is left waiting.
 */
#ifndef S2S_DIST_H
#define S2S_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* 1 when this build has MPI support. */
int s2s_dist_available(void);

/* Joins the job when started by an MPI launcher; otherwise does nothing.
 * Call once, before any other call. Fails when a launcher started several
 * processes but this build has no MPI (each would train alone). */
int s2s_dist_init(int *argc, char ***argv, s2s_err *err);
/* Leaves the job (all ranks must call it); a no-op when not joined. */
void s2s_dist_finalize(void);

int s2s_dist_rank(void);        /* 0 .. size-1 */
int s2s_dist_size(void);        /* 1 when not under MPI */
int s2s_dist_local_size(void);  /* ranks on this node (1 when not under MPI) */
int s2s_dist_local_rank(void);  /* this rank's index among them */

/* buf[i] = sum over ranks of buf[i] (MPI_Allreduce, MPI_SUM, in place). */
void s2s_dist_allreduce_sum(float *buf, size_t n);

/* recv (size * bytes) = every rank's `bytes` bytes of send, in rank order. */
void s2s_dist_allgather(const void *send, void *recv, size_t bytes);

/* recv = every rank's send, concatenated in rank order; counts[q] (bytes
 * of rank q, which every rank knows beforehand) must sum to less than
 * 2 GiB. */
void s2s_dist_allgatherv(const void *send, void *recv, const size_t *counts);

/* buf (bytes) = root's buf on every rank. */
void s2s_dist_bcast(void *buf, size_t bytes, int root);

/* Memory shared by the ranks of this node (one block per node, the same
 * bytes for each of its ranks; 64-byte aligned), or NULL when this process
 * is alone on its node, not under MPI, or /dev/shm lacks the room. *local_rank is this rank's index
 * on the node. Once per job; lives until s2s_dist_finalize. */
void *s2s_dist_node_shared(size_t bytes, int *local_rank);
/* After writing to that memory: waits for every rank of the node, and
 * makes their writes visible to all of them. */
void s2s_dist_node_sync(void);
/* 1 when every node runs the same number of ranks (then rank l of each
 * node has a peer l on every other node). */
int s2s_dist_nodes_uniform(void);
/* buf[i] = sum of buf[i] over this rank's peers (the ranks with the same
 * index on the other nodes; MPI_Allreduce, MPI_SUM, in place). */
void s2s_dist_peers_allreduce_sum(float *buf, size_t n);

/* Waits for every rank, sleeping rather than spinning (for ranks that wait
 * while rank 0 evaluates or writes a checkpoint). */
void s2s_dist_barrier(void);

/* Ends every rank of the job with `code`, after this rank has printed its
 * reason (the caller's job). Returns only when not under MPI. */
void s2s_dist_abort(int code);

#endif
