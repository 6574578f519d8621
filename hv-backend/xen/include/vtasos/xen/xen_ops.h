// XenOps: the thin seam over the few libxenctrl / libxenstore calls the Xen
// driver makes.
//
// Why a seam: the translation from a placement to hypercalls (which vCPU gets
// which mask, which CPUs leave which cpupool, what is undone after a failure)
// is pure logic and is unit-tested against a recording fake (fake_xen_ops.h);
// the real implementation (make_real_xen_ops) is a one-to-one wrapper that is
// exercised on a real Xen dom0 (tests/xen, tests/hv-backend/xen/xen_dom0_check.cpp).
//
// Every call returns a Status/Result whose message names the libxenctrl call,
// its arguments and strerror(errno), e.g.
//   "xc_vcpu_setaffinity(dom 3, vcpu 1, cpus 4): Invalid argument".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/result.h"

namespace vtasos::xen {

inline constexpr uint32_t kDom0 = 0;

struct PhysInfo {
    int nr_cpus = 0;  // online physical CPUs
    int max_cpu_id = 0;
    int nr_nodes = 0;
    int max_node_id = 0;
    int threads_per_core = 1;
    int cores_per_socket = 1;
    uint64_t total_pages = 0;
    uint64_t free_pages = 0;
    bool operator==(const PhysInfo&) const = default;
};

// One physical CPU as xc_cputopoinfo reports it; online == false for
// XEN_INVALID_CORE_ID entries (offline or absent CPUs).
struct CpuTopo {
    int cpu = 0;
    int core = 0;
    int socket = 0;
    int node = 0;
    bool online = true;
    bool operator==(const CpuTopo&) const = default;
};

struct DomainInfo {
    uint32_t domid = 0;
    int vcpus = 0;  // max_vcpu_id + 1
    uint32_t cpupool = 0;
    bool paused = false;
    bool dying = false;
    bool shutdown = false;
    uint64_t cpu_time_ns = 0;
    bool operator==(const DomainInfo&) const = default;
};

struct VcpuInfo {
    bool online = false;
    bool running = false;
    bool blocked = false;
    uint64_t cpu_time_ns = 0;
    int cpu = -1;  // physical CPU it currently runs on
    bool operator==(const VcpuInfo&) const = default;
};

struct CpupoolInfo {
    uint32_t id = 0;
    uint32_t sched_id = 0;
    int n_dom = 0;
    std::vector<int> cpus;
    bool operator==(const CpupoolInfo&) const = default;
};

// XEN_SCHEDULER_CREDIT2 (xen/domctl.h); pools are created with credit2
// because credit1 pool moves crashed Xen 4.17 in testing (virtualization recipe).
inline constexpr uint32_t kSchedCredit2 = 6;

struct Credit2Params {
    int weight = 256;  // 1..65535, Xen default 256
    int cap = 0;       // percent of one CPU, 0 = no cap
    bool operator==(const Credit2Params&) const = default;
};

class XenOps {
public:
    virtual ~XenOps() = default;

    // --- hypervisor (libxenctrl) ---
    virtual Result<PhysInfo> physinfo() = 0;                           // xc_physinfo
    virtual Result<std::vector<CpuTopo>> cputopoinfo() = 0;            // xc_cputopoinfo
    virtual Result<int> numainfo() = 0;                                // xc_numainfo: online nodes
    virtual Result<std::vector<DomainInfo>> domains() = 0;             // xc_domain_getinfolist
    virtual Result<VcpuInfo> vcpu_info(uint32_t domid, int vcpu) = 0;  // xc_vcpu_getinfo
    // Hard affinity only (XEN_VCPUAFFINITY_HARD); `cpus` are physical CPU ids.
    virtual Status set_vcpu_affinity(uint32_t domid, int vcpu, const std::vector<int>& cpus) = 0;
    virtual Result<std::vector<int>> vcpu_affinity(uint32_t domid, int vcpu) = 0;
    // Memory NUMA node affinity (xc_domain_node_setaffinity); empty = all nodes.
    virtual Status set_node_affinity(uint32_t domid, const std::vector<int>& nodes) = 0;
    virtual Result<std::vector<int>> node_affinity(uint32_t domid) = 0;
    virtual Result<uint32_t> cpupool_create(uint32_t sched_id) = 0;
    virtual Status cpupool_destroy(uint32_t pool) = 0;
    virtual Result<std::vector<CpupoolInfo>> cpupools() = 0;  // xc_cpupool_getinfo, every pool
    virtual Status cpupool_addcpu(uint32_t pool, int cpu) = 0;
    virtual Status cpupool_removecpu(uint32_t pool, int cpu) = 0;
    virtual Status cpupool_movedomain(uint32_t pool, uint32_t domid) = 0;
    virtual Status pause(uint32_t domid) = 0;    // xc_domain_pause
    virtual Status unpause(uint32_t domid) = 0;  // xc_domain_unpause
    virtual Result<Credit2Params> credit2_get(uint32_t domid) = 0;
    virtual Status credit2_set(uint32_t domid, const Credit2Params& p) = 0;

    // --- xenstore (libxenstore); absolute paths ---
    // nullopt when the key does not exist.
    virtual Result<std::optional<std::string>> xs_read(const std::string& path) = 0;
    virtual Status xs_write(const std::string& path, const std::string& value) = 0;
    virtual Status xs_rm(const std::string& path) = 0;
    // Children of a directory; empty when it does not exist.
    virtual Result<std::vector<std::string>> xs_directory(const std::string& path) = 0;
};

// Where the real implementation looks; tests point it at a temporary directory.
struct XenPaths {
    std::string privcmd = "/dev/xen/privcmd";
    std::string capabilities = "/proc/xen/capabilities";  // "control_d" in dom0
};

// Checks that this is a Xen dom0 before opening anything, then opens
// libxenctrl and xenstore. Errors (kUnavailable, one line a user can act on):
//   no privcmd device        -> "not running on Xen: /dev/xen/privcmd is missing (...)"
//   a domU (no control_d)    -> "running in a Xen domU, not dom0: ..."
//   xc_interface_open failed -> "xc_interface_open: <errno>"
Result<std::unique_ptr<XenOps>> make_real_xen_ops(const XenPaths& paths = {});

// The probe alone (no handles opened): ok on a dom0, else the error above.
Status probe_dom0(const XenPaths& paths = {});

}  // namespace vtasos::xen
