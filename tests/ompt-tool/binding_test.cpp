#include "internal/binding.h"

#include <gtest/gtest.h>

#include <thread>

namespace vtasos::ompt {
namespace {

Placement placement_of(std::vector<std::vector<int>> pus) {
    Placement p;
    p.tenant = "t";
    for (size_t i = 0; i < pus.size(); ++i) p.cpus.push_back({static_cast<int>(i), pus[i]});
    return p;
}

// Binds a fresh thread as OpenMP thread `seq`: bind_thread's result and the
// affinity the thread ends with.
std::pair<int, std::vector<int>> bind_in_new_thread(const Binder& b, unsigned seq) {
    std::pair<int, std::vector<int>> r{-1, {}};
    std::thread([&] {
        r.first = b.bind_thread(seq);
        r.second = current_affinity();
    }).join();
    return r;
}

TEST(OmptBinder, ThreadNGetsCpuNModuloTheCpuCount) {
    std::vector<int> mine = current_affinity();
    ASSERT_FALSE(mine.empty());
    // One placed CPU per allowed PU (at most 4), the last one with two PUs.
    std::vector<std::vector<int>> pus;
    for (size_t i = 0; i < mine.size() && i < 4; ++i) pus.push_back({mine[i]});
    if (mine.size() >= 2) pus.back().push_back(mine[0]);
    Binder b;
    ASSERT_TRUE(b.set_placement(placement_of(pus), MemPolicy::kLocal));
    EXPECT_TRUE(b.active());
    for (unsigned seq = 0; seq < 2 * pus.size(); ++seq) {
        auto [err, got] = bind_in_new_thread(b, seq);
        EXPECT_EQ(err, 0);
        std::vector<int> want = pus[seq % pus.size()];
        std::sort(want.begin(), want.end());
        EXPECT_EQ(got, want) << "thread " << seq;
        EXPECT_EQ(b.pus_for(seq), pus[seq % pus.size()]);
    }
}

TEST(OmptBinder, FloatingGivesEveryThreadTheWholePlacement) {
    std::vector<int> mine = current_affinity();
    if (mine.size() < 2) GTEST_SKIP() << "needs 2 PUs";
    Binder b;
    ASSERT_TRUE(b.set_placement(placement_of({{mine[1]}, {mine[0]}}), MemPolicy::kLocal, true));
    EXPECT_TRUE(b.floating());
    std::vector<int> both = {mine[0], mine[1]};
    for (unsigned seq = 0; seq < 3; ++seq) {
        auto [err, got] = bind_in_new_thread(b, seq);
        EXPECT_EQ(err, 0);
        EXPECT_EQ(got, both) << "thread " << seq;
        EXPECT_EQ(b.pus_for(seq), both);
    }
}

TEST(OmptBinder, RejectsUnusablePlacements) {
    Binder b;
    auto empty = b.set_placement(placement_of({}), MemPolicy::kLocal);
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message().find("no cpus"), std::string::npos);
    auto nopu = b.set_placement(placement_of({{0}, {}}), MemPolicy::kLocal);
    ASSERT_FALSE(nopu);
    EXPECT_NE(nopu.error().message().find("placement.cpus[1]"), std::string::npos);
    auto big = b.set_placement(placement_of({{CPU_SETSIZE}}), MemPolicy::kLocal);
    ASSERT_FALSE(big);
    EXPECT_FALSE(b.active());
    EXPECT_EQ(b.bind_thread(0), 0);  // inactive: nothing to do
}

TEST(OmptBinder, AnOfflinePuIsReportedNotFatal) {
    // A PU the machine does not have: sched_setaffinity fails with EINVAL.
    Binder b;
    ASSERT_TRUE(b.set_placement(placement_of({{CPU_SETSIZE - 1}}), MemPolicy::kInterleave));
    int err = 0;
    std::vector<int> before, after;
    std::thread([&] {
        before = current_affinity();
        err = b.bind_thread(0);
        after = current_affinity();
    }).join();
    EXPECT_EQ(err, EINVAL);
    EXPECT_EQ(before, after);
}

}  // namespace
}  // namespace vtasos::ompt
