// Process facts the daemon checks before it touches a process: owner uid,
// start time (to tell a pid from a recycled one), thread membership, the
// executable's base name, and a pidfd to learn of its death.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vtasos/core/result.h"

namespace vtasos::daemon::proc {

// Owner uid of /proc/PID. kNotFound when the process does not exist.
Result<uid_t> owner(pid_t pid);
// Start time in clock ticks since boot (field 22 of /proc/PID/stat); nullopt when gone.
std::optional<uint64_t> start_time(pid_t pid);
// True if `tid` is a thread of process `pid` (/proc/PID/task/TID exists).
bool has_thread(pid_t pid, pid_t tid);
// Base name of the executable ("/usr/bin/foo" -> "foo"); falls back to comm; "" when unknown.
std::string exe_basename(pid_t pid);
// pidfd_open(2) through syscall(); -1 with errno on failure (ESRCH: no such process).
int pidfd_open(pid_t pid);
// Alive and (when `start` is given) started at that time.
bool alive(pid_t pid, std::optional<uint64_t> start = std::nullopt);
// Resident set size in bytes (/proc/PID/statm); nullopt when gone.
std::optional<uint64_t> rss_bytes(pid_t pid);
// Size in bytes of the last-level cache PU `pu` sees (the highest `level` under
// /sys/devices/system/cpu/cpuPU/cache); 0 when sysfs does not say.
uint64_t llc_bytes(int pu);

}  // namespace vtasos::daemon::proc
