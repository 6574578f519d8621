#include "internal/derive.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "vtasos/profiles/profiles.h"

namespace vtasos::ompt {
namespace {

Totals sample_totals() {
    Totals t;
    t.regions = 100;
    t.outer_team_size_max = 4;
    t.sync_events[kSyncBarrierExplicit] = 400;
    t.sync_instances[kSyncBarrierExplicit] = 100;
    t.sync_events[kSyncBarrierImplicit] = 400;
    t.sync_instances[kSyncBarrierImplicit] = 100;
    t.sync_events[kSyncTaskwait] = 7;
    t.sync_instances[kSyncTaskwait] = 7;
    t.mutex_acquired[kMutexCritical] = 12;
    t.tasks_created = 3;
    // 4 threads: 1 s in tasks each (1e9 ticks at 1e9 ticks/s), waits 0.1..0.4 s
    for (int i = 0; i < 4; ++i) t.threads.push_back({1000000000ull, 100000000ull * (i + 1)});
    t.task_ticks = 4000000000ull;
    t.region_wait_ticks = 1000000000ull;
    t.threads_seen = 4;
    return t;
}

RunInfo run2s() {
    RunInfo r;
    r.exe = "cg.W.x";
    r.wall_s = 2.0;
    r.ticks_per_s = 1e9;
    r.bandwidth_source = "no hardware counters (test)";
    return r;
}

TEST(OmptDerive, RatesFractionsAndImbalance) {
    Profile p = learned_profile(sample_totals(), run2s(), default_profile());
    EXPECT_EQ(p.name, "cg.W.x");
    EXPECT_EQ(p.match, std::vector<std::string>{"cg.W.x"});
    EXPECT_EQ(p.threads, 4);
    EXPECT_DOUBLE_EQ(p.region_rate_hz, 50.0);
    EXPECT_DOUBLE_EQ(p.barrier_rate_hz, 400.0);  // all threads' barrier events / s
    EXPECT_DOUBLE_EQ(p.sync_fraction, 0.25);
    // busy 0.9, 0.8, 0.7, 0.6 s: mean 0.75, max 0.9 -> 0.2
    EXPECT_NEAR(p.imbalance, 0.2, 1e-4);
    EXPECT_EQ(p.bandwidth.cls, BandwidthClass::kUnknown);
    EXPECT_FALSE(p.bandwidth.gbps.has_value());
    // the result passes the schema's rules
    auto back = Profile::from_json(p.to_json());
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(*back, p);
}

TEST(OmptDerive, KnownProfileKeepsItsNameMatchAndWishes) {
    Profile base;
    base.name = "npb-cg";
    base.match = {"cg", "cg.W.x"};
    base.coexist = Coexist::kSocket;
    base.gang = true;
    RunInfo r = run2s();
    Profile p = learned_profile(sample_totals(), r, base);
    EXPECT_EQ(p.name, "npb-cg");
    EXPECT_EQ(p.match, base.match);
    EXPECT_EQ(p.coexist, Coexist::kSocket);
    EXPECT_EQ(p.gang, true);
    r.gang_wish_dropped = true;  // the daemon advised gang off: no wish, but no forbid either
    EXPECT_EQ(learned_profile(sample_totals(), r, base).gang, std::nullopt);
    base.gang = false;  // a forbid the user wrote stays
    EXPECT_EQ(learned_profile(sample_totals(), r, base).gang, false);
}

TEST(OmptDerive, NoteHoldsTheExactCounts) {
    Profile p = learned_profile(sample_totals(), run2s(), default_profile());
    auto m = parse_note(p.note);
    EXPECT_EQ(m["exe"], "cg.W.x");
    EXPECT_EQ(m["regions"], "100");
    EXPECT_EQ(m["barriers_explicit"], "100");
    EXPECT_EQ(m["barriers_implicit"], "100");
    EXPECT_EQ(m["barriers"], "200");
    EXPECT_EQ(m["barrier_events"], "800");
    EXPECT_EQ(m["taskwaits"], "7");
    EXPECT_EQ(m["criticals"], "12");
    EXPECT_EQ(m["tasks"], "3");
    EXPECT_EQ(m["bandwidth"], "unknown");
    EXPECT_EQ(m["bandwidth_source"], "no_hardware_counters_(test)");
    EXPECT_LE(p.note.size(), 4096u);
}

TEST(OmptDerive, MeasuredBandwidthIsReported) {
    RunInfo r = run2s();
    r.bandwidth.gbps = 3.5;
    Profile p = learned_profile(sample_totals(), r, default_profile());
    ASSERT_TRUE(p.bandwidth.gbps);
    EXPECT_DOUBLE_EQ(*p.bandwidth.gbps, 3.5);
    EXPECT_EQ(parse_note(p.note)["bandwidth"], "3.500GB/s");
}

TEST(OmptDerive, EmptyRunGivesAValidProfile) {
    RunInfo r;
    r.exe = "weird name/x";
    Profile p = learned_profile(Totals{}, r, default_profile());
    EXPECT_EQ(p.threads, 0);
    EXPECT_EQ(p.sync_fraction, 0);
    EXPECT_EQ(p.name, "weird_name_x");
    EXPECT_TRUE(p.match.empty());  // not a valid base name
    EXPECT_TRUE(Profile::from_json(p.to_json()));
}

TEST(OmptDerive, ProfileNameForExecutables) {
    EXPECT_EQ(profile_name_for("cg.A.x"), "cg.A.x");
    EXPECT_EQ(profile_name_for("my app"), "my_app");
    EXPECT_EQ(profile_name_for(""), "unnamed");
    EXPECT_EQ(profile_name_for(std::string(100, 'a')).size(), 64u);
}

TEST(OmptDerive, ParseNoteSkipsWords) {
    auto m = parse_note("vtasos-ompt learned: a=1  b=x=y c= =d");
    EXPECT_EQ(m.size(), 3u);
    EXPECT_EQ(m["a"], "1");
    EXPECT_EQ(m["b"], "x=y");
    EXPECT_EQ(m["c"], "");
}

class OmptChooseProfile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("vtasos-ompt-derive-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& text) {
        auto p = dir_ / name;
        std::ofstream(p) << text;
        return p.string();
    }
    std::filesystem::path dir_;
};

TEST_F(OmptChooseProfile, ByExecutableNameFromTheBundledProfiles) {
    auto c = choose_profile(std::nullopt, "cg.A.x", {VTASOS_PROFILE_DIR});
    EXPECT_TRUE(c.known);
    EXPECT_EQ(c.profile.name, "npb-cg");
    EXPECT_EQ(c.source, "executable cg.A.x");
    EXPECT_TRUE(c.warnings.empty());
}

TEST_F(OmptChooseProfile, UnknownExecutableGetsTheDefault) {
    auto c = choose_profile(std::nullopt, "mystery", {VTASOS_PROFILE_DIR, "/nonexistent"});
    EXPECT_FALSE(c.known);
    EXPECT_EQ(c.profile.name, "default");
    EXPECT_TRUE(c.warnings.empty());
}

TEST_F(OmptChooseProfile, ByNameFromVtasosProfile) {
    auto c = choose_profile("npb-ep", "cg.A.x", {VTASOS_PROFILE_DIR});
    EXPECT_TRUE(c.known);
    EXPECT_EQ(c.profile.name, "npb-ep");
    EXPECT_EQ(c.source, "VTASOS_PROFILE npb-ep");
}

TEST_F(OmptChooseProfile, ByFileFromVtasosProfile) {
    std::string f = write("mine.json", R"({"name": "mine", "threads": 3, "gang": true})");
    auto c = choose_profile(f, "a.out", {});
    EXPECT_TRUE(c.known);
    EXPECT_EQ(c.profile.name, "mine");
    EXPECT_EQ(c.profile.threads, 3);
}

TEST_F(OmptChooseProfile, UnknownNameWarnsAndFallsBackToTheExecutable) {
    auto c = choose_profile("nope", "is.W.x", {VTASOS_PROFILE_DIR});
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_NE(c.warnings[0].find("VTASOS_PROFILE=nope: no such profile"), std::string::npos);
    EXPECT_NE(c.warnings[0].find("npb-cg"), std::string::npos);  // lists the known ones
    EXPECT_EQ(c.profile.name, "npb-is");
}

TEST_F(OmptChooseProfile, BadFileWarnsAndFallsBack) {
    std::string f = write("bad.json", R"({"name": "bad", "threads": -1})");
    auto c = choose_profile(f, "mystery", {VTASOS_PROFILE_DIR});
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_NE(c.warnings[0].find("threads"), std::string::npos) << c.warnings[0];
    EXPECT_EQ(c.profile.name, "default");
    auto missing = choose_profile(dir_.string() + "/none.json", "mystery", {});
    ASSERT_EQ(missing.warnings.size(), 1u);
    EXPECT_NE(missing.warnings[0].find("not found"), std::string::npos);
}

TEST_F(OmptChooseProfile, DefaultByName) {
    auto c = choose_profile("default", "cg.A.x", {VTASOS_PROFILE_DIR});
    EXPECT_FALSE(c.known);
    EXPECT_EQ(c.profile.name, "default");
    EXPECT_TRUE(c.warnings.empty());
}

}  // namespace
}  // namespace vtasos::ompt
