// Application profiles: what vtasos knows about an application, and the rule
// that turns that knowledge into a placement Request.
//
// Profiles live as one JSON file per application (schema: profiles/README.md,
// profiles/schema.json). The daemon loads a directory of them at start; the
// OMPT tool and MPI hook name a profile or send observations that update one.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vtasos/core/profile.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos {

// Reads and validates one profile file. Errors: kNotFound (no file), kIo,
// kInvalidArgument ("FILE: profile.sync_fraction: expected a number in 0..1, got ...").
Result<Profile> load_profile_file(const std::string& path);

class ProfileStore {
public:
    // Loads every *.json in `dir`. One bad file fails the whole load, naming
    // the file and field, so an operator never runs with half a profile set.
    static Result<ProfileStore> load_dir(const std::string& dir);
    // kNotFound naming the known profiles.
    Result<Profile> get(std::string_view name) const;
    // The profile whose `match` list holds this executable base name, or null.
    const Profile* match_executable(std::string_view basename) const;
    std::vector<std::string> names() const;
    // Adds or replaces (used for learned profiles).
    void put(Profile p);
    size_t size() const { return profiles_.size(); }

private:
    std::map<std::string, Profile, std::less<>> profiles_;
};

// Thresholds of the profile -> request rule (documented in profiles/README.md).
struct ProfileRule {
    // Gang scheduling pays when threads synchronise often: at least this many
    // barriers per second per thread, or this share of time in sync waits.
    double gang_barrier_rate_hz = 100.0;
    double gang_sync_fraction = 0.2;
    // Measured demand (GB/s per CPU) at or above which a tenant counts as high.
    double high_gbps_per_cpu = 2.0;
};

// The profile -> request rule:
//  cpus:      `cpus` if > 0, else profile.threads, else 1;
//  coexist:   profile.coexist if set; else `socket` (own core) for tenants that
//             synchronise often or are bandwidth-hungry, `core` otherwise;
//  bandwidth: measured GB/s if known, else the class;
//  sched:     gang if profile.gang, else gang when the sync rule above holds;
//  memory:    interleave for hungry tenants spread over packages, else local.
Request request_from_profile(const Profile& p, std::string tenant, int cpus,
                             const ProfileRule& rule = {});

// The profile used when nothing is known about an application.
Profile default_profile();

}  // namespace vtasos
