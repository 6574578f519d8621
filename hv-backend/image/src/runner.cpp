// QEMU: command line, launch in a process group, QMP, vCPU pinning, booting an image.
#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "internal.h"
#include "vtasos/image/image.h"

namespace vtasos::image {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}
std::string join(const std::vector<std::string>& w, const char* sep) {
    std::string s;
    for (auto& x : w) s += (s.empty() ? "" : sep) + x;
    return s;
}
}  // namespace

Result<std::string> find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        if (access(name.c_str(), X_OK) == 0) return name;
        return make_error(Errc::kUnavailable, fmt::format("{}: not found or not executable", name));
    }
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find(':', start);
        if (end == std::string::npos) end = p.size();
        std::string cand = p.substr(start, end - start) + "/" + name;
        if (end > start && access(cand.c_str(), X_OK) == 0) return cand;
        start = end + 1;
    }
    return make_error(
        Errc::kUnavailable,
        fmt::format("{} not found on PATH (install qemu-system-x86 / the tool)", name));
}

Result<std::string> find_kernel() {
    glob_t g{};
    std::vector<std::string> found;
    if (glob("/boot/vmlinuz-*", 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) found.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    if (found.empty())
        return make_error(
            Errc::kNotFound,
            "no kernel in /boot/vmlinuz-* (install linux-image-amd64 or pass --kernel)");
    // Newest version last under version sort.
    std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
        return strverscmp(a.c_str(), b.c_str()) < 0;
    });
    const std::string& k = found.back();
    if (access(k.c_str(), R_OK) != 0)
        return make_error(Errc::kPermissionDenied,
                          fmt::format("{}: not readable ({}); run as root or chmod a+r it", k,
                                      std::strerror(errno)));
    return k;
}

namespace {
bool has_pvh_note(const std::string& b) {
    if (b.size() < 64 ||
        b.compare(0, 4,
                  "\x7f"
                  "ELF") != 0 ||
        b[4] != 2)
        return false;
    auto ld64 = [&](size_t o) {
        uint64_t v = 0;
        if (o + 8 <= b.size()) std::memcpy(&v, b.data() + o, 8);
        return v;
    };
    auto ld32 = [&](size_t o) {
        uint32_t v = 0;
        if (o + 4 <= b.size()) std::memcpy(&v, b.data() + o, 4);
        return v;
    };
    auto ld16 = [&](size_t o) {
        uint16_t v = 0;
        if (o + 2 <= b.size()) std::memcpy(&v, b.data() + o, 2);
        return v;
    };
    uint64_t phoff = ld64(32);
    uint16_t phentsize = ld16(54), phnum = ld16(56);
    for (uint16_t i = 0; i < phnum; ++i) {
        size_t ph = phoff + size_t(i) * phentsize;
        if (ld32(ph) != 4) continue;  // PT_NOTE
        uint64_t off = ld64(ph + 8), sz = ld64(ph + 32);
        for (uint64_t n = off; n + 12 <= off + sz && n + 12 <= b.size();) {
            uint32_t namesz = ld32(n), descsz = ld32(n + 4), type = ld32(n + 8);
            if (namesz == 4 && b.compare(n + 12, 3, "Xen") == 0 && type == 18) return true;
            n += 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u);  // XEN_ELFNOTE_PHYS32_ENTRY=18
        }
    }
    return false;
}
std::string default_cache_dir() {
    if (const char* e = std::getenv("VTASOS_CACHE_DIR"); e && *e) return e;
    if (const char* e = std::getenv("XDG_CACHE_HOME"); e && *e) return std::string(e) + "/vtasos";
    if (const char* e = std::getenv("HOME"); e && *e) return std::string(e) + "/.cache/vtasos";
    return "/tmp/vtasos-cache";
}
}  // namespace

Result<std::string> pvh_kernel(const std::string& bzimage, const std::string& cache_dir) {
    struct stat st;
    if (::stat(bzimage.c_str(), &st) != 0)
        return make_error(Errc::kNotFound, fmt::format("pvh kernel: {}: no such file", bzimage));
    std::string dir = cache_dir.empty() ? default_cache_dir() : cache_dir;
    std::string base = bzimage.substr(bzimage.rfind('/') + 1);
    std::string cached = fmt::format("{}/vmlinux-{}-{}-{}", dir, base, st.st_size, st.st_mtime);
    if (access(cached.c_str(), R_OK) == 0) return cached;
    auto img = internal::read_file(bzimage);
    if (!img) return img.error().with_context("pvh kernel");
    size_t at =
        img->find(std::string("\xfd"
                              "7zXZ\0",
                              6));
    if (at == std::string::npos)
        return make_error(Errc::kUnavailable,
                          fmt::format("pvh kernel: {}: no xz-compressed payload", bzimage));
    auto xz = find_program("xz");
    if (!xz) return xz.error().with_context("pvh kernel");
    auto c = internal::run_capture({*xz, "-dc", "--single-stream"}, img->substr(at));
    if (!c || c->out.empty())
        return make_error(Errc::kUnavailable,
                          fmt::format("pvh kernel: xz could not unpack {}", bzimage));
    if (!has_pvh_note(c->out))
        return make_error(
            Errc::kUnavailable,
            fmt::format("pvh kernel: {} has no PVH entry note (CONFIG_PVH)", bzimage));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string tmp = fmt::format("{}.tmp{}", cached, getpid());
    if (auto w = internal::write_file(tmp, c->out); !w) return w.error().with_context("pvh kernel");
    if (::rename(tmp.c_str(), cached.c_str()) != 0) {
        unlink(tmp.c_str());
        return make_error(Errc::kIo,
                          fmt::format("pvh kernel: rename {}: {}", cached, std::strerror(errno)));
    }
    return cached;
}

Result<KernelBoot> parse_kernel_boot(const std::string& name) {
    if (name == "auto") return KernelBoot::kAuto;
    if (name == "bzimage") return KernelBoot::kBzImage;
    if (name == "pvh") return KernelBoot::kPvh;
    return make_error(Errc::kInvalidArgument,
                      fmt::format("kernel boot: expected auto, bzimage or pvh, got '{}'", name));
}

std::vector<std::string> qemu_argv(const QemuConfig& cfg, const std::string& qemu_path) {
    bool kvm = cfg.accel == Accel::kKvm;
    std::vector<std::string> a{qemu_path,
                               "-accel",
                               kvm ? "kvm" : "tcg,thread=multi",
                               "-cpu",
                               kvm ? "host" : "max",
                               "-smp",
                               std::to_string(cfg.cpus),
                               "-m",
                               std::to_string(cfg.memory_mb),
                               "-nodefaults",
                               "-no-user-config",
                               "-display",
                               "none",
                               "-monitor",
                               "none",
                               "-no-reboot"};
    if (cfg.console_socket.empty() && !cfg.console_log.empty()) {
        a.insert(a.end(), {"-serial", "file:" + cfg.console_log});
    } else if (cfg.console_socket.empty()) {
        a.insert(a.end(), {"-serial", "stdio"});
    } else {
        a.insert(a.end(), {"-chardev", fmt::format("socket,id=con0,path={},server=off",
                                                   cfg.console_socket),
                           "-serial", "chardev:con0"});
    }
    if (!cfg.channel_socket.empty())
        a.insert(a.end(),
                 {"-device", "virtio-serial-pci,id=vser0", "-chardev",
                  fmt::format("socket,id=vch0,path={},server=off", cfg.channel_socket), "-device",
                  fmt::format("virtserialport,bus=vser0.0,chardev=vch0,name={}", kChannelName)});
    if (cfg.boot) {
        std::vector<std::string> cmd{"console=ttyS0", "quiet", "panic=-1"};
        if (!cfg.channel_socket.empty()) cmd.push_back("vtasos.channel=1");  // init waits for it
        cmd.insert(cmd.end(), cfg.append.begin(), cfg.append.end());
        a.insert(a.end(),
                 {"-kernel", cfg.kernel, "-initrd", cfg.initrd, "-append", join(cmd, " ")});
    }
    if (!cfg.qmp_socket.empty())
        a.insert(a.end(), {"-qmp", fmt::format("unix:{},server=on,wait=off", cfg.qmp_socket)});
    if (cfg.paused) a.push_back("-S");
    return a;
}

QemuProcess& QemuProcess::operator=(QemuProcess&& o) noexcept {
    if (this != &o) {
        kill_and_wait();
        pid_ = std::exchange(o.pid_, -1);
        out_fd_ = std::exchange(o.out_fd_, -1);
        reaped_ = std::exchange(o.reaped_, false);
    }
    return *this;
}

QemuProcess::~QemuProcess() { kill_and_wait(); }

int QemuProcess::kill_and_wait() {
    int status = -1;
    if (pid_ > 0 && !reaped_) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
    }
    if (out_fd_ >= 0) close(out_fd_);
    out_fd_ = -1;
    return status;
}

bool QemuProcess::try_wait(int* status) {
    if (pid_ <= 0 || reaped_) return true;
    pid_t r = waitpid(pid_, status, WNOHANG);
    if (r == pid_) {
        reaped_ = true;
        ::kill(-pid_, SIGKILL);  // anything QEMU left in its group
        return true;
    }
    return false;
}

Result<QemuProcess> launch_qemu(const QemuConfig& cfg) {
    auto qemu = find_program(cfg.qemu);
    if (!qemu) return qemu.error().with_context("launch QEMU");
    QemuConfig c = cfg;
    if (c.boot) {
        if (c.kernel.empty()) {
            auto k = find_kernel();
            if (!k) return k.error().with_context("launch QEMU");
            c.kernel = *k;
        } else if (access(c.kernel.c_str(), R_OK) != 0) {
            return make_error(Errc::kNotFound, fmt::format("launch QEMU: kernel {}: {}", c.kernel,
                                                           std::strerror(errno)));
        }
        if (access(c.initrd.c_str(), R_OK) != 0)
            return make_error(Errc::kNotFound, fmt::format("launch QEMU: initrd {}: {}", c.initrd,
                                                           std::strerror(errno)));
    }
    auto argv = qemu_argv(c, *qemu);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return make_error(Errc::kIo, fmt::format("launch QEMU: pipe: {}", std::strerror(errno)));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return make_error(Errc::kIo, fmt::format("launch QEMU: fork: {}", std::strerror(errno)));
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the launcher
        if (getppid() != parent) _exit(127);
        sigset_t none;  // a launcher blocking signals for signalfd (vtasosd) must not pass it on
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(p[1], 1);
        std::vector<char*> av;
        for (auto& x : argv) av.push_back(const_cast<char*>(x.c_str()));
        av.push_back(nullptr);
        execv(av[0], av.data());
        _exit(127);
    }
    setpgid(pid, pid);
    close(p[1]);
    return QemuProcess(pid, p[0]);
}

namespace {
// Minimal QMP client: one JSON object per line.
class Qmp {
public:
    ~Qmp() {
        if (fd_ >= 0) close(fd_);
    }
    Status connect(const std::string& path, std::chrono::milliseconds timeout) {
        auto deadline = Clock::now() + timeout;
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (path.size() >= sizeof sa.sun_path)
            return make_error(Errc::kInvalidArgument,
                              fmt::format("QMP socket path too long: {}", path));
        std::strcpy(sa.sun_path, path.c_str());
        for (;;) {
            fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) break;
            int e = errno;
            close(fd_);
            fd_ = -1;
            if (Clock::now() >= deadline)
                return make_error(Errc::kTimeout,
                                  fmt::format("QMP connect {}: {}", path, std::strerror(e)));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        deadline_ = deadline;
        auto greeting = read_json();
        if (!greeting) return greeting.error();
        if (!greeting->contains("QMP"))
            return make_error(Errc::kProtocol, "QMP: unexpected greeting " + greeting->dump());
        auto caps = execute("qmp_capabilities");
        if (!caps) return caps.error();
        return {};
    }
    Result<nlohmann::json> execute(const std::string& cmd) {
        std::string msg = nlohmann::json{{"execute", cmd}}.dump() + "\n";
        if (::send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL) != ssize_t(msg.size()))
            return make_error(Errc::kIo,
                              fmt::format("QMP {}: send: {}", cmd, std::strerror(errno)));
        for (;;) {  // skip asynchronous events
            auto j = read_json();
            if (!j) return j.error().with_context("QMP " + cmd);
            if (j->contains("return")) return (*j)["return"];
            if (j->contains("error"))
                return make_error(Errc::kProtocol,
                                  fmt::format("QMP {}: {}", cmd, (*j)["error"].dump()));
        }
    }

private:
    Result<nlohmann::json> read_json() {
        for (;;) {
            size_t nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                auto j = nlohmann::json::parse(line, nullptr, false);
                if (j.is_discarded())
                    return make_error(Errc::kProtocol, "QMP: malformed JSON: " + line);
                return j;
            }
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0)
                return make_error(Errc::kTimeout, "QMP: no reply in time");
            char b[4096];
            ssize_t r = read(fd_, b, sizeof b);
            if (r <= 0) return make_error(Errc::kIo, "QMP: connection closed");
            buf_.append(b, size_t(r));
        }
    }
    int fd_ = -1;
    std::string buf_;
    Clock::time_point deadline_;
};
}  // namespace

Result<std::vector<VcpuThread>> qmp_vcpu_threads(const std::string& socket,
                                                 std::chrono::milliseconds timeout) {
    Qmp q;
    if (auto s = q.connect(socket, timeout); !s) return s.error();
    auto r = q.execute("query-cpus-fast");
    if (!r) return r.error();
    std::vector<VcpuThread> out;
    if (!r->is_array()) return make_error(Errc::kProtocol, "query-cpus-fast: not an array");
    for (auto& c : *r) {
        if (!c.contains("cpu-index") || !c.contains("thread-id"))
            return make_error(Errc::kProtocol,
                              "query-cpus-fast: entry without cpu-index/thread-id: " + c.dump());
        out.push_back({c["cpu-index"].get<int>(), c["thread-id"].get<pid_t>()});
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.cpu_index < b.cpu_index; });
    return out;
}

Status qmp_quit(const std::string& socket) {
    Qmp q;
    if (auto s = q.connect(socket, std::chrono::seconds(5)); !s) return s.error();
    auto r = q.execute("quit");
    if (!r && r.error().code() != Errc::kIo) return r.error();  // QEMU may close first
    return {};
}

Status qmp_cont(const std::string& socket) {
    Qmp q;
    if (auto s = q.connect(socket, std::chrono::seconds(5)); !s) return s.error();
    auto r = q.execute("cont");
    if (!r) return r.error();
    return {};
}

Status pin_thread(pid_t tid, int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("pin thread {}: bad cpu {}", tid, cpu));
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(tid, sizeof set, &set) != 0) {
        int e = errno;
        return make_error(e == EPERM   ? Errc::kPermissionDenied
                          : e == ESRCH ? Errc::kNotFound
                                       : Errc::kInvalidArgument,
                          fmt::format("pin thread {} to cpu {}: {}", tid, cpu, std::strerror(e)));
    }
    return {};
}

namespace {
std::vector<CpioEntry> run_overlay(const RunOptions& opt) {
    auto nul = [](const std::vector<std::string>& w) {
        std::string s;
        for (auto& x : w) {
            s += x;
            s.push_back('\0');
        }
        return s;
    };
    std::vector<CpioEntry> e{{"vtasos", S_IFDIR | 0755, ""}, {"vtasos/run", S_IFDIR | 0755, ""}};
    if (opt.args_given) e.push_back({"vtasos/run/args", S_IFREG | 0644, nul(opt.args)});
    e.push_back({"vtasos/run/env", S_IFREG | 0644, nul(opt.env)});
    return e;
}
struct TempFile {
    std::string path;
    ~TempFile() {
        if (!path.empty()) unlink(path.c_str());
    }
};
}  // namespace

Result<QemuConfig> prepare_boot(const RunOptions& opt, Accel accel, const std::string& initrd_out,
                                std::string* kernel_note) {
    auto img = internal::read_file(opt.image);
    if (!img) return img.error();
    for (auto& e : opt.env)
        if (e.find('=') == std::string::npos || e.front() == '=')
            return make_error(Errc::kInvalidArgument,
                              fmt::format("--env '{}': expected KEY=VALUE", e));
    for (auto* p : {&opt.qemu.console_socket, &opt.qemu.channel_socket, &opt.qemu.console_log})
        if (p->find(',') != std::string::npos)  // QEMU's option syntax would split it
            return make_error(Errc::kInvalidArgument,
                              fmt::format("socket path {}: must not contain ','", *p));
    // The run-time arguments travel as a second cpio archive appended to the image:
    // the kernel unpacks concatenated archives in order, so nothing is quoted on the cmdline.
    std::string data = std::move(*img);
    while (data.size() % 4) data.push_back('\0');
    data += write_cpio(run_overlay(opt));
    if (auto s = internal::write_file(initrd_out, data); !s) return s.error();

    QemuConfig cfg = opt.qemu;
    cfg.initrd = initrd_out;
    if (auto q = find_program(cfg.qemu); !q) return q.error();
    if (cfg.kernel.empty()) {
        auto k = find_kernel();
        if (!k) return k.error();
        cfg.kernel = *k;
    } else if (access(cfg.kernel.c_str(), R_OK) != 0) {
        return make_error(Errc::kNotFound,
                          fmt::format("kernel {}: {}", cfg.kernel, std::strerror(errno)));
    }
    if (opt.boot != KernelBoot::kBzImage) {
        auto pvh = pvh_kernel(cfg.kernel);
        if (pvh) {
            cfg.kernel = *pvh;
        } else if (opt.boot == KernelBoot::kPvh) {
            return pvh.error();
        } else if (kernel_note) {
            *kernel_note = pvh.error().message();
        }
    }
    cfg.accel = accel;
    auto words = timer_cmdline(opt.timer, cfg.cpus);
    cfg.append.insert(cfg.append.begin(), words.begin(), words.end());
    return cfg;
}

Result<RunResult> run_image(const RunOptions& opt) {
    auto ctx = [](const Error& e) { return e.with_context("vtasos-image run"); };
    RunResult res;
    res.accel = opt.force_accel ? AccelDecision{*opt.force_accel, opt.accel_reason.empty()
                                                                      ? "chosen by the caller"
                                                                      : opt.accel_reason}
                                : probe_accelerator();
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = fmt::format("{}/vtasos-initrd-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(tmpl.data());
    if (fd < 0)
        return ctx(
            make_error(Errc::kIo, fmt::format("mkstemp {}: {}", tmpl, std::strerror(errno))));
    close(fd);
    TempFile initrd{tmpl};
    auto prepared = prepare_boot(opt, res.accel.accel, initrd.path, &res.kernel_note);
    if (!prepared) return ctx(prepared.error());
    QemuConfig cfg = std::move(*prepared);
    res.kernel = cfg.kernel;
    auto t0 = Clock::now();
    auto q = launch_qemu(cfg);
    if (!q) return ctx(q.error());
    auto deadline = t0 + opt.timeout;
    std::string line;
    std::optional<int> status;
    auto on_line = [&](const std::string& l) {
        if (l.rfind(kStartMarker, 0) == 0) {
            res.host_seconds_to_app_start = seconds_since(t0);
            auto u = l.find("uptime=");
            if (u != std::string::npos)
                res.guest_uptime_at_app_start = std::atof(l.c_str() + u + 7);
        } else if (l.rfind(kExitMarker, 0) == 0) {
            if (auto s = l.find("status="); s != std::string::npos)
                status = std::atoi(l.c_str() + s + 7);
            else if (auto g = l.find("signal="); g != std::string::npos)
                status = 128 + std::atoi(l.c_str() + g + 7);
        }
    };
    char buf[8192];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            pid_t pid = q->pid();
            q->kill_and_wait();
            return ctx(
                make_error(Errc::kTimeout,
                           fmt::format("{}: guest did not power off within {} s; QEMU (pid {}) "
                                       "and its process group were killed",
                                       opt.image, opt.timeout.count(), pid)));
        }
        pollfd p{q->serial_fd(), POLLIN, 0};
        int r = poll(&p, 1, int(std::min<long>(left.count(), 1000)));
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        ssize_t n = read(q->serial_fd(), buf, sizeof buf);
        if (n <= 0) break;  // QEMU closed the serial: it is exiting
        std::string chunk;
        for (ssize_t i = 0; i < n; ++i)
            if (buf[i] != '\r') chunk.push_back(buf[i]);
        res.serial += chunk;
        if (opt.out_fd >= 0) (void)!write(opt.out_fd, chunk.data(), chunk.size());
        for (char c : chunk) {
            if (c == '\n') {
                on_line(line);
                line.clear();
            } else {
                line.push_back(c);
            }
        }
    }
    if (!line.empty()) on_line(line);
    int wstatus = 0;
    // QEMU closes the serial as it exits; give it the rest of the deadline to finish.
    while (!q->try_wait(&wstatus)) {
        if (Clock::now() >= deadline) {
            q->kill_and_wait();
            return ctx(make_error(Errc::kTimeout,
                                  "QEMU did not exit after the guest powered off; killed"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    res.host_seconds_total = seconds_since(t0);
    if (!status)
        return ctx(make_error(
            Errc::kProtocol,
            fmt::format("{}: guest stopped without the {} line (QEMU exit status {}); "
                        "see the console output above",
                        opt.image, kExitMarker, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)));
    res.exit_status = *status;
    return res;
}

}  // namespace vtasos::image
