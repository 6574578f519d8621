// ClientTransport: Transport over libvtasos-client (hv-backend/client).
#pragma once

#include <memory>
#include <string>

#include "job.h"

struct vtasos_client;

namespace vtasos::mpi {

class ClientTransport : public Transport {
public:
    // socket "" = vtasos_default_socket(). Errors: kUnavailable (no daemon),
    // kTimeout, kInvalidArgument (path too long).
    static Result<std::unique_ptr<Transport>> connect(const std::string& socket, int timeout_ms);
    ~ClientTransport() override;
    Result<nlohmann::json> call(const nlohmann::json& request) override;

private:
    explicit ClientTransport(vtasos_client* c) : c_(c) {}
    vtasos_client* c_;
};

// vtasos_default_socket(), copied.
std::string default_socket();

}  // namespace vtasos::mpi
