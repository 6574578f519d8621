// Test harness: a real vtasosd on a temporary socket, state file and cgroup
// parent, plus helpers for raw socket I/O and child processes. Shared by the
// daemon, client and vtasosctl integration tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vtasos::testing {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A connected Unix stream socket speaking raw lines.
class RawConn {
public:
    RawConn() = default;
    explicit RawConn(const std::string& path) { connect(path); }
    RawConn(RawConn&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
    ~RawConn() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connect(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
        return fd_ >= 0;
    }
    bool ok() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    // Sends everything; false if the peer closed.
    bool send(std::string_view data) {
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            off += static_cast<size_t>(n);
        }
        return true;
    }
    // One reply line (without '\n'), or nullopt on timeout / close.
    std::optional<std::string> read_line(int timeout_ms = 5000) {
        auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            auto nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            int left = static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    .count());
            if (left <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, left) <= 0) continue;
            char tmp[65536];
            ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
            if (n <= 0) return std::nullopt;
            buf_.append(tmp, static_cast<size_t>(n));
        }
    }
    std::optional<json> call(json req, int timeout_ms = 5000) {
        static int64_t next = 1000;
        if (!req.contains("v")) req["v"] = 1;
        if (!req.contains("id")) req["id"] = ++next;
        if (!send(req.dump() + "\n")) return std::nullopt;
        auto line = read_line(timeout_ms);
        if (!line) return std::nullopt;
        return json::parse(*line, nullptr, false);
    }

private:
    int fd_ = -1;
    std::string buf_;
};

// A child process that sleeps (or spins) until killed; dies with the test.
class Child {
public:
    enum Mode { kSleep, kSpin };
    explicit Child(Mode mode = kSleep) {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (mode == kSpin) {
                volatile unsigned long x = 0;
                for (;;) x = x + 1;
            }
            for (;;) ::pause();
        }
    }
    Child(const Child&) = delete;
    ~Child() { kill(); }
    pid_t pid() const { return pid_; }
    void kill() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

private:
    pid_t pid_ = -1;
};

// utime + stime of a process in clock ticks (/proc/PID/stat fields 14, 15).
inline long long cpu_ticks(pid_t pid) {
    std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = s.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream in(s.substr(close + 2));
    std::string f;
    long long ut = 0, st = 0;
    for (int i = 3; i <= 15; ++i) {
        in >> f;
        if (i == 14) ut = std::stoll(f);
        if (i == 15) st = std::stoll(f);
    }
    return ut + st;
}

inline std::string cpus_allowed_list(pid_t pid) {
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Cpus_allowed_list:", 0) == 0) {
            auto v = line.substr(line.find(':') + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "";
}

// A vtasosd child process on private paths. Runs as root on the real cgroup
// tree under a unique parent, so it cannot disturb a production daemon.
class Daemon {
public:
    Daemon() {
        char tmpl[] = "/tmp/vtasos-daemon-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        ::chmod(dir_.c_str(), 0755);  // other uids (nobody) must reach the socket
        socket_ = dir_ + "/vtasosd.sock";
        state_ = dir_ + "/state.json";
        log_ = dir_ + "/vtasosd.log";
        static int n = 0;
        parent_ = "vtasos-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    }
    ~Daemon() {
        stop();
        std::error_code ec;
        if (!::getenv("VTASOS_KEEP_TEST_DIR")) std::filesystem::remove_all(dir_, ec);
        // A test that killed its daemon leaves tenant cgroups behind: thaw and
        // remove them (their processes are gone by now), then the parent.
        for (const char* c : {"cpuset", "freezer", ""}) {
            std::string p = std::string("/sys/fs/cgroup/") + c + (*c ? "/" : "") + parent_;
            for (const auto& child : std::filesystem::directory_iterator(p, ec)) {
                if (!child.is_directory(ec)) continue;
                std::ofstream(child.path() / "freezer.state") << "THAWED";
                ::rmdir(child.path().c_str());
            }
            ::rmdir(p.c_str());
        }
    }
    const std::string& socket() const { return socket_; }
    const std::string& state() const { return state_; }
    const std::string& dir() const { return dir_; }
    const std::string& parent() const { return parent_; }
    std::string log() const { return read_file(log_); }
    pid_t pid() const { return pid_; }

    // Starts the daemon and waits until it answers hello. Extra flags appended.
    bool start(std::vector<std::string> extra = {}, int wait_ms = 10000) {
        std::vector<std::string> args = {
            VTASOSD_PATH,      "--foreground", "--socket",      socket_, "--state",     state_,
            "--cgroup-parent", parent_,        "--socket-mode", "0666",  "--log-level", "debug"};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = ::fork();
        if (pid_ == 0) {
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
        while (Clock::now() < deadline) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                exit_status_ = st;
                pid_ = -1;
                return false;
            }
            RawConn c;
            if (c.connect(socket_)) {
                auto r = c.call({{"op", "hello"}}, 2000);
                if (r && r->value("ok", false)) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    // SIGTERM and wait; returns the exit status (as from waitpid) or -1.
    int stop(int sig = SIGTERM) {
        if (pid_ <= 0) return exit_status_;
        ::kill(pid_, sig);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        exit_status_ = st;
        return st;
    }
    int kill9() { return stop(SIGKILL); }
    // Exit status of a daemon that stopped by itself (start() returned false).
    int exit_status() const { return exit_status_; }

    // cgroup directory of a tenant under any controller (v1 cpuset/freezer or v2).
    bool cgroup_exists(const std::string& tenant) const {
        for (const char* c : {"cpuset", "freezer", ""}) {
            std::string p =
                std::string("/sys/fs/cgroup/") + c + (*c ? "/" : "") + parent_ + "/" + tenant;
            struct stat st {};
            if (::stat(p.c_str(), &st) == 0) return true;
        }
        return false;
    }

private:
    std::string dir_, socket_, state_, log_, parent_;
    pid_t pid_ = -1;
    int exit_status_ = -1;
};

// Whether this process may manage cgroups (root and a writable cgroup tree).
inline bool can_use_cgroups() {
    if (::geteuid() != 0) return false;
    return ::access("/sys/fs/cgroup/cpuset", W_OK) == 0 ||
           ::access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0;
}

// Polls `pred` every 10 ms until true or `timeout_ms` passes.
template <typename F>
bool eventually(F pred, int timeout_ms = 2000) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

}  // namespace vtasos::testing
