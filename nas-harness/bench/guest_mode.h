// guest_mode.h: running a benchmark inside a right-weight guest (modes kvm, kvm-tickless,
// kvm-vtasos; see modes.h).
//
// The benchmark binary becomes a vtasos-image image (built once per binary and flavour into
// the launcher's cache directory, by the run's own shell so that concurrent runs of one
// binary never race: build to a temporary name, then rename). Then:
//   kvm           vtasos-image run IMG --cpus N --timer stock    --accel A -- ARGS (unpinned)
//   kvm-tickless  vtasos-image run IMG --cpus N --timer tickless --accel A -- ARGS (unpinned)
//   kvm-vtasos    vtasosctl --socket S run --vm IMG' --cpus N --coexist C --vm-timer tickless
//                 --vm-accel A -- ARGS, IMG' carrying the OMPT tool and the channel modules:
//                 placed and pinned by the private vtasosd, advice through the channel.
// NPB kernels print their own timing, so boot time never enters the measured time; wall_s
// includes it. The accelerator is explicit on every command line (results record it).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "modes.h"
#include "process.h"
#include "result.h"

namespace vtasos::bench {

struct GuestPlan {
    std::string image_tool;         // vtasos-image
    std::string vtasosctl, socket;  // kvm-vtasos: the private daemon
    std::string ompt_lib;           // kvm-vtasos: carried into the image
    std::string accel;              // "kvm" or "tcg"
    std::string cache_dir;          // images, one per binary and flavour
    int memory_mb = 2048;
};

// The command running `p` in guest mode `m`. Programs started through a launcher (mpirun:
// argv[0] is not the benchmark binary) get a command that fails with the reason.
ProcessSpec guest_spec(Mode m, const GuestPlan& g, const Program& p,
                       const std::vector<std::string>& extra);

// `vtasos-image accel`: {"kvm"|"tcg", reason}. Errors: kFailed-like kUnavailable when the tool
// does not answer in the expected "NAME: reason" form.
Result<std::pair<std::string, std::string>> probe_guest_accel(const std::string& image_tool);

// Single-quoted for sh (embedded quotes escaped).
std::string sh_quote(const std::string& s);

}  // namespace vtasos::bench
