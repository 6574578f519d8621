#include "vtasos/core/request.h"

#include <gtest/gtest.h>

#include "vtasos/core/advice.h"
#include "vtasos/core/profile.h"

namespace vtasos {
namespace {

using nlohmann::json;

json valid_request() {
    return json::parse(R"({"tenant":"cg-1","kind":"process","cpus":4,"coexist":"socket",
        "groups":[{"level":"core","cpus":[0,1]}],"bandwidth":{"class":"high","gbps":12.5},
        "sched":{"gang":true,"latency_ms":20},"memory":"interleave"})");
}

TEST(RequestTest, ParsesAndRoundTrips) {
    auto r = Request::from_json(valid_request());
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->cpus, 4);
    EXPECT_EQ(r->coexist.size(), 4u);
    EXPECT_EQ(r->coexist[3], Coexist::kSocket);
    EXPECT_EQ(r->groups[0].level, GroupLevel::kCore);
    EXPECT_EQ(*r->bandwidth.gbps, 12.5);
    EXPECT_TRUE(r->sched.gang);
    EXPECT_EQ(r->memory, MemPolicy::kInterleave);
    auto back = Request::from_json(r->to_json());
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(*back, *r);
    EXPECT_NE(r->to_string().find("coexist=socket"), std::string::npos);
}

TEST(RequestTest, DefaultsAndShortForms) {
    auto r = Request::from_json(json::parse(R"({"tenant":"a","cpus":2,"bandwidth":"low"})"));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->coexist, std::vector<Coexist>(2, Coexist::kSocket));
    EXPECT_EQ(r->bandwidth.cls, BandwidthClass::kLow);
    r = Request::from_json(json::parse(R"({"tenant":"a","cpus":2,"bandwidth":3.5,"coexist":["pu","none"]})"));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(*r->bandwidth.gbps, 3.5);
    EXPECT_EQ(r->coexist[1], Coexist::kNone);
    EXPECT_EQ(default_request("x", 3).coexist.size(), 3u);
}

// Each field made wrong in turn: the error names that field.
TEST(RequestTest, EachBadFieldIsNamed) {
    struct Case {
        const char* path;
        json value;
        const char* expect;
    };
    std::vector<Case> cases = {
        {"/tenant", "../../etc", "request.tenant"},
        {"/tenant", 7, "request.tenant"},
        {"/tenant", "", "request.tenant"},
        {"/kind", "container", "request.kind"},
        {"/cpus", -3, "request.cpus"},
        {"/cpus", 0, "request.cpus"},
        {"/cpus", 1e12, "request.cpus"},
        {"/cpus", "4", "request.cpus"},
        {"/cpus", 2.5, "request.cpus"},
        {"/coexist", "shared", "request.coexist"},
        {"/coexist", json::array({"core"}), "request.coexist"},
        {"/groups", 3, "request.groups"},
        {"/groups/0/level", "pu", "request.groups[0].level"},
        {"/groups/0/cpus", json::array({0, 9}), "request.groups[0].cpus[1]"},
        {"/groups/0/cpus", json::array({1, 1}), "request.groups[0].cpus"},
        {"/groups/0/cpus", json::array({1}), "request.groups[0].cpus"},
        {"/bandwidth", "huge", "request.bandwidth"},
        {"/bandwidth", -1, "request.bandwidth"},
        {"/bandwidth/gbps", "x", "request.bandwidth.gbps"},
        {"/bandwidth/class", 1, "request.bandwidth.class"},
        {"/sched", json::array(), "request.sched"},
        {"/sched/gang", "yes", "request.sched.gang"},
        {"/sched/latency_ms", -5, "request.sched.latency_ms"},
        {"/memory", "remote", "request.memory"},
        {"/unknown_field", 1, "request.unknown_field"},
    };
    for (const auto& c : cases) {
        json j = valid_request();
        j[json::json_pointer(c.path)] = c.value;
        auto r = Request::from_json(j);
        ASSERT_FALSE(r.ok()) << c.path << " = " << c.value.dump();
        EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
        EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
            << c.path << ": " << r.error().message();
    }
    json missing = valid_request();
    missing.erase("cpus");
    auto r = Request::from_json(missing);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("request.cpus: required"), std::string::npos);
    r = Request::from_json(json::array());
    ASSERT_FALSE(r.ok());
}

TEST(AdviceTest, RoundTripAndValidation) {
    Advice a{1.5, 2, true, "node overloaded"};
    auto back = Advice::from_json(a.to_json());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, a);
    auto j = a.to_json();
    j["node_load"] = -1;
    EXPECT_FALSE(Advice::from_json(j).ok());
    j = a.to_json();
    j["suggested_threads"] = "two";
    auto r = Advice::from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("advice.suggested_threads"), std::string::npos);
}

TEST(ProfileTest, RoundTripAndValidation) {
    auto p = Profile::from_json(json::parse(R"({"name":"npb-cg","match":["cg","cg.A.x"],"threads":4,
        "barrier_rate_hz":2000,"sync_fraction":0.25,"bandwidth":{"class":"high","gbps":8},
        "coexist":"socket","gang":true,"note":"x"})"));
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    auto back = Profile::from_json(p->to_json());
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(*back, *p);
    for (auto [field, value, expect] : std::vector<std::tuple<const char*, json, const char*>>{
             {"sync_fraction", 1.5, "profile.sync_fraction"},
             {"threads", -1, "profile.threads"},
             {"match", json::array({"/bin/cg"}), "profile.match[0]"},
             {"bandwidth", "extreme", "profile.bandwidth"},
             {"coexist", "always", "profile.coexist"},
             {"name", "a/b", "profile.name"},
             {"frobnicate", 1, "profile.frobnicate"}}) {
        json j = p->to_json();
        j[field] = value;
        auto r = Profile::from_json(j);
        ASSERT_FALSE(r.ok()) << field;
        EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
    }
}

}  // namespace
}  // namespace vtasos
