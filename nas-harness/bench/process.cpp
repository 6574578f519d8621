#include "process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>

#include "util.h"

extern char** environ;

namespace vtasos::bench {
namespace {

volatile std::sig_atomic_t g_interrupt = 0;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Everything exec needs, prepared before fork (the child must not allocate).
struct ExecPlan {
    std::string path;
    std::vector<std::string> argv_store, env_store;
    std::vector<char*> argv, envp;
};

Result<ExecPlan> plan_exec(const ProcessSpec& spec) {
    if (spec.argv.empty()) return make_error(Errc::kInvalidArgument, "run: empty command line");
    auto exe = find_in_path(spec.argv[0]);
    if (!exe)
        return make_error(Errc::kNotFound,
                          "run: '" + spec.argv[0] + "' is not an executable file" +
                              (spec.argv[0].find('/') == std::string::npos ? " in $PATH" : ""));
    ExecPlan p;
    p.path = exe->string();
    p.argv_store = spec.argv;
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq == std::string::npos) continue;
        env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& name : spec.unset_env) env.erase(name);
    for (const auto& [k, v] : spec.set_env) env[k] = v;
    for (const auto& [k, v] : env) p.env_store.push_back(k + "=" + v);
    for (auto& s : p.argv_store) p.argv.push_back(s.data());
    p.argv.push_back(nullptr);
    for (auto& s : p.env_store) p.envp.push_back(s.data());
    p.envp.push_back(nullptr);
    return p;
}

// fork + exec with the child's stdout/stderr on out_fd/err_fd, in a new process group.
// Exec failure is reported through a close-on-exec pipe.
Result<pid_t> spawn_plan(ExecPlan& plan, int out_fd, int err_fd) {
    int errpipe[2];
    if (::pipe2(errpipe, O_CLOEXEC) != 0)
        return make_error(Errc::kIo, std::string("run: pipe: ") + std::strerror(errno));
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        ::close(errpipe[0]);
        ::close(errpipe[1]);
        return make_error(Errc::kIo, std::string("run: fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
        int e = errno;
        ssize_t w = ::write(errpipe[1], &e, sizeof e);
        (void)w;
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also done by the child; whichever runs first wins
    ::close(errpipe[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(errpipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    ::close(errpipe[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int st;
        ::waitpid(pid, &st, 0);
        return make_error(Errc::kIo,
                          "run: cannot execute " + plan.path + ": " + std::strerror(child_errno));
    }
    return pid;
}

void append_capped(std::string& dst, const char* data, size_t n, size_t limit) {
    dst.append(data, n);
    if (dst.size() > limit) dst.erase(0, dst.size() - limit);
}

}  // namespace

void request_interrupt() { g_interrupt = 1; }
bool interrupt_requested() { return g_interrupt != 0; }
void clear_interrupt() { g_interrupt = 0; }

std::string signal_name(int sig) {
    switch (sig) {
        case SIGHUP:
            return "SIGHUP";
        case SIGINT:
            return "SIGINT";
        case SIGQUIT:
            return "SIGQUIT";
        case SIGILL:
            return "SIGILL";
        case SIGTRAP:
            return "SIGTRAP";
        case SIGABRT:
            return "SIGABRT";
        case SIGBUS:
            return "SIGBUS";
        case SIGFPE:
            return "SIGFPE";
        case SIGKILL:
            return "SIGKILL";
        case SIGSEGV:
            return "SIGSEGV";
        case SIGPIPE:
            return "SIGPIPE";
        case SIGALRM:
            return "SIGALRM";
        case SIGTERM:
            return "SIGTERM";
        case SIGXCPU:
            return "SIGXCPU";
        default:
            return "signal " + std::to_string(sig);
    }
}

std::string ProcessOutcome::describe() const {
    std::string s;
    if (timed_out)
        s = fmt::format("timed out after {:.1f} s, killed", wall_s);
    else if (interrupted)
        s = "interrupted";
    else if (cancelled)
        s = "cancelled";
    else if (signal)
        s = "killed by " + signal_name(signal) + (core_dumped ? " (core dumped)" : "");
    else
        s = "exit " + std::to_string(exit_code);
    return s;
}

Result<ProcessOutcome> run_process(const ProcessSpec& spec) {
    auto plan = plan_exec(spec);
    if (!plan) return plan.error();
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
        return make_error(Errc::kIo, std::string("run: pipe: ") + std::strerror(errno));
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        return make_error(Errc::kIo, std::string("run: pipe: ") + std::strerror(e));
    }
    const auto t0 = Clock::now();
    auto pid = spawn_plan(*plan, out_pipe[1], err_pipe[1]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (!pid) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        return pid.error();
    }

    ProcessOutcome o;
    int fds[2] = {out_pipe[0], err_pipe[0]};
    std::string* bufs[2] = {&o.out, &o.err};
    bool exited = false;
    Clock::time_point exited_at{}, kill_at{};
    bool term_sent = false;
    const bool has_deadline = spec.timeout.count() > 0;
    const auto deadline = t0 + spec.timeout;
    char chunk[65536];

    for (;;) {
        bool any_open = fds[0] >= 0 || fds[1] >= 0;
        if (exited && !any_open) break;
        // Wait for output, at most 50 ms so that the clock and the interrupt flag are checked.
        if (any_open) {
            pollfd pfd[2];
            int n = 0;
            int idx[2];
            for (int i = 0; i < 2; ++i)
                if (fds[i] >= 0) {
                    pfd[n] = {fds[i], POLLIN, 0};
                    idx[n++] = i;
                }
            int r = ::poll(pfd, static_cast<nfds_t>(n), 50);
            if (r > 0) {
                for (int k = 0; k < n; ++k) {
                    if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                    int i = idx[k];
                    ssize_t got = ::read(fds[i], chunk, sizeof chunk);
                    if (got > 0) {
                        append_capped(*bufs[i], chunk, static_cast<size_t>(got),
                                      spec.capture_limit);
                    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                        ::close(fds[i]);
                        fds[i] = -1;
                    }
                }
            }
        } else {
            ::usleep(20000);
        }
        const auto now = Clock::now();
        if (!exited) {
            siginfo_t si{};
            si.si_pid = 0;
            if (::waitid(P_PID, static_cast<id_t>(*pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid != 0) {
                exited = true;
                exited_at = now;
            }
        }
        if (exited) {
            // Grandchildren may still hold the pipes open: give them 300 ms, then kill the
            // group (the unreaped leader keeps the group id from being reused) and stop reading.
            if (any_open && now - exited_at > std::chrono::milliseconds(300)) {
                ::kill(-*pid, SIGKILL);
                for (auto& fd : fds)
                    if (fd >= 0) {
                        ::close(fd);
                        fd = -1;
                    }
            }
            continue;
        }
        const bool cancel = spec.cancel && spec.cancel->load();
        if (!term_sent && (interrupt_requested() || cancel || (has_deadline && now >= deadline))) {
            if (interrupt_requested())
                o.interrupted = true;
            else if (cancel)
                o.cancelled = true;
            else
                o.timed_out = true;
            ::kill(-*pid, SIGTERM);
            term_sent = true;
            kill_at = now + std::chrono::milliseconds(2000);
        }
        if (term_sent && now >= kill_at) {
            ::kill(-*pid, SIGKILL);
            kill_at = now + std::chrono::hours(1);
        }
    }
    if (term_sent) ::kill(-*pid, SIGKILL);  // nothing of a killed run may linger
    int status = 0;
    while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
    o.wall_s = seconds_since(t0);
    if (WIFEXITED(status)) {
        o.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        o.signal = WTERMSIG(status);
        o.core_dumped = WCOREDUMP(status);
    }
    return o;
}

Result<Child> Child::spawn(const ProcessSpec& spec, const std::filesystem::path& log) {
    auto plan = plan_exec(spec);
    if (!plan) return plan.error();
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return make_error(Errc::kIo,
                          "cannot open log " + log.string() + ": " + std::strerror(errno));
    auto pid = spawn_plan(*plan, fd, fd);
    ::close(fd);
    if (!pid) return pid.error();
    return Child(*pid);
}

Child::~Child() { stop(); }

bool Child::running() {
    if (pid_ < 0) return false;
    int st;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = st;
        pid_ = -1;
        return false;
    }
    return true;
}

std::string Child::exit_status() const {
    if (status_ < 0) return "running";
    if (WIFEXITED(status_)) return "exit " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "killed by " + signal_name(WTERMSIG(status_));
    return "stopped";
}

bool Child::exited_ok() const {
    return status_ >= 0 && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
}

void Child::stop(std::chrono::milliseconds grace) {
    if (!running()) return;
    ::kill(-pid_, SIGTERM);
    auto until = Clock::now() + grace;
    while (Clock::now() < until) {
        if (!running()) return;
        ::usleep(20000);
    }
    ::kill(-pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
    pid_ = -1;
}

}  // namespace vtasos::bench
