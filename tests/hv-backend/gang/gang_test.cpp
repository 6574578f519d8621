// Fake-clock tests of the gang scheduler logic (vtasos_gang).
#include "vtasos/gang/gang.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace vtasos::gang {
namespace {

class FakeClock : public Clock {
public:
    int64_t now_ns() const override { return t; }
    int64_t t = 1'000'000'000;
};

class FakeFreezer : public Freezer {
public:
    Status freeze(std::string_view id) override {
        frozen.insert(std::string(id));
        touched.insert(std::string(id));
        ++calls;
        return {};
    }
    Status thaw(std::string_view id) override {
        frozen.erase(std::string(id));
        touched.insert(std::string(id));
        ++calls;
        return {};
    }
    std::set<std::string> frozen, touched;
    int calls = 0;
};

GangTenant T(std::string id, std::vector<int> pus, std::optional<double> lat = {}) {
    GangTenant t;
    t.id = std::move(id);
    t.pus = std::move(pus);
    t.latency_ms = lat;
    return t;
}

// Runs the scheduler for `ms` in 1 ms steps; tracks per-tenant running time
// (from the freezer's view) and the longest frozen stretch per tenant.
struct Sim {
    FakeClock clock;
    FakeFreezer fz;
    Scheduler s{fz, clock, 20};
    std::map<std::string, int64_t> run_ms, max_wait_ms, cur_wait_ms;
    void run(int ms, const std::vector<std::string>& ids) {
        for (int i = 0; i < ms; ++i) {
            s.tick();
            for (auto& id : ids) {
                if (fz.frozen.count(id)) {
                    max_wait_ms[id] = std::max(max_wait_ms[id], ++cur_wait_ms[id]);
                } else {
                    ++run_ms[id];
                    cur_wait_ms[id] = 0;
                }
            }
            clock.t += 1'000'000;
        }
    }
};

TEST(GangPolicy, ParsesNamesAndRejectsBadOnes) {
    EXPECT_EQ(*parse_policy("gang"), Policy::kGang);
    EXPECT_EQ(*parse_policy("feedback"), Policy::kFeedback);
    EXPECT_EQ(*parse_policy("auto"), Policy::kAuto);
    EXPECT_EQ(*parse_policy("off"), Policy::kOff);
    auto bad = parse_policy("Gang!");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(bad.error().message().find("gang, feedback, auto or off"), std::string::npos);
    for (auto p : {Policy::kGang, Policy::kFeedback, Policy::kAuto, Policy::kOff})
        EXPECT_EQ(*parse_policy(policy_name(p)), p);
}

TEST(GangPolicy, SliceRange) {
    EXPECT_TRUE(validate_slice_ms(10).ok());
    EXPECT_TRUE(validate_slice_ms(100).ok());
    EXPECT_TRUE(validate_slice_ms(kDefaultSliceMs).ok());
    auto e = validate_slice_ms(9);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message().find("10..100"), std::string::npos);
    EXPECT_FALSE(validate_slice_ms(101).ok());
    EXPECT_FALSE(validate_slice_ms(-5).ok());
    FakeClock c;
    FakeFreezer f;
    Scheduler s(f, c, 20);
    EXPECT_FALSE(s.set_slice_ms(0).ok());
    EXPECT_EQ(s.slice_ms(), 20);
}

TEST(GangPolicy, ShouldGang) {
    SchedWish none, want;
    want.gang = true;
    Profile sync;
    sync.barrier_rate_hz = 2000;
    Profile ep;  // no sync
    Profile forbid = sync;
    forbid.gang = false;
    Profile slow;
    slow.barrier_rate_hz = 1;
    slow.sync_fraction = 0.2;
    EXPECT_FALSE(should_gang(Policy::kAuto, none, nullptr));
    EXPECT_TRUE(should_gang(Policy::kAuto, want, nullptr));
    EXPECT_TRUE(should_gang(Policy::kAuto, none, &sync));
    EXPECT_FALSE(should_gang(Policy::kAuto, none, &ep));
    EXPECT_TRUE(should_gang(Policy::kAuto, none, &slow));  // by wait fraction
    EXPECT_FALSE(should_gang(Policy::kAuto, want, &forbid));
    EXPECT_TRUE(should_gang(Policy::kGang, none, &ep));
    EXPECT_FALSE(should_gang(Policy::kGang, none, &forbid));
    EXPECT_FALSE(should_gang(Policy::kOff, want, &sync));
    EXPECT_FALSE(should_gang(Policy::kFeedback, want, &sync));
}

TEST(GangPolicy, DecidePerPolicyAndTenant) {
    SchedWish want;
    want.gang = true;
    Profile sync;
    sync.barrier_rate_hz = 2000;
    Profile ep;  // no sync: EP-like
    Profile forbid = sync;
    forbid.gang = false;
    Profile waits;  // few barriers, but MPI waits take 30% of the time
    waits.barrier_rate_hz = 5;
    waits.sync_fraction = 0.3;
    auto omp = [](const Profile* p, SchedWish w = {}) { return TenantFacts{w, p, true}; };
    auto mpi = [](const Profile* p, SchedWish w = {}) { return TenantFacts{w, p, false}; };
    // auto: sync decides; malleable OpenMP shrinks, MPI (fixed ranks) is ganged.
    EXPECT_EQ(decide(Policy::kAuto, omp(&sync)), Mode::kShare);
    EXPECT_EQ(decide(Policy::kAuto, mpi(&sync)), Mode::kGang);
    EXPECT_EQ(decide(Policy::kAuto, mpi(&waits)), Mode::kGang);
    EXPECT_EQ(decide(Policy::kAuto, omp(&ep)), Mode::kKernel);
    EXPECT_EQ(decide(Policy::kAuto, mpi(&ep)), Mode::kKernel);
    EXPECT_EQ(decide(Policy::kAuto, omp(nullptr)), Mode::kKernel);
    EXPECT_EQ(decide(Policy::kAuto, omp(&ep, want)), Mode::kGang);        // explicit wish
    EXPECT_EQ(decide(Policy::kAuto, omp(&forbid, want)), Mode::kKernel);  // forbid wins
    // A malleable tenant whose data fits in the cache is ganged, not shrunk.
    TenantFacts resident = omp(&sync);
    resident.cache_resident = true;
    EXPECT_EQ(decide(Policy::kAuto, resident), Mode::kGang);
    resident.cache_resident = false;
    EXPECT_EQ(decide(Policy::kAuto, resident), Mode::kShare);
    resident.profile = &ep;  // no sync: still the kernel's
    resident.cache_resident = true;
    EXPECT_EQ(decide(Policy::kAuto, resident), Mode::kKernel);
    EXPECT_EQ(decide(Policy::kFeedback, resident), Mode::kShare);
    // Thresholds are inclusive and configurable.
    GangThresholds th;
    Profile edge;
    edge.barrier_rate_hz = th.barrier_rate_hz;
    EXPECT_EQ(decide(Policy::kAuto, mpi(&edge), th), Mode::kGang);
    edge.barrier_rate_hz = th.barrier_rate_hz * 0.99;
    EXPECT_EQ(decide(Policy::kAuto, mpi(&edge), th), Mode::kKernel);
    // Fixed policies.
    EXPECT_EQ(decide(Policy::kGang, omp(&ep)), Mode::kGang);
    EXPECT_EQ(decide(Policy::kGang, omp(&forbid)), Mode::kKernel);
    EXPECT_EQ(decide(Policy::kFeedback, mpi(&sync, want)), Mode::kShare);
    EXPECT_EQ(decide(Policy::kOff, omp(&sync, want)), Mode::kKernel);
    EXPECT_EQ(mode_name(Mode::kShare), "share");
}

TEST(GangFeedback, SharesAreDisjointProportionalAndDeterministic) {
    // Two 2-CPU apps stacked on PUs {0,1}: one PU each.
    auto s = feedback_shares({{"b", {0, 1}, 2}, {"a", {0, 1}, 2}});
    EXPECT_EQ(s["a"], (std::vector<int>{0}));
    EXPECT_EQ(s["b"], (std::vector<int>{1}));
    // 4 PUs, demands 3 and 1: 3 + 1; a lone tenant keeps its PUs.
    s = feedback_shares({{"x", {0, 1, 2, 3}, 3}, {"y", {2, 3}, 1}, {"z", {6, 7}, 2}});
    EXPECT_EQ(s["x"], (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(s["y"], (std::vector<int>{3}));
    EXPECT_EQ(s["z"], (std::vector<int>{6, 7}));
    // Never more PUs than CPUs asked for; leftovers stay unused.
    s = feedback_shares({{"p", {0, 1, 2, 3}, 1}, {"q", {0, 1, 2, 3}, 1}});
    EXPECT_EQ(s["p"].size(), 1u);
    EXPECT_EQ(s["q"].size(), 1u);
    EXPECT_NE(s["p"], s["q"]);
    // More tenants than PUs: one PU each, round-robin.
    s = feedback_shares({{"a", {0, 1}, 2}, {"b", {0, 1}, 2}, {"c", {0, 1}, 2}});
    EXPECT_EQ(s["a"], (std::vector<int>{0}));
    EXPECT_EQ(s["b"], (std::vector<int>{1}));
    EXPECT_EQ(s["c"], (std::vector<int>{0}));
    // Every PU is given at most once when tenants <= PUs.
    s = feedback_shares({{"a", {0, 1, 2}, 3}, {"b", {1, 2, 3, 4}, 4}, {"c", {4}, 1}});
    std::set<int> seen;
    size_t total = 0;
    for (auto& [id, pus] : s) {
        EXPECT_FALSE(pus.empty()) << id;
        total += pus.size();
        seen.insert(pus.begin(), pus.end());
    }
    EXPECT_EQ(seen.size(), total);
    EXPECT_EQ(total, 5u);
}

TEST(GangMatrix, RowsAreDisjointAndCoverOverlappingTenants) {
    // a overlaps b and c; b and c are disjoint; e overlaps nobody; n is not ganged.
    GangTenant n = T("n", {0});
    n.gang = false;
    auto m = build_matrices({T("a", {0, 1}), T("b", {0}), T("c", {1}), T("e", {5}), n}, 20);
    ASSERT_TRUE(m.ok()) << m.error().to_string();
    ASSERT_EQ(m->size(), 1u);
    const auto& rows = (*m)[0].rows;
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"a"}));
    EXPECT_EQ(rows[1], (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ((*m)[0].slice_ns, 20'000'000);
}

TEST(GangMatrix, IndependentComponents) {
    auto m = build_matrices({T("a", {0}), T("b", {0}), T("c", {1}), T("d", {1}), T("e", {1})}, 30);
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(m->size(), 2u);
    EXPECT_EQ((*m)[0].rows.size(), 2u);
    EXPECT_EQ((*m)[1].rows.size(), 3u);
}

TEST(GangMatrix, BadSliceRejected) {
    auto m = build_matrices({T("a", {0}), T("b", {0})}, 5);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code(), Errc::kInvalidArgument);
}

TEST(GangSched, NonOverlappingTenantsNeverTouched) {
    Sim sim;
    ASSERT_TRUE(sim.s.add(T("a", {0})).ok());
    ASSERT_TRUE(sim.s.add(T("b", {0})).ok());
    ASSERT_TRUE(sim.s.add(T("lonely", {1})).ok());
    GangTenant k = T("kernel", {0});
    k.gang = false;
    ASSERT_TRUE(sim.s.add(k).ok());
    sim.run(1000, {"a", "b"});
    EXPECT_EQ(sim.fz.touched.count("lonely"), 0u);
    EXPECT_EQ(sim.fz.touched.count("kernel"), 0u);
    auto st = sim.s.states();
    EXPECT_FALSE(st["lonely"].scheduled);
    EXPECT_TRUE(st["a"].scheduled);
}

TEST(GangSched, AlternatesAndIsFairOver10s) {
    Sim sim;
    for (auto id : {"a", "b", "c"}) ASSERT_TRUE(sim.s.add(T(id, {0, 1})).ok());
    sim.run(10'000, {"a", "b", "c"});
    for (auto id : {"a", "b", "c"}) {
        EXPECT_NEAR(sim.run_ms[id], 10'000 / 3.0, 10'000 / 3.0 * 0.05) << id;
        EXPECT_LE(sim.max_wait_ms[id], 2 * 20 + 1) << id;
    }
    // Never two at once.
    EXPECT_EQ(sim.run_ms["a"] + sim.run_ms["b"] + sim.run_ms["c"], 10'000);
    // Freezes per switch: one out, one in.
    EXPECT_GT(sim.s.stats().switches, 400u);
    EXPECT_EQ(sim.s.stats().errors, 0u);
    EXPECT_EQ(sim.s.generation(), 3u);  // one decision change per add, none per slice
}

TEST(GangSched, LatencyBoundShortensSlices) {
    Sim sim;
    ASSERT_TRUE(sim.s.add(T("a", {0})).ok());
    ASSERT_TRUE(sim.s.add(T("b", {0})).ok());
    ASSERT_TRUE(sim.s.add(T("c", {0}, 24.0)).ok());  // 2 other rows -> 12 ms slices
    EXPECT_EQ(sim.s.matrices()[0].slice_ns, 12'000'000);
    sim.run(3000, {"a", "b", "c"});
    EXPECT_LE(sim.max_wait_ms["c"], 24);
    EXPECT_NEAR(sim.run_ms["c"], 1000, 50);
}

TEST(GangSched, ImpossibleLatencyBoundIsAClearError) {
    Sim sim;
    ASSERT_TRUE(sim.s.add(T("a", {0})).ok());
    ASSERT_TRUE(sim.s.add(T("b", {0})).ok());
    auto r = sim.s.add(T("c", {0}, 15.0));  // needs 7.5 ms slices
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kInfeasible);
    EXPECT_NE(r.error().message().find("latency bound"), std::string::npos);
    EXPECT_EQ(sim.s.states().count("c"), 0u);  // nothing changed
    EXPECT_EQ(sim.s.matrices()[0].rows.size(), 2u);
}

TEST(GangSched, JoinAndLeaveMidSlice) {
    Sim sim;
    ASSERT_TRUE(sim.s.add(T("a", {0})).ok());
    ASSERT_TRUE(sim.s.add(T("b", {0})).ok());
    sim.run(1007, {"a", "b"});  // mid-slice
    ASSERT_TRUE(sim.s.add(T("c", {0})).ok());
    sim.run(6013, {"a", "b", "c"});
    // c joined late; over the window since joining all three are sliced.
    auto before = sim.run_ms;
    sim.run(9000, {"a", "b", "c"});
    for (auto id : {"a", "b", "c"}) EXPECT_NEAR(sim.run_ms[id] - before[id], 3000, 150) << id;
    // Leave mid-slice while frozen: thawed immediately.
    std::string frozen_one = *sim.fz.frozen.begin();
    sim.clock.t += 3'000'000;
    ASSERT_TRUE(sim.s.remove(frozen_one).ok());
    EXPECT_EQ(sim.fz.frozen.count(frozen_one), 0u);
    EXPECT_FALSE(sim.s.remove(frozen_one).ok());
    // Two left: one frozen, one running; the last one leaving unfreezes all.
    sim.run(100, {});
    EXPECT_EQ(sim.fz.frozen.size(), 1u);
    std::string other = *sim.fz.frozen.begin();
    for (auto& [id, st] : sim.s.states())
        if (id != other) ASSERT_TRUE(sim.s.remove(id).ok());
    EXPECT_TRUE(sim.fz.frozen.empty());
    EXPECT_TRUE(sim.s.matrices().empty());
    EXPECT_EQ(sim.s.tick(), -1);
}

TEST(GangSched, ThawAllAndDestructorLeaveNothingFrozen) {
    FakeClock c;
    FakeFreezer f;
    {
        Scheduler s(f, c, 10);
        ASSERT_TRUE(s.add(T("a", {0})).ok());
        ASSERT_TRUE(s.add(T("b", {0})).ok());
        EXPECT_EQ(f.frozen.size(), 1u);
        s.thaw_all();
        EXPECT_TRUE(f.frozen.empty());
        ASSERT_TRUE(s.add(T("c", {0})).ok());
        EXPECT_FALSE(f.frozen.empty());
    }
    EXPECT_TRUE(f.frozen.empty());
}

TEST(GangSched, ReAddIdenticalIsNoDecisionChangeButChangeRebuilds) {
    FakeClock c;
    FakeFreezer f;
    Scheduler s(f, c, 20);
    ASSERT_TRUE(s.add(T("a", {0})).ok());
    ASSERT_TRUE(s.add(T("b", {0})).ok());
    auto gen = s.generation();
    int calls = f.calls;
    ASSERT_TRUE(s.add(T("b", {0})).ok());
    EXPECT_EQ(s.generation(), gen);
    EXPECT_EQ(f.calls, calls);
    // b stops being ganged (e.g. new observations): a and b are left alone, thawed.
    GangTenant nb = T("b", {0});
    nb.gang = false;
    ASSERT_TRUE(s.add(nb).ok());
    EXPECT_GT(s.generation(), gen);
    EXPECT_TRUE(f.frozen.empty());
    EXPECT_TRUE(s.matrices().empty());
}

TEST(GangSched, TickReturnsTimeToNextSwitch) {
    FakeClock c;
    FakeFreezer f;
    Scheduler s(f, c, 10);
    EXPECT_EQ(s.tick(), -1);
    ASSERT_TRUE(s.add(T("a", {0})).ok());
    ASSERT_TRUE(s.add(T("b", {0})).ok());
    EXPECT_EQ(s.tick(), 10'000'000);
    c.t += 4'000'000;
    EXPECT_EQ(s.tick(), 6'000'000);
    int calls = f.calls;
    c.t += 6'000'000;
    EXPECT_EQ(s.tick(), 10'000'000);
    EXPECT_EQ(f.calls, calls + 2);  // one freeze + one thaw per switch
}

}  // namespace
}  // namespace vtasos::gang
