/* mpi-barrier: a barrier-heavy bulk-synchronous MPI program for the corun
 * benchmark (nas-harness/bench, `vtasos-bench corun`). Each iteration does a
 * fixed amount of arithmetic per rank, then MPI_Barrier; with Open MPI's
 * default busy-polling a rank whose partner is descheduled burns its slice
 * spinning, which is what gang scheduling fixes. Prints an NPB-style report
 * so the harness's NPB parser reads it.
 *
 *   mpirun -np 2 mpi-barrier [--class S|W|A|B] [--iters N] [--work N]
 * Class sets iterations x work units per iteration (a dependent multiply-add
 * chain, ~3 ns per unit on a 2.x GHz core); --iters/--work override. Exit 0 verified, 1 not,
 * 2 bad arguments. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double work(long units, double seed) {
    /* A dependent chain the compiler cannot fold: ~1 ns per unit. */
    double x = seed;
    for (long i = 0; i < units; ++i) x = x * 1.0000001 + 1e-9;
    return x;
}

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char cls = 'S';
    long iters = -1, units = -1;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--class") && i + 1 < argc) {
            cls = argv[++i][0];
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
            iters = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--work") && i + 1 < argc) {
            units = atol(argv[++i]);
        } else {
            if (rank == 0)
                fprintf(stderr, "usage: mpi-barrier [--class S|W|A|B] [--iters N] [--work N]\n");
            MPI_Finalize();
            return 2;
        }
    }
    long ci, cu;
    switch (cls) {
        case 'S':
            ci = 500;
            cu = 100000;
            break; /* ~0.2 s alone (idle 2.x GHz core) */
        case 'W':
            ci = 2000;
            cu = 300000;
            break; /* ~2 s, ~1000 barriers/s */
        case 'A':
            ci = 4000;
            cu = 600000;
            break; /* ~8 s */
        case 'B':
            ci = 8000;
            cu = 1200000;
            break; /* ~30 s */
        default:
            if (rank == 0) fprintf(stderr, "mpi-barrier: --class %c: expected S, W, A or B\n", cls);
            MPI_Finalize();
            return 2;
    }
    if (iters <= 0) iters = ci;
    if (units <= 0) units = cu;

    double acc = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (long it = 0; it < iters; ++it) {
        acc += work(units, 1.0 + rank);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    double t = MPI_Wtime() - t0, tmax = 0, sum = 0;
    MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&acc, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    int ok = 1;
    if (rank == 0) {
        /* Each rank's chain is deterministic: recompute one iteration per rank. */
        double expect = 0;
        for (int r = 0; r < size; ++r) expect += (double)iters * work(units, 1.0 + r);
        double rel = (sum - expect) / expect;
        ok = rel < 1e-9 && rel > -1e-9;
        double mops = (double)iters * (double)units * size / tmax / 1e6;
        printf("\n\n MPIBARRIER Benchmark Completed.\n");
        printf(" Class           =                        %c\n", cls);
        printf(" Size            =                 %8ld\n", units);
        printf(" Iterations      =                 %8ld\n", iters);
        printf(" Time in seconds =             %12.2f\n", tmax);
        printf(" Total processes =                 %8d\n", size);
        printf(" Active processes=                 %8d\n", size);
        printf(" Mop/s total     =             %12.2f\n", mops);
        printf(" Mop/s/process   =             %12.2f\n", mops / size);
        printf(" Operation type  =       barrier+chain\n");
        printf(" Verification    =               %s\n", ok ? "SUCCESSFUL" : "UNSUCCESSFUL");
        printf(" Version         =                    vtasos\n");
        fflush(stdout);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return ok ? 0 : 1;
}
