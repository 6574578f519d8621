// FakeXenOps: a small model of the hypervisor for unit tests (see the header).
#include "vtasos/xen/fake_xen_ops.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "vtasos/core/placement.h"

namespace vtasos::xen {

FakeXenOps::FakeXenOps(int sockets, int cores_per_socket, int dom0_vcpus) {
    CpupoolInfo pool0;
    pool0.id = 0;
    pool0.sched_id = kSchedCredit2;
    for (int s = 0; s < sockets; ++s)
        for (int c = 0; c < cores_per_socket; ++c) {
            int cpu = s * cores_per_socket + c;
            topo.push_back({cpu, c, s, s, true});
            pool0.cpus.push_back(cpu);
        }
    pools[0] = pool0;
    Dom d0;
    d0.info = {kDom0, dom0_vcpus, 0, false, false, false, 0};
    d0.name = "Domain-0";
    d0.affinity.assign(dom0_vcpus, pool0.cpus);
    doms[kDom0] = d0;
    store["/local/domain/0/name"] = "Domain-0";
    pools[0].n_dom = 1;
}

uint32_t FakeXenOps::add_domain(const std::string& name, int vcpus) {
    uint32_t id = next_domid_++;
    Dom d;
    d.info = {id, vcpus, 0, false, false, false, 0};
    d.name = name;
    d.affinity.assign(vcpus, pools[0].cpus);
    for (const auto& t : topo) d.nodes.push_back(t.node);
    std::sort(d.nodes.begin(), d.nodes.end());
    d.nodes.erase(std::unique(d.nodes.begin(), d.nodes.end()), d.nodes.end());
    doms[id] = d;
    store[fmt::format("/local/domain/{}/name", id)] = name;
    store_owner[fmt::format("/local/domain/{}/name", id)] = 0;
    ++pools[0].n_dom;
    return id;
}

void FakeXenOps::fail_next(std::string prefix, Errc code, int skip) {
    failures_.push_back({std::move(prefix), code, skip});
}

Status FakeXenOps::record(std::string line) {
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
        if (line.rfind(it->prefix, 0) != 0) continue;
        if (it->skip > 0) {
            --it->skip;
            continue;
        }
        Errc code = it->code;
        failures_.erase(it);
        log.push_back(line + " -> FAIL");
        return Error(code, fmt::format("{}: injected failure", line));
    }
    log.push_back(line);
    return {};
}

Result<FakeXenOps::Dom*> FakeXenOps::dom(uint32_t domid, std::string_view call) {
    auto it = doms.find(domid);
    if (it == doms.end())
        return Error(Errc::kNotFound, fmt::format("{}(dom {}): No such process", call, domid));
    return &it->second;
}

Result<PhysInfo> FakeXenOps::physinfo() {
    PhysInfo p;
    p.nr_cpus = static_cast<int>(topo.size());
    p.max_cpu_id = p.nr_cpus - 1;
    int nodes = 0;
    for (const auto& t : topo) nodes = std::max(nodes, t.node + 1);
    p.nr_nodes = nodes;
    p.max_node_id = nodes - 1;
    return p;
}
Result<std::vector<CpuTopo>> FakeXenOps::cputopoinfo() { return topo; }
Result<int> FakeXenOps::numainfo() {
    auto p = physinfo();
    return p->nr_nodes;
}
Result<std::vector<DomainInfo>> FakeXenOps::domains() {
    std::vector<DomainInfo> out;
    for (auto& [id, d] : doms) {
        d.info.paused = d.pause_count > 0;
        out.push_back(d.info);
    }
    return out;
}
Result<VcpuInfo> FakeXenOps::vcpu_info(uint32_t domid, int vcpu) {
    auto d = dom(domid, "xc_vcpu_getinfo");
    if (!d) return d.error();
    if (vcpu < 0 || vcpu >= (*d)->info.vcpus)
        return Error(Errc::kInvalidArgument, "vcpu out of range");
    VcpuInfo v;
    v.online = true;
    v.running = (*d)->pause_count == 0;
    v.cpu = (*d)->affinity[vcpu].empty() ? -1 : (*d)->affinity[vcpu].front();
    v.cpu_time_ns = 1000000ull * (vcpu + 1);
    return v;
}
Status FakeXenOps::set_vcpu_affinity(uint32_t domid, int vcpu, const std::vector<int>& cpus) {
    auto d = dom(domid, "xc_vcpu_setaffinity");
    if (!d) return d.error();
    if (vcpu < 0 || vcpu >= (*d)->info.vcpus)
        return Error(Errc::kInvalidArgument, "vcpu out of range");
    // Like Xen: the mask must meet the domain's pool.
    const auto& pc = pools[(*d)->info.cpupool].cpus;
    bool meets = std::any_of(cpus.begin(), cpus.end(),
                             [&](int c) { return std::count(pc.begin(), pc.end(), c) > 0; });
    if (!meets)
        return Error(Errc::kInvalidArgument,
                     fmt::format("xc_vcpu_setaffinity(dom {}, vcpu {}, cpus {}): Invalid argument",
                                 domid, vcpu, fmt::join(cpus, ",")));
    if (auto s = record(fmt::format("setaffinity d{} v{} {}", domid, vcpu, format_cpulist(cpus)));
        !s)
        return s;
    (*d)->affinity[vcpu] = cpus;
    return {};
}
Result<std::vector<int>> FakeXenOps::vcpu_affinity(uint32_t domid, int vcpu) {
    auto d = dom(domid, "xc_vcpu_getaffinity");
    if (!d) return d.error();
    if (vcpu < 0 || vcpu >= (*d)->info.vcpus)
        return Error(Errc::kInvalidArgument, "vcpu out of range");
    return (*d)->affinity[vcpu];
}
Status FakeXenOps::set_node_affinity(uint32_t domid, const std::vector<int>& nodes) {
    auto d = dom(domid, "xc_domain_node_setaffinity");
    if (!d) return d.error();
    if (auto s = record(fmt::format("nodeaffinity d{} {}", domid,
                                    nodes.empty() ? "all" : format_cpulist(nodes)));
        !s)
        return s;
    (*d)->nodes = nodes;
    return {};
}
Result<std::vector<int>> FakeXenOps::node_affinity(uint32_t domid) {
    auto d = dom(domid, "xc_domain_node_getaffinity");
    if (!d) return d.error();
    return (*d)->nodes;
}
Result<uint32_t> FakeXenOps::cpupool_create(uint32_t sched_id) {
    uint32_t id = next_pool_;
    if (auto s = record(fmt::format("pool_create {} sched {}", id, sched_id)); !s) return s.error();
    ++next_pool_;
    pools[id] = CpupoolInfo{id, sched_id, 0, {}};
    return id;
}
Status FakeXenOps::cpupool_destroy(uint32_t pool) {
    auto it = pools.find(pool);
    if (it == pools.end() || pool == 0) return Error(Errc::kNotFound, "no such pool");
    if (it->second.n_dom > 0 || !it->second.cpus.empty())
        return Error(Errc::kBusy,
                     fmt::format("xc_cpupool_destroy(pool {}): Device or resource busy", pool));
    if (auto s = record(fmt::format("pool_destroy {}", pool)); !s) return s;
    pools.erase(it);
    return {};
}
Result<std::vector<CpupoolInfo>> FakeXenOps::cpupools() {
    std::vector<CpupoolInfo> out;
    for (const auto& [id, p] : pools) out.push_back(p);
    return out;
}
Status FakeXenOps::cpupool_addcpu(uint32_t pool, int cpu) {
    auto it = pools.find(pool);
    if (it == pools.end()) return Error(Errc::kNotFound, "no such pool");
    for (const auto& [id, p] : pools)
        if (std::count(p.cpus.begin(), p.cpus.end(), cpu))
            return Error(Errc::kBusy,
                         fmt::format("xc_cpupool_addcpu(pool {}, cpu {}): busy", pool, cpu));
    if (auto s = record(fmt::format("pool_addcpu {} {}", pool, cpu)); !s) return s;
    it->second.cpus.push_back(cpu);
    std::sort(it->second.cpus.begin(), it->second.cpus.end());
    return {};
}
Status FakeXenOps::cpupool_removecpu(uint32_t pool, int cpu) {
    auto it = pools.find(pool);
    if (it == pools.end()) return Error(Errc::kNotFound, "no such pool");
    auto& c = it->second.cpus;
    if (!std::count(c.begin(), c.end(), cpu))
        return Error(Errc::kInvalidArgument, fmt::format("cpu {} not in pool {}", cpu, pool));
    if (auto s = record(fmt::format("pool_removecpu {} {}", pool, cpu)); !s) return s;
    c.erase(std::find(c.begin(), c.end(), cpu));
    return {};
}
Status FakeXenOps::cpupool_movedomain(uint32_t pool, uint32_t domid) {
    auto d = dom(domid, "xc_cpupool_movedomain");
    if (!d) return d.error();
    if (!pools.count(pool)) return Error(Errc::kNotFound, "no such pool");
    if (auto s = record(fmt::format("pool_movedomain {} d{}", pool, domid)); !s) return s;
    --pools[(*d)->info.cpupool].n_dom;
    (*d)->info.cpupool = pool;
    ++pools[pool].n_dom;
    // Like Xen's sched_move_domain: affinity is reset to every CPU.
    std::vector<int> all;
    for (const auto& t : topo) all.push_back(t.cpu);
    (*d)->affinity.assign((*d)->info.vcpus, all);
    return {};
}
Status FakeXenOps::pause(uint32_t domid) {
    auto d = dom(domid, "xc_domain_pause");
    if (!d) return d.error();
    if (domid == kDom0)
        return Error(Errc::kInvalidArgument, "xc_domain_pause(dom 0): Invalid argument");
    if (auto s = record(fmt::format("pause d{}", domid)); !s) return s;
    ++(*d)->pause_count;
    return {};
}
Status FakeXenOps::unpause(uint32_t domid) {
    auto d = dom(domid, "xc_domain_unpause");
    if (!d) return d.error();
    if ((*d)->pause_count == 0)
        return Error(Errc::kInvalidArgument, "xc_domain_unpause: not paused");
    if (auto s = record(fmt::format("unpause d{}", domid)); !s) return s;
    --(*d)->pause_count;
    return {};
}
Result<Credit2Params> FakeXenOps::credit2_get(uint32_t domid) {
    auto d = dom(domid, "xc_sched_credit2_domain_get");
    if (!d) return d.error();
    return (*d)->credit2;
}
Status FakeXenOps::credit2_set(uint32_t domid, const Credit2Params& p) {
    auto d = dom(domid, "xc_sched_credit2_domain_set");
    if (!d) return d.error();
    if (auto s = record(fmt::format("credit2 d{} weight {} cap {}", domid, p.weight, p.cap)); !s)
        return s;
    (*d)->credit2 = p;
    return {};
}
Result<std::optional<std::string>> FakeXenOps::xs_read(const std::string& path) {
    auto it = store.find(path);
    if (it == store.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
}
Status FakeXenOps::xs_write(const std::string& path, const std::string& value) {
    store[path] = value;
    return {};
}
Status FakeXenOps::xs_rm(const std::string& path) {
    for (auto it = store.begin(); it != store.end();) {
        if (it->first == path || it->first.rfind(path + "/", 0) == 0)
            it = store.erase(it);
        else
            ++it;
    }
    return {};
}
Result<std::vector<std::string>> FakeXenOps::xs_directory(const std::string& path) {
    std::vector<std::string> out;
    std::string prefix = path + "/";
    for (const auto& [k, v] : store) {
        if (k.rfind(prefix, 0) != 0) continue;
        std::string rest = k.substr(prefix.size());
        std::string child = rest.substr(0, rest.find('/'));
        if (out.empty() || out.back() != child) out.push_back(child);
    }
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace vtasos::xen
