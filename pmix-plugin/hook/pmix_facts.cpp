// Reading the rank's facts from PMIx (the launcher's PMIx server: mpirun's
// orted, prterun, or Slurm's srun --mpi=pmix).
//
// Open MPI has already initialised the PMIx client in this process (its pmix
// ext3x component uses the same libpmix.so.2). PMIx_Init is reference-counted,
// so the hook takes one more reference and drops it with PMIx_Finalize; when
// nobody initialised PMIx (a singleton run) the hook does not start it.
// Every PMIx_Get is PMIX_OPTIONAL: answered from the local store or not at
// all, never a round trip that could wait.
#include "pmix_facts.h"

#include <pmix.h>

#include <string>

namespace vtasos::mpi {
namespace {

bool as_int(const pmix_value_t* v, int* out) {
    switch (v->type) {
        case PMIX_UINT32:
            *out = static_cast<int>(v->data.uint32);
            return true;
        case PMIX_UINT16:
            *out = v->data.uint16;
            return true;
        case PMIX_INT:
            *out = v->data.integer;
            return true;
        case PMIX_UINT:
            *out = static_cast<int>(v->data.uint);
            return true;
        case PMIX_UINT64:
            *out = static_cast<int>(v->data.uint64);
            return true;
        case PMIX_INT32:
            *out = v->data.int32;
            return true;
        case PMIX_UINT8:
            *out = v->data.uint8;
            return true;
        case PMIX_PROC_RANK:
            *out = static_cast<int>(v->data.rank);
            return true;
        default:
            return false;
    }
}

}  // namespace

bool read_pmix_facts(RankFacts& f, std::string* why) {
    if (!PMIx_Initialized()) {
        if (why) *why = "PMIx not initialised by Open MPI (singleton?)";
        return false;
    }
    pmix_proc_t me;
    if (PMIx_Init(&me, nullptr, 0) != PMIX_SUCCESS) {
        if (why) *why = "PMIx_Init failed";
        return false;
    }
    pmix_proc_t wild;
    PMIX_LOAD_PROCID(&wild, me.nspace, PMIX_RANK_WILDCARD);
    pmix_info_t info;
    bool optional = true;
    PMIX_INFO_LOAD(&info, PMIX_OPTIONAL, &optional, PMIX_BOOL);

    auto get_int = [&](const pmix_proc_t* p, const char* key, int* out) {
        pmix_value_t* v = nullptr;
        if (PMIx_Get(p, key, &info, 1, &v) != PMIX_SUCCESS || !v) return false;
        bool ok = as_int(v, out);
        PMIX_VALUE_RELEASE(v);
        return ok;
    };
    f.nspace = me.nspace;
    f.rank = static_cast<int>(me.rank);
    int n = 0;
    if (get_int(&wild, PMIX_JOB_SIZE, &n)) f.job_size = n;
    if (get_int(&wild, PMIX_LOCAL_SIZE, &n)) f.local_size = n;
    if (get_int(&me, PMIX_LOCAL_RANK, &n)) f.local_rank = n;
    if (get_int(&me, PMIX_NODEID, &n)) f.node_id = n;
    pmix_value_t* v = nullptr;
    if (PMIx_Get(&me, PMIX_HOSTNAME, &info, 1, &v) == PMIX_SUCCESS && v) {
        if (v->type == PMIX_STRING && v->data.string) f.hostname = v->data.string;
        PMIX_VALUE_RELEASE(v);
    }
    PMIX_INFO_DESTRUCT(&info);
    PMIx_Finalize(nullptr, 0);
    f.source = "pmix";
    if (why) why->clear();
    return true;
}

}  // namespace vtasos::mpi
