#include "vtasos/daemon/job.h"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace vtasos::daemon::job {

using nlohmann::json;

std::vector<Placement> split(const Placement& placement, int threads, size_t n) {
    std::vector<Placement> out;
    for (size_t i = 0; i < n; ++i) {
        Placement s;
        s.tenant = placement.tenant;
        s.mem_nodes = placement.mem_nodes;
        for (int k = 0; k < threads; ++k) {
            size_t c = i * static_cast<size_t>(threads) + static_cast<size_t>(k);
            if (c >= placement.cpus.size()) break;
            CpuPlacement cp = placement.cpus[c];
            cp.cpu = k;
            s.cpus.push_back(std::move(cp));
        }
        s.trace.push_back(
            fmt::format("share {} of the job: cpus {}..{}", i, i * threads, (i + 1) * threads - 1));
        out.push_back(std::move(s));
    }
    return out;
}

void rebuild(const JobInfo& job, const std::string& tenant, Request& request,
             Placement& placement) {
    std::vector<CpuPlacement> cpus;
    std::vector<Coexist> coexist;
    for (const auto& m : job.members) {
        for (size_t k = 0; k < m.share.cpus.size(); ++k) {
            CpuPlacement cp = m.share.cpus[k];
            cp.cpu = static_cast<int>(cpus.size());
            cpus.push_back(std::move(cp));
            coexist.push_back(k < m.coexist.size() ? m.coexist[k] : Coexist::kSocket);
        }
    }
    placement.tenant = tenant;
    placement.cpus = std::move(cpus);
    request.tenant = tenant;
    request.cpus = static_cast<int>(placement.cpus.size());
    request.coexist = std::move(coexist);
    request.groups.clear();
}

const Member* find(const JobInfo& job, pid_t pid) {
    for (const auto& m : job.members)
        if (m.pid == pid) return &m;
    return nullptr;
}

bool remove(JobInfo& job, pid_t pid) {
    auto it = std::find_if(job.members.begin(), job.members.end(),
                           [&](const Member& m) { return m.pid == pid; });
    if (it == job.members.end()) return false;
    job.members.erase(it);
    return true;
}

namespace {

std::vector<pid_t> threads_of(pid_t pid) {
    // Non-throwing iteration: the process may exit meanwhile (this runs in
    // the daemon's event loop, where an exception would end the daemon).
    std::vector<pid_t> out;
    std::error_code ec;
    std::filesystem::directory_iterator it(fmt::format("/proc/{}/task", pid), ec), end_it;
    for (; !ec && it != end_it; it.increment(ec)) {
        char* end = nullptr;
        long tid = std::strtol(it->path().filename().c_str(), &end, 10);
        if (end && *end == '\0' && tid > 0) out.push_back(static_cast<pid_t>(tid));
    }
    return out;
}

bool set_mask(pid_t tid, const std::vector<int>& pus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int p : pus)
        if (p >= 0 && p < CPU_SETSIZE) CPU_SET(p, &set);
    return ::sched_setaffinity(tid, sizeof set, &set) == 0;
}

}  // namespace

std::vector<ThreadMask> save_affinity(const std::vector<pid_t>& pids) {
    std::vector<ThreadMask> out;
    for (pid_t pid : pids) {
        for (pid_t tid : threads_of(pid)) {
            cpu_set_t set;
            CPU_ZERO(&set);
            if (::sched_getaffinity(tid, sizeof set, &set) != 0) continue;  // exited
            ThreadMask m{pid, tid, {}};
            for (int p = 0; p < CPU_SETSIZE; ++p)
                if (CPU_ISSET(p, &set)) m.pus.push_back(p);
            out.push_back(std::move(m));
        }
    }
    return out;
}

int restore_affinity(const JobInfo& job, const std::vector<ThreadMask>& saved,
                     const std::vector<int>& allowed, int* failed) {
    const std::set<int> ok(allowed.begin(), allowed.end());
    auto within = [&](const std::vector<int>& pus) {
        std::vector<int> v;
        for (int p : pus)
            if (ok.count(p)) v.push_back(p);
        return v;
    };
    int set = 0;
    for (const auto& m : job.members) {
        const std::vector<int> share = within(m.share.all_pus());
        for (pid_t tid : threads_of(m.pid)) {
            std::vector<int> pus;
            for (const auto& s : saved)
                if (s.tid == tid && s.pid == m.pid) pus = within(s.pus);
            if (pus.empty()) pus = share;
            if (pus.empty()) continue;
            if (set_mask(tid, pus))
                ++set;
            else if (errno != ESRCH && failed)
                ++*failed;
        }
    }
    return set;
}

json to_json(const JobInfo& job) {
    json ranks = json::array();
    for (const auto& m : job.members) {
        json coexist = json::array();
        for (auto c : m.coexist) coexist.push_back(to_string(c));
        ranks.push_back({{"pid", m.pid},
                         {"local_rank", m.local_rank},
                         {"rank", m.rank},
                         {"share", m.share.to_json()},
                         {"coexist", coexist}});
    }
    json j = {{"nspace", job.nspace},
              {"node", job.node},
              {"host", job.host},
              {"expected", job.expected},
              {"threads", job.threads},
              {"oversubscribe", job.oversubscribe},
              {"placed_with", job.placed_with},
              {"ranks", ranks}};
    j["profile"] = job.profile ? json(*job.profile) : json(nullptr);
    return j;
}

Result<JobInfo> from_json(const json& j) {
    try {
        JobInfo job;
        job.nspace = j.value("nspace", std::string());
        job.node = j.value("node", -1);
        job.host = j.value("host", std::string());
        job.expected = j.at("expected").get<int>();
        job.threads = j.at("threads").get<int>();
        job.oversubscribe = j.value("oversubscribe", false);
        if (j.contains("profile") && j["profile"].is_string())
            job.profile = j["profile"].get<std::string>();
        job.placed_with = j.value("placed_with", 0);
        for (const auto& r : j.at("ranks")) {
            Member m;
            m.pid = r.at("pid").get<pid_t>();
            m.local_rank = r.at("local_rank").get<int>();
            m.rank = r.value("rank", int64_t{-1});
            auto p = Placement::from_json(r.at("share"));
            if (!p) return p.error();
            m.share = std::move(*p);
            for (const auto& c : r.value("coexist", json::array())) {
                auto cx = parse_coexist(c.get<std::string>());
                if (!cx) return cx.error();
                m.coexist.push_back(*cx);
            }
            job.members.push_back(std::move(m));
        }
        return job;
    } catch (const std::exception& e) {
        return Error(Errc::kInvalidArgument, std::string("job: ") + e.what());
    }
}

}  // namespace vtasos::daemon::job
