// The real XenOps: one libxenctrl / libxenstore call per method.
#include <errno.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern "C" {
#include <xenctrl.h>
#include <xenstore.h>
}

#include "vtasos/xen/xen_ops.h"

namespace vtasos::xen {
namespace {

Error xc_error(std::string what) {
    int e = errno;
    Errc code = Errc::kIo;
    if (e == EPERM || e == EACCES) code = Errc::kPermissionDenied;
    if (e == ESRCH || e == ENOENT) code = Errc::kNotFound;
    if (e == EINVAL || e == ERANGE) code = Errc::kInvalidArgument;
    if (e == EBUSY || e == EAGAIN) code = Errc::kBusy;
    return Error(code, fmt::format("{}: {}", what, std::strerror(e)));
}

class RealXenOps : public XenOps {
public:
    RealXenOps(xc_interface* xch, xs_handle* xsh) : xch_(xch), xsh_(xsh) {}
    ~RealXenOps() override {
        if (xsh_) xs_close(xsh_);
        xc_interface_close(xch_);
    }

    Result<PhysInfo> physinfo() override {
        xc_physinfo_t pi{};
        if (xc_physinfo(xch_, &pi) != 0) return xc_error("xc_physinfo");
        PhysInfo p;
        p.nr_cpus = static_cast<int>(pi.nr_cpus);
        p.max_cpu_id = static_cast<int>(pi.max_cpu_id);
        p.nr_nodes = static_cast<int>(pi.nr_nodes);
        p.max_node_id = static_cast<int>(pi.max_node_id);
        p.threads_per_core = static_cast<int>(pi.threads_per_core);
        p.cores_per_socket = static_cast<int>(pi.cores_per_socket);
        p.total_pages = pi.total_pages;
        p.free_pages = pi.free_pages;
        return p;
    }

    Result<std::vector<CpuTopo>> cputopoinfo() override {
        unsigned n = 0;
        if (xc_cputopoinfo(xch_, &n, nullptr) != 0) return xc_error("xc_cputopoinfo (count)");
        std::vector<xc_cputopo_t> raw(n);
        if (xc_cputopoinfo(xch_, &n, raw.data()) != 0) return xc_error("xc_cputopoinfo");
        std::vector<CpuTopo> out;
        for (unsigned i = 0; i < n && i < raw.size(); ++i) {
            CpuTopo c;
            c.cpu = static_cast<int>(i);
            c.online = raw[i].core != XEN_INVALID_CORE_ID;
            c.core = c.online ? static_cast<int>(raw[i].core) : -1;
            c.socket = raw[i].socket != XEN_INVALID_SOCKET_ID ? static_cast<int>(raw[i].socket) : 0;
            c.node = raw[i].node != XEN_INVALID_NODE_ID ? static_cast<int>(raw[i].node) : 0;
            out.push_back(c);
        }
        return out;
    }

    Result<int> numainfo() override {
        unsigned n = 0;
        if (xc_numainfo(xch_, &n, nullptr, nullptr) != 0) return xc_error("xc_numainfo");
        return static_cast<int>(n);
    }

    Result<std::vector<DomainInfo>> domains() override {
        std::vector<xc_domaininfo_t> raw(1024);
        int n = xc_domain_getinfolist(xch_, 0, static_cast<unsigned>(raw.size()), raw.data());
        if (n < 0) return xc_error("xc_domain_getinfolist");
        std::vector<DomainInfo> out;
        for (int i = 0; i < n; ++i) {
            const auto& d = raw[i];
            DomainInfo x;
            x.domid = d.domain;
            x.vcpus =
                d.max_vcpu_id == XEN_INVALID_MAX_VCPU_ID ? 0 : static_cast<int>(d.max_vcpu_id) + 1;
            x.cpupool = d.cpupool;
            x.paused = d.flags & XEN_DOMINF_paused;
            x.dying = d.flags & XEN_DOMINF_dying;
            x.shutdown = d.flags & XEN_DOMINF_shutdown;
            x.cpu_time_ns = d.cpu_time;
            out.push_back(x);
        }
        return out;
    }

    Result<VcpuInfo> vcpu_info(uint32_t domid, int vcpu) override {
        xc_vcpuinfo_t vi{};
        if (xc_vcpu_getinfo(xch_, domid, static_cast<uint32_t>(vcpu), &vi) != 0)
            return xc_error(fmt::format("xc_vcpu_getinfo(dom {}, vcpu {})", domid, vcpu));
        return VcpuInfo{vi.online != 0, vi.running != 0, vi.blocked != 0, vi.cpu_time,
                        static_cast<int>(vi.cpu)};
    }

    Status set_vcpu_affinity(uint32_t domid, int vcpu, const std::vector<int>& cpus) override {
        auto map = cpumap(cpus);
        if (!map) return map.error();
        std::string what = fmt::format("xc_vcpu_setaffinity(dom {}, vcpu {}, cpus {})", domid, vcpu,
                                       format_cpus(cpus));
        int rc = xc_vcpu_setaffinity(xch_, domid, vcpu, map->get(), nullptr, XEN_VCPUAFFINITY_HARD);
        if (rc != 0) return xc_error(what);
        return {};
    }

    Result<std::vector<int>> vcpu_affinity(uint32_t domid, int vcpu) override {
        auto map = cpumap({});
        if (!map) return map.error();
        if (xc_vcpu_getaffinity(xch_, domid, vcpu, map->get(), nullptr, XEN_VCPUAFFINITY_HARD) != 0)
            return xc_error(fmt::format("xc_vcpu_getaffinity(dom {}, vcpu {})", domid, vcpu));
        return bits(map->get(), xc_get_cpumap_size(xch_));
    }

    Status set_node_affinity(uint32_t domid, const std::vector<int>& nodes) override {
        int sz = xc_get_nodemap_size(xch_);
        if (sz <= 0) return xc_error("xc_get_nodemap_size");
        Map m(xc_nodemap_alloc(xch_));
        if (!m) return xc_error("xc_nodemap_alloc");
        if (nodes.empty()) {
            std::memset(m.get(), 0xff, sz);
        } else {
            for (int n : nodes) {
                if (n < 0 || n >= sz * 8)
                    return Error(Errc::kInvalidArgument,
                                 fmt::format("NUMA node {} out of range", n));
                m.get()[n / 8] |= static_cast<uint8_t>(1u << (n % 8));
            }
        }
        if (xc_domain_node_setaffinity(xch_, domid, m.get()) != 0)
            return xc_error(fmt::format("xc_domain_node_setaffinity(dom {}, nodes {})", domid,
                                        nodes.empty() ? std::string("all") : format_cpus(nodes)));
        return {};
    }

    Result<std::vector<int>> node_affinity(uint32_t domid) override {
        int sz = xc_get_nodemap_size(xch_);
        if (sz <= 0) return xc_error("xc_get_nodemap_size");
        Map m(xc_nodemap_alloc(xch_));
        if (!m) return xc_error("xc_nodemap_alloc");
        if (xc_domain_node_getaffinity(xch_, domid, m.get()) != 0)
            return xc_error(fmt::format("xc_domain_node_getaffinity(dom {})", domid));
        return bits(m.get(), sz);
    }

    Result<uint32_t> cpupool_create(uint32_t sched_id) override {
        uint32_t id = XC_CPUPOOL_POOLID_ANY;
        if (xc_cpupool_create(xch_, &id, sched_id) != 0)
            return xc_error(fmt::format("xc_cpupool_create(sched {})", sched_id));
        return id;
    }
    Status cpupool_destroy(uint32_t pool) override {
        if (xc_cpupool_destroy(xch_, pool) != 0)
            return xc_error(fmt::format("xc_cpupool_destroy(pool {})", pool));
        return {};
    }
    Result<std::vector<CpupoolInfo>> cpupools() override {
        std::vector<CpupoolInfo> out;
        int size = xc_get_cpumap_size(xch_);
        // xc_cpupool_getinfo returns the first pool with id >= the one asked.
        for (uint32_t next = 0;;) {
            errno = 0;
            xc_cpupoolinfo_t* info = xc_cpupool_getinfo(xch_, next);
            if (!info) {
                if (errno == ENOENT || errno == 0 || errno == ESRCH) break;
                return xc_error(fmt::format("xc_cpupool_getinfo(pool {})", next));
            }
            CpupoolInfo p;
            p.id = info->cpupool_id;
            p.sched_id = info->sched_id;
            p.n_dom = static_cast<int>(info->n_dom);
            p.cpus = bits(info->cpumap, size);
            xc_cpupool_infofree(xch_, info);
            next = p.id + 1;
            out.push_back(std::move(p));
        }
        return out;
    }
    Status cpupool_addcpu(uint32_t pool, int cpu) override {
        if (xc_cpupool_addcpu(xch_, pool, cpu) != 0)
            return xc_error(fmt::format("xc_cpupool_addcpu(pool {}, cpu {})", pool, cpu));
        return {};
    }
    Status cpupool_removecpu(uint32_t pool, int cpu) override {
        if (xc_cpupool_removecpu(xch_, pool, cpu) != 0)
            return xc_error(fmt::format("xc_cpupool_removecpu(pool {}, cpu {})", pool, cpu));
        return {};
    }
    Status cpupool_movedomain(uint32_t pool, uint32_t domid) override {
        if (xc_cpupool_movedomain(xch_, pool, domid) != 0)
            return xc_error(fmt::format("xc_cpupool_movedomain(pool {}, dom {})", pool, domid));
        return {};
    }
    Status pause(uint32_t domid) override {
        if (xc_domain_pause(xch_, domid) != 0)
            return xc_error(fmt::format("xc_domain_pause(dom {})", domid));
        return {};
    }
    Status unpause(uint32_t domid) override {
        if (xc_domain_unpause(xch_, domid) != 0)
            return xc_error(fmt::format("xc_domain_unpause(dom {})", domid));
        return {};
    }
    Result<Credit2Params> credit2_get(uint32_t domid) override {
        xen_domctl_sched_credit2 s{};
        if (xc_sched_credit2_domain_get(xch_, domid, &s) != 0)
            return xc_error(fmt::format("xc_sched_credit2_domain_get(dom {})", domid));
        return Credit2Params{s.weight, s.cap};
    }
    Status credit2_set(uint32_t domid, const Credit2Params& p) override {
        xen_domctl_sched_credit2 s{};
        s.weight = static_cast<uint16_t>(p.weight);
        s.cap = static_cast<uint16_t>(p.cap);
        if (xc_sched_credit2_domain_set(xch_, domid, &s) != 0)
            return xc_error(fmt::format("xc_sched_credit2_domain_set(dom {}, weight {}, cap {})",
                                        domid, p.weight, p.cap));
        return {};
    }

    Result<std::optional<std::string>> xs_read(const std::string& path) override {
        if (!xsh_) return no_store();
        unsigned len = 0;
        void* v = ::xs_read(xsh_, XBT_NULL, path.c_str(), &len);
        if (!v) {
            if (errno == ENOENT) return std::optional<std::string>();
            return xc_error("xs_read " + path);
        }
        std::string s(static_cast<char*>(v), len);
        std::free(v);
        return std::optional<std::string>(std::move(s));
    }
    Status xs_write(const std::string& path, const std::string& value) override {
        if (!xsh_) return no_store();
        if (!::xs_write(xsh_, XBT_NULL, path.c_str(), value.data(),
                        static_cast<unsigned>(value.size())))
            return xc_error("xs_write " + path);
        return {};
    }
    Status xs_rm(const std::string& path) override {
        if (!xsh_) return no_store();
        if (!::xs_rm(xsh_, XBT_NULL, path.c_str()) && errno != ENOENT)
            return xc_error("xs_rm " + path);
        return {};
    }
    Result<std::vector<std::string>> xs_directory(const std::string& path) override {
        if (!xsh_) return no_store();
        unsigned n = 0;
        char** d = ::xs_directory(xsh_, XBT_NULL, path.c_str(), &n);
        if (!d) {
            if (errno == ENOENT) return std::vector<std::string>{};
            return xc_error("xs_directory " + path);
        }
        std::vector<std::string> out(d, d + n);
        std::free(d);
        return out;
    }

private:
    struct Free {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    using Map = std::unique_ptr<uint8_t, Free>;

    static Error no_store() {
        return Error(Errc::kUnavailable,
                     "xenstore is not reachable (is xenstored running in dom0? "
                     "/var/run/xenstored/socket)");
    }
    static std::string format_cpus(const std::vector<int>& v) {
        return fmt::format("{}", fmt::join(v, ","));
    }
    Result<Map> cpumap(const std::vector<int>& cpus) {
        int sz = xc_get_cpumap_size(xch_);
        if (sz <= 0) return xc_error("xc_get_cpumap_size");
        Map m(xc_cpumap_alloc(xch_));
        if (!m) return xc_error("xc_cpumap_alloc");
        for (int c : cpus) {
            if (c < 0 || c >= sz * 8)
                return Error(Errc::kInvalidArgument,
                             fmt::format("CPU {} out of range (Xen knows {} CPU ids)", c, sz * 8));
            m.get()[c / 8] |= static_cast<uint8_t>(1u << (c % 8));
        }
        return m;
    }
    static std::vector<int> bits(const uint8_t* map, int size) {
        std::vector<int> out;
        for (int i = 0; i < size * 8; ++i)
            if (map[i / 8] & (1u << (i % 8))) out.push_back(i);
        return out;
    }

    xc_interface* xch_;
    xs_handle* xsh_;
};

}  // namespace

Status probe_dom0(const XenPaths& paths) {
    struct stat st {};
    if (::stat(paths.privcmd.c_str(), &st) != 0)
        return Error(Errc::kUnavailable,
                     fmt::format("not running on Xen: {} is missing (the xen driver needs a Xen "
                                 "dom0 with the xen-privcmd module loaded; use --driver linux "
                                 "elsewhere)",
                                 paths.privcmd));
    std::ifstream caps(paths.capabilities);
    if (caps) {
        std::stringstream ss;
        ss << caps.rdbuf();
        if (ss.str().find("control_d") == std::string::npos)
            return Error(Errc::kUnavailable,
                         fmt::format("running in a Xen domU, not dom0: {} does not say "
                                     "control_d; run vtasosd --driver xen in dom0 (a domU uses "
                                     "vtasos-xen-agent)",
                                     paths.capabilities));
    }
    return {};
}

Result<std::unique_ptr<XenOps>> make_real_xen_ops(const XenPaths& paths) {
    if (auto s = probe_dom0(paths); !s) return s.error();
    xc_interface* xch = xc_interface_open(nullptr, nullptr, 0);
    if (!xch)
        return Error(Errc::kUnavailable,
                     fmt::format("xc_interface_open: {} (is this dom0, and are you root?)",
                                 std::strerror(errno)));
    // A domU that could open privcmd still gets EPERM on sysctls.
    xc_physinfo_t pi{};
    if (xc_physinfo(xch, &pi) != 0) {
        int e = errno;
        xc_interface_close(xch);
        return Error(
            Errc::kUnavailable,
            fmt::format("xc_physinfo: {} (not dom0, or not privileged)", std::strerror(e)));
    }
    // Socket only: without xenstored, the xenbus device would block every read.
    xs_handle* xsh = xs_open(XS_OPEN_SOCKETONLY);
    return std::unique_ptr<XenOps>(std::make_unique<RealXenOps>(xch, xsh));
}

}  // namespace vtasos::xen
