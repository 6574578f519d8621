#include "derive.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "config.h"
#include "vtasos/profiles/profiles.h"

namespace vtasos::ompt {

namespace {

double seconds(uint64_t ticks, const RunInfo& run) {
    return run.ticks_per_s > 0 ? static_cast<double>(ticks) / run.ticks_per_s : 0.0;
}

double rate(uint64_t n, const RunInfo& run) {
    return run.wall_s > 0 ? std::min(1e9, static_cast<double>(n) / run.wall_s) : 0.0;
}

// Values in notes carry no spaces, so that a note splits on whitespace.
std::string token(std::string_view s) {
    std::string r(s);
    for (char& c : r)
        if (c == ' ' || c == '\t' || c == '\n' || c == '=') c = '_';
    return r;
}

}  // namespace

std::string profile_name_for(std::string_view exe) {
    std::string r;
    for (char c : exe.substr(0, 64)) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '@' || c == '+' || c == '-';
        r.push_back(ok ? c : '_');
    }
    return r.empty() ? std::string("unnamed") : r;
}

Profile learned_profile(const Totals& t, const RunInfo& run, const Profile& base) {
    Profile p;
    if (base.name.empty() || base.name == "default") {
        p.name = profile_name_for(run.exe);
        if (!run.exe.empty() && run.exe.find('/') == std::string::npos && run.exe.size() <= 255)
            p.match = {run.exe};
    } else {
        p.name = base.name;
        p.match = base.match;
    }
    p.coexist = base.coexist;
    p.gang = run.gang_wish_dropped && base.gang.value_or(false) ? std::nullopt : base.gang;
    p.threads = static_cast<int>(std::min<uint64_t>(t.outer_team_size_max, kMaxCpusPerRequest));
    p.region_rate_hz = rate(t.regions, run);
    p.barrier_rate_hz = rate(t.barrier_events(), run);
    if (t.task_ticks > 0)
        p.sync_fraction = std::clamp(
            static_cast<double>(t.region_wait_ticks) / static_cast<double>(t.task_ticks), 0.0, 1.0);
    // Busy time per thread; imbalance over the threads that ran implicit tasks.
    if (t.threads.size() > 1) {
        double sum = 0, mx = 0;
        for (const auto& th : t.threads) {
            double busy = th.task_ticks > th.wait_ticks
                              ? static_cast<double>(th.task_ticks - th.wait_ticks)
                              : 0.0;
            sum += busy;
            mx = std::max(mx, busy);
        }
        double mean = sum / static_cast<double>(t.threads.size());
        if (mean > 0) p.imbalance = std::clamp((mx - mean) / mean, 0.0, 100.0);
    }
    // Round for readable files; exact counts are in the note.
    auto round4 = [](double v) { return std::round(v * 1e4) / 1e4; };
    p.region_rate_hz = round4(p.region_rate_hz);
    p.barrier_rate_hz = round4(p.barrier_rate_hz);
    p.sync_fraction = round4(p.sync_fraction);
    p.imbalance = round4(p.imbalance);
    p.bandwidth = run.bandwidth;
    p.note = learned_note(t, run);
    return p;
}

std::string learned_note(const Totals& t, const RunInfo& run) {
    std::string n = "vtasos-ompt learned:";
    auto kv = [&n](std::string_view k, auto v) { n += fmt::format(" {}={}", k, v); };
    auto kvs = [&n](std::string_view k, double v) { n += fmt::format(" {}={:.6f}", k, v); };
    kv("exe", token(run.exe.empty() ? "?" : run.exe));
    kvs("wall_s", run.wall_s);
    kv("threads_seen", t.threads_seen);
    kv("threads_untracked", t.threads_untracked);
    kv("regions", t.regions);
    kv("nested_regions", t.nested_regions);
    kv("requested_sum", t.requested_sum);
    kv("teams", t.teams);
    kv("team_size_sum", t.team_size_sum);
    kv("team_size_max", t.team_size_max);
    kv("implicit_tasks", t.implicit_tasks);
    kv("barriers", t.barrier_instances());
    kv("barrier_events", t.barrier_events());
    kv("barriers_explicit", t.sync_instances[kSyncBarrierExplicit]);
    kv("barriers_implicit", t.sync_instances[kSyncBarrierImplicit]);
    kv("barriers_implementation", t.sync_instances[kSyncBarrierImplementation]);
    kv("barriers_teams", t.sync_instances[kSyncBarrierTeams]);
    kv("taskwaits", t.sync_instances[kSyncTaskwait]);
    kv("taskgroups", t.sync_instances[kSyncTaskgroup]);
    kv("reductions", t.sync_instances[kSyncReduction]);
    kv("tasks", t.tasks_created);
    kv("loops", t.work_instances[kWorkLoop]);
    kv("sections", t.work_instances[kWorkSections]);
    kv("singles", t.work_instances[kWorkSingle]);
    kv("workshares", t.work_instances[kWorkWorkshare]);
    kv("taskloops", t.work_instances[kWorkTaskloop]);
    kv("criticals", t.mutex_acquired[kMutexCritical]);
    kv("locks", t.mutex_acquired[kMutexLock]);
    kv("nest_locks", t.mutex_acquired[kMutexNestLock]);
    kv("ordered", t.mutex_acquired[kMutexOrdered]);
    kv("atomics", t.mutex_acquired[kMutexAtomic]);
    uint64_t barrier_wait = 0;
    for (int k = 0; k < kSyncKinds; ++k)
        if (is_barrier(static_cast<SyncKind>(k))) barrier_wait += t.sync_wait_ticks[k];
    kvs("thread_s", seconds(t.task_ticks, run));
    kvs("barrier_wait_s", seconds(barrier_wait, run));
    kvs("taskwait_wait_s",
        seconds(t.sync_wait_ticks[kSyncTaskwait] + t.sync_wait_ticks[kSyncTaskgroup], run));
    kvs("mutex_wait_s", seconds(t.mutex_wait_total_ticks(), run));
    kvs("mutex_hold_s", seconds(t.mutex_hold_ticks, run));
    kvs("lock_contention", t.task_ticks > 0
                               ? std::min(1.0, static_cast<double>(t.mutex_wait_total_ticks()) /
                                                   static_cast<double>(t.task_ticks))
                               : 0.0);
    kv("bandwidth", run.bandwidth.gbps ? fmt::format("{:.3f}GB/s", *run.bandwidth.gbps)
                                       : std::string(to_string(run.bandwidth.cls)));
    kv("bandwidth_source", token(run.bandwidth_source.empty() ? "none" : run.bandwidth_source));
    if (n.size() > 4000) n.resize(4000);
    return n;
}

std::map<std::string, std::string> parse_note(std::string_view note) {
    std::map<std::string, std::string> r;
    size_t i = 0;
    while (i < note.size()) {
        while (i < note.size() && note[i] == ' ') ++i;
        size_t j = note.find(' ', i);
        if (j == std::string_view::npos) j = note.size();
        std::string_view w = note.substr(i, j - i);
        size_t eq = w.find('=');
        if (eq != std::string_view::npos && eq > 0)
            r[std::string(w.substr(0, eq))] = std::string(w.substr(eq + 1));
        i = j;
    }
    return r;
}

ProfileChoice choose_profile(const std::optional<std::string>& requested, const std::string& exe,
                             const std::vector<std::string>& profile_dirs) {
    ProfileChoice c;
    std::vector<ProfileStore> stores;
    for (const auto& d : profile_dirs) {
        std::error_code ec;
        if (!std::filesystem::is_directory(d, ec)) continue;
        auto s = ProfileStore::load_dir(d);
        if (s)
            stores.push_back(std::move(s).value());
        else
            c.warnings.push_back(fmt::format("profile directory skipped: {}", s.error().message()));
    }
    if (requested) {
        const std::string& r = *requested;
        bool is_path = r.find('/') != std::string::npos ||
                       (r.size() > 5 && r.compare(r.size() - 5, 5, ".json") == 0);
        if (is_path) {
            auto p = load_profile_file(r);
            if (p) {
                c.profile = std::move(p).value();
                c.source = "VTASOS_PROFILE file " + r;
                c.known = true;
                return c;
            }
            c.warnings.push_back(fmt::format("VTASOS_PROFILE={}: {}; matching by executable name",
                                             r, p.error().message()));
        } else {
            for (const auto& s : stores) {
                auto p = s.get(r);
                if (p) {
                    c.profile = std::move(p).value();
                    c.source = "VTASOS_PROFILE " + r;
                    c.known = r != "default";
                    return c;
                }
            }
            if (r == "default") {
                c.profile = default_profile();
                c.source = "VTASOS_PROFILE default";
                return c;
            }
            std::string known;
            for (const auto& s : stores)
                for (const auto& n : s.names()) known += (known.empty() ? "" : ", ") + n;
            c.warnings.push_back(fmt::format(
                "VTASOS_PROFILE={}: no such profile (known: {}); matching by executable name", r,
                known.empty() ? "none, no profile directory found" : known));
        }
    }
    for (const auto& s : stores) {
        if (const Profile* p = s.match_executable(exe)) {
            c.profile = *p;
            c.source = "executable " + exe;
            c.known = true;
            return c;
        }
    }
    c.profile = default_profile();
    c.source = "default";
    return c;
}

}  // namespace vtasos::ompt
