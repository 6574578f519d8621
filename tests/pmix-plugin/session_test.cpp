#include "internal/session.h"

#include <gtest/gtest.h>

#include <map>

#include "fake_transport.h"
#include "vtasos/mpi/share.h"

namespace vtasos::mpi {
namespace {

using nlohmann::json;
using testing::FakeTransport;
using testing::ok;
using testing::placement;

struct World {
    std::map<std::string, std::string> env;
    std::vector<std::pair<int, std::string>> said;
    std::vector<std::vector<int>> binds;
    std::vector<json> requests;
    int connects = 0;
    FakeTransport::Answer answer;
    Result<int> bind_result = 3;
    Errc connect_error = Errc::kOk;

    SessionDeps deps() {
        SessionDeps d;
        d.connect = [this](const std::string&, int) -> Result<std::unique_ptr<Transport>> {
            ++connects;
            if (connect_error != Errc::kOk) return Error(connect_error, "connect: nope");
            auto* self = this;
            return std::unique_ptr<Transport>(new FakeTransport([self](const json& r) {
                self->requests.push_back(r);
                return self->answer(r);
            }));
        };
        d.bind = [this](const std::vector<int>& p) {
            binds.push_back(p);
            return bind_result;
        };
        d.setenv = [this](const char* n, const char* v) { env[n] = v; };
        d.unsetenv = [this](const char* n) { env.erase(n); };
        d.say = [this](int l, const std::string& m) { said.push_back({l, m}); };
        d.default_socket = "/run/vtasos/vtasosd.sock";
        d.binding = detect_binding({0, 1}, {0, 1}, nullptr);
        d.usable_pus = 4;
        d.pid = 777;
        return d;
    }
    bool said_contains(const std::string& s, int level = -1) const {
        for (const auto& [l, m] : said)
            if ((level < 0 || l == level) && m.find(s) != std::string::npos) return true;
        return false;
    }
};

RankFacts facts(int local_rank = 0, int local_size = 2) {
    RankFacts f;
    f.nspace = "42";
    f.rank = local_rank;
    f.job_size = local_size;
    f.local_rank = local_rank;
    f.local_size = local_size;
    f.node_id = 0;
    return f;
}

Result<json> daemon_with_join(const json& req) {
    if (req["op"] == "hello") return ok({{"ops", {"hello", "register"}}, {"features", {"job"}}});
    if (req["op"] == "register" && req.contains("job"))
        return ok({{"state", "placed"},
                   {"arrived", 2},
                   {"expected", 2},
                   {"share", placement("mpi-42-n0", {{2}, {3}})}});
    if (req["op"] == "release" && req.contains("pid")) return ok({{"remaining", 0}});
    return testing::refused("invalid_argument", "unexpected");
}

TEST(MpiHookSession, PlacesBindsPublishesAndGivesBack) {
    World w;
    w.answer = daemon_with_join;
    HookConfig cfg;
    cfg.threads_per_rank = 2;
    Session s(cfg, facts(), w.deps());
    EXPECT_EQ(s.start(), Outcome::kPlaced);
    ASSERT_EQ(w.binds.size(), 1u);
    EXPECT_EQ(w.binds[0], (std::vector<int>{2, 3}));
    EXPECT_EQ(w.env[VTASOS_MPI_ENV_TENANT], "mpi-42-n0");
    EXPECT_EQ(w.env[VTASOS_MPI_ENV_PUS], "2-3");
    EXPECT_EQ(w.env[VTASOS_MPI_ENV_SOCKET], "/run/vtasos/vtasosd.sock");
    EXPECT_EQ(w.env[VTASOS_MPI_ENV_RANK], "0 0 2");
    auto share = json::parse(w.env[VTASOS_MPI_ENV_SHARE]);
    EXPECT_EQ(share["cpus"].size(), 2u);
    // join carried the job's shape; 2 ranks x 2 threads fit 4 PUs
    json join = w.requests[1]["job"];
    EXPECT_EQ(w.requests[1]["op"], "register");
    EXPECT_EQ(join["threads"], 2);
    EXPECT_EQ(join["local_size"], 2);
    EXPECT_EQ(join["oversubscribe"], false);
    EXPECT_EQ(join["wait_ms"], 2250);
    EXPECT_TRUE(w.said_contains("bound to 2-3", 1));
    s.finish();
    EXPECT_EQ(w.requests.back()["op"], "release");
    EXPECT_EQ(w.requests.back()["pid"], 777);
    EXPECT_EQ(w.env.count(VTASOS_MPI_ENV_TENANT), 0u);
    s.finish();  // twice is harmless
    EXPECT_EQ(w.connects, 2);
}

TEST(MpiHookSession, OversubscribedJobAsksToTimeShare) {
    World w;
    w.answer = daemon_with_join;
    HookConfig cfg;
    cfg.threads_per_rank = 1;
    Session s(cfg, facts(0, 8), w.deps());  // 8 ranks on 4 usable PUs
    s.start();
    EXPECT_EQ(w.requests[1]["job"]["oversubscribe"], true);
}

TEST(MpiHookSession, NoDaemonIsOneVerboseLine) {
    World w;
    w.connect_error = Errc::kUnavailable;
    Session s(HookConfig{}, facts(), w.deps());
    EXPECT_EQ(s.start(), Outcome::kNoDaemon);
    ASSERT_EQ(w.said.size(), 1u);
    EXPECT_EQ(w.said[0].first, 1);
    EXPECT_TRUE(w.said_contains("no vtasosd at /run/vtasos/vtasosd.sock"));
    EXPECT_TRUE(w.binds.empty());
    EXPECT_TRUE(w.env.empty());
    s.finish();
    EXPECT_EQ(w.connects, 1);  // nothing to give back
}

TEST(MpiHookSession, RespectLeavesMpirunBindingAndExplainsOnce) {
    for (int lr : {0, 1}) {
        World w;
        w.answer = daemon_with_join;
        SessionDeps d = w.deps();
        d.binding = detect_binding({lr}, {0, 1}, "1");
        HookConfig cfg;
        cfg.binding = Binding::kRespect;
        Session s(cfg, facts(lr), d);
        EXPECT_EQ(s.start(), Outcome::kRespected);
        EXPECT_EQ(w.connects, 0);
        EXPECT_TRUE(w.binds.empty());
        // local rank 0 explains at level 0 (always shown); the others only at verbose
        EXPECT_EQ(w.said_contains("--bind-to none", 0), lr == 0);
    }
}

TEST(MpiHookSession, RespectWithoutLaunchBindingPlaces) {
    World w;
    w.answer = daemon_with_join;
    HookConfig cfg;
    cfg.binding = Binding::kRespect;
    Session s(cfg, facts(), w.deps());  // not bound
    EXPECT_EQ(s.start(), Outcome::kPlaced);
}

TEST(MpiHookSession, TakeoverSaysWhatItReplaced) {
    World w;
    w.answer = daemon_with_join;
    SessionDeps d = w.deps();
    d.binding = detect_binding({0}, {0, 1, 2, 3}, "1");
    Session s(HookConfig{}, facts(), d);
    EXPECT_EQ(s.start(), Outcome::kPlaced);
    EXPECT_TRUE(w.said_contains("replacing the launch binding to 0", 1));
}

TEST(MpiHookSession, BindFailureKeepsRunning) {
    World w;
    w.answer = daemon_with_join;
    w.bind_result = Error(Errc::kIo, "bind: sched_setaffinity(2-3): Invalid argument");
    Session s(HookConfig{}, facts(), w.deps());
    EXPECT_EQ(s.start(), Outcome::kRegistered);
    EXPECT_TRUE(w.said_contains("not bound"));
}

TEST(MpiHookSession, RefusalAndHelloFailureMeanNoPlacement) {
    World w;
    w.answer = [](const json& req) -> Result<json> {
        if (req["op"] == "hello") return ok({{"features", {"job"}}});
        return testing::refused("infeasible", "register.job: cpu 3 cannot be placed");
    };
    Session s(HookConfig{}, facts(), w.deps());
    EXPECT_EQ(s.start(), Outcome::kFailed);
    EXPECT_TRUE(w.said_contains("infeasible"));
    World w2;
    w2.answer = [](const json&) -> Result<json> { return Error(Errc::kTimeout, "no reply"); };
    Session s2(HookConfig{}, facts(), w2.deps());
    EXPECT_EQ(s2.start(), Outcome::kFailed);
    EXPECT_TRUE(w2.env.empty());
}

TEST(MpiHookSession, WaitingPastTheTimeoutEndsWithoutPlacement) {
    World w;
    w.answer = [](const json& req) -> Result<json> {
        if (req["op"] == "hello") return ok({{"features", {"job"}}});
        if (req["op"] == "release") return ok();
        return ok({{"state", "waiting"}, {"arrived", 1}, {"expected", 2}});
    };
    HookConfig cfg;
    cfg.timeout_ms = 50;
    auto t0 = std::chrono::steady_clock::now();
    Session s(cfg, facts(), w.deps());
    EXPECT_EQ(s.start(), Outcome::kFailed);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_LT(ms, 1000);
    EXPECT_TRUE(w.said_contains("1 of 2 local ranks"));
    EXPECT_EQ(w.requests.back()["op"], "release");
    EXPECT_EQ(w.requests.back()["pid"], 777);
}

}  // namespace
}  // namespace vtasos::mpi
