// Stand-in for vtasosd in vtasos-bench tests. Like the real daemon it forks into the background
// once it serves, unless given --foreground:
//   fake_vtasosd --socket S --state F [--foreground] [--pid-file P]
// listens on the Unix socket S and accepts (and closes) connections until SIGTERM.
// Environment: FAKE_VTASOSD_FAIL=1 exits 1 at once with a message (a daemon that cannot start);
// FAKE_VTASOSD_NO_FOREGROUND=1 leaves --foreground out of --help (an older daemon);
// FAKE_VTASOSD_PID_COPY=PATH writes the serving pid there too (tests check it is gone later).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

void write_pid(const char* path) {
    if (!path || !*path) return;
    if (FILE* f = std::fopen(path, "w")) {
        std::fprintf(f, "%d\n", static_cast<int>(getpid()));
        std::fclose(f);
    }
}
}  // namespace

int main(int argc, char** argv) {
    std::string socket_path, pid_file;
    bool foreground = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--help")) {
            std::printf("Usage: fake_vtasosd --socket S --state F%s [--pid-file P]\n",
                        std::getenv("FAKE_VTASOSD_NO_FOREGROUND") ? "" : " [--foreground]");
            return 0;
        }
        if (!std::strcmp(argv[i], "--foreground")) foreground = true;
        if (i + 1 < argc && !std::strcmp(argv[i], "--socket")) socket_path = argv[i + 1];
        if (i + 1 < argc && !std::strcmp(argv[i], "--pid-file")) pid_file = argv[i + 1];
    }
    if (std::getenv("FAKE_VTASOSD_FAIL")) {
        std::fprintf(stderr, "fake_vtasosd: cannot open cgroup root: Read-only file system\n");
        return 1;
    }
    if (socket_path.empty()) return 2;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    unlink(socket_path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("fake_vtasosd: bind");
        return 1;
    }
    usleep(50000);  // the socket file exists before listen(), as with a real daemon
    if (listen(fd, 16) != 0) {
        std::perror("fake_vtasosd: listen");
        return 1;
    }
    if (!foreground) {
        pid_t pid = fork();
        if (pid > 0) return 0;  // the parent reports "ready" by exiting
        setsid();
    }
    struct sigaction sa {};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, nullptr);
    write_pid(pid_file.c_str());
    write_pid(std::getenv("FAKE_VTASOSD_PID_COPY"));
    std::fprintf(stderr, "fake_vtasosd: listening on %s\n", socket_path.c_str());
    while (!g_stop) {
        int c = accept(fd, nullptr, nullptr);
        if (c >= 0) close(c);
    }
    unlink(socket_path.c_str());
    return 0;
}
