#include "test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "internal/derive.h"

extern char** environ;

namespace vtasos::ompt::test {

ProcResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               int timeout_s, const std::function<void(const std::string& out)>& on_out) {
    ProcResult r;
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        if (kv.rfind("OMP_TOOL", 0) == 0 || kv.rfind("VTASOS_", 0) == 0 ||
            kv.rfind("LD_PRELOAD=", 0) == 0 || kv.rfind("OMP_NUM_THREADS=", 0) == 0)
            continue;
        envs.push_back(kv);
    }
    for (const auto& e : env) envs.push_back(e);
    std::vector<char*> envp, av;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        r.err = std::string("spawn failed: ") + std::strerror(rc);
        return r;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    bool killed = false;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[4096];
    while (open_fds > 0) {
        int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
        if (ms <= 0 && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        int n = poll(fds, 2, ms > 0 ? ms : 100);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k > 0) {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(k));
                if (i == 0 && on_out) on_out(r.out);
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::string temp_dir(const std::string& tag) {
    static std::atomic<int> n{0};
    const char* base = std::getenv("TMPDIR");
    std::string dir = std::string(base ? base : "/tmp") + "/vtasos-ompt-test-" +
                      std::to_string(getpid()) + "-" + tag + "-" + std::to_string(n++);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::optional<Profile> read_profile(const std::string& path) {
    auto text = read_file(path);
    if (!text) {
        ADD_FAILURE() << "no profile at " << path;
        return std::nullopt;
    }
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded()) {
        ADD_FAILURE() << "profile is not JSON: " << *text;
        return std::nullopt;
    }
    auto p = Profile::from_json(j);
    if (!p) {
        ADD_FAILURE() << "profile invalid: " << p.error().to_string() << "\n" << *text;
        return std::nullopt;
    }
    return *p;
}

long note_count(const Profile& p, const std::string& key) {
    auto m = parse_note(p.note);
    auto it = m.find(key);
    if (it == m.end()) return -1;
    return std::strtol(it->second.c_str(), nullptr, 10);
}

std::vector<std::string> tool_lines(const std::string& text) {
    std::vector<std::string> r;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.find("vtasos-ompt") != std::string::npos) r.push_back(line);
    return r;
}

}  // namespace vtasos::ompt::test
