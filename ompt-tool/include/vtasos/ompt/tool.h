// libvtasos-ompt: the OpenMP side of vtasos (DESIGN.md "Learning").
//
// Loaded by an OpenMP runtime that implements OMPT (LLVM libomp) through
//   OMP_TOOL_LIBRARIES=/path/libvtasos-ompt.so ./app
// (a GCC-built app needs LD_PRELOAD=/usr/lib/llvm-14/lib/libomp.so as well).
// The library exports exactly one symbol, ompt_start_tool; everything else is
// internal. What it does, in order:
//   1. ompt_start_tool reads the environment (README.md); it returns NULL, so
//      that the runtime may load another tool, when VTASOS_OMPT=0 or when a
//      vtasos tool is already active in the process (the reason is printed
//      with VTASOS_VERBOSE=1).
//   2. initialize chooses the application's profile, registers the process
//      with vtasosd when one answers (else: monitor only), and sets the
//      callbacks. If a callback it needs cannot be set it undoes everything
//      and returns 0: the application runs without the tool.
//   3. Callbacks count events per thread (no locks, allocation or I/O); each
//      OpenMP thread is bound to its placed PUs at thread-begin; advice is
//      applied between parallel regions.
//   4. finalize (once, not in forked children) writes VTASOS_PROFILE_OUT and
//      releases the tenant.
// Nothing the tool does can fail the application: errors become one stderr
// line (bad settings always; the rest with VTASOS_VERBOSE).
#pragma once

#include <omp-tools.h>

#ifdef __cplusplus
extern "C" {
#endif

// The OMPT entry point (OpenMP 5.x, section 4.2.1). `omp_version` is the
// runtime's _OPENMP value, `runtime_version` its name. Returns the tool's
// initialize/finalize pair, or NULL when the tool is disabled.
__attribute__((visibility("default"))) ompt_start_tool_result_t* ompt_start_tool(
    unsigned int omp_version, const char* runtime_version);

#ifdef __cplusplus
}
#endif
