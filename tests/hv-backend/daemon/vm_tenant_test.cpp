// VM tenants through a real vtasosd and vtasosctl run --vm, booting real QEMU (TCG here):
// vCPU threads pinned as placed, freeze/thaw through the tenant's cgroup, the paravirtual
// channel (advice reaches the guest's OMPT tool; garbage cannot touch another tenant), and
// cleanup (QEMU gone, cgroup and sockets removed) on guest exit and on daemon SIGTERM.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>

#include "daemon_harness.h"
#include "vtasos/core/placement.h"
#include "vtasos/image/image.h"

namespace {

namespace vi = vtasos::image;
namespace fs = std::filesystem;
using vtasos::testing::Daemon;
using vtasos::testing::eventually;
using vtasos::testing::json;
using vtasos::testing::RawConn;
using vtasos::testing::read_file;

std::string fmt_path(pid_t pid, pid_t tid) {
    return "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status";
}

// vtasosctl run --vm in the background, its stdout and stderr in a file.
class Ctl {
public:
    Ctl(const std::string& out, std::vector<std::string> args) : out_(out) {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            args.insert(args.begin(), VTASOSCTL_PATH);
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    ~Ctl() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    // Exit code, or -1 when it did not end within timeout_ms (then it is killed).
    int wait(int timeout_ms) {
        int st = 0;
        bool done = eventually([&] { return ::waitpid(pid_, &st, WNOHANG) == pid_; }, timeout_ms);
        if (!done) return -1;
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::string output() const { return read_file(out_); }

private:
    std::string out_;
    pid_t pid_ = -1;
};

class VmTenant : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!vi::find_program("qemu-system-x86_64")) {
            skip_ = "QEMU not installed (qemu-system-x86)";
            return;
        }
        if (!vi::find_kernel()) {
            skip_ = "no readable /boot/vmlinuz-*";
            return;
        }
        if (!vtasos::testing::can_use_cgroups()) {
            skip_ = "needs root and a writable cgroup tree";
            return;
        }
        char tmpl[] = "/tmp/vtasos-vm-tenant-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        vi::BuildOptions b;
        b.app = VM_GUEST_APP;
        b.out = dir_ + "/guest.img";
        b.channel = true;
#ifdef OMPT_TOOL
        if (::access(OMPT_TOOL, R_OK) == 0) {
            b.ompt_tool = OMPT_TOOL;
            have_tool_ = true;
        }
#endif
        auto r = vi::build_image(b);
        if (!r) skip_ = "image build failed: " + r.error().to_string();
        image_ = b.out;
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    void SetUp() override {
        if (!skip_.empty()) GTEST_SKIP() << skip_;
        ASSERT_TRUE(d_.start()) << d_.log();
    }
    std::vector<std::string> run_args(const std::string& tenant, int cpus,
                                      const std::string& coexist,
                                      std::vector<std::string> app_args) {
        std::vector<std::string> a = {"--socket",
                                      d_.socket(),
                                      "run",
                                      "-v",
                                      "--vm",
                                      image_,
                                      "--tenant",
                                      tenant,
                                      "--cpus",
                                      std::to_string(cpus),
                                      "--coexist",
                                      coexist,
                                      "--vm-timeout",
                                      "120",
                                      "--vm-env",
                                      "VTASOS_VERBOSE=1",
                                      "--"};
        a.insert(a.end(), app_args.begin(), app_args.end());
        return a;
    }
    std::optional<json> tenant_status(const std::string& tenant) {
        RawConn c(d_.socket());
        auto r = c.call({{"op", "status"}});
        if (!r) return std::nullopt;
        for (auto& t : (*r)["tenants"])
            if (t["tenant"] == tenant) return t;
        return std::nullopt;
    }
    std::string out_path(const std::string& name) { return d_.dir() + "/" + name + ".out"; }
    std::string vm_dir(const std::string& tenant) { return d_.socket() + ".vms/" + tenant; }
    std::string freezer(const std::string& tenant, const std::string& file) {
        return "/sys/fs/cgroup/freezer/" + d_.parent() + "/" + tenant + "/" + file;
    }

    static inline std::string skip_, dir_, image_;
    static inline bool have_tool_ = false;
    Daemon d_;
};

TEST_F(VmTenant, VcpuThreadsPinnedAsPlacedAndEverythingCleanedUp) {
    Ctl ctl(out_path("pin"), run_args("vm-pin", 2, "core", {"spin", "3000"}));
    std::optional<json> t;
    ASSERT_TRUE(eventually([&] { return (t = tenant_status("vm-pin")).has_value(); }, 60000))
        << ctl.output() << d_.log();
    EXPECT_EQ((*t)["request"]["kind"], "vm");
    ASSERT_EQ((*t)["pids"].size(), 1u);
    pid_t qemu = (*t)["pids"][0];
    auto threads = (*t)["threads"];
    auto cpus = (*t)["placement"]["cpus"];
    ASSERT_EQ(threads.size(), 2u);
    for (size_t i = 0; i < threads.size(); ++i) {
        pid_t tid = threads[i];
        std::vector<int> pus = cpus[i]["pus"];
        std::string status = read_file(fmt_path(qemu, tid));
        std::smatch m;
        ASSERT_TRUE(std::regex_search(status, m, std::regex("Cpus_allowed_list:\\s*(\\S+)")));
        EXPECT_EQ(m[1].str(), vtasos::format_cpulist(pus)) << "vCPU " << i << " thread " << tid;
    }
    // QEMU (all its threads) is in the tenant's cgroup: the freezer stops the whole VM.
    if (fs::exists(freezer("vm-pin", "cgroup.procs"))) {
        EXPECT_NE(read_file(freezer("vm-pin", "cgroup.procs")).find(std::to_string(qemu)),
                  std::string::npos);
    }
    EXPECT_FALSE(fs::exists(vm_dir("vm-pin") + "/chan.sock"))
        << "channel path unlinked once connected";
    EXPECT_EQ(ctl.wait(120000), 0) << ctl.output();
    std::string out = ctl.output();
    EXPECT_NE(out.find("SUCCESSFUL"), std::string::npos) << out;
    EXPECT_NE(out.find("vCPU 1: thread"), std::string::npos) << out;
    EXPECT_TRUE(eventually([&] { return ::kill(qemu, 0) != 0; }, 5000)) << "QEMU still runs";
    EXPECT_TRUE(eventually([&] { return !tenant_status("vm-pin"); }, 5000));
    EXPECT_FALSE(d_.cgroup_exists("vm-pin"));
    EXPECT_FALSE(fs::exists(vm_dir("vm-pin"))) << "QMP/channel sockets and initrd left behind";
}

TEST_F(VmTenant, FreezeAndThawARunningGuestItCompletes) {
    Ctl ctl(out_path("freeze"), run_args("vm-frz", 1, "core", {"spin", "4000"}));
    ASSERT_TRUE(eventually(
        [&] { return ctl.output().find("@@VTASOS-START@@") != std::string::npos; }, 60000))
        << ctl.output() << d_.log();
    auto t = tenant_status("vm-frz");
    ASSERT_TRUE(t);
    pid_t vcpu = (*t)["threads"][0];
    pid_t qemu = (*t)["pids"][0];
    RawConn c(d_.socket());
    auto r = c.call({{"op", "freeze"}, {"tenant", "vm-frz"}});
    ASSERT_TRUE(r && (*r)["ok"] == true) << (r ? r->dump() : "no reply");
    if (fs::exists(freezer("vm-frz", "freezer.state"))) {
        EXPECT_TRUE(eventually(
            [&] { return read_file(freezer("vm-frz", "freezer.state")).rfind("FROZEN", 0) == 0; },
            3000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    long long before = vtasos::testing::cpu_ticks(vcpu);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    EXPECT_EQ(vtasos::testing::cpu_ticks(vcpu), before) << "a frozen vCPU ran";
    EXPECT_EQ(::kill(qemu, 0), 0);
    r = c.call({{"op", "thaw"}, {"tenant", "vm-frz"}});
    ASSERT_TRUE(r && (*r)["ok"] == true);
    EXPECT_EQ(ctl.wait(120000), 0) << ctl.output();
    EXPECT_NE(ctl.output().find("SUCCESSFUL"), std::string::npos) << ctl.output();
    EXPECT_TRUE(eventually([&] { return ::kill(qemu, 0) != 0; }, 5000));
}

TEST_F(VmTenant, GuestOmptToolRegistersThroughTheChannelAndFollowsAdvice) {
    if (!have_tool_) GTEST_SKIP() << "OMPT tool not built (ninja vtasos-ompt)";
    // 2 vCPUs that may share their PUs; the guest's team starts at 2. Once another tenant
    // asks for the same 2 PUs the node is oversubscribed and the advice halves the team.
    // OMP_NUM_THREADS: the tool pins the initial thread before libomp counts its CPUs.
    auto args = run_args("vm-adv", 2, "pu", {"teams", "200", "40"});
    args.insert(args.end() - 4, {"--vm-env", "OMP_NUM_THREADS=2"});
    Ctl ctl(out_path("advice"), args);
    ASSERT_TRUE(eventually([&] { return ctl.output().find("team=2") != std::string::npos; }, 90000))
        << ctl.output() << d_.log();
    vtasos::testing::Child other;
    RawConn c(d_.socket());
    auto r = c.call({{"op", "register"},
                     {"tenant", "other"},
                     {"pids", {other.pid()}},
                     {"request", {{"cpus", 2}, {"coexist", "pu"}}}});
    ASSERT_TRUE(r && (*r)["ok"] == true) << (r ? r->dump() : "no reply");
    EXPECT_EQ(ctl.wait(120000), 0) << ctl.output();
    std::string out = ctl.output();
    EXPECT_NE(out.find("team=1"), std::string::npos) << out;
    EXPECT_NE(out.find("last_team=1"), std::string::npos) << out;
    std::string log = d_.log();
    EXPECT_NE(log.find("event=vm_channel_open"), std::string::npos);
    EXPECT_EQ(log.find("tenant=vm-adv op=register result="), std::string::npos)
        << "the tool's register through the channel failed:\n"
        << log;
}

TEST_F(VmTenant, GarbageOnTheChannelGetsErrorsAndCannotTouchAnotherTenant) {
    vtasos::testing::Child victim;
    RawConn c(d_.socket());
    auto r = c.call({{"op", "register"},
                     {"tenant", "victim"},
                     {"pids", {victim.pid()}},
                     {"request", {{"cpus", 1}, {"coexist", "core"}}}});
    ASSERT_TRUE(r && (*r)["ok"] == true) << (r ? r->dump() : "no reply");
    Ctl ctl(out_path("garbage"), run_args("vm-bad", 1, "core", {"garbage"}));
    EXPECT_EQ(ctl.wait(120000), 0) << ctl.output() << d_.log();
    std::string out = ctl.output();
    std::vector<json> replies;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("reply: ", 0) == 0)
            replies.push_back(json::parse(line.substr(7), nullptr, false));
    ASSERT_EQ(replies.size(), 8u) << out;
    auto by_id = [&](int id) {
        for (auto& j : replies)
            if (j.is_object() && j.value("id", json()) == id) return j;
        return json();
    };
    for (const auto& j : replies) ASSERT_TRUE(j.is_object()) << "a garbled reply line:\n" << out;
    EXPECT_EQ(replies[0]["ok"], false);  // not JSON: id null
    EXPECT_EQ(replies[0]["error"]["code"], "protocol");
    EXPECT_EQ(by_id(2)["ok"], true);  // release: a no-op answer, the VM's tenant stays
    EXPECT_EQ(by_id(2)["released"], false);
    for (int id : {3, 4, 5}) {
        EXPECT_EQ(by_id(id)["ok"], false) << id;
        EXPECT_EQ(by_id(id)["error"]["code"], "permission_denied") << by_id(id).dump();
    }
    EXPECT_EQ(by_id(6)["ok"], true);  // register: the VM's own tenant, whatever it named
    EXPECT_EQ(by_id(6)["tenant"], "vm-bad");
    EXPECT_EQ(by_id(7)["ok"], true);
    EXPECT_EQ(by_id(8)["ok"], false);
    EXPECT_EQ(by_id(8)["error"]["code"], "invalid_argument");
    auto v = tenant_status("victim");
    ASSERT_TRUE(v) << "the guest released another tenant";
    EXPECT_EQ((*v)["frozen"], false);
    EXPECT_FALSE((*v).contains("observations"));
}

TEST_F(VmTenant, DaemonSigtermKillsTheVmAndRemovesItsFiles) {
    Ctl ctl(out_path("term"), run_args("vm-term", 1, "core", {"spin", "60000"}));
    std::optional<json> t;
    ASSERT_TRUE(eventually([&] { return (t = tenant_status("vm-term")).has_value(); }, 60000))
        << ctl.output() << d_.log();
    pid_t qemu = (*t)["pids"][0];
    EXPECT_TRUE(fs::exists(vm_dir("vm-term") + "/qmp.sock"));
    int st = d_.stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
    EXPECT_NE(::kill(qemu, 0), 0) << "QEMU outlived the daemon";
    EXPECT_FALSE(d_.cgroup_exists("vm-term"));
    EXPECT_FALSE(fs::exists(vm_dir("vm-term")));
    int rc = ctl.wait(10000);
    EXPECT_NE(rc, 0) << ctl.output();
    EXPECT_NE(rc, -1) << "vtasosctl hung after its VM was killed";
}

TEST_F(VmTenant, MissingImageIsAClearErrorAndNothingStarts) {
    Ctl ctl(out_path("missing"),
            {"--socket", d_.socket(), "run", "--vm", d_.dir() + "/no-such.img", "--"});
    EXPECT_EQ(ctl.wait(10000), 125);
    EXPECT_NE(ctl.output().find("no-such.img"), std::string::npos) << ctl.output();
    EXPECT_FALSE(fs::exists(d_.socket() + ".vms/vm-no-such.img"));
}

}  // namespace
