// Topology: the machine as vtasos sees it.
//
// The tree machine > NUMA node > package (socket) > L3 > core > PU is stored
// flat: one entry per PU holding the logical index of each object containing
// it. A flat table is what the solver iterates over millions of times; the
// tree view is derived (to_tree_string). Logical indices are dense 0..n-1 per
// level and every core lies in exactly one L3, package and NUMA node.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vtasos/core/result.h"

namespace vtasos {

struct Pu {
    int os_index = 0;  // the kernel's CPU number (sched_setaffinity, cpuset.cpus)
    int core = 0;      // logical indices of the containing objects
    int l3 = 0;
    int package = 0;
    int numa = 0;
    bool operator==(const Pu&) const = default;
};

struct Topology {
    std::string source;  // "hwloc:live", "xml:/path", "synthetic:package:2 core:4 pu:2"
    std::vector<Pu> pus;  // in logical order (sorted by package, l3, core)
    int num_cores = 0;
    int num_l3 = 0;
    int num_packages = 0;
    int num_numa = 0;
    // NUMA node os indices (for cpuset.mems), indexed by logical numa index.
    std::vector<int> numa_os_index;
    // Memory-bandwidth budget per package in GB/s (see default_package_bandwidth).
    std::vector<double> package_bandwidth_gbps;

    bool operator==(const Topology&) const = default;

    // Consistency checks: dense indices, nesting, unique os indices.
    Status validate() const;
    // Logical PU indices (into pus) per core / package, computed on demand.
    std::vector<std::vector<int>> pus_by_core() const;
    std::vector<std::vector<int>> cores_by_package() const;
    int pus_per_core_max() const;
    // Human tree: "Machine (4 PUs)\n  NUMANode L#0 (P#0)\n    Package L#0 ...".
    std::string to_tree_string() const;
    nlohmann::json to_json() const;
    static Result<Topology> from_json(const nlohmann::json& j);
    std::string to_string() const;  // one line: "2 packages, 8 cores, 16 PUs (synthetic:...)"
};

// Default per-package memory bandwidth budget when the operator gives none:
// 4 GB/s per core in the package, a conservative sustained STREAM-triad share
// on current x86 servers (8-12 DDR channels feeding 32-96 cores at 3-5 GB/s
// each). Override with `vtasosd --package-bandwidth GBPS`.
double default_package_bandwidth(int cores_in_package);

// Builds a topology from explicit counts (used by tests and the simulator):
// `packages` x `numa_per_package` x `l3_per_numa` x `cores_per_l3` x `pus_per_core`.
// PU os indices are assigned in logical order.
Topology make_uniform_topology(int packages, int numa_per_package, int l3_per_numa,
                               int cores_per_l3, int pus_per_core, std::string source = "uniform");

}  // namespace vtasos
