#include "vtasos/core/profile.h"

#include <fmt/format.h>

#include "vtasos/core/json_fields.h"

namespace vtasos {

nlohmann::json Profile::to_json() const {
    nlohmann::json j = {{"name", name},
                        {"match", match},
                        {"threads", threads},
                        {"region_rate_hz", region_rate_hz},
                        {"barrier_rate_hz", barrier_rate_hz},
                        {"sync_fraction", sync_fraction},
                        {"imbalance", imbalance},
                        {"bandwidth", {{"class", vtasos::to_string(bandwidth.cls)}}}};
    if (bandwidth.gbps) j["bandwidth"]["gbps"] = *bandwidth.gbps;
    if (coexist) j["coexist"] = vtasos::to_string(*coexist);
    if (gang) j["gang"] = *gang;
    if (footprint_mb) j["footprint_mb"] = *footprint_mb;
    if (!note.empty()) j["note"] = note;
    return j;
}

Result<Profile> Profile::from_json(const nlohmann::json& j) {
    using namespace vtasos::json;
    const std::string path = "profile";
    if (auto s = check_object(
            j, path,
            {"name", "match", "threads", "region_rate_hz", "barrier_rate_hz", "sync_fraction",
             "imbalance", "bandwidth", "coexist", "gang", "footprint_mb", "note", "$schema"});
        !s)
        return s.error();
    Profile p;
    auto name = get_string(j, "name", path, 64, true);
    if (!name) return name.error();
    p.name = *name;
    if (j.contains("match")) {
        const auto& m = j["match"];
        if (!m.is_array() || m.size() > 64) return field_error("profile.match", "an array of names", m);
        for (size_t i = 0; i < m.size(); ++i) {
            if (!m[i].is_string() || m[i].get_ref<const std::string&>().empty() ||
                m[i].get_ref<const std::string&>().size() > 255 ||
                m[i].get_ref<const std::string&>().find('/') != std::string::npos)
                return field_error(fmt::format("profile.match[{}]", i),
                                   "an executable base name (no '/')", m[i]);
            p.match.push_back(m[i].get<std::string>());
        }
    }
    auto th = get_int(j, "threads", path, 0, kMaxCpusPerRequest, 0);
    if (!th) return th.error();
    p.threads = static_cast<int>(*th);
    struct NumField {
        const char* key;
        double* out;
        double hi;
    };
    for (auto f : {NumField{"region_rate_hz", &p.region_rate_hz, 1e9},
                   NumField{"barrier_rate_hz", &p.barrier_rate_hz, 1e9},
                   NumField{"sync_fraction", &p.sync_fraction, 1.0},
                   NumField{"imbalance", &p.imbalance, 100.0}}) {
        auto v = get_number(j, f.key, path, 0, f.hi, 0.0);
        if (!v) return v.error();
        *f.out = *v;
    }
    if (j.contains("bandwidth")) {
        // Reuse the request's bandwidth parser by wrapping it in a minimal request.
        nlohmann::json rq = {{"tenant", "profile"}, {"cpus", 1}, {"bandwidth", j["bandwidth"]}};
        auto r = Request::from_json(rq);
        if (!r) {
            std::string msg = r.error().message();
            if (msg.rfind("request.", 0) == 0) msg = "profile." + msg.substr(8);
            return Error(Errc::kInvalidArgument, msg);
        }
        p.bandwidth = r->bandwidth;
    }
    if (j.contains("coexist")) {
        if (!j["coexist"].is_string()) return field_error("profile.coexist", "a coexist level", j["coexist"]);
        auto c = parse_coexist(j["coexist"].get<std::string>());
        if (!c)
            return field_error("profile.coexist", "one of pu|core|socket|node|none", j["coexist"]);
        p.coexist = *c;
    }
    if (j.contains("gang")) {
        auto g = get_bool(j, "gang", path);
        if (!g) return g.error();
        p.gang = *g;
    }
    if (j.contains("footprint_mb")) {
        auto v = get_number(j, "footprint_mb", path, 0, 1e9, 0.0);
        if (!v) return v.error();
        p.footprint_mb = *v;
    }
    if (j.contains("note")) {
        auto n = get_string(j, "note", path, 4096, false);
        if (!n) return n.error();
        p.note = *n;
    }
    return p;
}

std::string Profile::to_string() const {
    return fmt::format("{}: threads {} regions {:.1f}/s barriers {:.1f}/s sync {:.0f}% bw {}", name,
                       threads, region_rate_hz, barrier_rate_hz, sync_fraction * 100,
                       bandwidth.gbps ? fmt::format("{:.1f}GB/s", *bandwidth.gbps)
                                      : std::string(vtasos::to_string(bandwidth.cls)));
}

}  // namespace vtasos
