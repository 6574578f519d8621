// Solver properties: coexistence levels (each level, both directions), affinity
// groups, bandwidth (spread vs pack, budgets), existing tenants, stacking,
// determinism, error messages, evaluate() and check().
#include "vtasos/solver/solver.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace vtasos {
namespace {

Request req(const std::string& id, int cpus, Coexist level = Coexist::kSocket,
            BandwidthClass bw = BandwidthClass::kLow) {
    Request r = default_request(id, cpus);
    r.coexist.assign(cpus, level);
    r.bandwidth.cls = bw;
    return r;
}

// An existing tenant with one CPU per listed PU os index.
Tenant tenant(const std::string& id, Coexist level, const std::vector<int>& pus,
              BandwidthClass bw = BandwidthClass::kLow) {
    Tenant t{req(id, static_cast<int>(pus.size()), level, bw), {}};
    t.placement.tenant = id;
    for (size_t c = 0; c < pus.size(); ++c)
        t.placement.cpus.push_back({static_cast<int>(c), {pus[c]}});
    return t;
}

std::set<int> pus_of(const Placement& p) {
    auto v = p.all_pus();
    return {v.begin(), v.end()};
}

// Places and checks the invariants every placement must satisfy.
Placement must_place(const Solver& s, const Request& r, const std::vector<Tenant>& ex = {}) {
    auto p = s.place(r, ex);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().to_string());
    if (!p.ok()) return {};
    EXPECT_EQ(p->tenant, r.tenant);
    EXPECT_EQ(static_cast<int>(p->cpus.size()), r.cpus);
    for (int c = 0; c < r.cpus; ++c) {
        EXPECT_EQ(p->cpus[c].cpu, c);
        EXPECT_EQ(p->cpus[c].pus.size(), 1u);
    }
    auto ok = s.check(r, *p, ex);
    EXPECT_TRUE(ok.ok()) << ok.error().to_string();
    EXPECT_EQ(s.evaluate(r, *p, ex), p->objective);
    EXPECT_FALSE(p->trace.empty());
    return std::move(p).value();
}

Error must_fail(const Solver& s, const Request& r, const std::vector<Tenant>& ex = {}) {
    auto p = s.place(r, ex);
    EXPECT_FALSE(p.ok()) << p->to_string();
    return p.ok() ? Error() : p.error();
}

// 2 packages x 2 cores x 2 PUs; os index = logical index.
Solver small() { return Solver(make_uniform_topology(2, 1, 1, 2, 2)); }

TEST(SolverCoexist, PuMaySharePuWithPuTenants) {
    Solver s(make_uniform_topology(1, 1, 1, 1, 2));  // one core, PUs 0-1
    std::vector<Tenant> ex{tenant("a", Coexist::kPu, {0, 1})};
    Placement p = must_place(s, req("b", 1, Coexist::kPu), ex);
    EXPECT_EQ(p.objective[1], 1);  // one shared PU
    EXPECT_EQ(p.objective[2], 1);  // one shared core
    // Any stricter level needs a PU of its own: none left.
    Error e = must_fail(s, req("c", 1, Coexist::kCore), ex);
    EXPECT_EQ(e.code(), Errc::kInfeasible);
    EXPECT_NE(e.message().find("coexist core of cpu 0"), std::string::npos) << e.message();
}

TEST(SolverCoexist, CoreKeepsItsPuButSharesTheCore) {
    Solver s(make_uniform_topology(1, 1, 1, 2, 2));  // cores {0,1} {2,3}
    std::vector<Tenant> ex{tenant("a", Coexist::kCore, {0})};
    // One CPU: the free core is preferred (no shared core).
    Placement p = must_place(s, req("b", 1, Coexist::kCore), ex);
    EXPECT_EQ(pus_of(p), (std::set<int>{2}));
    EXPECT_EQ(p.objective[2], 0);
    // Three CPUs: PU 1 (a's SMT sibling) must be used, PU 0 never.
    p = must_place(s, req("b", 3, Coexist::kCore), ex);
    EXPECT_EQ(pus_of(p), (std::set<int>{1, 2, 3}));
    EXPECT_EQ(p.objective[2], 1);
    // a keeps its PU even from a pu-level tenant (symmetry).
    p = must_place(s, req("c", 3, Coexist::kPu), ex);
    EXPECT_EQ(pus_of(p).count(0), 0u);
}

TEST(SolverCoexist, SocketKeepsItsCoreAgainstEveryone) {
    Solver s(make_uniform_topology(1, 1, 1, 2, 2));
    std::vector<Tenant> ex{tenant("a", Coexist::kSocket, {0})};
    Placement p = must_place(s, req("b", 2, Coexist::kSocket), ex);
    EXPECT_EQ(pus_of(p), (std::set<int>{2, 3}));
    // A core-level (or pu-level) newcomer may not enter a's core either.
    EXPECT_EQ(pus_of(must_place(s, req("c", 2, Coexist::kCore), ex)), (std::set<int>{2, 3}));
    EXPECT_EQ(pus_of(must_place(s, req("c", 2, Coexist::kPu), ex)), (std::set<int>{2, 3}));
    Error e = must_fail(s, req("d", 3, Coexist::kSocket), ex);
    EXPECT_NE(e.message().find("coexist socket of cpu 2"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("only 2 such PUs"), std::string::npos) << e.message();
    // The other direction: a pu-level tenant in core 0 keeps a socket CPU out of it.
    std::vector<Tenant> ex2{tenant("a", Coexist::kPu, {0})};
    EXPECT_EQ(pus_of(must_place(s, req("b", 2, Coexist::kSocket), ex2)), (std::set<int>{2, 3}));
}

TEST(SolverCoexist, NodeKeepsItsPackage) {
    Solver s = small();  // packages {0-3} {4-7}
    std::vector<Tenant> ex{tenant("a", Coexist::kNode, {0})};
    for (Coexist c : {Coexist::kPu, Coexist::kCore, Coexist::kSocket, Coexist::kNode}) {
        Placement p = must_place(s, req("b", 2, c), ex);
        for (int pu : pus_of(p)) EXPECT_GE(pu, 4) << to_string(c);
    }
    // A node CPU cannot enter a package that runs anyone, whatever their level.
    std::vector<Tenant> ex2{tenant("a", Coexist::kPu, {1}), tenant("b", Coexist::kCore, {5})};
    Error e = must_fail(s, req("c", 1, Coexist::kNode), ex2);
    EXPECT_NE(e.message().find("coexist node of cpu 0: no package free of other tenants"),
              std::string::npos)
        << e.message();
}

TEST(SolverCoexist, NoneKeepsItsNumaNode) {
    // 2 packages, 2 NUMA nodes each: NUMA {0-3} {4-7} {8-11} {12-15}.
    Solver s(make_uniform_topology(2, 2, 1, 2, 2));
    std::vector<Tenant> ex{tenant("a", Coexist::kNone, {0})};
    // Nobody enters NUMA node 0.
    for (int pu : pus_of(must_place(s, req("b", 12, Coexist::kPu), ex))) EXPECT_GE(pu, 4);
    // A none CPU needs a free NUMA node in a free package: package 1 only.
    Placement p = must_place(s, req("c", 2, Coexist::kNone), ex);
    for (int pu : pus_of(p)) EXPECT_GE(pu, 8);
    std::vector<Tenant> ex2{tenant("a", Coexist::kPu, {0}), tenant("b", Coexist::kPu, {15})};
    Error e = must_fail(s, req("c", 1, Coexist::kNone), ex2);
    EXPECT_NE(e.message().find("coexist none of cpu 0: no NUMA node free of other tenants"),
              std::string::npos)
        << e.message();
}

TEST(SolverCoexist, MixedLevelsInOneRequest) {
    Solver s(make_uniform_topology(1, 1, 1, 2, 2));
    std::vector<Tenant> ex{tenant("a", Coexist::kCore, {0})};
    Request r = req("b", 3, Coexist::kCore);
    r.coexist[2] = Coexist::kSocket;  // cpu 2 needs a whole core: core 1
    Placement p = must_place(s, r, ex);
    EXPECT_GE(p.cpus[2].pus[0], 2);
    EXPECT_EQ(pus_of(p), (std::set<int>{1, 2, 3}));
}

TEST(SolverGroups, CoreSocketNodeGroupsHold) {
    Solver s(make_uniform_topology(2, 2, 1, 2, 2));  // 16 PUs, cores of 2, NUMA of 4
    Request r = req("g", 6, Coexist::kCore);
    r.groups = {
        {GroupLevel::kCore, {0, 5}}, {GroupLevel::kNode, {1, 2}}, {GroupLevel::kSocket, {3, 4}}};
    r.bandwidth.cls = BandwidthClass::kHigh;  // spread: the groups must still hold
    Placement p = must_place(s, r);
    auto pu = [&](int c) { return p.cpus[c].pus[0]; };
    EXPECT_EQ(pu(0) / 2, pu(5) / 2);  // same core
    EXPECT_EQ(pu(1) / 4, pu(2) / 4);  // same NUMA node
    EXPECT_EQ(pu(3) / 8, pu(4) / 8);  // same package
}

TEST(SolverGroups, GroupThatFitsNowhereIsNamed) {
    Solver s = small();
    Request r = req("g", 3, Coexist::kCore);
    r.groups = {{GroupLevel::kCore, {0, 1, 2}}};
    Error e = must_fail(s, r);
    EXPECT_EQ(e.code(), Errc::kInfeasible);
    EXPECT_NE(e.message().find("affinity group 0 (core: cpus 0,1,2): no core has room"),
              std::string::npos)
        << e.message();
    // Socket group of 4 socket cpus with one core taken in each package.
    std::vector<Tenant> ex{tenant("a", Coexist::kSocket, {0, 4})};
    Request r2 = req("h", 3, Coexist::kSocket);
    r2.groups = {{GroupLevel::kSocket, {0, 1, 2}}};
    e = must_fail(s, r2, ex);
    EXPECT_NE(e.message().find("affinity group 0 (socket: cpus 0,1,2): no package"),
              std::string::npos)
        << e.message();
}

TEST(SolverGroups, ConflictBetweenGroupsAndLevelsNamesTheCpu) {
    // Each group fits alone; together they need cpu 1 in core 0 (with cpu 0)
    // and in package 1 (with cpu 2): impossible.
    Solver s = small();
    std::vector<Tenant> ex{tenant("a", Coexist::kSocket, {2, 4})};  // leaves core 0 and core 3
    Request r = req("g", 3, Coexist::kCore);
    r.groups = {{GroupLevel::kCore, {0, 1}}, {GroupLevel::kSocket, {1, 2}}};
    r.coexist[2] = Coexist::kSocket;
    // cpu 2 needs a free core; cores 0 and 3 are free. Group {1,2} on one
    // package, group {0,1} on one core: 0,1 on core 0 or 3, 2 on the other one
    // of the same package... cores 0 and 3 are in different packages.
    Error e = must_fail(s, r, ex);
    EXPECT_EQ(e.code(), Errc::kInfeasible);
    EXPECT_NE(e.message().find("cannot all hold"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("cpu "), std::string::npos) << e.message();
}

TEST(SolverBandwidth, HungrySpreadsOneCorePerPackage) {
    Solver s(make_uniform_topology(4, 1, 1, 4, 2));  // 4 packages x 4 cores x 2
    Placement p = must_place(s, req("h", 4, Coexist::kSocket, BandwidthClass::kHigh));
    std::set<int> pkgs;
    for (int pu : pus_of(p)) pkgs.insert(pu / 8);
    EXPECT_EQ(pkgs.size(), 4u);
    EXPECT_EQ(p.objective[3], -4);
    EXPECT_EQ(p.objective[5], 0);  // no two of its cpus in one package
    // 8 hungry cpus: two per package, on different cores.
    p = must_place(s, req("h", 8, Coexist::kSocket, BandwidthClass::kHigh));
    std::map<int, int> per_pkg;
    std::set<int> cores;
    for (int pu : pus_of(p)) {
        ++per_pkg[pu / 8];
        cores.insert(pu / 2);
    }
    EXPECT_EQ(per_pkg.size(), 4u);
    for (auto [pkg, n] : per_pkg) EXPECT_EQ(n, 2) << pkg;
    EXPECT_EQ(cores.size(), 8u);
    // Measured demand above the threshold counts as hungry as well.
    Request m = req("m", 2, Coexist::kSocket, BandwidthClass::kUnknown);
    m.bandwidth.gbps = 10.0;
    p = must_place(s, m);
    EXPECT_NE(p.cpus[0].pus[0] / 8, p.cpus[1].pus[0] / 8);
}

TEST(SolverBandwidth, OthersArePackedOneCpuPerCore) {
    Solver s(make_uniform_topology(4, 1, 1, 4, 2));
    Placement p = must_place(s, req("p", 4, Coexist::kSocket, BandwidthClass::kLow));
    std::set<int> pkgs, cores;
    for (int pu : pus_of(p)) {
        pkgs.insert(pu / 8);
        cores.insert(pu / 2);
    }
    EXPECT_EQ(pkgs.size(), 1u);
    EXPECT_EQ(cores.size(), 4u);  // SMT siblings only when needed
    EXPECT_EQ(p.objective, (std::vector<double>{0, 0, 0, 1, 0, 1}));
    // 8 cpus fill one package, both PUs of each core.
    p = must_place(s, req("p", 8, Coexist::kSocket, BandwidthClass::kUnknown));
    pkgs.clear();
    for (int pu : pus_of(p)) pkgs.insert(pu / 8);
    EXPECT_EQ(pkgs.size(), 1u);
    EXPECT_EQ(p.objective[4], 4);  // four cores with two of its cpus each
}

TEST(SolverBandwidth, BudgetOverloadIsAvoidedThenMinimised) {
    Topology t = make_uniform_topology(2, 1, 1, 4, 1);  // 2 packages x 4 cores
    t.package_bandwidth_gbps = {2.0, 2.0};
    Solver s(t);
    // a uses 1.6 GB/s in package 0: b (2 x 0.5) would overload it, package 1 not.
    Tenant a = tenant("a", Coexist::kSocket, {0, 1});
    a.request.bandwidth.gbps = 1.6;
    std::vector<Tenant> ex{a};
    Placement p = must_place(s, req("b", 2, Coexist::kSocket), ex);
    for (int pu : pus_of(p)) EXPECT_GE(pu, 4);
    EXPECT_EQ(p.objective[0], 0.0);
    // Without a, b packs into package 0 (no overload either way).
    p = must_place(s, req("b", 2, Coexist::kSocket));
    for (int pu : pus_of(p)) EXPECT_LT(pu, 4);
    // 6 x 0.5 GB/s beside budgets of 1.0 each: 1.0 GB/s overload cannot be avoided.
    t.package_bandwidth_gbps = {1.0, 1.0};
    Solver tight(t);
    p = must_place(tight, req("c", 6, Coexist::kCore));
    EXPECT_EQ(p.objective[0], 1.0);
    EXPECT_EQ(p.objective[3], 2);
    // Overload comes before shared cores: package 0 has a free core but no
    // bandwidth left; package 1 has bandwidth but only half-used cores.
    Topology t2 = make_uniform_topology(2, 1, 1, 2, 2);  // cores {0,1} {2,3} | {4,5} {6,7}
    t2.package_bandwidth_gbps = {1.0, 1.0};
    Solver s2(t2);
    Tenant hog = tenant("hog", Coexist::kCore, {0});
    hog.request.bandwidth.gbps = 1.0;
    Tenant idle = tenant("idle", Coexist::kCore, {4, 6});
    idle.request.bandwidth.gbps = 0.0;
    p = must_place(s2, req("d", 1, Coexist::kCore), {hog, idle});
    EXPECT_EQ(p.objective[0], 0.0);
    EXPECT_EQ(p.objective[2], 1);
    EXPECT_GE(p.cpus[0].pus[0], 4);
}

TEST(SolverExisting, NeverOverlapsStrictTenants) {
    Solver s(make_uniform_topology(2, 1, 2, 4, 2));  // 32 PUs
    std::vector<Tenant> ex;
    for (int i = 0; i < 6; ++i) {
        Request r =
            req("t" + std::to_string(i), 1 + i % 4, i % 2 ? Coexist::kSocket : Coexist::kCore,
                i % 3 ? BandwidthClass::kLow : BandwidthClass::kHigh);
        Placement p = must_place(s, r, ex);
        std::set<int> mine = pus_of(p);
        for (const Tenant& t : ex)
            for (int pu : t.placement.all_pus()) EXPECT_EQ(mine.count(pu), 0u) << r.tenant;
        ex.push_back({r, p});
    }
}

TEST(SolverExisting, SameTenantIdIsReplacement) {
    Solver s(make_uniform_topology(1, 1, 1, 2, 1));
    std::vector<Tenant> ex{tenant("a", Coexist::kNone, {0, 1})};
    Placement p = must_place(s, req("a", 2, Coexist::kNone), ex);
    EXPECT_EQ(pus_of(p), (std::set<int>{0, 1}));
    bool noted = false;
    for (const auto& l : p.trace) noted |= l.find("re-placement") != std::string::npos;
    EXPECT_TRUE(noted);
}

TEST(SolverExisting, UnknownPusOfExistingTenantsAreIgnored) {
    Solver s(make_uniform_topology(1, 1, 1, 2, 1));
    std::vector<Tenant> ex{tenant("a", Coexist::kNone, {99})};
    Placement p = must_place(s, req("b", 2, Coexist::kNone), ex);
    EXPECT_EQ(pus_of(p), (std::set<int>{0, 1}));
}

TEST(SolverStacking, PuCpusStackOnlyWhenNoPuIsFree) {
    Solver s(make_uniform_topology(1, 1, 1, 2, 2));  // 4 PUs
    Placement p = must_place(s, req("a", 3, Coexist::kPu));
    EXPECT_EQ(pus_of(p).size(), 3u);
    EXPECT_EQ(p.objective[1], 0);
    // 6 cpus on 4 PUs: every PU used, two of them twice.
    p = must_place(s, req("a", 6, Coexist::kPu));
    EXPECT_EQ(pus_of(p).size(), 4u);
    EXPECT_EQ(p.objective[1], 2);
    // Stacked evenly: 9 cpus on 4 PUs -> 3,2,2,2 (3+1+1+1 = 6 pairs).
    p = must_place(s, req("a", 9, Coexist::kPu));
    EXPECT_EQ(p.objective[1], 6);
    // Stricter cpus never stack.
    Error e = must_fail(s, req("b", 5, Coexist::kCore));
    EXPECT_NE(e.message().find("coexist core of cpu 4"), std::string::npos) << e.message();
}

TEST(SolverMemory, PolicyGivesNodes) {
    Solver s(make_uniform_topology(2, 2, 1, 2, 1));  // 4 NUMA nodes of 2 PUs
    Request r = req("m", 2, Coexist::kSocket);
    r.memory = MemPolicy::kLocal;
    EXPECT_EQ(must_place(s, r).mem_nodes, (std::vector<int>{0}));
    r.memory = MemPolicy::kInterleave;
    EXPECT_EQ(must_place(s, r).mem_nodes, (std::vector<int>{0, 1, 2, 3}));
    r.memory = MemPolicy::kNone;
    EXPECT_TRUE(must_place(s, r).mem_nodes.empty());
}

TEST(SolverDeterminism, SameInputSamePlacement) {
    Topology t = make_uniform_topology(4, 1, 2, 4, 2);
    std::vector<Tenant> ex{tenant("a", Coexist::kPu, {3, 17, 40}),
                           tenant("b", Coexist::kSocket, {8, 9}),
                           tenant("c", Coexist::kCore, {50, 61})};
    Request r = req("d", 7, Coexist::kCore, BandwidthClass::kHigh);
    r.coexist[3] = Coexist::kSocket;
    r.groups = {{GroupLevel::kSocket, {0, 1, 2}}};
    Solver s1(t), s2(t);
    Placement p1 = must_place(s1, r, ex);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(must_place(s2, r, ex), p1);
    Solver copy = s1;
    EXPECT_EQ(must_place(copy, r, ex), p1);
}

TEST(SolverErrors, InvalidRequestAndTopology) {
    Solver s = small();
    Request r = req("x", 2);
    r.coexist.pop_back();
    auto p = s.place(r, {});
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(p.error().message().find("request.coexist"), std::string::npos);
    Topology bad = make_uniform_topology(1, 1, 1, 1, 1);
    bad.package_bandwidth_gbps.clear();
    Solver sb(bad);
    p = sb.place(req("x", 1), {});
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(p.error().message().find("topology"), std::string::npos) << p.error().message();
}

TEST(SolverCheck, NamesViolations) {
    Solver s = small();
    std::vector<Tenant> ex{tenant("a", Coexist::kSocket, {0})};
    Request r = req("b", 2, Coexist::kCore);
    Placement p;
    p.tenant = "b";
    p.cpus = {{0, {1}}, {1, {2}}};
    Status st = s.check(r, p, ex);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("cpu 0 is on PU 1"), std::string::npos)
        << st.error().message();
    p.cpus = {{0, {2}}, {1, {2}}};
    st = s.check(r, p, ex);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("one PU per cpu"), std::string::npos);
    r.groups = {{GroupLevel::kSocket, {0, 1}}};
    p.cpus = {{0, {2}}, {1, {4}}};
    st = s.check(r, p, ex);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("affinity group 0"), std::string::npos);
    p.cpus = {{0, {2}}, {1, {3}}};
    EXPECT_TRUE(s.check(r, p, ex).ok());
    p.cpus = {{0, {2}}, {1, {77}}};
    EXPECT_EQ(s.check(r, p, ex).error().code(), Errc::kInvalidArgument);
    EXPECT_TRUE(s.evaluate(r, p, ex).empty());
}

TEST(SolverScale, LargeMachineUsesHeuristicAndStaysValid) {
    Solver s(make_uniform_topology(8, 1, 1, 64, 2));  // 1,024 PUs
    std::vector<Tenant> ex;
    for (int i = 0; i < 12; ++i) {
        Request r = req("t" + std::to_string(i), 16, i % 3 ? Coexist::kSocket : Coexist::kCore,
                        i % 4 == 0 ? BandwidthClass::kHigh : BandwidthClass::kLow);
        Placement p = must_place(s, r, ex);
        const double packages = i % 4 == 0 ? -8 : 1;  // spread over all packages, or one
        EXPECT_EQ(p.objective[3], packages) << r.to_string();
        ex.push_back({r, p});
    }
    bool heuristic = false;
    for (const auto& l : ex.back().placement.trace)
        heuristic |= l.find("exact limit") != std::string::npos;
    EXPECT_TRUE(heuristic);
}

TEST(SolverScale, LargeRequestsAreSpreadAndStackedEvenly) {
    Solver s(make_uniform_topology(4, 1, 1, 16, 2));  // 128 PUs
    // 100 hungry cpus: 25 per package.
    Placement p = must_place(s, req("h", 100, Coexist::kSocket, BandwidthClass::kHigh));
    EXPECT_EQ(p.objective[3], -4);
    EXPECT_EQ(p.objective[5], 4 * (25 * 24 / 2));
    // 256 pu cpus on 128 PUs: two on every PU, no more.
    p = must_place(s, req("p", 256, Coexist::kPu));
    EXPECT_EQ(pus_of(p).size(), 128u);
    EXPECT_EQ(p.objective[1], 128);
}

TEST(SolverTrace, ExplainsTheDecision) {
    Solver s = small();
    std::vector<Tenant> ex{tenant("a", Coexist::kSocket, {0})};
    Placement p = must_place(s, req("b", 2, Coexist::kSocket, BandwidthClass::kHigh), ex);
    std::vector<std::string> starts{"request b: 2 cpus", "beside 1 tenants",    "search: exact",
                                    "package ",          "objective: overload", "memory local"};
    for (const auto& want : starts) {
        bool seen = false;
        for (const auto& line : p.trace) seen |= line.rfind(want, 0) == 0;
        EXPECT_TRUE(seen) << "no trace line starts with \"" << want << "\"";
    }
}

}  // namespace
}  // namespace vtasos
