// charts.h: renders the experiment's charts with gnuplot, as SVG and PNG.
//
//   scaling/overhead: grouped bars per kernel/threads, one bar per variant: median time with
//                     CI (…-time), and time relative to the baseline with the ratio CI
//                     (…-relative, Figure 1 style).
//   pairs:            normalised pair bars: mean time / stock mean time (Figure 3 style).
//   corun:            makespan bars per policy.
//   noise:            CDF of FWQ detours per mode.
// Each chart is <dir>/<name>.{dat,gp,svg,png}; the .gp script can be re-run by hand.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "analysis.h"

namespace vtasos::bench {

struct ChartResult {
    std::vector<std::string> files;     // written images, relative to the results directory
    std::vector<std::string> warnings;  // why charts are missing (no gnuplot, gnuplot failed)
};

// `gnuplot`: the program to use ("gnuplot" looks it up in $PATH). When it cannot be found, no
// chart is drawn and one warning says so; data and scripts are written either way.
ChartResult render_charts(const Analysis& a, const std::filesystem::path& results_dir,
                          const std::string& gnuplot);

}  // namespace vtasos::bench
