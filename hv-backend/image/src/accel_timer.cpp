// Accelerator detection and timer presets.
#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "vtasos/image/image.h"

namespace vtasos::image {
namespace {
std::string read_all(const char* path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
bool exists(const char* path) {
    struct stat st;
    return ::stat(path, &st) == 0;
}
// True when some "flags" line of cpuinfo has the word `flag`.
bool cpu_has_flag(const std::string& cpuinfo, const std::string& flag) {
    std::istringstream in(cpuinfo);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::string w;
        while (words >> w)
            if (w == flag) return true;
    }
    return false;
}
bool module_loaded(const std::string& modules, const std::string& name) {
    std::istringstream in(modules);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + " ", 0) == 0) return true;
    return false;
}
}  // namespace

std::string to_string(Accel a) { return a == Accel::kKvm ? "kvm" : "tcg"; }

AccelDecision decide_accelerator(const std::string& cpuinfo, const std::string& modules,
                                 bool kvm_intel_or_amd_sysfs, bool dev_kvm_exists) {
    bool vmx = cpu_has_flag(cpuinfo, "vmx"), svm = cpu_has_flag(cpuinfo, "svm");
    bool mod = kvm_intel_or_amd_sysfs || module_loaded(modules, "kvm_intel") ||
               module_loaded(modules, "kvm_amd");
    std::string other;  // a /dev/kvm from another provider, e.g. kvm_pvm
    if (module_loaded(modules, "kvm_pvm"))
        other = " (/dev/kvm comes from kvm_pvm, PVM guests only)";
    if (!vmx && !svm)
        return {Accel::kTcg, "TCG emulation: no vmx/svm flag in /proc/cpuinfo" + other};
    if (!mod) return {Accel::kTcg, "TCG emulation: no kvm_intel/kvm_amd module loaded" + other};
    if (!dev_kvm_exists) return {Accel::kTcg, "TCG emulation: /dev/kvm does not exist"};
    return {Accel::kKvm, fmt::format("KVM: {} flag, {} module, /dev/kvm present",
                                     vmx ? "vmx" : "svm", vmx ? "kvm_intel" : "kvm_amd")};
}

AccelDecision probe_accelerator() {
    std::string modules = read_all("/proc/modules");
    // Containers may hide /proc/modules; /sys/module lists loaded and built-in modules.
    for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm"})
        if (exists((std::string("/sys/module/") + m).c_str())) modules += std::string(m) + " 0 0\n";
    return decide_accelerator(read_all("/proc/cpuinfo"), modules,
                              exists("/sys/module/kvm_intel") || exists("/sys/module/kvm_amd"),
                              exists("/dev/kvm"));
}

Result<TimerPreset> parse_timer_preset(const std::string& name) {
    if (name == "stock") return TimerPreset::kStock;
    if (name == "tickless") return TimerPreset::kTickless;
    return make_error(Errc::kInvalidArgument,
                      fmt::format("timer preset: expected stock or tickless, got '{}'", name));
}

std::string to_string(TimerPreset p) { return p == TimerPreset::kStock ? "stock" : "tickless"; }

std::vector<std::string> timer_cmdline(TimerPreset p, int cpus) {
    if (p == TimerPreset::kStock) return {};
    // Debian 6.1 has CONFIG_NO_HZ_FULL=y and CONFIG_RCU_NOCB_CPU=y; CPU 0 keeps the
    // housekeeping work (timers, RCU callbacks, device interrupts, unbound workqueues).
    std::vector<std::string> w;
    if (cpus > 1) {
        std::string app_cpus = cpus == 2 ? "1" : fmt::format("1-{}", cpus - 1);
        w.push_back("nohz_full=" + app_cpus);
        w.push_back("rcu_nocbs=" + app_cpus);
        w.push_back("irqaffinity=0");
    }
    w.insert(w.end(), {"nosoftlockup", "nowatchdog", "tsc=reliable", "skew_tick=1", "audit=0",
                       "rcupdate.rcu_cpu_stall_suppress=1"});
    return w;
}

}  // namespace vtasos::image
