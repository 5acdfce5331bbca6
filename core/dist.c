/* core/dist.c — the MPI calls of core/dist.h, or their single-process
 * stand-ins when built without S2S_MPI. */
#include "core/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef S2S_MPI
#include <limits.h>
#include <mpi.h>
#include <sys/statvfs.h>

static int joined, rank_, size_ = 1, local_size_ = 1, local_rank_;
static MPI_Comm node_ = MPI_COMM_NULL;
static MPI_Win win_ = MPI_WIN_NULL;
static MPI_Comm peers_ = MPI_COMM_NULL;
static int uniform_;

int s2s_dist_available(void) { return 1; }

static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") ||
           getenv("PMI_RANK");
}

int s2s_dist_init(int *argc, char ***argv, s2s_err *err)
{
    (void)err;
    if (joined || !launched()) return 0;
    int provided;
    /* only the main thread calls MPI, outside OpenMP regions */
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    /* S2S_MPI_NODES=k (for tests): this machine's ranks as k nodes of
     * consecutive ranks, to run the paths between nodes on one machine */
    const char *fake = getenv("S2S_MPI_NODES");
    int k = fake ? atoi(fake) : 0;
    if (k > 1 && k <= size_) {
        int per = (size_ + k - 1) / k;
        MPI_Comm_split(MPI_COMM_WORLD, rank_ / per, rank_, &node_);
    } else {
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_,
                            MPI_INFO_NULL, &node_);
    }
    MPI_Comm_size(node_, &local_size_);
    MPI_Comm_rank(node_, &local_rank_);
    /* the same index on every node: a communicator for each index */
    MPI_Comm_split(MPI_COMM_WORLD, local_rank_, rank_, &peers_);
    int lo, hi;
    MPI_Allreduce(&local_size_, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&local_size_, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    uniform_ = lo == hi;
    return 0;
}

void s2s_dist_finalize(void)
{
    if (!joined) return;
    if (win_ != MPI_WIN_NULL) {
        MPI_Win_unlock_all(win_);
        MPI_Win_free(&win_);
    }
    MPI_Comm_free(&node_);
    MPI_Comm_free(&peers_);
    MPI_Finalize();
    joined = 0;
}

int s2s_dist_rank(void) { return rank_; }
int s2s_dist_size(void) { return size_; }
int s2s_dist_local_size(void) { return local_size_; }
int s2s_dist_local_rank(void) { return local_rank_; }

static int as_int(size_t n)
{
    if (n > (size_t)INT_MAX) {
        fprintf(stderr, "s2s: rank %d: a message of %zu bytes is over MPI's "
                "2 GiB limit\n", rank_, n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return (int)n;
}

void s2s_dist_allreduce_sum(float *buf, size_t n)
{
    if (size_ == 1) return;
    const size_t piece = (size_t)1 << 28; /* MPI counts are ints */
    for (size_t i = 0; i < n; i += piece) {
        size_t k = n - i < piece ? n - i : piece;
        MPI_Allreduce(MPI_IN_PLACE, buf + i, (int)k, MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
    }
}

int s2s_dist_nodes_uniform(void) { return uniform_ || size_ == 1; }

void s2s_dist_peers_allreduce_sum(float *buf, size_t n)
{
    int peers = 1;
    if (peers_ != MPI_COMM_NULL) MPI_Comm_size(peers_, &peers);
    if (peers == 1) return;
    const size_t piece = (size_t)1 << 28;
    for (size_t i = 0; i < n; i += piece) {
        size_t k = n - i < piece ? n - i : piece;
        MPI_Allreduce(MPI_IN_PLACE, buf + i, (int)k, MPI_FLOAT, MPI_SUM, peers_);
    }
}

void s2s_dist_allgather(const void *send, void *recv, size_t bytes)
{
    if (size_ == 1) {
        memcpy(recv, send, bytes);
        return;
    }
    MPI_Allgather(send, as_int(bytes), MPI_BYTE, recv, as_int(bytes),
                  MPI_BYTE, MPI_COMM_WORLD);
}

void s2s_dist_allgatherv(const void *send, void *recv, const size_t *counts)
{
    if (size_ == 1) {
        memcpy(recv, send, counts[0]);
        return;
    }
    int *cnt = malloc(2 * (size_t)size_ * sizeof *cnt);
    if (!cnt) MPI_Abort(MPI_COMM_WORLD, 1);
    int *disp = cnt + size_;
    size_t total = 0;
    for (int q = 0; q < size_; q++) {
        disp[q] = as_int(total);
        cnt[q] = as_int(counts[q]);
        total += counts[q];
    }
    as_int(total);
    MPI_Allgatherv(send, cnt[rank_], MPI_BYTE, recv, cnt, disp, MPI_BYTE,
                   MPI_COMM_WORLD);
    free(cnt);
}

void s2s_dist_bcast(void *buf, size_t bytes, int root)
{
    if (size_ == 1) return;
    MPI_Bcast(buf, as_int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
}

void *s2s_dist_node_shared(size_t bytes, int *local_rank)
{
    *local_rank = local_rank_;
    if (local_size_ == 1 || win_ != MPI_WIN_NULL) return NULL;
    /* Open MPI backs the block with a file in /dev/shm; a small one (a
     * container's 64 MB) would fail on first touch, so the node's first
     * rank checks the room and all its ranks follow its answer */
    int room = 1;
    if (local_rank_ == 0) {
        struct statvfs sv;
        if (statvfs("/dev/shm", &sv) == 0 &&
            (double)sv.f_bavail * (double)sv.f_frsize < 1.25 * (double)bytes + 64e6)
            room = 0;
        const char *env = getenv("S2S_MPI_SHM"); /* 0: never share */
        if (env && strcmp(env, "0") == 0) room = 0;
    }
    MPI_Bcast(&room, 1, MPI_INT, 0, node_);
    if (!room) return NULL;
    /* the node's first rank holds the block; the others map it */
    MPI_Aint size = local_rank_ == 0 ? (MPI_Aint)(bytes + 64) : 0;
    void *base;
    MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, node_, &base, &win_);
    MPI_Aint got;
    int unit;
    MPI_Win_shared_query(win_, 0, &got, &unit, &base);
    /* passive-target epoch for the job's life: writes are made visible by
     * MPI_Win_sync around a barrier (s2s_dist_node_sync) */
    MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
    uintptr_t a = ((uintptr_t)base + 63) & ~(uintptr_t)63;
    return (void *)a;
}

void s2s_dist_node_sync(void)
{
    if (win_ == MPI_WIN_NULL) return;
    MPI_Win_sync(win_);
    MPI_Barrier(node_);
    MPI_Win_sync(win_);
}

void s2s_dist_barrier(void)
{
    if (size_ == 1) return;
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    for (;;) {
        int done = 0;
        MPI_Test(&r, &done, MPI_STATUS_IGNORE);
        if (done) return;
        struct timespec ts = {0, 1000000}; /* 1 ms */
        nanosleep(&ts, NULL);
    }
}

void s2s_dist_abort(int code)
{
    fflush(stderr);
    if (joined && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#else /* no MPI: rank 0 of 1 */

int s2s_dist_available(void) { return 0; }
int s2s_dist_init(int *argc, char ***argv, s2s_err *err)
{
    (void)argc;
    (void)argv;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (n && atoi(n) > 1)
        return s2s_fail(err, "started by mpirun with %s processes, but this s2s "
                        "was built without MPI (install libopenmpi-dev and "
                        "rebuild: make MPI=1)", n);
    return 0;
}
void s2s_dist_finalize(void) {}
int s2s_dist_rank(void) { return 0; }
int s2s_dist_size(void) { return 1; }
int s2s_dist_local_size(void) { return 1; }
int s2s_dist_local_rank(void) { return 0; }
void s2s_dist_allreduce_sum(float *buf, size_t n) { (void)buf; (void)n; }
void s2s_dist_allgather(const void *send, void *recv, size_t bytes)
{
    memcpy(recv, send, bytes);
}
void s2s_dist_allgatherv(const void *send, void *recv, const size_t *counts)
{
    memcpy(recv, send, counts[0]);
}
void s2s_dist_bcast(void *buf, size_t bytes, int root)
{
    (void)buf; (void)bytes; (void)root;
}
void *s2s_dist_node_shared(size_t bytes, int *local_rank)
{
    (void)bytes;
    *local_rank = 0;
    return NULL;
}
void s2s_dist_node_sync(void) {}
int s2s_dist_nodes_uniform(void) { return 1; }
void s2s_dist_peers_allreduce_sum(float *buf, size_t n) { (void)buf; (void)n; }
void s2s_dist_barrier(void) {}
void s2s_dist_abort(int code) { (void)code; }

#endif
