// ILP cross-check with GLPK on topologies of 16..64 PUs.
//
// The placement problem is written as one integer program: y[t][i] = number
// of CPUs of type t (same level and groups) on PU i, with the hard constraints
// of solver.h linearised (one PU per CPU unless stacking, stacking only when
// every unreserved PU is used, groups through one binary per unit) and the six
// objective terms combined with lexicographic weights (each weight exceeds the
// range of all terms after it; pair counts through tangents of k(k-1)/2).
// The default solver (exact search here) must reach the ILP optimum; the
// solver forced onto its heuristic (exact_limit_pus = 0) must be within 5%.
// Both must agree with the ILP on feasibility.
#include <glpk.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>

#include "reference.h"
#include "vtasos/solver/solver.h"

namespace vtasos {
namespace {

using namespace testing_ref;

struct Lp {
    glp_prob* p = glp_create_prob();
    ~Lp() { glp_delete_prob(p); }
    int col(int kind, double lo, double hi, double cost) {
        int j = glp_add_cols(p, 1);
        glp_set_col_kind(p, j, kind);
        if (kind == GLP_BV)
            glp_set_col_bnds(p, j, GLP_DB, 0, 1);
        else if (hi < 0)
            glp_set_col_bnds(p, j, GLP_LO, lo, 0);
        else if (hi == lo)
            glp_set_col_bnds(p, j, GLP_FX, lo, lo);
        else
            glp_set_col_bnds(p, j, GLP_DB, lo, hi);
        glp_set_obj_coef(p, j, cost);
        return j;
    }
    // sum coef*col  (type GLP_LO: >= lo, GLP_UP: <= hi, GLP_FX: == lo)
    void row(const std::vector<std::pair<int, double>>& terms, int type, double bound) {
        if (terms.empty()) return;
        int r = glp_add_rows(p, 1);
        std::vector<int> ind{0};
        std::vector<double> val{0};
        for (auto [j, v] : terms) {
            ind.push_back(j);
            val.push_back(v);
        }
        glp_set_mat_row(p, r, static_cast<int>(terms.size()), ind.data(), val.data());
        glp_set_row_bnds(p, r, type, bound, bound);
    }
};

struct IlpResult {
    enum { kOptimal, kInfeasible, kTimeout } status = kTimeout;
    std::vector<int> assignment;  // topology PU index per CPU
    double value = 0;
};

struct Weights {
    std::array<double, 6> w{};
    int64_t quantum = 1;  // milli-GB/s per unit of the overload term
};

int64_t gcd_all(const std::vector<int64_t>& v) {
    int64_t g = 0;
    for (int64_t x : v) g = std::gcd(g, x < 0 ? -x : x);
    return g == 0 ? 1 : g;
}

Weights weights(const Topology& t, const Request& r, const Reference& ref) {
    const double n = r.cpus, pairs = n * (n - 1) / 2;
    Weights W;
    W.w[5] = 1;
    W.w[4] = W.w[5] * (std::max(n, pairs) + 1);
    W.w[3] = W.w[4] * (pairs + 1);
    W.w[2] = W.w[3] * (t.num_packages + 1);
    W.w[1] = W.w[2] * (n + 1);
    W.w[0] = W.w[1] * (n + pairs + 1);
    std::vector<int64_t> vals = ref.base_;
    vals.push_back(ref.d_);
    for (double b : t.package_bandwidth_gbps) vals.push_back(milli(b));
    W.quantum = gcd_all(vals);
    return W;
}

double scalar(const Obj& o, const Weights& W, int packages) {
    double s = W.w[0] * static_cast<double>(o[0] / W.quantum);
    for (int i = 1; i < 6; ++i) s += W.w[i] * static_cast<double>(o[i]);
    // Shift the negated package count of hungry tenants so values stay >= 0.
    if (o[3] < 0) s += W.w[3] * packages;
    return s;
}

IlpResult solve_ilp(const Topology& t, const Request& r, const Reference& ref, const Weights& W,
                    double time_limit_s) {
    Lp lp;
    glp_set_obj_dir(lp.p, GLP_MIN);
    const int npu = static_cast<int>(t.pus.size());
    const int N = r.cpus;
    const bool hungry = ref.hungry_;
    // CPU types: same level and same groups.
    std::map<std::pair<int, std::vector<int>>, std::vector<int>> types;
    for (int c = 0; c < N; ++c) {
        std::vector<int> gs;
        for (size_t g = 0; g < r.groups.size(); ++g)
            if (std::count(r.groups[g].cpus.begin(), r.groups[g].cpus.end(), c)) gs.push_back(g);
        types[{static_cast<int>(r.coexist[c]), gs}].push_back(c);
    }
    struct Type {
        int level;
        std::vector<int> groups, cpus;
        std::vector<int> y;  // column per PU, 0 = none
    };
    std::vector<Type> T;
    for (auto& [key, cpus] : types)
        T.push_back({key.first, key.second, cpus, std::vector<int>(npu, 0)});
    std::vector<std::vector<std::pair<int, double>>> S(npu);  // S_i = sum_t y[t][i]
    for (auto& ty : T) {
        const int nt = static_cast<int>(ty.cpus.size());
        std::vector<std::pair<int, double>> sum;
        for (int i = 0; i < npu; ++i) {
            if (!ref.allowed(ty.level, i)) continue;
            const int ub = ty.level == 0 ? nt : 1;
            ty.y[i] = lp.col(ub == 1 ? GLP_BV : GLP_IV, 0, ub, 0);
            sum.push_back({ty.y[i], 1});
            S[i].push_back({ty.y[i], 1});
        }
        if (sum.empty()) return {IlpResult::kInfeasible, {}, 0};
        lp.row(sum, GLP_FX, nt);
    }
    // PU used, stacking, pairs on a PU, one PU for non-pu CPUs.
    std::vector<int> u(npu, 0);
    const int z = lp.col(GLP_BV, 0, 1, 0);
    std::vector<std::pair<int, double>> t1;
    for (int i = 0; i < npu; ++i) {
        u[i] = lp.col(GLP_BV, 0, 1, 0);
        auto s = S[i];
        s.push_back({u[i], -1});
        lp.row(s, GLP_LO, 0);  // S_i >= u_i
        s.back().second = -N;
        lp.row(s, GLP_UP, 0);                                           // S_i <= N u_i
        if (!ref.reserved(i)) lp.row({{u[i], 1}, {z, -1}}, GLP_LO, 0);  // z -> u_i
        s = S[i];
        s.push_back({z, -(N - 1.0)});
        lp.row(s, GLP_UP, 1);  // S_i <= 1 + (N-1) z
        for (const auto& ty : T) {
            if (ty.level == 0 || ty.y[i] == 0) continue;
            auto s2 = S[i];
            for (auto& [j, v] : s2)
                if (j == ty.y[i]) v += N - 1;
            lp.row(s2, GLP_UP, N);  // a non-pu CPU here -> S_i <= 1
        }
        if (ref.occ_pu_[i]) t1.push_back({u[i], 1});
        if (N >= 2) {
            const int pr = lp.col(GLP_CV, 0, -1, W.w[1]);
            for (int j = 1; j < N; ++j) {
                auto s3 = S[i];
                for (auto& [c, v] : s3) v *= -j;
                s3.push_back({pr, 1});
                lp.row(s3, GLP_LO, -j * (j + 1) / 2.0);
            }
        }
    }
    for (auto [j, v] : t1) glp_set_obj_coef(lp.p, j, W.w[1]);
    // Cores: shared with others, pairs of own CPUs.
    std::vector<std::vector<int>> core_pus(t.num_cores), pkg_pus(t.num_packages), l3_pus(t.num_l3);
    for (int i = 0; i < npu; ++i) {
        core_pus[t.pus[i].core].push_back(i);
        pkg_pus[t.pus[i].package].push_back(i);
        l3_pus[t.pus[i].l3].push_back(i);
    }
    for (int k = 0; k < t.num_cores; ++k) {
        if (ref.occ_core_[k]) {
            const int w = lp.col(GLP_BV, 0, 1, W.w[2]);
            for (int i : core_pus[k]) lp.row({{w, 1}, {u[i], -1}}, GLP_LO, 0);
        }
        if (N >= 2) {
            const int cp = lp.col(GLP_CV, 0, -1, W.w[4]);
            for (int j = 1; j < N; ++j) {
                std::vector<std::pair<int, double>> s{{cp, 1}};
                for (int i : core_pus[k])
                    for (auto [c, v] : S[i]) s.push_back({c, -j * v});
                lp.row(s, GLP_LO, -j * (j + 1) / 2.0);
            }
        }
    }
    // Packages: used (or spread), overload, most CPUs in one package.
    for (int p = 0; p < t.num_packages; ++p) {
        const int v = lp.col(GLP_BV, 0, 1, hungry ? -W.w[3] : W.w[3]);
        std::vector<std::pair<int, double>> sum_u{{v, -1}}, load, cnt;
        for (int i : pkg_pus[p]) {
            if (!hungry) lp.row({{v, 1}, {u[i], -1}}, GLP_LO, 0);
            sum_u.push_back({u[i], 1});
            for (auto [c, val] : S[i]) {
                load.push_back({c, -static_cast<double>(ref.d_) / W.quantum});
                cnt.push_back({c, -1});
            }
        }
        if (hungry) {
            lp.row(sum_u, GLP_LO, 0);  // v_p <= sum u
            // pairs of its cpus in p >= j * cpus - j (j + 1) / 2
            const int pp = lp.col(GLP_CV, 0, -1, W.w[5]);
            for (int j = 1; j < N; ++j) {
                std::vector<std::pair<int, double>> s{{pp, 1}};
                for (auto [c, v] : cnt) s.push_back({c, j * v});
                lp.row(s, GLP_LO, -j * (j + 1) / 2.0);
            }
        }
        const int o = lp.col(GLP_CV, 0, -1, W.w[0]);
        load.push_back({o, 1});
        lp.row(load, GLP_LO,
               static_cast<double>(ref.base_[p] - milli(t.package_bandwidth_gbps[p])) / W.quantum);
    }
    if (!hungry)
        for (int l = 0; l < t.num_l3; ++l) {
            const int lu = lp.col(GLP_BV, 0, 1, W.w[5]);
            for (int i : l3_pus[l]) lp.row({{lu, 1}, {u[i], -1}}, GLP_LO, 0);
        }
    // Affinity groups: one unit per group.
    for (size_t g = 0; g < r.groups.size(); ++g) {
        const GroupLevel lv = r.groups[g].level;
        const int units = lv == GroupLevel::kCore     ? t.num_cores
                          : lv == GroupLevel::kSocket ? t.num_packages
                                                      : t.num_numa;
        std::vector<int> gu(units);
        std::vector<std::pair<int, double>> one;
        for (int x = 0; x < units; ++x) {
            gu[x] = lp.col(GLP_BV, 0, 1, 0);
            one.push_back({gu[x], 1});
        }
        lp.row(one, GLP_FX, 1);
        for (const auto& ty : T) {
            if (!std::count(ty.groups.begin(), ty.groups.end(), static_cast<int>(g))) continue;
            const double ub = ty.level == 0 ? static_cast<double>(ty.cpus.size()) : 1.0;
            for (int i = 0; i < npu; ++i)
                if (ty.y[i]) lp.row({{ty.y[i], 1}, {gu[ref.unit(lv, i)], -ub}}, GLP_UP, 0);
        }
    }

    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_ON;
    parm.msg_lev = GLP_MSG_OFF;
    parm.tm_lim = static_cast<int>(time_limit_s * 1000);
    parm.mip_gap = 0.0;
    parm.tol_obj = 1e-9;
    const int ret = glp_intopt(lp.p, &parm);
    if (ret == GLP_ENOPFS || ret == GLP_ENODFS) return {IlpResult::kInfeasible, {}, 0};
    const int st = glp_mip_status(lp.p);
    if (st == GLP_NOFEAS) return {IlpResult::kInfeasible, {}, 0};
    if (ret != 0 || st != GLP_OPT) return {};
    IlpResult res{IlpResult::kOptimal, std::vector<int>(N, -1), glp_mip_obj_val(lp.p)};
    for (const auto& ty : T) {
        size_t next = 0;
        for (int i = 0; i < npu; ++i) {
            if (!ty.y[i]) continue;
            int k = static_cast<int>(std::lround(glp_mip_col_val(lp.p, ty.y[i])));
            while (k-- > 0 && next < ty.cpus.size()) res.assignment[ty.cpus[next++]] = i;
        }
    }
    return res;
}

struct IlpCase {
    Topology topo;
    std::vector<Tenant> existing;
    Request request;
};

IlpCase make_case(std::mt19937_64& rng) {
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    IlpCase k;
    int pk, nu, l3, co, pu, total;
    do {
        pk = uni(1, 4);
        nu = uni(1, 2);
        l3 = uni(1, 2);
        co = uni(2, 8);
        pu = uni(1, 2);
        total = pk * nu * l3 * co * pu;
    } while (total < 16 || total > 64);
    k.topo = make_uniform_topology(pk, nu, l3, co, pu, "ilp");
    if (uni(0, 1))
        for (double& b : k.topo.package_bandwidth_gbps) b = 0.5 * uni(2, 16);
    const int n = total;
    static constexpr std::array<int, 20> lv{0, 0, 0, 0, 0, 0, 1, 1, 1, 1,
                                            1, 1, 2, 2, 2, 2, 2, 3, 3, 4};
    auto bw = [&](int cpus) {
        Bandwidth b;
        b.cls = static_cast<BandwidthClass>(uni(0, 2));
        if (uni(0, 4) == 0) b.gbps = 0.5 * cpus * uni(0, 6);
        return b;
    };
    std::vector<int> free(n);
    std::iota(free.begin(), free.end(), 0);
    std::shuffle(free.begin(), free.end(), rng);
    const int tenants = uni(0, 4);
    for (int e = 0; e < tenants; ++e) {
        Tenant t;
        const int cpus = uni(1, 6);
        t.request = default_request("e" + std::to_string(e), cpus);
        for (auto& c : t.request.coexist) c = static_cast<Coexist>(lv[uni(0, 13)]);  // pu..socket
        t.request.bandwidth = bw(cpus);
        t.placement.tenant = t.request.tenant;
        for (int c = 0; c < cpus && !free.empty(); ++c) {
            t.placement.cpus.push_back({c, {free.back()}});
            free.pop_back();
        }
        t.request.cpus = static_cast<int>(t.placement.cpus.size());
        t.request.coexist.resize(t.request.cpus);
        if (t.request.cpus > 0) k.existing.push_back(t);
    }
    const int cpus = uni(1, 10);
    Request& r = k.request;
    r = default_request("new", cpus);
    const bool uniform = uni(0, 1);
    const int first = lv[uni(0, 19)];
    for (auto& c : r.coexist) c = static_cast<Coexist>(uniform ? first : lv[uni(0, 19)]);
    r.bandwidth = bw(cpus);
    if (cpus >= 2 && uni(0, 2) == 0) {
        std::vector<int> all(cpus);
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), rng);
        all.resize(uni(2, std::min(cpus, 4)));
        r.groups.push_back({static_cast<GroupLevel>(uni(0, 2)), all});
    }
    return k;
}

TEST(SolverIlp, AgreesWithGlpkOnMediumTopologies) {
    glp_term_out(GLP_OFF);
    constexpr int kCases = 60;
    std::mt19937_64 rng(77);
    int optimal = 0, infeasible = 0, timeouts = 0, exact_equal = 0, heur_equal = 0, heur_proved = 0;
    double worst_ratio = 1.0, ilp_seconds = 0;
    for (int ci = 0; ci < kCases; ++ci) {
        IlpCase k = make_case(rng);
        SCOPED_TRACE("case " + std::to_string(ci) + ": " + k.topo.to_string() + " request " +
                     k.request.to_json().dump());
        ASSERT_TRUE(k.request.validate().ok());
        SolverOptions opts;
        Reference ref(k.topo, opts, k.request, k.existing);
        const Weights W = weights(k.topo, k.request, ref);
        auto t0 = std::chrono::steady_clock::now();
        IlpResult ilp = solve_ilp(k.topo, k.request, ref, W, 10.0);
        ilp_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (ilp.status == IlpResult::kTimeout) {
            ++timeouts;
            continue;
        }
        Solver exact(k.topo, opts);
        SolverOptions hopts = opts;
        hopts.exact_limit_pus = 0;
        hopts.heuristic_node_limit = 0;  // a greedy dive, then local search only
        Solver heuristic(k.topo, hopts);
        auto pe = exact.place(k.request, k.existing);
        auto ph = heuristic.place(k.request, k.existing);
        if (ilp.status == IlpResult::kInfeasible) {
            ++infeasible;
            EXPECT_FALSE(pe.ok()) << pe->to_string();
            EXPECT_FALSE(ph.ok()) << ph->to_string();
            continue;
        }
        ++optimal;
        ASSERT_TRUE(ref.valid(ilp.assignment)) << "ILP assignment breaks a rule";
        const Obj oi = ref.objective(ilp.assignment);
        ASSERT_TRUE(pe.ok()) << pe.error().to_string();
        ASSERT_TRUE(ph.ok()) << ph.error().to_string();
        const Obj oe = to_obj(pe->objective), oh = to_obj(ph->objective);
        const int P = k.topo.num_packages;
        const double si = scalar(oi, W, P), se = scalar(oe, W, P), sh = scalar(oh, W, P);
        // The ILP minimises the weighted sum, which orders like the vector.
        EXPECT_NEAR(si, ilp.value + (oi[3] < 0 ? W.w[3] * P : 0), 1e-6 * std::max(1.0, si));
        EXPECT_EQ(str(oe), str(oi)) << "exact search vs ILP optimum";
        EXPECT_DOUBLE_EQ(se, si);
        EXPECT_LE(sh, si * 1.05 + 1e-9) << "heuristic " << str(oh) << " vs ILP " << str(oi);
        for (const auto& line : ph->trace)
            heur_proved += line.find("yet branch and bound") != std::string::npos;
        exact_equal += oe == oi;
        heur_equal += oh == oi;
        if (si > 0) worst_ratio = std::max(worst_ratio, sh / si);
    }
    std::printf(
        "ilp: %d cases: %d optimal, %d infeasible, %d GLPK timeouts (%.1f s in GLPK); exact "
        "search equal on %d/%d, heuristic equal on %d/%d (%d of them proven by its short search), "
        "worst heuristic/ILP %.4f\n",
        kCases, optimal, infeasible, timeouts, ilp_seconds, exact_equal, optimal, heur_equal,
        optimal, heur_proved, worst_ratio);
    EXPECT_LE(timeouts, kCases / 10);
    EXPECT_GE(optimal, kCases / 2);
}

}  // namespace
}  // namespace vtasos
