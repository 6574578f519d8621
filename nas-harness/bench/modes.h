// modes.h: the execution modes a benchmark can run in, and how each one launches a program.
//
//   native        stock Linux: the program as is, OMP_TOOL_LIBRARIES removed.
//   vtasos        a private vtasosd (`vtasosd --socket S --state F`, started here) places the
//                 program as a tenant: `vtasosctl --socket S run --cpus N --coexist socket --
//                 <program>`, with OMP_TOOL_LIBRARIES=libvtasos-ompt.so when that library
//                 exists. vtasosctl passes the program's exit status through.
//   kvm, kvm-vtasos, kvm-tickless
//                 the program in a right-weight guest built by vtasos-image (guest_mode.h):
//                 kvm = stock timer, unpinned; kvm-tickless = tickless timer, unpinned;
//                 kvm-vtasos = tickless, OMPT tool inside, placed and pinned by the private
//                 vtasosd (vtasosctl run --vm). Skipped with the reason when vtasos-image, QEMU
//                 or (kvm-vtasos) the daemon or the OMPT tool is missing. Under TCG the variant
//                 is marked emulated (VariantStatus::emulated).
//   xen           a Xen domU on a Xen host (/proc/xen/capabilities has control_d): skipped
//                 likewise.
// A mode that cannot run is reported as a VariantStatus with available == false and a reason;
// the caller records it and never drops it silently.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "locate.h"
#include "model.h"
#include "process.h"
#include "result.h"

namespace vtasos::bench {

enum class Mode { kNative, kVtasos, kKvm, kKvmVtasos, kKvmTickless, kXen };
std::string_view mode_name(Mode m);
std::optional<Mode> mode_from_name(std::string_view name);
// All mode names, in declaration order.
std::vector<std::string> all_mode_names();

// Where to find the tools; empty strings mean "search" (see locate.h).
struct ToolPaths {
    std::string vtasosd, vtasosctl, ompt_lib, vtasos_image;
    std::vector<std::string> vtasosd_args;  // extra daemon flags (corun: --sched-policy P)
};

// What to run, as it would run natively.
struct Program {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    int cpus = 1;        // CPUs the program uses (threads or ranks): the tenant size under vtasos
    std::string binary;  // the benchmark executable itself, checked before launch
    // vtasos: what each CPU may share with other tenants (vtasosctl --coexist): "socket" gives
    // each tenant cores of its own; "pu" allows time-sharing PUs (oversubscribed co-runs).
    std::string coexist = "socket";
};

class Launcher {
  public:
    // `log_dir`: where the daemon's log goes (vtasosd.log).
    Launcher(ToolPaths paths, std::filesystem::path log_dir);
    ~Launcher();
    Launcher(const Launcher&) = delete;
    Launcher& operator=(const Launcher&) = delete;

    // Checks that `m` can run here; for vtasos, locates the tools and starts the daemon (once).
    // The result names the mode; when unavailable, `reason` says why.
    VariantStatus prepare(Mode m);

    // The command for running `p` in mode `m` (prepare(m) must have said available). `extra`
    // are extra `vtasosctl run` options (e.g. "--gang"). Thread-safe.
    ProcessSpec wrap(Mode m, const Program& p, const std::vector<std::string>& extra = {}) const;

    // True when `vtasosctl run --help` mentions `option` (e.g. "--gang"); false when vtasosctl
    // is unknown. Used to decide whether gang/feedback policies can run.
    bool vtasosctl_run_supports(const std::string& option);

    // Path of the OMPT tool library, when found.
    std::optional<std::filesystem::path> ompt_lib();
    // Why the OMPT tool library was not found (empty when found).
    std::string ompt_lib_reason();
    // The private daemon's socket (empty until prepare(kVtasos) succeeded).
    const std::string& socket() const { return socket_; }
    // Tool paths and how they were found, for results.json.
    nlohmann::json describe() const;

  private:
    struct Daemon;
    ToolPaths paths_;
    std::filesystem::path log_dir_;
    std::optional<Located> vtasosd_, vtasosctl_, ompt_, image_;
    std::string ompt_reason_;
    bool ompt_searched_ = false;
    std::optional<VariantStatus> vtasos_status_;
    std::unique_ptr<Daemon> daemon_;
    std::string socket_;
    std::string accel_;      // guest modes: "kvm" or "tcg" (vtasos-image accel)
    std::string guest_dir_;  // guest modes: image cache, removed with the launcher
};

}  // namespace vtasos::bench
