// fwq: fixed-work-quantum OS-noise probe (see fwq_report.h for what it measures).
//
//   fwq [--samples N] [--quantum-us U] [--threads T] [--work W]
// Calibrates a pure-integer work loop to about U microseconds (or uses W iterations), then each
// of T threads (unpinned: the mode decides placement) times N repetitions of it with
// CLOCK_MONOTONIC. Prints the FWQ report on stdout; exit 0, or 2 on a bad argument.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fwq_report.h"

namespace {

double now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// One quantum: a dependent chain the compiler cannot shorten.
__attribute__((noinline)) uint64_t work(long iterations, uint64_t x) {
    for (long i = 0; i < iterations; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        asm volatile("" : "+r"(x));
    }
    return x;
}

long calibrate(double quantum_ns) {
    long iters = 1000;
    for (;;) {
        double best = 1e30;
        for (int k = 0; k < 5; ++k) {
            double t0 = now_ns();
            (void)work(iters, 1);
            best = std::min(best, now_ns() - t0);
        }
        if (best >= quantum_ns || iters > (1l << 40)) {
            return std::max(1l, static_cast<long>(static_cast<double>(iters) * quantum_ns / best));
        }
        iters *= best < quantum_ns / 16 ? 8 : 2;
    }
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "fwq: %s\nusage: fwq [--samples N] [--quantum-us U] [--threads T] [--work W]\n",
                 why);
    std::exit(2);
}

double number(int argc, char** argv, int& i) {
    if (i + 1 >= argc) usage((std::string("missing value for ") + argv[i]).c_str());
    char* end = nullptr;
    double v = std::strtod(argv[i + 1], &end);
    if (*end != '\0' || !(v > 0))
        usage((std::string("bad value for ") + argv[i] + ": " + argv[i + 1]).c_str());
    ++i;
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    long samples = 20000, work_iters = 0;
    double quantum_us = 100;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--samples"))
            samples = static_cast<long>(number(argc, argv, i));
        else if (!std::strcmp(argv[i], "--quantum-us"))
            quantum_us = number(argc, argv, i);
        else if (!std::strcmp(argv[i], "--threads"))
            threads = static_cast<int>(number(argc, argv, i));
        else if (!std::strcmp(argv[i], "--work"))
            work_iters = static_cast<long>(number(argc, argv, i));
        else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            std::printf("usage: fwq [--samples N] [--quantum-us U] [--threads T] [--work W]\n");
            return 0;
        } else {
            usage((std::string("unknown argument ") + argv[i]).c_str());
        }
    }
    if (threads < 1 || threads > 4096) usage("--threads must be in 1..4096");
    if (work_iters <= 0) work_iters = calibrate(quantum_us * 1000.0);

    std::vector<std::vector<double>> times(static_cast<size_t>(threads),
                                           std::vector<double>(static_cast<size_t>(samples)));
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    std::vector<uint64_t> sink(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < threads) {
            }
            auto& out = times[static_cast<size_t>(t)];
            uint64_t x = static_cast<uint64_t>(t) + 1;
            for (long s = 0; s < samples; ++s) {
                double t0 = now_ns();
                x = work(work_iters, x);
                out[static_cast<size_t>(s)] = now_ns() - t0;
            }
            sink[static_cast<size_t>(t)] = x;
        });
    for (auto& th : pool) th.join();
    auto r = vtasos::bench::compute_fwq(times, work_iters);
    std::fputs(vtasos::bench::format_fwq_report(r).c_str(), stdout);
    return sink.empty() ? 1 : 0;
}
