// The Linux driver: one cgroup per tenant (cpuset + freezer, v1 or v2) and
// sched_setaffinity; affinity only where cgroups cannot be used. See README.md.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "vtasos/drivers/internal/linux.h"

namespace vtasos::linuxdrv {
namespace {

constexpr std::string_view kDefaultCgroupRoot = "/sys/fs/cgroup";
constexpr int kMaxPollDelayMs = 20;
constexpr int kMaxEnumerationRounds = 4;  // re-list threads until no new ones appear
constexpr int kMaxMoveOutRounds = 8;

// One cgroup hierarchy the driver uses. v1 cpuset and freezer are usually two
// hierarchies (two Hier); co-mounted v1 or v2 is one Hier with both roles.
struct Hier {
    std::string root;  // mount point (or test tree directory)
    bool v2 = false;
    bool cpuset = false;   // tenant cgroups get cpuset.cpus / cpuset.mems
    bool freezer = false;  // v1 freezer.state or v2 cgroup.freeze
};

struct TenantState {
    std::set<pid_t> pids;
    std::set<pid_t> threads;
};

// What apply() changed, undone in reverse on failure.
struct Txn {
    std::vector<std::string> created_dirs;
    std::vector<std::pair<std::string, std::string>> restore_files;  // path, old value
    std::vector<std::pair<std::string, pid_t>> moved;                // root cgroup.procs, pid
    std::vector<std::pair<pid_t, std::vector<int>>> affinity;        // tid, old PUs
    std::set<pid_t> saved;
};

std::string trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return std::string(s);
}

std::vector<std::string> tokens(std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ' ' || c == '\n' || c == '\t') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

bool has_token(std::string_view s, std::string_view tok) {
    for (const auto& t : tokens(s))
        if (t == tok) return true;
    return false;
}

std::vector<pid_t> parse_ids(std::string_view s) {
    std::vector<pid_t> out;
    for (const auto& t : tokens(s)) {
        char* end = nullptr;
        long v = std::strtol(t.c_str(), &end, 10);
        if (*end == '\0' && v > 0) out.push_back(static_cast<pid_t>(v));
    }
    return out;
}

// Error about a pid: kNotFound / kPermissionDenied get a message that starts
// with the pid so the caller can act on it; others keep the system message.
Error pid_error(pid_t pid, const Error& e) {
    switch (e.code()) {
        case Errc::kNotFound:
            return Error(e.code(), fmt::format("pid {}: no such process ({})", pid, e.message()));
        case Errc::kPermissionDenied:
            return Error(e.code(), fmt::format("pid {}: permission denied ({})", pid, e.message()));
        default:
            return Error(e.code(), fmt::format("pid {}: {}", pid, e.message()));
    }
}

class LinuxDriver final : public Driver {
public:
    LinuxDriver(DriverConfig config, std::shared_ptr<LinuxOps> ops)
        : cfg_(std::move(config)), ops_(std::move(ops)) {
        while (cfg_.cgroup_root.size() > 1 && cfg_.cgroup_root.back() == '/')
            cfg_.cgroup_root.pop_back();
    }
    // Deliberately leaves every cgroup as it is (frozen ones too): a daemon
    // restart adopts tenants or cleans up with thaw_all()/remove_stale().
    ~LinuxDriver() override {
        for (auto& [t, fd] : freeze_fds_) ::close(fd);
    }

    std::string_view name() const override { return "linux"; }

    Status probe() override {
        std::lock_guard lock(mu_);
        return probe_locked();
    }

    DriverCaps caps() const override {
        std::lock_guard lock(mu_);
        return caps_;
    }

    Status apply(const TenantTarget& target, const Placement& placement) override;
    Status freeze(std::string_view tenant) override { return set_tenant_frozen(tenant, true); }
    Status thaw(std::string_view tenant) override { return set_tenant_frozen(tenant, false); }
    Status request_frozen(std::string_view tenant, bool frozen) override {
        return set_tenant_frozen(tenant, frozen, /*wait=*/false);
    }
    Status release(std::string_view tenant) override { return remove_tenant(tenant, "release"); }
    Result<std::vector<std::string>> thaw_all() override;
    Status remove_stale(std::string_view tenant) override {
        return remove_tenant(tenant, "remove_stale");
    }

private:
    Status probe_locked();
    void fall_back(std::string why);
    Status ensure_probed() { return probed_ ? Status{} : probe_locked(); }
    Status setup_parent(const Hier& h);
    Status enable_cpuset(const std::string& dir);
    Result<std::string> parent_mems(const Hier& h);
    std::string parent_dir(const Hier& h) const { return h.root + "/" + cfg_.parent; }
    std::string tenant_dir(const Hier& h, std::string_view t) const {
        return fmt::format("{}/{}/{}", h.root, cfg_.parent, t);
    }
    const Hier* freezer_hier() const {
        for (const auto& h : hiers_)
            if (h.freezer) return &h;
        return nullptr;
    }
    Status set_frozen(const Hier& h, const std::string& dir, bool frozen, bool wait = true);
    Status set_tenant_frozen(std::string_view tenant, bool frozen, bool wait = true);
    Status remove_tenant(std::string_view tenant, std::string_view op);
    Status move_out(const Hier& h, const std::string& dir, std::set<pid_t>* seen);
    Status remove_dir_retry(const Hier& h, const std::string& dir);
    void save_affinity(Txn& txn, pid_t tid);
    std::string rollback(Txn& txn);

    DriverConfig cfg_;
    std::shared_ptr<LinuxOps> ops_;
    mutable std::mutex mu_;
    // request_frozen keeps each tenant's freezer file open: a gang slice switch
    // is then one write per tenant instead of stat+open+write+close (the
    // daemon's CPU budget at 10 ms slices). Closed on release and on error.
    std::map<std::string, int, std::less<>> freeze_fds_;
    Status write_cached(const std::string& tenant, const std::string& file, std::string_view value);
    bool probed_ = false;
    bool warned_ = false;
    DriverCaps caps_;
    std::vector<Hier> hiers_;
    std::map<std::string, TenantState, std::less<>> tenants_;
};

// ---------------------------------------------------------------- probe

void LinuxDriver::fall_back(std::string why) {
    hiers_.clear();
    caps_ = DriverCaps{};
    caps_.affinity = true;
    caps_.notes = why + "; tenants are pinned with sched_setaffinity only (no cpuset, no freeze)";
    probed_ = true;
    if (!warned_) {
        warned_ = true;
        spdlog::warn("linux driver: {}", caps_.notes);
    }
}

Status LinuxDriver::enable_cpuset(const std::string& dir) {
    std::string file = dir + "/cgroup.subtree_control";
    auto cur = ops_->read_file(file);
    if (!cur.ok()) return cur.error();
    if (has_token(*cur, "cpuset")) return {};
    return ops_->write_file(file, "+cpuset");
}

Status LinuxDriver::setup_parent(const Hier& h) {
    std::string cur = h.root;
    std::string_view rest = cfg_.parent;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view comp = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        std::string above = cur;
        cur += "/" + std::string(comp);
        if (h.v2 && h.cpuset) {
            if (auto st = enable_cpuset(above); !st.ok()) return st;
        }
        if (auto st = ops_->make_dir(cur); !st.ok()) {
            if (st.error().code() != Errc::kAlreadyExists || !ops_->is_dir(cur)) return st;
        }
        if (!h.v2 && h.cpuset) {
            // A v1 cpuset child starts with empty cpus/mems; no task may join it
            // until both are set. Copy them from the level above when empty.
            for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
                auto mine = ops_->read_file(cur + "/" + f);
                if (!mine.ok()) return mine.error();
                if (!trim(*mine).empty()) continue;
                auto up = ops_->read_file(above + "/" + f);
                if (!up.ok()) return up.error();
                if (auto st = ops_->write_file(cur + "/" + f, trim(*up)); !st.ok()) return st;
            }
        }
    }
    if (h.v2 && h.cpuset) return enable_cpuset(cur);  // tenants get cpuset files
    return {};
}

Status LinuxDriver::probe_locked() {
    hiers_.clear();
    caps_ = DriverCaps{};
    caps_.affinity = true;

    CgroupMounts m;
    std::string where;
    bool from_mountinfo = false;
    if (cfg_.cgroup_root == kDefaultCgroupRoot) {
        if (auto mi = ops_->read_mountinfo(); mi.ok()) {
            m = parse_mountinfo(*mi);
            from_mountinfo = true;
            where = "in /proc/self/mountinfo";
        }
    }
    if (!from_mountinfo) {
        const std::string& r = cfg_.cgroup_root;
        where = "under " + r;
        if (ops_->is_dir(r + "/cpuset")) m.cpuset_v1 = r + "/cpuset";
        if (ops_->is_dir(r + "/freezer")) m.freezer_v1 = r + "/freezer";
        if (ops_->exists(r + "/cgroup.controllers"))
            m.unified = r;
        else if (ops_->exists(r + "/unified/cgroup.controllers"))
            m.unified = r + "/unified";
    }

    std::vector<std::string> notes;
    if (!m.cpuset_v1.empty() || !m.freezer_v1.empty()) {
        caps_.cgroup_mode = "v1";
        if (m.cpuset_v1 == m.freezer_v1) {
            hiers_.push_back({m.cpuset_v1, false, true, true});
        } else {
            if (!m.cpuset_v1.empty()) hiers_.push_back({m.cpuset_v1, false, true, false});
            if (!m.freezer_v1.empty()) hiers_.push_back({m.freezer_v1, false, false, true});
        }
        if (m.cpuset_v1.empty())
            notes.push_back(
                fmt::format("no v1 cpuset hierarchy {}: confinement by affinity only", where));
        if (m.freezer_v1.empty())
            notes.push_back(fmt::format("no v1 freezer hierarchy {}: freeze unavailable", where));
    } else if (!m.unified.empty()) {
        caps_.cgroup_mode = "v2";
        auto ctl = ops_->read_file(m.unified + "/cgroup.controllers");
        if (!ctl.ok()) {
            fall_back(
                fmt::format("cgroup v2 at {} unusable: {}", m.unified, ctl.error().message()));
            return {};
        }
        bool cpuset = has_token(*ctl, "cpuset");
        hiers_.push_back({m.unified, true, cpuset, true});
        if (!cpuset)
            notes.push_back(fmt::format(
                "cgroup v2 at {} has no cpuset controller (controllers: \"{}\"; a v1 hierarchy may "
                "hold it): confinement by affinity only",
                m.unified, trim(*ctl)));
    } else {
        fall_back(fmt::format(
            "no cgroup hierarchy found {} (neither v1 cpuset/freezer nor cgroup2)", where));
        return {};
    }

    for (auto& h : hiers_) {
        if (auto st = setup_parent(h); !st.ok()) {
            fall_back(fmt::format("cannot set up parent cgroup {}: {}", parent_dir(h),
                                  st.error().message()));
            return {};
        }
        if (h.v2 && !ops_->exists(parent_dir(h) + "/cgroup.freeze")) {
            h.freezer = false;
            notes.push_back(fmt::format(
                "{} has no cgroup.freeze (kernel < 5.2): freeze unavailable", parent_dir(h)));
        }
    }
    hiers_.erase(std::remove_if(hiers_.begin(), hiers_.end(),
                                [](const Hier& h) { return !h.cpuset && !h.freezer; }),
                 hiers_.end());
    if (hiers_.empty()) {
        fall_back(fmt::format("{}", fmt::join(notes, "; ")));
        return {};
    }
    for (const auto& h : hiers_) {
        caps_.cpuset = caps_.cpuset || h.cpuset;
        caps_.freeze = caps_.freeze || h.freezer;
    }
    caps_.notes = fmt::format("{}", fmt::join(notes, "; "));
    probed_ = true;
    std::vector<std::string> dirs;
    for (const auto& h : hiers_) dirs.push_back(parent_dir(h));
    spdlog::info("linux driver: cgroup {} cpuset={} freeze={} parents {}", caps_.cgroup_mode,
                 caps_.cpuset, caps_.freeze, fmt::join(dirs, " "));
    if (!notes.empty() && !warned_) {
        warned_ = true;
        spdlog::warn("linux driver: {}", caps_.notes);
    }
    return {};
}

Result<std::string> LinuxDriver::parent_mems(const Hier& h) {
    std::string pd = parent_dir(h);
    if (h.v2) {
        for (const char* f : {"cpuset.mems.effective", "cpuset.mems"}) {
            std::string path = pd + "/" + f;
            if (!ops_->exists(path)) continue;
            auto v = ops_->read_file(path);
            if (!v.ok()) return v.error();
            if (!trim(*v).empty()) return trim(*v);
        }
        return std::string();  // v2: empty cpuset.mems = the parent's
    }
    auto v = ops_->read_file(pd + "/cpuset.mems");
    if (!v.ok()) return v.error();
    return trim(*v);
}

// ---------------------------------------------------------------- apply

void LinuxDriver::save_affinity(Txn& txn, pid_t tid) {
    if (!txn.saved.insert(tid).second) return;
    if (auto a = ops_->get_affinity(tid); a.ok()) txn.affinity.emplace_back(tid, std::move(*a));
}

std::string LinuxDriver::rollback(Txn& txn) {
    std::vector<std::string> problems;
    for (auto it = txn.moved.rbegin(); it != txn.moved.rend(); ++it) {
        auto st = ops_->write_file(it->first, std::to_string(it->second));
        if (!st.ok() && st.error().code() != Errc::kNotFound)
            problems.push_back(st.error().message());
    }
    for (const auto& [tid, pus] : txn.affinity) {
        auto st = ops_->set_affinity(tid, pus);
        if (!st.ok() && st.error().code() != Errc::kNotFound)
            problems.push_back(st.error().message());
    }
    for (auto it = txn.restore_files.rbegin(); it != txn.restore_files.rend(); ++it) {
        if (it->second.empty()) continue;
        auto st = ops_->write_file(it->first, it->second);
        if (!st.ok()) problems.push_back(st.error().message());
    }
    for (auto it = txn.created_dirs.rbegin(); it != txn.created_dirs.rend(); ++it) {
        const Hier* owner = nullptr;
        for (const auto& h : hiers_)
            if (it->rfind(h.root + "/", 0) == 0) owner = &h;
        auto st = owner ? remove_dir_retry(*owner, *it) : ops_->remove_dir(*it);
        if (!st.ok()) problems.push_back(st.error().message());
    }
    return problems.empty() ? std::string("done") : fmt::format("{}", fmt::join(problems, "; "));
}

Status LinuxDriver::apply(const TenantTarget& target, const Placement& placement) {
    std::lock_guard lock(mu_);
    if (auto st = ensure_probed(); !st.ok()) return st;
    const std::string& t = target.tenant;
    if (auto st = check_cgroup_name("tenant", t); !st.ok()) return st.error().with_context("apply");

    // --- validation: nothing is touched before it passes.
    auto invalid = [&](std::string msg) {
        return Error(Errc::kInvalidArgument, fmt::format("apply {}: {}", t, msg));
    };
    if (placement.cpus.empty()) return invalid("placement has no CPUs");
    for (size_t i = 0; i < placement.cpus.size(); ++i)
        if (placement.cpus[i].pus.empty())
            return invalid(fmt::format("placement cpu{} has no PUs", i));
    if (target.threads.size() > placement.cpus.size())
        return invalid(fmt::format("{} threads given for {} placed CPUs", target.threads.size(),
                                   placement.cpus.size()));
    if (target.pids.empty() && target.threads.empty()) return invalid("no pids or threads given");
    for (pid_t p : target.pids)
        if (p <= 0) return invalid(fmt::format("pid {} is not a process id", p));
    for (pid_t p : target.threads)
        if (p <= 0) return invalid(fmt::format("thread {} is not a thread id", p));
    const std::vector<int> all = placement.all_pus();
    if (auto online = ops_->online_cpus(); online.ok()) {
        for (int pu : all)
            if (!std::binary_search(online->begin(), online->end(), pu))
                return invalid(
                    fmt::format("PU {} is not online (online: {})", pu, format_cpulist(*online)));
    }
    for (int n : placement.mem_nodes)
        if (n < 0) return invalid(fmt::format("memory node {} is negative", n));

    Txn txn;
    std::string step;
    auto fail = [&](const Error& e) -> Status {
        std::string rb = rollback(txn);
        spdlog::debug("linux driver: apply {} failed at {}: {}; rollback: {}", t, step, e.message(),
                      rb);
        return Error(e.code(), fmt::format("apply {}: step \"{}\" failed: {} (rollback: {})", t,
                                           step, e.message(), rb));
    };

    // 1. Remember the affinity of every known thread (best effort: a pid that
    //    is gone is reported by the step that needs it).
    for (pid_t pid : target.pids)
        if (auto tids = ops_->list_threads(pid); tids.ok())
            for (pid_t tid : *tids) save_affinity(txn, tid);
    for (pid_t tid : target.threads) save_affinity(txn, tid);

    // 2. Cgroups: create, set cpuset, move the processes in.
    for (const auto& h : hiers_) {
        if (!ops_->is_dir(parent_dir(h))) {
            step = "create parent cgroup " + parent_dir(h);
            if (auto st = setup_parent(h); !st.ok()) return fail(st.error());
        }
        const std::string dir = tenant_dir(h, t);
        step = "create cgroup " + dir;
        bool existed = ops_->is_dir(dir);
        if (!existed) {
            if (auto st = ops_->make_dir(dir); !st.ok()) {
                if (st.error().code() != Errc::kAlreadyExists || !ops_->is_dir(dir))
                    return fail(st.error());
                existed = true;
            } else {
                txn.created_dirs.push_back(dir);
            }
        }
        std::set<pid_t> present;
        if (existed) {
            auto procs = ops_->read_file(dir + "/cgroup.procs");
            if (!procs.ok()) return fail(procs.error());
            for (pid_t p : parse_ids(*procs)) present.insert(p);
        }
        if (h.cpuset) {
            auto mems = placement.mem_nodes.empty()
                            ? parent_mems(h)
                            : Result<std::string>(format_cpulist(placement.mem_nodes));
            step = "read memory nodes of " + parent_dir(h);
            if (!mems.ok()) return fail(mems.error());
            std::vector<std::pair<std::string, std::string>> writes = {
                {dir + "/cpuset.cpus", format_cpulist(all)}};
            if (!mems->empty()) writes.emplace_back(dir + "/cpuset.mems", *mems);
            for (const auto& [file, value] : writes) {
                step = fmt::format("set {} to {}", file, value);
                if (existed) {
                    auto old = ops_->read_file(file);
                    if (!old.ok()) return fail(old.error());
                    txn.restore_files.emplace_back(file, trim(*old));
                }
                if (auto st = ops_->write_file(file, value); !st.ok()) return fail(st.error());
            }
        }
        for (pid_t pid : target.pids) {
            if (present.count(pid)) continue;
            step = fmt::format("move pid {} into {}", pid, dir);
            if (auto st = ops_->write_file(dir + "/cgroup.procs", std::to_string(pid)); !st.ok())
                return fail(pid_error(pid, st.error()));
            txn.moved.emplace_back(h.root + "/cgroup.procs", pid);
        }
    }

    // 3. Affinity: listed threads to their CPU's PUs, every other thread of the
    //    tenant's processes to the union (so affinity-only and cgroup agree).
    //    Threads are listed again until no new one appears.
    std::map<pid_t, size_t> explicit_cpu;
    for (size_t i = 0; i < target.threads.size(); ++i) explicit_cpu[target.threads[i]] = i;
    std::set<pid_t> pinned;
    auto pus_of = [&](pid_t tid) -> const std::vector<int>& {
        auto it = explicit_cpu.find(tid);
        return it == explicit_cpu.end() ? all : placement.cpus[it->second].pus;
    };
    for (int round = 0; round < kMaxEnumerationRounds; ++round) {
        bool fresh = false;
        for (pid_t pid : target.pids) {
            step = fmt::format("list threads of pid {}", pid);
            auto tids = ops_->list_threads(pid);
            if (!tids.ok()) return fail(pid_error(pid, tids.error()));
            for (pid_t tid : *tids) {
                if (pinned.count(tid)) continue;
                fresh = true;
                save_affinity(txn, tid);
                step = fmt::format("pin tid {} of pid {} to {{{}}}", tid, pid,
                                   format_cpulist(pus_of(tid)));
                if (auto st = ops_->set_affinity(tid, pus_of(tid)); !st.ok()) {
                    if (st.error().code() == Errc::kNotFound && tid != pid) continue;  // exited
                    return fail(pid_error(pid, st.error()));
                }
                pinned.insert(tid);
            }
        }
        if (!fresh) break;
    }
    for (pid_t tid : target.threads) {
        if (pinned.count(tid)) continue;
        step = fmt::format("pin thread {} to {{{}}}", tid, format_cpulist(pus_of(tid)));
        if (auto st = ops_->set_affinity(tid, pus_of(tid)); !st.ok()) {
            if (st.error().code() == Errc::kNotFound)
                return fail(Error(Errc::kNotFound,
                                  fmt::format("thread {}: {}", tid, st.error().message())));
            return fail(st.error());
        }
        pinned.insert(tid);
    }

    auto& state = tenants_[t];
    state.pids.insert(target.pids.begin(), target.pids.end());
    state.threads.insert(target.threads.begin(), target.threads.end());
    spdlog::debug("linux driver: applied {} ({} pids, {} threads pinned)", placement.to_string(),
                  target.pids.size(), pinned.size());
    return {};
}

// ---------------------------------------------------------------- freeze

Status LinuxDriver::set_frozen(const Hier& h, const std::string& dir, bool frozen, bool wait) {
    const std::string file = dir + (h.v2 ? "/cgroup.freeze" : "/freezer.state");
    const std::string check = h.v2 ? dir + "/cgroup.events" : file;
    const std::string value = h.v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
    if (auto st = ops_->write_file(file, value); !st.ok()) return st;
    if (!wait) return {};  // request_frozen: the caller does not block on FREEZING
    long long deadline = ops_->now_ms() + cfg_.freeze_timeout_ms;
    int delay = 1;
    std::string last;
    for (;;) {
        auto now = ops_->read_file(check);
        if (!now.ok()) return now.error();
        if (h.v2) {
            // cgroup.events: "populated 1\nfrozen 1\n"
            auto tok = tokens(*now);
            auto it = std::find(tok.begin(), tok.end(), "frozen");
            last = it != tok.end() && it + 1 != tok.end() ? "frozen " + *(it + 1) : trim(*now);
            if (last == (frozen ? "frozen 1" : "frozen 0")) return {};
        } else {
            last = trim(*now);  // FREEZING while tasks are still being stopped
            if (last == value) return {};
        }
        if (ops_->now_ms() >= deadline) break;
        ops_->sleep_ms(delay);
        delay = std::min(delay * 2, kMaxPollDelayMs);
    }
    std::string undo;
    if (frozen) {
        auto st = ops_->write_file(file, h.v2 ? "0" : "THAWED");
        undo = st.ok() ? "; thawed again" : "; thawing again failed: " + st.error().message();
    }
    return Error(Errc::kTimeout, fmt::format("{} still reads \"{}\" {} ms after writing {}{}",
                                             check, last, cfg_.freeze_timeout_ms, value, undo));
}

Status LinuxDriver::write_cached(const std::string& tenant, const std::string& file,
                                 std::string_view value) {
    auto it = freeze_fds_.find(tenant);
    if (it == freeze_fds_.end()) {
        int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
        // Not a real file (a test's fake kernel) or gone: the plain path decides
        // (ENOENT there is kNotFound).
        if (fd < 0) return ops_->write_file(file, value);
        it = freeze_fds_.emplace(tenant, fd).first;
    }
    ssize_t n;
    do {
        n = ::pwrite(it->second, value.data(), value.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(value.size())) return {};
    int err = n < 0 ? errno : EIO;
    ::close(it->second);
    freeze_fds_.erase(it);
    // ENODEV: the cgroup was removed under us (kernfs file of a deleted directory).
    if (err == ENODEV || err == ENOENT)
        return Error(Errc::kNotFound, fmt::format("write \"{}\" to {}: cgroup removed", value, file));
    return Error(Errc::kIo, fmt::format("write \"{}\" to {}: {}", value, file, std::strerror(err)));
}

Status LinuxDriver::set_tenant_frozen(std::string_view tenant, bool frozen, bool wait) {
    std::lock_guard lock(mu_);
    const char* op = frozen ? "freeze" : "thaw";
    if (auto st = ensure_probed(); !st.ok()) return st;
    if (auto st = check_cgroup_name("tenant", tenant); !st.ok()) return st.error().with_context(op);
    const Hier* h = freezer_hier();
    if (!h)
        return Error(Errc::kUnavailable, fmt::format("{} {}: no cgroup freezer on this node ({})",
                                                     op, tenant, caps_.notes));
    std::string dir = tenant_dir(*h, tenant);
    if (!wait) {
        // Gang slices: one pwrite on a kept fd, no wait for FREEZING -> FROZEN.
        const std::string file = dir + (h->v2 ? "/cgroup.freeze" : "/freezer.state");
        const char* value = h->v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
        if (auto st = write_cached(std::string(tenant), file, value); !st.ok())
            return st.error().with_context(fmt::format("{} {}", op, tenant));
        return {};
    }
    if (!ops_->is_dir(dir))
        return Error(Errc::kNotFound, fmt::format("{} {}: tenant has no cgroup ({} does not exist)",
                                                  op, tenant, dir));
    if (auto st = set_frozen(*h, dir, frozen, wait); !st.ok())
        return st.error().with_context(fmt::format("{} {}", op, tenant));
    return {};
}

// ---------------------------------------------------------------- release

Status LinuxDriver::move_out(const Hier& h, const std::string& dir, std::set<pid_t>* seen) {
    for (int round = 0; round < kMaxMoveOutRounds; ++round) {
        auto procs = ops_->read_file(dir + "/cgroup.procs");
        if (!procs.ok()) return procs.error();
        auto ids = parse_ids(*procs);
        if (ids.empty()) return {};
        for (pid_t pid : ids) {
            if (seen) seen->insert(pid);
            auto st = ops_->write_file(h.root + "/cgroup.procs", std::to_string(pid));
            if (!st.ok() && st.error().code() != Errc::kNotFound) return pid_error(pid, st.error());
        }
    }
    return Error(Errc::kBusy, fmt::format("{} still has tasks after {} rounds of moving them out",
                                          dir, kMaxMoveOutRounds));
}

Status LinuxDriver::remove_dir_retry(const Hier& h, const std::string& dir) {
    long long deadline = ops_->now_ms() + cfg_.rmdir_timeout_ms;
    int delay = 1;
    for (;;) {
        auto st = ops_->remove_dir(dir);
        if (st.ok() || st.error().code() == Errc::kNotFound) return {};
        if (st.error().code() != Errc::kBusy || ops_->now_ms() >= deadline) return st;
        // Exiting tasks linger a moment; new ones may have been forked in.
        (void)move_out(h, dir, nullptr);
        ops_->sleep_ms(delay);
        delay = std::min(delay * 2, kMaxPollDelayMs);
    }
}

Status LinuxDriver::remove_tenant(std::string_view tenant, std::string_view op) {
    std::lock_guard lock(mu_);
    if (auto it = freeze_fds_.find(tenant); it != freeze_fds_.end()) {
        ::close(it->second);
        freeze_fds_.erase(it);
    }
    if (auto st = ensure_probed(); !st.ok()) return st;
    if (auto st = check_cgroup_name("tenant", tenant); !st.ok()) return st.error().with_context(op);
    std::vector<Error> errors;
    auto note = [&](const Status& st) {
        if (!st.ok()) errors.push_back(st.error());
    };

    std::set<pid_t> pids, threads;
    if (auto it = tenants_.find(tenant); it != tenants_.end()) {
        pids = it->second.pids;
        threads = it->second.threads;
    }
    // 1. Thaw, or the tasks cannot run again once moved (v2) / stay stuck (v1).
    if (const Hier* fh = freezer_hier(); fh && ops_->is_dir(tenant_dir(*fh, tenant)))
        note(set_frozen(*fh, tenant_dir(*fh, tenant), false));
    // 2. Move every task back to the root cgroup of each hierarchy.
    for (const auto& h : hiers_)
        if (std::string dir = tenant_dir(h, tenant); ops_->is_dir(dir))
            note(move_out(h, dir, &pids));
    // 3. Unpin: every thread may run on every online CPU again.
    if (auto online = ops_->online_cpus(); online.ok()) {
        for (pid_t pid : pids) {
            auto tids = ops_->list_threads(pid);
            if (!tids.ok()) continue;  // gone: nothing to unpin
            threads.insert(tids->begin(), tids->end());
        }
        for (pid_t tid : threads) {
            auto st = ops_->set_affinity(tid, *online);
            if (!st.ok() && st.error().code() != Errc::kNotFound) note(st);
        }
    } else {
        note(online.error());
    }
    // 4. Remove the cgroups.
    for (const auto& h : hiers_)
        if (std::string dir = tenant_dir(h, tenant); ops_->is_dir(dir))
            note(remove_dir_retry(h, dir));
    tenants_.erase(std::string(tenant));

    if (errors.empty()) return {};
    std::vector<std::string> msgs;
    for (const auto& e : errors) msgs.push_back(e.message());
    return Error(errors.front().code(),
                 fmt::format("{} {}: {}", op, tenant, fmt::join(msgs, "; ")));
}

Result<std::vector<std::string>> LinuxDriver::thaw_all() {
    std::lock_guard lock(mu_);
    if (auto st = ensure_probed(); !st.ok()) return st.error();
    std::set<std::string> names;
    std::vector<std::string> problems;
    for (const auto& h : hiers_) {
        std::string pd = parent_dir(h);
        if (!ops_->is_dir(pd)) continue;
        auto subs = ops_->list_subdirs(pd);
        if (!subs.ok()) {
            problems.push_back(subs.error().message());
            continue;
        }
        names.insert(subs->begin(), subs->end());
    }
    Errc code = Errc::kIo;
    if (const Hier* fh = freezer_hier()) {
        for (const auto& n : names) {
            std::string dir = tenant_dir(*fh, n);
            if (!ops_->is_dir(dir)) continue;
            if (auto st = set_frozen(*fh, dir, false); !st.ok()) {
                code = st.error().code();
                problems.push_back(st.error().message());
            } else {
                spdlog::info("linux driver: thaw_all: thawed {}", dir);
            }
        }
    }
    if (!problems.empty())
        return Error(code, fmt::format("thaw_all: {}", fmt::join(problems, "; ")));
    return std::vector<std::string>(names.begin(), names.end());
}

bool name_char_ok(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '@' || c == '+' || c == '-';
}

}  // namespace

Status check_cgroup_name(std::string_view what, std::string_view name) {
    bool ok = !name.empty() && name.size() <= 64 && name != "." && name != ".." &&
              std::all_of(name.begin(), name.end(), name_char_ok);
    if (ok) return {};
    std::string shown;
    for (char c : name.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    return Error(
        Errc::kInvalidArgument,
        fmt::format("{} \"{}\": must be 1..64 characters of [A-Za-z0-9._:@+-], not . or ..", what,
                    shown));
}

Status check_parent_path(std::string_view parent) {
    if (parent.empty() || parent.size() > 255)
        return Error(Errc::kInvalidArgument, "cgroup parent: must be 1..255 characters");
    size_t pos = 0;
    while (pos <= parent.size()) {
        size_t slash = parent.find('/', pos);
        if (slash == std::string_view::npos) slash = parent.size();
        if (auto st = check_cgroup_name("cgroup parent component", parent.substr(pos, slash - pos));
            !st.ok())
            return st;
        pos = slash + 1;
    }
    return {};
}

Result<std::unique_ptr<Driver>> make_linux_driver(const DriverConfig& config,
                                                  std::shared_ptr<LinuxOps> ops) {
    if (auto st = check_parent_path(config.parent); !st.ok())
        return st.error().with_context("linux driver config");
    if (config.cgroup_root.empty() || config.cgroup_root.front() != '/')
        return Error(Errc::kInvalidArgument,
                     fmt::format("linux driver config: cgroup_root \"{}\" must be an absolute path",
                                 config.cgroup_root));
    if (config.freeze_timeout_ms < 0 || config.rmdir_timeout_ms < 0)
        return Error(Errc::kInvalidArgument, "linux driver config: timeouts must be >= 0");
    if (!ops) ops = make_real_linux_ops();
    return std::unique_ptr<Driver>(new LinuxDriver(config, std::move(ops)));
}

}  // namespace vtasos::linuxdrv
