#include "daemon_link.h"

#include <fmt/format.h>
#include <unistd.h>

#include <vector>

#include "vtasos/client.h"

namespace vtasos::ompt {

namespace {
constexpr size_t kReplyBytes = 256 * 1024;

Errc errc_for(int rc) {
    switch (rc) {
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
        case VTASOS_E_REFUSED:
            return Errc::kPermissionDenied;
        default:
            return Errc::kInternal;
    }
}
}  // namespace

Error DaemonLink::error_from(int rc, const char* what) const {
    const char* detail = vtasos_last_error(c_);
    return Error(errc_for(rc), fmt::format("{}: {}{}{}", what, vtasos_strerror(rc),
                                           detail && *detail ? ": " : "", detail ? detail : ""));
}

Result<std::unique_ptr<DaemonLink>> DaemonLink::open(const std::optional<std::string>& socket,
                                                     const std::string& tenant,
                                                     const Request& request, int timeout_ms) {
    std::unique_ptr<DaemonLink> link(new DaemonLink());
    link->tenant_ = tenant;
    link->socket_ = socket ? *socket : std::string(vtasos_default_socket());
    int rc = vtasos_connect(link->socket_.c_str(), timeout_ms, &link->c_);
    if (rc != VTASOS_OK) {
        const char* detail = vtasos_last_error(nullptr);
        return Error(errc_for(rc),
                     fmt::format("connect {}: {}{}{}", link->socket_, vtasos_strerror(rc),
                                 detail && *detail ? ": " : "", detail ? detail : ""));
    }
    std::string req = request.to_json().dump();
    std::vector<char> reply(kReplyBytes);
    int pid = static_cast<int>(getpid());
    rc = vtasos_register(link->c_, tenant.c_str(), req.c_str(), nullptr, &pid, 1, 0, reply.data(),
                         reply.size());
    if (rc != VTASOS_OK) return link->error_from(rc, "register");
    auto j = nlohmann::json::parse(reply.data(), nullptr, false);
    if (j.is_discarded()) return Error(Errc::kProtocol, "register: placement reply is not JSON");
    auto p = Placement::from_json(j);
    if (!p) return p.error().with_context("register: placement");
    link->placement_ = std::move(p).value();
    return link;
}

DaemonLink::~DaemonLink() { vtasos_close(c_); }

Result<Advice> DaemonLink::advice() {
    char buf[4096];
    int rc = vtasos_advice(c_, tenant_.c_str(), buf, sizeof buf);
    if (rc != VTASOS_OK) return error_from(rc, "advice");
    auto j = nlohmann::json::parse(buf, nullptr, false);
    if (j.is_discarded()) return Error(Errc::kProtocol, "advice: reply is not JSON");
    auto a = Advice::from_json(j);
    if (!a) return a.error().with_context("advice");
    return a;
}

Status DaemonLink::update(const std::string& observations_json) {
    int rc = vtasos_update(c_, tenant_.c_str(), observations_json.c_str());
    if (rc != VTASOS_OK) return error_from(rc, "update");
    return {};
}

Status DaemonLink::release() {
    if (released_) return {};
    released_ = true;
    int rc = vtasos_release(c_, tenant_.c_str());
    if (rc != VTASOS_OK) return error_from(rc, "release");
    return {};
}

}  // namespace vtasos::ompt
