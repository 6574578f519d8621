// Memory-bandwidth demand from PAPI, loaded at run time (dlopen), so the tool
// works, and reports bandwidth "unknown", where PAPI or counters are absent.
//
// Events, in order of preference (the first set whose events all exist and
// start is used; README.md "Bandwidth"):
//   1. PAPI_L3_TCM                                   (last-level cache misses)
//   2. perf::LLC-LOAD-MISSES + perf::LLC-STORE-MISSES (same, via perf_event)
//   3. perf::CACHE-MISSES                             (LLC misses on most PMUs)
// Each miss moves one 64-byte line between DRAM and the cache, so
//   demand_GBps = sum_over_threads(events) * 64 / wall_s / 1e9.
// This counts reads and write-allocates; write-backs of dirty lines and
// hardware prefetches are not seen by core events (uncore IMC CAS counts would
// be exact but need system-wide access), so it is a lower bound that is good
// enough to tell "high" from "low".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vtasos::ompt {

class PapiCounters {
public:
    // Opens libpapi (libpapi.so.7.0, .so.7, .so), initialises it for threads
    // and checks that one event set can be started on the calling thread.
    // nullptr with *why_not set when not possible ("libpapi not found",
    // "no hardware counters: none of PAPI_L3_TCM (Event does not exist) ...").
    // With `probe_pmu` (the default) PAPI is not even loaded when the kernel
    // offers no hardware PMU: PAPI's start-up costs 10-20 ms, the probe ~20 us.
    static std::unique_ptr<PapiCounters> open(std::string* why_not, bool probe_pmu = true);
    ~PapiCounters();

    // Per thread: creates and starts an event set; -1 when it fails.
    int start_thread() noexcept;
    // Stops it, adds the counts to values[0..1], frees it, unregisters the thread.
    void stop_thread(int eventset, uint64_t values[2]) noexcept;
    // "papi:PAPI_L3_TCM"
    const std::string& source() const { return source_; }
    static constexpr double kBytesPerEvent = 64.0;

private:
    struct Api;
    PapiCounters() = default;
    std::unique_ptr<Api> api_;
    std::vector<std::string> events_;
    std::string source_;
};

}  // namespace vtasos::ompt
