#include "binding.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vtasos::mpi {
namespace {

std::string read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (in) std::getline(in, line);
    return line;
}

std::vector<int> parse_list(const std::string& s) {
    auto r = parse_cpulist(s);
    return r ? *r : std::vector<int>{};
}

// The cgroup path of this process for the v1 controller `ctrl` or for v2 ("").
std::string cgroup_path(const std::string& root, const std::string& ctrl) {
    std::ifstream in(root + "/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        auto a = line.find(':');
        auto b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string ctrls = line.substr(a + 1, b - a - 1);
        std::string path = line.substr(b + 1);
        if (ctrl.empty() ? ctrls.empty()
                         : ("," + ctrls + ",").find("," + ctrl + ",") != std::string::npos)
            return path;
    }
    return "";
}

}  // namespace

std::vector<int> current_affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> out;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
    for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &set)) out.push_back(i);
    return out;
}

std::vector<int> allowed_cpus(const std::string& fs_root) {
    // cgroup v1 cpuset controller
    std::string v1 = cgroup_path(fs_root, "cpuset");
    if (!v1.empty()) {
        std::string dir = fs_root + "/sys/fs/cgroup/cpuset" + (v1 == "/" ? "" : v1);
        for (const char* f : {"/cpuset.effective_cpus", "/cpuset.cpus"}) {
            auto l = parse_list(read_first_line(dir + f));
            if (!l.empty()) return l;
        }
    }
    // cgroup v2: walk up until a cpuset.cpus.effective exists
    std::string v2 = cgroup_path(fs_root, "");
    if (!v2.empty()) {
        std::string rel = v2;
        for (;;) {
            std::string dir = fs_root + "/sys/fs/cgroup" + (rel == "/" ? "" : rel);
            auto l = parse_list(read_first_line(dir + "/cpuset.cpus.effective"));
            if (!l.empty()) return l;
            if (rel == "/" || rel.empty()) break;
            auto slash = rel.rfind('/');
            rel = slash == 0 ? "/" : rel.substr(0, slash);
        }
    }
    return parse_list(read_first_line(fs_root + "/sys/devices/system/cpu/online"));
}

std::string BindingState::describe() const {
    std::string a = format_cpulist(affinity), w = format_cpulist(allowed);
    if (!bound) return fmt::format("not bound (may run on {})", a);
    return fmt::format("bound{} to {} (of {})", by_mpirun ? " by mpirun" : "", a, w);
}

BindingState detect_binding(const std::vector<int>& affinity, const std::vector<int>& allowed,
                            const char* bound_at_launch) {
    BindingState s;
    s.affinity = affinity;
    s.allowed = allowed;
    bool mpirun_says = bound_at_launch && std::strcmp(bound_at_launch, "1") == 0;
    bool narrower = false;
    if (!allowed.empty()) {
        // narrower: some allowed CPU is missing from the mask
        narrower = std::any_of(allowed.begin(), allowed.end(), [&](int c) {
            return !std::binary_search(affinity.begin(), affinity.end(), c);
        });
    }
    s.bound = narrower || (mpirun_says && allowed.empty());
    s.by_mpirun = s.bound && mpirun_says;
    return s;
}

Result<int> bind_process(const std::vector<int>& pus, const std::string& fs_root) {
    if (pus.empty()) return Error(Errc::kInvalidArgument, "bind: empty PU set");
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int p : pus) {
        if (p < 0 || p >= CPU_SETSIZE)
            return Error(Errc::kInvalidArgument, fmt::format("bind: PU {} beyond CPU_SETSIZE", p));
        CPU_SET(p, &set);
    }
    std::string dir = fs_root + "/proc/self/task";
    DIR* d = opendir(dir.c_str());
    if (!d) {
        // No /proc: at least the calling thread.
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            return Error(Errc::kIo, fmt::format("bind: sched_setaffinity({}): {}",
                                                format_cpulist(pus), std::strerror(errno)));
        return 1;
    }
    int bound = 0;
    int first_err = 0;
    while (dirent* e = readdir(d)) {
        char* end = nullptr;
        long tid = std::strtol(e->d_name, &end, 10);
        if (tid <= 0 || *end) continue;
        if (sched_setaffinity(static_cast<pid_t>(tid), sizeof set, &set) == 0) {
            ++bound;
        } else if (errno != ESRCH && !first_err) {
            first_err = errno;
        }
    }
    closedir(d);
    if (first_err && bound == 0)
        return Error(Errc::kIo, fmt::format("bind: sched_setaffinity({}): {}", format_cpulist(pus),
                                            std::strerror(first_err)));
    return bound;
}

}  // namespace vtasos::mpi
