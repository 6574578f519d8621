// The xen Driver: placement -> vCPU hard affinity, node affinity, cpupools,
// pause/unpause. Each multi-step operation keeps an undo list and runs it in
// reverse when a later step fails, so a failed apply leaves the domain as it was.
#include "vtasos/xen/xen_driver.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

namespace vtasos::xen {
namespace {

using json = nlohmann::json;

// Undo steps of one operation, run in reverse unless committed.
class Undo {
public:
    void push(std::string what, std::function<Status()> f) {
        steps_.push_back({std::move(what), std::move(f)});
    }
    // Runs every step; returns "done" or the failures.
    std::string run() {
        std::vector<std::string> failed;
        for (auto it = steps_.rbegin(); it != steps_.rend(); ++it)
            if (auto s = it->second(); !s) failed.push_back(it->first + ": " + s.error().message());
        steps_.clear();
        return failed.empty() ? "done" : fmt::format("failed: {}", fmt::join(failed, "; "));
    }
    void commit() { steps_.clear(); }
    ~Undo() { run(); }

private:
    std::vector<std::pair<std::string, std::function<Status()>>> steps_;
};

Error step_error(std::string_view op, std::string_view tenant, uint32_t domid,
                 std::string_view step, const Error& e, Undo& undo) {
    std::string rb = undo.run();
    return Error(e.code(), fmt::format("{} {} (dom {}): step \"{}\" failed: {} (rollback: {})", op,
                                       tenant, domid, step, e.message(), rb));
}

std::string cpus_str(const std::vector<int>& v) { return v.empty() ? "all" : format_cpulist(v); }

}  // namespace

XenDriver::XenDriver(std::unique_ptr<XenOps> ops, XenPaths paths)
    : ops_(std::move(ops)), paths_(std::move(paths)) {}

Status XenDriver::probe() {
    std::lock_guard lk(mu_);
    if (ops_) return {};
    auto ops = make_real_xen_ops(paths_);
    if (!ops) {
        probe_error_ = ops.error();
        return ops.error();
    }
    ops_ = std::move(*ops);
    probe_error_.reset();
    return {};
}

DriverCaps XenDriver::caps() const {
    std::lock_guard lk(mu_);
    DriverCaps c;
    bool up = ops_ != nullptr;
    c.cpuset = up;  // cpupools
    c.affinity = up;
    c.freeze = up;  // xc_domain_pause
    c.notes = up ? fmt::format(
                       "xen: vcpu hard affinity, node affinity, cpupools (policy {}), "
                       "pause/unpause",
                       to_string(pool_policy_))
                 : (probe_error_ ? probe_error_->message() : "xen: not probed");
    return c;
}

Status XenDriver::ensure_ops() {
    if (ops_) return {};
    if (probe_error_) return *probe_error_;
    return Error(Errc::kUnavailable, "xen driver: probe() was not called or failed");
}

std::vector<int> XenDriver::online_cpus() {
    std::vector<int> out;
    if (auto t = ops_->cputopoinfo(); t)
        for (const auto& c : *t)
            if (c.online) out.push_back(c.cpu);
    return out;
}

Result<Topology> XenDriver::topology() {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    auto phys = ops_->physinfo();
    if (!phys) return phys.error();
    auto cpus = ops_->cputopoinfo();
    if (!cpus) return cpus.error();
    return topology_from_xen(*phys, *cpus);
}

Result<DomainRef> XenDriver::resolve_domain(std::string_view name_or_id) {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    auto doms = ops_->domains();
    if (!doms) return doms.error();
    bool numeric = !name_or_id.empty() && name_or_id.size() <= 5 &&
                   std::all_of(name_or_id.begin(), name_or_id.end(),
                               [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    for (const auto& d : *doms) {
        auto n = ops_->xs_read(fmt::format("/local/domain/{}/name", d.domid));
        std::string name = n && *n ? **n : std::string();
        bool match = numeric ? std::to_string(d.domid) == name_or_id : name == name_or_id;
        if (!match) continue;
        if (d.domid == kDom0)
            return Error(Errc::kInvalidArgument,
                         "register.domain: domain 0 (dom0) runs vtasosd and cannot be a tenant");
        if (d.dying || d.shutdown)
            return Error(
                Errc::kInvalidArgument,
                fmt::format("register.domain: domain {} ({}) is shutting down", d.domid, name));
        return DomainRef{d.domid, name.empty() ? std::to_string(d.domid) : name, d.vcpus};
    }
    return Error(Errc::kNotFound,
                 fmt::format("register.domain: no running domain \"{}\" (`xl list` shows them)",
                             name_or_id.substr(0, 64)));
}

Status XenDriver::bind_domain(std::string_view tenant, uint32_t domid, const Request& request) {
    std::lock_guard lk(mu_);
    for (const auto& [name, t] : tenants_)
        if (t.domid == domid && name != tenant)
            return Error(Errc::kAlreadyExists,
                         fmt::format("register.domain: domain {} already belongs to tenant \"{}\"",
                                     domid, name));
    auto it = tenants_.find(tenant);
    if (it != tenants_.end() && it->second.domid != domid)
        return Error(Errc::kAlreadyExists,
                     fmt::format("tenant \"{}\" is bound to domain {}", tenant, it->second.domid));
    if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
    it->second.domid = domid;
    it->second.request = request;
    return {};
}

std::optional<uint32_t> XenDriver::domain_of(std::string_view tenant) const {
    std::lock_guard lk(mu_);
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) return std::nullopt;
    return it->second.domid;
}

Status XenDriver::apply(const TenantTarget& target, const Placement& placement) {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    auto it = tenants_.find(target.tenant);
    if (it == tenants_.end())
        return Error(Errc::kNotFound,
                     fmt::format("apply {}: no domain is bound to this tenant (xen tenants are "
                                 "domains: register with \"domain\")",
                                 target.tenant));
    if (!target.pids.empty())
        return Error(
            Errc::kInvalidArgument,
            fmt::format("apply {}: the xen driver places domains, not processes", target.tenant));
    return apply_locked(it->first, it->second, placement);
}

Status XenDriver::apply_locked(const std::string& tenant, Tenant& t, const Placement& placement) {
    const std::string_view op = "apply";
    auto doms = ops_->domains();
    if (!doms) return doms.error().with_context(fmt::format("apply {}", tenant));
    auto d = std::find_if(doms->begin(), doms->end(),
                          [&](const DomainInfo& x) { return x.domid == t.domid; });
    if (d == doms->end() || d->dying)
        return Error(Errc::kNotFound, fmt::format("apply {}: domain {} is gone", tenant, t.domid));
    std::vector<int> online = online_cpus();
    std::set<int> on(online.begin(), online.end());
    for (int pu : placement.all_pus())
        if (!on.count(pu))
            return Error(
                Errc::kInvalidArgument,
                fmt::format("apply {}: CPU {} is not an online physical CPU of this Xen host",
                            tenant, pu));
    auto masks = vcpu_masks(placement, d->vcpus);
    Undo undo;

    // Hand-set pins are checked on the first apply only (later, they are ours).
    if (!t.applied) {
        std::vector<std::vector<int>> saved;
        for (int v = 0; v < d->vcpus; ++v) {
            auto cur = ops_->vcpu_affinity(t.domid, v);
            if (!cur) return cur.error().with_context(fmt::format("apply {}", tenant));
            if (pin_conflicts(*cur, masks[v], online))
                return Error(
                    Errc::kInvalidArgument,
                    fmt::format("apply {}: domain {} vcpu {} is pinned by hand to CPUs {}, "
                                "which excludes its placed CPUs {}; unpin it first "
                                "(`xl vcpu-pin {} {} all`) or drop cpus= from its xl.cfg",
                                tenant, t.domid, v, cpus_str(*cur), cpus_str(masks[v]), t.domid,
                                v));
            saved.push_back(std::move(*cur));
        }
        t.saved_affinity = std::move(saved);
        auto nodes = ops_->node_affinity(t.domid);
        t.saved_nodes = nodes ? std::optional(*nodes) : std::nullopt;
    }

    // Cpupool: built before pinning since moving a domain resets its affinity.
    std::vector<int> pool_cpus = placement.all_pus();
    bool want = wants_pool(t.request, pool_policy_);
    std::optional<PoolState> old_pool = t.pool;
    std::optional<PoolState> new_pool = t.pool;
    if (old_pool && (!want || pool_cpus != t.pool_cpus)) {
        if (auto s = teardown_pool(t.domid, *old_pool); !s)
            return step_error(op, tenant, t.domid, "tear down the old cpupool", s.error(), undo);
        new_pool.reset();
        undo.push("rebuild the old cpupool", [this, &t, tenant, old = t.pool_cpus]() -> Status {
            auto p = build_pool(tenant, t.domid, old);
            if (!p) return p.error();
            t.pool = *p;
            return {};
        });
    }
    if (want && !new_pool) {
        auto p = build_pool(tenant, t.domid, pool_cpus);
        if (!p) return step_error(op, tenant, t.domid, "cpupool", p.error(), undo);
        new_pool = *p;
        undo.push("destroy the new cpupool",
                  [this, domid = t.domid, pool = *p]() { return teardown_pool(domid, pool); });
    }

    // Credit2 weight/cap for tenants that time-share PUs.
    std::optional<Credit2Params> saved_c2 = t.saved_credit2;
    auto c2 = credit2_for(t.request);
    auto cur = c2 ? ops_->credit2_get(t.domid) : Result<Credit2Params>(Credit2Params{});
    if (c2 && !cur) {
        // EINVAL: the domain's pool runs another scheduler; weights are then left alone.
        if (cur.error().code() != Errc::kInvalidArgument)
            return step_error(op, tenant, t.domid, "read credit2 parameters", cur.error(), undo);
        spdlog::warn("event=xen_credit2 tenant={} domid={} result=skipped msg=\"{}\"", tenant,
                     t.domid, cur.error().message());
        c2.reset();
    }
    if (c2) {
        if (auto s = ops_->credit2_set(t.domid, *c2); !s)
            return step_error(op, tenant, t.domid, "set credit2 weight/cap", s.error(), undo);
        if (!saved_c2) saved_c2 = *cur;
        undo.push("restore credit2",
                  [this, domid = t.domid, old = *cur]() { return ops_->credit2_set(domid, old); });
    }

    for (int v = 0; v < d->vcpus; ++v) {
        auto before = ops_->vcpu_affinity(t.domid, v);
        if (auto s = ops_->set_vcpu_affinity(t.domid, v, masks[v]); !s)
            return step_error(op, tenant, t.domid,
                              fmt::format("pin vcpu {} to CPUs {}", v, cpus_str(masks[v])),
                              s.error(), undo);
        std::vector<int> restore = before ? *before : online;
        undo.push(fmt::format("restore vcpu {} affinity", v),
                  [this, domid = t.domid, v, restore]() {
                      return ops_->set_vcpu_affinity(domid, v, restore);
                  });
    }
    if (auto s = ops_->set_node_affinity(t.domid, placement.mem_nodes); !s)
        return step_error(op, tenant, t.domid,
                          fmt::format("memory node affinity {}", cpus_str(placement.mem_nodes)),
                          s.error(), undo);
    undo.commit();
    t.pool = new_pool;
    t.pool_cpus = new_pool ? pool_cpus : std::vector<int>{};
    t.saved_credit2 = saved_c2;
    t.applied = true;
    save_marker(tenant, t);
    spdlog::info("event=xen_apply tenant={} domid={} vcpus={} pool={} mems={}", tenant, t.domid,
                 d->vcpus, t.pool ? std::to_string(t.pool->id) : std::string("none"),
                 cpus_str(placement.mem_nodes));
    return {};
}

Result<XenDriver::PoolState> XenDriver::build_pool(const std::string& tenant, uint32_t domid,
                                                   const std::vector<int>& cpus) {
    const std::string name = pool_name(tenant);
    // Pool names live in xenstore (libxl's convention); a clash is refused.
    if (auto ids = ops_->xs_directory("/local/pool"); ids) {
        for (const auto& id : *ids) {
            auto n = ops_->xs_read("/local/pool/" + id + "/name");
            if (n && *n && **n == name)
                return Error(Errc::kAlreadyExists,
                             fmt::format("cpupool name \"{}\" is taken by cpupool {} (`xl "
                                         "cpupool-destroy {}` if it is left over)",
                                         name, id, name));
        }
    }
    auto pools = ops_->cpupools();
    if (!pools) return pools.error();
    auto plan = plan_pool(cpus, *pools);
    if (!plan) return plan.error();
    uint32_t from_pool = 0;
    if (auto doms = ops_->domains(); doms)
        for (const auto& d : *doms)
            if (d.domid == domid) from_pool = d.cpupool;

    Undo undo;
    auto id = ops_->cpupool_create(kSchedCredit2);
    if (!id) return id.error();
    undo.push("destroy cpupool", [this, pid = *id]() { return ops_->cpupool_destroy(pid); });
    for (const auto& m : *plan) {
        if (auto s = ops_->cpupool_removecpu(m.from, m.cpu); !s) {
            std::string rb = undo.run();
            return Error(s.error().code(), s.error().message() + " (rollback: " + rb + ")");
        }
        undo.push("return cpu", [this, m]() { return ops_->cpupool_addcpu(m.from, m.cpu); });
        if (auto s = ops_->cpupool_addcpu(*id, m.cpu); !s) {
            std::string rb = undo.run();
            return Error(s.error().code(), s.error().message() + " (rollback: " + rb + ")");
        }
        undo.push("take cpu out",
                  [this, m, pid = *id]() { return ops_->cpupool_removecpu(pid, m.cpu); });
    }
    if (auto s = ops_->cpupool_movedomain(*id, domid); !s) {
        std::string rb = undo.run();
        return Error(s.error().code(), s.error().message() + " (rollback: " + rb + ")");
    }
    undo.commit();
    (void)ops_->xs_write(fmt::format("/local/pool/{}/name", *id), name);
    return PoolState{*id, from_pool, *plan};
}

Status XenDriver::teardown_pool(uint32_t domid, const PoolState& pool) {
    std::vector<std::string> errs;
    bool alive = false;
    if (auto doms = ops_->domains(); doms)
        for (const auto& d : *doms)
            if (d.domid == domid && d.cpupool == pool.id) alive = true;
    if (alive)
        if (auto s = ops_->cpupool_movedomain(pool.domain_from, domid); !s)
            errs.push_back(s.error().message());
    for (auto it = pool.moves.rbegin(); it != pool.moves.rend(); ++it) {
        if (auto s = ops_->cpupool_removecpu(pool.id, it->cpu); !s) {
            errs.push_back(s.error().message());
            continue;
        }
        if (auto s = ops_->cpupool_addcpu(it->from, it->cpu); !s)
            errs.push_back(s.error().message());
    }
    if (auto s = ops_->cpupool_destroy(pool.id); !s) errs.push_back(s.error().message());
    (void)ops_->xs_rm(fmt::format("/local/pool/{}", pool.id));
    if (!errs.empty())
        return Error(Errc::kIo, fmt::format("cpupool {}: {}", pool.id, fmt::join(errs, "; ")));
    return {};
}

Status XenDriver::freeze(std::string_view tenant) {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    auto it = tenants_.find(tenant);
    if (it == tenants_.end() || !it->second.applied)
        return Error(Errc::kNotFound, fmt::format("freeze {}: no such xen tenant", tenant));
    auto& t = it->second;
    if (t.paused) return {};  // xc_domain_pause counts: pause once only
    if (auto s = ops_->pause(t.domid); !s)
        return s.error().with_context(fmt::format("freeze {}", tenant));
    t.paused = true;  // not written to xenstore: one write per slice would cost more than the pause
    return {};
}

Status XenDriver::thaw(std::string_view tenant) {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    auto it = tenants_.find(tenant);
    if (it == tenants_.end() || !it->second.applied)
        return Error(Errc::kNotFound, fmt::format("thaw {}: no such xen tenant", tenant));
    auto& t = it->second;
    if (!t.paused) return {};
    if (auto s = ops_->unpause(t.domid); !s)
        return s.error().with_context(fmt::format("thaw {}", tenant));
    t.paused = false;
    return {};
}

Status XenDriver::release(std::string_view tenant) {
    std::lock_guard lk(mu_);
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) return {};
    if (!ops_) {
        tenants_.erase(it);
        return {};
    }
    auto s = release_locked(it->first, it->second);
    tenants_.erase(it);
    return s;
}

Status XenDriver::release_locked(const std::string& tenant, Tenant& t) {
    std::vector<std::string> errs;
    bool alive = false;
    if (auto doms = ops_->domains(); doms)
        for (const auto& d : *doms)
            if (d.domid == t.domid && !d.dying) alive = true;
    if (t.paused && alive)
        if (auto s = ops_->unpause(t.domid); !s) errs.push_back(s.error().message());
    t.paused = false;
    if (t.pool)
        if (auto s = teardown_pool(t.domid, *t.pool); !s) errs.push_back(s.error().message());
    t.pool.reset();
    if (alive && t.applied) {
        if (t.saved_credit2)
            if (auto s = ops_->credit2_set(t.domid, *t.saved_credit2); !s)
                errs.push_back(s.error().message());
        std::vector<int> online = online_cpus();
        for (size_t v = 0; v < t.saved_affinity.size(); ++v) {
            auto s = ops_->set_vcpu_affinity(t.domid, static_cast<int>(v), t.saved_affinity[v]);
            if (!s) s = ops_->set_vcpu_affinity(t.domid, static_cast<int>(v), online);
            if (!s) errs.push_back(s.error().message());
        }
        if (auto s = ops_->set_node_affinity(t.domid, t.saved_nodes.value_or(std::vector<int>{}));
            !s)
            errs.push_back(s.error().message());
    }
    drop_marker(tenant);
    spdlog::info("event=xen_release tenant={} domid={} alive={} errors={}", tenant, t.domid, alive,
                 errs.size());
    if (!errs.empty())
        return Error(Errc::kIo, fmt::format("release {} (dom {}): {}", tenant, t.domid,
                                            fmt::join(errs, "; ")));
    return {};
}

void XenDriver::save_marker(const std::string& tenant, const Tenant& t) {
    json j = {{"domid", t.domid}};
    if (t.pool) {
        json moves = json::array();
        for (const auto& m : t.pool->moves) moves.push_back({m.cpu, m.from});
        j["pool"] = {{"id", t.pool->id}, {"domain_from", t.pool->domain_from}, {"moves", moves}};
    }
    (void)ops_->xs_write(std::string(kMarkerDir) + "/" + tenant, j.dump());
}

void XenDriver::drop_marker(const std::string& tenant) {
    (void)ops_->xs_rm(std::string(kMarkerDir) + "/" + tenant);
}

Result<std::vector<std::string>> XenDriver::thaw_all() {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    std::set<std::string> names;
    for (auto& [name, t] : tenants_) {
        if (t.paused && ops_->unpause(t.domid)) t.paused = false;
        names.insert(name);
    }
    // Left by a daemon that died: its domains must not stay paused. Pauses are
    // not recorded per slice, so a paused tenant domain is unpaused once (a
    // pause set by hand on a vtasos tenant is lifted too: nothing stays frozen).
    if (auto dir = ops_->xs_directory(kMarkerDir); dir) {
        auto doms = ops_->domains();
        for (const auto& name : *dir) {
            names.insert(name);
            if (tenants_.count(name) || !doms) continue;
            auto v = ops_->xs_read(std::string(kMarkerDir) + "/" + name);
            if (!v || !*v) continue;
            json j = json::parse(**v, nullptr, false);
            if (!j.is_object()) continue;
            uint32_t domid = j.value("domid", 0u);
            for (const auto& d : *doms)
                if (d.domid == domid && domid != kDom0 && d.paused) (void)ops_->unpause(domid);
        }
    }
    return std::vector<std::string>(names.begin(), names.end());
}

Status XenDriver::remove_stale(std::string_view tenant) {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    if (tenants_.count(tenant)) return {};
    std::string key = std::string(kMarkerDir) + "/" + std::string(tenant);
    auto v = ops_->xs_read(key);
    if (!v) return v.error();
    if (!*v) return {};
    json j = json::parse(**v, nullptr, false);
    if (!j.is_object()) {
        (void)ops_->xs_rm(key);
        return {};
    }
    uint32_t domid = j.value("domid", 0u);
    std::vector<std::string> errs;
    // Unpausing is thaw_all's job (run first at start-up): twice would lift a hand-set pause.
    if (j.contains("pool") && j["pool"].is_object()) {
        PoolState p;
        p.id = j["pool"].value("id", 0u);
        p.domain_from = j["pool"].value("domain_from", 0u);
        for (const auto& m : j["pool"].value("moves", json::array()))
            if (m.is_array() && m.size() == 2)
                p.moves.push_back({m[0].get<int>(), m[1].get<uint32_t>()});
        if (p.id != 0)
            if (auto s = teardown_pool(domid, p); !s) errs.push_back(s.error().message());
    }
    // The saved affinities died with the daemon: give the vCPUs every CPU back.
    if (auto doms = ops_->domains(); doms)
        for (const auto& d : *doms)
            if (d.domid == domid && domid != kDom0) {
                auto online = online_cpus();
                for (int vc = 0; vc < d.vcpus; ++vc)
                    (void)ops_->set_vcpu_affinity(domid, vc, online);
                (void)ops_->set_node_affinity(domid, {});
            }
    (void)ops_->xs_rm(key);
    if (!errs.empty())
        return Error(Errc::kIo, fmt::format("remove_stale {}: {}", tenant, fmt::join(errs, "; ")));
    return {};
}

Result<json> XenDriver::domain_status(std::string_view tenant) {
    std::lock_guard lk(mu_);
    if (auto s = ensure_ops(); !s) return s.error();
    auto it = tenants_.find(tenant);
    if (it == tenants_.end())
        return Error(Errc::kNotFound, fmt::format("no xen tenant {}", tenant));
    const Tenant& t = it->second;
    json j = {{"domid", t.domid}, {"paused", t.paused}};
    j["cpupool"] = t.pool ? json(t.pool->id) : json(nullptr);
    if (t.pool) j["cpupool_name"] = pool_name(tenant);
    int vcpus = 0;
    if (auto doms = ops_->domains(); doms)
        for (const auto& d : *doms)
            if (d.domid == t.domid) {
                vcpus = d.vcpus;
                j["cpu_time_ns"] = d.cpu_time_ns;
            }
    json vj = json::array();
    for (int v = 0; v < vcpus; ++v) {
        json x = {{"vcpu", v}};
        if (auto i = ops_->vcpu_info(t.domid, v); i) {
            x["cpu"] = i->cpu;
            x["online"] = i->online;
            x["running"] = i->running;
            x["cpu_time_ns"] = i->cpu_time_ns;
        }
        if (auto a = ops_->vcpu_affinity(t.domid, v); a) x["hard_affinity"] = format_cpulist(*a);
        vj.push_back(std::move(x));
    }
    j["vcpus"] = std::move(vj);
    return j;
}

std::vector<std::string> XenDriver::gone_tenants() {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    if (!ops_) return out;
    auto doms = ops_->domains();
    if (!doms) return out;
    for (const auto& [name, t] : tenants_) {
        const uint32_t domid = t.domid;
        auto d = std::find_if(doms->begin(), doms->end(),
                              [&](const DomainInfo& x) { return x.domid == domid; });
        if (d == doms->end() || d->dying) out.push_back(name);
    }
    return out;
}

Result<std::unique_ptr<Driver>> make_xen_driver(const DriverConfig&) {
    return std::unique_ptr<Driver>(std::make_unique<XenDriver>(nullptr));
}

}  // namespace vtasos::xen
