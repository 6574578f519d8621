/* EPCC syncbench-style barrier microbenchmark: N barriers in a tight loop
 * inside one parallel region (no delay between them), timed with
 * omp_get_wtime on the master. Used by `vtasos-ompt-overhead` to bound the
 * tool's per-barrier cost (target: <= 5 % slower with the tool).
 *
 *   barrier_bench [--barriers N] [--warmup N]
 * Prints: "barriers=N threads=T time_s=S us_per_barrier=U"
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long arg_long(int argc, char** argv, const char* name, long def) {
    for (int i = 1; i + 1 < argc; ++i)
        if (strcmp(argv[i], name) == 0) {
            char* end = NULL;
            long v = strtol(argv[i + 1], &end, 10);
            if (end == argv[i + 1] || *end || v < 0) {
                fprintf(stderr, "barrier_bench: %s needs a count, got \"%s\"\n", name, argv[i + 1]);
                exit(2);
            }
            return v;
        }
    return def;
}

int main(int argc, char** argv) {
    long n = arg_long(argc, argv, "--barriers", 100000);
    long warmup = arg_long(argc, argv, "--warmup", 1000);
    double t0 = 0, t1 = 0;
    int threads = 0;
#pragma omp parallel
    {
        for (long i = 0; i < warmup; ++i) {
#pragma omp barrier
        }
#pragma omp master
        {
            threads = omp_get_num_threads();
            t0 = omp_get_wtime();
        }
        for (long i = 0; i < n; ++i) {
#pragma omp barrier
        }
#pragma omp master
        t1 = omp_get_wtime();
    }
    double s = t1 - t0;
    printf("barriers=%ld threads=%d time_s=%.6f us_per_barrier=%.4f\n", n, threads, s,
           n > 0 ? s * 1e6 / (double)n : 0.0);
    return 0;
}
