// vtasosctl without a daemon: the solver dry run and clean failures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ctl_harness.h"

namespace vtasos::testing {
namespace {

using nlohmann::json;

class CtlTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/vtasosctl-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& content) {
        std::string p = dir_ + "/" + name;
        std::ofstream(p) << content;
        return p;
    }
    std::string dir_;
};

constexpr const char* kTopo = "synthetic:package:2 core:4 pu:2";

TEST_F(CtlTest, PlaceIsADryRunWithoutADaemon) {
    auto req =
        write("req.json", R"({"tenant":"cg","cpus":2,"coexist":"socket","bandwidth":"high"})");
    auto r =
        run_ctl({"--socket", dir_ + "/no.sock", "place", "--topology", kTopo, "--request", req});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("placement: cg:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("why:"), std::string::npos) << r.out;
    auto j = run_ctl({"place", "--topology", kTopo, "--request", req, "--json"});
    ASSERT_EQ(j.rc, 0) << j.err;
    auto p = json::parse(j.out);
    EXPECT_EQ(p["tenant"], "cg");
    EXPECT_EQ(p["cpus"].size(), 2u);
}

TEST_F(CtlTest, PlaceRespectsExistingTenants) {
    auto req = write("req.json", R"({"tenant":"b","cpus":8,"coexist":"socket"})");
    auto first = run_ctl({"place", "--topology", kTopo, "--request", req, "--json"});
    ASSERT_EQ(first.rc, 0) << first.err;
    json existing =
        json::array({{{"request", {{"tenant", "a"}, {"cpus", 8}, {"coexist", "socket"}}},
                      {"placement", json::parse(first.out)}}});
    existing[0]["placement"]["tenant"] = "a";
    auto ex = write("existing.json", existing.dump());
    auto second =
        run_ctl({"place", "--topology", kTopo, "--request", req, "--existing", ex, "--json"});
    ASSERT_EQ(second.rc, 0) << second.err;
    auto p1 = json::parse(first.out), p2 = json::parse(second.out);
    std::set<int> a, b;
    for (const auto& c : p1["cpus"])
        for (int pu : c["pus"]) a.insert(pu);
    for (const auto& c : p2["cpus"])
        for (int pu : c["pus"]) EXPECT_FALSE(a.count(pu)) << "PU " << pu << " reused";
    // A third 8-cpu socket-level tenant does not fit in 8 cores.
    existing.push_back(
        {{"request", {{"tenant", "b"}, {"cpus", 8}, {"coexist", "socket"}}}, {"placement", p2}});
    auto ex2 = write("existing2.json", existing.dump());
    auto third = run_ctl({"place", "--topology", kTopo, "--request",
                          write("c.json", R"({"tenant":"c","cpus":1})"), "--existing", ex2});
    EXPECT_NE(third.rc, 0);
    EXPECT_NE(third.err.find("infeasible"), std::string::npos) << third.err;
}

TEST_F(CtlTest, PlaceNamesTheBadField) {
    auto req = write("bad.json", R"({"tenant":"x","cpus":-3})");
    auto r = run_ctl({"place", "--topology", kTopo, "--request", req});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("request.cpus"), std::string::npos) << r.err;
    auto t = run_ctl({"place", "--topology", "synthetic:bogus", "--request", req});
    EXPECT_EQ(t.rc, 1);
    EXPECT_NE(t.err.find("--topology"), std::string::npos) << t.err;
    auto m = run_ctl({"place", "--topology", kTopo, "--request", dir_ + "/missing.json"});
    EXPECT_EQ(m.rc, 1);
    EXPECT_NE(m.err.find("missing.json"), std::string::npos) << m.err;
}

TEST_F(CtlTest, LocalTopologyTree) {
    auto r = run_ctl({"topology", "--spec", kTopo});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("Package"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("PU"), std::string::npos);
}

TEST_F(CtlTest, WithoutADaemonRunAndStatusFailCleanly) {
    std::string sock = dir_ + "/absent.sock";
    auto run = run_ctl({"--socket", sock, "run", "--cpus", "1", "--", "true"});
    EXPECT_EQ(run.rc, 125);
    EXPECT_NE(run.err.find("unavailable"), std::string::npos) << run.err;
    auto st = run_ctl({"--socket", sock, "status"});
    EXPECT_EQ(st.rc, 1);
    EXPECT_NE(st.err.find("is vtasosd running?"), std::string::npos) << st.err;
}

TEST_F(CtlTest, UsageErrorsAreReported) {
    EXPECT_NE(run_ctl({}).rc, 0);
    EXPECT_NE(run_ctl({"frobnicate"}).rc, 0);
    auto r = run_ctl({"run", "--cpus", "1", "--coexist", "share", "--", "true"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("coexist"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vtasos::testing
