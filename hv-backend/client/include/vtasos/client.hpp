// C++ wrapper over the C client API (client.h): vtasos value types in,
// vtasos::Result out. Header-only; link target vtasos::client_cpp (the C
// library plus vtasos_core).
//
//   auto c = vtasos::Client::connect();            // default socket, 5 s timeout
//   if (!c) return c.error();                      // kUnavailable: no daemon
//   vtasos::Client::RegisterOptions o;
//   o.request = vtasos::default_request("job-1", 4);
//   o.pids = {getpid()};
//   auto p = c->register_tenant("job-1", o);       // Result<Placement>
//   // errors carry the daemon's code: kInfeasible, kPermissionDenied, ...
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vtasos/client.h"
#include "vtasos/core/advice.h"
#include "vtasos/core/placement.h"
#include "vtasos/core/profile.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos {

// Maps a C result code to an Errc (VTASOS_E_REFUSED is mapped by the caller,
// which knows the daemon's code).
inline Errc client_errc(int rc) {
    switch (rc) {
        case VTASOS_OK:
            return Errc::kOk;
        case VTASOS_E_UNAVAILABLE:
            return Errc::kUnavailable;
        case VTASOS_E_TIMEOUT:
            return Errc::kTimeout;
        case VTASOS_E_PROTOCOL:
            return Errc::kProtocol;
        case VTASOS_E_INVAL:
            return Errc::kInvalidArgument;
        case VTASOS_E_NOMEM:
            return Errc::kBusy;
        default:
            return Errc::kInternal;
    }
}

class Client {
public:
    // Connects to `socket` ("" = vtasos_default_socket()). Errors: kUnavailable
    // (no daemon), kTimeout, kInvalidArgument.
    static Result<Client> connect(const std::string& socket = "", int timeout_ms = 5000) {
        vtasos_client* c = nullptr;
        int rc = vtasos_connect(socket.empty() ? nullptr : socket.c_str(), timeout_ms, &c);
        if (rc != VTASOS_OK) return Error(client_errc(rc), vtasos_last_error(nullptr));
        return Client(c);
    }

    Client(Client&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    Client& operator=(Client&& o) noexcept {
        if (this != &o) {
            vtasos_close(c_);
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() { vtasos_close(c_); }

    // Raw call: `request` needs "op" (+ its fields); "v" and "id" are filled in.
    // Returns the whole reply object when ok, else the daemon's error
    // (code from the reply, e.g. kInfeasible) or a transport error.
    Result<nlohmann::json> call(const nlohmann::json& request) {
        char* raw = nullptr;
        std::string text = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        int rc = vtasos_call_alloc(c_, text.c_str(), &raw);
        std::string line = raw ? raw : "";
        vtasos_free(raw);
        if (rc != VTASOS_OK && rc != VTASOS_E_REFUSED)
            return Error(client_errc(rc), vtasos_last_error(c_));
        auto reply = nlohmann::json::parse(line, nullptr, false);
        if (reply.is_discarded() || !reply.is_object())
            return Error(Errc::kProtocol, "reply is not a JSON object");
        if (rc == VTASOS_E_REFUSED) {
            std::string code = "internal", msg = vtasos_last_error(c_);
            if (auto e = reply.find("error"); e != reply.end() && e->is_object()) {
                if (e->contains("code") && (*e)["code"].is_string())
                    code = (*e)["code"].get<std::string>();
                if (e->contains("message") && (*e)["message"].is_string())
                    msg = (*e)["message"].get<std::string>();
            }
            return Error(errc_from_name(code), msg);
        }
        return reply;
    }
    Result<nlohmann::json> call(std::string_view op,
                                nlohmann::json fields = nlohmann::json::object()) {
        fields["op"] = std::string(op);
        return call(fields);
    }
    Result<nlohmann::json> call(const char* op) { return call(std::string_view(op)); }

    struct RegisterOptions {
        std::optional<Request> request;      // explicit request, or
        std::optional<std::string> profile;  // a profile name, or neither (daemon's choice)
        int cpus = 0;                        // with a profile / daemon's choice; 0 = daemon picks
        std::vector<int> pids;
        std::vector<int> threads;
        bool detached = false;
    };
    // Registers and returns the placement (the reply's "placement").
    Result<Placement> register_tenant(const std::string& tenant, const RegisterOptions& o) {
        nlohmann::json j = {{"tenant", tenant}, {"pids", o.pids}, {"detached", o.detached}};
        if (!o.threads.empty()) j["threads"] = o.threads;
        if (o.request) j["request"] = o.request->to_json();
        if (o.profile) j["profile"] = *o.profile;
        if (!o.request && o.cpus > 0) j["cpus"] = o.cpus;
        auto r = call("register", j);
        if (!r) return r.error();
        if (!r->contains("placement"))
            return Error(Errc::kProtocol, "register reply has no placement");
        return Placement::from_json((*r)["placement"]);
    }

    // Reports observations; returns the reply (replaced, reason, placement, advice).
    Result<nlohmann::json> update(const std::string& tenant, const Profile& observations) {
        return call("update", {{"tenant", tenant}, {"observations", observations.to_json()}});
    }

    Result<Advice> advice(const std::string& tenant) {
        auto r = call("advice", {{"tenant", tenant}});
        if (!r) return r.error();
        if (!r->contains("advice")) return Error(Errc::kProtocol, "advice reply has no advice");
        return Advice::from_json((*r)["advice"]);
    }

    Status release(const std::string& tenant) {
        auto r = call("release", {{"tenant", tenant}});
        if (!r) return r.error();
        return {};
    }

    vtasos_client* handle() { return c_; }

private:
    explicit Client(vtasos_client* c) : c_(c) {}
    vtasos_client* c_ = nullptr;
};

}  // namespace vtasos
