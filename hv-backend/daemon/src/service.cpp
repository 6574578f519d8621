#include "vtasos/daemon/service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <set>

#include "internal/log.h"
#include "internal/proc.h"
#include "internal/state.h"
#include "vtasos/core/json_fields.h"

namespace vtasos::daemon {
namespace {

using nlohmann::json;
namespace jf = vtasos::json;

Error not_found_tenant(std::string_view op, const std::string& tenant) {
    return Error(Errc::kNotFound, fmt::format("{}.tenant: no tenant \"{}\"", op, tenant));
}

// One line from the solver trace for logs and tables: the conclusion of its
// first line ("request ...: ... -> bandwidth-hungry: spread over packages").
std::string why_summary(const Placement& p) {
    if (p.trace.empty()) return "";
    const std::string& first = p.trace.front();
    auto arrow = first.rfind("-> ");
    return arrow == std::string::npos ? first : first.substr(arrow + 3);
}

std::vector<pid_t> pids_of(const TenantEntry& t) {
    std::vector<pid_t> out;
    for (const auto& p : t.processes) out.push_back(p.pid);
    return out;
}

}  // namespace

Service::Service(Topology topology, std::unique_ptr<Driver> driver,
                 std::optional<ProfileStore> profiles, ServiceConfig config)
    : solver_(std::move(topology), config.solver),
      driver_(std::move(driver)),
      caps_(driver_->caps()),
      profiles_(std::move(profiles)),
      config_(std::move(config)),
      topology_summary_(solver_.topology().to_string()) {}

Service::~Service() {
    for (auto& [name, t] : tenants_) close_pidfds(t);
}

// ---------------------------------------------------------------------------
// Recovery

void Service::recover() {
    std::set<std::string> thawed;
    if (auto r = driver_->thaw_all(); r) {
        for (const auto& name : *r) {
            thawed.insert(name);
            spdlog::info("event=thaw tenant={} reason=startup", log::quote(name));
        }
    } else {
        spdlog::warn("event=thaw_all result=error msg={}", log::quote(r.error().to_string()));
    }
    if (!config_.state_path.empty()) {
        auto st = state::read(config_.state_path);
        if (!st) {
            if (st.error().code() == Errc::kNotFound)
                spdlog::info("event=recover state={} tenants=0 reason=no_state_file",
                             log::quote(config_.state_path));
            else
                spdlog::error("event=recover result=error msg={}",
                              log::quote(st.error().to_string()));
        } else {
            const json& tj = (*st)["tenants"];
            for (const auto& e : tj.is_array() ? tj : json::array()) {
                std::string name = e.is_object() && e.contains("tenant") && e["tenant"].is_string()
                                       ? e["tenant"].get<std::string>()
                                       : std::string("?");
                auto drop = [&](std::string_view why) {
                    spdlog::info("event=drop tenant={} reason={}", log::quote(name),
                                 log::quote(why));
                };
                try {
                    if (!jf::is_valid_id(name) || tenants_.count(name)) {
                        drop("invalid or duplicate tenant id in state file");
                        continue;
                    }
                    auto rq = Request::from_json(e.at("request"));
                    auto pl = Placement::from_json(e.at("placement"));
                    if (!rq || !pl) {
                        drop(!rq ? rq.error().message() : pl.error().message());
                        continue;
                    }
                    std::set<int> known;
                    for (const auto& pu : topology().pus) known.insert(pu.os_index);
                    auto pus = pl->all_pus();
                    if (!std::all_of(pus.begin(), pus.end(),
                                     [&](int p) { return known.count(p); })) {
                        drop("placement does not fit this topology");
                        continue;
                    }
                    TenantEntry t;
                    t.request = std::move(*rq);
                    t.placement = std::move(*pl);
                    t.source = e.value("source", std::string("state"));
                    t.owner = e.at("owner_uid").get<uid_t>();
                    t.detached = e.value("detached", false);
                    t.replaced = e.value("replaced", false);
                    t.since = e.value("since", int64_t{0});
                    bool had_pids = false;
                    for (const auto& pj : e.value("pids", json::array())) {
                        had_pids = true;
                        pid_t pid = pj.at("pid").get<pid_t>();
                        uint64_t start = pj.at("start").get<uint64_t>();
                        if (!proc::alive(pid, start) || pid_tenant_.count(pid)) continue;
                        t.processes.push_back({pid, start, -1});
                    }
                    if (had_pids && t.processes.empty()) {
                        drop("its processes are gone");
                        continue;
                    }
                    if (!had_pids && !t.detached) {
                        drop("a reservation of a connection that no longer exists");
                        continue;
                    }
                    for (const auto& tid : e.value("threads", json::array())) {
                        pid_t x = tid.get<pid_t>();
                        for (const auto& p : t.processes)
                            if (proc::has_thread(p.pid, x)) {
                                t.threads.push_back(x);
                                break;
                            }
                    }
                    TenantTarget target{name, t.request.kind, pids_of(t), t.threads};
                    if (auto s = driver_->apply(target, t.placement); !s) {
                        drop("re-apply failed: " + s.error().to_string());
                        continue;
                    }
                    for (auto& p : t.processes) {
                        p.pidfd = proc::pidfd_open(p.pid);
                        pid_tenant_[p.pid] = name;
                        if (p.pidfd >= 0 && pidfd_hook_) pidfd_hook_(p.pid, p.pidfd, true);
                    }
                    spdlog::info("event=adopt tenant={} pids={} pus={} uid={}", log::quote(name),
                                 fmt::join(pids_of(t), ","), format_cpulist(t.placement.all_pus()),
                                 t.owner);
                    tenants_.emplace(name, std::move(t));
                } catch (const std::exception& ex) {
                    drop(std::string("malformed state entry: ") + ex.what());
                }
            }
        }
    }
    for (const auto& name : thawed) {
        if (tenants_.count(name)) continue;
        auto s = driver_->remove_stale(name);
        spdlog::info("event=remove_stale tenant={} result={}", log::quote(name),
                     s ? std::string("ok") : log::quote(s.error().to_string()));
    }
    // A process may have died between the liveness check and pidfd_open.
    std::vector<pid_t> dead;
    for (auto& [name, t] : tenants_)
        for (const auto& p : t.processes)
            if (p.pidfd < 0) dead.push_back(p.pid);
    for (pid_t p : dead) on_process_exit(p);
    save_state();
}

// ---------------------------------------------------------------------------
// Dispatch

std::string Service::handle_line(std::string_view line, const Peer& peer) {
    std::optional<int64_t> id;
    try {
        auto parsed = parse_message(line);
        id = parsed.id;
        if (!parsed.message) {
            spdlog::debug("event=bad_message uid={} conn={} code={} msg={}", peer.uid, peer.conn,
                          errc_name(parsed.message.error().code()),
                          log::quote(parsed.message.error().message()));
            return serialize(error_reply(id, parsed.message.error()));
        }
        return serialize(handle(*parsed.message, peer));
    } catch (const std::bad_alloc&) {
        return serialize(error_reply(id, Error(Errc::kBusy, "out of memory")));
    } catch (const std::exception& e) {
        spdlog::error("event=internal_error msg={}", log::quote(e.what()));
        return serialize(error_reply(id, Error(Errc::kInternal, e.what())));
    }
}

json Service::handle(const Message& m, const Peer& peer) {
    Result<json> r = Error(Errc::kInternal, "unhandled op");
    switch (m.op) {
        case Op::kHello:
            r = do_hello(std::get<HelloArgs>(m.args), peer);
            break;
        case Op::kRegister:
            r = do_register(std::get<RegisterArgs>(m.args), peer);
            break;
        case Op::kUpdate:
            r = do_update(std::get<UpdateArgs>(m.args), peer);
            break;
        case Op::kAdvice:
            r = do_advice(std::get<TenantArgs>(m.args), peer);
            break;
        case Op::kRelease:
            r = do_release(std::get<TenantArgs>(m.args), peer);
            break;
        case Op::kFreeze:
            r = do_freeze(std::get<TenantArgs>(m.args), peer, true);
            break;
        case Op::kThaw:
            r = do_freeze(std::get<TenantArgs>(m.args), peer, false);
            break;
        case Op::kStatus:
            r = do_status(peer);
            break;
        case Op::kTopology:
            r = do_topology();
            break;
        case Op::kThawAll:
            r = do_thaw_all(peer);
            break;
    }
    if (!r) return error_reply(m.id, r.error());
    json reply = std::move(*r);  // the op's fields, plus the envelope
    reply["v"] = kProtocolVersion;
    reply["id"] = m.id;
    reply["ok"] = true;
    return reply;
}

// ---------------------------------------------------------------------------
// Operations

json Service::driver_json() const {
    return {{"name", driver_->name()},          {"cpuset", caps_.cpuset},
            {"affinity", caps_.affinity},       {"freeze", caps_.freeze},
            {"cgroup_mode", caps_.cgroup_mode}, {"notes", caps_.notes}};
}

Result<json> Service::do_hello(const HelloArgs& a, const Peer& peer) {
    // Everything but the caller's uid and the tenant count is fixed for the
    // daemon's lifetime: built once (hello is the cheapest liveness probe).
    if (hello_.is_null()) {
        json ops = json::array();
        for (const auto& row : op_table()) ops.push_back(row.name);
        hello_ = {{"version", config_.version},
                  {"protocol", kProtocolVersion},
                  {"pid", static_cast<int64_t>(::getpid())},
                  {"driver", driver_json()},
                  {"topology", topology_summary_},
                  {"pus", topology().pus.size()},
                  {"max_message_bytes", kMaxMessageBytes},
                  {"ops", ops}};
        if (!caps_.freeze) hello_["degraded"] = "no freeze (gang scheduling off): " + caps_.notes;
    }
    json j = hello_;
    j["uid"] = peer.uid;
    j["tenants"] = tenants_.size();
    if (!a.client.empty())
        spdlog::debug("event=hello uid={} conn={} client={}", peer.uid, peer.conn,
                      log::quote(a.client));
    return j;
}

std::vector<Tenant> Service::others(std::string_view except) const {
    std::vector<Tenant> out;
    out.reserve(tenants_.size());
    for (const auto& [name, t] : tenants_)
        if (name != except) out.push_back({t.request, t.placement});
    return out;
}

Result<Request> Service::resolve_request(const RegisterArgs& a, std::string& source) const {
    if (a.request) {
        source = "request";
        return *a.request;
    }
    if (a.profile) {
        if (!profiles_)
            return Error(
                Errc::kNotFound,
                fmt::format("register.profile: no profile \"{}\" (no profile directory loaded)",
                            *a.profile));
        auto p = profiles_->get(*a.profile);
        if (!p) {
            std::string known;
            for (const auto& n : profiles_->names()) known += (known.empty() ? "" : ", ") + n;
            return Error(Errc::kNotFound,
                         fmt::format("register.profile: no profile \"{}\" (known: {})", *a.profile,
                                     known.empty() ? "none" : known));
        }
        source = "profile:" + p->name;
        return request_from_profile(*p, a.tenant, a.cpus);
    }
    if (profiles_ && !a.pids.empty()) {
        std::string exe = proc::exe_basename(a.pids.front());
        if (!exe.empty()) {
            if (const Profile* p = profiles_->match_executable(exe)) {
                source = fmt::format("profile:{} (matched executable {})", p->name, exe);
                return request_from_profile(*p, a.tenant, a.cpus);
            }
        }
    }
    source = "default";
    return default_request(a.tenant, a.cpus > 0 ? a.cpus : 1);
}

Result<json> Service::do_register(const RegisterArgs& a, const Peer& peer) {
    if (tenants_.size() >= config_.max_tenants)
        return Error(Errc::kBusy,
                     fmt::format("register: the daemon already holds {} tenants (the limit)",
                                 config_.max_tenants));
    if (tenants_.count(a.tenant))
        return Error(Errc::kAlreadyExists,
                     fmt::format("register.tenant: tenant \"{}\" already exists", a.tenant));
    std::vector<TenantProcess> procs;
    for (size_t i = 0; i < a.pids.size(); ++i) {
        pid_t pid = a.pids[i];
        auto uid = proc::owner(pid);
        if (!uid)
            return Error(uid.error().code(),
                         fmt::format("register.pids[{}]: {}", i, uid.error().message()));
        if (peer.uid != 0 && *uid != peer.uid)
            return Error(
                Errc::kPermissionDenied,
                fmt::format("register.pids[{}]: process {} belongs to uid {}, the caller is uid {}",
                            i, pid, *uid, peer.uid));
        if (auto it = pid_tenant_.find(pid); it != pid_tenant_.end())
            return Error(
                Errc::kAlreadyExists,
                fmt::format("register.pids[{}]: process {} already belongs to tenant \"{}\"", i,
                            pid, it->second));
        auto start = proc::start_time(pid);
        if (!start || !proc::alive(pid))
            return Error(Errc::kNotFound, fmt::format("register.pids[{}]: no process {}", i, pid));
        procs.push_back({pid, *start, -1});
    }
    for (size_t i = 0; i < a.threads.size(); ++i) {
        bool found = std::any_of(a.pids.begin(), a.pids.end(),
                                 [&](pid_t p) { return proc::has_thread(p, a.threads[i]); });
        if (!found)
            return Error(
                Errc::kInvalidArgument,
                fmt::format("register.threads[{}]: {} is not a thread of the registered pids", i,
                            a.threads[i]));
    }
    std::string source;
    auto req = resolve_request(a, source);
    if (!req) return req.error();
    req->tenant = a.tenant;
    if (auto s = req->validate(); !s) return s.error().with_context("register");
    if (a.threads.size() > static_cast<size_t>(req->cpus))
        return Error(
            Errc::kInvalidArgument,
            fmt::format("register.threads: {} thread ids for {} cpus (at most one per cpu)",
                        a.threads.size(), req->cpus));
    auto placement = solver_.place(*req, others(""));
    if (!placement) {
        spdlog::info("event=reject tenant={} uid={} cpus={} request={} reason={}",
                     log::quote(a.tenant), peer.uid, req->cpus, log::quote(req->to_string()),
                     log::quote(placement.error().message()));
        return placement.error().with_context("register");
    }
    for (size_t i = 0; i < procs.size(); ++i) {
        auto& p = procs[i];
        p.pidfd = proc::pidfd_open(p.pid);
        int err = errno;
        // The pidfd must name the process whose owner was checked, not a
        // successor that recycled its pid in between.
        bool same =
            p.pidfd >= 0 && proc::start_time(p.pid) == std::optional<uint64_t>(p.start_time);
        if (!same) {
            for (auto& q : procs)
                if (q.pidfd >= 0) ::close(q.pidfd);
            if (p.pidfd >= 0 || err == ESRCH)
                return Error(Errc::kNotFound,
                             fmt::format("register.pids[{}]: process {} exited", i, p.pid));
            return Error(Errc::kIo, fmt::format("register.pids[{}]: pidfd_open({}): {}", i, p.pid,
                                                std::strerror(err)));
        }
    }
    TenantTarget target{a.tenant, req->kind, a.pids, a.threads};
    if (auto s = driver_->apply(target, *placement); !s) {
        for (auto& q : procs) ::close(q.pidfd);
        (void)driver_->release(a.tenant);
        spdlog::warn("event=apply tenant={} result=error msg={}", log::quote(a.tenant),
                     log::quote(s.error().to_string()));
        return s.error().with_context("register: apply");
    }
    TenantEntry t;
    t.request = *req;
    t.placement = *placement;
    t.source = source;
    t.owner = peer.uid;
    t.conn = peer.conn;
    t.detached = a.detached;
    t.processes = std::move(procs);
    t.threads = a.threads;
    t.since = static_cast<int64_t>(std::time(nullptr));
    for (auto& p : t.processes) {
        pid_tenant_[p.pid] = a.tenant;
        if (pidfd_hook_) pidfd_hook_(p.pid, p.pidfd, true);
    }
    spdlog::info("event=place tenant={} uid={} pids={} source={} request={} pus={} why={}",
                 log::quote(a.tenant), peer.uid, fmt::join(a.pids, ","), log::quote(source),
                 log::quote(req->to_string()), format_cpulist(placement->all_pus()),
                 log::quote(why_summary(*placement)));
    json reply = {{"tenant", a.tenant},
                  {"source", source},
                  {"request", req->to_json()},
                  {"placement", placement->to_json()}};
    tenants_.emplace(a.tenant, std::move(t));
    save_state();
    return reply;
}

Result<TenantEntry*> Service::find_owned(std::string_view op, const std::string& tenant,
                                         const Peer& peer) {
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) return not_found_tenant(op, tenant);
    if (peer.uid != 0 && it->second.owner != peer.uid)
        return Error(Errc::kPermissionDenied,
                     fmt::format("{}.tenant: tenant \"{}\" belongs to uid {}, the caller is uid {}",
                                 op, tenant, it->second.owner, peer.uid));
    return &it->second;
}

int64_t Service::total_demand() const {
    int64_t demand = 0;
    for (const auto& [n, x] : tenants_) demand += x.request.cpus;
    return demand;
}

Advice Service::advice_for(const TenantEntry& t) const { return advice_for(t, total_demand()); }

Advice Service::advice_for(const TenantEntry& t, int64_t demand) const {
    Advice a;
    auto pus = static_cast<int64_t>(topology().pus.size());
    a.node_load = pus > 0 ? static_cast<double>(demand) / static_cast<double>(pus) : 0.0;
    a.gang = t.request.sched.gang;
    if (demand > pus && pus > 0) {
        a.suggested_threads = static_cast<int>(
            std::max<int64_t>(1, static_cast<int64_t>(t.request.cpus) * pus / demand));
        a.reason =
            fmt::format("node oversubscribed: {} cpus requested on {} PUs, use {} of {} threads",
                        demand, pus, a.suggested_threads, t.request.cpus);
    } else {
        a.suggested_threads = t.request.cpus;
        a.reason = fmt::format("node not oversubscribed: {} cpus requested on {} PUs", demand, pus);
    }
    return a;
}

Result<json> Service::do_update(const UpdateArgs& a, const Peer& peer) {
    auto found = find_owned("update", a.tenant, peer);
    if (!found) return found.error();
    TenantEntry& t = **found;
    t.observations = a.observations;
    Request next = t.request;
    const Profile& o = a.observations;
    if (o.bandwidth.cls != BandwidthClass::kUnknown || o.bandwidth.gbps)
        next.bandwidth = o.bandwidth;
    if (o.gang) next.sched.gang = *o.gang;
    const double thr = solver_.options().hungry_threshold_gbps;
    bool was_hungry = t.request.bandwidth.hungry(thr), now_hungry = next.bandwidth.hungry(thr);
    bool replaced = false;
    std::string reason = "observations recorded; placement unchanged";
    if (was_hungry != now_hungry) {
        if (t.replaced) {
            reason = "bandwidth class changed but the one re-placement was already used";
        } else {
            auto p = solver_.place(next, others(a.tenant));
            if (!p) {
                reason = "re-placement infeasible, keeping the placement: " + p.error().message();
            } else if (p->cpus == t.placement.cpus) {
                reason = "re-placement gives the same PUs";
            } else {
                TenantTarget target{a.tenant, next.kind, pids_of(t), t.threads};
                if (auto s = driver_->apply(target, *p); !s) {
                    reason = "re-placement could not be applied: " + s.error().to_string();
                } else {
                    spdlog::info("event=replace tenant={} from={} to={} bandwidth={} why={}",
                                 log::quote(a.tenant), format_cpulist(t.placement.all_pus()),
                                 format_cpulist(p->all_pus()), now_hungry ? "hungry" : "not_hungry",
                                 log::quote(why_summary(*p)));
                    t.placement = std::move(*p);
                    t.replaced = true;
                    replaced = true;
                    reason = now_hungry ? "re-placed: bandwidth-hungry, spread over packages"
                                        : "re-placed: not bandwidth-hungry, packed";
                }
            }
        }
    }
    t.request = std::move(next);
    spdlog::info("event=update tenant={} replaced={} observed={} reason={}", log::quote(a.tenant),
                 replaced, log::quote(o.to_string()), log::quote(reason));
    save_state();
    return json{{"tenant", a.tenant},
                {"replaced", replaced},
                {"reason", reason},
                {"request", t.request.to_json()},
                {"placement", t.placement.to_json()},
                {"advice", advice_for(t).to_json()}};
}

Result<json> Service::do_advice(const TenantArgs& a, const Peer& peer) {
    auto found = find_owned("advice", a.tenant, peer);
    if (!found) return found.error();
    return json{{"tenant", a.tenant}, {"advice", advice_for(**found).to_json()}};
}

Result<json> Service::do_release(const TenantArgs& a, const Peer& peer) {
    auto found = find_owned("release", a.tenant, peer);
    if (!found) return found.error();
    cleanup(a.tenant, "release");
    return json{{"released", a.tenant}};
}

Result<json> Service::do_freeze(const TenantArgs& a, const Peer& peer, bool freeze) {
    auto op = freeze ? "freeze" : "thaw";
    auto found = find_owned(op, a.tenant, peer);
    if (!found) return found.error();
    auto s = freeze ? driver_->freeze(a.tenant) : driver_->thaw(a.tenant);
    if (!s) return s.error().with_context(op);
    (*found)->frozen = freeze;
    spdlog::info("event={} tenant={} uid={}", op, log::quote(a.tenant), peer.uid);
    save_state();
    return json{{"tenant", a.tenant}, {"frozen", freeze}};
}

json Service::tenant_json(const std::string& name, const TenantEntry& t, int64_t demand) const {
    // Built key by key with moves: nlohmann's initializer lists deep-copy.
    json j = json::object();
    j["tenant"] = name;
    j["owner_uid"] = t.owner;
    j["pids"] = pids_of(t);
    j["threads"] = t.threads;
    j["detached"] = t.detached;
    j["connected"] = t.conn != 0;
    j["frozen"] = t.frozen;
    j["replaced"] = t.replaced;
    j["source"] = t.source;
    j["since"] = t.since;
    j["request"] = t.request.to_json();
    j["placement"] = t.placement.to_json();
    j["why"] = t.placement.trace;
    j["summary"] = why_summary(t.placement);
    j["advice"] = advice_for(t, demand).to_json();
    if (t.observations) j["observations"] = t.observations->to_json();
    return j;
}

Result<json> Service::do_status(const Peer&) {
    json tj = json::array();
    int64_t demand = total_demand();
    for (const auto& [name, t] : tenants_) tj.push_back(tenant_json(name, t, demand));
    double pus = static_cast<double>(topology().pus.size());
    json j = {{"version", config_.version},
              {"pid", static_cast<int64_t>(::getpid())},
              {"driver", driver_json()},
              {"topology", topology_summary_},
              {"pus", topology().pus.size()},
              {"load", pus > 0 ? static_cast<double>(demand) / pus : 0.0}};
    j["tenants"] = std::move(tj);
    return j;
}

Result<json> Service::do_topology() {
    return json{{"topology", topology().to_json()}, {"tree", topology().to_tree_string()}};
}

Result<json> Service::do_thaw_all(const Peer& peer) {
    json names = json::array();
    if (peer.uid == 0) {
        auto r = driver_->thaw_all();
        if (!r) return r.error().with_context("thaw_all");
        for (const auto& n : *r) names.push_back(n);
        for (auto& [n, t] : tenants_) t.frozen = false;
    } else {
        for (auto& [n, t] : tenants_) {
            if (t.owner != peer.uid) continue;
            if (auto s = driver_->thaw(n); !s) return s.error().with_context("thaw_all: " + n);
            t.frozen = false;
            names.push_back(n);
        }
    }
    spdlog::info("event=thaw_all uid={} tenants={}", peer.uid, names.size());
    save_state();
    return json{{"thawed", names}};
}

// ---------------------------------------------------------------------------
// Lifecycle

void Service::close_pidfds(TenantEntry& t) {
    for (auto& p : t.processes) {
        if (p.pidfd >= 0) {
            if (pidfd_hook_) pidfd_hook_(p.pid, p.pidfd, false);
            ::close(p.pidfd);
            p.pidfd = -1;
        }
        pid_tenant_.erase(p.pid);
    }
}

void Service::cleanup(const std::string& tenant, std::string_view reason) {
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) return;
    close_pidfds(it->second);
    auto s = driver_->release(tenant);
    spdlog::info("event=release tenant={} reason={} pus={} result={}", log::quote(tenant), reason,
                 format_cpulist(it->second.placement.all_pus()),
                 s ? std::string("ok") : log::quote(s.error().to_string()));
    tenants_.erase(it);
    save_state();
}

void Service::on_process_exit(pid_t pid) {
    auto it = pid_tenant_.find(pid);
    if (it == pid_tenant_.end()) return;
    std::string tenant = it->second;
    auto& t = tenants_.at(tenant);
    auto p = std::find_if(t.processes.begin(), t.processes.end(),
                          [&](const TenantProcess& x) { return x.pid == pid; });
    if (p != t.processes.end()) {
        if (p->pidfd >= 0) {
            if (pidfd_hook_) pidfd_hook_(pid, p->pidfd, false);
            ::close(p->pidfd);
        }
        t.processes.erase(p);
    }
    pid_tenant_.erase(pid);
    spdlog::info("event=exit tenant={} pid={} remaining={}", log::quote(tenant), pid,
                 t.processes.size());
    if (t.processes.empty())
        cleanup(tenant, "exit");
    else
        save_state();
}

void Service::on_disconnect(uint64_t conn) {
    std::vector<std::string> gone;
    for (auto& [name, t] : tenants_) {
        if (t.conn != conn) continue;
        if (t.detached)
            t.conn = 0;
        else
            gone.push_back(name);
    }
    for (const auto& n : gone) cleanup(n, "disconnect");
}

void Service::shutdown() {
    std::vector<std::string> names;
    for (const auto& [n, t] : tenants_) names.push_back(n);
    for (const auto& n : names) cleanup(n, "shutdown");
    save_state();
}

void Service::save_state() {
    if (config_.state_path.empty()) return;
    json tj = json::array();
    for (const auto& [name, t] : tenants_) {
        json pj = json::array();
        for (const auto& p : t.processes) pj.push_back({{"pid", p.pid}, {"start", p.start_time}});
        tj.push_back({{"tenant", name},
                      {"owner_uid", t.owner},
                      {"detached", t.detached},
                      {"frozen", t.frozen},
                      {"replaced", t.replaced},
                      {"source", t.source},
                      {"since", t.since},
                      {"pids", pj},
                      {"threads", t.threads},
                      {"request", t.request.to_json()},
                      {"placement", t.placement.to_json()}});
    }
    json j = {{"version", state::kStateVersion},
              {"daemon_pid", static_cast<int64_t>(::getpid())},
              {"topology", topology_summary_},
              {"tenants", tj}};
    if (auto s = state::write_atomic(config_.state_path,
                                     j.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
        !s)
        spdlog::error("event=save_state result=error msg={}", log::quote(s.error().to_string()));
}

}  // namespace vtasos::daemon
