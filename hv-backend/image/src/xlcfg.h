// vtasos-image xlcfg: an xl.cfg for booting a right-weight image as a Xen PV
// domU with the placement's hard affinity (DESIGN.md "Guests": for Xen it
// writes an xl.cfg for the same image). Checked by parsing it back with
// libxlutil (tests/hv-backend/xen/xlcfg_test.cpp).
#pragma once

#include <string>
#include <vector>

#include "vtasos/core/result.h"
#include "vtasos/image/image.h"

namespace CLI {
class App;
}

namespace vtasos::image {

struct XlCfgOptions {
    std::string image;   // the initramfs built by `vtasos-image build` (made absolute)
    std::string kernel;  // "" = newest /boot/vmlinuz-* (Debian's kernel boots as a PV guest)
    std::string name;    // domain name; "" = image file name without extension
    int cpus = 1;        // vcpus
    // Hard affinity: empty = none; one entry = every vCPU on that CPU list ("2-5");
    // `cpus` entries = vCPU i on entry i (xl's list form).
    std::vector<std::string> cpus_list;
    std::string pool;  // cpupool name; "" = none (Pool-0)
    int memory_mb = 512;
    TimerPreset timer = TimerPreset::kTickless;
    std::vector<std::string> append;  // extra kernel command-line words
};

// The xl.cfg text. Errors (kInvalidArgument, naming the option): a CPU list
// that does not parse, a cpus_list with neither 1 nor `cpus` entries, a
// name/path/word holding a quote, backslash or newline, memory < 64 MiB;
// kNotFound when the image or kernel does not exist.
Result<std::string> make_xlcfg(const XlCfgOptions& opt);

// Per-vCPU lists from a placement JSON file (as `vtasosctl place --json` or a
// register reply's "placement" print it): entry i = placement.cpus[i].pus.
Result<std::vector<std::string>> cpus_list_from_placement_file(const std::string& path);

// The `xlcfg` subcommand of vtasos-image: added before parsing, run after.
struct XlCfgCommand {
    CLI::App* sub = nullptr;
    XlCfgOptions opt;
    std::string timer = "tickless";
    std::string placement;  // placement JSON file -> per-vCPU cpus
};
void add_xlcfg_command(CLI::App& app, XlCfgCommand& cmd);
// Prints the xl.cfg on stdout; exit code 0, or 1 with the error on stderr.
int run_xlcfg_command(const XlCfgCommand& cmd);

}  // namespace vtasos::image
