// Pure translation from vtasos values to Xen terms (no hypercalls): the part
// of the Xen driver that unit tests check exhaustively against a fake.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"
#include "vtasos/core/topology.h"
#include "vtasos/xen/xen_ops.h"

namespace vtasos::xen {

// Builds a Topology from xc_physinfo + xc_cputopoinfo. Xen reports no caches,
// so each package is one L3; PU os_index is the physical CPU id (what
// xc_vcpu_setaffinity takes); NUMA os index is Xen's node id. Offline CPUs are
// left out. Errors: kUnavailable when no CPU is online, kInvalidArgument when
// a core spans NUMA nodes (Topology::validate).
Result<Topology> topology_from_xen(const PhysInfo& phys, const std::vector<CpuTopo>& cpus);

// Hard affinity per vCPU: vCPU i gets placement.cpus[i].pus; vCPUs past the
// placement (a domain with more vCPUs than it asked for) get the union.
std::vector<std::vector<int>> vcpu_masks(const Placement& placement, int vcpus);

// When a tenant gets its own cpupool:
//   kAuto   - when every CPU of the request has coexist `node` or `none` (it
//             shares no package with other tenants, so a pool isolates it
//             completely and its own scheduler instance does not interfere);
//   kAlways - for every domain tenant;  kNever - never (affinity only).
enum class PoolPolicy { kAuto, kAlways, kNever };
Result<PoolPolicy> parse_pool_policy(std::string_view s);
std::string_view to_string(PoolPolicy p);
bool wants_pool(const Request& request, PoolPolicy policy);

// Name of a tenant's cpupool (stored at /local/pool/<id>/name like libxl does).
std::string pool_name(std::string_view tenant);

// Which CPU leaves which pool to build a tenant pool holding `cpus`.
struct PoolMove {
    int cpu = 0;
    uint32_t from = 0;
    bool operator==(const PoolMove&) const = default;
};
// Errors: kBusy when a CPU sits in a pool other than Pool-0 (another tenant's or
// one made by hand: it names the pool), kInfeasible when Pool-0 would be left
// without CPUs (dom0 runs there), kInvalidArgument for a CPU Xen does not know.
Result<std::vector<PoolMove>> plan_pool(const std::vector<int>& cpus,
                                        const std::vector<CpupoolInfo>& pools);

// Credit2 parameters for a tenant that time-shares PUs (any CPU with coexist
// `pu`): weight 256 per requested CPU (max 65535), cap 100 % per requested CPU.
// nullopt for tenants that own their PUs (nothing to arbitrate).
std::optional<Credit2Params> credit2_for(const Request& request);

// A hand-set pin conflicts with the placement when it is neither "any CPU"
// (a superset of every online CPU) nor a superset of the placed PUs.
bool pin_conflicts(const std::vector<int>& current, const std::vector<int>& placed,
                   const std::vector<int>& online);

}  // namespace vtasos::xen
