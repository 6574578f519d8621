#include "learner.h"

#include <algorithm>

namespace vtasos::ompt {

const char* to_string(SyncKind k) {
    static const char* const names[kSyncKinds] = {
        "barrier_implicit", "barrier_explicit", "barrier_implementation",
        "barrier_teams",    "taskwait",         "taskgroup",
        "reduction",        "sync_other"};
    return k >= 0 && k < kSyncKinds ? names[k] : "?";
}

const char* to_string(MutexKind k) {
    static const char* const names[kMutexKinds] = {"critical", "lock",   "nest_lock",
                                                   "ordered",  "atomic", "mutex_other"};
    return k >= 0 && k < kMutexKinds ? names[k] : "?";
}

const char* to_string(WorkKind k) {
    static const char* const names[kWorkKinds] = {"loop",       "sections", "single", "workshare",
                                                  "distribute", "taskloop", "scope",  "work_other"};
    return k >= 0 && k < kWorkKinds ? names[k] : "?";
}

uint64_t Totals::barrier_events() const {
    uint64_t n = 0;
    for (int k = 0; k < kSyncKinds; ++k)
        if (is_barrier(static_cast<SyncKind>(k))) n += sync_events[k];
    return n;
}

uint64_t Totals::barrier_instances() const {
    uint64_t n = 0;
    for (int k = 0; k < kSyncKinds; ++k)
        if (is_barrier(static_cast<SyncKind>(k))) n += sync_instances[k];
    return n;
}

uint64_t Totals::sync_wait_total_ticks() const {
    uint64_t n = 0;
    for (auto t : sync_wait_ticks) n += t;
    return n;
}

uint64_t Totals::mutex_wait_total_ticks() const {
    uint64_t n = 0;
    for (auto t : mutex_wait_ticks) n += t;
    return n;
}

Learner::Learner(size_t max_threads)
    : slots_(new ThreadSlot[max_threads > 0 ? max_threads : 1]),
      capacity_(max_threads > 0 ? max_threads : 1) {}

ThreadSlot* Learner::claim_slot() noexcept {
    size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= capacity_) {
        untracked_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
    ThreadSlot* s = &slots_[i];
    s->seq = static_cast<unsigned>(i);
    s->rng = 0x9E3779B9u * static_cast<uint32_t>(i + 1) | 1u;  // never 0
    s->used.store(true, std::memory_order_release);
    return s;
}

Totals Learner::reduce() const {
    Totals t;
    size_t n = std::min(next_.load(std::memory_order_acquire), capacity_);
    for (size_t i = 0; i < n; ++i) {
        const ThreadSlot& s = slots_[i];
        if (!s.used.load(std::memory_order_acquire)) continue;
        for (int k = 0; k < kSyncKinds; ++k) {
            t.sync_events[k] += s.sync_events[k].get();
            t.sync_instances[k] += s.sync_instances[k].get();
            t.sync_wait_ticks[k] += s.sync_wait_ticks[k].get();
        }
        for (int k = 0; k < kMutexKinds; ++k) {
            t.mutex_acquired[k] += s.mutex_acquired[k].get();
            t.mutex_wait_ticks[k] += s.mutex_wait_ticks[k].get();
        }
        t.mutex_hold_ticks += s.mutex_hold_ticks.get();
        for (int k = 0; k < kWorkKinds; ++k) {
            t.work_events[k] += s.work_events[k].get();
            t.work_instances[k] += s.work_instances[k].get();
        }
        t.regions += s.regions.get();
        t.nested_regions += s.nested_regions.get();
        t.requested_sum += s.requested_sum.get();
        t.teams += s.teams.get();
        t.team_size_sum += s.team_size_sum.get();
        t.team_size_max = std::max(t.team_size_max, s.team_size_max.get());
        t.outer_team_size_max = std::max(t.outer_team_size_max, s.outer_team_size_max.get());
        t.implicit_tasks += s.implicit_tasks.get();
        t.tasks_created += s.tasks_created.get();
        uint64_t task = s.task_ticks.get();
        uint64_t wait = s.region_wait_ticks.get();
        t.task_ticks += task;
        t.region_wait_ticks += wait;
        for (int k = 0; k < 2; ++k) t.papi_values[k] += s.papi_values[k].get();
        if (task > 0) t.threads.push_back({task, wait});
    }
    t.threads_seen = next_.load(std::memory_order_relaxed);  // claims, overflow included
    t.threads_untracked = untracked_.load(std::memory_order_relaxed);
    return t;
}

}  // namespace vtasos::ompt
