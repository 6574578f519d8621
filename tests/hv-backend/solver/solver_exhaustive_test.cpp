// Property test: on random small cases (topology <= 16 PUs from
// make_uniform_topology with random shapes and budgets, random existing
// tenants, a random request) the solver's objective equals the optimum of a
// brute-force search over every CPU -> PU assignment, and both agree on
// feasibility. The reference below re-derives the rules from solver.h on its
// own (coexistence reservations, stacking, groups, objective terms) and shares
// no code with the solver.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>

#include "reference.h"
#include "vtasos/solver/solver.h"

namespace vtasos {
namespace {

using namespace testing_ref;

struct Case {
    Topology topo;
    std::vector<Tenant> existing;
    Request request;
    std::string describe() const {
        std::string s = topo.to_string() + " budgets";
        for (double b : topo.package_bandwidth_gbps) s += " " + std::to_string(b);
        s += "\nos:";
        for (const Pu& p : topo.pus) s += " " + std::to_string(p.os_index);
        for (const Tenant& t : existing)
            s += "\nexisting " + t.request.to_json().dump() + " at " + t.placement.to_json().dump();
        return s + "\nrequest " + request.to_json().dump();
    }
};

class Generator {
public:
    explicit Generator(uint64_t seed) : rng_(seed) {}
    int uni(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
    // Levels in proportion pu 30%, core 30%, socket 25%, node 10%, none 5%.
    Coexist level() {
        static constexpr std::array<int, 20> w{0, 0, 0, 0, 0, 0, 1, 1, 1, 1,
                                               1, 1, 2, 2, 2, 2, 2, 3, 3, 4};
        return static_cast<Coexist>(w[uni(0, 19)]);
    }
    Bandwidth bandwidth(int cpus) {
        Bandwidth b;
        b.cls = static_cast<BandwidthClass>(uni(0, 2));
        if (chance(0.2)) b.gbps = 0.5 * uni(0, 8) * (chance(0.5) ? 1 : cpus);
        return b;
    }

    Case make() {
        Case k;
        int pk, nu, l3, co, pu;
        do {
            pk = uni(1, 3);
            nu = uni(1, 2);
            l3 = uni(1, 2);
            co = uni(1, 3);
            pu = uni(1, 2);
        } while (pk * nu * l3 * co * pu > 16);
        k.topo = make_uniform_topology(pk, nu, l3, co, pu, "random");
        const int n = static_cast<int>(k.topo.pus.size());
        if (chance(0.5))
            for (double& b : k.topo.package_bandwidth_gbps) b = 0.5 * uni(1, 6);
        if (chance(0.3)) {  // os indices in no particular order, with gaps
            std::vector<int> os(n);
            for (int i = 0; i < n; ++i) os[i] = 3 * i + 1;
            std::shuffle(os.begin(), os.end(), rng_);
            for (int i = 0; i < n; ++i) k.topo.pus[i].os_index = os[i];
        }
        const int tenants = uni(0, 3) * uni(0, 1) + uni(0, 1);
        for (int e = 0; e < tenants; ++e) {
            Tenant t;
            const int cpus = uni(1, 3);
            t.request = default_request("e" + std::to_string(e), cpus);
            for (auto& c : t.request.coexist) c = level();
            t.request.bandwidth = bandwidth(cpus);
            t.placement.tenant = t.request.tenant;
            for (int c = 0; c < cpus; ++c) {
                CpuPlacement cp{c, {k.topo.pus[uni(0, n - 1)].os_index}};
                if (chance(0.1)) cp.pus.push_back(k.topo.pus[uni(0, n - 1)].os_index);
                t.placement.cpus.push_back(cp);
            }
            k.existing.push_back(t);
        }
        // As many cpus as brute force can afford: n^cpus assignments.
        int max_cpus = 1;
        while (max_cpus < 6 && std::pow(n, max_cpus + 1) <= 70000) ++max_cpus;
        const int cpus = uni(1, max_cpus);
        Request& r = k.request;
        r = default_request(chance(0.05) && tenants > 0 ? "e0" : "new", cpus);
        const bool uniform = chance(0.4);
        const Coexist first = level();
        for (auto& c : r.coexist) c = uniform ? first : level();
        r.bandwidth = bandwidth(cpus);
        r.memory = static_cast<MemPolicy>(uni(0, 2));
        if (cpus >= 2 && chance(0.35)) {
            const int groups = uni(1, 2);
            for (int g = 0; g < groups; ++g) {
                std::vector<int> all(cpus);
                for (int c = 0; c < cpus; ++c) all[c] = c;
                std::shuffle(all.begin(), all.end(), rng_);
                all.resize(uni(2, std::min(cpus, 3)));
                r.groups.push_back({static_cast<GroupLevel>(uni(0, 2)), all});
            }
        }
        return k;
    }

private:
    std::mt19937_64 rng_;
};

TEST(SolverExhaustive, MatchesBruteForceOn3000RandomCases) {
    constexpr int kCases = 3000;
    Generator gen(20240611);
    int feasible = 0, infeasible = 0;
    long leaves = 0;
    std::map<int, int> by_cpus;
    std::map<std::string, int> why;
    for (int i = 0; i < kCases; ++i) {
        Case k = gen.make();
        SCOPED_TRACE("case " + std::to_string(i) + "\n" + k.describe());
        ASSERT_TRUE(k.request.validate().ok());
        ASSERT_TRUE(k.topo.validate().ok());
        SolverOptions opts;
        Solver solver(k.topo, opts);
        Reference ref(k.topo, opts, k.request, k.existing);
        Obj best{};
        const bool ok = ref.optimum(best, leaves);
        auto p = solver.place(k.request, k.existing);
        ASSERT_EQ(p.ok(), ok) << (p.ok() ? "solver found " + p->to_string()
                                         : "solver: " + p.error().to_string());
        ++by_cpus[k.request.cpus];
        if (!ok) {
            ++infeasible;
            const std::string& m = p.error().message();
            ++why[m.substr(0, m.find(m.starts_with("coexist ") ? " of cpu" : ":"))];
            EXPECT_EQ(p.error().code(), Errc::kInfeasible);
            EXPECT_NE(p.error().message().find("cpu"), std::string::npos) << p.error().message();
            continue;
        }
        ++feasible;
        const std::vector<int> a = ref.to_indices(*p);
        ASSERT_EQ(static_cast<int>(a.size()), k.request.cpus) << p->to_string();
        EXPECT_TRUE(ref.valid(a)) << p->to_string();
        EXPECT_EQ(str(to_obj(p->objective)), str(ref.objective(a))) << "reported objective";
        EXPECT_EQ(str(to_obj(p->objective)), str(best)) << "not optimal: " << p->to_string();
        EXPECT_EQ(solver.evaluate(k.request, *p, k.existing), p->objective);
        auto chk = solver.check(k.request, *p, k.existing);
        EXPECT_TRUE(chk.ok()) << chk.error().to_string();
        if (::testing::Test::HasFailure()) return;  // one case in detail is enough
    }
    std::string sizes;
    for (auto [c, n] : by_cpus) sizes += " " + std::to_string(c) + "cpus:" + std::to_string(n);
    std::printf("exhaustive: %d cases, %d feasible, %d infeasible, %ld brute-force leaves;%s\n",
                kCases, feasible, infeasible, leaves, sizes.c_str());
    for (const auto& [w, n] : why) std::printf("  infeasible: %4d x %s\n", n, w.c_str());
    EXPECT_GT(feasible, kCases / 2);
    EXPECT_GT(infeasible, 50);
}

}  // namespace
}  // namespace vtasos
