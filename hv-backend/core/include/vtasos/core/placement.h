// Placement: where each CPU of a tenant runs, which memory nodes it uses, and why.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vtasos/core/result.h"

namespace vtasos {

struct CpuPlacement {
    int cpu = 0;           // index within the request
    std::vector<int> pus;  // PU os indices this CPU (thread / vCPU) may run on
    bool operator==(const CpuPlacement&) const = default;
};

struct Placement {
    std::string tenant;
    std::vector<CpuPlacement> cpus;  // one per requested CPU, in cpu order
    std::vector<int> mem_nodes;      // NUMA os indices (cpuset.mems); empty = all
    // Solver's objective terms, lexicographic (lower is better); their
    // meaning is documented in solver/include/vtasos/solver/solver.h.
    std::vector<double> objective;
    std::vector<std::string> trace;  // why: one line per decision

    bool operator==(const Placement&) const = default;
    // Sorted, de-duplicated union of every CPU's PUs.
    std::vector<int> all_pus() const;
    nlohmann::json to_json() const;
    static Result<Placement> from_json(const nlohmann::json& j);
    std::string to_string() const;  // "cg-1: cpu0->{2} cpu1->{3} mems {0}"
};

// "0-3,8,10-11" (the kernel's cpulist format) and back.
std::string format_cpulist(const std::vector<int>& ids);
Result<std::vector<int>> parse_cpulist(std::string_view s);

}  // namespace vtasos
