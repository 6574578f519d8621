// xen_dom0_check: the xen driver against a real hypervisor, run as root in a
// Xen dom0 (the nested-Xen fixture under tests/xen copies it into dom0).
//
//   xen_dom0_check                          topology, dom0 vCPU affinity, cpupool
//                                           create/addcpu/removecpu/destroy
//   xen_dom0_check --high DOM_A --low DOM_B [--channel] [--switches N]
//       also: place DOM_A with bandwidth high and DOM_B with bandwidth low
//       through the solver and the driver, read back xc_vcpu_getaffinity
//       (high: one core per socket; low: packed on one socket), cpupool
//       create/move/destroy with DOM_B, pause/unpause DOM_A (N timed
//       switches, default 200), and with --channel a xenstore request for
//       DOM_A answered with advice through the real watcher.
//
// Output: one line per check, "CHECK <name> PASS|FAIL <detail>", then
// "XEN_DOM0_CHECK PASS <n>/<n>" (exit 0) or "XEN_DOM0_CHECK FAIL <k>/<n>" (exit 1);
// exit 2 when this is not a dom0 (the probe's message is printed).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "vtasos/solver/solver.h"
#include "vtasos/xen/channel.h"
#include "vtasos/xen/xen_driver.h"

using namespace vtasos;
using namespace vtasos::xen;
using json = nlohmann::json;

namespace {

int g_pass = 0, g_fail = 0;

void check(const std::string& name, bool ok, const std::string& detail) {
    (ok ? g_pass : g_fail)++;
    std::printf("CHECK %s %s %s\n", name.c_str(), ok ? "PASS" : "FAIL", detail.c_str());
    std::fflush(stdout);
}

Request req(const std::string& tenant, int cpus, BandwidthClass bw, Coexist c) {
    Request r;
    r.tenant = tenant;
    r.kind = TenantKind::kDomain;
    r.cpus = cpus;
    r.coexist.assign(cpus, c);
    r.bandwidth.cls = bw;
    return r;
}

std::set<int> packages_of(const Topology& t, const std::vector<int>& cpus) {
    std::set<int> out;
    for (int c : cpus)
        for (const auto& pu : t.pus)
            if (pu.os_index == c) out.insert(pu.package);
    return out;
}

// Sink for the channel check: places with the solver and the driver directly.
struct DirectSink : ChannelSink {
    XenDriver& drv;
    Solver& solver;
    std::vector<Tenant>& placed;
    DirectSink(XenDriver& d, Solver& s, std::vector<Tenant>& p) : drv(d), solver(s), placed(p) {}
    Result<json> register_domain(const std::string& tenant, uint32_t domid,
                                 const json& r) override {
        json rq = r;
        rq["tenant"] = tenant;
        auto q = Request::from_json(rq);
        if (!q) return q.error();
        q->kind = TenantKind::kDomain;
        auto p = solver.place(*q, placed);
        if (!p) return p.error();
        if (auto s = drv.bind_domain(tenant, domid, *q); !s) return s.error();
        if (auto s = drv.apply({tenant, TenantKind::kDomain, {}, {}}, *p); !s) {
            (void)drv.release(tenant);
            return s.error();
        }
        return json{{"tenant", tenant}, {"placement", p->to_json()}};
    }
    Result<json> update(const std::string& t, const json&) override { return json{{"tenant", t}}; }
    Result<json> advice(const std::string&) override {
        return json{{"advice", {{"node_load", 0.5}, {"suggested_threads", 0}, {"gang", false}}}};
    }
    Status release(const std::string& t) override { return drv.release(t); }
};

}  // namespace

int main(int argc, char** argv) {
    std::string high, low;
    bool channel = false;
    int switches = 200;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--high" && i + 1 < argc)
            high = argv[++i];
        else if (a == "--low" && i + 1 < argc)
            low = argv[++i];
        else if (a == "--channel")
            channel = true;
        else if (a == "--switches" && i + 1 < argc)
            switches = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--high DOM --low DOM [--channel] [--switches N]]\n",
                         argv[0]);
            return 2;
        }
    }
    XenDriver drv(nullptr);
    if (auto s = drv.probe(); !s) {
        std::printf("XEN_DOM0_CHECK NOT_DOM0 %s\n", s.error().to_string().c_str());
        return 2;
    }
    XenOps& ops = *drv.ops();

    auto topo = drv.topology();
    check(
        "topology", topo.ok(),
        topo ? fmt::format("{} | {}", topo->to_string(), topo->source) : topo.error().to_string());
    if (!topo) return 1;
    std::vector<int> online;
    for (const auto& pu : topo->pus) online.push_back(pu.os_index);

    // dom0 vCPU affinity round trip (dom0 cannot be paused or be a tenant).
    {
        auto before = ops.vcpu_affinity(kDom0, 0);
        int target = online.back();
        auto s = ops.set_vcpu_affinity(kDom0, 0, {target});
        auto after = ops.vcpu_affinity(kDom0, 0);
        bool ok = before && s && after && *after == std::vector<int>{target};
        if (before) (void)ops.set_vcpu_affinity(kDom0, 0, *before);
        check("dom0_vcpu_affinity", ok,
              fmt::format("set {} read {}", target,
                          after ? format_cpulist(*after) : after.error().to_string()));
    }
    // Bare cpupool cycle: create, take the last CPU from Pool-0, give it back, destroy.
    if (online.size() >= 2) {
        int cpu = online.back();
        auto id = ops.cpupool_create(kSchedCredit2);
        Status add = Error(Errc::kInternal, "not run"), rm = add, back = add, del = add;
        bool seen = false;
        if (id) {
            rm = ops.cpupool_removecpu(0, cpu);
            if (rm) add = ops.cpupool_addcpu(*id, cpu);
            if (auto pools = ops.cpupools(); pools)
                for (const auto& p : *pools)
                    if (p.id == *id && p.cpus == std::vector<int>{cpu}) seen = true;
            if (add) (void)ops.cpupool_removecpu(*id, cpu);
            if (rm) back = ops.cpupool_addcpu(0, cpu);
            del = ops.cpupool_destroy(*id);
        }
        check("cpupool_cycle", id && rm && add && seen && back && del,
              id ? fmt::format("pool {} cpu {} {}", *id, cpu,
                               del ? "destroyed" : del.error().to_string())
                 : id.error().to_string());
    }

    if (!high.empty() && !low.empty()) {
        Solver solver(*topo);
        std::vector<Tenant> placed;
        auto dh = drv.resolve_domain(high), dl = drv.resolve_domain(low);
        check("resolve_domains", dh && dl,
              dh && dl ? fmt::format("{}={} {}={}", high, dh->domid, low, dl->domid)
                       : (!dh ? dh.error() : dl.error()).to_string());
        if (!dh || !dl) goto done;
        int npkg = topo->num_packages;
        // High: one vCPU per socket; low: as many as fit one socket.
        int nh = std::min(dh->vcpus, npkg);
        int per_pkg = static_cast<int>(topo->pus.size()) / std::max(1, npkg);
        int nl = std::min(dl->vcpus, std::max(1, per_pkg));
        auto rh = req("dom-high", nh, BandwidthClass::kHigh, Coexist::kSocket);
        auto ph = solver.place(rh, placed);
        Status ah = ph ? drv.bind_domain("dom-high", dh->domid, rh) : Status(ph.error());
        if (ah) ah = drv.apply({"dom-high", TenantKind::kDomain, {}, {}}, *ph);
        if (ah) placed.push_back({rh, *ph});
        std::vector<int> hcpus;
        std::string hdesc;
        for (int v = 0; ah && v < nh; ++v) {
            auto a = ops.vcpu_affinity(dh->domid, v);
            if (a && a->size() == 1) hcpus.push_back(a->front());
            hdesc += fmt::format(" v{}={}", v, a ? format_cpulist(*a) : "?");
        }
        check("place_high_spread",
              ah && static_cast<int>(hcpus.size()) == nh &&
                  static_cast<int>(packages_of(*topo, hcpus).size()) == nh,
              ah ? fmt::format("{} vcpus on {} packages:{}", nh, packages_of(*topo, hcpus).size(),
                               hdesc)
                 : ah.error().to_string());

        auto rl = req("dom-low", nl, BandwidthClass::kLow, Coexist::kSocket);
        auto pl = solver.place(rl, placed);
        Status al = pl ? drv.bind_domain("dom-low", dl->domid, rl) : Status(pl.error());
        if (al) al = drv.apply({"dom-low", TenantKind::kDomain, {}, {}}, *pl);
        std::vector<int> lcpus;
        std::string ldesc;
        for (int v = 0; al && v < nl; ++v) {
            auto a = ops.vcpu_affinity(dl->domid, v);
            if (a) lcpus.insert(lcpus.end(), a->begin(), a->end());
            ldesc += fmt::format(" v{}={}", v, a ? format_cpulist(*a) : "?");
        }
        check("place_low_packed", al && packages_of(*topo, lcpus).size() == 1,
              al ? fmt::format("{} vcpus on {} package(s):{}", nl, packages_of(*topo, lcpus).size(),
                               ldesc)
                 : al.error().to_string());
        if (al) (void)drv.release("dom-low");

        // Cpupool with a domain: DOM_B alone on its placed CPUs, then released.
        drv.set_pool_policy(PoolPolicy::kAlways);
        auto rp = req("dom-pool", 1, BandwidthClass::kLow, Coexist::kNone);
        auto pp = solver.place(rp, placed);
        Status ap = pp ? drv.bind_domain("dom-pool", dl->domid, rp) : Status(pp.error());
        if (ap) ap = drv.apply({"dom-pool", TenantKind::kDomain, {}, {}}, *pp);
        uint32_t pool_id = 0;
        if (auto doms = ops.domains(); doms && ap)
            for (const auto& d : *doms)
                if (d.domid == dl->domid) pool_id = d.cpupool;
        Status rel = drv.release("dom-pool");
        uint32_t back_pool = 99;
        if (auto doms = ops.domains(); doms)
            for (const auto& d : *doms)
                if (d.domid == dl->domid) back_pool = d.cpupool;
        check("cpupool_move_domain", ap && pool_id != 0 && rel && back_pool == 0,
              ap ? fmt::format("moved to pool {}, back in pool {}{}", pool_id, back_pool,
                               rel ? "" : " release: " + rel.error().to_string())
                 : ap.error().to_string());
        drv.set_pool_policy(PoolPolicy::kAuto);

        // Gang slice switch = pause + unpause of DOM_A.
        if (ah) {
            Status fz = drv.freeze("dom-high");
            bool paused = false;
            if (auto doms = ops.domains(); doms)
                for (const auto& d : *doms)
                    if (d.domid == dh->domid) paused = d.paused;
            Status th = drv.thaw("dom-high");
            auto t0 = std::chrono::steady_clock::now();
            int n = 0;
            for (; n < switches; ++n)
                if (!drv.freeze("dom-high") || !drv.thaw("dom-high")) break;
            double us =
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                    .count() /
                std::max(1, n);
            check("pause_unpause", fz && paused && th && n == switches,
                  fmt::format("paused={} switches={} pause+unpause_us={:.1f}", paused, n, us));
        }
        if (channel) {
            (void)drv.release("dom-high");
            placed.clear();
            auto w = start_channel_watcher(
                [&] { return std::make_unique<DirectSink>(drv, solver, placed); });
            std::string adv;
            if (w) {
                (void)ops.xs_rm(advice_path(dh->domid));
                (void)ops.xs_write(request_path(dh->domid),
                                   R"({"cpus":1,"coexist":"socket","bandwidth":"low"})");
                for (int i = 0; i < 100 && adv.empty(); ++i) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    if (auto v = ops.xs_read(advice_path(dh->domid)); v && *v) adv = **v;
                }
                (*w)->stop();
            }
            json a = json::parse(adv, nullptr, false);
            check("xenstore_request_advice", w && a.is_object() && a.value("ok", false),
                  w ? (adv.empty() ? "no advice within 10 s" : adv) : w.error().to_string());
            (void)drv.release(guest_tenant(dh->domid, dh->name));
        }
        (void)drv.release("dom-high");
    }
done:
    std::printf("XEN_DOM0_CHECK %s %d/%d\n", g_fail == 0 ? "PASS" : "FAIL",
                g_fail == 0 ? g_pass : g_fail, g_pass + g_fail);
    return g_fail == 0 ? 0 : 1;
}
