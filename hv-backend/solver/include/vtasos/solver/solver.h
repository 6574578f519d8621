// Placement solver (DESIGN.md "Placement").
//
// Given the topology and the tenants already placed, finds where each CPU of a
// new request runs. Objective, lexicographic: all hard constraints hold
// (coexistence levels, affinity groups) > no package over its bandwidth budget
// > fewest cores shared with other tenants > fewest packages used by the
// tenant (most packages, one core each, when the tenant is bandwidth-hungry).
// Exact search with symmetry breaking for small problems, greedy plus local
// search beyond; deterministic for a given input. Existing tenants never move.
//
// Hard constraints (a placement that breaks one is never returned):
//  - coexistence, per CPU and symmetric: a CPU with level pu may time-share
//    its PU; core keeps its PU to its tenant; socket its core; node its
//    package; none its package and NUMA node. An existing tenant's level also
//    keeps the new tenant out of its units, and the levels are cumulative (a
//    node CPU needs its PU, core and package free of other tenants).
//  - affinity groups: the listed CPUs lie in one core / package / NUMA node.
//  - one PU per CPU of the tenant; only CPUs with coexist pu may stack on a PU
//    already holding a CPU of the same tenant, and only once every PU that is
//    not reserved by other tenants holds one of its CPUs.
// Objective terms (Placement::objective, lower is better, compared in order):
//  [0] bandwidth overload: sum over packages of max(0, load - budget) in GB/s,
//      load counting every tenant (demand per CPU: gbps/cpus when measured,
//      else high_cpu_gbps for class high, low_cpu_gbps for low/unknown);
//  [1] shared PUs: the tenant's PUs that also run other tenants' CPUs, plus
//      the pairs of its own CPUs stacked on one PU (1 for two CPUs on a PU, 3
//      for three: stacking is spread evenly);
//  [2] shared cores: the tenant's cores that also run other tenants' CPUs;
//  [3] packages used; negated for bandwidth-hungry tenants (spread);
//  [4] pairs of the tenant's CPUs on one core (SMT siblings; one CPU per
//      core first, then evenly);
//  [5] packed tenants: L3 caches used; hungry tenants: pairs of its CPUs in one
//      package (spread evenly).
// Remaining ties are broken by the search order (lowest logical PU first).
#pragma once

#include <memory>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"
#include "vtasos/core/topology.h"

namespace vtasos {

namespace solver_detail {
struct Layout;
}

struct Tenant {
    Request request;
    Placement placement;
};

struct SolverOptions {
    // Tenants whose demand is at least this many GB/s (or class high) spread.
    double hungry_threshold_gbps = 2.0;
    // Per-CPU demand assumed for a class (when no GB/s is measured).
    double high_cpu_gbps = 4.0;
    double low_cpu_gbps = 0.5;
    // Problems with at most this many free PUs x requested CPUs use exact search
    // (branch and bound up to exact_node_limit nodes, then proven optimal);
    // larger ones a greedy dive plus local search.
    int exact_limit_pus = 4096;
    // Search-node budgets; the search is deterministic (no clock is read).
    long exact_node_limit = 500'000;
    long heuristic_node_limit = 4'000;
    // Objective evaluations allowed to the local search.
    long local_search_evals = 100'000;
};

class Solver {
public:
    explicit Solver(Topology topology, SolverOptions options = {});
    const Topology& topology() const { return topo_; }
    const SolverOptions& options() const { return opts_; }

    // Places `request` beside `existing`. Errors: kInfeasible naming the violated
    // constraint ("coexist none of cpu 0: no NUMA node free of other tenants"),
    // kInvalidArgument for an invalid request or topology. Never returns a
    // partial placement. An existing tenant with the request's own id is
    // ignored (re-placement); PUs of existing placements that are not in the
    // topology are ignored (both noted in the trace).
    Result<Placement> place(const Request& request, const std::vector<Tenant>& existing) const;

    // Objective of a full assignment, for tests and cross-checks (lower is better).
    // Hard constraints are not checked (see check()). A CPU pinned to several
    // PUs counts at each of them and splits its bandwidth between them. Empty
    // when the placement does not fit the request (CPU count) or the topology
    // (unknown PU os index).
    std::vector<double> evaluate(const Request& request, const Placement& placement,
                                 const std::vector<Tenant>& existing) const;

    // Hard constraints of `placement` beside `existing`: ok, or kInfeasible
    // naming the first violated constraint and CPU; kInvalidArgument when the
    // placement does not fit the request or the topology.
    Status check(const Request& request, const Placement& placement,
                 const std::vector<Tenant>& existing) const;

private:
    Topology topo_;
    SolverOptions opts_;
    Status topo_status_;
    std::shared_ptr<const solver_detail::Layout> layout_;
};

}  // namespace vtasos
