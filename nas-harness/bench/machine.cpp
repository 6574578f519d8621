#include "machine.h"

#include <fmt/format.h>
#include <gnu/libc-version.h>
#include <spdlog/version.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/Version.hpp>
#include <set>

#include "bench_config.h"
#include "process.h"
#include "util.h"

namespace vtasos::bench {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string first_line(const std::string& s) {
    auto nl = s.find('\n');
    return std::string(trim(s.substr(0, nl)));
}

std::string read_trim(const fs::path& p) {
    auto r = read_file(p);
    return r ? std::string(trim(*r)) : std::string();
}

std::string command_output(std::vector<std::string> argv, int timeout_s = 10) {
    auto r = run_process({std::move(argv), {}, {}, std::chrono::seconds(timeout_s)});
    if (!r || r->exit_code != 0) return {};
    return r->out;
}

struct Topo {
    int logical = 0, cores = 0, sockets = 0, numa = 0;
};

Topo sysfs_topology(const fs::path& root) {
    Topo t;
    std::set<std::pair<std::string, std::string>> cores;
    std::set<std::string> sockets;
    std::error_code ec;
    const auto cpu_dir = root / "devices/system/cpu";
    for (fs::directory_iterator it(cpu_dir, ec), end; !ec && it != end; it.increment(ec)) {
        auto name = it->path().filename().string();
        if (name.size() < 4 || name.rfind("cpu", 0) != 0 ||
            name.find_first_not_of("0123456789", 3) != std::string::npos)
            continue;
        auto online = read_trim(it->path() / "online");
        if (online == "0") continue;
        ++t.logical;
        auto pkg = read_trim(it->path() / "topology/physical_package_id");
        auto core = read_trim(it->path() / "topology/core_id");
        cores.insert({pkg, core});
        sockets.insert(pkg);
    }
    t.cores = static_cast<int>(cores.size());
    t.sockets = static_cast<int>(sockets.size());
    for (fs::directory_iterator it(root / "devices/system/node", ec), end; !ec && it != end;
         it.increment(ec)) {
        auto name = it->path().filename().string();
        if (name.rfind("node", 0) == 0 && name.size() > 4 &&
            name.find_first_not_of("0123456789", 4) == std::string::npos)
            ++t.numa;
    }
    return t;
}

std::string cpu_model() {
    auto info = read_file("/proc/cpuinfo");
    if (!info) return "unknown";
    for (const auto& key : {"model name", "Hardware", "cpu model", "Processor"}) {
        size_t pos = info->find(std::string(key));
        while (pos != std::string::npos) {
            if (pos == 0 || (*info)[pos - 1] == '\n') {
                auto nl = info->find('\n', pos);
                auto line = info->substr(pos, nl - pos);
                auto colon = line.find(':');
                if (colon != std::string::npos) return std::string(trim(line.substr(colon + 1)));
            }
            pos = info->find(std::string(key), pos + 1);
        }
    }
    return "unknown";
}

std::string virtualization() {
    if (auto p = find_in_path("systemd-detect-virt")) {
        auto r = run_process({{p->string()}, {}, {}, std::chrono::seconds(5)});
        if (r && !trim(r->out).empty()) return std::string(trim(r->out));
    }
    auto info = read_file("/proc/cpuinfo");
    if (info && info->find(" hypervisor") != std::string::npos) return "hypervisor (cpuinfo flag)";
    if (read_trim("/proc/xen/capabilities").find("control_d") != std::string::npos)
        return "xen dom0";
    return "none";
}

std::string os_release() {
    auto r = read_file("/etc/os-release");
    if (!r) return "unknown";
    for (const auto& line : split_list(*r, '\n'))
        if (line.rfind("PRETTY_NAME=", 0) == 0) {
            auto v = line.substr(12);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
    return "unknown";
}

json linked_libraries(const fs::path& binary) {
    json libs = json::object();
    if (binary.empty() || !is_executable(binary)) return libs;
    auto ldd = find_in_path("ldd");
    if (!ldd) return libs;
    auto out = command_output({ldd->string(), binary.string()});
    for (const auto& line : split_list(out, '\n')) {
        // "libomp.so.5 => /usr/lib/x86_64-linux-gnu/libomp.so.5 (0x...)"
        auto arrow = line.find("=>");
        if (arrow == std::string::npos) continue;
        auto name = std::string(trim(line.substr(0, arrow)));
        auto rest = std::string(trim(line.substr(arrow + 2)));
        auto path = rest.substr(0, rest.find(' '));
        if (name.find("omp") != std::string::npos || name.find("mpi") != std::string::npos ||
            name.find("stdc++") != std::string::npos || name.find("libc.so") != std::string::npos) {
            std::error_code ec;
            auto real = fs::canonical(path, ec);
            libs[name] = ec ? path : real.string();
        }
    }
    return libs;
}

std::string git_revision_now() {
    auto git = find_in_path("git");
    std::error_code ec;
    if (!git || !fs::exists(fs::path(VTASOS_BENCH_SOURCE_DIR) / ".git", ec)) return "";
    auto rev = first_line(
        command_output({git->string(), "-C", VTASOS_BENCH_SOURCE_DIR, "rev-parse", "HEAD"}));
    if (rev.empty()) return "";
    auto r = run_process({{git->string(), "-C", VTASOS_BENCH_SOURCE_DIR, "status", "--porcelain",
                           "--untracked-files=no"},
                          {},
                          {},
                          std::chrono::seconds(10)});
    if (r && r->exit_code == 0 && !trim(r->out).empty()) rev += "-dirty";
    return rev;
}

}  // namespace

int online_cpus() {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

int physical_cores(const fs::path& sysfs_root) {
    auto t = sysfs_topology(sysfs_root);
    return t.cores > 0 ? t.cores : online_cpus();
}

json collect_machine_facts(const MachineOptions& opt) {
    json m;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    m["hostname"] = host;
    m["cpu_model"] = cpu_model();
    auto t = sysfs_topology(opt.sysfs_root);
    m["logical_cpus"] = t.logical > 0 ? t.logical : online_cpus();
    m["cores"] = t.cores > 0 ? t.cores : online_cpus();
    m["sockets"] = t.sockets > 0 ? t.sockets : 1;
    m["numa_nodes"] = t.numa > 0 ? t.numa : 1;
    m["topology_source"] = "sysfs";
    m["topology_text"] = "";
    if (opt.run_lstopo) {
        if (auto lstopo = find_in_path("lstopo-no-graphics")) {
            auto out = command_output({lstopo->string(), "--of", "console", "--no-io"}, 20);
            if (!out.empty()) {
                m["topology_text"] = out;
                m["topology_source"] = "sysfs + lstopo-no-graphics";
            }
        }
    }
    utsname u{};
    ::uname(&u);
    m["kernel"] = fmt::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine);
    m["os"] = os_release();
    m["virtualization"] = virtualization();
    m["compiler"] = VTASOS_BENCH_CXX_COMPILER;
    m["build_type"] = VTASOS_BENCH_BUILD_TYPE;
    m["libraries"] = {
        {"glibc", gnu_get_libc_version()},
        {"fmt",
         fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
        {"spdlog", fmt::format("{}.{}.{}", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
        {"nlohmann_json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR,
                                      NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH)},
        {"CLI11", CLI11_VERSION},
        {"hwloc", VTASOS_BENCH_HWLOC_VERSION},
    };
    m["kernel_binary_libraries"] = linked_libraries(opt.probe_binary);
    if (auto gp = find_in_path("gnuplot"))
        m["libraries"]["gnuplot"] = first_line(command_output({gp->string(), "--version"}));
    std::string now = git_revision_now();
    m["vtasos_git_revision"] = !now.empty() ? now : std::string(VTASOS_BENCH_GIT_REVISION);
    m["vtasos_git_revision_build"] = VTASOS_BENCH_GIT_REVISION;
    m["has_dev_kvm"] = fs::exists("/dev/kvm");
    return m;
}

}  // namespace vtasos::bench
