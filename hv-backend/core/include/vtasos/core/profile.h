// Profile: what was learned about one application (see profiles/README.md
// for the schema). Rates are per second of wall time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos {

struct Profile {
    std::string name;                 // identifier, e.g. "npb-cg"
    std::vector<std::string> match;   // executable base names this profile applies to
    int threads = 0;                  // observed/preferred thread count; 0 = unknown
    double region_rate_hz = 0;        // parallel regions per second
    double barrier_rate_hz = 0;       // barriers per second (all threads)
    double sync_fraction = 0;         // share of thread time in barrier/lock waits [0,1]
    double imbalance = 0;             // (max-mean)/mean of per-thread work [0, 100]
    Bandwidth bandwidth;              // class and/or measured GB/s
    std::optional<Coexist> coexist;   // preferred coexistence, if known
    std::optional<bool> gang;         // explicit gang wish, else derived from sync rate
    // Peak resident memory of a run in MiB: stated by the user, or learned by the
    // daemon from the last run that used this profile (auto's cache rule).
    std::optional<double> footprint_mb;
    std::string note;                 // free text, e.g. where it was learned

    bool operator==(const Profile&) const = default;
    nlohmann::json to_json() const;
    static Result<Profile> from_json(const nlohmann::json& j);
    std::string to_string() const;
};

}  // namespace vtasos
