// locate.h: finds the programs a mode needs (vtasosd, vtasosctl, libvtasos-ompt.so, the
// kernels, vtasos-image) and says where it looked when it cannot.
//
// Order: an explicit command-line path; the build's own targets (paths compiled in by CMake);
// a scan of the build tree the vtasos-bench binary lives in (hv-backend/, ompt-tool/, bin/);
// finally $PATH (programs) or the usual library directories (libraries).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "result.h"

namespace vtasos::bench {

struct Located {
    std::filesystem::path path;
    std::string how;  // "--vtasosd", "build target", "build tree", "PATH", "library path"
};

enum class ToolKind { kProgram, kLibrary };

struct ToolQuery {
    std::string name;  // file name: "vtasosd", "libvtasos-ompt.so"
    ToolKind kind = ToolKind::kProgram;
    std::string flag;              // "--vtasosd" (for messages)
    std::string explicit_path;     // value of the flag, empty when not given
    std::string compiled_targets;  // ':'-separated build-target paths (may be empty)
};

// Errors: kNotFound naming the file and the places searched; when explicit_path is given and is
// not usable, kNotFound naming the flag and the path (no fallback: the user asked for that file).
Result<Located> locate_tool(const ToolQuery& q);

// The build tree this executable belongs to: <dir of /proc/self/exe>/../.. when that holds a
// CMakeCache.txt, else the compiled-in binary dir, else empty.
std::filesystem::path build_root();
// Directory of the running executable.
std::filesystem::path self_dir();

// Directory holding our kernels (ep, is, cg, mg, ft) and fwq: the directory of vtasos-bench
// itself when it holds an `ep`, else the compiled-in nas-harness/bin.
std::filesystem::path default_kernel_dir();

}  // namespace vtasos::bench
