// Cheap timestamps for the callback hot path.
//
// On x86-64 a tick is one TSC cycle (rdtsc, ~20 cycles, no syscall); elsewhere a
// nanosecond of CLOCK_MONOTONIC. Ticks are turned into seconds off the hot path
// by TickClock, which pairs a tick reading with CLOCK_MONOTONIC at start and at
// each conversion, so no calibration loop is needed. The TSC is assumed
// invariant (constant_tsc + nonstop_tsc, true on every x86-64 CPU of the last
// decade and on KVM/Xen guests with the tsc clocksource).
#pragma once

#include <cstdint>
#include <ctime>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace vtasos::ompt {

inline uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t ticks() {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return monotonic_ns();
#endif
}

class TickClock {
public:
    TickClock() : t0_(ticks()), ns0_(monotonic_ns()) {}
    uint64_t start_ticks() const { return t0_; }
    uint64_t start_ns() const { return ns0_; }
    // Seconds since construction.
    double elapsed_s() const { return static_cast<double>(monotonic_ns() - ns0_) * 1e-9; }
    // Ticks per second, measured over the time since construction (>= 1 ms is
    // needed for a good estimate; shorter runs fall back to a 1 ms busy wait).
    double ticks_per_second() const {
#if defined(__x86_64__)
        uint64_t ns = monotonic_ns();
        uint64_t t = ticks();
        while (ns - ns0_ < 1000000) {
            ns = monotonic_ns();
            t = ticks();
        }
        return static_cast<double>(t - t0_) * 1e9 / static_cast<double>(ns - ns0_);
#else
        return 1e9;
#endif
    }

private:
    uint64_t t0_;
    uint64_t ns0_;
};

}  // namespace vtasos::ompt
