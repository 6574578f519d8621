// End-to-end: the real kernels at class S, one repetition, native plus a mode that cannot run
// here (kvm): results.json validates, report.md and non-empty SVG/PNG charts exist, and kvm is
// recorded as skipped with its reason. Label: integration.
#include <gtest/gtest.h>

#include "experiments.h"
#include "schema.h"
#include "test_util.h"

namespace vtasos::bench {
namespace {

TEST(BenchE2e, ClassSAllKernelsNativeAndSkippedKvm) {
    testing::TempDir dir;
    auto out = dir.path() / "out";
    auto r =
        testing::run_bench({"scaling", "--kernels", "ep,is,cg,mg,ft", "--class", "S", "--threads",
                            "1,2", "--modes", "native,kvm", "--reps", "1", "--warmup", "0",
                            "--kernel-dir", VTASOS_REAL_KERNEL_DIR, "--vtasos-image",
                            "/nonexistent/vtasos-image", "--out", out.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    auto j = testing::load_json(out / "results.json");
    auto errors = validate_json(j, results_schema());
    EXPECT_TRUE(errors.empty()) << join(errors, "\n");
    ASSERT_EQ(j["runs"].size(), 10u);
    for (const auto& run : j["runs"]) {
        EXPECT_EQ(run["status"], "ok") << run.dump(2);
        EXPECT_TRUE(run["npb"]["verified"].get<bool>()) << run["benchmark"];
        EXPECT_EQ(run["npb"]["class"], "S");
        EXPECT_EQ(run["npb"]["threads"], run["threads"]);
    }
    ASSERT_EQ(j["skipped"].size(), 1u);
    EXPECT_EQ(j["skipped"][0]["name"], "kvm");
    EXPECT_FALSE(j["skipped"][0]["reason"].get<std::string>().empty());
    EXPECT_TRUE(testing::non_empty_file(out / "report.md"));
    for (const char* f :
         {"scaling-time.svg", "scaling-time.png", "scaling-relative.svg", "scaling-relative.png"})
        EXPECT_TRUE(testing::non_empty_file(out / "charts" / f)) << f;
    auto md = read_file(out / "report.md");
    ASSERT_TRUE(md.ok());
    EXPECT_NE(md->find("| kvm | **skipped** |"), std::string::npos);
    EXPECT_NE(r.out.find("| cg | S | 2 | native | 1/1 |"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vtasos::bench
