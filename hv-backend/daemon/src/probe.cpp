// Bandwidth probe: streamer processes, the window schedule, the analysis, and
// the Service's probe operation (see probe.h for the method).
#include "probe.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include "internal/log.h"
#include "vtasos/daemon/service.h"

namespace vtasos::daemon {
namespace probe {

double now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

std::optional<Sample> sample_from_note(const std::string& note) {
    auto token = [&](std::string_view key) -> std::optional<double> {
        size_t pos = 0;
        while ((pos = note.find(key, pos)) != std::string::npos) {
            bool start = pos == 0 || note[pos - 1] == ' ';
            if (start && pos + key.size() < note.size() && note[pos + key.size()] == '=') {
                const char* b = note.c_str() + pos + key.size() + 1;
                char* e = nullptr;
                double v = std::strtod(b, &e);
                if (e != b && std::isfinite(v) && v >= 0) return v;
                return std::nullopt;
            }
            pos += key.size();
        }
        return std::nullopt;
    };
    auto t = token("t_us"), cpu = token("cpu_us"), prog = token("progress");
    if (!t || !cpu || !prog) return std::nullopt;
    return Sample{*t / 1e3, *cpu / 1e3, *prog};
}

int window_for_rate(double events_per_s) {
    if (!(events_per_s > 0)) return kWindowMs;
    double ms = kSettleMs + 2.0 * kMinEventsPerWindow * 1e3 / events_per_s;
    int w = static_cast<int>(std::ceil(ms / 50.0)) * 50;
    return std::clamp(w, kWindowMs, kMaxWindowMs);
}

std::vector<Window> schedule(double start_ms, int duration_ms, int window_ms, int lead_in_ms) {
    // lead-in, then off/on pairs and a closing off window, within duration.
    // Short windows, many pairs: other load drifts over seconds, and an on
    // window compared with the off windows right beside it cancels that.
    if (window_ms <= 0) window_ms = kWindowMs;
    int pairs = std::max(1, (duration_ms - lead_in_ms - window_ms) / (2 * window_ms));
    std::vector<Window> w;
    double t = start_ms + lead_in_ms;
    for (int i = 0; i < pairs; ++i) {
        w.push_back({false, t, t + window_ms});
        t += window_ms;
        w.push_back({true, t, t + window_ms});
        t += window_ms;
    }
    w.push_back({false, t, t + window_ms});
    return w;
}

namespace {

// The upper quartile (nearest rank) of the per-window drops. Not the median:
// on a VM whose host moves the vCPUs between cache and memory domains, the
// streamers reach the tenant's memory path in only some windows (CI, this
// project's VM: 5 of 14 windows at 37-47 %, the others 0-4 %, streamers at
// full rate throughout), and the median then called a streaming program
// `low`. The tenant is sensitive when a quarter of the comparable windows
// slowed it; a compute-bound one stays within ~1 % in every window.
double upper_quartile(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t rank = (3 * v.size() + 3) / 4;  // ceil(0.75 n), 1-based
    return v[rank - 1];
}

}  // namespace

Verdict analyze(const std::vector<Sample>& samples, const std::vector<Window>& windows,
                double threshold, int settle_ms, int min_events) {
    Verdict v;
    if (windows.empty()) {
        v.reason = "no probe windows";
        return v;
    }
    if (samples.size() < 2) {
        v.reason = fmt::format(
            "the tenant sent {} observation(s) during the probe: its OpenMP tool "
            "(libvtasos-ompt) must be running and connected to report progress",
            samples.size());
        return v;
    }
    // Progress and CPU time between consecutive samples, summed per window for
    // the intervals lying wholly inside it (after the settle time).
    std::vector<double> events(windows.size(), 0), cpu(windows.size(), 0);
    std::vector<int> intervals(windows.size(), 0);
    for (size_t i = 0; i + 1 < samples.size(); ++i) {
        const Sample& a = samples[i];
        const Sample& b = samples[i + 1];
        if (b.t_ms <= a.t_ms || b.progress < a.progress || b.cpu_ms < a.cpu_ms) continue;
        for (size_t w = 0; w < windows.size(); ++w) {
            if (a.t_ms >= windows[w].begin_ms + settle_ms && b.t_ms <= windows[w].end_ms) {
                events[w] += b.progress - a.progress;
                cpu[w] += b.cpu_ms - a.cpu_ms;
                ++intervals[w];
                break;
            }
        }
    }
    // A window that cannot be timed (an application phase with one long
    // region, start-up, a moment frozen) is left out on its own; the probe
    // fails only when too few streaming windows remain.
    std::vector<double> rate(windows.size(), 0);
    std::vector<bool> usable(windows.size(), false);
    int unusable = 0;
    std::string first_unusable;
    for (size_t w = 0; w < windows.size(); ++w) {
        std::string why;
        if (intervals[w] == 0)
            why = fmt::format(
                "no complete observation interval inside probe window {} ({} samples in all): "
                "the tool did not report often enough",
                w, samples.size());
        else if (events[w] < min_events)
            why = fmt::format(
                "the tenant made {:.0f} progress events (regions, barriers, loops) in window {}, "
                "fewer than {}: too few synchronisation points to time it (one long parallel "
                "region, or idle)",
                events[w], w, min_events);
        // Little CPU time is fine (a loaded machine; the rate is per CPU
        // second), none is not.
        else if (cpu[w] < kMinCpuMsPerWindow)
            why = fmt::format("the tenant used {:.1f} ms of CPU in window {}: frozen or idle",
                              cpu[w], w);
        if (!why.empty()) {
            if (first_unusable.empty()) first_unusable = std::move(why);
            ++unusable;
            continue;
        }
        usable[w] = true;
        rate[w] = events[w] / cpu[w] * 1e3;
        (windows[w].on ? v.on_rates : v.off_rates).push_back(rate[w]);
    }
    // Windows in which the streamers hardly ran put no pressure on the tenant.
    double best_stream = 0;
    for (const Window& w : windows)
        if (w.on && w.stream_mb_s >= 0) {
            best_stream = std::max(best_stream, w.stream_mb_s);
            v.stream_rates.push_back(w.stream_mb_s);
        }
    if (!v.stream_rates.empty() && best_stream <= 0) {
        v.reason = "the streamers moved no data in any streaming window (they got no CPU time)";
        return v;
    }
    for (size_t w = 0; w < windows.size(); ++w) {
        if (!windows[w].on || !usable[w]) continue;
        if (windows[w].stream_mb_s >= 0 &&
            windows[w].stream_mb_s < kMinStreamFraction * best_stream) {
            ++v.skipped;
            continue;
        }
        // The off windows around it: slow drift (phases of the application,
        // other load) cancels out.
        std::vector<double> around;
        if (w > 0 && !windows[w - 1].on && usable[w - 1]) around.push_back(rate[w - 1]);
        if (w + 1 < windows.size() && !windows[w + 1].on && usable[w + 1])
            around.push_back(rate[w + 1]);
        if (around.empty()) continue;
        double base = 0;
        for (double r : around) base += r;
        base /= static_cast<double>(around.size());
        v.drops.push_back(base > 0 ? 1.0 - rate[w] / base : 0.0);
    }
    const size_t on_windows = static_cast<size_t>(
        std::count_if(windows.begin(), windows.end(), [](const Window& w) { return w.on; }));
    const size_t need = std::min<size_t>(kMinDrops, on_windows);
    if (v.drops.size() < need) {
        v.reason = v.drops.empty() && unusable == 0
                       ? std::string("no streaming window had a baseline window beside it")
                       : fmt::format(
                             "{} of {} streaming windows could be compared (at least {} "
                             "needed); {} window(s) could not be timed, the first: {}",
                             v.drops.size(), on_windows, need, unusable,
                             first_unusable.empty() ? "-" : first_unusable);
        if (unusable == 0 && v.skipped > 0)
            v.reason += fmt::format("; {} left out because the streamers barely ran", v.skipped);
        v.drops.clear();
        return v;
    }
    v.drop = upper_quartile(v.drops);
    v.cls = v.drop >= threshold ? BandwidthClass::kHigh : BandwidthClass::kLow;
    v.reason = fmt::format(
        "progress per CPU second {:.1f} % lower with the streamer running (upper quartile of "
        "{} windows; threshold {:.0f} %)",
        v.drop * 100, v.drops.size(), threshold * 100);
    if (v.skipped > 0)
        v.reason += fmt::format(
            "; {} streaming window(s) left out: the streamers ran at less than {:.0f} % of their "
            "best rate ({:.0f} MB/s), their CPU was taken",
            v.skipped, kMinStreamFraction * 100, best_stream);
    if (unusable > 0)
        v.reason += fmt::format("; {} window(s) could not be timed and were left out (first: {})",
                                unusable, first_unusable);
    return v;
}

// ------------------------------------------------------------------ streamers

namespace {

// The child: async-signal-safe calls only (the daemon may have other
// threads), no allocation through malloc, all inherited descriptors closed.
[[noreturn]] void streamer_main(int pu, size_t bytes, int max_life_s, uint64_t* counter) {
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void)syscall(SYS_close_range, 3u, ~0u, 0u);
    // The daemon blocks SIGTERM/SIGINT for its signalfd: the child must die
    // of them, and of its own alarm, like any process.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    (void)sigaction(SIGALRM, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, nullptr);
    alarm(static_cast<unsigned>(max_life_s));
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
    size_t n = bytes / sizeof(double);
    void* m = mmap(nullptr, 3 * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) _exit(3);
    double* a = static_cast<double*>(m);
    double* b = a + n;
    double* c = b + n;
    for (size_t i = 0; i < n; ++i) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    raise(SIGSTOP);  // wait for the first "on" window
    // Counted per 1 MiB chunk of each array: fine enough for 250 ms windows,
    // rare enough to cost nothing.
    constexpr size_t kChunk = (1u << 20) / sizeof(double);
    for (;;) {
        // STREAM triad; the volatile store keeps the loop from being elided.
        for (size_t i0 = 0; i0 < n; i0 += kChunk) {
            size_t end = std::min(n, i0 + kChunk);
            for (size_t i = i0; i < end; ++i) a[i] = b[i] + 3.0 * c[i];
            __atomic_fetch_add(counter, 3 * (end - i0) * sizeof(double), __ATOMIC_RELAXED);
        }
        *static_cast<volatile double*>(&a[n / 2]) = a[n / 3];
        double* t = a;
        a = b;
        b = t;
    }
}

}  // namespace

Streamers::~Streamers() {
    kill();
    if (counters_) munmap(counters_, static_cast<size_t>(sysconf(_SC_PAGESIZE)));
}

uint64_t Streamers::bytes() const {
    uint64_t sum = 0;
    if (counters_)
        for (size_t i = 0; i < pids_.size(); ++i)
            sum += __atomic_load_n(&counters_[i], __ATOMIC_RELAXED);
    return sum;
}

Status Streamers::start(const std::vector<int>& pus, size_t array_bytes, int max_life_s) {
    if (pus.size() > static_cast<size_t>(kMaxStreamers))
        return Error(Errc::kInvalidArgument, fmt::format("probe: {} streamers asked, at most {}",
                                                         pus.size(), kMaxStreamers));
    if (!counters_) {
        void* m = mmap(nullptr, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return Error(Errc::kBusy, fmt::format("probe: cannot map the streamers' counters: {}",
                                                  std::strerror(errno)));
        counters_ = static_cast<uint64_t*>(m);
    }
    for (int pu : pus) {
        pid_t pid = fork();
        if (pid < 0) {
            int e = errno;
            kill();
            return Error(Errc::kBusy,
                         fmt::format("probe: cannot fork a streamer: {}", std::strerror(e)));
        }
        if (pid == 0) streamer_main(pu, array_bytes, max_life_s, &counters_[pids_.size()]);
        pids_.push_back(pid);
    }
    return {};
}

void Streamers::run(bool on) {
    for (pid_t p : pids_) ::kill(p, on ? SIGCONT : SIGSTOP);
}

void Streamers::kill() {
    for (pid_t p : pids_) {
        ::kill(p, SIGKILL);
        while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    pids_.clear();
}

// ------------------------------------------------------------------ reports

nlohmann::json Probe::to_json(double now) const {
    nlohmann::json j = {{"tenant", tenant},           {"state", state},
                        {"duration_ms", duration_ms}, {"window_ms", window_ms},
                        {"probe_pus", pus},           {"tenant_pus", tenant_pus},
                        {"samples", samples.size()}};
    if (state == "running")
        j["remaining_ms"] = std::max<int64_t>(0, static_cast<int64_t>(end_ms - now));
    if (!error.empty()) j["error"] = error;
    if (verdict) {
        j["bandwidth"] = to_string(verdict->cls);
        j["drop"] = std::round(verdict->drop * 1e4) / 1e4;
        j["threshold"] = kDefaultThreshold;
        j["drops"] = verdict->drops;
        j["off_rates"] = verdict->off_rates;
        j["on_rates"] = verdict->on_rates;
        j["stream_mb_s"] = verdict->stream_rates;
        j["skipped_windows"] = verdict->skipped;
        j["reason"] = verdict->reason;
    }
    return j;
}

}  // namespace probe

// ---------------------------------------------------------------- Service side

Result<nlohmann::json> Service::do_probe(const ProbeArgs& a, const Peer& peer) {
    auto found = find_owned("probe", a.tenant, peer);
    if (!found) return found.error();
    const double now = probe::now_ms();
    if (a.result_only) {
        if (probe_ && probe_->tenant == a.tenant)
            return nlohmann::json{{"probe", probe_->to_json(now)}};
        auto it = probe_results_.find(a.tenant);
        if (it == probe_results_.end())
            return Error(Errc::kNotFound,
                         fmt::format("probe.tenant: no probe of \"{}\" has run", a.tenant));
        return nlohmann::json{{"probe", it->second}};
    }
    if (probe_)
        return Error(
            Errc::kBusy,
            fmt::format("probe: a probe of tenant \"{}\" is running ({} ms left); one "
                        "probe at a time",
                        probe_->tenant, static_cast<int64_t>(std::max(0.0, probe_->end_ms - now))));
    const TenantEntry& t = **found;
    if (t.processes.empty())
        return Error(Errc::kInvalidArgument,
                     fmt::format("probe.tenant: \"{}\" has no processes to measure", a.tenant));
    // Free PUs: in no tenant's placement; those in the tenant's packages first
    // (they share its last-level cache and memory controller).
    std::set<int> used;
    for (const auto& [name, other] : tenants_)
        for (int pu : other.placement.all_pus()) used.insert(pu);
    std::vector<int> mine = t.placement.all_pus();
    std::set<int> my_packages;
    for (const auto& pu : topology().pus)
        if (std::find(mine.begin(), mine.end(), pu.os_index) != mine.end())
            my_packages.insert(pu.package);
    std::vector<int> near, far;
    for (const auto& pu : topology().pus) {
        if (used.count(pu.os_index)) continue;
        (my_packages.count(pu.package) ? near : far).push_back(pu.os_index);
    }
    std::vector<int> chosen = near.empty() ? far : near;
    if (chosen.empty())
        return Error(Errc::kBusy,
                     fmt::format("probe: no free PU beside tenant \"{}\": it holds PUs {}, other "
                                 "tenants hold the rest of the node's {} PUs ({}); release a "
                                 "tenant or register this one with fewer CPUs",
                                 a.tenant, format_cpulist(mine), topology().pus.size(),
                                 format_cpulist(std::vector<int>(used.begin(), used.end()))));
    if (chosen.size() > static_cast<size_t>(probe::kMaxStreamers))
        chosen.resize(probe::kMaxStreamers);

    auto p = std::make_unique<probe::Probe>();
    p->tenant = a.tenant;
    p->duration_ms = a.duration_ms;
    p->pus = chosen;
    p->tenant_pus = mine;
    p->start_ms = now;
    // Windows sized from the tenant's own progress rate, when it reported one.
    double rate =
        t.observations ? t.observations->region_rate_hz + t.observations->barrier_rate_hz : 0.0;
    p->window_ms = probe::window_for_rate(rate);
    p->windows = probe::schedule(now, a.duration_ms, p->window_ms);
    p->end_ms = p->windows.back().end_ms;
    p->streamers = std::make_unique<probe::Streamers>();
    int life_s = static_cast<int>((p->end_ms - now) / 1000) + 5;
    if (auto s = p->streamers->start(chosen, probe::kArrayBytes, life_s); !s) return s.error();
    spdlog::info(
        "event=probe_start tenant={} duration_ms={} window_ms={} probe_pus={} tenant_pus={} "
        "streamers={}",
        log::quote(a.tenant), a.duration_ms, p->window_ms, format_cpulist(chosen),
        format_cpulist(mine), fmt::join(p->streamers->pids(), ","));
    probe_ = std::move(p);
    return nlohmann::json{{"probe", probe_->to_json(now)}};
}

void Service::probe_sample(const std::string& tenant, const Profile& observations) {
    if (!probe_ || probe_->tenant != tenant || probe_->state != "running") return;
    if (auto s = probe::sample_from_note(observations.note)) probe_->samples.push_back(*s);
}

std::optional<nlohmann::json> Service::probe_hint(const std::string& tenant) const {
    if (!probe_ || probe_->tenant != tenant || probe_->state != "running") return std::nullopt;
    return nlohmann::json{{"update_ms", probe::kUpdateMs}};
}

void Service::probe_cancel(const std::string& tenant, std::string_view why) {
    if (!tenant.empty()) probe_results_.erase(tenant);  // the tenant goes, its report too
    if (!probe_ || (!tenant.empty() && probe_->tenant != tenant)) return;
    probe_->streamers.reset();  // SIGKILL + reap
    spdlog::info("event=probe_cancel tenant={} reason={}", log::quote(probe_->tenant),
                 log::quote(why));
    probe_.reset();
}

int64_t Service::probe_tick() {
    if (!probe_) return -1;
    probe::Probe& p = *probe_;
    const double now = probe::now_ms();
    // Streamer on/off at window starts (late ticks jump to the current window).
    // The window just ended gets the streamers' rate since its start (a
    // late tick that skips windows leaves them unmeasured).
    auto close_window = [&](size_t w) {
        uint64_t b = p.streamers ? p.streamers->bytes() : 0;
        if (w < p.windows.size() && now - p.mark_ms >= 1 && b >= p.mark_bytes)
            p.windows[w].stream_mb_s =
                static_cast<double>(b - p.mark_bytes) / 1e6 / ((now - p.mark_ms) / 1e3);
        p.mark_bytes = b;
        p.mark_ms = now;
    };
    while (p.next_window < p.windows.size() && p.windows[p.next_window].begin_ms <= now) {
        if (p.next_window > 0)
            close_window(p.next_window - 1);
        else
            close_window(p.windows.size());  // lead-in: just set the mark
        bool on = p.windows[p.next_window].on;
        if (on != p.streaming && p.streamers) p.streamers->run(on);
        p.streaming = on;
        ++p.next_window;
    }
    if (now < p.end_ms) {
        double next =
            p.next_window < p.windows.size() ? p.windows[p.next_window].begin_ms : p.end_ms;
        return static_cast<int64_t>(std::max(0.0, next - now) * 1e6) + 1;
    }
    // Done: stop the streamers, classify, store the class as an observation.
    if (p.next_window > 0) close_window(p.next_window - 1);
    p.streamers.reset();
    p.verdict = probe::analyze(p.samples, p.windows);
    p.state = "done";
    spdlog::info(
        "event=probe_done tenant={} bandwidth={} drop={:.3f} drops={} samples={} "
        "reason={}",
        log::quote(p.tenant), to_string(p.verdict->cls), p.verdict->drop,
        log::quote(fmt::format("{:.3f}", fmt::join(p.verdict->drops, ","))), p.samples.size(),
        log::quote(p.verdict->reason));
    nlohmann::json report = p.to_json(now);
    std::string tenant = p.tenant;
    BandwidthClass cls = p.verdict->cls;
    std::string why = p.verdict->reason;
    probe_.reset();
    auto it = tenants_.find(tenant);
    if (it != tenants_.end() && cls != BandwidthClass::kUnknown) {
        // Into the tenant's profile like a learned observation: the same rules
        // (fold into the request, maybe the one re-placement) apply.
        Profile obs = it->second.observations.value_or(Profile{});
        if (obs.name.empty()) obs.name = tenant;
        obs.bandwidth = Bandwidth{cls, std::nullopt};
        obs.note = "bandwidth from vtasosd probe: " + why;
        Peer daemon_peer;  // uid 0: the daemon acts on its own tenant
        auto r = do_update(UpdateArgs{tenant, obs}, daemon_peer);
        if (r) {
            report["replaced"] = (*r)["replaced"];
            report["update_reason"] = (*r)["reason"];
            report["placement"] = (*r)["placement"];
        } else {
            report["update_error"] = r.error().message();
        }
    }
    probe_results_[tenant] = std::move(report);
    return -1;
}

}  // namespace vtasos::daemon
