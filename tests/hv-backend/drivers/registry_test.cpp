// make_driver: the registry of drivers by name.
#include <gtest/gtest.h>

#include <algorithm>

#include "vtasos/drivers/driver.h"

namespace vtasos {
namespace {

TEST(Registry, LinuxIsKnownAndFirst) {
    auto names = known_drivers();
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names.front(), "linux");
    DriverConfig cfg;
    cfg.cgroup_root = "/nonexistent-vtasos-root";
    auto d = make_driver("linux", cfg);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    EXPECT_EQ((*d)->name(), "linux");
}

TEST(Registry, UnknownNameListsTheKnownOnes) {
    auto d = make_driver("vmware", DriverConfig{});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code(), Errc::kNotFound);
    EXPECT_NE(d.error().message().find("\"vmware\""), std::string::npos) << d.error().message();
    for (const auto& n : known_drivers())
        EXPECT_NE(d.error().message().find(n), std::string::npos) << d.error().message();
}

TEST(Registry, BadConfigIsRejected) {
    DriverConfig cfg;
    cfg.parent = "../etc";
    auto d = make_driver("linux", cfg);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code(), Errc::kInvalidArgument);
}

}  // namespace
}  // namespace vtasos
