#include "vtasos/core/topology.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "vtasos/core/json_fields.h"

namespace vtasos {

double default_package_bandwidth(int cores_in_package) {
    return 4.0 * std::max(1, cores_in_package);
}

Topology make_uniform_topology(int packages, int numa_per_package, int l3_per_numa,
                               int cores_per_l3, int pus_per_core, std::string source) {
    Topology t;
    t.source = std::move(source);
    int core = 0, l3 = 0, numa = 0, os = 0;
    for (int p = 0; p < packages; ++p) {
        for (int n = 0; n < numa_per_package; ++n, ++numa) {
            t.numa_os_index.push_back(numa);
            for (int l = 0; l < l3_per_numa; ++l, ++l3) {
                for (int c = 0; c < cores_per_l3; ++c, ++core) {
                    for (int u = 0; u < pus_per_core; ++u) t.pus.push_back({os++, core, l3, p, numa});
                }
            }
        }
    }
    t.num_cores = core;
    t.num_l3 = l3;
    t.num_packages = packages;
    t.num_numa = numa;
    int cores_per_pkg = numa_per_package * l3_per_numa * cores_per_l3;
    t.package_bandwidth_gbps.assign(packages, default_package_bandwidth(cores_per_pkg));
    return t;
}

Status Topology::validate() const {
    auto bad = [](std::string m) { return Error(Errc::kInvalidArgument, "topology: " + m); };
    if (pus.empty()) return bad("has no PUs");
    if (pus.size() > 65536) return bad(fmt::format("has {} PUs, more than 65536", pus.size()));
    std::set<int> os;
    std::vector<int> core_l3(num_cores, -1), core_pkg(num_cores, -1), core_numa(num_cores, -1);
    for (size_t i = 0; i < pus.size(); ++i) {
        const Pu& p = pus[i];
        if (p.os_index < 0 || !os.insert(p.os_index).second)
            return bad(fmt::format("pus[{}].os_index {} is negative or repeated", i, p.os_index));
        if (p.core < 0 || p.core >= num_cores) return bad(fmt::format("pus[{}].core out of range", i));
        if (p.l3 < 0 || p.l3 >= num_l3) return bad(fmt::format("pus[{}].l3 out of range", i));
        if (p.package < 0 || p.package >= num_packages)
            return bad(fmt::format("pus[{}].package out of range", i));
        if (p.numa < 0 || p.numa >= num_numa) return bad(fmt::format("pus[{}].numa out of range", i));
        auto check = [&](std::vector<int>& v, int x, const char* what) -> bool {
            if (v[p.core] == -1) v[p.core] = x;
            return v[p.core] == x;
        };
        if (!check(core_l3, p.l3, "l3") || !check(core_pkg, p.package, "package") ||
            !check(core_numa, p.numa, "numa"))
            return bad(fmt::format("core {} spans several L3s, packages or NUMA nodes", p.core));
    }
    for (int c = 0; c < num_cores; ++c)
        if (core_l3[c] < 0) return bad(fmt::format("core {} has no PU", c));
    if (static_cast<int>(package_bandwidth_gbps.size()) != num_packages)
        return bad("package_bandwidth_gbps must have one entry per package");
    for (double b : package_bandwidth_gbps)
        if (!(b > 0)) return bad("package bandwidth must be positive");
    if (static_cast<int>(numa_os_index.size()) != num_numa)
        return bad("numa_os_index must have one entry per NUMA node");
    return {};
}

std::vector<std::vector<int>> Topology::pus_by_core() const {
    std::vector<std::vector<int>> r(num_cores);
    for (size_t i = 0; i < pus.size(); ++i) r[pus[i].core].push_back(static_cast<int>(i));
    return r;
}

std::vector<std::vector<int>> Topology::cores_by_package() const {
    std::vector<std::vector<int>> r(num_packages);
    std::vector<char> seen(num_cores, 0);
    for (const Pu& p : pus) {
        if (!seen[p.core]) {
            seen[p.core] = 1;
            r[p.package].push_back(p.core);
        }
    }
    return r;
}

int Topology::pus_per_core_max() const {
    int m = 0;
    for (const auto& c : pus_by_core()) m = std::max(m, static_cast<int>(c.size()));
    return m;
}

std::string Topology::to_string() const {
    return fmt::format("{} NUMA nodes, {} packages, {} L3, {} cores, {} PUs ({})", num_numa,
                       num_packages, num_l3, num_cores, pus.size(), source);
}

std::string Topology::to_tree_string() const {
    std::string out = fmt::format("Machine ({} PUs) [{}]\n", pus.size(), source);
    int numa = -1, pkg = -1, l3 = -1, core = -1;
    // NUMA may sit above or below the package; print in the order PUs change.
    for (const Pu& p : pus) {
        if (p.package != pkg) {
            pkg = p.package;
            numa = l3 = core = -1;
            out += fmt::format("  Package L#{} (bandwidth budget {:.1f} GB/s)\n", pkg,
                               package_bandwidth_gbps.empty() ? 0.0 : package_bandwidth_gbps[pkg]);
        }
        if (p.numa != numa) {
            numa = p.numa;
            l3 = core = -1;
            out += fmt::format("    NUMANode L#{} (P#{})\n", numa,
                               numa < static_cast<int>(numa_os_index.size()) ? numa_os_index[numa] : numa);
        }
        if (p.l3 != l3) {
            l3 = p.l3;
            core = -1;
            out += fmt::format("      L3 L#{}\n", l3);
        }
        if (p.core != core) {
            core = p.core;
            out += fmt::format("        Core L#{}\n", core);
        }
        out += fmt::format("          PU P#{}\n", p.os_index);
    }
    return out;
}

nlohmann::json Topology::to_json() const {
    nlohmann::json pj = nlohmann::json::array();
    for (const Pu& p : pus)
        pj.push_back({{"os_index", p.os_index}, {"core", p.core}, {"l3", p.l3},
                      {"package", p.package}, {"numa", p.numa}});
    return {{"source", source},         {"num_cores", num_cores},
            {"num_l3", num_l3},         {"num_packages", num_packages},
            {"num_numa", num_numa},     {"numa_os_index", numa_os_index},
            {"package_bandwidth_gbps", package_bandwidth_gbps}, {"pus", pj}};
}

Result<Topology> Topology::from_json(const nlohmann::json& j) {
    using namespace vtasos::json;
    const std::string path = "topology";
    if (auto s = check_object(j, path,
                              {"source", "num_cores", "num_l3", "num_packages", "num_numa",
                               "numa_os_index", "package_bandwidth_gbps", "pus"});
        !s)
        return s.error();
    Topology t;
    auto src = get_string(j, "source", path, 1024, false, std::string("json"));
    if (!src) return src.error();
    t.source = *src;
    auto geti = [&](const char* k, int& out) -> Status {
        auto v = get_int(j, k, path, 1, 65536);
        if (!v) return v.error();
        out = static_cast<int>(*v);
        return {};
    };
    for (auto [k, out] : {std::pair{"num_cores", &t.num_cores}, std::pair{"num_l3", &t.num_l3},
                          std::pair{"num_packages", &t.num_packages},
                          std::pair{"num_numa", &t.num_numa}})
        if (auto s = geti(k, *out); !s) return s.error();
    if (!j.contains("pus") || !j["pus"].is_array())
        return field_error("topology.pus", "an array", j.value("pus", nlohmann::json()));
    for (size_t i = 0; i < j["pus"].size(); ++i) {
        const auto& pj = j["pus"][i];
        auto p = fmt::format("topology.pus[{}]", i);
        if (auto s = check_object(pj, p, {"os_index", "core", "l3", "package", "numa"}); !s)
            return s.error();
        Pu pu;
        for (auto [k, out] : {std::pair{"os_index", &pu.os_index}, std::pair{"core", &pu.core},
                              std::pair{"l3", &pu.l3}, std::pair{"package", &pu.package},
                              std::pair{"numa", &pu.numa}}) {
            auto v = get_int(pj, k, p, 0, 1 << 20);
            if (!v) return v.error();
            *out = static_cast<int>(*v);
        }
        t.pus.push_back(pu);
    }
    auto numbers = [&](const char* k, auto& out, bool positive) -> Status {
        if (!j.contains(k)) return {};
        const auto& a = j[k];
        if (!a.is_array()) return field_error(join_path(path, k), "an array of numbers", a);
        for (size_t i = 0; i < a.size(); ++i) {
            if (!a[i].is_number() || (positive && !(a[i].get<double>() > 0)) ||
                (!positive && !a[i].is_number_integer()))
                return field_error(fmt::format("{}.{}[{}]", path, k, i),
                                   positive ? "a positive number" : "an integer", a[i]);
            out.push_back(a[i].get<typename std::decay_t<decltype(out)>::value_type>());
        }
        return {};
    };
    if (auto s = numbers("numa_os_index", t.numa_os_index, false); !s) return s.error();
    if (auto s = numbers("package_bandwidth_gbps", t.package_bandwidth_gbps, true); !s)
        return s.error();
    if (t.numa_os_index.empty())
        for (int i = 0; i < t.num_numa; ++i) t.numa_os_index.push_back(i);
    if (t.package_bandwidth_gbps.empty()) {
        // Count distinct cores per package, guarding indices not yet validated.
        std::vector<std::set<int>> cores(t.num_packages);
        for (const Pu& pu : t.pus)
            if (pu.package >= 0 && pu.package < t.num_packages) cores[pu.package].insert(pu.core);
        for (const auto& c : cores)
            t.package_bandwidth_gbps.push_back(default_package_bandwidth(static_cast<int>(c.size())));
    }
    if (auto s = t.validate(); !s) return s.error();
    return t;
}

}  // namespace vtasos
