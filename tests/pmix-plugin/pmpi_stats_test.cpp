#include <gtest/gtest.h>

#include "pmpi/stats.h"
#include "vtasos/core/profile.h"

namespace vtasos::pmpi {
namespace {

Report sample() {
    Report r;
    r.rank = 1;
    r.size = 2;
    r.tenant = "mpi-9-n0";
    r.wall_s = 10.0;
    r.calls = {{"Init", Category::kLife, 1, 500000000, 1},
               {"Allreduce", Category::kColl, 100, 1000000000, 100},
               {"Wait", Category::kWait, 50, 500000000, 0},
               {"Send", Category::kP2p, 0, 0, 0}};
    return r;
}

TEST(PmpiStats, SyncExcludesLifecycleCalls) {
    Report r = sample();
    EXPECT_EQ(r.sync_calls(), 150u);
    EXPECT_DOUBLE_EQ(r.sync_s(), 1.5);
    EXPECT_DOUBLE_EQ(r.sync_fraction(), 0.15);
    EXPECT_DOUBLE_EQ(r.sync_rate_hz(), 15.0);
    EXPECT_EQ(r.fortran_calls(), 101u);
}

TEST(PmpiStats, EmptyAndDegenerate) {
    Report r;
    EXPECT_EQ(r.sync_calls(), 0u);
    EXPECT_EQ(r.sync_fraction(), 0.0);
    EXPECT_EQ(r.sync_rate_hz(), 0.0);
    r.wall_s = 1e-9;
    r.calls = {{"Barrier", Category::kColl, 1, 5000000000ull, 0}};
    EXPECT_EQ(r.sync_fraction(), 1.0);  // clamped
}

TEST(PmpiStats, JsonLeavesOutUnusedCalls) {
    auto j = sample().to_json();
    EXPECT_EQ(j["rank"], 1);
    EXPECT_EQ(j["tenant"], "mpi-9-n0");
    EXPECT_EQ(j["sync_calls"], 150);
    EXPECT_EQ(j["fortran_calls"], 101);
    EXPECT_TRUE(j["calls"].contains("Allreduce"));
    EXPECT_FALSE(j["calls"].contains("Send"));
    EXPECT_EQ(j["calls"]["Allreduce"]["category"], "coll");
    EXPECT_EQ(j["calls"]["Allreduce"]["fortran"], 100);
    EXPECT_DOUBLE_EQ(j["calls"]["Wait"]["time_s"].get<double>(), 0.5);
}

TEST(PmpiStats, ObservationsAreAProfileUpdate) {
    auto o = sample().observations();
    EXPECT_DOUBLE_EQ(o["barrier_rate_hz"].get<double>(), 15.0);
    EXPECT_DOUBLE_EQ(o["sync_fraction"].get<double>(), 0.15);
    EXPECT_NE(o["note"].get<std::string>().find("mpi rank 1"), std::string::npos);
    EXPECT_EQ(o.size(), 3u);
    o["name"] = "mpi-9-n0";  // the daemon fills the name in from the tenant
    auto p = Profile::from_json(o);
    ASSERT_TRUE(p) << p.error().to_string();
    EXPECT_DOUBLE_EQ(p->barrier_rate_hz, 15.0);
}

TEST(PmpiStats, Summary) {
    EXPECT_EQ(sample().summary(),
              "rank 1: 150 sync calls (15.0/s, 15.0% of 10 s), 101 from Fortran; top: "
              "Allreduce 100");
}

TEST(PmpiStats, ExpandPath) {
    EXPECT_EQ(expand_path("/tmp/p.%r.json", 3, 10), "/tmp/p.3.json");
    EXPECT_EQ(expand_path("%p-%r-%%-%x%", 1, 22), "22-1-%-%x%");
}

}  // namespace
}  // namespace vtasos::pmpi
