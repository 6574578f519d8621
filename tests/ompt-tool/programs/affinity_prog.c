/* Prints the CPUs each OpenMP thread may run on, after a few regions:
 *   affinity thread=<i> cpus=<list>
 * Usage: affinity_prog [regions] [pause_us] (default 20 regions, no pause;
 * with a pause it sleeps that long between regions, a run a test can act on). */
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int regions = argc > 1 ? atoi(argv[1]) : 20;
    int pause_us = argc > 2 ? atoi(argv[2]) : 0;
    long sum = 0;
    for (int r = 0; r < regions; ++r) {
#pragma omp parallel reduction(+ : sum)
        sum += 1;
        if (pause_us > 0) usleep((useconds_t)pause_us);
    }
    char lines[256][512];
    int n = 0;
#pragma omp parallel
    {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        char buf[400] = "";
        size_t len = 0;
        for (int c = 0; c < CPU_SETSIZE && len + 8 < sizeof buf; ++c)
            if (CPU_ISSET(c, &set))
                len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d", len ? "," : "", c);
        int t = omp_get_thread_num();
#pragma omp critical
        {
            if (t < 256) snprintf(lines[t], sizeof lines[t], "affinity thread=%d cpus=%s", t, buf);
            n = omp_get_num_threads();
        }
    }
    for (int t = 0; t < n && t < 256; ++t) printf("%s\n", lines[t]);
    printf("affinity result=%ld threads=%d\n", sum, n);
    return 0;
}
