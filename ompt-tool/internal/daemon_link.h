// DaemonLink: the tool's connection to vtasosd through the client library
// (hv-backend/client). Built only when the vtasos-client target exists
// (VTASOS_OMPT_HAVE_CLIENT); without it the tool is monitor-only.
//
// One connection, registered as a non-detached tenant: if the process dies
// the daemon sees the connection close and cleans the tenant up. The
// connection is not thread-safe; after registration only the feedback thread
// uses it, and finalize uses it after joining that thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "feedback.h"
#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

struct vtasos_client;

namespace vtasos::ompt {

class DaemonLink {
public:
    // Connects (connect_timeout_ms bounds the connection and every later call)
    // and registers `tenant` for this process with `request`, naming `profile`
    // when one was chosen. Errors: kUnavailable (no daemon: the normal
    // monitor-only case), kTimeout, kInvalidArgument / kInfeasible / ... (the
    // daemon refused; the message is the daemon's), kProtocol.
    static Result<std::unique_ptr<DaemonLink>> open(const std::optional<std::string>& socket,
                                                    const std::string& tenant,
                                                    const Request& request, int timeout_ms);
    ~DaemonLink();  // closes the connection (the daemon releases the tenant)

    const Placement& placement() const { return placement_; }
    const std::string& tenant() const { return tenant_; }
    const std::string& socket() const { return socket_; }
    Result<Advice> advice();
    Status update(const std::string& observations_json);
    Status release();

private:
    DaemonLink() = default;
    Error error_from(int rc, const char* what) const;
    vtasos_client* c_ = nullptr;
    std::string tenant_;
    std::string socket_;
    Placement placement_;
    bool released_ = false;
};

// AdviceSource over a DaemonLink (not owned). The daemon suggests the
// registered CPU count when the node is not oversubscribed; that means "no
// change", so it is passed on as 0 (the application's own team size stays).
class DaemonAdviceSource : public AdviceSource {
public:
    DaemonAdviceSource(DaemonLink* link, int registered_cpus)
        : link_(link), cpus_(registered_cpus) {}
    Result<Advice> advice() override {
        auto a = link_->advice();
        if (a && a->suggested_threads == cpus_) a->suggested_threads = 0;
        return a;
    }
    Status update(const std::string& j) override { return link_->update(j); }
    std::string describe() const override { return "vtasosd at " + link_->socket(); }

private:
    DaemonLink* link_;
    int cpus_;
};

}  // namespace vtasos::ompt
