// Unit tests of the daemon's Service with a fake driver on a synthetic
// topology: registration, ownership checks, advice, the one re-placement,
// cleanup on exit/disconnect, and state-file recovery. Real processes (forked
// sleepers) stand in for tenants; nothing is pinned.
#include "vtasos/daemon/service.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "internal/state.h"

namespace vtasos::daemon {
namespace {

using nlohmann::json;

struct DriverLog {
    std::vector<std::string> calls;
    std::set<std::string> groups;  // tenants with a confinement
    std::set<std::string> frozen;
    int count(std::string_view prefix) const {
        int n = 0;
        for (const auto& c : calls) n += c.rfind(prefix, 0) == 0;
        return n;
    }
};

class FakeDriver : public Driver {
public:
    explicit FakeDriver(std::shared_ptr<DriverLog> log, bool freeze = true)
        : log_(std::move(log)), freeze_(freeze) {}
    std::string_view name() const override { return "fake"; }
    Status probe() override { return {}; }
    DriverCaps caps() const override {
        return {true, true, freeze_, "v1", freeze_ ? "" : "no freezer"};
    }
    Status apply(const TenantTarget& t, const Placement& p) override {
        log_->calls.push_back("apply:" + t.tenant + ":" + format_cpulist(p.all_pus()));
        log_->groups.insert(t.tenant);
        return {};
    }
    Status freeze(std::string_view t) override {
        if (!freeze_) return Error(Errc::kUnavailable, "no freezer");
        if (!log_->groups.count(std::string(t))) return Error(Errc::kNotFound, "no cgroup");
        log_->frozen.insert(std::string(t));
        log_->calls.push_back("freeze:" + std::string(t));
        return {};
    }
    Status thaw(std::string_view t) override {
        log_->frozen.erase(std::string(t));
        log_->calls.push_back("thaw:" + std::string(t));
        return {};
    }
    Status release(std::string_view t) override {
        log_->groups.erase(std::string(t));
        log_->frozen.erase(std::string(t));
        log_->calls.push_back("release:" + std::string(t));
        return {};
    }
    Result<std::vector<std::string>> thaw_all() override {
        log_->frozen.clear();
        log_->calls.push_back("thaw_all");
        return std::vector<std::string>(log_->groups.begin(), log_->groups.end());
    }
    Status remove_stale(std::string_view t) override {
        log_->groups.erase(std::string(t));
        log_->calls.push_back("remove_stale:" + std::string(t));
        return {};
    }

private:
    std::shared_ptr<DriverLog> log_;
    bool freeze_;
};

// A forked child that sleeps until killed (or until the test process dies).
struct Sleeper {
    pid_t pid = -1;
    Sleeper() {
        pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (;;) ::pause();
        }
    }
    void kill() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            pid = -1;
        }
    }
    ~Sleeper() { kill(); }
};

class ServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("vtasos-service-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        state_ = (dir_ / "state.json").string();
        log_ = std::make_shared<DriverLog>();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // 2 packages x 2 cores x 2 PUs = 8 PUs.
    std::unique_ptr<Service> make(bool freeze = true) {
        ServiceConfig cfg;
        cfg.state_path = state_;
        cfg.version = "test";
        return std::make_unique<Service>(make_uniform_topology(2, 1, 1, 2, 2, "test"),
                                         std::make_unique<FakeDriver>(log_, freeze), std::nullopt,
                                         cfg);
    }

    json call(Service& s, json req, Peer peer = {}) {
        req["v"] = 1;
        req["id"] = ++id_;
        std::string line = s.handle_line(req.dump(), peer);
        EXPECT_FALSE(line.empty());
        EXPECT_EQ(line.back(), '\n');
        auto reply = json::parse(line);
        EXPECT_EQ(reply["id"], id_);
        return reply;
    }
    static std::string err(const json& r) {
        return r.value("ok", true) ? ""
                                   : r["error"]["code"].get<std::string>() + ": " +
                                         r["error"]["message"].get<std::string>();
    }

    std::filesystem::path dir_;
    std::string state_;
    std::shared_ptr<DriverLog> log_;
    int64_t id_ = 0;
};

TEST_F(ServiceTest, RegisterPlacesAppliesAndReleases) {
    auto s = make();
    Sleeper p;
    auto r = call(*s, {{"op", "register"},
                       {"tenant", "a"},
                       {"pids", {p.pid}},
                       {"request", {{"cpus", 2}, {"coexist", "socket"}}}});
    ASSERT_TRUE(r["ok"]) << err(r);
    auto pl = Placement::from_json(r["placement"]);
    ASSERT_TRUE(pl.ok());
    EXPECT_EQ(pl->cpus.size(), 2u);
    EXPECT_EQ(r["source"], "request");
    EXPECT_EQ(log_->count("apply:a:"), 1);
    auto st = call(*s, {{"op", "status"}});
    ASSERT_EQ(st["tenants"].size(), 1u);
    EXPECT_EQ(st["tenants"][0]["pids"], json::array({p.pid}));
    EXPECT_EQ(st["tenants"][0]["frozen"], false);
    EXPECT_FALSE(st["tenants"][0]["why"].empty());
    // The state file lists the tenant.
    auto saved = state::read(state_);
    ASSERT_TRUE(saved.ok());
    EXPECT_EQ((*saved)["tenants"][0]["tenant"], "a");
    auto rel = call(*s, {{"op", "release"}, {"tenant", "a"}});
    ASSERT_TRUE(rel["ok"]) << err(rel);
    EXPECT_EQ(log_->count("release:a"), 1);
    EXPECT_TRUE(call(*s, {{"op", "status"}})["tenants"].empty());
    EXPECT_TRUE((*state::read(state_))["tenants"].empty());
}

TEST_F(ServiceTest, DefaultRequestWithoutRequestOrProfile) {
    auto s = make();
    Sleeper p;
    auto r = call(*s, {{"op", "register"}, {"tenant", "d"}, {"pids", {p.pid}}, {"cpus", 3}});
    ASSERT_TRUE(r["ok"]) << err(r);
    EXPECT_EQ(r["source"], "default");
    EXPECT_EQ(r["request"]["cpus"], 3);
    EXPECT_EQ(r["request"]["coexist"], "socket");
}

TEST_F(ServiceTest, ProfileWithoutStoreIsNotFound) {
    auto s = make();
    auto r = call(*s, {{"op", "register"}, {"tenant", "p"}, {"profile", "npb-cg"}});
    EXPECT_EQ(r["error"]["code"], "not_found");
    EXPECT_NE(err(r).find("register.profile"), std::string::npos);
}

TEST_F(ServiceTest, OtherUsersPidsAreRefusedUnlessRoot) {
    auto s = make();
    Peer nobody{65534, 65534, 1, 9};
    auto r = call(*s, {{"op", "register"}, {"tenant", "x"}, {"pids", {1}}, {"cpus", 1}}, nobody);
    EXPECT_EQ(r["error"]["code"], "permission_denied");
    EXPECT_EQ(r["error"]["message"],
              "register.pids[0]: process 1 belongs to uid 0, the caller is uid 65534");
    EXPECT_EQ(log_->count("apply"), 0);
}

TEST_F(ServiceTest, OnlyTheOwnerOrRootActsOnATenant) {
    auto s = make();
    Sleeper p;
    ASSERT_TRUE(
        call(*s, {{"op", "register"}, {"tenant", "mine"}, {"pids", {p.pid}}, {"cpus", 1}})["ok"]);
    Peer other{1000, 1000, 1, 3};
    for (const char* op : {"release", "advice", "freeze", "thaw"}) {
        auto r = call(*s, {{"op", op}, {"tenant", "mine"}}, other);
        EXPECT_EQ(r["error"]["code"], "permission_denied") << op;
        EXPECT_NE(err(r).find(std::string(op) + ".tenant: tenant \"mine\" belongs to uid 0"),
                  std::string::npos)
            << err(r);
    }
    auto u =
        call(*s, {{"op", "update"}, {"tenant", "mine"}, {"observations", {{"threads", 2}}}}, other);
    EXPECT_EQ(u["error"]["code"], "permission_denied");
    // Status is readable by everyone.
    EXPECT_EQ(call(*s, {{"op", "status"}}, other)["tenants"].size(), 1u);
}

TEST_F(ServiceTest, DuplicateTenantAndPidAreRefused) {
    auto s = make();
    Sleeper p, q;
    ASSERT_TRUE(
        call(*s, {{"op", "register"}, {"tenant", "a"}, {"pids", {p.pid}}, {"cpus", 1}})["ok"]);
    auto dup = call(*s, {{"op", "register"}, {"tenant", "a"}, {"pids", {q.pid}}, {"cpus", 1}});
    EXPECT_EQ(dup["error"]["code"], "already_exists");
    auto pid = call(*s, {{"op", "register"}, {"tenant", "b"}, {"pids", {p.pid}}, {"cpus", 1}});
    EXPECT_EQ(pid["error"]["code"], "already_exists");
    EXPECT_NE(err(pid).find("already belongs to tenant \"a\""), std::string::npos) << err(pid);
}

TEST_F(ServiceTest, InfeasibleRequestIsRejectedWithoutSideEffects) {
    auto s = make();
    auto r = call(
        *s,
        {{"op", "register"}, {"tenant", "big"}, {"request", {{"cpus", 9}, {"coexist", "socket"}}}});
    ASSERT_FALSE(r["ok"]);
    EXPECT_EQ(r["error"]["message"].get<std::string>().rfind("register: ", 0), 0u) << err(r);
    EXPECT_EQ(log_->count("apply"), 0);
    EXPECT_TRUE(call(*s, {{"op", "status"}})["tenants"].empty());
}

TEST_F(ServiceTest, CoexistSocketTenantsNeverSharePus) {
    auto s = make();
    std::set<int> used;
    for (int i = 0; i < 4; ++i) {
        auto r = call(*s, {{"op", "register"},
                           {"tenant", "t" + std::to_string(i)},
                           {"request", {{"cpus", 1}, {"coexist", "socket"}}}});
        ASSERT_TRUE(r["ok"]) << err(r);
        auto pl = Placement::from_json(r["placement"]);
        for (int pu : pl->all_pus())
            EXPECT_TRUE(used.insert(pu).second) << "PU " << pu << " shared";
    }
    // 4 cores, each now owned: a fifth core-exclusive tenant cannot fit.
    auto r = call(
        *s,
        {{"op", "register"}, {"tenant", "t4"}, {"request", {{"cpus", 1}, {"coexist", "socket"}}}});
    EXPECT_FALSE(r["ok"]);
}

TEST_F(ServiceTest, AdviceFollowsNodeLoad) {
    auto s = make();
    ASSERT_TRUE(call(*s, {{"op", "register"},
                          {"tenant", "a"},
                          {"request", {{"cpus", 2}, {"coexist", "socket"}}}})["ok"]);
    auto a = call(*s, {{"op", "advice"}, {"tenant", "a"}});
    ASSERT_TRUE(a["ok"]) << err(a);
    EXPECT_DOUBLE_EQ(a["advice"]["node_load"].get<double>(), 2.0 / 8.0);
    EXPECT_EQ(a["advice"]["suggested_threads"], 2);
    // Oversubscribe with PU-sharing tenants: 2 + 8 + 6 = 16 cpus on 8 PUs.
    auto b = call(
        *s, {{"op", "register"}, {"tenant", "b"}, {"request", {{"cpus", 8}, {"coexist", "pu"}}}});
    auto c = call(
        *s, {{"op", "register"}, {"tenant", "c"}, {"request", {{"cpus", 6}, {"coexist", "pu"}}}});
    if (!b["ok"] || !c["ok"]) GTEST_SKIP() << "solver does not oversubscribe: " << err(b) << err(c);
    auto ab = call(*s, {{"op", "advice"}, {"tenant", "b"}});
    EXPECT_DOUBLE_EQ(ab["advice"]["node_load"].get<double>(), 2.0);
    EXPECT_EQ(ab["advice"]["suggested_threads"], 4);  // floor(8 * 8 / 16)
    EXPECT_NE(ab["advice"]["reason"].get<std::string>().find("oversubscribed"), std::string::npos);
    EXPECT_EQ(call(*s, {{"op", "advice"}, {"tenant", "a"}})["advice"]["suggested_threads"], 1);
}

TEST_F(ServiceTest, UpdateTriggersOneReplacement) {
    auto s = make();
    auto r = call(*s, {{"op", "register"},
                       {"tenant", "bw"},
                       {"request", {{"cpus", 2}, {"coexist", "socket"}, {"bandwidth", "low"}}}});
    ASSERT_TRUE(r["ok"]) << err(r);
    auto before = Placement::from_json(r["placement"]);
    auto u = call(*s, {{"op", "update"},
                       {"tenant", "bw"},
                       {"observations", {{"threads", 2}, {"bandwidth", {{"class", "high"}}}}}});
    ASSERT_TRUE(u["ok"]) << err(u);
    EXPECT_EQ(u["request"]["bandwidth"]["class"], "high");
    EXPECT_TRUE(u.contains("advice"));
    auto after = Placement::from_json(u["placement"]);
    if (u["replaced"].get<bool>()) {
        EXPECT_NE(before->cpus, after->cpus);
        EXPECT_EQ(log_->count("apply:bw:"), 2);
    } else {
        EXPECT_EQ(before->cpus, after->cpus) << u["reason"];
    }
    // Back to low: at most one re-placement ever.
    auto u2 = call(*s, {{"op", "update"},
                        {"tenant", "bw"},
                        {"observations", {{"bandwidth", {{"class", "low"}}}}}});
    ASSERT_TRUE(u2["ok"]);
    if (u["replaced"].get<bool>()) {
        EXPECT_FALSE(u2["replaced"].get<bool>());
        EXPECT_NE(u2["reason"].get<std::string>().find("already"), std::string::npos)
            << u2["reason"];
    }
    auto st = call(*s, {{"op", "status"}});
    EXPECT_EQ(st["tenants"][0]["observations"]["bandwidth"]["class"], "low");
}

TEST_F(ServiceTest, FreezeAndThawAll) {
    auto s = make();
    Sleeper p;
    ASSERT_TRUE(
        call(*s, {{"op", "register"}, {"tenant", "f"}, {"pids", {p.pid}}, {"cpus", 1}})["ok"]);
    ASSERT_TRUE(call(*s, {{"op", "freeze"}, {"tenant", "f"}})["ok"]);
    EXPECT_TRUE(log_->frozen.count("f"));
    EXPECT_EQ(call(*s, {{"op", "status"}})["tenants"][0]["frozen"], true);
    auto t = call(*s, {{"op", "thaw_all"}});
    ASSERT_TRUE(t["ok"]) << err(t);
    EXPECT_FALSE(log_->frozen.count("f"));
    EXPECT_EQ(call(*s, {{"op", "status"}})["tenants"][0]["frozen"], false);
}

TEST_F(ServiceTest, NoFreezeCapsDegradesAndSaysSo) {
    auto s = make(/*freeze=*/false);
    auto h = call(*s, {{"op", "hello"}});
    EXPECT_EQ(h["driver"]["freeze"], false);
    EXPECT_TRUE(h.contains("degraded"));
    Sleeper p;
    ASSERT_TRUE(
        call(*s, {{"op", "register"}, {"tenant", "f"}, {"pids", {p.pid}}, {"cpus", 1}})["ok"]);
    EXPECT_EQ(call(*s, {{"op", "freeze"}, {"tenant", "f"}})["error"]["code"], "unavailable");
}

TEST_F(ServiceTest, DisconnectCleansUpUnlessDetached) {
    auto s = make();
    Sleeper p, q;
    Peer conn{0, 0, 1, 5};
    ASSERT_TRUE(call(*s, {{"op", "register"}, {"tenant", "att"}, {"pids", {p.pid}}, {"cpus", 1}},
                     conn)["ok"]);
    ASSERT_TRUE(call(
        *s,
        {{"op", "register"}, {"tenant", "det"}, {"pids", {q.pid}}, {"cpus", 1}, {"detached", true}},
        conn)["ok"]);
    s->on_disconnect(5);
    auto st = call(*s, {{"op", "status"}});
    ASSERT_EQ(st["tenants"].size(), 1u);
    EXPECT_EQ(st["tenants"][0]["tenant"], "det");
    EXPECT_EQ(st["tenants"][0]["connected"], false);
    EXPECT_EQ(log_->count("release:att"), 1);
}

TEST_F(ServiceTest, ProcessExitCleansUp) {
    auto s = make();
    std::vector<std::pair<pid_t, int>> watched;
    s->set_pidfd_hook([&](pid_t pid, int fd, bool add) {
        if (add) watched.emplace_back(pid, fd);
    });
    Sleeper p;
    ASSERT_TRUE(call(*s, {{"op", "register"},
                          {"tenant", "e"},
                          {"pids", {p.pid}},
                          {"cpus", 1},
                          {"detached", true}})["ok"]);
    ASSERT_EQ(watched.size(), 1u);
    EXPECT_EQ(watched[0].first, p.pid);
    pid_t pid = p.pid;
    p.kill();
    s->on_process_exit(pid);
    EXPECT_TRUE(call(*s, {{"op", "status"}})["tenants"].empty());
    EXPECT_EQ(log_->count("release:e"), 1);
}

TEST_F(ServiceTest, RecoveryAdoptsLiveTenantsAndRemovesStale) {
    Sleeper live, dead;
    {
        auto s = make();
        ASSERT_TRUE(call(*s, {{"op", "register"},
                              {"tenant", "live"},
                              {"pids", {live.pid}},
                              {"cpus", 1},
                              {"detached", true}})["ok"]);
        ASSERT_TRUE(call(
            *s, {{"op", "register"}, {"tenant", "dead"}, {"pids", {dead.pid}}, {"cpus", 1}})["ok"]);
        ASSERT_TRUE(call(*s, {{"op", "freeze"}, {"tenant", "live"}})["ok"]);
        // The daemon "crashes": no shutdown, the confinements stay.
    }
    dead.kill();
    log_->groups.insert("orphan");  // a cgroup nobody owns
    log_->calls.clear();
    auto s = make();
    s->recover();
    EXPECT_EQ(log_->calls.front(), "thaw_all");
    EXPECT_TRUE(log_->frozen.empty());
    auto st = call(*s, {{"op", "status"}});
    ASSERT_EQ(st["tenants"].size(), 1u);
    EXPECT_EQ(st["tenants"][0]["tenant"], "live");
    EXPECT_EQ(st["tenants"][0]["frozen"], false);
    EXPECT_EQ(log_->count("apply:live:"), 1);
    EXPECT_EQ(log_->count("remove_stale:orphan"), 1);
    EXPECT_EQ(log_->count("remove_stale:dead"), 1);
    EXPECT_FALSE(log_->groups.count("dead"));
    auto saved = state::read(state_);
    ASSERT_TRUE(saved.ok());
    EXPECT_EQ((*saved)["tenants"].size(), 1u);
}

TEST_F(ServiceTest, RecoverySurvivesACorruptStateFile) {
    std::ofstream(state_) << "{not json";
    auto s = make();
    s->recover();
    EXPECT_TRUE(call(*s, {{"op", "status"}})["tenants"].empty());
    std::ofstream(state_)
        << R"({"version":1,"tenants":[{"tenant":"../x"},{"tenant":"y","request":5},7]})";
    auto s2 = make();
    s2->recover();
    EXPECT_TRUE(call(*s2, {{"op", "status"}})["tenants"].empty());
}

TEST_F(ServiceTest, ShutdownReleasesEverything) {
    auto s = make();
    Sleeper p;
    ASSERT_TRUE(call(*s, {{"op", "register"},
                          {"tenant", "a"},
                          {"pids", {p.pid}},
                          {"cpus", 1},
                          {"detached", true}})["ok"]);
    s->shutdown();
    EXPECT_TRUE(log_->groups.empty());
    EXPECT_TRUE((*state::read(state_))["tenants"].empty());
}

TEST_F(ServiceTest, HandleLineAnswersGarbage) {
    auto s = make();
    for (std::string junk : {std::string("\x00\x01\x02", 3), std::string("{"), std::string("[]"),
                             std::string(100000, '{'), std::string("{\"v\":1,\"id\":1}")}) {
        std::string line = s->handle_line(junk, Peer{});
        auto r = json::parse(line);
        EXPECT_EQ(r["ok"], false);
        EXPECT_FALSE(r["error"]["message"].get<std::string>().empty());
    }
}

}  // namespace
}  // namespace vtasos::daemon
