// Solver: public entry points. Compiles the problem (problem.cpp), rejects
// what is infeasible on counting grounds alone with a precise message, runs the
// search (search.cpp) and turns the result into a Placement with its trace.
#include "vtasos/solver/solver.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "problem.h"
#include "search.h"

namespace vtasos {

using solver_detail::kLevels;
using solver_detail::Layout;
using solver_detail::Objective;
using solver_detail::Problem;
using solver_detail::Search;

namespace {

// The unit a CPU of level L (>= 1) needs free of other tenants, from the
// smallest: core -> PU, socket -> core, node -> package, none -> NUMA node.
std::string_view free_unit(int level) {
    switch (level) {
        case 1:
            return "PU";
        case 2:
            return "core";
        case 3:
            return "package";
        default:
            return "NUMA node";
    }
}

std::string_view group_unit(GroupLevel g) {
    switch (g) {
        case GroupLevel::kCore:
            return "core";
        case GroupLevel::kSocket:
            return "package";
        case GroupLevel::kNode:
            return "NUMA node";
    }
    return "unit";
}

std::string lvl_name(int l) { return std::string(to_string(static_cast<Coexist>(l))); }

std::string join(const std::vector<int>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

std::string group_desc(const Problem& P, int g) {
    return fmt::format("affinity group {} ({}: cpus {})", g, to_string(P.groups[g].level),
                       join(P.groups[g].cpus));
}

Error infeasible(std::string msg) { return Error(Errc::kInfeasible, std::move(msg)); }

// Infeasibility that counting alone proves: a level nobody may have, more
// strict CPUs than PUs for them, a group no unit can hold.
std::optional<Error> diagnose_static(const Problem& P) {
    for (int c = 0; c < P.n; ++c) {
        const int l = P.lvl[c];
        if (P.avail0[l] > 0) continue;
        if (l == 0)
            return infeasible(fmt::format(
                "coexist pu of cpu {}: every PU is reserved by other tenants' coexistence levels",
                c));
        return infeasible(fmt::format("coexist {} of cpu {}: no {} free of other tenants",
                                      lvl_name(l), c, free_unit(l)));
    }
    for (int l = kLevels - 1; l >= 1; --l) {
        std::vector<int> cpus;
        for (int c = 0; c < P.n; ++c)
            if (P.lvl[c] >= l) cpus.push_back(c);
        if (static_cast<int>(cpus.size()) <= P.avail0[l]) continue;
        const int c = cpus[P.avail0[l]];
        std::string need =
            l == 1
                ? std::string("need a PU free of other tenants")
                : fmt::format("need a PU of their own in a {} free of other tenants", free_unit(l));
        return infeasible(
            fmt::format("coexist {} of cpu {}: {} cpus with coexist {} or stricter {}, only {} "
                        "such PUs are left",
                        lvl_name(P.lvl[c]), c, cpus.size(), lvl_name(l), need, P.avail0[l]));
    }
    const Layout& L = *P.lay;
    for (size_t g = 0; g < P.groups.size(); ++g) {
        const auto& G = P.groups[g];
        const int units = G.level == GroupLevel::kCore     ? L.ncore
                          : G.level == GroupLevel::kSocket ? L.npkg
                                                           : L.nnuma;
        std::vector<std::array<int, kLevels>> avail(units, std::array<int, kLevels>{});
        for (int i = 0; i < L.npu; ++i)
            for (int l = 0; l <= P.allowed[i]; ++l) ++avail[P.unit_of(G.level, i)][l];
        std::array<int, kLevels> want{};
        int minl = kLevels - 1;
        for (int c : G.cpus) {
            ++want[P.lvl[c]];
            minl = std::min(minl, P.lvl[c]);
        }
        bool fits = false;
        int roomiest = 0;
        for (int u = 0; u < units && !fits; ++u) {
            roomiest = std::max(roomiest, avail[u][minl]);
            bool ok = avail[u][minl] > 0;
            int w = 0;
            for (int l = kLevels - 1; l >= 1 && ok; --l) {
                w += want[l];
                ok = w <= avail[u][l];
            }
            fits = ok;
        }
        if (!fits)
            return infeasible(fmt::format(
                "{}: no {} has room for its {} cpus beside the other tenants (the roomiest has {} "
                "usable PUs)",
                group_desc(P, static_cast<int>(g)), group_unit(G.level), G.cpus.size(), roomiest));
    }
    return std::nullopt;
}

std::string coexist_summary(const Problem& P) {
    std::array<int, kLevels> n{};
    for (int l : P.lvl) ++n[l];
    std::string s;
    for (int l = kLevels - 1; l >= 0; --l)
        if (n[l]) s += fmt::format("{}{} x{}", s.empty() ? "" : ", ", lvl_name(l), n[l]);
    return s;
}

std::vector<double> to_doubles(const Objective& o) {
    return {static_cast<double>(o[0]) / 1000.0, static_cast<double>(o[1]),
            static_cast<double>(o[2]),          static_cast<double>(o[3]),
            static_cast<double>(o[4]),          static_cast<double>(o[5])};
}

std::string objective_line(const Objective& o, bool hungry) {
    return fmt::format(
        "objective: overload {:.3f} GB/s, shared PUs {}, shared cores {}, packages {}{}, "
        "cpu pairs on one core {}, {} {}",
        static_cast<double>(o[0]) / 1000.0, o[1], o[2], o[3], hungry ? " (negated: spread)" : "",
        o[4], hungry ? "cpu pairs in one package" : "L3 caches", o[5]);
}

}  // namespace

Solver::Solver(Topology topology, SolverOptions options)
    : topo_(std::move(topology)), opts_(options) {
    topo_status_ = topo_.validate();
    if (topo_status_.ok()) layout_ = std::make_shared<const Layout>(Layout::build(topo_));
}

Result<Placement> Solver::place(const Request& request, const std::vector<Tenant>& existing) const {
    if (!topo_status_.ok()) return topo_status_.error().with_context("solver");
    if (auto s = request.validate(); !s.ok()) return s.error();
    Problem P;
    solver_detail::compile_existing(*layout_, opts_, request.tenant, existing, P);
    solver_detail::compile_request(request, opts_, P);
    if (auto e = diagnose_static(P)) return *e;

    const Layout& L = *layout_;
    const long free_pus = P.avail0[0];
    const long size = free_pus * P.n;
    const bool exact = size <= opts_.exact_limit_pus;
    Search S(P);
    const long min_nodes = 4L * P.n + 16;
    // Branch and bound with all symmetry breaking; often proves optimality
    // even past the exact limit. When the node limit stops it, a dive without
    // the ordering of identical CPUs (which can strand a greedy dive, see
    // search.h) looks for a better or a first placement.
    S.branch_and_bound(
        std::max(exact ? opts_.exact_node_limit : opts_.heuristic_node_limit, min_nodes), false,
        true);
    if (!S.stats().complete) {
        if (S.found())
            S.branch_and_bound(std::max(opts_.heuristic_node_limit / 4, min_nodes), false, false);
        else
            S.branch_and_bound(std::max(opts_.exact_node_limit, min_nodes), true, false);
    }
    const bool optimal = S.stats().complete;
    if (!S.found()) {
        const auto& st = S.stats();
        std::string who = "no cpu";
        if (st.fail_cpu >= 0) {
            const int c = st.fail_cpu;
            who = fmt::format("cpu {} (coexist {}", c, lvl_name(P.lvl[c]));
            for (int g : P.groups_of[c]) who += ", " + group_desc(P, g);
            who += ")";
        }
        if (S.stats().complete)
            return infeasible(fmt::format(
                "coexistence levels and affinity groups cannot all hold: no PU is left for {} once "
                "the cpus searched before it are placed",
                who));
        return infeasible(
            fmt::format("no placement found within the search limit of {} nodes (SolverOptions::"
                        "exact_node_limit); the hardest cpu to place was {}",
                        S.stats().nodes, who));
    }
    if (!optimal) S.local_search(opts_.local_search_evals);

    const std::vector<int>& pos = S.best_pos();
    Placement out;
    out.tenant = request.tenant;
    for (int c = 0; c < P.n; ++c) out.cpus.push_back({c, {L.pu_os[pos[c]]}});
    std::set<int> numa;
    for (int c = 0; c < P.n; ++c) numa.insert(L.numa_os[L.pu_numa[pos[c]]]);
    if (request.memory == MemPolicy::kLocal) {
        out.mem_nodes.assign(numa.begin(), numa.end());
    } else if (request.memory == MemPolicy::kInterleave) {
        out.mem_nodes = L.numa_os;
        std::sort(out.mem_nodes.begin(), out.mem_nodes.end());
        out.mem_nodes.erase(std::unique(out.mem_nodes.begin(), out.mem_nodes.end()),
                            out.mem_nodes.end());
    }
    out.objective = to_doubles(S.best());

    // Trace: why, one line per decision.
    auto& tr = out.trace;
    std::string bw_src = request.bandwidth.gbps
                             ? fmt::format("measured {:.3g} GB/s total", *request.bandwidth.gbps)
                             : fmt::format("class {}", to_string(request.bandwidth.cls));
    tr.push_back(fmt::format(
        "request {}: {} cpus, coexist {}, {} affinity groups, {:.3f} GB/s per "
        "cpu ({}) -> {}",
        request.tenant, P.n, coexist_summary(P), P.groups.size(), P.d_gbps, bw_src,
        P.hungry ? "bandwidth-hungry: spread over packages" : "packed into few packages"));
    int reserved = 0, shared_only = 0;
    for (int i = 0; i < L.npu; ++i) {
        reserved += P.allowed[i] < 0;
        shared_only += P.allowed[i] == 0;
    }
    tr.push_back(
        fmt::format("beside {} tenants ({} cpus): {} of {} PUs reserved by their levels, "
                    "{} time-shareable only",
                    P.existing_tenants, P.existing_cpus, reserved, L.npu, shared_only));
    if (P.ignored_self)
        tr.push_back(
            fmt::format("existing placement of {} ignored (re-placement)", request.tenant));
    if (P.ignored_pus)
        tr.push_back(fmt::format("{} PUs of existing placements are not in the topology: ignored",
                                 P.ignored_pus));
    const auto& st = S.stats();
    if (exact && optimal) {
        tr.push_back(fmt::format("search: exact branch and bound, {} nodes: optimal", st.nodes));
    } else if (exact) {
        tr.push_back(
            fmt::format("search: exact branch and bound stopped at its node limit ({} "
                        "nodes), local search {} moves: best found, not proven optimal",
                        st.nodes, st.ls_moves));
    } else if (optimal) {
        tr.push_back(
            fmt::format("search: {} free PUs x {} cpus > exact limit {}, yet branch and "
                        "bound finished in {} nodes: optimal",
                        free_pus, P.n, opts_.exact_limit_pus, st.nodes));
    } else {
        tr.push_back(
            fmt::format("search: {} free PUs x {} cpus > exact limit {}: greedy dive and "
                        "bounded search ({} nodes), local search ({} evaluations, {} "
                        "moves)",
                        free_pus, P.n, opts_.exact_limit_pus, st.nodes, st.ls_evals, st.ls_moves));
    }
    std::map<int, std::vector<int>> by_pkg;
    for (int c = 0; c < P.n; ++c) by_pkg[L.pu_pkg[pos[c]]].push_back(c);
    for (const auto& [p, cpus] : by_pkg) {
        std::vector<int> os;
        std::set<int> cores;
        for (int c : cpus) {
            os.push_back(L.pu_os[pos[c]]);
            cores.insert(L.pu_core[pos[c]]);
        }
        const double load = static_cast<double>(P.pkg_base_milli[p] +
                                                P.d_milli * static_cast<int64_t>(cpus.size())) /
                            1000.0;
        tr.push_back(
            fmt::format("package {}: cpus {} on PUs {} ({} cores), bandwidth {:.1f} of "
                        "{:.1f} GB/s",
                        L.pkg_topo[p], format_cpulist(cpus), format_cpulist(os), cores.size(), load,
                        static_cast<double>(L.pkg_cap_milli[p]) / 1000.0));
    }
    tr.push_back(objective_line(S.best(), P.hungry));
    tr.push_back(fmt::format(
        "memory {}: NUMA nodes {}", to_string(request.memory),
        out.mem_nodes.empty() ? std::string("all (no binding)") : format_cpulist(out.mem_nodes)));
    return out;
}

namespace {

// Maps a placement onto search PU indices; kInvalidArgument when it does not fit.
Result<std::vector<std::vector<int>>> map_placement(const Layout& L, const Request& r,
                                                    const Placement& pl) {
    if (static_cast<int>(pl.cpus.size()) != r.cpus)
        return Error(Errc::kInvalidArgument,
                     fmt::format("placement has {} cpus, the request {}", pl.cpus.size(), r.cpus));
    std::vector<std::vector<int>> out(r.cpus);
    for (int c = 0; c < r.cpus; ++c) {
        const CpuPlacement& cp = pl.cpus[c];
        if (cp.cpu != c)
            return Error(Errc::kInvalidArgument,
                         fmt::format("placement.cpus[{}].cpu is {}, expected {}", c, cp.cpu, c));
        if (cp.pus.empty())
            return Error(Errc::kInvalidArgument, fmt::format("placement.cpus[{}].pus is empty", c));
        for (int os : cp.pus) {
            auto it = L.os_to_pu.find(os);
            if (it == L.os_to_pu.end())
                return Error(
                    Errc::kInvalidArgument,
                    fmt::format("placement.cpus[{}]: PU {} is not in the topology", c, os));
            out[c].push_back(it->second);
        }
    }
    return out;
}

}  // namespace

std::vector<double> Solver::evaluate(const Request& request, const Placement& placement,
                                     const std::vector<Tenant>& existing) const {
    if (!topo_status_.ok()) return {};
    const Layout& L = *layout_;
    auto mapped = map_placement(L, request, placement);
    if (!mapped.ok()) return {};
    Problem P;
    solver_detail::compile_existing(L, opts_, request.tenant, existing, P);
    const int64_t d = solver_detail::cpu_demand_milli(request, opts_);
    const bool hungry = request.bandwidth.hungry(opts_.hungry_threshold_gbps);
    std::vector<int64_t> load = P.pkg_base_milli;
    std::vector<int> pkg_cpus(L.npkg, 0);
    std::map<int, int> cnt_pu, cnt_core;
    std::set<int> pkgs, l3s;
    for (const auto& pus : *mapped) {
        const int64_t k = static_cast<int64_t>(pus.size());
        for (size_t j = 0; j < pus.size(); ++j) {
            const int i = pus[j];
            load[L.pu_pkg[i]] += d / k + (static_cast<int64_t>(j) < d % k ? 1 : 0);
            ++cnt_pu[i];
            ++pkg_cpus[L.pu_pkg[i]];
            ++cnt_core[L.pu_core[i]];
            pkgs.insert(L.pu_pkg[i]);
            l3s.insert(L.pu_l3[i]);
        }
    }
    Objective o{};
    for (int p = 0; p < L.npkg; ++p) o[0] += std::max<int64_t>(0, load[p] - L.pkg_cap_milli[p]);
    auto pairs = [](int64_t n) { return n * (n - 1) / 2; };
    for (const auto& [i, n] : cnt_pu) o[1] += P.others[i] + pairs(n);
    for (const auto& [k, n] : cnt_core) {
        o[2] += P.core_others[k];
        o[4] += pairs(n);
    }
    o[3] = hungry ? -static_cast<int64_t>(pkgs.size()) : static_cast<int64_t>(pkgs.size());
    if (hungry)
        for (int k : pkg_cpus) o[5] += pairs(k);
    else
        o[5] = static_cast<int64_t>(l3s.size());
    return to_doubles(o);
}

Status Solver::check(const Request& request, const Placement& placement,
                     const std::vector<Tenant>& existing) const {
    if (!topo_status_.ok()) return topo_status_.error().with_context("solver");
    if (auto s = request.validate(); !s.ok()) return s.error();
    const Layout& L = *layout_;
    auto mapped = map_placement(L, request, placement);
    if (!mapped.ok()) return mapped.error();
    Problem P;
    solver_detail::compile_existing(L, opts_, request.tenant, existing, P);
    std::map<int, std::vector<int>> on_pu;
    for (int c = 0; c < request.cpus; ++c) {
        const int lv = static_cast<int>(request.coexist[c]);
        for (int i : (*mapped)[c]) {
            on_pu[i].push_back(c);
            const int a = P.allowed[i];
            if (a >= lv) continue;
            if (a < 0)
                return infeasible(
                    fmt::format("coexist: cpu {} is on PU {}, which another tenant's coexistence "
                                "level reserves",
                                c, L.pu_os[i]));
            return infeasible(
                fmt::format("coexist {} of cpu {}: the {} of PU {} is not free of other "
                            "tenants",
                            lvl_name(lv), c, free_unit(a + 1), L.pu_os[i]));
        }
    }
    std::optional<std::pair<int, std::pair<int, int>>> stacked;
    for (const auto& [i, cpus] : on_pu) {
        if (cpus.size() < 2) continue;
        for (int c : cpus)
            if (request.coexist[c] != Coexist::kPu)
                return infeasible(fmt::format(
                    "one PU per cpu: cpus {} and {} share PU {} (only coexist pu cpus may)",
                    cpus[0], cpus[1], L.pu_os[i]));
        if (!stacked) stacked = {i, {cpus[0], cpus[1]}};
    }
    if (stacked) {
        for (int i = 0; i < L.npu; ++i)
            if (P.allowed[i] >= 0 && !on_pu.count(i))
                return infeasible(
                    fmt::format("one PU per cpu: cpus {} and {} share PU {} while PU {} "
                                "is free",
                                stacked->second.first, stacked->second.second,
                                L.pu_os[stacked->first], L.pu_os[i]));
    }
    for (size_t g = 0; g < request.groups.size(); ++g) {
        const AffinityGroup& G = request.groups[g];
        const int c0 = G.cpus.front();
        const int i0 = (*mapped)[c0].front();
        P.lay = &L;
        for (int c : G.cpus)
            for (int i : (*mapped)[c])
                if (P.unit_of(G.level, i) != P.unit_of(G.level, i0))
                    return infeasible(fmt::format(
                        "affinity group {} ({}: cpus {}): cpus {} and {} are "
                        "in different {}s",
                        g, to_string(G.level), join(G.cpus), c0, c, group_unit(G.level)));
    }
    return {};
}

}  // namespace vtasos
