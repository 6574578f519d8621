#include "internal/proc.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace vtasos::daemon::proc {

Result<uid_t> owner(pid_t pid) {
    struct stat st {};
    auto path = fmt::format("/proc/{}", pid);
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return Error(Errc::kNotFound, fmt::format("no process {}", pid));
        return Error(Errc::kIo, fmt::format("stat {}: {}", path, std::strerror(errno)));
    }
    return st.st_uid;
}

std::optional<uint64_t> start_time(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    // comm (field 2) may hold spaces and ')': the fields resume after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(line.substr(close + 1));
    std::string field;
    // After ')' come fields 3..; starttime is field 22, i.e. the 20th token here.
    for (int i = 3; i <= 22; ++i) {
        if (!(rest >> field)) return std::nullopt;
    }
    try {
        return std::stoull(field);
    } catch (...) {
        return std::nullopt;
    }
}

bool has_thread(pid_t pid, pid_t tid) {
    struct stat st {};
    return ::stat(fmt::format("/proc/{}/task/{}", pid, tid).c_str(), &st) == 0;
}

std::string exe_basename(pid_t pid) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof(buf) - 1);
    if (n > 0) {
        std::string p(buf, static_cast<size_t>(n));
        const std::string deleted = " (deleted)";
        if (p.size() > deleted.size() &&
            p.compare(p.size() - deleted.size(), deleted.size(), deleted) == 0)
            p.resize(p.size() - deleted.size());
        auto slash = p.rfind('/');
        return slash == std::string::npos ? p : p.substr(slash + 1);
    }
    std::ifstream in(fmt::format("/proc/{}/comm", pid));
    std::string comm;
    std::getline(in, comm);
    return comm;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool alive(pid_t pid, std::optional<uint64_t> start) {
    auto t = start_time(pid);
    if (!t) return false;
    if (start && *t != *start) return false;
    // A zombie is dead for our purposes: it runs nothing and its pidfd is readable.
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string line;
    std::getline(in, line);
    auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z')
        return false;
    return true;
}

std::optional<uint64_t> rss_bytes(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/statm", pid));
    uint64_t size = 0, resident = 0;
    if (!(in >> size >> resident)) return std::nullopt;
    return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t llc_bytes(int pu) {
    uint64_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; ++i) {
        const std::string dir = fmt::format("/sys/devices/system/cpu/cpu{}/cache/index{}", pu, i);
        std::ifstream lv(dir + "/level"), sz(dir + "/size"), ty(dir + "/type");
        int level = 0;
        std::string size, type;
        if (!(lv >> level) || !(sz >> size)) break;
        ty >> type;
        if (type == "Instruction" || level < best_level) continue;
        // "32768K", "2M" or plain bytes.
        char* end = nullptr;
        uint64_t v = std::strtoull(size.c_str(), &end, 10);
        if (end && (*end == 'K' || *end == 'k')) v <<= 10;
        if (end && (*end == 'M' || *end == 'm')) v <<= 20;
        best = v;
        best_level = level;
    }
    return best;
}

}  // namespace vtasos::daemon::proc
