#include "vtasos/daemon/service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <iterator>
#include <set>

#include "internal/log.h"
#include "internal/proc.h"
#include "internal/state.h"
#include "probe.h"
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

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The profile name of a tenant registered with one ("profile:NAME ..."), else "".
std::string profile_source(const std::string& source) {
    if (source.rfind("profile:", 0) != 0) return {};
    std::string name = source.substr(8);
    return name.substr(0, name.find(' '));
}

// The earlier of two timer deadlines in ns (-1: none).
int64_t earliest(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : std::min(a, b); }

// A pending job is dropped this long after its wait ended (its ranks gave up).
constexpr int64_t kPendingGraceMs = 10000;

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
      topology_summary_(solver_.topology().to_string()) {
    if (config_.sched_policy != gang::Policy::kOff) {
        struct SteadyClock : gang::Clock {
            int64_t now_ns() const override {
                return std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                    .count();
            }
        };
        struct DriverFreezer : gang::Freezer {
            Service* svc;
            explicit DriverFreezer(Service* s) : svc(s) {}
            Status freeze(std::string_view id) override { return set(id, true); }
            Status thaw(std::string_view id) override { return set(id, false); }
            Status set(std::string_view id, bool f) {
                // Not waiting for FREEZING -> FROZEN keeps the event loop (and
                // the daemon's CPU use) free; the state settles within ~1 ms.
                auto s = svc->driver_->request_frozen(id, f);
                auto it = svc->tenants_.find(std::string(id));
                if (s && it != svc->tenants_.end()) it->second.frozen = f;
                if (!s && s.error().code() == Errc::kNotFound) svc->sched_lost_.emplace_back(id);
                return s;
            }
        };
        sched_clock_ = std::make_unique<SteadyClock>();
        sched_freezer_ = std::make_unique<DriverFreezer>(this);
        sched_ =
            std::make_unique<gang::Scheduler>(*sched_freezer_, *sched_clock_, config_.slice_ms);
        spdlog::info("event=sched policy={} slice_ms={} freeze={}",
                     gang::policy_name(config_.sched_policy), config_.slice_ms, caps_.freeze);
    }
}

Service::~Service() {
    probe_cancel("", "daemon exit");
    if (sched_) sched_->thaw_all();
    for (auto& [name, t] : tenants_) close_pidfds(t);
}

// ---------------------------------------------------------------------------
// Recovery

TenantEntry TenantEntry::placed(Request request, Placement placement, std::string source,
                                uid_t owner, uint64_t conn, bool detached) {
    TenantEntry t;
    t.request = std::move(request);
    t.placement = std::move(placement);
    t.source = std::move(source);
    t.owner = owner;
    t.conn = conn;
    t.detached = detached;
    t.since = static_cast<int64_t>(std::time(nullptr));
    return t;
}

void Service::recover() {
    vm_recover();
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
                    if (e.contains("job")) {
                        // An MPI job: keep the ranks still running. (Re-applying
                        // widens each rank to the job's CPUs until it re-binds.)
                        auto jb = job::from_json(e["job"]);
                        if (!jb) {
                            drop(jb.error().message());
                            continue;
                        }
                        std::vector<job::Member> kept;
                        for (auto& m : jb->members)
                            for (const auto& p : t.processes)
                                if (p.pid == m.pid) {
                                    m.start_time = p.start_time;
                                    kept.push_back(m);
                                }
                        jb->members = std::move(kept);
                        if (jb->members.empty()) {
                            drop("its ranks are gone");
                            continue;
                        }
                        job::rebuild(*jb, name, t.request, t.placement);
                        t.job = std::move(*jb);
                    }
                    // A job's ranks bound themselves: keep their masks across the re-apply.
                    std::vector<job::ThreadMask> masks;
                    if (t.job) masks = job::save_affinity(pids_of(t));
                    TenantTarget target{name, t.request.kind, pids_of(t), t.threads};
                    if (auto s = driver_->apply(target, t.placement); !s) {
                        drop("re-apply failed: " + s.error().to_string());
                        continue;
                    }
                    int restore_failed = 0;
                    if (t.job)
                        (void)job::restore_affinity(*t.job, masks, t.placement.all_pus(),
                                                    &restore_failed);
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
    if (!peer.vm_tenant.empty()) return handle_channel(m, peer);  // a guest: vm_service.cpp
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
        case Op::kProbe:
            r = do_probe(std::get<ProbeArgs>(m.args), peer);
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
                  {"ops", ops},
                  {"features", json::array({"job", "vm"})}};
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
    if (a.vm) return do_vm(a, peer);
    if (a.job) return do_join(a, peer);
    if (a.domain) return do_domain(a, peer);
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
    auto t = TenantEntry::placed(*req, *placement, source, peer.uid, peer.conn, a.detached);
    t.processes = std::move(procs);
    t.threads = a.threads;
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
    sched_join(a.tenant, tenants_.emplace(a.tenant, std::move(t)).first->second);
    save_state();
    return reply;
}

// ---------------------------------------------------------------------------
// Job tenants (register with "job", release with "pid")

Result<json> Service::do_join(const RegisterArgs& a, const Peer& peer) {
    purge_pending();
    const JobArgs& g = *a.job;
    const pid_t pid = a.pids.front();
    auto uid = proc::owner(pid);
    if (!uid)
        return Error(uid.error().code(),
                     fmt::format("register.pids[0]: {}", uid.error().message()));
    if (peer.uid != 0 && *uid != peer.uid)
        return Error(
            Errc::kPermissionDenied,
            fmt::format("register.pids[0]: process {} belongs to uid {}, the caller is uid {}", pid,
                        *uid, peer.uid));
    auto start = proc::start_time(pid);
    if (!start || !proc::alive(pid))
        return Error(Errc::kNotFound, fmt::format("register.pids[0]: no process {}", pid));

    // The process may hold a tenant of its own already: the OMPT tool
    // registers at the first OpenMP construct, which may come before MPI_Init.
    // The job wins: once the join is valid, that solo tenant is released and
    // the pid joins. A tenant with other processes, another owner's or a job's
    // is never taken apart (the join is refused instead).
    auto solo_of = [&]() -> std::optional<std::string> {
        auto it = pid_tenant_.find(pid);
        if (it == pid_tenant_.end()) return std::nullopt;
        const TenantEntry& st = tenants_.at(it->second);
        if (st.job || st.processes.size() != 1 || st.request.kind != TenantKind::kProcess ||
            (peer.uid != 0 && st.owner != peer.uid))
            return std::nullopt;
        return it->second;
    };
    auto absorb = [&](const std::string& solo) {
        spdlog::info("event=absorb tenant={} pid={} job={}", log::quote(solo), pid,
                     log::quote(a.tenant));
        cleanup(solo, "joined_job");
    };

    // Placed already: a poll from a member, or a rank that comes late.
    if (auto it = tenants_.find(a.tenant); it != tenants_.end()) {
        const TenantEntry& t = it->second;
        if (!t.job)
            return Error(Errc::kAlreadyExists,
                         fmt::format("register.tenant: tenant \"{}\" exists and is not an MPI job",
                                     a.tenant));
        if (peer.uid != 0 && t.owner != peer.uid)
            return Error(Errc::kPermissionDenied,
                         fmt::format("register.tenant: job \"{}\" belongs to uid {}, the caller is "
                                     "uid {}",
                                     a.tenant, t.owner, peer.uid));
        if (job::find(*t.job, pid)) return join_reply(a.tenant, t, pid);
        if (auto solo = solo_of()) absorb(*solo);
        return do_join_late(a, peer, t);
    }
    const std::optional<std::string> solo = solo_of();
    if (auto it = pid_tenant_.find(pid); it != pid_tenant_.end() && !solo)
        return Error(Errc::kAlreadyExists,
                     fmt::format("register.pids[0]: process {} already belongs to tenant \"{}\"",
                                 pid, it->second));

    auto [pit, created] = pending_jobs_.try_emplace(a.tenant);
    job::Pending& pj = pit->second;
    if (created) {
        if (tenants_.size() + pending_jobs_.size() > config_.max_tenants) {
            pending_jobs_.erase(pit);
            return Error(Errc::kBusy,
                         fmt::format("register: the daemon already holds {} tenants (the limit)",
                                     config_.max_tenants));
        }
        pj.info.nspace = g.nspace;
        pj.info.node = static_cast<int>(g.node);
        pj.info.host = g.host;
        pj.info.expected = g.local_size;
        pj.info.threads = g.threads;
        // A rank absorbed from a solo tenant counted its usable CPUs inside that
        // tenant's cgroup: its oversubscribe guess is moot (place_job still
        // time-shares when the job needs more CPUs than PUs).
        pj.info.oversubscribe = g.oversubscribe && !solo;
        pj.info.profile = a.profile;
        pj.owner = peer.uid;
        pj.first_ms = steady_ms();
        pj.wait_ms = g.wait_ms;
        spdlog::info("event=job_wait tenant={} uid={} expected={} threads={} wait_ms={} nspace={}",
                     log::quote(a.tenant), peer.uid, g.local_size, g.threads, g.wait_ms,
                     log::quote(g.nspace));
    } else {
        if (peer.uid != 0 && pj.owner != peer.uid)
            return Error(Errc::kPermissionDenied,
                         fmt::format("register.tenant: job \"{}\" belongs to uid {}, the caller is "
                                     "uid {}",
                                     a.tenant, pj.owner, peer.uid));
        if (g.local_size != pj.info.expected)
            return Error(
                Errc::kInvalidArgument,
                fmt::format("register.job.local_size: {}, but the job's first rank said {}",
                            g.local_size, pj.info.expected));
        if (g.threads != pj.info.threads)
            return Error(Errc::kInvalidArgument,
                         fmt::format("register.job.threads: {}, but the job's first rank said {}",
                                     g.threads, pj.info.threads));
    }
    if (pj.failed) return *pj.failed;
    bool member = false;
    for (const auto& m : pj.info.members) {
        if (m.pid == pid)
            member = true;
        else if (m.local_rank == g.local_rank)
            return Error(Errc::kAlreadyExists,
                         fmt::format("register.job.local_rank: local rank {} of \"{}\" already "
                                     "joined as process {}",
                                     g.local_rank, a.tenant, m.pid));
    }
    if (solo) absorb(*solo);
    if (!member) pj.info.members.push_back({pid, *start, g.local_rank, g.rank, {}, {}});
    const int arrived = static_cast<int>(pj.info.members.size());
    const bool all = arrived >= pj.info.expected;
    const bool waited = steady_ms() - pj.first_ms >= pj.wait_ms;
    if (!all && !waited)
        return json{{"tenant", a.tenant},
                    {"state", "waiting"},
                    {"arrived", arrived},
                    {"expected", pj.info.expected}};
    auto placed = place_job(a.tenant, pj);
    if (!placed) {
        spdlog::info("event=reject tenant={} uid={} ranks={} reason={}", log::quote(a.tenant),
                     peer.uid, arrived, log::quote(placed.error().message()));
        pj.failed = placed.error();
        return placed.error();
    }
    pending_jobs_.erase(a.tenant);
    const TenantEntry& t = tenants_.at(a.tenant);
    if (!job::find(*t.job, pid))
        return Error(Errc::kNotFound, fmt::format("register.pids[0]: process {} exited", pid));
    return join_reply(a.tenant, t, pid);
}

Result<std::string> Service::place_job(const std::string& tenant, job::Pending& pj) {
    auto& members = pj.info.members;
    std::erase_if(members, [](const job::Member& m) { return !proc::alive(m.pid, m.start_time); });
    if (members.empty())
        return Error(Errc::kNotFound, "register.job: every rank of the job has exited");
    std::sort(members.begin(), members.end(), [](const job::Member& x, const job::Member& y) {
        return x.local_rank < y.local_rank;
    });
    if (tenants_.size() >= config_.max_tenants)
        return Error(Errc::kBusy,
                     fmt::format("register: the daemon already holds {} tenants (the limit)",
                                 config_.max_tenants));
    const int threads = pj.info.threads;
    const int n = static_cast<int>(members.size());
    const int cpus = n * threads;
    RegisterArgs ra;
    ra.tenant = tenant;
    ra.pids = {members.front().pid};
    ra.profile = pj.info.profile;
    ra.cpus = cpus;
    std::string source;
    auto req = resolve_request(ra, source);
    if (!req) return req.error();
    req->tenant = tenant;
    if (req->cpus != cpus) {
        Coexist c = req->coexist.empty() ? Coexist::kSocket : req->coexist.front();
        req->cpus = cpus;
        req->coexist.assign(static_cast<size_t>(cpus), c);
        req->groups.clear();
    }
    // More CPUs than PUs (mpirun --oversubscribe): the ranks time-share PUs.
    if (pj.info.oversubscribe || cpus > static_cast<int>(topology().pus.size())) {
        req->coexist.assign(static_cast<size_t>(cpus), Coexist::kPu);
        source += " (time-shared: oversubscribed)";
    }
    if (auto s = req->validate(); !s) return s.error().with_context("register.job");
    auto placement = solver_.place(*req, others(""));
    if (!placement) return placement.error().with_context("register.job");
    std::vector<TenantProcess> procs;
    std::vector<pid_t> pids;
    for (const auto& m : members) {
        int fd = proc::pidfd_open(m.pid);
        if (fd < 0 || proc::start_time(m.pid) != std::optional<uint64_t>(m.start_time)) {
            if (fd >= 0) ::close(fd);
            for (auto& q : procs) ::close(q.pidfd);
            return Error(Errc::kNotFound,
                         fmt::format("register.job: rank process {} exited", m.pid));
        }
        procs.push_back({m.pid, m.start_time, fd});
        pids.push_back(m.pid);
    }
    TenantTarget target{tenant, req->kind, pids, {}};
    if (auto s = driver_->apply(target, *placement); !s) {
        for (auto& q : procs) ::close(q.pidfd);
        (void)driver_->release(tenant);
        spdlog::warn("event=apply tenant={} result=error msg={}", log::quote(tenant),
                     log::quote(s.error().to_string()));
        return s.error().with_context("register.job: apply");
    }
    auto shares = job::split(*placement, threads, members.size());
    for (size_t i = 0; i < members.size(); ++i) {
        members[i].share = std::move(shares[i]);
        members[i].coexist.assign(req->coexist.begin() + static_cast<long>(i) * threads,
                                  req->coexist.begin() + static_cast<long>(i + 1) * threads);
    }
    // Detached: the ranks' pidfds end it, not a connection.
    auto t = TenantEntry::placed(*req, *placement, source, pj.owner, 0, true);
    t.processes = std::move(procs);
    t.job = pj.info;
    t.job->placed_with = n;
    for (auto& p : t.processes) {
        pid_tenant_[p.pid] = tenant;
        if (pidfd_hook_) pidfd_hook_(p.pid, p.pidfd, true);
    }
    spdlog::info(
        "event=place_job tenant={} uid={} ranks={}/{} threads={} pids={} source={} pus={} why={}",
        log::quote(tenant), pj.owner, n, pj.info.expected, threads, fmt::join(pids, ","),
        log::quote(source), format_cpulist(placement->all_pus()),
        log::quote(why_summary(*placement)));
    sched_join(tenant, tenants_.emplace(tenant, std::move(t)).first->second);
    save_state();
    return source;
}

Result<json> Service::do_join_late(const RegisterArgs& a, const Peer& peer, const TenantEntry& jt) {
    const JobArgs& g = *a.job;
    const pid_t pid = a.pids.front();
    std::string suffix = fmt::format(".r{}", g.local_rank);
    std::string late = a.tenant.substr(0, 64 - suffix.size()) + suffix;
    if (auto it = tenants_.find(late); it != tenants_.end()) {
        if (it->second.job && job::find(*it->second.job, pid)) {
            json r = join_reply(late, it->second, pid);
            r["late"] = true;
            return r;
        }
        return Error(Errc::kAlreadyExists,
                     fmt::format("register.job.local_rank: local rank {} of \"{}\" came late and "
                                 "tenant \"{}\" already exists",
                                 g.local_rank, a.tenant, late));
    }
    if (auto it = pid_tenant_.find(pid); it != pid_tenant_.end())
        return Error(Errc::kAlreadyExists,
                     fmt::format("register.pids[0]: process {} already belongs to tenant \"{}\"",
                                 pid, it->second));
    if (tenants_.size() >= config_.max_tenants)
        return Error(Errc::kBusy,
                     fmt::format("register: the daemon already holds {} tenants (the limit)",
                                 config_.max_tenants));
    auto start = proc::start_time(pid);
    Request req = jt.request;
    req.tenant = late;
    req.cpus = jt.job->threads;
    req.coexist.assign(static_cast<size_t>(req.cpus),
                       jt.request.coexist.empty() ? Coexist::kSocket : jt.request.coexist.front());
    req.groups.clear();
    if (auto s = req.validate(); !s) return s.error().with_context("register.job");
    auto placement = solver_.place(req, others(""));
    if (!placement) return placement.error().with_context("register.job (late rank)");
    int fd = proc::pidfd_open(pid);
    if (fd < 0 || proc::start_time(pid) != start) {
        if (fd >= 0) ::close(fd);
        return Error(Errc::kNotFound, fmt::format("register.pids[0]: process {} exited", pid));
    }
    TenantTarget target{late, req.kind, {pid}, {}};
    if (auto s = driver_->apply(target, *placement); !s) {
        ::close(fd);
        (void)driver_->release(late);
        return s.error().with_context("register.job: apply");
    }
    auto t = TenantEntry::placed(req, *placement, jt.source + " (late rank of " + a.tenant + ")",
                                 jt.owner, 0, true);
    t.processes = {{pid, *start, fd}};
    job::JobInfo info = *jt.job;
    info.members.clear();
    info.placed_with = 1;
    job::Member m{pid, *start, g.local_rank, g.rank, *placement, req.coexist};
    m.share.trace.clear();
    info.members.push_back(std::move(m));
    t.job = std::move(info);
    pid_tenant_[pid] = late;
    if (pidfd_hook_) pidfd_hook_(pid, fd, true);
    spdlog::info("event=place_late tenant={} job={} uid={} pid={} pus={}", log::quote(late),
                 log::quote(a.tenant), peer.uid, pid, format_cpulist(placement->all_pus()));
    const TenantEntry& stored = tenants_.emplace(late, std::move(t)).first->second;
    sched_join(late, stored);
    save_state();
    json r = join_reply(late, stored, pid);
    r["late"] = true;
    return r;
}

json Service::join_reply(const std::string& tenant, const TenantEntry& t, pid_t pid) const {
    const job::Member* m = job::find(*t.job, pid);
    json j = json::object();
    j["tenant"] = tenant;
    j["state"] = "placed";
    j["arrived"] = t.job->placed_with;
    j["expected"] = t.job->expected;
    j["source"] = t.source;
    if (m) {
        j["local_rank"] = m->local_rank;
        j["share"] = m->share.to_json();
    }
    j["placement"] = t.placement.to_json();
    return j;
}

Result<json> Service::do_leave(const TenantArgs& a, const Peer& peer) {
    purge_pending();
    const pid_t pid = *a.pid;
    if (auto it = pending_jobs_.find(a.tenant); it != pending_jobs_.end()) {
        job::Pending& pj = it->second;
        if (peer.uid != 0 && pj.owner != peer.uid)
            return Error(Errc::kPermissionDenied,
                         fmt::format("release.tenant: job \"{}\" belongs to uid {}, the caller is "
                                     "uid {}",
                                     a.tenant, pj.owner, peer.uid));
        if (!job::remove(pj.info, pid))
            return Error(
                Errc::kNotFound,
                fmt::format("release.pid: process {} is not in job \"{}\"", pid, a.tenant));
        size_t remaining = pj.info.members.size();
        spdlog::info("event=leave tenant={} pid={} remaining={} state=waiting",
                     log::quote(a.tenant), pid, remaining);
        if (remaining == 0) pending_jobs_.erase(it);
        return json{{"tenant", a.tenant}, {"left", pid}, {"remaining", remaining}};
    }
    auto found = find_owned("release", a.tenant, peer);
    if (!found) return found.error();
    const TenantEntry& t = **found;
    bool has = std::any_of(t.processes.begin(), t.processes.end(),
                           [&](const TenantProcess& p) { return p.pid == pid; });
    if (!has)
        return Error(Errc::kNotFound,
                     fmt::format("release.pid: process {} is not in tenant \"{}\"", pid, a.tenant));
    size_t remaining = t.processes.size() - 1;
    remove_process(a.tenant, pid, "leave");
    json r = {{"tenant", a.tenant}, {"left", pid}, {"remaining", remaining}};
    if (remaining == 0) r["released"] = a.tenant;
    return r;
}

void Service::purge_pending() {
    const int64_t now = steady_ms();
    for (auto it = pending_jobs_.begin(); it != pending_jobs_.end();) {
        auto& pj = it->second;
        std::erase_if(pj.info.members,
                      [](const job::Member& m) { return !proc::alive(m.pid, m.start_time); });
        bool stale = now - pj.first_ms > static_cast<int64_t>(pj.wait_ms) + kPendingGraceMs;
        if (pj.info.members.empty() || stale) {
            spdlog::info("event=job_expired tenant={} arrived={} expected={} reason={}",
                         log::quote(it->first), pj.info.members.size(), pj.info.expected,
                         pj.info.members.empty() ? "ranks gone" : "waited too long");
            it = pending_jobs_.erase(it);
        } else {
            ++it;
        }
    }
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
    if (sched_) {
        // The policy's decision for this tenant (hv-backend/gang/README.md "Feedback").
        const std::string& name =
            t.placement.tenant.empty() ? t.request.tenant : t.placement.tenant;
        const auto st = sched_->states();
        const auto it = st.find(name);
        const bool sliced = it != st.end() && it->second.scheduled;
        const int mine = static_cast<int>(t.placement.all_pus().size());
        switch (sched_mode(name)) {
            case gang::Mode::kGang:
                a.gang = true;
                a.suggested_threads = t.request.cpus;
                a.reason = sliced ? fmt::format(
                                        "gang scheduled ({} policy): all {} threads run "
                                        "together in their time slice",
                                        gang::policy_name(config_.sched_policy), t.request.cpus)
                                  : fmt::format(
                                        "gang wanted ({} policy) but it shares no PUs: "
                                        "use all {} threads",
                                        gang::policy_name(config_.sched_policy), t.request.cpus);
                return a;
            case gang::Mode::kShare:
                a.gang = false;
                a.suggested_threads = std::max(1, std::min(t.request.cpus, mine));
                a.reason = fmt::format(
                    "{} policy: its disjoint share is {} of the {} PUs ({}), use "
                    "{} of {} threads",
                    gang::policy_name(config_.sched_policy), mine, pus,
                    format_cpulist(t.placement.all_pus()), a.suggested_threads, t.request.cpus);
                return a;
            case gang::Mode::kKernel:
                a.gang = false;
                a.suggested_threads = t.request.cpus;
                a.reason = fmt::format(
                    "{} policy: left to the kernel scheduler (no gang, no "
                    "shrink: too little synchronisation measured, or forbidden)",
                    gang::policy_name(config_.sched_policy));
                return a;
        }
    }
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
    probe_sample(a.tenant, a.observations);
    TenantEntry& t = **found;
    if (t.job) {
        // Several sources report for one job (each rank's PMPI profile, the
        // OMPT tool): merge what each one measured. A job is never re-placed:
        // its ranks bound themselves to their shares.
        Profile merged = t.observations.value_or(Profile{});
        const Profile& o = a.observations;
        merged.name = o.name;
        if (o.threads > 0) merged.threads = o.threads;
        if (o.region_rate_hz > 0) merged.region_rate_hz = o.region_rate_hz;
        if (o.barrier_rate_hz > 0) merged.barrier_rate_hz = o.barrier_rate_hz;
        if (o.sync_fraction > 0) merged.sync_fraction = o.sync_fraction;
        if (o.imbalance > 0) merged.imbalance = o.imbalance;
        if (o.bandwidth.cls != BandwidthClass::kUnknown || o.bandwidth.gbps) {
            merged.bandwidth = o.bandwidth;
            t.request.bandwidth = o.bandwidth;
        }
        if (o.coexist) merged.coexist = o.coexist;
        if (o.gang) {
            merged.gang = o.gang;
            t.request.sched.gang = *o.gang;
        }
        if (!o.note.empty()) merged.note = o.note;
        t.observations = std::move(merged);
        sched_join(a.tenant, t);  // the sync rate may change the gang decision
        const std::string reason = "job tenant: observations merged; a job is not re-placed";
        spdlog::debug("event=update tenant={} replaced=false observed={} reason={}",
                      log::quote(a.tenant), log::quote(o.to_string()), log::quote(reason));
        save_state();
        return json{{"tenant", a.tenant},
                    {"replaced", false},
                    {"reason", reason},
                    {"request", t.request.to_json()},
                    {"placement", t.placement.to_json()},
                    {"advice", advice_for(t).to_json()}};
    }
    // A probed bandwidth class survives the tool's later "unknown".
    Bandwidth kept_bw = t.observations ? t.observations->bandwidth : Bandwidth{};
    t.observations = a.observations;
    if (a.observations.bandwidth.cls == BandwidthClass::kUnknown && !a.observations.bandwidth.gbps)
        t.observations->bandwidth = kept_bw;
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
    // The state file holds requests and placements, not observations: write
    // it only when one of them changed (a probe asks for 20 updates a second).
    const bool durable = replaced || next.to_json() != t.request.to_json();
    t.request = std::move(next);
    sched_join(a.tenant, t);  // new observations / PUs may change the gang decision
    // Every tool reports once a second (20 times while probed): only a
    // re-placement is news at info level.
    spdlog::log(replaced ? spdlog::level::info : spdlog::level::debug,
                "event=update tenant={} replaced={} observed={} reason={}", log::quote(a.tenant),
                replaced, log::quote(o.to_string()), log::quote(reason));
    if (durable) save_state();
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
    json j{{"tenant", a.tenant},
           {"advice", advice_for(**found).to_json()},
           {"placement", (*found)->placement.to_json()}};
    if (auto hint = probe_hint(a.tenant)) j["probe"] = std::move(*hint);
    return j;
}

Result<json> Service::do_release(const TenantArgs& a, const Peer& peer) {
    if (a.pid) return do_leave(a, peer);
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
    if (t.job) j["job"] = job::to_json(*t.job);
    if (!t.domain.empty()) j["domain"] = domain_json(name, t);
    if (sched_) {
        json g = json::object();
        auto st = sched_->states();
        auto it = st.find(name);
        g["scheduled"] = it != st.end() && it->second.scheduled;
        g["row"] = it != st.end() ? it->second.row : -1;
        g["component"] = it != st.end() ? it->second.component : -1;
        g["frozen"] = t.frozen;
        g["run_ms"] = it != st.end() ? it->second.run_ns / 1000000 : 0;
        g["mode"] = gang::mode_name(sched_mode(name));  // kernel | gang | share
        j["gang"] = std::move(g);
    }
    return j;
}

Result<json> Service::do_status(const Peer&) {
    purge_pending();
    reap_gone_domains();
    json pending = json::array();
    const int64_t now = steady_ms();
    for (const auto& [name, pj] : pending_jobs_) {
        json p = {{"tenant", name},
                  {"arrived", pj.info.members.size()},
                  {"expected", pj.info.expected},
                  {"threads", pj.info.threads},
                  {"nspace", pj.info.nspace},
                  {"waited_ms", now - pj.first_ms},
                  {"wait_ms", pj.wait_ms}};
        if (pj.failed) p["failed"] = pj.failed->to_string();
        pending.push_back(std::move(p));
    }
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
    j["pending_jobs"] = std::move(pending);
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
    probe_cancel(tenant, std::string(reason));
    if (reason == "exit") footprint_learn(tenant, it->second);
    sched_leave(tenant);  // thawed before release, also mid-slice
    vm_release(tenant);   // a VM tenant's QEMU goes before its cgroup
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
    remove_process(tenant, pid, "exit");
}

void Service::remove_process(const std::string& tenant, pid_t pid, std::string_view reason) {
    auto tit = tenants_.find(tenant);
    if (tit == tenants_.end()) return;
    TenantEntry& t = tit->second;
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
    std::string freed;
    if (t.job && job::remove(*t.job, pid) && !t.job->members.empty()) {
        // The rank's share goes back: the job's confinement shrinks to the
        // remaining shares. Applying rewrites every remaining thread's mask
        // (cgroup v1 cpuset semantics, and the driver pins to the union), so
        // the ranks' own masks are saved first and put back after.
        const std::vector<int> before = t.placement.all_pus();
        job::rebuild(*t.job, tenant, t.request, t.placement);
        const std::vector<int> after = t.placement.all_pus();
        std::vector<int> gone;
        std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                            std::back_inserter(gone));
        freed = format_cpulist(gone);
        if (!gone.empty()) {
            auto masks = job::save_affinity(pids_of(t));
            TenantTarget target{tenant, t.request.kind, pids_of(t), {}};
            auto st = driver_->apply(target, t.placement);
            int failed = 0;
            int restored = job::restore_affinity(*t.job, masks, after, &failed);
            spdlog::info(
                "event=job_shrink tenant={} pus={} freed={} result={} "
                "threads_restored={}{}",
                log::quote(tenant), format_cpulist(after), freed,
                st ? std::string("ok") : log::quote(st.error().to_string()), restored,
                failed ? fmt::format(" restore_failed={}", failed) : std::string());
        }
        sched_join(tenant, t);  // fewer PUs
    }
    spdlog::info("event={} tenant={} pid={} remaining={}{}", reason, log::quote(tenant), pid,
                 t.processes.size(), freed.empty() ? std::string() : " freed=" + freed);
    if (t.processes.empty())
        cleanup(tenant, reason);
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
    if (sched_) {
        sched_->thaw_all();
        sched_log_change();
        const auto& st = sched_->stats();
        spdlog::info(
            "event=sched_stats switches={} freezes={} thaws={} errors={} "
            "freeze_us_avg={:.1f} thaw_us_avg={:.1f}",
            st.switches, st.freezes, st.thaws, st.errors,
            st.freezes ? st.freeze_ns / 1e3 / static_cast<double>(st.freezes) : 0.0,
            st.thaws ? st.thaw_ns / 1e3 / static_cast<double>(st.thaws) : 0.0);
    }
    probe_cancel("", "shutdown");
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
        if (t.job) tj.back()["job"] = job::to_json(*t.job);
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

// ---------------------------------------------------------------------------
// Gang scheduling (hv-backend/gang)

gang::Mode Service::sched_mode(const std::string& tenant) const {
    auto it = sched_modes_.find(tenant);
    return it == sched_modes_.end() ? gang::Mode::kKernel : it->second;
}

void Service::sched_join(const std::string& tenant, const TenantEntry& t) {
    if (!sched_) return;
    // What the tenant measured (OMPT/PMPI observations), else the profile it
    // was registered with (a shipped profile: libgomp has no OMPT).
    const Profile* prof = t.observations ? &*t.observations : nullptr;
    std::optional<Profile> shipped;
    if (!prof && profiles_ && !profile_source(t.source).empty()) {
        if (auto p = profiles_->get(profile_source(t.source))) {
            shipped = std::move(*p);
            prof = &*shipped;
        }
    }
    // A request built from a profile derives sched.gang from the profile's
    // rates: only an explicit request (or the profile's own `gang`) is a wish.
    SchedWish wish = t.request.sched;
    if (t.source.rfind("profile:", 0) == 0 && !t.observations) wish.gang = false;
    const auto old = sched_modes_.find(tenant);
    gang::TenantFacts facts{wish, prof, !t.job.has_value()};
    // Footprint against the last-level cache. A tenant whose OMPT tool reports
    // live can change its team size at any time: the median of its samples so
    // far counts (the level it holds while computing: neither the set-up peak
    // nor the memory freed at exit). A profile-only tenant (libgomp) fixes its
    // team size at start, when its footprint is still tiny: the profile's
    // footprint counts (stated, or learned from the last run with this
    // profile, footprint_learn). A ganged tenant stays resident up to 1.25x
    // the cache, so a size near it does not flip the mode.
    uint64_t footprint = 0, llc = 0;
    if (config_.sched_cache_rule && !t.job && config_.sched_policy == gang::Policy::kAuto &&
        (t.observations || (prof && prof->footprint_mb))) {
        if (t.observations) {
            if (footprint_samples_.count(tenant) == 0) footprint_sample(tenant, t);
            footprint = footprint_median(tenant);
        } else {
            footprint = static_cast<uint64_t>(*prof->footprint_mb * 1048576.0);
        }
        const auto pus = t.placement.all_pus();
        if (!pus.empty()) {
            auto [it, fresh] = llc_by_pu_.try_emplace(pus.front(), 0);
            if (fresh) it->second = proc::llc_bytes(pus.front());  // sysfs, read once per PU
            llc = it->second;
        }
        const bool ganged = old != sched_modes_.end() && old->second == gang::Mode::kGang;
        if (footprint > 0 && llc > 0)
            facts.cache_resident = footprint <= (ganged ? llc + llc / 4 : llc);
    }
    gang::Mode mode = gang::decide(config_.sched_policy, facts);
    if (mode == gang::Mode::kGang && !caps_.freeze) mode = gang::Mode::kKernel;
    if (mode == gang::Mode::kShare && !caps_.cpuset && !caps_.affinity) mode = gang::Mode::kKernel;
    // auto, rates fell below the thresholds: hold the mode for a while (see
    // ServiceConfig::sched_demote_hold_ms). A forbid (`gang: false`) acts at once.
    const bool forbid = prof && prof->gang && !*prof->gang;
    if (config_.sched_policy == gang::Policy::kAuto && mode == gang::Mode::kKernel && !forbid &&
        old != sched_modes_.end() && old->second != gang::Mode::kKernel) {
        const int64_t now = steady_ms();
        const int64_t since = sched_demote_since_.try_emplace(tenant, now).first->second;
        if (now - since < config_.sched_demote_hold_ms) {
            spdlog::debug("event=sched_hold tenant={} mode={} barrier_hz={:.0f} held_ms={}",
                          log::quote(tenant), gang::mode_name(old->second),
                          prof ? prof->barrier_rate_hz : 0.0, now - since);
            mode = old->second;
        } else {
            sched_demote_since_.erase(tenant);
        }
    } else {
        sched_demote_since_.erase(tenant);
    }
    const bool changed = old == sched_modes_.end() || old->second != mode;
    if (changed)
        spdlog::info(
            "event=sched_decide tenant={} policy={} mode={} barrier_hz={:.0f} "
            "sync_fraction={:.3f} source={} footprint_mb={} llc_mb={}",
            log::quote(tenant), gang::policy_name(config_.sched_policy), gang::mode_name(mode),
            prof ? prof->barrier_rate_hz : 0.0, prof ? prof->sync_fraction : 0.0,
            t.observations ? "observations" : (prof ? "profile" : "none"), footprint >> 20,
            llc >> 20);
    sched_modes_[tenant] = mode;
    gang::GangTenant g;
    g.id = tenant;
    g.pus = sched_full_.count(tenant) ? sched_full_[tenant].all_pus() : t.placement.all_pus();
    g.gang = mode == gang::Mode::kGang;
    g.latency_ms = t.request.sched.latency_ms;
    if (auto s = sched_->add(g); !s) {
        spdlog::warn("event=sched_join tenant={} result={} action=left_to_kernel",
                     log::quote(tenant), log::quote(s.error().to_string()));
        g.gang = false;
        sched_modes_[tenant] = gang::Mode::kKernel;
        (void)sched_->add(g);
    }
    sched_log_change();
    sched_feedback();
}

void Service::sched_leave(const std::string& tenant) {
    if (!sched_) return;
    sched_modes_.erase(tenant);
    sched_demote_since_.erase(tenant);
    footprint_samples_.erase(tenant);
    sched_full_.erase(tenant);
    if (sched_->states().count(tenant) != 0) {
        (void)sched_->remove(tenant);
        sched_log_change();
    }
    sched_feedback();  // the others grow back into the PUs it leaves
}

void Service::sched_feedback() {
    std::vector<gang::ShareTenant> v;
    for (const auto& [name, mode] : sched_modes_) {
        auto it = tenants_.find(name);
        if (it == tenants_.end()) continue;
        const TenantEntry& t = it->second;
        const Placement& full = sched_full_.count(name) ? sched_full_.at(name) : t.placement;
        // Kernel-mode tenants keep their PUs but their demand counts: a share
        // tenant next to an EP-like one still shrinks (one thread needs no gang).
        if (mode != gang::Mode::kGang) v.push_back({name, full.all_pus(), t.request.cpus});
        if (mode != gang::Mode::kShare && sched_full_.count(name)) {
            // No longer shrunk (decision changed): back to its full placement.
            TenantTarget target{name, t.request.kind, pids_of(t), t.threads};
            if (auto s = driver_->apply(target, full); s) {
                tenants_[name].placement = full;
                sched_full_.erase(name);
            }
        }
    }
    auto shares = gang::feedback_shares(v);
    for (const auto& [name, pus] : shares) {
        if (sched_mode(name) != gang::Mode::kShare) continue;
        TenantEntry& t = tenants_.at(name);
        if (pus == t.placement.all_pus()) continue;
        if (!sched_full_.count(name)) sched_full_[name] = t.placement;
        const Placement& full = sched_full_.at(name);
        Placement p = full;
        if (pus != full.all_pus()) {
            // Each CPU on one PU of the share, round-robin: the advice tells the
            // tenant to run only as many threads as the share has PUs.
            for (size_t i = 0; i < p.cpus.size(); ++i) p.cpus[i].pus = {pus[i % pus.size()]};
            p.trace.push_back(fmt::format("feedback: shrunk to a disjoint share {} of {}",
                                          format_cpulist(pus), format_cpulist(full.all_pus())));
        }
        TenantTarget target{name, t.request.kind, pids_of(t), t.threads};
        if (auto s = driver_->apply(target, p); !s) {
            spdlog::warn("event=feedback tenant={} result={}", log::quote(name),
                         log::quote(s.error().to_string()));
            continue;
        }
        spdlog::info("event=feedback tenant={} from={} to={} threads={}", log::quote(name),
                     format_cpulist(t.placement.all_pus()), format_cpulist(pus),
                     std::min<size_t>(pus.size(), static_cast<size_t>(t.request.cpus)));
        t.placement = std::move(p);
        if (pus == full.all_pus()) sched_full_.erase(name);
    }
}

void Service::sched_log_change() {
    if (!sched_ || sched_->generation() == sched_logged_gen_) return;
    sched_logged_gen_ = sched_->generation();
    // One line per decision change (never per slice): the matrix.
    std::vector<std::string> comps;
    for (const auto& m : sched_->matrices()) {
        std::vector<std::string> rows;
        for (const auto& r : m.rows) rows.push_back(fmt::format("{}", fmt::join(r, "+")));
        comps.push_back(fmt::format("[{}]@{}ms", fmt::join(rows, "|"), m.slice_ns / 1000000));
    }
    const auto& st = sched_->stats();
    spdlog::info("event=sched_matrix gen={} matrices={} freezes={} thaws={} errors={}{}",
                 sched_logged_gen_, log::quote(fmt::format("{}", fmt::join(comps, " "))),
                 st.freezes, st.thaws, st.errors,
                 st.last_error.empty() ? "" : " last_error=" + log::quote(st.last_error));
}

int64_t Service::footprint_tick() {
    if (!sched_ || !config_.sched_cache_rule || config_.sched_policy != gang::Policy::kAuto)
        return -1;
    // Called after every batch of events: a clock read until the next sample is due.
    const int64_t now = steady_ms();
    if (now < footprint_next_ms_) return (footprint_next_ms_ - now) * 1000000;
    footprint_next_ms_ = now + 100;
    bool any = false;
    for (const auto& [name, t] : tenants_)
        if (!t.job && (t.observations || t.source.rfind("profile:", 0) == 0)) {
            footprint_sample(name, t);
            any = true;
        }
    return any ? int64_t{100} * 1000000 : -1;  // none: no timer, a later loop looks again
}

void Service::footprint_sample(const std::string& tenant, const TenantEntry& t) {
    uint64_t sum = 0;
    for (pid_t pid : pids_of(t)) sum += proc::rss_bytes(pid).value_or(0);
    if (sum > 0) ++footprint_samples_[tenant][sum >> 20];
}

uint64_t Service::footprint_median(const std::string& tenant) const {
    auto it = footprint_samples_.find(tenant);
    if (it == footprint_samples_.end()) return 0;
    uint64_t n = 0, seen = 0;
    for (const auto& [mib, c] : it->second) n += c;
    for (const auto& [mib, c] : it->second) {
        seen += c;
        if (2 * seen >= n) return (mib << 20) + (uint64_t{1} << 19);  // the MiB's middle
    }
    return 0;
}

void Service::footprint_learn(const std::string& tenant, const TenantEntry& t) {
    const std::string name = profile_source(t.source);
    const uint64_t median = footprint_median(tenant);
    // Only a run that got going: a reservation released at once (the harness's
    // advice helpers) or a start-up failure would teach a tiny footprint. A
    // live-reporting tenant decides from its own samples and teaches nothing.
    if (!profiles_ || name.empty() || t.observations || median == 0 ||
        std::time(nullptr) - t.since < 1)
        return;
    // The median, not the peak: our CG class A peaks at 50 MiB (VmHWM) while it
    // builds the matrix and holds 25 MiB from then on, against a 32 MiB L3.
    auto p = profiles_->get(name);
    if (!p) return;
    const double mb = static_cast<double>(median >> 20);
    p->footprint_mb = mb;
    profiles_->put(std::move(*p));
    spdlog::info("event=footprint_learned profile={} tenant={} footprint_mb={}", name,
                 log::quote(tenant), mb);
}

int64_t Service::sched_tick() {
    int64_t probe_next = earliest(probe_tick(), footprint_tick());  // probe.cpp; above
    if (!sched_) return probe_next;
    int64_t next = sched_->tick();
    if (!sched_lost_.empty()) {
        // Someone else removed the tenant's cgroup: stop slicing it (it runs
        // under the kernel scheduler wherever it was moved) and keep the rest going.
        auto lost = std::move(sched_lost_);
        sched_lost_.clear();
        for (const auto& id : lost) {
            if (sched_->states().count(id) == 0) continue;
            spdlog::warn("event=sched_lost tenant={} action=left_to_kernel reason={}",
                         log::quote(id), log::quote(sched_->stats().last_error));
            (void)sched_->remove(id);
            sched_modes_[id] = gang::Mode::kKernel;
        }
        sched_log_change();
        next = sched_->tick();
    }
    return earliest(next, probe_next);
}

}  // namespace vtasos::daemon
