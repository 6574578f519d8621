#include "vtasos/core/request.h"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "vtasos/core/json_fields.h"

namespace vtasos {
namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Coexist, 5> kCoexist{{{Coexist::kPu, "pu"},
                                          {Coexist::kCore, "core"},
                                          {Coexist::kSocket, "socket"},
                                          {Coexist::kNode, "node"},
                                          {Coexist::kNone, "none"}}};
constexpr NameTable<GroupLevel, 3> kGroup{
    {{GroupLevel::kCore, "core"}, {GroupLevel::kSocket, "socket"}, {GroupLevel::kNode, "node"}}};
constexpr NameTable<BandwidthClass, 3> kBw{{{BandwidthClass::kUnknown, "unknown"},
                                            {BandwidthClass::kLow, "low"},
                                            {BandwidthClass::kHigh, "high"}}};
constexpr NameTable<MemPolicy, 3> kMem{
    {{MemPolicy::kNone, "none"}, {MemPolicy::kLocal, "local"}, {MemPolicy::kInterleave, "interleave"}}};
constexpr NameTable<TenantKind, 3> kKind{
    {{TenantKind::kProcess, "process"}, {TenantKind::kVm, "vm"}, {TenantKind::kDomain, "domain"}}};

template <typename E, size_t N>
std::string_view name_of(const NameTable<E, N>& t, E e) {
    for (const auto& [k, v] : t)
        if (k == e) return v;
    return "?";
}

template <typename E, size_t N>
std::string choices(const NameTable<E, N>& t) {
    std::string s;
    for (const auto& [k, v] : t) s += (s.empty() ? "" : "|") + std::string(v);
    return s;
}

template <typename E, size_t N>
Result<E> parse_enum(const NameTable<E, N>& t, const nlohmann::json& v, const std::string& path) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        for (const auto& [k, name] : t)
            if (name == s) return k;
    }
    return json::field_error(path, "one of " + choices(t), v);
}

}  // namespace

std::string_view to_string(Coexist c) { return name_of(kCoexist, c); }
std::string_view to_string(GroupLevel g) { return name_of(kGroup, g); }
std::string_view to_string(BandwidthClass b) { return name_of(kBw, b); }
std::string_view to_string(MemPolicy m) { return name_of(kMem, m); }
std::string_view to_string(TenantKind k) { return name_of(kKind, k); }

Result<Coexist> parse_coexist(std::string_view s) {
    return parse_enum(kCoexist, nlohmann::json(std::string(s)), "coexist");
}
Result<BandwidthClass> parse_bandwidth_class(std::string_view s) {
    return parse_enum(kBw, nlohmann::json(std::string(s)), "bandwidth");
}

bool Bandwidth::hungry(double high_threshold_gbps) const {
    if (gbps) return *gbps >= high_threshold_gbps;
    return cls == BandwidthClass::kHigh;
}

Request default_request(std::string tenant, int cpus) {
    Request r;
    r.tenant = std::move(tenant);
    r.cpus = cpus;
    r.coexist.assign(cpus, Coexist::kSocket);
    return r;
}

Status Request::validate() const {
    auto bad = [](std::string m) { return Error(Errc::kInvalidArgument, "request." + m); };
    if (!json::is_valid_id(tenant))
        return bad("tenant: expected an identifier of 1..64 letters, digits and . _ - : @ +");
    if (cpus < 1 || cpus > kMaxCpusPerRequest)
        return bad(fmt::format("cpus: expected an integer in 1..{}, got {}", kMaxCpusPerRequest, cpus));
    if (static_cast<int>(coexist.size()) != cpus)
        return bad(fmt::format("coexist: expected {} entries (one per cpu), got {}", cpus,
                               coexist.size()));
    for (size_t g = 0; g < groups.size(); ++g) {
        std::set<int> seen;
        if (groups[g].cpus.size() < 2)
            return bad(fmt::format("groups[{}].cpus: a group needs at least 2 cpus", g));
        for (int c : groups[g].cpus) {
            if (c < 0 || c >= cpus)
                return bad(fmt::format("groups[{}].cpus: cpu index {} is outside 0..{}", g, c, cpus - 1));
            if (!seen.insert(c).second)
                return bad(fmt::format("groups[{}].cpus: cpu index {} repeated", g, c));
        }
    }
    if (bandwidth.gbps && !(*bandwidth.gbps >= 0 && *bandwidth.gbps <= kMaxBandwidthGbps))
        return bad("bandwidth.gbps: out of range");
    if (sched.latency_ms && !(*sched.latency_ms > 0 && *sched.latency_ms <= 60000))
        return bad("sched.latency_ms: expected a number in (0, 60000]");
    return {};
}

nlohmann::json Request::to_json() const {
    nlohmann::json co = nlohmann::json::array();
    bool uniform = std::all_of(coexist.begin(), coexist.end(),
                               [&](Coexist c) { return c == coexist.front(); });
    nlohmann::json coj;
    if (uniform && !coexist.empty()) {
        coj = std::string(vtasos::to_string(coexist.front()));
    } else {
        for (Coexist c : coexist) co.push_back(std::string(vtasos::to_string(c)));
        coj = co;
    }
    nlohmann::json gj = nlohmann::json::array();
    for (const auto& g : groups) gj.push_back({{"level", vtasos::to_string(g.level)}, {"cpus", g.cpus}});
    nlohmann::json bw = {{"class", vtasos::to_string(bandwidth.cls)}};
    if (bandwidth.gbps) bw["gbps"] = *bandwidth.gbps;
    nlohmann::json sj = {{"gang", sched.gang}};
    if (sched.latency_ms) sj["latency_ms"] = *sched.latency_ms;
    return {{"tenant", tenant},   {"kind", vtasos::to_string(kind)}, {"cpus", cpus},
            {"coexist", coj},     {"groups", gj},            {"bandwidth", bw},
            {"sched", sj},        {"memory", vtasos::to_string(memory)}};
}

Result<Request> Request::from_json(const nlohmann::json& j) {
    using namespace vtasos::json;
    const std::string path = "request";
    if (auto s = check_object(
            j, path, {"tenant", "kind", "cpus", "coexist", "groups", "bandwidth", "sched", "memory"});
        !s)
        return s.error();
    Request r;
    auto tenant = get_string(j, "tenant", path, 64, true);
    if (!tenant) return tenant.error();
    r.tenant = *tenant;
    if (j.contains("kind")) {
        auto k = parse_enum(kKind, j["kind"], "request.kind");
        if (!k) return k.error();
        r.kind = *k;
    }
    auto cpus = get_int(j, "cpus", path, 1, kMaxCpusPerRequest);
    if (!cpus) return cpus.error();
    r.cpus = static_cast<int>(*cpus);
    if (!j.contains("coexist")) {
        r.coexist.assign(r.cpus, Coexist::kSocket);
    } else if (j["coexist"].is_array()) {
        const auto& a = j["coexist"];
        if (static_cast<int>(a.size()) != r.cpus)
            return field_error("request.coexist", fmt::format("one entry per cpu ({})", r.cpus), a);
        for (size_t i = 0; i < a.size(); ++i) {
            auto c = parse_enum(kCoexist, a[i], fmt::format("request.coexist[{}]", i));
            if (!c) return c.error();
            r.coexist.push_back(*c);
        }
    } else {
        auto c = parse_enum(kCoexist, j["coexist"], "request.coexist");
        if (!c) return c.error();
        r.coexist.assign(r.cpus, *c);
    }
    if (j.contains("groups")) {
        const auto& a = j["groups"];
        if (!a.is_array() || a.size() > 4096)
            return field_error("request.groups", "an array of at most 4096 groups", a);
        for (size_t g = 0; g < a.size(); ++g) {
            auto gp = fmt::format("request.groups[{}]", g);
            if (auto s = check_object(a[g], gp, {"level", "cpus"}); !s) return s.error();
            AffinityGroup grp;
            if (!a[g].contains("level"))
                return Error(Errc::kInvalidArgument, gp + ".level: required field is missing");
            auto lvl = parse_enum(kGroup, a[g]["level"], gp + ".level");
            if (!lvl) return lvl.error();
            grp.level = *lvl;
            const auto& cj = a[g].value("cpus", nlohmann::json());
            if (!cj.is_array()) return field_error(gp + ".cpus", "an array of cpu indices", cj);
            for (size_t i = 0; i < cj.size(); ++i) {
                if (!cj[i].is_number_integer() || cj[i].get<int64_t>() < 0 ||
                    cj[i].get<int64_t>() >= r.cpus)
                    return field_error(fmt::format("{}.cpus[{}]", gp, i),
                                       fmt::format("a cpu index in 0..{}", r.cpus - 1), cj[i]);
                grp.cpus.push_back(cj[i].get<int>());
            }
            r.groups.push_back(std::move(grp));
        }
    }
    if (j.contains("bandwidth")) {
        const auto& b = j["bandwidth"];
        if (b.is_string()) {
            auto c = parse_enum(kBw, b, "request.bandwidth");
            if (!c) return c.error();
            r.bandwidth.cls = *c;
        } else if (b.is_number()) {
            auto g = get_number(j, "bandwidth", path, 0, kMaxBandwidthGbps);
            if (!g) return g.error();
            r.bandwidth.gbps = *g;
        } else {
            if (auto s = check_object(b, "request.bandwidth", {"class", "gbps"}); !s) return s.error();
            if (b.contains("class")) {
                auto c = parse_enum(kBw, b["class"], "request.bandwidth.class");
                if (!c) return c.error();
                r.bandwidth.cls = *c;
            }
            if (b.contains("gbps")) {
                auto g = get_number(b, "gbps", "request.bandwidth", 0, kMaxBandwidthGbps);
                if (!g) return g.error();
                r.bandwidth.gbps = *g;
            }
        }
    }
    if (j.contains("sched")) {
        const auto& s = j["sched"];
        if (auto st = check_object(s, "request.sched", {"gang", "latency_ms"}); !st) return st.error();
        auto gang = get_bool(s, "gang", "request.sched", false);
        if (!gang) return gang.error();
        r.sched.gang = *gang;
        if (s.contains("latency_ms") && !s["latency_ms"].is_null()) {
            auto l = get_number(s, "latency_ms", "request.sched", 0.001, 60000);
            if (!l) return l.error();
            r.sched.latency_ms = *l;
        }
    }
    if (j.contains("memory")) {
        auto m = parse_enum(kMem, j["memory"], "request.memory");
        if (!m) return m.error();
        r.memory = *m;
    }
    if (auto s = r.validate(); !s) return s.error();
    return r;
}

std::string Request::to_string() const {
    std::string co = coexist.empty() ? "?" : std::string(vtasos::to_string(coexist.front()));
    if (std::any_of(coexist.begin(), coexist.end(), [&](Coexist c) { return c != coexist.front(); }))
        co = "mixed";
    std::string bw(vtasos::to_string(bandwidth.cls));
    if (bandwidth.gbps) bw = fmt::format("{:.1f}GB/s", *bandwidth.gbps);
    std::string sc = sched.gang ? "gang" : "none";
    if (sched.latency_ms) sc += fmt::format(",latency<={}ms", *sched.latency_ms);
    return fmt::format("{}: {} {} cpus coexist={} groups={} bw={} sched={} mem={}", tenant,
                       vtasos::to_string(kind), cpus, co, groups.size(), bw, sc,
                       vtasos::to_string(memory));
}

}  // namespace vtasos
