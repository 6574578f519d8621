// Real system calls behind LinuxOps, and the mountinfo parser.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "vtasos/drivers/internal/linux.h"

namespace vtasos::linuxdrv {
namespace {

constexpr size_t kMaxFileBytes = 4 << 20;  // mountinfo on a busy host is < 1 MiB
constexpr int kMaxCpus = 8192;

Error sys_error(int err, std::string what) {
    return Error(errno_to_errc(err), fmt::format("{}: {}", what, std::strerror(err)));
}

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo octal.
std::string unescape_octal(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() &&
            std::all_of(s.begin() + i + 1, s.begin() + i + 4,
                        [](char c) { return c >= '0' && c <= '7'; })) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t next = s.find(sep, pos);
        if (next == std::string_view::npos) next = s.size();
        out.push_back(s.substr(pos, next - pos));
        pos = next + 1;
    }
    return out;
}

}  // namespace

Errc errno_to_errc(int err) {
    switch (err) {
        case ESRCH:
        case ENOENT:
            return Errc::kNotFound;
        case EACCES:
        case EPERM:
        case EROFS:
            return Errc::kPermissionDenied;
        case EBUSY:
            return Errc::kBusy;
        case EINVAL:
            return Errc::kInvalidArgument;
        case EEXIST:
            return Errc::kAlreadyExists;
        default:
            return Errc::kIo;
    }
}

Result<std::string> LinuxOps::read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error(errno, fmt::format("read {}", path));
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return sys_error(err, fmt::format("read {}", path));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > kMaxFileBytes) {
            ::close(fd);
            return Error(Errc::kIo,
                         fmt::format("read {}: larger than {} bytes", path, kMaxFileBytes));
        }
    }
    ::close(fd);
    return out;
}

Status LinuxOps::write_file(const std::string& path, std::string_view data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return sys_error(errno, fmt::format("write \"{}\" to {}", data, path));
    ssize_t n;
    do {
        n = ::write(fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (n < 0) return sys_error(err, fmt::format("write \"{}\" to {}", data, path));
    if (static_cast<size_t>(n) != data.size())
        return Error(Errc::kIo, fmt::format("write \"{}\" to {}: short write ({} of {} bytes)",
                                            data, path, n, data.size()));
    return {};
}

Status LinuxOps::make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) != 0) return sys_error(errno, fmt::format("mkdir {}", path));
    return {};
}

Status LinuxOps::remove_dir(const std::string& path) {
    if (::rmdir(path.c_str()) != 0) return sys_error(errno, fmt::format("rmdir {}", path));
    return {};
}

bool LinuxOps::is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool LinuxOps::exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> LinuxOps::list_subdirs(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return sys_error(errno, fmt::format("list {}", path));
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        bool dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) dir = is_dir(path + "/" + name);
        if (dir) out.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> LinuxOps::read_mountinfo() { return read_file("/proc/self/mountinfo"); }

Result<std::vector<pid_t>> LinuxOps::list_threads(pid_t pid) {
    std::string dir = fmt::format("/proc/{}/task", pid);
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        int err = errno;
        if (err == ENOENT)
            return Error(Errc::kNotFound, fmt::format("pid {}: no such process", pid));
        return sys_error(err, fmt::format("pid {}: list threads in {}", pid, dir));
    }
    std::vector<pid_t> out;
    while (struct dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long v = std::strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0' && v > 0) out.push_back(static_cast<pid_t>(v));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    if (out.empty()) return Error(Errc::kNotFound, fmt::format("pid {}: no such process", pid));
    return out;
}

Result<std::vector<int>> LinuxOps::get_affinity(pid_t tid) {
    cpu_set_t* set = CPU_ALLOC(kMaxCpus);
    size_t size = CPU_ALLOC_SIZE(kMaxCpus);
    CPU_ZERO_S(size, set);
    if (::sched_getaffinity(tid, size, set) != 0) {
        int err = errno;
        CPU_FREE(set);
        return sys_error(err, fmt::format("sched_getaffinity(tid {})", tid));
    }
    std::vector<int> out;
    for (int i = 0; i < kMaxCpus; ++i)
        if (CPU_ISSET_S(i, size, set)) out.push_back(i);
    CPU_FREE(set);
    return out;
}

Status LinuxOps::set_affinity(pid_t tid, const std::vector<int>& pus) {
    cpu_set_t* set = CPU_ALLOC(kMaxCpus);
    size_t size = CPU_ALLOC_SIZE(kMaxCpus);
    CPU_ZERO_S(size, set);
    for (int pu : pus) {
        if (pu < 0 || pu >= kMaxCpus) {
            CPU_FREE(set);
            return Error(Errc::kInvalidArgument,
                         fmt::format("sched_setaffinity(tid {}): PU {} out of range", tid, pu));
        }
        CPU_SET_S(pu, size, set);
    }
    int rc = ::sched_setaffinity(tid, size, set);
    int err = errno;
    CPU_FREE(set);
    if (rc != 0) {
        std::string what =
            fmt::format("sched_setaffinity(tid {}, {{{}}})", tid, format_cpulist(pus));
        if (err == ESRCH) return Error(Errc::kNotFound, fmt::format("{}: no such thread", what));
        return sys_error(err, what);
    }
    return {};
}

Result<std::vector<int>> LinuxOps::online_cpus() {
    auto text = read_file("/sys/devices/system/cpu/online");
    if (!text.ok()) return text.error();
    auto ids = parse_cpulist(*text);
    if (!ids.ok()) return ids.error().with_context("/sys/devices/system/cpu/online");
    return ids;
}

long long LinuxOps::now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void LinuxOps::sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::shared_ptr<LinuxOps> make_real_linux_ops() { return std::make_shared<LinuxOps>(); }

CgroupMounts parse_mountinfo(std::string_view text) {
    CgroupMounts m;
    bool cpuset_root = false, freezer_root = false, unified_root = false;
    for (std::string_view line : split(text, '\n')) {
        // id parent maj:min root mountpoint options [optional...] - fstype source superopts
        auto f = split(line, ' ');
        auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
        if (f.size() < 6 || dash == f.end() || f.end() - dash < 4) continue;
        std::string_view fstype = dash[1];
        std::string_view superopts = dash[3];
        bool at_root = f[3] == "/";
        std::string mnt = unescape_octal(f[4]);
        auto take = [&](std::string& slot, bool& slot_root) {
            if (slot.empty() || (!slot_root && at_root)) {
                slot = mnt;
                slot_root = at_root;
            }
        };
        if (fstype == "cgroup2") {
            take(m.unified, unified_root);
        } else if (fstype == "cgroup") {
            for (std::string_view opt : split(superopts, ',')) {
                if (opt == "cpuset") take(m.cpuset_v1, cpuset_root);
                if (opt == "freezer") take(m.freezer_v1, freezer_root);
            }
        }
    }
    return m;
}

}  // namespace vtasos::linuxdrv
