// Job tenants: the ranks of one MPI job on this node share one tenant.
//
// Ranks "join" with their local rank and the job's local size; the daemon
// places the job (local ranks x threads per rank) when all have come or when
// the first one's wait has passed, and hands each rank its share: the CPUs
// [i*threads, (i+1)*threads) of the job, i being its position among the
// ranks placed (local-rank order). The ranks bind themselves to their shares,
// and a rank that leaves or dies gives its share back: the job's cgroup
// shrinks to the remaining shares, and because a cgroup v1 cpuset write resets
// every task's affinity to the cgroup's CPUs, the remaining ranks' own
// per-thread masks are saved before and put back after (save_affinity /
// restore_affinity). A rank that comes after its job was placed gets a tenant
// of its own, "<job tenant>.r<local rank>". Bookkeeping here, plus those two
// affinity helpers; the Service does the rest of the I/O.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"
#include "vtasos/daemon/protocol.h"

namespace vtasos::daemon::job {

struct Member {
    pid_t pid = 0;
    uint64_t start_time = 0;
    int local_rank = 0;
    int64_t rank = -1;             // rank in the namespace, -1 when not given
    Placement share;               // its CPUs (cpu indices 0..threads-1), empty until placed
    std::vector<Coexist> coexist;  // one per CPU of the share
    bool operator==(const Member&) const = default;
};

struct JobInfo {
    std::string nspace;
    int node = -1;
    std::string host;
    int expected = 1;  // local size announced by the ranks
    int threads = 1;   // CPUs per rank
    bool oversubscribe = false;
    std::optional<std::string> profile;
    int placed_with = 0;          // ranks present when the job was placed
    std::vector<Member> members;  // local-rank order
    bool operator==(const JobInfo&) const = default;
};

// A job whose ranks are still arriving (not a tenant yet).
struct Pending {
    JobInfo info;                 // members without shares yet
    uid_t owner = 0;              // uid of the first rank; the others must match (or be root)
    int64_t first_ms = 0;         // steady-clock ms of the first arrival
    int wait_ms = 0;              // from the first arrival
    std::optional<Error> failed;  // placing it failed: every member gets this error
};

// The shares of `placement` for `n` ranks of `threads` CPUs each, in order.
// Each share keeps the job's tenant and memory nodes; cpu indices restart at 0.
std::vector<Placement> split(const Placement& placement, int threads, size_t n);

// The job's placement and request rebuilt from its members' shares (after a
// member left). `base` supplies kind, bandwidth, sched and memory; groups are
// dropped (they name cpu indices that no longer exist).
void rebuild(const JobInfo& job, const std::string& tenant, Request& request, Placement& placement);

// The share of `pid`, or nullptr.
const Member* find(const JobInfo& job, pid_t pid);

// Removes `pid`; true when it was a member.
bool remove(JobInfo& job, pid_t pid);

// The CPU mask of one thread of a rank.
struct ThreadMask {
    pid_t pid = 0;
    pid_t tid = 0;
    std::vector<int> pus;
};

// The masks of every thread of `pids` (/proc/PID/task); threads that vanish
// meanwhile are skipped.
std::vector<ThreadMask> save_affinity(const std::vector<pid_t>& pids);

// Puts the job's members' threads back after the job's cgroup changed: a
// thread saved in `saved` gets its old mask within `allowed` (the job's PUs
// now), any other thread (or one whose old mask lies outside) gets its
// member's share. Returns the number of threads set; exited threads are
// skipped, and a failing sched_setaffinity is counted in `*failed`.
int restore_affinity(const JobInfo& job, const std::vector<ThreadMask>& saved,
                     const std::vector<int>& allowed, int* failed);

// Status/state JSON: {"nspace","node","host","expected","threads","oversubscribe",
// "profile","placed_with","ranks":[{"pid","local_rank","rank","share"}]}.
nlohmann::json to_json(const JobInfo& job);
// Inverse for the state file (start times come from the tenant's processes).
Result<JobInfo> from_json(const nlohmann::json& j);

}  // namespace vtasos::daemon::job
