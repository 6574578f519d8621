// Reference model of the solver's rules for the cross-check tests: written
// from solver.h on its own, sharing no code with the solver. Coexistence
// reservations, stacking, groups and the objective terms over Topology indices.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vtasos/solver/solver.h"

namespace vtasos::testing_ref {

using Obj = std::array<int64_t, 6>;

inline int64_t milli(double g) { return static_cast<int64_t>(std::llround(g * 1000.0)); }

inline int64_t demand(const Request& r, const SolverOptions& o) {
    if (r.bandwidth.gbps) return milli(*r.bandwidth.gbps / r.cpus);
    return milli(r.bandwidth.cls == BandwidthClass::kHigh ? o.high_cpu_gbps : o.low_cpu_gbps);
}

// The rules of solver.h, written out plainly over Topology indices.
class Reference {
public:
    Reference(const Topology& t, const SolverOptions& o, const Request& r,
              const std::vector<Tenant>& ex)
        : t_(t), o_(o), r_(r) {
        const int n = static_cast<int>(t.pus.size());
        occ_pu_.assign(n, 0);
        occ_core_.assign(t.num_cores, 0);
        occ_pkg_.assign(t.num_packages, 0);
        occ_numa_.assign(t.num_numa, 0);
        res_pu_ = occ_pu_;
        res_core_ = occ_core_;
        res_pkg_ = occ_pkg_;
        res_numa_ = occ_numa_;
        base_.assign(t.num_packages, 0);
        std::map<int, int> by_os;
        for (int i = 0; i < n; ++i) by_os[t.pus[i].os_index] = i;
        for (const Tenant& e : ex) {
            if (e.request.tenant == r.tenant) continue;
            const int64_t d = demand(e.request, o);
            for (const auto& cp : e.placement.cpus) {
                const int lv = static_cast<int>(e.request.coexist.at(cp.cpu));
                std::vector<int> pus;
                for (int os : cp.pus)
                    if (by_os.count(os)) pus.push_back(by_os[os]);
                for (size_t j = 0; j < pus.size(); ++j) {
                    const Pu& p = t.pus[pus[j]];
                    const int64_t k = static_cast<int64_t>(pus.size());
                    base_[p.package] += d / k + (static_cast<int64_t>(j) < d % k ? 1 : 0);
                    occ_pu_[pus[j]] = occ_core_[p.core] = occ_pkg_[p.package] = occ_numa_[p.numa] =
                        1;
                    if (lv >= 1) res_pu_[pus[j]] = 1;
                    if (lv >= 2) res_core_[p.core] = 1;
                    if (lv >= 3) res_pkg_[p.package] = 1;
                    if (lv >= 4) res_numa_[p.numa] = 1;
                }
            }
        }
        d_ = demand(r, o);
        hungry_ = r.bandwidth.hungry(o.hungry_threshold_gbps);
    }

    bool reserved(int i) const {
        const Pu& p = t_.pus[i];
        return res_pu_[i] || res_core_[p.core] || res_pkg_[p.package] || res_numa_[p.numa];
    }
    // May a CPU of level lv run on PU i (ignoring the tenant's own CPUs)?
    bool allowed(int lv, int i) const {
        if (reserved(i)) return false;
        const Pu& p = t_.pus[i];
        if (lv >= 1 && occ_pu_[i]) return false;
        if (lv >= 2 && occ_core_[p.core]) return false;
        if (lv >= 3 && occ_pkg_[p.package]) return false;
        if (lv >= 4 && occ_numa_[p.numa]) return false;
        return true;
    }
    int unit(GroupLevel g, int i) const {
        const Pu& p = t_.pus[i];
        return g == GroupLevel::kCore ? p.core : g == GroupLevel::kSocket ? p.package : p.numa;
    }
    // Every hard constraint of a full assignment (topology PU index per CPU).
    bool valid(const std::vector<int>& a) const {
        std::map<int, std::vector<int>> on;
        for (int c = 0; c < r_.cpus; ++c) {
            if (!allowed(static_cast<int>(r_.coexist[c]), a[c])) return false;
            on[a[c]].push_back(c);
        }
        bool stacked = false;
        for (const auto& [i, cs] : on) {
            if (cs.size() < 2) continue;
            stacked = true;
            for (int c : cs)
                if (r_.coexist[c] != Coexist::kPu) return false;
        }
        if (stacked)
            for (int i = 0; i < static_cast<int>(t_.pus.size()); ++i)
                if (!reserved(i) && !on.count(i)) return false;
        for (const auto& g : r_.groups)
            for (int c : g.cpus)
                if (unit(g.level, a[c]) != unit(g.level, a[g.cpus[0]])) return false;
        return true;
    }
    Obj objective(const std::vector<int>& a) const {
        Obj o{};
        std::vector<int64_t> load = base_;
        std::map<int, int64_t> pu_n, core_n, pkg_n;
        std::set<int> l3;
        for (int i : a) {
            const Pu& p = t_.pus[i];
            load[p.package] += d_;
            ++pu_n[i];
            ++core_n[p.core];
            ++pkg_n[p.package];
            l3.insert(p.l3);
        }
        for (int p = 0; p < t_.num_packages; ++p)
            o[0] += std::max<int64_t>(0, load[p] - milli(t_.package_bandwidth_gbps[p]));
        for (auto [i, k] : pu_n) o[1] += occ_pu_[i] + k * (k - 1) / 2;
        for (auto [c, k] : core_n) {
            o[2] += occ_core_[c];
            o[4] += k * (k - 1) / 2;
        }
        o[3] = hungry_ ? -static_cast<int64_t>(pkg_n.size()) : static_cast<int64_t>(pkg_n.size());
        if (hungry_)
            for (auto [p, k] : pkg_n) o[5] += k * (k - 1) / 2;
        else
            o[5] = static_cast<int64_t>(l3.size());
        return o;
    }
    // Brute force: every assignment, pruned only by per-CPU rules.
    bool optimum(Obj& best, long& leaves) const {
        std::vector<int> a(r_.cpus, -1);
        bool found = false;
        const int n = static_cast<int>(t_.pus.size());
        auto rec = [&](auto&& self, int c) -> void {
            if (c == r_.cpus) {
                ++leaves;
                if (!valid(a)) return;
                Obj o = objective(a);
                if (!found || o < best) best = o;
                found = true;
                return;
            }
            for (int i = 0; i < n; ++i) {
                if (!allowed(static_cast<int>(r_.coexist[c]), i)) continue;
                a[c] = i;
                self(self, c + 1);
            }
        };
        rec(rec, 0);
        return found;
    }
    std::vector<int> to_indices(const Placement& p) const {
        std::vector<int> a;
        for (const auto& cp : p.cpus)
            for (int i = 0; i < static_cast<int>(t_.pus.size()); ++i)
                if (t_.pus[i].os_index == cp.pus.at(0)) a.push_back(i);
        return a;
    }

    // Compiled facts, read by the ILP builder as well.
    const Topology& t_;
    SolverOptions o_;
    Request r_;
    std::vector<char> occ_pu_, occ_core_, occ_pkg_, occ_numa_;
    std::vector<char> res_pu_, res_core_, res_pkg_, res_numa_;
    std::vector<int64_t> base_;
    int64_t d_ = 0;
    bool hungry_ = false;
};

inline std::string str(const Obj& o) {
    std::string s = "[";
    for (int64_t x : o) s += std::to_string(x) + " ";
    return s + "]";
}

inline Obj to_obj(const std::vector<double>& v) {
    Obj o{};
    o[0] = milli(v.at(0));
    for (int i = 1; i < 6; ++i) o[i] = static_cast<int64_t>(v.at(i));
    return o;
}

}  // namespace vtasos::testing_ref
