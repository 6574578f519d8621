// Request: what a tenant asks of the node (DESIGN.md "Core vocabulary").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vtasos/core/result.h"

namespace vtasos {

enum class TenantKind { kProcess, kVm, kDomain };  // kDomain: a Xen domain (xen driver)

// Coexistence level of one CPU: the smallest topology unit it may share with
// CPUs of OTHER tenants. Ordered from most to least permissive:
//   pu     - may time-share its PU (oversubscription; the gang scheduler's case)
//   core   - may share its core (an SMT sibling), its PU is its own
//   socket - its core is its own; may share the package
//   node   - its package is its own; may share the NUMA node
//   none   - shares nothing: its NUMA node is its own
// A tenant's own CPUs never count against each other.
enum class Coexist { kPu = 0, kCore = 1, kSocket = 2, kNode = 3, kNone = 4 };

// Affinity group: these CPUs (indices into the request) must share one unit.
enum class GroupLevel { kCore, kSocket, kNode };

enum class BandwidthClass { kUnknown, kLow, kHigh };
enum class MemPolicy { kNone, kLocal, kInterleave };

struct AffinityGroup {
    GroupLevel level = GroupLevel::kSocket;
    std::vector<int> cpus;
    bool operator==(const AffinityGroup&) const = default;
};

struct Bandwidth {
    BandwidthClass cls = BandwidthClass::kUnknown;
    std::optional<double> gbps;  // total demand of the tenant, when measured
    bool operator==(const Bandwidth&) const = default;
    // Bandwidth-hungry: class high, or a measured demand above `high_threshold_gbps`.
    bool hungry(double high_threshold_gbps) const;
};

struct SchedWish {
    bool gang = false;
    std::optional<double> latency_ms;  // max wait before a tenant's slice starts
    bool operator==(const SchedWish&) const = default;
};

struct Request {
    std::string tenant;  // id: [A-Za-z0-9._:@+-]{1,64}
    TenantKind kind = TenantKind::kProcess;
    int cpus = 1;                  // 1..4096
    std::vector<Coexist> coexist;  // one per CPU (from_json expands a single value)
    std::vector<AffinityGroup> groups;
    Bandwidth bandwidth;
    SchedWish sched;
    MemPolicy memory = MemPolicy::kLocal;

    bool operator==(const Request&) const = default;
    Status validate() const;
    nlohmann::json to_json() const;
    // Validates field by field; errors name the field ("request.coexist[2]").
    static Result<Request> from_json(const nlohmann::json& j);
    std::string to_string() const;  // "cg-1: 4 cpus coexist=socket bw=high sched=gang"
};

// The request used for an application nobody knows: every CPU keeps its core
// to itself (coexist socket), bandwidth unknown (treated as packable), no gang.
Request default_request(std::string tenant, int cpus);

std::string_view to_string(Coexist c);
std::string_view to_string(GroupLevel g);
std::string_view to_string(BandwidthClass b);
std::string_view to_string(MemPolicy m);
std::string_view to_string(TenantKind k);
Result<Coexist> parse_coexist(std::string_view s);
Result<BandwidthClass> parse_bandwidth_class(std::string_view s);

// Largest/most demanding values accepted anywhere.
inline constexpr int kMaxCpusPerRequest = 4096;
inline constexpr double kMaxBandwidthGbps = 100000.0;

}  // namespace vtasos
