// Stand-in for vtasosctl in vtasos-bench tests:
//   fake_vtasosctl --socket S status
//   fake_vtasosctl --socket S run [--cpus N] [--coexist L] [--gang] [--feedback] -- PROG ARGS...
//   fake_vtasosctl run --help       (lists --gang/--feedback only when FAKE_VTASOSCTL_GANG=1)
// `status` and `run` first connect to S (exit 1 when nobody listens); `run` then execs PROG, so
// the exit status passes through like the real vtasosctl's. `run` records its CPU count in the
// environment variable FAKE_VTASOS_CPUS for PROG.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
bool can_connect(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}
}  // namespace

int main(int argc, char** argv) {
    std::string socket_path;
    int i = 1;
    if (i + 1 < argc && !std::strcmp(argv[i], "--socket")) {
        socket_path = argv[i + 1];
        i += 2;
    }
    if (i >= argc) return 2;
    std::string cmd = argv[i++];
    if (cmd == "run" && i < argc && !std::strcmp(argv[i], "--help")) {
        std::printf(
            "Usage: vtasosctl run [--cpus N] [--coexist none|core|socket|node]%s -- PROGRAM\n",
            std::getenv("FAKE_VTASOSCTL_GANG") ? " [--gang] [--feedback]" : "");
        return 0;
    }
    if (!can_connect(socket_path)) {
        std::fprintf(stderr, "fake_vtasosctl: cannot connect to %s\n", socket_path.c_str());
        return 1;
    }
    if (cmd == "status") {
        std::printf("tenants: 0\n");
        return 0;
    }
    if (cmd != "run") return 2;
    for (; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--")) {
            ++i;
            break;
        }
        if (!std::strcmp(argv[i], "--cpus") && i + 1 < argc)
            setenv("FAKE_VTASOS_CPUS", argv[i + 1], 1);
    }
    if (i >= argc) return 2;
    execvp(argv[i], argv + i);
    std::perror("fake_vtasosctl: exec");
    return 127;
}
