// The MPI synchronisation profile of one rank: counts and time of the
// blocking waits, point-to-point calls and collectives libvtasos-pmpi saw,
// and what is sent to vtasosd from it. Pure values: no MPI here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace vtasos::pmpi {

enum class Category { kLife, kWait, kP2p, kColl };
std::string_view to_string(Category c);

struct CallCount {
    std::string name;  // "Allreduce"
    Category category = Category::kColl;
    uint64_t count = 0;
    uint64_t ns = 0;       // time inside the call
    uint64_t fortran = 0;  // of count, calls that came through a Fortran binding
};

struct Report {
    int rank = -1;
    int size = 0;
    std::string tenant;  // "" when the hook placed nothing
    double wall_s = 0;   // since MPI_Init returned
    std::vector<CallCount> calls;

    uint64_t sync_calls() const;  // wait + p2p + coll
    double sync_s() const;
    uint64_t fortran_calls() const;  // every category
    // Share of wall time in synchronisation, [0, 1].
    double sync_fraction() const;
    // Synchronising calls per second of wall time.
    double sync_rate_hz() const;

    // {"rank","size","tenant","wall_s","sync_s","sync_fraction","sync_calls",
    //  "sync_rate_hz","fortran_calls","calls":{"Allreduce":{"category","count","time_s","fortran"}}}
    // (calls with count 0 left out)
    nlohmann::json to_json() const;
    // The observations for vtasosd's "update" (a Profile object): the sync
    // rate as barrier_rate_hz and the sync fraction, with a note naming MPI.
    nlohmann::json observations() const;
    // "rank 0: 1234 sync calls (12.0/s, 3.4% of 10.2 s), 56 from Fortran; top: Allreduce 1000"
    std::string summary() const;
};

// Expands the output path pattern: %r -> rank, %p -> pid, %% -> %.
std::string expand_path(std::string_view pattern, int rank, int pid);

}  // namespace vtasos::pmpi
