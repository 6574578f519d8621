// DaemonLink: the tool's connection to vtasosd through the client library
// (hv-backend/client). Built only when the vtasos-client target exists
// (VTASOS_OMPT_HAVE_CLIENT); without it the tool is monitor-only.
//
// One connection, registered as a non-detached tenant: if the process dies
// the daemon sees the connection close and cleans the tenant up. Or attached:
// the process already belongs to a tenant someone else registered (`vtasosctl
// run` exports VTASOS_TENANT); the tool then reports observations and follows
// advice for that tenant, and never releases it (its owner does). The
// connection is not thread-safe; after registration only the feedback thread
// uses it, and finalize uses it after joining that thread.
//
// DaemonSession wraps it for the feedback loop and survives the daemon going
// away: the advice is withdrawn, and at most every `reconnect_every` (only at
// advice-poll time, on the helper thread) it connects and registers again
// under the same tenant id. A placement that differs from the last one (a
// re-placement seen in an advice reply, or a new one after re-registering) is
// handed to `on_placement`, which makes the OpenMP threads re-bind.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "feedback.h"
#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

struct vtasos_client;

namespace vtasos::ompt {

// An advice reply: the advice plus what the daemon adds around it.
struct AdviceReply {
    Advice advice;
    std::optional<Placement> placement;  // the tenant's current placement
    int update_ms = 0;                   // > 0: a probe asks for observations this often
};

class DaemonLink {
public:
    // Connects (connect_timeout_ms bounds the connection and every later call)
    // and registers `tenant` for this process with `request`. Errors:
    // kUnavailable (no daemon: the normal monitor-only case), kTimeout,
    // kAlreadyExists (the tenant id is taken), kInvalidArgument / kInfeasible /
    // ... (the daemon refused; the message is the daemon's), kProtocol.
    static Result<std::unique_ptr<DaemonLink>> open(const std::optional<std::string>& socket,
                                                    const std::string& tenant,
                                                    const Request& request, int timeout_ms);
    // Connects and joins the existing tenant `tenant` (advice gives its
    // placement). kNotFound: no such tenant.
    static Result<std::unique_ptr<DaemonLink>> attach(const std::optional<std::string>& socket,
                                                      const std::string& tenant, int timeout_ms);
    ~DaemonLink();  // closes the connection (the daemon releases a tenant it registered)
    bool attached() const { return attached_; }

    const Placement& placement() const { return placement_; }
    const std::string& tenant() const { return tenant_; }
    const std::string& socket() const { return socket_; }
    Result<AdviceReply> advice();
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
    bool attached_ = false;
};

class DaemonSession : public AdviceSource {
public:
    struct Options {
        std::optional<std::string> socket;
        std::string tenant;
        Request request;
        int timeout_ms = 500;  // connect + each call
        std::chrono::milliseconds reconnect_every{1000};
        int verbose = 0;
        bool attach = false;  // `tenant` is someone else's: join it, never register or release
    };
    // `link` is the registered connection (may be null: start disconnected).
    // `on_placement` runs on the helper thread.
    DaemonSession(std::unique_ptr<DaemonLink> link, Options opt,
                  std::function<void(const Placement&)> on_placement);

    // The daemon suggests the registered CPU count when the node is not
    // oversubscribed; that means "no change" and is passed on as 0.
    Result<Advice> advice() override;
    Status update(const std::string& observations_json) override;
    bool recoverable() const override { return true; }
    int update_period_ms() const override { return update_ms_; }
    std::string describe() const override;

    bool connected() const { return link_ != nullptr; }
    uint64_t reconnects() const { return reconnects_; }
    // Finalize, after the helper thread is joined.
    Status release();

private:
    void drop(const Error& why);
    void placement_seen(const Placement& p);

    std::unique_ptr<DaemonLink> link_;
    Options opt_;
    std::function<void(const Placement&)> on_placement_;
    std::optional<Placement> last_placement_;
    std::chrono::steady_clock::time_point last_attempt_{};
    int update_ms_ = 0;
    uint64_t reconnects_ = 0;
    bool in_mpi_job_ = false;  // absorbed into an MPI job tenant: never register again
};

}  // namespace vtasos::ompt
