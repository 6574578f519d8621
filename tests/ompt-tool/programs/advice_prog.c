/* Measures how fast the tool follows advice. Runs `regions` parallel regions
 * of ~`work_us` of spinning each; at region `change_at` it writes the advice
 * file (VTASOS_OMPT_FAKE_ADVICE) asking for `threads` threads, at region
 * `restore_at` it removes it (advice withdrawn). Prints
 *   advice before=<n> after=<n> restored=<n> react_ms=<ms> react_regions=<k>
 *          restore_ms=<ms> stable=<0|1>
 * react_ms: from writing the file to the start of the first region that ran
 * with the advised team size; stable: every later region until restore_at kept it.
 * Every change of team size is printed first, with its CLOCK_MONOTONIC time:
 *   change region=<r> t_ms=<ms> size=<n>
 * With FILE "-" no file is written (advice comes from a real daemon).
 * Usage: advice_prog FILE|- regions change_at restore_at threads work_us */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: advice_prog FILE regions change_at restore_at threads work_us\n");
        return 2;
    }
    const char* file = argv[1];
    int regions = atoi(argv[2]), change_at = atoi(argv[3]), restore_at = atoi(argv[4]);
    int want = atoi(argv[5]);
    double work_ms = atoi(argv[6]) / 1000.0;
    int* sizes = calloc((size_t)regions, sizeof(int));
    double* starts = calloc((size_t)regions, sizeof(double));
    double t_change = 0, t_restore = 0;
    int use_file = strcmp(file, "-") != 0;
    if (use_file) unlink(file);
    for (int r = 0; r < regions; ++r) {
        if (r == change_at && use_file) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s.tmp", file);
            FILE* f = fopen(tmp, "w");
            if (!f) return 3;
            fprintf(f,
                    "{\"node_load\": 2.0, \"suggested_threads\": %d, \"gang\": false, "
                    "\"reason\": \"test\"}\n",
                    want);
            fclose(f);
            t_change = now_ms();
            rename(tmp, file);
        }
        if (r == restore_at && use_file) {
            t_restore = now_ms();
            unlink(file);
        }
        starts[r] = now_ms();
#pragma omp parallel
        {
            double t0 = now_ms();
            while (now_ms() - t0 < work_ms) {
            }
#pragma omp master
            sizes[r] = omp_get_num_threads();
        }
    }
    for (int r = 0; r < regions; ++r)
        if (r == 0 || sizes[r] != sizes[r - 1])
            printf("change region=%d t_ms=%.3f size=%d\n", r, starts[r], sizes[r]);
    int before = sizes[0], after = -1, restored = -1, react = -1, stable = 1;
    double react_ms = -1, restore_ms = -1;
    for (int r = change_at; r < restore_at && r < regions; ++r) {
        if (react < 0 && sizes[r] == want) {
            react = r;
            react_ms = starts[r] - t_change;
            after = sizes[r];
        } else if (react >= 0 && sizes[r] != want) {
            stable = 0;
        }
    }
    for (int r = restore_at; r < regions; ++r)
        if (sizes[r] == before) {
            restored = sizes[r];
            restore_ms = starts[r] - t_restore;
            break;
        }
    printf(
        "advice before=%d after=%d restored=%d react_ms=%.3f react_regions=%d restore_ms=%.3f "
        "stable=%d\n",
        before, after, restored, react_ms, react >= 0 ? react - change_at : -1, restore_ms, stable);
    if (use_file) unlink(file);
    return 0;
}
