/* OpenMP program with known event counts, for the OMPT tool tests
 * (tests/ompt-tool/ompt_programs_test.cpp holds the expected numbers).
 * Built with clang -fopenmp (libomp) and with gcc -fopenmp (libgomp ABI, run
 * with libomp preloaded). Prints "patterns result=<checksum>" on success. */
#include <omp.h>
#include <stdio.h>

#define EXPLICIT_BARRIERS 50 /* region A, team of 4 */
#define CRITICALS_PER_THREAD 10
#define LOOP_ITERS 1000 /* region B, team of 3 */
#define TASKS 20        /* region D, team of 2 */
#define LOCKS_PER_THREAD 5

int main(void) {
    long crit = 0, loop_sum = 0, tasks_done = 0, locked = 0, nested = 0;
    omp_set_max_active_levels(2);

    /* A: 4 threads, 50 explicit barriers, 10 criticals per thread. */
#pragma omp parallel num_threads(4)
    {
        for (int i = 0; i < EXPLICIT_BARRIERS; ++i) {
#pragma omp barrier
        }
        for (int j = 0; j < CRITICALS_PER_THREAD; ++j) {
#pragma omp critical
            crit++;
        }
    }

    /* B: 3 threads, one worksharing loop (with its implicit barrier). */
#pragma omp parallel num_threads(3)
    {
#pragma omp for reduction(+ : loop_sum)
        for (int i = 0; i < LOOP_ITERS; ++i) loop_sum += i;
    }

    /* C: 2 threads, each starting a nested region of 2 threads. */
#pragma omp parallel num_threads(2)
    {
#pragma omp parallel num_threads(2)
        {
#pragma omp atomic
            nested++;
}
}

/* D: 2 threads, one single creating 20 tasks and waiting for them. */
#pragma omp parallel num_threads(2)
{
#pragma omp single
    {
        for (int t = 0; t < TASKS; ++t) {
#pragma omp task shared(tasks_done)
            {
#pragma omp atomic
                tasks_done++;
            }
        }
#pragma omp taskwait
    }
}

/* E: 2 threads, 5 lock acquisitions each. */
omp_lock_t lock;
omp_init_lock(&lock);
#pragma omp parallel num_threads(2)
{
    for (int j = 0; j < LOCKS_PER_THREAD; ++j) {
        omp_set_lock(&lock);
        locked++;
        omp_unset_lock(&lock);
    }
}
omp_destroy_lock(&lock);

long expect = 4 * CRITICALS_PER_THREAD + (long)LOOP_ITERS * (LOOP_ITERS - 1) / 2 + 4 + TASKS +
              2 * LOCKS_PER_THREAD;
long result = crit + loop_sum + nested + tasks_done + locked;
printf("patterns result=%ld %s\n", result, result == expect ? "ok" : "WRONG");
return result == expect ? 0 : 1;
}
