#include "internal/binding.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace vtasos::mpi {
namespace {

namespace fs = std::filesystem;

class FakeRoot : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("vtasos-mpi-binding-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }
    void write(const std::string& rel, const std::string& content) {
        fs::path p = root_ / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << content;
    }
    fs::path root_;
};

TEST(MpiHookBinding, DetectsMpirunBinding) {
    auto s = detect_binding({0}, {0, 1}, "1");
    EXPECT_TRUE(s.bound);
    EXPECT_TRUE(s.by_mpirun);
    EXPECT_EQ(s.describe(), "bound by mpirun to 0 (of 0-1)");
}

TEST(MpiHookBinding, NarrowMaskWithoutMpirunIsStillBound) {
    auto s = detect_binding({2, 3}, {0, 1, 2, 3}, nullptr);  // taskset, numactl, srun --cpu-bind
    EXPECT_TRUE(s.bound);
    EXPECT_FALSE(s.by_mpirun);
    EXPECT_EQ(s.describe(), "bound to 2-3 (of 0-3)");
}

TEST(MpiHookBinding, FullMaskIsNotBound) {
    // --bind-to none: Open MPI still exports bound_at_launch only when it bound
    auto s = detect_binding({0, 1}, {0, 1}, nullptr);
    EXPECT_FALSE(s.bound);
    EXPECT_EQ(s.describe(), "not bound (may run on 0-1)");
    // mpirun says bound but the mask covers everything (1-CPU cgroup): not a conflict
    EXPECT_FALSE(detect_binding({0}, {0}, "1").bound);
    // no cgroup knowledge: trust Open MPI
    EXPECT_TRUE(detect_binding({0}, {}, "1").bound);
    EXPECT_FALSE(detect_binding({0}, {}, "0").bound);
}

TEST_F(FakeRoot, AllowedCpusFromCgroupV1) {
    write("proc/self/cgroup", "4:memory:/x\n3:cpuset:/job7\n0::/\n");
    write("sys/fs/cgroup/cpuset/job7/cpuset.effective_cpus", "2-5,8\n");
    EXPECT_EQ(allowed_cpus(root_.string()), (std::vector<int>{2, 3, 4, 5, 8}));
}

TEST_F(FakeRoot, AllowedCpusFromCgroupV2WalksUp) {
    write("proc/self/cgroup", "0::/user.slice/session-1.scope\n");
    write("sys/fs/cgroup/user.slice/cpuset.cpus.effective", "0-3\n");
    EXPECT_EQ(allowed_cpus(root_.string()), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(FakeRoot, AllowedCpusFallsBackToOnline) {
    write("proc/self/cgroup", "0::/\n");
    write("sys/devices/system/cpu/online", "0-1\n");
    EXPECT_EQ(allowed_cpus(root_.string()), (std::vector<int>{0, 1}));
}

TEST(MpiHookBinding, BindProcessBindsEveryThread) {
    auto before = current_affinity();
    ASSERT_FALSE(before.empty());
    // a second thread that exists while we bind
    std::atomic<bool> stop{false};
    std::vector<int> seen;
    std::thread t([&] {
        while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        seen = current_affinity();
    });
    std::vector<int> one{before.front()};
    auto r = bind_process(one);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_GE(*r, 2);
    stop = true;
    t.join();
    EXPECT_EQ(current_affinity(), one);
    EXPECT_EQ(seen, one);
    ASSERT_TRUE(bind_process(before));
    EXPECT_EQ(current_affinity(), before);
}

TEST(MpiHookBinding, BindProcessRejectsBadSets) {
    EXPECT_EQ(bind_process({}).error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(bind_process({CPU_SETSIZE + 1}).error().code(), Errc::kInvalidArgument);
}

}  // namespace
}  // namespace vtasos::mpi
