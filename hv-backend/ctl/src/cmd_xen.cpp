#include "cmd_xen.h"

#include <cstdio>

#include "vtasos/client.hpp"
#include "vtasos/core/placement.h"

using nlohmann::json;

int run_register_domain(const std::string& socket, int timeout_ms, const std::string& tenant,
                        const std::string& domain, const json& fields, bool json_out) {
    auto client = vtasos::Client::connect(socket, timeout_ms);
    if (!client) {
        std::fprintf(stderr, "vtasosctl: %s\n", client.error().to_string().c_str());
        return 1;
    }
    json req = fields;
    req["op"] = "register";
    req["tenant"] = tenant;
    req["domain"] = domain;
    if (req.contains("request")) req["request"]["tenant"] = tenant;
    auto r = client->call(req);
    if (!r) {
        std::fprintf(stderr, "vtasosctl: %s\n", r.error().to_string().c_str());
        return 1;
    }
    if (json_out) {
        std::printf("%s\n", r->dump(2).c_str());
        return 0;
    }
    const json& d = (*r)["domain"];
    auto pl = vtasos::Placement::from_json(r->value("placement", json::object()));
    std::printf("tenant %s: domain %s (dom %lld, %d vcpus) on PUs %s\n", tenant.c_str(),
                d.value("name", "?").c_str(), d.value("domid", -1LL), d.value("vcpus", 0),
                pl ? vtasos::format_cpulist(pl->all_pus()).c_str() : "?");
    if (pl)
        for (const auto& c : pl->cpus)
            std::printf("  vcpu%d -> %s\n", c.cpu, vtasos::format_cpulist(c.pus).c_str());
    return 0;
}

void print_domains(const json& status) {
    for (const auto& t : status.value("tenants", json::array())) {
        if (!t.contains("domain") || !t["domain"].is_object()) continue;
        const json& d = t["domain"];
        std::string pool = d.contains("cpupool") && d["cpupool"].is_number()
                               ? d.value("cpupool_name", std::string("?")) + " (" +
                                     std::to_string(d["cpupool"].get<long long>()) + ")"
                               : "Pool-0 (shared)";
        std::printf("\ndomain %s (dom %lld) tenant %s: cpupool %s, %s\n",
                    d.value("name", "?").c_str(), d.value("domid", -1LL),
                    t.value("tenant", "?").c_str(), pool.c_str(),
                    d.value("paused", false) ? "paused (gang slice off)" : "running");
        std::printf("  %-5s %-4s %-10s %-8s %s\n", "VCPU", "CPU", "AFFINITY", "STATE", "RUN_S");
        for (const auto& v : d.value("vcpus", json::array()))
            std::printf("  %-5d %-4d %-10s %-8s %.3f\n", v.value("vcpu", -1), v.value("cpu", -1),
                        v.value("hard_affinity", std::string("?")).c_str(),
                        v.value("running", false) ? "running" : "waiting",
                        static_cast<double>(v.value("cpu_time_ns", 0ULL)) / 1e9);
    }
}
