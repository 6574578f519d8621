// Placement solver (DESIGN.md "Placement").
//
// Given the topology and the tenants already placed, finds where each CPU of a
// new request runs. Objective, lexicographic: all hard constraints hold
// (coexistence levels, affinity groups) > no package over its bandwidth budget
// > fewest cores shared with other tenants > fewest packages used by the
// tenant (most packages, one core each, when the tenant is bandwidth-hungry).
// Exact search with symmetry breaking for small problems, greedy plus local
// search beyond; deterministic for a given input. Existing tenants never move.
#pragma once

#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"
#include "vtasos/core/topology.h"

namespace vtasos {

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
    // Problems with at most this many free PUs x requested CPUs use exact search.
    int exact_limit_pus = 64;
};

class Solver {
public:
    explicit Solver(Topology topology, SolverOptions options = {});
    const Topology& topology() const { return topo_; }
    const SolverOptions& options() const { return opts_; }

    // Places `request` beside `existing`. Errors: kInfeasible naming the violated
    // constraint ("coexist none of cpu 0: no NUMA node free of other tenants"),
    // kInvalidArgument for an invalid request. Never returns a partial placement.
    Result<Placement> place(const Request& request, const std::vector<Tenant>& existing) const;

    // Objective of a full assignment, for tests and cross-checks (lower is better).
    std::vector<double> evaluate(const Request& request, const Placement& placement,
                                 const std::vector<Tenant>& existing) const;

private:
    Topology topo_;
    SolverOptions opts_;
};

}  // namespace vtasos
