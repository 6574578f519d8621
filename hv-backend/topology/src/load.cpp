// load_topology: hwloc -> vtasos::Topology.
//
// hwloc gives a tree whose shape varies by machine (NUMA nodes above, beside or
// below packages; caches may be missing; virtual machines often have no SMT).
// We flatten it to one row per PU and make every level exist: a PU without a
// Core gets a core of its own, a package without an L3 gets one L3, a machine
// without packages is one package. Logical indices are renumbered densely in
// the order PUs appear in hwloc's logical order, so they are 0..n-1 per level.
#include "vtasos/topology/load.h"

#include <fmt/format.h>
#include <hwloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "vtasos/core/request.h"

namespace vtasos {
namespace {

struct TopologyDeleter {
    void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using HwlocPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

enum class Backend { kLive, kXml, kSynthetic };

// hwloc explains a rejected synthetic string or XML file only on stderr and only
// when HWLOC_{SYNTHETIC,XML}_VERBOSE is set. Neither the caller's environment
// nor its stderr may be touched (the daemon has other threads), so the failing
// call is repeated in a short-lived child process whose stderr we read.
// Returns "" when nothing could be learned.
std::string hwloc_complaint(Backend backend, const std::string& arg) {
    int fds[2];
    if (pipe(fds) != 0) return "";
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return "";
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        setenv(backend == Backend::kSynthetic ? "HWLOC_SYNTHETIC_VERBOSE" : "HWLOC_XML_VERBOSE",
               "1", 1);
        hwloc_topology_t t;
        if (hwloc_topology_init(&t) == 0) {
            int rc = backend == Backend::kSynthetic ? hwloc_topology_set_synthetic(t, arg.c_str())
                                                    : hwloc_topology_set_xml(t, arg.c_str());
            if (rc == 0) hwloc_topology_load(t);
        }
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (out.size() < 4096) out.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    // One line: hwloc's messages end in newlines and may repeat a prefix.
    std::string line;
    for (char c : out) {
        if (c == '\n' || c == '\r') {
            if (!line.empty() && line.back() != ' ') line += "; ";
        } else {
            line += c;
        }
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == ';')) line.pop_back();
    return line;
}

Error spec_error(std::string_view spec) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("topology spec \"{}\": expected \"live\", \"xml:PATH\" or "
                             "\"synthetic:DESCRIPTION\" (e.g. \"synthetic:package:2 core:4 pu:2\")",
                             spec));
}

// Dense renumbering of hwloc objects in order of first appearance.
class Dense {
public:
    int operator()(const void* key) {
        auto [it, inserted] = ids_.emplace(key, static_cast<int>(ids_.size()));
        return it->second;
    }
    int size() const { return static_cast<int>(ids_.size()); }

private:
    std::map<const void*, int> ids_;
};

Result<Topology> flatten(hwloc_topology_t topo, std::string source,
                         std::optional<double> package_bandwidth_gbps) {
    Topology t;
    t.source = std::move(source);
    int npus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    if (npus <= 0)
        return Error(Errc::kInvalidArgument,
                     fmt::format("topology {}: hwloc found no PU", t.source));
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    Dense core_ids, l3_ids, pkg_ids, numa_ids;
    // L3 keys for packages without an L3: the package object itself stands in,
    // offset into a separate key space so it cannot collide with a real L3.
    std::map<const void*, int> l3_of_missing;
    for (int i = 0; i < npus; ++i) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, static_cast<unsigned>(i));
        if (pu == nullptr) continue;
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
        hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pu);
        hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_L3CACHE, pu);
        // In hwloc 2 NUMA nodes are memory children, not ancestors: take the
        // first NUMA node whose cpuset covers this PU (DRAM before HBM/NVDIMM,
        // which hwloc lists later).
        hwloc_obj_t numa = hwloc_get_next_obj_covering_cpuset_by_type(topo, pu->cpuset,
                                                                      HWLOC_OBJ_NUMANODE, nullptr);
        if (numa == nullptr) numa = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, 0);
        if (pkg == nullptr) pkg = root;
        Pu p;
        p.os_index = static_cast<int>(pu->os_index);
        p.core = core_ids(core != nullptr ? static_cast<const void*>(core) : pu);
        p.package = pkg_ids(pkg);
        if (l3 != nullptr) {
            p.l3 = l3_ids(l3);
        } else {
            // One L3 per package; keyed by a pointer one past the package object
            // (never dereferenced) so it cannot equal any real L3 object.
            p.l3 = l3_ids(reinterpret_cast<const char*>(pkg) + 1);
        }
        int numa_before = numa_ids.size();
        p.numa = numa_ids(numa != nullptr ? static_cast<const void*>(numa) : root);
        if (numa_ids.size() > numa_before)
            t.numa_os_index.push_back(numa != nullptr ? static_cast<int>(numa->os_index) : 0);
        t.pus.push_back(p);
    }
    t.num_cores = core_ids.size();
    t.num_l3 = l3_ids.size();
    t.num_packages = pkg_ids.size();
    t.num_numa = numa_ids.size();
    std::vector<std::set<int>> cores(t.num_packages);
    for (const Pu& p : t.pus) cores[p.package].insert(p.core);
    for (const auto& c : cores)
        t.package_bandwidth_gbps.push_back(
            package_bandwidth_gbps ? *package_bandwidth_gbps
                                   : default_package_bandwidth(static_cast<int>(c.size())));
    if (auto s = t.validate(); !s)
        return Error(Errc::kInvalidArgument,
                     fmt::format("topology {}: hwloc gave an unusable tree: {}", t.source,
                                 s.error().message()));
    return t;
}

}  // namespace

Result<Topology> load_topology(std::string_view spec,
                               std::optional<double> package_bandwidth_gbps) {
    if (package_bandwidth_gbps &&
        !(std::isfinite(*package_bandwidth_gbps) && *package_bandwidth_gbps > 0 &&
          *package_bandwidth_gbps <= kMaxBandwidthGbps))
        return Error(Errc::kInvalidArgument,
                     fmt::format("package bandwidth {} GB/s: expected a number in (0, {}]",
                                 *package_bandwidth_gbps, kMaxBandwidthGbps));
    Backend backend;
    std::string arg;
    std::string source;
    if (spec == "live" || spec == "hwloc:live") {
        backend = Backend::kLive;
        source = "hwloc:live";
    } else if (spec.starts_with("xml:")) {
        backend = Backend::kXml;
        arg = std::string(spec.substr(4));
        source = std::string(spec);
        if (arg.empty()) return spec_error(spec);
        struct stat st {};
        if (stat(arg.c_str(), &st) != 0) {
            int e = errno;
            return Error(e == ENOENT || e == ENOTDIR ? Errc::kNotFound : Errc::kIo,
                         fmt::format("topology xml file \"{}\": {}", arg, std::strerror(e)));
        }
        if (!S_ISREG(st.st_mode))
            return Error(Errc::kInvalidArgument,
                         fmt::format("topology xml file \"{}\": not a regular file", arg));
        if (access(arg.c_str(), R_OK) != 0)
            return Error(Errc::kIo,
                         fmt::format("topology xml file \"{}\": {}", arg, std::strerror(errno)));
    } else if (spec.starts_with("synthetic:")) {
        backend = Backend::kSynthetic;
        arg = std::string(spec.substr(10));
        source = std::string(spec);
        if (arg.find_first_not_of(" \t") == std::string::npos)
            return Error(
                Errc::kInvalidArgument,
                "synthetic topology \"\": empty description (e.g. \"package:2 core:4 pu:2\")");
    } else {
        return spec_error(spec);
    }

    hwloc_topology_t raw = nullptr;
    if (hwloc_topology_init(&raw) != 0)
        return Error(Errc::kInternal, fmt::format("topology {}: hwloc_topology_init failed: {}",
                                                  source, std::strerror(errno)));
    HwlocPtr topo(raw);
    // I/O devices and most caches are of no use to placement; L3 is kept.
    hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(raw, HWLOC_OBJ_L1CACHE, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(raw, HWLOC_OBJ_L1ICACHE, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(raw, HWLOC_OBJ_L2ICACHE, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(raw, HWLOC_OBJ_L3ICACHE, HWLOC_TYPE_FILTER_KEEP_NONE);

    if (backend == Backend::kSynthetic) {
        if (hwloc_topology_set_synthetic(raw, arg.c_str()) != 0) {
            std::string why = hwloc_complaint(Backend::kSynthetic, arg);
            if (why.empty()) why = std::strerror(errno);
            return Error(Errc::kInvalidArgument,
                         fmt::format("synthetic topology \"{}\" rejected by hwloc: {}", arg, why));
        }
    } else if (backend == Backend::kXml) {
        if (hwloc_topology_set_xml(raw, arg.c_str()) != 0) {
            int e = errno;
            std::string why = hwloc_complaint(Backend::kXml, arg);
            // hwloc reads HWLOC_XML_VERBOSE once per process, so the child may
            // stay silent: point at the command that shows the details.
            if (why.empty())
                why = fmt::format("{} (HWLOC_XML_VERBOSE=1 lstopo-no-graphics -i {} shows why)",
                                  std::strerror(e), arg);
            return Error(Errc::kInvalidArgument,
                         fmt::format("topology xml file \"{}\" rejected by hwloc: {}", arg, why));
        }
    }
    if (hwloc_topology_load(raw) != 0) {
        int e = errno;
        std::string why = backend == Backend::kLive ? "" : hwloc_complaint(backend, arg);
        if (why.empty()) why = std::strerror(e);
        return Error(backend == Backend::kLive ? Errc::kIo : Errc::kInvalidArgument,
                     fmt::format("topology {}: hwloc could not load it: {}", source, why));
    }
    return flatten(raw, source, package_bandwidth_gbps);
}

}  // namespace vtasos
