// vtasosd's Xen glue: what main.cpp needs when it runs with --driver xen
// (topology from the hypervisor, the pool policy flag, the xenstore guest
// channel). Compiled with or without Xen support (VTASOS_HAVE_XEN).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "vtasos/core/result.h"
#include "vtasos/core/topology.h"
#include "vtasos/drivers/driver.h"

namespace vtasos::daemon {

struct XenFlags {
    std::string pools = "auto";  // cpupool per tenant: auto|always|never
    bool channel = true;         // watch xenstore for guest requests
};
void add_xen_flags(CLI::App& app, XenFlags& flags);

// For the xen driver: probes (a machine that is not a Xen dom0 is an error:
// the caller exits non-zero with it), applies the flags and, with
// --topology live, replaces `topology` by the hypervisor's. No-op for other drivers.
Status xen_setup(Driver& driver, const XenFlags& flags, const std::string& topology_spec,
                 Topology& topology);

// Starts the xenstore watcher that turns guest requests into registrations
// over `socket_path`. Null (and one log line) when the driver is not xen,
// the channel is off, or xenstore is not reachable. Destroying it stops it.
class XenChannel {
public:
    virtual ~XenChannel() = default;
};
std::unique_ptr<XenChannel> start_xen_channel(std::string_view driver_name, const XenFlags& flags,
                                              const std::string& socket_path);

}  // namespace vtasos::daemon
