#include "problem.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

namespace vtasos::solver_detail {

int64_t to_milli(double gbps) { return static_cast<int64_t>(std::llround(gbps * 1000.0)); }

int64_t cpu_demand_milli(const Request& r, const SolverOptions& opts) {
    if (r.bandwidth.gbps) return to_milli(*r.bandwidth.gbps / std::max(1, r.cpus));
    return to_milli(r.bandwidth.cls == BandwidthClass::kHigh ? opts.high_cpu_gbps
                                                             : opts.low_cpu_gbps);
}

Layout Layout::build(const Topology& t) {
    Layout L;
    L.npu = static_cast<int>(t.pus.size());
    L.nl3 = t.num_l3;
    L.nnuma = t.num_numa;
    L.numa_os = t.numa_os_index;
    std::vector<int> idx(L.npu);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
        const Pu &x = t.pus[a], &y = t.pus[b];
        return std::tie(x.package, x.l3, x.core) < std::tie(y.package, y.l3, y.core);
    });
    L.pu_topo = idx;
    L.pu_os.resize(L.npu);
    L.pu_core.resize(L.npu);
    L.pu_seg.resize(L.npu);
    L.pu_pkg.resize(L.npu);
    L.pu_l3.resize(L.npu);
    L.pu_numa.resize(L.npu);
    std::vector<int>& pkg_topo = L.pkg_topo;
    for (int i = 0; i < L.npu; ++i) {
        const Pu& p = t.pus[idx[i]];
        const Pu* prev = i > 0 ? &t.pus[idx[i - 1]] : nullptr;
        bool new_pkg = prev == nullptr || prev->package != p.package;
        bool new_seg = new_pkg || prev->l3 != p.l3;
        bool new_core = new_seg || prev->core != p.core;
        if (new_pkg) {
            if (L.npkg > 0) {
                L.pkg_end.push_back(i);
                L.pkg_seg_end.push_back(L.nseg);
            }
            L.pkg_begin.push_back(i);
            L.pkg_seg_begin.push_back(L.nseg);
            pkg_topo.push_back(p.package);
            ++L.npkg;
        }
        if (new_seg) {
            if (L.nseg > 0) {
                L.seg_end.push_back(i);
                L.seg_core_end.push_back(L.ncore);
            }
            L.seg_begin.push_back(i);
            L.seg_core_begin.push_back(L.ncore);
            L.seg_pkg.push_back(L.npkg - 1);
            L.seg_l3.push_back(p.l3);
            ++L.nseg;
        }
        if (new_core) {
            if (L.ncore > 0) L.core_end.push_back(i);
            L.core_begin.push_back(i);
            L.core_seg.push_back(L.nseg - 1);
            L.core_numa.push_back(p.numa);
            ++L.ncore;
        }
        L.pu_os[i] = p.os_index;
        L.pu_core[i] = L.ncore - 1;
        L.pu_seg[i] = L.nseg - 1;
        L.pu_pkg[i] = L.npkg - 1;
        L.pu_l3[i] = p.l3;
        L.pu_numa[i] = p.numa;
        L.os_to_pu[p.os_index] = i;
    }
    L.pkg_end.push_back(L.npu);
    L.pkg_seg_end.push_back(L.nseg);
    L.seg_end.push_back(L.npu);
    L.seg_core_end.push_back(L.ncore);
    L.core_end.push_back(L.npu);
    // Nesting facts used to decide which sibling swaps are symmetries.
    std::vector<int> l3_segs(std::max(0, L.nl3), 0);
    for (int s = 0; s < L.nseg; ++s) ++l3_segs[L.seg_l3[s]];
    L.seg_l3_whole.resize(L.nseg);
    for (int s = 0; s < L.nseg; ++s) {
        L.seg_l3_whole[s] = l3_segs[L.seg_l3[s]] == 1;
        if (!L.seg_l3_whole[s]) L.l3_nested = false;
    }
    std::vector<int> numa_pkg(std::max(0, L.nnuma), -1);
    for (int i = 0; i < L.npu; ++i) {
        int& np = numa_pkg[L.pu_numa[i]];
        if (np == -1) np = L.pu_pkg[i];
        if (np != L.pu_pkg[i]) L.numa_nested = false;
    }
    for (int p = 0; p < L.npkg; ++p) {
        int tp = pkg_topo[p];
        double cap = tp < static_cast<int>(t.package_bandwidth_gbps.size())
                         ? t.package_bandwidth_gbps[tp]
                         : default_package_bandwidth(1);
        L.pkg_cap_milli.push_back(to_milli(cap));
    }
    return L;
}

void compile_existing(const Layout& L, const SolverOptions& opts, const std::string& self,
                      const std::vector<Tenant>& existing, Problem& P) {
    P.lay = &L;
    std::vector<uint8_t> occ_pu(L.npu, 0), occ_core(L.ncore, 0), occ_pkg(L.npkg, 0),
        occ_numa(L.nnuma, 0);
    std::vector<uint8_t> res_pu(L.npu, 0), res_core(L.ncore, 0), res_pkg(L.npkg, 0),
        res_numa(L.nnuma, 0);
    P.pkg_base_milli.assign(L.npkg, 0);
    std::vector<int> pus;
    for (const Tenant& t : existing) {
        if (t.request.tenant == self) {
            P.ignored_self = true;
            continue;
        }
        ++P.existing_tenants;
        const int64_t d = cpu_demand_milli(t.request, opts);
        for (const CpuPlacement& cp : t.placement.cpus) {
            int lv = static_cast<int>(Coexist::kSocket);
            if (cp.cpu >= 0 && cp.cpu < static_cast<int>(t.request.coexist.size()))
                lv = static_cast<int>(t.request.coexist[cp.cpu]);
            else if (!t.request.coexist.empty())
                lv = static_cast<int>(t.request.coexist.front());
            pus.clear();
            for (int os : cp.pus) {
                auto it = L.os_to_pu.find(os);
                if (it == L.os_to_pu.end()) {
                    ++P.ignored_pus;
                    continue;
                }
                pus.push_back(it->second);
            }
            if (pus.empty()) continue;
            ++P.existing_cpus;
            const int64_t k = static_cast<int64_t>(pus.size());
            for (size_t j = 0; j < pus.size(); ++j) {
                int i = pus[j];
                // Split the CPU's demand over its PUs; the remainder goes first.
                P.pkg_base_milli[L.pu_pkg[i]] += d / k + (static_cast<int64_t>(j) < d % k ? 1 : 0);
                occ_pu[i] = occ_core[L.pu_core[i]] = occ_pkg[L.pu_pkg[i]] = 1;
                occ_numa[L.pu_numa[i]] = 1;
                if (lv >= 1) res_pu[i] = 1;
                if (lv >= 2) res_core[L.pu_core[i]] = 1;
                if (lv >= 3) res_pkg[L.pu_pkg[i]] = 1;
                if (lv >= 4) res_numa[L.pu_numa[i]] = 1;
            }
        }
    }
    P.allowed.assign(L.npu, -1);
    P.others.assign(L.npu, 0);
    P.core_others.assign(L.ncore, 0);
    for (int k = 0; k < L.ncore; ++k) P.core_others[k] = occ_core[k];
    for (int i = 0; i < L.npu; ++i) {
        int k = L.pu_core[i], p = L.pu_pkg[i], m = L.pu_numa[i];
        P.others[i] = occ_pu[i];
        if (res_pu[i] || res_core[k] || res_pkg[p] || res_numa[m]) continue;
        int a = 4;
        if (occ_pu[i])
            a = 0;
        else if (occ_core[k])
            a = 1;
        else if (occ_pkg[p])
            a = 2;
        else if (occ_numa[m])
            a = 3;
        P.allowed[i] = static_cast<int8_t>(a);
    }
}

namespace {

// Interns sequences: equal content -> equal id.
class Interner {
public:
    int operator()(const std::vector<int64_t>& key) {
        auto [it, inserted] = ids_.emplace(key, static_cast<int>(ids_.size()));
        return it->second;
    }

private:
    std::map<std::vector<int64_t>, int> ids_;
};

}  // namespace

void compile_request(const Request& r, const SolverOptions& opts, Problem& P) {
    const Layout& L = *P.lay;
    P.n = r.cpus;
    P.lvl.resize(P.n);
    for (int c = 0; c < P.n; ++c) P.lvl[c] = static_cast<int>(r.coexist[c]);
    P.d_milli = cpu_demand_milli(r, opts);
    P.d_gbps = static_cast<double>(P.d_milli) / 1000.0;
    P.hungry = r.bandwidth.hungry(opts.hungry_threshold_gbps);
    P.groups.clear();
    P.groups_of.assign(P.n, {});
    for (const AffinityGroup& g : r.groups) {
        P.groups.push_back({g.level, g.cpus});
        for (int c : g.cpus) P.groups_of[c].push_back(static_cast<int>(P.groups.size()) - 1);
        if (g.level == GroupLevel::kNode) P.numa_matters = true;
    }

    // CPU types and search order: grouped CPUs first, strictest level first.
    std::map<std::vector<int>, int> type_ids;
    std::vector<std::vector<int>> type_key(P.n);
    P.type_of.resize(P.n);
    for (int c = 0; c < P.n; ++c) {
        std::vector<int> key{P.lvl[c]};
        key.insert(key.end(), P.groups_of[c].begin(), P.groups_of[c].end());
        type_key[c] = key;
        auto [it, inserted] = type_ids.emplace(key, static_cast<int>(type_ids.size()));
        P.type_of[c] = it->second;
    }
    P.order.resize(P.n);
    std::iota(P.order.begin(), P.order.end(), 0);
    std::stable_sort(P.order.begin(), P.order.end(), [&](int a, int b) {
        bool ga = !P.groups_of[a].empty(), gb = !P.groups_of[b].empty();
        if (ga != gb) return ga;
        if (P.lvl[a] != P.lvl[b]) return P.lvl[a] > P.lvl[b];
        return type_key[a] < type_key[b];
    });
    P.prev_same.assign(P.n, -1);
    std::vector<int> last(type_ids.size(), -1);
    for (int k = 0; k < P.n; ++k) {
        int t = P.type_of[P.order[k]];
        P.prev_same[k] = last[t];
        last[t] = k;
    }

    // Static symmetry state ids and availability.
    Interner core_ids, seg_ids, numa_sigs, pkg_ids;
    P.pu_key.resize(L.npu);
    for (int i = 0; i < L.npu; ++i) P.pu_key[i] = (P.allowed[i] + 1) * 2 + P.others[i];
    P.core_state.resize(L.ncore);
    P.core_max_allowed.assign(L.ncore, -1);
    P.avail0.fill(0);
    P.open_cores = 0;
    std::vector<int64_t> key;
    for (int k = 0; k < L.ncore; ++k) {
        key.clear();
        for (int i = L.core_begin[k]; i < L.core_end[k]; ++i) {
            key.push_back(P.pu_key[i]);
            P.core_max_allowed[k] = std::max(P.core_max_allowed[k], P.allowed[i]);
            for (int l = 0; l <= P.allowed[i]; ++l) ++P.avail0[l];
        }
        P.core_state[k] = core_ids(key);
        if (P.core_max_allowed[k] >= 0) ++P.open_cores;
    }
    P.seg_state.resize(L.nseg);
    P.seg_numa_sig.assign(L.nseg, 0);
    P.seg_max_allowed.assign(L.nseg, -1);
    for (int s = 0; s < L.nseg; ++s) {
        key.clear();
        for (int k = L.seg_core_begin[s]; k < L.seg_core_end[s]; ++k) {
            key.push_back(P.core_state[k]);
            P.seg_max_allowed[s] = std::max(P.seg_max_allowed[s], P.core_max_allowed[k]);
        }
        P.seg_state[s] = seg_ids(key);
        if (P.numa_matters) {
            key.clear();
            for (int k = L.seg_core_begin[s]; k < L.seg_core_end[s]; ++k)
                key.push_back(L.core_numa[k]);
            P.seg_numa_sig[s] = numa_sigs(key);
        }
    }
    P.pkg_state.resize(L.npkg);
    P.pkg_max_allowed.assign(L.npkg, -1);
    P.open_pkgs = 0;
    for (int p = 0; p < L.npkg; ++p) {
        key.clear();
        key.push_back(P.pkg_base_milli[p]);
        key.push_back(L.pkg_cap_milli[p]);
        for (int s = L.pkg_seg_begin[p]; s < L.pkg_seg_end[p]; ++s) {
            key.push_back(P.seg_state[s]);
            P.pkg_max_allowed[p] = std::max(P.pkg_max_allowed[p], P.seg_max_allowed[s]);
        }
        if (P.numa_matters) {
            // NUMA pattern relative to the package (first NUMA node seen = 0, ...).
            std::vector<int> seen;
            key.push_back(-1);
            const int first_core = L.seg_core_begin[L.pkg_seg_begin[p]];
            const int end_core = L.seg_core_end[L.pkg_seg_end[p] - 1];
            for (int k = first_core; k < end_core; ++k) {
                auto it = std::find(seen.begin(), seen.end(), L.core_numa[k]);
                if (it == seen.end()) {
                    seen.push_back(L.core_numa[k]);
                    it = seen.end() - 1;
                }
                key.push_back(it - seen.begin());
            }
        }
        P.pkg_state[p] = pkg_ids(key);
        if (P.pkg_max_allowed[p] >= 0) ++P.open_pkgs;
    }
    P.pkg_symmetry = L.l3_nested && (!P.numa_matters || L.numa_nested);
    Interner core_classes, seg_classes;
    P.core_class.resize(L.ncore);
    for (int k = 0; k < L.ncore; ++k)
        P.core_class[k] = core_classes({P.core_state[k], P.numa_matters ? L.core_numa[k] : 0});
    P.seg_class.resize(L.nseg);
    for (int s = 0; s < L.nseg; ++s)
        P.seg_class[s] = seg_classes({P.seg_state[s], P.seg_numa_sig[s]});
    P.n_core_class = L.ncore;
    P.n_seg_class = L.nseg;
    P.n_pkg_class = L.npkg;
}

}  // namespace vtasos::solver_detail
