// npb.h: what every clean-room NAS Parallel Benchmarks kernel in vtasos shares.
//
// Why: the harness runs our kernels and the reference NPB 3.4 OpenMP binaries side by side and
// reads both with one parser, so command line, random numbers and the end-of-run report must be
// common and must match NPB exactly (see ../SPEC.md for the facts and where they come from).
//
// Entry points:
//   parse_args    command line of every kernel (--class, --threads, --corrupt-result, --help)
//   randlc/vranlc the NPB linear congruential generator x_{k+1} = a * x_k mod 2^46
//   wtime         wall clock (omp_get_wtime)
//   print_results the NPB print_results report on stdout
#pragma once

#include <string>
#include <vector>

namespace npb {

// Problem class, smallest to largest.
enum class Class { S, W, A, B, C };

// 'S', 'W', 'A', 'B' or 'C'.
char class_char(Class cls);

// What the command line asked for.
struct Options {
    Class cls = Class::S;
    int threads = 0;       // 0: OpenMP default (OMP_NUM_THREADS or all cores)
    bool corrupt = false;  // test hook: the kernel perturbs its result so verification fails
};

// Parses the command line of kernel `kernel_name` (e.g. "cg"):
//   --class S|W|A|B|C (also --class=X; case-insensitive), --threads N (N >= 1, also --threads=N),
//   --corrupt-result, --help / -h.
// Result: the options; it has called omp_set_dynamic(0) and, with threads > 0,
// omp_set_num_threads(threads).
// Errors (no return): --help prints the usage to stdout and exits 0; an unknown argument, a
// missing value, a bad class or a bad thread count prints "npb-<kernel>: <what is wrong>" and the
// usage to stderr and exits 2.
Options parse_args(int argc, char** argv, const char* kernel_name);

// NPB random number generator: replaces *x by a * *x mod 2^46 and returns the new *x / 2^46,
// in (0, 1). *x and a must be odd integers in (0, 2^46) held in doubles (the NPB convention);
// the arithmetic is exact, so the sequence is bit-identical to NPB's randlc.
double randlc(double* x, double a);

// n successive values of randlc(x, a) into y[0..n-1]; *x ends on the last state. n <= 0: no-op.
void vranlc(int n, double* x, double a, double* y);

// The generator state after k more steps from *x: a^k * x mod 2^46 (k >= 0), in O(log k). Lets
// each thread start its share of a sequence without generating what precedes it.
// lcg_skip(x, a, 1) == the new *x of randlc(&x, a).
double lcg_skip(double x, double a, long long k);

// a^k mod 2^46 for k >= 0 (the multiplier that advances the state by k steps).
double lcg_power(double a, long long k);

// Wall-clock seconds since an arbitrary origin (omp_get_wtime).
double wtime();

// Number of threads an OpenMP parallel region gets right now (omp_get_num_threads inside one).
int threads_in_use();

// Team size per timed iteration -> "1-2: 2 threads, 3-7: 1 thread, 8-15: 2 threads"; "" when it
// never changed. Kernels print it on stderr: the report's "Total threads" is the starting team,
// and a tool following vtasosd's advice (omp_set_num_threads) may change it between regions.
std::string team_changes(const std::vector<int>& teams);

// Everything the end-of-run report shows.
struct Report {
    std::string name;  // "EP", "IS", "CG", "MG", "FT"
    Class cls = Class::S;
    long n1 = 0, n2 = 0, n3 = 0;  // n2 = n3 = 0: one-dimensional size n1 (EP: n1 is log2 of size)
    int niter = 0;
    double seconds = 0;
    double mops = 0;      // Mop/s total
    std::string op_type;  // printed right-aligned in 24 columns: "floating point", "keys ranked"
    bool verified = false;
    int threads = 0;  // threads used; 0: print_results measures threads_in_use()
};

// Prints the NPB 3.4 OpenMP print_results report for `r` to stdout, field for field. Kernels
// whose reference is C (IS) get the C layout of c_print_results, the others the Fortran layout
// of print_results.f90; the two differ only in the title period, the 3-D size spacing and the
// compile-option labels (SPEC.md, "Report layout"). Never fails.
void print_results(const Report& r);

}  // namespace npb
