// vtasos-bench as a user runs it: bad input, failing binaries, Ctrl-C, missing gnuplot.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "experiments.h"
#include "test_util.h"

namespace vtasos::bench {
namespace {
using testing::TempDir;

struct BadInput {
    std::vector<std::string> args;
    std::string message;
};

void PrintTo(const BadInput& b, std::ostream* os) { *os << join(b.args, " "); }

class BenchBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(BenchBadInput, ExitsTwoWithAClearMessage) {
    TempDir dir;
    auto args = GetParam().args;
    args.push_back("--out");
    args.push_back((dir.path() / "out").string());
    auto r = testing::run_bench(args);
    EXPECT_EQ(r.exit_code, kExitBadInput) << r.err;
    EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "out" / "results.json"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BenchBadInput,
    ::testing::Values(
        BadInput{{"scaling", "--kernels", "ep,xx"}, "--kernels: unknown kernel 'xx'"},
        BadInput{{"scaling", "--kernels", "bt"}, "other NPB programs need --npb-bin"},
        BadInput{{"scaling", "--class", "Q"},
                 "--class: unknown class 'Q' (expected S, W, A, B, C)"},
        BadInput{{"scaling", "--modes", "native,warp"}, "--modes: unknown value 'warp'"},
        BadInput{{"scaling", "--threads", "0"}, "--threads: '0' is not an integer in 1..4096"},
        BadInput{{"scaling", "--threads", "1,-2"}, "--threads: '-2'"},
        BadInput{{"scaling", "--reps", "0"}, "--reps: must be at least 1"},
        BadInput{{"scaling", "--timeout", "soon"}, "--timeout: duration 'soon'"},
        BadInput{{"scaling", "--mpi-np", "2"}, "--mpi-np needs --npb-bin"},
        BadInput{{"scaling", "--npb-bin", "/nonexistent"},
                 "--npb-bin /nonexistent: not a directory"},
        BadInput{{"pairs", "--pairs", "cg+ft,mg"}, "--pairs: 'mg' is not two kernels"},
        BadInput{{"pairs", "--budget", "0"}, "--budget: duration '0': must be positive"},
        BadInput{{"corun", "--policies", "cfs-active,fifo"}, "--policies: unknown value 'fifo'"},
        BadInput{{"noise", "--modes", "bogus"}, "--modes: unknown value 'bogus'"},
        BadInput{{"overhead", "--class", "Z"}, "--class: unknown class 'Z'"},
        BadInput{{"scaling", "--class", "S,Q"}, "--class: unknown class 'Q'"},
        BadInput{{"pairs", "--class", "S,W"}, "--class: unknown class 'S,W'"},
        BadInput{{"scaling", "--no-such-flag"}, "--no-such-flag"},
        BadInput{{"frobnicate"}, "unknown subcommand 'frobnicate' (expected scaling, pairs"}));

TEST(BenchCli, NoSubcommandIsBadInput) {
    auto r = testing::run_bench({});
    EXPECT_EQ(r.exit_code, kExitBadInput);
    auto h = testing::run_bench({"scaling", "--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("--kernels"), std::string::npos);
}

TEST(BenchCli, UnwritableResultsDirectory) {
    TempDir dir;
    auto file = dir.path() / "a-file";
    ASSERT_TRUE(write_file(file, "x").ok());
    auto kernels = testing::make_fake_kernel_dir(dir.path());
    auto r =
        testing::run_bench({"scaling", "--kernels", "ep", "--class", "S", "--modes", "native",
                            "--kernel-dir", kernels.string(), "--out", (file / "out").string()});
    EXPECT_EQ(r.exit_code, kExitBadInput) << r.err;
    EXPECT_NE(r.err.find("cannot create results directory " + (file / "out").string()),
              std::string::npos)
        << r.err;
}

TEST(BenchCli, CrashingAndHangingKernelsAreRecordedOthersStillRun) {
    TempDir dir;
    auto kernels = testing::make_fake_kernel_dir(dir.path(), {"ep", "is", "cg", "mg"});  // no ft
    auto out = dir.path() / "out";
    auto r = testing::run_bench(
        {"scaling",
         "--kernels",
         "ep,is,cg,mg,ft",
         "--class",
         "S",
         "--threads",
         "1",
         "--modes",
         "native",
         "--reps",
         "1",
         "--warmup",
         "0",
         "--timeout",
         "1s",
         "--kernel-dir",
         kernels.string(),
         "--out",
         out.string(),
         "--no-progress"},
        {{"FAKE_NPB_CG", "crash"}, {"FAKE_NPB_MG", "hang"}, {"FAKE_NPB_IS", "unverified"}});
    EXPECT_EQ(r.exit_code, kExitRunFailed) << r.err;
    auto j = testing::load_json(out / "results.json");
    ASSERT_EQ(j["runs"].size(), 5u);
    std::map<std::string, nlohmann::json> by;
    for (const auto& run : j["runs"]) by[run["benchmark"]] = run;
    EXPECT_EQ(by["ep"]["status"], "ok");
    EXPECT_EQ(by["is"]["status"], "unverified");
    EXPECT_EQ(by["cg"]["status"], "crashed");
    EXPECT_EQ(by["cg"]["signal"], SIGABRT);
    EXPECT_NE(by["cg"]["error"].get<std::string>().find("SIGABRT"), std::string::npos);
    EXPECT_EQ(by["mg"]["status"], "timeout");
    EXPECT_NE(by["mg"]["error"].get<std::string>().find("timed out"), std::string::npos);
    EXPECT_EQ(by["ft"]["status"], "failed");
    EXPECT_NE(by["ft"]["error"].get<std::string>().find("does not exist"), std::string::npos);
    auto md = read_file(out / "report.md");
    ASSERT_TRUE(md.ok());
    EXPECT_NE(md->find("Runs that did not succeed (4)"), std::string::npos) << *md;
    EXPECT_NE(r.out.find("Failed runs: 4"), std::string::npos) << r.out;
}

TEST(BenchCli, MissingGnuplotStillWritesTheReport) {
    TempDir dir;
    auto kernels = testing::make_fake_kernel_dir(dir.path());
    auto out = dir.path() / "out";
    auto r =
        testing::run_bench({"scaling", "--kernels", "ep", "--class", "S", "--threads", "1",
                            "--modes", "native", "--reps", "2", "--kernel-dir", kernels.string(),
                            "--out", out.string(), "--gnuplot", "/nonexistent/gnuplot"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    EXPECT_NE(r.err.find("warning: charts skipped: gnuplot"), std::string::npos) << r.err;
    auto md = read_file(out / "report.md");
    ASSERT_TRUE(md.ok());
    EXPECT_NE(md->find("charts skipped: gnuplot"), std::string::npos);
    EXPECT_NE(md->find("| ep | S | 1 | native | 2/2 |"), std::string::npos) << *md;
    EXPECT_TRUE(testing::non_empty_file(out / "charts" / "scaling-time.gp"));
    EXPECT_FALSE(std::filesystem::exists(out / "charts" / "scaling-time.svg"));
}

TEST(BenchCli, InterruptKeepsFinishedRunsAndWritesTheReport) {
    TempDir dir;
    auto kernels = testing::make_fake_kernel_dir(dir.path());
    auto out = dir.path() / "out";
    ProcessSpec spec;
    spec.argv = {VTASOS_BENCH_EXE, "scaling",
                 "--kernels",      "ep,cg",
                 "--class",        "S",
                 "--threads",      "1",
                 "--modes",        "native",
                 "--reps",         "50",
                 "--kernel-dir",   kernels.string(),
                 "--out",          out.string(),
                 "--gnuplot",      "/nonexistent/gnuplot"};
    spec.set_env = {{"FAKE_NPB_SLEEP", "0.2"}};
    auto child = Child::spawn(spec, dir.path() / "bench.log");
    ASSERT_TRUE(child.ok()) << child.error().message();
    // Ctrl-C once a few runs are recorded.
    bool sent = false;
    for (int i = 0; i < 400 && !sent; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto text = read_file(out / "results.json");
        if (!text.ok()) continue;
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (!j.is_discarded() && j["runs"].size() >= 3) {
            ::kill(child->pid(), SIGINT);
            sent = true;
        }
    }
    ASSERT_TRUE(sent);
    for (int i = 0; i < 300 && child->running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_FALSE(child->running());
    auto log = read_file(dir.path() / "bench.log");
    EXPECT_EQ(child->exit_status(), "exit 130") << (log.ok() ? *log : "");
    auto j = testing::load_json(out / "results.json");
    EXPECT_TRUE(j["interrupted"].get<bool>());
    EXPECT_GE(j["runs"].size(), 3u);
    EXPECT_LT(j["runs"].size(), 100u);
    auto md = read_file(out / "report.md");
    ASSERT_TRUE(md.ok());
    EXPECT_NE(md->find("interrupted"), std::string::npos);
}

}  // namespace
}  // namespace vtasos::bench
