// VM tenants: the daemon boots a vtasos-image image under QEMU as a tenant's process and
// serves the guest's paravirtual channel (docs/protocol.md "VM tenants").
//
// Why the daemon launches QEMU (not vtasosctl): cleanup then has one owner. QEMU is the
// daemon's child (PR_SET_PDEATHSIG=SIGKILL, own process group), its pid is the tenant's
// only process, so every existing path that ends a tenant (QEMU exit seen on its pidfd,
// release, the registering connection closing, SIGTERM shutdown) also kills and reaps
// QEMU and removes its directory; a daemon crash kills it through PDEATHSIG and the next
// start removes the stale directories. The guest's console goes to a Unix socket that
// vtasosctl listens on (QEMU connects to it), so output reaches the user without the
// daemon relaying bytes.
//
// Placement needs nothing new: QEMU starts paused (-S), QMP query-cpus-fast gives the vCPU
// thread ids, and the ordinary register path places the tenant with one solver call over
// all tenants, puts QEMU's pid in the tenant's cgroup (the gang scheduler's freezer then
// stops the whole VM) and pins threads[i] = vCPU i to placement.cpus[i]; then QMP cont.
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "internal/log.h"
#include "vtasos/daemon/service.h"
#include "vtasos/image/image.h"

namespace vtasos::daemon {

using nlohmann::json;
namespace fs = std::filesystem;

struct VmInstance {
    image::QemuProcess qemu;
    std::string dir;
    std::string qmp;
    image::AccelDecision accel;
    std::vector<image::VcpuThread> vcpus;
    ~VmInstance() {
        qemu.kill_and_wait();
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }
};

void VmInstanceDeleter::operator()(VmInstance* v) const { delete v; }

namespace {

std::string vm_root(const std::string& runtime_dir) {
    return runtime_dir.empty() ? fmt::format("/tmp/vtasos-vms-{}", ::geteuid()) : runtime_dir;
}

// A listening Unix socket at `path` (QEMU connects to it); -1 with errno on failure.
int listen_unix(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 1) != 0) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

// The channel connection from QEMU (pid `qemu`); QEMU connected while it started, so it
// waits in the backlog. Another process that reached the socket first is refused.
Result<int> accept_channel(int lfd, pid_t qemu, std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            ucred cred{};
            socklen_t len = sizeof cred;
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == qemu)
                return fd;
            spdlog::warn("event=vm_channel_refused peer_pid={} qemu_pid={}", cred.pid, qemu);
            ::close(fd);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return Error(Errc::kIo, fmt::format("accept channel: {}", std::strerror(errno)));
        if (std::chrono::steady_clock::now() >= deadline)
            return Error(Errc::kTimeout, "QEMU did not connect the channel socket in time");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

struct FdGuard {
    int fd = -1;
    ~FdGuard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Result<json> Service::do_vm(const RegisterArgs& a, const Peer& peer) {
    const VmArgs& v = *a.vm;
    auto fail = [&](Error e) { return e.with_context("register.vm"); };
    // QEMU runs with the daemon's credentials: only root or the daemon's own uid may ask.
    if (peer.uid != 0 && peer.uid != ::geteuid())
        return fail(Error(Errc::kPermissionDenied,
                          fmt::format("uid {} may not start VMs (QEMU runs as the daemon's uid "
                                      "{}; ask as root or run your own vtasosd)",
                                      peer.uid, ::geteuid())));
    if (tenants_.count(a.tenant) || vms_.count(a.tenant))
        return Error(Errc::kAlreadyExists,
                     fmt::format("register.tenant: tenant \"{}\" already exists", a.tenant));
    struct stat st {};
    if (::stat(v.image.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return fail(Error(Errc::kNotFound,
                          fmt::format("image {}: not a readable file ({})", v.image,
                                      errno ? std::strerror(errno) : "not a regular file")));
    if (!v.console.empty()) {
        if (::stat(v.console.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
            return fail(Error(Errc::kNotFound,
                              fmt::format("console {}: not a listening Unix socket", v.console)));
        if (peer.uid != 0 && st.st_uid != peer.uid)
            return fail(Error(Errc::kPermissionDenied,
                              fmt::format("console {}: owned by uid {}, not the caller's",
                                          v.console, st.st_uid)));
    }
    std::string source;
    auto req = resolve_request(a, source);
    if (!req) return req.error();
    req->tenant = a.tenant;
    req->kind = TenantKind::kVm;
    if (auto s = req->validate(); !s) return s.error().with_context("register");
    if (req->cpus > 255)
        return fail(Error(Errc::kInvalidArgument,
                          fmt::format("{} vCPUs: QEMU's pc machine takes at most 255", req->cpus)));

    auto inst = std::unique_ptr<VmInstance, VmInstanceDeleter>(new VmInstance);
    std::string root = vm_root(config_.runtime_dir);
    inst->dir = root + "/" + a.tenant;
    std::error_code ec;
    fs::remove_all(inst->dir, ec);  // a previous daemon's leftovers
    fs::create_directories(inst->dir, ec);
    if (ec) return fail(Error(Errc::kIo, fmt::format("create {}: {}", inst->dir, ec.message())));
    ::chmod(root.c_str(), 0700);
    ::chmod(inst->dir.c_str(), 0700);
    inst->qmp = inst->dir + "/qmp.sock";
    std::string chan = inst->dir + "/chan.sock";
    if (chan.size() >= sizeof(sockaddr_un{}.sun_path))
        return fail(Error(Errc::kInvalidArgument,
                          fmt::format("socket path {} is too long; use a shorter tenant id or "
                                      "daemon socket path",
                                      chan)));
    FdGuard listen_fd;
    if (v.channel) {
        listen_fd.fd = listen_unix(chan);
        if (listen_fd.fd < 0)
            return fail(Error(Errc::kIo, fmt::format("listen {}: {}", chan, std::strerror(errno))));
    }

    if (v.accel == "kvm")
        inst->accel = {image::Accel::kKvm, "asked for kvm"};
    else if (v.accel == "tcg")
        inst->accel = {image::Accel::kTcg, "asked for tcg"};
    else
        inst->accel = image::probe_accelerator();
    image::RunOptions ro;
    ro.image = v.image;
    ro.args = v.args;
    ro.args_given = v.args_given;
    ro.env = v.env;
    ro.timer = v.timer == "stock" ? image::TimerPreset::kStock : image::TimerPreset::kTickless;
    ro.qemu.cpus = req->cpus;
    ro.qemu.memory_mb = v.memory_mb;
    ro.qemu.qmp_socket = inst->qmp;
    ro.qemu.paused = true;
    ro.qemu.console_socket = v.console;
    ro.qemu.console_log = v.console.empty() ? inst->dir + "/console.log" : "";
    ro.qemu.channel_socket = v.channel ? chan : "";
    std::string kernel_note;
    auto cfg = image::prepare_boot(ro, inst->accel.accel, inst->dir + "/initrd", &kernel_note);
    if (!cfg) return fail(cfg.error());
    auto q = image::launch_qemu(*cfg);
    if (!q) return fail(q.error());
    inst->qemu = std::move(*q);
    pid_t qpid = inst->qemu.pid();
    auto vcpus = image::qmp_vcpu_threads(inst->qmp, std::chrono::seconds(20));
    if (!vcpus) return fail(vcpus.error().with_context(fmt::format("QEMU pid {}", qpid)));
    inst->vcpus = *vcpus;
    if (static_cast<int>(vcpus->size()) != req->cpus)
        return fail(Error(Errc::kProtocol, fmt::format("QMP reported {} vCPUs, asked for {}",
                                                       vcpus->size(), req->cpus)));
    FdGuard chan_fd;
    if (v.channel) {
        auto fd = accept_channel(listen_fd.fd, qpid, std::chrono::seconds(5));
        if (!fd) return fail(fd.error());
        chan_fd.fd = *fd;
        ::close(listen_fd.fd);
        listen_fd.fd = -1;
        ::unlink(chan.c_str());  // connected: the path is not needed any more
    }

    // The ordinary register path: one placement over all tenants, QEMU in the cgroup,
    // vCPU i pinned to placement.cpus[i].
    RegisterArgs b = a;
    b.vm.reset();
    b.profile.reset();
    b.cpus = 0;
    b.request = *req;
    b.pids = {qpid};
    for (const auto& c : *vcpus) b.threads.push_back(c.thread_id);
    auto reply = do_register(b, peer);
    if (!reply) return reply.error();  // inst's destructor kills QEMU and removes its files
    (*reply)["source"] = source;
    if (auto s = image::qmp_cont(inst->qmp); !s) {
        cleanup(a.tenant, "vm_start_failed");
        return fail(s.error().with_context("start the vCPUs"));
    }
    const TenantEntry& t = tenants_.at(a.tenant);
    json vj = json::array();
    for (size_t i = 0; i < vcpus->size(); ++i)
        vj.push_back({{"cpu", (*vcpus)[i].cpu_index},
                      {"tid", (*vcpus)[i].thread_id},
                      {"pus", t.placement.cpus.at(i).pus}});
    (*reply)["vm"] = {{"qemu_pid", qpid},
                      {"accel", image::to_string(inst->accel.accel)},
                      {"accel_reason", inst->accel.reason},
                      {"emulated", inst->accel.emulated()},
                      {"timer", v.timer},
                      {"vcpus", vj},
                      {"qmp", inst->qmp},
                      {"channel", v.channel ? image::kChannelName : ""},
                      {"kernel", cfg->kernel},
                      {"kernel_note", kernel_note}};
    spdlog::info("event=vm_start tenant={} qemu_pid={} accel={} vcpus={} channel={} dir={}",
                 log::quote(a.tenant), qpid, image::to_string(inst->accel.accel), vcpus->size(),
                 v.channel, log::quote(inst->dir));
    vms_.emplace(a.tenant, std::move(inst));
    if (chan_fd.fd >= 0) {
        if (channel_hook_)
            channel_hook_(std::exchange(chan_fd.fd, -1), a.tenant, peer.uid);
        else
            spdlog::warn("event=vm_channel tenant={} result=unserved", log::quote(a.tenant));
    }
    return reply;
}

json Service::handle_channel(const Message& m, const Peer& peer) {
    const std::string& tenant = peer.vm_tenant;
    Result<json> r = Error(Errc::kInternal, "unhandled op");
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) {
        r = Error(Errc::kNotFound, fmt::format("channel: VM tenant \"{}\" is gone", tenant));
    } else {
        switch (m.op) {
            case Op::kHello:
                r = do_hello(std::get<HelloArgs>(m.args), peer);
                if (r) (*r)["tenant"] = tenant;
                break;
            case Op::kRegister: {
                // The guest's process joins its VM's tenant: whatever it names, it gets the
                // VM's placement in guest terms (vCPU i is pinned to host placement cpu i).
                const TenantEntry& t = it->second;
                Placement gp = t.placement;
                gp.tenant = tenant;
                for (size_t i = 0; i < gp.cpus.size(); ++i) gp.cpus[i].pus = {static_cast<int>(i)};
                gp.mem_nodes = {0};
                r = json{{"tenant", tenant},
                         {"source", "vm-channel"},
                         {"request", t.request.to_json()},
                         {"placement", gp.to_json()},
                         {"host_placement", t.placement.to_json()}};
                break;
            }
            case Op::kUpdate: {
                UpdateArgs u = std::get<UpdateArgs>(m.args);
                u.tenant = tenant;
                u.observations.name = tenant;
                r = do_update(u, peer);
                break;
            }
            case Op::kAdvice:
                r = do_advice(TenantArgs{tenant, std::nullopt}, peer);
                break;
            case Op::kTopology:
                r = do_topology();
                break;
            case Op::kRelease:
                // The guest's tool releases at exit; the VM's tenant ends with the VM.
                r = json{{"released", false},
                         {"tenant", tenant},
                         {"reason",
                          "a VM tenant ends when its VM powers off or is released "
                          "on the host"}};
                break;
            default:
                r = Error(Errc::kPermissionDenied,
                          fmt::format("{}: not allowed on the channel of VM tenant \"{}\" (a "
                                      "guest may only hello, register, update, advice, "
                                      "topology and release, for its own tenant)",
                                      to_string(m.op), tenant));
        }
    }
    if (!r) {
        spdlog::info("event=vm_channel tenant={} op={} result={}", log::quote(tenant),
                     to_string(m.op), log::quote(r.error().to_string()));
        return error_reply(m.id, r.error());
    }
    json reply = std::move(*r);
    reply["v"] = kProtocolVersion;
    reply["id"] = m.id;
    reply["ok"] = true;
    return reply;
}

void Service::vm_release(const std::string& tenant) {
    auto it = vms_.find(tenant);
    if (it == vms_.end()) return;
    // A frozen task does not die until thawed: thaw first, then kill and reap.
    (void)driver_->thaw(tenant);
    int status = it->second->qemu.kill_and_wait();
    spdlog::info("event=vm_stop tenant={} qemu_pid={} status={}", log::quote(tenant),
                 it->second->qemu.pid(), status);
    vms_.erase(it);  // removes its directory (sockets, initrd)
}

void Service::vm_recover() {
    // QEMU children of a crashed daemon died with it (PDEATHSIG): their files are stale.
    std::error_code ec;
    std::string root = vm_root(config_.runtime_dir);
    if (fs::exists(root, ec)) {
        fs::remove_all(root, ec);
        spdlog::info("event=vm_recover removed={} result={}", log::quote(root),
                     ec ? log::quote(ec.message()) : std::string("ok"));
    }
}

}  // namespace vtasos::daemon
