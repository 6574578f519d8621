// End-to-end runs of every experiment against stand-ins (fake kernels, fake vtasosd/vtasosctl,
// a fake OMPT library file): fast and independent of the real kernels and daemon.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "experiments.h"
#include "schema.h"
#include "test_util.h"

namespace vtasos::bench {
namespace {
using testing::TempDir;
namespace fs = std::filesystem;

struct Fakes {
    TempDir dir;
    fs::path kernels = testing::make_fake_kernel_dir(dir.path());
    fs::path lib = [this] {
        auto p = dir.path() / "libvtasos-ompt.so";
        EXPECT_TRUE(write_file(p, "not really a library").ok());
        return p;
    }();
    std::vector<std::string> tool_flags() const {
        return {"--kernel-dir", kernels.string(),      "--vtasosd",  VTASOS_FAKE_VTASOSD,
                "--vtasosctl",  VTASOS_FAKE_VTASOSCTL, "--ompt-lib", lib.string(),
                // No real guests in the fake tests (tests/hv-backend/image/guest_bench_test).
                "--vtasos-image", "/nonexistent/vtasos-image"};
    }
};

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

void expect_valid(const fs::path& out) {
    auto j = testing::load_json(out / "results.json");
    auto errors = validate_json(j, results_schema());
    EXPECT_TRUE(errors.empty()) << join(errors, "\n");
    auto v = testing::run_bench({"validate", out.string()});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_TRUE(testing::non_empty_file(out / "report.md"));
    EXPECT_TRUE(testing::non_empty_file(out / "results.csv"));
}

void expect_charts(const fs::path& out, const std::vector<std::string>& stems) {
    for (const auto& s : stems)
        for (const char* ext : {".svg", ".png"})
            EXPECT_TRUE(testing::non_empty_file(out / "charts" / (s + ext))) << s << ext;
}

TEST(BenchE2eFake, ScalingNativeVtasosAndSkippedKvm) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench(
        cat({"scaling", "--kernels", "ep,cg", "--class", "S", "--threads", "1,2", "--modes",
             "native,vtasos,kvm", "--reps", "2", "--out", out.string()},
            f.tool_flags()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expect_valid(out);
    expect_charts(out, {"scaling-time", "scaling-relative"});
    auto j = testing::load_json(out / "results.json");
    EXPECT_EQ(j["runs"].size(), 2u * 2 * 2 * 3);  // kernels x threads x modes x (warm-up + reps)
    ASSERT_EQ(j["skipped"].size(), 1u);
    EXPECT_EQ(j["skipped"][0]["name"], "kvm");
    // Skipped either because vtasos-image is not built, or because guest runs
    // are not wired into the harness yet: both name the image builder.
    EXPECT_NE(j["skipped"][0]["reason"].get<std::string>().find("vtasos-image"),
              std::string::npos);
    // ABAB: consecutive runs alternate between the modes.
    EXPECT_EQ(j["runs"][0]["variant"], "native");
    EXPECT_EQ(j["runs"][1]["variant"], "vtasos");
    EXPECT_EQ(j["runs"][2]["variant"], "native");
    // vtasos runs went through vtasosctl with the tool library.
    const auto& v = j["runs"][1];
    EXPECT_EQ(v["status"], "ok");
    EXPECT_EQ(v["command"][0], VTASOS_FAKE_VTASOSCTL);
    EXPECT_EQ(v["command"][3], "run");
    EXPECT_EQ(v["env"]["OMP_TOOL_LIBRARIES"], f.lib.string());
    EXPECT_EQ(j["runs"][0]["env"]["OMP_TOOL_LIBRARIES"], "<unset>");
    EXPECT_EQ(j["machine"]["logical_cpus"].get<int>() >= 1, true);
    // Output: the table and the paths.
    EXPECT_NE(r.out.find("| ep | S | 1 | vtasos | 2/2 |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Skipped: kvm:"), std::string::npos);
    EXPECT_NE(r.out.find("Report:  " + (out / "report.md").string()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("scaling-relative.svg"), std::string::npos);
    EXPECT_NE(r.err.find("ETA"), std::string::npos);

    // `report` re-renders the same report from results.json alone.
    auto before = read_file(out / "report.md");
    std::filesystem::remove(out / "report.md");
    std::filesystem::remove(out / "charts" / "scaling-time.svg");
    auto rep = testing::run_bench({"report", out.string()});
    EXPECT_EQ(rep.exit_code, 0) << rep.err;
    auto after = read_file(out / "report.md");
    ASSERT_TRUE(before.ok() && after.ok());
    EXPECT_EQ(*before, *after);
    EXPECT_TRUE(testing::non_empty_file(out / "charts" / "scaling-time.svg"));
}

TEST(BenchE2eFake, ScalingSeveralClasses) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench(
        cat({"scaling", "--kernels", "ep", "--class", "s,W", "--threads", "1", "--modes", "native",
             "--reps", "1", "--warmup", "0", "--out", out.string()},
            f.tool_flags()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = testing::load_json(out / "results.json");
    ASSERT_EQ(j["runs"].size(), 2u);
    EXPECT_EQ(j["runs"][0]["npb"]["class"], "S");
    EXPECT_EQ(j["runs"][1]["npb"]["class"], "W");
    EXPECT_EQ(j["parameters"]["classes"], nlohmann::json::array({"S", "W"}));
    EXPECT_NE(r.out.find("| ep | W | 1 | native | 1/1 |"), std::string::npos) << r.out;
}

TEST(BenchE2eFake, DaemonThatCannotStartSkipsVtasosWithTheReason) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r =
        testing::run_bench(cat({"scaling", "--kernels", "ep", "--class", "S", "--threads", "1",
                                "--modes", "native,vtasos", "--reps", "1", "--out", out.string()},
                               f.tool_flags()),
                           {{"FAKE_VTASOSD_FAIL", "1"}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = testing::load_json(out / "results.json");
    ASSERT_EQ(j["skipped"].size(), 1u);
    auto reason = j["skipped"][0]["reason"].get<std::string>();
    EXPECT_NE(reason.find("exited (exit 1) at start-up"), std::string::npos) << reason;
    EXPECT_NE(reason.find("Read-only file system"), std::string::npos) << reason;
    expect_valid(out);
}

// The daemon vtasos-bench starts is gone afterwards, whether it stayed in the foreground (it is
// told --foreground when its --help offers it) or forked into the background (--pid-file).
void expect_daemon_stopped(const std::vector<std::pair<std::string, std::string>>& extra_env) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto pid_copy = f.dir.path() / "daemon.pid";
    auto env = extra_env;
    env.emplace_back("FAKE_VTASOSD_PID_COPY", pid_copy.string());
    auto r = testing::run_bench(
        cat({"scaling", "--kernels", "ep", "--class", "S", "--threads", "1", "--modes", "vtasos",
             "--reps", "1", "--warmup", "0", "--out", out.string()},
            f.tool_flags()),
        env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto text = read_file(pid_copy);
    ASSERT_TRUE(text.ok());
    int pid = std::atoi(text->c_str());
    ASSERT_GT(pid, 1);
    // Gone, or a zombie waiting for a reaper that is not ours.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
        auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
        gone = !stat.ok() || stat->find(") Z ") != std::string::npos;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(gone) << "daemon " << pid << " still running";
}

TEST(BenchE2eFake, ForegroundDaemonIsStopped) { expect_daemon_stopped({}); }

TEST(BenchE2eFake, BackgroundedDaemonIsStoppedThroughItsPidFile) {
    expect_daemon_stopped({{"FAKE_VTASOSD_NO_FOREGROUND", "1"}});
}

TEST(BenchE2eFake, MissingVtasosToolsSkipWithTheReason) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench({"scaling", "--kernels", "ep", "--class", "S", "--threads", "1",
                                 "--modes", "vtasos,xen", "--reps", "1", "--kernel-dir",
                                 f.kernels.string(), "--vtasosd", "/nonexistent/vtasosd", "--out",
                                 out.string()});
    EXPECT_EQ(r.exit_code, kExitRunFailed) << r.err;  // nothing could run
    auto j = testing::load_json(out / "results.json");
    ASSERT_EQ(j["skipped"].size(), 2u);
    EXPECT_NE(j["skipped"][0]["reason"].get<std::string>().find("--vtasosd /nonexistent/vtasosd"),
              std::string::npos);
    EXPECT_NE(j["skipped"][1]["reason"].get<std::string>().find("Xen"), std::string::npos);
    EXPECT_TRUE(testing::non_empty_file(out / "report.md"));
}

TEST(BenchE2eFake, OverheadToolOnOff) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench(cat({"overhead", "--kernels", "all", "--class", "S", "--threads",
                                     "1", "--reps", "2", "--warmup", "0", "--out", out.string()},
                                    f.tool_flags()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expect_valid(out);
    auto j = testing::load_json(out / "results.json");
    EXPECT_EQ(j["runs"].size(), 5u * 2 * 2);
    EXPECT_EQ(j["runs"][1]["variant"], "tool-on");
    EXPECT_EQ(j["runs"][1]["env"]["OMP_TOOL_LIBRARIES"], f.lib.string());
    EXPECT_EQ(j["runs"][0]["env"]["OMP_TOOL_LIBRARIES"], "<unset>");
    expect_charts(out, {"overhead-time", "overhead-relative"});

    auto out2 = f.dir.path() / "out2";
    auto no_lib =
        testing::run_bench({"overhead", "--kernels", "ep", "--class", "S", "--threads", "1",
                            "--reps", "1", "--kernel-dir", f.kernels.string(), "--ompt-lib",
                            "/nonexistent/libvtasos-ompt.so", "--out", out2.string()});
    EXPECT_EQ(no_lib.exit_code, 0) << no_lib.err;
    auto j2 = testing::load_json(out2 / "results.json");
    ASSERT_EQ(j2["skipped"].size(), 1u);
    EXPECT_EQ(j2["skipped"][0]["name"], "tool-on");
}

TEST(BenchE2eFake, PairsWithBudget) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench(cat({"pairs", "--pairs", "cg+ft", "--class", "S", "--budget", "1s",
                                     "--warmup", "0", "--out", out.string()},
                                    f.tool_flags()),
                                {{"FAKE_NPB_FT", "ok"}, {"FAKE_NPB_SLEEP", "0.1"}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expect_valid(out);
    expect_charts(out, {"pairs-normalised"});
    auto j = testing::load_json(out / "results.json");
    int counted[2][2] = {{0, 0}, {0, 0}};
    for (const auto& run : j["runs"])
        if (run["counted"].get<bool>() && run["status"] == "ok")
            ++counted[run["variant"] == "vtasos"][run["slot"].get<int>()];
    for (auto& cfg : counted)
        for (int n : cfg) EXPECT_GE(n, 3);
    // vtasos tenants get half the CPUs.
    for (const auto& run : j["runs"])
        if (run["variant"] == "vtasos") {
            EXPECT_EQ(run["command"][5],
                      std::to_string(std::max(1, j["machine"]["logical_cpus"].get<int>() / 2)));
            break;
        }
    EXPECT_NE(r.out.find("| cg+ft | cg | vtasos |"), std::string::npos) << r.out;
}

TEST(BenchE2eFake, CorunPoliciesEachGetTheirOwnDaemon) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench(cat({"corun", "--apps", "cg,mg", "--class", "S", "--threads", "2",
                                     "--policies", "cfs-active,cfs-passive,gang,feedback,auto",
                                     "--slice-ms", "20", "--reps", "2", "--warmup", "0", "--out",
                                     out.string()},
                                    f.tool_flags()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expect_valid(out);
    expect_charts(out, {"corun-makespan"});
    auto j = testing::load_json(out / "results.json");
    EXPECT_TRUE(j["skipped"].empty()) << j["skipped"].dump();
    EXPECT_EQ(j["runs"][0]["env"]["OMP_WAIT_POLICY"], "active");
    EXPECT_EQ(j["runs"].size(), 5u * 2 * 2);
    // Each vtasos policy runs through vtasosctl against a daemon started with its policy.
    std::set<std::string> sockets;
    for (const auto& run : j["runs"]) {
        const std::string v = run["variant"];
        if (v.rfind("cfs", 0) == 0) continue;
        auto cmd = run["command"];
        ASSERT_GE(cmd.size(), 3u);
        EXPECT_EQ(cmd[1], "--socket");
        sockets.insert(cmd[2].get<std::string>());
    }
    EXPECT_EQ(sockets.size(), 3u);
    for (const auto& v : j["variants"])
        if (v["name"] == "gang")
            EXPECT_NE(v["detail"].get<std::string>().find("--sched-policy gang --slice-ms 20"),
                      std::string::npos)
                << v.dump();

    // Bad slice lengths and single apps are refused before anything runs.
    auto bad = testing::run_bench(cat({"corun", "--apps", "cg,mg", "--slice-ms", "5", "--out",
                                       (f.dir.path() / "bad").string()},
                                      f.tool_flags()));
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("--slice-ms: 5 is out of range"), std::string::npos) << bad.err;
    auto one = testing::run_bench(
        cat({"corun", "--apps", "ep", "--out", (f.dir.path() / "one").string()}, f.tool_flags()));
    EXPECT_NE(one.exit_code, 0);
    EXPECT_NE(one.err.find("at least two apps"), std::string::npos) << one.err;
}

TEST(BenchE2eFake, NoiseProbe) {
    Fakes f;
    auto out = f.dir.path() / "out";
    auto r = testing::run_bench(cat(
        {"noise", "--modes", "native,vtasos,kvm,kvm-tickless", "--samples", "300", "--quantum-us",
         "50", "--threads", "1", "--reps", "2", "--warmup", "0", "--out", out.string()},
        f.tool_flags()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expect_valid(out);
    expect_charts(out, {"noise-cdf"});
    auto j = testing::load_json(out / "results.json");
    EXPECT_EQ(j["skipped"].size(), 2u);
    ASSERT_GE(j["runs"].size(), 1u);
    const auto& fwq = j["runs"][0]["fwq"];
    EXPECT_EQ(fwq["samples_per_thread"], 300);
    EXPECT_GT(fwq["quantum_ns"].get<double>(), 10000.0);
    EXPECT_NE(r.out.find("| native | 1 | 2 | 300 |"), std::string::npos) << r.out;
}

TEST(BenchE2eFake, ExternalNpbBinariesOpenMpAndMpi) {
    TempDir dir;
    auto bin = dir.path() / "NPB3.4-OMP" / "bin";
    fs::create_directories(bin);
    for (const char* k : {"cg.A.x", "bt.A.x"})
        fs::create_symlink(fs::path(VTASOS_NPB_FIXTURES) / "fake-kernel.sh", bin / k);
    auto out = dir.path() / "out";
    auto r = testing::run_bench({"scaling", "--npb-bin", bin.string(), "--kernels", "cg,bt,ep",
                                 "--class", "A", "--threads", "2", "--modes", "native", "--reps",
                                 "1", "--warmup", "0", "--out", out.string()});
    EXPECT_EQ(r.exit_code, kExitRunFailed) << r.err;  // ep.A.x is missing
    auto j = testing::load_json(out / "results.json");
    ASSERT_EQ(j["runs"].size(), 3u);
    EXPECT_EQ(j["runs"][0]["status"], "ok") << j["runs"][0].dump(2);
    EXPECT_EQ(j["runs"][0]["command"], nlohmann::json::array({(bin / "cg.A.x").string()}));
    EXPECT_EQ(j["runs"][0]["env"]["OMP_NUM_THREADS"], "2");
    EXPECT_EQ(j["runs"][0]["npb"]["class"], "A");
    EXPECT_EQ(j["runs"][1]["status"], "ok");
    EXPECT_EQ(j["runs"][2]["status"], "failed");
    EXPECT_NE(j["runs"][2]["error"].get<std::string>().find("ep.A.x does not exist"),
              std::string::npos);
    EXPECT_EQ(j["parameters"]["npb_bin"], bin.string());

    if (!find_in_path("mpirun")) GTEST_SKIP() << "mpirun not installed";
    auto out2 = dir.path() / "out2";
    auto m = testing::run_bench({"scaling", "--npb-bin", bin.string(), "--mpi-np", "2", "--kernels",
                                 "cg", "--class", "A", "--modes", "native", "--reps", "1",
                                 "--warmup", "0", "--timeout", "120s", "--out", out2.string()});
    EXPECT_EQ(m.exit_code, 0) << m.err;
    auto j2 = testing::load_json(out2 / "results.json");
    ASSERT_EQ(j2["runs"].size(), 1u);
    const auto& run = j2["runs"][0];
    EXPECT_EQ(run["status"], "ok") << run.dump(2);
    EXPECT_EQ(run["threads"], 2);
    EXPECT_EQ(run["command"][1], "-np");
    EXPECT_EQ(run["command"][2], "2");
    EXPECT_EQ(run["command"][3], "--oversubscribe");
    EXPECT_EQ(run["env"]["OMPI_ALLOW_RUN_AS_ROOT"], "1");
    EXPECT_EQ(run["npb"]["processes"], 2);
}

}  // namespace
}  // namespace vtasos::bench
