// Unit tests of nas-harness/kernels/common (npb.h): generator values, argument errors, report
// layout.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "npb.h"

namespace {

constexpr double kSeed = 314159265.0;
constexpr double kA = 1220703125.0;  // 5^13

// Expected values computed independently with exact big-integer arithmetic (Python):
// x_{k+1} = 5^13 * x_k mod 2^46 from x_0 = 314159265.
TEST(Randlc, FirstValuesFromNpbSeed) {
    double x = kSeed;
    EXPECT_EQ(npb::randlc(&x, kA), 55909509111989.0 / 70368744177664.0);
    EXPECT_EQ(x, 55909509111989.0);
    EXPECT_EQ(npb::randlc(&x, kA), 61155031930969.0 / 70368744177664.0);
    EXPECT_EQ(npb::randlc(&x, kA), 45573031421645.0 / 70368744177664.0);
}

TEST(Randlc, HundredthState) {
    double x = kSeed;
    for (int i = 0; i < 100; ++i) npb::randlc(&x, kA);
    EXPECT_EQ(x, 54040635609297.0);
}

TEST(Vranlc, MatchesRepeatedRandlc) {
    std::vector<double> y(1000);
    double xv = kSeed;
    npb::vranlc(1000, &xv, kA, y.data());
    double xs = kSeed;
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(y[i], npb::randlc(&xs, kA)) << "at " << i;
    EXPECT_EQ(xv, xs);
}

TEST(Vranlc, AnyLengthMatchesRepeatedRandlc) {
    for (int n : {1, 3, 7, 8, 9, 13, 64}) {
        std::vector<double> y(n);
        double xv = kSeed;
        npb::vranlc(n, &xv, kA, y.data());
        double xs = kSeed;
        for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], npb::randlc(&xs, kA)) << n << " at " << i;
        EXPECT_EQ(xv, xs) << n;
    }
}

TEST(LcgSkip, MatchesStepping) {
    EXPECT_EQ(npb::lcg_skip(kSeed, kA, 0), kSeed);
    EXPECT_EQ(npb::lcg_skip(kSeed, kA, 1), 55909509111989.0);
    EXPECT_EQ(npb::lcg_skip(kSeed, kA, 100), 54040635609297.0);
    EXPECT_EQ(npb::lcg_power(kA, 0), 1.0);
    EXPECT_EQ(npb::lcg_power(kA, 1), kA);
    double x = kSeed;
    for (int i = 0; i < 12345; ++i) npb::randlc(&x, kA);
    EXPECT_EQ(npb::lcg_skip(kSeed, kA, 12345), x);
}

TEST(Vranlc, ZeroCountLeavesStateAlone) {
    double x = kSeed;
    npb::vranlc(0, &x, kA, nullptr);
    EXPECT_EQ(x, kSeed);
}

TEST(Randlc, ValuesInOpenUnitInterval) {
    double x = kSeed;
    for (int i = 0; i < 10000; ++i) {
        double r = npb::randlc(&x, kA);
        ASSERT_GT(r, 0.0);
        ASSERT_LT(r, 1.0);
    }
}

npb::Options parse(std::vector<std::string> args) {
    std::vector<char*> argv;
    static std::string prog = "npb-test";
    argv.push_back(prog.data());
    for (auto& a : args) argv.push_back(a.data());
    return npb::parse_args(static_cast<int>(argv.size()), argv.data(), "test");
}

TEST(ParseArgs, Defaults) {
    npb::Options o = parse({});
    EXPECT_EQ(o.cls, npb::Class::S);
    EXPECT_EQ(o.threads, 0);
    EXPECT_FALSE(o.corrupt);
}

TEST(ParseArgs, AllOptions) {
    npb::Options o = parse({"--class", "b", "--threads=1", "--corrupt-result"});
    EXPECT_EQ(o.cls, npb::Class::B);
    EXPECT_EQ(o.threads, 1);
    EXPECT_TRUE(o.corrupt);
    EXPECT_EQ(npb::class_char(parse({"--class=C"}).cls), 'C');
}

TEST(ParseArgsDeathTest, BadInputExitsTwoWithMessage) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(parse({"--class", "Q"}), testing::ExitedWithCode(2), "npb-test: bad class 'Q'");
    EXPECT_EXIT(parse({"--class"}), testing::ExitedWithCode(2), "npb-test: option --class needs");
    EXPECT_EXIT(parse({"--threads", "0"}), testing::ExitedWithCode(2), "npb-test: bad thread");
    EXPECT_EXIT(parse({"--threads", "x2"}), testing::ExitedWithCode(2), "npb-test: bad thread");
    EXPECT_EXIT(parse({"--frobnicate"}), testing::ExitedWithCode(2), "npb-test: unknown argument");
    EXPECT_EXIT(parse({"--help"}), testing::ExitedWithCode(0), "");
}

std::string report_of(const npb::Report& r) {
    testing::internal::CaptureStdout();
    npb::print_results(r);
    return testing::internal::GetCapturedStdout();
}

// Golden lines: the field layout of NPB 3.4-OMP print_results.f90 (Fortran kernels) and
// c_print_results.c (IS), see SPEC.md.
TEST(PrintResults, FortranLayout) {
    npb::Report r{"CG", npb::Class::A, 14000, 0, 0, 15, 1.234, 567.891, "floating point", true, 2};
    std::string s = report_of(r);
    EXPECT_EQ(s.rfind("\n\n CG Benchmark Completed.\n", 0), 0u) << s;
    EXPECT_NE(s.find("\n Class           =                        A\n"), std::string::npos);
    EXPECT_NE(s.find("\n Size            =                    14000\n"), std::string::npos);
    EXPECT_NE(s.find("\n Iterations      =                       15\n"), std::string::npos);
    EXPECT_NE(s.find("\n Time in seconds =                     1.23\n"), std::string::npos);
    EXPECT_NE(s.find("\n Total threads   =                        2\n"), std::string::npos);
    EXPECT_NE(s.find("\n Mop/s total     =                   567.89\n"), std::string::npos);
    EXPECT_NE(s.find("\n Mop/s/thread    =                   283.95\n"), std::string::npos);
    EXPECT_NE(s.find("\n Operation type  =           floating point\n"), std::string::npos);
    EXPECT_NE(s.find("\n Verification    =               SUCCESSFUL\n"), std::string::npos);
    EXPECT_NE(s.find("\n Compile options:\n    FC           = "), std::string::npos);
    EXPECT_NE(s.find("\n    FLINKFLAGS   = "), std::string::npos);
    EXPECT_NE(s.find("\n    RAND         = "), std::string::npos);
}

TEST(PrintResults, GridAndEpSizes) {
    npb::Report mg{"MG", npb::Class::A, 256, 256, 256, 4, 1, 1, "floating point", false, 1};
    std::string s = report_of(mg);
    EXPECT_NE(s.find("\n Size            =            256x 256x 256\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\n Verification    =             UNSUCCESSFUL\n"), std::string::npos);
    npb::Report ep{"EP", npb::Class::A, 28, 0, 0, 0, 1, 1, "Random numbers generated", true, 1};
    s = report_of(ep);
    EXPECT_NE(s.find("\n Size            =                268435456\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\n Operation type  = Random numbers generated\n"), std::string::npos);
}

TEST(PrintResults, CLayoutForIs) {
    npb::Report r{"IS", npb::Class::S, 65536, 0, 0, 10, 0.01, 12.5, "keys ranked", true, 1};
    std::string s = report_of(r);
    EXPECT_EQ(s.rfind("\n\n IS Benchmark Completed\n", 0), 0u) << s;
    EXPECT_NE(s.find("\n Size            =                    65536\n"), std::string::npos);
    EXPECT_NE(s.find("\n Operation type  =              keys ranked\n"), std::string::npos);
    EXPECT_EQ(s.find("RAND"), std::string::npos);
    EXPECT_NE(s.find("\n Compile options:\n    CC           = "), std::string::npos);
    EXPECT_NE(s.find("\n    CLINKFLAGS   = "), std::string::npos);
}

}  // namespace
