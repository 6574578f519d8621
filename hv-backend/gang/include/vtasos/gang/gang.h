// vtasos_gang: the gang scheduler's logic, free of I/O so it runs on a fake clock.
//
// Tenants whose PU sets overlap (and that are to be ganged) are grouped into
// conflict components; each component gets its own Ousterhout matrix: rows are
// time slices, a row is a set of tenants with pairwise disjoint PUs, every
// tenant of the component is in exactly one row, rows run round-robin. A
// tenant that overlaps nobody (or is not ganged) is never frozen or thawed.
// See README.md for the policy, thresholds and defaults.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vtasos/core/profile.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos::gang {

enum class Policy { kGang, kFeedback, kAuto, kOff };
// "gang" | "feedback" | "auto" | "off"; kInvalidArgument naming the valid ones.
Result<Policy> parse_policy(std::string_view name);
std::string_view policy_name(Policy p);

inline constexpr int kMinSliceMs = 10;
inline constexpr int kMaxSliceMs = 100;
inline constexpr int kDefaultSliceMs = 20;  // README.md "Default slice": measured
// kInvalidArgument unless 10 <= ms <= 100.
Status validate_slice_ms(long long ms);

// Thresholds of the gang decision (README.md). A tenant is ganged when either
// measured rate reaches its threshold.
struct GangThresholds {
    double barrier_rate_hz = 50.0;  // barriers/s (OMPT) or MPI waits/s (PMPI)
    double sync_fraction = 0.05;    // share of thread time waiting
};

// Whether to gang one tenant: off/feedback -> never; gang -> always unless the
// tenant forbids it (profile gang=false); auto -> explicit wish (request
// sched.gang=true or profile.gang) first, else measured rates vs thresholds,
// no profile -> no gang (left to the kernel scheduler).
bool should_gang(Policy policy, const SchedWish& wish, const Profile* profile,
                 const GangThresholds& th = {});

// What the scheduler does with one tenant that shares PUs with others.
enum class Mode {
    kKernel,  // left to the kernel scheduler: never frozen, keeps its PUs and threads
    kGang,    // gang scheduled: time slices of the Ousterhout matrix, all its CPUs
    kShare,   // feedback: shrunk to a disjoint share of the shared PUs, no slicing
};
std::string_view mode_name(Mode m);

// What the decision knows about one tenant.
struct TenantFacts {
    SchedWish wish;                    // request sched (gang wish, latency bound)
    const Profile* profile = nullptr;  // measured (OMPT/PMPI) or shipped profile; null: none
    bool malleable = true;             // can change its thread count (OpenMP); MPI jobs cannot
    // Its resident memory fits in the last-level cache its PUs share (nullopt:
    // not known). auto gangs such a malleable tenant instead of shrinking it.
    std::optional<bool> cache_resident;
};

// Per-policy decision (README.md "Policies and the gang decision"):
//   off      -> kernel
//   gang     -> gang, unless the profile forbids it (gang=false) -> kernel
//   feedback -> share
//   auto     -> forbidden -> kernel; explicit wish (request or profile gang=true) -> gang;
//               measured sync at/over a threshold -> share when malleable (gang when it
//               is also cache resident), else gang;
//               below the thresholds or no profile (EP-like, unknown) -> kernel.
Mode decide(Policy policy, const TenantFacts& facts, const GangThresholds& th = {});

// Feedback shares: every tenant of a conflict component (tenants connected by
// PU overlap) gets a disjoint slice of the component's PUs, proportional to its
// CPU count (largest remainder, at least 1 PU, at most its CPU count; ties by
// id). Only when a component has more tenants than PUs do some share a PU.
// Tenants that overlap nobody keep their PUs. Deterministic.
struct ShareTenant {
    std::string id;
    std::vector<int> pus;  // PUs it may use now (its placement's union)
    int cpus = 1;          // CPUs it asked for
};
std::map<std::string, std::vector<int>> feedback_shares(const std::vector<ShareTenant>& tenants);

// Time source; ns on a monotonic scale.
class Clock {
public:
    virtual ~Clock() = default;
    virtual int64_t now_ns() const = 0;
};

// The mechanism (a Driver in the daemon, a recorder in tests).
class Freezer {
public:
    virtual ~Freezer() = default;
    virtual Status freeze(std::string_view tenant) = 0;
    virtual Status thaw(std::string_view tenant) = 0;
};

struct GangTenant {
    std::string id;
    std::vector<int> pus;              // union of the tenant's PUs
    bool gang = true;                  // false: never touched by the scheduler
    std::optional<double> latency_ms;  // max wait before its next slice starts
    bool operator==(const GangTenant&) const = default;
};

// One matrix per conflict component. rows[r] = tenant ids.
struct Matrix {
    std::vector<std::vector<std::string>> rows;
    int64_t slice_ns = 0;  // this component's slice (shortened for latency bounds)
};

// Builds matrices for ganged tenants that overlap at least one other ganged
// tenant. Rows: largest-degree-first greedy colouring; each tenant in one row.
// kInfeasible when a latency bound would need a slice below kMinSliceMs.
Result<std::vector<Matrix>> build_matrices(const std::vector<GangTenant>& tenants, int slice_ms);

struct TenantState {
    bool scheduled = false;  // part of a matrix (else never frozen)
    int component = -1;
    int row = -1;
    bool frozen = false;
    int64_t run_ns = 0;  // time spent thawed while scheduled (accounting)
};

struct Stats {
    uint64_t switches = 0;  // slice switches
    uint64_t freezes = 0;
    uint64_t thaws = 0;
    uint64_t errors = 0;
    uint64_t rebuilds = 0;  // decision changes (matrix rebuilt)
    int64_t freeze_ns = 0;  // total time spent in Freezer::freeze (by the Clock)
    int64_t thaw_ns = 0;    // total time spent in Freezer::thaw
    std::string last_error;
};

class Scheduler {
public:
    Scheduler(Freezer& freezer, const Clock& clock, int slice_ms = kDefaultSliceMs);
    ~Scheduler();  // thaws everything it froze
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Adds or replaces a tenant (join mid-slice). On kInfeasible nothing changes.
    // Re-adding an identical tenant is a no-op (no rebuild, no decision change).
    Status add(GangTenant t);
    // Removes a tenant (leave/exit mid-slice): thawed first if frozen.
    Status remove(std::string_view id);
    // Thaws every frozen tenant and stops slicing (SIGTERM, policy off).
    void thaw_all();
    Status set_slice_ms(int ms);

    // Advances: switches rows whose slice has ended. Returns ns until the
    // next switch is due (-1 when nothing is sliced).
    int64_t tick();

    int slice_ms() const { return slice_ms_; }
    const std::vector<Matrix>& matrices() const { return matrices_; }
    std::map<std::string, TenantState> states() const;
    const Stats& stats() const { return stats_; }
    // Bumped on every rebuild: callers log once per change, not per slice.
    uint64_t generation() const { return stats_.rebuilds; }

private:
    struct Comp {
        size_t cur = 0;
        int64_t slice_end = 0;
        int64_t slice_start = 0;
    };
    Status rebuild();
    void account(int64_t now);
    void set_frozen(const std::string& id, bool frozen);
    void enter_row(size_t c, size_t row, int64_t now);

    Freezer& freezer_;
    const Clock& clock_;
    int slice_ms_;
    std::map<std::string, GangTenant, std::less<>> tenants_;
    std::map<std::string, TenantState, std::less<>> state_;
    std::vector<Matrix> matrices_;
    std::vector<Comp> comps_;
    int64_t last_account_ = 0;
    Stats stats_;
};

}  // namespace vtasos::gang
