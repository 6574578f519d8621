#include "internal/job.h"

#include <gtest/gtest.h>

#include "fake_transport.h"
#include "vtasos/core/request.h"

namespace vtasos::mpi {
namespace {

using nlohmann::json;
using testing::FakeTransport;
using testing::ok;
using testing::placement;
using testing::refused;
using Clock = std::chrono::steady_clock;

JoinSpec spec() {
    JoinSpec s;
    s.tenant = "mpi-7-n0";
    s.nspace = "7";
    s.rank = 1;
    s.local_rank = 1;
    s.local_size = 2;
    s.node_id = 0;
    s.threads = 2;
    s.pid = 1234;
    s.wait_ms = 750;
    return s;
}

// A fake clock that advances by the requested sleep.
struct FakeClock {
    Clock::time_point t = Clock::time_point{} + std::chrono::hours(1);
    std::vector<std::chrono::microseconds> sleeps;
    JoinClock clock() {
        JoinClock c;
        c.now = [this] { return t; };
        c.sleep = [this](std::chrono::microseconds us) {
            sleeps.push_back(us);
            t += us;
        };
        return c;
    }
};

TEST(MpiHookJob, JoinRequestCarriesEverything) {
    JoinSpec s = spec();
    s.profile = "npb-cg";
    s.hostname = "n0";
    s.oversubscribed = true;
    json j = join_request(s);
    EXPECT_EQ(j["op"], "register");
    EXPECT_EQ(j["tenant"], "mpi-7-n0");
    EXPECT_EQ(j["pids"], json::array({1234}));
    EXPECT_EQ(j["profile"], "npb-cg");
    const json& g = j["job"];
    EXPECT_EQ(g["local_rank"], 1);
    EXPECT_EQ(g["local_size"], 2);
    EXPECT_EQ(g["threads"], 2);
    EXPECT_EQ(g["wait_ms"], 750);
    EXPECT_EQ(g["oversubscribe"], true);
    EXPECT_EQ(g["nspace"], "7");
    EXPECT_EQ(g["rank"], 1);
    EXPECT_EQ(g["node"], 0);
    EXPECT_EQ(g["host"], "n0");
    EXPECT_EQ(leave_request("mpi-7-n0", 1234),
              json({{"op", "release"}, {"tenant", "mpi-7-n0"}, {"pid", 1234}}));
}

TEST(MpiHookJob, HasJoinFromHello) {
    EXPECT_TRUE(daemon_has_join(ok({{"features", {"job"}}})));
    EXPECT_FALSE(daemon_has_join(ok({{"ops", {"hello", "register"}}})));
    EXPECT_FALSE(daemon_has_join(ok({{"features", json::array()}})));
    EXPECT_FALSE(daemon_has_join(ok()));
}

TEST(MpiHookJob, PollsUntilPlaced) {
    int calls = 0;
    FakeTransport t([&](const json& req) -> Result<json> {
        EXPECT_EQ(req["op"], "register");
        EXPECT_TRUE(req.contains("job"));
        if (++calls < 3) return ok({{"state", "waiting"}, {"arrived", 1}, {"expected", 2}});
        return ok({{"state", "placed"},
                   {"arrived", 2},
                   {"expected", 2},
                   {"source", "default"},
                   {"share", placement("mpi-7-n0", {{2}, {3}})}});
    });
    FakeClock fc;
    auto r = join_job(t, spec(), true, fc.t + std::chrono::seconds(3), fc.clock());
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->mode, "job");
    EXPECT_EQ(r->tenant, "mpi-7-n0");
    EXPECT_EQ(r->pus(), (std::vector<int>{2, 3}));
    EXPECT_EQ(r->arrived, 2);
    EXPECT_EQ(calls, 3);
    ASSERT_EQ(fc.sleeps.size(), 2u);
    EXPECT_LT(fc.sleeps[0], fc.sleeps[1]);  // backs off
}

TEST(MpiHookJob, GivesUpAtTheDeadlineAndLeaves) {
    FakeTransport t([&](const json& req) -> Result<json> {
        if (req["op"] == "release") return ok({{"remaining", 0}});
        return ok({{"state", "waiting"}, {"arrived", 1}, {"expected", 4}});
    });
    FakeClock fc;
    auto start = fc.t;
    auto r = join_job(t, spec(), true, start + std::chrono::milliseconds(200), fc.clock());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kTimeout);
    EXPECT_NE(r.error().message().find("1 of 4"), std::string::npos);
    EXPECT_EQ(t.requests.back(), leave_request("mpi-7-n0", 1234));
    EXPECT_LE(fc.t - start, std::chrono::milliseconds(200));  // never sleeps past the deadline
    for (auto s : fc.sleeps) EXPECT_LE(s, std::chrono::milliseconds(10));
}

TEST(MpiHookJob, DaemonRefusalIsPassedOn) {
    FakeTransport t([&](const json&) -> Result<json> {
        return refused("not_found", "register.profile: no profile \"zz\"");
    });
    auto r = join_job(t, spec(), true, Clock::now() + std::chrono::seconds(1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kNotFound);
    EXPECT_NE(r.error().message().find("no profile"), std::string::npos);
}

TEST(MpiHookJob, TransportErrorsArePassedOn) {
    FakeTransport t([&](const json&) -> Result<json> { return Error(Errc::kTimeout, "no reply"); });
    auto r = join_job(t, spec(), true, Clock::now() + std::chrono::seconds(1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kTimeout);
}

TEST(MpiHookJob, BadRepliesAreProtocolErrors) {
    FakeTransport t1([&](const json&) -> Result<json> { return ok({{"state", "exploded"}}); });
    EXPECT_EQ(join_job(t1, spec(), true, Clock::now()).error().code(), Errc::kProtocol);
    FakeTransport t2([&](const json&) -> Result<json> { return ok({{"state", "placed"}}); });
    EXPECT_EQ(join_job(t2, spec(), true, Clock::now()).error().code(), Errc::kProtocol);
}

TEST(MpiHookJob, FallbackRegistersOneTenantPerRank) {
    FakeTransport t([&](const json& req) -> Result<json> {
        EXPECT_EQ(req["op"], "register");
        EXPECT_EQ(req["tenant"], "mpi-7-n0.r1");
        EXPECT_EQ(req["pids"], json::array({1234}));
        EXPECT_EQ(req["detached"], true);  // the pidfd ends it, not the connection
        EXPECT_EQ(req["cpus"], 2);
        EXPECT_FALSE(req.contains("request"));
        return ok({{"placement", placement("mpi-7-n0.r1", {{0}, {1}})}, {"source", "default"}});
    });
    auto r = join_job(t, spec(), false, Clock::now());
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->mode, "rank");
    EXPECT_EQ(r->tenant, "mpi-7-n0.r1");
    EXPECT_EQ(r->pus(), (std::vector<int>{0, 1}));
}

TEST(MpiHookJob, FallbackOversubscribedAsksToTimeShare) {
    JoinSpec s = spec();
    s.oversubscribed = true;
    json j = rank_register_request(s);
    ASSERT_TRUE(j.contains("request"));
    EXPECT_EQ(j["request"]["cpus"], 2);
    // every cpu may share its PU
    auto req = Request::from_json(j["request"]);
    ASSERT_TRUE(req) << req.error().to_string();
    for (auto c : req->coexist) EXPECT_EQ(c, Coexist::kPu);
    s.profile = "npb-cg";
    json p = rank_register_request(s);
    EXPECT_EQ(p["profile"], "npb-cg");
    EXPECT_EQ(p["cpus"], 2);
}

TEST(MpiHookJob, LeaveAndRelease) {
    FakeTransport t([&](const json& req) -> Result<json> {
        if (req.contains("pid")) return ok({{"remaining", 1}});
        return refused("not_found", "release.tenant: no tenant");
    });
    Share job;
    job.tenant = "mpi-7-n0";
    job.mode = "job";
    EXPECT_TRUE(leave_job(t, job, 1234));
    EXPECT_EQ(t.requests.back(), leave_request("mpi-7-n0", 1234));
    Share rank;
    rank.tenant = "mpi-7-n0.r1";
    rank.mode = "rank";
    EXPECT_TRUE(leave_job(t, rank, 1234));  // already gone is fine
    EXPECT_EQ(t.requests.back(), json({{"op", "release"}, {"tenant", "mpi-7-n0.r1"}}));
}

TEST(MpiHookJob, LateRankGetsTheTenantTheDaemonNames) {
    FakeTransport t([&](const json&) -> Result<json> {
        return ok({{"state", "placed"},
                   {"tenant", "mpi-7-n0.r1"},
                   {"late", true},
                   {"share", placement("mpi-7-n0.r1", {{1}, {2}})}});
    });
    auto r = join_job(t, spec(), true, Clock::now());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tenant, "mpi-7-n0.r1");
    EXPECT_EQ(r->mode, "job");
}

}  // namespace
}  // namespace vtasos::mpi
