#include "client_transport.h"

#include <fmt/format.h>

#include "vtasos/client.h"

namespace vtasos::mpi {
namespace {

Errc errc_of(int rc) {
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
        default:
            return Errc::kInternal;
    }
}

}  // namespace

std::string default_socket() {
    const char* s = vtasos_default_socket();
    return s ? s : "";
}

Result<std::unique_ptr<Transport>> ClientTransport::connect(const std::string& socket,
                                                            int timeout_ms) {
    vtasos_client* c = nullptr;
    int rc = vtasos_connect(socket.empty() ? nullptr : socket.c_str(), timeout_ms, &c);
    if (rc != VTASOS_OK) return Error(errc_of(rc), vtasos_last_error(nullptr));
    return std::unique_ptr<Transport>(new ClientTransport(c));
}

ClientTransport::~ClientTransport() { vtasos_close(c_); }

Result<nlohmann::json> ClientTransport::call(const nlohmann::json& request) {
    char* reply = nullptr;
    int rc = vtasos_call_alloc(c_, request.dump().c_str(), &reply);
    if (rc != VTASOS_OK && rc != VTASOS_E_REFUSED) {
        std::string msg = vtasos_last_error(c_);
        vtasos_free(reply);
        return Error(errc_of(rc), fmt::format("{}: {}", request.value("op", std::string("call")),
                                              msg.empty() ? vtasos_strerror(rc) : msg));
    }
    if (!reply) return Error(Errc::kProtocol, "empty reply");
    auto j = nlohmann::json::parse(reply, nullptr, false);
    vtasos_free(reply);
    if (j.is_discarded() || !j.is_object())
        return Error(Errc::kProtocol, "reply is not a JSON object");
    return j;
}

}  // namespace vtasos::mpi
