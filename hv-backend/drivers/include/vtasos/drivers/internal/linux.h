// Internals of the Linux driver, visible to its tests. Not a public API.
//
// The driver touches the system only through LinuxOps: cgroup-filesystem file
// and directory operations, /proc thread listing, sched_{get,set}affinity, the
// online-CPU list and a clock. RealLinuxOps does the real thing; tests derive
// from it to run the driver on a fake cgroup tree in a temporary directory
// (where writing a pid to cgroup.procs cannot move anything) and to inject
// failures at any step.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vtasos/core/result.h"
#include "vtasos/drivers/driver.h"

namespace vtasos::linuxdrv {

// Errno -> Errc used for every system call of the driver:
//   ESRCH, ENOENT -> kNotFound; EACCES, EPERM, EROFS -> kPermissionDenied;
//   EBUSY -> kBusy; EINVAL -> kInvalidArgument; EEXIST -> kAlreadyExists;
//   anything else -> kIo.
Errc errno_to_errc(int err);

class LinuxOps {
public:
    virtual ~LinuxOps() = default;

    // --- files (cgroupfs). Messages name the path; errors map errno as above.
    virtual Result<std::string> read_file(const std::string& path);
    // One write(2) of `data` into an existing file (O_WRONLY|O_TRUNC, no O_CREAT).
    virtual Status write_file(const std::string& path, std::string_view data);
    // mkdir 0755; kAlreadyExists when it exists.
    virtual Status make_dir(const std::string& path);
    // rmdir; kNotFound when absent, kBusy when the cgroup still has tasks/children.
    virtual Status remove_dir(const std::string& path);
    virtual bool is_dir(const std::string& path);
    virtual bool exists(const std::string& path);
    // Names of the sub-directories (child cgroups) of `path`, sorted.
    virtual Result<std::vector<std::string>> list_subdirs(const std::string& path);
    virtual Result<std::string> read_mountinfo();

    // --- processes
    // Thread ids of a process (/proc/PID/task/*). kNotFound "pid N: no such process".
    virtual Result<std::vector<pid_t>> list_threads(pid_t pid);
    virtual Result<std::vector<int>> get_affinity(pid_t tid);
    // sched_setaffinity. kNotFound (thread gone), kPermissionDenied (EPERM),
    // kInvalidArgument (no allowed CPU in the set).
    virtual Status set_affinity(pid_t tid, const std::vector<int>& pus);
    // /sys/devices/system/cpu/online.
    virtual Result<std::vector<int>> online_cpus();

    // --- time (a fake may advance a virtual clock instead of sleeping)
    virtual long long now_ms();
    virtual void sleep_ms(int ms);
};

std::shared_ptr<LinuxOps> make_real_linux_ops();

// cgroup hierarchies found in /proc/self/mountinfo (mount points; "" = absent).
// A v1 hierarchy may hold both cpuset and freezer (co-mounted): then both name
// the same directory. The first mount of each kind wins, preferring mounts of
// the hierarchy's root ("/") over bind mounts of a sub-tree.
struct CgroupMounts {
    std::string cpuset_v1;
    std::string freezer_v1;
    std::string unified;  // cgroup2
    bool operator==(const CgroupMounts&) const = default;
};
CgroupMounts parse_mountinfo(std::string_view text);

// The Linux driver on explicit ops (make_driver("linux") passes the real ones).
Result<std::unique_ptr<Driver>> make_linux_driver(const DriverConfig& config,
                                                  std::shared_ptr<LinuxOps> ops);

// Tenant and parent names become path components: [A-Za-z0-9._:@+-]{1,64},
// not "." or "..". A parent may be several such components joined by '/'.
Status check_cgroup_name(std::string_view what, std::string_view name);
Status check_parent_path(std::string_view parent);

}  // namespace vtasos::linuxdrv
