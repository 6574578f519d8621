// RankFacts: what a rank knows about its place in the job, read at init-bottom.
//
// The hook asks PMIx (namespace, rank, job size, local size, local rank, node
// id, hostname). Where PMIx cannot answer (a singleton run, an old launcher)
// the launcher's environment fills in: Open MPI's OMPI_COMM_WORLD_*, PMIx's
// PMIX_NAMESPACE/PMIX_RANK, Slurm's SLURM_*. Nothing here is specific to one
// node: a rank only ever talks to the daemon of the node it runs on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace vtasos::mpi {

struct RankFacts {
    std::string nspace;   // PMIx namespace (Open MPI 4.1: the numeric jobid)
    int rank = -1;        // rank in the namespace
    int job_size = -1;    // ranks in the namespace, all nodes
    int local_size = -1;  // ranks of this namespace on this node
    int local_rank = -1;  // 0..local_size-1
    int node_id = -1;     // PMIx node id (not needed for correctness)
    std::string hostname;
    std::string source;  // "pmix", "env:OMPI", "env:SLURM", "pmix+env", "singleton"

    bool complete() const {
        return !nspace.empty() && rank >= 0 && local_size > 0 && local_rank >= 0;
    }
    std::string to_string() const;
};

using GetEnv = std::function<const char*(const char*)>;

// Fills the fields of `f` that are still unknown from the environment (see
// above). A process with no launcher variables at all is a singleton:
// namespace "singleton-PID", rank 0, sizes 1.
void fill_from_env(RankFacts& f, const GetEnv& env, int pid);

// The job tenant for this namespace on this node: "mpi-<nspace>-n<node>"
// limited to the daemon's identifier charset and 64 characters (other
// characters become '_'; an altered or shortened namespace gets a hash suffix
// so that two namespaces never share a tenant).
std::string job_tenant_id(std::string_view nspace, int node_id);

}  // namespace vtasos::mpi
