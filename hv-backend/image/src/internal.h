// Internals of vtasos_image shared by its source files (not a public API).
#pragma once

#include <string>
#include <vector>

#include "vtasos/core/result.h"

namespace vtasos::image::internal {

struct Captured {
    int status = -1;  // wait status
    std::string out;  // stdout
    std::string err;  // stderr
};
// fork/exec argv (argv[0] a path) with `env` (KEY=VALUE) added to ours, feeding `input`
// on stdin, capturing stdout and stderr.
Result<Captured> run_capture(const std::vector<std::string>& argv, const std::string& input = {},
                             const std::vector<std::string>& env = {});
Result<std::string> read_file(const std::string& path);
Status write_file(const std::string& path, const std::string& data);

}  // namespace vtasos::image::internal
