#include "vtasos/core/topology.h"

#include <gtest/gtest.h>

namespace vtasos {
namespace {

TEST(TopologyTest, UniformShapeIsConsistent) {
    Topology t = make_uniform_topology(2, 2, 1, 4, 2);
    EXPECT_TRUE(t.validate().ok());
    EXPECT_EQ(t.pus.size(), 32u);
    EXPECT_EQ(t.num_cores, 16);
    EXPECT_EQ(t.num_packages, 2);
    EXPECT_EQ(t.num_numa, 4);
    EXPECT_EQ(t.pus_per_core_max(), 2);
    EXPECT_EQ(t.cores_by_package()[1].size(), 8u);
    EXPECT_DOUBLE_EQ(t.package_bandwidth_gbps[0], default_package_bandwidth(8));
    auto tree = t.to_tree_string();
    EXPECT_NE(tree.find("Package L#1"), std::string::npos);
    EXPECT_NE(tree.find("PU P#31"), std::string::npos);
}

TEST(TopologyTest, JsonRoundTrip) {
    Topology t = make_uniform_topology(2, 1, 2, 2, 1, "synthetic:test");
    auto back = Topology::from_json(t.to_json());
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(*back, t);
}

TEST(TopologyTest, RejectsInconsistentInput) {
    Topology t = make_uniform_topology(1, 1, 1, 2, 1);
    auto j = t.to_json();
    j["pus"][1]["os_index"] = 0;  // repeated os index
    auto r = Topology::from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("os_index"), std::string::npos);

    j = t.to_json();
    j["pus"][0]["package"] = 5;
    r = Topology::from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("package"), std::string::npos);

    j = t.to_json();
    j["extra"] = 1;
    r = Topology::from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("topology.extra"), std::string::npos);

    j = t.to_json();
    j["package_bandwidth_gbps"] = {-1.0};
    r = Topology::from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("package_bandwidth_gbps[0]"), std::string::npos);
}

}  // namespace
}  // namespace vtasos
