#include "guest_mode.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>

#include "util.h"

namespace vtasos::bench {
namespace fs = std::filesystem;

std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out.push_back(c);
    }
    return out + "'";
}

namespace {
// A cache name that changes when the binary does (path, size, mtime).
std::string image_name(const std::string& binary, bool with_tool) {
    struct stat st {};
    ::stat(binary.c_str(), &st);
    size_t h =
        std::hash<std::string>{}(fmt::format("{}|{}|{}", binary, static_cast<long long>(st.st_size),
                                             static_cast<long long>(st.st_mtime)));
    return fmt::format("{}-{:016x}-{}.img", fs::path(binary).filename().string(), h,
                       with_tool ? "ompt" : "plain");
}
}  // namespace

ProcessSpec guest_spec(Mode m, const GuestPlan& g, const Program& p,
                       const std::vector<std::string>& extra) {
    ProcessSpec spec;
    spec.unset_env.emplace_back("OMP_TOOL_LIBRARIES");  // the host side runs no OpenMP
    const std::string binary = p.binary.empty() && !p.argv.empty() ? p.argv.front() : p.binary;
    if (p.argv.empty() || p.argv.front() != binary) {
        spec.argv = {"/bin/sh", "-c",
                     "echo 'vtasos-bench: guest modes run the benchmark binary itself, not "
                     "through a launcher such as mpirun' >&2; exit 125"};
        return spec;
    }
    const bool vt = m == Mode::kKvmVtasos;
    const std::string img = (fs::path(g.cache_dir) / image_name(binary, vt)).string();
    std::string build =
        fmt::format("{} build --app {} --out \"$t\"", sh_quote(g.image_tool), sh_quote(binary));
    if (vt) build += " --channel --with-ompt " + sh_quote(g.ompt_lib);
    std::vector<std::string> run;
    if (vt) {
        run = {g.vtasosctl,  "--socket", g.socket,      "run",
               "--vm",       img,        "--cpus",      std::to_string(p.cpus),
               "--coexist",  p.coexist,  "--vm-timer",  "tickless",
               "--vm-accel", g.accel,    "--vm-memory", std::to_string(g.memory_mb)};
        for (const auto& e : extra) run.push_back(e);
        for (const auto& [k, v] : p.env) run.insert(run.end(), {"--vm-env", k + "=" + v});
    } else {
        run = {g.image_tool,
               "run",
               img,
               "--cpus",
               std::to_string(p.cpus),
               "--timer",
               m == Mode::kKvmTickless ? "tickless" : "stock",
               "--accel",
               g.accel,
               "--memory",
               std::to_string(g.memory_mb)};
        for (const auto& [k, v] : p.env) run.insert(run.end(), {"--env", k + "=" + v});
    }
    run.emplace_back("--");
    for (size_t i = 1; i < p.argv.size(); ++i) run.push_back(p.argv[i]);
    std::string cmd;
    for (const auto& a : run) cmd += (cmd.empty() ? "" : " ") + sh_quote(a);
    // Build once (to a temporary name, then rename: concurrent runs never see half an image).
    std::string script = fmt::format(
        "set -e; i={}; if [ ! -f \"$i\" ]; then t=\"$i.$$\"; {} >/dev/null || "
        "{{ rm -f \"$t\"; echo 'vtasos-bench: building the guest image failed' >&2; exit 125; }}; "
        "mv -f \"$t\" \"$i\"; fi; exec {}",
        sh_quote(img), build, cmd);
    spec.argv = {"/bin/sh", "-c", script};
    return spec;
}

Result<std::pair<std::string, std::string>> probe_guest_accel(const std::string& image_tool) {
    auto r = run_process({{image_tool, "accel"}, {}, {}, std::chrono::seconds(20)});
    if (!r) return r.error();
    std::string line = std::string(trim(r->out));
    auto colon = line.find(": ");
    std::string name = colon == std::string::npos ? "" : line.substr(0, colon);
    if (!r->succeeded() || (name != "kvm" && name != "tcg"))
        return make_error(Errc::kUnavailable, fmt::format("`{} accel` gave no accelerator ({})",
                                                          image_tool, r->describe()));
    return std::make_pair(name, line.substr(colon + 2));
}

}  // namespace vtasos::bench
