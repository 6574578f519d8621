// Round trips to a real vtasosd over its Unix socket from one client through
// libvtasos-client: requests per second and latency percentiles.
// Targets (issue 3): >= 20,000 requests/s and p99 <= 1 ms.
//
//   build/bin/daemon_bench                      # starts its own vtasosd
//   VTASOS_BENCH_SOCKET=/run/vtasos/vtasosd.sock build/bin/daemon_bench   # an existing daemon
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "vtasos/client.h"
#include "vtasos/daemon/service.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string g_socket;
pid_t g_daemon = -1;
pid_t g_tenant = -1;
std::string g_dir;

struct Summary {
    std::string name;
    double rps, p50_us, p99_us, max_us;
};
std::vector<Summary> g_summary;

bool start_daemon() {
    char tmpl[] = "/tmp/vtasos-bench-XXXXXX";
    g_dir = ::mkdtemp(tmpl);
    g_socket = g_dir + "/vtasosd.sock";
    std::string parent = "vtasos-bench-" + std::to_string(::getpid());
    g_daemon = ::fork();
    if (g_daemon == 0) {
        int fd = ::open((g_dir + "/vtasosd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        ::execl(VTASOSD_PATH, VTASOSD_PATH, "--foreground", "--no-state", "--socket",
                g_socket.c_str(), "--cgroup-parent", parent.c_str(), "--log-level", "warn",
                nullptr);
        ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
        vtasos_client* c = nullptr;
        if (vtasos_connect(g_socket.c_str(), 1000, &c) == VTASOS_OK) {
            vtasos_close(c);
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

void stop_daemon() {
    if (g_tenant > 0) {
        ::kill(g_tenant, SIGKILL);
        ::waitpid(g_tenant, nullptr, 0);
    }
    if (g_daemon > 0) {
        ::kill(g_daemon, SIGTERM);
        ::waitpid(g_daemon, nullptr, 0);
    }
    if (!g_dir.empty()) std::filesystem::remove_all(g_dir);
    // The daemon releases its tenants; the (now empty) parent cgroup is ours to remove.
    std::string parent = "vtasos-bench-" + std::to_string(::getpid());
    for (const char* c : {"cpuset/", "freezer/", ""})
        ::rmdir((std::string("/sys/fs/cgroup/") + c + parent).c_str());
}

// One request line per iteration; per-iteration latency feeds the percentiles.
void round_trip(benchmark::State& state, const char* name, const char* request,
                bool refused = false) {
    vtasos_client* c = nullptr;
    if (vtasos_connect(g_socket.c_str(), 2000, &c) != VTASOS_OK) {
        state.SkipWithError(vtasos_last_error(nullptr));
        return;
    }
    std::vector<char> reply(1 << 20);
    std::vector<double> lat;
    lat.reserve(1 << 20);
    for (int i = 0; i < 200; ++i) vtasos_call(c, request, reply.data(), reply.size());  // warm up
    auto begin = Clock::now();
    for (auto _ : state) {
        auto t0 = Clock::now();
        int rc = vtasos_call(c, request, reply.data(), reply.size());
        auto t1 = Clock::now();
        if (rc != (refused ? VTASOS_E_REFUSED : VTASOS_OK)) {
            state.SkipWithError(vtasos_last_error(c));
            break;
        }
        lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    double secs = std::chrono::duration<double>(Clock::now() - begin).count();
    vtasos_close(c);
    if (lat.empty()) return;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) {
        return lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))];
    };
    state.SetItemsProcessed(static_cast<int64_t>(lat.size()));
    state.counters["p50_us"] = pct(0.50);
    state.counters["p99_us"] = pct(0.99);
    state.counters["max_us"] = lat.back();
    g_summary.push_back({name, lat.size() / secs, pct(0.50), pct(0.99), lat.back()});
}

void BM_Hello(benchmark::State& s) { round_trip(s, "hello", R"({"op":"hello"})"); }
void BM_Advice(benchmark::State& s) {
    round_trip(s, "advice", R"({"op":"advice","tenant":"bench"})");
}
void BM_Status(benchmark::State& s) { round_trip(s, "status", R"({"op":"status"})"); }
void BM_BadMessage(benchmark::State& s) {
    round_trip(s, "error reply", R"({"op":"register","tenant":"../x"})", /*refused=*/true);
}

// The daemon's own cost per request, without the socket: parse, validate,
// handle, serialize (a driver that does nothing; 2 packages x 8 cores x 2 PUs).
class NullDriver : public vtasos::Driver {
public:
    std::string_view name() const override { return "null"; }
    vtasos::Status probe() override { return {}; }
    vtasos::DriverCaps caps() const override { return {true, true, true, "", ""}; }
    vtasos::Status apply(const vtasos::TenantTarget&, const vtasos::Placement&) override {
        return {};
    }
    vtasos::Status freeze(std::string_view) override { return {}; }
    vtasos::Status thaw(std::string_view) override { return {}; }
    vtasos::Status release(std::string_view) override { return {}; }
    vtasos::Result<std::vector<std::string>> thaw_all() override {
        return std::vector<std::string>{};
    }
    vtasos::Status remove_stale(std::string_view) override { return {}; }
};

void in_process(benchmark::State& state, const char* line) {
    vtasos::daemon::Service svc(vtasos::make_uniform_topology(2, 1, 1, 8, 2, "bench"),
                                std::make_unique<NullDriver>(), std::nullopt, {});
    vtasos::daemon::Peer peer;
    svc.handle_line(R"({"v":1,"id":1,"op":"register","tenant":"bench","request":{"cpus":4}})",
                    peer);
    size_t bytes = 0;
    for (auto _ : state) {
        std::string r = svc.handle_line(line, peer);
        bytes += r.size();
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
void BM_HandleLine_Hello(benchmark::State& s) { in_process(s, R"({"v":1,"id":2,"op":"hello"})"); }
void BM_HandleLine_Advice(benchmark::State& s) {
    in_process(s, R"({"v":1,"id":2,"op":"advice","tenant":"bench"})");
}
void BM_HandleLine_Status(benchmark::State& s) { in_process(s, R"({"v":1,"id":2,"op":"status"})"); }
void BM_HandleLine_BadRequest(benchmark::State& s) {
    in_process(s, R"({"v":1,"id":2,"op":"register","tenant":"b","request":{"cpus":-3}})");
}

}  // namespace

BENCHMARK(BM_HandleLine_Hello)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HandleLine_Advice)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HandleLine_Status)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HandleLine_BadRequest)->Unit(benchmark::kMicrosecond);

// Each benchmark runs for a fixed number of round trips so that the p99 rests
// on enough samples (50,000 => 500 samples above the p99).
BENCHMARK(BM_Hello)->Iterations(50000)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Advice)->Iterations(50000)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Status)->Iterations(50000)->Unit(benchmark::kMicrosecond)->UseRealTime();

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (const char* s = std::getenv("VTASOS_BENCH_SOCKET"); s && *s) {
        g_socket = s;
    } else if (!start_daemon()) {
        std::fprintf(stderr, "daemon_bench: vtasosd did not start (see %s/vtasosd.log)\n",
                     g_dir.c_str());
        stop_daemon();
        return 1;
    }
    // A tenant for the advice round trips: a sleeping child, registered detached.
    g_tenant = ::fork();
    if (g_tenant == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) ::pause();
    }
    vtasos_client* c = nullptr;
    if (vtasos_connect(g_socket.c_str(), 2000, &c) == VTASOS_OK) {
        int pid = g_tenant;
        if (vtasos_register(c, "bench", R"({"cpus":1,"coexist":"core"})", nullptr, &pid, 1, 1,
                            nullptr, 0) != VTASOS_OK)
            std::fprintf(stderr, "daemon_bench: register: %s\n", vtasos_last_error(c));
        vtasos_close(c);
    }
    benchmark::RegisterBenchmark("BM_ErrorReply", BM_BadMessage)
        ->Iterations(50000)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    vtasos_client* done = nullptr;
    if (vtasos_connect(g_socket.c_str(), 2000, &done) == VTASOS_OK) {
        vtasos_release(done, "bench");
        vtasos_close(done);
    }
    stop_daemon();
    double load[3] = {0, 0, 0};
    if (::getloadavg(load, 3) < 0) load[0] = -1;
    std::printf(
        "\nvtasosd round trips, one client (targets: >= 20000 req/s, p99 <= 1000 us); "
        "load average %.2f on %ld CPUs\n",
        load[0], ::sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("%-12s %12s %10s %10s %10s  %s\n", "request", "req/s", "p50_us", "p99_us", "max_us",
                "verdict");
    for (const auto& s : g_summary)
        std::printf("%-12s %12.0f %10.1f %10.1f %10.1f  %s\n", s.name.c_str(), s.rps, s.p50_us,
                    s.p99_us, s.max_us, (s.rps >= 20000 && s.p99_us <= 1000) ? "ok" : "MISSED");
    return 0;
}
