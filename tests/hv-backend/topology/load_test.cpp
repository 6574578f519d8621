// load_topology: synthetic strings, hwloc XML fixtures, the live machine, bad specs.
#include "vtasos/topology/load.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace vtasos {
namespace {

const std::string kData = VTASOS_TOPOLOGY_DATA;

Topology must_load(const std::string& spec, std::optional<double> bw = std::nullopt) {
    auto t = load_topology(spec, bw);
    EXPECT_TRUE(t.ok()) << spec << ": " << (t.ok() ? "" : t.error().to_string());
    if (!t.ok()) return {};
    EXPECT_TRUE(t->validate().ok());
    return std::move(t).value();
}

void expect_json_round_trip(const Topology& t) {
    auto back = Topology::from_json(nlohmann::json::parse(t.to_json().dump()));
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(*back, t);
}

TEST(TopologyLoad, SyntheticPackagesCoresPus) {
    Topology t = must_load("synthetic:package:2 core:4 pu:2");
    EXPECT_EQ(t.source, "synthetic:package:2 core:4 pu:2");
    ASSERT_EQ(t.pus.size(), 16u);
    EXPECT_EQ(t.num_cores, 8);
    EXPECT_EQ(t.num_packages, 2);
    EXPECT_EQ(t.num_l3, 2);  // no L3 in the description: one per package
    EXPECT_EQ(t.num_numa, 1);
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(t.pus[i].os_index, i);
        EXPECT_EQ(t.pus[i].core, i / 2);
        EXPECT_EQ(t.pus[i].package, i / 8);
        EXPECT_EQ(t.pus[i].l3, i / 8);
        EXPECT_EQ(t.pus[i].numa, 0);
    }
    EXPECT_EQ(t.numa_os_index, std::vector<int>{0});
    // Default budget: default_package_bandwidth(cores in package).
    EXPECT_EQ(t.package_bandwidth_gbps, std::vector<double>(2, default_package_bandwidth(4)));
    expect_json_round_trip(t);
}

TEST(TopologyLoad, SyntheticNumaAndL3Levels) {
    Topology t = must_load("synthetic:package:2 numa:2 l3:1 core:4 pu:2");
    ASSERT_EQ(t.pus.size(), 32u);
    EXPECT_EQ(t.num_cores, 16);
    EXPECT_EQ(t.num_l3, 4);
    EXPECT_EQ(t.num_packages, 2);
    EXPECT_EQ(t.num_numa, 4);
    EXPECT_EQ(t.numa_os_index, (std::vector<int>{0, 1, 2, 3}));
    for (int i = 0; i < 32; ++i) {
        EXPECT_EQ(t.pus[i].core, i / 2) << i;
        EXPECT_EQ(t.pus[i].l3, i / 8) << i;
        EXPECT_EQ(t.pus[i].numa, i / 8) << i;
        EXPECT_EQ(t.pus[i].package, i / 16) << i;
    }
    EXPECT_EQ(t.package_bandwidth_gbps, std::vector<double>(2, default_package_bandwidth(8)));
    expect_json_round_trip(t);
}

TEST(TopologyLoad, MissingCoresGiveOneCorePerPu) {
    Topology t = must_load("synthetic:package:2 pu:3");
    ASSERT_EQ(t.pus.size(), 6u);
    EXPECT_EQ(t.num_cores, 6);
    EXPECT_EQ(t.num_packages, 2);
    EXPECT_EQ(t.num_l3, 2);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(t.pus[i].core, i);
}

TEST(TopologyLoad, MissingPackageIsOnePackage) {
    Topology t = must_load("synthetic:pu:4");
    ASSERT_EQ(t.pus.size(), 4u);
    EXPECT_EQ(t.num_packages, 1);
    EXPECT_EQ(t.num_l3, 1);
    EXPECT_EQ(t.num_cores, 4);
    EXPECT_EQ(t.num_numa, 1);
}

TEST(TopologyLoad, BandwidthOverride) {
    Topology t = must_load("synthetic:package:3 core:2 pu:1", 12.5);
    EXPECT_EQ(t.package_bandwidth_gbps, std::vector<double>(3, 12.5));
    for (double bad : {0.0, -1.0, 1e9}) {
        auto r = load_topology("synthetic:package:3 core:2 pu:1", bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
        EXPECT_NE(r.error().message().find("package bandwidth"), std::string::npos);
    }
}

TEST(TopologyLoad, LargeSyntheticMachine) {
    Topology t = must_load("synthetic:package:8 core:64 pu:2");
    EXPECT_EQ(t.pus.size(), 1024u);
    EXPECT_EQ(t.num_cores, 512);
    EXPECT_EQ(t.num_packages, 8);
    EXPECT_EQ(t.pus.back().os_index, 1023);
}

TEST(TopologyLoad, XmlFixtureWithInterleavedOsIndices) {
    Topology t = must_load("xml:" + kData + "/synthetic-2pkg-4numa-32pu.xml");
    ASSERT_EQ(t.pus.size(), 32u);
    EXPECT_EQ(t.num_packages, 2);
    EXPECT_EQ(t.num_numa, 4);
    EXPECT_EQ(t.num_l3, 4);
    EXPECT_EQ(t.num_cores, 16);
    // SMT siblings are os N and N+16: logical order is not os order.
    EXPECT_EQ(t.pus[0].os_index, 0);
    EXPECT_EQ(t.pus[1].os_index, 16);
    EXPECT_EQ(t.pus[2].os_index, 1);
    EXPECT_EQ(t.pus[0].core, t.pus[1].core);
    EXPECT_EQ(t.pus[31].os_index, 31);
    EXPECT_EQ(t.pus[31].package, 1);
    EXPECT_EQ(t.pus[31].numa, 3);
    expect_json_round_trip(t);
}

TEST(TopologyLoad, XmlFixtureWithoutL3) {
    Topology t = must_load("xml:" + kData + "/synthetic-4pkg-nol3-8pu.xml");
    ASSERT_EQ(t.pus.size(), 8u);
    EXPECT_EQ(t.num_packages, 4);
    EXPECT_EQ(t.num_l3, 4);
    EXPECT_EQ(t.num_cores, 8);
    EXPECT_EQ(t.num_numa, 1);
    expect_json_round_trip(t);
}

TEST(TopologyLoad, XmlFixtureOfARealVm) {
    Topology t = must_load("xml:" + kData + "/this-vm-2pu.xml");
    ASSERT_EQ(t.pus.size(), 2u);
    EXPECT_EQ(t.num_packages, 1);
    EXPECT_EQ(t.num_cores, 2);
    EXPECT_EQ(t.num_l3, 1);
    EXPECT_EQ(t.source, "xml:" + kData + "/this-vm-2pu.xml");
    expect_json_round_trip(t);
}

TEST(TopologyLoad, LiveMachine) {
    Topology t = must_load("live");
    EXPECT_EQ(t.source, "hwloc:live");
    EXPECT_GE(t.pus.size(), 1u);
    EXPECT_LE(static_cast<long>(t.pus.size()), sysconf(_SC_NPROCESSORS_CONF));
    EXPECT_GE(t.num_packages, 1);
    EXPECT_GE(t.num_numa, 1);
    EXPECT_NE(t.to_tree_string().find("PU P#"), std::string::npos);
    expect_json_round_trip(t);
}

void expect_error(const std::string& spec, Errc code, const std::vector<std::string>& needles) {
    auto r = load_topology(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_EQ(r.error().code(), code) << r.error().to_string();
    for (const auto& n : needles)
        EXPECT_NE(r.error().message().find(n), std::string::npos)
            << "\"" << n << "\" not in: " << r.error().message();
}

TEST(TopologyLoad, BadSpecsAreRejected) {
    expect_error("", Errc::kInvalidArgument, {"expected \"live\""});
    expect_error("hwloc", Errc::kInvalidArgument, {"topology spec \"hwloc\""});
    expect_error("xml:", Errc::kInvalidArgument, {"xml:PATH"});
    expect_error("synthetic:", Errc::kInvalidArgument, {"empty description"});
    expect_error("synthetic:   ", Errc::kInvalidArgument, {"empty description"});
    expect_error("xml:/nonexistent/topo.xml", Errc::kNotFound, {"/nonexistent/topo.xml"});
    expect_error("xml:/", Errc::kInvalidArgument, {"not a regular file"});
}

TEST(TopologyLoad, BadSyntheticStringQuotesStringAndHwlocComplaint) {
    expect_error("synthetic:package:2 foo:3", Errc::kInvalidArgument,
                 {"\"package:2 foo:3\"", "rejected by hwloc", "unknown object type"});
    expect_error("synthetic:package:2 core:3", Errc::kInvalidArgument,
                 {"\"package:2 core:3\"", "last level"});
    expect_error("synthetic:package:0 pu:1", Errc::kInvalidArgument, {"\"package:0 pu:1\""});
    expect_error("synthetic:package:x pu:1", Errc::kInvalidArgument,
                 {"\"package:x pu:1\"", "number of objects"});
}

TEST(TopologyLoad, BadXmlContentIsRejected) {
    char path[] = "/tmp/vtasos-topo-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    std::string junk = "<?xml version=\"1.0\"?><topology version=\"2.0\"><object type=\"Nope\"/>";
    ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    close(fd);
    auto r = load_topology(std::string("xml:") + path);
    unlink(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument) << r.error().to_string();
    EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace vtasos
