// analysis.h: turns the runs of a ResultsDoc into the rows of the report tables and charts.
//
// Pure function of the document (and its parameters.seed): the same results.json always gives
// the same rows, so `vtasos-bench report DIR` reproduces the original report exactly.
//   scaling, overhead: one row per (benchmark, class, threads, variant): median time, Mop/s and
//     wall time with bootstrap CIs; ratio vs the baseline variant with its CI and a verdict.
//     The ratio is time(variant)/time(baseline), computed as Mop/s(baseline)/Mop/s(variant)
//     when every run has Mop/s > 0: same quantity for a fixed problem, but Mop/s carries full
//     precision whereas NPB prints the time with only 2 decimals.
//   pairs: one row per (pair, slot, config): mean NPB time of the counted runs with a CI; ratio
//     vs the baseline config (stock).
//   corun: one row per (apps, policy): median makespan (longest wall time of the group's
//     runs in one repetition) with a CI; ratio vs the first policy.
//   noise: one row per mode: FWQ statistics (median over repetitions) and a CDF (quantile-wise
//     mean over repetitions).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "stats.h"

namespace vtasos::bench {

inline constexpr uint64_t kDefaultSeed = 20240417;

struct RunCounts {
    size_t attempted = 0;  // non-warm-up runs of the cell
    size_t ok = 0;
    size_t failed = 0;  // any status other than ok (interrupted runs excluded)
};

struct ScalingRow {
    std::string benchmark, cls, variant;
    int threads = 0;
    RunCounts counts;
    Summary time, mops, wall;
    std::optional<Comparison> vs_baseline;
    std::string ratio_basis;  // "mops" or "time"
};

struct PairRow {
    std::string group, benchmark, variant;
    int slot = 0;
    RunCounts counts;
    Summary time;  // mean
    std::optional<Comparison> vs_baseline;
};

struct CorunRow {
    std::string group, variant;
    size_t reps = 0;  // repetitions in which every app of the group finished ok
    Summary makespan;
    std::map<std::string, Summary> per_app;  // median wall time per app
    std::optional<Comparison> vs_baseline;
};

struct NoiseRow {
    std::string variant;
    size_t reps = 0;
    FwqResult fwq;  // medians over repetitions, mean CDF
};

struct Analysis {
    std::string experiment, baseline;
    std::vector<std::string> variants;  // available variants, in order
    std::vector<ScalingRow> scaling;    // scaling and overhead
    std::vector<PairRow> pairs;
    std::vector<CorunRow> corun;
    std::vector<NoiseRow> noise;
    std::set<std::string> emulated;  // variants run under TCG: never compared (report says so)
};

Analysis analyze(const ResultsDoc& doc);
// The summary array stored in results.json.
nlohmann::json summary_json(const Analysis& a);

}  // namespace vtasos::bench
