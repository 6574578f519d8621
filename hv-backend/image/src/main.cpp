// vtasos-image: build and boot right-weight guest images.
//   vtasos-image build --app ./cg --out cg.img [--with-ompt lib.so] [--file SRC[:DEST]] [--env K=V]
//   vtasos-image run cg.img --cpus 2 --timer tickless [--timeout 300] -- --class A
//   vtasos-image accel
// Exit status of `run`: the application's; 124 on timeout, 125 on any other error.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "vtasos/image/image.h"
#include "xlcfg.h"

using namespace vtasos;
using namespace vtasos::image;

int main(int argc, char** argv) {
    CLI::App app{"vtasos-image: right-weight guest images (initramfs + distribution kernel, QEMU)"};
    app.require_subcommand(1);

    BuildOptions b;
    std::vector<std::string> files;
    std::string ompt;
    auto* build = app.add_subcommand("build", "Build an initramfs from an executable");
    build->add_option("--app", b.app, "Executable to run in the guest")->required();
    build->add_option("--out", b.out, "Image file to write")->required();
    build->add_option("--with-ompt", ompt, "OMPT tool library (sets OMP_TOOL_LIBRARIES)");
    build->add_option("--init", b.init, "Static init (default: vtasos-init next to this tool)");
    build->add_option("--file", files, "Extra file HOST[:GUEST] (default guest dir /files)")
        ->allow_extra_args(false);
    build->add_option("--env", b.env, "Environment KEY=VALUE baked into the image")
        ->allow_extra_args(false);
    build->add_flag("--gzip", b.gzip, "Compress the image with gzip");
    build->add_flag("--channel", b.channel,
                    "Carry virtio_console and point VTASOS_SOCKET at the vtasosd channel "
                    "(for vtasosctl run --vm)");
    build->add_option("args", b.args, "Default application arguments (after --)");

    RunOptions r;
    std::string timer = "stock", accel = "auto", log, boot = "auto";
    int timeout_s = 300;
    auto* run = app.add_subcommand("run", "Boot an image under QEMU; exit with the app's status");
    run->add_option("image", r.image, "Image built by `build`")->required();
    run->add_option("--cpus", r.qemu.cpus, "vCPUs (-smp)")->check(CLI::Range(1, 256));
    run->add_option("--memory", r.qemu.memory_mb, "Guest memory in MiB")
        ->check(CLI::Range(64, 1 << 20));
    run->add_option("--timer", timer, "Timer preset: stock or tickless");
    run->add_option("--accel", accel, "auto, kvm or tcg");
    run->add_option("--kernel", r.qemu.kernel, "Guest kernel (default newest /boot/vmlinuz-*)");
    run->add_option("--qemu", r.qemu.qemu, "QEMU binary");
    run->add_option("--boot", boot,
                    "auto (PVH direct boot of the cached uncompressed kernel when possible), "
                    "bzimage or pvh");
    // One value per occurrence: a list option would otherwise swallow "--" and the app's args.
    run->add_option("--append", r.qemu.append, "Extra kernel command-line word")
        ->allow_extra_args(false);
    run->add_option("--env", r.env, "Run-time environment KEY=VALUE")->allow_extra_args(false);
    run->add_option("--timeout", timeout_s, "Kill QEMU after this many seconds")
        ->check(CLI::Range(1, 86400));
    run->add_option("--log", log, "Write the serial console to this file instead of stdout");
    bool times = false;
    run->add_flag("--times", times, "Print boot-to-app times on stderr");
    auto* args_opt = run->add_option("args", r.args, "Application arguments (after --)");

    auto* acc = app.add_subcommand("accel", "Print the accelerator a run would use and why");
    XlCfgCommand xlcfg;  // `xlcfg`: an xl.cfg for a Xen PV domU (src/xlcfg.cpp)
    add_xlcfg_command(app, xlcfg);
    CLI11_PARSE(app, argc, argv);

    if (xlcfg.sub->parsed()) return run_xlcfg_command(xlcfg);
    if (acc->parsed()) {
        auto d = probe_accelerator();
        fmt::print("{}: {}\n", to_string(d.accel), d.reason);
        return 0;
    }
    if (build->parsed()) {
        if (!ompt.empty()) b.ompt_tool = ompt;
        for (auto& f : files) {
            auto c = f.find(':');
            b.files.emplace_back(f.substr(0, c), c == std::string::npos ? "" : f.substr(c + 1));
        }
        auto rep = build_image(b);
        if (!rep) {
            fmt::print(stderr, "error: {}\n", rep.error().to_string());
            return 1;
        }
        fmt::print("{}", rep->to_string());
        return 0;
    }
    auto preset = parse_timer_preset(timer);
    if (!preset) {
        fmt::print(stderr, "error: {}\n", preset.error().to_string());
        return 125;
    }
    r.timer = *preset;
    auto kb = parse_kernel_boot(boot);
    if (!kb) {
        fmt::print(stderr, "error: {}\n", kb.error().to_string());
        return 125;
    }
    r.boot = *kb;
    r.timeout = std::chrono::seconds(timeout_s);
    r.args_given = args_opt->count() > 0;
    if (accel == "kvm") {
        r.force_accel = Accel::kKvm;
        r.accel_reason = "--accel kvm";
    } else if (accel == "tcg") {
        r.force_accel = Accel::kTcg;
        r.accel_reason = "--accel tcg";
    } else if (accel == "auto") {
        auto d = probe_accelerator();
        r.force_accel = d.accel;
        r.accel_reason = d.reason;
        if (d.emulated())
            fmt::print(stderr, "vtasos-image: warning: {}; results are emulated\n", d.reason);
    } else {
        fmt::print(stderr, "error: --accel: expected auto, kvm or tcg, got '{}'\n", accel);
        return 125;
    }
    int logfd = -1;
    if (!log.empty()) {
        logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (logfd < 0) {
            fmt::print(stderr, "error: --log {}: cannot open\n", log);
            return 125;
        }
        r.out_fd = logfd;
    }
    auto res = run_image(r);
    if (logfd >= 0) close(logfd);
    if (!res) {
        fmt::print(stderr, "error: {}\n", res.error().to_string());
        return res.error().code() == Errc::kTimeout ? 124 : 125;
    }
    if (times && !res->kernel_note.empty())
        fmt::print(stderr, "vtasos-image: booted the bzImage: {}\n", res->kernel_note);
    if (times) fmt::print(stderr, "vtasos-image: kernel={}\n", res->kernel);
    if (times)
        fmt::print(stderr,
                   "vtasos-image: accel={}{} guest-uptime-at-app-start={:.2f}s "
                   "host-launch-to-app={:.2f}s total={:.2f}s exit={}\n",
                   to_string(res->accel.accel), res->accel.emulated() ? " (emulated)" : "",
                   res->guest_uptime_at_app_start, res->host_seconds_to_app_start,
                   res->host_seconds_total, res->exit_status);
    return res->exit_status;
}
