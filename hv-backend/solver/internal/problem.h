// Solver internals: the topology in search order (Layout, built once per Solver)
// and one placement problem compiled from a request and the existing tenants
// (Problem, built once per Solver::place call).
//
// Everything the search needs is reduced to per-PU facts:
//   allowed[pu]  the highest coexistence level a new CPU may have on this PU
//                (-1: reserved by another tenant's level), from the cumulative
//                rule: pu needs nothing, core a PU free of other tenants,
//                socket also a free core, node also a free package, none also a
//                free NUMA node;
//   others[pu]   another tenant runs a CPU here (shared-PU objective term).
// Exclusivity of the new tenant's own levels is covered by `allowed` because
// the new tenant's CPUs never count against each other.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "vtasos/solver/solver.h"

namespace vtasos::solver_detail {

inline constexpr int kLevels = 5;  // Coexist::kPu .. Coexist::kNone
inline constexpr int kTerms = 6;   // objective terms, see solver.h
using Objective = std::array<int64_t, kTerms>;

// Bandwidth is handled in integer milli-GB/s so that sums are exact and the
// search, evaluate() and the tests agree to the last digit.
int64_t to_milli(double gbps);

// The topology sorted by (package, L3, core): every package, L3 segment
// (the part of an L3 inside one package) and core is a contiguous PU range.
struct Layout {
    int npu = 0, ncore = 0, nseg = 0, npkg = 0, nl3 = 0, nnuma = 0;
    // Per PU in search order.
    std::vector<int> pu_topo;  // index into Topology::pus
    std::vector<int> pu_os, pu_core, pu_seg, pu_pkg, pu_l3, pu_numa;
    // Per core (search order), segment and package: PU ranges [begin, end).
    std::vector<int> core_begin, core_end, core_seg, core_numa;
    std::vector<int> seg_begin, seg_end, seg_core_begin, seg_core_end, seg_pkg, seg_l3;
    std::vector<uint8_t> seg_l3_whole;  // the L3 lies in this package only
    std::vector<int> pkg_begin, pkg_end, pkg_seg_begin, pkg_seg_end;
    std::vector<int> pkg_topo;  // Topology package index of each search package
    bool l3_nested = true;      // every L3 inside one package
    bool numa_nested = true;    // every NUMA node inside one package
    std::vector<int64_t> pkg_cap_milli;
    std::vector<int> numa_os;
    std::unordered_map<int, int> os_to_pu;  // PU os index -> search index

    static Layout build(const Topology& t);
};

struct Group {
    GroupLevel level = GroupLevel::kSocket;
    std::vector<int> cpus;
};

struct Problem {
    const Layout* lay = nullptr;

    // --- existing tenants ---
    std::vector<int8_t> allowed;  // per PU, -1 = reserved
    std::vector<uint8_t> others;  // per PU
    std::vector<uint8_t> core_others;
    std::vector<int64_t> pkg_base_milli;  // bandwidth already used per package
    int existing_tenants = 0, existing_cpus = 0, ignored_pus = 0;
    bool ignored_self = false;

    // Static state ids for symmetry breaking: equal ids = identical content.
    std::vector<int> pu_key, core_state, seg_state, seg_numa_sig, pkg_state;
    // Dense class ids used to find equivalent siblings: core_state (+ NUMA node
    // when some group is at NUMA level), seg_state + NUMA signature, pkg_state.
    std::vector<int> core_class, seg_class;
    int n_core_class = 0, n_seg_class = 0, n_pkg_class = 0;
    std::vector<int8_t> core_max_allowed, seg_max_allowed, pkg_max_allowed;
    int open_cores = 0, open_pkgs = 0;  // with at least one unreserved PU
    std::array<int, kLevels> avail0{};  // PUs with allowed >= L
    bool pkg_symmetry = true;

    // --- the request ---
    int n = 0;
    std::vector<int> lvl;  // coexist level per CPU (0..4)
    int64_t d_milli = 0;   // bandwidth demand per CPU
    double d_gbps = 0;
    bool hungry = false;
    std::vector<Group> groups;
    std::vector<std::vector<int>> groups_of;  // per CPU
    bool numa_matters = false;                // some group at NUMA level
    // Search order of CPUs; prev_same[k] is the position of the previous CPU
    // of the same type (same level and groups: interchangeable) or -1.
    std::vector<int> order, prev_same, type_of;

    int unit_of(GroupLevel g, int pu) const {
        switch (g) {
            case GroupLevel::kCore:
                return lay->pu_core[pu];
            case GroupLevel::kSocket:
                return lay->pu_pkg[pu];
            case GroupLevel::kNode:
                return lay->pu_numa[pu];
        }
        return 0;
    }
};

// Per-CPU bandwidth demand of a request under `opts`, in milli-GB/s.
int64_t cpu_demand_milli(const Request& r, const SolverOptions& opts);

// Compiles the existing tenants into per-PU facts (request-independent part).
void compile_existing(const Layout& lay, const SolverOptions& opts, const std::string& self,
                      const std::vector<Tenant>& existing, Problem& p);
// Compiles the request (levels, groups, demand, CPU order and types) and the
// symmetry state ids.
void compile_request(const Request& r, const SolverOptions& opts, Problem& p);

}  // namespace vtasos::solver_detail
