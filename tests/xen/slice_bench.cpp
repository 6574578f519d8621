// vtasos-xen-slice-bench: cost of one gang slice switch, measured inside the nested dom0.
//
// A Xen gang slice stops and resumes a domain (xc_domain_pause + xc_domain_unpause, what
// the xen driver does); a Linux gang slice freezes and thaws a process tenant's cgroup
// through the Linux driver. Both are timed the same way, N pairs each, in the same
// (emulated) kernel, so only their ratio means anything.
//   vtasos-xen-slice-bench [--domid N] [--count 200]
// The Linux tenant is measured idle (like the sleeping domU) and busy (a spinning task);
// linux_request_frozen_idle times the non-blocking requests the gang scheduler issues.
// Prints "slice <what>_median_us=<x> p10_us=<x> p90_us=<x> n=<n>" per measurement and
// "ratio xen_pause_unpause/linux_freeze_thaw_{idle,busy}=<r>". Exit 1 on any error.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include <xenctrl.h>
}

#include "vtasos/drivers/driver.h"

namespace {
using Clock = std::chrono::steady_clock;

struct Stats {
    double median = 0, p10 = 0, p90 = 0;
};
Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[static_cast<size_t>(q * (v.size() - 1))]; };
    return {at(0.5), at(0.1), at(0.9)};
}
// Times `count` calls of op (microseconds each); stops at the first failure.
std::optional<Stats> time_pairs(const char* what, int count, const std::function<bool()>& op) {
    std::vector<double> us;
    for (int i = 0; i < count; ++i) {
        auto t0 = Clock::now();
        if (!op()) return std::nullopt;
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    Stats s = stats(us);
    std::printf("slice %s_median_us=%.1f p10_us=%.1f p90_us=%.1f n=%d\n", what, s.median, s.p10,
                s.p90, count);
    return s;
}

std::optional<Stats> xen_pause_unpause(int domid, int count) {
    xc_interface* xch = xc_interface_open(nullptr, nullptr, 0);
    if (!xch) {
        std::fprintf(stderr, "xc_interface_open: %s (not in dom0?)\n", std::strerror(errno));
        return std::nullopt;
    }
    auto s = time_pairs("xen_pause_unpause", count, [&] {
        if (xc_domain_pause(xch, domid) != 0) {
            std::fprintf(stderr, "xc_domain_pause(dom %d): %s\n", domid, std::strerror(errno));
            return false;
        }
        if (xc_domain_unpause(xch, domid) != 0) {
            std::fprintf(stderr, "xc_domain_unpause(dom %d): %s\n", domid, std::strerror(errno));
            return false;
        }
        return true;
    });
    xc_interface_close(xch);
    return s;
}

// One Linux-driver tenant: an idle (sleeping) or busy (spinning) process pinned to PU 0.
std::optional<Stats> linux_freeze_thaw(int count, bool busy) {
    vtasos::DriverConfig cfg;
    cfg.parent = "vtasos-slice-bench";
    auto drv = vtasos::make_driver("linux", cfg);
    if (!drv) {
        std::fprintf(stderr, "%s\n", drv.error().to_string().c_str());
        return std::nullopt;
    }
    auto& d = **drv;
    if (auto st = d.probe(); !st) {
        std::fprintf(stderr, "linux driver probe: %s\n", st.error().to_string().c_str());
        return std::nullopt;
    }
    if (!d.caps().freeze) {
        std::fprintf(stderr, "linux driver cannot freeze here: %s\n", d.caps().notes.c_str());
        return std::nullopt;
    }
    pid_t child = fork();
    if (child == 0) {
        if (!busy)
            for (;;) pause();
        volatile unsigned long spin = 0;
        for (;;) spin = spin + 1;
    }
    std::string what = busy ? "linux_freeze_thaw_busy" : "linux_freeze_thaw_idle";
    vtasos::TenantTarget t;
    t.tenant = busy ? "slice-bench-busy" : "slice-bench-idle";
    t.pids = {child};
    vtasos::Placement p;
    p.tenant = t.tenant;
    p.cpus = {{0, {0}}};
    std::optional<Stats> s;
    if (auto st = d.apply(t, p); !st) {
        std::fprintf(stderr, "linux driver apply: %s\n", st.error().to_string().c_str());
    } else {
        s = time_pairs(what.c_str(), count, [&] {
            auto f = d.freeze(t.tenant);
            auto th = d.thaw(t.tenant);
            if (!f || !th) {
                std::fprintf(stderr, "freeze/thaw: %s\n",
                             (!f ? f.error() : th.error()).to_string().c_str());
                return false;
            }
            return true;
        });
        // What the gang scheduler issues per slice: the requests, without waiting to settle.
        if (s && !busy)
            time_pairs("linux_request_frozen_idle", count, [&] {
                auto f = d.request_frozen(t.tenant, true);
                auto th = d.request_frozen(t.tenant, false);
                return f.ok() && th.ok();
            });
        (void)d.thaw(t.tenant);
    }
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    (void)d.release(t.tenant);
    return s;
}
}  // namespace

int main(int argc, char** argv) {
    int domid = -1, count = 200;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--domid" && i + 1 < argc) {
            domid = std::atoi(argv[++i]);
        } else if (a == "--count" && i + 1 < argc) {
            count = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--domid N] [--count N]\n", argv[0]);
            return 2;
        }
    }
    if (count < 3 || domid == 0) {
        std::fprintf(stderr, "--count must be >= 3; --domid must be a domU (dom0 cannot pause)\n");
        return 2;
    }
    bool ok = true;
    std::optional<Stats> x;
    if (domid > 0) {
        x = xen_pause_unpause(domid, count);
        ok = ok && x.has_value();
    }
    // The domain is idle (its guest sleeps), so the like-for-like Linux tenant is idle too;
    // the busy tenant shows what interrupting a running task adds.
    auto l = linux_freeze_thaw(count, false);
    auto lb = linux_freeze_thaw(count, true);
    ok = ok && l.has_value() && lb.has_value();
    if (x && l)
        std::printf("ratio xen_pause_unpause/linux_freeze_thaw_idle=%.4g (medians, emulated)\n",
                    x->median / l->median);
    if (x && lb)
        std::printf("ratio xen_pause_unpause/linux_freeze_thaw_busy=%.4g (medians, emulated)\n",
                    x->median / lb->median);
    return ok ? 0 : 1;
}
