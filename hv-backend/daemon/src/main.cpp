// vtasosd: the vtasos node daemon. Global state lives here only: flags,
// signal mask, logger, daemonization; everything else is passed explicitly.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "vtasos/daemon/server.h"
#include "vtasos/daemon/service.h"
#include "vtasos/drivers/driver.h"
#include "vtasos/profiles/profiles.h"
#include "vtasos/topology/load.h"
#include "xen_glue.h"

#ifndef VTASOS_VERSION
#define VTASOS_VERSION "0.0.0"
#endif
#ifndef VTASOS_PROFILE_DIR
#define VTASOS_PROFILE_DIR ""
#endif

namespace {

int fail(const std::string& what) {
    spdlog::critical("event=exit result=error msg=\"{}\"", what);
    std::fprintf(stderr, "vtasosd: %s\n", what.c_str());
    return 1;
}

// Forks into the background once the socket is bound: the parent exits 0,
// which tells a starting script the daemon is ready.
void daemonize() {
    pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid > 0) ::_exit(0);
    ::setsid();
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::close(null);
    }
    (void)!::chdir("/");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "vtasosd: places parallel applications on this node's cores (see docs/protocol.md)"};
    std::string socket_path, state_path, topology_spec = "live", driver_name = "linux";
    std::string cgroup_root = "/sys/fs/cgroup", cgroup_parent = "vtasos";
    std::string profile_dir = VTASOS_PROFILE_DIR, log_level = "info", pid_file, socket_mode_str;
    std::optional<double> package_bw;
    bool foreground = false, no_state = false, version = false;
    size_t max_clients = 256;
    app.add_option("--socket", socket_path,
                   "Unix socket path (default: root /run/vtasos/vtasosd.sock, "
                   "else $XDG_RUNTIME_DIR/vtasos.sock)");
    app.add_option("--socket-mode", socket_mode_str,
                   "socket file mode in octal (default 0660 root, 0600 user)");
    app.add_option("--state", state_path, "state file (default: root /var/lib/vtasos/state.json)");
    app.add_flag("--no-state", no_state, "do not read or write a state file");
    app.add_option("--topology", topology_spec, "live | xml:PATH | synthetic:DESCRIPTION")
        ->capture_default_str();
    app.add_option("--driver", driver_name, "platform driver")->capture_default_str();
    app.add_option("--cgroup-root", cgroup_root, "cgroup filesystem root")->capture_default_str();
    app.add_option("--cgroup-parent", cgroup_parent, "parent cgroup holding one child per tenant")
        ->capture_default_str();
    app.add_option("--profiles", profile_dir, "application profile directory")
        ->capture_default_str();
    app.add_option("--package-bandwidth", package_bw, "memory bandwidth budget per package in GB/s")
        ->check(CLI::Range(0.001, 1e6));
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off")
        ->capture_default_str()
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_option("--max-clients", max_clients, "simultaneous client connections")
        ->capture_default_str()
        ->check(CLI::Range(1, 65536));
    app.add_option("--pid-file", pid_file, "write the daemon's pid here once it serves");
    app.add_flag("--foreground", foreground, "stay in the foreground (default: fork once ready)");
    app.add_flag("--version", version, "print the version and exit");
    std::string sched_policy_name = "off";
    int slice_ms = vtasos::gang::kDefaultSliceMs;
    app.add_option("--sched-policy", sched_policy_name,
                   "gang scheduling of tenants sharing PUs: gang|feedback|auto|off")
        ->capture_default_str();
    app.add_option("--slice-ms", slice_ms, "gang slice length in ms (10..100)")
        ->capture_default_str();
    vtasos::daemon::XenFlags xen_flags;
    vtasos::daemon::add_xen_flags(app, xen_flags);
    CLI11_PARSE(app, argc, argv);
    // Gang scheduling flags: checked before anything is touched.
    vtasos::gang::Policy sched_policy = vtasos::gang::Policy::kOff;
    if (auto p = vtasos::gang::parse_policy(sched_policy_name); p)
        sched_policy = *p;
    else
        return fail("--sched-policy: " + p.error().message());
    if (auto s = vtasos::gang::validate_slice_ms(slice_ms); !s)
        return fail("--slice-ms: " + s.error().message());
    if (version) {
        std::printf("vtasosd %s (protocol %d)\n", VTASOS_VERSION, vtasos::daemon::kProtocolVersion);
        return 0;
    }

    auto logger = spdlog::stderr_logger_mt("vtasosd");
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e level=%l %v");
    logger->set_level(spdlog::level::from_str(log_level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);

    // Signals are read through a signalfd by the event loop.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);

    bool root = ::geteuid() == 0;
    if (socket_path.empty()) socket_path = vtasos::daemon::default_socket_path();
    if (state_path.empty() && !no_state) state_path = vtasos::daemon::default_state_path();
    if (no_state) state_path.clear();
    mode_t socket_mode = root ? 0660 : 0600;
    if (!socket_mode_str.empty()) {
        char* end = nullptr;
        long m = std::strtol(socket_mode_str.c_str(), &end, 8);
        if (!end || *end || m < 0 || m > 0777)
            return fail("--socket-mode: expected an octal mode like 0660");
        socket_mode = static_cast<mode_t>(m);
    }

    // Refuse before touching anything when another daemon serves this socket.
    if (auto s = vtasos::daemon::claim_socket_path(socket_path); !s)
        return fail(s.error().to_string());

    auto topo = vtasos::load_topology(topology_spec, package_bw);
    if (!topo) return fail("--topology: " + topo.error().to_string());
    spdlog::info("event=topology source={} summary=\"{}\"", topo->source, topo->to_string());

    vtasos::DriverConfig dcfg;
    dcfg.cgroup_root = cgroup_root;
    dcfg.parent = cgroup_parent;
    auto driver = vtasos::make_driver(driver_name, dcfg);
    if (!driver) return fail("--driver: " + driver.error().to_string());
    // xen: not a dom0 -> refuse to start; topology from the hypervisor (xen_glue.cpp).
    if (auto s = vtasos::daemon::xen_setup(**driver, xen_flags, topology_spec, *topo); !s)
        return fail("--driver " + driver_name + ": " + s.error().to_string());
    // A platform that allows less (no cgroup permission, no freezer) still gets
    // affinity pinning: run anyway and say so in the log, hello and status.
    if (auto s = (*driver)->probe(); !s)
        spdlog::error("event=driver_probe result=error msg=\"{}\" action=continue_degraded",
                      s.error().to_string());
    auto caps = (*driver)->caps();
    spdlog::info("event=driver name={} cpuset={} affinity={} freeze={} cgroup_mode={} notes=\"{}\"",
                 (*driver)->name(), caps.cpuset, caps.affinity, caps.freeze,
                 caps.cgroup_mode.empty() ? "none" : caps.cgroup_mode, caps.notes);
    if (!caps.freeze)
        spdlog::warn(
            "event=degraded reason=\"no freeze capability: affinity/cpuset only, no gang "
            "scheduling\" notes=\"{}\"",
            caps.notes);

    std::optional<vtasos::ProfileStore> profiles;
    if (!profile_dir.empty()) {
        auto ps = vtasos::ProfileStore::load_dir(profile_dir);
        if (ps) {
            spdlog::info("event=profiles dir={} count={}", profile_dir, ps->names().size());
            profiles.emplace(std::move(*ps));
        } else {
            spdlog::warn("event=profiles dir={} result=error msg=\"{}\" action=continue_without",
                         profile_dir, ps.error().to_string());
        }
    }

    vtasos::daemon::ServiceConfig scfg;
    scfg.state_path = state_path;
    scfg.sched_policy = sched_policy;
    scfg.slice_ms = slice_ms;
    scfg.runtime_dir = socket_path + ".vms";  // VM tenants' QMP and channel sockets
    scfg.version = VTASOS_VERSION;
    vtasos::daemon::Service service(std::move(*topo), std::move(*driver), std::move(profiles),
                                    scfg);
    vtasos::daemon::ServerOptions sopt;
    sopt.socket_path = socket_path;
    sopt.socket_mode = socket_mode;
    sopt.max_clients = max_clients;
    vtasos::daemon::Server server(service, sopt);
    // Claim the socket before touching any tenant: a second daemon must not
    // thaw the first one's frozen tenants.
    if (auto s = server.bind(); !s) return fail(s.error().to_string());
    service.recover();
    if (!foreground) daemonize();
    if (!pid_file.empty()) {
        std::ofstream(pid_file) << ::getpid() << "\n";
    }
    auto xen_channel = vtasos::daemon::start_xen_channel(driver_name, xen_flags, socket_path);
    spdlog::info("event=ready pid={} socket={} state={} tenants={}", ::getpid(), socket_path,
                 state_path.empty() ? "none" : state_path, service.tenants().size());
    auto rc = server.run();
    xen_channel.reset();
    service.shutdown();
    server.remove_socket();
    if (!pid_file.empty()) ::unlink(pid_file.c_str());
    if (!rc) return fail(rc.error().to_string());
    spdlog::info("event=exit result=ok");
    return 0;
}
