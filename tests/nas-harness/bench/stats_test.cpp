#include "stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "fwq_report.h"
#include "result.h"
#include "util.h"

namespace vtasos::bench {
namespace {

TEST(Stats, MedianAndQuantile) {
    EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
    EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
    EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5}, 0), 1);
    EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5}, 1), 5);
    EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5}, 0.25), 2);
    EXPECT_TRUE(std::isnan(median({})));
}

TEST(Stats, MeanStdevCv) {
    std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
    EXPECT_DOUBLE_EQ(mean(v), 5);
    EXPECT_NEAR(stdev(v), 2.138089935, 1e-9);
    EXPECT_NEAR(coefficient_of_variation(v), 2.138089935 / 5, 1e-9);
    EXPECT_EQ(stdev({1}), 0);
    EXPECT_EQ(coefficient_of_variation({1}), 0);
}

TEST(Stats, BootstrapIsDeterministicForASeed) {
    std::vector<double> v{1.01, 0.98, 1.05, 1.00, 0.97, 1.03, 1.02};
    auto a = bootstrap_ci(v, Statistic::kMedian, 42);
    auto b = bootstrap_ci(v, Statistic::kMedian, 42);
    EXPECT_EQ(a.low, b.low);
    EXPECT_EQ(a.high, b.high);
    EXPECT_LE(a.low, median(v));
    EXPECT_GE(a.high, median(v));
    EXPECT_GE(a.low, 0.97);
    EXPECT_LE(a.high, 1.05);
    // Another seed may differ but stays within the sample range.
    auto c = bootstrap_ci(v, Statistic::kMean, 7);
    EXPECT_GE(c.low, 0.97);
    EXPECT_LE(c.high, 1.05);
}

TEST(Stats, BootstrapKnownValuesPinTheGenerator) {
    // mt19937_64 is specified by the standard, so these numbers hold on every platform; a change
    // here means reports rendered from old results.json files would change.
    std::vector<double> v{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    auto ci = bootstrap_ci(v, Statistic::kMean, 1);
    auto again = bootstrap_ci(v, Statistic::kMean, 1);
    EXPECT_EQ(ci.low, again.low);
    EXPECT_DOUBLE_EQ(ci.low, 3.6);
    EXPECT_DOUBLE_EQ(ci.high, 7.2);
}

TEST(Stats, DegenerateSamples) {
    auto one = bootstrap_ci({3.0}, Statistic::kMedian, 1);
    EXPECT_EQ(one.low, 3.0);
    EXPECT_EQ(one.high, 3.0);
    auto none = bootstrap_ci({}, Statistic::kMedian, 1);
    EXPECT_TRUE(std::isnan(none.low));
    auto s = summarize({2, 2, 2}, Statistic::kMedian, 1);
    EXPECT_EQ(s.n, 3u);
    EXPECT_EQ(s.center, 2);
    EXPECT_EQ(s.ci.low, 2);
    EXPECT_EQ(s.cv, 0);
}

TEST(Stats, ClearDifferenceIsReported) {
    std::vector<double> base{1.00, 1.01, 0.99, 1.00, 1.02};
    std::vector<double> fast{0.80, 0.81, 0.79, 0.80, 0.82};
    auto c = compare(base, fast, Statistic::kMedian, 3);
    EXPECT_EQ(c.verdict, Verdict::kLower);
    EXPECT_NEAR(c.ratio, 0.8, 1e-9);
    EXPECT_LT(c.ratio_ci.high, 1.0);
    EXPECT_NE(describe_time_ratio(c).find("20.0 % faster"), std::string::npos)
        << describe_time_ratio(c);
    auto d = compare(fast, base, Statistic::kMedian, 3);
    EXPECT_EQ(d.verdict, Verdict::kHigher);
    EXPECT_NE(describe_time_ratio(d).find("slower"), std::string::npos);
}

TEST(Stats, NoiseIsNoSignificantDifference) {
    // A 1 % median gap inside 5 % noise: not a win.
    std::vector<double> base{1.00, 1.05, 0.95, 1.02, 0.98};
    std::vector<double> cand{0.99, 1.04, 0.94, 1.01, 0.97};
    auto c = compare(base, cand, Statistic::kMedian, 5);
    EXPECT_LT(c.ratio, 1.0);
    EXPECT_EQ(c.verdict, Verdict::kNoSignificantDifference);
    EXPECT_EQ(describe_time_ratio(c), "no significant difference");
}

TEST(Stats, ShiftedOverlappingSamplesAreNoDifference) {
    // The same spread shifted by 4 %: the CIs overlap, so no difference is claimed.
    std::vector<double> base{1.0, 1.1, 1.2, 1.3, 1.4};
    std::vector<double> cand{1.05, 1.15, 1.25, 1.35, 1.45};
    auto c = compare(base, cand, Statistic::kMedian, 9);
    EXPECT_TRUE(c.baseline_ci.overlaps(c.candidate_ci));
    EXPECT_EQ(c.verdict, Verdict::kNoSignificantDifference);
}

TEST(Stats, TooFewSamples) {
    auto c = compare({1.0}, {0.5}, Statistic::kMedian, 1);
    EXPECT_EQ(c.verdict, Verdict::kInsufficientData);
    EXPECT_DOUBLE_EQ(c.ratio, 0.5);
    EXPECT_EQ(verdict_name(c.verdict), "insufficient_data");
    // Two samples each, completely separated: still no verdict (1 in 3 by chance).
    auto two = compare({1.0, 1.01}, {0.5, 0.51}, Statistic::kMedian, 1);
    EXPECT_EQ(two.verdict, Verdict::kInsufficientData);
    EXPECT_LT(two.ratio_ci.high, 1.0);
    EXPECT_EQ(describe_time_ratio(two), "n < 3: not tested");
    auto three = compare({1.0, 1.01, 1.02}, {0.5, 0.51, 0.52}, Statistic::kMedian, 1);
    EXPECT_EQ(three.verdict, Verdict::kLower);
    auto e = compare({}, {1.0}, Statistic::kMedian, 1);
    EXPECT_EQ(e.verdict, Verdict::kInsufficientData);
}

TEST(Stats, IdenticalSamplesAreNoDifference) {
    auto c = compare({1, 1, 1}, {1, 1, 1}, Statistic::kMedian, 1);
    EXPECT_EQ(c.verdict, Verdict::kNoSignificantDifference);
    EXPECT_DOUBLE_EQ(c.ratio, 1);
}

TEST(Errc, TableAgreesWithEnum) {
    std::set<std::string_view> names;
    for (int i = 0; i < kErrcCount; ++i) {
        auto code = static_cast<Errc>(i);
        EXPECT_FALSE(errc_name(code).empty()) << i;
        EXPECT_FALSE(errc_message(code).empty()) << i;
        EXPECT_TRUE(names.insert(errc_name(code)).second) << errc_name(code);
    }
    EXPECT_EQ(errc_name(Errc::kOk), "ok");
    EXPECT_EQ(errc_name(Errc::kInternal), "internal");
    EXPECT_EQ(Error(Errc::kTimeout, "x").to_string(), "timeout: x");
    EXPECT_EQ(Error(Errc::kIo, "x").with_context("ctx").message(), "ctx: x");
}

TEST(Util, Durations) {
    EXPECT_EQ(parse_duration("90")->count(), 90000);
    EXPECT_EQ(parse_duration("5m")->count(), 300000);
    EXPECT_EQ(parse_duration("1h30m")->count(), 5400000);
    EXPECT_EQ(parse_duration("500ms")->count(), 500);
    EXPECT_EQ(parse_duration("2.5s")->count(), 2500);
    EXPECT_FALSE(parse_duration("").ok());
    EXPECT_FALSE(parse_duration("0").ok());
    EXPECT_FALSE(parse_duration("5 parsecs").ok());
    EXPECT_FALSE(parse_duration("m").ok());
    EXPECT_EQ(format_clock(65), "1:05");
    EXPECT_EQ(format_clock(3725), "1:02:05");
}

TEST(Util, Lists) {
    EXPECT_EQ(split_list(" cg, ft,,mg "), (std::vector<std::string>{"cg", "ft", "mg"}));
    EXPECT_EQ(*parse_positive_ints("1,2,4", "--threads"), (std::vector<int>{1, 2, 4}));
    auto zero = parse_positive_ints("0", "--threads");
    ASSERT_FALSE(zero.ok());
    EXPECT_NE(zero.error().message().find("--threads: '0'"), std::string::npos);
    EXPECT_FALSE(parse_positive_ints("two", "--threads").ok());
    EXPECT_EQ(shell_quote({"a", "b c", "it's"}), "a 'b c' 'it'\\''s'");
}

TEST(Fwq, ComputeFormatParseRoundTrip) {
    std::vector<std::vector<double>> t{{100, 100, 150, 100, 1100}, {200, 210, 200, 200, 200}};
    auto r = compute_fwq(t, 1234);
    EXPECT_EQ(r.threads, 2);
    EXPECT_EQ(r.samples_per_thread, 5);
    EXPECT_DOUBLE_EQ(r.quantum_ns, 100);
    EXPECT_DOUBLE_EQ(r.detour_min_ns, 0);
    EXPECT_DOUBLE_EQ(r.detour_max_ns, 1000);
    EXPECT_NEAR(r.noise_fraction, (50.0 + 1000 + 10) / (1550.0 + 1010), 1e-12);
    ASSERT_EQ(r.cdf.size(), fwq_cdf_probabilities().size());
    EXPECT_DOUBLE_EQ(r.cdf.back().first, 1.0);
    EXPECT_DOUBLE_EQ(r.cdf.back().second, 1000);
    auto parsed = parse_fwq_report("noise before\n" + format_fwq_report(r));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    EXPECT_EQ(parsed->threads, 2);
    EXPECT_EQ(parsed->work_per_quantum, 1234);
    EXPECT_NEAR(parsed->noise_fraction, r.noise_fraction, 1e-6);
    EXPECT_EQ(parsed->cdf.size(), r.cdf.size());
    auto cut = format_fwq_report(r);
    cut = cut.substr(0, cut.find(" Detour p99"));
    auto bad = parse_fwq_report(cut);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("Detour p99 ns"), std::string::npos)
        << bad.error().message();
}

}  // namespace
}  // namespace vtasos::bench
