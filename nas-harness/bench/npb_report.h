// npb_report.h: reads the end-of-run report of an NAS Parallel Benchmarks program.
//
// Why: the harness compares our clean-room kernels with a user's real NPB 3.4 binaries (OpenMP,
// MPI or hybrid), so one parser must read both. It keys on the report's field names, not on
// column positions, because the Fortran and C report layouts differ in spacing.
//
//    CG Benchmark Completed.
//    Class           =                        S
//    Size            =                     1400
//    Iterations      =                       15
//    Time in seconds =                     0.03
//    Total threads   =                        2        (MPI: Total processes =)
//    Mop/s total     =                  1864.06
//    Verification    =               SUCCESSFUL
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace vtasos::bench {

struct NpbReport {
    std::string benchmark;  // as printed: "CG", "IS", "BT-MZ"
    std::string cls;        // "S", "W", "A", ...
    std::string size;       // blanks removed: "1400", "32x32x32", "33554432"
    long iterations = 0;
    double time_s = 0;                      // "Time in seconds" (printed with 2 decimals)
    double mops_total = 0;                  // "Mop/s total" (the full-precision performance figure)
    std::optional<double> mops_per_worker;  // "Mop/s/thread" or "Mop/s/process"
    int threads = 0;                        // "Total threads"; 1 when only processes are reported
    std::optional<int> avail_threads;       // "Avail threads" (OpenMP)
    std::optional<int> processes;           // "Total processes" (MPI)
    std::optional<int> active_processes;    // "Active processes" (MPI)
    std::string operation_type;             // "floating point", "keys ranked", ...
    bool verified = false;                  // "Verification = SUCCESSFUL"
    std::string version;                    // "3.4.2", "3.4-vtasos"
    std::string compile_date;

    // Threads x processes: the number of workers the report says were used.
    int workers() const { return threads * processes.value_or(1); }
    bool operator==(const NpbReport&) const = default;
};

// Parses the first NPB report in `text` (a program's whole stdout).
// Required: the "<NAME> Benchmark Completed" title, Class, Size, Iterations, Time in seconds,
// Mop/s total, Total threads or Total processes, Verification.
// Errors (kParse): no title line ("no NPB report found"); required fields absent, all named in
// one message (a truncated report); a field whose value is not a number or, for Verification,
// neither SUCCESSFUL nor UNSUCCESSFUL. An UNSUCCESSFUL report is a valid report with
// verified == false, not an error.
Result<NpbReport> parse_npb_report(std::string_view text);

}  // namespace vtasos::bench
