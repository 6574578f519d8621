// Joining the node's job tenant: the rank side of vtasosd's job tenants
// (docs/protocol.md "Job tenants").
//
// All ranks of one namespace on one node join one tenant ("mpi-<nspace>-n<node>")
// with `register` + a "job" object. The daemon places the job as a whole
// (local ranks x threads per rank) once every local rank has joined, or when
// the first arrival's wait_ms has passed (then it places the ranks that came),
// and answers each rank with its share: the CPUs [i*threads, (i+1)*threads) of
// the job, i its position in local-rank order. Until then it answers "waiting";
// a rank polls until it is placed or its own deadline passes: the daemon
// never holds a reply back, so a rank can always give up (`release` with its
// pid). A rank that comes after its job was placed gets a tenant of its own,
// named in the reply.
//
// A daemon without job tenants (no "job" in hello's "features") gets one plain
// `register` per rank instead: tenant "<job tenant>.r<local rank>", same
// request shape, so ranks still end up on disjoint PUs.
//
// Everything goes through a Transport so that the logic is tested without a
// daemon; the hook's Transport is the C client library.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/result.h"

namespace vtasos::mpi {

class Transport {
public:
    virtual ~Transport() = default;
    // Sends one request object ("v" and "id" are added) and returns the whole
    // reply object, also when the daemon refused ("ok": false). Errors are
    // transport errors only: kUnavailable, kTimeout, kProtocol.
    virtual Result<nlohmann::json> call(const nlohmann::json& request) = 0;
};

struct JoinSpec {
    std::string tenant;  // job tenant id
    std::string nspace;  // for the daemon's logs and status
    int rank = 0;        // global rank
    int local_rank = 0;
    int local_size = 1;
    int node_id = -1;
    std::string hostname;
    int threads = 1;              // CPUs per rank
    std::string profile;          // "" = daemon's choice (executable match, else default)
    bool oversubscribed = false;  // local_size * threads > usable PUs: allow time-sharing
    pid_t pid = 0;
    int wait_ms = 3000;  // how long the daemon waits for the other local ranks
};

struct Share {
    std::string tenant;   // the tenant holding this rank's CPUs
    std::string mode;     // "job" (job tenant) or "rank" (per-rank register fallback)
    Placement placement;  // this rank's CPUs only
    int arrived = 1;      // local ranks placed with the job
    int expected = 1;
    std::string source;  // where the request came from ("profile:cg", "default", ...)
    std::vector<int> pus() const { return placement.all_pus(); }
};

// Clock and sleep seams for the poll loop.
struct JoinClock {
    std::function<std::chrono::steady_clock::time_point()> now = [] {
        return std::chrono::steady_clock::now();
    };
    std::function<void(std::chrono::microseconds)> sleep;  // default: nanosleep
};

// The request objects (exposed for tests and docs).
nlohmann::json join_request(const JoinSpec& s);
nlohmann::json leave_request(const std::string& tenant, pid_t pid);
nlohmann::json rank_register_request(const JoinSpec& s);

// Does the hello reply offer job tenants ("job" in "features")?
bool daemon_has_join(const nlohmann::json& hello_reply);

// Joins (or, with has_join false, registers per rank) and waits for the
// share until `deadline`. Errors: kTimeout (the other local ranks did not
// come in time and the daemon had not placed the job yet), the daemon's
// refusal (kInfeasible, kPermissionDenied, kNotFound for an unknown profile,
// ...; the message is the daemon's), transport errors.
Result<Share> join_job(Transport& t, const JoinSpec& s, bool has_join,
                       std::chrono::steady_clock::time_point deadline, const JoinClock& clock = {});

// Gives this rank's share back: `release` with the pid for a job (the tenant
// goes with its last rank), `release` of the whole per-rank tenant for the
// fallback. A tenant that is already gone is not an error.
Status leave_job(Transport& t, const Share& share, pid_t pid);

// A daemon error reply -> Error with the daemon's code and message.
Error reply_error(const nlohmann::json& reply, std::string_view op);

}  // namespace vtasos::mpi
