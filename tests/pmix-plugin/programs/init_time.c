/* Measures MPI_Init: prints "init_ms MAX" (the slowest rank) from rank 0. */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

int main(int argc, char** argv) {
    double t0 = now_ms();
    MPI_Init(&argc, &argv);
    double dt = now_ms() - t0, max = 0;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Reduce(&dt, &max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) printf("init_ms %.3f\n", max);
    MPI_Finalize();
    return 0;
}
