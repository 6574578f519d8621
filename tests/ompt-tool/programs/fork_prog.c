/* An OpenMP program that forks between regions; the child runs OpenMP too and
 * exits through exit() (so the runtime's exit path runs in the child). The
 * profile must be the parent's alone: 3 regions of 2 threads. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static long region(void) {
    long n = 0;
#pragma omp parallel num_threads(2) reduction(+ : n)
    n += 1;
    return n;
}

int main(void) {
    long total = region();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        long c = region() + region() + region();
        exit(c == 6 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    total += region() + region();
    int child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("fork result=%ld child=%s\n", total, child_ok ? "ok" : "FAILED");
    return total == 6 && child_ok ? 0 : 1;
}
