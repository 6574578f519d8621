// Service: what vtasosd decides, apart from how messages arrive.
//
// The Service owns the tenant table, the solver, the driver and the profile
// store. The event loop (Server) hands it one validated request at a time and
// tells it when a tenant's process exits (pidfd) or a connection closes; the
// Service answers, applies placements through the driver, writes the state
// file after every change and logs one key=value line per decision. Keeping it
// free of sockets makes it testable with a fake driver.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vtasos/core/advice.h"
#include "vtasos/core/placement.h"
#include "vtasos/core/profile.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"
#include "vtasos/core/topology.h"
#include "vtasos/daemon/job.h"
#include "vtasos/daemon/protocol.h"
#include "vtasos/drivers/driver.h"
#include "vtasos/gang/gang.h"
#include "vtasos/profiles/profiles.h"
#include "vtasos/solver/solver.h"

namespace vtasos::daemon {

namespace probe {
struct Probe;
}

// Who sent a request: SO_PEERCRED of the connection plus the connection id.
struct Peer {
    uid_t uid = 0;
    gid_t gid = 0;
    pid_t pid = 0;
    uint64_t conn = 0;  // 0 = no connection (tests, recovery)
    // Non-empty: a VM's paravirtual channel, bound to this tenant (vm_service.cpp).
    std::string vm_tenant;
};

struct ServiceConfig {
    std::string state_path;  // "" = do not persist
    size_t max_tenants = 4096;
    SolverOptions solver;
    std::string version = "0";
    // Gang scheduling (hv-backend/gang/README.md): policy and slice length.
    gang::Policy sched_policy = gang::Policy::kOff;
    int slice_ms = gang::kDefaultSliceMs;
    // auto: a tenant ganged or shrunk for its sync rates goes back to the
    // kernel only after its observations stayed below the thresholds this
    // long (start-up phases measure low for a moment; flapping costs more).
    int sched_demote_hold_ms = 2000;
    // auto: gang (instead of shrinking) a tenant reporting live whose resident
    // memory fits in its last-level cache (hv-backend/gang/README.md); for a
    // profile-only tenant, the footprint its profile states or the daemon
    // learned from the profile's last run.
    bool sched_cache_rule = true;
    // VM tenants: per-VM QMP and channel sockets go to <runtime_dir>/vm-<tenant>/ ("" = /tmp).
    std::string runtime_dir;
};

struct VmInstance;  // a VM tenant's QEMU and its files (vm_service.cpp)
struct VmInstanceDeleter {
    void operator()(VmInstance* v) const;
};

// One registered process of a tenant.
struct TenantProcess {
    pid_t pid = 0;
    uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a recycled pid apart
    int pidfd = -1;
};

struct TenantEntry {
    Request request;
    Placement placement;
    std::string source;  // "request", "profile:NAME", "default"
    uid_t owner = 0;
    uint64_t conn = 0;  // registering connection; 0 once it closed (detached) or after restart
    bool detached = false;
    bool frozen = false;
    bool replaced = false;  // the one monitoring-driven re-placement was used
    std::vector<TenantProcess> processes;
    std::vector<pid_t> threads;
    std::optional<Profile> observations;
    int64_t since = 0;                // unix seconds of registration
    std::optional<job::JobInfo> job;  // an MPI job tenant: its ranks and their shares
    std::string domain;               // a Xen domain tenant: its name (xen_glue.cpp); "" otherwise
    int64_t domid = -1;

    // A tenant just placed: registered now (`since`), nothing else learned yet.
    static TenantEntry placed(Request request, Placement placement, std::string source, uid_t owner,
                              uint64_t conn, bool detached);
};

class Service {
public:
    // `profiles` may be empty (no profile directory): then only explicit
    // requests and the default request are used.
    Service(Topology topology, std::unique_ptr<Driver> driver, std::optional<ProfileStore> profiles,
            ServiceConfig config);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    // Called with (pid, fd, true) after a tenant pidfd is opened and with
    // (pid, fd, false) just before it is closed; the event loop polls them.
    using PidfdHook = std::function<void(pid_t pid, int fd, bool add)>;
    void set_pidfd_hook(PidfdHook hook) { pidfd_hook_ = std::move(hook); }
    // Called with a VM's accepted channel connection; the event loop serves it as a client
    // whose Peer has vm_tenant = tenant and uid = owner (it owns and closes fd).
    using ChannelHook = std::function<void(int fd, const std::string& tenant, uid_t owner)>;
    void set_channel_hook(ChannelHook hook) { channel_hook_ = std::move(hook); }

    // Start-up recovery: thaw every vtasos confinement (nothing stays frozen),
    // re-adopt the state file's tenants whose processes still run (re-applying
    // their placement), remove confinements nobody owns, rewrite the state file.
    void recover();

    // One request line -> one reply line ('\n'-terminated). Never throws.
    std::string handle_line(std::string_view line, const Peer& peer);
    // A validated message -> the reply object.
    nlohmann::json handle(const Message& message, const Peer& peer);

    // A tenant process exited: forget it; the tenant is cleaned up when it has none left.
    void on_process_exit(pid_t pid);
    // A connection closed: clean up its tenants unless they registered detached.
    void on_disconnect(uint64_t conn);
    // Releases every tenant (clean shutdown) and writes the empty state.
    void shutdown();

    const Topology& topology() const { return solver_.topology(); }
    const std::map<std::string, TenantEntry>& tenants() const { return tenants_; }
    DriverCaps driver_caps() const { return caps_; }
    std::string_view driver_name() const { return driver_->name(); }
    // Load feedback for one tenant (DESIGN.md "Scheduling").
    Advice advice_for(const TenantEntry& t) const;
    // Sum of every tenant's requested CPUs.
    int64_t total_demand() const;
    // Gang scheduler: advances slices; returns ns until the next switch (-1: none).
    // The event loop calls it from a timerfd and after every batch of events.
    int64_t sched_tick();
    const gang::Scheduler* scheduler() const { return sched_.get(); }

private:
    Result<nlohmann::json> do_hello(const HelloArgs& a, const Peer& peer);
    Result<nlohmann::json> do_register(const RegisterArgs& a, const Peer& peer);
    // VM tenants (vm_service.cpp): register with "vm", requests arriving on a VM's channel.
    Result<nlohmann::json> do_vm(const RegisterArgs& a, const Peer& peer);
    nlohmann::json handle_channel(const Message& m, const Peer& peer);
    void vm_release(const std::string& tenant);  // QEMU killed and reaped, files removed
    void vm_recover();                           // stale vm-* directories removed
    // Xen domain tenants (xen_glue.cpp): register with "domain"; domains that
    // vanished are released; status gets per-vCPU run time.
    Result<nlohmann::json> do_domain(const RegisterArgs& a, const Peer& peer);
    void reap_gone_domains();
    nlohmann::json domain_json(const std::string& tenant, const TenantEntry& t) const;
    Result<nlohmann::json> do_update(const UpdateArgs& a, const Peer& peer);
    Result<nlohmann::json> do_advice(const TenantArgs& a, const Peer& peer);
    Result<nlohmann::json> do_release(const TenantArgs& a, const Peer& peer);
    Result<nlohmann::json> do_freeze(const TenantArgs& a, const Peer& peer, bool freeze);
    Result<nlohmann::json> do_status(const Peer& peer);
    Result<nlohmann::json> do_topology();
    Result<nlohmann::json> do_thaw_all(const Peer& peer);
    // Bandwidth probe (probe.cpp): start/report, samples from updates, the
    // advice hint asking for fast updates, window transitions, cancellation.
    Result<nlohmann::json> do_probe(const ProbeArgs& a, const Peer& peer);
    void probe_sample(const std::string& tenant, const Profile& observations);
    std::optional<nlohmann::json> probe_hint(const std::string& tenant) const;
    int64_t probe_tick();  // ns until the next transition, -1: no probe
    // Samples the resident memory of OpenMP tenants (live-reporting and
    // profile-only) every 100 ms under auto; ns until the next sample, -1: none.
    int64_t footprint_tick();
    // One sample of the tenant's resident memory (sum over its processes).
    void footprint_sample(const std::string& tenant, const TenantEntry& t);
    // The median of its samples in bytes: the level it holds while computing
    // (0: no samples).
    uint64_t footprint_median(const std::string& tenant) const;
    // A profile-only tenant whose processes all exited after >= 1 s: the median
    // of its samples becomes its profile's `footprint_mb` (the next run's cache rule).
    void footprint_learn(const std::string& tenant, const TenantEntry& t);
    void probe_cancel(const std::string& tenant, std::string_view why);  // "" = any
    // Job tenants (register with "job", release with "pid"): docs/protocol.md.
    Result<nlohmann::json> do_join(const RegisterArgs& a, const Peer& peer);
    Result<nlohmann::json> do_join_late(const RegisterArgs& a, const Peer& peer,
                                        const TenantEntry& job_tenant);
    Result<nlohmann::json> do_leave(const TenantArgs& a, const Peer& peer);
    Result<std::string> place_job(const std::string& tenant, job::Pending& pj);
    nlohmann::json join_reply(const std::string& tenant, const TenantEntry& t, pid_t pid) const;
    // Drops pending jobs whose ranks are all gone or that waited far too long.
    void purge_pending();
    // Forgets one process of a tenant (exit or leave); the tenant goes with its last.
    void remove_process(const std::string& tenant, pid_t pid, std::string_view reason);

    Result<TenantEntry*> find_owned(std::string_view op, const std::string& tenant,
                                    const Peer& peer);
    std::vector<Tenant> others(std::string_view except) const;
    Result<Request> resolve_request(const RegisterArgs& a, std::string& source) const;
    nlohmann::json driver_json() const;
    nlohmann::json tenant_json(const std::string& name, const TenantEntry& t, int64_t demand) const;
    Advice advice_for(const TenantEntry& t, int64_t demand) const;
    void close_pidfds(TenantEntry& t);
    void cleanup(const std::string& tenant, std::string_view reason);
    void save_state();
    // Adds/removes a tenant to/from the gang scheduler per the policy; logs once per change.
    void sched_join(const std::string& tenant, const TenantEntry& t);
    void sched_leave(const std::string& tenant);
    void sched_log_change();
    // Feedback: re-places every tenant in mode share onto its disjoint share.
    void sched_feedback();
    gang::Mode sched_mode(const std::string& tenant) const;

    Solver solver_;
    std::unique_ptr<Driver> driver_;
    DriverCaps caps_;
    std::optional<ProfileStore> profiles_;
    ServiceConfig config_;
    std::map<std::string, TenantEntry> tenants_;
    std::unordered_map<pid_t, std::string> pid_tenant_;
    std::map<std::string, job::Pending> pending_jobs_;
    PidfdHook pidfd_hook_;
    ChannelHook channel_hook_;
    std::map<std::string, std::unique_ptr<VmInstance, VmInstanceDeleter>> vms_;
    std::string topology_summary_;
    nlohmann::json hello_;  // the fixed part of the hello reply, built on first use
    std::unique_ptr<gang::Clock> sched_clock_;
    std::unique_ptr<gang::Freezer> sched_freezer_;
    std::unique_ptr<gang::Scheduler> sched_;  // null with policy off
    uint64_t sched_logged_gen_ = 0;
    // Per-tenant decision (gang::decide) and, for shrunk tenants, the placement to restore.
    std::map<std::string, gang::Mode> sched_modes_;
    std::map<std::string, Placement> sched_full_;
    // Since when (steady ms) auto has wanted to demote a tenant to kernel mode.
    std::map<std::string, int64_t> sched_demote_since_;
    // Resident MiB samples per OpenMP tenant: MiB -> count (auto's cache rule).
    std::map<std::string, std::map<uint64_t, uint64_t>> footprint_samples_;
    int64_t footprint_next_ms_ = 0;        // steady ms of the next footprint sample
    std::map<int, uint64_t> llc_by_pu_;    // last-level cache bytes per PU (0: unknown)
    std::vector<std::string> sched_lost_;  // cgroup gone under the scheduler (removed by others)
    std::unique_ptr<probe::Probe> probe_;  // the running probe, if any
    std::map<std::string, nlohmann::json> probe_results_;  // last report per tenant
};

}  // namespace vtasos::daemon
