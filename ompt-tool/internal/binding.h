// Binder: pins OpenMP threads to the PUs of their placement.
//
// Thread n (the n-th OpenMP thread to begin, the initial thread being 0) runs
// on placement.cpus[n % cpus].pus. The CPU sets are built once, when the
// placement arrives (before any worker thread starts), so bind_thread() is one
// sched_setaffinity call with no allocation.
#pragma once

#include <sched.h>

#include <string>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos::ompt {

class Binder {
public:
    // Builds the CPU sets. Errors (kInvalidArgument): no CPUs, a CPU without
    // PUs, a PU id outside 0..CPU_SETSIZE-1. `floating`: every thread gets the
    // union of the placement's PUs instead of one CPU's. For PUs that another
    // tenant time-shares under the kernel scheduler: one pinned thread per PU
    // there cannot move off a PU whose other tenant is busy, so the kernel
    // cannot balance the two tenants (EP+EP co-run: ~3 % slower pinned).
    Status set_placement(const Placement& p, MemPolicy memory, bool floating = false);
    bool floating() const { return floating_; }
    bool active() const { return !sets_.empty(); }
    size_t cpus() const { return sets_.size(); }
    // PU set thread `seq` gets (for messages and tests).
    const std::vector<int>& pus_for(unsigned seq) const { return pus_[seq % pus_.size()]; }
    // Pins the calling thread. Returns 0 or the errno of sched_setaffinity.
    // Also applies the memory policy (interleave over the placement's memory
    // nodes when the request asked for it). Async-signal-safe, no allocation.
    int bind_thread(unsigned seq) const noexcept;
    // Pins the calling thread to the union of all the placement's PUs. The
    // initial thread starts like this: libomp sizes its default team from the
    // initial thread's affinity mask when it initialises the first parallel
    // region, so pinning it to one PU first would silently shrink that team
    // to 1. It moves to its own PU at its first implicit task.
    int bind_union() const noexcept;

private:
    std::vector<cpu_set_t> sets_;
    cpu_set_t union_{};
    std::vector<std::vector<int>> pus_;
    unsigned long node_mask_ = 0;  // memory nodes for interleave (first 64 nodes)
    bool interleave_ = false;
    bool floating_ = false;
};

// The calling thread's allowed PUs (sched_getaffinity), sorted.
std::vector<int> current_affinity();

}  // namespace vtasos::ompt
