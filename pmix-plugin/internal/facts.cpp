#include "facts.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <string>

namespace vtasos::mpi {
namespace {

std::optional<int> to_int(const char* s) {
    if (!s || !*s) return std::nullopt;
    int v = 0;
    const char* end = s + std::char_traits<char>::length(s);
    auto [p, ec] = std::from_chars(s, end, v);
    if (ec != std::errc() || p != end || v < 0) return std::nullopt;
    return v;
}

// SLURM_TASKS_PER_NODE is "2(x3),1": tasks on node i. Returns the count of
// the node with index `node`, or nullopt.
std::optional<int> slurm_tasks_on_node(const char* spec, int node) {
    if (!spec || node < 0) return std::nullopt;
    std::string_view s(spec);
    int idx = 0;
    while (!s.empty()) {
        size_t comma = s.find(',');
        std::string_view item = s.substr(0, comma);
        int count = 0, rep = 1;
        size_t paren = item.find("(x");
        std::string c(item.substr(0, paren));
        auto cnt = to_int(c.c_str());
        if (!cnt) return std::nullopt;
        count = *cnt;
        if (paren != std::string_view::npos) {
            std::string r(item.substr(paren + 2, item.size() - paren - 3));
            auto rp = to_int(r.c_str());
            if (!rp) return std::nullopt;
            rep = *rp;
        }
        if (node < idx + rep) return count;
        idx += rep;
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return std::nullopt;
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace

std::string RankFacts::to_string() const {
    return fmt::format("nspace={} rank={}/{} local={}/{} node={} host={} source={}", nspace, rank,
                       job_size, local_rank, local_size, node_id, hostname, source);
}

void fill_from_env(RankFacts& f, const GetEnv& env, int pid) {
    bool used = false;
    auto take = [&](int& field, const char* name) {
        if (field >= 0) return;
        if (auto v = to_int(env(name))) {
            field = *v;
            used = true;
        }
    };
    std::string tag;
    // Open MPI (mpirun / orted)
    if (env("OMPI_COMM_WORLD_RANK")) {
        take(f.rank, "OMPI_COMM_WORLD_RANK");
        take(f.job_size, "OMPI_COMM_WORLD_SIZE");
        take(f.local_rank, "OMPI_COMM_WORLD_LOCAL_RANK");
        take(f.local_size, "OMPI_COMM_WORLD_LOCAL_SIZE");
        if (used) tag = "env:OMPI";
    }
    // Slurm (srun)
    if (env("SLURM_PROCID")) {
        bool before = used;
        take(f.rank, "SLURM_PROCID");
        take(f.job_size, "SLURM_NTASKS");
        take(f.local_rank, "SLURM_LOCALID");
        take(f.node_id, "SLURM_NODEID");
        if (f.local_size < 0) {
            if (auto n = slurm_tasks_on_node(env("SLURM_TASKS_PER_NODE"), f.node_id)) {
                f.local_size = *n;
                used = true;
            }
        }
        if (f.nspace.empty() && env("SLURM_JOB_ID") && env("SLURM_STEP_ID")) {
            f.nspace = fmt::format("slurm.{}.{}", env("SLURM_JOB_ID"), env("SLURM_STEP_ID"));
            used = true;
        }
        if (used && !before) tag = "env:SLURM";
    }
    if (f.nspace.empty()) {
        if (const char* ns = env("PMIX_NAMESPACE"); ns && *ns) {
            f.nspace = ns;
            used = true;
        } else if (const char* jid = env("OMPI_MCA_ess_base_jobid"); jid && *jid) {
            f.nspace = jid;
            used = true;
        }
    }
    take(f.rank, "PMIX_RANK");
    if (f.hostname.empty()) {
        if (const char* h = env("PMIX_HOSTNAME"); h && *h)
            f.hostname = h;
        else if (const char* h2 = env("HOSTNAME"); h2 && *h2)
            f.hostname = h2;
    }
    if (!f.complete() && f.nspace.empty() && f.rank < 0) {
        // No launcher: a singleton.
        f.nspace = fmt::format("singleton-{}", pid);
        f.rank = 0;
        f.job_size = 1;
        f.local_size = 1;
        f.local_rank = 0;
        tag = "singleton";
        used = true;
    }
    if (f.local_size < 0 && f.job_size == 1) f.local_size = 1;
    if (f.local_rank < 0 && f.local_size == 1) f.local_rank = 0;
    if (used) f.source = f.source.empty() ? tag : f.source + "+" + (tag.empty() ? "env" : tag);
}

std::string job_tenant_id(std::string_view nspace, int node_id) {
    std::string clean;
    bool altered = false;
    for (char c : nspace) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '+';
        clean.push_back(ok ? c : '_');
        altered |= !ok;
    }
    if (clean.empty()) {
        clean = "job";
        altered = true;
    }
    std::string node = node_id >= 0 ? fmt::format("-n{}", node_id) : "";
    constexpr size_t kMax = 64;
    const size_t fixed = 4 + node.size();  // "mpi-" + node
    if (!altered && fixed + clean.size() <= kMax) return "mpi-" + clean + node;
    std::string hash = fmt::format("-{:08x}", static_cast<uint32_t>(fnv1a(nspace)));
    size_t room = kMax - fixed - hash.size();
    if (clean.size() > room) clean = clean.substr(clean.size() - room);  // the tail differs most
    return "mpi-" + clean + hash + node;
}

}  // namespace vtasos::mpi
