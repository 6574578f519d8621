// vtasos_image: right-weight guests under QEMU.
//
// Why: vtasos places VM tenants like process tenants. A guest that carries only
// the application, its shared-library closure and a tiny init boots in about a
// second under KVM and has almost no OS noise of its own. This library builds such
// an initramfs (build_image), boots it with the distribution kernel (run_image),
// and offers the pieces the KVM driver reuses: accelerator detection, the QEMU
// command line, launching QEMU with a QMP socket and reading vCPU thread ids.
//
// Every function returns Result; messages name the operation and the input.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vtasos/core/result.h"

namespace vtasos::image {

// ---------------------------------------------------------------- accelerator
enum class Accel { kKvm, kTcg };
std::string to_string(Accel a);  // "kvm" / "tcg"

struct AccelDecision {
    Accel accel = Accel::kTcg;
    std::string reason;  // one line: why this accelerator
    bool emulated() const { return accel == Accel::kTcg; }
};

// Pure decision from the host's facts (seam for tests): KVM only when the CPU has
// vmx or svm, a kvm_intel or kvm_amd module is loaded (or built in: /sys/module/kvm_intel)
// and /dev/kvm exists. A /dev/kvm without them (e.g. kvm-pvm) cannot boot a stock kernel.
AccelDecision decide_accelerator(const std::string& cpuinfo, const std::string& modules,
                                 bool kvm_intel_or_amd_sysfs, bool dev_kvm_exists);
// Reads /proc/cpuinfo, /proc/modules, /sys/module/kvm_{intel,amd}, /dev/kvm.
AccelDecision probe_accelerator();

// ---------------------------------------------------------------- timer presets
enum class TimerPreset { kStock, kTickless };
// "stock" / "tickless"; kInvalidArgument otherwise.
Result<TimerPreset> parse_timer_preset(const std::string& name);
std::string to_string(TimerPreset p);
// Kernel command-line words of a preset for a guest with `cpus` vCPUs. CPU 0 stays the
// housekeeping CPU; with one vCPU the tickless preset keeps only the noise-reducing words.
std::vector<std::string> timer_cmdline(TimerPreset p, int cpus);

// ---------------------------------------------------------------- ELF and closure
struct ElfInfo {
    bool is_64 = false;
    uint16_t machine = 0;
    std::string interpreter;  // PT_INTERP, empty for a static executable or a library
    int needed = 0;           // DT_NEEDED entries (0: nothing to carry)
};
// kNotFound (no file), kInvalidArgument "not an ELF file" / wrong class or machine.
Result<ElfInfo> read_elf(const std::string& path);

struct LddEntry {
    std::string soname;  // "libomp.so.5", or the loader's path
    std::string path;    // resolved path; empty when "not found"
    bool operator==(const LddEntry&) const = default;
};
// Parses `ldd` / `ld.so --list` output; skips linux-vdso.so.1 and "statically linked".
std::vector<LddEntry> parse_ldd_output(const std::string& text);
// Shared-library closure of an executable or library, the dynamic loader included.
// kNotFound naming every missing library ("libfoo.so.1 (needed by app)").
Result<std::vector<std::string>> library_closure(const std::string& elf_path);

// ---------------------------------------------------------------- cpio (newc)
struct CpioEntry {
    std::string path;   // inside the archive, no leading '/'
    uint32_t mode = 0;  // full st_mode: S_IFREG|0755, S_IFDIR|0755, S_IFLNK|0777
    std::string data;   // file contents, or the link target
};
// A newc archive ending with TRAILER!!!, every record 4-byte aligned (kernel initramfs format).
std::string write_cpio(const std::vector<CpioEntry>& entries);
// Entries back (path, mode, data) up to the trailer; kInvalidArgument on a bad header.
Result<std::vector<CpioEntry>> read_cpio(const std::string& archive);

// ---------------------------------------------------------------- image build
struct BuildOptions {
    std::string app;                       // the executable
    std::string out;                       // image path
    std::string init;                      // static vtasos-init; empty: find_init()
    std::optional<std::string> ompt_tool;  // OMPT tool library, set OMP_TOOL_LIBRARIES
    std::vector<std::pair<std::string, std::string>> files;  // host path -> guest path
    std::vector<std::string> env;                            // KEY=VALUE baked into the image
    std::vector<std::string> args;  // default arguments (run-time ones replace them)
    bool gzip = false;              // compress with the gzip tool
    // Paravirtual channel: carry virtio_console and its virtio dependencies (modules of
    // `kernel_version`, empty: the newest /boot/vmlinuz-*) and set VTASOS_SOCKET to the
    // guest end of the port (kChannelName), so the OMPT tool talks to vtasosd through it.
    bool channel = false;
    std::string kernel_version;
};
struct ImageEntrySummary {
    std::string path;
    uint64_t size = 0;
    std::string kind;  // "file", "dir", "link"
};
struct BuildReport {
    std::string out;
    uint64_t image_bytes = 0;
    std::vector<ImageEntrySummary> contents;
    std::string to_string() const;  // size line + one line per entry
};
// Errors: kNotFound (app, init, library, extra file), kInvalidArgument (not an ELF,
// bad env), kIo (cannot write out), kUnavailable (gzip requested but absent).
Result<BuildReport> build_image(const BuildOptions& opt);
// The guest's name for the vtasosd port and the device path the init links it to.
inline constexpr const char* kChannelName = "org.vtasos.0";
inline constexpr const char* kChannelGuestPath = "/dev/virtio-ports/org.vtasos.0";
// Kernel modules (loading order, dependencies first) for `modules` under /lib/modules/<version>,
// read from modules.dep. kNotFound naming the missing module or modules.dep.
Result<std::vector<std::string>> module_closure(const std::string& version,
                                                const std::vector<std::string>& modules);
// "6.1.0-56-amd64" from "/boot/vmlinuz-6.1.0-56-amd64".
std::string kernel_version_of(const std::string& vmlinuz);
// The static init: $VTASOS_INIT, else vtasos-init next to /proc/self/exe, else the build path.
Result<std::string> find_init();

// ---------------------------------------------------------------- QEMU
struct QemuConfig {
    std::string qemu = "qemu-system-x86_64";  // name on PATH or a path
    std::string kernel;                       // empty: newest /boot/vmlinuz-*
    std::string initrd;
    Accel accel = Accel::kTcg;
    int cpus = 1;
    int memory_mb = 1024;
    std::vector<std::string> append;  // extra kernel command-line words
    std::string qmp_socket;           // empty: no QMP
    bool paused = false;              // -S (vCPUs created, not running)
    bool boot = true;                 // false: no kernel (QMP-only tests)
    // Serial console to a Unix socket QEMU connects to (server=off) instead of stdio.
    std::string console_socket;
    // Else, when set: serial console appended to this file (QEMU -serial file:).
    std::string console_log;
    // Paravirtual channel: a virtio-serial port named kChannelName whose host end QEMU
    // connects to this Unix socket (server=off); adds vtasos.channel=1 to the command line.
    std::string channel_socket;
};
// Newest /boot/vmlinuz-*; kNotFound / kPermissionDenied (unreadable) otherwise.
Result<std::string> find_kernel();
// Direct (PVH) boot: the uncompressed vmlinux inside a bzImage, extracted once with the
// xz tool and cached as <cache_dir>/vmlinux-<name>-<size>-<mtime>. Booting it skips the
// decompressor (seconds under TCG, ~0.2 s under KVM). cache_dir empty: $VTASOS_CACHE_DIR,
// $XDG_CACHE_HOME/vtasos, $HOME/.cache/vtasos, /tmp/vtasos-cache.
// kNotFound (bzImage), kUnavailable (no xz payload / no xz tool / no PVH entry note), kIo.
Result<std::string> pvh_kernel(const std::string& bzimage, const std::string& cache_dir = {});
// Resolves `name` on PATH (or checks a path); kUnavailable when QEMU is not installed.
Result<std::string> find_program(const std::string& name);
// The full argv (argv[0] = resolved QEMU); serial on stdio, no display, -no-reboot.
std::vector<std::string> qemu_argv(const QemuConfig& cfg, const std::string& qemu_path);

// A QEMU child in its own process group; the destructor kills the group (SIGKILL) and reaps.
class QemuProcess {
public:
    QemuProcess() = default;
    QemuProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
    QemuProcess(QemuProcess&& o) noexcept { *this = std::move(o); }
    QemuProcess& operator=(QemuProcess&& o) noexcept;
    ~QemuProcess();
    pid_t pid() const { return pid_; }
    int serial_fd() const { return out_fd_; }  // guest serial console (read end)
    // Kill the whole group and reap; returns the wait status (or -1).
    int kill_and_wait();
    // Non-blocking reap; true when the process has exited (status in *status).
    bool try_wait(int* status);

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    bool reaped_ = false;
};
// Starts QEMU (stdin /dev/null, stdout = serial pipe, stderr inherited, dies with us).
// kUnavailable (no QEMU), kNotFound (kernel/initrd), kIo (fork/pipe).
Result<QemuProcess> launch_qemu(const QemuConfig& cfg);

struct VcpuThread {
    int cpu_index = 0;
    pid_t thread_id = 0;
};
// QMP: greeting, qmp_capabilities, query-cpus-fast. Waits up to `timeout` for the socket.
Result<std::vector<VcpuThread>> qmp_vcpu_threads(const std::string& socket,
                                                 std::chrono::milliseconds timeout);
// Sends {"execute":"quit"}.
Status qmp_quit(const std::string& socket);
// Sends {"execute":"cont"}: starts the vCPUs of a QEMU launched with -S.
Status qmp_cont(const std::string& socket);
// sched_setaffinity(tid, {cpu}); kPermissionDenied / kInvalidArgument from errno.
Status pin_thread(pid_t tid, int cpu);

// ---------------------------------------------------------------- run
enum class KernelBoot { kAuto, kBzImage, kPvh };                // auto: PVH when extraction works
Result<KernelBoot> parse_kernel_boot(const std::string& name);  // auto / bzimage / pvh

struct RunOptions {
    std::string image;
    KernelBoot boot = KernelBoot::kAuto;
    QemuConfig qemu;  // initrd is filled from image (plus run overlay)
    TimerPreset timer = TimerPreset::kStock;
    std::optional<Accel> force_accel;  // unset: probe_accelerator()
    std::string accel_reason;          // why force_accel was chosen (reported back)
    std::vector<std::string> args;     // run-time application arguments (replace built-in)
    bool args_given = false;
    std::vector<std::string> env;  // run-time KEY=VALUE
    std::chrono::seconds timeout{300};
    int out_fd = 1;  // where the serial console goes (-1: nowhere)
};
struct RunResult {
    int exit_status = 0;  // the application's exit status (128+sig when killed)
    AccelDecision accel;
    double guest_uptime_at_app_start = -1;  // seconds, from the start marker
    double host_seconds_to_app_start = -1;  // QEMU launch to the start marker
    double host_seconds_total = 0;
    std::string kernel;       // the kernel file QEMU booted
    std::string kernel_note;  // why auto boot fell back to the bzImage, if it did
    std::string serial;       // everything the guest printed
};
// Everything run_image does before launching QEMU: checks the image and --env, writes the
// image plus the run overlay (args, env) to `initrd_out`, finds QEMU and the kernel (PVH
// when opt.boot allows; *kernel_note says why auto fell back), adds the timer preset.
// The returned config has accel = `accel`. Errors as run_image's, kIo for initrd_out.
Result<QemuConfig> prepare_boot(const RunOptions& opt, Accel accel, const std::string& initrd_out,
                                std::string* kernel_note);

// Errors: kNotFound (image, kernel), kUnavailable (QEMU), kTimeout (guest never powered
// off: QEMU group killed), kProtocol (guest stopped without the exit marker),
// kInvalidArgument (bad --env).
Result<RunResult> run_image(const RunOptions& opt);

// Marker lines printed by vtasos-init on the console.
inline constexpr const char* kStartMarker = "@@VTASOS-START@@";
inline constexpr const char* kExitMarker = "@@VTASOS-EXIT@@";

}  // namespace vtasos::image
