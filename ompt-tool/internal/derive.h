// From counters to knowledge: the learned Profile, its note, and the choice of
// the profile an application starts with.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "learner.h"
#include "vtasos/core/profile.h"

namespace vtasos::ompt {

struct RunInfo {
    std::string exe;               // executable base name
    double wall_s = 0;             // tool start to the reduction
    double ticks_per_s = 1e9;      // TickClock::ticks_per_second()
    Bandwidth bandwidth;           // measured (PAPI) or unknown
    std::string bandwidth_source;  // "papi:EVENT,..." or why unknown ("no hardware counters")
    // The daemon advised gang off while the run wished it: the wish is
    // dropped (no opinion), never turned into a forbid (gang=false), which
    // would stop the daemon's auto policy from ever ganging the tenant.
    bool gang_wish_dropped = false;
};

// The learned profile. Derived values (all over the whole run):
//   threads         largest team of an outermost region (0 if no region ran)
//   region_rate_hz  outermost + nested parallel regions / wall time
//   barrier_rate_hz barrier events of all threads / wall time (the profile
//                   rule divides by threads to get barriers per thread)
//   sync_fraction   wait time (sync_region_wait + mutex waits) inside implicit
//                   tasks / time inside implicit tasks, all threads, in [0,1]
//   imbalance       (max - mean) / mean over threads of their busy time
//                   (implicit-task time minus waits), in [0,100]
// name, match, coexist and gang come from `base` (the profile the run started
// with); a base named "default" is renamed after the executable.
Profile learned_profile(const Totals& t, const RunInfo& run, const Profile& base);

// "vtasos-ompt: exe=cg.W.x wall_s=1.20 regions=... barriers_explicit=..." :
// the exact counts behind the profile, as key=value tokens (parse_note).
std::string learned_note(const Totals& t, const RunInfo& run);

// key=value tokens of a note; other words are skipped.
std::map<std::string, std::string> parse_note(std::string_view note);

// A profile name made from an executable name: characters outside
// [A-Za-z0-9._:@+-] become '_', cut to 64 ("a.out" -> "a.out").
std::string profile_name_for(std::string_view exe);

struct ProfileChoice {
    Profile profile;
    std::string source;  // "VTASOS_PROFILE file x.json", "executable cg.A.x", "default"
    bool known = false;  // false: the default profile
    std::vector<std::string> warnings;  // e.g. an unknown VTASOS_PROFILE name
};

// The profile an application starts with:
//  1. VTASOS_PROFILE (`requested`): a path (has '/' or ends in .json) is loaded
//     as a file; a name is looked up in the profile directories;
//  2. else the first profile whose `match` holds the executable name;
//  3. else the default profile.
// A requested profile that cannot be found or loaded gives a warning and falls
// back to 2. Directories that do not exist are skipped silently.
ProfileChoice choose_profile(const std::optional<std::string>& requested, const std::string& exe,
                             const std::vector<std::string>& profile_dirs);

}  // namespace vtasos::ompt
