// Small process and file helpers.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "internal.h"

namespace vtasos::image::internal {

Result<Captured> run_capture(const std::vector<std::string>& argv, const std::string& input,
                             const std::vector<std::string>& env) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return make_error(Errc::kIo, fmt::format("pipe: {}", std::strerror(errno)));
    pid_t pid = fork();
    if (pid < 0) return make_error(Errc::kIo, fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        for (auto& e : env) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> av;
        for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
        av.push_back(nullptr);
        execv(av[0], av.data());
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    Captured c;
    size_t written = 0;
    int wfd = in[1];
    if (input.empty()) {
        close(wfd);
        wfd = -1;
    } else {
        fcntl(wfd, F_SETFL, O_NONBLOCK);
    }
    signal(SIGPIPE, SIG_IGN);
    bool out_open = true, err_open = true;
    char buf[65536];
    while (out_open || err_open || wfd >= 0) {
        pollfd p[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                       {err_open ? err[0] : -1, POLLIN, 0},
                       {wfd, POLLOUT, 0}};
        if (poll(p, 3, -1) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (!p[i].revents) continue;
            ssize_t r = read(p[i].fd, buf, sizeof buf);
            if (r > 0) {
                (i == 0 ? c.out : c.err).append(buf, static_cast<size_t>(r));
            } else {
                (i == 0 ? out_open : err_open) = false;
            }
        }
        if (wfd >= 0 && p[2].revents) {
            ssize_t w = write(wfd, input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            if (w < 0 || written == input.size()) {
                close(wfd);
                wfd = -1;
            }
        }
    }
    close(out[0]);
    close(err[0]);
    while (waitpid(pid, &c.status, 0) < 0 && errno == EINTR) {
    }
    return c;
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return make_error(errno == ENOENT ? Errc::kNotFound : Errc::kIo,
                          fmt::format("read {}: {}", path, std::strerror(errno)));
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

Status write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) return make_error(Errc::kIo, fmt::format("write {}: {}", path, std::strerror(errno)));
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!f) return make_error(Errc::kIo, fmt::format("write {}: short write", path));
    return {};
}

}  // namespace vtasos::image::internal
