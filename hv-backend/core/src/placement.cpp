#include "vtasos/core/placement.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "vtasos/core/json_fields.h"

namespace vtasos {

std::vector<int> Placement::all_pus() const {
    std::vector<int> r;
    for (const auto& c : cpus) r.insert(r.end(), c.pus.begin(), c.pus.end());
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    return r;
}

std::string format_cpulist(const std::vector<int>& ids_in) {
    std::vector<int> ids = ids_in;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::string out;
    for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += j == i ? fmt::format("{}", ids[i]) : fmt::format("{}-{}", ids[i], ids[j]);
        i = j + 1;
    }
    return out;
}

Result<std::vector<int>> parse_cpulist(std::string_view s) {
    std::vector<int> out;
    auto bad = [&] {
        return Error(Errc::kInvalidArgument,
                     fmt::format("cpu list \"{}\": expected e.g. 0-3,8", std::string(s.substr(0, 64))));
    };
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    if (s.empty()) return out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        std::string_view part = s.substr(pos, comma == std::string_view::npos ? s.npos : comma - pos);
        int a = 0, b = 0;
        size_t dash = part.find('-');
        auto num = [](std::string_view t, int& v) {
            auto r = std::from_chars(t.data(), t.data() + t.size(), v);
            return r.ec == std::errc() && r.ptr == t.data() + t.size() && v >= 0 && v < (1 << 20);
        };
        if (dash == std::string_view::npos) {
            if (!num(part, a)) return bad();
            b = a;
        } else if (!num(part.substr(0, dash), a) || !num(part.substr(dash + 1), b) || b < a) {
            return bad();
        }
        if (b - a > 65536) return bad();
        for (int i = a; i <= b; ++i) out.push_back(i);
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    return out;
}

nlohmann::json Placement::to_json() const {
    nlohmann::json cj = nlohmann::json::array();
    for (const auto& c : cpus) cj.push_back({{"cpu", c.cpu}, {"pus", c.pus}});
    return {{"tenant", tenant}, {"cpus", cj},         {"mem_nodes", mem_nodes},
            {"objective", objective}, {"trace", trace}};
}

Result<Placement> Placement::from_json(const nlohmann::json& j) {
    using namespace vtasos::json;
    if (auto s = check_object(j, "placement", {"tenant", "cpus", "mem_nodes", "objective", "trace"}); !s)
        return s.error();
    Placement p;
    auto t = get_string(j, "tenant", "placement", 64, true);
    if (!t) return t.error();
    p.tenant = *t;
    auto ints = [](const nlohmann::json& a, const std::string& path,
                   std::vector<int>& out) -> Status {
        if (!a.is_array()) return field_error(path, "an array of integers", a);
        for (size_t i = 0; i < a.size(); ++i) {
            if (!a[i].is_number_integer() || a[i].get<int64_t>() < 0 || a[i].get<int64_t>() > (1 << 20))
                return field_error(fmt::format("{}[{}]", path, i), "a non-negative integer", a[i]);
            out.push_back(a[i].get<int>());
        }
        return {};
    };
    const auto& cj = j.value("cpus", nlohmann::json());
    if (!cj.is_array()) return field_error("placement.cpus", "an array", cj);
    for (size_t i = 0; i < cj.size(); ++i) {
        auto path = fmt::format("placement.cpus[{}]", i);
        if (auto s = check_object(cj[i], path, {"cpu", "pus"}); !s) return s.error();
        CpuPlacement c;
        auto cpu = get_int(cj[i], "cpu", path, 0, 1 << 20);
        if (!cpu) return cpu.error();
        c.cpu = static_cast<int>(*cpu);
        if (auto s = ints(cj[i].value("pus", nlohmann::json()), path + ".pus", c.pus); !s)
            return s.error();
        p.cpus.push_back(std::move(c));
    }
    if (j.contains("mem_nodes"))
        if (auto s = ints(j["mem_nodes"], "placement.mem_nodes", p.mem_nodes); !s) return s.error();
    if (j.contains("objective")) {
        if (!j["objective"].is_array()) return field_error("placement.objective", "an array", j["objective"]);
        for (const auto& v : j["objective"]) {
            if (!v.is_number()) return field_error("placement.objective", "numbers", v);
            p.objective.push_back(v.get<double>());
        }
    }
    if (j.contains("trace")) {
        if (!j["trace"].is_array()) return field_error("placement.trace", "an array", j["trace"]);
        for (const auto& v : j["trace"]) {
            if (!v.is_string()) return field_error("placement.trace", "strings", v);
            p.trace.push_back(v.get<std::string>());
        }
    }
    return p;
}

std::string Placement::to_string() const {
    std::string s = tenant + ":";
    for (const auto& c : cpus) s += fmt::format(" cpu{}->{{{}}}", c.cpu, format_cpulist(c.pus));
    s += fmt::format(" mems {{{}}}", mem_nodes.empty() ? "all" : format_cpulist(mem_nodes));
    return s;
}

}  // namespace vtasos
