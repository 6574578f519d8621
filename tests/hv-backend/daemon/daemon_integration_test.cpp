// Integration tests against the real vtasosd binary: a temporary socket and
// state file, the real Linux driver on a private cgroup parent, real child
// processes. Labelled "integration".
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "daemon_harness.h"
#include "vtasos/core/placement.h"

namespace vtasos::testing {
namespace {

std::string error_of(const std::optional<json>& r) {
    if (!r) return "(no reply)";
    if (r->is_discarded()) return "(unparseable reply)";
    if (r->value("ok", false)) return "";
    return (*r)["error"].value("code", "?") + ": " + (*r)["error"].value("message", "?");
}

class DaemonTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(d_.start()) << d_.log(); }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- vtasosd log ----\n" << d_.log();
    }
    json hello() {
        RawConn c(d_.socket());
        auto r = c.call({{"op", "hello"}});
        EXPECT_TRUE(r && (*r)["ok"]) << error_of(r);
        return r ? *r : json();
    }
    json topology() {
        RawConn c(d_.socket());
        auto r = c.call({{"op", "topology"}});
        EXPECT_TRUE(r && (*r)["ok"]) << error_of(r);
        return r ? (*r)["topology"] : json();
    }
    std::optional<json> reg(RawConn& c, const std::string& tenant, std::vector<pid_t> pids,
                            json request, bool detached = false) {
        json m = {{"op", "register"}, {"tenant", tenant}, {"pids", pids}, {"detached", detached}};
        if (!request.is_null()) m["request"] = request;
        return c.call(m);
    }
    json status() {
        RawConn c(d_.socket());
        auto r = c.call({{"op", "status"}});
        EXPECT_TRUE(r && (*r)["ok"]) << error_of(r);
        return r ? *r : json();
    }
    Daemon d_;
};

TEST_F(DaemonTest, HelloReportsVersionsDriverAndTopology) {
    auto h = hello();
    EXPECT_EQ(h["v"], 1);
    EXPECT_EQ(h["protocol"], 1);
    EXPECT_EQ(h["pid"], d_.pid());
    EXPECT_EQ(h["driver"]["name"], "linux");
    EXPECT_TRUE(h["driver"]["affinity"]);
    EXPECT_EQ(h["max_message_bytes"], 65536);
    EXPECT_GT(h["pus"].get<int>(), 0);
    auto t = topology();
    EXPECT_EQ(t["pus"].size(), h["pus"].get<size_t>());
}

TEST_F(DaemonTest, PlacesARealChildAndPinsIt) {
    Child child;
    RawConn c(d_.socket());
    auto r = reg(c, "pin", {child.pid()}, {{"cpus", 1}, {"coexist", "socket"}});
    ASSERT_TRUE(r && (*r)["ok"]) << error_of(r);
    auto p = Placement::from_json((*r)["placement"]);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->cpus.size(), 1u);
    EXPECT_TRUE(eventually([&] {
        return cpus_allowed_list(child.pid()) == format_cpulist(p->all_pus());
    })) << cpus_allowed_list(child.pid())
        << " vs " << format_cpulist(p->all_pus());
    if (can_use_cgroups()) {
        EXPECT_TRUE(d_.cgroup_exists("pin"));
    }
    auto rel = c.call({{"op", "release"}, {"tenant", "pin"}});
    ASSERT_TRUE(rel && (*rel)["ok"]) << error_of(rel);
    EXPECT_FALSE(d_.cgroup_exists("pin"));
}

// A process with two threads, registered with per-CPU thread ids: each
// thread is pinned to its own CPU's PUs.
TEST_F(DaemonTest, PerThreadPlacementPinsEachThread) {
    if (topology()["num_cores"].get<int>() < 2) GTEST_SKIP() << "needs two cores";
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        std::thread t([&] {
            pid_t tid = static_cast<pid_t>(::gettid());
            (void)!::write(p[1], &tid, sizeof tid);
            for (;;) ::pause();
        });
        for (;;) ::pause();
    }
    pid_t tid = 0;
    ASSERT_EQ(::read(p[0], &tid, sizeof tid), static_cast<ssize_t>(sizeof tid));
    ::close(p[0]);
    ::close(p[1]);
    RawConn c(d_.socket());
    auto r = c.call({{"op", "register"},
                     {"tenant", "threads"},
                     {"pids", {pid}},
                     {"threads", {pid, tid}},
                     {"request", {{"cpus", 2}, {"coexist", "socket"}}}});
    EXPECT_TRUE(r && (*r)["ok"]) << error_of(r);
    if (r && (*r)["ok"]) {
        auto pl = Placement::from_json((*r)["placement"]);
        ASSERT_TRUE(pl.ok());
        ASSERT_EQ(pl->cpus.size(), 2u);
        auto task_list = [&](pid_t t) {
            std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/task/" +
                                            std::to_string(t) + "/status"));
            std::string line;
            while (std::getline(in, line))
                if (line.rfind("Cpus_allowed_list:", 0) == 0)
                    return line.substr(line.find_first_not_of(" \t", 18));
            return std::string();
        };
        EXPECT_EQ(task_list(pid), format_cpulist(pl->cpus[0].pus));
        EXPECT_EQ(task_list(tid), format_cpulist(pl->cpus[1].pus));
        EXPECT_NE(pl->cpus[0].pus, pl->cpus[1].pus);
    }
    // A thread id of another process is refused, naming the field.
    Child other;
    auto bad = c.call({{"op", "register"},
                       {"tenant", "bad-threads"},
                       {"pids", {other.pid()}},
                       {"threads", {pid}},
                       {"cpus", 1}});
    ASSERT_TRUE(bad);
    EXPECT_NE(error_of(bad).find("register.threads[0]"), std::string::npos) << error_of(bad);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

TEST_F(DaemonTest, CoexistSocketTenantsNeverShareAPuAndTheNextIsRejected) {
    int cores = topology()["num_cores"].get<int>();
    if (cores > 16) GTEST_SKIP() << "too many cores for one child per core";
    RawConn c(d_.socket());
    std::vector<std::unique_ptr<Child>> kids;
    std::set<std::string> seen;
    std::set<int> pus;
    for (int i = 0; i < cores; ++i) {
        kids.push_back(std::make_unique<Child>());
        auto r = reg(c, "s" + std::to_string(i), {kids.back()->pid()},
                     {{"cpus", 1}, {"coexist", "socket"}});
        ASSERT_TRUE(r && (*r)["ok"]) << error_of(r);
        auto p = Placement::from_json((*r)["placement"]);
        for (int pu : p->all_pus())
            EXPECT_TRUE(pus.insert(pu).second) << "PU " << pu << " placed twice";
    }
    for (auto& k : kids) {
        std::string allowed;
        ASSERT_TRUE(eventually([&] {
            allowed = cpus_allowed_list(k->pid());
            return allowed.find_first_of(",-") == std::string::npos;  // pinned to one PU
        })) << allowed;
        EXPECT_TRUE(seen.insert(allowed).second) << "two tenants share PU " << allowed;
    }
    Child extra;
    auto r = reg(c, "one-too-many", {extra.pid()}, {{"cpus", 1}, {"coexist", "socket"}});
    ASSERT_TRUE(r);
    EXPECT_FALSE((*r)["ok"]);
    EXPECT_EQ((*r)["error"]["code"], "infeasible") << error_of(r);
    EXPECT_NE(error_of(r).find("coexist socket"), std::string::npos) << error_of(r);
}

TEST_F(DaemonTest, CoexistNoneOwnsTheNumaNode) {
    auto t = topology();
    if (t["num_numa"].get<int>() != 1) GTEST_SKIP() << "needs a single NUMA node";
    RawConn c(d_.socket());
    Child a, b;
    auto ra = reg(c, "alone", {a.pid()}, {{"cpus", 1}, {"coexist", "none"}});
    ASSERT_TRUE(ra && (*ra)["ok"]) << error_of(ra);
    auto rb = reg(c, "second", {b.pid()}, {{"cpus", 1}, {"coexist", "socket"}});
    ASSERT_TRUE(rb);
    EXPECT_FALSE((*rb)["ok"]);
    EXPECT_EQ((*rb)["error"]["code"], "infeasible") << error_of(rb);
    auto st = status();
    ASSERT_EQ(st["tenants"].size(), 1u);
    EXPECT_EQ(st["tenants"][0]["tenant"], "alone");
    // Released, the node is free again.
    ASSERT_TRUE((*c.call({{"op", "release"}, {"tenant", "alone"}}))["ok"]);
    auto rb2 = reg(c, "second", {b.pid()}, {{"cpus", 1}, {"coexist", "socket"}});
    EXPECT_TRUE(rb2 && (*rb2)["ok"]) << error_of(rb2);
}

TEST_F(DaemonTest, ATenantThatExitsIsCleanedUp) {
    Child child;
    {
        RawConn c(d_.socket());
        auto r = reg(c, "mortal", {child.pid()}, {{"cpus", 1}}, /*detached=*/true);
        ASSERT_TRUE(r && (*r)["ok"]) << error_of(r);
    }
    if (can_use_cgroups()) {
        ASSERT_TRUE(d_.cgroup_exists("mortal"));
    }
    child.kill();
    EXPECT_TRUE(eventually([&] { return status()["tenants"].empty(); })) << status().dump();
    EXPECT_TRUE(eventually([&] { return !d_.cgroup_exists("mortal"); }));
    EXPECT_NE(d_.log().find("event=release tenant=mortal reason=exit"), std::string::npos);
}

TEST_F(DaemonTest, DisconnectReleasesUnlessDetached) {
    Child a, b;
    {
        RawConn c(d_.socket());
        ASSERT_TRUE((*reg(c, "attached", {a.pid()}, {{"cpus", 1}}))["ok"]);
        ASSERT_TRUE((*reg(c, "detached", {b.pid()}, {{"cpus", 1}}, true))["ok"]);
        EXPECT_EQ(status()["tenants"].size(), 2u);
    }
    EXPECT_TRUE(eventually([&] { return status()["tenants"].size() == 1; }));
    auto st = status();
    ASSERT_EQ(st["tenants"].size(), 1u);
    EXPECT_EQ(st["tenants"][0]["tenant"], "detached");
    EXPECT_FALSE(d_.cgroup_exists("attached"));
}

TEST_F(DaemonTest, StateFileFollowsEveryChange) {
    Child a;
    RawConn c(d_.socket());
    ASSERT_TRUE((*reg(c, "persisted", {a.pid()}, {{"cpus", 1}}))["ok"]);
    auto s = json::parse(read_file(d_.state()));
    ASSERT_EQ(s["tenants"].size(), 1u);
    EXPECT_EQ(s["tenants"][0]["tenant"], "persisted");
    EXPECT_EQ(s["tenants"][0]["pids"][0]["pid"], a.pid());
    EXPECT_EQ(s["tenants"][0]["owner_uid"], ::getuid());
    ASSERT_TRUE((*c.call({{"op", "release"}, {"tenant", "persisted"}}))["ok"]);
    EXPECT_TRUE(json::parse(read_file(d_.state()))["tenants"].empty());
    EXPECT_FALSE(std::filesystem::exists(d_.state() + ".tmp"));
}

TEST_F(DaemonTest, FrozenTenantRunsAgainWithinOneSecondAfterKill9AndRestart) {
    if (!hello()["driver"]["freeze"].get<bool>()) GTEST_SKIP() << "driver cannot freeze here";
    Child spinner(Child::kSpin);
    {
        RawConn c(d_.socket());
        auto r = reg(c, "gang", {spinner.pid()}, {{"cpus", 1}}, /*detached=*/true);
        ASSERT_TRUE(r && (*r)["ok"]) << error_of(r);
        auto f = c.call({{"op", "freeze"}, {"tenant", "gang"}});
        ASSERT_TRUE(f && (*f)["ok"]) << error_of(f);
    }
    // Frozen: no CPU time accrues.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    long long t0 = cpu_ticks(spinner.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    long long t1 = cpu_ticks(spinner.pid());
    EXPECT_EQ(t0, t1) << "tenant still runs while frozen";
    EXPECT_TRUE(json::parse(read_file(d_.state()))["tenants"][0]["frozen"].get<bool>());

    d_.kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(cpu_ticks(spinner.pid()), t1) << "a killed daemon must leave the tenant as it was";

    auto begin = Clock::now();
    ASSERT_TRUE(d_.start()) << d_.log();
    bool runs = eventually([&] { return cpu_ticks(spinner.pid()) > t1; }, 1000);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count();
    EXPECT_TRUE(runs) << "tenant still frozen after restart";
    EXPECT_LE(ms, 1000) << "restart + thaw took " << ms << " ms";
    std::cout << "[ info     ] daemon restart until the frozen tenant ran again: " << ms << " ms\n";
    RecordProperty("restart_to_running_ms", static_cast<int>(ms));
    auto st = status();
    ASSERT_EQ(st["tenants"].size(), 1u) << st.dump();
    EXPECT_EQ(st["tenants"][0]["tenant"], "gang");
    EXPECT_EQ(st["tenants"][0]["frozen"], false);
    EXPECT_NE(d_.log().find("event=adopt tenant=gang"), std::string::npos);
}

TEST_F(DaemonTest, RestartDropsTenantsWhoseProcessesDied) {
    auto child = std::make_unique<Child>();
    {
        RawConn c(d_.socket());
        ASSERT_TRUE((*reg(c, "ghost", {child->pid()}, {{"cpus", 1}}, true))["ok"]);
    }
    d_.kill9();
    child.reset();  // dies while no daemon watches
    ASSERT_TRUE(d_.start()) << d_.log();
    EXPECT_TRUE(status()["tenants"].empty());
    EXPECT_FALSE(d_.cgroup_exists("ghost"));
    EXPECT_NE(d_.log().find("event=remove_stale tenant=ghost"), std::string::npos) << d_.log();
}

TEST_F(DaemonTest, SigtermReleasesEverythingAndRemovesTheSocket) {
    Child a;
    {
        RawConn c(d_.socket());
        ASSERT_TRUE((*reg(c, "bye", {a.pid()}, {{"cpus", 1}}, true))["ok"]);
    }
    int st = d_.stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(st)) << st;
    EXPECT_EQ(WEXITSTATUS(st), 0);
    EXPECT_FALSE(std::filesystem::exists(d_.socket()));
    EXPECT_FALSE(d_.cgroup_exists("bye"));
    EXPECT_TRUE(json::parse(read_file(d_.state()))["tenants"].empty());
    ASSERT_TRUE(d_.start()) << d_.log();  // for TearDown symmetry
}

TEST_F(DaemonTest, ASecondDaemonIsRefusedAndAStaleSocketIsReplaced) {
    std::string cmd = std::string(VTASOSD_PATH) + " --foreground --no-state --socket " +
                      d_.socket() + " --cgroup-parent " + d_.parent() + "-2 > " + d_.dir() +
                      "/second.log 2>&1";
    int rc = std::system(cmd.c_str());
    EXPECT_NE(rc, 0);
    EXPECT_NE(read_file(d_.dir() + "/second.log").find("another vtasosd"), std::string::npos)
        << read_file(d_.dir() + "/second.log");
    EXPECT_TRUE(hello()["ok"]);  // the first one still serves
    d_.kill9();
    ASSERT_TRUE(std::filesystem::exists(d_.socket()));  // stale socket file left behind
    ASSERT_TRUE(d_.start()) << d_.log();
    EXPECT_NE(d_.log().find("event=stale_socket"), std::string::npos);
}

TEST_F(DaemonTest, MalformedCorpusEachGetsANamedErrorAndTheDaemonKeepsServing) {
    std::ifstream manifest(std::string(VTASOS_MALFORMED_DIR) + "/expected.tsv");
    ASSERT_TRUE(manifest);
    RawConn c(d_.socket());
    std::string line;
    int n = 0;
    while (std::getline(manifest, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string file, code, sub;
        std::getline(ls, file, '\t');
        std::getline(ls, code, '\t');
        std::getline(ls, sub);
        std::string msg = read_file(std::string(VTASOS_MALFORMED_DIR) + "/" + file);
        ASSERT_TRUE(c.send(msg + "\n")) << file;
        auto reply = c.read_line();
        ASSERT_TRUE(reply) << file << ": no reply";
        auto r = json::parse(*reply, nullptr, false);
        ASSERT_FALSE(r.is_discarded()) << file << ": reply is not JSON: " << *reply;
        EXPECT_EQ(r["v"], 1);
        ASSERT_EQ(r["ok"], false) << file << " was accepted: " << *reply;
        if (code != "*") {
            EXPECT_EQ(r["error"]["code"], code) << file << ": " << *reply;
        }
        EXPECT_NE(r["error"]["message"].get<std::string>().find(sub), std::string::npos)
            << file << ": \"" << r["error"]["message"] << "\" does not name \"" << sub << "\"";
        ++n;
    }
    EXPECT_GE(n, 50);
    // The same connection and a fresh client both still work.
    auto h = c.call({{"op", "hello"}});
    EXPECT_TRUE(h && (*h)["ok"]);
    RawConn fresh(d_.socket());
    Child a;
    auto r = reg(fresh, "after-corpus", {a.pid()}, {{"cpus", 1}});
    ASSERT_TRUE(r && (*r)["ok"]) << error_of(r);
    EXPECT_TRUE((*fresh.call({{"op", "release"}, {"tenant", "after-corpus"}}))["ok"]);
}

TEST_F(DaemonTest, A10MiBLineGetsAnErrorAndTheConnectionRecovers) {
    RawConn c(d_.socket());
    std::string big =
        R"({"v":1,"id":1,"op":"hello","client":")" + std::string(10 << 20, 'x') + "\"}\n";
    ASSERT_TRUE(c.send(big));
    auto line = c.read_line(10000);
    ASSERT_TRUE(line);
    auto r = json::parse(*line);
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"]["code"], "protocol");
    EXPECT_NE(r["error"]["message"].get<std::string>().find("64 KiB"), std::string::npos) << *line;
    auto h = c.call({{"op", "hello"}});
    ASSERT_TRUE(h && (*h)["ok"]) << "connection unusable after the oversize line";
    EXPECT_TRUE(hello()["ok"]);
}

TEST_F(DaemonTest, AClientStreamingWithoutNewlineIsDisconnected) {
    RawConn c(d_.socket());
    std::string chunk(1 << 20, 'y');
    bool closed = false;
    for (int i = 0; i < 64 && !closed; ++i) closed = !c.send(chunk);  // 64 MiB, no newline
    auto first = c.read_line(2000);
    ASSERT_TRUE(first);  // the 64 KiB error came before the disconnect
    EXPECT_NE(first->find("64 KiB"), std::string::npos);
    EXPECT_FALSE(c.read_line(2000)) << "connection should be closed";
    EXPECT_TRUE(hello()["ok"]);
    EXPECT_NE(d_.log().find("reason=oversize_stream"), std::string::npos);
}

TEST_F(DaemonTest, ASlowReaderIsDisconnectedAndOthersAreServed) {
    RawConn c(d_.socket());
    std::string req;
    for (int i = 0; i < 200; ++i)
        req += R"({"v":1,"id":1,"op":"topology"})"
               "\n";
    bool closed = false;
    // Never read: replies pile up in the daemon's queue for this client.
    for (int i = 0; i < 400 && !closed; ++i) {
        pollfd p{c.fd(), POLLOUT, 0};
        if (::poll(&p, 1, 2000) <= 0) break;
        closed = !c.send(req);
    }
    EXPECT_TRUE(
        eventually([&] { return d_.log().find("reason=slow_reader") != std::string::npos; }, 5000))
        << "no slow_reader disconnect";
    EXPECT_TRUE(hello()["ok"]);
}

TEST_F(DaemonTest, ClientsBeyondTheLimitGetBusy) {
    Daemon small;
    ASSERT_TRUE(small.start({"--max-clients", "3", "--no-state"})) << small.log();
    std::vector<std::unique_ptr<RawConn>> conns;
    for (int i = 0; i < 3; ++i) {
        conns.push_back(std::make_unique<RawConn>(small.socket()));
        ASSERT_TRUE(conns.back()->call({{"op", "hello"}})) << i;
    }
    RawConn extra(small.socket());
    auto line = extra.read_line(2000);
    ASSERT_TRUE(line);
    auto r = json::parse(*line);
    EXPECT_EQ(r["error"]["code"], "busy");
    EXPECT_NE(r["error"]["message"].get<std::string>().find("too many clients"), std::string::npos);
    conns.pop_back();
    EXPECT_TRUE(eventually([&] {
        RawConn again(small.socket());
        auto h = again.call({{"op", "hello"}}, 500);
        return h && h->value("ok", false);
    }));
}

// A client running as uid nobody may neither register another user's process
// (pid 1) nor act on root's tenants.
TEST_F(DaemonTest, PeerCredentialsLimitWhatAClientMayTouch) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to uid nobody";
    Child mine;
    RawConn root(d_.socket());
    ASSERT_TRUE((*reg(root, "roots", {mine.pid()}, {{"cpus", 1}}))["ok"]);
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_t kid = ::fork();
    if (kid == 0) {
        ::close(out[0]);
        std::string report;
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0) {
            report = "setresuid failed";
        } else {
            RawConn c(d_.socket());
            json results = json::array();
            for (json m : {json{{"op", "register"}, {"tenant", "evil"}, {"pids", {1}}, {"cpus", 1}},
                           json{{"op", "release"}, {"tenant", "roots"}},
                           json{{"op", "freeze"}, {"tenant", "roots"}},
                           json{{"op", "advice"}, {"tenant", "roots"}}, json{{"op", "hello"}}}) {
                auto r = c.call(m);
                results.push_back(r ? *r : json());
            }
            report = results.dump();
        }
        (void)!::write(out[1], report.data(), report.size());
        ::_exit(0);
    }
    ::close(out[1]);
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
    ::close(out[0]);
    ::waitpid(kid, nullptr, 0);
    auto results = json::parse(got, nullptr, false);
    ASSERT_TRUE(results.is_array()) << got;
    ASSERT_EQ(results.size(), 5u) << got;
    EXPECT_EQ(results[0]["error"]["code"], "permission_denied") << results[0];
    EXPECT_NE(results[0]["error"]["message"].get<std::string>().find("process 1 belongs to uid 0"),
              std::string::npos);
    for (int i = 1; i <= 3; ++i)
        EXPECT_EQ(results[i]["error"]["code"], "permission_denied") << results[i];
    EXPECT_EQ(results[4]["ok"], true);
    EXPECT_EQ(results[4]["uid"], 65534);
    EXPECT_EQ(status()["tenants"].size(), 1u);  // root's tenant untouched, nothing registered
}

}  // namespace
}  // namespace vtasos::testing
