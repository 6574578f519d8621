// Nested-Xen test fixture: a real Xen 4.17 booted under QEMU TCG with a Debian PV dom0
// whose initramfs carries our binaries, the Xen toolstack and a check script.
//
// Why: this machine (and CI) has no hardware virtualization, but Xen runs nested under
// QEMU's TCG emulation (../shared/recipes/virtualization-here.md). The fixture turns that
// into a bounded, repeatable test: build the dom0 initramfs (build_dom0_initramfs), boot
// Xen on an emulated 4-socket x 2-core, 4-node machine (boot_nested_xen), read the
// `VTASOS-XEN-CHECK name PASS|FAIL|SKIP detail` lines the dom0 init prints on the serial
// console (parse_serial). QEMU runs in its own process group and is always killed.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vtasos/core/result.h"

namespace vtasos::xenfix {

// The emulated machine: sockets x cores (one thread each), one NUMA node per socket group.
struct Shape {
    int sockets = 4;
    int cores = 2;  // per socket
    int nodes = 4;  // sockets must divide evenly into nodes
    int memory_mb = 2048;
    int cpus() const { return sockets * cores; }
};

struct Dom0Options {
    std::string out;                       // initramfs path
    std::string init_script;               // tests/xen/dom0/init.sh
    std::string busybox = "/bin/busybox";  // must be static (busybox-static)
    std::string xen_bin_dir = "/usr/lib/xen-4.17/bin";
    std::string xenstore_tool = "/usr/bin/xenstore";  // xenstore-read etc. are links to it
    std::string kernel_version;                       // modules of this kernel ("6.1.0-56-amd64")
    std::string modules_root = "/lib/modules";
    // Our programs, copied to /vtasos/bin/<name>; their closure goes to its host paths.
    std::vector<std::pair<std::string, std::string>> programs;  // name -> host path
    std::string domu_kernel;  // PV domU kernel (copied to /vtasos/domu/vmlinuz)
    std::string domu_initrd;  // its initramfs (/vtasos/domu/initrd.img)
    std::map<std::string, std::string> extra_text;  // guest path -> contents
    Shape shape;
    int bench_count = 200;  // pause+unpause / freeze+thaw repetitions
};

struct Dom0Report {
    uint64_t bytes = 0;
    int files = 0;
    std::vector<std::string> programs;  // names carried in /vtasos/bin
};

// Errors: kNotFound naming the missing file (busybox, a Xen tool, a module, a library of
// the closure, the domU kernel), kInvalidArgument (busybox not static), kIo (cannot write).
Result<Dom0Report> build_dom0_initramfs(const Dom0Options& opt);

// The Xen tools dom0 needs (relative to xen_bin_dir): xenstored, xl, xen-init-dom0, xenconsoled.
const std::vector<std::string>& xen_tools();
// Modules loaded by the dom0 init, in order (paths under kernel/drivers/xen/).
const std::vector<std::string>& xen_modules();

struct BootOptions {
    std::string qemu = "qemu-system-x86_64";
    std::string xen;          // the gunzipped multiboot hypervisor (ELF32)
    std::string dom0_kernel;  // /boot/vmlinuz-*
    std::string initramfs;
    std::string serial_log;  // where the console goes (kept for the report)
    Shape shape;
    int dom0_mb = 1024;  // the initramfs (domU kernel included) unpacks into RAM
    int dom0_vcpus = 2;
    int timeout_s = 280;
    // > 0: give up when dom0's init has not started by then (init_timed_out), so a
    // caller can boot again instead of waiting for the whole timeout. Nested Xen under
    // TCG occasionally stalls in the dom0 kernel's early boot (seen once in CI: a
    // -110 timeout loading the kernel's X.509 certificates at 74 s, then silence).
    int init_timeout_s = 0;
};

// qemu-system-x86_64 argv (argv[0] = opt.qemu): TCG, -smp S*C with sockets/cores,
// one memory backend and -numa node per node, Xen multiboot with dom0 kernel + initramfs
// as modules, serial to opt.serial_log. Pure (tested).
std::vector<std::string> qemu_xen_argv(const BootOptions& opt);

// gunzips /boot/xen-*.gz into `out` (QEMU's -kernel takes the ELF32, not the .gz).
// kNotFound (no hypervisor: install xen-hypervisor-4.17-amd64), kIo.
Status extract_xen(const std::string& xen_gz, const std::string& out);

struct CheckLine {
    std::string name;
    std::string verdict;  // PASS, FAIL, SKIP
    std::string detail;
    bool operator==(const CheckLine&) const = default;
};
struct SerialReport {
    std::vector<CheckLine> checks;
    std::vector<std::string> info;  // VTASOS-XEN-INFO payloads, in order
    bool init_seen = false;
    bool done = false;   // VTASOS-XEN-DONE seen
    bool panic = false;  // Xen panicked ("Panic on CPU", "FATAL TRAP")
    const CheckLine* find(const std::string& name) const;
};
// Parses the serial console text (Xen, dom0 kernel and our lines interleaved; CR ignored).
SerialReport parse_serial(const std::string& serial);

struct BootResult {
    SerialReport report;
    std::string serial;
    double seconds_to_init = -1;  // QEMU start -> "VTASOS-XEN-INIT" seen on the console
    double seconds_total = 0;
    bool timed_out = false;
    bool init_timed_out = false;  // BootOptions::init_timeout_s passed without dom0 init
};
// Launches QEMU in its own process group, follows the serial log until VTASOS-XEN-DONE
// (then gives it 20 s to power off), a Xen panic or the timeout; the whole group is always
// killed and reaped. kUnavailable (no QEMU), kNotFound (xen, kernel, initramfs), kIo.
Result<BootResult> boot_nested_xen(const BootOptions& opt);

// "6.1.0-56-amd64" from "/boot/vmlinuz-6.1.0-56-amd64" (empty when the name has no version).
std::string kernel_version(const std::string& vmlinuz);

// Newest /boot/xen-*.gz, or kNotFound with an install hint.
Result<std::string> find_xen_gz();

}  // namespace vtasos::xenfix
