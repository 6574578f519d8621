// Advice: the daemon's load feedback to a tenant (DESIGN.md "Scheduling").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "vtasos/core/result.h"

namespace vtasos {

struct Advice {
    double node_load = 0.0;     // runnable demand / PUs on the node (1.0 = full)
    int suggested_threads = 0;  // 0 = no suggestion
    bool gang = false;          // whether the tenant is (or should be) gang scheduled
    std::string reason;
    bool operator==(const Advice&) const = default;
    nlohmann::json to_json() const;
    static Result<Advice> from_json(const nlohmann::json& j);
    std::string to_string() const;
};

}  // namespace vtasos
