// Tiny misbehaving program for the runner tests:
//   bench_test_helper sleep            sleeps forever
//   bench_test_helper abort            prints to stderr, then abort()s
//   bench_test_helper exit N           prints "hello" to stdout, exits N
//   bench_test_helper spam BYTES       writes BYTES bytes of 'x' to stdout
//   bench_test_helper grandchild       forks a child that sleeps forever, then sleeps forever
//   bench_test_helper env NAME         prints the value of NAME or "<unset>"
//   bench_test_helper ignore-term      ignores SIGTERM and sleeps forever (needs SIGKILL)
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    std::string what = argv[1];
    if (what == "sleep") {
        for (;;) pause();
    }
    if (what == "abort") {
        std::fprintf(stderr, "helper: about to abort\n");
        std::fflush(stderr);
        std::abort();
    }
    if (what == "exit" && argc > 2) {
        std::printf("hello\n");
        return std::atoi(argv[2]);
    }
    if (what == "spam" && argc > 2) {
        long n = std::atol(argv[2]);
        std::string chunk(4096, 'x');
        while (n > 0) {
            long k = n < 4096 ? n : 4096;
            std::fwrite(chunk.data(), 1, static_cast<size_t>(k), stdout);
            n -= k;
        }
        return 0;
    }
    if (what == "grandchild") {
        if (fork() == 0) {
            for (;;) pause();
        }
        for (;;) pause();
    }
    if (what == "env" && argc > 2) {
        const char* v = std::getenv(argv[2]);
        std::printf("%s\n", v ? v : "<unset>");
        return 0;
    }
    if (what == "ignore-term") {
        signal(SIGTERM, SIG_IGN);
        for (;;) pause();
    }
    return 2;
}
