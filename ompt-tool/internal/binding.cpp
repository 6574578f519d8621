#include "binding.h"

#include <fmt/format.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace vtasos::ompt {

namespace {
constexpr int kMpolInterleave = 3;  // MPOL_INTERLEAVE from <linux/mempolicy.h>
}

Status Binder::set_placement(const Placement& p, MemPolicy memory, bool floating) {
    if (p.cpus.empty())
        return Error(Errc::kInvalidArgument, "placement: no cpus to bind threads to");
    std::vector<cpu_set_t> sets;
    std::vector<std::vector<int>> pus;
    cpu_set_t all;
    CPU_ZERO(&all);
    for (size_t i = 0; i < p.cpus.size(); ++i) {
        const auto& c = p.cpus[i];
        if (c.pus.empty())
            return Error(Errc::kInvalidArgument, fmt::format("placement.cpus[{}]: no PUs", i));
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int pu : c.pus) {
            if (pu < 0 || pu >= CPU_SETSIZE)
                return Error(
                    Errc::kInvalidArgument,
                    fmt::format("placement.cpus[{}]: PU {} outside 0..{}", i, pu, CPU_SETSIZE - 1));
            CPU_SET(pu, &set);
            CPU_SET(pu, &all);
        }
        sets.push_back(set);
        pus.push_back(c.pus);
    }
    unsigned long mask = 0;
    for (int n : p.mem_nodes)
        if (n >= 0 && n < 64) mask |= 1ul << n;
    if (floating) {
        std::vector<int> every;
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &all)) every.push_back(i);
        for (auto& s : sets) s = all;
        for (auto& v : pus) v = every;
    }
    sets_ = std::move(sets);
    union_ = all;
    floating_ = floating;
    pus_ = std::move(pus);
    node_mask_ = mask;
    // Interleaving over one node is the default policy: only worth a syscall on more.
    interleave_ = memory == MemPolicy::kInterleave && __builtin_popcountl(mask) > 1;
    return {};
}

int Binder::bind_thread(unsigned seq) const noexcept {
    if (sets_.empty()) return 0;
    const cpu_set_t& set = sets_[seq % sets_.size()];
    if (sched_setaffinity(0, sizeof(cpu_set_t), &set) != 0) return errno;
    if (interleave_) {
        // Best effort: a kernel without NUMA support refuses, which is harmless.
        (void)syscall(SYS_set_mempolicy, kMpolInterleave, &node_mask_, 64ul);
    }
    return 0;
}

int Binder::bind_union() const noexcept {
    if (sets_.empty()) return 0;
    if (sched_setaffinity(0, sizeof(cpu_set_t), &union_) != 0) return errno;
    return 0;
}

std::vector<int> current_affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> r;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return r;
    for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &set)) r.push_back(i);
    return r;
}

}  // namespace vtasos::ompt
