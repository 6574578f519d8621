// stats.h: the statistics every vtasos-bench table is built from.
//
// Why: benchmark timings are noisy, and on a 2-core CI machine very noisy. A table that says
// "vtasos is 3 % faster" must mean it, so every figure carries a bootstrap 95 % confidence
// interval, and a comparison is called a difference only when it is outside the noise:
// the ratio's CI excludes 1 AND the two CIs do not overlap. Otherwise the verdict is
// "no significant difference". Bootstrap resampling uses a fixed, caller-given seed so that
// the same results.json always renders the same report.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vtasos::bench {

// Which statistic a bootstrap resamples.
enum class Statistic { kMedian, kMean };

// Quantile of `values` (any order) at q in [0,1], linear interpolation between order
// statistics (the R-7 / NumPy default). Empty input: NaN.
double quantile(std::vector<double> values, double q);
double median(std::vector<double> values);
double mean(const std::vector<double>& values);
// Sample standard deviation (n-1); 0 for n < 2.
double stdev(const std::vector<double>& values);
// Coefficient of variation: stdev / mean; 0 for n < 2 or mean 0.
double coefficient_of_variation(const std::vector<double>& values);

struct Interval {
    double low = 0;
    double high = 0;
    bool contains(double x) const { return low <= x && x <= high; }
    bool overlaps(const Interval& o) const { return low <= o.high && o.low <= high; }
};

// Default bootstrap parameters.
inline constexpr int kBootstrapResamples = 2000;
inline constexpr double kConfidence = 0.95;

// Percentile-bootstrap confidence interval of `stat` over `values`. Deterministic for a given
// seed (mt19937_64; index = draw mod n). n == 0: {NaN, NaN}; n == 1: {x, x}.
Interval bootstrap_ci(const std::vector<double>& values, Statistic stat, uint64_t seed,
                      int resamples = kBootstrapResamples, double level = kConfidence);

// Everything a table cell shows about one set of samples.
struct Summary {
    size_t n = 0;
    double center = 0;  // median or mean, per the Statistic used
    Interval ci;        // bootstrap CI of center
    double cv = 0;      // coefficient of variation
    double min = 0, max = 0;
};
Summary summarize(const std::vector<double>& values, Statistic stat, uint64_t seed);

enum class Verdict {
    kLower,                    // candidate's statistic is significantly lower than baseline's
    kHigher,                   // significantly higher
    kNoSignificantDifference,  // ratio CI includes 1, or the two CIs overlap
    kInsufficientData,         // fewer than kMinSamplesForVerdict samples on a side
};

// With n samples a percentile-bootstrap CI of the median is about the min-max range for n <= 5,
// so non-overlapping CIs mean complete separation: by chance 1 in 3 at n = 2, 1 in 10 at n = 3,
// 1 in 126 at n = 5. Below 3 no verdict is given at all.
inline constexpr size_t kMinSamplesForVerdict = 3;
std::string_view verdict_name(Verdict v);  // "lower", "higher", "no_significant_difference", ...

struct Comparison {
    double ratio = 0;   // stat(candidate) / stat(baseline)
    Interval ratio_ci;  // bootstrap CI of that ratio (both sides resampled independently)
    Interval baseline_ci, candidate_ci;
    Verdict verdict = Verdict::kInsufficientData;
};

// Compares candidate with baseline. kLower/kHigher only when n >= kMinSamplesForVerdict on both
// sides, the ratio CI excludes 1 and the two individual CIs do not overlap.
Comparison compare(const std::vector<double>& baseline, const std::vector<double>& candidate,
                   Statistic stat, uint64_t seed);

// Human text for a time-like ratio (lower is better): "1.23x slower", "0.80x (20.0 % faster)",
// "no significant difference", "n < 3: not tested".
std::string describe_time_ratio(const Comparison& c);

}  // namespace vtasos::bench
