// make_driver: the table of drivers, picked by name.
//
// A new backend (kvm, xen, sim) adds one row to kDrivers: its name, a line of
// description and a factory taking the DriverConfig. Rows appear in the order
// known_drivers() lists them; "linux" stays first, it is the embedded default.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vtasos/drivers/driver.h"
#include "vtasos/drivers/internal/linux.h"
#ifdef VTASOS_HAVE_XEN
#include "vtasos/xen/xen_driver.h"  // hv-backend/xen links itself into this library
#endif

namespace vtasos {
namespace {

using DriverFactory = Result<std::unique_ptr<Driver>> (*)(const DriverConfig&);

struct DriverEntry {
    std::string_view name;
    std::string_view description;
    DriverFactory make;
};

Result<std::unique_ptr<Driver>> make_linux(const DriverConfig& config) {
    return linuxdrv::make_linux_driver(config, linuxdrv::make_real_linux_ops());
}

Result<std::unique_ptr<Driver>> make_xen(const DriverConfig& config) {
#ifdef VTASOS_HAVE_XEN
    return xen::make_xen_driver(config);
#else
    return Error(Errc::kUnavailable,
                 "driver \"xen\": this build has no Xen support (libxen-dev was not found when "
                 "configuring; install it and rebuild)");
#endif
}

constexpr DriverEntry kDrivers[] = {
    {"linux", "processes: cpuset + freezer cgroups (v1 or v2) and sched_setaffinity", &make_linux},
    // {"kvm", "QEMU vCPU threads via QMP, pinned and frozen like linux", &make_kvm},
    {"xen", "libxenctrl: vcpu affinity, cpupools, pause/unpause", &make_xen},
    // {"sim", "discrete-event model of big nodes", &make_sim},
};

}  // namespace

std::vector<std::string> known_drivers() {
    std::vector<std::string> out;
    for (const auto& d : kDrivers) out.emplace_back(d.name);
    return out;
}

Result<std::unique_ptr<Driver>> make_driver(std::string_view name, const DriverConfig& config) {
    for (const auto& d : kDrivers)
        if (d.name == name) return d.make(config);
    return Error(Errc::kNotFound,
                 fmt::format("driver \"{}\": unknown; known drivers: {}", name.substr(0, 64),
                             fmt::join(known_drivers(), ", ")));
}

}  // namespace vtasos
