// Driver: the one interface between vtasos decisions and a platform.
//
// The daemon decides placements and gang slices; a driver makes them real on
// one platform: plain Linux (cpuset + freezer cgroups, sched_setaffinity), KVM
// (QEMU vCPU threads), Xen (libxenctrl), or the simulator. Drivers are picked
// by name (make_driver) and report what they can do (DriverCaps) so the daemon
// degrades instead of failing: e.g. without cgroup permission the Linux driver
// still pins by affinity but cannot freeze, and says so once.
//
// Every operation is idempotent and leaves nothing half-done on error: a
// failed apply() leaves the tenant as it was before the call.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos {

struct DriverCaps {
    bool cpuset = false;       // can confine a tenant to a PU/memory-node set as a group
    bool affinity = false;     // can pin individual threads/vCPUs
    bool freeze = false;       // can stop/resume a whole tenant (gang scheduling)
    std::string cgroup_mode;   // "v1", "v2", or "" when cgroups are not used
    std::string notes;         // human explanation of any missing capability
};

struct TenantTarget {
    std::string tenant;          // validated id: safe as a cgroup name
    TenantKind kind = TenantKind::kProcess;
    std::vector<pid_t> pids;     // processes of the tenant (all their threads follow)
    // Optional per-CPU thread ids: threads[i] is pinned to placement.cpus[i].pus.
    // Empty = the whole tenant is confined to the union of the placement's PUs.
    std::vector<pid_t> threads;
};

class Driver {
public:
    virtual ~Driver() = default;
    virtual std::string_view name() const = 0;
    // Detects what this platform allows; called once before use.
    virtual Status probe() = 0;
    virtual DriverCaps caps() const = 0;
    // Creates/updates the tenant's confinement and moves its pids into it.
    // Errors: kNotFound (a pid is gone), kPermissionDenied, kIo; kInvalidArgument
    // for a bad tenant name, an empty/offline PU set or more threads than CPUs.
    // The message names the step that failed; the tenant is rolled back.
    virtual Status apply(const TenantTarget& target, const Placement& placement) = 0;
    // Stops / resumes every task of the tenant. kUnavailable without freeze caps,
    // kNotFound for a tenant without confinement, kTimeout when the platform does
    // not settle in time (a timed-out freeze is undone).
    virtual Status freeze(std::string_view tenant) = 0;
    virtual Status thaw(std::string_view tenant) = 0;
    // Gang slices: starts a freeze/thaw and returns without waiting for it to
    // settle (the scheduler runs on the daemon's event loop; a v1 freeze needs
    // ~1 ms to reach FROZEN). Errors as freeze()/thaw(), never kTimeout.
    // Default: the blocking call.
    virtual Status request_frozen(std::string_view tenant, bool frozen) {
        return frozen ? freeze(tenant) : thaw(tenant);
    }
    // Thaws, unpins and removes the tenant's confinement. Idempotent.
    virtual Status release(std::string_view tenant) = 0;
    // Start-up recovery: thaws every tenant confinement this driver owns
    // (left by a daemon that died) and returns their tenant names.
    virtual Result<std::vector<std::string>> thaw_all() = 0;
    // Removes a stale confinement whose tenant is not adopted (empties it first).
    virtual Status remove_stale(std::string_view tenant) = 0;
};

struct DriverConfig {
    // Linux: cgroup filesystem root (normally /sys/fs/cgroup); a seam for tests.
    // At the default the hierarchies are found in /proc/self/mountinfo; any other
    // value is read as a directory tree: <root>/cpuset + <root>/freezer (v1) or
    // <root>/cgroup.controllers (v2). A root with neither means affinity only.
    std::string cgroup_root = "/sys/fs/cgroup";
    // Name of the parent cgroup holding one child per tenant (a relative path;
    // nested "a/b" is allowed, ".." is not).
    std::string parent = "vtasos";
    // Bound on waiting for a freeze/thaw to take effect (v1 FREEZING -> FROZEN,
    // v2 cgroup.events "frozen 1"); past it freeze() undoes itself, kTimeout.
    int freeze_timeout_ms = 2000;
    // Bound on retrying rmdir of a tenant cgroup that is still busy (EBUSY).
    int rmdir_timeout_ms = 1000;
};

// Factory by name: "linux" (the embedded default); later "kvm", "xen", "sim".
// The driver is constructed only; call probe() before use (the Linux driver
// probes lazily on its first operation otherwise).
// Errors: kNotFound for an unknown name, naming the known drivers;
//         kInvalidArgument for a bad config (e.g. parent with "..").
Result<std::unique_ptr<Driver>> make_driver(std::string_view name, const DriverConfig& config);

// Names make_driver accepts, in registry order ("linux" first).
std::vector<std::string> known_drivers();

}  // namespace vtasos
