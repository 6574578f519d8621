// FakeXenOps: a recording fake of XenOps for unit tests of the translation
// logic only (the real hypercalls are tested on a nested Xen, tests/xen).
// It keeps a small model of the hypervisor (CPUs, domains, vCPU affinities,
// cpupools, pause counts, a xenstore map), records every mutating call as one
// line ("setaffinity d3 v1 4"), and fails a chosen call on demand.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "vtasos/xen/xen_ops.h"

namespace vtasos::xen {

class FakeXenOps : public XenOps {
public:
    struct Dom {
        DomainInfo info;
        std::string name;
        std::vector<std::vector<int>> affinity;  // per vCPU
        std::vector<int> nodes;
        Credit2Params credit2;
        int pause_count = 0;
    };

    // sockets x cores_per_socket CPUs, one NUMA node per socket, all in Pool-0;
    // dom0 with `dom0_vcpus` vCPUs.
    FakeXenOps(int sockets, int cores_per_socket, int dom0_vcpus = 1);

    // Adds a running domU (in Pool-0, affinity all CPUs); returns its domid.
    uint32_t add_domain(const std::string& name, int vcpus);
    // The next call whose log line starts with `prefix` fails with `code`
    // (after `skip` matching calls succeeded).
    void fail_next(std::string prefix, Errc code = Errc::kIo, int skip = 0);
    void clear_failures() { failures_.clear(); }

    std::vector<std::string> log;  // mutating calls, in order
    std::vector<CpuTopo> topo;
    std::map<uint32_t, Dom> doms;
    std::map<uint32_t, CpupoolInfo> pools;  // by id; 0 = Pool-0
    std::map<std::string, std::string> store;
    std::map<std::string, uint32_t> store_owner;

    Result<PhysInfo> physinfo() override;
    Result<std::vector<CpuTopo>> cputopoinfo() override;
    Result<int> numainfo() override;
    Result<std::vector<DomainInfo>> domains() override;
    Result<VcpuInfo> vcpu_info(uint32_t domid, int vcpu) override;
    Status set_vcpu_affinity(uint32_t domid, int vcpu, const std::vector<int>& cpus) override;
    Result<std::vector<int>> vcpu_affinity(uint32_t domid, int vcpu) override;
    Status set_node_affinity(uint32_t domid, const std::vector<int>& nodes) override;
    Result<std::vector<int>> node_affinity(uint32_t domid) override;
    Result<uint32_t> cpupool_create(uint32_t sched_id) override;
    Status cpupool_destroy(uint32_t pool) override;
    Result<std::vector<CpupoolInfo>> cpupools() override;
    Status cpupool_addcpu(uint32_t pool, int cpu) override;
    Status cpupool_removecpu(uint32_t pool, int cpu) override;
    Status cpupool_movedomain(uint32_t pool, uint32_t domid) override;
    Status pause(uint32_t domid) override;
    Status unpause(uint32_t domid) override;
    Result<Credit2Params> credit2_get(uint32_t domid) override;
    Status credit2_set(uint32_t domid, const Credit2Params& p) override;
    Result<std::optional<std::string>> xs_read(const std::string& path) override;
    Status xs_write(const std::string& path, const std::string& value) override;
    Status xs_rm(const std::string& path) override;
    Result<std::vector<std::string>> xs_directory(const std::string& path) override;

private:
    Status record(std::string line);
    Result<Dom*> dom(uint32_t domid, std::string_view call);
    struct Failure {
        std::string prefix;
        Errc code;
        int skip;
    };
    std::vector<Failure> failures_;
    uint32_t next_domid_ = 1;
    uint32_t next_pool_ = 1;
};

}  // namespace vtasos::xen
