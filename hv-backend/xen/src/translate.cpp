// Pure translation: Xen topology -> Topology, placement -> vCPU masks,
// cpupool plans, credit2 parameters. No hypercalls here.
#include "vtasos/xen/translate.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace vtasos::xen {

Result<Topology> topology_from_xen(const PhysInfo& phys, const std::vector<CpuTopo>& cpus) {
    std::vector<CpuTopo> on;
    for (const auto& c : cpus)
        if (c.online) on.push_back(c);
    if (on.empty())
        return Error(Errc::kUnavailable, "xen topology: xc_cputopoinfo reported no online CPU");
    // Logical indices are dense in (node, socket, core) order.
    std::sort(on.begin(), on.end(), [](const CpuTopo& a, const CpuTopo& b) {
        return std::tie(a.node, a.socket, a.core, a.cpu) <
               std::tie(b.node, b.socket, b.core, b.cpu);
    });
    std::map<int, int> numa;                        // Xen node id -> logical
    std::map<std::pair<int, int>, int> pkg;         // (node, socket) -> logical
    std::map<std::tuple<int, int, int>, int> core;  // (node, socket, core) -> logical
    Topology t;
    t.source = fmt::format("xen:physinfo ({} cpus, {} nodes)", phys.nr_cpus, phys.nr_nodes);
    for (const auto& c : on) {
        int n = numa.try_emplace(c.node, static_cast<int>(numa.size())).first->second;
        int p = pkg.try_emplace({c.node, c.socket}, static_cast<int>(pkg.size())).first->second;
        int k = core.try_emplace({c.node, c.socket, c.core}, static_cast<int>(core.size()))
                    .first->second;
        t.pus.push_back(Pu{c.cpu, k, p, p, n});
    }
    t.num_cores = static_cast<int>(core.size());
    t.num_l3 = t.num_packages = static_cast<int>(pkg.size());
    t.num_numa = static_cast<int>(numa.size());
    for (const auto& [id, logical] : numa) t.numa_os_index.push_back(id);
    std::vector<int> cores_in_pkg(t.num_packages, 0);
    for (const auto& [key, logical] : core)
        ++cores_in_pkg[pkg.at({std::get<0>(key), std::get<1>(key)})];
    for (int n : cores_in_pkg) t.package_bandwidth_gbps.push_back(default_package_bandwidth(n));
    if (auto s = t.validate(); !s) return s.error().with_context("xen topology");
    return t;
}

std::vector<std::vector<int>> vcpu_masks(const Placement& placement, int vcpus) {
    std::vector<std::vector<int>> out;
    std::vector<int> all = placement.all_pus();
    for (int v = 0; v < vcpus; ++v) {
        if (v < static_cast<int>(placement.cpus.size()) && !placement.cpus[v].pus.empty()) {
            auto pus = placement.cpus[v].pus;
            std::sort(pus.begin(), pus.end());
            out.push_back(std::move(pus));
        } else {
            out.push_back(all);
        }
    }
    return out;
}

Result<PoolPolicy> parse_pool_policy(std::string_view s) {
    if (s == "auto") return PoolPolicy::kAuto;
    if (s == "always") return PoolPolicy::kAlways;
    if (s == "never") return PoolPolicy::kNever;
    return Error(
        Errc::kInvalidArgument,
        fmt::format("xen pool policy \"{}\": expected auto|always|never", s.substr(0, 32)));
}

std::string_view to_string(PoolPolicy p) {
    switch (p) {
        case PoolPolicy::kAuto:
            return "auto";
        case PoolPolicy::kAlways:
            return "always";
        case PoolPolicy::kNever:
            return "never";
    }
    return "?";
}

bool wants_pool(const Request& request, PoolPolicy policy) {
    if (policy == PoolPolicy::kNever) return false;
    if (policy == PoolPolicy::kAlways) return true;
    if (request.coexist.empty()) return false;
    return std::all_of(request.coexist.begin(), request.coexist.end(),
                       [](Coexist c) { return c == Coexist::kNode || c == Coexist::kNone; });
}

std::string pool_name(std::string_view tenant) { return fmt::format("vtasos-{}", tenant); }

Result<std::vector<PoolMove>> plan_pool(const std::vector<int>& cpus,
                                        const std::vector<CpupoolInfo>& pools) {
    std::map<int, uint32_t> where;
    size_t pool0_cpus = 0;
    for (const auto& p : pools) {
        for (int c : p.cpus) where[c] = p.id;
        if (p.id == 0) pool0_cpus = p.cpus.size();
    }
    std::set<int> want(cpus.begin(), cpus.end());
    std::vector<PoolMove> moves;
    size_t from_pool0 = 0;
    for (int c : want) {
        auto it = where.find(c);
        if (it == where.end())
            return Error(Errc::kInvalidArgument,
                         fmt::format("cpupool plan: CPU {} is in no cpupool (offline or unknown "
                                     "to Xen)",
                                     c));
        if (it->second != 0)
            return Error(Errc::kBusy,
                         fmt::format("cpupool plan: CPU {} belongs to cpupool {}, not Pool-0 "
                                     "(another tenant's pool or one made by hand: "
                                     "`xl cpupool-list -c`)",
                                     c, it->second));
        moves.push_back({c, 0});
        ++from_pool0;
    }
    if (from_pool0 > 0 && from_pool0 >= pool0_cpus)
        return Error(Errc::kInfeasible,
                     fmt::format("cpupool plan: moving CPUs {} would leave Pool-0 (dom0) without "
                                 "a CPU; ask for fewer CPUs or use --xen-pools never",
                                 format_cpulist(cpus)));
    return moves;
}

std::optional<Credit2Params> credit2_for(const Request& request) {
    bool shares = std::any_of(request.coexist.begin(), request.coexist.end(),
                              [](Coexist c) { return c == Coexist::kPu; });
    if (!shares) return std::nullopt;
    Credit2Params p;
    p.weight = std::min(65535, 256 * std::max(1, request.cpus));
    p.cap = std::min(65535, 100 * std::max(1, request.cpus));
    return p;
}

bool pin_conflicts(const std::vector<int>& current, const std::vector<int>& placed,
                   const std::vector<int>& online) {
    std::set<int> cur(current.begin(), current.end());
    auto covers = [&](const std::vector<int>& v) {
        return std::all_of(v.begin(), v.end(), [&](int c) { return cur.count(c) > 0; });
    };
    if (covers(online)) return false;
    return !covers(placed);
}

}  // namespace vtasos::xen
