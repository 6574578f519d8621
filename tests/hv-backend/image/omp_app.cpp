// A small OpenMP program for guest tests: sums in parallel, prints SUCCESSFUL, exits with
// the status given as argv[1] (default 0).
#include <omp.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    const long n = 2000000;
    double sum = 0;
    int threads = 0;
#pragma omp parallel reduction(+ : sum)
    {
#pragma omp single
        threads = omp_get_num_threads();
#pragma omp for
        for (long i = 1; i <= n; ++i) sum += 1.0 / (double(i) * double(i));
    }
    bool ok = sum > 1.6449 && sum < 1.6450;
    std::printf("omp_app: threads=%d sum=%.6f %s\n", threads, sum, ok ? "SUCCESSFUL" : "FAILED");
    int code = argc > 1 ? std::atoi(argv[1]) : 0;
    return ok ? code : 99;
}
