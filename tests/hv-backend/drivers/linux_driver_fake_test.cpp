// The Linux driver's logic on a fake cgroup tree (see fake_kernel.h): which
// files it writes, in which order, what it rolls back, how it degrades.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "fake_kernel.h"
#include "vtasos/drivers/driver.h"
#include "vtasos/drivers/internal/linux.h"

namespace vtasos {
namespace {

namespace fs = std::filesystem;
using testing::FakeKernel;

Placement place(std::vector<std::vector<int>> cpus, std::vector<int> mems = {}) {
    Placement p;
    p.tenant = "t1";
    for (size_t i = 0; i < cpus.size(); ++i) p.cpus.push_back({static_cast<int>(i), cpus[i]});
    p.mem_nodes = std::move(mems);
    return p;
}

TenantTarget target(std::vector<pid_t> pids, std::vector<pid_t> threads = {},
                    std::string tenant = "t1") {
    TenantTarget t;
    t.tenant = std::move(tenant);
    t.pids = std::move(pids);
    t.threads = std::move(threads);
    return t;
}

std::unique_ptr<Driver> driver_on(const std::shared_ptr<FakeKernel>& k, DriverConfig cfg = {}) {
    if (cfg.cgroup_root == DriverConfig{}.cgroup_root && k->mountinfo.empty())
        cfg.cgroup_root = k->root();
    auto d = linuxdrv::make_linux_driver(cfg, k);
    EXPECT_TRUE(d.ok()) << d.error().to_string();
    EXPECT_TRUE((*d)->probe().ok());
    return std::move(*d);
}

// ------------------------------------------------------------------ v2

class V2Test : public ::testing::Test {
protected:
    void SetUp() override {
        k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV2);
        k->add_process(100, {100, 101});
        d = driver_on(k);
        R = k->root();
        T = R + "/vtasos/t1";
    }
    std::shared_ptr<FakeKernel> k;
    std::unique_ptr<Driver> d;
    std::string R, T;
};

TEST_F(V2Test, ProbeEnablesCpusetInEveryParent) {
    auto c = d->caps();
    EXPECT_EQ(c.cgroup_mode, "v2");
    EXPECT_TRUE(c.cpuset);
    EXPECT_TRUE(c.freeze);
    EXPECT_TRUE(c.affinity);
    EXPECT_EQ(c.notes, "");
    EXPECT_EQ(FakeKernel::get(R + "/cgroup.subtree_control"), "cpuset");
    EXPECT_EQ(FakeKernel::get(R + "/vtasos/cgroup.subtree_control"), "cpuset");
}

TEST_F(V2Test, ApplyWritesCpusetAndMovesProcess) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}, {3}}, {0})).ok());
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.cpus"), "2-3");
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.mems"), "0");
    EXPECT_EQ(FakeKernel::get(T + "/cgroup.procs"), "100");
    EXPECT_EQ(FakeKernel::get(R + "/cgroup.procs"), "");
    EXPECT_EQ(k->affinity(100), (std::vector<int>{2, 3}));
    EXPECT_EQ(k->affinity(101), (std::vector<int>{2, 3}));
}

TEST_F(V2Test, EmptyMemNodesTakeTheParentsMems) {
    ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.mems"), "0-1");
}

TEST_F(V2Test, PerThreadPinning) {
    ASSERT_TRUE(d->apply(target({100}, {101, 100}), place({{2}, {3}})).ok());
    EXPECT_EQ(k->affinity(101), (std::vector<int>{2}));
    EXPECT_EQ(k->affinity(100), (std::vector<int>{3}));
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.cpus"), "2-3");
}

TEST_F(V2Test, ReapplyUpdatesInPlace) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}})).ok());
    ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.cpus"), "1");
    EXPECT_EQ(k->affinity(101), (std::vector<int>{1}));
}

TEST_F(V2Test, FreezeAndThawWaitForCgroupEvents) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}})).ok());
    ASSERT_TRUE(d->freeze("t1").ok());
    EXPECT_EQ(FakeKernel::get(T + "/cgroup.freeze"), "1");
    EXPECT_NE(FakeKernel::get(T + "/cgroup.events").find("frozen 1"), std::string::npos);
    ASSERT_TRUE(d->thaw("t1").ok());
    EXPECT_EQ(FakeKernel::get(T + "/cgroup.freeze"), "0");
    EXPECT_NE(FakeKernel::get(T + "/cgroup.events").find("frozen 0"), std::string::npos);
}

TEST_F(V2Test, FreezeTimeoutIsUndone) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}})).ok());
    k->freeze_stuck = true;
    auto st = d->freeze("t1");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kTimeout);
    EXPECT_NE(st.error().message().find("cgroup.events"), std::string::npos)
        << st.error().message();
    EXPECT_NE(st.error().message().find("thawed again"), std::string::npos);
    EXPECT_EQ(FakeKernel::get(T + "/cgroup.freeze"), "0");
}

TEST_F(V2Test, FreezeOfUnknownTenantIsNotFound) {
    auto st = d->freeze("nobody");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kNotFound);
    EXPECT_NE(st.error().message().find("nobody"), std::string::npos);
}

TEST_F(V2Test, ReleaseMovesOutUnpinsAndRemoves) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}})).ok());
    ASSERT_TRUE(d->freeze("t1").ok());
    ASSERT_TRUE(d->release("t1").ok());
    EXPECT_FALSE(fs::exists(T));
    EXPECT_EQ(FakeKernel::get(R + "/cgroup.procs"), "100");
    EXPECT_EQ(k->affinity(100), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(k->affinity(101), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_TRUE(d->release("t1").ok()) << "release is idempotent";
}

TEST_F(V2Test, ReleaseRetriesBusyRmdir) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}})).ok());
    k->fail("rmdir", "/vtasos/t1", Error(Errc::kBusy, "rmdir: Device or resource busy"), 3);
    ASSERT_TRUE(d->release("t1").ok());
    EXPECT_FALSE(fs::exists(T));
}

TEST_F(V2Test, RollbackWhenPinningFailsMidway) {
    k->set_initial_affinity(100, {0, 1});
    k->fail("set_affinity", "101",
            Error(Errc::kPermissionDenied, "sched_setaffinity(tid 101): Operation not permitted"));
    auto st = d->apply(target({100}), place({{2}, {3}}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kPermissionDenied);
    const auto& msg = st.error().message();
    EXPECT_NE(msg.find("pin tid 101 of pid 100"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pid 100: permission denied"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rollback: done"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(T));
    EXPECT_EQ(FakeKernel::get(R + "/cgroup.procs"), "100");
    EXPECT_EQ(k->affinity(100), (std::vector<int>{0, 1}));
}

TEST_F(V2Test, RollbackOnMissingPidNamesIt) {
    auto st = d->apply(target({100, 4242}), place({{2}}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kNotFound);
    EXPECT_NE(st.error().message().find("move pid 4242"), std::string::npos)
        << st.error().message();
    EXPECT_NE(st.error().message().find("pid 4242: no such process"), std::string::npos);
    EXPECT_FALSE(fs::exists(T));
    EXPECT_EQ(FakeKernel::get(R + "/cgroup.procs"), "100");  // 100 was moved in, then back
}

TEST_F(V2Test, FailedReapplyRestoresThePreviousCpuset) {
    ASSERT_TRUE(d->apply(target({100}), place({{2}}, {0})).ok());
    auto st = d->apply(target({100, 4242}), place({{3}}, {1}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kNotFound);
    EXPECT_TRUE(fs::exists(T)) << "the tenant existed before: it stays";
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.cpus"), "2");
    EXPECT_EQ(FakeKernel::get(T + "/cpuset.mems"), "0");
    EXPECT_EQ(FakeKernel::get(T + "/cgroup.procs"), "100");
    EXPECT_EQ(k->affinity(101), (std::vector<int>{2}));
}

TEST_F(V2Test, FailedWriteNamesTheFileAndStep) {
    k->fail(
        "write", "t1/cpuset.cpus",
        Error(Errc::kInvalidArgument, "write \"2\" to " + T + "/cpuset.cpus: Invalid argument"));
    auto st = d->apply(target({100}), place({{2}}));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(st.error().message().find("step \"set " + T + "/cpuset.cpus to 2\""),
              std::string::npos)
        << st.error().message();
    EXPECT_FALSE(fs::exists(T));
}

TEST_F(V2Test, InvalidInputTouchesNothing) {
    struct Case {
        TenantTarget t;
        Placement p;
        std::string want;
    };
    std::vector<Case> cases = {
        {target({100}, {}, ".."), place({{1}}), "tenant \"..\""},
        {target({100}, {}, "a/b"), place({{1}}), "tenant \"a/b\""},
        {target({100}, {}, ""), place({{1}}), "tenant \"\""},
        {target({100}, {100, 101}), place({{1}}), "2 threads given for 1 placed CPUs"},
        {target({100}), place({{9}}), "PU 9 is not online (online: 0-3)"},
        {target({100}), place({{}}), "cpu0 has no PUs"},
        {target({100}), place({}), "no CPUs"},
        {target({}), place({{1}}), "no pids or threads"},
        {target({-5}), place({{1}}), "pid -5"},
    };
    for (const auto& c : cases) {
        auto st = d->apply(c.t, c.p);
        ASSERT_FALSE(st.ok()) << c.want;
        EXPECT_EQ(st.error().code(), Errc::kInvalidArgument) << c.want;
        EXPECT_NE(st.error().message().find(c.want), std::string::npos) << st.error().message();
    }
    for (const auto& e : fs::directory_iterator(R + "/vtasos"))
        EXPECT_FALSE(e.is_directory()) << e.path();
    EXPECT_TRUE(k->affinity_calls.empty());
}

TEST_F(V2Test, ThawAllRecoversWhatADeadDriverLeftFrozen) {
    k->add_process(200, {200});
    ASSERT_TRUE(d->apply(target({100}), place({{2}})).ok());
    ASSERT_TRUE(d->apply(target({200}, {}, "t2"), place({{3}})).ok());
    ASSERT_TRUE(d->freeze("t1").ok());
    d.reset();  // the daemon died: nothing released
    ASSERT_EQ(FakeKernel::get(T + "/cgroup.freeze"), "1");
    auto d2 = driver_on(k);
    auto names = d2->thaw_all();
    ASSERT_TRUE(names.ok()) << names.error().to_string();
    EXPECT_EQ(*names, (std::vector<std::string>{"t1", "t2"}));
    EXPECT_EQ(FakeKernel::get(T + "/cgroup.freeze"), "0");
    ASSERT_TRUE(d2->remove_stale("t1").ok());
    ASSERT_TRUE(d2->remove_stale("t2").ok());
    EXPECT_FALSE(fs::exists(T));
    EXPECT_FALSE(fs::exists(R + "/vtasos/t2"));
    EXPECT_EQ(FakeKernel::get(R + "/cgroup.procs"), "100\n200");
    EXPECT_EQ(k->affinity(200), (std::vector<int>{0, 1, 2, 3}));
    auto again = d2->thaw_all();
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->empty());
}

TEST(V2Variants, NoCpusetControllerStillFreezes) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV2, "memory io");
    k->add_process(100, {100});
    auto d = driver_on(k);
    auto c = d->caps();
    EXPECT_EQ(c.cgroup_mode, "v2");
    EXPECT_FALSE(c.cpuset);
    EXPECT_TRUE(c.freeze);
    EXPECT_NE(c.notes.find("no cpuset controller"), std::string::npos) << c.notes;
    ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
    std::string t = k->root() + "/vtasos/t1";
    EXPECT_FALSE(fs::exists(t + "/cpuset.cpus"));
    EXPECT_EQ(FakeKernel::get(t + "/cgroup.procs"), "100");
    EXPECT_EQ(k->affinity(100), (std::vector<int>{1}));
    EXPECT_TRUE(d->freeze("t1").ok());
    EXPECT_TRUE(d->release("t1").ok());
}

TEST(V2Variants, NestedParent) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV2);
    k->add_process(100, {100});
    DriverConfig cfg;
    cfg.cgroup_root = k->root();
    cfg.parent = "system.slice/vtasos";
    auto d = driver_on(k, cfg);
    ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
    std::string r = k->root();
    EXPECT_EQ(FakeKernel::get(r + "/system.slice/cgroup.subtree_control"), "cpuset");
    EXPECT_EQ(FakeKernel::get(r + "/system.slice/vtasos/cgroup.subtree_control"), "cpuset");
    EXPECT_EQ(FakeKernel::get(r + "/system.slice/vtasos/t1/cpuset.cpus"), "1");
}

// ------------------------------------------------------------------ v1

TEST(V1, ProbeCopiesCpusetIntoTheParent) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV1);
    auto d = driver_on(k);
    auto c = d->caps();
    EXPECT_EQ(c.cgroup_mode, "v1");
    EXPECT_TRUE(c.cpuset);
    EXPECT_TRUE(c.freeze);
    EXPECT_EQ(FakeKernel::get(k->cpuset_root() + "/vtasos/cpuset.cpus"), "0-3");
    EXPECT_EQ(FakeKernel::get(k->cpuset_root() + "/vtasos/cpuset.mems"), "0");
    EXPECT_TRUE(fs::is_directory(k->freezer_root() + "/vtasos"));
}

TEST(V1, ApplyFreezeThawRelease) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV1);
    k->add_process(100, {100, 101});
    auto d = driver_on(k);
    // The fake refuses tasks in a v1 cpuset without cpus/mems (ENOSPC), so this
    // also checks the order: cpuset.cpus and cpuset.mems before cgroup.procs.
    ASSERT_TRUE(d->apply(target({100}), place({{1}, {2}})).ok());
    std::string cs = k->cpuset_root() + "/vtasos/t1", fz = k->freezer_root() + "/vtasos/t1";
    EXPECT_EQ(FakeKernel::get(cs + "/cpuset.cpus"), "1-2");
    EXPECT_EQ(FakeKernel::get(cs + "/cpuset.mems"), "0");
    EXPECT_EQ(k->cgroup_of(k->cpuset_root(), 100), cs);
    EXPECT_EQ(k->cgroup_of(k->freezer_root(), 100), fz);

    k->freezing_reads = 3;  // FREEZING for a while, then FROZEN
    ASSERT_TRUE(d->freeze("t1").ok());
    EXPECT_EQ(FakeKernel::get(fz + "/freezer.state"), "FROZEN");
    ASSERT_TRUE(d->thaw("t1").ok());
    EXPECT_EQ(FakeKernel::get(fz + "/freezer.state"), "THAWED");

    ASSERT_TRUE(d->freeze("t1").ok());
    ASSERT_TRUE(d->release("t1").ok());
    EXPECT_FALSE(fs::exists(cs));
    EXPECT_FALSE(fs::exists(fz));
    EXPECT_EQ(k->cgroup_of(k->cpuset_root(), 100), k->cpuset_root());
    EXPECT_EQ(k->cgroup_of(k->freezer_root(), 100), k->freezer_root());
    EXPECT_EQ(k->affinity(101), (std::vector<int>{0, 1, 2, 3}));
}

TEST(V1, FreezeTimeoutThawsAgain) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV1);
    k->add_process(100, {100});
    DriverConfig cfg;
    cfg.cgroup_root = k->root();
    cfg.freeze_timeout_ms = 50;
    auto d = driver_on(k, cfg);
    ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
    k->freeze_stuck = true;
    auto st = d->freeze("t1");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kTimeout);
    EXPECT_NE(st.error().message().find("\"FREEZING\" 50 ms"), std::string::npos)
        << st.error().message();
    EXPECT_EQ(FakeKernel::get(k->freezer_root() + "/vtasos/t1/freezer.state"), "THAWED");
}

TEST(V1, CoMountedHierarchyFoundInMountinfo) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV1CoMounted);
    k->add_process(100, {100});
    k->mountinfo =
        "25 1 0:22 / /sys rw - sysfs sysfs rw\n"
        "34 31 0:31 / " +
        k->cpuset_root() + " rw,relatime - cgroup cgroup rw,cpuset,freezer\n";
    auto d = driver_on(k);  // default root: mountinfo decides
    auto c = d->caps();
    EXPECT_EQ(c.cgroup_mode, "v1");
    EXPECT_TRUE(c.cpuset);
    EXPECT_TRUE(c.freeze);
    ASSERT_TRUE(d->apply(target({100}), place({{3}})).ok());
    std::string t = k->cpuset_root() + "/vtasos/t1";
    EXPECT_EQ(FakeKernel::get(t + "/cpuset.cpus"), "3");
    ASSERT_TRUE(d->freeze("t1").ok());
    EXPECT_EQ(FakeKernel::get(t + "/freezer.state"), "FROZEN");
    ASSERT_TRUE(d->release("t1").ok());
    EXPECT_FALSE(fs::exists(t));
}

TEST(V1, SeparateHierarchiesFoundInMountinfo) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV1);
    k->mountinfo = "34 31 0:31 / " + k->cpuset_root() + " rw - cgroup cgroup rw,cpuset\n" +
                   "37 31 0:34 / " + k->freezer_root() + " rw - cgroup cgroup rw,freezer\n" +
                   "41 31 0:38 / /nonexistent/unified rw - cgroup2 cgroup2 rw\n";
    auto d = driver_on(k);
    EXPECT_EQ(d->caps().cgroup_mode, "v1");
    EXPECT_TRUE(fs::is_directory(k->cpuset_root() + "/vtasos"));
    EXPECT_TRUE(fs::is_directory(k->freezer_root() + "/vtasos"));
}

// ------------------------------------------------------------------ fallback

TEST(Fallback, NoHierarchyMeansAffinityOnly) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kEmpty);
    k->add_process(100, {100, 101});
    auto d = driver_on(k);
    auto c = d->caps();
    EXPECT_FALSE(c.cpuset);
    EXPECT_FALSE(c.freeze);
    EXPECT_TRUE(c.affinity);
    EXPECT_EQ(c.cgroup_mode, "");
    EXPECT_NE(c.notes.find("no cgroup hierarchy found under " + k->root()), std::string::npos)
        << c.notes;
    EXPECT_NE(c.notes.find("sched_setaffinity only"), std::string::npos) << c.notes;

    ASSERT_TRUE(d->apply(target({100}, {101}), place({{2}, {3}})).ok());
    EXPECT_EQ(k->affinity(101), (std::vector<int>{2}));
    EXPECT_EQ(k->affinity(100), (std::vector<int>{2, 3}));
    auto st = d->freeze("t1");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kUnavailable);
    EXPECT_NE(st.error().message().find("no cgroup freezer"), std::string::npos)
        << st.error().message();
    EXPECT_EQ(d->thaw("t1").error().code(), Errc::kUnavailable);
    auto names = d->thaw_all();
    ASSERT_TRUE(names.ok());
    EXPECT_TRUE(names->empty());
    ASSERT_TRUE(d->release("t1").ok());
    EXPECT_EQ(k->affinity(100), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(k->affinity(101), (std::vector<int>{0, 1, 2, 3}));
}

TEST(Fallback, WarnsOnceOnly) {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    auto saved = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    {
        auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kEmpty);
        k->add_process(100, {100});
        auto d = driver_on(k);
        ASSERT_TRUE(d->probe().ok());
        ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
        (void)d->freeze("t1");
        (void)d->freeze("t1");
    }
    spdlog::set_default_logger(saved);
    int warnings = 0;
    for (const auto& m : sink->last_raw())
        if (m.level == spdlog::level::warn) ++warnings;
    EXPECT_EQ(warnings, 1);
}

TEST(Fallback, PermissionDeniedOnTheParent) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kV1);
    k->add_process(100, {100});
    k->fail(
        "mkdir", "/vtasos",
        Error(Errc::kPermissionDenied, "mkdir " + k->cpuset_root() + "/vtasos: Permission denied"));
    auto d = driver_on(k);
    auto c = d->caps();
    EXPECT_FALSE(c.cpuset);
    EXPECT_FALSE(c.freeze);
    EXPECT_NE(c.notes.find("Permission denied"), std::string::npos) << c.notes;
    EXPECT_NE(c.notes.find(k->cpuset_root() + "/vtasos"), std::string::npos) << c.notes;
    ASSERT_TRUE(d->apply(target({100}), place({{1}})).ok());
    EXPECT_EQ(k->affinity(100), (std::vector<int>{1}));
    EXPECT_EQ(d->freeze("t1").error().code(), Errc::kUnavailable);
}

TEST(Fallback, VanishedPidAndPermissionErrorsNameThePid) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kEmpty);
    k->add_process(100, {100});
    auto d = driver_on(k);
    auto gone = d->apply(target({777}), place({{1}}));
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code(), Errc::kNotFound);
    EXPECT_NE(gone.error().message().find("pid 777: no such process"), std::string::npos)
        << gone.error().message();
    k->fail("set_affinity", "100",
            Error(Errc::kPermissionDenied, "sched_setaffinity(tid 100): Operation not permitted"));
    auto denied = d->apply(target({100}), place({{1}}));
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.error().code(), Errc::kPermissionDenied);
    EXPECT_NE(denied.error().message().find("pid 100: permission denied"), std::string::npos)
        << denied.error().message();
}

TEST(Config, RejectsBadParentAndRoot) {
    auto k = std::make_shared<FakeKernel>(FakeKernel::Layout::kEmpty);
    for (std::string bad : {"..", "a/../b", "", "a//b", "/abs"}) {
        DriverConfig cfg;
        cfg.cgroup_root = k->root();
        cfg.parent = bad;
        auto d = linuxdrv::make_linux_driver(cfg, k);
        ASSERT_FALSE(d.ok()) << bad;
        EXPECT_EQ(d.error().code(), Errc::kInvalidArgument);
    }
    DriverConfig rel;
    rel.cgroup_root = "relative/root";
    EXPECT_EQ(linuxdrv::make_linux_driver(rel, k).error().code(), Errc::kInvalidArgument);
}

TEST(Errno, MapsToErrc) {
    using linuxdrv::errno_to_errc;
    EXPECT_EQ(errno_to_errc(ESRCH), Errc::kNotFound);
    EXPECT_EQ(errno_to_errc(ENOENT), Errc::kNotFound);
    EXPECT_EQ(errno_to_errc(EACCES), Errc::kPermissionDenied);
    EXPECT_EQ(errno_to_errc(EPERM), Errc::kPermissionDenied);
    EXPECT_EQ(errno_to_errc(EROFS), Errc::kPermissionDenied);
    EXPECT_EQ(errno_to_errc(EBUSY), Errc::kBusy);
    EXPECT_EQ(errno_to_errc(EINVAL), Errc::kInvalidArgument);
    EXPECT_EQ(errno_to_errc(ENOSPC), Errc::kIo);
}

TEST(RealOps, WriteErrorNamesTheFile) {
    auto ops = linuxdrv::make_real_linux_ops();
    auto st = ops->write_file("/nonexistent-vtasos/cpuset.cpus", "1");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::kNotFound);
    EXPECT_NE(st.error().message().find("/nonexistent-vtasos/cpuset.cpus"), std::string::npos);
    auto gone = ops->list_threads(0x3ffffff0);
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code(), Errc::kNotFound);
    auto self = ops->list_threads(getpid());
    ASSERT_TRUE(self.ok());
    EXPECT_FALSE(self->empty());
    auto online = ops->online_cpus();
    ASSERT_TRUE(online.ok());
    EXPECT_FALSE(online->empty());
}

}  // namespace
}  // namespace vtasos
