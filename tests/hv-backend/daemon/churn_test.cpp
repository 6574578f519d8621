// Churn: 200 tenants join and leave a real vtasosd built with AddressSanitizer
// + LeakSanitizer (VTASOSD_PATH: vtasosd-asan, or vtasosd of a VTASOS_SANITIZE
// build) while two spinners are gang-scheduled at 10 ms slices. Every way out
// is used: release, process exit (pidfd) and disconnect of a non-detached
// tenant. Afterwards: no tenant, no cgroup directory and no extra fd is left,
// and the daemon exits cleanly on SIGTERM with no memory error or leak
// (ASAN_OPTIONS exitcode=99).
#include <dirent.h>
#include <gtest/gtest.h>

#include <deque>
#include <iostream>
#include <memory>

#include "daemon_harness.h"

namespace vtasos::testing {
namespace {

constexpr int kTenants = 200;
constexpr int kLive = 8;     // tenants alive at once
constexpr int kAsanRc = 99;  // ASAN_OPTIONS exitcode: a memory error or leak

int count_fds(pid_t pid) {
    int n = 0;
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d) return -1;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n;
}

// Child cgroup directories under the daemon's parent, in every hierarchy.
std::vector<std::string> cgroup_children(const std::string& parent) {
    std::vector<std::string> out;
    for (const char* c : {"cpuset", "freezer", ""}) {
        std::string dir = std::string("/sys/fs/cgroup/") + c + (*c ? "/" : "") + parent;
        std::error_code ec;
        for (auto& e : std::filesystem::directory_iterator(dir, ec))
            if (e.is_directory()) out.push_back(e.path().string());
    }
    return out;
}

// Starts the sanitized vtasosd on the Daemon's private paths; the Daemon
// object only provides paths and cleans its cgroup parent.
class ChurnDaemon {
public:
    explicit ChurnDaemon(const Daemon& paths) : p_(paths) {}
    ~ChurnDaemon() { stop(SIGKILL); }
    bool start(std::vector<std::string> extra, int wait_ms) {
        std::vector<std::string> args;
        for (std::string a :
             {std::string(VTASOSD_PATH), std::string("--foreground"), std::string("--socket"),
              p_.socket(), std::string("--state"), p_.state(), std::string("--cgroup-parent"),
              p_.parent(), std::string("--log-level"), std::string("info")})
            args.push_back(a);
        args.insert(args.end(), extra.begin(), extra.end());
        log_ = p_.dir() + "/churn.log";
        pid_ = ::fork();
        if (pid_ == 0) {
            ::setenv("ASAN_OPTIONS", ("detect_leaks=1:exitcode=" + std::to_string(kAsanRc)).c_str(),
                     1);
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        return eventually(
            [&] {
                RawConn c;
                if (!c.connect(p_.socket())) return false;
                auto r = c.call({{"op", "hello"}}, 5000);
                return r && r->value("ok", false);
            },
            wait_ms);
    }
    int stop(int sig) {
        if (pid_ <= 0) return status_;
        ::kill(pid_, sig);
        ::waitpid(pid_, &status_, 0);
        pid_ = -1;
        return status_;
    }
    pid_t pid() const { return pid_; }
    std::string log() const { return read_file(log_); }

private:
    const Daemon& p_;
    std::string log_;
    pid_t pid_ = -1;
    int status_ = -1;
};

struct Live {
    std::string tenant;
    std::unique_ptr<Child> child;
    std::unique_ptr<RawConn> own;  // non-detached tenants: closing it is the way out
    int way = 0;                   // 0 release, 1 process exit, 2 disconnect
};

TEST(DaemonChurn, TwoHundredTenantsWhileSlicingLeakNothing) {
    if (!can_use_cgroups() || ::access("/sys/fs/cgroup/freezer", W_OK) != 0)
        GTEST_SKIP() << "needs root and a v1 freezer hierarchy";
    Daemon paths;  // private socket/state/cgroup parent; never started itself
    ChurnDaemon d(paths);
    ASSERT_TRUE(d.start({"--sched-policy", "gang", "--slice-ms", "10"}, 30000)) << d.log();
    int npus = 1;
    {
        RawConn c(paths.socket());
        auto h = c.call({{"op", "hello"}}, 20000);
        ASSERT_TRUE(h && (*h)["ok"]);
        npus = (*h)["pus"].get<int>();
    }
    // Baseline after the first connection has come and gone.
    ASSERT_TRUE(eventually([&] { return count_fds(d.pid()) > 0; }, 5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int fds0 = count_fds(d.pid());

    auto request = [&] {
        return json{{"cpus", npus}, {"coexist", "pu"}, {"sched", {{"gang", true}}}};
    };
    RawConn ctl(paths.socket());
    auto reg = [&](RawConn& c, const std::string& t, pid_t pid, bool detached) {
        return c.call({{"op", "register"},
                       {"tenant", t},
                       {"pids", {pid}},
                       {"detached", detached},
                       {"request", request()}},
                      20000);
    };
    // Two spinners keep the matrix slicing for the whole run.
    Child sa(Child::kSpin), sb(Child::kSpin);
    auto r = reg(ctl, "base-a", sa.pid(), true);
    ASSERT_TRUE(r && (*r)["ok"]) << (r ? r->dump() : "no reply");
    r = reg(ctl, "base-b", sb.pid(), true);
    ASSERT_TRUE(r && (*r)["ok"]) << (r ? r->dump() : "no reply");

    std::deque<Live> live;
    int failures = 0;
    auto retire = [&](Live& l) {
        if (l.way == 0) {
            auto rr = ctl.call({{"op", "release"}, {"tenant", l.tenant}}, 20000);
            if (!rr || !(*rr)["ok"]) ++failures;
            l.child.reset();
        } else if (l.way == 1) {
            l.child.reset();  // SIGKILL; the daemon sees the exit on the pidfd
        } else {
            l.own.reset();  // disconnect: the daemon releases the non-detached tenant
            l.child.reset();
        }
    };
    for (int i = 0; i < kTenants; ++i) {
        Live l;
        l.tenant = "churn-" + std::to_string(i);
        l.way = i % 3;
        l.child = std::make_unique<Child>(i % 10 == 0 ? Child::kSpin : Child::kSleep);
        std::optional<json> rr;
        if (l.way == 2) {
            l.own = std::make_unique<RawConn>(paths.socket());
            rr = reg(*l.own, l.tenant, l.child->pid(), false);
        } else {
            rr = reg(ctl, l.tenant, l.child->pid(), true);
        }
        ASSERT_TRUE(rr && (*rr)["ok"]) << i << ": " << (rr ? rr->dump() : "no reply") << d.log();
        live.push_back(std::move(l));
        if (live.size() > kLive) {
            retire(live.front());
            live.pop_front();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(3 + i % 7));  // mid-slice
    }
    while (!live.empty()) {
        retire(live.front());
        live.pop_front();
    }
    EXPECT_EQ(failures, 0);
    sa.kill();
    sb.kill();

    // Every tenant gone, every cgroup removed, fds back to the baseline.
    auto tenants_left = [&] {
        auto st = ctl.call({{"op", "status"}}, 20000);
        return st && (*st)["ok"] ? static_cast<int>((*st)["tenants"].size()) : -1;
    };
    EXPECT_TRUE(eventually([&] { return tenants_left() == 0; }, 20000)) << tenants_left();
    EXPECT_TRUE(eventually([&] { return cgroup_children(paths.parent()).empty(); }, 10000))
        << ::testing::PrintToString(cgroup_children(paths.parent()));
    EXPECT_TRUE(eventually([&] { return count_fds(d.pid()) == fds0 + 1; }, 5000))  // + ctl
        << "fds now " << count_fds(d.pid()) << ", baseline " << fds0 << " (+1 for ctl)";
    std::string log = d.log();
    EXPECT_NE(log.find("event=sched_matrix"), std::string::npos) << log;

    int st = d.stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(st)) << "status " << st << "\n" << d.log();
    EXPECT_NE(WEXITSTATUS(st), kAsanRc) << "AddressSanitizer found errors or leaks:\n" << d.log();
    EXPECT_EQ(WEXITSTATUS(st), 0) << d.log();
}

}  // namespace
}  // namespace vtasos::testing
