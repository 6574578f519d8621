// The daemon's state file: written atomically after every change so that a
// restarted daemon can re-adopt live tenants (DESIGN.md "Security and failure").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "vtasos/core/result.h"

namespace vtasos::daemon::state {

inline constexpr int kStateVersion = 1;

// Writes `content` to `path` atomically: PATH.tmp, fsync, rename over PATH,
// fsync of the directory. Creates missing parent directories (0755).
// Errors: kIo naming the step and path.
Status write_atomic(const std::string& path, const std::string& content);

// Reads and parses the state file. kNotFound when absent; kInvalidArgument
// when it is not JSON or has another version.
Result<nlohmann::json> read(const std::string& path);

}  // namespace vtasos::daemon::state
