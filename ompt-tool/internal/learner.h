// Learner: per-thread OMPT event counters and their reduction.
//
// Hot path rules (DESIGN.md "Learning"): every callback touches only the
// calling thread's ThreadSlot, a cache-line-padded block claimed once at
// thread-begin; no locks, no allocation, no I/O, no atomic read-modify-write.
// Counters are std::atomic so that another thread may read them (relaxed)
// while the owner writes, but each is written by one thread only, so an
// increment is a plain load + add + store. reduce() sums the slots off the hot
// path: at the end of the run and when observations are sent to the daemon.
//
// What is measured (per thread, then summed):
//  - parallel regions encountered (nested ones apart), requested team sizes;
//  - teams formed (implicit task index 0) and their actual sizes;
//  - sync regions by kind (events: one per thread; instances: one per team for
//    team-wide constructs such as barriers, one per event for taskwait and
//    taskgroup) and the time spent in sync_region_wait. Reading the clock is
//    the dearest part of a callback (rdtsc: ~20 ns in a VM, two per wait), so
//    each thread times its first kExactWaits waits and then a random 1 in
//    kWaitSampling, counted kWaitSampling times: counts stay exact, wait
//    times become an unbiased estimate (README.md "Overhead");
//  - mutex acquisitions by kind with their wait (acquire -> acquired) and hold
//    (acquired -> released) time;
//  - worksharing constructs by kind;
//  - explicit tasks created; time spent running explicit tasks inside a wait
//    is not counted as waiting;
//  - thread time inside outermost implicit tasks, the base of sync_fraction
//    and imbalance.
// libomp reports the end of a worker's implicit task (and of its join-barrier
// wait) only when the worker is woken for the next region. The learner clamps
// such ends to the time the last parallel region ended, so idle time between
// regions is not counted as work or wait.
#pragma once

#include <omp-tools.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "clock.h"

namespace vtasos::ompt {

enum SyncKind : int {
    kSyncBarrierImplicit,        // end of a worksharing construct or of a region
    kSyncBarrierExplicit,        // #pragma omp barrier
    kSyncBarrierImplementation,  // barriers the runtime adds
    kSyncBarrierTeams,
    kSyncTaskwait,
    kSyncTaskgroup,
    kSyncReduction,
    kSyncOther,
    kSyncKinds
};
enum MutexKind : int {
    kMutexCritical,
    kMutexLock,      // omp_set_lock / omp_test_lock
    kMutexNestLock,  // first acquisition of a nest lock
    kMutexOrdered,
    kMutexAtomic,
    kMutexOther,
    kMutexKinds
};
enum WorkKind : int {
    kWorkLoop,
    kWorkSections,
    kWorkSingle,  // instances: executions; events: every thread that met it
    kWorkWorkshare,
    kWorkDistribute,
    kWorkTaskloop,
    kWorkScope,
    kWorkOther,
    kWorkKinds
};

const char* to_string(SyncKind k);
const char* to_string(MutexKind k);
const char* to_string(WorkKind k);

inline SyncKind map_sync_kind(int k) {
    switch (k) {
        case ompt_sync_region_barrier:  // OpenMP 5.0 "barrier": the barrier construct
        case ompt_sync_region_barrier_explicit:
            return kSyncBarrierExplicit;
        case ompt_sync_region_barrier_implicit:
        case ompt_sync_region_barrier_implicit_workshare:
        case ompt_sync_region_barrier_implicit_parallel:
            return kSyncBarrierImplicit;
        case ompt_sync_region_barrier_implementation:
            return kSyncBarrierImplementation;
        case ompt_sync_region_barrier_teams:
            return kSyncBarrierTeams;
        case ompt_sync_region_taskwait:
            return kSyncTaskwait;
        case ompt_sync_region_taskgroup:
            return kSyncTaskgroup;
        case ompt_sync_region_reduction:
            return kSyncReduction;
        default:
            return kSyncOther;
    }
}

inline bool is_barrier(SyncKind k) {
    return k == kSyncBarrierImplicit || k == kSyncBarrierExplicit ||
           k == kSyncBarrierImplementation || k == kSyncBarrierTeams;
}

inline MutexKind map_mutex_kind(int k) {
    switch (k) {
        case ompt_mutex_critical:
            return kMutexCritical;
        case ompt_mutex_lock:
        case ompt_mutex_test_lock:
            return kMutexLock;
        case ompt_mutex_nest_lock:
        case ompt_mutex_test_nest_lock:
            return kMutexNestLock;
        case ompt_mutex_ordered:
            return kMutexOrdered;
        case ompt_mutex_atomic:
            return kMutexAtomic;
        default:
            return kMutexOther;
    }
}

inline WorkKind map_work_kind(int k) {
    switch (k) {
        case ompt_work_loop:
            return kWorkLoop;
        case ompt_work_sections:
            return kWorkSections;
        case ompt_work_single_executor:
        case ompt_work_single_other:
            return kWorkSingle;
        case ompt_work_workshare:
            return kWorkWorkshare;
        case ompt_work_distribute:
            return kWorkDistribute;
        case ompt_work_taskloop:
            return kWorkTaskloop;
        case ompt_work_scope:
            return kWorkScope;
        default:
            return kWorkOther;
    }
}

// A counter with one writer: increments compile to plain loads and stores.
struct Counter {
    std::atomic<uint64_t> v{0};
    void add(uint64_t x) {
        v.store(v.load(std::memory_order_relaxed) + x, std::memory_order_relaxed);
    }
    void raise_to(uint64_t x) {
        if (x > v.load(std::memory_order_relaxed)) v.store(x, std::memory_order_relaxed);
    }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

// Tag the learner puts in the task_data of explicit tasks (task_create), so
// that task_schedule can tell explicit tasks from implicit ones.
inline constexpr uint64_t kExplicitTaskTag = 0x5654415355ull;  // "VTASU"

inline constexpr unsigned kMaxNesting = 16;    // implicit-task levels tracked per thread
inline constexpr unsigned kMaxWaitDepth = 8;   // waits inside waits (taskwait in a barrier)
inline constexpr uint32_t kExactWaits = 1024;  // waits each thread always times
inline constexpr uint32_t kWaitSampling = 32;  // then 1 in this many (a power of two)
inline constexpr uint64_t kUntimed = ~0ull;    // wait_begin of a wait not sampled

struct alignas(128) ThreadSlot {
    // Counters: written by the owning thread, read by reduce() (relaxed).
    Counter sync_events[kSyncKinds];
    Counter sync_instances[kSyncKinds];
    Counter sync_wait_ticks[kSyncKinds];
    Counter mutex_acquired[kMutexKinds];
    Counter mutex_wait_ticks[kMutexKinds];
    Counter mutex_hold_ticks;
    Counter work_events[kWorkKinds];
    Counter work_instances[kWorkKinds];
    Counter regions;         // parallel regions this thread encountered
    Counter nested_regions;  // ... while already inside a region
    Counter requested_sum;   // sum of requested team sizes
    Counter teams;           // teams this thread was the master (index 0) of
    Counter team_size_sum;
    Counter team_size_max;
    Counter outer_team_size_max;  // largest team of an outermost region
    Counter implicit_tasks;
    Counter tasks_created;      // explicit tasks
    Counter task_ticks;         // time in outermost implicit tasks
    Counter region_wait_ticks;  // waits (sync + mutex) inside those
    Counter papi_values[2];     // memory-traffic events (PapiCounters)
    std::atomic<bool> used{false};

    // Owner-only state, never read by other threads.
    uint64_t task_begin = 0;
    uint64_t mutex_begin = 0;
    uint64_t hold_begin = 0;
    uint64_t wait_begin[kMaxWaitDepth] = {};  // 0: paused (running an explicit task)
    uint32_t wait_scale[kMaxWaitDepth] = {};  // 1 (timed exactly) or kWaitSampling
    SyncKind wait_kind[kMaxWaitDepth] = {};
    unsigned wait_depth = 0;
    uint32_t waits_timed = 0;  // up to kExactWaits
    uint32_t rng = 0;          // xorshift32 state for wait sampling (seeded at claim)
    unsigned depth = 0;        // implicit-task nesting level (0: not in a region)
    unsigned index = 0;        // index of this thread in its innermost team
    unsigned outer_index[kMaxNesting] = {};
    bool in_explicit_task = false;
    // Feedback state of an initial thread (tool.cpp): the team size applied.
    int applied_threads = 0;
    int saved_threads = 0;
    int papi_eventset = -1;
    unsigned seq = 0;       // order of thread-begin: 0 is the first thread
    unsigned bind_seq = 0;  // this thread's index for binding (tool.cpp)
    unsigned bind_gen = 0;  // placement generation the thread is bound to (tool.cpp)
};

struct ThreadTotals {
    uint64_t task_ticks = 0;
    uint64_t wait_ticks = 0;
};

// The sum over all slots.
struct Totals {
    uint64_t sync_events[kSyncKinds] = {};
    uint64_t sync_instances[kSyncKinds] = {};
    uint64_t sync_wait_ticks[kSyncKinds] = {};
    uint64_t mutex_acquired[kMutexKinds] = {};
    uint64_t mutex_wait_ticks[kMutexKinds] = {};
    uint64_t mutex_hold_ticks = 0;
    uint64_t work_events[kWorkKinds] = {};
    uint64_t work_instances[kWorkKinds] = {};
    uint64_t regions = 0;
    uint64_t nested_regions = 0;
    uint64_t requested_sum = 0;
    uint64_t teams = 0;
    uint64_t team_size_sum = 0;
    uint64_t team_size_max = 0;
    uint64_t outer_team_size_max = 0;
    uint64_t implicit_tasks = 0;
    uint64_t tasks_created = 0;
    uint64_t task_ticks = 0;
    uint64_t region_wait_ticks = 0;
    uint64_t papi_values[2] = {};
    uint64_t threads_seen = 0;          // thread-begin events
    uint64_t threads_untracked = 0;     // beyond the slot table
    std::vector<ThreadTotals> threads;  // threads that ran implicit tasks, in begin order

    uint64_t barrier_events() const;
    uint64_t barrier_instances() const;
    uint64_t sync_wait_total_ticks() const;
    uint64_t mutex_wait_total_ticks() const;
};

class Learner {
public:
    // Preallocates `max_threads` slots; threads beyond them are not observed.
    explicit Learner(size_t max_threads);
    Learner(const Learner&) = delete;
    Learner& operator=(const Learner&) = delete;

    // thread-begin: the calling thread's slot, or nullptr when the table is full.
    ThreadSlot* claim_slot() noexcept;
    size_t capacity() const { return capacity_; }

    // ---- hot path: inline, owner slot only ----
    // Returns true for an outermost region (the encountering thread is in
    // sequential code): the place where advice is applied (tool.cpp).
    bool parallel_begin(ThreadSlot* s, unsigned requested) noexcept {
        s->regions.add(1);
        s->requested_sum.add(requested);
        if (s->depth > 0) s->nested_regions.add(1);
        return s->depth == 0;
    }
    void parallel_end(ThreadSlot*) noexcept {
        last_region_end_.store(ticks(), std::memory_order_relaxed);
    }
    void implicit_task(ThreadSlot* s, ompt_scope_endpoint_t endpoint, unsigned actual,
                       unsigned index, int flags) noexcept {
        if (flags & ompt_task_initial) {  // the initial task: sequential part of a thread
            if (endpoint == ompt_scope_begin && s->depth == 0) s->index = 0;
            return;
        }
        if (endpoint == ompt_scope_begin) {
            if (s->depth < kMaxNesting) s->outer_index[s->depth] = s->index;
            ++s->depth;
            s->index = index;
            s->implicit_tasks.add(1);
            if (index == 0) {
                s->teams.add(1);
                s->team_size_sum.add(actual);
                s->team_size_max.raise_to(actual);
                if (s->depth == 1) s->outer_team_size_max.raise_to(actual);
            }
            if (s->depth == 1) s->task_begin = ticks();
        } else {
            if (s->depth == 0) return;  // end without begin (tool started mid-region)
            if (s->depth == 1) {
                uint64_t end = clamp_to_region_end(s, s->task_begin, ticks());
                s->task_ticks.add(end - s->task_begin);
            }
            --s->depth;
            s->index = s->depth < kMaxNesting ? s->outer_index[s->depth] : 0;
        }
    }
    void sync_region(ThreadSlot* s, ompt_sync_region_t kind,
                     ompt_scope_endpoint_t endpoint) noexcept {
        if (endpoint != ompt_scope_begin) return;
        SyncKind k = map_sync_kind(kind);
        s->sync_events[k].add(1);
        if (k == kSyncTaskwait || k == kSyncTaskgroup || s->index == 0) s->sync_instances[k].add(1);
    }
    void sync_wait(ThreadSlot* s, ompt_sync_region_t kind,
                   ompt_scope_endpoint_t endpoint) noexcept {
        if (endpoint == ompt_scope_begin) {
            if (s->wait_depth < kMaxWaitDepth) {
                unsigned d = s->wait_depth;
                uint32_t scale = wait_scale(s);
                s->wait_begin[d] = scale ? ticks() : kUntimed;
                s->wait_scale[d] = scale;
                s->wait_kind[d] = map_sync_kind(kind);
            }
            ++s->wait_depth;
            return;
        }
        wait_end(s);
    }
    // The end of the innermost open wait (its kind was kept at its begin).
    [[gnu::always_inline]] void wait_end(ThreadSlot* s) noexcept {
        if (s->wait_depth == 0) return;
        unsigned d = --s->wait_depth;
        if (d >= kMaxWaitDepth) return;  // deeper than tracked
        uint64_t begin = s->wait_begin[d];
        if (begin == 0 || begin == kUntimed) return;  // paused, or not sampled
        SyncKind k = s->wait_kind[d];
        uint64_t end = ticks();
        if (k == kSyncBarrierImplicit) end = clamp_to_region_end(s, begin, end);
        uint64_t w = (end - begin) * s->wait_scale[d];
        s->sync_wait_ticks[k].add(w);
        if (s->depth > 0) s->region_wait_ticks.add(w);
    }
    // sync_region + sync_wait in one callback: libomp (14) reports a wait for
    // every sync region (barriers, taskwait, taskgroup), so counting at the
    // wait's begin gives the sync_region counts, and the tool registers
    // sync_region_wait alone: one callback pair per barrier instead of two
    // (README.md "Overhead").
    [[gnu::always_inline]] void sync_wait_counted(ThreadSlot* s, ompt_sync_region_t kind,
                                                  ompt_scope_endpoint_t endpoint) noexcept {
        if (endpoint != ompt_scope_begin) return wait_end(s);
        SyncKind k = map_sync_kind(kind);
        s->sync_events[k].add(1);
        if (k == kSyncTaskwait || k == kSyncTaskgroup || s->index == 0) s->sync_instances[k].add(1);
        unsigned d = s->wait_depth++;
        if (d < kMaxWaitDepth) {
            uint32_t scale = wait_scale(s);
            s->wait_begin[d] = scale ? ticks() : kUntimed;
            s->wait_scale[d] = scale;
            s->wait_kind[d] = k;
        }
    }
    void mutex_acquire(ThreadSlot* s) noexcept { s->mutex_begin = ticks(); }
    void mutex_acquired(ThreadSlot* s, ompt_mutex_t kind) noexcept {
        uint64_t now = ticks();
        MutexKind k = map_mutex_kind(kind);
        s->mutex_acquired[k].add(1);
        if (s->mutex_begin != 0) {
            s->mutex_wait_ticks[k].add(now - s->mutex_begin);
            if (s->depth > 0) s->region_wait_ticks.add(now - s->mutex_begin);
            s->mutex_begin = 0;
        }
        s->hold_begin = now;
    }
    void mutex_released(ThreadSlot* s) noexcept {
        if (s->hold_begin == 0) return;
        s->mutex_hold_ticks.add(ticks() - s->hold_begin);
        s->hold_begin = 0;
    }
    void work(ThreadSlot* s, ompt_work_t wstype, ompt_scope_endpoint_t endpoint) noexcept {
        if (endpoint != ompt_scope_begin) return;
        WorkKind k = map_work_kind(wstype);
        s->work_events[k].add(1);
        bool instance = wstype == ompt_work_single_executor || wstype == ompt_work_taskloop ? true
                        : wstype == ompt_work_single_other                                  ? false
                                                           : s->index == 0;
        if (instance) s->work_instances[k].add(1);
    }
    void task_create(ThreadSlot* s, ompt_data_t* new_task, int flags) noexcept {
        if (!(flags & ompt_task_explicit)) return;
        if (new_task) new_task->value = kExplicitTaskTag;
        if (s) s->tasks_created.add(1);
    }
    // An explicit task running inside a wait (a barrier executing queued tasks)
    // is work, not waiting: the innermost open wait is paused meanwhile.
    void task_schedule(ThreadSlot* s, const ompt_data_t* next_task) noexcept {
        bool next_explicit = next_task && next_task->value == kExplicitTaskTag;
        if (next_explicit == s->in_explicit_task) return;
        s->in_explicit_task = next_explicit;
        if (s->wait_depth == 0 || s->wait_depth > kMaxWaitDepth) return;
        unsigned d = s->wait_depth - 1;
        if (s->wait_begin[d] == kUntimed) return;
        uint64_t now = ticks();
        if (next_explicit) {
            if (s->wait_begin[d] != 0) {
                uint64_t w = (now - s->wait_begin[d]) * s->wait_scale[d];
                s->sync_wait_ticks[s->wait_kind[d]].add(w);
                if (s->depth > 0) s->region_wait_ticks.add(w);
                s->wait_begin[d] = 0;
            }
        } else if (s->wait_begin[d] == 0) {
            s->wait_begin[d] = now;
        }
    }

    // ---- off the hot path ----
    Totals reduce() const;

private:
    // 0: do not time this wait; else the weight of its measured time.
    static uint32_t wait_scale(ThreadSlot* s) noexcept {
        if (s->waits_timed < kExactWaits) {
            ++s->waits_timed;
            return 1;
        }
        uint32_t x = s->rng;  // xorshift32
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s->rng = x;
        return (x & (kWaitSampling - 1)) == 0 ? kWaitSampling : 0;
    }

    // For a worker, an end reported after its region ended (at the next fork)
    // is moved back to the end of the last region.
    uint64_t clamp_to_region_end(const ThreadSlot* s, uint64_t begin, uint64_t end) const noexcept {
        if (s->index == 0) return end;
        uint64_t last = last_region_end_.load(std::memory_order_relaxed);
        return (last > begin && last < end) ? last : end;
    }

    std::unique_ptr<ThreadSlot[]> slots_;
    size_t capacity_;
    alignas(128) std::atomic<size_t> next_{0};
    std::atomic<uint64_t> untracked_{0};
    alignas(128) std::atomic<uint64_t> last_region_end_{0};
};

}  // namespace vtasos::ompt
