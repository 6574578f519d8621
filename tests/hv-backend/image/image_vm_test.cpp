// Guest tests with real QEMU (TCG on this machine, KVM where the host has it). Label "vm".
// Every boot is bounded by a timeout; TCG runs ~17x slower than native, more on a busy host.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vtasos/image/image.h"

namespace vi = vtasos::image;
using vtasos::Errc;
namespace fs = std::filesystem;

namespace {
class ImageVm : public ::testing::Test {
protected:
    void SetUp() override {
        if (!vi::find_program("qemu-system-x86_64")) GTEST_SKIP() << "QEMU not installed";
        if (!vi::find_kernel()) GTEST_SKIP() << "no readable /boot/vmlinuz-*";
        dir_ = fs::temp_directory_path() /
               ("vtasos-image-vm-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        setenv("TMPDIR", dir_.c_str(), 1);  // the per-run initrd goes here
    }
    void TearDown() override {
        unsetenv("TMPDIR");
        if (!dir_.empty()) fs::remove_all(dir_);
    }
    // Processes whose command line mentions `needle` (our per-test dir).
    static int processes_mentioning(const std::string& needle) {
        int n = 0;
        for (auto& e : fs::directory_iterator("/proc")) {
            auto name = e.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream f(e.path() / "cmdline");
            std::string c((std::istreambuf_iterator<char>(f)), {});
            if (c.find(needle) != std::string::npos && std::stoi(name) != getpid()) ++n;
        }
        return n;
    }
    vi::RunOptions run_opts(const std::string& img, int cpus, int timeout_s) {
        vi::RunOptions o;
        o.image = img;
        o.qemu.cpus = cpus;
        o.qemu.memory_mb = 512;
        o.out_fd = 1;  // the console goes to the test log
        o.timeout = std::chrono::seconds(timeout_s);
        return o;
    }
    fs::path dir_;
};
}  // namespace

TEST_F(ImageVm, AcceleratorDetectionSaysWhy) {
    auto d = vi::probe_accelerator();
    EXPECT_FALSE(d.reason.empty());
    std::ifstream f("/proc/cpuinfo");
    std::string cpuinfo((std::istreambuf_iterator<char>(f)), {});
    bool hw =
        cpuinfo.find(" vmx") != std::string::npos || cpuinfo.find(" svm") != std::string::npos;
    if (!hw) {  // this project's machines: /dev/kvm is PVM-only
        EXPECT_EQ(d.accel, vi::Accel::kTcg) << d.reason;
        EXPECT_NE(d.reason.find("vmx/svm"), std::string::npos) << d.reason;
    }
    std::printf("accelerator: %s (%s)\n", vi::to_string(d.accel).c_str(), d.reason.c_str());
}

TEST_F(ImageVm, OpenMpAppBootsAndVerifies) {
#ifdef EP_APP
    std::string app = EP_APP;
    std::vector<std::string> args{"--class", "S", "--threads", "2"};
#else
    std::string app = OMP_APP;
    std::vector<std::string> args;
#endif
    auto img = (dir_ / "app.img").string();
    auto b = vi::build_image({.app = app, .out = img, .env = {"OMP_NUM_THREADS=2"}});
    ASSERT_TRUE(b) << b.error().to_string();
    std::printf("%s", b->to_string().c_str());
    auto o = run_opts(img, 2, 400);
    o.timer = vi::TimerPreset::kTickless;
    o.args = args;
    o.args_given = true;
    auto r = vi::run_image(o);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->exit_status, 0);
    EXPECT_NE(r->serial.find("SUCCESSFUL"), std::string::npos);
    EXPECT_GT(r->guest_uptime_at_app_start, 0);
    if (r->kernel_note.empty()) {  // auto boot used the extracted, cached vmlinux (PVH)
        EXPECT_NE(r->kernel.find("/vmlinux-"), std::string::npos) << r->kernel;
    }
    std::printf(
        "accel=%s guest uptime at app start %.2f s, host launch-to-app %.2f s, total %.2f s\n",
        vi::to_string(r->accel.accel).c_str(), r->guest_uptime_at_app_start,
        r->host_seconds_to_app_start, r->host_seconds_total);
}

TEST_F(ImageVm, ExitStatusArgsAndEnvReachTheGuest) {
    auto img = (dir_ / "omp.img").string();
    auto b = vi::build_image({.app = OMP_APP, .out = img, .args = {"3"}});
    ASSERT_TRUE(b) << b.error().to_string();
    auto o = run_opts(img, 1, 300);
    o.args = {"7"};
    o.args_given = true;
    o.env = {"OMP_NUM_THREADS=1"};
    o.boot = vi::KernelBoot::kBzImage;  // the other tests boot PVH (auto) where possible
    auto r = vi::run_image(o);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->exit_status, 7);  // run-time args replace the built-in "3"
    EXPECT_EQ(r->kernel.rfind("/boot/", 0), 0u) << r->kernel;
    EXPECT_NE(r->serial.find("threads=1 "), std::string::npos);
    EXPECT_NE(r->serial.find("SUCCESSFUL"), std::string::npos);
}

TEST_F(ImageVm, OmptToolLoadsInsideTheGuest) {
    // VTASOS_TEST_OMPT_TOOL overrides the tool built in this tree.
    std::string tool;
#ifdef OMPT_TOOL
    tool = OMPT_TOOL;
#endif
    if (const char* e = std::getenv("VTASOS_TEST_OMPT_TOOL"); e && *e) tool = e;
    if (tool.empty() || !fs::exists(tool))
        GTEST_SKIP() << "OMPT tool not built (ninja vtasos-ompt or set VTASOS_TEST_OMPT_TOOL)";
    auto img = (dir_ / "ompt.img").string();
    auto b = vi::build_image(
        {.app = OMP_APP, .out = img, .ompt_tool = tool, .env = {"VTASOS_VERBOSE=1"}});
    ASSERT_TRUE(b) << b.error().to_string();
    auto r = vi::run_image(run_opts(img, 2, 300));
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->exit_status, 0);
    EXPECT_NE(r->serial.find("vtasos-ompt"), std::string::npos);  // the tool said hello
    EXPECT_NE(r->serial.find("SUCCESSFUL"), std::string::npos);
}

TEST_F(ImageVm, TimeoutKillsQemuAndLeavesNothing) {
    auto img = (dir_ / "sleep.img").string();
    auto b = vi::build_image({.app = "/bin/sleep", .out = img, .args = {"100000"}});
    ASSERT_TRUE(b) << b.error().to_string();
    // Long enough that under TCG the app (sleep) usually runs; either way the guest never
    // powers off by itself.
    auto r = vi::run_image(run_opts(img, 1, 12));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kTimeout);
    EXPECT_NE(r.error().message().find("did not power off"), std::string::npos)
        << r.error().message();
    EXPECT_EQ(processes_mentioning(dir_.string()), 0);
    for (auto& e : fs::directory_iterator(dir_))
        EXPECT_EQ(e.path().filename().string().rfind("vtasos-initrd-", 0), std::string::npos);
}

TEST_F(ImageVm, VcpuThreadsFromQmpCanBePinned) {
    cpu_set_t mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
        if (CPU_ISSET(c, &mine)) cpus.push_back(c);
    auto sock = (dir_ / "qmp.sock").string();
    vi::QemuConfig cfg{
        .cpus = 2, .memory_mb = 128, .qmp_socket = sock, .paused = true, .boot = false};
    auto q = vi::launch_qemu(cfg);
    ASSERT_TRUE(q) << q.error().to_string();
    auto threads = vi::qmp_vcpu_threads(sock, std::chrono::seconds(60));
    ASSERT_TRUE(threads) << threads.error().to_string();
    ASSERT_EQ(threads->size(), 2u);
    EXPECT_NE((*threads)[0].thread_id, (*threads)[1].thread_id);  // MTTCG: one thread per vCPU
    for (size_t i = 0; i < threads->size(); ++i) {
        int cpu = cpus[i % cpus.size()];
        auto t = (*threads)[i];
        auto s = vi::pin_thread(t.thread_id, cpu);
        ASSERT_TRUE(s) << s.error().to_string();
        std::ifstream f("/proc/" + std::to_string(q->pid()) + "/task/" +
                        std::to_string(t.thread_id) + "/status");
        std::string line, allowed;
        while (std::getline(f, line))
            if (line.rfind("Cpus_allowed_list:", 0) == 0) allowed = line.substr(line.find(':') + 1);
        EXPECT_EQ(allowed.substr(allowed.find_first_not_of(" \t")), std::to_string(cpu));
    }
    EXPECT_TRUE(vi::qmp_quit(sock));
    int st = 0;
    for (int i = 0; i < 500 && !q->try_wait(&st); ++i) usleep(10000);
    EXPECT_EQ(q->kill_and_wait(), -1);  // already reaped after quit
    auto missing = vi::pin_thread(999999999, 0);
    EXPECT_FALSE(missing);
}
