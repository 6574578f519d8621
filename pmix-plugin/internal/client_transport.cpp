#include "client_transport.h"

#include <fmt/format.h>

#include "vtasos/client.h"
#include "vtasos/client.hpp"

namespace vtasos::mpi {

// Result codes map to Errc as in the C++ client (vtasos::client_errc); the
// Transport keeps refusals as reply objects, which the join logic reads.

std::string default_socket() {
    const char* s = vtasos_default_socket();
    return s ? s : "";
}

Result<std::unique_ptr<Transport>> ClientTransport::connect(const std::string& socket,
                                                            int timeout_ms) {
    vtasos_client* c = nullptr;
    int rc = vtasos_connect(socket.empty() ? nullptr : socket.c_str(), timeout_ms, &c);
    if (rc != VTASOS_OK) return Error(client_errc(rc), vtasos_last_error(nullptr));
    return std::unique_ptr<Transport>(new ClientTransport(c));
}

ClientTransport::~ClientTransport() { vtasos_close(c_); }

Result<nlohmann::json> ClientTransport::call(const nlohmann::json& request) {
    char* reply = nullptr;
    int rc = vtasos_call_alloc(c_, request.dump().c_str(), &reply);
    if (rc != VTASOS_OK && rc != VTASOS_E_REFUSED) {
        std::string msg = vtasos_last_error(c_);
        vtasos_free(reply);
        return Error(client_errc(rc),
                     fmt::format("{}: {}", request.value("op", std::string("call")),
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
