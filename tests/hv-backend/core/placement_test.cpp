#include "vtasos/core/placement.h"

#include <gtest/gtest.h>

namespace vtasos {
namespace {

TEST(PlacementTest, CpulistFormatAndParse) {
    EXPECT_EQ(format_cpulist({3, 0, 1, 2, 8, 10, 11}), "0-3,8,10-11");
    EXPECT_EQ(format_cpulist({}), "");
    auto v = parse_cpulist("0-3,8,10-11\n");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
    for (const char* bad : {"a", "3-1", "1,,2", "-1", "1-", "99999999"})
        EXPECT_FALSE(parse_cpulist(bad).ok()) << bad;
}

TEST(PlacementTest, JsonRoundTripAndUnion) {
    Placement p;
    p.tenant = "t1";
    p.cpus = {{0, {2}}, {1, {3}}, {2, {2, 3}}};
    p.mem_nodes = {0};
    p.objective = {0, 1, 2};
    p.trace = {"packed on package 0"};
    EXPECT_EQ(p.all_pus(), (std::vector<int>{2, 3}));
    auto back = Placement::from_json(p.to_json());
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(*back, p);
    EXPECT_EQ(p.to_string(), "t1: cpu0->{2} cpu1->{3} cpu2->{2-3} mems {0}");
    auto j = p.to_json();
    j["cpus"][1]["pus"][0] = -4;
    auto r = Placement::from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("placement.cpus[1].pus[0]"), std::string::npos);
}

}  // namespace
}  // namespace vtasos
