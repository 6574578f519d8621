// FakeKernel: LinuxOps over a fake cgroup tree in a temporary directory.
//
// The files are real (tests read what the driver wrote), the kernel's side is
// simulated: mkdir populates control files, writing a pid to cgroup.procs moves
// it between cgroups of a hierarchy (ESRCH for unknown pids, ENOSPC for a v1
// cpuset without cpus/mems), cgroup.subtree_control takes +/-controller,
// cgroup.freeze updates cgroup.events, freezer.state goes FREEZING -> FROZEN
// after a few reads, rmdir is EBUSY while tasks remain. Processes, threads and
// affinities live in memory; time is virtual. Failures can be injected per
// operation and path/id substring.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vtasos/drivers/internal/linux.h"

namespace vtasos::testing {

namespace fs = std::filesystem;

class FakeKernel : public linuxdrv::LinuxOps {
public:
    enum class Layout { kV1, kV1CoMounted, kV2, kEmpty };

    explicit FakeKernel(Layout layout, std::string v2_controllers = "cpuset cpu memory") {
        char tmpl[] = "/tmp/vtasos-fakecg-XXXXXX";
        root_ = ::mkdtemp(tmpl);
        switch (layout) {
            case Layout::kV1:
                cpuset_root_ = root_ + "/cpuset";
                freezer_root_ = root_ + "/freezer";
                break;
            case Layout::kV1CoMounted:
                cpuset_root_ = freezer_root_ = root_ + "/cpuset,freezer";
                break;
            case Layout::kV2:
                v2_root_ = root_;
                break;
            case Layout::kEmpty:
                break;
        }
        if (!cpuset_root_.empty()) {
            fs::create_directories(cpuset_root_);
            put(cpuset_root_ + "/cpuset.cpus", "0-3\n");
            put(cpuset_root_ + "/cpuset.mems", "0\n");
            put(cpuset_root_ + "/cgroup.procs", "");
            put(cpuset_root_ + "/tasks", "");
        }
        if (!freezer_root_.empty() && freezer_root_ != cpuset_root_) {
            fs::create_directories(freezer_root_);
            put(freezer_root_ + "/cgroup.procs", "");
            put(freezer_root_ + "/tasks", "");
        }
        if (!v2_root_.empty()) {
            put(v2_root_ + "/cgroup.controllers", v2_controllers + "\n");
            put(v2_root_ + "/cgroup.subtree_control", "\n");
            put(v2_root_ + "/cgroup.procs", "");
            put(v2_root_ + "/cpuset.cpus.effective", "0-3\n");
            put(v2_root_ + "/cpuset.mems.effective", "0-1\n");
        }
    }
    ~FakeKernel() override {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    const std::string& root() const { return root_; }
    const std::string& cpuset_root() const { return cpuset_root_; }
    const std::string& freezer_root() const { return freezer_root_; }

    // --- simulated processes
    void add_process(pid_t pid, std::vector<pid_t> tids) {
        threads_[pid] = tids;
        for (pid_t t : tids) affinity_[t] = online_;
        for (const auto& r : hier_roots()) join(r, r + "/cgroup.procs", pid);
    }
    std::vector<int> affinity(pid_t tid) const { return affinity_.at(tid); }
    void set_initial_affinity(pid_t tid, std::vector<int> pus) { affinity_[tid] = std::move(pus); }
    // The cgroup directory holding `pid` in the hierarchy rooted at `hier_root`.
    std::string cgroup_of(const std::string& hier_root, pid_t pid) const {
        auto it = member_.find({hier_root, pid});
        return it == member_.end() ? "" : it->second;
    }

    // --- failure injection: the n-th matching call (1 = next) of `op`
    // ("write", "mkdir", "rmdir", "set_affinity", "read") whose path or id
    // contains `needle` fails with `error`; times = how many calls fail.
    void fail(std::string op, std::string needle, Error error, int times = 1) {
        rules_.push_back({std::move(op), std::move(needle), std::move(error), times});
    }
    int freezing_reads = 2;     // reads of freezer.state showing FREEZING first
    bool freeze_stuck = false;  // never reaches frozen (timeout path)
    std::string mountinfo;      // returned by read_mountinfo()
    std::vector<int> online_ = {0, 1, 2, 3};
    std::vector<std::pair<pid_t, std::vector<int>>> affinity_calls;

    // --- helpers for assertions
    static std::string get(const std::string& path) {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string s = ss.str();
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }
    static void put(const std::string& path, const std::string& data) {
        std::ofstream(path, std::ios::trunc) << data;
    }

    // --- LinuxOps
    Result<std::string> read_file(const std::string& path) override {
        if (auto e = injected("read", path)) return *e;
        auto it = freezing_.find(path);
        if (it != freezing_.end() && !freeze_stuck && --it->second <= 0) {
            put(path, "FROZEN\n");
            freezing_.erase(it);
        }
        return LinuxOps::read_file(path);
    }

    Status write_file(const std::string& path, std::string_view data) override {
        if (auto e = injected("write", path)) return *e;
        if (!fs::exists(path))  // kernfs has no O_CREAT either
            return Error(Errc::kNotFound, "write " + path + ": No such file or directory");
        fs::path p(path);
        std::string base = p.filename(), dir = p.parent_path();
        std::string value(data);
        if (base == "cgroup.procs" || base == "tasks") {
            pid_t pid = std::atoi(value.c_str());
            if (!threads_.count(pid))
                return Error(Errc::kNotFound,
                             "write \"" + value + "\" to " + path + ": No such process");
            std::string h = hier_of(path);
            if (h == cpuset_root_ && !cpuset_root_.empty() &&
                (get(dir + "/cpuset.cpus").empty() || get(dir + "/cpuset.mems").empty()))
                return Error(Errc::kIo,
                             "write \"" + value + "\" to " + path + ": No space left on device");
            join(h, dir, pid);
            return {};
        }
        if (base == "cgroup.subtree_control") {
            std::set<std::string> ctl;
            std::istringstream cur(get(path));
            for (std::string t; cur >> t;) ctl.insert(t);
            std::istringstream req(value);
            for (std::string t; req >> t;) {
                if (t.size() < 2 || (t[0] != '+' && t[0] != '-'))
                    return Error(Errc::kInvalidArgument, "write " + path + ": Invalid argument");
                if (t[0] == '+')
                    ctl.insert(t.substr(1));
                else
                    ctl.erase(t.substr(1));
            }
            std::string out;
            for (const auto& c : ctl) out += (out.empty() ? "" : " ") + c;
            put(path, out + "\n");
            return {};
        }
        if (base == "cgroup.freeze") {
            put(path, value + "\n");
            bool populated = !get(dir + "/cgroup.procs").empty();
            if (!freeze_stuck || value == "0")
                put(dir + "/cgroup.events", std::string("populated ") + (populated ? "1" : "0") +
                                                "\nfrozen " + value + "\n");
            return {};
        }
        if (base == "freezer.state") {
            if (value == "FROZEN") {
                put(path, "FREEZING\n");
                freezing_[path] = freezing_reads;
            } else {
                freezing_.erase(path);
                put(path, value + "\n");
            }
            return {};
        }
        return LinuxOps::write_file(path, data);
    }

    Status make_dir(const std::string& path) override {
        if (auto e = injected("mkdir", path)) return *e;
        if (auto st = LinuxOps::make_dir(path); !st.ok()) return st;
        std::string h = hier_of(path), parent = fs::path(path).parent_path();
        put(path + "/cgroup.procs", "");
        if (h == cpuset_root_ && !h.empty()) {
            put(path + "/cpuset.cpus", "");
            put(path + "/cpuset.mems", "");
            put(path + "/tasks", "");
        }
        if (h == freezer_root_ && !h.empty()) {
            put(path + "/freezer.state", "THAWED\n");
            put(path + "/tasks", "");
        }
        if (h == v2_root_ && !h.empty()) {
            std::string ctl = get(parent + "/cgroup.subtree_control");
            put(path + "/cgroup.controllers", ctl + "\n");
            put(path + "/cgroup.subtree_control", "\n");
            put(path + "/cgroup.freeze", "0\n");
            put(path + "/cgroup.events", "populated 0\nfrozen 0\n");
            if (ctl.find("cpuset") != std::string::npos) {
                put(path + "/cpuset.cpus", "\n");
                put(path + "/cpuset.mems", "\n");
                put(path + "/cpuset.cpus.effective", get(parent + "/cpuset.cpus.effective") + "\n");
                put(path + "/cpuset.mems.effective", get(parent + "/cpuset.mems.effective") + "\n");
            }
        }
        return {};
    }

    Status remove_dir(const std::string& path) override {
        if (auto e = injected("rmdir", path)) return *e;
        if (!fs::is_directory(path))
            return Error(Errc::kNotFound, "rmdir " + path + ": No such file or directory");
        if (!get(path + "/cgroup.procs").empty())
            return Error(Errc::kBusy, "rmdir " + path + ": Device or resource busy");
        for (const auto& e : fs::directory_iterator(path))
            if (e.is_directory())
                return Error(Errc::kBusy, "rmdir " + path + ": Device or resource busy");
        fs::remove_all(path);
        return {};
    }

    Result<std::string> read_mountinfo() override {
        if (mountinfo.empty()) return Error(Errc::kNotFound, "no mountinfo");
        return mountinfo;
    }

    Result<std::vector<pid_t>> list_threads(pid_t pid) override {
        auto it = threads_.find(pid);
        if (it == threads_.end())
            return Error(Errc::kNotFound, "pid " + std::to_string(pid) + ": no such process");
        return it->second;
    }
    Result<std::vector<int>> get_affinity(pid_t tid) override {
        auto it = affinity_.find(tid);
        if (it == affinity_.end()) return Error(Errc::kNotFound, "no such thread");
        return it->second;
    }
    Status set_affinity(pid_t tid, const std::vector<int>& pus) override {
        if (auto e = injected("set_affinity", std::to_string(tid))) return *e;
        if (!affinity_.count(tid))
            return Error(Errc::kNotFound,
                         "sched_setaffinity(tid " + std::to_string(tid) + "): no such thread");
        affinity_[tid] = pus;
        affinity_calls.emplace_back(tid, pus);
        return {};
    }
    Result<std::vector<int>> online_cpus() override { return online_; }
    long long now_ms() override { return clock_ms_; }
    void sleep_ms(int ms) override { clock_ms_ += ms; }

private:
    struct Rule {
        std::string op, needle;
        Error error;
        int times;
    };
    std::optional<Error> injected(const std::string& op, const std::string& what) {
        for (auto& r : rules_)
            if (r.times > 0 && r.op == op && what.find(r.needle) != std::string::npos) {
                --r.times;
                return r.error;
            }
        return std::nullopt;
    }
    std::vector<std::string> hier_roots() const {
        std::vector<std::string> out;
        for (const auto& r : {cpuset_root_, freezer_root_, v2_root_})
            if (!r.empty() && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
        return out;
    }
    std::string hier_of(const std::string& path) const {
        std::string best;
        for (const auto& r : hier_roots())
            if ((path == r || path.rfind(r + "/", 0) == 0) && r.size() > best.size()) best = r;
        return best;
    }
    void join(const std::string& hier, const std::string& dir, pid_t pid) {
        auto key = std::make_pair(hier, pid);
        if (auto it = member_.find(key); it != member_.end()) rewrite(it->second, pid, false);
        member_[key] = dir;
        rewrite(dir, pid, true);
    }
    static void rewrite(const std::string& dir, pid_t pid, bool add) {
        std::string file = dir + "/cgroup.procs";
        std::istringstream in(get(file));
        std::set<pid_t> ids;
        for (pid_t p; in >> p;) ids.insert(p);
        if (add)
            ids.insert(pid);
        else
            ids.erase(pid);
        std::string out;
        for (pid_t p : ids) out += std::to_string(p) + "\n";
        if (fs::exists(dir)) put(file, out);
    }

    std::string root_, cpuset_root_, freezer_root_, v2_root_;
    std::map<pid_t, std::vector<pid_t>> threads_;
    std::map<pid_t, std::vector<int>> affinity_;
    std::map<std::pair<std::string, pid_t>, std::string> member_;
    std::map<std::string, int> freezing_;
    std::vector<Rule> rules_;
    long long clock_ms_ = 1000;
};

}  // namespace vtasos::testing
