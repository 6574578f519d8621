/* A tenant for the bandwidth probe: many short parallel regions for SECONDS.
 *   probe_prog stream SECONDS   - STREAM triad over 3 x 8 MiB: evicted from the LLC by
 *                                 a streamer beside it
 *   probe_prog compute SECONDS  - dependent floating-point chains in registers
 * Prints "probe_prog mode=M regions=N check=X" at the end. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: probe_prog stream|compute SECONDS\n");
        return 2;
    }
    int stream = strcmp(argv[1], "stream") == 0;
    double secs = atof(argv[2]);
    const long n = stream ? (8L << 20) / (long)sizeof(double) : 1;
    double* a = malloc((size_t)n * sizeof(double));
    double* b = malloc((size_t)n * sizeof(double));
    double* c = malloc((size_t)n * sizeof(double));
    if (!a || !b || !c) return 3;
    for (long i = 0; i < n; ++i) {
        a[i] = 0;
        b[i] = 1;
        c[i] = 2;
    }
    long regions = 0;
    double check = 0;
    double t0 = now_s();
    while (now_s() - t0 < secs) {
        if (stream) {
#pragma omp parallel for schedule(static)
            for (long i = 0; i < n; ++i) a[i] = b[i] + 0.5 * c[i];
            double* t = a;
            a = b;
            b = t;
            check += a[n / 2];
        } else {
            double s = 0;
#pragma omp parallel reduction(+ : s)
            {
                double x = 1.0 + omp_get_thread_num() * 1e-3, y = 0;
                for (int k = 0; k < 400000; ++k) y = y * 0.999999 + x;
                s += y;
            }
            check += s * 1e-12;
        }
        ++regions;
    }
    printf("probe_prog mode=%s regions=%ld check=%g\n", argv[1], regions, check);
    free(a);
    free(b);
    free(c);
    return 0;
}
