#include "cmd_probe.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "vtasos/client.hpp"

namespace {

using nlohmann::json;

int fail(const vtasos::Error& e) {
    std::fprintf(stderr, "vtasosctl: %s\n", e.to_string().c_str());
    return 1;
}

std::string rates(const json& a) {
    std::string s;
    for (const auto& v : a) s += fmt::format("{}{:.0f}", s.empty() ? "" : " ", v.get<double>());
    return s;
}

void print_report(const json& p) {
    const std::string state = p.value("state", "?");
    std::printf("probe %s: ", p.value("tenant", "?").c_str());
    if (state != "done") {
        std::printf("%s%s\n", state.c_str(),
                    p.contains("error") ? (": " + p["error"].get<std::string>()).c_str() : "");
        return;
    }
    std::printf("bandwidth %s (drop %.1f %%, threshold %.0f %%)\n",
                p.value("bandwidth", "unknown").c_str(), p.value("drop", 0.0) * 100,
                p.value("threshold", 0.0) * 100);
    std::printf("  %s\n", p.value("reason", "").c_str());
    std::printf(
        "  streamer on PUs %s, tenant on PUs %s, %d samples\n",
        fmt::format("{}", fmt::join(p.value("probe_pus", std::vector<int>{}), ",")).c_str(),
        fmt::format("{}", fmt::join(p.value("tenant_pus", std::vector<int>{}), ",")).c_str(),
        p.value("samples", 0));
    if (p.contains("off_rates") && !p["off_rates"].empty())
        std::printf("  progress per CPU second: off [%s] on [%s]\n", rates(p["off_rates"]).c_str(),
                    rates(p["on_rates"]).c_str());
    if (p.contains("update_reason"))
        std::printf("  profile updated: %s\n", p["update_reason"].get<std::string>().c_str());
    if (p.contains("update_error"))
        std::printf("  profile not updated: %s\n", p["update_error"].get<std::string>().c_str());
}

}  // namespace

void add_probe_command(CLI::App& app, ProbeCommand& pc) {
    pc.sub = app.add_subcommand(
        "probe",
        "classify a tenant's bandwidth demand (high/low) with a streaming probe beside it");
    pc.sub->add_option("--tenant", pc.tenant, "tenant id")->required();
    pc.sub->add_option("--duration-ms", pc.duration_ms, "probe length in ms")
        ->capture_default_str()
        ->check(CLI::Range(1000, 60000));
    pc.sub->add_flag("--result", pc.result_only, "print the last probe's report, start nothing");
    pc.sub->add_flag("--json", pc.json_out, "print the report as JSON");
}

int run_probe_command(const std::string& socket, int timeout_ms, const ProbeCommand& pc) {
    auto client = vtasos::Client::connect(socket, timeout_ms);
    if (!client) return fail(client.error());
    json f = {{"tenant", pc.tenant}, {"duration_ms", pc.duration_ms}};
    if (pc.result_only) f["action"] = "result";
    auto r = client->call("probe", f);
    if (!r) return fail(r.error());
    json p = (*r)["probe"];
    // The daemon runs the probe in its event loop's timers; ask for the
    // report until it ends. Bounded: the probe's own length plus 10 s.
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(pc.duration_ms + 10000);
    while (p.value("state", "") == "running") {
        if (std::chrono::steady_clock::now() > deadline)
            return fail(vtasos::Error(vtasos::Errc::kTimeout,
                                      "probe: no result within its duration + 10 s"));
        int64_t left = p.value("remaining_ms", int64_t{100});
        usleep(static_cast<useconds_t>(std::clamp<int64_t>(left, 50, 250) * 1000));
        auto q = client->call("probe", json{{"tenant", pc.tenant}, {"action", "result"}});
        if (!q && q.error().code() == vtasos::Errc::kNotFound)
            return fail(vtasos::Error(vtasos::Errc::kNotFound,
                                      fmt::format("probe: tenant \"{}\" ended before the probe "
                                                  "finished; probe a longer run or use a shorter "
                                                  "--duration-ms",
                                                  pc.tenant)));
        if (!q) return fail(q.error());
        p = (*q)["probe"];
    }
    if (pc.json_out)
        std::printf("%s\n", p.dump(2).c_str());
    else
        print_report(p);
    return p.value("state", "") == "done" ? 0 : 1;
}
