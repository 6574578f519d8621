// Guest program for the VM tenant tests (runs inside a vtasos-image guest):
//   teams N MS   N OpenMP regions of about MS ms each; prints "team=T" when the team size
//                changes and "last_team=T" at the end (advice through the channel shrinks it)
//   spin MS      a deterministic computation of about MS ms; prints SUCCESSFUL when the
//                result matches its closed form (a frozen and thawed guest still finishes)
//   garbage      writes malformed and foreign-tenant requests to the vtasosd channel and
//                prints every reply as "reply: LINE"
#include <fcntl.h>
#include <omp.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

int teams(int n, int ms) {
    int last = -1;
    for (int r = 0; r < n; ++r) {
        int team = 0;
        double until = now_ms() + ms;
#pragma omp parallel
        {
#pragma omp single
            team = omp_get_num_threads();
            volatile double x = 0;
            while (now_ms() < until) x = x + 1;
        }
        if (team != last) std::printf("team=%d region=%d\n", team, r);
        last = team;
    }
    std::printf("last_team=%d\n", last);
    return 0;
}

int spin(int ms) {
    // Sum of 1..k for as many k as fit in `ms`; checked against k(k+1)/2.
    double until = now_ms() + ms;
    unsigned long long k = 0, sum = 0;
    while (now_ms() < until)
        for (int i = 0; i < 10000; ++i) sum += ++k;
    // k(k+1)/2 modulo 2^64, as the sum wraps: halve the even factor first.
    unsigned long long expect = k % 2 == 0 ? (k / 2) * (k + 1) : k * ((k + 1) / 2);
    bool ok = sum == expect;
    std::printf("spin: k=%llu %s\n", k, ok ? "SUCCESSFUL" : "FAILED");
    return ok ? 0 : 1;
}

int garbage() {
    const char* path = "/dev/virtio-ports/org.vtasos.0";
    int fd = open(path, O_RDWR | O_NOCTTY);
    if (fd < 0) {
        std::printf("garbage: open %s: %s\n", path, std::strerror(errno));
        return 2;
    }
    const char* lines[] = {
        "this is not json\n",
        "{\"v\":1,\"id\":2,\"op\":\"release\",\"tenant\":\"victim\"}\n",
        "{\"v\":1,\"id\":3,\"op\":\"freeze\",\"tenant\":\"victim\"}\n",
        "{\"v\":1,\"id\":4,\"op\":\"status\"}\n",
        "{\"v\":1,\"id\":5,\"op\":\"thaw_all\"}\n",
        "{\"v\":1,\"id\":6,\"op\":\"register\",\"tenant\":\"victim\",\"pids\":[1]}\n",
        "{\"v\":1,\"id\":7,\"op\":\"advice\",\"tenant\":\"victim\"}\n",
        ("{\"v\":1,\"id\":8,\"op\":\"update\",\"tenant\":\"victim\",\"observations\":{\"threads\":-"
         "5}}\n"),
    };
    const int expected = sizeof lines / sizeof lines[0];
    for (const char* l : lines)
        if (write(fd, l, std::strlen(l)) < 0)
            std::printf("garbage: write: %s\n", std::strerror(errno));
    std::string buf;
    int replies = 0;
    double until = now_ms() + 20000;
    while (replies < expected && now_ms() < until) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 500) <= 0) continue;
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) break;
        buf.append(tmp, size_t(n));
        size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::printf("reply: %s\n", buf.substr(0, nl).c_str());
            buf.erase(0, nl + 1);
            ++replies;
        }
    }
    std::printf("garbage: %d replies\n", replies);
    close(fd);
    return replies == expected ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "teams" && argc > 3) return teams(std::atoi(argv[2]), std::atoi(argv[3]));
    if (mode == "spin" && argc > 2) return spin(std::atoi(argv[2]));
    if (mode == "garbage") return garbage();
    std::fprintf(stderr, "usage: %s teams N MS | spin MS | garbage\n", argv[0]);
    return 64;
}
