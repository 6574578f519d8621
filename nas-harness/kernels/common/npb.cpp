// npb.cpp: the shared support of the clean-room NAS kernels (see npb.h).
#include "npb.h"

#include <omp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "npb_build_info.h"

namespace npb {

char class_char(Class cls) {
    switch (cls) {
        case Class::S:
            return 'S';
        case Class::W:
            return 'W';
        case Class::A:
            return 'A';
        case Class::B:
            return 'B';
        case Class::C:
            return 'C';
    }
    return '?';
}

namespace {

void usage(std::FILE* out, const char* kernel) {
    std::fprintf(out,
                 "usage: %s [--class S|W|A|B|C] [--threads N] [--corrupt-result] [--help]\n"
                 "  --class C          problem class (default S)\n"
                 "  --threads N        OpenMP threads, N >= 1 (default: OMP_NUM_THREADS or all)\n"
                 "  --corrupt-result   test hook: perturb the result so verification fails\n"
                 "Prints the NPB report; exit 0 when verified, 1 when not, 2 on bad arguments.\n",
                 kernel);
}

[[noreturn]] void bad_args(const std::string& kernel, const std::string& what) {
    std::fprintf(stderr, "npb-%s: %s\n", kernel.c_str(), what.c_str());
    usage(stderr, kernel.c_str());
    std::exit(2);
}

bool parse_class(const std::string& s, Class* out) {
    if (s.size() != 1) return false;
    switch (s[0]) {
        case 'S':
        case 's':
            *out = Class::S;
            return true;
        case 'W':
        case 'w':
            *out = Class::W;
            return true;
        case 'A':
        case 'a':
            *out = Class::A;
            return true;
        case 'B':
        case 'b':
            *out = Class::B;
            return true;
        case 'C':
        case 'c':
            *out = Class::C;
            return true;
    }
    return false;
}

bool parse_threads(const std::string& s, int* out) {
    if (s.empty() || s.size() > 6) return false;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    if (v < 1) return false;
    *out = v;
    return true;
}

constexpr double kTwo46 = 70368744177664.0;  // 2^46
constexpr double kInvTwo46 = 1.0 / kTwo46;   // exact, a power of two
constexpr std::uint64_t kMask46 = (std::uint64_t{1} << 46) - 1;

}  // namespace

Options parse_args(int argc, char** argv, const char* kernel_name) {
    const std::string kernel = kernel_name;
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        bool has_inline = false;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_inline = true;
        }
        auto take_value = [&]() -> std::string {
            if (has_inline) return value;
            if (i + 1 >= argc) bad_args(kernel, "option " + arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            usage(stdout, ("npb-" + kernel).c_str());
            std::exit(0);
        } else if (arg == "--class") {
            std::string v = take_value();
            if (!parse_class(v, &o.cls))
                bad_args(kernel, "bad class '" + v + "' (want S, W, A, B or C)");
        } else if (arg == "--threads") {
            std::string v = take_value();
            if (!parse_threads(v, &o.threads))
                bad_args(kernel, "bad thread count '" + v + "' (want an integer >= 1)");
        } else if (arg == "--corrupt-result" && !has_inline) {
            o.corrupt = true;
        } else {
            bad_args(kernel, "unknown argument '" + std::string(argv[i]) + "'");
        }
    }
    // Kernels split work by omp_get_num_threads(); a team must never be cut short.
    omp_set_dynamic(0);
    if (o.threads > 0) omp_set_num_threads(o.threads);
    return o;
}

// The state is an integer below 2^46 held exactly in a double. a * x mod 2^46 equals the low 46
// bits of the 64-bit wrapped product, since 2^46 divides 2^64.
double randlc(double* x, double a) {
    const std::uint64_t ia = static_cast<std::uint64_t>(a);
    std::uint64_t ix = static_cast<std::uint64_t>(*x);
    ix = (ia * ix) & kMask46;
    *x = static_cast<double>(ix);
    return static_cast<double>(ix) * kInvTwo46;
}

// Four interleaved chains, each stepping by a^4, break the multiply latency chain; the values
// are the same as one chain stepping by a.
void vranlc(int n, double* x, double a, double* y) {
    const std::uint64_t ia = static_cast<std::uint64_t>(a);
    std::uint64_t ix = static_cast<std::uint64_t>(*x);
    int i = 0;
    if (n >= 8) {
        const std::uint64_t ia4 = (((ia * ia) & kMask46) * ((ia * ia) & kMask46)) & kMask46;
        std::uint64_t s0 = (ia * ix) & kMask46;
        std::uint64_t s1 = (ia * s0) & kMask46;
        std::uint64_t s2 = (ia * s1) & kMask46;
        std::uint64_t s3 = (ia * s2) & kMask46;
        const int blocks = n / 4;
        for (int b = 0; b < blocks; ++b, i += 4) {
            y[i] = static_cast<double>(s0) * kInvTwo46;
            y[i + 1] = static_cast<double>(s1) * kInvTwo46;
            y[i + 2] = static_cast<double>(s2) * kInvTwo46;
            y[i + 3] = static_cast<double>(s3) * kInvTwo46;
            ix = s3;
            s0 = (ia4 * s0) & kMask46;
            s1 = (ia4 * s1) & kMask46;
            s2 = (ia4 * s2) & kMask46;
            s3 = (ia4 * s3) & kMask46;
        }
    }
    for (; i < n; ++i) {
        ix = (ia * ix) & kMask46;
        y[i] = static_cast<double>(ix) * kInvTwo46;
    }
    *x = static_cast<double>(ix);
}

double lcg_power(double a, long long k) {
    std::uint64_t base = static_cast<std::uint64_t>(a) & kMask46;
    std::uint64_t result = 1;
    while (k > 0) {
        if (k & 1) result = (result * base) & kMask46;
        base = (base * base) & kMask46;
        k >>= 1;
    }
    return static_cast<double>(result);
}

double lcg_skip(double x, double a, long long k) {
    const std::uint64_t m = static_cast<std::uint64_t>(lcg_power(a, k));
    return static_cast<double>((m * static_cast<std::uint64_t>(x)) & kMask46);
}

double wtime() { return omp_get_wtime(); }

int threads_in_use() {
    int n = 1;
#pragma omp parallel
    {
#pragma omp master
        n = omp_get_num_threads();
    }
    return n;
}

void print_results(const Report& r) {
    // IS is the one C kernel of NPB 3.4-OMP; its report comes from c_print_results.c.
    const bool c_style = (r.name == "IS");
    const int max_threads = omp_get_max_threads();
    const int num_threads = r.threads > 0 ? r.threads : threads_in_use();
    const char cls = class_char(r.cls);

    std::printf("\n\n %s Benchmark Completed%s\n", r.name.c_str(), c_style ? "" : ".");
    std::printf(" Class           =                        %c\n", cls);
    if (c_style && r.n3 == 0) {
        // c_print_results: a two-part 1-D size (IS classes D/E) prints as the product.
        std::printf(" Size            =             %12ld\n", r.n2 != 0 ? r.n1 * r.n2 : r.n1);
    } else if (r.n2 == 0 && r.n3 == 0) {
        if (r.name == "EP") {
            // Fortran writes 2**n1 as f15.0 and drops the trailing '.', right-aligned in 15.
            char digits[32];
            std::snprintf(digits, sizeof digits, "%.0f", static_cast<double>(1ull << r.n1));
            std::printf(" Size            =          %15s\n", digits);
        } else {
            std::printf(" Size            =             %12ld\n", r.n1);
        }
    } else if (c_style) {
        std::printf(" Size            =             %4ldx%4ldx%4ld\n", r.n1, r.n2, r.n3);
    } else {
        std::printf(" Size            =           %4ldx%4ldx%4ld\n", r.n1, r.n2, r.n3);
    }
    std::printf(" Iterations      =             %12d\n", r.niter);
    std::printf(" Time in seconds =             %12.2f\n", r.seconds);
    std::printf(" Total threads   =             %12d\n", num_threads);
    std::printf(" Avail threads   =             %12d\n", max_threads);
    if (num_threads != max_threads)
        std::printf(" Warning: Threads used differ from threads available\n");
    std::printf(" Mop/s total     =             %12.2f\n", r.mops);
    std::printf(" Mop/s/thread    =             %12.2f\n", r.mops / num_threads);
    // Both NPB layouts right-align the operation type in 24 columns (the Fortran kernels pass
    // it pre-padded, e.g. "          floating point").
    std::printf(" Operation type  = %24s\n", r.op_type.c_str());
    std::printf(" Verification    =             %s\n",
                r.verified ? "  SUCCESSFUL" : "UNSUCCESSFUL");
    std::printf(" Version         =             %12s\n", "3.4-vtasos");
    // __DATE__ is "Mmm dd yyyy"; NPB prints "dd Mmm yyyy".
    const char* d = __DATE__;
    char date[16];
    std::snprintf(date, sizeof date, "%.2s %.3s %.4s", d + 4, d, d + 7);
    if (date[0] == ' ') date[0] = '0';
    std::printf(" Compile date    =             %12s\n", date);
    // Same labels as the reference of each kernel (C: CC..CLINKFLAGS; Fortran: FC..RAND).
    struct Line {
        const char* c_label;
        const char* f_label;
        const char* value;
    };
    const Line lines[] = {
        {"CC", "FC", NPB_CC},
        {"CLINK", "FLINK", NPB_CC},
        {"C_LIB", "F_LIB", NPB_CLIB},
        {"C_INC", "F_INC", "-I nas-harness/kernels/common"},
        {"CFLAGS", "FFLAGS", NPB_CFLAGS},
        {"CLINKFLAGS", "FLINKFLAGS", "-fopenmp"},
    };
    std::printf("\n Compile options:\n");
    for (const Line& l : lines)
        std::printf("    %-12s = %s\n", c_style ? l.c_label : l.f_label, l.value);
    if (!c_style) std::printf("    RAND         = %s\n", "npb::randlc (vtasos clean-room)");
    std::printf("\n\n Please send all errors/feedbacks to:\n\n");
    std::printf(" NPB Development Team\n");
    std::printf(" npb@nas.nasa.gov\n\n\n");
    std::fflush(stdout);
}

std::string team_changes(const std::vector<int>& teams) {
    std::string out;
    bool changed = false;
    for (size_t i = 0; i < teams.size();) {
        size_t j = i;
        while (j + 1 < teams.size() && teams[j + 1] == teams[i]) ++j;
        changed = changed || j + 1 < teams.size();
        out += (out.empty() ? "" : ", ") + std::to_string(i + 1) + "-" + std::to_string(j + 1) +
               ": " + std::to_string(teams[i]) + (teams[i] == 1 ? " thread" : " threads");
        i = j + 1;
    }
    return changed ? out : std::string();
}

}  // namespace npb
