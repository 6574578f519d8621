// machine.h: the facts about the machine and software a result depends on, for results.json.
//
// CPU model (/proc/cpuinfo), topology (sysfs: logical CPUs, cores, sockets, NUMA nodes; plus
// `lstopo-no-graphics` text when installed), kernel (uname), OS (/etc/os-release),
// virtualization (systemd-detect-virt or the cpuinfo hypervisor flag), compiler and library
// versions (compiled in), the OpenMP runtime a kernel binary links (ldd), the vtasos git
// revision (at build time and, when the source tree is present, now).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace vtasos::bench {

struct MachineOptions {
    std::filesystem::path sysfs_root = "/sys";  // seam for tests
    std::filesystem::path probe_binary;         // a kernel binary whose libraries are recorded
    bool run_lstopo = true;
};

nlohmann::json collect_machine_facts(const MachineOptions& opt);

// Physical cores of this machine (distinct (package, core) pairs in sysfs); falls back to the
// number of online CPUs.
int physical_cores(const std::filesystem::path& sysfs_root = "/sys");
int online_cpus();

}  // namespace vtasos::bench
