// The xen Driver: a vtasos tenant is a Xen domain.
//
//   apply    - hard vCPU affinity per vCPU from the placement, NUMA node
//              affinity for memory, credit2 weight/cap for PU-sharing tenants,
//              and a cpupool of its own when the pool policy says so (created
//              with credit2, its CPUs moved in from Pool-0, the domain moved).
//   freeze   - xc_domain_pause; thaw - xc_domain_unpause (so the daemon's gang
//              scheduler drives domains exactly like cgroups).
//   release  - undoes all of it: unpause, domain back to its pool, CPUs back to
//              Pool-0, pool destroyed, affinities and credit2 restored.
// Every multi-step operation undoes its earlier steps when a later one fails.
// What the driver did is also written to xenstore (/local/domain/0/vtasos/
// tenants/<tenant>) so that a restarted daemon can unpause and clean up.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/topology.h"
#include "vtasos/drivers/driver.h"
#include "vtasos/xen/translate.h"
#include "vtasos/xen/xen_ops.h"

namespace vtasos::xen {

// A running domain, as register's "domain" field resolves it.
struct DomainRef {
    uint32_t domid = 0;
    std::string name;
    int vcpus = 0;
};

class XenDriver : public Driver {
public:
    // `ops` may be null: probe() then opens the real ones (make_real_xen_ops).
    explicit XenDriver(std::unique_ptr<XenOps> ops, XenPaths paths = {});

    std::string_view name() const override { return "xen"; }
    // kUnavailable on a machine that is not a Xen dom0 (see make_real_xen_ops).
    Status probe() override;
    DriverCaps caps() const override;
    // Needs bind_domain(target.tenant, ...) first; kNotFound otherwise.
    Status apply(const TenantTarget& target, const Placement& placement) override;
    Status freeze(std::string_view tenant) override;
    Status thaw(std::string_view tenant) override;
    Status release(std::string_view tenant) override;
    Result<std::vector<std::string>> thaw_all() override;
    Status remove_stale(std::string_view tenant) override;

    void set_pool_policy(PoolPolicy p) { pool_policy_ = p; }
    PoolPolicy pool_policy() const { return pool_policy_; }

    // The hypervisor's machine (xc_physinfo + xc_cputopoinfo).
    Result<Topology> topology();
    // A domain by name (xenstore /local/domain/<id>/name) or decimal domid.
    // Errors: kNotFound naming the domain; kInvalidArgument for dom0 (it runs
    // the daemon; it is never a tenant) or a dying domain.
    Result<DomainRef> resolve_domain(std::string_view name_or_id);
    // Ties a tenant to a domain before apply(); kAlreadyExists when another
    // tenant holds the domain.
    Status bind_domain(std::string_view tenant, uint32_t domid, const Request& request);
    std::optional<uint32_t> domain_of(std::string_view tenant) const;
    // Monitoring: per-vCPU run time, current CPU and hard affinity, the pool.
    Result<nlohmann::json> domain_status(std::string_view tenant);
    // Domains that vanished (destroyed/dying) among the bound ones.
    std::vector<std::string> gone_tenants();
    XenOps* ops() { return ops_.get(); }

private:
    struct PoolState {
        uint32_t id = 0;
        uint32_t domain_from = 0;     // the domain's pool before
        std::vector<PoolMove> moves;  // CPUs taken from other pools
    };
    struct Tenant {
        uint32_t domid = 0;
        Request request;
        bool applied = false;
        bool paused = false;
        std::vector<std::vector<int>> saved_affinity;  // per vCPU, before the first apply
        std::optional<std::vector<int>> saved_nodes;
        std::optional<Credit2Params> saved_credit2;
        std::optional<PoolState> pool;
        std::vector<int> pool_cpus;
    };
    Status ensure_ops();
    Status apply_locked(const std::string& tenant, Tenant& t, const Placement& placement);
    Result<PoolState> build_pool(const std::string& tenant, uint32_t domid,
                                 const std::vector<int>& cpus);
    Status teardown_pool(uint32_t domid, const PoolState& pool);
    Status release_locked(const std::string& tenant, Tenant& t);
    void save_marker(const std::string& tenant, const Tenant& t);
    void drop_marker(const std::string& tenant);
    std::vector<int> online_cpus();

    std::unique_ptr<XenOps> ops_;
    XenPaths paths_;
    PoolPolicy pool_policy_ = PoolPolicy::kAuto;
    mutable std::mutex mu_;
    std::map<std::string, Tenant, std::less<>> tenants_;
    std::optional<Error> probe_error_;
};

// The factory registered in drivers/src/registry.cpp as "xen".
Result<std::unique_ptr<Driver>> make_xen_driver(const DriverConfig& config);

// Xenstore key of the driver's own bookkeeping (dom0 only).
inline constexpr const char* kMarkerDir = "/local/domain/0/vtasos/tenants";

}  // namespace vtasos::xen
