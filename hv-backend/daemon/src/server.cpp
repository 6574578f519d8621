#include "vtasos/daemon/server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "internal/log.h"

namespace vtasos::daemon {
namespace {

// epoll user data: kind in the top byte, id (connection id or pid) below.
enum Kind : uint64_t { kListen = 1, kSignal = 2, kStop = 3, kConn = 4, kPid = 5, kTimer = 6 };
constexpr uint64_t tag(Kind k, uint64_t id) { return (static_cast<uint64_t>(k) << 56) | id; }
constexpr Kind kind_of(uint64_t t) { return static_cast<Kind>(t >> 56); }
constexpr uint64_t id_of(uint64_t t) { return t & ((uint64_t{1} << 56) - 1); }

Error sys_error(Errc code, std::string_view what) {
    return Error(code, fmt::format("{}: {}", what, std::strerror(errno)));
}

struct Conn {
    int fd = -1;
    Peer peer;
    std::string in;
    std::string out;
    size_t out_off = 0;
    bool discarding = false;
    size_t discarded = 0;
    bool want_out = false;
    bool closing = false;  // peer sent EOF: close once the queue drains
    size_t pending() const { return out.size() - out_off; }
};

}  // namespace

struct Server::Impl {
    Service& svc;
    ServerOptions opt;
    int listen_fd = -1;
    int epfd = -1;
    int sig_fd = -1;
    int stop_fd = -1;
    int timer_fd = -1;        // gang scheduler slices (one-shot, re-armed each loop)
    int64_t timer_armed = -2;  // last arming (ns), to skip redundant timerfd_settime
    bool created_socket = false;
    ino_t socket_ino = 0;
    uint64_t next_conn = 1;
    std::unordered_map<uint64_t, Conn> conns;

    Impl(Service& s, ServerOptions o) : svc(s), opt(std::move(o)) {
        epfd = ::epoll_create1(EPOLL_CLOEXEC);
        stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        add(stop_fd, tag(kStop, 0), EPOLLIN);
        timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (timer_fd >= 0) add(timer_fd, tag(kTimer, 0), EPOLLIN);
        svc.set_pidfd_hook([this](pid_t pid, int fd, bool on) {
            if (on)
                add(fd, tag(kPid, static_cast<uint64_t>(pid)), EPOLLIN);
            else
                ::epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
        });
        // A VM's paravirtual channel is served like a client bound to its tenant.
        svc.set_channel_hook([this](int fd, const std::string& tenant, uid_t owner) {
            uint64_t id = next_conn++;
            Conn c;
            c.fd = fd;
            c.peer = Peer{owner, 0, 0, id, tenant};
            conns.emplace(id, std::move(c));
            add(fd, tag(kConn, id), EPOLLIN);
            spdlog::info("event=vm_channel_open conn={} tenant={}", id, log::quote(tenant));
        });
    }

    ~Impl() {
        svc.set_pidfd_hook(nullptr);
        svc.set_channel_hook(nullptr);
        for (auto& [id, c] : conns) ::close(c.fd);
        for (int fd : {listen_fd, epfd, sig_fd, stop_fd, timer_fd})
            if (fd >= 0) ::close(fd);
    }

    void add(int fd, uint64_t t, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = t;
        if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            spdlog::error("event=epoll_add fd={} result=error msg={}", fd,
                          log::quote(std::strerror(errno)));
    }

    void modify(Conn& c, uint64_t id) {
        epoll_event ev{};
        ev.events =
            (c.closing ? 0u : static_cast<uint32_t>(EPOLLIN)) | (c.want_out ? EPOLLOUT : 0u);
        ev.data.u64 = tag(kConn, id);
        ::epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
    }

    Status bind() {
        namespace fs = std::filesystem;
        const std::string& path = opt.socket_path;
        if (path.empty()) return Error(Errc::kInvalidArgument, "socket path is empty");
        sockaddr_un addr{};
        if (path.size() >= sizeof(addr.sun_path))
            return Error(Errc::kInvalidArgument,
                         fmt::format("socket path {} is too long ({} > {} bytes)", path,
                                     path.size(), sizeof(addr.sun_path) - 1));
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

        if (auto s = claim_socket_path(path); !s) return s;
        struct stat st {};
        fs::path parent = fs::path(path).parent_path();
        if (!parent.empty()) {
            std::error_code ec;
            if (!fs::exists(parent, ec)) {
                fs::create_directories(parent, ec);
                if (ec)
                    return Error(Errc::kIo,
                                 fmt::format("create {}: {}", parent.string(), ec.message()));
                ::chmod(parent.c_str(), 0755);
            }
        }
        listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_fd < 0) return sys_error(Errc::kIo, "socket");
        mode_t old = ::umask(0177);
        int rc = ::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        int err = errno;
        ::umask(old);
        if (rc != 0) {
            errno = err;
            return sys_error(Errc::kIo, "bind " + path);
        }
        created_socket = true;
        if (::stat(path.c_str(), &st) == 0) socket_ino = st.st_ino;
        if (::chmod(path.c_str(), opt.socket_mode) != 0)
            return sys_error(Errc::kIo, "chmod " + path);
        if (!opt.group.empty()) {
            if (const group* g = ::getgrnam(opt.group.c_str())) {
                if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0)
                    spdlog::warn("event=socket_group group={} result=error msg={}", opt.group,
                                 log::quote(std::strerror(errno)));
            }
        }
        if (::listen(listen_fd, 128) != 0) return sys_error(Errc::kIo, "listen " + path);
        add(listen_fd, tag(kListen, 0), EPOLLIN);
        spdlog::info("event=listen socket={} mode={:o}", log::quote(path), opt.socket_mode);
        return {};
    }

    void remove_socket() {
        if (!created_socket) return;
        struct stat st {};
        if (::stat(opt.socket_path.c_str(), &st) == 0 && st.st_ino == socket_ino)
            ::unlink(opt.socket_path.c_str());
        created_socket = false;
    }

    void close_conn(uint64_t id, std::string_view why) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        int fd = it->second.fd;
        Peer peer = it->second.peer;
        ::epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns.erase(it);
        spdlog::debug("event=disconnect conn={} uid={} reason={}", id, peer.uid, why);
        svc.on_disconnect(id);
    }

    void accept_all() {
        for (;;) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    spdlog::warn("event=accept result=error msg={}",
                                 log::quote(std::strerror(errno)));
                return;
            }
            if (conns.size() >= opt.max_clients) {
                auto line = serialize(error_reply(
                    std::nullopt,
                    Error(Errc::kBusy, fmt::format("too many clients (limit {}); try again later",
                                                   opt.max_clients))));
                (void)!::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                ::close(fd);
                spdlog::warn("event=refuse_client reason=too_many_clients limit={}",
                             opt.max_clients);
                continue;
            }
            ucred cred{};
            socklen_t len = sizeof(cred);
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
                ::close(fd);
                continue;
            }
            uint64_t id = next_conn++;
            Conn c;
            c.fd = fd;
            c.peer = Peer{cred.uid, cred.gid, cred.pid, id};
            conns.emplace(id, std::move(c));
            add(fd, tag(kConn, id), EPOLLIN);
            spdlog::debug("event=connect conn={} uid={} pid={}", id, cred.uid, cred.pid);
        }
    }

    // Returns false when the connection was closed.
    bool flush(uint64_t id, Conn& c) {
        while (c.pending() > 0) {
            ssize_t n =
                ::send(c.fd, c.out.data() + c.out_off, c.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                close_conn(id, "write_error");
                return false;
            }
            c.out_off += static_cast<size_t>(n);
        }
        if (c.pending() == 0) {
            c.out.clear();
            c.out_off = 0;
            if (c.closing) {
                close_conn(id, "eof");
                return false;
            }
        } else if (c.pending() > opt.max_output_bytes) {
            spdlog::warn("event=disconnect conn={} uid={} reason=slow_reader queued={}", id,
                         c.peer.uid, c.pending());
            close_conn(id, "slow_reader");
            return false;
        } else if (c.out_off > (1 << 16)) {
            c.out.erase(0, c.out_off);
            c.out_off = 0;
        }
        bool want = c.pending() > 0;
        if (want != c.want_out || c.closing) {
            c.want_out = want;
            modify(c, id);
        }
        return true;
    }

    void reply(Conn& c, std::string_view line) { c.out += svc.handle_line(line, c.peer); }

    void oversize(Conn& c) {
        c.out += serialize(error_reply(
            std::nullopt,
            Error(Errc::kProtocol,
                  fmt::format(
                      "message: longer than the 64 KiB limit ({} bytes); discarding it up to the "
                      "next newline",
                      kMaxMessageBytes))));
    }

    // Splits received bytes into lines. Returns false when the connection was closed.
    bool consume(uint64_t id, Conn& c, const char* data, size_t n) {
        size_t pos = 0;
        while (pos < n) {
            const char* start = data + pos;
            const char* nl = static_cast<const char*>(std::memchr(start, '\n', n - pos));
            if (c.discarding) {
                if (!nl) {
                    c.discarded += n - pos;
                    if (c.discarded > opt.max_discard_bytes) {
                        spdlog::warn(
                            "event=disconnect conn={} uid={} reason=oversize_stream bytes={}", id,
                            c.peer.uid, c.discarded);
                        close_conn(id, "oversize_stream");
                        return false;
                    }
                    return true;
                }
                c.discarding = false;
                c.discarded = 0;
                pos = static_cast<size_t>(nl - data) + 1;
                continue;
            }
            size_t chunk = nl ? static_cast<size_t>(nl - start) : n - pos;
            if (c.in.size() + chunk > kMaxMessageBytes) {
                spdlog::info("event=bad_message conn={} uid={} code=protocol reason=oversize", id,
                             c.peer.uid);
                oversize(c);
                c.in.clear();
                if (nl) {
                    pos = static_cast<size_t>(nl - data) + 1;
                } else {
                    c.discarding = true;
                    c.discarded = n - pos;
                    return true;
                }
                continue;
            }
            if (!nl) {
                c.in.append(start, chunk);
                return true;
            }
            if (c.in.empty()) {
                reply(c, std::string_view(start, chunk));
            } else {
                c.in.append(start, chunk);
                reply(c, c.in);
                c.in.clear();
            }
            pos = static_cast<size_t>(nl - data) + 1;
        }
        return true;
    }

    void on_readable(uint64_t id) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        Conn& c = it->second;
        static thread_local char buf[64 * 1024];
        // Bounded reads per wake-up keep one busy client from starving the others.
        for (int k = 0; k < 16; ++k) {
            ssize_t n = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                close_conn(id, "read_error");
                return;
            }
            if (n == 0) {
                // A last line without '\n' still counts as a message.
                if (!c.discarding && !c.in.empty()) {
                    std::string last = std::move(c.in);
                    c.in.clear();
                    reply(c, last);
                }
                c.closing = true;
                break;
            }
            if (!consume(id, c, buf, static_cast<size_t>(n))) return;
            if (c.pending() > opt.max_output_bytes) break;
            // A short read drained the socket: skip the recv that would say EAGAIN
            // (level-triggered epoll reports anything that arrives later).
            if (static_cast<size_t>(n) < sizeof(buf)) break;
        }
        flush(id, c);
    }

    void on_writable(uint64_t id) {
        auto it = conns.find(id);
        if (it != conns.end()) flush(id, it->second);
    }

    // Advances the gang scheduler and arms the timerfd for its next switch.
    void arm_sched() {
        if (timer_fd < 0) return;
        int64_t next = svc.sched_tick();
        if (next < 0 && timer_armed < 0) return;
        itimerspec its{};
        if (next >= 0) {
            if (next == 0) next = 1;
            its.it_value.tv_sec = static_cast<time_t>(next / 1000000000);
            its.it_value.tv_nsec = static_cast<long>(next % 1000000000);
        }
        ::timerfd_settime(timer_fd, 0, &its, nullptr);
        timer_armed = next;
    }

    Status run() {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sig_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sig_fd < 0) return sys_error(Errc::kIo, "signalfd");
        add(sig_fd, tag(kSignal, 0), EPOLLIN);
        epoll_event events[64];
        for (;;) {
            arm_sched();
            int n = ::epoll_wait(epfd, events, 64, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                return sys_error(Errc::kIo, "epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                uint64_t t = events[i].data.u64;
                uint32_t ev = events[i].events;
                switch (kind_of(t)) {
                    case kListen:
                        accept_all();
                        break;
                    case kSignal: {
                        signalfd_siginfo si{};
                        if (::read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
                            spdlog::info("event=signal signo={} action=shutdown", si.ssi_signo);
                            return {};
                        }
                        break;
                    }
                    case kStop: {
                        uint64_t v;
                        (void)!::read(stop_fd, &v, sizeof(v));
                        spdlog::info("event=stop action=shutdown");
                        return {};
                    }
                    case kPid:
                        svc.on_process_exit(static_cast<pid_t>(id_of(t)));
                        break;
                    case kTimer: {
                        uint64_t v;
                        (void)!::read(timer_fd, &v, sizeof(v));
                        timer_armed = -2;
                        break;
                    }
                    case kConn: {
                        uint64_t id = id_of(t);
                        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(id);
                        if (ev & EPOLLOUT) on_writable(id);
                        break;
                    }
                }
            }
        }
    }
};

Server::Server(Service& service, ServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}
Server::~Server() = default;
Status Server::bind() { return impl_->bind(); }
Status Server::run() { return impl_->run(); }
void Server::stop() {
    uint64_t one = 1;
    (void)!::write(impl_->stop_fd, &one, sizeof(one));
}
void Server::remove_socket() { impl_->remove_socket(); }
size_t Server::client_count() const { return impl_->conns.size(); }

Status claim_socket_path(const std::string& path) {
    sockaddr_un addr{};
    if (path.empty()) return Error(Errc::kInvalidArgument, "socket path is empty");
    if (path.size() >= sizeof(addr.sun_path))
        return Error(Errc::kInvalidArgument,
                     fmt::format("socket path {} is too long ({} > {} bytes)", path, path.size(),
                                 sizeof(addr.sun_path) - 1));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return {};
    if (!S_ISSOCK(st.st_mode))
        return Error(Errc::kInvalidArgument, fmt::format("{} exists and is not a socket", path));
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    int err = errno;
    ::close(probe);
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS)
        return Error(Errc::kAlreadyExists,
                     fmt::format("another vtasosd is serving {}; stop it first", path));
    if (err != ECONNREFUSED && err != ENOENT) {
        errno = err;
        return sys_error(Errc::kIo, "probe " + path);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return sys_error(Errc::kIo, "unlink stale " + path);
    spdlog::info("event=stale_socket path={} action=removed", log::quote(path));
    return {};
}

std::string default_socket_path() {
    if (::geteuid() == 0) return "/run/vtasos/vtasosd.sock";
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x)
        return std::string(x) + "/vtasos.sock";
    return fmt::format("/tmp/vtasos-{}/vtasos.sock", ::geteuid());
}

std::string default_state_path() {
    if (::geteuid() == 0) return "/var/lib/vtasos/state.json";
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
        return std::string(x) + "/vtasos/state.json";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.local/state/vtasos/state.json";
    return fmt::format("/tmp/vtasos-{}/state.json", ::geteuid());
}

}  // namespace vtasos::daemon
