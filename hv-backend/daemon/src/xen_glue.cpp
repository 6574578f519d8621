// Xen domain tenants in vtasosd: register with "domain", status of domains,
// the xenstore guest channel. See hv-backend/xen/README.md.
#include "xen_glue.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <ctime>

#include "internal/log.h"
#include "vtasos/daemon/service.h"

#ifdef VTASOS_HAVE_XEN
#include "vtasos/client.hpp"
#include "vtasos/xen/channel.h"
#include "vtasos/xen/xen_driver.h"
#endif

namespace vtasos::daemon {

using json = nlohmann::json;

void add_xen_flags(CLI::App& app, XenFlags& flags) {
    app.add_option("--xen-pools", flags.pools,
                   "xen: a cpupool per domain tenant: auto (coexist node/none) | always | never")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "always", "never"}));
    app.add_flag("!--no-xen-channel", flags.channel,
                 "xen: do not watch xenstore for guest requests");
}

#ifdef VTASOS_HAVE_XEN

namespace {
xen::XenDriver* as_xen(Driver& d) { return dynamic_cast<xen::XenDriver*>(&d); }

// The channel's daemon calls go through vtasosd's own socket, so a guest's
// request is served exactly like a native client's (one event loop, no locks).
class SocketSink : public xen::ChannelSink {
public:
    explicit SocketSink(std::string socket) : socket_(std::move(socket)) {}
    Result<json> register_domain(const std::string& tenant, uint32_t domid,
                                 const json& request) override {
        json r = request;
        r["tenant"] = tenant;
        return call({{"op", "register"},
                     {"tenant", tenant},
                     {"domain", std::to_string(domid)},
                     {"request", r}});
    }
    Result<json> update(const std::string& tenant, const json& obs) override {
        return call({{"op", "update"}, {"tenant", tenant}, {"observations", obs}});
    }
    Result<json> advice(const std::string& tenant) override {
        return call({{"op", "advice"}, {"tenant", tenant}});
    }
    Status release(const std::string& tenant) override {
        auto r = call({{"op", "release"}, {"tenant", tenant}});
        if (!r) return r.error();
        return {};
    }

private:
    Result<json> call(const json& req) {
        if (!client_) {
            auto c = Client::connect(socket_, 10000);
            if (!c) return c.error();
            client_.emplace(std::move(*c));
        }
        auto r = client_->call(req);
        if (!r && (r.error().code() == Errc::kIo || r.error().code() == Errc::kUnavailable))
            client_.reset();  // reconnect next time
        return r;
    }
    std::string socket_;
    std::optional<Client> client_;
};

class RealXenChannel : public XenChannel {
public:
    explicit RealXenChannel(std::unique_ptr<xen::ChannelWatcher> w) : w_(std::move(w)) {}
    ~RealXenChannel() override { w_->stop(); }

private:
    std::unique_ptr<xen::ChannelWatcher> w_;
};
}  // namespace

Status xen_setup(Driver& driver, const XenFlags& flags, const std::string& topology_spec,
                 Topology& topology) {
    auto* xd = as_xen(driver);
    if (!xd) return {};
    if (auto s = xd->probe(); !s) return s;
    auto policy = xen::parse_pool_policy(flags.pools);
    if (!policy) return policy.error().with_context("--xen-pools");
    xd->set_pool_policy(*policy);
    if (topology_spec == "live") {
        auto t = xd->topology();
        if (!t) return t.error().with_context("topology from the hypervisor");
        topology = std::move(*t);
        spdlog::info("event=topology source={} summary=\"{}\"", log::quote(topology.source),
                     topology.to_string());
    }
    return {};
}

std::unique_ptr<XenChannel> start_xen_channel(std::string_view driver_name, const XenFlags& flags,
                                              const std::string& socket_path) {
    if (driver_name != "xen" || !flags.channel) return nullptr;
    auto w = xen::start_channel_watcher(
        [socket_path] { return std::make_unique<SocketSink>(socket_path); });
    if (!w) {
        spdlog::warn("event=xen_channel result=error msg={} action=continue_without",
                     log::quote(w.error().to_string()));
        return nullptr;
    }
    spdlog::info("event=xen_channel result=ok watching=/local/domain/*/data/vtasos");
    return std::make_unique<RealXenChannel>(std::move(*w));
}

Result<json> Service::do_domain(const RegisterArgs& a, const Peer& peer) {
    auto* xd = as_xen(*driver_);
    if (!xd)
        return Error(Errc::kUnavailable,
                     fmt::format("register.domain: Xen domains need vtasosd --driver xen (this "
                                 "daemon runs driver \"{}\")",
                                 driver_->name()));
    if (peer.uid != 0)
        return Error(Errc::kPermissionDenied,
                     fmt::format("register.domain: only root may make a Xen domain a tenant "
                                 "(caller uid {})",
                                 peer.uid));
    if (tenants_.size() >= config_.max_tenants)
        return Error(Errc::kBusy, fmt::format("register: the daemon already holds {} tenants",
                                              config_.max_tenants));
    if (tenants_.count(a.tenant))
        return Error(Errc::kAlreadyExists,
                     fmt::format("register.tenant: tenant \"{}\" already exists", a.tenant));
    reap_gone_domains();
    auto dom = xd->resolve_domain(*a.domain);
    if (!dom) return dom.error();
    for (const auto& [name, t] : tenants_)
        if (t.domid == static_cast<int64_t>(dom->domid))
            return Error(Errc::kAlreadyExists,
                         fmt::format("register.domain: domain {} ({}) already belongs to tenant "
                                     "\"{}\"",
                                     dom->domid, dom->name, name));
    RegisterArgs b = a;
    if (!b.request && !b.profile && b.cpus == 0) b.cpus = dom->vcpus;
    std::string source;
    auto req = resolve_request(b, source);
    if (!req) return req.error();
    req->tenant = a.tenant;
    req->kind = TenantKind::kDomain;
    if (auto s = req->validate(); !s) return s.error().with_context("register");
    if (req->cpus > dom->vcpus)
        return Error(Errc::kInvalidArgument,
                     fmt::format("register.cpus: {} CPUs asked, but domain {} ({}) has {} vCPUs",
                                 req->cpus, dom->domid, dom->name, dom->vcpus));
    auto placement = solver_.place(*req, others(""));
    if (!placement) {
        spdlog::info("event=reject tenant={} domain={} request={} reason={}", log::quote(a.tenant),
                     dom->domid, log::quote(req->to_string()),
                     log::quote(placement.error().message()));
        return placement.error().with_context("register");
    }
    if (auto s = xd->bind_domain(a.tenant, dom->domid, *req); !s) return s.error();
    TenantTarget target{a.tenant, TenantKind::kDomain, {}, {}};
    if (auto s = driver_->apply(target, *placement); !s) {
        (void)driver_->release(a.tenant);  // unbinds; apply already rolled itself back
        spdlog::warn("event=apply tenant={} domain={} result=error msg={}", log::quote(a.tenant),
                     dom->domid, log::quote(s.error().to_string()));
        return s.error().with_context("register: apply");
    }
    // Detached: a domain lives on its own; released by release or when it is gone.
    auto t = TenantEntry::placed(*req, *placement, source, peer.uid, peer.conn, true);
    t.domain = dom->name;
    t.domid = dom->domid;
    spdlog::info("event=place tenant={} domain={} domid={} source={} request={} pus={}",
                 log::quote(a.tenant), log::quote(dom->name), dom->domid, log::quote(source),
                 log::quote(req->to_string()), format_cpulist(placement->all_pus()));
    json reply = {{"tenant", a.tenant},
                  {"source", source},
                  {"domain", {{"name", dom->name}, {"domid", dom->domid}, {"vcpus", dom->vcpus}}},
                  {"request", req->to_json()},
                  {"placement", placement->to_json()}};
    sched_join(a.tenant, tenants_.emplace(a.tenant, std::move(t)).first->second);
    save_state();
    return reply;
}

void Service::reap_gone_domains() {
    auto* xd = as_xen(*driver_);
    if (!xd) return;
    for (const auto& name : xd->gone_tenants()) {
        auto it = tenants_.find(name);
        if (it != tenants_.end() && !it->second.domain.empty()) cleanup(name, "domain_gone");
    }
}

json Service::domain_json(const std::string& tenant, const TenantEntry& t) const {
    json j = {{"name", t.domain}, {"domid", t.domid}};
    if (auto* xd = as_xen(*driver_))
        if (auto st = xd->domain_status(tenant); st) j.update(*st);
    return j;
}

#else  // no Xen support in this build

Status xen_setup(Driver&, const XenFlags&, const std::string&, Topology&) { return {}; }

std::unique_ptr<XenChannel> start_xen_channel(std::string_view, const XenFlags&,
                                              const std::string&) {
    return nullptr;
}

Result<json> Service::do_domain(const RegisterArgs&, const Peer&) {
    return Error(Errc::kUnavailable,
                 "register.domain: this vtasosd was built without Xen support (libxen-dev)");
}
void Service::reap_gone_domains() {}
json Service::domain_json(const std::string&, const TenantEntry& t) const {
    return {{"name", t.domain}, {"domid", t.domid}};
}

#endif

}  // namespace vtasos::daemon
