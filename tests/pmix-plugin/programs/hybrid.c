/* MPI + OpenMP test program for the vtasos hook.
 *
 * Each rank prints one line after MPI_Init:
 *   rank R/N pid P local L affinity CPULIST threads T tenant TENANT share PUS
 * and, at the end, rank 0 prints "result ok SUM" when the OpenMP + MPI sum is
 * right (or "result WRONG ..."). Options:
 *   --hold PATH   after printing, wait (up to 60 s) until PATH exists, so that a
 *                 test can look at vtasosctl status while the job runs
 *   --hold-end PATH  the same after the work loop, before MPI_Finalize
 *   --work N      iterations of the OpenMP/MPI loop (default 20)
 *   --spin-ms MS  rank 1 (or 0 if alone) spins MS ms before the barrier
 *   --omp-first   run an OpenMP parallel region before MPI_Init (the OMPT
 *                 tool then starts before the hook) and print, after MPI_Init,
 *                 "rank R threads-affinity CPULIST[;CPULIST...]" from inside a
 *                 parallel region
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void cpulist(char* out, size_t len) {
    cpu_set_t s;
    CPU_ZERO(&s);
    sched_getaffinity(0, sizeof s, &s);
    out[0] = 0;
    int first = -1, prev = -2;
    size_t n = 0;
    for (int i = 0; i <= CPU_SETSIZE; ++i) {
        int in = i < CPU_SETSIZE && CPU_ISSET(i, &s);
        if (in && prev == i - 1 && first >= 0) {
            prev = i;
            continue;
        }
        if (first >= 0) {
            n += snprintf(out + n, len - n, "%s%d", n ? "," : "", first);
            if (prev > first) n += snprintf(out + n, len - n, "-%d", prev);
            first = -1;
        }
        if (in) first = prev = i;
    }
}

/* Rank 0 waits until `path` exists (at most 60 s), then everyone meets. */
static void wait_for(const char* path, int rank) {
    if (!path) return;
    if (rank == 0)
        for (int i = 0; i < 6000 && access(path, F_OK) != 0; ++i) usleep(10000);
    MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char** argv) {
    const char* hold = NULL;
    const char* hold_end = NULL;
    int work = 20, spin_ms = 0, omp_first = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold = argv[++i];
        else if (!strcmp(argv[i], "--hold-end") && i + 1 < argc) hold_end = argv[++i];
        else if (!strcmp(argv[i], "--work") && i + 1 < argc) work = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--spin-ms") && i + 1 < argc) spin_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--omp-first")) omp_first = 1;
    }
    long long pre = 0;
    if (omp_first) {
#pragma omp parallel for reduction(+ : pre)
        for (int i = 1; i <= 1000; ++i) pre += i;
    }
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char* local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    char aff[512];
    cpulist(aff, sizeof aff);
    const char* tenant = getenv("VTASOS_MPI_TENANT");
    const char* pus = getenv("VTASOS_MPI_PUS");
    int threads = omp_get_max_threads();
    printf("rank %d/%d pid %d local %s affinity %s threads %d tenant %s share %s\n", rank, size,
           (int)getpid(), local ? local : "?", aff, threads, tenant ? tenant : "-", pus ? pus : "-");
    fflush(stdout);
    if (omp_first) {
        /* every OpenMP thread's mask, threads created before MPI_Init included */
        char line[4096];
        int nt = 0;
#pragma omp parallel
        {
#pragma omp single
            nt = omp_get_num_threads();
        }
        char masks[64][256];
#pragma omp parallel
        {
            int me = omp_get_thread_num();
            if (me < 64) cpulist(masks[me], sizeof masks[me]);
        }
        size_t n = (size_t)snprintf(line, sizeof line, "rank %d threads-affinity ", rank);
        for (int i = 0; i < nt && i < 64 && n < sizeof line; ++i)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i ? ";" : "", masks[i]);
        printf("%s pre %lld\n", line, pre);
        fflush(stdout);
    }
    wait_for(hold, rank);
    if (spin_ms > 0 && rank == (size > 1 ? 1 : 0)) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do clock_gettime(CLOCK_MONOTONIC, &t1);
        while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < spin_ms);
    }
    long long total = 0;
    for (int it = 0; it < work; ++it) {
        long long local_sum = 0;
#pragma omp parallel for reduction(+ : local_sum)
        for (int i = 1; i <= 1000; ++i) local_sum += i + rank;
        long long sum = 0;
        MPI_Allreduce(&local_sum, &sum, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
        total += sum;
        MPI_Barrier(MPI_COMM_WORLD);
    }
    /* sum over ranks of sum_{i=1..1000}(i + rank) = size*500500 + 1000*size*(size-1)/2 */
    long long expect = (long long)work * ((long long)size * 500500 + 1000LL * size * (size - 1) / 2);
    if (rank == 0) {
        printf("work done\n");
        fflush(stdout);
    }
    wait_for(hold_end, rank);
    if (rank == 0) {
        if (total == expect) printf("result ok %lld\n", total);
        else printf("result WRONG %lld expected %lld\n", total, expect);
    }
    MPI_Finalize();
    return 0;
}
