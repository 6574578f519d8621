// experiments.h: the vtasos-bench experiments and their command-line validation.
//
// Each experiment plans its runs, executes them one process at a time (pairs and corun: two or
// more at once, by design), records every run in a ResultsDoc, and finishes by writing
// results.json, results.csv, report.md and the charts into the results directory.
//   scaling   kernel x threads x mode; rounds interleave the modes (ABAB); warm-up rounds first.
//   overhead  the same with the variants tool-off / tool-on (OMP_TOOL_LIBRARIES unset / set).
//   pairs     two programs started together, each re-run until the budget ends; stock (both
//             native, all cores each) vs vtasos (each a tenant with half the cores).
//   corun     oversubscribed co-run of several apps per scheduling policy; makespan.
//   noise     the FWQ probe per mode.
// Return value of run_*: the process exit code: 0 all runs ok; 1 some run failed (all others
// still recorded); 2 bad arguments or unusable results directory; 130 interrupted.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modes.h"
#include "result.h"

namespace vtasos::bench {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInterrupted = 130;

struct CommonOptions {
    std::filesystem::path out_dir;  // empty: results/<UTC timestamp>
    int reps = 3;
    int warmup = 1;
    std::chrono::milliseconds timeout{std::chrono::minutes(10)};
    uint64_t seed = 20240417;
    std::string kernel_dir;  // our kernels and fwq; empty: next to vtasos-bench / build tree
    std::string npb_bin;     // a user's NPB binaries (cg.A.x); empty: our kernels
    int mpi_np = 0;          // > 0: run the NPB binaries with mpirun -np N
    ToolPaths tools;
    std::string gnuplot = "gnuplot";
    bool progress = true;                   // one line per run on stderr
    std::vector<std::string> command_line;  // as typed, for results.json
};

struct ScalingOptions {
    std::vector<std::string> kernels;
    std::vector<std::string> classes = {"A"};
    std::vector<int> threads;
    std::vector<std::string> modes;  // scaling: mode names; overhead: ignored
};

struct PairsOptions {
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string cls = "W";
    std::chrono::milliseconds budget{std::chrono::minutes(5)};
    int threads = 0;                   // stock threads per program; 0: all online CPUs
    std::vector<std::string> configs;  // "stock", "vtasos"
};

struct CorunOptions {
    std::vector<std::string> apps;
    std::string cls = "W";
    int threads = 0;  // per app; 0: all online CPUs (so two apps oversubscribe 2x)
    std::vector<std::string> policies;  // cfs, cfs-active, cfs-passive, gang, feedback, auto
    int slice_ms = 20;  // vtasosd --slice-ms (its default, hv-backend/gang/README.md)
    // Appended to each app's command line; mpi-barrier only (its --iters/--work set the grain).
    std::vector<std::string> app_args;
};

struct NoiseOptions {
    std::vector<std::string> modes;
    int threads = 0;  // 0: all online CPUs
    long samples = 20000;
    double quantum_us = 100;
};

// --- validation (each error names the option and the bad value, and lists what is allowed) ---

// "ep,is,cg" or "all". With external (--npb-bin) the other NPB names (bt, sp, lu, ua) are allowed.
Result<std::vector<std::string>> parse_kernels(std::string_view list, bool external);
// S W A B C (external: also D E F); case-insensitive; returns upper case.
Result<std::string> parse_class(std::string_view cls, bool external);
// "S,W": several classes (scaling, overhead); duplicates removed.
Result<std::vector<std::string>> parse_classes(std::string_view list, bool external);
// Names from `allowed`; `what` is the option name for messages. Duplicates removed.
Result<std::vector<std::string>> parse_names(std::string_view list,
                                             const std::vector<std::string>& allowed,
                                             std::string_view what);
// "cg+ft,mg+is".
Result<std::vector<std::pair<std::string, std::string>>> parse_pairs(std::string_view list,
                                                                     bool external);
// Checks reps >= 1, warmup >= 0, mpi_np only with npb_bin.
Status check_common(const CommonOptions& c);

// solo: each app alone, one after another (the reference for the makespan targets);
// kvm, kvm-tickless, kvm-vtasos: each app in its own guest (stock, or VM tenants of a
// vtasosd with --sched-policy auto).
inline const std::vector<std::string> kPolicies = {
    "cfs",  "cfs-active", "cfs-passive", "gang",         "feedback",
    "auto", "solo",       "kvm",         "kvm-tickless", "kvm-vtasos"};
// corun --apps: >= 2 of our kernels, their GCC builds <kernel>-gomp, or mpi-barrier;
// duplicates allowed (ep,ep).
Result<std::vector<std::string>> parse_corun_apps(std::string_view list, bool external);
inline const std::vector<std::string> kPairConfigs = {"stock", "vtasos", "kvm", "kvm-tickless",
                                                      "kvm-vtasos"};

int run_scaling(const CommonOptions& c, const ScalingOptions& o);
int run_overhead(const CommonOptions& c, const ScalingOptions& o);
int run_pairs(const CommonOptions& c, const PairsOptions& o);
int run_corun(const CommonOptions& c, const CorunOptions& o);
int run_noise(const CommonOptions& c, const NoiseOptions& o);

// Re-renders report.md, results.csv and charts from <dir>/results.json; prints the tables and
// paths. Returns 0, or 2 when the document cannot be read (message on stderr).
int render_report_dir(const std::filesystem::path& dir, const std::string& gnuplot);

// Validates a results.json (or a directory holding one) against the schema; prints violations.
int validate_results(const std::filesystem::path& path);

}  // namespace vtasos::bench
