// vtasosctl against a real vtasosd: run (exit code pass-through, pinning,
// signal forwarding, release), register, status, release, freeze, thaw-all.
#include <gtest/gtest.h>

#include <thread>

#include "ctl_harness.h"
#include "daemon_harness.h"

namespace vtasos::testing {
namespace {

class CtlDaemonTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(d_.start()) << d_.log(); }
    void TearDown() override {
        if (HasFailure()) std::cerr << d_.log();
    }
    CtlResult ctl(std::vector<std::string> args, int timeout_ms = 30000,
                  std::function<void(pid_t)> on_start = nullptr) {
        args.insert(args.begin(), {"--socket", d_.socket()});
        return run_ctl(std::move(args), timeout_ms, std::move(on_start));
    }
    json status() {
        auto r = ctl({"status", "--json"});
        EXPECT_EQ(r.rc, 0) << r.err;
        return json::parse(r.out, nullptr, false);
    }
    Daemon d_;
};

TEST_F(CtlDaemonTest, RunPassesTheExitCodeThrough) {
    EXPECT_EQ(ctl({"run", "--cpus", "1", "--", "sh", "-c", "exit 7"}).rc, 7);
    EXPECT_EQ(ctl({"run", "--cpus", "1", "--", "true"}).rc, 0);
    EXPECT_EQ(ctl({"run", "--cpus", "1", "--", "false"}).rc, 1);
    EXPECT_EQ(ctl({"run", "--", "sh", "-c", "kill -KILL $$"}).rc, 128 + SIGKILL);
    auto nf = ctl({"run", "--cpus", "1", "--", "/nonexistent/command"});
    EXPECT_EQ(nf.rc, 127);
    EXPECT_NE(nf.err.find("cannot run"), std::string::npos) << nf.err;
    EXPECT_TRUE(eventually([&] { return status()["tenants"].empty(); }))
        << "run must release its tenant";
}

TEST_F(CtlDaemonTest, RunPinsTheCommand) {
    auto r = ctl({"run", "-v", "--cpus", "1", "--coexist", "socket", "--tenant", "pinned", "--",
                  "grep", "Cpus_allowed_list", "/proc/self/status"});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto v = r.out.substr(r.out.find(':') + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of("\n") + 1);
    EXPECT_EQ(v.find_first_of(",-"), std::string::npos) << "not pinned to one PU: " << r.out;
    EXPECT_NE(r.err.find("tenant pinned placed on PUs " + v), std::string::npos) << r.err;
}

TEST_F(CtlDaemonTest, RunRejectedByTheDaemonPrintsItsMessage) {
    auto r = ctl({"run", "--cpus", "4096", "--coexist", "none", "--", "true"});
    EXPECT_EQ(r.rc, 125);
    EXPECT_NE(r.err.find("infeasible: register"), std::string::npos) << r.err;
    auto p = ctl({"run", "--profile", "no-such-profile", "--", "true"});
    EXPECT_EQ(p.rc, 125);
    EXPECT_NE(p.err.find("not_found: register.profile"), std::string::npos) << p.err;
}

TEST_F(CtlDaemonTest, RunForwardsSignalsToTheCommand) {
    std::thread killer;
    auto r = ctl({"run", "--cpus", "1", "--tenant", "sig", "--", "sh", "-c",
                  "trap 'exit 42' TERM; while :; do sleep 0.05; done"},
                 30000, [&](pid_t pid) {
                     killer = std::thread([this, pid] {
                         eventually([&] { return status()["tenants"].size() == 1; }, 5000);
                         std::this_thread::sleep_for(std::chrono::milliseconds(100));
                         ::kill(pid, SIGTERM);
                     });
                 });
    killer.join();
    EXPECT_EQ(r.rc, 42) << r.err;
}

TEST_F(CtlDaemonTest, RegisterStatusFreezeThawRelease) {
    Child child;
    auto reg = ctl({"register", "--pid", std::to_string(child.pid()), "--tenant", "ext", "--cpus",
                    "1", "--detached"});
    ASSERT_EQ(reg.rc, 0) << reg.err;
    EXPECT_NE(reg.out.find("tenant ext placed on PUs"), std::string::npos) << reg.out;
    auto table = ctl({"status"});
    ASSERT_EQ(table.rc, 0) << table.err;
    EXPECT_NE(table.out.find("TENANT"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("ext"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find(std::to_string(child.pid())), std::string::npos) << table.out;
    auto js = status();
    ASSERT_EQ(js["tenants"].size(), 1u);
    if (js["driver"]["freeze"].get<bool>()) {
        auto f = ctl({"freeze", "ext"});
        EXPECT_EQ(f.rc, 0) << f.err;
        EXPECT_EQ(status()["tenants"][0]["frozen"], true);
        EXPECT_NE(ctl({"status"}).out.find("yes"), std::string::npos);
        auto t = ctl({"thaw-all"});
        EXPECT_EQ(t.rc, 0) << t.err;
        EXPECT_EQ(status()["tenants"][0]["frozen"], false);
    }
    auto adv = ctl({"advice", "ext"});
    EXPECT_EQ(adv.rc, 0) << adv.err;
    EXPECT_NE(adv.out.find("load"), std::string::npos) << adv.out;
    EXPECT_EQ(ctl({"release", "ext"}).rc, 0);
    auto again = ctl({"release", "ext"});
    EXPECT_EQ(again.rc, 1);
    EXPECT_NE(again.err.find("not_found: release.tenant: no tenant \"ext\""), std::string::npos)
        << again.err;
}

TEST_F(CtlDaemonTest, RegisterWithoutDetachedHoldsUntilTheProcessExits) {
    auto child = std::make_unique<Child>();
    pid_t pid = child->pid();
    std::thread killer([&] {
        eventually([&] { return status()["tenants"].size() == 1; }, 5000);
        child->kill();
    });
    auto reg =
        ctl({"register", "--pid", std::to_string(pid), "--tenant", "held", "--cpus", "1"}, 10000);
    killer.join();
    EXPECT_EQ(reg.rc, 0) << reg.err;
    EXPECT_TRUE(status()["tenants"].empty());
}

TEST_F(CtlDaemonTest, TopologyFromTheDaemon) {
    auto t = ctl({"topology"});
    ASSERT_EQ(t.rc, 0) << t.err;
    EXPECT_NE(t.out.find("Machine"), std::string::npos) << t.out;
    auto j = ctl({"topology", "--json"});
    ASSERT_EQ(j.rc, 0) << j.err;
    EXPECT_GT(json::parse(j.out)["pus"].size(), 0u);
}

}  // namespace
}  // namespace vtasos::testing
