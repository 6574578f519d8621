// The Learner driven with the event sequences libomp produces (recorded from
// libomp 14 with a tracing tool), one ThreadSlot per simulated thread.
#include "internal/learner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

namespace vtasos::ompt {
namespace {

constexpr int kImplicit = ompt_task_implicit;
constexpr int kInitial = ompt_task_initial;

double secs(uint64_t ticks, const TickClock& c) {
    return static_cast<double>(ticks) / c.ticks_per_second();
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// One region of `team` threads on slots[0..team), each passing `barriers`
// explicit barriers; slot 0 is the initial thread.
void region(Learner& l, std::vector<ThreadSlot*>& slots, unsigned team, int barriers) {
    ThreadSlot* m = slots[0];
    EXPECT_TRUE(l.parallel_begin(m, team));
    for (unsigned i = 0; i < team; ++i) {
        l.implicit_task(slots[i], ompt_scope_begin, team, i, kImplicit);
        for (int b = 0; b < barriers; ++b) {
            l.sync_region(slots[i], ompt_sync_region_barrier_explicit, ompt_scope_begin);
            l.sync_wait(slots[i], ompt_sync_region_barrier_explicit, ompt_scope_begin);
            l.sync_wait(slots[i], ompt_sync_region_barrier_explicit, ompt_scope_end);
            l.sync_region(slots[i], ompt_sync_region_barrier_explicit, ompt_scope_end);
        }
        // join barrier (libomp 14 reports kind 2, barrier_implicit)
        l.sync_region(slots[i], ompt_sync_region_barrier_implicit, ompt_scope_begin);
    }
    l.implicit_task(m, ompt_scope_end, team, 0, kImplicit);
    l.parallel_end(m);
    for (unsigned i = 1; i < team; ++i) l.implicit_task(slots[i], ompt_scope_end, 0, i, kImplicit);
}

std::vector<ThreadSlot*> claim(Learner& l, int n) {
    std::vector<ThreadSlot*> s;
    for (int i = 0; i < n; ++i) s.push_back(l.claim_slot());
    l.implicit_task(s[0], ompt_scope_begin, 1, 1, kInitial);
    return s;
}

TEST(OmptLearner, CountsRegionsTeamsAndBarriers) {
    Learner l(16);
    auto s = claim(l, 4);
    region(l, s, 4, 3);
    region(l, s, 2, 5);
    Totals t = l.reduce();
    EXPECT_EQ(t.regions, 2u);
    EXPECT_EQ(t.nested_regions, 0u);
    EXPECT_EQ(t.requested_sum, 6u);
    EXPECT_EQ(t.teams, 2u);
    EXPECT_EQ(t.team_size_sum, 6u);
    EXPECT_EQ(t.team_size_max, 4u);
    EXPECT_EQ(t.outer_team_size_max, 4u);
    EXPECT_EQ(t.implicit_tasks, 6u);
    EXPECT_EQ(t.sync_events[kSyncBarrierExplicit], 4u * 3 + 2u * 5);
    EXPECT_EQ(t.sync_instances[kSyncBarrierExplicit], 3u + 5u);
    EXPECT_EQ(t.sync_instances[kSyncBarrierImplicit], 2u);
    EXPECT_EQ(t.barrier_instances(), 10u);
    EXPECT_EQ(t.barrier_events(), 22u + 6u);
    EXPECT_EQ(t.threads_seen, 4u);
    EXPECT_EQ(t.threads.size(), 4u);
}

TEST(OmptLearner, NestedRegionsAreCountedApart) {
    Learner l(8);
    auto s = claim(l, 3);
    ThreadSlot *m = s[0], *w = s[1], *inner = s[2];
    l.parallel_begin(m, 2);
    l.implicit_task(m, ompt_scope_begin, 2, 0, kImplicit);
    l.implicit_task(w, ompt_scope_begin, 2, 1, kImplicit);
    // the worker (index 1 outside) starts a nested team and is its master
    EXPECT_FALSE(l.parallel_begin(w, 2));  // not an outermost region
    l.implicit_task(w, ompt_scope_begin, 2, 0, kImplicit);
    l.implicit_task(inner, ompt_scope_begin, 2, 1, kImplicit);
    l.sync_region(w, ompt_sync_region_barrier_explicit, ompt_scope_begin);  // inner team master
    l.sync_region(inner, ompt_sync_region_barrier_explicit, ompt_scope_begin);
    l.implicit_task(w, ompt_scope_end, 2, 0, kImplicit);
    l.parallel_end(w);
    // back in the outer team, w is index 1 again: its barrier is not an instance
    l.sync_region(w, ompt_sync_region_barrier_explicit, ompt_scope_begin);
    l.implicit_task(m, ompt_scope_end, 2, 0, kImplicit);
    l.parallel_end(m);
    Totals t = l.reduce();
    EXPECT_EQ(t.regions, 2u);
    EXPECT_EQ(t.nested_regions, 1u);
    EXPECT_EQ(t.teams, 2u);
    EXPECT_EQ(t.team_size_sum, 4u);
    EXPECT_EQ(t.outer_team_size_max, 2u);
    EXPECT_EQ(t.sync_events[kSyncBarrierExplicit], 3u);
    EXPECT_EQ(t.sync_instances[kSyncBarrierExplicit], 1u);
}

TEST(OmptLearner, TaskwaitAndTaskgroupCountEveryEvent) {
    Learner l(4);
    auto s = claim(l, 2);
    l.parallel_begin(s[0], 2);
    l.implicit_task(s[0], ompt_scope_begin, 2, 0, kImplicit);
    l.implicit_task(s[1], ompt_scope_begin, 2, 1, kImplicit);
    l.sync_region(s[1], ompt_sync_region_taskwait, ompt_scope_begin);  // a worker's taskwait
    l.sync_region(s[0], ompt_sync_region_taskgroup, ompt_scope_begin);
    ompt_data_t task{};
    l.task_create(s[1], &task, ompt_task_explicit);
    l.task_create(s[1], nullptr, ompt_task_explicit | ompt_task_undeferred);
    l.task_create(s[1], nullptr, ompt_task_initial);  // not an explicit task
    Totals t = l.reduce();
    EXPECT_EQ(t.sync_instances[kSyncTaskwait], 1u);
    EXPECT_EQ(t.sync_instances[kSyncTaskgroup], 1u);
    EXPECT_EQ(t.tasks_created, 2u);
    EXPECT_EQ(task.value, kExplicitTaskTag);
}

// The tool's path: sync regions counted from their waits alone.
TEST(OmptLearner, CountedWaitsGiveTheSyncRegionCounts) {
    Learner l(4);
    auto s = claim(l, 2);
    l.parallel_begin(s[0], 2);
    l.implicit_task(s[0], ompt_scope_begin, 2, 0, kImplicit);
    l.implicit_task(s[1], ompt_scope_begin, 2, 1, kImplicit);
    for (int i = 0; i < 3; ++i)
        for (auto* x : s) {
            l.sync_wait_counted(x, ompt_sync_region_barrier_explicit, ompt_scope_begin);
            l.sync_wait_counted(x, ompt_sync_region_barrier_explicit, ompt_scope_end);
        }
    l.sync_wait_counted(s[1], ompt_sync_region_taskwait, ompt_scope_begin);
    l.sync_wait_counted(s[1], ompt_sync_region_taskwait, ompt_scope_end);
    Totals t = l.reduce();
    EXPECT_EQ(t.sync_events[kSyncBarrierExplicit], 6u);
    EXPECT_EQ(t.sync_instances[kSyncBarrierExplicit], 3u);  // one per team
    EXPECT_EQ(t.sync_instances[kSyncTaskwait], 1u);
    EXPECT_EQ(s[0]->wait_depth, 0u);
    EXPECT_EQ(s[1]->wait_depth, 0u);
}

TEST(OmptLearner, WaitTimeIsMeasured) {
    TickClock clock;
    Learner l(4);
    auto s = claim(l, 1);
    l.parallel_begin(s[0], 1);
    l.implicit_task(s[0], ompt_scope_begin, 1, 0, kImplicit);
    l.sync_wait(s[0], ompt_sync_region_barrier_explicit, ompt_scope_begin);
    sleep_ms(30);
    l.sync_wait(s[0], ompt_sync_region_barrier_explicit, ompt_scope_end);
    sleep_ms(10);
    l.implicit_task(s[0], ompt_scope_end, 1, 0, kImplicit);
    l.parallel_end(s[0]);
    Totals t = l.reduce();
    double wait = secs(t.sync_wait_ticks[kSyncBarrierExplicit], clock);
    double task = secs(t.task_ticks, clock);
    EXPECT_GE(wait, 0.029);
    EXPECT_LT(wait, 0.5);
    EXPECT_GE(task, 0.039);
    EXPECT_EQ(t.region_wait_ticks, t.sync_wait_ticks[kSyncBarrierExplicit]);
}

// Past the first kExactWaits, waits are timed 1 in kWaitSampling and weighted
// by kWaitSampling: counts stay exact and the weights add up to the number of
// waits, so the estimated total wait time is unbiased. (Checked on the
// weights, not on times: a preempted spin on a loaded machine would swamp it.)
TEST(OmptLearner, WaitSamplingWeightsAddUpToTheWaits) {
    Learner l(4);
    auto s = claim(l, 2);
    const int n = 40000;
    for (ThreadSlot* slot : s) {
        uint64_t weight = 0, timed = 0;
        for (int i = 0; i < n; ++i) {
            l.sync_region(slot, ompt_sync_region_barrier_explicit, ompt_scope_begin);
            l.sync_wait(slot, ompt_sync_region_barrier_explicit, ompt_scope_begin);
            if (slot->wait_begin[0] != kUntimed) {
                weight += slot->wait_scale[0];
                ++timed;
            }
            l.sync_wait(slot, ompt_sync_region_barrier_explicit, ompt_scope_end);
        }
        EXPECT_NEAR(static_cast<double>(weight) / n, 1.0, 0.05);
        EXPECT_LT(timed, kExactWaits + (n - kExactWaits) / kWaitSampling * 5 / 4);
        EXPECT_GT(timed, kExactWaits + (n - kExactWaits) / kWaitSampling * 3 / 4);
    }
    EXPECT_EQ(l.reduce().sync_events[kSyncBarrierExplicit], 2u * n);
}

// libomp reports a worker's join-barrier wait end and implicit-task end when
// the worker wakes for the next region: the idle time between is not counted.
TEST(OmptLearner, WorkerIdleTimeBetweenRegionsIsNotCounted) {
    TickClock clock;
    Learner l(4);
    auto s = claim(l, 2);
    ThreadSlot *m = s[0], *w = s[1];
    l.parallel_begin(m, 2);
    l.implicit_task(m, ompt_scope_begin, 2, 0, kImplicit);
    l.implicit_task(w, ompt_scope_begin, 2, 1, kImplicit);
    l.sync_wait(w, ompt_sync_region_barrier_implicit, ompt_scope_begin);  // worker at the join
    l.sync_wait(m, ompt_sync_region_barrier_implicit, ompt_scope_begin);
    l.sync_wait(m, ompt_sync_region_barrier_implicit, ompt_scope_end);
    l.implicit_task(m, ompt_scope_end, 2, 0, kImplicit);
    l.parallel_end(m);
    sleep_ms(60);  // sequential part: the worker sleeps in the runtime
    l.sync_wait(w, ompt_sync_region_barrier_implicit, ompt_scope_end);  // reported late
    l.implicit_task(w, ompt_scope_end, 0, 1, kImplicit);
    Totals t = l.reduce();
    EXPECT_LT(secs(t.sync_wait_ticks[kSyncBarrierImplicit], clock), 0.03);
    EXPECT_LT(secs(t.task_ticks, clock), 0.03);
}

TEST(OmptLearner, ExplicitTasksRunInsideAWaitAreNotWaiting) {
    TickClock clock;
    Learner l(4);
    auto s = claim(l, 1);
    ThreadSlot* m = s[0];
    l.parallel_begin(m, 1);
    l.implicit_task(m, ompt_scope_begin, 1, 0, kImplicit);
    ompt_data_t task{}, implicit{};
    l.task_create(m, &task, ompt_task_explicit);
    l.sync_wait(m, ompt_sync_region_barrier_implicit, ompt_scope_begin);
    l.task_schedule(m, &task);  // the barrier runs the queued task
    sleep_ms(40);
    l.task_schedule(m, &implicit);  // back to the implicit task, still waiting
    sleep_ms(5);
    l.sync_wait(m, ompt_sync_region_barrier_implicit, ompt_scope_end);
    Totals t = l.reduce();
    double wait = secs(t.sync_wait_ticks[kSyncBarrierImplicit], clock);
    EXPECT_GE(wait, 0.004);
    EXPECT_LT(wait, 0.035);
}

TEST(OmptLearner, MutexesByKindWithWaitAndHold) {
    TickClock clock;
    Learner l(4);
    auto s = claim(l, 1);
    ThreadSlot* m = s[0];
    for (auto kind : {ompt_mutex_critical, ompt_mutex_critical, ompt_mutex_lock,
                      ompt_mutex_test_lock, ompt_mutex_nest_lock, ompt_mutex_ordered}) {
        l.mutex_acquire(m);
        l.mutex_acquired(m, kind);
        l.mutex_released(m);
    }
    l.mutex_acquire(m);
    sleep_ms(20);
    l.mutex_acquired(m, ompt_mutex_lock);
    sleep_ms(10);
    l.mutex_released(m);
    Totals t = l.reduce();
    EXPECT_EQ(t.mutex_acquired[kMutexCritical], 2u);
    EXPECT_EQ(t.mutex_acquired[kMutexLock], 3u);
    EXPECT_EQ(t.mutex_acquired[kMutexNestLock], 1u);
    EXPECT_EQ(t.mutex_acquired[kMutexOrdered], 1u);
    EXPECT_GE(secs(t.mutex_wait_ticks[kMutexLock], clock), 0.019);
    EXPECT_GE(secs(t.mutex_hold_ticks, clock), 0.009);
    EXPECT_EQ(t.region_wait_ticks, 0u);  // outside any region
}

TEST(OmptLearner, WorksharingInstancesCountOncePerTeam) {
    Learner l(4);
    auto s = claim(l, 3);
    l.parallel_begin(s[0], 3);
    for (unsigned i = 0; i < 3; ++i) {
        l.implicit_task(s[i], ompt_scope_begin, 3, i, kImplicit);
        l.work(s[i], ompt_work_loop, ompt_scope_begin);
        l.work(s[i], ompt_work_loop, ompt_scope_end);
        l.work(s[i], i == 2 ? ompt_work_single_executor : ompt_work_single_other, ompt_scope_begin);
    }
    Totals t = l.reduce();
    EXPECT_EQ(t.work_events[kWorkLoop], 3u);
    EXPECT_EQ(t.work_instances[kWorkLoop], 1u);
    EXPECT_EQ(t.work_events[kWorkSingle], 3u);
    EXPECT_EQ(t.work_instances[kWorkSingle], 1u);
}

TEST(OmptLearner, ThreadsBeyondTheTableAreNotObserved) {
    Learner l(2);
    EXPECT_NE(l.claim_slot(), nullptr);
    EXPECT_NE(l.claim_slot(), nullptr);
    EXPECT_EQ(l.claim_slot(), nullptr);
    Totals t = l.reduce();
    EXPECT_EQ(t.threads_seen, 3u);
    EXPECT_EQ(t.threads_untracked, 1u);
}

TEST(OmptLearner, SlotsArePaddedToTheirOwnCacheLines) {
    EXPECT_EQ(alignof(ThreadSlot), 128u);
    EXPECT_EQ(sizeof(ThreadSlot) % 128, 0u);
    Learner l(2);
    auto* a = reinterpret_cast<char*>(l.claim_slot());
    auto* b = reinterpret_cast<char*>(l.claim_slot());
    EXPECT_GE(b - a, 128);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 128, 0u);
}

TEST(OmptLearner, ReduceWhileThreadsCountGivesConsistentTotalsAtTheEnd) {
    Learner l(8);
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; ++k)
        ts.emplace_back([&l] {
            ThreadSlot* s = l.claim_slot();
            for (int i = 0; i < 100000; ++i)
                l.sync_region(s, ompt_sync_region_barrier_explicit, ompt_scope_begin);
        });
    for (int i = 0; i < 50; ++i) (void)l.reduce();  // concurrent readers are fine
    for (auto& t : ts) t.join();
    EXPECT_EQ(l.reduce().sync_events[kSyncBarrierExplicit], 400000u);
}

TEST(OmptLearner, SyncKindMapping) {
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier), kSyncBarrierExplicit);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier_implicit), kSyncBarrierImplicit);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier_explicit), kSyncBarrierExplicit);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier_implementation), kSyncBarrierImplementation);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_taskwait), kSyncTaskwait);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_taskgroup), kSyncTaskgroup);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_reduction), kSyncReduction);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier_implicit_workshare), kSyncBarrierImplicit);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier_implicit_parallel), kSyncBarrierImplicit);
    EXPECT_EQ(map_sync_kind(ompt_sync_region_barrier_teams), kSyncBarrierTeams);
    EXPECT_EQ(map_sync_kind(99), kSyncOther);
    for (int k = 0; k < kSyncKinds; ++k) EXPECT_STRNE(to_string(static_cast<SyncKind>(k)), "?");
    for (int k = 0; k < kMutexKinds; ++k) EXPECT_STRNE(to_string(static_cast<MutexKind>(k)), "?");
    for (int k = 0; k < kWorkKinds; ++k) EXPECT_STRNE(to_string(static_cast<WorkKind>(k)), "?");
}

}  // namespace
}  // namespace vtasos::ompt
