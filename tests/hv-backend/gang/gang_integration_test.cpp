// Gang scheduling on real cgroups through a real vtasosd: two spinning
// children registered as two tenants with coexist pu over all PUs (so their
// placements overlap), --sched-policy gang --slice-ms 20.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "daemon_harness.h"

namespace vtasos::testing {
namespace {

std::string err(const std::optional<json>& r) {
    if (!r) return "(no reply)";
    if (r->value("ok", false)) return "";
    return r->dump();
}

// Every freezer.state under the daemon's parent: "THAWED"/"FROZEN"/... per tenant.
std::vector<std::string> freezer_states(const std::string& parent) {
    std::vector<std::string> out;
    std::error_code ec;
    std::string dir = "/sys/fs/cgroup/freezer/" + parent;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (!e.is_directory()) continue;
        std::string s = read_file(e.path().string() + "/freezer.state");
        while (!s.empty() && (s.back() == '\n')) s.pop_back();
        out.push_back(e.path().filename().string() + "=" + s);
    }
    return out;
}

class GangIntegration : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0 || ::access("/sys/fs/cgroup/freezer", W_OK) != 0)
            GTEST_SKIP() << "needs root and a v1 freezer hierarchy";
        ASSERT_TRUE(d_.start({"--sched-policy", "gang", "--slice-ms", "20"})) << d_.log();
        RawConn c(d_.socket());
        auto h = c.call({{"op", "hello"}});
        ASSERT_TRUE(h && (*h)["ok"]) << err(h);
        npus_ = (*h)["pus"].get<int>();
    }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- vtasosd log ----\n" << d_.log();
    }
    std::optional<json> reg(RawConn& c, const std::string& t, pid_t pid) {
        json req = {{"cpus", npus_}, {"coexist", "pu"}, {"sched", {{"gang", true}}}};
        return c.call({{"op", "register"},
                       {"tenant", t},
                       {"pids", {pid}},
                       {"detached", true},
                       {"request", req}});
    }
    Daemon d_;
    int npus_ = 1;
};

TEST_F(GangIntegration, TwoSpinnersAlternateWithFairShareAndSurviveKill9) {
    Child a(Child::kSpin), b(Child::kSpin);
    auto cp = std::make_unique<RawConn>(d_.socket());
    RawConn& c = *cp;
    auto ra = reg(c, "spin-a", a.pid());
    ASSERT_TRUE(ra && (*ra)["ok"]) << err(ra);
    auto rb = reg(c, "spin-b", b.pid());
    ASSERT_TRUE(rb && (*rb)["ok"]) << err(rb);

    // Status: both in the matrix, in different rows.
    auto st = c.call({{"op", "status"}});
    ASSERT_TRUE(st && (*st)["ok"]) << err(st);
    std::map<std::string, json> g;
    for (auto& t : (*st)["tenants"]) g[t["tenant"]] = t["gang"];
    ASSERT_TRUE(g["spin-a"]["scheduled"].get<bool>()) << st->dump();
    ASSERT_TRUE(g["spin-b"]["scheduled"].get<bool>());
    EXPECT_NE(g["spin-a"]["row"], g["spin-b"]["row"]);

    long long a0 = cpu_ticks(a.pid()), b0 = cpu_ticks(b.pid());
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(4));
    long long da = cpu_ticks(a.pid()) - a0, db = cpu_ticks(b.pid()) - b0;
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::cerr << "cpu a=" << da / hz << "s b=" << db / hz << "s wall=" << wall << "s\n";
    // Both progress; never both at once: together at most ~1 CPU of wall time
    // (each is one thread) and shares within 20% of each other (shared machine).
    EXPECT_GT(da, 0.2 * wall * hz);
    EXPECT_GT(db, 0.2 * wall * hz);
    EXPECT_LT(da + db, 1.15 * wall * hz);
    EXPECT_NEAR(static_cast<double>(da) / static_cast<double>(da + db), 0.5, 0.1);

    // One decision-change line per registration, not one per slice.
    std::string log = d_.log();
    size_t lines = 0;
    for (size_t p = log.find("event=sched_matrix"); p != std::string::npos;
         p = log.find("event=sched_matrix", p + 1))
        ++lines;
    EXPECT_LE(lines, 3u) << log;

    // kill -9 mid-slice: one tenant is frozen now; a restart thaws it.
    bool some_frozen = false;
    for (auto& s : freezer_states(d_.parent()))
        if (s.find("FROZEN") != std::string::npos) some_frozen = true;
    EXPECT_TRUE(some_frozen);
    cp.reset();
    d_.kill9();
    ASSERT_TRUE(d_.start({"--sched-policy", "off"})) << d_.log();
    auto t1 = Clock::now();
    bool all_thawed = false;
    while (Clock::now() - t1 < std::chrono::seconds(1) && !all_thawed) {
        all_thawed = true;
        for (auto& s : freezer_states(d_.parent()))
            if (s.find("THAWED") == std::string::npos) all_thawed = false;
        if (!all_thawed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(all_thawed);
    long long a1 = cpu_ticks(a.pid()), b1 = cpu_ticks(b.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_GT(cpu_ticks(a.pid()), a1);
    EXPECT_GT(cpu_ticks(b.pid()), b1);
}

TEST_F(GangIntegration, SigtermAndTenantExitThaw) {
    Child a(Child::kSpin), b(Child::kSpin);
    auto cp = std::make_unique<RawConn>(d_.socket());
    RawConn& c = *cp;
    ASSERT_TRUE(reg(c, "x-a", a.pid()).value().value("ok", false));
    ASSERT_TRUE(reg(c, "x-b", b.pid()).value().value("ok", false));
    std::this_thread::sleep_for(std::chrono::milliseconds(55));  // mid-slice
    a.kill();  // tenant exit: the other one must run on
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    long long b1 = cpu_ticks(b.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_GT(cpu_ticks(b.pid()) - b1, 10);  // ran most of 300 ms
    Child a2(Child::kSpin);
    ASSERT_TRUE(reg(c, "x-a2", a2.pid()).value().value("ok", false));
    std::this_thread::sleep_for(std::chrono::milliseconds(35));
    cp.reset();
    d_.stop(SIGTERM);
    for (auto& s : freezer_states(d_.parent())) EXPECT_EQ(s.find("FROZEN"), std::string::npos) << s;
    long long x = cpu_ticks(a2.pid()), y = cpu_ticks(b.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_GT(cpu_ticks(a2.pid()), x);
    EXPECT_GT(cpu_ticks(b.pid()), y);
}

// Someone else moves a frozen tenant's process out and removes its freezer
// cgroup: the daemon stops slicing that tenant (it is thawed by the move),
// keeps serving, and the other tenant runs on alone.
TEST_F(GangIntegration, CgroupRemovedByOthersWhileFrozen) {
    Child a(Child::kSpin), b(Child::kSpin);
    RawConn c(d_.socket());
    ASSERT_TRUE(reg(c, "rm-a", a.pid()).value().value("ok", false));
    ASSERT_TRUE(reg(c, "rm-b", b.pid()).value().value("ok", false));
    const std::string dir = "/sys/fs/cgroup/freezer/" + d_.parent() + "/rm-a";
    ASSERT_TRUE(eventually(
        [&] { return read_file(dir + "/freezer.state").rfind("FROZEN", 0) == 0; }, 2000));
    {
        std::ofstream out("/sys/fs/cgroup/freezer/cgroup.procs");
        out << a.pid() << "\n";
    }
    ASSERT_EQ(::rmdir(dir.c_str()), 0) << std::strerror(errno);
    ASSERT_TRUE(
        eventually([&] { return d_.log().find("event=sched_lost") != std::string::npos; }, 3000))
        << d_.log();
    auto st = c.call({{"op", "status"}});
    ASSERT_TRUE(st && (*st)["ok"]) << err(st);
    // Both run freely now: a in the root freezer cgroup, b alone in the matrix.
    long long a0 = cpu_ticks(a.pid()), b0 = cpu_ticks(b.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_GT(cpu_ticks(a.pid()) - a0, 5);
    EXPECT_GT(cpu_ticks(b.pid()) - b0, 5);
    EXPECT_EQ(read_file("/sys/fs/cgroup/freezer/" + d_.parent() + "/rm-b/freezer.state"),
              "THAWED\n");
    // Release of the half-removed tenant still works (idempotent driver release).
    auto rel = c.call({{"op", "release"}, {"tenant", "rm-a"}});
    EXPECT_TRUE(rel && (*rel)["ok"]) << err(rel);
}

}  // namespace
}  // namespace vtasos::testing
