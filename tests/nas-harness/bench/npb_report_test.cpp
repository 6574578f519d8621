#include "npb_report.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "util.h"

namespace vtasos::bench {
namespace {

std::string fixture(const std::string& name) {
    auto text = read_file(std::filesystem::path(VTASOS_NPB_FIXTURES) / name);
    EXPECT_TRUE(text.ok()) << name;
    return text.ok() ? *text : std::string();
}

TEST(NpbReport, ParsesOurKernelReport) {
    auto r = parse_npb_report(fixture("cg_S_vtasos.txt"));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->benchmark, "CG");
    EXPECT_EQ(r->cls, "S");
    EXPECT_EQ(r->size, "1400");
    EXPECT_EQ(r->iterations, 15);
    EXPECT_DOUBLE_EQ(r->time_s, 0.03);
    EXPECT_DOUBLE_EQ(r->mops_total, 2062.14);
    EXPECT_DOUBLE_EQ(*r->mops_per_worker, 1031.07);
    EXPECT_EQ(r->threads, 2);
    EXPECT_EQ(*r->avail_threads, 2);
    EXPECT_FALSE(r->processes.has_value());
    EXPECT_EQ(r->operation_type, "floating point");
    EXPECT_TRUE(r->verified);
    EXPECT_EQ(r->version, "3.4-vtasos");
    EXPECT_EQ(r->compile_date, "25 Nov 2026");
    EXPECT_EQ(r->workers(), 2);
}

TEST(NpbReport, ParsesCLayoutWithBannerBefore) {
    auto r = parse_npb_report(fixture("is_A_npb34_omp.txt"));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->benchmark, "IS");
    EXPECT_EQ(r->cls, "A");
    EXPECT_EQ(r->size, "8388608");
    EXPECT_EQ(r->iterations, 10);
    EXPECT_DOUBLE_EQ(r->time_s, 0.62);
    EXPECT_DOUBLE_EQ(r->mops_total, 135.27);
    EXPECT_EQ(r->operation_type, "keys ranked");
    EXPECT_EQ(r->version, "3.4.2");
}

TEST(NpbReport, ParsesGridSize) {
    auto r = parse_npb_report(fixture("mg_W_npb34_omp.txt"));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->benchmark, "MG");
    EXPECT_EQ(r->size, "128x128x128");
    EXPECT_EQ(r->threads, 1);
    EXPECT_TRUE(r->verified);
}

TEST(NpbReport, ParsesMpiReportWithProcesses) {
    auto r = parse_npb_report(fixture("ep_B_npb34_mpi.txt"));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->benchmark, "EP");
    EXPECT_EQ(r->cls, "B");
    EXPECT_EQ(r->size, "2147483648");
    EXPECT_EQ(r->iterations, 0);
    EXPECT_EQ(*r->processes, 4);
    EXPECT_EQ(*r->active_processes, 4);
    EXPECT_EQ(r->threads, 1);  // no thread lines: one thread per process
    EXPECT_EQ(r->workers(), 4);
    EXPECT_DOUBLE_EQ(*r->mops_per_worker, 23.92);
    EXPECT_EQ(r->operation_type, "Random numbers generated");
}

TEST(NpbReport, UnsuccessfulIsAValidReport) {
    auto r = parse_npb_report(fixture("cg_A_unsuccessful.txt"));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_FALSE(r->verified);
    EXPECT_EQ(r->cls, "A");
}

TEST(NpbReport, TruncatedReportNamesMissingFields) {
    auto r = parse_npb_report(fixture("ft_S_truncated.txt"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kParse);
    const auto& m = r.error().message();
    EXPECT_NE(m.find("FT"), std::string::npos) << m;
    EXPECT_NE(m.find("missing field(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("Time in seconds"), std::string::npos) << m;
    EXPECT_NE(m.find("Mop/s total"), std::string::npos) << m;
    EXPECT_NE(m.find("Verification"), std::string::npos) << m;
    EXPECT_EQ(m.find("Class,"), std::string::npos) << m;  // Class was there
    EXPECT_NE(m.find("truncated"), std::string::npos) << m;
}

TEST(NpbReport, CutAfterIterations) {
    auto r = parse_npb_report(fixture("ft_S_cut.txt"));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("Time in seconds"), std::string::npos);
    EXPECT_NE(r.error().message().find("last field read: 'Iterations'"), std::string::npos)
        << r.error().message();
}

TEST(NpbReport, NoReport) {
    auto r = parse_npb_report(fixture("not_a_report.txt"));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("Benchmark Completed"), std::string::npos);
    EXPECT_FALSE(parse_npb_report("").ok());
}

TEST(NpbReport, BadNumberIsNamed) {
    auto text = fixture("cg_S_vtasos.txt");
    auto at = text.find("0.03");
    text.replace(at, 4, "fast");
    auto r = parse_npb_report(text);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("'Time in seconds' = 'fast' is not a number"),
              std::string::npos)
        << r.error().message();
}

TEST(NpbReport, BadVerificationValue) {
    auto text = fixture("cg_S_vtasos.txt");
    auto at = text.find("SUCCESSFUL");
    text.replace(at, 10, "MAYBE");
    auto r = parse_npb_report(text);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("MAYBE"), std::string::npos);
}

TEST(NpbReport, FirstReportWinsAndTrailingTextIgnored) {
    auto text = fixture("cg_S_vtasos.txt") + fixture("mg_W_npb34_omp.txt");
    auto r = parse_npb_report(text);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->benchmark, "CG");
}

}  // namespace
}  // namespace vtasos::bench
