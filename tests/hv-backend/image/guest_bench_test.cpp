// vtasos-bench's guest modes on real QEMU (TCG here): `scaling --modes kvm,kvm-vtasos` on EP
// class S runs in right-weight guests (kvm-vtasos placed and pinned by the harness's private
// vtasosd through vtasosctl run --vm), verifies, records the accelerator and, under TCG,
// labels the variants emulated and keeps them out of the comparisons with the baseline.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vtasos/image/image.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(GuestBench, ScalingKvmAndKvmVtasosOnEpClassSAreEmulatedUnderTcg) {
    if (!vtasos::image::find_program("qemu-system-x86_64")) GTEST_SKIP() << "QEMU not installed";
    if (!vtasos::image::find_kernel()) GTEST_SKIP() << "no readable /boot/vmlinuz-*";
    if (::geteuid() != 0) GTEST_SKIP() << "kvm-vtasos needs root (the daemon's cgroups)";
    char tmpl[] = "/tmp/vtasos-guest-bench-XXXXXX";
    fs::path dir = ::mkdtemp(tmpl);
    fs::path out = dir / "out";
    std::string cmd = std::string(VTASOS_BENCH) +
                      " scaling --kernels ep --class S --threads 2 --modes kvm,kvm-vtasos"
                      " --reps 1 --warmup 0 --timeout 240 --kernel-dir " NPB_DIR
                      " --vtasos-image " VTASOS_IMAGE " --vtasosd " VTASOSD
                      " --vtasosctl " VTASOSCTL " --ompt-lib " OMPT_TOOL " --out " +
                      out.string() + " > " + (dir / "bench.log").string() + " 2>&1";
    int rc = std::system(cmd.c_str());
    std::string log = slurp(dir / "bench.log");
    ASSERT_EQ(rc, 0) << log;
    auto j = json::parse(slurp(out / "results.json"), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << log;
    auto accel = vtasos::image::probe_accelerator();
    ASSERT_EQ(j["variants"].size(), 2u);
    for (const auto& v : j["variants"]) {
        EXPECT_TRUE(v["available"].get<bool>()) << v.dump();
        EXPECT_EQ(v["accel"], vtasos::image::to_string(accel.accel)) << v.dump();
        EXPECT_EQ(v["emulated"].get<bool>(), accel.emulated()) << v.dump();
    }
    ASSERT_EQ(j["runs"].size(), 2u) << log;
    for (const auto& r : j["runs"]) {
        EXPECT_EQ(r["status"], "ok")
            << r.dump(2) << slurp(out / r["stdout_log"].get<std::string>());
        EXPECT_TRUE(r["npb"]["verified"].get<bool>());
        std::string command = r["command"].dump();
        EXPECT_NE(command.find(vtasos::image::to_string(accel.accel)), std::string::npos)
            << "the accelerator is on the run's command line: " << command;
    }
    EXPECT_NE(j["runs"][1]["command"].dump().find("--vm"), std::string::npos);
    if (accel.emulated()) {
        for (const auto& row : j["summary"])
            EXPECT_TRUE(!row.contains("vs_baseline") || row["vs_baseline"].is_null())
                << "emulated runs entered a comparison: " << row.dump();
        std::string md = slurp(out / "report.md");
        EXPECT_NE(md.find("| kvm | ran (baseline) |"), std::string::npos) << md;
        EXPECT_NE(md.find("| kvm-vtasos | ran, **emulated** (tcg)"), std::string::npos) << md;
        EXPECT_NE(md.find("EMULATED"), std::string::npos) << md;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}

}  // namespace
