// vtasos-ompt-overhead: how much slower a command runs with the OMPT tool.
//
// Runs COMMAND alternately without and with OMP_TOOL_LIBRARIES=<tool>, --reps
// times each (>= 7), in ABBA order (baseline first on odd repetitions, tool
// first on even ones) so that slow drift of the machine cancels out. Each run's
// time is its wall-clock time, or the number the --metric regex captures from
// its standard output (e.g. "Time in seconds = *([0-9.]+)" for NAS kernels,
// "time_s=([0-9.]+)" for barrier_bench). Prints one Markdown table row:
//   | name | reps | baseline median s | tool median s | overhead % | paired % | best % | wall % |
// where overhead compares the medians of the metric, paired is the median of
// the per-repetition ratios (less sensitive to load changes between
// repetitions), best compares the fastest runs (the intrinsic cost when other
// load on the machine disturbs some runs) and wall compares the medians of
// whole-process wall time (start-up and exit of the tool included).
// Exit status: 0, 1 when a run failed or its metric was missing, 2 on usage
// errors. (Until `vtasos-bench overhead` exists this is the overhead harness.)
// --baseline-tool LIB runs the baseline with that tool instead of none (e.g.
// the empty tool, libvtasos-ompt-empty.so: what libomp's OMPT machinery costs
// any tool, so that the difference is the tool's own share).
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Options {
    int reps = 7;
    std::string tool = VTASOS_OMPT_LIB;
    std::string name;
    std::string metric;                 // regex with one capture group; empty: wall time
    std::vector<std::string> env;       // both runs
    std::vector<std::string> tool_env;  // tool runs only
    std::string baseline_tool;          // OMP_TOOL_LIBRARIES of the baseline runs; empty: none
    std::string json;                   // append a JSON line here
    bool header = false;
    bool verbose = false;
    std::vector<std::string> command;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "vtasos-ompt-overhead: %s\n"
                 "usage: vtasos-ompt-overhead [--reps N>=7] [--tool LIB] [--name NAME]\n"
                 "         [--metric REGEX] [--env K=V]... [--tool-env K=V]... [--json FILE]\n"
                 "         [--baseline-tool LIB] [--header] [--verbose] -- COMMAND [ARGS...]\n",
                 why.c_str());
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    int i = 1;
    auto value = [&](const char* flag) -> std::string {
        if (i + 1 >= argc) usage(std::string(flag) + " needs a value");
        return argv[++i];
    };
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) o.command.push_back(argv[i]);
            break;
        } else if (a == "--reps") {
            std::string v = value("--reps");
            char* end = nullptr;
            long n = std::strtol(v.c_str(), &end, 10);
            if (*end || n < 7 || n > 1000) usage("--reps must be an integer in 7..1000, got " + v);
            o.reps = static_cast<int>(n);
        } else if (a == "--tool") {
            o.tool = value("--tool");
        } else if (a == "--baseline-tool") {
            o.baseline_tool = value("--baseline-tool");
        } else if (a == "--name") {
            o.name = value("--name");
        } else if (a == "--metric") {
            o.metric = value("--metric");
        } else if (a == "--env") {
            o.env.push_back(value("--env"));
        } else if (a == "--tool-env") {
            o.tool_env.push_back(value("--tool-env"));
        } else if (a == "--json") {
            o.json = value("--json");
        } else if (a == "--header") {
            o.header = true;
        } else if (a == "--verbose") {
            o.verbose = true;
        } else {
            usage("unknown argument " + a);
        }
    }
    if (o.command.empty() && !o.header) usage("no command after --");
    for (const auto& e : o.env)
        if (e.find('=') == std::string::npos) usage("--env needs K=V, got " + e);
    for (const auto& e : o.tool_env)
        if (e.find('=') == std::string::npos) usage("--tool-env needs K=V, got " + e);
    if (o.name.empty() && !o.command.empty()) {
        o.name = o.command[0].substr(o.command[0].rfind('/') + 1);
        for (size_t k = 1; k < o.command.size(); ++k) o.name += " " + o.command[k];
    }
    return o;
}

struct Run {
    bool ok = false;
    double seconds = 0;  // the metric (wall time without --metric)
    double wall = 0;
    std::string why;
};

std::vector<std::string> make_env(const Options& o, bool with_tool) {
    std::vector<std::string> env;
    auto overridden = [&](const std::string& kv) {
        std::string key = kv.substr(0, kv.find('='));
        if (key == "OMP_TOOL_LIBRARIES" || key == "OMP_TOOL") return true;
        for (const auto& e : o.env)
            if (e.compare(0, key.size() + 1, key + "=") == 0) return true;
        for (const auto& e : o.tool_env)
            if (e.compare(0, key.size() + 1, key + "=") == 0) return true;
        return false;
    };
    for (char** e = environ; *e; ++e)
        if (!overridden(*e)) env.push_back(*e);
    for (const auto& e : o.env) env.push_back(e);
    if (with_tool) {
        env.push_back("OMP_TOOL_LIBRARIES=" + o.tool);
        for (const auto& e : o.tool_env) env.push_back(e);
    } else if (!o.baseline_tool.empty()) {
        env.push_back("OMP_TOOL_LIBRARIES=" + o.baseline_tool);
    }
    return env;
}

Run run_once(const Options& o, bool with_tool) {
    Run r;
    std::vector<std::string> env = make_env(o, with_tool);
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> cmd = o.command;
    for (auto& a : cmd) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        r.why = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        r.why = fmt::format("cannot start {}: {}", cmd[0], std::strerror(rc));
        return r;
    }
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) text.append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    auto t1 = std::chrono::steady_clock::now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r.why =
            fmt::format("{} run failed (status {:#x})", with_tool ? "tool" : "baseline", status);
        return r;
    }
    r.wall = std::chrono::duration<double>(t1 - t0).count();
    if (o.metric.empty()) {
        r.seconds = r.wall;
    } else {
        std::smatch m;
        if (!std::regex_search(text, m, std::regex(o.metric)) || m.size() < 2) {
            r.why = fmt::format("metric /{}/ not found in the output", o.metric);
            return r;
        }
        r.seconds = std::strtod(m[1].str().c_str(), nullptr);
    }
    r.ok = true;
    return r;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    if (o.header) {
        std::printf(
            "| case | reps | baseline median s | tool median s | overhead %% | paired %% | best %% "
            "| "
            "wall %% |\n"
            "|---|---|---|---|---|---|---|---|\n");
        if (o.command.empty()) return 0;
    }
    std::vector<double> base, tool, ratio, base_wall, tool_wall;
    for (int rep = 0; rep < o.reps; ++rep) {
        bool tool_first = rep % 2 == 1;
        Run a = run_once(o, tool_first);
        Run b = run_once(o, !tool_first);
        const Run& rb = tool_first ? b : a;
        const Run& rt = tool_first ? a : b;
        for (const Run* r : {&rb, &rt})
            if (!r->ok) {
                std::fprintf(stderr, "vtasos-ompt-overhead: %s: %s\n", o.name.c_str(),
                             r->why.c_str());
                return 1;
            }
        base.push_back(rb.seconds);
        tool.push_back(rt.seconds);
        ratio.push_back(rt.seconds / rb.seconds);
        base_wall.push_back(rb.wall);
        tool_wall.push_back(rt.wall);
        if (o.verbose)
            std::fprintf(stderr, "rep %d: baseline %.6f s, tool %.6f s\n", rep + 1, rb.seconds,
                         rt.seconds);
    }
    double mb = median(base), mt = median(tool);
    double overhead = (mt - mb) / mb * 100.0;
    double paired = (median(ratio) - 1.0) * 100.0;
    double wall = (median(tool_wall) - median(base_wall)) / median(base_wall) * 100.0;
    double min_b = *std::min_element(base.begin(), base.end());
    double min_t = *std::min_element(tool.begin(), tool.end());
    double best = (min_t - min_b) / min_b * 100.0;
    std::printf("| %s | %d | %.4f | %.4f | %+.2f | %+.2f | %+.2f | %+.2f |\n", o.name.c_str(),
                o.reps, mb, mt, overhead, paired, best, wall);
    if (!o.json.empty()) {
        std::ofstream j(o.json, std::ios::app);
        j << fmt::format(
            "{{\"case\":\"{}\",\"reps\":{},\"baseline_median_s\":{:.6f},\"tool_median_s\":{:.6f},"
            "\"overhead_pct\":{:.3f},\"paired_pct\":{:.3f},\"best_pct\":{:.3f},"
            "\"wall_pct\":{:.3f}}}\n",
            o.name, o.reps, mb, mt, overhead, paired, best, wall);
    }
    return 0;
}
