// The daemon's scheduling policies end to end through Service (fake driver,
// synthetic 2-PU node, sleeping children as tenants): feedback shrinks
// overlapping tenants to disjoint shares and grows them back, auto decides per
// tenant from measured rates (OpenMP shrinks, MPI-like/explicit wish gangs,
// EP-like stays with the kernel), and advice follows each decision.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "vtasos/daemon/service.h"

namespace vtasos::daemon {
namespace {

using nlohmann::json;

struct Log {
    std::vector<std::string> calls;
    std::set<std::string> frozen;
};

class FakeDriver : public Driver {
public:
    explicit FakeDriver(std::shared_ptr<Log> log) : log_(std::move(log)) {}
    std::string_view name() const override { return "fake"; }
    Status probe() override { return {}; }
    DriverCaps caps() const override { return {true, true, true, "v1", ""}; }
    Status apply(const TenantTarget& t, const Placement& p) override {
        log_->calls.push_back("apply:" + t.tenant + ":" + format_cpulist(p.all_pus()));
        return {};
    }
    Status freeze(std::string_view t) override {
        log_->frozen.insert(std::string(t));
        return {};
    }
    Status thaw(std::string_view t) override {
        log_->frozen.erase(std::string(t));
        return {};
    }
    Status release(std::string_view t) override {
        log_->frozen.erase(std::string(t));
        return {};
    }
    Result<std::vector<std::string>> thaw_all() override { return std::vector<std::string>{}; }
    Status remove_stale(std::string_view) override { return {}; }

private:
    std::shared_ptr<Log> log_;
};

struct Sleeper {
    pid_t pid = -1;
    Sleeper() {
        pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (;;) ::pause();
        }
    }
    ~Sleeper() {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
};

class PolicyService : public ::testing::Test {
protected:
    // The cache rule is off by default here: the test tenants are sleepers,
    // whose few resident KiB would always fit in the cache.
    std::unique_ptr<Service> make(gang::Policy p, int demote_hold_ms = 2000,
                                  bool cache_rule = false,
                                  std::optional<ProfileStore> profiles = std::nullopt) {
        ServiceConfig cfg;
        cfg.sched_policy = p;
        cfg.slice_ms = 20;
        cfg.sched_demote_hold_ms = demote_hold_ms;
        cfg.sched_cache_rule = cache_rule;
        log_ = std::make_shared<Log>();
        return std::make_unique<Service>(make_uniform_topology(1, 1, 1, 2, 1, "test"),
                                         std::make_unique<FakeDriver>(log_), std::move(profiles),
                                         cfg);
    }
    json call(Service& s, json req) {
        req["v"] = 1;
        req["id"] = ++id_;
        return json::parse(s.handle_line(req.dump(), Peer{}));
    }
    json reg(Service& s, const std::string& t, pid_t pid, bool gang = false) {
        json r = {{"cpus", 2}, {"coexist", "pu"}};
        if (gang) r["sched"] = {{"gang", true}};
        return call(s, {{"op", "register"}, {"tenant", t}, {"pids", {pid}}, {"request", r}});
    }
    json advice(Service& s, const std::string& t) {
        return call(s, {{"op", "advice"}, {"tenant", t}})["advice"];
    }
    std::map<std::string, json> gang_of(Service& s) {
        std::map<std::string, json> out;
        const json st = call(s, {{"op", "status"}});
        for (const auto& t : st["tenants"]) out[t["tenant"].get<std::string>()] = t;
        return out;
    }
    // auto with the cache rule: `pid` as tenant "omp" beside a sleeping one,
    // then a live report of 2000 barriers/s. Its mode and advice.
    std::pair<std::string, json> sync_heavy_beside_another(pid_t pid) {
        svc_ = make(gang::Policy::kAuto, 2000, true);
        Sleeper other;
        EXPECT_TRUE(reg(*svc_, "omp", pid)["ok"]);
        EXPECT_TRUE(reg(*svc_, "other", other.pid)["ok"]);
        EXPECT_TRUE(call(*svc_, {{"op", "update"},
                                 {"tenant", "omp"},
                                 {"observations", {{"threads", 2}, {"barrier_rate_hz", 2000}}}})["ok"]);
        return {gang_of(*svc_)["omp"]["gang"]["mode"], advice(*svc_, "omp")};
    }
    std::shared_ptr<Log> log_;
    std::unique_ptr<Service> svc_;
    int64_t id_ = 0;
};

TEST_F(PolicyService, FeedbackShrinksToDisjointSharesAndGrowsBack) {
    auto s = make(gang::Policy::kFeedback);
    Sleeper a, b;
    ASSERT_TRUE(reg(*s, "a", a.pid)["ok"]);
    EXPECT_EQ(advice(*s, "a")["suggested_threads"], 2);  // alone: all of it
    ASSERT_TRUE(reg(*s, "b", b.pid)["ok"]);
    auto st = gang_of(*s);
    auto pa = Placement::from_json(st["a"]["placement"])->all_pus();
    auto pb = Placement::from_json(st["b"]["placement"])->all_pus();
    EXPECT_EQ(pa.size(), 1u);
    EXPECT_EQ(pb.size(), 1u);
    EXPECT_NE(pa, pb);
    EXPECT_EQ(st["a"]["gang"]["mode"], "share");
    for (const char* t : {"a", "b"}) {
        auto adv = advice(*s, t);
        EXPECT_EQ(adv["suggested_threads"], 1) << adv.dump();
        EXPECT_EQ(adv["gang"], false);
        EXPECT_NE(adv["reason"].get<std::string>().find("disjoint share"), std::string::npos);
    }
    EXPECT_TRUE(log_->frozen.empty());  // no time slicing
    ASSERT_TRUE(call(*s, {{"op", "release"}, {"tenant", "b"}})["ok"]);
    st = gang_of(*s);
    EXPECT_EQ(Placement::from_json(st["a"]["placement"])->all_pus(), (std::vector<int>{0, 1}));
    EXPECT_EQ(advice(*s, "a")["suggested_threads"], 2);
    EXPECT_EQ(log_->calls.back(), "apply:a:0-1");
}

TEST_F(PolicyService, AutoDecidesPerTenantFromMeasuredRates) {
    auto s = make(gang::Policy::kAuto);
    Sleeper a, b, c;
    ASSERT_TRUE(reg(*s, "omp", a.pid)["ok"]);
    ASSERT_TRUE(reg(*s, "ep", b.pid)["ok"]);
    // Nothing measured yet: both left to the kernel, full size, never frozen.
    EXPECT_EQ(gang_of(*s)["omp"]["gang"]["mode"], "kernel");
    EXPECT_EQ(advice(*s, "omp")["suggested_threads"], 2);
    // The OMPT tool reports a barrier-heavy profile for omp, EP-like for ep.
    ASSERT_TRUE(call(*s, {{"op", "update"},
                          {"tenant", "omp"},
                          {"observations", {{"threads", 2}, {"barrier_rate_hz", 2000}}}})["ok"]);
    ASSERT_TRUE(call(*s, {{"op", "update"},
                          {"tenant", "ep"},
                          {"observations", {{"threads", 2}, {"barrier_rate_hz", 3}}}})["ok"]);
    auto st = gang_of(*s);
    EXPECT_EQ(st["omp"]["gang"]["mode"], "share");
    EXPECT_EQ(st["ep"]["gang"]["mode"], "kernel");
    EXPECT_EQ(advice(*s, "omp")["suggested_threads"], 1);
    EXPECT_EQ(advice(*s, "ep")["suggested_threads"], 2);
    EXPECT_EQ(advice(*s, "ep")["gang"], false);
    // An explicit gang wish is honoured; with no other ganged tenant on its PUs
    // there is nothing to slice, so nobody is frozen.
    ASSERT_TRUE(reg(*s, "wish", c.pid, true)["ok"]);
    st = gang_of(*s);
    EXPECT_EQ(st["wish"]["gang"]["mode"], "gang");
    EXPECT_FALSE(st["wish"]["gang"]["scheduled"].get<bool>());
    EXPECT_TRUE(log_->frozen.empty());
    auto adv = advice(*s, "wish");
    EXPECT_EQ(adv["gang"], true);
    EXPECT_EQ(adv["suggested_threads"], 2);
}

// A start-up phase measures low for a moment: auto keeps the tenant's mode
// until the low rates have lasted the hold; a forbid acts at once.
TEST_F(PolicyService, AutoDemotesToKernelOnlyAfterTheHold) {
    auto s = make(gang::Policy::kAuto, 1000);
    Sleeper a, b;
    ASSERT_TRUE(reg(*s, "omp", a.pid)["ok"]);
    ASSERT_TRUE(reg(*s, "other", b.pid)["ok"]);
    auto update = [&](double hz, std::optional<bool> gang = std::nullopt) {
        json o = {{"threads", 2}, {"barrier_rate_hz", hz}};
        if (gang) o["gang"] = *gang;
        ASSERT_TRUE(call(*s, {{"op", "update"}, {"tenant", "omp"}, {"observations", o}})["ok"]);
    };
    auto mode = [&] { return gang_of(*s)["omp"]["gang"]["mode"].get<std::string>(); };
    update(2000);
    EXPECT_EQ(mode(), "share");
    update(3);  // low: held
    EXPECT_EQ(mode(), "share");
    usleep(600000);
    update(2000);  // back up within the hold: the clock restarts
    update(3);
    usleep(600000);
    update(3);  // ~600 ms low since the restart (1.2 s since the first low): held
    EXPECT_EQ(mode(), "share");
    EXPECT_EQ(advice(*s, "omp")["suggested_threads"], 1);
    usleep(500000);
    update(3);  // over 1 s low: demoted
    EXPECT_EQ(mode(), "kernel");
    EXPECT_EQ(advice(*s, "omp")["suggested_threads"], 2);
    update(2000);  // promotion is immediate
    EXPECT_EQ(mode(), "share");
    update(2000, false);  // a forbid needs no hold
    EXPECT_EQ(mode(), "kernel");
}

// A sync-heavy tenant whose resident memory fits in the last-level cache is
// ganged rather than shrunk (a sleeper's few KiB always fit).
TEST_F(PolicyService, AutoGangsACacheResidentTenant) {
    if (!std::filesystem::exists("/sys/devices/system/cpu/cpu0/cache/index0/size"))
        GTEST_SKIP() << "sysfs does not give the cache size";
    Sleeper a;
    auto [mode, adv] = sync_heavy_beside_another(a.pid);
    EXPECT_EQ(mode, "gang");
    EXPECT_EQ(adv["suggested_threads"], 2);
    EXPECT_EQ(adv["gang"], true);
}

// A child that touches `bytes` of memory, then waits to be killed.
struct Toucher {
    pid_t pid = -1;
    explicit Toucher(size_t bytes) {
        int fds[2];
        if (::pipe(fds) != 0) return;
        pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::close(fds[0]);
            // volatile: an unused malloc + memset is optimised away.
            volatile char* mem = bytes ? static_cast<char*>(std::malloc(bytes)) : nullptr;
            for (size_t i = 0; mem && i < bytes; i += 4096) mem[i] = 1;
            (void)!::write(fds[1], "x", 1);
            for (;;) ::pause();
        }
        ::close(fds[1]);
        char c;
        (void)!::read(fds[0], &c, 1);  // touched
        ::close(fds[0]);
    }
    ~Toucher() { exit_now(); }
    void exit_now() {
        if (pid <= 0 || reaped) return;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        reaped = true;
    }
    bool reaped = false;
};

// The largest cache cpu0 sees (sysfs), 0 when it does not say.
uint64_t llc_from_sysfs() {
    uint64_t best = 0;
    for (int i = 0; i < 8; ++i) {
        std::ifstream sz("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
        std::string v;
        if (!(sz >> v)) break;
        uint64_t n = std::strtoull(v.c_str(), nullptr, 10);
        if (v.back() == 'K') n <<= 10;
        if (v.back() == 'M') n <<= 20;
        best = std::max(best, n);
    }
    return best;
}

// A live-reporting tenant holding twice the cache is shrunk, not ganged.
TEST_F(PolicyService, AutoSharesALiveTenantBiggerThanTheCache) {
    const uint64_t llc = llc_from_sysfs();
    if (llc == 0) GTEST_SKIP() << "sysfs does not give the cache size";
    Toucher a(2 * llc);
    auto [mode, adv] = sync_heavy_beside_another(a.pid);
    EXPECT_EQ(mode, "share");
    EXPECT_EQ(adv["suggested_threads"], 1);
}

// A profile-only tenant (libgomp: no live reports, team fixed at start) is
// decided by the footprint its profile's last run left: the daemon samples its
// resident memory and, when all its processes exit after >= 1 s, stores the
// median in the profile. Small -> ganged next time; bigger than the cache -> shrunk.
TEST_F(PolicyService, AutoLearnsAProfileOnlyTenantsFootprint) {
    const uint64_t llc = llc_from_sysfs();
    if (llc == 0) GTEST_SKIP() << "sysfs does not give the cache size";
    ProfileStore store;
    Profile prof;
    prof.name = "sync";
    prof.barrier_rate_hz = 2000;
    prof.coexist = Coexist::kPu;
    store.put(prof);
    auto s = make(gang::Policy::kAuto, 2000, true, std::move(store));
    auto run = [&](const std::string& tenant, size_t bytes) {
        Toucher child(bytes);
        EXPECT_TRUE(call(*s, {{"op", "register"},
                              {"tenant", tenant},
                              {"pids", {child.pid}},
                              {"profile", "sync"},
                              {"cpus", 2}})["ok"]);
        const std::string mode = gang_of(*s)[tenant]["gang"]["mode"];
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        EXPECT_GE(s->sched_tick(), 0);  // samples, and asks to be called again
        child.exit_now();
        s->on_process_exit(child.pid);
        EXPECT_EQ(gang_of(*s).count(tenant), 0u);
        return mode;
    };
    // Each run is decided by what the run before it left, and teaches the next.
    EXPECT_EQ(run("first", 0), "share");        // nothing known: the share rule
    EXPECT_EQ(run("second", 2 * llc), "gang");  // first's few MiB fit in the cache
    EXPECT_EQ(run("third", 2 * llc), "share");  // second's twice the cache does not
    // A reservation released at once (not an exit) teaches nothing.
    Sleeper r;
    ASSERT_TRUE(call(*s, {{"op", "register"},
                          {"tenant", "reservation"},
                          {"pids", {r.pid}},
                          {"profile", "sync"},
                          {"cpus", 2}})["ok"]);
    ASSERT_TRUE(call(*s, {{"op", "release"}, {"tenant", "reservation"}})["ok"]);
    EXPECT_EQ(run("after", 0), "share");  // third's footprint, not the reservation's
}

TEST_F(PolicyService, GangAdviceSaysGangAndSlices) {
    auto s = make(gang::Policy::kGang);
    Sleeper a, b;
    ASSERT_TRUE(reg(*s, "a", a.pid)["ok"]);
    ASSERT_TRUE(reg(*s, "b", b.pid)["ok"]);
    auto st = gang_of(*s);
    EXPECT_TRUE(st["a"]["gang"]["scheduled"].get<bool>());
    EXPECT_NE(st["a"]["gang"]["row"], st["b"]["gang"]["row"]);
    EXPECT_EQ(log_->frozen.size(), 1u);  // one row runs, the other is frozen
    auto adv = advice(*s, "a");
    EXPECT_EQ(adv["gang"], true);
    EXPECT_EQ(adv["suggested_threads"], 2);
    EXPECT_NE(adv["reason"].get<std::string>().find("gang scheduled"), std::string::npos);
}

}  // namespace
}  // namespace vtasos::daemon
