// Topology loading through hwloc: the live machine, an XML export, or a
// synthetic description.
#pragma once

#include <optional>
#include <string_view>

#include "vtasos/core/result.h"
#include "vtasos/core/topology.h"

namespace vtasos {

// spec: "live" (this machine), "xml:/path/to/topo.xml", or
// "synthetic:package:4 core:2 pu:2" (hwloc synthetic syntax after the prefix).
// package_bandwidth_gbps overrides the default per-package budget.
// Errors: kInvalidArgument (bad spec or synthetic string), kNotFound (XML file), kIo.
Result<Topology> load_topology(std::string_view spec,
                               std::optional<double> package_bandwidth_gbps = std::nullopt);

}  // namespace vtasos
