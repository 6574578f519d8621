// Binding: how the rank is bound now, and binding it to its share.
//
// mpirun binds ranks itself (--bind-to core is Open MPI 4.1's default for
// np <= 2, --bind-to socket above). The hook sees that as an affinity mask
// narrower than the CPUs the process's cgroup allows, and Open MPI says so in
// OMPI_MCA_orte_bound_at_launch=1. With hook_vtasos_binding=takeover (the
// default) the rank is re-bound to its vtasos share; with =respect the hook
// leaves mpirun's binding alone and explains --bind-to none.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vtasos/core/placement.h"
#include "vtasos/core/result.h"

namespace vtasos::mpi {

// The calling thread's affinity (sched_getaffinity), sorted.
std::vector<int> current_affinity();

// CPUs this process may use at all: the effective cpuset of its cgroup (v1
// or v2) under `fs_root` ("" = the real /), else the online CPUs, else empty.
std::vector<int> allowed_cpus(const std::string& fs_root = "");

struct BindingState {
    bool bound = false;            // someone narrowed the mask below `allowed`
    bool by_mpirun = false;        // ... and Open MPI said it was mpirun
    std::vector<int> affinity;     // the mask at init
    std::vector<int> allowed;      // what the cgroup allows
    std::string describe() const;  // "bound by mpirun to 0 (of 0-1)" / "not bound (0-1)"
};

// `bound_at_launch`: the value of OMPI_MCA_orte_bound_at_launch (may be null).
BindingState detect_binding(const std::vector<int>& affinity, const std::vector<int>& allowed,
                            const char* bound_at_launch);

// Binds every thread of this process (/proc/self/task) to `pus`. Threads that
// exit meanwhile are skipped. Returns the number of threads bound.
// Errors: kInvalidArgument (empty set, a PU beyond CPU_SETSIZE), kIo (the
// first sched_setaffinity error, e.g. EINVAL when no PU is allowed).
Result<int> bind_process(const std::vector<int>& pus, const std::string& fs_root = "");

}  // namespace vtasos::mpi
