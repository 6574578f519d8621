// fwq_report.h: the fixed-work-quantum (FWQ) OS-noise probe's measurements and report.
//
// Why: bulk-synchronous codes run at the pace of their slowest thread, so every detour the OS
// takes (timer ticks, daemons, hypervisor exits) is paid by everyone. FWQ repeats one fixed
// quantum of pure computation and times each repetition; with no noise every sample takes the
// minimum time. The detour of a sample is its time minus the thread's minimum; the noise
// fraction is sum(detours) / sum(times). The fwq program prints the report below on stdout
// (so that it also travels over a guest's serial console) and vtasos-bench parses it.
//
//    FWQ Benchmark Completed.
//    Threads          =        2
//    Samples/thread   =    20000
//    ...
//    CDF              = 0:0 0.01:12 ... 1:51234      (probability:detour_ns pairs)
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

namespace vtasos::bench {

struct FwqResult {
    int threads = 0;
    long samples_per_thread = 0;
    long work_per_quantum = 0;  // loop iterations in one quantum
    double quantum_ns = 0;      // minimum sample time over all threads
    double detour_min_ns = 0, detour_median_ns = 0, detour_p99_ns = 0, detour_max_ns = 0;
    double noise_fraction = 0;
    std::vector<std::pair<double, double>> cdf;  // (probability, detour ns), probability ascending
    bool operator==(const FwqResult&) const = default;
};

// Probabilities at which the CDF is reported: 0, 0.01, ..., 0.99, 0.995, 0.999, 0.9999, 1.
std::vector<double> fwq_cdf_probabilities();

// Computes the result from per-thread sample times in ns (each inner vector one thread).
// Threads with no samples are ignored; no samples at all gives a zero result.
FwqResult compute_fwq(const std::vector<std::vector<double>>& times_ns, long work_per_quantum);

// The report text (see the header comment).
std::string format_fwq_report(const FwqResult& r);

// Errors (kParse): no "FWQ Benchmark Completed" title; a missing or non-numeric field, named.
Result<FwqResult> parse_fwq_report(std::string_view text);

}  // namespace vtasos::bench
