// The Linux driver against the real kernel: real cgroups (found through
// /proc/self/mountinfo), real child processes, checked through /proc.
// Needs root (skips otherwise). Each run uses its own parent cgroup
// "vtasos-drvtest-<pid>" so it never touches a running vtasosd's "vtasos".
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vtasos/drivers/driver.h"
#include "vtasos/drivers/internal/linux.h"

namespace vtasos {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr pid_t kNoSuchPid = 4194311;  // above the largest possible pid_max (2^22)

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string task_path(pid_t pid, pid_t tid, const char* file) {
    return "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/" + file;
}

std::string status_field(const std::string& status_path, const std::string& key) {
    std::istringstream in(slurp(status_path));
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + ":", 0) == 0) {
            auto v = line.substr(key.size() + 1);
            auto b = v.find_first_not_of(" \t");
            return b == std::string::npos ? "" : v.substr(b);
        }
    return "";
}

std::vector<pid_t> tasks_of(pid_t pid) {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& e :
         fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "task", ec))
        out.push_back(std::stoi(e.path().filename()));
    std::sort(out.begin(), out.end());
    return out;
}

std::string affinity(pid_t pid, pid_t tid) {
    return status_field(task_path(pid, tid, "status"), "Cpus_allowed_list");
}

// "cpuset" -> "/vtasos-drvtest-1/t1" from /proc/PID/cgroup ("" key = v2 line "0::/...").
std::string cgroup_of(pid_t pid, const std::string& controller) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
    for (std::string line; std::getline(in, line);) {
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string ctl = line.substr(a + 1, b - a - 1);
        std::istringstream cs(ctl);
        for (std::string c; std::getline(cs, c, ',');)
            if (c == controller) return line.substr(b + 1);
        if (controller.empty() && ctl.empty()) return line.substr(b + 1);
    }
    return "?";
}

// CPU time of all threads in ns (schedstat: first field is time on CPU).
long long cpu_ns(pid_t pid) {
    long long sum = 0;
    for (pid_t tid : tasks_of(pid)) {
        std::istringstream in(slurp(task_path(pid, tid, "schedstat")));
        long long ns = 0;
        in >> ns;
        sum += ns;
    }
    return sum;
}

long long cpu_ns_over(pid_t pid, std::chrono::milliseconds d) {
    long long a = cpu_ns(pid);
    std::this_thread::sleep_for(d);
    return cpu_ns(pid) - a;
}

// A child with two threads: the main thread sleeps, the worker spins.
pid_t spawn_child() {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        std::thread([] {
            volatile unsigned long x = 0;
            for (;;) x = x + 1;
        }).detach();
        for (;;) ::pause();
    }
    for (int i = 0; i < 500 && tasks_of(pid).size() < 2; ++i) std::this_thread::sleep_for(1ms);
    return pid;
}

Placement place(std::vector<std::vector<int>> cpus) {
    Placement p;
    for (size_t i = 0; i < cpus.size(); ++i) p.cpus.push_back({static_cast<int>(i), cpus[i]});
    return p;
}

TenantTarget target(std::string tenant, std::vector<pid_t> pids, std::vector<pid_t> threads = {}) {
    TenantTarget t;
    t.tenant = std::move(tenant);
    t.pids = std::move(pids);
    t.threads = std::move(threads);
    return t;
}

class LinuxDriverIntegration : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root for real cgroups";
        if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 CPUs";
        parent_ = "vtasos-drvtest-" + std::to_string(::getpid());
        online_ = slurp("/sys/devices/system/cpu/online");
        auto mi = linuxdrv::parse_mountinfo(slurp("/proc/self/mountinfo"));
        mounts_ = mi;
        child_ = spawn_child();
        ASSERT_EQ(tasks_of(child_).size(), 2u);
    }
    void TearDown() override {
        for (auto* d : {drv_.get(), drv2_.get()}) {
            if (!d) continue;
            if (auto names = d->thaw_all(); names.ok())
                for (const auto& n : *names) (void)d->remove_stale(n);
        }
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
        }
        for (const auto& root : {mounts_.cpuset_v1, mounts_.freezer_v1, mounts_.unified})
            if (!root.empty()) ::rmdir((root + "/" + parent_).c_str());
    }

    std::unique_ptr<Driver> make(std::string root = "/sys/fs/cgroup") {
        DriverConfig cfg;
        cfg.cgroup_root = std::move(root);
        cfg.parent = parent_;
        auto d = make_driver("linux", cfg);
        EXPECT_TRUE(d.ok()) << d.error().to_string();
        EXPECT_TRUE((*d)->probe().ok());
        return std::move(*d);
    }
    bool have_v1() const { return !mounts_.cpuset_v1.empty() && !mounts_.freezer_v1.empty(); }
    std::string tenant_cg(const std::string& t) const { return "/" + parent_ + "/" + t; }
    // The freezer-state file of tenant t on whichever hierarchy the driver uses.
    std::string freezer_state(const std::string& t) const {
        return slurp(mounts_.freezer_v1 + "/" + parent_ + "/" + t + "/freezer.state");
    }

    std::string parent_, online_;
    linuxdrv::CgroupMounts mounts_;
    pid_t child_ = -1;
    std::unique_ptr<Driver> drv_, drv2_;
};

TEST_F(LinuxDriverIntegration, ApplyPinsToPuAndJoinsTheTenantCgroup) {
    drv_ = make();
    auto caps = drv_->caps();
    EXPECT_TRUE(caps.affinity);
    if (!have_v1() && caps.cgroup_mode != "v2") GTEST_SKIP() << "no usable cgroups: " << caps.notes;
    ASSERT_TRUE(drv_->apply(target("t1", {child_}), place({{1}})).ok());
    EXPECT_EQ(status_field("/proc/" + std::to_string(child_) + "/status", "Cpus_allowed_list"),
              "1");
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), "1") << "tid " << tid;
    if (caps.cgroup_mode == "v1") {
        EXPECT_TRUE(caps.cpuset);
        EXPECT_TRUE(caps.freeze);
        EXPECT_EQ(cgroup_of(child_, "cpuset"), tenant_cg("t1"));
        EXPECT_EQ(cgroup_of(child_, "freezer"), tenant_cg("t1"));
        EXPECT_EQ(slurp(mounts_.cpuset_v1 + tenant_cg("t1") + "/cpuset.cpus"), "1");
        // Every thread is in the cgroup, not only the process leader.
        auto tasks = slurp(mounts_.cpuset_v1 + tenant_cg("t1") + "/tasks");
        for (pid_t tid : tasks_of(child_))
            EXPECT_NE(tasks.find(std::to_string(tid)), std::string::npos) << tasks;
    } else {
        EXPECT_EQ(cgroup_of(child_, ""), tenant_cg("t1"));
    }
}

TEST_F(LinuxDriverIntegration, FreezeStopsTheTenantAndThawResumesIt) {
    drv_ = make();
    if (!drv_->caps().freeze) GTEST_SKIP() << "no freezer: " << drv_->caps().notes;
    ASSERT_TRUE(drv_->apply(target("t1", {child_}), place({{1}})).ok());
    ASSERT_GT(cpu_ns_over(child_, 100ms), 1'000'000) << "the child should be spinning";

    ASSERT_TRUE(drv_->freeze("t1").ok());
    if (drv_->caps().cgroup_mode == "v1") {
        EXPECT_EQ(freezer_state("t1"), "FROZEN");
    }
    for (pid_t tid : tasks_of(child_)) {
        auto state = status_field(task_path(child_, tid, "status"), "State");
        EXPECT_NE(state.substr(0, 1), "R") << "tid " << tid << " " << state;
    }
    EXPECT_LE(cpu_ns_over(child_, 200ms), 1'000'000) << "a frozen tenant must not run";
    ASSERT_TRUE(drv_->freeze("t1").ok()) << "freeze is idempotent";

    ASSERT_TRUE(drv_->thaw("t1").ok());
    if (drv_->caps().cgroup_mode == "v1") {
        EXPECT_EQ(freezer_state("t1"), "THAWED");
    }
    EXPECT_GT(cpu_ns_over(child_, 200ms), 5'000'000) << "a thawed tenant runs again";
}

TEST_F(LinuxDriverIntegration, ReleaseRemovesTheCgroupAndUnpins) {
    drv_ = make();
    ASSERT_TRUE(drv_->apply(target("t1", {child_}), place({{1}})).ok());
    if (drv_->caps().freeze) {
        ASSERT_TRUE(drv_->freeze("t1").ok());
    }
    ASSERT_TRUE(drv_->release("t1").ok());
    for (const auto& root : {mounts_.cpuset_v1, mounts_.freezer_v1})
        if (!root.empty()) {
            EXPECT_FALSE(fs::exists(root + tenant_cg("t1")));
        }
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
    if (drv_->caps().cgroup_mode == "v1") {
        EXPECT_EQ(cgroup_of(child_, "cpuset"), "/");
        EXPECT_EQ(cgroup_of(child_, "freezer"), "/");
    }
    EXPECT_GT(cpu_ns_over(child_, 100ms), 1'000'000) << "released tenant runs";
    EXPECT_TRUE(drv_->release("t1").ok()) << "release is idempotent";
}

TEST_F(LinuxDriverIntegration, ThawAllRecoversAFrozenCgroupLeftBehind) {
    auto dead = make();
    if (!dead->caps().freeze) GTEST_SKIP() << "no freezer: " << dead->caps().notes;
    ASSERT_TRUE(dead->apply(target("orphan", {child_}), place({{1}})).ok());
    ASSERT_TRUE(dead->freeze("orphan").ok());
    dead.reset();  // the daemon "died": no release
    EXPECT_LE(cpu_ns_over(child_, 100ms), 1'000'000) << "still frozen";

    drv2_ = make();
    auto names = drv2_->thaw_all();
    ASSERT_TRUE(names.ok()) << names.error().to_string();
    EXPECT_EQ(*names, std::vector<std::string>{"orphan"});
    EXPECT_GT(cpu_ns_over(child_, 200ms), 5'000'000) << "thaw_all let it run again";
    ASSERT_TRUE(drv2_->remove_stale("orphan").ok());
    for (const auto& root : {mounts_.cpuset_v1, mounts_.freezer_v1})
        if (!root.empty()) {
            EXPECT_FALSE(fs::exists(root + tenant_cg("orphan")));
        }
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
}

TEST_F(LinuxDriverIntegration, PerThreadPinning) {
    drv_ = make();
    auto tids = tasks_of(child_);
    ASSERT_EQ(tids.size(), 2u);
    // tids[0] is the main thread (== pid), tids[1] the spinner.
    ASSERT_TRUE(drv_->apply(target("t1", {child_}, {tids[1], tids[0]}), place({{0}, {1}})).ok());
    EXPECT_EQ(affinity(child_, tids[1]), "0");
    EXPECT_EQ(affinity(child_, tids[0]), "1");
    if (drv_->caps().cpuset && drv_->caps().cgroup_mode == "v1") {
        EXPECT_EQ(slurp(mounts_.cpuset_v1 + tenant_cg("t1") + "/cpuset.cpus"), "0-1");
    }
    // Re-pinning swaps the threads in place.
    ASSERT_TRUE(drv_->apply(target("t1", {child_}, {tids[0], tids[1]}), place({{0}, {1}})).ok());
    EXPECT_EQ(affinity(child_, tids[0]), "0");
    EXPECT_EQ(affinity(child_, tids[1]), "1");
}

TEST_F(LinuxDriverIntegration, RollbackOnAPidThatDoesNotExist) {
    drv_ = make();
    auto st = drv_->apply(target("t1", {child_, kNoSuchPid}), place({{1}}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kNotFound);
    EXPECT_NE(st.error().message().find("pid " + std::to_string(kNoSuchPid)), std::string::npos)
        << st.error().message();
    for (const auto& root : {mounts_.cpuset_v1, mounts_.freezer_v1})
        if (!root.empty()) {
            EXPECT_FALSE(fs::exists(root + tenant_cg("t1")));
        }
    if (drv_->caps().cgroup_mode == "v1") {
        EXPECT_EQ(cgroup_of(child_, "cpuset"), "/");
    }
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
}

TEST_F(LinuxDriverIntegration, RollbackOnAThreadThatDoesNotExist) {
    drv_ = make();
    // Fails at the last step (pinning), after the cgroup was made and the pid moved in.
    auto st = drv_->apply(target("t1", {child_}, {child_, kNoSuchPid}), place({{0}, {1}}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kNotFound);
    EXPECT_NE(st.error().message().find("thread " + std::to_string(kNoSuchPid)), std::string::npos)
        << st.error().message();
    for (const auto& root : {mounts_.cpuset_v1, mounts_.freezer_v1})
        if (!root.empty()) {
            EXPECT_FALSE(fs::exists(root + tenant_cg("t1")));
        }
    if (drv_->caps().cgroup_mode == "v1") {
        EXPECT_EQ(cgroup_of(child_, "cpuset"), "/");
        EXPECT_EQ(cgroup_of(child_, "freezer"), "/");
    }
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
}

TEST_F(LinuxDriverIntegration, AffinityOnlyWithoutCgroups) {
    drv_ = make("/nonexistent-vtasos-cgroup-root");
    auto caps = drv_->caps();
    EXPECT_FALSE(caps.cpuset);
    EXPECT_FALSE(caps.freeze);
    EXPECT_TRUE(caps.affinity);
    EXPECT_FALSE(caps.notes.empty());
    ASSERT_TRUE(drv_->apply(target("t1", {child_}), place({{1}})).ok());
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), "1");
    EXPECT_EQ(cgroup_of(child_, "cpuset"), cgroup_of(::getpid(), "cpuset"));
    auto st = drv_->freeze("t1");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kUnavailable);
    ASSERT_TRUE(drv_->release("t1").ok());
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
}

// An unprivileged caller: mkdir in the cgroup tree fails (EACCES), so the
// driver falls back to affinity, and pinning a root-owned process is EPERM.
TEST_F(LinuxDriverIntegration, UnprivilegedFallsBackAndGetsPermissionDenied) {
    pid_t helper = ::fork();
    if (helper == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
        DriverConfig cfg;
        cfg.parent = parent_;
        auto d = make_driver("linux", cfg);
        if (!d.ok() || !(*d)->probe().ok()) ::_exit(11);
        auto caps = (*d)->caps();
        if (caps.cpuset || caps.freeze || caps.notes.find("Permission denied") == std::string::npos)
            ::_exit(12);
        auto st = (*d)->apply(target("t1", {child_}), place({{1}}));
        if (st.ok() || st.error().code() != Errc::kPermissionDenied) ::_exit(13);
        if (st.error().message().find("pid " + std::to_string(child_)) == std::string::npos)
            ::_exit(14);
        if ((*d)->freeze("t1").error().code() != Errc::kUnavailable) ::_exit(15);
        ::_exit(0);
    }
    int ws = 0;
    ASSERT_EQ(::waitpid(helper, &ws, 0), helper);
    ASSERT_TRUE(WIFEXITED(ws));
    EXPECT_EQ(WEXITSTATUS(ws), 0)
        << "10 setuid, 11 make/probe, 12 caps, 13 code, 14 message, 15 freeze";
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
}

// cgroup v2 for real: on a hybrid host the unified hierarchy has no cpuset (v1
// holds it) but cgroup.freeze works, so the driver confines by affinity and
// freezes by v2. On a pure-v2 host this is the full v2 path.
TEST_F(LinuxDriverIntegration, CgroupV2FreezeOnTheUnifiedHierarchy) {
    if (mounts_.unified.empty()) GTEST_SKIP() << "no cgroup2 mounted";
    drv_ = make(mounts_.unified + "/");
    auto caps = drv_->caps();
    ASSERT_EQ(caps.cgroup_mode, "v2") << caps.notes;
    if (!caps.freeze) GTEST_SKIP() << caps.notes;
    ASSERT_TRUE(drv_->apply(target("t1", {child_}), place({{1}})).ok());
    EXPECT_EQ(cgroup_of(child_, ""), tenant_cg("t1"));
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), "1");
    std::string dir = mounts_.unified + tenant_cg("t1");
    if (caps.cpuset) {
        EXPECT_EQ(slurp(dir + "/cpuset.cpus"), "1");
    }

    ASSERT_TRUE(drv_->freeze("t1").ok());
    EXPECT_NE(slurp(dir + "/cgroup.events").find("frozen 1"), std::string::npos);
    EXPECT_LE(cpu_ns_over(child_, 200ms), 1'000'000);
    ASSERT_TRUE(drv_->thaw("t1").ok());
    EXPECT_NE(slurp(dir + "/cgroup.events").find("frozen 0"), std::string::npos);
    EXPECT_GT(cpu_ns_over(child_, 200ms), 5'000'000);

    ASSERT_TRUE(drv_->freeze("t1").ok());
    ASSERT_TRUE(drv_->release("t1").ok());
    EXPECT_FALSE(fs::exists(dir));
    EXPECT_EQ(cgroup_of(child_, ""), "/");
    for (pid_t tid : tasks_of(child_)) EXPECT_EQ(affinity(child_, tid), online_);
    EXPECT_GT(cpu_ns_over(child_, 100ms), 1'000'000);
}

TEST(LinuxDriverRegistry, UnknownDriverName) {
    auto d = make_driver("hyper-v", DriverConfig{});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code(), Errc::kNotFound);
    EXPECT_NE(d.error().message().find("linux"), std::string::npos) << d.error().message();
}

}  // namespace
}  // namespace vtasos
