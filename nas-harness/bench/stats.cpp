#include "stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace vtasos::bench {
namespace {

double sorted_quantile(const std::vector<double>& s, double q) {
    if (s.empty()) return std::numeric_limits<double>::quiet_NaN();
    if (q <= 0) return s.front();
    if (q >= 1) return s.back();
    double h = (static_cast<double>(s.size()) - 1) * q;
    auto lo = static_cast<size_t>(std::floor(h));
    size_t hi = std::min(lo + 1, s.size() - 1);
    return s[lo] + (h - static_cast<double>(lo)) * (s[hi] - s[lo]);
}

double apply(Statistic stat, std::vector<double>& v) {
    if (stat == Statistic::kMean) return mean(v);
    std::sort(v.begin(), v.end());
    return sorted_quantile(v, 0.5);
}

void resample(const std::vector<double>& src, std::vector<double>& dst, std::mt19937_64& rng) {
    dst.resize(src.size());
    for (auto& x : dst) x = src[rng() % src.size()];
}

}  // namespace

double quantile(std::vector<double> values, double q) {
    std::sort(values.begin(), values.end());
    return sorted_quantile(values, q);
}

double median(std::vector<double> values) { return quantile(std::move(values), 0.5); }

double mean(const std::vector<double>& values) {
    if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
    return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double stdev(const std::vector<double>& values) {
    if (values.size() < 2) return 0;
    double m = mean(values), ss = 0;
    for (double x : values) ss += (x - m) * (x - m);
    return std::sqrt(ss / static_cast<double>(values.size() - 1));
}

double coefficient_of_variation(const std::vector<double>& values) {
    double m = mean(values);
    if (values.size() < 2 || m == 0) return 0;
    return stdev(values) / std::fabs(m);
}

Interval bootstrap_ci(const std::vector<double>& values, Statistic stat, uint64_t seed,
                      int resamples, double level) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (values.empty()) return {nan, nan};
    if (values.size() == 1) return {values[0], values[0]};
    std::mt19937_64 rng(seed);
    std::vector<double> stats, buf;
    stats.reserve(static_cast<size_t>(resamples));
    for (int i = 0; i < resamples; ++i) {
        resample(values, buf, rng);
        stats.push_back(apply(stat, buf));
    }
    std::sort(stats.begin(), stats.end());
    double alpha = (1 - level) / 2;
    return {sorted_quantile(stats, alpha), sorted_quantile(stats, 1 - alpha)};
}

Summary summarize(const std::vector<double>& values, Statistic stat, uint64_t seed) {
    Summary s;
    s.n = values.size();
    if (values.empty()) {
        s.center = s.min = s.max = std::numeric_limits<double>::quiet_NaN();
        s.ci = {s.center, s.center};
        return s;
    }
    std::vector<double> v = values;
    s.center = apply(stat, v);
    s.ci = bootstrap_ci(values, stat, seed);
    s.cv = coefficient_of_variation(values);
    auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    s.min = *mn;
    s.max = *mx;
    return s;
}

std::string_view verdict_name(Verdict v) {
    switch (v) {
        case Verdict::kLower:
            return "lower";
        case Verdict::kHigher:
            return "higher";
        case Verdict::kNoSignificantDifference:
            return "no_significant_difference";
        case Verdict::kInsufficientData:
            return "insufficient_data";
    }
    return "insufficient_data";
}

Comparison compare(const std::vector<double>& baseline, const std::vector<double>& candidate,
                   Statistic stat, uint64_t seed) {
    Comparison c;
    if (baseline.empty() || candidate.empty()) {
        c.ratio = std::numeric_limits<double>::quiet_NaN();
        c.ratio_ci = {c.ratio, c.ratio};
        return c;
    }
    std::vector<double> b = baseline, k = candidate;
    double sb = apply(stat, b), sk = apply(stat, k);
    c.ratio = sk / sb;
    c.baseline_ci = bootstrap_ci(baseline, stat, seed);
    c.candidate_ci = bootstrap_ci(candidate, stat, seed ^ 0x9e3779b97f4a7c15ull);
    if (baseline.size() < 2 || candidate.size() < 2) {
        c.ratio_ci = {c.ratio, c.ratio};
        c.verdict = Verdict::kInsufficientData;
        return c;
    }
    const bool enough =
        baseline.size() >= kMinSamplesForVerdict && candidate.size() >= kMinSamplesForVerdict;
    std::mt19937_64 rng(seed ^ 0xc2b2ae3d27d4eb4full);
    std::vector<double> ratios, bb, kb;
    ratios.reserve(kBootstrapResamples);
    for (int i = 0; i < kBootstrapResamples; ++i) {
        resample(baseline, bb, rng);
        resample(candidate, kb, rng);
        ratios.push_back(apply(stat, kb) / apply(stat, bb));
    }
    std::sort(ratios.begin(), ratios.end());
    double alpha = (1 - kConfidence) / 2;
    c.ratio_ci = {sorted_quantile(ratios, alpha), sorted_quantile(ratios, 1 - alpha)};
    if (!enough)
        c.verdict = Verdict::kInsufficientData;
    else if (c.ratio_ci.contains(1.0) || c.baseline_ci.overlaps(c.candidate_ci))
        c.verdict = Verdict::kNoSignificantDifference;
    else
        c.verdict = c.ratio < 1 ? Verdict::kLower : Verdict::kHigher;
    return c;
}

std::string describe_time_ratio(const Comparison& c) {
    switch (c.verdict) {
        case Verdict::kInsufficientData:
            return fmt::format("n < {}: not tested", kMinSamplesForVerdict);
        case Verdict::kNoSignificantDifference:
            return "no significant difference";
        case Verdict::kLower:
            return fmt::format("{:.1f} % faster", (1 - c.ratio) * 100);
        case Verdict::kHigher:
            return fmt::format("{:.1f} % slower", (c.ratio - 1) * 100);
    }
    return "";
}

}  // namespace vtasos::bench
