// The daemon side of MPI job tenants (register + "job", release + "pid"),
// driven through Service::handle_line with a fake driver on a synthetic
// 8-PU topology. Forked sleepers stand in for the ranks.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include "vtasos/daemon/service.h"

namespace vtasos::daemon {
namespace {

using nlohmann::json;

struct DriverLog {
    std::vector<std::string> calls;
    std::set<std::string> groups;
    int count(std::string_view prefix) const {
        int n = 0;
        for (const auto& c : calls) n += c.rfind(prefix, 0) == 0;
        return n;
    }
};

class FakeDriver : public Driver {
public:
    explicit FakeDriver(std::shared_ptr<DriverLog> log) : log_(std::move(log)) {}
    std::string_view name() const override { return "fake"; }
    Status probe() override { return {}; }
    DriverCaps caps() const override { return {true, true, true, "v1", ""}; }
    Status apply(const TenantTarget& t, const Placement& p) override {
        std::string pids;
        for (pid_t x : t.pids) pids += (pids.empty() ? "" : ",") + std::to_string(x);
        log_->calls.push_back("apply:" + t.tenant + ":" + format_cpulist(p.all_pus()) + ":" + pids);
        log_->groups.insert(t.tenant);
        return {};
    }
    Status freeze(std::string_view) override { return {}; }
    Status thaw(std::string_view) override { return {}; }
    Status release(std::string_view t) override {
        log_->groups.erase(std::string(t));
        log_->calls.push_back("release:" + std::string(t));
        return {};
    }
    Result<std::vector<std::string>> thaw_all() override {
        return std::vector<std::string>(log_->groups.begin(), log_->groups.end());
    }
    Status remove_stale(std::string_view t) override {
        log_->groups.erase(std::string(t));
        return {};
    }

private:
    std::shared_ptr<DriverLog> log_;
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
    void kill() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            pid = -1;
        }
    }
    ~Sleeper() { kill(); }
};

std::set<int> pus_of(const json& placement) {
    std::set<int> out;
    for (const auto& c : placement["cpus"])
        for (const auto& p : c["pus"]) out.insert(p.get<int>());
    return out;
}

class DaemonJob : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("vtasos-daemon-job-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        state_ = (dir_ / "state.json").string();
        log_ = std::make_shared<DriverLog>();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // 2 packages x 2 cores x 2 PUs = 8 PUs.
    std::unique_ptr<Service> make() {
        ServiceConfig cfg;
        cfg.state_path = state_;
        cfg.version = "test";
        return std::make_unique<Service>(make_uniform_topology(2, 1, 1, 2, 2, "test"),
                                         std::make_unique<FakeDriver>(log_), std::nullopt, cfg);
    }
    json call(Service& s, json req, Peer peer = {}) {
        req["v"] = 1;
        req["id"] = ++id_;
        return json::parse(s.handle_line(req.dump(), peer));
    }
    static json join(const std::string& tenant, pid_t pid, int local_rank, int local_size,
                     int threads = 1, int wait_ms = 60000) {
        return {{"op", "register"},
                {"tenant", tenant},
                {"pids", {pid}},
                {"job",
                 {{"local_rank", local_rank},
                  {"local_size", local_size},
                  {"threads", threads},
                  {"wait_ms", wait_ms},
                  {"nspace", "123"},
                  {"rank", local_rank},
                  {"node", 0},
                  {"host", "n0"}}}};
    }
    static std::string err(const json& r) {
        return r.value("ok", true) ? ""
                                   : r["error"]["code"].get<std::string>() + ": " +
                                         r["error"]["message"].get<std::string>();
    }
    json tenant(Service& s, const std::string& name) {
        json st = call(s, {{"op", "status"}});
        for (const auto& t : st["tenants"])
            if (t["tenant"] == name) return t;
        return nullptr;
    }

    std::filesystem::path dir_;
    std::string state_;
    std::shared_ptr<DriverLog> log_;
    int64_t id_ = 0;
};

TEST_F(DaemonJob, HelloOffersJobTenants) {
    auto s = make();
    auto h = call(*s, {{"op", "hello"}});
    const json& f = h["features"];
    EXPECT_NE(std::find(f.begin(), f.end(), json("job")), f.end()) << f.dump();
}

TEST_F(DaemonJob, RanksWaitForEachOtherThenGetDisjointShares) {
    auto s = make();
    Sleeper a, b;
    auto r0 = call(*s, join("mpi-1-n0", a.pid, 0, 2, 2));
    ASSERT_TRUE(r0["ok"]) << err(r0);
    EXPECT_EQ(r0["state"], "waiting");
    EXPECT_EQ(r0["arrived"], 1);
    EXPECT_EQ(r0["expected"], 2);
    auto st = call(*s, {{"op", "status"}});
    ASSERT_EQ(st["pending_jobs"].size(), 1u);
    EXPECT_EQ(st["pending_jobs"][0]["tenant"], "mpi-1-n0");
    EXPECT_EQ(log_->count("apply:"), 0);

    auto r1 = call(*s, join("mpi-1-n0", b.pid, 1, 2, 2));
    ASSERT_TRUE(r1["ok"]) << err(r1);
    EXPECT_EQ(r1["state"], "placed");
    EXPECT_EQ(r1["local_rank"], 1);
    auto again = call(*s, join("mpi-1-n0", a.pid, 0, 2, 2));  // rank 0 polls
    ASSERT_EQ(again["state"], "placed");
    auto s0 = pus_of(again["share"]), s1 = pus_of(r1["share"]);
    EXPECT_EQ(s0.size(), 2u);
    EXPECT_EQ(s1.size(), 2u);
    for (int p : s0) EXPECT_FALSE(s1.count(p));
    std::set<int> both = s0;
    both.insert(s1.begin(), s1.end());
    EXPECT_EQ(both, pus_of(again["placement"]));
    EXPECT_EQ(again["share"]["cpus"][0]["cpu"], 0);  // shares count from 0

    // one tenant, one apply with both pids, the job visible in status
    EXPECT_EQ(log_->count("apply:mpi-1-n0:"), 1);
    auto t = tenant(*s, "mpi-1-n0");
    ASSERT_FALSE(t.is_null());
    EXPECT_EQ(t["pids"].size(), 2u);
    EXPECT_EQ(t["detached"], true);
    EXPECT_EQ(t["job"]["expected"], 2);
    EXPECT_EQ(t["job"]["placed_with"], 2);
    EXPECT_EQ(t["job"]["nspace"], "123");
    ASSERT_EQ(t["job"]["ranks"].size(), 2u);
    EXPECT_EQ(t["job"]["ranks"][0]["pid"], a.pid);
    EXPECT_EQ(pus_of(t["job"]["ranks"][0]["share"]), s0);
    EXPECT_TRUE(call(*s, {{"op", "status"}})["pending_jobs"].empty());
}

TEST_F(DaemonJob, WaitOverPlacesTheRanksThatCameAndLateOnesGetTheirOwnTenant) {
    auto s = make();
    Sleeper a, b;
    auto r0 = call(*s, join("mpi-2-n0", a.pid, 0, 2, 1, 20));
    ASSERT_EQ(r0["state"], "waiting") << err(r0);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto p0 = call(*s, join("mpi-2-n0", a.pid, 0, 2, 1, 20));
    ASSERT_EQ(p0["state"], "placed") << err(p0);
    EXPECT_EQ(p0["arrived"], 1);
    EXPECT_EQ(p0["expected"], 2);
    auto late = call(*s, join("mpi-2-n0", b.pid, 1, 2, 1, 20));
    ASSERT_TRUE(late["ok"]) << err(late);
    EXPECT_EQ(late["state"], "placed");
    EXPECT_EQ(late["late"], true);
    EXPECT_EQ(late["tenant"], "mpi-2-n0.r1");
    for (int p : pus_of(late["share"])) EXPECT_FALSE(pus_of(p0["share"]).count(p));
    // polling again gives the same answer
    auto again = call(*s, join("mpi-2-n0", b.pid, 1, 2, 1, 20));
    EXPECT_EQ(again["tenant"], "mpi-2-n0.r1");
    // leaving ends the late tenant
    auto l = call(*s, {{"op", "release"}, {"tenant", "mpi-2-n0.r1"}, {"pid", b.pid}});
    ASSERT_TRUE(l["ok"]) << err(l);
    EXPECT_EQ(l["released"], "mpi-2-n0.r1");
    EXPECT_TRUE(tenant(*s, "mpi-2-n0.r1").is_null());
}

TEST_F(DaemonJob, ADeadRankGivesItsShareBackAndTheLastEndsTheTenant) {
    auto s = make();
    Sleeper a, b;
    ASSERT_EQ(call(*s, join("mpi-3-n0", a.pid, 0, 2, 2))["state"], "waiting");
    auto r1 = call(*s, join("mpi-3-n0", b.pid, 1, 2, 2));
    ASSERT_EQ(r1["state"], "placed");
    auto r0 = call(*s, join("mpi-3-n0", a.pid, 0, 2, 2));
    const pid_t dead = b.pid;
    b.kill();
    s->on_process_exit(4000000);  // not a tenant's: nothing happens
    s->on_process_exit(dead);     // what the event loop does when the pidfd fires
    auto t = tenant(*s, "mpi-3-n0");
    ASSERT_FALSE(t.is_null());
    EXPECT_EQ(t["pids"], json::array({a.pid}));
    EXPECT_EQ(pus_of(t["placement"]), pus_of(r0["share"]));
    EXPECT_EQ(t["request"]["cpus"], 2);
    EXPECT_EQ(t["job"]["ranks"].size(), 1u);
    // the job's confinement shrinks to the remaining share, with the remaining pid
    ASSERT_EQ(log_->count("apply:"), 2);
    const auto kept = pus_of(r0["share"]);
    EXPECT_EQ(log_->calls.back(),
              "apply:mpi-3-n0:" + format_cpulist(std::vector<int>(kept.begin(), kept.end())) + ":" +
                  std::to_string(a.pid));
    // the freed PUs can be placed again
    Sleeper c;
    auto other =
        call(*s, {{"op", "register"}, {"tenant", "other"}, {"pids", {c.pid}}, {"cpus", 6}});
    ASSERT_TRUE(other["ok"]) << err(other);
    // the last rank leaves: the tenant goes
    auto l = call(*s, {{"op", "release"}, {"tenant", "mpi-3-n0"}, {"pid", a.pid}});
    ASSERT_TRUE(l["ok"]) << err(l);
    EXPECT_EQ(l["released"], "mpi-3-n0");
    EXPECT_TRUE(tenant(*s, "mpi-3-n0").is_null());
    EXPECT_EQ(log_->count("release:mpi-3-n0"), 1);
}

// The OMPT tool registered the rank alone (an OpenMP region before MPI_Init):
// joining the job releases that solo tenant and the pid is placed with the job.
TEST_F(DaemonJob, ARanksSoloTenantIsAbsorbedWhenItJoins) {
    auto s = make();
    Sleeper a, b;
    for (const Sleeper* x : {&a, &b}) {
        auto r = call(*s, {{"op", "register"},
                           {"tenant", "hybrid-" + std::to_string(x->pid)},
                           {"pids", {x->pid}},
                           {"cpus", 2}});
        ASSERT_TRUE(r["ok"]) << err(r);
    }
    // an invalid join changes nothing
    auto bad = join("mpi-20-n0", a.pid, 0, 2);
    bad["job"]["colour"] = "red";
    EXPECT_FALSE(call(*s, bad)["ok"]);
    EXPECT_FALSE(tenant(*s, "hybrid-" + std::to_string(a.pid)).is_null());

    auto j0 = join("mpi-20-n0", a.pid, 0, 2, 2);
    j0["job"]["oversubscribe"] = true;  // what a rank confined to its solo tenant concludes
    auto r0 = call(*s, j0);
    ASSERT_EQ(r0["state"], "waiting") << err(r0);
    EXPECT_TRUE(tenant(*s, "hybrid-" + std::to_string(a.pid)).is_null());
    EXPECT_EQ(log_->count("release:hybrid-" + std::to_string(a.pid)), 1);
    auto r1 = call(*s, join("mpi-20-n0", b.pid, 1, 2, 2));
    ASSERT_EQ(r1["state"], "placed") << err(r1);
    EXPECT_TRUE(tenant(*s, "hybrid-" + std::to_string(b.pid)).is_null());
    auto t = tenant(*s, "mpi-20-n0");
    ASSERT_FALSE(t.is_null());
    EXPECT_EQ(t["pids"].size(), 2u);
    EXPECT_EQ(pus_of(t["placement"]).size(), 4u);
    EXPECT_NE(t["request"]["coexist"], "pu") << "not time-shared: 4 CPUs fit 8 PUs";
    // another uid's solo tenant is not taken apart
    Sleeper c;
    ASSERT_TRUE(
        call(*s, {{"op", "register"}, {"tenant", "solo-c"}, {"pids", {c.pid}}, {"cpus", 1}})["ok"]);
    Peer other;
    other.uid = other.gid = 1000;
    other.pid = 1;
    other.conn = 9;
    EXPECT_FALSE(call(*s, join("mpi-21-n0", c.pid, 0, 1), other)["ok"]);
    EXPECT_FALSE(tenant(*s, "solo-c").is_null());
}

std::vector<int> mask_of(pid_t tid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> out;
    if (::sched_getaffinity(tid, sizeof set, &set) != 0) return out;
    for (int p = 0; p < CPU_SETSIZE; ++p)
        if (CPU_ISSET(p, &set)) out.push_back(p);
    return out;
}

void set_mask(pid_t tid, const std::vector<int>& pus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int p : pus) CPU_SET(p, &set);
    ASSERT_EQ(::sched_setaffinity(tid, sizeof set, &set), 0);
}

// A cgroup v1 cpuset write resets every task's mask: the ranks' own masks are
// saved before the job shrinks and put back (within the job's PUs) after;
// a thread with no usable saved mask gets its rank's share.
TEST(JobAffinity, SavedMasksComeBackWithinTheJob) {
    const std::vector<int> cpus = mask_of(0);
    if (cpus.size() < 2) GTEST_SKIP() << "needs 2 CPUs";
    const int p0 = cpus[0], p1 = cpus[1];
    Sleeper a, b;
    set_mask(a.pid, {p1});
    set_mask(b.pid, {p0});
    auto saved = job::save_affinity({a.pid, b.pid});
    ASSERT_EQ(saved.size(), 2u);
    // what a cpuset rewrite does
    set_mask(a.pid, {p0, p1});
    set_mask(b.pid, {p0, p1});
    job::JobInfo info;
    job::Member ma, mb;
    ma.pid = a.pid;
    mb.pid = b.pid;
    ma.share.cpus = {CpuPlacement{0, {p0, p1}}};
    mb.share.cpus = {CpuPlacement{0, {p0}}};
    info.members = {ma, mb};
    int failed = 0;
    // both get their own (narrower than the share) masks back
    EXPECT_EQ(job::restore_affinity(info, saved, {p1, p0}, &failed), 2);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(mask_of(a.pid), std::vector<int>{p1});
    EXPECT_EQ(mask_of(b.pid), std::vector<int>{p0});
    // a saved mask outside the job's PUs now: the share, within the job
    saved.back().pus = {p1};
    set_mask(b.pid, {p0, p1});
    EXPECT_EQ(job::restore_affinity(info, saved, {p0}, &failed), 2);
    EXPECT_EQ(mask_of(b.pid), std::vector<int>{p0});  // p1 is no longer the job's
    EXPECT_EQ(mask_of(a.pid), std::vector<int>{p0});  // nor is a's saved p1: its share within
}

// A rank that leaves at MPI_Finalize gives its share back like one that dies:
// the job's confinement is re-applied with the rest.
TEST_F(DaemonJob, ALeavingRankShrinksTheJob) {
    auto s = make();
    Sleeper a, b, c;
    ASSERT_EQ(call(*s, join("mpi-22-n0", a.pid, 0, 3, 2))["state"], "waiting");
    ASSERT_EQ(call(*s, join("mpi-22-n0", b.pid, 1, 3, 2))["state"], "waiting");
    auto r2 = call(*s, join("mpi-22-n0", c.pid, 2, 3, 2));
    ASSERT_EQ(r2["state"], "placed") << err(r2);
    auto r0 = call(*s, join("mpi-22-n0", a.pid, 0, 3, 2));
    auto r1 = call(*s, join("mpi-22-n0", b.pid, 1, 3, 2));
    auto l = call(*s, {{"op", "release"}, {"tenant", "mpi-22-n0"}, {"pid", b.pid}});
    ASSERT_TRUE(l["ok"]) << err(l);
    EXPECT_EQ(l["remaining"], 2);
    std::set<int> kept = pus_of(r0["share"]);
    for (int p : pus_of(r2["share"])) kept.insert(p);
    auto t = tenant(*s, "mpi-22-n0");
    EXPECT_EQ(pus_of(t["placement"]), kept);
    for (int p : pus_of(r1["share"])) EXPECT_FALSE(kept.count(p));
    ASSERT_EQ(log_->count("apply:mpi-22-n0:"), 2);
    EXPECT_EQ(log_->calls.back(),
              "apply:mpi-22-n0:" + format_cpulist(std::vector<int>(kept.begin(), kept.end())) +
                  ":" + std::to_string(a.pid) + "," + std::to_string(c.pid));
}

TEST_F(DaemonJob, MoreCpusThanPusTimeShare) {
    auto s = make();
    std::vector<std::unique_ptr<Sleeper>> ranks;
    json last;
    for (int r = 0; r < 4; ++r) {
        ranks.push_back(std::make_unique<Sleeper>());
        last = call(*s, join("mpi-4-n0", ranks.back()->pid, r, 4, 3));  // 12 cpus on 8 PUs
        ASSERT_TRUE(last["ok"]) << err(last);
    }
    ASSERT_EQ(last["state"], "placed");
    auto t = tenant(*s, "mpi-4-n0");
    EXPECT_EQ(t["request"]["cpus"], 12);
    EXPECT_EQ(t["request"]["coexist"], "pu");  // uniform: written once
    EXPECT_NE(t["source"].get<std::string>().find("time-shared"), std::string::npos);
    EXPECT_EQ(pus_of(t["placement"]).size(), 8u);  // every PU used before any is shared
    // explicit oversubscribe on a job that would fit
    Sleeper x;
    auto j = join("mpi-5-n0", x.pid, 0, 1, 1);
    j["job"]["oversubscribe"] = true;
    auto r = call(*s, j);
    ASSERT_EQ(r["state"], "placed") << err(r);
    EXPECT_EQ(tenant(*s, "mpi-5-n0")["request"]["coexist"], "pu");
}

TEST_F(DaemonJob, InconsistentOrConflictingJoinsAreRefused) {
    auto s = make();
    Sleeper a, b, c, d;
    ASSERT_EQ(call(*s, join("mpi-6-n0", a.pid, 0, 3))["state"], "waiting");
    EXPECT_EQ(err(call(*s, join("mpi-6-n0", b.pid, 1, 4)))
                  .rfind("invalid_argument: register.job.local_size", 0),
              0u);
    EXPECT_EQ(err(call(*s, join("mpi-6-n0", b.pid, 1, 3, 2)))
                  .rfind("invalid_argument: register.job.threads", 0),
              0u);
    EXPECT_EQ(err(call(*s, join("mpi-6-n0", b.pid, 0, 3)))
                  .rfind("already_exists: register.job.local_rank", 0),
              0u);
    // a plain tenant's name cannot be joined
    ASSERT_TRUE(call(
        *s,
        {{"op", "register"}, {"tenant", "plain"}, {"pids", {c.pid, d.pid}}, {"cpus", 1}})["ok"]);
    EXPECT_EQ(err(call(*s, join("plain", d.pid, 0, 1))).rfind("already_exists", 0), 0u);
    // a process of a tenant that holds other processes too cannot join
    EXPECT_EQ(err(call(*s, join("mpi-7-n0", c.pid, 0, 1))).rfind("already_exists", 0), 0u);
    EXPECT_FALSE(tenant(*s, "plain").is_null());
    // another uid cannot join someone else's job
    Peer other;
    other.uid = other.gid = 1000;
    other.pid = 1;
    other.conn = 9;
    EXPECT_EQ(err(call(*s, join("mpi-6-n0", b.pid, 1, 3), other)).rfind("permission_denied", 0),
              0u);
    // the wire shape is checked field by field
    auto two = join("mpi-8-n0", a.pid, 0, 1);
    two["pids"] = {a.pid, b.pid};
    EXPECT_EQ(err(call(*s, two)).rfind("invalid_argument: register.pids", 0), 0u);
    auto req = join("mpi-8-n0", a.pid, 0, 1);
    req["request"] = {{"cpus", 1}};
    EXPECT_EQ(err(call(*s, req)).rfind("invalid_argument: register.job", 0), 0u);
    auto bad = join("mpi-8-n0", a.pid, 2, 2);
    EXPECT_EQ(err(call(*s, bad)).rfind("invalid_argument: register.job.local_rank", 0), 0u);
    auto unknown = join("mpi-8-n0", a.pid, 0, 1);
    unknown["job"]["colour"] = "red";
    EXPECT_EQ(err(call(*s, unknown)).rfind("invalid_argument: register.job.colour", 0), 0u);
}

TEST_F(DaemonJob, AnUnknownProfileFailsEveryRankAlike) {
    auto s = make();  // no profile directory
    Sleeper a, b;
    auto j0 = join("mpi-9-n0", a.pid, 0, 2);
    j0["profile"] = "cg";
    ASSERT_EQ(call(*s, j0)["state"], "waiting");
    auto j1 = join("mpi-9-n0", b.pid, 1, 2);
    j1["profile"] = "cg";
    EXPECT_EQ(err(call(*s, j1)).rfind("not_found", 0), 0u);
    EXPECT_EQ(err(call(*s, j0)).rfind("not_found", 0), 0u);  // the other rank's poll too
    EXPECT_TRUE(tenant(*s, "mpi-9-n0").is_null());
    EXPECT_EQ(call(*s, {{"op", "status"}})["pending_jobs"][0]["failed"].get<std::string>().rfind(
                  "not_found", 0),
              0u);
}

TEST_F(DaemonJob, LeavingWhileWaitingAndDeadWaitersAreForgotten) {
    auto s = make();
    Sleeper a, b;
    ASSERT_EQ(call(*s, join("mpi-10-n0", a.pid, 0, 3))["state"], "waiting");
    ASSERT_EQ(call(*s, join("mpi-10-n0", b.pid, 1, 3))["state"], "waiting");
    auto l = call(*s, {{"op", "release"}, {"tenant", "mpi-10-n0"}, {"pid", a.pid}});
    ASSERT_TRUE(l["ok"]) << err(l);
    EXPECT_EQ(l["remaining"], 1);
    EXPECT_EQ(err(call(*s, {{"op", "release"}, {"tenant", "mpi-10-n0"}, {"pid", a.pid}}))
                  .rfind("not_found", 0),
              0u);
    b.kill();
    EXPECT_TRUE(call(*s, {{"op", "status"}})["pending_jobs"].empty());
}

TEST_F(DaemonJob, UpdatesOfAJobMergeAndNeverReplace) {
    auto s = make();
    Sleeper a;
    ASSERT_EQ(call(*s, join("mpi-11-n0", a.pid, 0, 1, 2))["state"], "placed");
    auto u1 = call(*s, {{"op", "update"},
                        {"tenant", "mpi-11-n0"},
                        {"observations",
                         {{"barrier_rate_hz", 120.0}, {"sync_fraction", 0.3}, {"note", "mpi"}}}});
    ASSERT_TRUE(u1["ok"]) << err(u1);
    auto u2 = call(
        *s, {{"op", "update"},
             {"tenant", "mpi-11-n0"},
             {"observations", {{"threads", 2}, {"region_rate_hz", 50.0}, {"bandwidth", "high"}}}});
    ASSERT_TRUE(u2["ok"]) << err(u2);
    EXPECT_EQ(u2["replaced"], false);
    auto o = tenant(*s, "mpi-11-n0")["observations"];
    EXPECT_EQ(o["barrier_rate_hz"], 120.0);
    EXPECT_EQ(o["sync_fraction"], 0.3);
    EXPECT_EQ(o["threads"], 2);
    EXPECT_EQ(o["region_rate_hz"], 50.0);
    EXPECT_EQ(log_->count("apply:"), 1);
}

TEST_F(DaemonJob, AJobSurvivesADaemonRestart) {
    Sleeper a, b;
    json share1;
    {
        auto s = make();
        ASSERT_EQ(call(*s, join("mpi-12-n0", a.pid, 0, 2))["state"], "waiting");
        share1 = call(*s, join("mpi-12-n0", b.pid, 1, 2))["share"];
    }
    auto s = make();
    s->recover();
    auto t = tenant(*s, "mpi-12-n0");
    ASSERT_FALSE(t.is_null());
    EXPECT_EQ(t["job"]["ranks"].size(), 2u);
    auto r = call(*s, join("mpi-12-n0", b.pid, 1, 2));
    EXPECT_EQ(r["state"], "placed");
    EXPECT_EQ(pus_of(r["share"]), pus_of(share1));
}

}  // namespace
}  // namespace vtasos::daemon
