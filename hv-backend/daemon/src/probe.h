// Bandwidth probe (DESIGN.md "Learning"; docs/protocol.md "probe").
//
// Without hardware counters nobody can tell how much memory bandwidth a
// tenant needs. The probe finds out by experiment: it runs a memory-streaming
// loop (STREAM triad over buffers far larger than the last-level cache) on
// free PUs next to the tenant and measures how much the tenant slows down.
// A bandwidth-hungry tenant competes for the same caches and memory
// controllers and slows down; a compute-bound one does not.
//
// How the slowdown is measured. The tenant's OMPT tool sends observations
// whose note carries `t_us=` (CLOCK_MONOTONIC), `cpu_us=` (process CPU time)
// and `progress=` (parallel regions + barrier and loop instances so far).
// While a probe runs, advice replies tell the tool to send them every
// kUpdateMs. The streamer is switched on and off (SIGCONT/SIGSTOP) in
// alternating windows; each window's rate is progress per CPU second of the
// tenant. Per CPU second, not per wall second: on a shared machine other
// processes take CPU time from the tenant in any window, and that must not
// look like a memory slowdown (stalled cycles still count as CPU time, so a
// bandwidth-bound tenant does lose progress per CPU second). Each "on" window
// is compared with the mean of the "off" windows around it; the drop is the
// upper quartile of those per-window drops (a quarter of the windows slowed by
// the threshold is enough: a VM's host may keep the streamers off the
// tenant's memory path in the others). A window that cannot be timed (too few
// events: a phase with one long region, start-up) is left out alone; at least
// kMinDrops compared "on" windows make a verdict. Each streamer counts the bytes it streams
// in a shared page; an "on" window in which the streamers moved less than half
// of their best window's bytes is left out (the streamer's CPU was taken,
// e.g. by the host of a VM: a window without pressure says nothing). Drop >= threshold: `high`;
// below: `low`; too few events or samples in a window: `unknown`, with the reason.
//
// Bounds: one probe at a time per daemon, duration kMinProbeMs..kMaxProbeMs,
// at most kMaxStreamers streamer processes; each streamer is a forked child
// that is SIGKILLed when the probe ends, the tenant goes, or the daemon shuts
// down, and dies with the daemon (PR_SET_PDEATHSIG) and after its own alarm.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/profile.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos::daemon::probe {

// Measured on the NAS kernels and the probe test programs (ompt-tool/README.md
// "Bandwidth probe"): compute-bound codes lose < 1 % progress per CPU second
// (single windows up to 3 %), cache- and memory-bound ones 8-19 %.
inline constexpr double kDefaultThreshold = 0.05;
inline constexpr int kUpdateMs = 50;               // observation period asked of the tool
inline constexpr int kLeadInMs = 300;              // tool switches to fast updates, streamers start
inline constexpr int kWindowMs = 250;              // one on or off window
inline constexpr int kSettleMs = 60;               // ignored at the start of each window
inline constexpr int kMinEventsPerWindow = 8;      // fewer: the rate is too coarse
inline constexpr double kMinCpuMsPerWindow = 1.0;  // less: frozen or idle
inline constexpr int kMaxStreamers = 4;
inline constexpr size_t kArrayBytes = 64u << 20;   // x3 arrays per streamer: >> any LLC here
inline constexpr double kMinStreamFraction = 0.5;  // of the best on window's streamer rate
inline constexpr size_t kMinDrops = 3;  // compared streaming windows for a verdict (fewer: all)

// One observation of the tenant, from the note tokens of an update.
struct Sample {
    double t_ms = 0;    // tool's CLOCK_MONOTONIC
    double cpu_ms = 0;  // tenant process CPU time
    double progress = 0;
};
// Reads t_us / cpu_us / progress from an observations note; nullopt when absent.
std::optional<Sample> sample_from_note(const std::string& note);

struct Window {
    bool on = false;                  // streamer running
    double begin_ms = 0, end_ms = 0;  // CLOCK_MONOTONIC
    double stream_mb_s = -1;          // streamers' measured rate in this window; < 0: not measured
};

struct Verdict {
    BandwidthClass cls = BandwidthClass::kUnknown;
    double drop = 0;                // upper quartile of the relative drops of progress per CPU second (0.12 = 12 %)
    std::vector<double> drops;      // per "on" window
    std::vector<double> off_rates;  // progress per CPU second, per "off" window
    std::vector<double> on_rates;
    std::vector<double> stream_rates;  // MB/s of the streamers, per "on" window (when measured)
    int skipped = 0;                   // "on" windows left out: the streamers barely ran
    std::string reason;
};

// Pure logic (unit-tested): classifies from the samples and the windows.
Verdict analyze(const std::vector<Sample>& samples, const std::vector<Window>& windows,
                double threshold = kDefaultThreshold, int settle_ms = kSettleMs,
                int min_events = kMinEventsPerWindow);

// Window length for a tenant making `events_per_s` progress events (regions +
// barriers, from its observations; 0: unknown): long enough for 2 x
// kMinEventsPerWindow events after the settle time, kWindowMs at least,
// kMaxWindowMs at most. Slow-progress codes (FT, MG at large classes) need
// longer windows; fast ones keep short windows against drift.
int window_for_rate(double events_per_s);
inline constexpr int kMaxWindowMs = 4000;

// The on/off window schedule of a probe of `duration_ms` starting at `start_ms`:
// lead-in, then off, on, off, ..., off (at least one on window). Windows are
// `window_ms` long (0: kWindowMs); a longer probe has more of them.
std::vector<Window> schedule(double start_ms, int duration_ms, int window_ms = 0,
                             int lead_in_ms = kLeadInMs);

// Streamer processes: forked children, each pinned to one PU, stopped until resumed.
class Streamers {
public:
    Streamers() = default;
    Streamers(const Streamers&) = delete;
    Streamers& operator=(const Streamers&) = delete;
    ~Streamers();  // kill()
    // Forks one streamer per PU. `max_life_s` bounds each child (alarm).
    Status start(const std::vector<int>& pus, size_t array_bytes, int max_life_s);
    void run(bool on);  // SIGCONT / SIGSTOP
    void kill();        // SIGKILL and reap
    const std::vector<pid_t>& pids() const { return pids_; }
    // Bytes streamed so far by all streamers (their shared counters).
    uint64_t bytes() const;

private:
    std::vector<pid_t> pids_;
    uint64_t* counters_ = nullptr;  // shared page: one counter per streamer
};

// One probe of one tenant.
struct Probe {
    std::string tenant;
    int duration_ms = 0;
    int window_ms = 0;
    std::vector<int> pus;  // where the streamers run
    std::vector<int> tenant_pus;
    std::vector<Window> windows;
    std::vector<Sample> samples;
    size_t next_window = 0;  // index of the window whose start is the next transition
    // Streamers' byte count and time when the current window began (for its stream rate).
    uint64_t mark_bytes = 0;
    double mark_ms = 0;
    bool streaming = false;
    double start_ms = 0;
    double end_ms = 0;
    std::string state = "running";  // running | done | failed | cancelled
    std::optional<Verdict> verdict;
    std::string error;
    std::unique_ptr<Streamers> streamers;

    nlohmann::json to_json(double now_ms) const;
};

// CLOCK_MONOTONIC in ms (the clock the tool stamps its samples with).
double now_ms();

}  // namespace vtasos::daemon::probe
