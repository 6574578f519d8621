// Not on Xen: the driver's probe gives one clear error, and the real vtasosd
// refuses `--driver xen` with that message and a non-zero exit (never a crash).
// A daemon with another driver refuses register with "domain" just as clearly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "vtasos/client.hpp"
#include "vtasos/daemon/protocol.h"
#include "vtasos/drivers/driver.h"
#include "vtasos/xen/xen_driver.h"

namespace vtasos::xen {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        char t[] = "/tmp/vtasos-xen-test-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { fs::remove_all(path); }
};

bool on_xen() { return fs::exists("/dev/xen/privcmd"); }

TEST(XenProbe, NoPrivcmdIsOneClearError) {
    TempDir tmp;
    XenDriver d(nullptr, XenPaths{(tmp.path / "privcmd").string(), (tmp.path / "caps").string()});
    auto s = d.probe();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), Errc::kUnavailable);
    EXPECT_NE(s.error().message().find("not running on Xen"), std::string::npos)
        << s.error().message();
    EXPECT_FALSE(d.caps().freeze);
    EXPECT_NE(d.caps().notes.find("not running on Xen"), std::string::npos);
    Placement p;
    p.cpus = {{0, {0}}};
    EXPECT_EQ(d.apply({"t", TenantKind::kDomain, {}, {}}, p).error().code(), Errc::kUnavailable);
    EXPECT_EQ(d.freeze("t").error().code(), Errc::kUnavailable);
    EXPECT_EQ(d.topology().error().code(), Errc::kUnavailable);
    EXPECT_TRUE(d.release("t").ok());
}

TEST(XenProbe, DomUIsNotDom0) {
    TempDir tmp;
    std::ofstream(tmp.path / "privcmd") << "";
    std::ofstream(tmp.path / "caps") << "\n";  // a domU's /proc/xen/capabilities is empty
    auto s = probe_dom0(XenPaths{(tmp.path / "privcmd").string(), (tmp.path / "caps").string()});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("domU, not dom0"), std::string::npos) << s.error().message();
    std::ofstream(tmp.path / "caps") << "control_d\n";
    EXPECT_TRUE(
        probe_dom0(XenPaths{(tmp.path / "privcmd").string(), (tmp.path / "caps").string()}).ok());
}

TEST(XenProbe, RegistryMakesTheXenDriverAndItRefusesHere) {
    auto names = known_drivers();
    EXPECT_NE(std::find(names.begin(), names.end(), "xen"), names.end());
    auto d = make_driver("xen", DriverConfig{});
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    EXPECT_EQ((*d)->name(), "xen");
    if (on_xen()) GTEST_SKIP() << "this machine is a Xen host";
    auto s = (*d)->probe();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), Errc::kUnavailable);
}

TEST(XenProbe, RegisterDomainFieldParses) {
    using daemon::parse_message;
    auto byid = parse_message(R"({"v":1,"id":1,"op":"register","tenant":"t","domain":3,"cpus":2})");
    ASSERT_TRUE(byid.message.ok()) << byid.message.error().to_string();
    auto a = std::get<daemon::RegisterArgs>(byid.message->args);
    EXPECT_EQ(a.domain, std::optional<std::string>("3"));
    EXPECT_EQ(a.cpus, 2);
    auto byname = parse_message(R"({"v":1,"id":2,"op":"register","tenant":"t","domain":"cg-guest"})");
    ASSERT_TRUE(byname.message.ok());
    EXPECT_EQ(std::get<daemon::RegisterArgs>(byname.message->args).domain, "cg-guest");
    for (const char* bad :
         {R"({"v":1,"id":3,"op":"register","tenant":"t","domain":"../x"})",
          R"({"v":1,"id":3,"op":"register","tenant":"t","domain":0})",
          R"({"v":1,"id":3,"op":"register","tenant":"t","domain":"g","pids":[1]})"}) {
        auto p = parse_message(bad);
        ASSERT_FALSE(p.message.ok()) << bad;
        EXPECT_EQ(p.message.error().code(), Errc::kInvalidArgument) << bad;
        EXPECT_NE(p.message.error().message().find("register.domain"), std::string::npos)
            << p.message.error().message();
    }
}

struct Run {
    int status = -1;
    std::string err;
};

Run run_daemon(const std::vector<std::string>& args, int timeout_s) {
    TempDir tmp;
    std::string errfile = (tmp.path / "stderr").string();
    pid_t pid = ::fork();
    if (pid == 0) {
        FILE* f = std::freopen(errfile.c_str(), "w", stderr);
        (void)f;
        std::vector<char*> argv;
        std::string bin = VTASOSD_PATH;
        argv.push_back(bin.data());
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
    Run r;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
        if (::waitpid(pid, &r.status, WNOHANG) == pid) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (::waitpid(pid, &r.status, WNOHANG) == 0) {  // still running: a failure
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &r.status, 0);
        r.status = -2;
    }
    std::ifstream in(errfile);
    r.err.assign(std::istreambuf_iterator<char>(in), {});
    return r;
}

TEST(XenProbe, VtasosdRefusesToStartWithDriverXenHere) {
    if (on_xen()) GTEST_SKIP() << "this machine is a Xen host";
    TempDir tmp;
    std::string sock = (tmp.path / "v.sock").string();
    auto r = run_daemon({"--driver", "xen", "--foreground", "--no-state", "--socket", sock}, 20);
    ASSERT_NE(r.status, -2) << "vtasosd did not exit";
    ASSERT_TRUE(WIFEXITED(r.status)) << "crashed: " << r.err;
    EXPECT_EQ(WEXITSTATUS(r.status), 1) << r.err;
    EXPECT_NE(r.err.find("vtasosd: --driver xen: unavailable: not running on Xen: "
                         "/dev/xen/privcmd is missing"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(sock)) << "no socket is left behind";
}

TEST(XenProbe, LinuxDaemonRefusesDomainTenants) {
    TempDir tmp;
    std::string sock = (tmp.path / "v.sock").string();
    pid_t pid = ::fork();
    if (pid == 0) {
        std::freopen("/dev/null", "w", stderr);
        ::execl(VTASOSD_PATH, VTASOSD_PATH, "--driver", "linux", "--foreground", "--no-state",
                "--socket", sock.c_str(), "--cgroup-root", (tmp.path / "nocg").c_str(),
                "--topology", "synthetic:package:2 core:2 pu:1", "--no-xen-channel",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::optional<Client> c;
    for (int i = 0; i < 250 && !c; ++i) {
        if (auto x = Client::connect(sock, 1000); x)
            c.emplace(std::move(*x));
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(c) << "vtasosd did not come up";
    auto r = c->call({{"op", "register"}, {"tenant", "d1"}, {"domain", "cg-guest"}, {"cpus", 1}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kUnavailable);
    EXPECT_NE(r.error().message().find("--driver xen"), std::string::npos) << r.error().message();
    auto bad = c->call({{"op", "register"}, {"tenant", "d2"}, {"domain", "g"}, {"pids", {1}}});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(bad.error().message().find("register.domain"), std::string::npos);
    auto st = c->call({{"op", "status"}});
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE((*st)["tenants"].empty()) << "nothing half-done";
    c.reset();
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
}

}  // namespace
}  // namespace vtasos::xen
