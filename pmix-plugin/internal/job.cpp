#include "job.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <thread>

#include "vtasos/core/request.h"

namespace vtasos::mpi {
namespace {

using nlohmann::json;

void default_sleep(std::chrono::microseconds us) {
    timespec ts{static_cast<time_t>(us.count() / 1000000),
                static_cast<long>((us.count() % 1000000) * 1000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

Result<Placement> placement_of(const json& reply, const char* key, std::string_view op) {
    if (!reply.contains(key) || !reply[key].is_object())
        return Error(Errc::kProtocol, fmt::format("{}: the reply has no \"{}\" object", op, key));
    auto p = Placement::from_json(reply[key]);
    if (!p) return p.error().with_context(op);
    return p;
}

}  // namespace

Error reply_error(const json& reply, std::string_view op) {
    std::string code = "internal", message = "the daemon refused without a reason";
    if (reply.contains("error") && reply["error"].is_object()) {
        const json& e = reply["error"];
        if (e.contains("code") && e["code"].is_string()) code = e["code"].get<std::string>();
        if (e.contains("message") && e["message"].is_string())
            message = e["message"].get<std::string>();
    }
    return Error(errc_from_name(code), fmt::format("{}: {}", op, message));
}

json join_request(const JoinSpec& s) {
    json job = {{"local_rank", s.local_rank},
                {"local_size", s.local_size},
                {"threads", s.threads},
                {"wait_ms", s.wait_ms},
                {"oversubscribe", s.oversubscribed}};
    if (!s.nspace.empty()) job["nspace"] = s.nspace.substr(0, 255);
    if (s.rank >= 0) job["rank"] = s.rank;
    if (s.node_id >= 0) job["node"] = s.node_id;
    if (!s.hostname.empty()) job["host"] = s.hostname.substr(0, 255);
    json j = {
        {"op", "register"}, {"tenant", s.tenant}, {"pids", json::array({s.pid})}, {"job", job}};
    if (!s.profile.empty()) j["profile"] = s.profile;
    return j;
}

json leave_request(const std::string& tenant, pid_t pid) {
    return {{"op", "release"}, {"tenant", tenant}, {"pid", pid}};
}

json rank_register_request(const JoinSpec& s) {
    std::string tenant = fmt::format("{}.r{}", s.tenant, s.local_rank);
    if (tenant.size() > 64) tenant = fmt::format("{}.r{}", s.tenant.substr(0, 50), s.local_rank);
    json j = {{"op", "register"},
              {"tenant", tenant},
              {"pids", json::array({s.pid})},
              {"detached", true}};  // the pidfd ends it, not this connection
    if (!s.profile.empty()) {
        j["profile"] = s.profile;
        j["cpus"] = s.threads;
    } else if (s.oversubscribed) {
        Request r = default_request(tenant, s.threads);
        std::fill(r.coexist.begin(), r.coexist.end(), Coexist::kPu);
        j["request"] = r.to_json();
    } else {
        j["cpus"] = s.threads;  // the daemon matches the executable's profile, else its default
    }
    return j;
}

bool daemon_has_join(const json& hello) {
    if (!hello.is_object() || !hello.contains("features") || !hello["features"].is_array())
        return false;
    for (const auto& f : hello["features"])
        if (f.is_string() && f.get<std::string>() == "job") return true;
    return false;
}

Result<Share> join_job(Transport& t, const JoinSpec& s, bool has_join,
                       std::chrono::steady_clock::time_point deadline, const JoinClock& clock) {
    auto sleep = clock.sleep ? clock.sleep : default_sleep;
    if (!has_join) {
        json req = rank_register_request(s);
        auto r = t.call(req);
        if (!r) return r.error();
        if (!r->value("ok", false)) return reply_error(*r, "register");
        auto p = placement_of(*r, "placement", "register");
        if (!p) return p.error();
        Share sh;
        sh.tenant = req["tenant"].get<std::string>();
        sh.mode = "rank";
        sh.placement = std::move(*p);
        sh.arrived = 1;
        sh.expected = 1;
        sh.source = r->value("source", std::string());
        return sh;
    }
    json req = join_request(s);
    auto pause = std::chrono::microseconds(500);
    for (;;) {
        auto r = t.call(req);
        if (!r) return r.error();
        if (!r->value("ok", false)) return reply_error(*r, "register (job)");
        std::string state = r->value("state", std::string());
        if (state == "placed") {
            auto p = placement_of(*r, "share", "register (job)");
            if (!p) return p.error();
            Share sh;
            // A rank that came after its job was placed may get a tenant of its own.
            sh.tenant = r->value("tenant", s.tenant);
            sh.mode = "job";
            sh.placement = std::move(*p);
            sh.arrived = r->value("arrived", 1);
            sh.expected = r->value("expected", s.local_size);
            sh.source = r->value("source", std::string());
            return sh;
        }
        if (state != "waiting")
            return Error(Errc::kProtocol,
                         fmt::format("register (job): unexpected state \"{}\"", state));
        auto now = clock.now();
        if (now >= deadline) {
            int arrived = r->value("arrived", 0), expected = r->value("expected", s.local_size);
            (void)t.call(leave_request(s.tenant, s.pid));
            return Error(Errc::kTimeout,
                         fmt::format("{} of {} local ranks arrived before the timeout; "
                                     "this rank runs without placement",
                                     arrived, expected));
        }
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
        sleep(std::min(pause, left));
        pause = std::min(pause * 2, std::chrono::microseconds(10000));
    }
}

Status leave_job(Transport& t, const Share& share, pid_t pid) {
    json req = share.mode == "job" ? leave_request(share.tenant, pid)
                                   : json{{"op", "release"}, {"tenant", share.tenant}};
    auto r = t.call(req);
    if (!r) return r.error();
    if (r->value("ok", false)) return {};
    Error e = reply_error(*r, "release");
    if (e.code() == Errc::kNotFound) return {};
    return e;
}

}  // namespace vtasos::mpi
