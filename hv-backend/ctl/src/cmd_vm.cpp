#include "cmd_vm.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "vtasos/client.hpp"

namespace {

using nlohmann::json;
constexpr int kExitTimeout = 124;
constexpr int kExitFailed = 125;
constexpr const char* kStartMarker = "@@VTASOS-START@@";  // printed by vtasos-init
constexpr const char* kExitMarker = "@@VTASOS-EXIT@@";

volatile sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

int fail(const std::string& msg) {
    std::fprintf(stderr, "vtasosctl: %s\n", msg.c_str());
    return kExitFailed;
}

// A private directory with a listening socket for the guest console; removed on scope exit.
struct ConsoleSocket {
    std::string dir, path;
    int fd = -1;
    ~ConsoleSocket() {
        if (fd >= 0) ::close(fd);
        if (!path.empty()) ::unlink(path.c_str());
        if (!dir.empty()) ::rmdir(dir.c_str());
    }
    std::optional<std::string> open() {
        const char* tmp = std::getenv("TMPDIR");
        std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/vtasosctl-vm-XXXXXX";
        if (!::mkdtemp(t.data())) return fmt::format("mkdtemp {}: {}", t, std::strerror(errno));
        dir = t;
        path = dir + "/console.sock";
        sockaddr_un sa{};
        if (path.size() >= sizeof sa.sun_path) return "console socket path too long: " + path;
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
            ::listen(fd, 1) != 0)
            return fmt::format("console socket {}: {}", path, std::strerror(errno));
        return std::nullopt;
    }
};

}  // namespace

void add_vm_options(CLI::App* run, VmRunOptions& vo) {
    run->add_option("--vm", vo.image,
                    "boot this vtasos-image image as a VM tenant; the arguments after -- go to "
                    "the application in the guest");
    run->add_option("--vm-timer", vo.timer, "guest timer preset")
        ->check(CLI::IsMember({"stock", "tickless"}))
        ->capture_default_str();
    run->add_option("--vm-accel", vo.accel, "accelerator: auto (KVM when it works) | kvm | tcg")
        ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
        ->capture_default_str();
    run->add_option("--vm-memory", vo.memory_mb, "guest memory in MiB")
        ->check(CLI::Range(64, 65536))
        ->capture_default_str();
    // One value per occurrence, so that "--vm-env K=V -- --app-flag" keeps the app's flags.
    run->add_option("--vm-env", vo.env, "KEY=VALUE for the guest application (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--vm-timeout", vo.timeout_s, "release the VM after this many seconds")
        ->check(CLI::Range(1, 86400))
        ->capture_default_str();
    run->add_flag("--vm-no-channel", vo.no_channel,
                  "no paravirtual channel (the guest's OMPT tool runs monitor-only)");
}

int run_vm_command(const std::string& socket, int timeout_ms, json fields,
                   const std::string& tenant, const VmRunOptions& vo,
                   const std::vector<std::string>& args, bool args_given, bool verbose) {
    std::error_code ec;
    std::string image = std::filesystem::absolute(vo.image, ec).lexically_normal().string();
    if (ec || ::access(image.c_str(), R_OK) != 0)
        return fail(fmt::format("--vm {}: not readable ({})", vo.image, std::strerror(errno)));
    ConsoleSocket con;
    if (auto e = con.open()) return fail(*e);
    // Booting takes a QMP round trip after QEMU starts: allow more than a plain reply.
    auto client = vtasos::Client::connect(socket, std::max(timeout_ms, 60000));
    if (!client) return fail(client.error().to_string());

    json vm = {{"image", image},      {"timer", vo.timer},
               {"accel", vo.accel},   {"memory_mb", vo.memory_mb},
               {"console", con.path}, {"channel", !vo.no_channel},
               {"env", vo.env}};
    if (args_given) vm["args"] = args;
    json req = std::move(fields);
    req["tenant"] = tenant;
    req["vm"] = vm;
    struct sigaction sa {};
    sa.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    auto reply = client->call("register", req);
    if (!reply) return fail(reply.error().to_string());
    const json& v = (*reply)["vm"];
    if (v.value("emulated", false))
        std::fprintf(stderr, "vtasosctl: warning: %s; results are emulated\n",
                     v.value("accel_reason", std::string("TCG")).c_str());
    if (verbose) {
        auto p = vtasos::Placement::from_json(reply->value("placement", json::object()));
        std::fprintf(stderr, "vtasosctl: VM tenant %s: QEMU pid %d, accel %s, timer %s\n",
                     tenant.c_str(), v.value("qemu_pid", 0),
                     v.value("accel", std::string("?")).c_str(),
                     v.value("timer", std::string("?")).c_str());
        for (const auto& c : v.value("vcpus", json::array()))
            std::fprintf(stderr, "  vCPU %d: thread %d on PUs %s\n", c.value("cpu", -1),
                         c.value("tid", 0),
                         vtasos::format_cpulist(c.value("pus", std::vector<int>{})).c_str());
        if (p)
            for (const auto& t : p->trace) std::fprintf(stderr, "  why: %s\n", t.c_str());
    }

    auto release = [&] { (void)client->release(tenant); };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(vo.timeout_s);
    auto left_ms = [&] {
        auto l = std::chrono::duration_cast<std::chrono::milliseconds>(
                     deadline - std::chrono::steady_clock::now())
                     .count();
        return static_cast<int>(std::clamp<long long>(l, 0, 1000));
    };
    // QEMU connected while it started (before the register reply): it is in the backlog.
    pollfd lp{con.fd, POLLIN, 0};
    if (::poll(&lp, 1, 10000) <= 0) {
        release();
        return fail("QEMU did not connect the console socket " + con.path);
    }
    int cfd = ::accept4(con.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) {
        release();
        return fail(fmt::format("accept console: {}", std::strerror(errno)));
    }
    ::close(con.fd);
    con.fd = -1;
    ::unlink(con.path.c_str());

    std::optional<int> status;
    std::string line;
    auto on_line = [&](const std::string& l) {
        if (l.rfind(kExitMarker, 0) == 0) {
            if (auto s = l.find("status="); s != std::string::npos)
                status = std::atoi(l.c_str() + s + 7);
            else if (auto g = l.find("signal="); g != std::string::npos)
                status = 128 + std::atoi(l.c_str() + g + 7);
        } else if (verbose && l.rfind(kStartMarker, 0) == 0) {
            std::fprintf(stderr, "vtasosctl: guest %s\n", l.c_str() + std::strlen(kStartMarker));
        }
    };
    char buf[8192];
    int rc = -1;
    for (;;) {
        if (g_signal) {
            release();
            std::fprintf(stderr, "vtasosctl: signal %d: VM tenant %s released\n", int(g_signal),
                         tenant.c_str());
            rc = 128 + g_signal;
            break;
        }
        int left = left_ms();
        if (left == 0) {
            release();
            std::fprintf(stderr,
                         "vtasosctl: the guest did not power off within %d s; VM tenant %s "
                         "released (QEMU killed)\n",
                         vo.timeout_s, tenant.c_str());
            rc = kExitTimeout;
            break;
        }
        pollfd p{cfd, POLLIN, 0};
        int r = ::poll(&p, 1, left);
        if (r <= 0) continue;
        ssize_t n = ::read(cfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // QEMU exited
        std::string chunk;
        for (ssize_t i = 0; i < n; ++i)
            if (buf[i] != '\r') chunk.push_back(buf[i]);
        (void)!::write(1, chunk.data(), chunk.size());
        for (char c : chunk) {
            if (c == '\n') {
                on_line(line);
                line.clear();
            } else {
                line.push_back(c);
            }
        }
    }
    ::close(cfd);
    if (!line.empty()) on_line(line);
    if (rc >= 0) return rc;
    release();  // normally gone already (QEMU's exit ended the tenant)
    if (!status) return fail("the guest stopped without an exit status (see its console above)");
    return *status;
}
