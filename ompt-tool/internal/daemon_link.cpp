#include "daemon_link.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "vtasos/client.h"
#include "vtasos/client.hpp"

namespace vtasos::ompt {

namespace {
constexpr size_t kReplyBytes = 256 * 1024;

}  // namespace

Error DaemonLink::error_from(int rc, const char* what) const {
    const char* detail = vtasos_last_error(c_);
    std::string d = detail ? detail : "";
    // A daemon refusal's detail is "code: message" (client.h): keep its code.
    Errc code = client_errc(rc);
    if (rc == VTASOS_E_REFUSED) {
        Errc named = errc_from_name(std::string_view(d).substr(0, d.find(':')));
        code = named == Errc::kInternal ? Errc::kPermissionDenied : named;
    }
    return Error(code,
                 fmt::format("{}: {}{}{}", what, vtasos_strerror(rc), d.empty() ? "" : ": ", d));
}

namespace {
Result<vtasos_client*> connect_to(const std::string& socket, int timeout_ms) {
    vtasos_client* c = nullptr;
    int rc = vtasos_connect(socket.c_str(), timeout_ms, &c);
    if (rc == VTASOS_OK) return c;
    const char* detail = vtasos_last_error(nullptr);
    return Error(client_errc(rc), fmt::format("connect {}: {}{}{}", socket, vtasos_strerror(rc),
                                              detail && *detail ? ": " : "", detail ? detail : ""));
}
}  // namespace

Result<std::unique_ptr<DaemonLink>> DaemonLink::attach(const std::optional<std::string>& socket,
                                                       const std::string& tenant, int timeout_ms) {
    std::unique_ptr<DaemonLink> link(new DaemonLink());
    link->tenant_ = tenant;
    link->attached_ = true;
    link->socket_ = socket ? *socket : std::string(vtasos_default_socket());
    auto c = connect_to(link->socket_, timeout_ms);
    if (!c) return c.error();
    link->c_ = *c;
    auto r = link->advice();
    if (!r) {
        if (r.error().code() == Errc::kNotFound)
            return Error(Errc::kNotFound, fmt::format("VTASOS_TENANT={}: no such tenant at {}",
                                                      tenant, link->socket_));
        return r.error().with_context("attach " + tenant);
    }
    if (!r->placement || r->placement->cpus.empty())
        return Error(Errc::kProtocol,
                     fmt::format("attach {}: the advice reply carries no placement", tenant));
    link->placement_ = std::move(*r->placement);
    return link;
}

Result<std::unique_ptr<DaemonLink>> DaemonLink::open(const std::optional<std::string>& socket,
                                                     const std::string& tenant,
                                                     const Request& request, int timeout_ms) {
    std::unique_ptr<DaemonLink> link(new DaemonLink());
    link->tenant_ = tenant;
    link->socket_ = socket ? *socket : std::string(vtasos_default_socket());
    auto c = connect_to(link->socket_, timeout_ms);
    if (!c) return c.error();
    link->c_ = *c;
    std::string req = request.to_json().dump();
    std::vector<char> reply(kReplyBytes);
    int pid = static_cast<int>(getpid());
    int rc = vtasos_register(link->c_, tenant.c_str(), req.c_str(), nullptr, &pid, 1, 0,
                             reply.data(), reply.size());
    if (rc != VTASOS_OK) return link->error_from(rc, "register");
    auto j = nlohmann::json::parse(reply.data(), nullptr, false);
    if (j.is_discarded()) return Error(Errc::kProtocol, "register: placement reply is not JSON");
    auto p = Placement::from_json(j);
    if (!p) return p.error().with_context("register: placement");
    link->placement_ = std::move(p).value();
    return link;
}

DaemonLink::~DaemonLink() { vtasos_close(c_); }

Result<AdviceReply> DaemonLink::advice() {
    // The raw call: the reply's placement and probe hint sit beside "advice".
    // Allocated: a big tenant's placement (with its solver trace) has no bound.
    std::string req = nlohmann::json{{"op", "advice"}, {"tenant", tenant_}}.dump();
    char* raw = nullptr;
    int rc = vtasos_call_alloc(c_, req.c_str(), &raw);
    if (rc != VTASOS_OK) {
        vtasos_free(raw);
        return error_from(rc, "advice");
    }
    auto j = nlohmann::json::parse(raw ? raw : "", nullptr, false);
    vtasos_free(raw);
    if (j.is_discarded() || !j.is_object() || !j.contains("advice"))
        return Error(Errc::kProtocol, "advice: reply is not JSON with an advice object");
    auto a = Advice::from_json(j["advice"]);
    if (!a) return a.error().with_context("advice");
    AdviceReply r;
    r.advice = std::move(*a);
    if (auto it = j.find("placement"); it != j.end()) {
        auto p = Placement::from_json(*it);
        if (p) r.placement = std::move(*p);
    }
    if (auto it = j.find("probe"); it != j.end() && it->is_object()) {
        int ms = it->value("update_ms", 0);
        if (ms >= 10 && ms <= 1000) r.update_ms = ms;
    }
    return r;
}

Status DaemonLink::update(const std::string& observations_json) {
    int rc = vtasos_update(c_, tenant_.c_str(), observations_json.c_str());
    if (rc != VTASOS_OK) return error_from(rc, "update");
    return {};
}

Status DaemonLink::release() {
    if (released_ || attached_) return {};
    released_ = true;
    int rc = vtasos_release(c_, tenant_.c_str());
    if (rc != VTASOS_OK) return error_from(rc, "release");
    return {};
}

// ---------------------------------------------------------------- DaemonSession

DaemonSession::DaemonSession(std::unique_ptr<DaemonLink> link, Options opt,
                             std::function<void(const Placement&)> on_placement)
    : link_(std::move(link)), opt_(std::move(opt)), on_placement_(std::move(on_placement)) {
    if (link_) last_placement_ = link_->placement();
    last_attempt_ = std::chrono::steady_clock::now();
}

std::string DaemonSession::describe() const {
    return "vtasosd at " + (opt_.socket ? *opt_.socket : std::string(vtasos_default_socket()));
}

void DaemonSession::drop(const Error& why) {
    link_.reset();  // closes the socket
    update_ms_ = 0;
    last_attempt_ = std::chrono::steady_clock::now();
    if (opt_.verbose > 0)
        std::fprintf(stderr,
                     "vtasos-ompt: %s: %s; advice stopped, monitoring only (reconnecting at most "
                     "every %lld ms)\n",
                     describe().c_str(), why.message().c_str(),
                     static_cast<long long>(opt_.reconnect_every.count()));
}

void DaemonSession::placement_seen(const Placement& p) {
    if (last_placement_ && last_placement_->cpus == p.cpus) return;
    last_placement_ = p;
    if (on_placement_) on_placement_(p);
}

Result<Advice> DaemonSession::advice() {
    if (!link_) {
        if (in_mpi_job_) return Error(Errc::kUnavailable, "placed as an MPI rank of a job tenant");
        // An OpenMP region before MPI_Init registered this process alone; at
        // MPI_Init the Open MPI hook joined it to its job, the daemon released
        // the solo tenant, and the hook published the rank's share
        // (VTASOS_MPI_SHARE, pmix-plugin/include/vtasos/mpi/share.h). Follow the
        // share instead of registering again.
        if (const char* share = getenv("VTASOS_MPI_SHARE"); share && *share) {
            in_mpi_job_ = true;
            auto j = nlohmann::json::parse(share, nullptr, /*allow_exceptions=*/false);
            if (!j.is_discarded())
                if (auto p = Placement::from_json(j); p && !p->cpus.empty()) placement_seen(*p);
            if (opt_.verbose > 0)
                std::fprintf(stderr,
                             "vtasos-ompt: now an MPI rank of a job tenant; following "
                             "its share\n");
            return Error(Errc::kUnavailable, "placed as an MPI rank of a job tenant");
        }
        auto now = std::chrono::steady_clock::now();
        if (now - last_attempt_ < opt_.reconnect_every)
            return Error(Errc::kUnavailable, "not connected (waiting to reconnect)");
        last_attempt_ = now;
        auto l = opt_.attach
                     ? DaemonLink::attach(opt_.socket, opt_.tenant, opt_.timeout_ms)
                     : DaemonLink::open(opt_.socket, opt_.tenant, opt_.request, opt_.timeout_ms);
        if (!l && !opt_.attach && l.error().code() == Errc::kAlreadyExists) {
            // A restarted daemon re-adopted this process's tenant from its
            // state file: take it back on this connection (release + register).
            vtasos_client* raw = nullptr;
            std::string sock = opt_.socket ? *opt_.socket : std::string(vtasos_default_socket());
            if (vtasos_connect(sock.c_str(), opt_.timeout_ms, &raw) == VTASOS_OK) {
                (void)vtasos_release(raw, opt_.tenant.c_str());
                vtasos_close(raw);
            }
            l = DaemonLink::open(opt_.socket, opt_.tenant, opt_.request, opt_.timeout_ms);
        }
        if (!l) return Error(Errc::kUnavailable, l.error().message());
        link_ = std::move(l).value();
        ++reconnects_;
        if (opt_.verbose > 0)
            std::fprintf(stderr, "vtasos-ompt: re-registered with %s as tenant %s: %s\n",
                         describe().c_str(), opt_.tenant.c_str(),
                         link_->placement().to_string().c_str());
        placement_seen(link_->placement());
    }
    auto r = link_->advice();
    if (!r) {
        Error e = r.error();
        drop(e);
        return e;
    }
    update_ms_ = r->update_ms;
    if (r->placement) placement_seen(*r->placement);
    Advice a = r->advice;
    if (a.suggested_threads == opt_.request.cpus) a.suggested_threads = 0;
    return a;
}

Status DaemonSession::update(const std::string& observations_json) {
    if (!link_) return Error(Errc::kUnavailable, "not connected");
    auto s = link_->update(observations_json);
    if (!s && s.error().code() != Errc::kInvalidArgument) drop(s.error());
    return s;
}

Status DaemonSession::release() {
    if (!link_) return {};
    auto s = link_->release();
    link_.reset();
    return s;
}

}  // namespace vtasos::ompt
