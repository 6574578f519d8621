// The xen driver's translation logic against FakeXenOps (a recording model of
// the few libxenctrl calls): topology, placement -> affinity masks, cpupool
// plan and undo on failure, pause/unpause, bad input. The real hypercalls are
// checked on a real Xen by xen_dom0_check (tests/xen fixture).
#include "vtasos/xen/xen_driver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "vtasos/solver/solver.h"
#include "vtasos/xen/fake_xen_ops.h"
#include "vtasos/xen/translate.h"

namespace vtasos::xen {
namespace {

Request request(std::string tenant, int cpus, Coexist c, BandwidthClass bw) {
    Request r;
    r.tenant = std::move(tenant);
    r.kind = TenantKind::kDomain;
    r.cpus = cpus;
    r.coexist.assign(cpus, c);
    r.bandwidth.cls = bw;
    return r;
}

Placement placement(std::string tenant, std::vector<std::vector<int>> pus,
                    std::vector<int> mems = {}) {
    Placement p;
    p.tenant = std::move(tenant);
    for (size_t i = 0; i < pus.size(); ++i) p.cpus.push_back({static_cast<int>(i), pus[i]});
    p.mem_nodes = std::move(mems);
    return p;
}

std::vector<int> all_cpus(int n) {
    std::vector<int> v(n);
    for (int i = 0; i < n; ++i) v[i] = i;
    return v;
}

// The Opteron-blade shape of the paper: 4 sockets x 2 cores, one node per socket.
struct Fixture : ::testing::Test {
    FakeXenOps* ops = nullptr;
    std::unique_ptr<XenDriver> drv;
    void SetUp() override {
        auto o = std::make_unique<FakeXenOps>(4, 2);
        ops = o.get();
        drv = std::make_unique<XenDriver>(std::move(o));
        ASSERT_TRUE(drv->probe().ok());
    }
    // Mutating calls only (the fake logs nothing else).
    size_t calls() const { return ops->log.size(); }
};

TEST(XenTranslate, DomainKindRoundTripsThroughJson) {
    auto r = request("xen-cg", 2, Coexist::kCore, BandwidthClass::kHigh);
    EXPECT_EQ(r.to_json()["kind"], "domain");
    auto back = Request::from_json(r.to_json());
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(*back, r);
}

TEST(XenTranslate, TopologyFromHypervisor) {
    FakeXenOps ops(4, 2);
    auto t = topology_from_xen(*ops.physinfo(), *ops.cputopoinfo());
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->num_packages, 4);
    EXPECT_EQ(t->num_cores, 8);
    EXPECT_EQ(t->num_numa, 4);
    EXPECT_EQ(t->pus.size(), 8u);
    EXPECT_EQ(t->pus[3].os_index, 3);
    EXPECT_EQ(t->pus[3].package, 1);
    EXPECT_EQ(t->numa_os_index, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_NE(t->source.find("xen"), std::string::npos);
}

TEST(XenTranslate, TopologySkipsOfflineCpusAndNeedsOne) {
    FakeXenOps ops(2, 2);
    auto cpus = *ops.cputopoinfo();
    cpus[1].online = false;
    auto t = topology_from_xen(*ops.physinfo(), cpus);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->pus.size(), 3u);
    for (auto& c : cpus) c.online = false;
    auto none = topology_from_xen(*ops.physinfo(), cpus);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code(), Errc::kUnavailable);
}

TEST(XenTranslate, VcpuMasksFollowThePlacementAndSpareVcpusGetTheUnion) {
    auto m = vcpu_masks(placement("t", {{3}, {1}}), 3);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0], std::vector<int>{3});
    EXPECT_EQ(m[1], std::vector<int>{1});
    EXPECT_EQ(m[2], (std::vector<int>{1, 3}));
}

TEST(XenTranslate, PoolRuleAndCredit2) {
    EXPECT_TRUE(
        wants_pool(request("a", 2, Coexist::kNode, BandwidthClass::kLow), PoolPolicy::kAuto));
    EXPECT_TRUE(
        wants_pool(request("a", 2, Coexist::kNone, BandwidthClass::kLow), PoolPolicy::kAuto));
    EXPECT_FALSE(
        wants_pool(request("a", 2, Coexist::kCore, BandwidthClass::kLow), PoolPolicy::kAuto));
    EXPECT_TRUE(
        wants_pool(request("a", 2, Coexist::kCore, BandwidthClass::kLow), PoolPolicy::kAlways));
    EXPECT_FALSE(
        wants_pool(request("a", 2, Coexist::kNone, BandwidthClass::kLow), PoolPolicy::kNever));
    EXPECT_FALSE(parse_pool_policy("sometimes").ok());
    EXPECT_FALSE(credit2_for(request("a", 2, Coexist::kSocket, BandwidthClass::kLow)));
    auto c = credit2_for(request("a", 3, Coexist::kPu, BandwidthClass::kLow));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->weight, 768);
    EXPECT_EQ(c->cap, 300);
}

TEST(XenTranslate, PoolPlanRefusesForeignPoolsAndAnEmptyPool0) {
    FakeXenOps ops(2, 2);
    auto ok = plan_pool({2, 3}, *ops.cpupools());
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, (std::vector<PoolMove>{{2, 0}, {3, 0}}));
    auto all = plan_pool({0, 1, 2, 3}, *ops.cpupools());
    ASSERT_FALSE(all.ok());
    EXPECT_EQ(all.error().code(), Errc::kInfeasible);
    auto pools = *ops.cpupools();
    pools[0].cpus = {0, 1};
    pools.push_back({5, kSchedCredit2, 0, {2, 3}});
    auto busy = plan_pool({3}, pools);
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(busy.error().code(), Errc::kBusy);
    EXPECT_NE(busy.error().message().find("cpupool 5"), std::string::npos)
        << busy.error().message();
    auto unknown = plan_pool({9}, *ops.cpupools());
    EXPECT_EQ(unknown.error().code(), Errc::kInvalidArgument);
}

TEST(XenTranslate, HandPinConflicts) {
    auto online = all_cpus(4);
    EXPECT_FALSE(pin_conflicts(online, {2}, online));  // unpinned
    EXPECT_FALSE(pin_conflicts({2, 3}, {2}, online));  // narrower pin inside the hand pin
    EXPECT_TRUE(pin_conflicts({0}, {2}, online));      // pinned elsewhere by hand
}

// Bandwidth high vs low through the real solver: spread one core per socket vs packed.
TEST_F(Fixture, BandwidthHighSpreadsLowPacksAsReadBackFromAffinity) {
    auto topo = drv->topology();
    ASSERT_TRUE(topo.ok());
    Solver solver(*topo);
    uint32_t hi = ops->add_domain("hi", 4), lo = ops->add_domain("lo", 2);
    auto rq_hi = request("hi", 4, Coexist::kSocket, BandwidthClass::kHigh);
    auto p_hi = solver.place(rq_hi, {});
    ASSERT_TRUE(p_hi.ok()) << p_hi.error().to_string();
    ASSERT_TRUE(drv->bind_domain("hi", hi, rq_hi).ok());
    ASSERT_TRUE(drv->apply({"hi", TenantKind::kDomain, {}, {}}, *p_hi).ok());
    std::set<int> sockets;
    for (int v = 0; v < 4; ++v) {
        auto a = *ops->vcpu_affinity(hi, v);
        ASSERT_EQ(a.size(), 1u);
        sockets.insert(a[0] / 2);
    }
    EXPECT_EQ(sockets.size(), 4u) << "high bandwidth: one core per socket";

    auto rq_lo = request("lo", 2, Coexist::kSocket, BandwidthClass::kLow);
    // Placed on its own: next to `hi` every socket has one free core left only.
    auto p_lo = solver.place(rq_lo, {});
    ASSERT_TRUE(p_lo.ok()) << p_lo.error().to_string();
    ASSERT_TRUE(drv->bind_domain("lo", lo, rq_lo).ok());
    ASSERT_TRUE(drv->apply({"lo", TenantKind::kDomain, {}, {}}, *p_lo).ok());
    auto a0 = *ops->vcpu_affinity(lo, 0), a1 = *ops->vcpu_affinity(lo, 1);
    ASSERT_EQ(a0.size(), 1u);
    ASSERT_EQ(a1.size(), 1u);
    EXPECT_EQ(a0[0] / 2, a1[0] / 2) << "low bandwidth: packed on one socket";
    EXPECT_EQ(ops->doms[lo].nodes, p_lo->mem_nodes);
}

TEST_F(Fixture, ApplyWithPoolAndReleaseRestoresEverything) {
    uint32_t d = ops->add_domain("g", 2);
    auto before = ops->doms[d];
    auto rq = request("t1", 2, Coexist::kNode, BandwidthClass::kLow);
    ASSERT_TRUE(drv->bind_domain("t1", d, rq).ok());
    ASSERT_TRUE(
        drv->apply({"t1", TenantKind::kDomain, {}, {}}, placement("t1", {{4}, {5}}, {2})).ok());
    EXPECT_EQ(ops->pools.size(), 2u);
    EXPECT_EQ(ops->pools[1].cpus, (std::vector<int>{4, 5}));
    EXPECT_EQ(ops->doms[d].info.cpupool, 1u);
    EXPECT_EQ(ops->doms[d].affinity[0], std::vector<int>{4});
    EXPECT_EQ(ops->doms[d].affinity[1], std::vector<int>{5});
    EXPECT_EQ(ops->doms[d].nodes, std::vector<int>{2});
    EXPECT_EQ(ops->store["/local/pool/1/name"], "vtasos-t1");
    EXPECT_TRUE(ops->store.count(std::string(kMarkerDir) + "/t1"));
    auto st = drv->domain_status("t1");
    ASSERT_TRUE(st.ok());
    EXPECT_EQ((*st)["vcpus"].size(), 2u);
    EXPECT_EQ((*st)["vcpus"][1]["hard_affinity"], "5");
    EXPECT_GT((*st)["vcpus"][1]["cpu_time_ns"].get<uint64_t>(), 0u);

    ASSERT_TRUE(drv->release("t1").ok());
    EXPECT_EQ(ops->pools.size(), 1u);
    EXPECT_EQ(ops->pools[0].cpus, all_cpus(8));
    EXPECT_EQ(ops->doms[d].info.cpupool, 0u);
    EXPECT_EQ(ops->doms[d].affinity, before.affinity);
    EXPECT_EQ(ops->doms[d].nodes, before.nodes);
    EXPECT_FALSE(ops->store.count(std::string(kMarkerDir) + "/t1"));
    EXPECT_TRUE(drv->release("t1").ok()) << "release is idempotent";
}

// Each failing step leaves the hypervisor exactly as before the apply.
TEST_F(Fixture, FailedStepUndoesEarlierSteps) {
    uint32_t d = ops->add_domain("g", 2);
    auto rq = request("t1", 2, Coexist::kNode, BandwidthClass::kLow);
    ASSERT_TRUE(drv->bind_domain("t1", d, rq).ok());
    const auto doms_before = ops->doms;
    const auto pools_before = ops->pools;
    for (const char* step : {"pool_create", "pool_removecpu", "pool_addcpu", "pool_movedomain",
                             "setaffinity", "nodeaffinity"}) {
        for (int skip : {0, 1}) {
            ops->fail_next(step, Errc::kIo, skip);
            auto s =
                drv->apply({"t1", TenantKind::kDomain, {}, {}}, placement("t1", {{4}, {5}}, {2}));
            ops->clear_failures();
            if (s.ok()) {  // the step happens once only: the failure was never reached
                ASSERT_TRUE(drv->release("t1").ok());
                ASSERT_TRUE(drv->bind_domain("t1", d, rq).ok());
                continue;
            }
            EXPECT_NE(s.error().message().find("rollback: done"), std::string::npos)
                << step << ": " << s.error().message();
            EXPECT_EQ(ops->pools, pools_before) << step << " skip " << skip;
            EXPECT_EQ(ops->doms.at(d).affinity, doms_before.at(d).affinity) << step;
            EXPECT_EQ(ops->doms.at(d).nodes, doms_before.at(d).nodes) << step;
            EXPECT_EQ(ops->doms.at(d).info.cpupool, 0u) << step;
        }
    }
}

TEST_F(Fixture, HandSetPinIsAConflictAndNothingChanges) {
    uint32_t d = ops->add_domain("g", 1);
    ops->doms[d].affinity[0] = {7};  // xl vcpu-pin g 0 7
    auto rq = request("t1", 1, Coexist::kSocket, BandwidthClass::kLow);
    ASSERT_TRUE(drv->bind_domain("t1", d, rq).ok());
    size_t n = calls();
    auto s = drv->apply({"t1", TenantKind::kDomain, {}, {}}, placement("t1", {{2}}));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(s.error().message().find("pinned by hand"), std::string::npos) << s.error().message();
    EXPECT_EQ(calls(), n) << "no hypercall that changes anything";
    EXPECT_EQ(ops->doms[d].affinity[0], std::vector<int>{7});
}

TEST_F(Fixture, PoolNameClashAndDomainOwnedTwiceAreRefused) {
    uint32_t d = ops->add_domain("g", 1);
    ops->store["/local/pool/9/name"] = "vtasos-t1";
    auto rq = request("t1", 1, Coexist::kNone, BandwidthClass::kLow);
    ASSERT_TRUE(drv->bind_domain("t1", d, rq).ok());
    auto pools_before = ops->pools;
    auto s = drv->apply({"t1", TenantKind::kDomain, {}, {}}, placement("t1", {{6}}));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), Errc::kAlreadyExists);
    EXPECT_NE(s.error().message().find("vtasos-t1"), std::string::npos) << s.error().message();
    EXPECT_EQ(ops->pools, pools_before);
    auto twice = drv->bind_domain("t2", d, rq);
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(twice.error().code(), Errc::kAlreadyExists);
    auto unbound = drv->apply({"t3", TenantKind::kDomain, {}, {}}, placement("t3", {{6}}));
    EXPECT_EQ(unbound.error().code(), Errc::kNotFound);
    auto pids = drv->apply({"t1", TenantKind::kDomain, {42}, {}}, placement("t1", {{6}}));
    EXPECT_EQ(pids.error().code(), Errc::kInvalidArgument);
}

TEST_F(Fixture, FreezeIsOnePauseAndReleaseUnpauses) {
    uint32_t d = ops->add_domain("g", 1);
    auto rq = request("t1", 1, Coexist::kPu, BandwidthClass::kLow);
    ASSERT_TRUE(drv->bind_domain("t1", d, rq).ok());
    ASSERT_TRUE(drv->apply({"t1", TenantKind::kDomain, {}, {}}, placement("t1", {{1}})).ok());
    EXPECT_EQ(ops->doms[d].credit2.weight, 256);
    EXPECT_EQ(ops->doms[d].credit2.cap, 100);
    ASSERT_TRUE(drv->freeze("t1").ok());
    ASSERT_TRUE(drv->freeze("t1").ok());
    EXPECT_EQ(ops->doms[d].pause_count, 1);
    ASSERT_TRUE(drv->thaw("t1").ok());
    EXPECT_EQ(ops->doms[d].pause_count, 0);
    ASSERT_TRUE(drv->freeze("t1").ok());
    ASSERT_TRUE(drv->release("t1").ok());
    EXPECT_EQ(ops->doms[d].pause_count, 0);
    EXPECT_EQ(ops->doms[d].credit2, Credit2Params{});
    EXPECT_EQ(drv->freeze("nobody").error().code(), Errc::kNotFound);
}

TEST_F(Fixture, RestartRecoveryUnpausesAndRemovesStalePools) {
    // What a daemon that died mid-slice leaves: a paused domain in its pool and a marker.
    uint32_t d = ops->add_domain("g", 1);
    ASSERT_TRUE(ops->pause(d).ok());
    auto pool = ops->cpupool_create(kSchedCredit2);
    ASSERT_TRUE(ops->cpupool_removecpu(0, 6).ok());
    ASSERT_TRUE(ops->cpupool_addcpu(*pool, 6).ok());
    ASSERT_TRUE(ops->cpupool_movedomain(*pool, d).ok());
    ops->store[std::string(kMarkerDir) + "/old"] =
        nlohmann::json{{"domid", d},
                       {"paused", true},
                       {"pool", {{"id", *pool}, {"domain_from", 0}, {"moves", {{6, 0}}}}}}
            .dump();
    auto names = drv->thaw_all();
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, std::vector<std::string>{"old"});
    EXPECT_EQ(ops->doms[d].pause_count, 0);
    ASSERT_TRUE(drv->remove_stale("old").ok());
    EXPECT_EQ(ops->pools.size(), 1u);
    EXPECT_EQ(ops->pools[0].cpus, all_cpus(8));
    EXPECT_EQ(ops->doms[d].info.cpupool, 0u);
    EXPECT_FALSE(ops->store.count(std::string(kMarkerDir) + "/old"));
}

TEST_F(Fixture, ResolveDomainByNameOrId) {
    uint32_t d = ops->add_domain("cg-guest", 4);
    auto byname = drv->resolve_domain("cg-guest");
    ASSERT_TRUE(byname.ok());
    EXPECT_EQ(byname->domid, d);
    EXPECT_EQ(byname->vcpus, 4);
    EXPECT_EQ(drv->resolve_domain(std::to_string(d))->name, "cg-guest");
    EXPECT_EQ(drv->resolve_domain("nope").error().code(), Errc::kNotFound);
    EXPECT_EQ(drv->resolve_domain("Domain-0").error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(drv->resolve_domain("0").error().code(), Errc::kInvalidArgument);
    ops->doms.erase(d);
    EXPECT_EQ(drv->resolve_domain("cg-guest").error().code(), Errc::kNotFound);
}

TEST_F(Fixture, VanishedDomainsAreReported) {
    uint32_t d = ops->add_domain("g", 1);
    ASSERT_TRUE(
        drv->bind_domain("t1", d, request("t1", 1, Coexist::kSocket, BandwidthClass::kLow)).ok());
    EXPECT_TRUE(drv->gone_tenants().empty());
    ops->doms.erase(d);
    EXPECT_EQ(drv->gone_tenants(), std::vector<std::string>{"t1"});
    EXPECT_TRUE(drv->release("t1").ok());
}

}  // namespace
}  // namespace vtasos::xen
