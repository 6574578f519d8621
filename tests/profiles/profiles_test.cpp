#include "vtasos/profiles/profiles.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace vtasos {
namespace {

namespace fs = std::filesystem;

TEST(ProfilesTest, BundledProfilesLoadAndMatch) {
    auto store = ProfileStore::load_dir(VTASOS_PROFILE_DIR);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    EXPECT_GE(store->size(), 5u);
    const Profile* cg = store->match_executable("cg.A.x");
    ASSERT_NE(cg, nullptr);
    EXPECT_EQ(cg->name, "npb-cg");
    EXPECT_EQ(store->match_executable("unknown-app"), nullptr);
    auto missing = store->get("npb-lu");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), Errc::kNotFound);
    EXPECT_NE(missing.error().message().find("npb-cg"), std::string::npos);  // lists known ones
    EXPECT_TRUE(store->get("default").ok());
}

TEST(ProfilesTest, RuleMapsBehaviourToRequest) {
    Profile sync;
    sync.name = "sync";
    sync.threads = 4;
    sync.barrier_rate_hz = 4 * 500;
    Request r = request_from_profile(sync, "t", 0);
    EXPECT_EQ(r.cpus, 4);
    EXPECT_TRUE(r.sched.gang);
    EXPECT_EQ(r.coexist[0], Coexist::kSocket);
    EXPECT_EQ(r.memory, MemPolicy::kLocal);
    EXPECT_TRUE(r.validate().ok());

    Profile quiet;
    quiet.name = "quiet";
    quiet.barrier_rate_hz = 1;
    r = request_from_profile(quiet, "t", 2);
    EXPECT_EQ(r.cpus, 2);
    EXPECT_FALSE(r.sched.gang);
    EXPECT_EQ(r.coexist[0], Coexist::kCore);

    Profile bw;
    bw.name = "bw";
    bw.bandwidth.gbps = 20.0;
    r = request_from_profile(bw, "t", 4);
    EXPECT_EQ(r.bandwidth.cls, BandwidthClass::kHigh);
    EXPECT_EQ(r.memory, MemPolicy::kInterleave);
    EXPECT_EQ(r.coexist[0], Coexist::kSocket);

    r = request_from_profile(default_profile(), "t", 0);
    EXPECT_EQ(r.cpus, 1);
    EXPECT_EQ(r.coexist[0], Coexist::kSocket);
    EXPECT_FALSE(r.sched.gang);
}

TEST(ProfilesTest, BadFileIsNamedAndFailsTheLoad) {
    fs::path dir = fs::temp_directory_path() / ("vtasos-prof-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "good.json") << R"({"name":"good"})";
    std::ofstream(dir / "bad.json") << R"({"name":"bad","sync_fraction":3})";
    auto store = ProfileStore::load_dir(dir.string());
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.error().message().find("bad.json"), std::string::npos);
    EXPECT_NE(store.error().message().find("profile.sync_fraction"), std::string::npos);
    std::ofstream(dir / "bad.json") << "{not json";
    store = ProfileStore::load_dir(dir.string());
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.error().message().find("not valid JSON"), std::string::npos);
    fs::remove(dir / "bad.json");
    std::ofstream(dir / "dup.json") << R"({"name":"good"})";
    store = ProfileStore::load_dir(dir.string());
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code(), Errc::kAlreadyExists);
    fs::remove_all(dir);
    EXPECT_EQ(ProfileStore::load_dir("/nonexistent/vtasos").error().code(), Errc::kNotFound);
}

TEST(ProfilesTest, FootprintRoundTripsAndIsChecked) {
    auto p = Profile::from_json(nlohmann::json::parse(R"({"name":"cg","footprint_mb":61.5})"));
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    ASSERT_TRUE(p->footprint_mb.has_value());
    EXPECT_DOUBLE_EQ(*p->footprint_mb, 61.5);
    EXPECT_EQ(*Profile::from_json(p->to_json()), *p);
    EXPECT_FALSE(Profile::from_json(nlohmann::json::parse(R"({"name":"cg"})"))->footprint_mb);
    auto bad = Profile::from_json(nlohmann::json::parse(R"({"name":"cg","footprint_mb":-1})"));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("profile.footprint_mb"), std::string::npos);
}

}  // namespace
}  // namespace vtasos
