// The tool with a real vtasosd (label "integration"): threads end on their
// placed CPUs, advice to halve the threads is followed in the next regions,
// and the daemon going away mid-run does not hurt the program. Every test
// skips, saying why, while vtasosd or the client library is not built.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "internal/binding.h"
#include "internal/clock.h"
#include "test_util.h"
#ifdef VTASOS_OMPT_HAVE_CLIENT
#include "vtasos/client.h"
#endif

extern char** environ;

namespace vtasos::ompt {
namespace {

const std::string kToolEnv = std::string("OMP_TOOL_LIBRARIES=") + VTASOS_OMPT_LIB;

class OmptDaemon : public ::testing::Test {
protected:
    void SetUp() override {
#ifndef VTASOS_OMPT_HAVE_CLIENT
        GTEST_SKIP() << "the tool was built without the vtasos client library";
#endif
        if (std::string(VTASOSD).empty() || !std::filesystem::exists(VTASOSD))
            GTEST_SKIP() << "vtasosd is not built yet (target vtasosd absent)";
        dir_ = test::temp_dir("daemon");
        socket_ = dir_ + "/vtasosd.sock";
        std::filesystem::create_directories(dir_ + "/cgroup");
        start_daemon();
    }
    // (Re)starts vtasosd on the same socket and state file.
    void start_daemon() {
        std::vector<std::string> args = {VTASOSD,
                                         "--socket",
                                         socket_,
                                         "--state",
                                         dir_ + "/state.json",
                                         "--foreground",
                                         "--topology",
                                         "live",
                                         "--cgroup-root",
                                         dir_ + "/cgroup",
                                         "--profiles",
                                         VTASOS_PROFILE_DIR,
                                         "--log-level",
                                         "warn"};
        std::vector<char*> av;
        for (auto& a : args) av.push_back(a.data());
        av.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, (dir_ + "/vtasosd.log").c_str(),
                                         O_WRONLY | O_CREAT | O_APPEND, 0644);
        int rc = posix_spawn(&daemon_, av[0], &fa, nullptr, av.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ASSERT_EQ(rc, 0) << "cannot start vtasosd";
        for (int i = 0; i < 200 && !std::filesystem::exists(socket_); ++i) usleep(50000);
        ASSERT_TRUE(std::filesystem::exists(socket_))
            << "vtasosd did not create its socket: "
            << test::read_file(dir_ + "/vtasosd.log").value_or("");
    }
    void TearDown() override {
        if (daemon_ > 0) {
            kill(daemon_, SIGTERM);
            waitpid(daemon_, nullptr, 0);
        }
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    void kill_daemon() {
        kill(daemon_, SIGKILL);
        waitpid(daemon_, nullptr, 0);
        daemon_ = -1;
    }
    std::vector<std::string> env(std::vector<std::string> extra) {
        extra.push_back(kToolEnv);
        extra.push_back("VTASOS_SOCKET=" + socket_);
        return extra;
    }
    // A profile file letting the tenant time-share PUs, so that a second
    // tenant can oversubscribe the node and the daemon advises fewer threads.
    std::string sharing_profile() {
        std::string f = dir_ + "/share.json";
        std::ofstream(f) << R"({"name": "share", "coexist": "pu", "gang": false})";
        return f;
    }

    std::string dir_, socket_;
    pid_t daemon_ = -1;
};

#ifdef VTASOS_OMPT_HAVE_CLIENT
// One request to the daemon on a fresh connection; the reply, or null.
nlohmann::json call(const std::string& socket, const nlohmann::json& req) {
    vtasos_client* c = nullptr;
    if (vtasos_connect(socket.c_str(), 2000, &c) != VTASOS_OK) return nullptr;
    std::vector<char> buf(1 << 20);
    int rc = vtasos_call(c, req.dump().c_str(), buf.data(), buf.size());
    vtasos_close(c);
    if (rc != VTASOS_OK && rc != VTASOS_E_REFUSED) return nullptr;
    return nlohmann::json::parse(buf.data(), nullptr, false);
}

// The tenant (and its status entry) whose id starts with `prefix`, or null.
nlohmann::json find_tenant(const std::string& socket, const std::string& prefix) {
    auto st = call(socket, {{"op", "status"}});
    if (st.is_null() || !st.contains("tenants")) return nullptr;
    for (const auto& t : st["tenants"])
        if (t["tenant"].get<std::string>().rfind(prefix, 0) == 0) return t;
    return nullptr;
}
#endif

struct Change {
    int region;
    double t_ms;
    int size;
};

std::vector<Change> changes(const std::string& out) {
    std::vector<Change> r;
    std::regex re(R"(change region=(\d+) t_ms=([0-9.]+) size=(\d+))");
    for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it)
        r.push_back({std::stoi((*it)[1]), std::stod((*it)[2]), std::stoi((*it)[3])});
    return r;
}

TEST_F(OmptDaemon, ThreadsEndOnTheirPlacedCpus) {
    int pus = static_cast<int>(current_affinity().size());
    int threads = std::max(2, pus);
    auto r = test::run({AFFINITY_PROG, "20"},
                       env({"OMP_NUM_THREADS=" + std::to_string(threads), "VTASOS_VERBOSE=1"}));
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    // "...; threads bound to <tenant>: cpu0->{2} cpu1->{3} mems {0}; ..."
    auto lines = test::tool_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    ASSERT_NE(lines[0].find("threads bound to"), std::string::npos) << lines[0];
    std::map<int, std::string> placed;  // cpu index -> PU list "2" or "2,3"
    std::regex cpu_re(R"(cpu(\d+)->\{([0-9,]+)\})");
    for (std::sregex_iterator it(lines[0].begin(), lines[0].end(), cpu_re), end; it != end; ++it)
        placed[std::stoi((*it)[1])] = (*it)[2];
    ASSERT_EQ(static_cast<int>(placed.size()), threads) << lines[0];
    // Each thread's final affinity is one placed CPU's PU set; distinct
    // threads cover the placement (thread n -> cpu n % cpus).
    std::multiset<std::string> got, want;
    std::regex aff_re(R"(affinity thread=(\d+) cpus=([0-9,]+))");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), aff_re), end; it != end; ++it)
        got.insert((*it)[2]);
    for (auto& [cpu, p] : placed) want.insert(p);
    EXPECT_EQ(got, want) << r.out << lines[0];
}

// Without OMP_NUM_THREADS libomp sizes its default team from the initial
// thread's affinity mask: binding must not shrink that team to one thread.
TEST_F(OmptDaemon, DefaultTeamFillsThePlacement) {
    int pus = static_cast<int>(current_affinity().size());
    if (pus < 2) GTEST_SKIP() << "needs 2 PUs";
    auto r = test::run({AFFINITY_PROG, "5"}, env({"VTASOS_VERBOSE=1"}));
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    auto lines = test::tool_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    ASSERT_NE(lines[0].find("threads bound to"), std::string::npos) << lines[0];
    std::set<std::string> got;
    std::regex aff_re(R"(affinity thread=(\d+) cpus=([0-9,]+))");
    int threads = 0;
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), aff_re), end; it != end; ++it) {
        ++threads;
        got.insert((*it)[2]);
    }
    EXPECT_EQ(threads, pus) << r.out << lines[0];
    EXPECT_EQ(static_cast<int>(got.size()), pus) << "threads share PUs: " << r.out;
}

// A rank placed by the Open MPI hook: the tool binds to the published share
// and does not register the process a second time.
TEST_F(OmptDaemon, MpiRankShareIsUsedWithoutSecondRegistration) {
    int pu = current_affinity().back();
    std::string share = R"({"tenant":"mpi-test-n0","cpus":[{"cpu":0,"pus":[)" + std::to_string(pu) +
                        R"(]}],"mem_nodes":[]})";
    auto r = test::run({AFFINITY_PROG, "5"},
                       env({"OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1", "VTASOS_MPI_SHARE=" + share}));
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    auto lines = test::tool_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find("MPI rank share of tenant mpi-test-n0"), std::string::npos) << lines[0];
    std::regex aff_re(R"(affinity thread=(\d+) cpus=([0-9,]+))");
    int seen = 0;
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), aff_re), end; it != end; ++it, ++seen)
        EXPECT_EQ((*it)[2], std::to_string(pu)) << r.out;
    EXPECT_EQ(seen, 2) << r.out;

    auto bad = test::run({AFFINITY_PROG, "1"},
                         env({"OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1", "VTASOS_MPI_SHARE={oops"}));
    ASSERT_EQ(bad.status, 0) << bad.err;
    EXPECT_NE(bad.err.find("VTASOS_MPI_SHARE is unusable"), std::string::npos) << bad.err;
}

TEST_F(OmptDaemon, BindingCanBeSwitchedOff) {
    auto mine = current_affinity();
    auto r = test::run({AFFINITY_PROG, "5"},
                       env({"OMP_NUM_THREADS=2", "VTASOS_BIND=0", "VTASOS_VERBOSE=1"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("not bound (VTASOS_BIND=0)"), std::string::npos) << r.err;
}

#ifdef VTASOS_OMPT_HAVE_CLIENT
// Registers a tenant (a sleeping process) asking for every PU of the node,
// time-sharing allowed, so that the node is oversubscribed and the other
// tenants are told to shrink.
struct Hog {
    vtasos_client* c = nullptr;
    pid_t pid = -1;
    Hog(const std::string& socket, int cpus, const std::string& coexist = "pu") {
        char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("120"), nullptr};
        if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) != 0) return;
        if (vtasos_connect(socket.c_str(), 2000, &c) != VTASOS_OK) return;
        std::string req = R"({"tenant": "hog", "cpus": )" + std::to_string(cpus) +
                          R"(, "coexist": ")" + coexist + R"("})";
        char placement[65536];
        int p = static_cast<int>(pid);
        if (vtasos_register(c, "hog", req.c_str(), nullptr, &p, 1, 0, placement,
                            sizeof placement) != VTASOS_OK) {
            ADD_FAILURE() << "hog register: " << vtasos_last_error(c);
            vtasos_close(c);
            c = nullptr;
        }
    }
    void release() {
        if (c) vtasos_release(c, "hog");
        vtasos_close(c);
        c = nullptr;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            pid = -1;
        }
    }
    ~Hog() { release(); }
};
#endif

TEST_F(OmptDaemon, AdviceToHalveIsFollowedInTheNextRegions) {
#ifdef VTASOS_OMPT_HAVE_CLIENT
    int pus = static_cast<int>(current_affinity().size());
    int threads = std::max(2, pus);
    // 1500 regions of 1 ms: the hog arrives after ~300 ms, leaves after ~900 ms.
    auto fut = std::async(std::launch::async, [&] {
        return test::run({ADVICE_PROG, "-", "1500", "0", "1500", "1", "1000"},
                         env({"OMP_NUM_THREADS=" + std::to_string(threads),
                              "VTASOS_PROFILE=" + sharing_profile(), "VTASOS_VERBOSE=2"}),
                         120);
    });
    usleep(300000);
    double t_hog = monotonic_ns() / 1e6;
    Hog hog(socket_, pus);
    ASSERT_TRUE(hog.c) << "cannot register the hog tenant";
    usleep(600000);
    double t_release = monotonic_ns() / 1e6;
    hog.release();
    auto r = fut.get();
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    auto ch = changes(r.out);
    ASSERT_FALSE(ch.empty()) << r.out;
    EXPECT_EQ(ch.front().size, threads) << r.out;
    // node: threads + pus CPUs on pus PUs -> threads * pus / (threads + pus)
    int halved = std::max(1, threads * pus / (threads + pus));
    const Change* shrink = nullptr;
    const Change* grow = nullptr;
    for (const auto& c : ch) {
        if (!shrink && c.size == halved && c.t_ms >= t_hog) shrink = &c;
        if (shrink && !grow && c.size == threads && c.t_ms >= t_release) grow = &c;
    }
    ASSERT_TRUE(shrink) << "never ran with " << halved << " threads:\n" << r.out << r.err;
    std::printf(
        "reaction to advice (daemon): %.1f ms (hog registered -> first region with %d threads)\n",
        shrink->t_ms - t_hog, halved);
    EXPECT_LT(shrink->t_ms - t_hog, 500);
    ASSERT_TRUE(grow) << "never came back to " << threads << " threads:\n" << r.out << r.err;
    std::printf("reaction to advice withdrawn: %.1f ms\n", grow->t_ms - t_release);
#else
    GTEST_SKIP() << "no client library";
#endif
}

// `vtasosctl run -- prog` registers the tenant; the program's tool joins it
// (VTASOS_TENANT) instead of failing to register the same process again: its
// observations reach that tenant and its advice is followed.
TEST_F(OmptDaemon, ProgramUnderVtasosctlRunJoinsThatTenant) {
#ifdef VTASOS_OMPT_HAVE_CLIENT
    if (std::string(VTASOSCTL).empty() || !std::filesystem::exists(VTASOSCTL))
        GTEST_SKIP() << "vtasosctl is not built";
    int pus = static_cast<int>(current_affinity().size());
    int threads = std::max(2, pus);
    auto fut = std::async(std::launch::async, [&] {
        return test::run({VTASOSCTL, "--socket", socket_, "run", "--tenant", "ctl-run", "--cpus",
                          std::to_string(pus), "--coexist", "pu", "--", ADVICE_PROG, "-", "3000",
                          "0", "3000", "1", "1000"},
                         env({"OMP_NUM_THREADS=" + std::to_string(threads), "VTASOS_VERBOSE=1"}),
                         120);
    });
    // The tool reports observations for the tenant vtasosctl registered.
    nlohmann::json t;
    for (int i = 0; i < 300; ++i, usleep(10000)) {
        t = find_tenant(socket_, "ctl-run");
        if (!t.is_null() && t.contains("observations")) break;
    }
    ASSERT_FALSE(t.is_null()) << "vtasosctl run registered no tenant";
    EXPECT_TRUE(t.contains("observations")) << t.dump();
    auto st = call(socket_, {{"op", "status"}});
    ASSERT_TRUE(st.contains("tenants")) << st.dump();
    EXPECT_EQ(st["tenants"].size(), 1u) << "the tool registered a second tenant: " << st.dump();
    // Oversubscribed: the advice to shrink reaches the program through the joined tenant.
    double t_hog = monotonic_ns() / 1e6;
    Hog hog(socket_, pus);
    ASSERT_TRUE(hog.c) << "cannot register the hog tenant";
    usleep(600000);
    hog.release();
    auto r = fut.get();
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("tenant ctl-run at"), std::string::npos) << r.err;
    int halved = std::max(1, threads * pus / (threads + pus));
    bool shrank = false;
    for (const auto& c : changes(r.out)) shrank = shrank || (c.size == halved && c.t_ms >= t_hog);
    EXPECT_TRUE(shrank) << "never ran with " << halved << " threads:\n" << r.out << r.err;
    // The owner (vtasosctl) released it; the tool did not leave anything behind.
    EXPECT_TRUE(find_tenant(socket_, "ctl-run").is_null());
    // A stale VTASOS_TENANT: the tool registers a tenant of its own.
    auto stale = test::run({AFFINITY_PROG, "1"},
                           env({"OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1", "VTASOS_TENANT=gone-1"}));
    ASSERT_EQ(stale.status, 0) << stale.err;
    EXPECT_NE(stale.err.find("VTASOS_TENANT=gone-1: no such tenant"), std::string::npos)
        << stale.err;
    EXPECT_NE(stale.err.find("threads bound to"), std::string::npos) << stale.err;
#else
    GTEST_SKIP() << "no client library";
#endif
}

TEST_F(OmptDaemon, DaemonKilledMidRunDoesNotHurtTheProgram) {
    auto fut = std::async(std::launch::async, [&] {
        return test::run({ADVICE_PROG, "-", "800", "0", "800", "1", "1000"},
                         env({"OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1",
                              "VTASOS_PROFILE_OUT=" + dir_ + "/p.json"}),
                         120);
    });
#ifdef VTASOS_OMPT_HAVE_CLIENT
    // Kill only once the tool has registered (a loaded machine may start the
    // program later than any fixed sleep).
    for (int i = 0; i < 200; ++i) {
        auto st = call(socket_, {{"op", "status"}});
        if (!st.is_null() && st.contains("tenants") && !st["tenants"].empty()) break;
        usleep(25000);
    }
#else
    usleep(250000);
#endif
    kill_daemon();
    auto r = fut.get();
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("advice before=2"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("advice stopped, monitoring only"), std::string::npos) << r.err;
    EXPECT_TRUE(test::read_profile(dir_ + "/p.json"));
}

TEST_F(OmptDaemon, DaemonRestartedToolReRegisters) {
#ifdef VTASOS_OMPT_HAVE_CLIENT
    // ~3 s of 1 ms regions; the daemon dies at 0.4 s and is back at 1 s with
    // the same state file (it re-adopts the process's tenant, which the tool
    // then takes back on its new connection).
    auto fut = std::async(std::launch::async, [&] {
        return test::run({ADVICE_PROG, "-", "3000", "0", "3000", "1", "1000"},
                         env({"OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1"}), 120);
    });
    usleep(400000);
    ASSERT_FALSE(find_tenant(socket_, "advice_prog").is_null()) << "not registered";
    kill_daemon();
    usleep(600000);
    start_daemon();
    nlohmann::json t;
    for (int i = 0; i < 300; ++i, usleep(10000)) {
        t = find_tenant(socket_, "advice_prog");
        if (!t.is_null() && t["connected"] == true) break;
    }
    auto r = fut.get();
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("advice before=2"), std::string::npos) << r.out;
    ASSERT_FALSE(t.is_null()) << "tenant not back after the restart:\n" << r.err;
    EXPECT_EQ(t["connected"], true) << t.dump();
    EXPECT_NE(r.err.find("advice stopped, monitoring only"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("re-registered with"), std::string::npos) << r.err;
#else
    GTEST_SKIP() << "no client library";
#endif
}

// The daemon re-places a tenant (its bandwidth class changed); the tool sees
// the new placement in its next advice reply and the threads re-bind.
TEST_F(OmptDaemon, RePlacementIsFollowedByTheThreads) {
#ifdef VTASOS_OMPT_HAVE_CLIENT
    if (current_affinity().size() < 2) GTEST_SKIP() << "needs 2 PUs";
    // A neighbour holds one core, so the program lands on another one.
    auto hog = std::make_unique<Hog>(socket_, 1, "socket");
    ASSERT_TRUE(hog->c);
    auto fut = std::async(std::launch::async, [&] {
        return test::run({AFFINITY_PROG, "150", "20000"},
                         env({"OMP_NUM_THREADS=1", "VTASOS_VERBOSE=1"}), 120);
    });
    nlohmann::json t;
    for (int i = 0; i < 200 && t.is_null(); ++i, usleep(10000))
        t = find_tenant(socket_, "affinity_prog");
    ASSERT_FALSE(t.is_null());
    auto before = t["placement"]["cpus"][0]["pus"];
    usleep(300000);
    hog.reset();  // its core is free now
    auto up = call(
        socket_,
        {{"op", "update"}, {"tenant", t["tenant"]}, {"observations", {{"bandwidth", "high"}}}});
    ASSERT_EQ(up["ok"], true) << up.dump();
    ASSERT_EQ(up["replaced"], true) << up.dump();
    auto after = up["placement"]["cpus"][0]["pus"];
    ASSERT_NE(before, after);
    auto r = fut.get();
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    std::string want = "affinity thread=0 cpus=" + std::to_string(after[0].get<int>()) + "\n";
    EXPECT_NE(r.out.find(want), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.err.find("placement changed"), std::string::npos) << r.err;
#else
    GTEST_SKIP() << "no client library";
#endif
}

#ifdef VTASOS_OMPT_HAVE_CLIENT
// Runs `mode` of probe_prog as a 1-thread tenant and probes it; the report.
nlohmann::json probe_program(const std::string& socket, const std::vector<std::string>& env,
                             const std::string& mode) {
    auto fut = std::async(std::launch::async, [&] {
        return test::run({PROBE_PROG, mode, "12"}, env, 60);
    });
    nlohmann::json t;
    for (int i = 0; i < 300 && t.is_null(); ++i, usleep(10000))
        t = find_tenant(socket, "probe_prog");
    nlohmann::json report;
    if (!t.is_null()) {
        usleep(500000);
        auto r = call(socket, {{"op", "probe"}, {"tenant", t["tenant"]}, {"duration_ms", 8000}});
        if (r["ok"] == true) {
            report = r["probe"];
            // Bounded by time; a reply lost to a loaded machine is asked again.
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            while (report["state"] == "running" && std::chrono::steady_clock::now() < deadline) {
                usleep(100000);
                auto q =
                    call(socket, {{"op", "probe"}, {"tenant", t["tenant"]}, {"action", "result"}});
                if (q.is_null()) continue;
                if (q["ok"] != true) {
                    report = q;  // the error (e.g. the tenant ended first)
                    break;
                }
                report = q["probe"];
            }
        } else {
            report = r;
        }
    }
    auto res = fut.get();
    EXPECT_EQ(res.status, 0) << res.out << res.err;
    EXPECT_NE(res.out.find("probe_prog mode=" + mode), std::string::npos) << res.out;
    return report;
}
#endif

// One thread streaming through more than the LLC and one computing in
// registers, each on one PU with the daemon's probe on the other.
TEST_F(OmptDaemon, ProbeClassifiesStreamingHighAndComputeLow) {
#ifdef VTASOS_OMPT_HAVE_CLIENT
    if (current_affinity().size() < 2) GTEST_SKIP() << "needs 2 PUs";
    auto e = env({"OMP_NUM_THREADS=1"});
    // This VM's two vCPUs sometimes sit on host cores that share no cache or
    // memory path: the streamers then run at full rate (22 GB/s instead of 17)
    // and slow the tenant by ~3 % in every window (seen in CI). The probe is
    // right to say "low" then; a streaming program is given three tries to
    // meet a machine where streams contend.
    auto stream = probe_program(socket_, e, "stream");
    for (int attempt = 1; attempt < 3 && stream["state"] == "done" && stream["bandwidth"] == "low";
         ++attempt) {
        std::printf("probe stream, attempt %d: low (drop %s), trying again\n", attempt,
                    stream.value("drop", nlohmann::json()).dump().c_str());
        stream = probe_program(socket_, e, "stream");
    }
    auto compute = probe_program(socket_, e, "compute");
    std::printf("probe stream: %s\nprobe compute: %s\n", stream.dump().c_str(),
                compute.dump().c_str());
    ASSERT_EQ(stream["state"], "done") << stream.dump();
    ASSERT_EQ(compute["state"], "done") << compute.dump();
    EXPECT_EQ(stream["bandwidth"], "high") << stream.dump();
    EXPECT_EQ(compute["bandwidth"], "low") << compute.dump();
    // The class went into the tenant's profile (reported by the daemon's update).
    EXPECT_TRUE(stream.contains("update_reason")) << stream.dump();
    // The streamers' own rate was measured in every streaming window.
    auto rates = stream.value("stream_mb_s", std::vector<double>{});
    EXPECT_EQ(rates.size(), stream["drops"].size() + stream.value("skipped_windows", 0u))
        << stream.dump();
    EXPECT_GT(rates.empty() ? 0.0 : *std::max_element(rates.begin(), rates.end()), 100.0)
        << stream.dump();
#else
    GTEST_SKIP() << "no client library";
#endif
}

}  // namespace
}  // namespace vtasos::ompt
