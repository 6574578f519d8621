// Integration tests of the Open MPI hook and the PMPI library: real mpirun
// jobs against a real vtasosd (label "integration").
//
// Each test starts its own vtasosd on a private socket with a private cgroup
// parent, runs mpirun with the component from the build tree
// (OMPI_MCA_mca_base_component_path), and checks the programs' output, the
// daemon's `vtasosctl status --json` and the cgroup tree afterwards. Nothing
// assumes one node id: tenants are found by their "mpi-" prefix and by pid.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ------------------------------------------------------------ processes

struct Spawned {
    pid_t pid = -1;
    int out = -1;
    int err = -1;
    std::string out_text, err_text;
    Clock::time_point started = Clock::now();

    // Reads what is available (waiting up to `ms`). False at EOF of both.
    bool pump(int ms) {
        pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
        int n = 0;
        if (out >= 0) n = 1;
        if (err >= 0) n = 2;
        if (out < 0 && err < 0) return false;
        if (out < 0) fds[0].fd = -1;
        if (err < 0) fds[1].fd = -1;
        if (::poll(fds, 2, ms) <= 0) return true;
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int& fd = i == 0 ? out : err;
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r <= 0) {
                ::close(fd);
                fd = -1;
            } else {
                (i == 0 ? out_text : err_text).append(buf, static_cast<size_t>(r));
            }
        }
        (void)n;
        return out >= 0 || err >= 0;
    }
    // Waits until `pred(out_text)` holds or `seconds` pass.
    bool wait_output(const std::function<bool(const std::string&)>& pred, double seconds) {
        auto t0 = Clock::now();
        while (since(t0) < seconds) {
            if (pred(out_text)) return true;
            if (!pump(50) && !pred(out_text)) return false;
        }
        return pred(out_text);
    }
    // Reads to EOF and reaps; kills the process group past `seconds`.
    int finish(double seconds, bool* timed_out = nullptr) {
        auto t0 = Clock::now();
        bool killed = false;
        while (out >= 0 || err >= 0) {
            if (since(t0) > seconds && !killed) {
                ::kill(-pid, SIGKILL);
                killed = true;
            }
            pump(100);
        }
        int st = 0;
        ::waitpid(pid, &st, 0);
        if (timed_out) *timed_out = killed;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
};

Spawned spawn(const std::vector<std::string>& argv,
              const std::map<std::string, std::string>& env = {}) {
    int o[2], e[2];
    if (::pipe2(o, O_CLOEXEC) != 0 || ::pipe2(e, O_CLOEXEC) != 0) std::abort();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(o[1], 1);
        ::dup2(e[1], 2);
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    ::close(o[1]);
    ::close(e[1]);
    Spawned s;
    s.pid = pid;
    s.out = o[0];
    s.err = e[0];
    return s;
}

struct Ran {
    int rc = -1;
    std::string out, err;
    double seconds = 0;
    bool timed_out = false;
};

Ran run(const std::vector<std::string>& argv, double timeout_s = 120,
        const std::map<std::string, std::string>& env = {}) {
    auto t0 = Clock::now();
    Spawned s = spawn(argv, env);
    Ran r;
    r.rc = s.finish(timeout_s, &r.timed_out);
    r.out = s.out_text;
    r.err = s.err_text;
    r.seconds = since(t0);
    return r;
}

// ------------------------------------------------------- program output

struct RankLine {
    int rank = -1, size = 0, pid = 0;
    std::string affinity, tenant, share;
    int threads = 0;
};

std::vector<RankLine> rank_lines(const std::string& out) {
    static const std::regex re(
        R"(rank (\d+)/(\d+) pid (\d+) local \S+ affinity (\S+) threads (\d+) tenant (\S+) share (\S+))");
    std::vector<RankLine> v;
    for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it) {
        RankLine l;
        l.rank = std::stoi((*it)[1]);
        l.size = std::stoi((*it)[2]);
        l.pid = std::stoi((*it)[3]);
        l.affinity = (*it)[4];
        l.threads = std::stoi((*it)[5]);
        l.tenant = (*it)[6];
        l.share = (*it)[7];
        v.push_back(l);
    }
    std::sort(v.begin(), v.end(),
              [](const RankLine& a, const RankLine& b) { return a.rank < b.rank; });
    return v;
}

std::set<int> cpulist(const std::string& s) {
    std::set<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty() || item == "-") continue;
        auto dash = item.find('-');
        int a = std::stoi(item.substr(0, dash));
        int b = dash == std::string::npos ? a : std::stoi(item.substr(dash + 1));
        for (int i = a; i <= b; ++i) out.insert(i);
    }
    return out;
}

std::set<int> json_pus(const json& placement) {
    std::set<int> out;
    for (const auto& c : placement.value("cpus", json::array()))
        for (const auto& p : c.value("pus", json::array())) out.insert(p.get<int>());
    return out;
}

bool contains(const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
}

int online_cpus() { return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)); }

// ------------------------------------------------------------ the fixture

class MpiHook : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ =
            fs::temp_directory_path() / fmt::format("vtasos-mpi-it-{}-{}", ::getpid(), ++counter_);
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        socket_ = (dir_ / "d.sock").string();
        parent_ = fmt::format("vtasos-mpitest-{}-{}", ::getpid(), counter_);
        ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        std::string path = COMPONENT_DIR;
        if (std::strlen(SYSTEM_COMPONENT_DIR)) path += std::string(":") + SYSTEM_COMPONENT_DIR;
        ::setenv("OMPI_MCA_mca_base_component_path", path.c_str(), 1);
        // keep the user's own settings out of the jobs
        for (const char* v : {"VTASOS_SOCKET", "OMP_NUM_THREADS", "OMPI_MCA_hook", "LD_PRELOAD",
                              "VTASOS_PMPI_OUT", "VTASOS_PMPI_VERBOSE", "OMP_TOOL_LIBRARIES"})
            ::unsetenv(v);
    }

    void TearDown() override {
        stop_daemon();
        // No leftovers: every tenant cgroup under our parent is gone.
        for (const char* ctrl : {"cpuset", "freezer"}) {
            fs::path p = fs::path("/sys/fs/cgroup") / ctrl / parent_;
            std::error_code ec;
            if (!fs::exists(p, ec)) continue;
            for (const auto& e : fs::directory_iterator(p, ec))
                if (e.is_directory()) ADD_FAILURE() << "leftover cgroup " << e.path();
            ::rmdir(p.c_str());
        }
        fs::path v2 = fs::path("/sys/fs/cgroup") / parent_;
        std::error_code ec;
        if (fs::exists(v2, ec)) ::rmdir(v2.c_str());
        fs::remove_all(dir_, ec);
    }

    void start_daemon() {
        daemon_ = spawn({VTASOSD, "--socket", socket_, "--no-state", "--foreground",
                         "--cgroup-parent", parent_, "--log-level", "info"});
        auto t0 = Clock::now();
        while (since(t0) < 20) {
            if (fs::exists(socket_) && run({VTASOSCTL, "--socket", socket_, "hello"}, 10).rc == 0)
                return;
            daemon_->pump(50);
        }
        FAIL() << "vtasosd did not come up: " << daemon_->err_text;
    }

    void stop_daemon() {
        if (!daemon_) return;
        ::kill(daemon_->pid, SIGTERM);
        daemon_->finish(20);
        daemon_log_ = daemon_->err_text + daemon_->out_text;
        daemon_.reset();
    }

    json status() {
        Ran r = run({VTASOSCTL, "--socket", socket_, "status", "--json"}, 20);
        EXPECT_EQ(r.rc, 0) << r.err;
        auto j = json::parse(r.out, nullptr, false);
        return j.is_discarded() ? json::object() : j;
    }

    std::vector<json> mpi_tenants() {
        std::vector<json> v;
        json s = status();
        for (const auto& t : s.value("tenants", json::array()))
            if (t.value("tenant", std::string()).rfind("mpi-", 0) == 0) v.push_back(t);
        return v;
    }

    // Waits until no "mpi-" tenant is left (the daemon sees exits through pidfds).
    bool mpi_tenants_gone(double seconds = 10) {
        auto t0 = Clock::now();
        while (since(t0) < seconds) {
            if (mpi_tenants().empty()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return mpi_tenants().empty();
    }

    std::vector<std::string> mpirun(int np, std::vector<std::string> mca,
                                    std::vector<std::string> extra = {}) {
        std::vector<std::string> a = {MPIRUN, "-np", std::to_string(np)};
        if (np > online_cpus()) a.push_back("--oversubscribe");
        for (size_t i = 0; i + 1 < mca.size(); i += 2) {
            a.push_back("--mca");
            a.push_back(mca[i]);
            a.push_back(mca[i + 1]);
        }
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    std::vector<std::string> hook(std::vector<std::string> more = {}) {
        std::vector<std::string> m = {
            "hook", "vtasos", "hook_vtasos_socket", socket_, "hook_vtasos_verbose", "1"};
        // Open MPI refuses a parameter given twice: later values replace earlier ones.
        for (size_t i = 0; i + 1 < more.size(); i += 2) {
            bool replaced = false;
            for (size_t k = 0; k + 1 < m.size(); k += 2)
                if (m[k] == more[i]) {
                    m[k + 1] = more[i + 1];
                    replaced = true;
                }
            if (!replaced) m.insert(m.end(), {more[i], more[i + 1]});
        }
        return m;
    }

    std::string prog(const char* name) { return (fs::path(PROGRAM_DIR) / name).string(); }
    std::string file(const char* name) { return (dir_ / name).string(); }
    void touch(const std::string& p) { std::ofstream(p) << "go\n"; }

    static std::vector<std::string> cat(std::vector<std::string> a,
                                        const std::vector<std::string>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    }

    fs::path dir_;
    std::string socket_, parent_, daemon_log_;
    std::optional<Spawned> daemon_;
    static inline int counter_ = 0;
};

// The 2-rank hybrid job: one job tenant with both ranks, disjoint shares that
// are exactly the ranks' affinities, the whole of the tenant's placement; gone
// after the job.
TEST_F(MpiHook, TwoRanksJoinOneTenantWithDisjointShares) {
    start_daemon();
    std::string hold = file("hold");
    Spawned job = spawn(cat(mpirun(2, hook()), {prog("mpi_hybrid"), "--hold", hold}));
    ASSERT_TRUE(job.wait_output([](const std::string& o) { return rank_lines(o).size() == 2; }, 60))
        << job.out_text << job.err_text;
    auto ranks = rank_lines(job.out_text);
    json st = status();
    auto tenants = mpi_tenants();
    Ran text = run({VTASOSCTL, "--socket", socket_, "status"}, 20);
    touch(hold);
    int rc = job.finish(60);
    EXPECT_EQ(rc, 0) << job.err_text;
    EXPECT_TRUE(contains(job.out_text, "result ok")) << job.out_text;

    ASSERT_EQ(tenants.size(), 1u) << st.dump(1);
    const json& t = tenants[0];
    // the text status lists the job's ranks with their shares
    EXPECT_EQ(text.rc, 0) << text.err;
    EXPECT_TRUE(contains(text.out, "job " + t["tenant"].get<std::string>() + ":")) << text.out;
    for (const auto& r : ranks)
        EXPECT_TRUE(std::regex_search(
            text.out, std::regex(fmt::format(R"(\n  {} +\d+ +{} +{}\n)", r.rank, r.pid,
                                             std::regex_replace(r.share, std::regex("-"), "\\-")))))
            << "rank " << r.rank << " pid " << r.pid << " share " << r.share << "\n"
            << text.out;
    std::set<int> pids;
    for (const auto& p : t["pids"]) pids.insert(p.get<int>());
    EXPECT_EQ(pids, (std::set<int>{ranks[0].pid, ranks[1].pid})) << t.dump(1);
    ASSERT_TRUE(t.contains("job")) << t.dump(1);
    EXPECT_EQ(t["job"]["expected"], 2);
    EXPECT_EQ(t["job"]["ranks"].size(), 2u);
    std::set<int> all = json_pus(t["placement"]);
    std::set<int> seen;
    for (const auto& r : ranks) {
        EXPECT_EQ(r.tenant, t["tenant"].get<std::string>());
        auto aff = cpulist(r.affinity);
        EXPECT_EQ(aff, cpulist(r.share)) << "rank " << r.rank << " is bound to its share";
        EXPECT_FALSE(aff.empty());
        for (int p : aff) {
            EXPECT_TRUE(all.count(p)) << "rank " << r.rank << " PU " << p << " outside the job";
            EXPECT_FALSE(seen.count(p)) << "PU " << p << " in two shares";
            seen.insert(p);
        }
        // the daemon's view of this rank's share is the same
        bool found = false;
        for (const auto& jr : t["job"]["ranks"])
            if (jr["pid"] == r.pid) {
                found = true;
                EXPECT_EQ(json_pus(jr["share"]), aff);
            }
        EXPECT_TRUE(found) << "rank " << r.rank << " missing from the job";
    }
    EXPECT_TRUE(mpi_tenants_gone()) << status().dump(1);
}

// -np 4 on a 2-PU machine: the job asks to time-share, every rank is placed
// on a valid share, nothing hangs.
TEST_F(MpiHook, FourRanksOversubscribedPlaceAndFinish) {
    start_daemon();
    std::string hold = file("hold");
    auto t0 = Clock::now();
    Spawned job = spawn(cat(mpirun(4, hook()), {prog("mpi_hybrid"), "--hold", hold}));
    ASSERT_TRUE(job.wait_output([](const std::string& o) { return rank_lines(o).size() == 4; }, 60))
        << job.out_text << job.err_text;
    auto tenants = mpi_tenants();
    touch(hold);
    int rc = job.finish(90);
    EXPECT_EQ(rc, 0) << job.err_text;
    EXPECT_LT(since(t0), 60);
    EXPECT_TRUE(contains(job.out_text, "result ok")) << job.out_text;
    ASSERT_EQ(tenants.size(), 1u);
    const json& t = tenants[0];
    EXPECT_EQ(t["pids"].size(), 4u);
    std::set<int> all = json_pus(t["placement"]);
    std::map<int, int> per_pu;
    for (const auto& r : rank_lines(job.out_text)) {
        auto aff = cpulist(r.affinity);
        EXPECT_EQ(aff, cpulist(r.share));
        ASSERT_EQ(aff.size(), 1u);
        EXPECT_TRUE(all.count(*aff.begin()));
        per_pu[*aff.begin()]++;
    }
    // shared PUs only because the request allows it (coexist pu), and evenly
    const json& cx = t["request"]["coexist"];  // one string when uniform
    if (cx.is_string())
        EXPECT_EQ(cx, "pu");
    else
        for (const auto& c : cx) EXPECT_EQ(c, "pu");
    int lo = 1 << 30, hi = 0;
    for (auto [pu, n] : per_pu) lo = std::min(lo, n), hi = std::max(hi, n);
    if (online_cpus() >= 2) EXPECT_LE(hi - lo, 1) << "uneven stacking";
    EXPECT_TRUE(mpi_tenants_gone());
}

// The hook must not change what the program computes, whatever happens.
struct Degraded {
    const char* name;
    std::vector<std::string> mca;
    const char* expect_err;  // a message the hook prints, or ""
};

TEST_F(MpiHook, DaemonAbsentHookDisabledBadValuesAllRunCorrectly) {
    std::string none = file("none.sock");
    std::vector<Degraded> cases = {
        {"daemon absent",
         {"hook", "vtasos", "hook_vtasos_socket", none, "hook_vtasos_verbose", "1"},
         "no vtasosd at"},
        {"hook disabled",
         {"hook", "vtasos", "hook_vtasos_enable", "no", "hook_vtasos_verbose", "1",
          "hook_vtasos_socket", none},
         ""},
        {"not selected", {"hook_vtasos_socket", none, "hook_vtasos_verbose", "1"}, ""},
        {"bad values",
         {"hook", "vtasos", "hook_vtasos_socket", none, "hook_vtasos_timeout", "-5",
          "hook_vtasos_binding", "sideways", "hook_vtasos_enable", "perhaps",
          "hook_vtasos_threads_per_rank", "-2", "hook_vtasos_profile", "no such profile!",
          "hook_vtasos_verbose", "xyz"},
         "hook_vtasos_timeout=\"-5\" is not valid"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Ran r = run(cat(mpirun(2, c.mca), {prog("mpi_hybrid")}), 60);
        EXPECT_EQ(r.rc, 0) << r.err;
        EXPECT_FALSE(r.timed_out);
        EXPECT_TRUE(contains(r.out, "result ok")) << r.out << r.err;
        for (const auto& l : rank_lines(r.out)) EXPECT_EQ(l.tenant, "-");
        if (*c.expect_err)
            EXPECT_TRUE(contains(r.err, c.expect_err)) << r.err;
        else
            EXPECT_FALSE(contains(r.err, "[vtasos hook")) << r.err;
        EXPECT_LT(r.seconds, 30);
    }
}

// Bad values with a daemon: warned about once per node, then placed as usual.
TEST_F(MpiHook, BadValuesWithDaemonStillPlace) {
    start_daemon();
    Ran r = run(cat(mpirun(2, hook({"hook_vtasos_timeout", "0", "hook_vtasos_binding", "x"})),
                    {prog("mpi_hybrid")}),
                60);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "result ok"));
    EXPECT_TRUE(contains(r.err, "hook_vtasos_binding=\"x\" is not valid")) << r.err;
    for (const auto& l : rank_lines(r.out)) EXPECT_NE(l.tenant, "-");
    EXPECT_TRUE(mpi_tenants_gone());
}

// An unknown profile: the daemon refuses, the job runs unplaced.
TEST_F(MpiHook, UnknownProfileRunsUnplaced) {
    start_daemon();
    Ran r = run(
        cat(mpirun(2, hook({"hook_vtasos_profile", "nosuchprofile"})), {prog("mpi_hybrid")}), 60);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "result ok"));
    EXPECT_TRUE(contains(r.err, "nosuchprofile")) << r.err;
    for (const auto& l : rank_lines(r.out)) EXPECT_EQ(l.tenant, "-");
    EXPECT_TRUE(mpi_tenants_gone(2));
}

// A "daemon" that accepts and never answers: MPI_Init is late by at most the timeout.
TEST_F(MpiHook, SilentDaemonCostsAtMostTheTimeout) {
    std::string path = file("silent.sock");
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 64), 0);  // connections complete in the backlog, nobody reads
    Ran r = run(cat(mpirun(2, {"hook", "vtasos", "hook_vtasos_socket", path, "hook_vtasos_timeout",
                               "700", "hook_vtasos_verbose", "1"}),
                    {prog("mpi_init_time")}),
                60);
    ::close(fd);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "no placement")) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(init_ms ([0-9.]+))"))) << r.out;
    double ms = std::stod(m[1]);
    EXPECT_LT(ms, 700 + 1500) << "MPI_Init took " << ms << " ms";
}

// mpirun binds -np 2 to cores by default. takeover: re-bound to the share and
// said so; respect: left alone, one explanation naming --bind-to none, and
// nothing registered; respect with --bind-to none: placed.
TEST_F(MpiHook, MpirunBindingTakeoverAndRespect) {
    start_daemon();
    {
        SCOPED_TRACE("takeover");
        Ran r = run(cat(mpirun(2, hook(), {"--bind-to", "core"}), {prog("mpi_hybrid")}), 60);
        EXPECT_EQ(r.rc, 0) << r.err;
        EXPECT_TRUE(contains(r.out, "result ok"));
        EXPECT_TRUE(contains(r.err, "replacing the launch binding")) << r.err;
        for (const auto& l : rank_lines(r.out)) {
            EXPECT_NE(l.tenant, "-");
            EXPECT_EQ(cpulist(l.affinity), cpulist(l.share));
        }
    }
    {
        SCOPED_TRACE("respect, bound by mpirun");
        Ran r =
            run(cat(mpirun(2, hook({"hook_vtasos_binding", "respect", "hook_vtasos_verbose", "0"}),
                           {"--bind-to", "core"}),
                    {prog("mpi_hybrid")}),
                60);
        EXPECT_TRUE(contains(r.out, "result ok"));
        EXPECT_TRUE(contains(r.err, "--bind-to none")) << r.err;
        size_t n = 0;
        for (size_t p = r.err.find("--bind-to none"); p != std::string::npos;
             p = r.err.find("--bind-to none", p + 1))
            ++n;
        EXPECT_EQ(n, 1u) << "one explanation per node";
        auto ranks = rank_lines(r.out);
        ASSERT_EQ(ranks.size(), 2u);
        for (const auto& l : ranks) EXPECT_EQ(l.tenant, "-");
        if (online_cpus() >= 2) EXPECT_NE(ranks[0].affinity, ranks[1].affinity);  // mpirun's cores
    }
    {
        SCOPED_TRACE("respect, --bind-to none");
        Ran r = run(cat(mpirun(2, hook({"hook_vtasos_binding", "respect"}), {"--bind-to", "none"}),
                        {prog("mpi_hybrid")}),
                    60);
        EXPECT_TRUE(contains(r.out, "result ok"));
        EXPECT_FALSE(contains(r.err, "--bind-to none")) << r.err;
        for (const auto& l : rank_lines(r.out)) {
            EXPECT_NE(l.tenant, "-");
            EXPECT_EQ(cpulist(l.affinity), cpulist(l.share));
        }
    }
    EXPECT_TRUE(mpi_tenants_gone());
}

// A rank killed with SIGKILL: its share goes back at once (pidfd), the
// tenant goes with the last rank, and no cgroup is left behind (TearDown).
TEST_F(MpiHook, SigkilledRankReleasesItsShare) {
    start_daemon();
    std::string hold = file("hold");
    Spawned job =
        spawn(cat(mpirun(2, hook(), {"--enable-recovery"}), {prog("mpi_hybrid"), "--hold", hold}));
    ASSERT_TRUE(job.wait_output([](const std::string& o) { return rank_lines(o).size() == 2; }, 60))
        << job.out_text << job.err_text;
    auto ranks = rank_lines(job.out_text);
    auto before = mpi_tenants();
    ASSERT_EQ(before.size(), 1u);
    ASSERT_EQ(before[0]["pids"].size(), 2u);
    std::set<int> all_before = json_pus(before[0]["placement"]);
    ::kill(ranks[1].pid, SIGKILL);
    // the daemon drops rank 1's share while rank 0 still runs
    bool shrunk = false;
    json after;
    auto t0 = Clock::now();
    while (since(t0) < 10 && !shrunk) {
        auto now = mpi_tenants();
        if (now.empty()) break;  // mpirun took the whole job down first
        after = now[0];
        shrunk = after["pids"].size() == 1u;
        if (!shrunk) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (shrunk) {
        EXPECT_EQ(after["pids"][0], ranks[0].pid);
        std::set<int> left = json_pus(after["placement"]);
        EXPECT_EQ(left, cpulist(ranks[0].share)) << after.dump(1);
        EXPECT_LT(left.size(), all_before.size());
        EXPECT_EQ(after["job"]["ranks"].size(), 1u);
        // the job's cgroup shrank to the survivor's share (cgroup v1 cpuset; v2 cpuset.cpus)
        const std::string tenant = after["tenant"];
        int read = 0;
        for (const fs::path& f :
             {fs::path("/sys/fs/cgroup/cpuset") / parent_ / tenant / "cpuset.cpus",
              fs::path("/sys/fs/cgroup") / parent_ / tenant / "cpuset.cpus"}) {
            std::ifstream in(f);
            std::string cpus;
            if (!(in >> cpus)) continue;
            ++read;
            EXPECT_EQ(cpulist(cpus), left) << f;
        }
        if (status()["driver"].value("cpuset", false)) EXPECT_EQ(read, 1) << "no job cgroup found";
        // ... and the survivor is still bound to its own share (restored after the shrink)
        std::ifstream ps(fmt::format("/proc/{}/status", ranks[0].pid));
        std::string line, allowed;
        while (std::getline(ps, line))
            if (line.rfind("Cpus_allowed_list:", 0) == 0) allowed = line.substr(18);
        allowed.erase(0, allowed.find_first_not_of(" \t"));
        EXPECT_EQ(cpulist(allowed), cpulist(ranks[0].share));
        Ran text = run({VTASOSCTL, "--socket", socket_, "status"}, 20);
        EXPECT_TRUE(contains(text.out, "1 of 2 local ranks")) << text.out;
        EXPECT_FALSE(contains(text.out, fmt::format(" {} ", ranks[1].pid))) << text.out;
    } else {
        ADD_FAILURE() << "never saw the job with one rank left (mpirun ended it first?)";
    }
    ::kill(-job.pid, SIGKILL);  // the rest of the job
    ::kill(ranks[0].pid, SIGKILL);
    job.finish(30);
    EXPECT_TRUE(mpi_tenants_gone()) << status().dump(1);
    stop_daemon();
    // the daemon said which PUs it freed, and shrank the job's confinement
    if (shrunk) {
        std::smatch m;
        ASSERT_TRUE(std::regex_search(
            daemon_log_, m, std::regex(R"(event=job_shrink \S+ pus=(\S+) freed=(\S+) result=ok)")))
            << daemon_log_;
        EXPECT_EQ(cpulist(m[1]), cpulist(ranks[0].share));
        EXPECT_EQ(cpulist(m[2]), cpulist(ranks[1].share));
    }
}

// A hybrid program that runs an OpenMP region before MPI_Init with the OMPT
// tool: the tool registers each rank alone first; when the hook joins the job
// the daemon releases that solo tenant, so the job holds both ranks, nothing
// else is left, and every OpenMP thread (also those made before MPI_Init) ends
// up inside its rank's share.
TEST_F(MpiHook, OpenMPRegionBeforeMpiInitStillJoinsTheJob) {
    if (!std::strlen(OMPT_LIB)) GTEST_SKIP() << "no OMPT tool built";
    start_daemon();
    std::string hold = file("hold");
    Spawned job = spawn(cat(mpirun(2, hook(),
                                   {"-x", std::string("OMP_TOOL_LIBRARIES=") + OMPT_LIB, "-x",
                                    "VTASOS_SOCKET=" + socket_, "-x", "OMP_NUM_THREADS=1"}),
                            {prog("mpi_hybrid"), "--omp-first", "--hold", hold}));
    auto ready = [](const std::string& o) {
        return rank_lines(o).size() == 2 && contains(o, "rank 0 threads-affinity") &&
               contains(o, "rank 1 threads-affinity");
    };
    ASSERT_TRUE(job.wait_output(ready, 60)) << job.out_text << job.err_text;
    auto ranks = rank_lines(job.out_text);
    json st = status();
    touch(hold);
    EXPECT_EQ(job.finish(60), 0) << job.err_text;
    EXPECT_TRUE(contains(job.out_text, "result ok")) << job.out_text;

    const json& all = st["tenants"];
    ASSERT_EQ(all.size(), 1u) << "only the job tenant: " << st.dump(1);
    const json& t = all[0];
    EXPECT_EQ(t["tenant"].get<std::string>().rfind("mpi-", 0), 0u);
    EXPECT_EQ(t["job"]["ranks"].size(), 2u) << t.dump(1);
    if (online_cpus() >= 2)  // the solo tenants' cgroups do not make the job look oversubscribed
        EXPECT_FALSE(contains(t["source"].get<std::string>(), "time-shared")) << t.dump(1);
    std::set<int> seen;
    for (const auto& r : ranks) {
        EXPECT_EQ(r.tenant, t["tenant"].get<std::string>());
        auto share = cpulist(r.share);
        EXPECT_EQ(cpulist(r.affinity), share);
        for (int p : share) EXPECT_TRUE(seen.insert(p).second) << "PU " << p << " in two shares";
        std::smatch m;
        std::string key = fmt::format(R"(rank {} threads-affinity (\S+))", r.rank);
        ASSERT_TRUE(std::regex_search(job.out_text, m, std::regex(key))) << job.out_text;
        std::stringstream masks(m[1].str());
        std::string one;
        while (std::getline(masks, one, ';'))
            for (int p : cpulist(one))
                EXPECT_TRUE(share.count(p)) << "rank " << r.rank << " thread on PU " << p;
    }
    EXPECT_TRUE(mpi_tenants_gone());
    stop_daemon();
    // the tool really registered first: the daemon absorbed one solo tenant per rank
    size_t absorbed = 0;
    for (size_t p = daemon_log_.find("event=absorb"); p != std::string::npos;
         p = daemon_log_.find("event=absorb", p + 1))
        ++absorbed;
    // (one solo tenant per PU fits: on one PU the second rank's tool was refused)
    EXPECT_EQ(absorbed, online_cpus() >= 2 ? 2u : 1u) << daemon_log_;
}

// Fortran through mpif.h/use mpi and use mpi_f08, preloaded and linked.
TEST_F(MpiHook, FortranProgramIsProfiled) {
    if (!HAVE_FORTRAN) GTEST_SKIP() << "no mpif90";
    struct Case {
        const char* prog;
        bool preload;
        int allreduce;
    } cases[] = {
        {"mpi_fsync", true, 50}, {"mpi_fsync_linked", false, 50}, {"mpi_fsync08", true, 30}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.prog);
        std::string out = file("prof.%r.json");
        std::vector<std::string> extra = {"-x", "VTASOS_PMPI_OUT=" + out};
        if (c.preload) extra.insert(extra.end(), {"-x", std::string("LD_PRELOAD=") + PMPI_LIB});
        Ran r = run(cat(mpirun(2, {}, extra), {prog(c.prog)}), 60);
        EXPECT_EQ(r.rc, 0) << r.err;
        EXPECT_TRUE(contains(r.out, "result ok")) << r.out << r.err;
        for (int rank = 0; rank < 2; ++rank) {
            std::ifstream f(file(fmt::format("prof.{}.json", rank).c_str()));
            ASSERT_TRUE(f) << "no profile for rank " << rank;
            json j = json::parse(f);
            EXPECT_EQ(j["rank"], rank);
            EXPECT_EQ(j["calls"]["Allreduce"]["count"], c.allreduce);
            EXPECT_EQ(j["calls"]["Allreduce"]["fortran"], c.allreduce);
            EXPECT_EQ(j["calls"]["Barrier"]["count"], c.allreduce);
            EXPECT_GT(j["sync_calls"].get<int>(), 2 * c.allreduce - 1);
            EXPECT_GE(j["fortran_calls"].get<int>(), 2 * c.allreduce);
            EXPECT_EQ(j["tenant"], "");
        }
        fs::remove(file("prof.0.json"));
        fs::remove(file("prof.1.json"));
    }
}

// C program with the hook and the PMPI library: the sync profile reaches the
// job tenant (periodically and at finalize) as its observations.
TEST_F(MpiHook, SyncProfileReachesTheJobTenant) {
    start_daemon();
    std::string hold = file("hold");
    std::string out = file("c.%r.json");
    Spawned job =
        spawn(cat(mpirun(2, hook(),
                         {"-x", std::string("LD_PRELOAD=") + PMPI_LIB, "-x",
                          "VTASOS_PMPI_INTERVAL=0.01", "-x", "VTASOS_PMPI_OUT=" + out}),
                  {prog("mpi_hybrid"), "--work", "400", "--spin-ms", "30", "--hold-end", hold}));
    ASSERT_TRUE(job.wait_output([](const std::string& o) { return contains(o, "work done"); }, 60))
        << job.out_text << job.err_text;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto tenants = mpi_tenants();
    touch(hold);
    EXPECT_EQ(job.finish(60), 0) << job.err_text;
    ASSERT_EQ(tenants.size(), 1u);
    ASSERT_TRUE(tenants[0].contains("observations")) << tenants[0].dump(1);
    const json& o = tenants[0]["observations"];
    EXPECT_GT(o["barrier_rate_hz"].get<double>(), 0.0);
    EXPECT_GT(o["sync_fraction"].get<double>(), 0.0);
    EXPECT_TRUE(contains(o.value("note", ""), "mpi")) << o.dump();
    for (int rank = 0; rank < 2; ++rank) {
        std::ifstream f(file(fmt::format("c.{}.json", rank).c_str()));
        ASSERT_TRUE(f);
        json j = json::parse(f);
        EXPECT_EQ(j["sent_to_daemon"], true);
        EXPECT_EQ(j["tenant"], tenants[0]["tenant"]);
        EXPECT_GE(j["calls"]["Allreduce"]["count"].get<int>(), 400);
        EXPECT_EQ(j["fortran_calls"], 0);
    }
    EXPECT_TRUE(mpi_tenants_gone());
}

// The hook's cost on MPI_Init: stock vs hook (with a daemon, with none, and
// disabled), interleaved run by run so that machine noise hits all four alike;
// medians and ratios printed for the record, bounded loosely.
// VTASOS_MPI_INIT_RUNS sets the runs per variant (default 9; 21+ for a report).
TEST_F(MpiHook, InitCostAgainstStock) {
    start_daemon();
    int runs = 9;
    if (const char* v = std::getenv("VTASOS_MPI_INIT_RUNS"); v && std::atoi(v) > 0)
        runs = std::atoi(v);
    const std::vector<std::vector<std::string>> variants = {
        {},
        {"hook", "vtasos", "hook_vtasos_socket", socket_},
        {"hook", "vtasos", "hook_vtasos_socket", file("none.sock")},
        {"hook", "vtasos", "hook_vtasos_enable", "no", "hook_vtasos_socket", socket_}};
    std::vector<std::vector<double>> ms(variants.size());
    for (int i = 0; i < runs; ++i)
        for (size_t k = 0; k < variants.size(); ++k) {
            Ran r = run(cat(mpirun(2, variants[k], {"--bind-to", "none"}), {prog("mpi_init_time")}),
                        60);
            std::smatch m;
            if (r.rc == 0 && std::regex_search(r.out, m, std::regex(R"(init_ms ([0-9.]+))")))
                ms[k].push_back(std::stod(m[1]));
        }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? -1.0 : v[v.size() / 2];
    };
    auto quartiles = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? std::string("-")
                         : fmt::format("{:.1f}..{:.1f}", v[v.size() / 4], v[v.size() * 3 / 4]);
    };
    const double stock = median(ms[0]), with_daemon = median(ms[1]), no_daemon = median(ms[2]),
                 disabled = median(ms[3]);
    ASSERT_GT(stock, 0);
    std::printf(
        "MPI_Init, -np 2, %d interleaved runs each, median (IQR) ms: stock %.2f (%s); "
        "hook+daemon %.2f (%s) x%.3f; hook, no daemon %.2f (%s) x%.3f; hook disabled %.2f (%s) "
        "x%.3f\n",
        runs, stock, quartiles(ms[0]).c_str(), with_daemon, quartiles(ms[1]).c_str(),
        with_daemon / stock, no_daemon, quartiles(ms[2]).c_str(), no_daemon / stock, disabled,
        quartiles(ms[3]).c_str(), disabled / stock);
    RecordProperty("stock_ms", std::to_string(stock));
    RecordProperty("hook_daemon_ms", std::to_string(with_daemon));
    EXPECT_GT(with_daemon, 0);
    EXPECT_LT(with_daemon, stock * 3 + 50) << "the hook should not dominate MPI_Init";
    EXPECT_LT(no_daemon, stock * 2 + 20);
}

}  // namespace
